package topo

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDNS64Alone(t *testing.T) {
	tp, err := Parse("t.yaml", []byte(`dns64:
  listen: ["127.0.0.1:5353", "[2001:db8::53]:53"]
  upstream: ["127.0.0.1:5300", "2001:db8::1"]
  prefix: "64:ff9b::/96"
`))
	if err != nil {
		t.Fatal(err)
	}
	d := tp.DNS64
	want := &DNS64{
		Listen:     []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:5353"), netip.MustParseAddrPort("[2001:db8::53]:53")},
		Upstreams:  []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:5300"), netip.MustParseAddrPort("[2001:db8::1]:53")},
		Prefix:     netip.MustParsePrefix("64:ff9b::/96"),
		Exclude:    []netip.Prefix{netip.MustParsePrefix("::ffff:0:0/96")},
		Timeout:    DefaultDNS64Timeout,
		Rate:       DefaultDNS64Rate,
		Burst:      2 * DefaultDNS64Rate,
		MaxClients: DefaultDNS64MaxClients,
		CacheSize:  DefaultDNS64CacheSize,
		Line:       1,
	}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("got  %+v\nwant %+v", d, want)
	}
	if len(tp.Switches) != 0 {
		t.Errorf("switches: %v", tp.Switches)
	}
}

func TestDNS64Options(t *testing.T) {
	tp, err := Parse("t.yaml", []byte(`switches: [{name: s1, dpid: 1}]
dns64:
  listen: ["[::1]:5353"]
  upstream: ["[::1]:53"]
  prefix: "2001:db8:122::/48"
  exclude: []
  timeout: 500ms
  rate: "off"
  max_clients: 10
  cache_size: "off"
`))
	if err != nil {
		t.Fatal(err)
	}
	d := tp.DNS64
	if len(d.Exclude) != 0 || d.Rate != 0 || d.Timeout != 500*time.Millisecond || d.MaxClients != 10 || d.Prefix.Bits() != 48 || d.CacheSize != 0 {
		t.Errorf("%+v", d)
	}
}

func TestDNS64Prefix(t *testing.T) {
	nat64 := netip.MustParsePrefix("2001:db8:64::/96")
	if p, err := DNS64Prefix("", nat64); err != nil || p != nat64 {
		t.Errorf("default with NAT64: %v %v", p, err)
	}
	if _, err := DNS64Prefix("", netip.Prefix{}); err == nil || !strings.Contains(err.Error(), "missing prefix") {
		t.Errorf("default without NAT64: %v", err)
	}
	if p, err := DNS64Prefix("64:ff9b:1::/48", nat64); err != nil || p.String() != "64:ff9b:1::/48" {
		t.Errorf("written: %v %v", p, err)
	}
}

func TestDNS64Errors(t *testing.T) {
	_, err := Parse("t.yaml", []byte(`dns64:
  listen: ["127.0.0.1", "127.0.0.1:5353", "127.0.0.1:5353"]
  upstream: ["127.0.0.1:5353", "nonsense"]
  prefix: "2001:db8::/33"
  exclude: ["10.0.0.0/8", "::ffff:0:1/96"]
  timeout: "soon"
  rate: "-1"
  burst: -1
  max_clients: -3
  cache_size: "lots"
`))
	var list Errors
	if !errors.As(err, &list) {
		t.Fatalf("%v", err)
	}
	want := []string{
		`t.yaml:2: dns64.listen[0]: malformed address "127.0.0.1" (want "[2001:db8::53]:53" or "127.0.0.1:5353")`,
		`t.yaml:2: dns64.listen[2]: 127.0.0.1:5353 is also listen[1]`,
		`t.yaml:3: dns64.upstream[0]: 127.0.0.1:5353 is where this resolver listens: it would ask itself`,
		`t.yaml:3: dns64.upstream[1]: malformed resolver address "nonsense" (want 2001:db8::53, 192.0.2.53 or [2001:db8::53]:5353)`,
		`t.yaml:4: dns64.prefix: 2001:db8::/33: a NAT64 prefix is /32, /40, /48, /56, /64 or /96 (RFC 6052)`,
		`t.yaml:5: dns64.exclude[0]: 10.0.0.0/8 is not an IPv6 prefix: AAAA records hold IPv6 addresses`,
		`t.yaml:5: dns64.exclude[1]: ::ffff:0.0.0.1/96 has bits set beyond its length; did you mean ::ffff:0.0.0.0/96?`,
		`t.yaml:6: dns64.timeout: malformed duration "soon" (want 5s, 1500ms or a number of seconds)`,
		`t.yaml:7: dns64.rate: malformed number "-1" (want 1 to 1073741824), or off`,
		`t.yaml:8: dns64.burst: burst must be positive`,
		`t.yaml:9: dns64.max_clients: max_clients must be positive`,
		`t.yaml:10: dns64.cache_size: malformed number "lots" (want 1 to 16777216), or off`,
	}
	var got []string
	for _, e := range list {
		got = append(got, e.Error())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	_, err = Parse("t.yaml", []byte("dns64:\n  listen: [\"127.0.0.1:53\"]\n  upstream: [\"127.0.0.2\"]\n"))
	if err == nil || !strings.Contains(err.Error(), "t.yaml:1: dns64.prefix: missing prefix") {
		t.Errorf("no prefix and no nat64 section: %v", err)
	}
}
