// Package sdnotify speaks systemd's service notification protocol: one
// datagram per notification to the socket named by $NOTIFY_SOCKET, each a
// set of newline-separated VARIABLE=value assignments (sd_notify(3)). A
// name starting with '@' is a socket in the abstract namespace.
//
// Outside systemd (NOTIFY_SOCKET unset) every call does nothing, so the
// daemon calls it unconditionally.
package sdnotify

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The notifications sixgate sends.
const (
	Ready     = "READY=1"
	Reloading = "RELOADING=1"
	Stopping  = "STOPPING=1"
	Watchdog  = "WATCHDOG=1"
)

// Notifier sends notifications to one socket. The zero Notifier (and a nil
// one) sends nothing.
type Notifier struct {
	addr *net.UnixAddr
}

// FromEnv returns a notifier for $NOTIFY_SOCKET; without it, one that
// sends nothing.
func FromEnv() *Notifier {
	return New(os.Getenv("NOTIFY_SOCKET"))
}

// New returns a notifier for the socket path (or "@name" for an abstract
// socket); an empty path sends nothing.
func New(path string) *Notifier {
	if path == "" {
		return &Notifier{}
	}
	// The net package maps a leading '@' to the abstract namespace's
	// leading NUL byte.
	return &Notifier{addr: &net.UnixAddr{Name: path, Net: "unixgram"}}
}

// Enabled says whether notifications go anywhere.
func (n *Notifier) Enabled() bool { return n != nil && n.addr != nil }

// Send sends the assignments as one datagram.
func (n *Notifier) Send(assignments ...string) error {
	if !n.Enabled() {
		return nil
	}
	for _, a := range assignments {
		if !strings.Contains(a, "=") || strings.Contains(a, "\n") {
			return fmt.Errorf("sdnotify: %q is not one VARIABLE=value line", a)
		}
	}
	c, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return fmt.Errorf("sdnotify: %w", err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(strings.Join(assignments, "\n") + "\n")); err != nil {
		return fmt.Errorf("sdnotify: %w", err)
	}
	return nil
}

// Status is the STATUS= assignment: a line for systemctl status. Line
// breaks are replaced by spaces.
func Status(s string) string {
	return "STATUS=" + strings.NewReplacer("\n", " ", "\r", " ").Replace(s)
}

// ReloadingNow is the RELOADING=1 notification with the MONOTONIC_USEC
// systemd wants with it: the CLOCK_MONOTONIC time the reload started.
func ReloadingNow() []string {
	return []string{Reloading, "MONOTONIC_USEC=" + strconv.FormatInt(monotonicUsec(), 10)}
}

func monotonicUsec() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return ts.Nano() / 1000
}

// WatchdogInterval returns how often to send WATCHDOG=1: half of
// $WATCHDOG_USEC, when it is set and $WATCHDOG_PID is unset or this
// process's id. ok is false when no watchdog is wanted from this process.
func WatchdogInterval() (every time.Duration, ok bool, err error) {
	return watchdogInterval(os.Getenv("WATCHDOG_USEC"), os.Getenv("WATCHDOG_PID"), os.Getpid())
}

func watchdogInterval(usec, pid string, self int) (time.Duration, bool, error) {
	if usec == "" {
		return 0, false, nil
	}
	if pid != "" {
		p, err := strconv.Atoi(pid)
		if err != nil {
			return 0, false, fmt.Errorf("sdnotify: WATCHDOG_PID=%q: not a process id", pid)
		}
		if p != self {
			return 0, false, nil
		}
	}
	u, err := strconv.ParseInt(usec, 10, 64)
	if err != nil || u <= 0 {
		return 0, false, errors.New("sdnotify: WATCHDOG_USEC=" + strconv.Quote(usec) + ": not a positive number of microseconds")
	}
	return time.Duration(u) * time.Microsecond / 2, true, nil
}
