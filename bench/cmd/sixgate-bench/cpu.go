package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sixgate/sixgate/bench/report"
)

// clockTick is the unit of the CPU times in /proc (USER_HZ), which Linux
// fixes at 100 for user space whatever the kernel's own tick.
const clockTick = 10 * time.Millisecond

// cpuMeter samples, at the start and the end of a phase, the CPU time of
// the setup's data-path process (0: none), of ovs-vswitchd, and the busy
// time of the whole machine.
type cpuMeter struct {
	proc, ovs int
}

type cpuSample struct {
	proc, ovs, machine time.Duration
	ok                 bool
}

func (m cpuMeter) sample() cpuSample {
	var s cpuSample
	var err error
	s.ok = true
	if m.proc != 0 {
		if s.proc, err = procCPU(m.proc); err != nil {
			s.ok = false
		}
	}
	if m.ovs != 0 {
		if s.ovs, err = procCPU(m.ovs); err != nil {
			s.ok = false
		}
	}
	if s.machine, err = machineBusy(); err != nil {
		s.ok = false
	}
	return s
}

// since returns the CPU spent between s0 and s, or nil if a sample failed
// (a process died in between).
func (s cpuSample) since(s0 cpuSample, m cpuMeter) *report.CPU {
	if !s.ok || !s0.ok {
		return nil
	}
	c := &report.CPU{Machine: (s.machine - s0.machine).Seconds()}
	if m.proc != 0 {
		c.Process = (s.proc - s0.proc).Seconds()
	}
	if m.ovs != 0 {
		c.OVS = (s.ovs - s0.ovs).Seconds()
	}
	return c
}

// procCPU returns the user and system time of every thread of pid so
// far: fields 14 and 15 of /proc/PID/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseProcStat(string(b))
}

func parseProcStat(s string) (time.Duration, error) {
	// The command name (field 2) is in parentheses and may hold spaces:
	// count fields from the last ')', which is field 2's end.
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/PID/stat: no command name")
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state), so utime (14) is f[11] and stime (15) f[12].
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/PID/stat: %d fields", len(f)+2)
	}
	var ticks int64
	for _, v := range f[11:13] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/PID/stat: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, nil
}

// machineBusy returns the time every CPU of the machine spent on anything
// but idling so far: user, nice, system, irq and softirq from /proc/stat's
// first line (iowait is idle; steal is time the hypervisor gave to
// someone else).
func machineBusy() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	return parseMachineStat(string(b))
}

func parseMachineStat(s string) (time.Duration, error) {
	line, _, _ := strings.Cut(s, "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: first line %q", line)
	}
	var ticks int64
	// user nice system idle iowait irq softirq: all but idle and iowait.
	for _, i := range []int{1, 2, 3, 6, 7} {
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, nil
}

// ovsPID is ovs-vswitchd's process id, from its pid file, or 0.
func ovsPID() int {
	for _, f := range []string{"/var/run/openvswitch/ovs-vswitchd.pid", "/run/openvswitch/ovs-vswitchd.pid"} {
		if b, err := os.ReadFile(f); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				return pid
			}
		}
	}
	return 0
}
