package topo

import (
	"errors"
	"strings"
	"testing"
)

// siitBase is a fabric with IPv6 and IPv4 hosts, a legacy host for the
// CLAT role and a router; each case appends a siit section.
const siitBase = `
switches: [{name: s1, dpid: "0x1"}]
hosts:
  - {name: h6, switch: s1, port: 1, mac: "00:00:0b:00:00:06", ipv6: ["2001:db8:6::6"]}
  - {name: h4, switch: s1, port: 2, mac: "00:00:0b:00:00:04", ipv4: ["192.0.2.4", "192.0.2.44"]}
  - {name: legacy, switch: s1, port: 3, mac: "00:00:0b:00:00:30", ipv4: ["192.0.2.30"]}
  - {name: r, switch: s1, port: 4, mac: "00:00:0b:00:00:64", ipv6: ["2001:db8:6::64"]}
`

func TestSIITSection(t *testing.T) {
	top, err := Parse("t.yaml", []byte(siitBase+`siit:
  mac: "00:00:0b:00:00:99"
  mode: port
  ports: [{interface: eng0, switch: s1, port: 10}]
  pool6: "64:ff9b:1::/96"
  eam:
    - {ipv4: "203.0.113.6", ipv6: "2001:db8:6::6"}
    - {ipv4: "198.51.100.0/24", ipv6: "2001:db8:7::/64"}
  rfc6791_ipv4: ["203.0.113.8"]
  lowest_ipv6_mtu: 1400
  ipv4: {address: "192.0.2.1/24", mtu: 1500}
  ipv6: {address: "2001:db8:6::1/64", mtu: 1280, gateway: "2001:db8:6::64"}
  clat: [{host: legacy, ipv6: "2001:db8:6::c1a7"}]
  clat_pref64: "2001:db8:64::/96"
`))
	if err != nil {
		t.Fatal(err)
	}
	s := top.SIIT
	checks := []struct {
		what      string
		got, want any
	}{
		{"pool6", s.Pool6.String(), "64:ff9b:1::/96"},
		{"eam", len(s.EAM), 2},
		{"bare EAM address", s.EAM[0].IPv6.String(), "2001:db8:6::6/128"},
		{"rfc6791", s.RFC6791v4[0].String(), "203.0.113.8/32"},
		{"lowest mtu", s.LowestIPv6MTU, 1400},
		{"own ipv4", s.IPv4.Address.String(), "192.0.2.1/24"},
		{"ipv6 mtu", s.IPv6.MTU, 1280},
		{"gateway", s.IPv6.Gateway.String(), "2001:db8:6::64"},
		{"no ipv4 gateway", s.IPv4.Gateway.IsValid(), false},
		{"mode", s.Mode, DataPathPort},
		{"ports", len(s.Ports), 1},
		{"clat host", s.CLAT[0].Host + " " + s.CLAT[0].IPv6.String(), "legacy 2001:db8:6::c1a7"},
		{"clat_pref64", s.CLATPref64.String(), "2001:db8:64::/96"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.what, c.got, c.want)
		}
	}
}

func TestSIITSectionErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{
			name: "overlaps across splice46 and siit name both fields",
			yaml: siitBase + `splice46:
  mac: "00:00:0b:00:00:42"
  pool6: "2001:db8:ffff::/96"
  services: [{vip: "203.0.113.9", port: 80, backends: [{address: "[2001:db8:6::6]:80"}]}]
siit:
  mac: "00:00:0b:00:00:99"
  pool6: "2001:db8:ffff::/96"
  eam: [{ipv4: "203.0.113.0/24", ipv6: "2001:db8:6::/120"}]
  ipv4: {address: "192.0.2.1/24"}
  ipv6: {address: "2001:db8:6::1/64"}
`,
			want: []string{
				"t.yaml:14: siit.pool6: 2001:db8:ffff::/96 overlaps splice46.pool6 2001:db8:ffff::/96 (line 10)",
				"t.yaml:15: siit.eam[0].ipv4: 203.0.113.0/24 overlaps splice46.services[0].vip 203.0.113.9/32 (line 11)",
			},
		},
		{
			name: "an EAM prefix inside splice46's pool6",
			yaml: siitBase + `splice46:
  mac: "00:00:0b:00:00:42"
  pool6: "2001:db8:ffff::/96"
  services: [{vip: "203.0.113.9", port: 80, backends: [{address: "[2001:db8:6::6]:80"}]}]
siit:
  mac: "00:00:0b:00:00:99"
  eam: [{ipv4: "198.51.100.0/24", ipv6: "2001:db8:ffff::/120"}]
  ipv4: {address: "192.0.2.1/24"}
  ipv6: {address: "2001:db8:6::1/64"}
`,
			want: []string{
				"t.yaml:14: siit.eam[0].ipv6: 2001:db8:ffff::/120 overlaps splice46.pool6 2001:db8:ffff::/96 (line 10)",
			},
		},
		{
			name: "own addresses and gateways",
			yaml: siitBase + `siit:
  mac: "00:00:0b:00:00:99"
  pool6: "64:ff9b:1::/96"
  ipv4: {address: "192.0.2.4/24", gateway: "192.0.2.99"}
  ipv6: {address: "2001:db8:6::1/64", gateway: "2001:db8:6::64"}
`,
			want: []string{
				"t.yaml:11: siit.ipv4.address: duplicate address 192.0.2.4 (also hosts[1] at line 5)",
				"t.yaml:11: siit.ipv4.gateway: no declared host owns 192.0.2.99: the gateway must be a host of the model",
			},
		},
		{
			name: "CLAT hosts",
			yaml: siitBase + `siit:
  pool6: "64:ff9b:1::/96"
  ipv4: {address: "192.0.2.1/24"}
  ipv6: {address: "2001:db8:6::1/64"}
  clat:
    - {host: h6, ipv6: "2001:db8:6::c1"}
    - {host: h4, ipv6: "2001:db8:6::c2"}
    - {host: nobody, ipv6: "2001:db8:6::6"}
    - {host: legacy, ipv6: "64:ff9b:1::1"}
`,
			want: []string{
				"t.yaml:8: siit.mac: missing MAC: the translator in the fabric answers ARP and NDP with it",
				"t.yaml:8: siit.clat_pref64: missing: the CLAT hosts' destinations need a NAT64 prefix",
				"t.yaml:13: siit.clat[0].host: host h6 has IPv6 addresses: the CLAT role is for IPv4-only hosts",
				"t.yaml:14: siit.clat[1].host: host h4 has 2 IPv4 addresses, want exactly one to map",
				"t.yaml:15: siit.clat[2].host: no host \"nobody\" is declared",
				"t.yaml:15: siit.clat[2].ipv6: duplicate address 2001:db8:6::6 (also hosts[0] at line 4)",
				"t.yaml:16: siit.clat[3].ipv6: 64:ff9b:1::1/128 overlaps siit.pool6 64:ff9b:1::/96 (line 9)",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tc.yaml))
			var list Errors
			if !errors.As(err, &list) {
				t.Fatalf("error %v is not Errors", err)
			}
			var got []string
			for _, e := range list {
				got = append(got, e.Error())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(tc.want, "\n\t"))
			}
		})
	}
}
