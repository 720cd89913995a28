package proxy46

import (
	"net/netip"
	"time"
)

// ConnInfo describes one connection for a status display.
type ConnInfo struct {
	Client  netip.AddrPort
	VIP     netip.AddrPort
	Client6 netip.AddrPort // source the backend sees; invalid before a backend is chosen
	Backend netip.AddrPort // invalid before a backend is chosen
	State   State
	Age     time.Duration
	Idle    time.Duration
	Held    int
	// Drain is the time left before the connection is reset because a
	// reconfiguration removed its service or backend; 0 when it is not
	// draining.
	Drain time.Duration

	PacketsToBackend, PacketsToClient uint64
	BytesToBackend, BytesToClient     uint64 // TCP payload bytes
}

// Connections returns a snapshot of the connection table, in no
// particular order.
func (e *Engine) Connections() []ConnInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.clock()
	list := make([]ConnInfo, 0, len(e.all))
	for _, c := range e.all {
		ci := ConnInfo{
			Client:           netip.AddrPortFrom(netip.AddrFrom4(c.k4.client), c.k4.clientPort),
			VIP:              netip.AddrPortFrom(netip.AddrFrom4(c.k4.vip), c.k4.vipPort),
			State:            c.state,
			Age:              time.Duration(now - c.created),
			Idle:             time.Duration(now - c.lastSeen),
			Held:             len(c.held),
			PacketsToBackend: c.packetsC2B,
			PacketsToClient:  c.packetsB2C,
			BytesToBackend:   c.bytesC2B,
			BytesToClient:    c.bytesB2C,
		}
		if c.drainAt != 0 {
			ci.Drain = time.Duration(max(c.drainAt-now, 1))
		}
		if c.backend >= 0 {
			ci.Client6 = netip.AddrPortFrom(netip.AddrFrom16(c.k6.client6), c.k6.clientPort)
			ci.Backend = c.svc.backends[c.backend].ap
		}
		list = append(list, ci)
	}
	return list
}

// Len returns the number of connections in the table.
func (e *Engine) Len() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.by4)
}
