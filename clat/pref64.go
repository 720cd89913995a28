package clat

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/sixgate/sixgate/packet"
)

// Source says where the NAT64 prefix in use came from.
type Source string

const (
	SourceNone Source = "none"
	SourceRA   Source = "ra"   // a PREF64 option of a router advertisement
	SourceDNS  Source = "dns"  // ipv4only.arpa, RFC 7050
	SourceFlag Source = "flag" // -pref64
)

// maxRAPrefixes bounds the PREF64 prefixes remembered from routers, so
// that a flood of router advertisements cannot grow the table.
const maxRAPrefixes = 8

type raPrefix struct {
	router    netip.Addr
	prefix    netip.Prefix
	firstSeen time.Time
	expires   time.Time
}

// Prefixes chooses the NAT64 prefix to translate to. A prefix learnt
// from router advertisements wins over one found by DNS, which wins over
// the configured one. Among several valid PREF64 prefixes the one first
// seen last wins: a router that changes its prefix announces the new one
// (and usually withdraws the old), and periodic re-announcements of the
// same set do not make the choice flap. The zero value is ready to use.
// It is not safe for concurrent use.
type Prefixes struct {
	ra   []raPrefix
	dns  netip.Prefix
	flag netip.Prefix
}

// SetFlag sets the configured prefix (the zero Prefix for none).
func (p *Prefixes) SetFlag(pfx netip.Prefix) { p.flag = pfx }

// SetDNS sets the prefix found through ipv4only.arpa (the zero Prefix
// when the lookup found none).
func (p *Prefixes) SetDNS(pfx netip.Prefix) { p.dns = pfx }

// ObserveRA records a PREF64 option that router sent at now. A zero
// lifetime withdraws the prefix.
func (p *Prefixes) ObserveRA(router netip.Addr, o PREF64, now time.Time) {
	i := slices.IndexFunc(p.ra, func(e raPrefix) bool { return e.router == router && e.prefix == o.Prefix })
	if o.Lifetime <= 0 {
		if i >= 0 {
			p.ra = slices.Delete(p.ra, i, i+1)
		}
		return
	}
	if i >= 0 {
		p.ra[i].expires = now.Add(o.Lifetime)
		return
	}
	p.expire(now)
	if len(p.ra) >= maxRAPrefixes {
		// Forget the one closest to expiring.
		j := 0
		for k := range p.ra {
			if p.ra[k].expires.Before(p.ra[j].expires) {
				j = k
			}
		}
		p.ra = slices.Delete(p.ra, j, j+1)
	}
	p.ra = append(p.ra, raPrefix{router: router, prefix: o.Prefix, firstSeen: now, expires: now.Add(o.Lifetime)})
}

// expire forgets the PREF64 prefixes whose lifetime ended by now.
func (p *Prefixes) expire(now time.Time) {
	p.ra = slices.DeleteFunc(p.ra, func(e raPrefix) bool { return !now.Before(e.expires) })
}

// Current returns the prefix to use at now and where it came from;
// SourceNone and the zero Prefix when there is none.
func (p *Prefixes) Current(now time.Time) (netip.Prefix, Source) {
	p.expire(now)
	if len(p.ra) > 0 {
		best := p.ra[0]
		for _, e := range p.ra[1:] {
			if !e.firstSeen.Before(best.firstSeen) {
				best = e
			}
		}
		return best.prefix, SourceRA
	}
	if p.dns.IsValid() {
		return p.dns, SourceDNS
	}
	if p.flag.IsValid() {
		return p.flag, SourceFlag
	}
	return netip.Prefix{}, SourceNone
}

// NextExpiry returns when the next remembered PREF64 prefix expires, and
// false when none is remembered.
func (p *Prefixes) NextExpiry() (time.Time, bool) {
	var t time.Time
	for _, e := range p.ra {
		if t.IsZero() || e.expires.Before(t) {
			t = e.expires
		}
	}
	return t, !t.IsZero()
}

// The name and well-known addresses of RFC 7050.
const ipv4onlyARPA = "ipv4only.arpa"

var wellKnownIPv4 = [...][4]byte{{192, 0, 0, 170}, {192, 0, 0, 171}}

// PrefixFromSynthesized finds the NAT64 prefix in an address that a DNS64
// synthesized for ipv4only.arpa (RFC 7050, section 3): the prefix is what
// precedes one of the well-known IPv4 addresses embedded in it. The u
// octet must be zero for the lengths that straddle it.
func PrefixFromSynthesized(a netip.Addr) (netip.Prefix, bool) {
	if !a.Is6() || a.Is4In6() {
		return netip.Prefix{}, false
	}
	b := a.As16()
	for _, bits := range []int{96, 64, 56, 48, 40, 32} {
		if bits < 96 && b[8] != 0 {
			continue
		}
		v4 := packet.Extract4(&b, bits)
		if slices.Contains(wellKnownIPv4[:], v4) {
			return netip.PrefixFrom(a, bits).Masked(), true
		}
	}
	return netip.Prefix{}, false
}

// LookupFunc resolves a name to its IPv6 addresses.
type LookupFunc func(ctx context.Context, host string) ([]netip.Addr, error)

// DiscoverPrefix asks for ipv4only.arpa's AAAA records (RFC 7050) and
// returns the NAT64 prefix of the first one that embeds a well-known
// address.
func DiscoverPrefix(ctx context.Context, lookup LookupFunc) (netip.Prefix, error) {
	addrs, err := lookup(ctx, ipv4onlyARPA)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%s: %w", ipv4onlyARPA, err)
	}
	for _, a := range addrs {
		if p, ok := PrefixFromSynthesized(a); ok {
			return p, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("%s: no AAAA record embeds 192.0.0.170 or 192.0.0.171 (%d records)", ipv4onlyARPA, len(addrs))
}
