package topo

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseValues(t *testing.T) {
	const text = `
controller:
  listen: "tls:[::]:6653"
  tls: {cert: cert.pem, key: /etc/sixgate/key.pem}
  echo_interval: 1500ms
  echo_timeout: 10
subnets: ["10.0.0.0/24", "2001:db8::/64"]
switches:
  - {name: s1, dpid: 0x1}
  - {name: s2, dpid: "00:00:00:00:00:00:01:00"}
  - {name: s3, dpid: 18446744073709551615}
links:
  - {a: "s1:10", b: "s2:10"}
base: &base {switch: s1}
hosts:
  - {<<: *base, name: h1, port: 1, mac: "00-00-0A-00-00-01", ipv4: ["10.0.0.1/24"], ipv6: ["2001:db8::1"]}
gateways:
  - {ipv4: ["10.0.0.254"], ipv6: ["2001:db8::fe"], router_advertisements: true}
splice46:
  mac: "00:00:0a:00:00:42"
  pool6: "64:ff9b::/96"
  services:
    - {vip: "10.0.0.42", port: 80, backends: [{address: "[2001:db8::1]:80"}]}
`
	// "base" is not a known top-level key; anchors must live inside one.
	if _, err := Parse("t.yaml", []byte(text)); err == nil || !strings.Contains(err.Error(), "t.yaml:14: base: unknown field") {
		t.Fatalf("err = %v, want the unknown base key", err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "t.yaml")
	fixed := strings.Replace(text, "base: &base {switch: s1}\nhosts:\n  - {<<: *base,", "hosts:\n  - {<<: {switch: s1},", 1)
	if err := os.WriteFile(path, []byte(fixed), 0o644); err != nil {
		t.Fatal(err)
	}
	topo, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}

	c := topo.Controller
	if c.Listen.Scheme != "tls" || c.Listen.Addr != netip.MustParseAddrPort("[::]:6653") {
		t.Errorf("listen = %v", c.Listen)
	}
	if c.TLS.Cert != filepath.Join(dir, "cert.pem") || c.TLS.Key != "/etc/sixgate/key.pem" {
		t.Errorf("tls = %+v; relative names should be taken from the file's directory", c.TLS)
	}
	if c.EchoInterval != 1500*time.Millisecond || c.EchoTimeout != 10*time.Second || c.HTTP.String() != DefaultHTTP || c.StatsInterval != DefaultStatsInterval || len(topo.Warnings) != 0 {
		t.Errorf("controller = %+v", c)
	}

	for name, dpid := range map[string]uint64{"s1": 1, "s2": 0x100, "s3": ^uint64(0)} {
		if s, ok := topo.SwitchByName(name); !ok || s.DPID != dpid {
			t.Errorf("switch %s = %+v, want dpid %#x", name, s, dpid)
		}
	}
	if s, ok := topo.SwitchByDPID(0x100); !ok || s.Name != "s2" {
		t.Errorf("SwitchByDPID(0x100) = %v", s)
	}

	h1, ok := topo.HostByMAC([]byte{0, 0, 0x0a, 0, 0, 1})
	if !ok || h1.Name != "h1" || h1.Switch != "s1" || h1.DPID != 1 {
		t.Fatalf("HostByMAC = %+v", h1)
	}
	if h, ok := topo.HostByAddr(netip.MustParseAddr("2001:db8::1")); !ok || h != h1 {
		t.Errorf("HostByAddr(2001:db8::1) = %v", h)
	}
	if h, ok := topo.HostAt(1, 1); !ok || h != h1 {
		t.Errorf("HostAt(1, 1) = %v", h)
	}

	gw := topo.Gateways[0]
	if gw.Name != "gateways[0]" || gw.MAC.String() != "00:00:0a:00:00:42" {
		t.Errorf("gateway = %+v; without a MAC it should answer with splice46's", gw)
	}
	if gw.IPv4[0] != netip.MustParsePrefix("10.0.0.254/24") || gw.IPv6[0] != netip.MustParsePrefix("2001:db8::fe/64") {
		t.Errorf("gateway addresses %v %v should carry their subnet's length", gw.IPv4, gw.IPv6)
	}
	if ra := gw.RA; ra.Interval != DefaultRAInterval || ra.HopLimit != DefaultRAHopLimit || ra.Prefixes[0] != netip.MustParsePrefix("2001:db8::/64") {
		t.Errorf("RA defaults = %+v", ra)
	}

	svc := topo.Splice46.Services[0]
	if svc.Select != SelectHash || topo.Splice46.MTU6 != DefaultMTU6 {
		t.Errorf("service defaults = %+v, mtu6 %d", svc, topo.Splice46.MTU6)
	}

	var kinds []string
	for _, n := range topo.Neighbors() {
		kinds = append(kinds, n.Addr.String()+"="+n.Kind.String())
	}
	want := "10.0.0.1=host 10.0.0.42=vip 10.0.0.254=gateway 2001:db8::1=host 2001:db8::fe=gateway fe80::200:aff:fe00:42=gateway"
	if got := strings.Join(kinds, " "); got != want {
		t.Errorf("neighbors = %s\nwant        %s", got, want)
	}
}

