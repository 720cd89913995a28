package topo

import (
	"net"
	"net/netip"
	"sort"
)

// NeighborKind says why an address is known.
type NeighborKind uint8

const (
	NeighborHost    NeighborKind = iota + 1 // a host's own address; the host answers
	NeighborGateway                         // a virtual gateway address; the controller answers
	NeighborVIP                             // a splice46 VIP; the controller answers
)

func (k NeighborKind) String() string {
	switch k {
	case NeighborHost:
		return "host"
	case NeighborGateway:
		return "gateway"
	case NeighborVIP:
		return "vip"
	}
	return "unknown"
}

// Neighbor is one address of the fabric and the MAC that owns it: what an
// ARP reply or Neighbor Advertisement for Addr must carry.
type Neighbor struct {
	Addr    netip.Addr
	MAC     net.HardwareAddr
	Kind    NeighborKind
	Host    *Host    // set for NeighborHost
	Gateway *Gateway // set for NeighborGateway
}

func (t *Topology) indexNeighbors() {
	t.neighbors = nil
	for _, h := range t.Hosts {
		for _, a := range h.Addrs() {
			t.neighbors = append(t.neighbors, Neighbor{Addr: a, MAC: h.MAC, Kind: NeighborHost, Host: h})
		}
	}
	for _, g := range t.Gateways {
		for _, p := range append(append([]netip.Prefix{}, g.IPv4...), g.IPv6...) {
			t.neighbors = append(t.neighbors, Neighbor{Addr: p.Addr(), MAC: g.MAC, Kind: NeighborGateway, Gateway: g})
		}
		if g.LinkLocal.IsValid() {
			t.neighbors = append(t.neighbors, Neighbor{Addr: g.LinkLocal, MAC: g.MAC, Kind: NeighborGateway, Gateway: g})
		}
	}
	if s := t.Splice46; s != nil {
		for _, vip := range s.VIPs() {
			t.neighbors = append(t.neighbors, Neighbor{Addr: vip, MAC: s.MAC, Kind: NeighborVIP})
		}
	}
	sort.SliceStable(t.neighbors, func(i, j int) bool { return t.neighbors[i].Addr.Less(t.neighbors[j].Addr) })
	t.neighborMAC = make(map[netip.Addr]net.HardwareAddr, len(t.neighbors))
	for _, n := range t.neighbors {
		t.neighborMAC[n.Addr] = n.MAC
	}
}

// Neighbors returns every address declared in the file (host addresses,
// gateway addresses and link-local addresses, VIPs) with the MAC that answers
// for it, sorted by address. pool6 is a whole prefix and is not listed; see
// MACFor. The slice is shared; do not modify it.
func (t *Topology) Neighbors() []Neighbor { return t.neighbors }

// MACFor returns the MAC that answers ARP or Neighbor Solicitations for a:
// a host's, a gateway's, or splice46's for a VIP or any address in pool6.
func (t *Topology) MACFor(a netip.Addr) (net.HardwareAddr, bool) {
	a = a.Unmap()
	if mac, ok := t.neighborMAC[a]; ok {
		return mac, true
	}
	if s := t.Splice46; s != nil && s.Pool6.Contains(a) {
		return s.MAC, true
	}
	return nil, false
}
