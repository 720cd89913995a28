package packet

import (
	"net/netip"
	"testing"
)

// The examples of RFC 6052 section 2.4: 192.0.2.33 under each length.
func TestEmbed4RFC6052Examples(t *testing.T) {
	v4 := [4]byte{192, 0, 2, 33}
	for _, c := range []struct{ prefix, addr string }{
		{"2001:db8::/32", "2001:db8:c000:221::"},
		{"2001:db8:100::/40", "2001:db8:1c0:2:21::"},
		{"2001:db8:122::/48", "2001:db8:122:c000:2:2100::"},
		{"2001:db8:122:300::/56", "2001:db8:122:3c0:0:221::"},
		{"2001:db8:122:344::/64", "2001:db8:122:344:c0:2:2100:0"},
		{"2001:db8:122:344::/96", "2001:db8:122:344::192.0.2.33"},
		{"64:ff9b::/96", "64:ff9b::192.0.2.33"},
	} {
		p := netip.MustParsePrefix(c.prefix)
		if err := CheckRFC6052Prefix(p); err != nil {
			t.Fatal(err)
		}
		got := Embed4(p.Addr().As16(), p.Bits(), v4)
		if want := netip.MustParseAddr(c.addr).As16(); got != want {
			t.Errorf("Embed4(%s) = %v, want %s", p, netip.AddrFrom16(got), c.addr)
		}
		if back := Extract4(&got, p.Bits()); back != v4 {
			t.Errorf("Extract4(%s) = %v", p, back)
		}
	}
	// Whatever the prefix's bytes hold after its length is cleared.
	full := netip.MustParseAddr("2001:db8:122:344:ffff:ffff:ffff:ffff").As16()
	if got := netip.AddrFrom16(Embed4(full, 64, v4)); got != netip.MustParseAddr("2001:db8:122:344:c0:2:2100:0") {
		t.Errorf("Embed4 kept the prefix's trailing bytes: %v", got)
	}
}

func TestCheckRFC6052PrefixRejects(t *testing.T) {
	for _, s := range []string{"2001:db8::/33", "2001:db8::/128", "10.0.0.0/8", "2001:db8::1/96", "2001:db8:0:0:100::/96", "2001:db8:0:0:100::/72", "::ffff:0:0/96"} {
		if err := CheckRFC6052Prefix(netip.MustParsePrefix(s)); err == nil {
			t.Errorf("CheckRFC6052Prefix(%s) accepted", s)
		}
	}
	if err := CheckRFC6052Prefix(netip.Prefix{}); err == nil {
		t.Error("the zero prefix accepted")
	}
}

func TestIsWellKnownPrefix(t *testing.T) {
	for s, want := range map[string]bool{"64:ff9b::/96": true, "64:ff9b::/64": false, "64:ff9b:1::/96": false, "2001:db8::/96": false} {
		if got := IsWellKnownPrefix(netip.MustParsePrefix(s)); got != want {
			t.Errorf("IsWellKnownPrefix(%s) = %v", s, got)
		}
	}
}

// Global4 against the ranges of RFC 6052 section 3.1 written out, at each
// range's edges and just outside them.
func TestGlobal4(t *testing.T) {
	nonGlobal := []string{"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
		"192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
		"203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4"}
	inside := func(a netip.Addr) bool {
		for _, s := range nonGlobal {
			if netip.MustParsePrefix(s).Contains(a) {
				return true
			}
		}
		return false
	}
	for _, s := range nonGlobal {
		p := netip.MustParsePrefix(s)
		first := p.Addr()
		last := first.As4()
		for i := p.Bits(); i < 32; i++ {
			last[i/8] |= 0x80 >> (i % 8)
		}
		for _, a := range []netip.Addr{first.Prev(), first, netip.AddrFrom4(last), netip.AddrFrom4(last).Next()} {
			if !a.IsValid() {
				continue
			}
			if got, want := Global4(a.As4()), !inside(a); got != want {
				t.Errorf("Global4(%v) = %v, want %v", a, got, want)
			}
		}
	}
	for _, s := range []string{"8.8.8.8", "198.41.0.4", "172.32.0.1", "100.128.0.1", "192.0.1.255", "223.255.255.255"} {
		if !Global4(netip.MustParseAddr(s).As4()) {
			t.Errorf("Global4(%s) = false", s)
		}
	}
}
