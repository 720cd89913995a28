package topo

import (
	"fmt"
	"net/netip"
	"slices"
)

// buildSIIT reads the siit section. It runs after the hosts and splice46,
// whose addresses and pools it is checked against.
func (b *builder) buildSIIT(fs *fileSIIT) {
	if fs == nil {
		return
	}
	const entry = "siit"
	s := &SIIT{Line: b.p.lines.line(entry)}
	b.t.SIIT = s

	if fs.Pool6 != "" {
		s.Pool6 = b.rfc6052Prefix(entry+".pool6", fs.Pool6)
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
	}
	for i, fe := range fs.EAM {
		if e, ok := b.eamEntry(fmt.Sprintf("%s.eam[%d]", entry, i), fe); ok {
			s.EAM = append(s.EAM, e)
		}
	}
	if !s.Pool6.IsValid() && len(fs.EAM) == 0 && len(fs.CLAT) == 0 {
		b.p.add(entry, "nothing to translate: give pool6, eam or clat")
	}
	s.RFC6791v4 = b.prefixList(entry+".rfc6791_ipv4", fs.RFC6791IPv4, true)
	s.RFC6791v6 = b.prefixList(entry+".rfc6791_ipv6", fs.RFC6791IPv6, false)
	if fs.LowestIPv6MTU != "" {
		v, err := parseUint(fs.LowestIPv6MTU, 1280, 65535)
		if err != nil {
			b.p.add(entry+".lowest_ipv6_mtu", "%v", err)
		}
		s.LowestIPv6MTU = int(v)
	}
	s.AmendUDPChecksumZero = fs.AmendUDPChecksumZero
	s.IPv4 = b.siitSide(entry+".ipv4", fs.IPv4, true)
	s.IPv6 = b.siitSide(entry+".ipv6", fs.IPv6, false)

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
	b.buildCLAT(s, fs)
	b.checkSIITOverlaps(s)
}

// rfc6052Prefix reads an IPv6 prefix of a length RFC 6052 allows.
func (b *builder) rfc6052Prefix(path, text string) netip.Prefix {
	p, err := parsePrefix(text)
	switch {
	case err != nil:
		b.p.add(path, "%v", err)
	case !p.Addr().Is6() || p.Addr().Is4In6():
		b.p.add(path, "%s is not an IPv6 prefix", p)
	case !slices.Contains(pool6Lengths, p.Bits()):
		b.p.add(path, "prefix length /%d is not one RFC 6052 allows (32, 40, 48, 56, 64 or 96)", p.Bits())
	default:
		return p
	}
	return netip.Prefix{}
}

func (b *builder) eamEntry(path string, fe fileEAM) (EAMEntry, bool) {
	e := EAMEntry{Line: b.p.lines.line(path), path: path}
	ok := true
	if p, err := parsePrefixOrAddr(fe.IPv4); err != nil {
		b.p.add(path+".ipv4", "%v", err)
		ok = false
	} else if !p.Addr().Is4() {
		b.p.add(path+".ipv4", "%s is not an IPv4 prefix", p)
		ok = false
	} else {
		e.IPv4 = p
	}
	if p, err := parsePrefixOrAddr(fe.IPv6); err != nil {
		b.p.add(path+".ipv6", "%v", err)
		ok = false
	} else if !p.Addr().Is6() || p.Addr().Is4In6() {
		b.p.add(path+".ipv6", "%s is not an IPv6 prefix", p)
		ok = false
	} else {
		e.IPv6 = p
	}
	// RFC 7757 section 3.2: the IPv4 suffix is copied into the IPv6
	// suffix, which must be at least as long.
	if ok && 128-e.IPv6.Bits() < 32-e.IPv4.Bits() {
		b.p.add(path+".ipv6", "%s has a %d-bit suffix, shorter than the %d bits of %s", e.IPv6, 128-e.IPv6.Bits(), 32-e.IPv4.Bits(), e.IPv4)
		ok = false
	}
	return e, ok
}

