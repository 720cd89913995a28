package topo

// LinkState tracks which ports of the fabric are down, fed from PORT_STATUS
// messages, and computes forwarding for the current state. Only ports the
// topology knows (link ends and host ports) are tracked. It is not safe for
// concurrent use; the controller's event loop owns it.
type LinkState struct {
	topo *Topology
	down map[portKey]bool
}

// NewLinkState starts with every port up.
func (t *Topology) NewLinkState() *LinkState {
	return &LinkState{topo: t, down: map[portKey]bool{}}
}

// SetPortDown records that port of switch dpid is down. It reports whether
// that changed anything: false for a port already down or one the topology
// does not use, true when forwarding must be recomputed.
func (s *LinkState) SetPortDown(dpid uint64, port uint32) bool {
	k := portKey{dpid, port}
	if s.down[k] || !s.topo.usesPort(dpid, port) {
		return false
	}
	s.down[k] = true
	return true
}

// SetPortUp records that port of switch dpid is up again, reporting whether
// that changed anything.
func (s *LinkState) SetPortUp(dpid uint64, port uint32) bool {
	k := portKey{dpid, port}
	if !s.down[k] {
		return false
	}
	delete(s.down, k)
	return true
}

// IsDown reports whether port of switch dpid is recorded as down.
func (s *LinkState) IsDown(dpid uint64, port uint32) bool {
	return s.down[portKey{dpid, port}]
}

// Forwarding computes paths for the current state.
func (s *LinkState) Forwarding() *Forwarding {
	return s.topo.Forwarding(s.IsDown)
}

func (t *Topology) usesPort(dpid uint64, port uint32) bool {
	_, host := t.hostByPort[portKey{dpid, port}]
	return host || t.IsInterSwitchPort(dpid, port)
}
