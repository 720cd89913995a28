package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/sixgate/sixgate/topo"
)

// capability is a Linux capability the configuration may need.
type capability struct {
	bit  uint
	name string
}

const (
	capNetBindServiceBit = unix.CAP_NET_BIND_SERVICE
	capNetRawBit         = unix.CAP_NET_RAW
)

var (
	capNetBindService = capability{capNetBindServiceBit, "CAP_NET_BIND_SERVICE"}
	capNetRaw         = capability{capNetRawBit, "CAP_NET_RAW"}
)

// capNeed is one capability the configuration needs, with the key that
// needs it.
type capNeed struct {
	cap   capability
	field string
	line  int
	why   string
}

// defaultUnprivilegedPortStart is the kernel's default for
// net.ipv4.ip_unprivileged_port_start.
const defaultUnprivilegedPortStart = 1024

// capsNeeded lists what the configuration needs beyond an unprivileged
// process: CAP_NET_RAW for engine ports (AF_PACKET sockets), and
// CAP_NET_BIND_SERVICE for a listener below the first unprivileged port.
// Controller mode on the default ports needs nothing.
func capsNeeded(t *topo.Topology, unprivilegedPortStart int) []capNeed {
	var needs []capNeed
	bindAt := func(field string, line int, port uint16) {
		if port != 0 && int(port) < unprivilegedPortStart {
			needs = append(needs, capNeed{capNetBindService, field, line,
				fmt.Sprintf("port %d, below net.ipv4.ip_unprivileged_port_start (%d), needs", port, unprivilegedPortStart)})
		}
	}
	bind := func(field string, port uint16) { bindAt(field, 0, port) }
	bind("controller.listen", t.Controller.Listen.Addr.Port())
	if t.Controller.HTTP.IsValid() {
		bind("controller.http", t.Controller.HTTP.Port())
	}
	if d := t.DNS64; d != nil {
		for i, a := range d.Listen {
			bindAt(fmt.Sprintf("dns64.listen[%d]", i), t.KeyLine("dns64.listen"), a.Port())
		}
	}
	if s := t.Splice46; s != nil && s.Mode == topo.DataPathPort && len(s.Ports) > 0 {
		needs = append(needs, capNeed{capNetRaw, "splice46.ports", s.Ports[0].Line, "engine ports need"})
	}
	if s := t.SIIT; s != nil && s.Mode == topo.DataPathPort && len(s.Ports) > 0 {
		needs = append(needs, capNeed{capNetRaw, "siit.ports", s.Ports[0].Line, "engine ports need"})
	}
	return needs
}

// unprivilegedPortStart reads net.ipv4.ip_unprivileged_port_start, the
// kernel's default when it cannot.
func unprivilegedPortStart() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start")
	if err != nil {
		return defaultUnprivilegedPortStart
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return defaultUnprivilegedPortStart
	}
	return n
}

// effectiveCaps returns the calling thread's effective capability set as a
// bit mask (bit n is capability n). Every thread of sixgate has the same
// set: nothing changes it after exec.
func effectiveCaps() (uint64, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return 0, fmt.Errorf("capget: %w", err)
	}
	return uint64(data[0].Effective) | uint64(data[1].Effective)<<32, nil
}

// missingCaps returns, as FILE:LINE: field: problem errors, each
// capability the configuration needs and the effective set lacks.
func missingCaps(t *topo.Topology, effective uint64, unprivilegedPortStart int) error {
	var errs topo.Errors
	for _, n := range capsNeeded(t, unprivilegedPortStart) {
		if effective&(1<<n.cap.bit) != 0 {
			continue
		}
		errs = append(errs, &topo.Error{File: t.File, Line: n.line, Field: n.field,
			Msg: fmt.Sprintf("%s %s, which this process does not hold", n.why, n.cap.name)})
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// checkCaps is missingCaps for this process. The daemon runs it before it
// opens anything, so that a missing capability is named with the key that
// needs it rather than reported later as "operation not permitted".
func checkCaps(t *topo.Topology) error {
	eff, err := effectiveCaps()
	if err != nil {
		return err
	}
	return missingCaps(t, eff, unprivilegedPortStart())
}
