package topo

import (
	"strings"
	"testing"
	"time"
)

const nat64Only = `
nat64:
  pool6: "64:ff9b::/96"
  pool4:
    - {address: "192.0.2.2", ports: "1-3000"}
    - {address: "192.0.2.2", ports: "3001-4000", protocols: [tcp]}
  static_bib:
    - {protocol: tcp, ipv4: "192.0.2.2:2000", ipv6: "[2001:db8::5]:2000"}
  timeouts: {tcp_established: 2h4m, udp: 10s}
  limits: {bindings_per_host: 100}
  ipv4: {address: "192.0.2.2/24", mtu: 1500, gateway: "192.0.2.5"}
  ipv6: {address: "2001:db8::1/96", mtu: 1500}
`

func TestNAT64Parse(t *testing.T) {
	top, err := Parse("t.yaml", []byte(nat64Only))
	if err != nil {
		t.Fatal(err)
	}
	n := top.NAT64
	if n == nil || len(n.Pool4) != 2 || n.Pool4[1].Protocols[0] != "tcp" || n.Pool4[0].Last != 3000 || len(n.StaticBIB) != 1 {
		t.Fatalf("%+v", n)
	}
	if n.Timeouts.UDP != 10*time.Second || n.Limits.BindingsPerHost != 100 || n.IPv4.Gateway.String() != "192.0.2.5" {
		t.Fatalf("%+v", n)
	}
	if len(top.Warnings) != 1 || !strings.Contains(top.Warnings[0].Error(), "t.yaml:9: nat64.timeouts.udp: udp 10s is below the RFC 6146 minimum 2m0s") {
		t.Fatalf("warnings %v", top.Warnings)
	}
}

func TestNAT64Errors(t *testing.T) {
	bad := `
siit:
  pool6: "64:ff9b::/96"
  eam: [{ipv4: "192.0.2.0/24", ipv6: "2001:db8:3::/120"}]
  ipv4: {address: "198.51.100.1/24"}
  ipv6: {address: "2001:db8:1::1/64"}
nat64:
  pool6: "64:ff9b::/96"
  pool4:
    - {address: "192.0.2.2", ports: "1-3000"}
    - {address: "198.51.100.9", ports: "2000-4000"}
    - {address: "198.51.100.9", ports: "3000-5000", protocols: [udp, sctp]}
  static_bib:
    - {protocol: tcp, ipv4: "203.0.113.1:1", ipv6: "[2001:db8::5]:1"}
  timeouts: {udp: soon}
  ipv4: {address: "198.51.100.9/24"}
  ipv6: {address: "2001:db8::1/64"}
`
	_, err := Parse("t.yaml", []byte(bad))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		"t.yaml:8: nat64.pool6: 64:ff9b::/96 overlaps siit.pool6 64:ff9b::/96",
		"t.yaml:10: nat64.pool4[0].address: 192.0.2.2 is in siit.eam[0].ipv4 192.0.2.0/24",
		"t.yaml:12: nat64.pool4[2].protocols[1]: unknown protocol \"sctp\"",
		"t.yaml:14: nat64.static_bib[0].ipv4: 203.0.113.1 is not a pool4 address",
		"t.yaml:15: nat64.timeouts.udp: malformed duration",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in\n%v", want, err)
		}
	}
}

// The NAT64's pool6 is the default of the DNS64 prefix, of the gateways'
// PREF64 and of the NAT64 prefix that gates DHCPv4 option 108.
func TestNAT64PrefixDefaults(t *testing.T) {
	top, err := Parse("t.yaml", []byte(strings.Replace(nat64Only, `pool6: "64:ff9b::/96"`, `pool6: "2001:db8:64::/96"`, 1)+`dns64:
  listen: ["127.0.0.1:5353"]
  upstream: ["127.0.0.1:5300"]
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := top.DNS64.Prefix.String(); got != "2001:db8:64::/96" {
		t.Errorf("dns64.prefix %s, want nat64.pool6", got)
	}
	src := HostConfigSources{NAT64: top.NAT64.Pool6}
	top2, err := Parse("t.yaml", []byte(hostcfgBase))
	if err != nil {
		t.Fatal(err)
	}
	ResolveHostConfig(top2, src)
	if got := top2.Gateways[0].RA.PREF64.String(); got != "2001:db8:64::/96" {
		t.Errorf("ra.pref64 %s, want nat64.pool6", got)
	}
}
