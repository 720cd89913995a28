package datapath_test

import (
	"io"
	"net/netip"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/datapath"
	"github.com/sixgate/sixgate/packet"
	"github.com/sixgate/sixgate/topo"
)

// relayEngine sends every packet on, unchanged, to a fixed destination:
// what a translator does with a packet for an address outside the model.
type relayEngine struct{ dst netip.Addr }

func (r relayEngine) Handle(pkt []byte, out *packet.Batch) packet.Verdict {
	fam := packet.IPv4Family
	if r.dst.Is6() {
		fam = packet.IPv6Family
	}
	copy(out.Next(len(pkt), fam, r.dst), pkt)
	return packet.Consumed
}

func (relayEngine) Expire(*packet.Batch) {}

// Output to an address no host owns goes to the gateway of its family, and
// without one is counted as no route.
func TestGatewayNextHop(t *testing.T) {
	top, err := topo.Parse("echo.yaml", []byte(echoTopology))
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := top.HostByName("h2")
	log := logrus.New()
	log.SetOutput(io.Discard)
	frame := make([]byte, packet.EthernetHeaderLen+packet.IPv4MinLen)
	packet.Ethernet(frame).Encode(echoMAC, h1MAC, packet.EtherTypeIPv4)
	packet.IPv4(frame[packet.EthernetHeaderLen:]).Encode(&packet.IPv4Fields{TotalLen: packet.IPv4MinLen, TTL: 64,
		Protocol: 253, Src: h1v4.As4(), Dst: [4]byte{192, 0, 2, 7}})

	for _, tc := range []struct {
		name     string
		gw4, gw6 *topo.Host
		dst      netip.Addr
		want     *topo.Host
	}{
		{name: "ipv4 gateway", gw4: h2, dst: netip.MustParseAddr("192.0.2.7"), want: h2},
		{name: "ipv4 without gateway", gw6: h2, dst: netip.MustParseAddr("192.0.2.7")},
		{name: "ipv6 gateway", gw6: h2, dst: netip.MustParseAddr("2001:db8:9::7"), want: h2},
		{name: "owned address ignores gateway", gw4: h2, dst: h1v4, want: mustHost(t, top, "h1")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := datapath.New(datapath.Config{Name: "relay", CookieID: 0x7e, Log: logrus.NewEntry(log)},
				datapath.State{Topology: top, Engine: relayEngine{tc.dst}, MAC: echoMAC, Gateway4: tc.gw4, Gateway6: tc.gw6})
			if err != nil {
				t.Fatal(err)
			}
			out := p.Process(frame)
			if tc.want == nil {
				if len(out) != 0 || p.Counters().NoRoute.Load() != 1 {
					t.Fatalf("%d frames, %d no route; want none sent and one counted", len(out), p.Counters().NoRoute.Load())
				}
				return
			}
			if len(out) != 1 {
				t.Fatalf("%d frames, want 1", len(out))
			}
			f := out[0]
			eth := packet.Ethernet(f.Data)
			if f.DPID != tc.want.DPID || f.Port != tc.want.Port || eth.Dst().String() != tc.want.MAC.String() {
				t.Errorf("frame to %#x:%d %v, want %s's port %d and MAC %v", f.DPID, f.Port, eth.Dst(), tc.want.Name, tc.want.Port, tc.want.MAC)
			}
		})
	}
}

func mustHost(t *testing.T, top *topo.Topology, name string) *topo.Host {
	t.Helper()
	h, ok := top.HostByName(name)
	if !ok {
		t.Fatalf("no host %s", name)
	}
	return h
}

// leaseTable is a LeaseHolder over a fixed map.
type leaseTable map[netip.Addr]*topo.Host

func (l leaseTable) LeaseHolder(a netip.Addr) (*topo.Host, bool) { h, ok := l[a]; return h, ok }

// Output to an address leased to a host (DHCPv4) goes to that host, ahead
// of the gateway; without the lease it goes to the gateway.
func TestLeasedDestination(t *testing.T) {
	top, err := topo.Parse("echo.yaml", []byte(echoTopology))
	if err != nil {
		t.Fatal(err)
	}
	h1, h2 := mustHost(t, top, "h1"), mustHost(t, top, "h2")
	leased := netip.MustParseAddr("192.0.2.7")
	log := logrus.New()
	log.SetOutput(io.Discard)
	frame := make([]byte, packet.EthernetHeaderLen+packet.IPv4MinLen)
	packet.Ethernet(frame).Encode(echoMAC, h1MAC, packet.EtherTypeIPv4)
	packet.IPv4(frame[packet.EthernetHeaderLen:]).Encode(&packet.IPv4Fields{TotalLen: packet.IPv4MinLen, TTL: 64,
		Protocol: 253, Src: h1v4.As4(), Dst: leased.As4()})
	p, err := datapath.New(datapath.Config{Name: "relay", CookieID: 0x7e, Log: logrus.NewEntry(log)},
		datapath.State{Topology: top, Engine: relayEngine{leased}, MAC: echoMAC, Gateway4: h1})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		leases leaseTable
		want   *topo.Host
	}{
		{"no lease: the gateway", leaseTable{}, h1},
		{"leased to h2", leaseTable{leased: h2}, h2},
	} {
		p.UseLeases(tc.leases)
		out := p.Process(frame)
		if len(out) != 1 {
			t.Fatalf("%s: %d frames, want 1", tc.name, len(out))
		}
		if f := out[0]; f.Port != tc.want.Port || packet.Ethernet(f.Data).Dst().String() != tc.want.MAC.String() {
			t.Errorf("%s: frame to port %d %v, want %s's", tc.name, f.Port, packet.Ethernet(f.Data).Dst(), tc.want.Name)
		}
	}
}
