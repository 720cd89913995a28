package topo

import (
	"strings"
	"testing"
	"time"
)

const hostcfgBase = `
switches: [{name: s1, dpid: "0x1"}]
hosts: [{name: h1, switch: s1, port: 1, mac: "00:00:0a:00:00:01", ipv4: ["192.0.2.10/24"]}]
gateways:
  - name: gw
    mac: "00:00:0a:00:00:fe"
    ipv4: ["192.0.2.1/24"]
    ipv6: ["2001:db8::fe/64"]
    router_advertisements: true
`

// Each mistake in the ra host configuration keys and the dhcp4 section
// gives its FILE:LINE: field: message.
func TestHostConfigValidation(t *testing.T) {
	for _, c := range []struct {
		name, yaml, want string
	}{
		{"pref64 length", `    ra: {pref64: "2001:db8::/80"}`,
			`t.yaml:10: gateways[0].ra.pref64: prefix length /80 is not one RFC 6052 allows (32, 40, 48, 56, 64 or 96)`},
		{"pref64 u octet", `    ra: {pref64: "2001:db8:0:0:ff00::/96"}`,
			`t.yaml:10: gateways[0].ra.pref64: 2001:db8:0:0:ff00::/96: bits 64-71 (the u octet, RFC 6052) must be zero`},
		{"rdnss IPv4", `    ra: {rdnss: ["192.0.2.53"]}`,
			`t.yaml:10: gateways[0].ra.rdnss[0]: 192.0.2.53 is not an IPv6 address (RDNSS carries IPv6 servers only)`},
		{"dnssl", `    ra: {dnssl: ["bad_name.example"]}`,
			`t.yaml:10: gateways[0].ra.dnssl[0]: malformed domain name "bad_name.example"`},
		{"dhcp4 router not a gateway", "dhcp4:\n  subnets:\n    - {prefix: \"192.0.2.0/24\", router: \"192.0.2.2\"}",
			`t.yaml:12: dhcp4.subnets[0].router: 192.0.2.2 is not a gateway's address (declare it under gateways)`},
		{"dhcp4 pool outside", "dhcp4:\n  subnets:\n    - {prefix: \"192.0.2.0/24\", router: \"192.0.2.1\", pool: \"192.0.2.100-192.0.3.5\"}",
			`t.yaml:12: dhcp4.subnets[0].pool: pool 192.0.2.100-192.0.3.5 is not inside the subnet 192.0.2.0/24`},
		{"dhcp4 pool backwards", "dhcp4:\n  subnets:\n    - {prefix: \"192.0.2.0/24\", router: \"192.0.2.1\", pool: \"192.0.2.100-192.0.2.99\"}",
			`t.yaml:12: dhcp4.subnets[0].pool: pool 192.0.2.100-192.0.2.99 ends before it starts`},
		{"dhcp4 pool broadcast", "dhcp4:\n  subnets:\n    - {prefix: \"192.0.2.0/24\", router: \"192.0.2.1\", pool: \"192.0.2.100-192.0.2.255\"}",
			`t.yaml:12: dhcp4.subnets[0].pool: pool 192.0.2.100-192.0.2.255 includes the subnet's network or broadcast address`},
		{"v6only floor", "dhcp4:\n  subnets:\n    - {prefix: \"192.0.2.0/24\", router: \"192.0.2.1\", ipv6_only_preferred: 60s}",
			`t.yaml:12: dhcp4.subnets[0].ipv6_only_preferred: 1m0s is below RFC 8925's minimum of 5m0s (or above 2^32 s)`},
		{"dhcp4 without subnets", "dhcp4: {lease_file: /tmp/x}",
			`t.yaml:10: dhcp4.subnets: at least one subnet must be declared`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(hostcfgBase+c.yaml+"\n"))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v\nwant %s", err, c.want)
			}
		})
	}
}

func TestHostConfigParsed(t *testing.T) {
	top, err := Parse("t.yaml", []byte(hostcfgBase+`    ra: {interval: 7s, pref64: "64:ff9b::/96", rdnss: ["2001:db8::53"], dnssl: [Lab.Example.]}
dhcp4:
  subnets:
    - {prefix: "192.0.2.0/24", router: "192.0.2.1", pool: "192.0.2.100-192.0.2.199", ipv6_only_preferred: true}
`))
	if err != nil {
		t.Fatal(err)
	}
	ra := top.Gateways[0].RA
	if ra.PREF64.String() != "64:ff9b::/96" || len(ra.RDNSS) != 1 || ra.DNSSL[0] != "lab.example" {
		t.Errorf("ra %+v", ra)
	}
	if ra.PREF64Lifetime() != 24*time.Second { // 21 s rounded up
		t.Errorf("PREF64 lifetime %v", ra.PREF64Lifetime())
	}
	d := top.DHCP4
	s := d.Subnets[0]
	if d.LeaseFile != DefaultDHCP4LeaseFile || d.PREF64.IsValid() || s.IPv6OnlyPreferred != DefaultV6OnlyWait || s.PoolSize() != 100 || s.Lease != DefaultDHCP4Lease {
		t.Errorf("dhcp4 %+v %+v", d, s)
	}
	if s.RouterMAC.String() != "00:00:0a:00:00:fe" {
		t.Errorf("router MAC %v", s.RouterMAC)
	}
	h1, _ := top.HostByMAC(top.Hosts[0].MAC)
	if sub, a, ok := d.SubnetFor(h1); !ok || sub != s || a.String() != "192.0.2.10" {
		t.Errorf("h1 served on %v with %v", sub, a)
	}
	// The NAT64 prefix a NAT64 would give becomes dhcp4's, unless set.
	ResolveHostConfig(top, HostConfigSources{NAT64: ra.PREF64})
	if d.PREF64 != ra.PREF64 {
		t.Errorf("dhcp4.pref64 not defaulted: %v", d.PREF64)
	}
	if got := (&RouterAdvertisement{Interval: 1800 * time.Second}).PREF64Lifetime(); got != 5400*time.Second {
		t.Errorf("lifetime at the longest interval %v", got)
	}
}

// A gateway's RDNSS defaults to the DNS64 listen addresses on its IPv6
// prefixes: the one on 2001:db8::/64, not the loopback one.
func TestRDNSSDefaultsToDNS64(t *testing.T) {
	top, err := Parse("t.yaml", []byte(hostcfgBase+`dns64:
  listen: ["127.0.0.1:5353", "[2001:db8::53]:53"]
  upstream: ["127.0.0.1:5300"]
  prefix: "64:ff9b::/96"
`))
	if err != nil {
		t.Fatal(err)
	}
	ra := top.Gateways[0].RA
	if ra == nil || len(ra.RDNSS) != 1 || ra.RDNSS[0].String() != "2001:db8::53" {
		t.Fatalf("ra %+v, want RDNSS [2001:db8::53]", ra)
	}
}
