package sdnotify

import "strconv"

// MainPID is the MAINPID= assignment: a process that takes over from the
// service's main process (an upgrade by hand-over) names itself, so that
// systemd follows it. systemd takes it from a process other than the main
// one only with NotifyAccess=all.
func MainPID(pid int) string { return "MAINPID=" + strconv.Itoa(pid) }
