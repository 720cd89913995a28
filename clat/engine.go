package clat

import (
	"net/netip"

	"github.com/sixgate/sixgate/siit"
)

// engineParams are what the translator's configuration is made of.
type engineParams struct {
	pref64  netip.Prefix
	host4   netip.Addr // the host side of the TUN: 192.0.0.1
	own4    netip.Addr // the translator's IPv4 address, for the errors it originates
	clat6   netip.Addr // the dedicated IPv6 address
	own6    netip.Addr // the translator's IPv6 address: the host's own on the uplink, or none
	mtu4    int        // the TUN's MTU
	mtu6    int        // the uplink's MTU
	lowest6 int        // the lowest IPv6 MTU assumed on any path
}

// siitConfig is the stateless translator's configuration for a CLAT: the
// host's IPv4 address mapped one to one to the dedicated IPv6 address
// (an EAM entry, RFC 7757), every other IPv4 address to the NAT64
// prefix. The translator's own IPv6 address, the source of the ICMPv6
// errors it originates, must not be the dedicated address: the engine
// answers packets to its own address itself instead of translating them.
func siitConfig(p engineParams) siit.Config {
	return siit.Config{
		Pool6:         p.pref64,
		EAM:           []siit.EAM{{IPv4: netip.PrefixFrom(p.host4, 32), IPv6: netip.PrefixFrom(p.clat6, 128)}},
		LowestIPv6MTU: p.lowest6,
		IPv4:          siit.Side{Address: p.own4, MTU: p.mtu4},
		IPv6:          siit.Side{Address: p.own6, MTU: p.mtu6},
	}
}
