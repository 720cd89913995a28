package topo

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// pref64Mode is how a gateway's ra.pref64 was written.
type pref64Mode uint8

const (
	pref64Default  pref64Mode = iota // absent: the fabric's NAT64 prefix, if any
	pref64Off                        // "off": never advertised
	pref64Explicit                   // a prefix
)

// HostConfigSources are what other sections of the file give the host
// configuration that RAs and DHCPv4 carry: the fabric's NAT64 prefix
// (zero when there is no NAT64) and the addresses its DNS64 resolver
// listens on. ResolveHostConfig fills the defaults from them once every
// section is read, so that no section depends on the order of the others.
type HostConfigSources struct {
	NAT64 netip.Prefix
	DNS64 []netip.Addr
}

// hostConfigSources gathers the sources from the sections read so far:
// the NAT64's pool6 and the DNS64 resolver's listen addresses.
func (b *builder) hostConfigSources() HostConfigSources {
	var src HostConfigSources
	if n := b.t.NAT64; n != nil {
		src.NAT64 = n.Pool6
	}
	if d := b.t.DNS64; d != nil {
		for _, ap := range d.Listen {
			src.DNS64 = append(src.DNS64, ap.Addr())
		}
	}
	return src
}

// ResolveHostConfig fills the defaults of t's RA and DHCPv4 host
// configuration from src: a gateway's PREF64 defaults to src.NAT64, its
// RDNSS to the src.DNS64 addresses on its IPv6 prefixes, and DHCPv4's
// NAT64 prefix (which gates option 108) to src.NAT64.
func ResolveHostConfig(t *Topology, src HostConfigSources) {
	for _, g := range t.Gateways {
		ra := g.RA
		if ra == nil {
			continue
		}
		if ra.pref64Mode == pref64Default {
			ra.PREF64 = src.NAT64
		}
		if !ra.rdnssSet {
			ra.RDNSS = nil
			for _, a := range src.DNS64 {
				for _, p := range g.IPv6 {
					if a.Is6() && p.Masked().Contains(a) {
						ra.RDNSS = append(ra.RDNSS, a)
						break
					}
				}
			}
		}
	}
	if d := t.DHCP4; d != nil && !d.pref64Set {
		d.PREF64 = src.NAT64
	}
}

// raHostConfig reads the gateway's pref64, rdnss and dnssl keys.
func (b *builder) raHostConfig(path string, fr *fileRA, ra *RouterAdvertisement) {
	switch fr.PREF64 {
	case "":
	case "off":
		ra.pref64Mode = pref64Off
	default:
		p, err := b.rfc6052Prefix(fr.PREF64)
		if err != nil {
			b.p.add(path+".pref64", "%v", err)
		} else {
			ra.PREF64, ra.pref64Mode = p, pref64Explicit
		}
	}
	if fr.RDNSS != nil {
		ra.rdnssSet = true
		for i, s := range *fr.RDNSS {
			pp := fmt.Sprintf("%s.rdnss[%d]", path, i)
			a, err := netip.ParseAddr(s)
			switch {
			case err != nil || a.Zone() != "":
				b.p.add(pp, "malformed IPv6 address %q", s)
			case !a.Is6() || a.Is4In6():
				b.p.add(pp, "%s is not an IPv6 address (RDNSS carries IPv6 servers only)", a)
			case a.IsUnspecified() || a.IsMulticast() || a.IsLoopback():
				b.p.add(pp, "%s is not a unicast address", a)
			default:
				ra.RDNSS = append(ra.RDNSS, a)
			}
		}
	}
	for i, s := range fr.DNSSL {
		pp := fmt.Sprintf("%s.dnssl[%d]", path, i)
		if err := checkDomainName(s); err != nil {
			b.p.add(pp, "%v", err)
			continue
		}
		ra.DNSSL = append(ra.DNSSL, strings.TrimSuffix(strings.ToLower(s), "."))
	}
	// One option carries at most 127 servers (its length field counts
	// 8-byte units); a list that long is a mistake.
	if len(ra.RDNSS) > 16 {
		b.p.add(path+".rdnss", "%d servers; at most 16", len(ra.RDNSS))
	}
	if len(ra.DNSSL) > 16 {
		b.p.add(path+".dnssl", "%d domains; at most 16", len(ra.DNSSL))
	}
}

// checkDomainName accepts a DNS name of letters, digits and hyphens
// (RFC 1123 host name syntax), as a search list holds.
func checkDomainName(s string) error {
	n := strings.TrimSuffix(s, ".")
	if n == "" || len(n) > 253 {
		return fmt.Errorf("malformed domain name %q", s)
	}
	for _, l := range strings.Split(n, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return fmt.Errorf("malformed domain name %q", s)
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("malformed domain name %q", s)
			}
		}
	}
	return nil
}

// MaxPREF64Lifetime is the longest lifetime a PREF64 option carries: 8191
// units of 8 seconds (RFC 8781 section 4).
const MaxPREF64Lifetime = 8191 * 8 * time.Second

// PREF64Lifetime is the lifetime advertised with the NAT64 prefix: three
// times the advertisement interval (RFC 8781 section 4.1), rounded up to
// the option's 8-second units, never down, and capped at what it can carry.
func (ra *RouterAdvertisement) PREF64Lifetime() time.Duration {
	const unit = 8 * time.Second
	l := (3*ra.Interval + unit - 1) / unit * unit
	return min(l, MaxPREF64Lifetime)
}

// DNSLifetime is the lifetime of the RDNSS and DNSSL options: three times
// the advertisement interval, the default RFC 8106 section 5.1 gives.
func (ra *RouterAdvertisement) DNSLifetime() time.Duration {
	return 3 * ra.Interval
}
