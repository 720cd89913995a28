package topo

import (
	"net/netip"
	"path/filepath"
	"testing"
	"time"
)

func TestExamplesLoad(t *testing.T) {
	files, err := filepath.Glob("examples/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("found %d example files, want at least seed.yaml and fabric.yaml", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			topo, err := Load(f)
			if err != nil {
				t.Fatal(err)
			}
			// Every example is connected when all links are up.
			fwd := topo.Forwarding(nil)
			for _, s := range topo.Switches {
				if got := len(fwd.Routes(s.DPID)); got != len(topo.Hosts) {
					t.Errorf("switch %s reaches %d of %d hosts", s.Name, got, len(topo.Hosts))
				}
			}
		})
	}
}

func TestSeedExample(t *testing.T) {
	topo, err := Load("examples/seed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := topo.Splice46
	if s == nil {
		t.Fatal("no splice46 section")
	}
	if s.Pool6 != netip.MustParsePrefix("2001:db8:ffff::/96") || s.MTU6 != 1500 || s.MAC.String() != "00:00:0a:00:00:42" {
		t.Errorf("splice46 = %+v", s)
	}
	want := []struct {
		port   uint16
		policy SelectPolicy
	}{{80, SelectPrefix}, {443, SelectSNI}, {8080, SelectHTTPHost}}
	if len(s.Services) != len(want) {
		t.Fatalf("%d services, want %d", len(s.Services), len(want))
	}
	vip := netip.MustParseAddr("10.0.0.42")
	for i, w := range want {
		svc, ok := s.ServiceFor(vip, w.port)
		if !ok || svc != s.Services[i] || svc.Select != w.policy || len(svc.Backends) != 2 {
			t.Errorf("service for port %d = %+v", w.port, svc)
		}
	}
	web := s.Services[0]
	if web.Backends[0].Address != netip.MustParseAddrPort("[2001:db8::1]:80") || web.Backends[0].Match[0] != "A" {
		t.Errorf("first backend = %+v", web.Backends[0])
	}
	if web.Default.IsValid() {
		t.Errorf("port 80 has default %v, want none", web.Default)
	}
	if got := s.Services[2].Default; got != netip.MustParseAddrPort("[2001:db8::1]:8080") {
		t.Errorf("port 8080 default = %v", got)
	}
	h3, ok := topo.HostByAddr(netip.MustParseAddr("10.0.0.3"))
	if !ok || h3.Name != "h3" || h3.Port != 3 || h3.DPID != 1 {
		t.Errorf("HostByAddr(10.0.0.3) = %+v, %v", h3, ok)
	}
	if mac, ok := topo.MACFor(vip); !ok || mac.String() != "00:00:0a:00:00:42" {
		t.Errorf("MACFor(VIP) = %v, %v", mac, ok)
	}
	if mac, ok := topo.MACFor(netip.MustParseAddr("2001:db8:ffff::a00:3")); !ok || mac.String() != "00:00:0a:00:00:42" {
		t.Errorf("MACFor(pool6 address) = %v, %v", mac, ok)
	}
	if c := topo.Controller; c.Listen.String() != "tcp:0.0.0.0:6653" || c.HTTP.String() != "127.0.0.1:9464" || c.StatsInterval != 10*time.Second || c.TLS != nil {
		t.Errorf("controller = %+v", c)
	}
}

func TestFabricExample(t *testing.T) {
	topo, err := Load("examples/fabric.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(topo.Switches) != 3 || len(topo.Links) != 3 || len(topo.Hosts) != 6 {
		t.Fatalf("%d switches, %d links, %d hosts", len(topo.Switches), len(topo.Links), len(topo.Hosts))
	}
	if len(topo.Gateways) != 1 {
		t.Fatalf("%d gateways", len(topo.Gateways))
	}
	gw := topo.Gateways[0]
	if gw.RA == nil || gw.RA.Interval.Seconds() != 200 || len(gw.RA.Prefixes) != 1 || gw.RA.Prefixes[0] != netip.MustParsePrefix("2001:db8::/64") {
		t.Errorf("gateway RA = %+v", gw.RA)
	}
	if gw.LinkLocal != netip.MustParseAddr("fe80::200:aff:fe00:fe") {
		t.Errorf("gateway link-local = %v", gw.LinkLocal)
	}
	if got := topo.InterSwitchPorts(2); len(got) != 2 || got[0] != 3 || got[1] != 4 {
		t.Errorf("InterSwitchPorts(s2) = %v", got)
	}
	// Ring: each switch reaches the others' hosts directly, in one hop.
	fwd := topo.Forwarding(nil)
	h5, _ := topo.HostByName("h5")
	if port, ok := fwd.NextHop(1, h5.MAC); !ok || port != 4 {
		t.Errorf("s1 -> h5 leaves by %d, %v; want 4 (the s3-s1 link)", port, ok)
	}
}
