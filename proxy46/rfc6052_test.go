package proxy46

import (
	"net/netip"
	"testing"

	"github.com/sixgate/sixgate/packet"
)

// TestInPool6: an address embedded under each RFC 6052 length (the
// examples of §2.4) is in the pool; one under another prefix is not.
func TestInPool6(t *testing.T) {
	v4 := [4]byte{192, 0, 2, 33}
	other := netip.MustParseAddr("2001:db9::").As16()
	for _, s := range []string{"2001:db8::/32", "2001:db8:100::/40", "2001:db8:122::/48", "2001:db8:122:300::/56",
		"2001:db8:122:344::/64", "2001:db8:122:344::/96", "64:ff9b::/96"} {
		p := netip.MustParsePrefix(s)
		if err := validPool6(p); err != nil {
			t.Fatalf("%v: %v", p, err)
		}
		pa := p.Addr().As16()
		a := packet.Embed4(pa, p.Bits(), v4)
		if !inPool6(&a, &pa, p.Bits()) {
			t.Errorf("%v: %v not in pool", p, netip.AddrFrom16(a))
		}
		if b := packet.Embed4(other, p.Bits(), v4); inPool6(&b, &pa, p.Bits()) {
			t.Errorf("%v: %v in pool", p, netip.AddrFrom16(b))
		}
	}
}

func TestValidPool6(t *testing.T) {
	for _, bad := range []string{"2001:db8::/33", "10.0.0.0/8", "2001:db8::1/96", "2001:db8:0:0:100::/72", "2001:db8:0:0:100::/96"} {
		if err := validPool6(netip.MustParsePrefix(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// TestWellKnownPrefixRefusesNonGlobal: under 64:ff9b::/96 a client whose
// address is private or special-purpose is refused with its own drop
// reason (RFC 6052 §3.1); a global one is served; a network-specific
// prefix serves both.
func TestWellKnownPrefixRefusesNonGlobal(t *testing.T) {
	for _, tc := range []struct {
		pool   string
		client string
		refuse bool
	}{
		{"64:ff9b::/96", "10.1.2.3", true},
		{"64:ff9b::/96", "100.64.0.9", true},
		{"64:ff9b::/96", "192.168.1.1", true},
		{"64:ff9b::/96", "198.51.100.7", true},
		{"64:ff9b::/96", "1.2.3.4", false},
		{"2001:db8:d246::/96", "10.1.2.3", false},
	} {
		e, _ := newTestEngine(t, func(c *Config) { c.Pool6 = netip.MustParsePrefix(tc.pool) })
		v, ds := handle(t, e, pkt4(t, netip.MustParseAddr(tc.client), vip, 43000, 80, seg{seq: 1, flags: "S"}))
		refused := v == packet.Drop && len(ds) == 0 && e.Stats().Drops[DropNonGlobalClient] == 1
		if refused != tc.refuse {
			t.Errorf("%s under %s: %v, %d packets, refused %v", tc.client, tc.pool, v, len(ds), refused)
		}
	}
	if DropNonGlobalClient.String() != "non-global-client" {
		t.Errorf("drop reason named %q", DropNonGlobalClient)
	}
}
