package datapath

import (
	"net/netip"
	"testing"
)

// The fanout steering reads the client's address where RFC 6052 (section
// 2.2) puts it for each prefix length.
func TestClientSteeringOffsets(t *testing.T) {
	for _, c := range []struct {
		pool string
		want [4]int
	}{
		{"2001:db8::/32", [4]int{4, 5, 6, 7}},
		{"2001:db8:100::/40", [4]int{5, 6, 7, 9}},
		{"2001:db8:122::/48", [4]int{6, 7, 9, 10}},
		{"2001:db8:122:300::/56", [4]int{7, 9, 10, 11}},
		{"2001:db8:122:344::/64", [4]int{9, 10, 11, 12}},
		{"64:ff9b::/96", [4]int{12, 13, 14, 15}},
	} {
		s := clientSteering(netip.MustParsePrefix(c.pool))
		if s == nil || s.Embedded != c.want {
			t.Errorf("%s: %+v, want %v", c.pool, s, c.want)
		}
	}
	for _, p := range []netip.Prefix{{}, netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/80")} {
		if s := clientSteering(p); s != nil {
			t.Errorf("%v: %+v, want none", p, s)
		}
	}
}
