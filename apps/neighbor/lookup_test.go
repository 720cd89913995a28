package neighbor

import (
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/sixgate/sixgate/controller"
	"github.com/sixgate/sixgate/controller/ofp"
	"github.com/sixgate/sixgate/controller/ofptest"
)

// Frames for lookups, between the hosts of topo/examples/fabric.yaml.

func ipv4UDP(t testing.TB, from, to net.HardwareAddr, src, dst string) []byte {
	t.Helper()
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP,
		SrcIP: netip.MustParseAddr(src).AsSlice(), DstIP: netip.MustParseAddr(dst).AsSlice()}
	udp := &layers.UDP{SrcPort: 5000, DstPort: 53}
	udp.SetNetworkLayerForChecksum(ip)
	return frame(t, &layers.Ethernet{SrcMAC: from, DstMAC: to, EthernetType: layers.EthernetTypeIPv4}, ip, udp, gopacket.Payload("q"))
}

func ipv6TCP(t testing.TB, from, to net.HardwareAddr, src, dst string) []byte {
	t.Helper()
	ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP,
		SrcIP: netip.MustParseAddr(src).AsSlice(), DstIP: netip.MustParseAddr(dst).AsSlice()}
	tcp := &layers.TCP{SrcPort: 40000, DstPort: 80, SYN: true, Window: 1000}
	tcp.SetNetworkLayerForChecksum(ip)
	return frame(t, &layers.Ethernet{SrcMAC: from, DstMAC: to, EthernetType: layers.EthernetTypeIPv6}, ip, tcp)
}

func arpReply(t testing.TB, from, to net.HardwareAddr, sender, target string) []byte {
	return frame(t,
		&layers.Ethernet{SrcMAC: from, DstMAC: to, EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: layers.ARPReply, SourceHwAddress: from, SourceProtAddress: netip.MustParseAddr(sender).AsSlice(),
			DstHwAddress: to, DstProtAddress: netip.MustParseAddr(target).AsSlice()})
}

func unsolicitedNA(t testing.TB, from net.HardwareAddr, addr string) []byte {
	return icmp6(t, from, mac("33:33:00:00:00:01"), addr, "ff02::1", icmpNA,
		&layers.ICMPv6NeighborAdvertisement{Flags: 0x20, TargetAddress: netip.MustParseAddr(addr).AsSlice(),
			Options: layers.ICMPv6Options{linkLayerOption(layers.ICMPv6OptTargetAddress, from)}})
}

func routerSolicitation(t testing.TB, from net.HardwareAddr) []byte {
	return icmp6(t, from, mac("33:33:00:00:00:02"), "fe80::200:aff:fe00:1", "ff02::2", icmpRS,
		&layers.ICMPv6RouterSolicitation{Options: layers.ICMPv6Options{linkLayerOption(layers.ICMPv6OptSourceAddress, from)}})
}

// unicastNS is a host checking that a neighbor is still reachable: an NS
// to the neighbor's own MAC and address.
func unicastNS(t testing.TB, from, to net.HardwareAddr, src, target string) []byte {
	return icmp6(t, from, to, src, target, icmpNS,
		&layers.ICMPv6NeighborSolicitation{TargetAddress: netip.MustParseAddr(target).AsSlice(),
			Options: layers.ICMPv6Options{linkLayerOption(layers.ICMPv6OptSourceAddress, from)}})
}

// fate is where a packet should end: out of ports, at the controller by
// one of the app's flows, or dropped by one.
type fate struct {
	ports      []uint32
	controller bool
	table      uint8
	cookie     uint64 // low bits of the flow that sent it to the controller or dropped it
}

func out(ports ...uint32) fate                  { return fate{ports: ports} }
func punted(cookie uint64) fate                 { return fate{controller: true, cookie: cookie} }
func droppedBy(table uint8, cookie uint64) fate { return fate{table: table, cookie: cookie} }

// check fails t unless the lookup's result is f.
func (f fate) check(t *testing.T, res *ofptest.Result) {
	t.Helper()
	switch {
	case f.controller:
		if len(res.PacketIns) != 1 || len(res.Outputs) != 0 || res.PacketIns[0].Cookie != controller.AppCookie(CookieID, f.cookie) {
			t.Errorf("want the controller by cookie %#x, got\n%s", controller.AppCookie(CookieID, f.cookie), res)
		}
	case len(f.ports) > 0:
		if got := res.OutputPorts(); !slices.Equal(got, f.ports) || res.ToController() {
			t.Errorf("want out of ports %v, got\n%s", f.ports, res)
		}
	default:
		last := res.Last()
		if !res.Dropped() || !last.Matched || last.Table != f.table || last.Cookie != controller.AppCookie(CookieID, f.cookie) {
			t.Errorf("want dropped in table %d by cookie %#x, got\n%s", f.table, controller.AppCookie(CookieID, f.cookie), res)
		}
	}
}

