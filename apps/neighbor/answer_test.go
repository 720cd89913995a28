package neighbor

import (
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/packet"
	"github.com/sixgate/sixgate/topo"
)

func quietLog() *logrus.Entry {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return logrus.NewEntry(l)
}

func loadTopo(t testing.TB, name string) *topo.Topology {
	t.Helper()
	top, err := topo.Load("../../topo/examples/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return top
}

func mac(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

// Addresses of topo/examples/fabric.yaml.
const (
	h1MAC = "00:00:0a:00:00:01"
	h3MAC = "00:00:0a:00:00:03"
	gwMAC = "00:00:0a:00:00:fe"
	gwLL  = "fe80::200:aff:fe00:fe"
)

func frame(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	b, err := serialize(ls...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func arpRequest(t testing.TB, from net.HardwareAddr, sender, target string) []byte {
	return frame(t,
		&layers.Ethernet{SrcMAC: from, DstMAC: mac("ff:ff:ff:ff:ff:ff"), EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: layers.ARPRequest, SourceHwAddress: from, SourceProtAddress: netip.MustParseAddr(sender).AsSlice(),
			DstHwAddress: make([]byte, 6), DstProtAddress: netip.MustParseAddr(target).AsSlice()})
}

// icmp6 builds an NDP frame with hop limit 255 from src to dst.
func icmp6(t testing.TB, from, to net.HardwareAddr, src, dst string, typ uint8, msg gopacket.SerializableLayer) []byte {
	t.Helper()
	ip := &layers.IPv6{Version: 6, NextHeader: layers.IPProtocolICMPv6, HopLimit: 255,
		SrcIP: netip.MustParseAddr(src).AsSlice(), DstIP: netip.MustParseAddr(dst).AsSlice()}
	ic := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(typ, 0)}
	ic.SetNetworkLayerForChecksum(ip)
	return frame(t, &layers.Ethernet{SrcMAC: from, DstMAC: to, EthernetType: layers.EthernetTypeIPv6}, ip, ic, msg)
}

func neighborSolicitation(t testing.TB, from net.HardwareAddr, src, target string) []byte {
	t.Helper()
	tgt := netip.MustParseAddr(target)
	var opts layers.ICMPv6Options
	if src != "::" {
		opts = layers.ICMPv6Options{{Type: layers.ICMPv6OptSourceAddress, Data: from}}
	}
	sn := solicitedNode(tgt)
	return icmp6(t, from, multicastMAC(sn), src, sn.String(), icmpNS,
		&layers.ICMPv6NeighborSolicitation{TargetAddress: tgt.AsSlice(), Options: opts})
}

// decode decodes an answer and fails t unless every checksum in it is
// right, by gopacket's verification and by an RFC 1071 sum computed here.
func decode(t *testing.T, b []byte) gopacket.Packet {
	t.Helper()
	pkt := gopacket.NewPacket(b, layers.LayerTypeEthernet, gopacket.Default)
	if el := pkt.ErrorLayer(); el != nil {
		t.Fatalf("answer does not decode: %v", el.Error())
	}
	if ip, ok := pkt.Layer(layers.LayerTypeIPv6).(*layers.IPv6); ok {
		if icmp, ok := pkt.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6); ok {
			// Decoding does not tell the ICMPv6 layer its pseudo-header.
			icmp.SetNetworkLayerForChecksum(ip)
		}
	}
	if err, bad := pkt.VerifyChecksums(); err != nil || len(bad) > 0 {
		t.Fatalf("checksums: %v %v", err, bad)
	}
	if ip, ok := pkt.Layer(layers.LayerTypeIPv6).(*layers.IPv6); ok && ip.NextHeader == layers.IPProtocolICMPv6 {
		if !packet.ChecksumOK(packet.PseudoHeaderSum(ip.SrcIP.To16(), ip.DstIP.To16(), packet.ProtoICMPv6, len(ip.Payload)), ip.Payload) {
			t.Fatalf("ICMPv6 checksum does not verify: %x", ip.Payload)
		}
	}
	return pkt
}

func newView(t *testing.T, name string) *view {
	return New(loadTopo(t, name), quietLog()).view.Load()
}

func one(t *testing.T, frames [][]byte, v verdict) []byte {
	t.Helper()
	if v != answered || len(frames) != 1 {
		t.Fatalf("verdict %v with %d frames, want one answer", v, len(frames))
	}
	return frames[0]
}

func TestARPReply(t *testing.T) {
	v := newView(t, "fabric.yaml")
	for _, c := range []struct{ target, mac string }{
		{"10.0.0.3", h3MAC},   // a host
		{"10.0.0.254", gwMAC}, // the gateway
	} {
		frames, kind, vd := v.handle(arpRequest(t, mac(h1MAC), "10.0.0.1", c.target))
		pkt := decode(t, one(t, frames, vd))
		if kind != "arp" {
			t.Errorf("kind %q", kind)
		}
		eth := pkt.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
		arp := pkt.Layer(layers.LayerTypeARP).(*layers.ARP)
		if eth.SrcMAC.String() != c.mac || eth.DstMAC.String() != h1MAC || eth.EthernetType != layers.EthernetTypeARP {
			t.Errorf("%s: Ethernet %v -> %v type %v", c.target, eth.SrcMAC, eth.DstMAC, eth.EthernetType)
		}
		if arp.Operation != layers.ARPReply ||
			net.HardwareAddr(arp.SourceHwAddress).String() != c.mac || net.IP(arp.SourceProtAddress).String() != c.target ||
			net.HardwareAddr(arp.DstHwAddress).String() != h1MAC || net.IP(arp.DstProtAddress).String() != "10.0.0.1" {
			t.Errorf("%s: ARP %+v", c.target, arp)
		}
		// Padded to the Ethernet minimum with zeros, as a NIC would.
		if f := frames[0]; len(f) != 60 || string(f[42:]) != string(make([]byte, 18)) {
			t.Errorf("%s: frame of %d bytes %x, want 42 padded with zeros to 60", c.target, len(f), f)
		}
	}
}

func TestARPNotAnswered(t *testing.T) {
	v := newView(t, "fabric.yaml")
	reply := frame(t,
		&layers.Ethernet{SrcMAC: mac(h3MAC), DstMAC: mac(h1MAC), EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: layers.ARPReply, SourceHwAddress: mac(h3MAC), SourceProtAddress: []byte{10, 0, 0, 3},
			DstHwAddress: mac(h1MAC), DstProtAddress: []byte{10, 0, 0, 1}})
	for name, c := range map[string]struct {
		frame []byte
		want  verdict
	}{
		"unknown target":      {arpRequest(t, mac(h1MAC), "10.0.0.1", "10.0.0.99"), unknownTarget},
		"gratuitous":          {arpRequest(t, mac(h1MAC), "10.0.0.1", "10.0.0.1"), notQuestion},
		"owner probes itself": {arpRequest(t, mac(h3MAC), "0.0.0.0", "10.0.0.3"), selfQuery},
		"a reply":             {reply, notQuestion},
	} {
		if frames, _, vd := v.handle(c.frame); vd != c.want || frames[0] != nil {
			t.Errorf("%s: verdict %v, want %v", name, vd, c.want)
		}
	}
}

func TestNSToSolicitedNodeAnsweredWithNA(t *testing.T) {
	v := newView(t, "fabric.yaml")
	for _, c := range []struct {
		target, mac string
		router      bool
	}{
		{"2001:db8::3", h3MAC, false},
		{"2001:db8::fe", gwMAC, true},
		{gwLL, gwMAC, true},
	} {
		frames, kind, vd := v.handle(neighborSolicitation(t, mac(h1MAC), "2001:db8::1", c.target))
		pkt := decode(t, one(t, frames, vd))
		if kind != "ns" {
			t.Errorf("kind %q", kind)
		}
		eth := pkt.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
		ip := pkt.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
		icmp := pkt.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
		na, ok := pkt.Layer(layers.LayerTypeICMPv6NeighborAdvertisement).(*layers.ICMPv6NeighborAdvertisement)
		if !ok {
			t.Fatalf("%s: no NA in %v", c.target, pkt)
		}
		if eth.SrcMAC.String() != c.mac || eth.DstMAC.String() != h1MAC {
			t.Errorf("%s: Ethernet %v -> %v", c.target, eth.SrcMAC, eth.DstMAC)
		}
		if ip.SrcIP.String() != c.target || ip.DstIP.String() != "2001:db8::1" || ip.HopLimit != 255 {
			t.Errorf("%s: IPv6 %v -> %v hop limit %d", c.target, ip.SrcIP, ip.DstIP, ip.HopLimit)
		}
		if icmp.TypeCode != layers.CreateICMPv6TypeCode(layers.ICMPv6TypeNeighborAdvertisement, 0) {
			t.Errorf("%s: ICMPv6 %v", c.target, icmp.TypeCode)
		}
		if na.TargetAddress.String() != c.target || !na.Solicited() || !na.Override() || na.Router() != c.router {
			t.Errorf("%s: NA target %v solicited %v override %v router %v", c.target, na.TargetAddress, na.Solicited(), na.Override(), na.Router())
		}
		if len(na.Options) != 1 || na.Options[0].Type != layers.ICMPv6OptTargetAddress || net.HardwareAddr(na.Options[0].Data).String() != c.mac {
			t.Errorf("%s: NA options %v, want the target link-layer address %s", c.target, na.Options, c.mac)
		}
	}
}

func TestNSUnicastWithoutSourceOptionAnsweredToFrameSource(t *testing.T) {
	v := newView(t, "fabric.yaml")
	f := icmp6(t, mac(h1MAC), mac(gwMAC), "2001:db8::1", "2001:db8::fe", icmpNS,
		&layers.ICMPv6NeighborSolicitation{TargetAddress: netip.MustParseAddr("2001:db8::fe").AsSlice()})
	frames, _, vd := v.handle(f)
	pkt := decode(t, one(t, frames, vd))
	if eth := pkt.Layer(layers.LayerTypeEthernet).(*layers.Ethernet); eth.DstMAC.String() != h1MAC {
		t.Errorf("answer to %v, want %s", eth.DstMAC, h1MAC)
	}
}

// A host probing (DAD) an address only the controller answers for is told
// it is taken, by an advertisement to all nodes.
func TestDADDefendsVirtualAddresses(t *testing.T) {
	v := newView(t, "fabric.yaml")
	frames, kind, vd := v.handle(neighborSolicitation(t, mac(h1MAC), "::", "2001:db8::fe"))
	if kind != "ns" {
		t.Fatalf("kind %q", kind)
	}
	p := decode(t, one(t, frames, vd))
	ip := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
	na := p.Layer(layers.LayerTypeICMPv6NeighborAdvertisement).(*layers.ICMPv6NeighborAdvertisement)
	if ip.DstIP.String() != "ff02::1" || na.Solicited() || !na.Override() || net.IP(na.TargetAddress).String() != "2001:db8::fe" {
		t.Errorf("defence: %v -> %v solicited %v override %v target %v", ip.SrcIP, ip.DstIP, na.Solicited(), na.Override(), net.IP(na.TargetAddress))
	}
}

func TestNSNotAnswered(t *testing.T) {
	v := newView(t, "fabric.yaml")
	tgt := netip.MustParseAddr("2001:db8::3")
	wrongGroup := icmp6(t, mac(h1MAC), mac("33:33:ff:00:00:04"), "2001:db8::1", "ff02::1:ff00:4", icmpNS,
		&layers.ICMPv6NeighborSolicitation{TargetAddress: tgt.AsSlice()})
	forwarded := neighborSolicitation(t, mac(h1MAC), "2001:db8::1", "2001:db8::3")
	forwarded[14+7] = 254 // hop limit: it crossed a router
	corrupt := neighborSolicitation(t, mac(h1MAC), "2001:db8::1", "2001:db8::3")
	corrupt[14+40+2] ^= 0x55 // ICMPv6 checksum
	for name, c := range map[string]struct {
		frame []byte
		want  verdict
	}{
		// DAD: the host checks its own new address, from ::.
		"DAD probe":           {neighborSolicitation(t, mac(h3MAC), "::", "2001:db8::3"), dadProbe},
		"DAD probe by other":  {neighborSolicitation(t, mac(h1MAC), "::", "2001:db8::3"), dadProbe},
		"unknown target":      {neighborSolicitation(t, mac(h1MAC), "2001:db8::1", "2001:db8::99"), unknownTarget},
		"owner asks":          {neighborSolicitation(t, mac(h3MAC), "2001:db8::3", "2001:db8::3"), selfQuery},
		"wrong group":         {wrongGroup, malformed},
		"hop limit below 255": {forwarded, malformed},
		"bad checksum":        {corrupt, malformed},
	} {
		if frames, _, vd := v.handle(c.frame); vd != c.want || len(frames) != 1 || frames[0] != nil {
			t.Errorf("%s: verdict %v, want %v", name, vd, c.want)
		}
	}
}

func TestRSAnsweredWithRA(t *testing.T) {
	v := newView(t, "fabric.yaml")
	for _, c := range []struct{ src, wantDst, wantMAC string }{
		{"fe80::200:aff:fe00:1", "fe80::200:aff:fe00:1", h1MAC},
		{"::", "ff02::1", "33:33:00:00:00:01"},
	} {
		var opts layers.ICMPv6Options
		if c.src != "::" {
			opts = layers.ICMPv6Options{{Type: layers.ICMPv6OptSourceAddress, Data: mac(h1MAC)}}
		}
		rs := icmp6(t, mac(h1MAC), mac("33:33:00:00:00:02"), c.src, "ff02::2", icmpRS, &layers.ICMPv6RouterSolicitation{Options: opts})
		frames, kind, vd := v.handle(rs)
		pkt := decode(t, one(t, frames, vd))
		if kind != "rs" {
			t.Errorf("kind %q", kind)
		}
		eth := pkt.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
		ip := pkt.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
		ra, ok := pkt.Layer(layers.LayerTypeICMPv6RouterAdvertisement).(*layers.ICMPv6RouterAdvertisement)
		if !ok {
			t.Fatalf("no RA in %v", pkt)
		}
		if eth.SrcMAC.String() != gwMAC || eth.DstMAC.String() != c.wantMAC {
			t.Errorf("RS from %s: Ethernet %v -> %v", c.src, eth.SrcMAC, eth.DstMAC)
		}
		if ip.SrcIP.String() != gwLL || ip.DstIP.String() != c.wantDst || ip.HopLimit != 255 {
			t.Errorf("RS from %s: IPv6 %v -> %v hop limit %d", c.src, ip.SrcIP, ip.DstIP, ip.HopLimit)
		}
		// fabric.yaml: hop_limit 64, router_lifetime 1800s, mtu 1500,
		// prefixes from the gateway's 2001:db8::fe/64.
		if ra.HopLimit != 64 || ra.RouterLifetime != 1800 || ra.ManagedAddressConfig() || ra.OtherConfig() {
			t.Errorf("RA %+v", ra)
		}
		var sll, mtu, prefix bool
		for _, o := range ra.Options {
			switch o.Type {
			case layers.ICMPv6OptSourceAddress:
				sll = net.HardwareAddr(o.Data).String() == gwMAC
			case layers.ICMPv6OptMTU:
				mtu = binary.BigEndian.Uint32(o.Data[2:]) == 1500
			case layers.ICMPv6OptPrefixInfo:
				p := netip.PrefixFrom(netip.AddrFrom16([16]byte(o.Data[14:30])), int(o.Data[0]))
				valid := time.Duration(binary.BigEndian.Uint32(o.Data[2:])) * time.Second
				prefix = p.String() == "2001:db8::/64" && o.Data[1] == 0x80 /* on-link only */ && valid == topo.DefaultRAValidLifetime
			}
		}
		if !sll || !mtu || !prefix {
			t.Errorf("RA options %v: source link-layer %v, MTU %v, prefix %v", ra.Options, sll, mtu, prefix)
		}
	}
}

func TestRSWithoutAdvertisingGateway(t *testing.T) {
	v := newView(t, "seed.yaml")
	rs := icmp6(t, mac(h1MAC), mac("33:33:00:00:00:02"), "::", "ff02::2", icmpRS, &layers.ICMPv6RouterSolicitation{})
	if _, _, vd := v.handle(rs); vd != noRouter {
		t.Errorf("verdict %v, want %v", vd, noRouter)
	}
}

// The seed topology answers for the VIP and for any address of pool6 with
// the splice46 MAC, without registering anything.
func TestSplice46AddressesFromTheModel(t *testing.T) {
	v := newView(t, "seed.yaml")
	frames, _, vd := v.handle(arpRequest(t, mac(h3MAC), "10.0.0.3", "10.0.0.42"))
	pkt := decode(t, one(t, frames, vd))
	if a := pkt.Layer(layers.LayerTypeARP).(*layers.ARP); net.HardwareAddr(a.SourceHwAddress).String() != "00:00:0a:00:00:42" {
		t.Errorf("VIP answered with %v", net.HardwareAddr(a.SourceHwAddress))
	}
	frames, _, vd = v.handle(neighborSolicitation(t, mac(h1MAC), "2001:db8::1", "2001:db8:ffff::a00:3"))
	pkt = decode(t, one(t, frames, vd))
	if na := pkt.Layer(layers.LayerTypeICMPv6NeighborAdvertisement).(*layers.ICMPv6NeighborAdvertisement); na.Router() ||
		net.HardwareAddr(na.Options[0].Data).String() != "00:00:0a:00:00:42" {
		t.Errorf("pool6 address answered %+v", na)
	}
}

func TestRegister(t *testing.T) {
	a := New(loadTopo(t, "fabric.yaml"), quietLog())
	vipMAC := mac("00:00:0a:00:00:77")
	if err := a.Register("nat64", netip.MustParsePrefix("64:ff9b::/96"), vipMAC); err != nil {
		t.Fatal(err)
	}
	if err := a.Register("nat64", netip.MustParsePrefix("10.0.0.77/32"), vipMAC); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct {
		owner  string
		prefix netip.Prefix
		mac    net.HardwareAddr
	}{
		{"", netip.MustParsePrefix("10.0.0.9/32"), vipMAC},
		{"x", netip.Prefix{}, vipMAC},
		{"x", netip.MustParsePrefix("10.0.0.9/32"), mac("01:00:5e:00:00:01")},
		{"x", netip.MustParsePrefix("10.0.0.9/32"), mac(h3MAC)},
		{"x", netip.MustParsePrefix("::ffff:10.0.0.9/128"), vipMAC},
	} {
		if err := a.Register(bad.owner, bad.prefix, bad.mac); err == nil {
			t.Errorf("Register(%q, %v, %v) accepted", bad.owner, bad.prefix, bad.mac)
		}
	}
	v := a.view.Load()
	frames, _, vd := v.handle(neighborSolicitation(t, mac(h1MAC), "2001:db8::1", "64:ff9b::a00:5"))
	pkt := decode(t, one(t, frames, vd))
	if e := pkt.Layer(layers.LayerTypeEthernet).(*layers.Ethernet); e.SrcMAC.String() != vipMAC.String() {
		t.Errorf("registered prefix answered from %v", e.SrcMAC)
	}
	frames, _, vd = v.handle(arpRequest(t, mac(h1MAC), "10.0.0.1", "10.0.0.77"))
	decode(t, one(t, frames, vd))
	// A host's address keeps its owner even inside a registered prefix.
	if err := a.Register("wide", netip.MustParsePrefix("10.0.0.0/24"), vipMAC); err != nil {
		t.Fatal(err)
	}
	frames, _, vd = a.view.Load().handle(arpRequest(t, mac(h1MAC), "10.0.0.1", "10.0.0.3"))
	pkt = decode(t, one(t, frames, vd))
	if e := pkt.Layer(layers.LayerTypeEthernet).(*layers.Ethernet); e.SrcMAC.String() != h3MAC {
		t.Errorf("host address answered from %v", e.SrcMAC)
	}
	if got := a.view.Load().virtualAddrs(); !containsAddr(got, "10.0.0.77") || containsAddr(got, "10.0.0.0") {
		t.Errorf("announced addresses %v: want the single registered address, not the prefix", got)
	}

	a.Unregister("nat64")
	a.Unregister("wide")
	if _, _, vd := a.view.Load().handle(arpRequest(t, mac(h1MAC), "10.0.0.1", "10.0.0.77")); vd != unknownTarget {
		t.Errorf("after Unregister: %v", vd)
	}
	if n := len(a.view.Load().virtual); n != 1 {
		t.Errorf("%d virtual MACs after Unregister, want the gateway's only", n)
	}
}

// RegisterSet replaces an owner's registrations in one step and leaves
// other owners' alone.
func TestRegisterSet(t *testing.T) {
	a := New(loadTopo(t, "fabric.yaml"), quietLog())
	xMAC := mac("00:00:0a:00:00:78")
	if err := a.Register("other", netip.MustParsePrefix("10.0.0.88/32"), xMAC); err != nil {
		t.Fatal(err)
	}
	set := []netip.Prefix{netip.MustParsePrefix("10.0.0.80/32"), netip.MustParsePrefix("64:ff9b::/96")}
	if err := a.RegisterSet("siit", set, xMAC); err != nil {
		t.Fatal(err)
	}
	answered := func(target string) bool {
		_, _, vd := a.view.Load().handle(arpRequest(t, mac(h1MAC), "10.0.0.1", target))
		return vd != unknownTarget
	}
	if !answered("10.0.0.80") || !answered("10.0.0.88") {
		t.Fatal("registered addresses not answered")
	}
	if err := a.RegisterSet("siit", set[1:], xMAC); err != nil {
		t.Fatal(err)
	}
	if answered("10.0.0.80") || !answered("10.0.0.88") {
		t.Error("RegisterSet did not replace only its owner's registrations")
	}
	bad := []netip.Prefix{netip.MustParsePrefix("10.0.0.81/32"), netip.MustParsePrefix("::ffff:10.0.0.9/128")}
	if err := a.RegisterSet("siit", bad, xMAC); err == nil {
		t.Error("a mapped prefix accepted")
	}
	if answered("10.0.0.81") {
		t.Error("a refused set was partly registered")
	}
	if err := a.RegisterSet("siit", set, mac(h3MAC)); err == nil {
		t.Error("a host's MAC accepted")
	}
}

func containsAddr(as []netip.Addr, s string) bool {
	for _, a := range as {
		if a.String() == s {
			return true
		}
	}
	return false
}

func TestAnnouncements(t *testing.T) {
	v := newView(t, "fabric.yaml")
	f, err := gratuitousARP(netip.MustParseAddr("10.0.0.254"), mac(gwMAC))
	if err != nil {
		t.Fatal(err)
	}
	pkt := decode(t, f)
	arp := pkt.Layer(layers.LayerTypeARP).(*layers.ARP)
	if arp.Operation != layers.ARPRequest || net.IP(arp.SourceProtAddress).String() != "10.0.0.254" ||
		net.IP(arp.DstProtAddress).String() != "10.0.0.254" || net.HardwareAddr(arp.SourceHwAddress).String() != gwMAC ||
		pkt.Layer(layers.LayerTypeEthernet).(*layers.Ethernet).DstMAC.String() != "ff:ff:ff:ff:ff:ff" {
		t.Errorf("gratuitous ARP %+v", arp)
	}
	ans, _ := v.lookup(netip.MustParseAddr("2001:db8::fe"))
	f, err = v.unsolicitedNA(netip.MustParseAddr("2001:db8::fe"), ans)
	if err != nil {
		t.Fatal(err)
	}
	pkt = decode(t, f)
	na := pkt.Layer(layers.LayerTypeICMPv6NeighborAdvertisement).(*layers.ICMPv6NeighborAdvertisement)
	ip := pkt.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
	if na.Solicited() || !na.Override() || !na.Router() || ip.DstIP.String() != "ff02::1" ||
		pkt.Layer(layers.LayerTypeEthernet).(*layers.Ethernet).DstMAC.String() != "33:33:00:00:00:01" {
		t.Errorf("unsolicited NA %+v to %v", na, ip.DstIP)
	}
	want := []string{"10.0.0.254", "2001:db8::fe", gwLL}
	got := v.virtualAddrs()
	if len(got) != len(want) {
		t.Fatalf("virtual addresses %v, want %v", got, want)
	}
	for _, w := range want {
		if !containsAddr(got, w) {
			t.Errorf("virtual addresses %v lack %s", got, w)
		}
	}
}

func TestSolicitedNode(t *testing.T) {
	for in, want := range map[string]string{
		"2001:db8::3":           "ff02::1:ff00:3",
		"fe80::200:aff:fe00:fe": "ff02::1:ff00:fe",
		"2001:db8::1234:5678":   "ff02::1:ff34:5678",
	} {
		if got := solicitedNode(netip.MustParseAddr(in)).String(); got != want {
			t.Errorf("solicitedNode(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestMalformedFramesDoNotPanic(t *testing.T) {
	v := newView(t, "fabric.yaml")
	ns := neighborSolicitation(t, mac(h1MAC), "2001:db8::1", "2001:db8::3")
	arp := arpRequest(t, mac(h1MAC), "10.0.0.1", "10.0.0.3")
	for _, f := range [][]byte{nil, {1, 2, 3}, ns[:20], ns[:14+40+10], arp[:20], arp[:30]} {
		if frames, _, vd := v.handle(f); vd == answered {
			t.Errorf("answered a %d-byte fragment: %x", len(f), frames)
		}
	}
}

func TestNotNeighborDiscovery(t *testing.T) {
	v := newView(t, "fabric.yaml")
	ip4 := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IP{10, 0, 0, 1}, DstIP: net.IP{10, 0, 0, 255}}
	udp := &layers.UDP{SrcPort: 68, DstPort: 67}
	udp.SetNetworkLayerForChecksum(ip4)
	bcast := frame(t, &layers.Ethernet{SrcMAC: mac(h1MAC), DstMAC: mac("ff:ff:ff:ff:ff:ff"), EthernetType: layers.EthernetTypeIPv4}, ip4, udp)
	echo6 := icmp6(t, mac(h1MAC), mac(h3MAC), "2001:db8::1", "2001:db8::3", uint8(layers.ICMPv6TypeEchoRequest), &layers.ICMPv6Echo{Identifier: 1})
	for name, f := range map[string][]byte{"IPv4 broadcast": bcast, "ICMPv6 echo": echo6} {
		if _, _, vd := v.handle(f); vd != notND {
			t.Errorf("%s: verdict %v, want %v", name, vd, notND)
		}
	}
}

// TestAdvertisementsAreNotQuestionsEachOfItsKind: NAs and RAs from others
// are not answered, and each is logged under its own kind.
func TestAdvertisementsAreNotQuestionsEachOfItsKind(t *testing.T) {
	v := newView(t, "fabric.yaml")
	ra := v.routerAdvertisements(allNodes(), multicastMAC(allNodes()))
	if len(ra) == 0 {
		t.Fatal("fabric.yaml has no advertising gateway")
	}
	ans, ok := v.lookup(netip.MustParseAddr("2001:db8::fe"))
	if !ok {
		t.Fatal("no answer for the gateway address")
	}
	na, err := v.unsolicitedNA(netip.MustParseAddr("2001:db8::fe"), ans)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		frame []byte
		kind  string
	}{{ra[0], "ra"}, {na, "na"}} {
		frames, kind, vd := v.handle(c.frame)
		if frames != nil || vd != notQuestion || kind != c.kind {
			t.Errorf("handle = %d frames, kind %q, verdict %v; want none, %q, %v", len(frames), kind, vd, c.kind, notQuestion)
		}
	}
}

// BenchmarkARPAnswer measures one ARP request answered, decode to frame.
func BenchmarkARPAnswer(b *testing.B) {
	v := New(loadTopo(b, "fabric.yaml"), quietLog()).view.Load()
	req := arpRequest(b, mac(h1MAC), "10.0.0.1", "10.0.0.254")
	b.ReportAllocs()
	for b.Loop() {
		if _, _, vd := v.handle(req); vd != answered {
			b.Fatal(vd)
		}
	}
}
