package topo

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
)

// SIIT is the stateless IP/ICMP translator (RFC 7915): IPv4 addresses
// appear in IPv6 under Pool6 (RFC 6052) or through explicit mappings (RFC
// 7757), IPv6 addresses in IPv4 through the same mappings.
type SIIT struct {
	Pool6 netip.Prefix // zero when absent: only EAM entries translate
	EAM   []SIITEAM
	// RFC6791v4 and RFC6791v6 are the sources of translated ICMP errors
	// whose own source has no mapping (RFC 6791); a bare address is a
	// /32 or /128.
	RFC6791v4, RFC6791v6 []netip.Prefix
	LowestIPv6MTU        int
	AmendUDPChecksumZero bool
	IPv4, IPv6           SIITSide
	CLAT                 []SIITCLAT
	// CLATPref64 is the NAT64 prefix the in-fabric CLAT translates
	// toward; zero when absent.
	CLATPref64 netip.Prefix
	Line       int

	// Where the translator sits in the fabric (siit_fabric.go): the MAC
	// it answers ARP and NDP with, its data path and engine ports.
	MAC   net.HardwareAddr
	Mode  DataPath
	Ports []*EnginePort
}

// SIITEAM is one explicit address mapping.
type SIITEAM struct {
	IPv4, IPv6 netip.Prefix
	Line       int
}

// SIITSide is the translator's presence on one side.
type SIITSide struct {
	// Address is the translator's own address with the length of its
	// subnet (198.51.100.1/24).
	Address netip.Prefix
	MTU     int
	// Gateway is the next hop toward what the fabric does not declare;
	// zero when absent.
	Gateway netip.Addr
	Line    int
}

// SIITCLAT maps a declared IPv4-only host's IPv4 to an IPv6 address.
type SIITCLAT struct {
	Host string
	IPv6 netip.Addr
	Line int
}

// Defaults of the siit section.
const (
	DefaultSIITMTU           = 1500
	DefaultSIITLowestIPv6MTU = 1280
)

type fileSIIT struct {
	Pool6                string           `yaml:"pool6"`
	EAM                  []fileSIITEAM    `yaml:"eam"`
	RFC6791v4            []string         `yaml:"rfc6791_ipv4"`
	RFC6791v6            []string         `yaml:"rfc6791_ipv6"`
	LowestIPv6MTU        string           `yaml:"lowest_ipv6_mtu"`
	AmendUDPChecksumZero bool             `yaml:"amend_udp_checksum_zero"`
	IPv4                 *fileSIITSide    `yaml:"ipv4"`
	IPv6                 *fileSIITSide    `yaml:"ipv6"`
	CLAT                 []fileSIITCLAT   `yaml:"clat"`
	CLATPref64           string           `yaml:"clat_pref64"`
	MAC                  string           `yaml:"mac"`
	Mode                 string           `yaml:"mode"`
	Ports                []fileEnginePort `yaml:"ports"`
}

type fileSIITEAM struct {
	IPv4 string `yaml:"ipv4"`
	IPv6 string `yaml:"ipv6"`
}

type fileSIITSide struct {
	Address string `yaml:"address"`
	MTU     string `yaml:"mtu"`
	Gateway string `yaml:"gateway"`
}

type fileSIITCLAT struct {
	Host string `yaml:"host"`
	IPv6 string `yaml:"ipv6"`
}