func TestParseRejectsHugeFile(t *testing.T) {
	_, err := Parse("big.yaml", make([]byte, MaxFileSize+1))
	if err == nil || !strings.HasPrefix(err.Error(), "big.yaml: file is") {
		t.Errorf("err = %v", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "none.yaml")); err == nil || !strings.HasPrefix(err.Error(), "topo: ") {
		t.Errorf("err = %v", err)
	}
}

func TestErrorListIsBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("switches: [{name: s1, dpid: 1}]\nhosts:\n")
	for range 300 {
		b.WriteString("  - {name: h1, switch: s1, port: 1, mac: \"00:00:0a:00:00:01\"}\n")
	}
	_, err := Parse("t.yaml", []byte(b.String()))
	list, ok := err.(Errors)
	if !ok || len(list) != maxErrors+1 {
		t.Fatalf("got %d errors, want %d and a summary", len(list), maxErrors)
	}
	if got := list[maxErrors].Error(); got != "t.yaml: 697 more problems not shown" {
		t.Errorf("summary = %q", got)
	}
}

func TestControllerHTTPKeys(t *testing.T) {
	cases := []struct {
		yaml     string
		http     string // "" when off
		stats    time.Duration
		warnings []string
	}{
		{"switches: [{name: s1, dpid: \"0x1\"}]\n", "127.0.0.1:9464", 10 * time.Second, nil},
		{"controller:\n  http: off\n  stats_interval: 0\nswitches: [{name: s1, dpid: \"0x1\"}]\n", "", 0, nil},
		{"controller:\n  http: \"[::1]:9000\"\n  stats_interval: 30s\nswitches: [{name: s1, dpid: \"0x1\"}]\n", "[::1]:9000", 30 * time.Second, nil},
		{"controller:\n  listen: \"tcp:127.0.0.1:6653\"\n  metrics: \"127.0.0.1:9001\"\nswitches: [{name: s1, dpid: \"0x1\"}]\n", "127.0.0.1:9001", 10 * time.Second,
			[]string{"c.yaml:3: controller.metrics: deprecated: metrics is now called http (it also serves /healthz and the read API); rename the key"}},
	}
	for _, c := range cases {
		topo, err := Parse("c.yaml", []byte(c.yaml))
		if err != nil {
			t.Fatalf("%q: %v", c.yaml, err)
		}
		got := ""
		if topo.Controller.HTTP.IsValid() {
			got = topo.Controller.HTTP.String()
		}
		var warnings []string
		for _, w := range topo.Warnings {
			warnings = append(warnings, w.Error())
		}
		if got != c.http || topo.Controller.StatsInterval != c.stats || strings.Join(warnings, "\n") != strings.Join(c.warnings, "\n") {
			t.Errorf("%q: http %q stats %v warnings %q; want %q %v %q", c.yaml, got, topo.Controller.StatsInterval, warnings, c.http, c.stats, c.warnings)
		}
		if len(topo.Hash) != 64 || topo.ShortHash() != topo.Hash[:12] {
			t.Errorf("hash %q short %q", topo.Hash, topo.ShortHash())
		}
	}
}
