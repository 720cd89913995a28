package topo

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

const siitOnly = `siit:
  pool6: "2001:db8:100::/40"
  eam:
    - {ipv4: "192.0.2.0/24", ipv6: "2001:db8:3::/120"}
    - {ipv4: "198.18.0.0/24", ipv6: "2001:db8:4::/64"}
    - {ipv4: "198.19.0.1", ipv6: "2001:db8:5::1"}
  rfc6791_ipv4: ["203.0.113.8", "203.0.113.16/29"]
  lowest_ipv6_mtu: 1400
  amend_udp_checksum_zero: true
  ipv4: {address: "198.51.100.1/24", mtu: 1500, gateway: "198.51.100.2"}
  ipv6: {address: "2001:db8:1c0:2:1::/64", mtu: 9000}
`

func TestSIITParse(t *testing.T) {
	topo, err := Parse("t.yaml", []byte(siitOnly))
	if err != nil {
		t.Fatal(err)
	}
	s := topo.SIIT
	if s == nil || len(topo.Switches) != 0 {
		t.Fatalf("siit %+v, switches %v", s, topo.Switches)
	}
	want := []SIITEAM{
		{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8:3::/120"), 4},
		{netip.MustParsePrefix("198.18.0.0/24"), netip.MustParsePrefix("2001:db8:4::/64"), 5},
		{netip.MustParsePrefix("198.19.0.1/32"), netip.MustParsePrefix("2001:db8:5::1/128"), 6},
	}
	if len(s.EAM) != len(want) {
		t.Fatalf("eam %+v", s.EAM)
	}
	for i := range want {
		if s.EAM[i] != want[i] {
			t.Errorf("eam[%d] = %+v, want %+v", i, s.EAM[i], want[i])
		}
	}
	if s.Pool6 != netip.MustParsePrefix("2001:db8:100::/40") || s.LowestIPv6MTU != 1400 || !s.AmendUDPChecksumZero {
		t.Errorf("siit %+v", s)
	}
	if len(s.RFC6791v4) != 2 || s.RFC6791v4[0] != netip.MustParsePrefix("203.0.113.8/32") || len(s.RFC6791v6) != 0 {
		t.Errorf("rfc6791 %v %v", s.RFC6791v4, s.RFC6791v6)
	}
	if s.IPv4.Address != netip.MustParsePrefix("198.51.100.1/24") || s.IPv4.MTU != 1500 || s.IPv4.Gateway != netip.MustParseAddr("198.51.100.2") {
		t.Errorf("ipv4 %+v", s.IPv4)
	}
	if s.IPv6.MTU != 9000 || s.IPv6.Gateway.IsValid() {
		t.Errorf("ipv6 %+v", s.IPv6)
	}
}

func TestSIITErrors(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"nothing to translate", "siit:\n  ipv4: {address: 192.0.2.1/24}\n  ipv6: {address: \"2001:db8::1/64\"}\n",
			[]string{"t.yaml:1: siit: give pool6, eam or both: without them nothing is translated"}},
		{"sides missing", "siit:\n  pool6: 64:ff9b::/96\n",
			[]string{"t.yaml:1: siit.ipv4: missing: the translator's own address is the source of the ICMP errors it sends",
				"t.yaml:1: siit.ipv6: missing: the translator's own address is the source of the ICMP errors it sends"}},
		{"bad values", `siit:
  pool6: "2001:db8::/44"
  eam:
    - {ipv4: "192.0.2.0/24", ipv6: "2001:db8:3::/121"}
    - {ipv4: "2001:db8::/64", ipv6: "192.0.2.0/24"}
    - {ipv4: "198.18.0.0/16", ipv6: "2001:db8:4::/96"}
    - {ipv4: "198.18.1.0/24", ipv6: "2001:db8:5::/120"}
  rfc6791_ipv6: ["203.0.113.1"]
  lowest_ipv6_mtu: 1000
  ipv4: {address: "198.51.100.1", mtu: 40, gateway: "2001:db8::1"}
  ipv6: {address: "2001:db8:1c0:2:1::/64", mtu: 1500, gateway: "2001:db8:1c0:2:1::"}
  clat: [{host: nobody, ipv6: "192.0.2.1"}]
  clat_pref64: "64:ff9b::/95"
`, []string{
			`t.yaml:2: siit.pool6: prefix length /44 is not one RFC 6052 allows (32, 40, 48, 56, 64 or 96)`,
			`t.yaml:4: siit.eam[0]: 2001:db8:3::/121 leaves 7 bits for the 8-bit suffix of 192.0.2.0/24 (RFC 7757: the IPv6 suffix is at least as long)`,
			`t.yaml:5: siit.eam[1].ipv4: 2001:db8::/64 is not an IPv4 prefix`,
			`t.yaml:5: siit.eam[1].ipv6: 192.0.2.0/24 is not an IPv6 prefix`,
			`t.yaml:7: siit.eam[3].ipv4: 198.18.1.0/24 overlaps siit.eam[2].ipv4 198.18.0.0/16 (line 6)`,
			`t.yaml:8: siit.rfc6791_ipv6[0]: 203.0.113.1 is not an IPv6 prefix`,
			`t.yaml:9: siit.lowest_ipv6_mtu: malformed number "1000" (want 1280 to 65535)`,
			`t.yaml:10: siit.ipv4.address: 198.51.100.1: give the subnet's length too (198.51.100.1/24)`,
			`t.yaml:10: siit.ipv4.mtu: malformed number "40" (want 68 to 65535)`,
			`t.yaml:10: siit.ipv4.gateway: 2001:db8::1 is not an IPv4 address`,
			`t.yaml:11: siit.ipv6.gateway: 2001:db8:1c0:2:1:: is the translator's own address`,
			`t.yaml:12: siit.clat[0].host: no host "nobody" is declared`,
			`t.yaml:12: siit.clat[0].ipv6: 192.0.2.1 is not an IPv6 address`,
			`t.yaml:13: siit.clat_pref64: prefix length /95 is not one RFC 6052 allows (32, 40, 48, 56, 64 or 96)`,
		}},
		{"switches still needed without siit", "subnets: [\"10.0.0.0/24\"]\n", []string{"t.yaml: switches: at least one switch must be declared"}},
	}
	for _, tc := range cases {
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
