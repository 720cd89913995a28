package topo

import (
	"fmt"
	"net/netip"
	"time"
)

// Router Advertisement defaults, from RFC 4861 section 6.2.1.
const (
	DefaultRAInterval          = 600 * time.Second
	DefaultRARouterLifetime    = 1800 * time.Second
	DefaultRAHopLimit          = 64
	DefaultRAValidLifetime     = 30 * 24 * time.Hour
	DefaultRAPreferredLifetime = 7 * 24 * time.Hour
)

// virtualMAC is the claim group of MACs the controller answers with itself,
// which gateways and splice46 may share.
const virtualMAC = "virtual"

func (b *builder) buildGateways(gateways []fileGateway) {
	for i, fg := range gateways {
		entry := fmt.Sprintf("gateways[%d]", i)
		g := &Gateway{Name: fg.Name, Line: b.p.lines.line(entry)}
		if g.Name == "" {
			g.Name = entry
		}
		ok := b.gatewayMAC(entry, fg, g)
		for j, s := range fg.IPv4 {
			if p, good := b.gatewayAddr(entry, fmt.Sprintf("%s.ipv4[%d]", entry, j), s, true); good {
				g.IPv4 = append(g.IPv4, p)
			} else {
				ok = false
			}
		}
		for j, s := range fg.IPv6 {
			if p, good := b.gatewayAddr(entry, fmt.Sprintf("%s.ipv6[%d]", entry, j), s, false); good {
				g.IPv6 = append(g.IPv6, p)
			} else {
				ok = false
			}
		}
		if len(fg.IPv4)+len(fg.IPv6) == 0 {
			b.p.add(entry, "a gateway needs at least one ipv4 or ipv6 address")
			ok = false
		}
		if !b.gatewayLinkLocal(entry, fg, g) {
			ok = false
		}
		if !b.gatewayRA(entry, fg, g) {
			ok = false
		}
		if ok {
			b.t.Gateways = append(b.t.Gateways, g)
		}
	}
}

func (b *builder) gatewayMAC(entry string, fg fileGateway, g *Gateway) bool {
	path := entry + ".mac"
	if fg.MAC == "" {
		if b.t.Splice46 == nil || b.t.Splice46.MAC == nil {
			b.p.add(path, "missing MAC (a gateway without one answers with splice46.mac, but there is none)")
			return false
		}
		g.MAC = b.t.Splice46.MAC
		return true
	}
	mac, err := parseUnicastMAC(fg.MAC)
	if err != nil {
		b.p.add(path, "%v", err)
		return false
	}
	g.MAC = mac
	o := b.ownerAt(entry, path)
	o.group = virtualMAC
	return claim(b, b.macs, macKey(mac), o, path, "MAC "+mac.String())
}

func (b *builder) gatewayAddr(entry, path, s string, want4 bool) (netip.Prefix, bool) {
	p, ok := b.ifaceAddr(path, s, want4)
	if !ok {
		return netip.Prefix{}, false
	}
	if p.Bits() == p.Addr().BitLen() {
		b.p.add(path, "a gateway address needs a prefix length (like %s/24) or a declared subnet containing it", p.Addr())
		return netip.Prefix{}, false
	}
	return p, claim(b, b.addrs, p.Addr(), b.ownerAt(entry, path), path, "address "+p.Addr().String())
}

func (b *builder) gatewayLinkLocal(entry string, fg fileGateway, g *Gateway) bool {
	path := entry + ".link_local"
	if fg.LinkLocal == "" {
		if len(fg.IPv6) > 0 && g.MAC != nil {
			g.LinkLocal = eui64LinkLocal(g.MAC)
		}
		return true
	}
	a, err := netip.ParseAddr(fg.LinkLocal)
	if err != nil || !a.Is6() || !a.IsLinkLocalUnicast() || a.Zone() != "" {
		b.p.add(path, "malformed link-local address %q (want an fe80::/10 address without zone)", fg.LinkLocal)
		return false
	}
	g.LinkLocal = a
	return claim(b, b.addrs, a, b.ownerAt(entry, path), path, "address "+a.String())
}

func (b *builder) gatewayRA(entry string, fg fileGateway, g *Gateway) bool {
	if !fg.RouterAdvertisements {
		if fg.RA != nil {
			b.p.add(entry+".ra", "ra parameters are given but router_advertisements is not true")
			return false
		}
		return true
	}
	if len(fg.IPv6) == 0 {
		b.p.add(entry+".router_advertisements", "router advertisements need at least one ipv6 address on the gateway")
		return false
	}
	fr := fg.RA
	if fr == nil {
		fr = &fileRA{}
	}
	errs := b.p.count
	path := entry + ".ra"
	ra := &RouterAdvertisement{
		Interval:          b.duration(path+".interval", fr.Interval, DefaultRAInterval),
		RouterLifetime:    b.duration(path+".router_lifetime", fr.RouterLifetime, DefaultRARouterLifetime),
		HopLimit:          DefaultRAHopLimit,
		Managed:           fr.Managed,
		Other:             fr.Other,
		ValidLifetime:     b.duration(path+".valid_lifetime", fr.ValidLifetime, DefaultRAValidLifetime),
		PreferredLifetime: b.duration(path+".preferred_lifetime", fr.PreferredLifetime, DefaultRAPreferredLifetime),
	}
	// Limits from RFC 4861 section 6.2.1: MaxRtrAdvInterval in [4s, 1800s],
	// AdvDefaultLifetime 0 or in [MaxRtrAdvInterval, 9000s].
	if ra.Interval < 4*time.Second || ra.Interval > 1800*time.Second {
		b.p.add(path+".interval", "%v is out of range (4s to 1800s)", ra.Interval)
	}
	if ra.RouterLifetime != 0 && (ra.RouterLifetime < ra.Interval || ra.RouterLifetime > 9000*time.Second) {
		b.p.add(path+".router_lifetime", "%v is out of range (0, or interval to 9000s)", ra.RouterLifetime)
	}
	if ra.PreferredLifetime > ra.ValidLifetime {
		b.p.add(path+".preferred_lifetime", "preferred lifetime %v is longer than valid lifetime %v", ra.PreferredLifetime, ra.ValidLifetime)
	}
	if fr.HopLimit != "" {
		v, err := parseUint(fr.HopLimit, 0, 255)
		if err != nil {
			b.p.add(path+".hop_limit", "%v", err)
		}
		ra.HopLimit = uint8(v)
	}
	if fr.MTU != "" {
		v, err := parseUint(fr.MTU, 1280, 65535)
		if err != nil {
			b.p.add(path+".mtu", "%v", err)
		}
		ra.MTU = uint32(v)
	}
	for i, s := range fr.Prefixes {
		pp := fmt.Sprintf("%s.prefixes[%d]", path, i)
		p, err := parsePrefix(s)
		switch {
		case err != nil:
			b.p.add(pp, "%v", err)
		case !p.Addr().Is6() || p.Addr().IsLinkLocalUnicast():
			b.p.add(pp, "%s is not a global IPv6 prefix", p)
		default:
			ra.Prefixes = append(ra.Prefixes, p)
		}
	}
	if len(fr.Prefixes) == 0 {
		// Advertise the on-link prefixes of the gateway's own addresses.
		seen := map[netip.Prefix]bool{}
		for _, p := range g.IPv6 {
			if m := p.Masked(); !seen[m] && !m.Addr().IsLinkLocalUnicast() {
				seen[m] = true
				ra.Prefixes = append(ra.Prefixes, m)
			}
		}
	}
	b.raHostConfig(path, fr, ra)
	g.RA = ra
	return b.p.count == errs
}
