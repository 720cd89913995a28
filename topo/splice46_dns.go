package topo

import (
	"fmt"
	"net/netip"
	"time"
)

// DNSBackends is a service's backends_from_dns: the backend of a name
// that no backend or map file line matches is the name's AAAA record, if
// it falls inside one of Prefixes, on Port.
type DNSBackends struct {
	Resolvers []netip.AddrPort // recursive resolvers, asked in order
	Prefixes  []netip.Prefix   // a resolved address must fall in one
	Port      uint16           // the backends' port
	// Timeout bounds one lookup across the resolvers; it must be below
	// the embryonic timeout, which bounds the held connection.
	Timeout time.Duration
	// MinTTL and MaxTTL bound how long an answer is cached;
	// NegativeMaxTTL bounds NXDOMAIN and NODATA (whose TTL is the SOA's,
	// RFC 2308); FailureTTL is how long a failed lookup is remembered.
	MinTTL, MaxTTL, NegativeMaxTTL, FailureTTL time.Duration
	CacheSize                                  int // names cached
	MaxPending                                 int // queries under way at once
	Rate                                       int // lookups per second per client IPv4 address
	Burst                                      int // lookups a client may make at once
	MaxClients                                 int // clients whose rate is tracked
	MaxBackends                                int // distinct resolved addresses the engine keeps at once
	Line                                       int
}

// Defaults of backends_from_dns (docs/configuration.md).
const (
	DefaultDNSTimeout        = 2 * time.Second
	DefaultDNSMinTTL         = 5 * time.Second
	DefaultDNSMaxTTL         = time.Hour
	DefaultDNSNegativeMaxTTL = 5 * time.Minute
	DefaultDNSFailureTTL     = 5 * time.Second
	DefaultDNSCacheSize      = 65536
	DefaultDNSMaxPending     = 1024
	DefaultDNSRate           = 10
	DefaultDNSBurst          = 20
	DefaultDNSMaxClients     = 65536
	DefaultDNSMaxBackends    = 4096
)

type fileDNSBackends struct {
	Resolvers      []string `yaml:"resolvers"`
	Prefixes       []string `yaml:"prefixes"`
	Port           string   `yaml:"port"`
	Timeout        string   `yaml:"timeout"`
	MinTTL         string   `yaml:"min_ttl"`
	MaxTTL         string   `yaml:"max_ttl"`
	NegativeMaxTTL string   `yaml:"negative_max_ttl"`
	FailureTTL     string   `yaml:"failure_ttl"`
	CacheSize      int      `yaml:"cache_size"`
	MaxPending     int      `yaml:"max_pending"`
	Rate           int      `yaml:"rate"`
	Burst          int      `yaml:"burst"`
	MaxClients     int      `yaml:"max_clients"`
	MaxBackends    int      `yaml:"max_backends"`
}

