package siit

import (
	"net/netip"

	xlat "github.com/sixgate/sixgate/siit"
	"github.com/sixgate/sixgate/topo"
)

// layoutOf is what the app makes of t's siit section in the fabric.
func layoutOf(t *topo.Topology) *layout {
	s := t.SIIT
	l := &layout{mac: s.MAC, mode: s.Mode, ports: s.Ports}
	// topo has checked that a host owns each gateway's address.
	if g := s.IPv4.Gateway; g.IsValid() {
		l.gw4, _ = t.HostByAddr(g)
	}
	if g := s.IPv6.Gateway; g.IsValid() {
		l.gw6, _ = t.HostByAddr(g)
	}
	if s.IPv4.Address.IsValid() {
		l.own4 = s.IPv4.Address.Addr()
	}
	if s.IPv6.Address.IsValid() {
		l.own6 = s.IPv6.Address.Addr()
	}
	if s.Pool6.IsValid() {
		l.steer6 = append(l.steer6, s.Pool6)
	}
	for _, e := range s.EAM {
		l.steer4 = append(l.steer4, e.IPv4)
		l.steer6 = append(l.steer6, e.IPv6)
	}
	for _, c := range clatHosts(t) {
		l.clat = append(l.clat, c)
		l.steer6 = append(l.steer6, netip.PrefixFrom(c.ipv6, 128))
	}
	return l
}

// clatHosts are the section's CLAT hosts with their IPv4 addresses (topo
// has checked that each is a declared host with exactly one).
func clatHosts(t *topo.Topology) []clatHost {
	var out []clatHost
	for _, c := range t.SIIT.CLAT {
		if h, ok := t.HostByName(c.Host); ok && len(h.IPv4) == 1 {
			out = append(out, clatHost{host: h.Name, ipv4: h.IPv4[0], ipv6: c.IPv6})
		}
	}
	return out
}

// engineConfigs maps the section onto the translators' configurations:
// main (nil without pool6 and EAM) and clat (nil without CLAT hosts),
// which share the translator's addresses, MTUs and options.
func engineConfigs(t *topo.Topology) (main, clat *xlat.Config) {
	s := t.SIIT
	base := xlat.Config{
		RFC6791v4: s.RFC6791v4, RFC6791v6: s.RFC6791v6, LowestIPv6MTU: s.LowestIPv6MTU,
		AmendUDPChecksumZero: s.AmendUDPChecksumZero,
		IPv4:                 xlat.Side{MTU: s.IPv4.MTU},
		IPv6:                 xlat.Side{MTU: s.IPv6.MTU},
	}
	if s.IPv4.Address.IsValid() {
		base.IPv4.Address = s.IPv4.Address.Addr()
	}
	if s.IPv6.Address.IsValid() {
		base.IPv6.Address = s.IPv6.Address.Addr()
	}
	if s.Pool6.IsValid() || len(s.EAM) > 0 {
		c := base
		c.Pool6 = s.Pool6
		for _, e := range s.EAM {
			c.EAM = append(c.EAM, xlat.EAM{IPv4: e.IPv4, IPv6: e.IPv6})
		}
		main = &c
	}
	if len(s.CLAT) > 0 {
		c := base
		c.Pool6 = s.CLATPref64
		for _, h := range clatHosts(t) {
			c.EAM = append(c.EAM, xlat.EAM{IPv4: netip.PrefixFrom(h.ipv4, 32), IPv6: netip.PrefixFrom(h.ipv6, 128)})
		}
		clat = &c
	}
	return main, clat
}
