package topo

import (
	"maps"
	"net"
)

// Route is where one switch sends traffic for one host.
type Route struct {
	Host *Host
	Port uint32
}

// Hop is one switch on a path and the port it sends out of.
type Hop struct {
	DPID uint64
	Port uint32
}

// Reachable reports whether traffic from switch dpid can reach h.
func (f *Forwarding) Reachable(dpid uint64, h *Host) bool {
	_, ok := f.nextHop(dpid, h)
	return ok
}

// NextHop returns the port switch dpid sends out of for the host with mac.
// ok is false when the MAC is unknown or the host cannot be reached from
// there (its port is down, or the fabric is cut between them).
func (f *Forwarding) NextHop(dpid uint64, mac net.HardwareAddr) (port uint32, ok bool) {
	h, known := f.topo.HostByMAC(mac)
	if !known {
		return 0, false
	}
	return f.nextHop(dpid, h)
}

func (f *Forwarding) nextHop(dpid uint64, h *Host) (uint32, bool) {
	if !f.hostUp[h] {
		return 0, false
	}
	if h.DPID == dpid {
		return h.Port, true
	}
	port, ok := f.toSwitch[dpid][h.DPID]
	return port, ok
}

// Routes returns the output port of switch dpid for every host it can reach,
// in the order the hosts appear in the file: the flows one switch needs.
func (f *Forwarding) Routes(dpid uint64) []Route {
	var out []Route
	for _, h := range f.topo.Hosts {
		if port, ok := f.nextHop(dpid, h); ok {
			out = append(out, Route{Host: h, Port: port})
		}
	}
	return out
}

// Path returns the switches a packet from switch dpid to h crosses, each
// with the port it leaves by; the last hop is h's own switch and port.
func (f *Forwarding) Path(dpid uint64, h *Host) ([]Hop, bool) {
	var path []Hop
	for range len(f.topo.Switches) {
		port, ok := f.nextHop(dpid, h)
		if !ok {
			return nil, false
		}
		path = append(path, Hop{DPID: dpid, Port: port})
		if dpid == h.DPID {
			return path, true
		}
		peer, ok := f.topo.peer(dpid, port)
		if !ok {
			return nil, false
		}
		dpid = peer
	}
	return nil, false // cannot happen with shortest paths; bounded all the same
}

// Equal reports whether f and g forward every host the same way, so that a
// caller can skip reinstalling flows after a port change that altered
// nothing.
func (f *Forwarding) Equal(g *Forwarding) bool {
	return f.topo == g.topo &&
		maps.Equal(f.hostUp, g.hostUp) &&
		maps.EqualFunc(f.toSwitch, g.toSwitch, maps.Equal)
}

// peer returns the switch at the other end of the link on port of dpid.
func (t *Topology) peer(dpid uint64, port uint32) (uint64, bool) {
	for _, l := range t.Links {
		switch {
		case l.A.DPID == dpid && l.A.Port == port:
			return l.B.DPID, true
		case l.B.DPID == dpid && l.B.Port == port:
			return l.A.DPID, true
		}
	}
	return 0, false
}

// SwitchPort returns the port switch from sends out of towards switch to,
// for traffic addressed to something on that switch that is not a host
// (an engine port of splice46). ok is false when from is to or the fabric
// is cut between them.
func (f *Forwarding) SwitchPort(from, to uint64) (port uint32, ok bool) {
	port, ok = f.toSwitch[from][to]
	return port, ok
}
