package splice46

import (
	"net/netip"
	"testing"

	"fmt"

	"github.com/sixgate/sixgate/controller/ofp"
	"github.com/sixgate/sixgate/datapath"
	"github.com/sixgate/sixgate/packet"
	"github.com/sixgate/sixgate/proxy46"
	"github.com/sixgate/sixgate/topo"
)

func TestFTPDefaultsAgree(t *testing.T) {
	if topo.DefaultFTPPassiveFirst != proxy46.DefaultFTPPassiveFirst || topo.DefaultFTPPassiveLast != proxy46.DefaultFTPPassiveLast {
		t.Fatalf("topo's passive ports %d-%d, the engine's %d-%d", topo.DefaultFTPPassiveFirst, topo.DefaultFTPPassiveLast,
			proxy46.DefaultFTPPassiveFirst, proxy46.DefaultFTPPassiveLast)
	}
}

// TestFTPSteering checks that all TCP to an FTP service's VIP is steered
// to the engine (the data connections' ports), and nothing more for other
// VIPs.
func TestFTPSteering(t *testing.T) {
	top, err := topo.Parse("t.yaml", []byte(`switches:
  - {name: s1, dpid: 1}
splice46:
  mac: 00:00:0a:00:00:fe
  pool6: 2001:db8:46::/96
  services:
    - {vip: 192.0.2.10, port: 21, alg: ftp, backends: [{address: "[2001:db8::21]:21"}]}
    - {vip: 192.0.2.10, port: 2121, alg: ftp, backends: [{address: "[2001:db8::21]:2121"}]}
    - {vip: 192.0.2.11, port: 80, backends: [{address: "[2001:db8::80]:80"}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	var ftp []datapath.Steer
	for _, s := range steering(top.Splice46, nil) {
		if s.Cookie == cookieFTP {
			ftp = append(ftp, s)
		}
	}
	want := ofp.NewMatch(ofp.EthType(packet.EtherTypeIPv4), ofp.IPProto(packet.ProtoTCP), ofp.IPv4Dst(netip.MustParsePrefix("192.0.2.10/32")))
	if len(ftp) != 1 || ftp[0].Controller || ftp[0].Priority <= prioVIP || ftp[0].Priority >= prioService ||
		fmt.Sprint(ftp[0].Match) != fmt.Sprint(want) {
		t.Fatalf("FTP steering %+v, want one flow for %v between the VIP's and the services' priorities", ftp, want)
	}
}
