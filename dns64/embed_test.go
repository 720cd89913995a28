package dns64

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// The table of RFC 6052 section 2.4: 192.0.2.33 under each prefix length.
var rfc6052Examples = []struct{ prefix, addr string }{
	{"2001:db8::/32", "2001:db8:c000:221::"},
	{"2001:db8:100::/40", "2001:db8:1c0:2:21::"},
	{"2001:db8:122::/48", "2001:db8:122:c000:2:2100::"},
	{"2001:db8:122:300::/56", "2001:db8:122:3c0:0:221::"},
	{"2001:db8:122:344::/64", "2001:db8:122:344:c0:2:2100:0"},
	{"2001:db8:122:344::/96", "2001:db8:122:344::192.0.2.33"},
	{"64:ff9b::/96", "64:ff9b::192.0.2.33"},
}

func TestEmbedRFC6052Examples(t *testing.T) {
	v4 := netip.MustParseAddr("192.0.2.33")
	for _, c := range rfc6052Examples {
		p := netip.MustParsePrefix(c.prefix)
		if err := CheckPrefix(p); err != nil {
			t.Fatal(err)
		}
		want := netip.MustParseAddr(c.addr)
		if got := Embed(p, v4); got != want {
			t.Errorf("Embed(%s, %s) = %s, want %s", p, v4, got, want)
		}
		if got, ok := Extract(p, want); !ok || got != v4 {
			t.Errorf("Extract(%s, %s) = %s %v, want %s", p, want, got, ok, v4)
		}
	}
}

func TestCheckPrefixRejects(t *testing.T) {
	for _, s := range []string{"2001:db8::/33", "2001:db8::/128", "10.0.0.0/8", "2001:db8::1/96", "2001:db8:0:0:100::/96", "::ffff:0:0/96"} {
		if err := CheckPrefix(netip.MustParsePrefix(s)); err == nil {
			t.Errorf("CheckPrefix(%s) accepted", s)
		}
	}
	if _, ok := Extract(netip.MustParsePrefix("64:ff9b::/96"), netip.MustParseAddr("2001:db8::1")); ok {
		t.Error("Extract outside the prefix succeeded")
	}
}

func TestSynthesizable(t *testing.T) {
	wkp, nsp := netip.MustParsePrefix("64:ff9b::/96"), netip.MustParsePrefix("2001:db8:64::/96")
	for s, global := range map[string]bool{"192.0.2.33": false, "10.1.2.3": false, "8.8.8.8": true, "198.41.0.4": true} {
		a := netip.MustParseAddr(s)
		if got := synthesizable(wkp, a); got != global {
			t.Errorf("synthesizable(%s, %s) = %v", wkp, s, got)
		}
		if !synthesizable(nsp, a) {
			t.Errorf("synthesizable(%s, %s) = false", nsp, s)
		}
	}
}

func TestParseIP6Arpa(t *testing.T) {
	for _, s := range []string{"64:ff9b::c000:221", "2001:db8:122:344:c0:2:2100:0", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"} {
		a := netip.MustParseAddr(s)
		name, err := dns.ReverseAddr(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []string{name, strings.ToUpper(name)} {
			if got, ok := parseIP6Arpa(n); !ok || got != a {
				t.Errorf("parseIP6Arpa(%s) = %s %v, want %s", n, got, ok, a)
			}
		}
	}
	for _, n := range []string{"", "ip6.arpa.", "1.0.0.0.ip6.arpa.", "g." + strings.Repeat("0.", 31) + "ip6.arpa.",
		strings.Repeat("0.", 32) + "ip6.arpa", strings.Repeat("00", 32) + "ip6.arpa.", strings.Repeat("0.", 32) + "in6.arpa."} {
		if a, ok := parseIP6Arpa(n); ok {
			t.Errorf("parseIP6Arpa(%q) = %s", n, a)
		}
	}
}

func FuzzParseIP6Arpa(f *testing.F) {
	name, _ := dns.ReverseAddr("64:ff9b::c000:221")
	f.Add(name)
	f.Add(strings.ToUpper(name))
	f.Add("1.0.0.0.ip6.arpa.")
	f.Fuzz(func(t *testing.T, s string) {
		a, ok := parseIP6Arpa(s)
		if !ok {
			return
		}
		back, err := dns.ReverseAddr(a.String())
		if err != nil || !strings.EqualFold(back, s) {
			t.Fatalf("%q parsed as %s, which reverses to %q (%v)", s, a, back, err)
		}
	})
}