// siitPrefix reads a prefix, or a bare address as a single-address prefix.
func siitPrefix(s string, want4 bool) (netip.Prefix, error) {
	if s == "" {
		return netip.Prefix{}, fmt.Errorf("missing prefix")
	}
	spec, err := parseAddrSpec(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if want4 != spec.addr.Is4() || spec.addr.Is4In6() {
		if want4 {
			return netip.Prefix{}, fmt.Errorf("%s is not an IPv4 prefix", s)
		}
		return netip.Prefix{}, fmt.Errorf("%s is not an IPv6 prefix", s)
	}
	if spec.bits < 0 {
		return netip.PrefixFrom(spec.addr, spec.addr.BitLen()), nil
	}
	return parsePrefix(s)
}

func (b *builder) buildSIIT(fs *fileSIIT) {
	if fs == nil {
		return
	}
	const entry = "siit"
	s := &SIIT{LowestIPv6MTU: DefaultSIITLowestIPv6MTU, AmendUDPChecksumZero: fs.AmendUDPChecksumZero, Line: b.p.lines.line(entry)}
	b.t.SIIT = s

	if fs.Pool6 != "" {
		if p, err := b.rfc6052Prefix(fs.Pool6); err != nil {
			b.p.add(entry+".pool6", "%v", err)
		} else {
			s.Pool6 = p
		}
	}
	if fs.Pool6 == "" && len(fs.EAM) == 0 {
		b.p.add(entry, "give pool6, eam or both: without them nothing is translated")
	}
	var eamIndex []int // the file's index of each entry kept
	for i, fe := range fs.EAM {
		path := fmt.Sprintf("%s.eam[%d]", entry, i)
		e := SIITEAM{Line: b.p.lines.line(path)}
		p4, err4 := siitPrefix(fe.IPv4, true)
		if err4 != nil {
			b.p.add(path+".ipv4", "%v", err4)
		}
		p6, err6 := siitPrefix(fe.IPv6, false)
		if err6 != nil {
			b.p.add(path+".ipv6", "%v", err6)
		}
		if err4 != nil || err6 != nil {
			continue
		}
		if 128-p6.Bits() < 32-p4.Bits() {
			b.p.add(path, "%s leaves %d bits for the %d-bit suffix of %s (RFC 7757: the IPv6 suffix is at least as long)", p6, 128-p6.Bits(), 32-p4.Bits(), p4)
			continue
		}
		ok := true
		for j, o := range s.EAM {
			if o.IPv4.Overlaps(p4) {
				b.p.add(path+".ipv4", "%s overlaps %s.eam[%d].ipv4 %s (line %d)", p4, entry, eamIndex[j], o.IPv4, o.Line)
				ok = false
			}
			if o.IPv6.Overlaps(p6) {
				b.p.add(path+".ipv6", "%s overlaps %s.eam[%d].ipv6 %s (line %d)", p6, entry, eamIndex[j], o.IPv6, o.Line)
				ok = false
			}
		}
		if s.Pool6.IsValid() && s.Pool6.Overlaps(p6) {
			b.p.add(path+".ipv6", "%s overlaps %s.pool6 %s", p6, entry, s.Pool6)
			ok = false
		}
		if ok {
			e.IPv4, e.IPv6 = p4, p6
			s.EAM = append(s.EAM, e)
			eamIndex = append(eamIndex, i)
		}
	}
	s.RFC6791v4 = b.siitPool(entry+".rfc6791_ipv4", fs.RFC6791v4, true)
	s.RFC6791v6 = b.siitPool(entry+".rfc6791_ipv6", fs.RFC6791v6, false)
	if fs.LowestIPv6MTU != "" {
		v, err := parseUint(fs.LowestIPv6MTU, 1280, 65535)
		if err != nil {
			b.p.add(entry+".lowest_ipv6_mtu", "%v", err)
		}
		s.LowestIPv6MTU = int(v)
	}
	s.IPv4 = b.siitSide(entry+".ipv4", fs.IPv4, true)
	s.IPv6 = b.siitSide(entry+".ipv6", fs.IPv6, false)

	hosts := map[string]bool{}
	for _, h := range b.t.Hosts {
		hosts[h.Name] = true
	}
	seen := map[string]int{}
	for i, fc := range fs.CLAT {
		path := fmt.Sprintf("%s.clat[%d]", entry, i)
		c := SIITCLAT{Host: fc.Host, Line: b.p.lines.line(path)}
		switch {
		case fc.Host == "":
			b.p.add(path+".host", "missing host name")
		case !hosts[fc.Host]:
			b.p.add(path+".host", "no host %q is declared", fc.Host)
		case seen[fc.Host] != 0:
			b.p.add(path+".host", "host %q has a CLAT mapping already (line %d)", fc.Host, seen[fc.Host])
		default:
			seen[fc.Host] = c.Line
		}
		a, err := netip.ParseAddr(fc.IPv6)
		if err != nil || a.Zone() != "" {
			b.p.add(path+".ipv6", "malformed address %q", fc.IPv6)
		} else if err := checkUnicast(a, false); err != nil {
			b.p.add(path+".ipv6", "%v", err)
		} else {
			c.IPv6 = a
		}
		s.CLAT = append(s.CLAT, c)
	}
	if fs.CLATPref64 != "" {
		if p, err := b.rfc6052Prefix(fs.CLATPref64); err != nil {
			b.p.add(entry+".clat_pref64", "%v", err)
		} else {
			s.CLATPref64 = p
		}
	}
}

// rfc6052Prefix reads a prefix that embeds IPv4 addresses (RFC 6052 §2.2).
func (b *builder) rfc6052Prefix(v string) (netip.Prefix, error) {
	p, err := parsePrefix(v)
	switch {
	case err != nil:
		return p, err
	case !p.Addr().Is6():
		return p, fmt.Errorf("%s is not an IPv6 prefix", p)
	case !slices.Contains(pool6Lengths, p.Bits()):
		return p, fmt.Errorf("prefix length /%d is not one RFC 6052 allows (32, 40, 48, 56, 64 or 96)", p.Bits())
	case p.Addr().As16()[8] != 0:
		return p, fmt.Errorf("%s: bits 64-71 (the u octet, RFC 6052) must be zero", p)
	}
	return p, nil
}

func (b *builder) siitPool(path string, vs []string, want4 bool) []netip.Prefix {
	var out []netip.Prefix
	for i, v := range vs {
		p, err := siitPrefix(v, want4)
		if err != nil {
			b.p.add(fmt.Sprintf("%s[%d]", path, i), "%v", err)
			continue
		}
		out = append(out, p)
	}
	return out
}

func (b *builder) siitSide(path string, fs *fileSIITSide, want4 bool) SIITSide {
	s := SIITSide{MTU: DefaultSIITMTU, Line: b.p.lines.line(path)}
	if fs == nil {
		b.p.add(path, "missing: the translator's own address is the source of the ICMP errors it sends")
		return s
	}
	spec, err := parseAddrSpec(fs.Address)
	switch {
	case fs.Address == "":
		b.p.add(path+".address", "missing address")
	case err != nil:
		b.p.add(path+".address", "%v", err)
	default:
		if err := checkUnicast(spec.addr, want4); err != nil {
			b.p.add(path+".address", "%v", err)
		} else if spec.bits < 0 {
			b.p.add(path+".address", "%s: give the subnet's length too (%s/%d)", fs.Address, fs.Address, map[bool]int{true: 24, false: 64}[want4])
		} else {
			s.Address = netip.PrefixFrom(spec.addr, spec.bits)
		}
	}
	if fs.MTU != "" {
		lo := uint64(1280)
		if want4 {
			lo = 68
		}
		v, err := parseUint(fs.MTU, lo, 65535)
		if err != nil {
			b.p.add(path+".mtu", "%v", err)
		}
		s.MTU = int(v)
	}
	if fs.Gateway != "" {
		a, err := netip.ParseAddr(fs.Gateway)
		if err != nil || a.Zone() != "" {
			b.p.add(path+".gateway", "malformed address %q", fs.Gateway)
		} else if err := checkUnicast(a, want4); err != nil {
			b.p.add(path+".gateway", "%v", err)
		} else if s.Address.IsValid() && a == s.Address.Addr() {
			b.p.add(path+".gateway", "%s is the translator's own address", a)
		} else {
			s.Gateway = a
		}
	}
	return s
}
