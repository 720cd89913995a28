package clat

import (
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/sixgate/sixgate/packet"
	"github.com/sixgate/sixgate/siit"
)

var testParams = engineParams{
	pref64:  netip.MustParsePrefix("64:ff9b::/96"),
	host4:   HostIPv4,
	own4:    EngineIPv4,
	clat6:   netip.MustParseAddr("2001:db8:c1a7:0:8125:1926:eb10:ca18"),
	own6:    netip.MustParseAddr("2001:db8:c1a7::10"),
	mtu4:    engineMTU4,
	mtu6:    1500,
	lowest6: lowestIPv6MTU,
}

func serialize(t *testing.T, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestEngineConfig sends an echo request from the host through the
// translator as the CLAT configures it, and the reply back: the request
// leaves from the dedicated address toward the NAT64 prefix, the reply
// reaches 192.0.0.1.
func TestEngineConfig(t *testing.T) {
	tr, err := siit.New(siitConfig(testParams))
	if err != nil {
		t.Fatal(err)
	}
	out := packet.NewBatch(2, packet.DefaultBufSize)
	ip4 := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: HostIPv4.AsSlice(), DstIP: []byte{198, 51, 100, 2}, Flags: layers.IPv4DontFragment}
	req := serialize(t, ip4, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 7, Seq: 1}, gopacket.Payload("ping"))
	if v := tr.Handle(req, out); v != packet.Consumed || out.Len() != 1 {
		t.Fatalf("request: %v, %d packets", v, out.Len())
	}
	got := out.Packets[0]
	want6 := netip.MustParseAddr("64:ff9b::c633:6402")
	if got.Family != packet.IPv6Family || got.Dst != want6 {
		t.Fatalf("request out as %v to %v", got.Family, got.Dst)
	}
	p := gopacket.NewPacket(got.Data, layers.LayerTypeIPv6, gopacket.Default)
	ip6, _ := p.NetworkLayer().(*layers.IPv6)
	icmp6, _ := p.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
	if ip6 == nil || icmp6 == nil || netip.AddrFrom16([16]byte(ip6.SrcIP)) != testParams.clat6 || icmp6.TypeCode.Type() != layers.ICMPv6TypeEchoRequest {
		t.Fatalf("request translated to %v", p)
	}

	reply6 := &layers.IPv6{Version: 6, HopLimit: 60, NextHeader: layers.IPProtocolICMPv6, SrcIP: want6.AsSlice(), DstIP: testParams.clat6.AsSlice()}
	icmpReply := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeEchoReply, 0)}
	icmpReply.SetNetworkLayerForChecksum(reply6)
	reply := serialize(t, reply6, icmpReply, &layers.ICMPv6Echo{Identifier: 7, SeqNumber: 1}, gopacket.Payload("ping"))
	out.Reset()
	if v := tr.Handle(reply, out); v != packet.Consumed || out.Len() != 1 {
		t.Fatalf("reply: %v, %d packets", v, out.Len())
	}
	got = out.Packets[0]
	if got.Family != packet.IPv4Family || got.Dst != HostIPv4 {
		t.Fatalf("reply out as %v to %v", got.Family, got.Dst)
	}
	p = gopacket.NewPacket(got.Data, layers.LayerTypeIPv4, gopacket.Default)
	if ip, _ := p.NetworkLayer().(*layers.IPv4); ip == nil || !ip.SrcIP.Equal([]byte{198, 51, 100, 2}) {
		t.Fatalf("reply translated to %v", p)
	}
}

func TestFromHost(t *testing.T) {
	ip := func(src []byte) []byte {
		ip4 := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: src, DstIP: []byte{198, 51, 100, 2}}
		udp := &layers.UDP{SrcPort: 1, DstPort: 2}
		udp.SetNetworkLayerForChecksum(ip4)
		return serialize(t, ip4, udp)
	}
	if !fromHost(ip(HostIPv4.AsSlice())) {
		t.Error("192.0.0.1 refused")
	}
	for name, b := range map[string][]byte{
		"other source": ip([]byte{172, 17, 0, 2}),
		"truncated":    ip(HostIPv4.AsSlice())[:16],
		"IPv6":         segment6(t, layers.IPProtocolUDP, 4),
	} {
		if fromHost(b) {
			t.Errorf("%s accepted", name)
		}
	}
}