// dnsBackends reads a service's backends_from_dns.
func (b *builder) dnsBackends(path string, f *fileDNSBackends, svc *Service, pool netip.Prefix) *DNSBackends {
	errs := b.p.count
	d := &DNSBackends{Line: b.p.lines.line(path)}
	if svc.Select != SelectHTTPHost && svc.Select != SelectSNI {
		b.p.add(path, "backends from DNS are found by host name: only with select http-host or sni, not %s", svc.Select)
	}
	if len(f.Resolvers) == 0 {
		b.p.add(path+".resolvers", "at least one resolver must be given")
	}
	for i, s := range f.Resolvers {
		rp := fmt.Sprintf("%s.resolvers[%d]", path, i)
		ap, err := resolverAddress(s)
		if err != nil {
			b.p.add(rp, "%v", err)
			continue
		}
		d.Resolvers = append(d.Resolvers, ap)
	}
	if len(f.Prefixes) == 0 {
		b.p.add(path+".prefixes", "at least one IPv6 prefix must be given: resolved addresses outside them are refused")
	}
	for i, s := range f.Prefixes {
		pp := fmt.Sprintf("%s.prefixes[%d]", path, i)
		p, err := parsePrefix(s)
		switch {
		case err != nil:
			b.p.add(pp, "%v", err)
		case !p.Addr().Is6():
			b.p.add(pp, "%s is not an IPv6 prefix", p)
		case p.Bits() < 16:
			b.p.add(pp, "%s is too wide: name the hosting networks (at least /16)", p)
		case pool.IsValid() && p.Overlaps(pool):
			b.p.add(pp, "%s overlaps pool6 %s", p, pool)
		case p.Overlaps(netip.MustParsePrefix("ff00::/8")) || p.Overlaps(netip.MustParsePrefix("fe80::/10")) ||
			p.Overlaps(netip.MustParsePrefix("::/96")):
			b.p.add(pp, "%s holds no unicast backend addresses", p)
		default:
			d.Prefixes = append(d.Prefixes, p)
		}
	}
	if f.Port == "" {
		b.p.add(path+".port", "missing backend port")
	} else if port, err := parseTCPPort(f.Port); err != nil {
		b.p.add(path+".port", "%v", err)
	} else {
		d.Port = port
	}
	d.Timeout = b.duration(path+".timeout", f.Timeout, DefaultDNSTimeout)
	d.MinTTL = b.duration(path+".min_ttl", f.MinTTL, DefaultDNSMinTTL)
	d.MaxTTL = b.duration(path+".max_ttl", f.MaxTTL, DefaultDNSMaxTTL)
	d.NegativeMaxTTL = b.duration(path+".negative_max_ttl", f.NegativeMaxTTL, DefaultDNSNegativeMaxTTL)
	d.FailureTTL = b.duration(path+".failure_ttl", f.FailureTTL, DefaultDNSFailureTTL)
	if d.Timeout <= 0 {
		b.p.add(path+".timeout", "the lookup timeout must be positive")
	}
	if d.MaxTTL < d.MinTTL {
		b.p.add(path+".max_ttl", "max_ttl %v is below min_ttl %v", d.MaxTTL, d.MinTTL)
	}
	if d.NegativeMaxTTL < d.MinTTL {
		b.p.add(path+".negative_max_ttl", "negative_max_ttl %v is below min_ttl %v", d.NegativeMaxTTL, d.MinTTL)
	}
	for _, n := range []struct {
		key string
		v   int
		out *int
		def int
	}{
		{"cache_size", f.CacheSize, &d.CacheSize, DefaultDNSCacheSize},
		{"max_pending", f.MaxPending, &d.MaxPending, DefaultDNSMaxPending},
		{"rate", f.Rate, &d.Rate, DefaultDNSRate},
		{"burst", f.Burst, &d.Burst, DefaultDNSBurst},
		{"max_clients", f.MaxClients, &d.MaxClients, DefaultDNSMaxClients},
		{"max_backends", f.MaxBackends, &d.MaxBackends, DefaultDNSMaxBackends},
	} {
		switch {
		case n.v < 0:
			b.p.add(path+"."+n.key, "%s must be positive", n.key)
		case n.v == 0:
			*n.out = n.def
		default:
			*n.out = n.v
		}
	}
	if svc.Default.IsValid() {
		b.p.add(path, "a service with backends from DNS takes no default backend: a name that does not resolve is reset")
	}
	return keepIf(d, b.p.count == errs)
}

// resolverAddress reads "2001:db8::53", "192.0.2.53", "[2001:db8::53]:5353"
// or "127.0.0.1:5353" (port 53 when none is given).
func resolverAddress(s string) (netip.AddrPort, error) {
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		if a.IsUnspecified() || a.IsMulticast() {
			return netip.AddrPort{}, fmt.Errorf("resolver %s is not a unicast address", s)
		}
		return netip.AddrPortFrom(a, 53), nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil || ap.Addr().Zone() != "" {
		return netip.AddrPort{}, fmt.Errorf("malformed resolver address %q (want 2001:db8::53, 192.0.2.53 or [2001:db8::53]:5353)", s)
	}
	if ap.Port() == 0 || ap.Addr().IsUnspecified() || ap.Addr().IsMulticast() {
		return netip.AddrPort{}, fmt.Errorf("resolver %s is not a unicast address and port", s)
	}
	return ap, nil
}

// String is the resolver set's identity: two services with equal strings
// may share one cache.
func (d *DNSBackends) String() string {
	return fmt.Sprint(d.Resolvers, d.Prefixes, d.Port, d.Timeout, d.MinTTL, d.MaxTTL, d.NegativeMaxTTL, d.FailureTTL,
		d.CacheSize, d.MaxPending, d.Rate, d.Burst, d.MaxClients, d.MaxBackends)
}
