package topo

import (
	"fmt"
	"net/netip"
	"slices"
)

// buildSIITFabric reads and checks what the siit section needs in a
// fabric, after buildSIIT has read the translator's own settings: the MAC,
// the data path and engine ports; the translator's addresses, the CLAT
// hosts' IPv6 addresses and pool6 against the hosts'; gateways that are
// declared hosts; CLAT hosts that are declared IPv4-only hosts; and
// address ranges that overlap across sections. A file without hosts (the
// translator offline, sixgate translate) needs none of it.
func (b *builder) buildSIITFabric(fs *fileSIIT) {
	s := b.t.SIIT
	if fs == nil || s == nil {
		return
	}
	const entry = "siit"
	switch {
	case fs.MAC != "":
		mac, err := parseUnicastMAC(fs.MAC)
		if err != nil {
			b.p.add(entry+".mac", "%v", err)
		} else if claim(b, b.macs, macKey(mac), b.ownerAt(entry, entry+".mac"), entry+".mac", "MAC "+mac.String()) {
			s.MAC = mac
		}
	case len(b.t.Hosts) > 0:
		b.p.add(entry+".mac", "missing MAC: the translator in the fabric answers ARP and NDP with it")
	}
	s.Mode, s.Ports = b.dataPath(entry, fs.Mode, fs.Ports)
	if len(b.t.Hosts) == 0 {
		return
	}
	for _, side := range []struct {
		path string
		s    SIITSide
	}{{entry + ".ipv4", s.IPv4}, {entry + ".ipv6", s.IPv6}} {
		if a := side.s.Address; a.IsValid() {
			claim(b, b.addrs, a.Addr(), b.ownerAt(entry, side.path+".address"), side.path+".address", "address "+a.Addr().String())
		}
		if g := side.s.Gateway; g.IsValid() {
			if _, ok := b.hostByAddr(g); !ok {
				b.p.add(side.path+".gateway", "no declared host owns %s: the gateway must be a host of the model", g)
			}
		}
	}
	if s.Pool6.IsValid() {
		for _, h := range b.t.Hosts {
			for _, a := range h.IPv6 {
				if s.Pool6.Contains(a) {
					o := b.addrs[a]
					b.p.add(entry+".pool6", "%s contains %s of host %s (%s at line %d): the translator answers for the whole pool", s.Pool6, a, h.Name, o.entry, o.line)
				}
			}
		}
	}
	b.checkCLATHosts(s)
	b.checkSIITOverlaps(s)
}

// checkCLATHosts checks that each CLAT host is a declared IPv4-only host
// with one address to map, and that its IPv6 address belongs to no one
// else.
func (b *builder) checkCLATHosts(s *SIIT) {
	if len(s.CLAT) > 0 && !s.CLATPref64.IsValid() {
		b.p.add("siit.clat_pref64", "missing: the CLAT hosts' destinations need a NAT64 prefix")
	}
	for i, c := range s.CLAT {
		path := fmt.Sprintf("siit.clat[%d]", i)
		if h, ok := b.hostByName(c.Host); ok {
			switch {
			case len(h.IPv6) > 0:
				b.p.add(path+".host", "host %s has IPv6 addresses: the CLAT role is for IPv4-only hosts", h.Name)
			case len(h.IPv4) != 1:
				b.p.add(path+".host", "host %s has %d IPv4 addresses, want exactly one to map", h.Name, len(h.IPv4))
			}
		}
		if c.IPv6.IsValid() {
			claim(b, b.addrs, c.IPv6, b.ownerAt(path, path+".ipv6"), path+".ipv6", "address "+c.IPv6.String())
		}
	}
}

// hostByName and hostByAddr look a host up while the topology is being
// built (its indexes come later).
func (b *builder) hostByName(name string) (*Host, bool) {
	for _, h := range b.t.Hosts {
		if h.Name == name {
			return h, true
		}
	}
	return nil, false
}

func (b *builder) hostByAddr(a netip.Addr) (*Host, bool) {
	for _, h := range b.t.Hosts {
		if slices.Contains(h.IPv4, a) || slices.Contains(h.IPv6, a) {
			return h, true
		}
	}
	return nil, false
}

// space is an address range a field of the file gives, for overlap
// checks across sections.
type space struct {
	field  string
	prefix netip.Prefix
}

// checkSIITOverlaps refuses address ranges that would make one packet
// belong to two translations: splice46's pool6 against siit's pool6 and
// EAM IPv6 prefixes, VIPs against EAM IPv4 prefixes, and the CLAT hosts'
// addresses against all of them and clat_pref64. Each error names both
// fields. (buildSIIT checks EAM entries against each other and pool6.)
func (b *builder) checkSIITOverlaps(s *SIIT) {
	var v6, v4 []space
	if sp := b.t.Splice46; sp != nil {
		if sp.Pool6.IsValid() {
			v6 = append(v6, space{"splice46.pool6", sp.Pool6})
		}
		seen := map[netip.Addr]bool{}
		for i, svc := range sp.Services {
			if !seen[svc.VIP] {
				seen[svc.VIP] = true
				v4 = append(v4, space{fmt.Sprintf("splice46.services[%d].vip", i), netip.PrefixFrom(svc.VIP, 32)})
			}
		}
	}
	split6, split4 := len(v6), len(v4)
	if s.Pool6.IsValid() {
		v6 = append(v6, space{"siit.pool6", s.Pool6})
	}
	for _, e := range s.EAM {
		i := b.eamIndex(e)
		v6 = append(v6, space{fmt.Sprintf("siit.eam[%d].ipv6", i), e.IPv6})
		v4 = append(v4, space{fmt.Sprintf("siit.eam[%d].ipv4", i), e.IPv4})
	}
	b.overlaps(v6, split6)
	b.overlaps(v4, split4)

	// The CLAT addresses against everything above.
	if s.CLATPref64.IsValid() {
		v6 = append(v6, space{"siit.clat_pref64", s.CLATPref64})
	}
	for i, c := range s.CLAT {
		path := fmt.Sprintf("siit.clat[%d]", i)
		if c.IPv6.IsValid() {
			b.against(space{path + ".ipv6", netip.PrefixFrom(c.IPv6, 128)}, v6)
		}
		if h, ok := b.hostByName(c.Host); ok && len(h.IPv4) == 1 && len(h.IPv6) == 0 {
			b.against(space{path + ".host", netip.PrefixFrom(h.IPv4[0], 32)}, v4)
		}
	}
}

// eamIndex is the file index of a kept EAM entry, found by its line.
func (b *builder) eamIndex(e SIITEAM) int {
	for i := 0; ; i++ {
		path := fmt.Sprintf("siit.eam[%d]", i)
		line, ok := b.p.lines[path]
		if !ok {
			return -1
		}
		if line == e.Line {
			return i
		}
	}
}

// overlaps reports every space from index split on that overlaps one
// before split (the other section's), at the later one.
func (b *builder) overlaps(spaces []space, split int) {
	for _, y := range spaces[split:] {
		for _, x := range spaces[:split] {
			if x.prefix.Overlaps(y.prefix) {
				b.p.add(y.field, "%s overlaps %s %s (line %d)", y.prefix, x.field, x.prefix, b.p.lines.line(x.field))
			}
		}
	}
}

// against reports y overlapping any of spaces.
func (b *builder) against(y space, spaces []space) {
	for _, x := range spaces {
		if x.prefix.Overlaps(y.prefix) {
			b.p.add(y.field, "%s overlaps %s %s (line %d)", y.prefix, x.field, x.prefix, b.p.lines.line(x.field))
		}
	}
}
