package topo

import (
	"net"
	"net/netip"
	"slices"
)

// index builds the lookup maps once the topology is known to be valid.
func (t *Topology) index() {
	t.switchByName = map[string]*Switch{}
	t.switchByDPID = map[uint64]*Switch{}
	for _, s := range t.Switches {
		t.switchByName[s.Name] = s
		t.switchByDPID[s.DPID] = s
	}
	t.hostByName = map[string]*Host{}
	t.hostByMAC = map[[6]byte]*Host{}
	t.hostByAddr = map[netip.Addr]*Host{}
	t.hostByPort = map[portKey]*Host{}
	for _, h := range t.Hosts {
		t.hostByName[h.Name] = h
		t.hostByMAC[macKey(h.MAC)] = h
		t.hostByPort[portKey{h.DPID, h.Port}] = h
		for _, a := range h.Addrs() {
			t.hostByAddr[a] = h
		}
	}
	t.linkPorts = map[uint64][]uint32{}
	for _, l := range t.Links {
		t.linkPorts[l.A.DPID] = append(t.linkPorts[l.A.DPID], l.A.Port)
		t.linkPorts[l.B.DPID] = append(t.linkPorts[l.B.DPID], l.B.Port)
	}
	for _, ports := range t.linkPorts {
		slices.Sort(ports)
	}
	t.indexNeighbors()
}

// SwitchByDPID returns the switch with datapath id dpid.
func (t *Topology) SwitchByDPID(dpid uint64) (*Switch, bool) {
	s, ok := t.switchByDPID[dpid]
	return s, ok
}

// SwitchByName returns the switch called name.
func (t *Topology) SwitchByName(name string) (*Switch, bool) {
	s, ok := t.switchByName[name]
	return s, ok
}

// HostByName returns the host called name.
func (t *Topology) HostByName(name string) (*Host, bool) {
	h, ok := t.hostByName[name]
	return h, ok
}

// HostByMAC returns the host whose interface has mac.
func (t *Topology) HostByMAC(mac net.HardwareAddr) (*Host, bool) {
	if len(mac) != 6 {
		return nil, false
	}
	h, ok := t.hostByMAC[macKey(mac)]
	return h, ok
}

// HostByAddr returns the host that owns the IPv4 or IPv6 address a.
func (t *Topology) HostByAddr(a netip.Addr) (*Host, bool) {
	h, ok := t.hostByAddr[a.Unmap()]
	return h, ok
}

// HostAt returns the host plugged into port of switch dpid, so that a packet
// arriving there can be checked against the host's declared addresses.
func (t *Topology) HostAt(dpid uint64, port uint32) (*Host, bool) {
	h, ok := t.hostByPort[portKey{dpid, port}]
	return h, ok
}

// InterSwitchPorts returns the ports of switch dpid that lead to another
// switch, sorted. Traffic arriving on them comes from the fabric, not from a
// host.
// The slice is shared; do not modify it.
func (t *Topology) InterSwitchPorts(dpid uint64) []uint32 {
	return t.linkPorts[dpid]
}

// IsInterSwitchPort reports whether port of switch dpid is a link end.
func (t *Topology) IsInterSwitchPort(dpid uint64, port uint32) bool {
	_, found := slices.BinarySearch(t.linkPorts[dpid], port)
	return found
}

// SubnetOf returns the declared subnet containing a, the most specific one
// if several do.
func (t *Topology) SubnetOf(a netip.Addr) (netip.Prefix, bool) {
	var best netip.Prefix
	for _, p := range t.Subnets {
		if p.Contains(a) && (!best.IsValid() || p.Bits() > best.Bits()) {
			best = p
		}
	}
	return best, best.IsValid()
}
