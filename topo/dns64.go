package topo

import (
	"fmt"
	"net/netip"
	"time"
)

// DNS64 is the dns64 section: the resolver the daemon serves, with or
// without switches.
type DNS64 struct {
	Listen    []netip.AddrPort // UDP and TCP on each
	Upstreams []netip.AddrPort // asked in order
	Prefix    netip.Prefix     // the NAT64 prefix AAAA records are synthesized in
	Exclude   []netip.Prefix   // AAAA records treated as absent
	Timeout   time.Duration    // one try of one upstream
	Rate      int              // queries per second per client (0: no limit)
	Burst     int
	// MaxClients bounds the clients whose rate is tracked.
	MaxClients int
	// CacheSize bounds the answers cached (0: no cache).
	CacheSize int
	Line      int
}

// Defaults of the dns64 section (docs/configuration.md).
const (
	DefaultDNS64Timeout    = 2 * time.Second
	DefaultDNS64Rate       = 100
	DefaultDNS64MaxClients = 65536
	DefaultDNS64CacheSize  = 65536
)

type fileDNS64 struct {
	Listen   []string `yaml:"listen"`
	Upstream []string `yaml:"upstream"`
	Prefix   string   `yaml:"prefix"`
	// Exclude is a pointer so that "exclude: []" (nothing excluded)
	// differs from no key (the default set).
	Exclude    *[]string `yaml:"exclude"`
	Timeout    string    `yaml:"timeout"`
	Rate       string    `yaml:"rate"`
	Burst      int       `yaml:"burst"`
	MaxClients int       `yaml:"max_clients"`
	CacheSize  string    `yaml:"cache_size"`
}

// DNS64Prefix is the prefix the resolver synthesizes in: the one written,
// or else the NAT64 prefix (invalid when there is none).
func DNS64Prefix(written string, nat64 netip.Prefix) (netip.Prefix, error) {
	if written == "" {
		if nat64.IsValid() {
			return nat64, nil
		}
		return netip.Prefix{}, fmt.Errorf("missing prefix: write the NAT64 prefix, like 64:ff9b::/96 (it defaults to nat64.pool6 only when a nat64 section is configured)")
	}
	p, err := netip.ParsePrefix(written)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("malformed prefix %q (want 64:ff9b::/96)", written)
	}
	if err := checkNAT64Prefix(p); err != nil {
		return netip.Prefix{}, err
	}
	return p, nil
}

// checkNAT64Prefix accepts the prefixes RFC 6052 section 2.2 can embed an
// IPv4 address in: /32, /40, /48, /56, /64 or /96, bits 64 to 71 zero.
func checkNAT64Prefix(p netip.Prefix) error {
	switch {
	case !p.Addr().Is6() || p.Addr().Is4In6():
		return fmt.Errorf("%s is not an IPv6 prefix", p)
	case p.Bits() != 32 && p.Bits() != 40 && p.Bits() != 48 && p.Bits() != 56 && p.Bits() != 64 && p.Bits() != 96:
		return fmt.Errorf("%s: a NAT64 prefix is /32, /40, /48, /56, /64 or /96 (RFC 6052)", p)
	case p.Masked() != p:
		return fmt.Errorf("%s has bits set beyond its length; did you mean %s?", p, p.Masked())
	case p.Addr().As16()[8] != 0:
		return fmt.Errorf("%s: bits 64 to 71 must be zero (RFC 6052 section 2.2)", p)
	}
	return nil
}

// defaultDNS64Exclude returns the exclusion set when none is written:
// IPv4-mapped addresses, never reachable over IPv6 (RFC 6147 section
// 5.1.4).
func defaultDNS64Exclude() []netip.Prefix {
	return []netip.Prefix{netip.MustParsePrefix("::ffff:0:0/96")}
}

