package clat

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"
)

func TestPrefixesPrecedence(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	a := netip.MustParsePrefix("2001:db8:64::/96")
	b := netip.MustParsePrefix("2001:db8:6464::/96")
	flag := netip.MustParsePrefix("64:ff9b::/96")
	dns := netip.MustParsePrefix("2001:db8:53::/96")
	r1 := netip.MustParseAddr("fe80::1")
	r2 := netip.MustParseAddr("fe80::2")

	var p Prefixes
	check := func(step string, now time.Time, want netip.Prefix, src Source) {
		t.Helper()
		got, gotSrc := p.Current(now)
		if got != want || gotSrc != src {
			t.Errorf("%s: Current = %v from %s, want %v from %s", step, got, gotSrc, want, src)
		}
	}
	check("empty", t0, netip.Prefix{}, SourceNone)
	p.SetFlag(flag)
	check("flag", t0, flag, SourceFlag)
	p.SetDNS(dns)
	check("DNS over flag", t0, dns, SourceDNS)
	p.ObserveRA(r1, PREF64{Prefix: a, Lifetime: 80 * time.Second}, t0)
	check("RA over DNS", t0, a, SourceRA)

	// A new prefix wins; refreshing the old one does not take it back.
	p.ObserveRA(r1, PREF64{Prefix: b, Lifetime: 80 * time.Second}, t0.Add(time.Second))
	check("change", t0.Add(time.Second), b, SourceRA)
	p.ObserveRA(r1, PREF64{Prefix: a, Lifetime: 800 * time.Second}, t0.Add(2*time.Second))
	check("refresh of the old one", t0.Add(2*time.Second), b, SourceRA)

	// Withdrawal of the newest falls back to the older one, still valid.
	p.ObserveRA(r1, PREF64{Prefix: b, Lifetime: 0}, t0.Add(3*time.Second))
	check("withdrawal", t0.Add(3*time.Second), a, SourceRA)
	p.ObserveRA(r1, PREF64{Prefix: a, Lifetime: 0}, t0.Add(4*time.Second))
	check("all withdrawn: DNS", t0.Add(4*time.Second), dns, SourceDNS)

	// Expiry without a withdrawal.
	p.ObserveRA(r2, PREF64{Prefix: b, Lifetime: 8 * time.Second}, t0.Add(10*time.Second))
	if e, ok := p.NextExpiry(); !ok || !e.Equal(t0.Add(18*time.Second)) {
		t.Errorf("NextExpiry = %v, %v", e, ok)
	}
	check("before expiry", t0.Add(17*time.Second), b, SourceRA)
	check("at expiry", t0.Add(18*time.Second), dns, SourceDNS)
	if _, ok := p.NextExpiry(); ok {
		t.Error("NextExpiry after everything expired")
	}
	p.SetDNS(netip.Prefix{})
	check("DNS gone", t0.Add(20*time.Second), flag, SourceFlag)
	p.SetFlag(netip.Prefix{})
	check("nothing", t0.Add(20*time.Second), netip.Prefix{}, SourceNone)

	// Withdrawing what was never announced changes nothing.
	p.ObserveRA(r1, PREF64{Prefix: a, Lifetime: 0}, t0)
	check("withdraw unknown", t0.Add(20*time.Second), netip.Prefix{}, SourceNone)
}

func TestPrefixesBounded(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	var p Prefixes
	var last netip.Prefix
	for i := range 100 {
		a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(i >> 8), byte(i)})
		last = netip.PrefixFrom(a, 96)
		p.ObserveRA(netip.MustParseAddr("fe80::1"), PREF64{Prefix: last, Lifetime: time.Duration(1000+i) * time.Second}, t0.Add(time.Duration(i)*time.Millisecond))
	}
	if len(p.ra) > maxRAPrefixes {
		t.Errorf("%d prefixes kept, bound %d", len(p.ra), maxRAPrefixes)
	}
	if got, _ := p.Current(t0.Add(time.Second)); got != last {
		t.Errorf("Current = %v, want the last one announced, %v", got, last)
	}
}

