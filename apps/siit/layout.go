package siit

import (
	"net"
	"net/netip"

	"github.com/sixgate/sixgate/topo"
)

// layout is what the app makes of the siit section for the fabric: the
// addresses to answer for, what to steer, where output goes.
type layout struct {
	mac   net.HardwareAddr
	mode  topo.DataPath
	ports []*topo.EnginePort
	// own4 and own6 are the translator's own addresses, hosts' next hop
	// (invalid when not given).
	own4, own6 netip.Addr
	// steer4 and steer6 are the destinations the translator stands for:
	// EAM IPv4 prefixes; pool6, EAM IPv6 prefixes and the CLAT hosts'
	// IPv6 addresses.
	steer4, steer6 []netip.Prefix
	clat           []clatHost
	// gw4 and gw6 are the next hops for destinations outside the model.
	gw4, gw6 *topo.Host
}

// clatHost is a declared IPv4-only host whose traffic the translator
// takes as a CLAT: its IPv4 address stands as ipv6 on the IPv6 side.
type clatHost struct {
	host       string
	ipv4, ipv6 netip.Addr
}

// answered is every prefix the neighbor app answers for with the
// translator's MAC. Addresses inside them that the model gives to a host
// keep the host's own answer (the neighbor app sees to it): an EAM prefix
// may hold real hosts on one side.
func (l *layout) answered() []netip.Prefix {
	var out []netip.Prefix
	for _, a := range []netip.Addr{l.own4, l.own6} {
		if a.IsValid() {
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	out = append(out, l.steer4...)
	return append(out, l.steer6...)
}
