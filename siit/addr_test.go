package siit

import (
	"net/netip"
	"testing"
)

// TestRFC6052 checks the examples of RFC 6052 §2.4: 192.0.2.33 under
// every prefix length, the u octet skipped.
func TestRFC6052(t *testing.T) {
	tests := []struct{ prefix, addr string }{
		{"2001:db8::/32", "2001:db8:c000:221::"},
		{"2001:db8:100::/40", "2001:db8:1c0:2:21::"},
		{"2001:db8:122::/48", "2001:db8:122:c000:2:2100::"},
		{"2001:db8:122:300::/56", "2001:db8:122:3c0:0:221::"},
		{"2001:db8:122:344::/64", "2001:db8:122:344:c0:2:2100:0"},
		{"2001:db8:122:344::/96", "2001:db8:122:344::c000:221"},
		{"64:ff9b::/96", "64:ff9b::c000:221"},
	}
	v4 := netip.MustParseAddr("192.0.2.33")
	for _, tt := range tests {
		m, err := NewMapper(netip.MustParsePrefix(tt.prefix), nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := netip.MustParseAddr(tt.addr)
		if got, ok := m.To6(v4); !ok || got != want {
			t.Errorf("%s: To6 = %v, %v; want %v", tt.prefix, got, ok, want)
		}
		if got, ok := m.To4(want); !ok || got != v4 {
			t.Errorf("%s: To4(%v) = %v, %v", tt.prefix, want, got, ok)
		}
		// The u octet and the suffix are not looked at on the way back.
		a := want.As16()
		a[8] = 0xff
		a[15] |= 1
		if tt.prefix != "2001:db8:122:344::/96" && tt.prefix != "64:ff9b::/96" {
			if got, ok := m.To4(netip.AddrFrom16(a)); !ok || got != v4 {
				t.Errorf("%s: To4 with u octet and suffix set = %v, %v", tt.prefix, got, ok)
			}
		}
		if _, ok := m.To4(netip.MustParseAddr("2001:db9::1")); ok {
			t.Errorf("%s: an address outside pool6 translated", tt.prefix)
		}
	}
}

func TestPool6Invalid(t *testing.T) {
	for _, p := range []string{"2001:db8::/44", "2001:db8::1/96", "2001:db8:0:0:100::/64", "192.0.2.0/24", "::ffff:0:0/96"} {
		if _, err := NewMapper(netip.MustParsePrefix(p), nil, nil, nil); err == nil {
			t.Errorf("pool6 %s accepted", p)
		}
	}
}

// TestEAMShapes checks RFC 7757's examples (§3.2's table, as Jool's
// tests use it): the IPv4 suffix sits right after the IPv6 prefix, IPv6
// bits past it are ignored going back, longest prefix first.
func TestEAMShapes(t *testing.T) {
	eams := []EAM{
		{netip.MustParsePrefix("192.0.2.1/32"), netip.MustParsePrefix("2001:db8:aaaa::/128")},
		{netip.MustParsePrefix("192.0.2.2/32"), netip.MustParsePrefix("2001:db8:bbbb::b/128")},
		{netip.MustParsePrefix("192.0.2.16/28"), netip.MustParsePrefix("2001:db8:cccc::/124")},
		{netip.MustParsePrefix("192.0.2.128/26"), netip.MustParsePrefix("2001:db8:dddd::/64")},
		{netip.MustParsePrefix("192.0.2.192/31"), netip.MustParsePrefix("64:ff9b::/127")},
		{netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("2001:db8:3::/120")},
		{netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("2001:db8:4::/72")},
		// nested inside the /24 above: longest prefix wins
		{netip.MustParsePrefix("203.0.113.128/25"), netip.MustParsePrefix("2001:db8:5::/121")},
	}
	m, err := NewMapper(netip.MustParsePrefix("64:ff9b::/96"), eams, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	pairs := []struct{ v4, v6 string }{
		{"192.0.2.1", "2001:db8:aaaa::"},
		{"192.0.2.2", "2001:db8:bbbb::b"},
		{"192.0.2.16", "2001:db8:cccc::"},
		{"192.0.2.24", "2001:db8:cccc::8"},
		{"192.0.2.31", "2001:db8:cccc::f"},
		{"192.0.2.128", "2001:db8:dddd::"},
		{"192.0.2.152", "2001:db8:dddd:0:6000::"},
		{"192.0.2.183", "2001:db8:dddd:0:dc00::"},
		{"192.0.2.191", "2001:db8:dddd:0:fc00::"},
		{"192.0.2.192", "64:ff9b::"},
		{"192.0.2.193", "64:ff9b::1"},
		{"198.51.100.7", "2001:db8:3::7"},
		{"203.0.113.5", "2001:db8:4:0:5::"},
		{"203.0.113.200", "2001:db8:5::48"},
		{"192.0.2.3", "64:ff9b::c000:203"}, // no EAM: pool6
	}
	for _, p := range pairs {
		a4, a6 := netip.MustParseAddr(p.v4), netip.MustParseAddr(p.v6)
		if got, ok := m.To6(a4); !ok || got != a6 {
			t.Errorf("To6(%v) = %v, %v; want %v", a4, got, ok, a6)
		}
		if got, ok := m.To4(a6); !ok || got != a4 {
			t.Errorf("To4(%v) = %v, %v; want %v", a6, got, ok, a4)
		}
	}
	// Excess IPv6 suffix bits are dropped (RFC 7757 §3.3).
	if got, _ := m.To4(netip.MustParseAddr("2001:db8:dddd:0:6000:beef::")); got != netip.MustParseAddr("192.0.2.152") {
		t.Errorf("excess suffix: %v", got)
	}
	if _, ok := m.To4(netip.MustParseAddr("2001:db8:ffff::1")); ok {
		t.Error("an address in no EAM and outside pool6 translated")
	}
}

func TestEAMInvalid(t *testing.T) {
	bad := [][]EAM{
		{{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8::/121")}},
		{{netip.MustParsePrefix("192.0.2.1/24"), netip.MustParsePrefix("2001:db8::/120")}},
		{{netip.MustParsePrefix("2001:db8::/120"), netip.MustParsePrefix("2001:db8::/120")}},
		{{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8::/120")}, {netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8:1::/120")}},
		{{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8::/120")}, {netip.MustParsePrefix("192.0.3.0/24"), netip.MustParsePrefix("2001:db8::/120")}},
	}
	for i, e := range bad {
		if _, err := NewMapper(netip.Prefix{}, e, nil, nil); err == nil {
			t.Errorf("case %d accepted", i)
		}
	}
	if _, err := New(Config{}); err == nil {
		t.Error("a configuration with neither pool6 nor eam accepted")
	}
	for _, c := range []Config{
		{Pool6: testPool6, IPv6: Side{MTU: 1000}},
		{Pool6: testPool6, IPv4: Side{MTU: 60}},
		{Pool6: testPool6, LowestIPv6MTU: 1000},
		{Pool6: testPool6, IPv4: Side{Address: own6}},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

func TestRFC6791Source(t *testing.T) {
	m, err := NewMapper(testPool6, nil, []netip.Prefix{netip.MustParsePrefix("203.0.113.8/29")}, []netip.Prefix{netip.MustParsePrefix("2001:db8:6791::/64")})
	if err != nil {
		t.Fatal(err)
	}
	pool4 := netip.MustParsePrefix("203.0.113.8/29")
	for i := range 50 {
		a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0xff, 15: byte(i)}).As16()
		got, ok := m.rfc6791Source4(&a)
		if !ok || !pool4.Contains(netip.AddrFrom4(got)) {
			t.Fatalf("rfc6791Source4 = %v, %v", got, ok)
		}
		again, _ := m.rfc6791Source4(&a)
		if again != got {
			t.Fatal("one source, two pool addresses")
		}
		got6, ok := m.rfc6791Source6([4]byte{198, 51, 100, byte(i)})
		if !ok || !netip.MustParsePrefix("2001:db8:6791::/64").Contains(netip.AddrFrom16(got6)) {
			t.Fatalf("rfc6791Source6 = %v, %v", netip.AddrFrom16(got6), ok)
		}
	}
}