// Where each kind of traffic goes in the fabric example (s1: h1 on port
// 1, h2 on 2, s2 on 3, s3 on 4; s2: h3 on 1, s1 on 4; s3: h5 on 1, s1 on
// 3), looked up in the flows the controller installed.
func TestFabricForwarding(t *testing.T) {
	r := newRig(t, loadTopo(t, "fabric.yaml"))
	h1, h3, h5, gw := mac(h1MAC), mac(h3MAC), mac("00:00:0a:00:00:05"), mac(gwMAC)
	virtual := kindVirtual | macBits(gw)
	for _, c := range []struct {
		name   string
		dpid   uint64
		inPort uint32
		frame  []byte
		want   fate
	}{
		{"an ARP request for the gateway goes to the controller", 1, 1, arpRequest(t, h1, "10.0.0.1", "10.0.0.254"), punted(cookieARP)},
		{"an ARP request for a host goes to the controller", 1, 1, arpRequest(t, h1, "10.0.0.1", "10.0.0.3"), punted(cookieARP)},
		{"an ARP refresh to the gateway's MAC goes to the controller", 1, 1,
			frame(t, &layers.Ethernet{SrcMAC: h1, DstMAC: gw, EthernetType: layers.EthernetTypeARP}, &layers.ARP{
				AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
				Operation: layers.ARPRequest, SourceHwAddress: h1, SourceProtAddress: []byte{10, 0, 0, 1},
				DstHwAddress: gw, DstProtAddress: []byte{10, 0, 0, 254}}),
			punted(virtual)},
		{"an ARP reply from h3 to h1 crosses s2 towards s1", 2, 1, arpReply(t, h3, h1, "10.0.0.3", "10.0.0.1"), out(4)},
		{"IPv4 from h1 to h3 leaves s1 towards s2", 1, 1, ipv4UDP(t, h1, h3, "10.0.0.1", "10.0.0.3"), out(3)},
		{"IPv4 from h1 to h3 leaves s2 to h3", 2, 4, ipv4UDP(t, h1, h3, "10.0.0.1", "10.0.0.3"), out(1)},
		{"IPv4 from h1 to h2 stays on s1", 1, 1, ipv4UDP(t, h1, mac("00:00:0a:00:00:02"), "10.0.0.1", "10.0.0.2"), out(2)},
		{"IPv6 from h1 to h5 leaves s1 towards s3", 1, 1, ipv6TCP(t, h1, h5, "2001:db8::1", "2001:db8::5"), out(4)},
		{"IPv6 from h1 to h5 leaves s3 to h5", 3, 3, ipv6TCP(t, h1, h5, "2001:db8::1", "2001:db8::5"), out(1)},
		{"an NS for a host goes to the controller", 1, 1, neighborSolicitation(t, h1, "2001:db8::1", "2001:db8::3"), punted(cookieNS)},
		{"an NS for the gateway goes to the controller", 1, 1, neighborSolicitation(t, h1, "2001:db8::1", "2001:db8::fe"), punted(cookieNS)},
		{"a DAD probe goes to the controller", 1, 1, neighborSolicitation(t, h1, "::", "2001:db8::1"), punted(cookieNS)},
		{"a unicast NS to the gateway's MAC goes to the controller", 1, 1, unicastNS(t, h1, gw, "2001:db8::1", "2001:db8::fe"), punted(virtual)},
		{"a unicast NS between hosts is forwarded", 1, 1, unicastNS(t, h1, h3, "2001:db8::1", "2001:db8::3"), out(3)},
		{"an unsolicited NA goes to the controller", 1, 1, unsolicitedNA(t, h1, "2001:db8::1"), punted(cookieNA)},
		{"an RS goes to the controller", 1, 1, routerSolicitation(t, h1), punted(cookieRS)},
		{"IPv4 to the gateway's MAC is handed off, and dropped there with no routing app", 1, 1,
			ipv4UDP(t, h1, gw, "10.0.0.1", "192.0.2.1"), droppedBy(HandoffTable, CookieDropHandoff)},
		{"IPv6 to the gateway's MAC is handed off, and dropped there with no routing app", 1, 1,
			ipv6TCP(t, h1, gw, "2001:db8::1", "2001:db8:1::1"), droppedBy(HandoffTable, CookieDropHandoff)},
		{"unknown unicast is dropped", 1, 1, ipv4UDP(t, h1, mac("00:00:0a:00:00:99"), "10.0.0.1", "10.0.0.99"), droppedBy(0, CookieDropUnknown)},
		{"an IPv4 broadcast is dropped", 1, 1, ipv4UDP(t, h1, mac("ff:ff:ff:ff:ff:ff"), "0.0.0.0", "255.255.255.255"), droppedBy(0, CookieDropMulticast)},
		{"IPv6 multicast other than NDP is dropped", 1, 1, ipv6TCP(t, h1, mac("33:33:00:00:00:fb"), "2001:db8::1", "ff02::fb"), droppedBy(0, CookieDropMulticast)},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.want.check(t, r.sw[c.dpid].Lookup(t, c.frame, c.inPort))
		})
	}
}

// After a link goes down, the traffic goes round the ring the other way.
func TestFabricForwardingAfterLinkDown(t *testing.T) {
	r := newRig(t, loadTopo(t, "fabric.yaml"))
	down := &ofp.PortStatus{Reason: ofp.PortReasonModify, Port: ofp.Port{PortNo: 3, State: ofp.PortStateLinkDown}}
	if err := r.sw[1].SendMessage(down); err != nil {
		t.Fatal(err)
	}
	r.wantRoute(1, h3MAC, 4)
	h1, h3 := mac(h1MAC), mac(h3MAC)
	out(4).check(t, r.sw[1].Lookup(t, ipv6TCP(t, h1, h3, "2001:db8::1", "2001:db8::3"), 1))
	out(4).check(t, r.sw[3].Lookup(t, ipv6TCP(t, h1, h3, "2001:db8::1", "2001:db8::3"), 3))
	out(1).check(t, r.sw[2].Lookup(t, ipv6TCP(t, h1, h3, "2001:db8::1", "2001:db8::3"), 3))
}