// parsePrefixOrAddr reads a prefix, or a bare address as a prefix of its
// whole length; the address must be the prefix's first.
func parsePrefixOrAddr(s string) (netip.Prefix, error) {
	if s == "" {
		return netip.Prefix{}, fmt.Errorf("missing prefix")
	}
	spec, err := parseAddrSpec(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if spec.bits < 0 {
		return netip.PrefixFrom(spec.addr, spec.addr.BitLen()), nil
	}
	p := netip.PrefixFrom(spec.addr, spec.bits)
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("%s has host bits set (the prefix is %s)", s, p.Masked())
	}
	return p, nil
}

func (b *builder) prefixList(path string, list []string, want4 bool) []netip.Prefix {
	var out []netip.Prefix
	for i, s := range list {
		pp := fmt.Sprintf("%s[%d]", path, i)
		p, err := parsePrefixOrAddr(s)
		switch {
		case err != nil:
			b.p.add(pp, "%v", err)
		case want4 && !p.Addr().Is4():
			b.p.add(pp, "%s is not IPv4", p)
		case !want4 && (!p.Addr().Is6() || p.Addr().Is4In6()):
			b.p.add(pp, "%s is not IPv6", p)
		default:
			out = append(out, p)
		}
	}
	return out
}

// siitSide reads the translator's address, MTU and gateway on one side.
func (b *builder) siitSide(path string, fs *fileSIITSide, want4 bool) SIITSide {
	var side SIITSide
	if fs == nil {
		return side
	}
	if fs.Address != "" {
		if p, ok := b.ifaceAddr(path+".address", fs.Address, want4); ok &&
			claim(b, b.addrs, p.Addr(), b.ownerAt("siit", path+".address"), path+".address", "address "+p.Addr().String()) {
			side.Address = p
		}
	}
	if fs.MTU != "" {
		lo := uint64(68)
		if !want4 {
			lo = 1280
		}
		v, err := parseUint(fs.MTU, lo, 65535)
		if err != nil {
			b.p.add(path+".mtu", "%v", err)
		}
		side.MTU = int(v)
	}
	if fs.Gateway != "" {
		side.Gateway = b.siitGateway(path+".gateway", fs.Gateway, want4)
	}
	return side
}