func TestPrefixFromSynthesized(t *testing.T) {
	// RFC 6052 section 2.4's table, with 192.0.0.170 in place of
	// 192.0.2.33, and 192.0.0.171.
	for _, c := range []struct{ addr, prefix string }{
		{"2001:db8:c000:aa::", "2001:db8::/32"},
		{"2001:db8:1c0:0:aa::", "2001:db8:100::/40"},
		{"2001:db8:122:c000:0:aa00::", "2001:db8:122::/48"},
		{"2001:db8:122:3c0:0:aa::", "2001:db8:122:300::/56"},
		{"2001:db8:122:344:c0:0:aa00:0", "2001:db8:122:344::/64"},
		{"64:ff9b::c000:aa", "64:ff9b::/96"},
		{"64:ff9b::c000:ab", "64:ff9b::/96"},
		{"2001:db8:122:344::192.0.0.171", "2001:db8:122:344::/96"},
	} {
		got, ok := PrefixFromSynthesized(netip.MustParseAddr(c.addr))
		if !ok || got != netip.MustParsePrefix(c.prefix) {
			t.Errorf("%s: got %v, %v; want %s", c.addr, got, ok, c.prefix)
		}
	}
	for _, s := range []string{"64:ff9b::c000:201", "2001:db8::1", "::ffff:192.0.0.170", "2001:db8:c000:aa:100::"} {
		if got, ok := PrefixFromSynthesized(netip.MustParseAddr(s)); ok {
			t.Errorf("%s: found %v", s, got)
		}
	}
}

func TestDiscoverPrefix(t *testing.T) {
	lookup := func(addrs []string, err error) LookupFunc {
		return func(_ context.Context, host string) ([]netip.Addr, error) {
			if host != "ipv4only.arpa" {
				t.Errorf("looked up %q", host)
			}
			var out []netip.Addr
			for _, a := range addrs {
				out = append(out, netip.MustParseAddr(a))
			}
			return out, err
		}
	}
	p, err := DiscoverPrefix(context.Background(), lookup([]string{"2001:db8::1", "2001:db8:64::c000:aa"}, nil))
	if err != nil || p != netip.MustParsePrefix("2001:db8:64::/96") {
		t.Errorf("got %v, %v", p, err)
	}
	if _, err := DiscoverPrefix(context.Background(), lookup([]string{"2001:db8::1"}, nil)); err == nil {
		t.Error("no well-known address: no error")
	}
	nx := &net.DNSError{Err: "no such host", IsNotFound: true}
	if _, err := DiscoverPrefix(context.Background(), lookup(nil, nx)); !errors.As(err, new(*net.DNSError)) {
		t.Errorf("resolver error not carried: %v", err)
	}
}

func TestFollower(t *testing.T) {
	a := netip.MustParsePrefix("2001:db8:64::/96")
	b := netip.MustParsePrefix("2001:db8:6464::/96")
	var f follower
	if f.changes(netip.Prefix{}) {
		t.Error("none at start: a change")
	}
	if !f.changes(a) {
		t.Error("A at start: no change")
	}
	f.used(a)
	if f.changes(a) {
		t.Error("A in use, A again: a change")
	}
	if !f.changes(netip.Prefix{}) {
		t.Error("A in use, then none: no change")
	}
	f.refused(b)
	if f.changes(b) {
		t.Error("B refused, B again: a change")
	}
	// The withdrawal after a refusal still stops translation.
	if !f.changes(netip.Prefix{}) {
		t.Error("A in use, B refused, then none: no change")
	}
	f.used(netip.Prefix{})
	if !f.changes(b) {
		t.Error("none in use, B again after none: no change")
	}
	if f.changes(netip.Prefix{}) {
		t.Error("none in use, none: a change")
	}
}