// buildDNS64 reads the dns64 section. nat64 is the NAT64 prefix the
// section's prefix defaults to, invalid when none is configured.
func (b *builder) buildDNS64(f *fileDNS64, nat64 netip.Prefix) {
	if f == nil {
		return
	}
	const path = "dns64"
	errs := b.p.count
	d := &DNS64{Line: b.p.lines.line(path)}
	if len(f.Listen) == 0 {
		b.p.add(path+".listen", "at least one address to listen on must be given, like \"[2001:db8::53]:53\"")
	}
	seen := map[netip.AddrPort]int{}
	for i, s := range f.Listen {
		lp := fmt.Sprintf("%s.listen[%d]", path, i)
		ap, err := netip.ParseAddrPort(s)
		switch {
		case err != nil || ap.Addr().Zone() != "":
			b.p.add(lp, "malformed address %q (want \"[2001:db8::53]:53\" or \"127.0.0.1:5353\")", s)
		case ap.Port() == 0:
			b.p.add(lp, "port 0: give the port to listen on")
		case ap.Addr().IsMulticast():
			b.p.add(lp, "%s is a multicast address", ap.Addr())
		default:
			if j, dup := seen[ap]; dup {
				b.p.add(lp, "%s is also listen[%d]", ap, j)
				continue
			}
			seen[ap] = i
			d.Listen = append(d.Listen, ap)
		}
	}
	if len(f.Upstream) == 0 {
		b.p.add(path+".upstream", "at least one upstream resolver must be given")
	}
	for i, s := range f.Upstream {
		ap, err := resolverAddress(s)
		if err != nil {
			b.p.add(fmt.Sprintf("%s.upstream[%d]", path, i), "%v", err)
			continue
		}
		for _, l := range d.Listen {
			if l == ap {
				b.p.add(fmt.Sprintf("%s.upstream[%d]", path, i), "%s is where this resolver listens: it would ask itself", ap)
			}
		}
		d.Upstreams = append(d.Upstreams, ap)
	}
	p, err := DNS64Prefix(f.Prefix, nat64)
	if err != nil {
		b.p.add(path+".prefix", "%v", err)
	}
	d.Prefix = p
	if f.Exclude == nil {
		d.Exclude = defaultDNS64Exclude()
	} else {
		d.Exclude = []netip.Prefix{}
		for i, s := range *f.Exclude {
			ep := fmt.Sprintf("%s.exclude[%d]", path, i)
			e, err := netip.ParsePrefix(s)
			switch {
			case err != nil:
				b.p.add(ep, "malformed prefix %q (want ::ffff:0:0/96)", s)
			case !e.Addr().Is6():
				b.p.add(ep, "%s is not an IPv6 prefix: AAAA records hold IPv6 addresses", e)
			case e.Masked() != e:
				b.p.add(ep, "%s has bits set beyond its length; did you mean %s?", e, e.Masked())
			default:
				d.Exclude = append(d.Exclude, e)
			}
		}
	}
	d.Timeout = b.duration(path+".timeout", f.Timeout, DefaultDNS64Timeout)
	if d.Timeout <= 0 {
		b.p.add(path+".timeout", "the upstream timeout must be positive")
	}
	switch f.Rate {
	case "":
		d.Rate = DefaultDNS64Rate
	case "off":
		d.Rate = 0
	default:
		v, err := parseUint(f.Rate, 1, 1<<30)
		if err != nil {
			b.p.add(path+".rate", "%v, or off", err)
		}
		d.Rate = int(v)
	}
	switch {
	case f.Burst < 0:
		b.p.add(path+".burst", "burst must be positive")
	case f.Burst == 0:
		d.Burst = 2 * d.Rate
	default:
		d.Burst = f.Burst
	}
	switch {
	case f.MaxClients < 0:
		b.p.add(path+".max_clients", "max_clients must be positive")
	case f.MaxClients == 0:
		d.MaxClients = DefaultDNS64MaxClients
	default:
		d.MaxClients = f.MaxClients
	}
	switch f.CacheSize {
	case "":
		d.CacheSize = DefaultDNS64CacheSize
	case "off":
		d.CacheSize = 0
	default:
		v, err := parseUint(f.CacheSize, 1, 1<<24)
		if err != nil {
			b.p.add(path+".cache_size", "%v, or off", err)
		}
		d.CacheSize = int(v)
	}
	if b.p.count == errs {
		b.t.DNS64 = d
	}
}
