package splice46

import (
	"net/netip"
	"testing"

	"github.com/sixgate/sixgate/controller/ofp"
	"github.com/sixgate/sixgate/proxy46"
	"github.com/sixgate/sixgate/topo"
)

func TestFTPDefaultsAgree(t *testing.T) {
	if topo.DefaultFTPPassiveFirst != proxy46.DefaultFTPPassiveFirst || topo.DefaultFTPPassiveLast != proxy46.DefaultFTPPassiveLast {
		t.Fatalf("topo's passive ports %d-%d, the engine's %d-%d", topo.DefaultFTPPassiveFirst, topo.DefaultFTPPassiveLast,
			proxy46.DefaultFTPPassiveFirst, proxy46.DefaultFTPPassiveLast)
	}
}

// TestPortBlocks checks that the blocks cover exactly the range.
func TestPortBlocks(t *testing.T) {
	for _, r := range [][2]uint16{{50000, 50999}, {1, 65535}, {20, 20}, {40000, 40001}, {65535, 65535}, {1024, 2047}} {
		got := map[uint32]bool{}
		blocks := portBlocks(r[0], r[1])
		for _, b := range blocks {
			size := uint32(0x10000) - uint32(b[1])
			if uint32(b[0])&^uint32(b[1]) != 0 {
				t.Fatalf("%v: block %d/%#x not aligned", r, b[0], b[1])
			}
			for p := uint32(b[0]); p < uint32(b[0])+size; p++ {
				got[p] = true
			}
		}
		if len(got) != int(r[1])-int(r[0])+1 {
			t.Fatalf("%v: blocks %v cover %d ports", r, blocks, len(got))
		}
		for p := uint32(r[0]); p <= uint32(r[1]); p++ {
			if !got[p] {
				t.Fatalf("%v: port %d not covered", r, p)
			}
		}
	}
	if n := len(portBlocks(1024, 2047)); n != 1 {
		t.Fatalf("an aligned range takes %d blocks", n)
	}
}

// TestFTPSteering checks that the passive ports and port 20 of an FTP
// service's VIP are steered to the engine, and nothing for other VIPs.
func TestFTPSteering(t *testing.T) {
	top, err := topo.Parse("t.yaml", []byte(`switches:
  - {name: s1, dpid: 1}
splice46:
  mac: 00:00:0a:00:00:fe
  pool6: 2001:db8:46::/96
  alg:
    ftp: {passive_ports: 40000-40003}
  services:
    - {vip: 192.0.2.10, port: 21, alg: ftp, backends: [{address: "[2001:db8::21]:21"}]}
    - {vip: 192.0.2.11, port: 80, backends: [{address: "[2001:db8::80]:80"}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	var ftp []ofp.Match
	for _, s := range steering(top.Splice46, nil) {
		if s.Cookie == cookieFTP {
			if s.Controller {
				t.Errorf("FTP steering to the controller in every mode")
			}
			ftp = append(ftp, s.Match)
		}
	}
	if len(ftp) != 2 {
		t.Fatalf("%d FTP steering flows, want the block 40000/0xfffc and port 20", len(ftp))
	}
	want := []ofp.OXM{ofp.IPv4Dst(netip.MustParsePrefix("192.0.2.10/32")), ofp.TCPDstMasked(40000, 0xfffc)}
	for _, w := range want {
		found := false
		for _, f := range ftp[0].Fields {
			found = found || f.Class == w.Class && f.Field == w.Field && string(f.Value) == string(w.Value) && string(f.Mask) == string(w.Mask)
		}
		if !found {
			t.Errorf("passive steering %v lacks %v", ftp[0], w)
		}
	}
}
