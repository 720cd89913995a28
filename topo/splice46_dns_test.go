package topo

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

const dnsHead = `
switches: [{name: s1, dpid: "0x1"}]
splice46:
  mac: "00:00:0a:00:00:42"
  pool6: "64:ff9b::/96"
  services:
`

func TestDNSBackendsParse(t *testing.T) {
	top, err := Parse("t.yaml", []byte(dnsHead+`    - vip: "10.0.0.42"
      port: 443
      select: sni
      backends: [{address: "[2001:db8::1]:443", match: [static.example]}]
      backends_from_dns:
        resolvers: ["2001:db8::53", "127.0.0.1:5353"]
        prefixes: ["2001:db8:5::/48"]
        port: 8443
        max_ttl: 10m
        rate: 3
    - vip: "10.0.0.42"
      port: 80
      select: http-host
      backends_from_dns: {resolvers: ["[::1]:53"], prefixes: ["2001:db8:6::/48"], port: 80}
`))
	if err != nil {
		t.Fatal(err)
	}
	d := top.Splice46.Services[0].DNS
	if d == nil || d.Line != 11 || len(d.Resolvers) != 2 || d.Resolvers[0] != netip.MustParseAddrPort("[2001:db8::53]:53") ||
		d.Resolvers[1] != netip.MustParseAddrPort("127.0.0.1:5353") || d.Port != 8443 || d.MaxTTL != 10*time.Minute ||
		d.Rate != 3 || d.Burst != DefaultDNSBurst || d.MinTTL != DefaultDNSMinTTL || d.CacheSize != DefaultDNSCacheSize ||
		d.Timeout != DefaultDNSTimeout || d.MaxBackends != DefaultDNSMaxBackends {
		t.Fatalf("%+v", d)
	}
	if s := top.Splice46.Services[1]; s.DNS == nil || len(s.Backends) != 0 || s.DNS.Prefixes[0] != netip.MustParsePrefix("2001:db8:6::/48") {
		t.Fatalf("%+v", s)
	}
}

func TestDNSBackendsErrors(t *testing.T) {
	for _, tc := range []struct {
		name, svc string
		want      []string
	}{
		{"no resolver, no prefix, no port", `    - vip: "10.0.0.42"
      port: 80
      select: http-host
      backends_from_dns: {}
`, []string{
			`t.yaml:10: services[0].backends_from_dns.resolvers: at least one resolver must be given`,
			`t.yaml:10: services[0].backends_from_dns.prefixes: at least one IPv6 prefix must be given: resolved addresses outside them are refused`,
			`t.yaml:10: services[0].backends_from_dns.port: missing backend port`,
		}},
		{"bad values", `    - vip: "10.0.0.42"
      port: 80
      select: http-host
      backends_from_dns:
        resolvers: ["dns.example", "[::]:53"]
        prefixes: ["10.0.0.0/8", "::/0", "64:ff9b::/64", "2001:db8::1/64"]
        port: 0
        min_ttl: 1m
        max_ttl: 30s
        timeout: 20s
        rate: -1
`, []string{
			`t.yaml:11: services[0].backends_from_dns.resolvers[0]: malformed resolver address "dns.example" (want 2001:db8::53, 192.0.2.53 or [2001:db8::53]:5353)`,
			`t.yaml:11: services[0].backends_from_dns.resolvers[1]: resolver [::]:53 is not a unicast address and port`,
			`t.yaml:12: services[0].backends_from_dns.prefixes[0]: 10.0.0.0/8 is not an IPv6 prefix`,
			`t.yaml:12: services[0].backends_from_dns.prefixes[1]: ::/0 is too wide: name the hosting networks (at least /16)`,
			`t.yaml:12: services[0].backends_from_dns.prefixes[2]: 64:ff9b::/64 overlaps pool6 64:ff9b::/96`,
			`t.yaml:12: services[0].backends_from_dns.prefixes[3]: 2001:db8::1/64 has bits set beyond its length; did you mean 2001:db8::/64?`,
			`t.yaml:13: services[0].backends_from_dns.port: malformed port "0" (want 1 to 65535)`,
			`t.yaml:15: services[0].backends_from_dns.max_ttl: max_ttl 30s is below min_ttl 1m0s`,
			`t.yaml:17: services[0].backends_from_dns.rate: rate must be positive`,
		}},
		{"wrong policy and default", `    - vip: "10.0.0.42"
      port: 80
      default: "[2001:db8::9]:80"
      backends_from_dns: {resolvers: ["::1"], prefixes: ["2001:db8:5::/48"], port: 80}
`, []string{
			`t.yaml:10: services[0].backends_from_dns: backends from DNS are found by host name: only with select http-host or sni, not hash`,
			`t.yaml:10: services[0].backends_from_dns: a service with backends from DNS takes no default backend: a name that does not resolve is reset`,
		}},
		{"default", `    - vip: "10.0.0.42"
      port: 80
      select: sni
      default: "[2001:db8::9]:80"
      backends_from_dns: {resolvers: ["::1"], prefixes: ["2001:db8:5::/48"], port: 80}
`, []string{
			`t.yaml:11: services[0].backends_from_dns: a service with backends from DNS takes no default backend: a name that does not resolve is reset`,
		}},
		{"timeout beyond the embryonic timeout", `    - vip: "10.0.0.42"
      port: 80
      select: sni
      backends_from_dns: {resolvers: ["::1"], prefixes: ["2001:db8:5::/48"], port: 80, timeout: 10s}
`, []string{
			`t.yaml:10: services[0].backends_from_dns.timeout: the lookup timeout 10s must be below the embryonic timeout 10s, which bounds the wait`,
		}},
		{"unknown key", `    - vip: "10.0.0.42"
      port: 80
      select: sni
      backends_from_dns: {resolver: ["::1"]}
`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(dnsHead+tc.svc))
			var list Errors
			if !errors.As(err, &list) {
				t.Fatalf("error %T: %v", err, err)
			}
			var got []string
			for _, e := range list {
				got = append(got, strings.Replace(e.Error(), "splice46.", "", 1))
			}
			if tc.want == nil {
				if !strings.Contains(strings.Join(got, "\n"), "backends_from_dns.resolver: unknown field") {
					t.Fatalf("%q", got)
				}
				return
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(tc.want, "\n\t"))
			}
		})
	}
}