// siitGateway finds the host a gateway names: by name, or by an address
// it owns; it must have an address of the side's family.
func (b *builder) siitGateway(path, text string, want4 bool) *Host {
	family := "IPv6"
	if want4 {
		family = "IPv4"
	}
	h, ok := b.hostByName(text)
	if !ok {
		a, err := netip.ParseAddr(text)
		if err != nil {
			b.p.add(path, "%q is neither a declared host nor an address", text)
			return nil
		}
		if a.Is4() != want4 {
			b.p.add(path, "%s is not an %s address", a, family)
			return nil
		}
		if h, ok = b.hostByAddr(a); !ok {
			b.p.add(path, "no declared host owns %s: the gateway must be a host of the model", a)
			return nil
		}
	}
	if (want4 && len(h.IPv4) == 0) || (!want4 && len(h.IPv6) == 0) {
		b.p.add(path, "host %s has no %s address", h.Name, family)
		return nil
	}
	return h
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

// buildCLAT reads the CLAT hosts and clat_pref64.
func (b *builder) buildCLAT(s *SIIT, fs *fileSIIT) {
	const entry = "siit"
	if fs.CLATPref64 != "" {
		s.CLATPref64 = b.rfc6052Prefix(entry+".clat_pref64", fs.CLATPref64)
	}
	if len(fs.CLAT) == 0 {
		if fs.CLATPref64 != "" {
			b.p.add(entry+".clat_pref64", "clat_pref64 without clat hosts")
		}
		return
	}
	if fs.CLATPref64 == "" {
		b.p.add(entry+".clat_pref64", "missing: the CLAT hosts' destinations need a NAT64 prefix")
	}
	for i, fc := range fs.CLAT {
		path := fmt.Sprintf("%s.clat[%d]", entry, i)
		c := &CLATHost{Line: b.p.lines.line(path), path: path}
		ok := true
		h, known := b.hostByName(fc.Host)
		switch {
		case fc.Host == "":
			b.p.add(path+".host", "missing host")
			ok = false
		case !known:
			b.p.add(path+".host", "unknown host %q", fc.Host)
			ok = false
		case len(h.IPv6) > 0:
			b.p.add(path+".host", "host %s has IPv6 addresses: the CLAT role is for IPv4-only hosts", h.Name)
			ok = false
		case len(h.IPv4) != 1:
			b.p.add(path+".host", "host %s has %d IPv4 addresses, want exactly one to map", h.Name, len(h.IPv4))
			ok = false
		default:
			c.Host, c.IPv4 = h, h.IPv4[0]
		}
		if a, err := netip.ParseAddr(fc.IPv6); fc.IPv6 == "" {
			b.p.add(path+".ipv6", "missing address")
			ok = false
		} else if err != nil {
			b.p.add(path+".ipv6", "malformed address %q", fc.IPv6)
			ok = false
		} else if err := checkUnicast(a, false); err != nil {
			b.p.add(path+".ipv6", "%v", err)
			ok = false
		} else if !claim(b, b.addrs, a, b.ownerAt(path, path+".ipv6"), path+".ipv6", "address "+a.String()) {
			ok = false
		} else {
			c.IPv6 = a
		}
		if ok {
			s.CLAT = append(s.CLAT, c)
		}
	}
}

// space is an address range a field of the file gives, for overlap
// checks across sections.
type space struct {
	field  string
	prefix netip.Prefix
}

// checkSIITOverlaps refuses address ranges that would make one packet
// belong to two translations: IPv6 pools, EAM prefixes and CLAT
// addresses across splice46 and siit; VIPs, EAM IPv4 prefixes and CLAT
// hosts' addresses. Each error names both fields.
func (b *builder) checkSIITOverlaps(s *SIIT) {
	var v6, v4 []space
	if sp := b.t.Splice46; sp != nil {
		if sp.Pool6.IsValid() {
			v6 = append(v6, space{"splice46.pool6", sp.Pool6})
		}
		for i, svc := range sp.Services {
			v4 = append(v4, space{fmt.Sprintf("splice46.services[%d].vip", i), netip.PrefixFrom(svc.VIP, 32)})
		}
	}
	if s.Pool6.IsValid() {
		v6 = append(v6, space{"siit.pool6", s.Pool6})
	}
	for _, e := range s.EAM {
		v6 = append(v6, space{e.path + ".ipv6", e.IPv6})
		v4 = append(v4, space{e.path + ".ipv4", e.IPv4})
	}
	for _, c := range s.CLAT {
		v6 = append(v6, space{c.path + ".ipv6", netip.PrefixFrom(c.IPv6, 128)})
		v4 = append(v4, space{c.path + ".host", netip.PrefixFrom(c.IPv4, 32)})
		if s.CLATPref64.IsValid() && s.CLATPref64.Contains(c.IPv6) {
			b.p.add(c.path+".ipv6", "%s is inside siit.clat_pref64 %s (line %d)", c.IPv6, s.CLATPref64, b.p.lines.line("siit.clat_pref64"))
		}
	}
	b.overlaps(v6)
	b.overlaps(v4)
}

// overlaps reports every pair of overlapping spaces at the later one.
// VIPs shared by several services are one space.
func (b *builder) overlaps(spaces []space) {
	for j := range spaces {
		for i := range j {
			x, y := spaces[i], spaces[j]
			if !x.prefix.Overlaps(y.prefix) || (x.prefix == y.prefix && isVIP(x.field) && isVIP(y.field)) {
				continue
			}
			b.p.add(y.field, "%s overlaps %s %s (line %d)", y.prefix, x.field, x.prefix, b.p.lines.line(x.field))
		}
	}
}

func isVIP(field string) bool {
	return len(field) > 4 && field[len(field)-4:] == ".vip"
}
