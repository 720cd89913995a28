package ofptest_test

import (
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/sixgate/sixgate/controller"
	"github.com/sixgate/sixgate/controller/controllertest"
	"github.com/sixgate/sixgate/controller/ofp"
	"github.com/sixgate/sixgate/controller/ofptest"
)

var (
	macA  = net.HardwareAddr{0, 0, 0, 0, 0, 0xa}
	macB  = net.HardwareAddr{0, 0, 0, 0, 0, 0xb}
	macC  = net.HardwareAddr{0, 0, 0, 0, 0, 0xc}
	bcast = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
)

func build(t *testing.T, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// tcp4 is a TCP SYN from macA to macB between two IPv4 addresses.
func tcp4(t *testing.T, src, dst string, dport uint16) []byte {
	t.Helper()
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP,
		SrcIP: netip.MustParseAddr(src).AsSlice(), DstIP: netip.MustParseAddr(dst).AsSlice()}
	tcp := &layers.TCP{SrcPort: 40000, DstPort: layers.TCPPort(dport), SYN: true, Seq: 1, Window: 1000}
	tcp.SetNetworkLayerForChecksum(ip)
	return build(t, &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4}, ip, tcp)
}

func udp4(t *testing.T, dst string, dport uint16) []byte {
	t.Helper()
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP,
		SrcIP: net.IP{10, 0, 0, 1}, DstIP: netip.MustParseAddr(dst).AsSlice()}
	udp := &layers.UDP{SrcPort: 5000, DstPort: layers.UDPPort(dport)}
	udp.SetNetworkLayerForChecksum(ip)
	return build(t, &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4}, ip, udp, gopacket.Payload("x"))
}

func tcp6(t *testing.T, dst string, dport uint16) []byte {
	t.Helper()
	ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP,
		SrcIP: netip.MustParseAddr("2001:db8::1").AsSlice(), DstIP: netip.MustParseAddr(dst).AsSlice()}
	tcp := &layers.TCP{SrcPort: 40000, DstPort: layers.TCPPort(dport), SYN: true, Window: 1000}
	tcp.SetNetworkLayerForChecksum(ip)
	return build(t, &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv6}, ip, tcp)
}

func arpRequest(t *testing.T, target string) []byte {
	t.Helper()
	return build(t, &layers.Ethernet{SrcMAC: macA, DstMAC: bcast, EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: layers.ARPRequest, SourceHwAddress: macA, SourceProtAddress: []byte{10, 0, 0, 1},
			DstHwAddress: make([]byte, 6), DstProtAddress: netip.MustParseAddr(target).AsSlice()})
}

func neighborSolicitation(t *testing.T, target string) []byte {
	t.Helper()
	ip := &layers.IPv6{Version: 6, HopLimit: 255, NextHeader: layers.IPProtocolICMPv6,
		SrcIP: netip.MustParseAddr("2001:db8::1").AsSlice(), DstIP: netip.MustParseAddr("ff02::1:ff00:2").AsSlice()}
	ic := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeNeighborSolicitation, 0)}
	ic.SetNetworkLayerForChecksum(ip)
	ns := &layers.ICMPv6NeighborSolicitation{TargetAddress: netip.MustParseAddr(target).AsSlice(),
		Options: layers.ICMPv6Options{{Type: layers.ICMPv6OptSourceAddress, Data: macA}}}
	return build(t, &layers.Ethernet{SrcMAC: macA, DstMAC: net.HardwareAddr{0x33, 0x33, 0xff, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv6},
		ip, ic, ns)
}

func ping4(t *testing.T, dst string) []byte {
	t.Helper()
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolICMPv4,
		SrcIP: net.IP{10, 0, 0, 1}, DstIP: netip.MustParseAddr(dst).AsSlice()}
	return build(t, &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4}, ip,
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 1, Seq: 1})
}

func prefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func apply(as ...ofp.Action) []ofp.Instruction { return []ofp.Instruction{ofp.ApplyActions(as...)} }

func flow(table uint8, prio uint16, cookie uint64, m ofp.Match, is ...ofp.Instruction) ofp.FlowStats {
	return ofp.FlowStats{TableID: table, Priority: prio, Cookie: cookie, Match: m, Instructions: is}
}

func ports(nos ...uint32) []ofp.Port {
	var ps []ofp.Port
	for _, no := range nos {
		ps = append(ps, ofp.Port{PortNo: no})
	}
	return ps
}

func wantPorts(t *testing.T, r *ofptest.Result, want ...uint32) {
	t.Helper()
	if got := r.OutputPorts(); !slices.Equal(got, want) {
		t.Errorf("output ports %v, want %v\n%s", got, want, r)
	}
}

func TestLookupHighestPriorityWins(t *testing.T) {
	p := &ofptest.Pipeline{Flows: []ofp.FlowStats{
		flow(0, 10, 1, ofp.NewMatch(ofp.EthType(0x0800)), apply(ofp.Output(1))...),
		flow(0, 20, 2, ofp.NewMatch(ofp.EthType(0x0800), ofp.IPv4Dst(prefix("10.0.0.0/24"))), apply(ofp.Output(2))...),
		flow(0, 30, 3, ofp.NewMatch(ofp.EthType(0x0800), ofp.IPProto(6), ofp.IPv4Dst(prefix("10.0.0.7/32")), ofp.TCPDst(80)), apply(ofp.Output(3))...),
	}}
	wantPorts(t, p.Lookup(t, tcp4(t, "10.0.0.1", "10.0.0.5", 80), 9), 2)
	wantPorts(t, p.Lookup(t, tcp4(t, "10.0.0.1", "10.1.0.5", 80), 9), 1)
	r := p.Lookup(t, tcp4(t, "10.0.0.1", "10.0.0.7", 80), 9)
	wantPorts(t, r, 3)
	if h := r.Last(); h.Priority != 30 || h.Cookie != 3 || !h.Matched {
		t.Errorf("matched %+v, want the priority 30 flow", h)
	}
	// Same address, another port: the TCP flow does not match.
	wantPorts(t, p.Lookup(t, tcp4(t, "10.0.0.1", "10.0.0.7", 22), 9), 2)
	// A UDP datagram to port 80 is not TCP to port 80.
	wantPorts(t, p.Lookup(t, udp4(t, "10.0.0.7", 80), 9), 2)
}

func TestLookupMasks(t *testing.T) {
	group := net.HardwareAddr{1, 0, 0, 0, 0, 0}
	p := &ofptest.Pipeline{Flows: []ofp.FlowStats{
		flow(0, 10, 1, ofp.NewMatch(ofp.EthDstMasked(group, group)), apply(ofp.Output(ofp.PortController))...),
		flow(0, 10, 2, ofp.NewMatch(ofp.EthType(0x86dd), ofp.IPv6Dst(prefix("2001:db8:ffff::/96"))), apply(ofp.Output(2))...),
		flow(0, 5, 3, ofp.NewMatch(), apply(ofp.Output(3))...),
	}}
	if r := p.Lookup(t, arpRequest(t, "10.0.0.2"), 1); !r.ToController() || r.Last().Cookie != 1 {
		t.Errorf("broadcast did not take the group-bit flow:\n%s", r)
	}
	wantPorts(t, p.Lookup(t, tcp6(t, "2001:db8:ffff::a00:3", 80), 1), 2)
	wantPorts(t, p.Lookup(t, tcp6(t, "2001:db8:fffe::a00:3", 80), 1), 3)
}

func TestLookupNoMatchDrops(t *testing.T) {
	p := &ofptest.Pipeline{Flows: []ofp.FlowStats{
		flow(0, 10, 1, ofp.NewMatch(ofp.EthType(0x0806)), apply(ofp.Output(1))...),
	}}
	r := p.Lookup(t, tcp4(t, "10.0.0.1", "10.0.0.2", 80), 2)
	if !r.Dropped() || r.Last().Matched || len(r.Tables) != 1 {
		t.Errorf("no matching flow: want a drop in table 0\n%s", r)
	}
}

func TestLookupTableMissFlow(t *testing.T) {
	p := &ofptest.Pipeline{Flows: []ofp.FlowStats{
		flow(0, 0, 7, ofp.NewMatch(), apply(ofp.Output(ofp.PortController))...),
		flow(0, 10, 1, ofp.NewMatch(ofp.EthType(0x0806)), apply(ofp.Output(ofp.PortController))...),
	}}
	r := p.Lookup(t, tcp4(t, "10.0.0.1", "10.0.0.2", 80), 2)
	if len(r.PacketIns) != 1 || r.PacketIns[0].Cookie != 7 || r.PacketIns[0].Reason != ofp.PacketInNoMatch {
		t.Errorf("table-miss flow: packet-ins %+v, want one with cookie 7 and reason NO_MATCH", r.PacketIns)
	}
	r = p.Lookup(t, arpRequest(t, "10.0.0.2"), 2)
	if len(r.PacketIns) != 1 || r.PacketIns[0].Reason != ofp.PacketInAction {
		t.Errorf("ordinary flow: packet-ins %+v, want reason ACTION", r.PacketIns)
	}
}

// Apply-Actions run at once, in order, and what they rewrite is what the
// next table matches; Write-Actions wait for the end of the pipeline.
func TestLookupApplyWriteAndGoto(t *testing.T) {
	p := &ofptest.Pipeline{Flows: []ofp.FlowStats{
		flow(0, 10, 1, ofp.NewMatch(ofp.EthDst(macB)),
			ofp.GotoTable(2), // listed first, runs last
			ofp.WriteActions(ofp.Output(5)),
			ofp.ApplyActions(ofp.Output(1), ofp.SetField(ofp.EthDst(macC)), ofp.Output(2))),
		flow(2, 10, 2, ofp.NewMatch(ofp.EthDst(macB)), apply(ofp.Output(3))...),
		flow(2, 20, 3, ofp.NewMatch(ofp.EthDst(macC)), ofp.WriteActions(ofp.SetField(ofp.EthSrc(macC)))),
	}}
	r := p.Lookup(t, tcp4(t, "10.0.0.1", "10.0.0.2", 80), 9)
	wantPorts(t, r, 1, 2, 5)
	dsts := []net.HardwareAddr{macB, macC, macC}
	srcs := []net.HardwareAddr{macA, macA, macC}
	for i, o := range r.Outputs {
		eth := decode(t, o.Frame).Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
		if eth.DstMAC.String() != dsts[i].String() || eth.SrcMAC.String() != srcs[i].String() {
			t.Errorf("output %d: %v -> %v, want %v -> %v", o.Port, eth.SrcMAC, eth.DstMAC, srcs[i], dsts[i])
		}
	}
	if len(r.Tables) != 2 || r.Tables[1].Table != 2 || r.Tables[1].Cookie != 3 {
		t.Errorf("tables %+v, want 0 then 2 by the rewritten MAC's flow", r.Tables)
	}
	if len(r.ActionSet) != 2 {
		t.Errorf("action set %v, want the set-field and the output", r.ActionSet)
	}
}

func TestLookupClearActions(t *testing.T) {
	p := &ofptest.Pipeline{Flows: []ofp.FlowStats{
		flow(0, 10, 1, ofp.NewMatch(), ofp.WriteActions(ofp.Output(3)), ofp.GotoTable(1)),
		flow(1, 10, 2, ofp.NewMatch(), ofp.ClearActions(), ofp.ApplyActions(ofp.Output(4))),
	}}
	wantPorts(t, p.Lookup(t, tcp4(t, "10.0.0.1", "10.0.0.2", 80), 9), 4)

	// Without the clear, the written output of table 0 survives, and a
	// later write of an output replaces it.
	p.Flows[1] = flow(1, 10, 2, ofp.NewMatch(), ofp.WriteActions(ofp.Output(6)))
	wantPorts(t, p.Lookup(t, tcp4(t, "10.0.0.1", "10.0.0.2", 80), 9), 6)
}

// A table without a match drops the packet with its action set; outputs
// already applied stay sent.
func TestLookupMissAfterGoto(t *testing.T) {
	p := &ofptest.Pipeline{Flows: []ofp.FlowStats{
		flow(0, 10, 1, ofp.NewMatch(), ofp.ApplyActions(ofp.Output(2)), ofp.WriteActions(ofp.Output(3)), ofp.GotoTable(1)),
	}}
	r := p.Lookup(t, tcp4(t, "10.0.0.1", "10.0.0.2", 80), 9)
	wantPorts(t, r, 2)
	if r.Last().Table != 1 || r.Last().Matched {
		t.Errorf("last table %+v, want a miss in table 1", r.Last())
	}
}

func TestLookupReservedPorts(t *testing.T) {
	p := &ofptest.Pipeline{Ports: ports(1, 2, 3), Flows: []ofp.FlowStats{
		flow(0, 10, 1, ofp.NewMatch(ofp.EthType(0x0806)), apply(ofp.Output(ofp.PortFlood))...),
		flow(0, 10, 2, ofp.NewMatch(ofp.EthType(0x0800)), apply(ofp.Output(ofp.PortInPort), ofp.Output(2))...),
	}}
	wantPorts(t, p.Lookup(t, arpRequest(t, "10.0.0.2"), 2), 1, 3)
	// IN_PORT sends back; an output to the ingress port by number does not.
	wantPorts(t, p.Lookup(t, tcp4(t, "10.0.0.1", "10.0.0.2", 80), 2), 2)
	wantPorts(t, p.Lookup(t, tcp4(t, "10.0.0.1", "10.0.0.2", 80), 3), 3, 2)
}

// Set-field rewrites headers and the frames that leave carry right
// checksums.
func TestLookupSetFieldRewritesFrame(t *testing.T) {
	p := &ofptest.Pipeline{Flows: []ofp.FlowStats{
		flow(0, 10, 1, ofp.NewMatch(ofp.EthType(0x0800), ofp.IPProto(6), ofp.TCPDst(80)),
			ofp.ApplyActions(ofp.SetField(ofp.IPv4Dst(prefix("10.9.9.9/32"))), ofp.SetField(ofp.TCPDst(8080)), ofp.DecNwTTL()),
			ofp.GotoTable(1)),
		flow(1, 10, 2, ofp.NewMatch(ofp.EthType(0x0800), ofp.IPv4Dst(prefix("10.9.9.9/32"))), apply(ofp.Output(4))...),
	}}
	r := p.Lookup(t, tcp4(t, "10.0.0.1", "10.0.0.2", 80), 1)
	wantPorts(t, r, 4)
	pkt := decode(t, r.Outputs[0].Frame)
	ip := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	tcp := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
	if ip.DstIP.String() != "10.9.9.9" || tcp.DstPort != 8080 || ip.TTL != 63 {
		t.Errorf("rewritten to %v:%d ttl %d, want 10.9.9.9:8080 ttl 63", ip.DstIP, tcp.DstPort, ip.TTL)
	}
	tcp.SetNetworkLayerForChecksum(ip)
	if err, bad := pkt.VerifyChecksums(); err != nil || len(bad) > 0 {
		t.Errorf("checksums after set-field: %v %v", err, bad)
	}
}

func TestLookupNeighborFields(t *testing.T) {
	p := &ofptest.Pipeline{Flows: []ofp.FlowStats{
		flow(0, 10, 1, ofp.NewMatch(ofp.EthType(0x0806), ofp.ARPOp(1), ofp.ARPTPA(netip.MustParseAddr("10.0.0.42"))),
			apply(ofp.Output(1))...),
		flow(0, 10, 2, ofp.NewMatch(ofp.EthType(0x86dd), ofp.IPProto(58), ofp.ICMPv6Type(135),
			ofp.IPv6NDTarget(netip.MustParseAddr("2001:db8::2")), ofp.IPv6NDSLL(macA)), apply(ofp.Output(2))...),
		flow(0, 10, 3, ofp.NewMatch(ofp.EthType(0x0800), ofp.IPProto(1), ofp.ICMPv4Type(8), ofp.ICMPv4Code(0)),
			apply(ofp.Output(3))...),
		flow(0, 0, 4, ofp.NewMatch(), apply(ofp.Output(4))...),
	}}
	wantPorts(t, p.Lookup(t, arpRequest(t, "10.0.0.42"), 9), 1)
	wantPorts(t, p.Lookup(t, arpRequest(t, "10.0.0.43"), 9), 4)
	wantPorts(t, p.Lookup(t, neighborSolicitation(t, "2001:db8::2"), 9), 2)
	wantPorts(t, p.Lookup(t, neighborSolicitation(t, "2001:db8::3"), 9), 4)
	wantPorts(t, p.Lookup(t, ping4(t, "10.0.0.42"), 9), 3)
}

func TestLookupGroups(t *testing.T) {
	groups := map[uint32]ofp.GroupDesc{
		1: {GroupID: 1, GroupType: ofp.GroupTypeAll, Buckets: []ofp.Bucket{
			{Actions: []ofp.Action{ofp.Output(1)}},
			{Actions: []ofp.Action{ofp.SetField(ofp.EthDst(macC)), ofp.Output(2)}}}},
		2: {GroupID: 2, GroupType: ofp.GroupTypeIndirect, Buckets: []ofp.Bucket{{Actions: []ofp.Action{ofp.Output(3)}}}},
		3: {GroupID: 3, GroupType: ofp.GroupTypeFastFailover, Buckets: []ofp.Bucket{
			{WatchPort: 1, WatchGroup: ofp.GroupAny, Actions: []ofp.Action{ofp.Output(1)}},
			{WatchPort: 2, WatchGroup: ofp.GroupAny, Actions: []ofp.Action{ofp.Output(2)}}}},
		4: {GroupID: 4, GroupType: ofp.GroupTypeSelect, Buckets: []ofp.Bucket{
			{Weight: 1, WatchPort: 10, WatchGroup: ofp.GroupAny, Actions: []ofp.Action{ofp.Output(10)}},
			{Weight: 1, WatchPort: 11, WatchGroup: ofp.GroupAny, Actions: []ofp.Action{ofp.Output(11)}}}},
	}
	lookup := func(p *ofptest.Pipeline, group uint32) *ofptest.Result {
		p.Groups = groups
		p.Flows = []ofp.FlowStats{flow(0, 10, 1, ofp.NewMatch(), apply(&ofp.ActionGroup{GroupID: group})...)}
		return p.Lookup(t, tcp4(t, "10.0.0.1", "10.0.0.2", 80), 9)
	}

	r := lookup(&ofptest.Pipeline{}, 1)
	wantPorts(t, r, 1, 2)
	if eth := decode(t, r.Outputs[1].Frame).Layer(layers.LayerTypeEthernet).(*layers.Ethernet); eth.DstMAC.String() != macC.String() {
		t.Errorf("ALL group: bucket 2 sent to %v, want its rewritten %v", eth.DstMAC, macC)
	}
	if eth := decode(t, r.Outputs[0].Frame).Layer(layers.LayerTypeEthernet).(*layers.Ethernet); eth.DstMAC.String() != macB.String() {
		t.Errorf("ALL group: bucket 1 sent to %v: the other bucket's set-field leaked", eth.DstMAC)
	}
	wantPorts(t, lookup(&ofptest.Pipeline{}, 2), 3)

	// Fast failover takes the first bucket whose watch port is live.
	wantPorts(t, lookup(&ofptest.Pipeline{Ports: ports(1, 2)}, 3), 1)
	down := ports(1, 2)
	down[0].State = ofp.PortStateLinkDown
	wantPorts(t, lookup(&ofptest.Pipeline{Ports: down}, 3), 2)

	// Select without a chooser: each live bucket is an alternative.
	r = lookup(&ofptest.Pipeline{}, 4)
	wantPorts(t, r, 10, 11)
	for _, o := range r.Outputs {
		if !o.Alternative || o.Group != 4 {
			t.Errorf("select output %+v not marked as an alternative of group 4", o)
		}
	}
	if len(r.Groups) != 1 || r.Groups[0].Type != ofp.GroupTypeSelect || !slices.Equal(r.Groups[0].Live, []int{0, 1}) {
		t.Errorf("groups %+v", r.Groups)
	}
	// With a chooser, the one it picks; a dead bucket is never offered.
	second := func(_ ofp.GroupDesc, live []int) int { return live[len(live)-1] }
	wantPorts(t, lookup(&ofptest.Pipeline{Select: second}, 4), 11)
	tenDown := ports(10, 11)
	tenDown[1].Config = ofp.PortConfigDown
	wantPorts(t, lookup(&ofptest.Pipeline{Ports: tenDown}, 4), 10)
}

// Write-Actions with a group: the group runs at the end and the output in
// the set is ignored.
func TestLookupGroupInActionSet(t *testing.T) {
	p := &ofptest.Pipeline{
		Groups: map[uint32]ofp.GroupDesc{2: {GroupID: 2, GroupType: ofp.GroupTypeIndirect,
			Buckets: []ofp.Bucket{{Actions: []ofp.Action{ofp.Output(3)}}}}},
		Flows: []ofp.FlowStats{flow(0, 10, 1, ofp.NewMatch(), ofp.WriteActions(ofp.Output(7), &ofp.ActionGroup{GroupID: 2}))},
	}
	wantPorts(t, p.Lookup(t, tcp4(t, "10.0.0.1", "10.0.0.2", 80), 9), 3)
}

// What a switch would refuse, and what the pipeline cannot evaluate, fails
// the lookup instead of matching or not matching quietly.
func TestLookupRefuses(t *testing.T) {
	reg0 := ofp.OXM{Class: ofp.OXMClassNXM1, Field: 0, Value: []byte{0, 0, 0, 1}}
	for name, c := range map[string]struct {
		flows []ofp.FlowStats
		want  string
	}{
		"tcp_dst without ip_proto": {[]ofp.FlowStats{flow(0, 1, 1, ofp.NewMatch(ofp.EthType(0x0800), ofp.TCPDst(80)))}, "BAD_PREREQ"},
		"ipv4_dst on IPv6":         {[]ofp.FlowStats{flow(0, 1, 1, ofp.NewMatch(ofp.EthType(0x86dd), ofp.IPv4Dst(prefix("10.0.0.1/32"))))}, "BAD_PREREQ"},
		"nd_target on an echo":     {[]ofp.FlowStats{flow(0, 1, 1, ofp.NewMatch(ofp.EthType(0x86dd), ofp.IPProto(58), ofp.ICMPv6Type(128), ofp.IPv6NDTarget(netip.MustParseAddr("::1"))))}, "BAD_PREREQ"},
		"an unknown field":         {[]ofp.FlowStats{flow(0, 1, 1, ofp.NewMatch(reg0))}, "not supported"},
		"value outside its mask": {[]ofp.FlowStats{flow(0, 1, 1, ofp.NewMatch(
			ofp.EthDstMasked(net.HardwareAddr{3, 0, 0, 0, 0, 0}, net.HardwareAddr{1, 0, 0, 0, 0, 0})))}, "BAD_WILDCARDS"},
		"a field twice":     {[]ofp.FlowStats{flow(0, 1, 1, ofp.NewMatch(ofp.EthType(0x0800), ofp.EthType(0x0800)))}, "DUP_FIELD"},
		"goto backwards":    {[]ofp.FlowStats{flow(1, 1, 1, ofp.NewMatch(), ofp.GotoTable(0))}, "only forward"},
		"a missing group":   {[]ofp.FlowStats{flow(0, 1, 1, ofp.NewMatch(), apply(&ofp.ActionGroup{GroupID: 9})...)}, "does not exist"},
		"an unknown action": {[]ofp.FlowStats{flow(0, 1, 1, ofp.NewMatch(), apply(ofp.PushVlan())...)}, "not supported"},
		"two flows of one priority": {[]ofp.FlowStats{
			flow(0, 5, 1, ofp.NewMatch(ofp.EthType(0x0800))),
			flow(0, 5, 2, ofp.NewMatch(ofp.EthSrc(macA))),
		}, "may pick either"},
	} {
		p := &ofptest.Pipeline{Flows: c.flows}
		_, err := p.Run(tcp4(t, "10.0.0.1", "10.0.0.2", 80), 1)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one saying %q", name, err, c.want)
		}
	}
}

// testApp declares flows and groups, to be installed by a real controller.
type testApp struct {
	flows  []controller.Flow
	groups []controller.Group
}

func (a *testApp) Name() string                               { return "test" }
func (a *testApp) CookieID() uint8                            { return 0x7 }
func (a *testApp) Flows(*controller.Switch) []controller.Flow { return a.flows }
func (a *testApp) Groups(*controller.Switch) []controller.Group {
	return a.groups
}

// The switch looks packets up in what it received as FLOW_MODs and
// GROUP_MODs, cookies and group ids as the controller set them.
func TestSwitchLookupAfterSync(t *testing.T) {
	app := &testApp{
		groups: []controller.Group{{ID: 1, Type: ofp.GroupTypeAll, Buckets: []ofp.Bucket{
			{Actions: []ofp.Action{ofp.Output(1)}}, {Actions: []ofp.Action{ofp.Output(2)}}}}},
		flows: []controller.Flow{
			{Priority: 10, Cookie: 5, Match: ofp.NewMatch(ofp.EthType(0x0806)), Instructions: apply(ofp.Output(ofp.PortController))},
			{Priority: 10, Cookie: 6, Match: ofp.NewMatch(ofp.EthType(0x0800)),
				Instructions: apply(&ofp.ActionGroup{GroupID: controller.AppGroupID(0x7, 1)})},
		},
	}
	_, addr, ctx := controllertest.Start(t, app)
	sw := &ofptest.Switch{DPID: 1, NTables: 254, Ports: ports(1, 2, 3)}
	go sw.Dial(ctx, addr)
	ofptest.WaitFor(t, "flows installed", func() bool { return len(sw.Flows()) == 2 })

	r := sw.Lookup(t, arpRequest(t, "10.0.0.2"), 3)
	if !r.ToController() || r.PacketIns[0].Cookie != controller.AppCookie(0x7, 5) {
		t.Errorf("ARP: packet-ins %+v, want one from cookie %#x\n%s", r.PacketIns, controller.AppCookie(0x7, 5), r)
	}
	wantPorts(t, sw.Lookup(t, tcp4(t, "10.0.0.1", "10.0.0.2", 80), 3), 1, 2)
}

func decode(t *testing.T, b []byte) gopacket.Packet {
	t.Helper()
	pkt := gopacket.NewPacket(b, layers.LayerTypeEthernet, gopacket.Default)
	if el := pkt.ErrorLayer(); el != nil {
		t.Fatalf("frame does not decode: %v", el.Error())
	}
	return pkt
}

// Only the headers OpenFlow matches are decoded: a payload that does not
// parse as what its port suggests (DNS on 53) is carried as it is.
func TestLookupOpaquePayload(t *testing.T) {
	p := &ofptest.Pipeline{Flows: []ofp.FlowStats{
		flow(0, 10, 1, ofp.NewMatch(ofp.EthType(0x0800), ofp.IPProto(17), ofp.UDPDst(53)),
			apply(ofp.SetField(ofp.EthDst(macC)), ofp.Output(2))...),
	}}
	r := p.Lookup(t, udp4(t, "10.0.0.2", 53), 1)
	wantPorts(t, r, 2)
	udp := gopacket.NewPacket(r.Outputs[0].Frame, layers.LayerTypeEthernet, gopacket.Default).Layer(layers.LayerTypeUDP).(*layers.UDP)
	if string(udp.Payload) != "x" {
		t.Errorf("payload %q after a set-field, want %q", udp.Payload, "x")
	}
}

// Write-Metadata sets the bits under its mask, which later tables match.
func TestLookupMetadata(t *testing.T) {
	p := &ofptest.Pipeline{Flows: []ofp.FlowStats{
		flow(0, 10, 1, ofp.NewMatch(), &ofp.InstructionWriteMetadata{Metadata: 0xab, Mask: 0xff}, ofp.GotoTable(1)),
		flow(1, 10, 2, ofp.NewMatch(ofp.Metadata(0xa0, 0xf0)), apply(ofp.Output(2))...),
		flow(1, 20, 3, ofp.NewMatch(ofp.Metadata(0xac, ^uint64(0))), apply(ofp.Output(3))...),
	}}
	wantPorts(t, p.Lookup(t, tcp4(t, "10.0.0.1", "10.0.0.2", 80), 9), 2)
}

// A fast-failover bucket may watch a group instead of a port: it is live
// while that group has a live bucket.
func TestLookupFastFailoverWatchGroup(t *testing.T) {
	down := ports(1, 2)
	down[0].State = ofp.PortStateLinkDown
	p := &ofptest.Pipeline{Ports: down,
		Groups: map[uint32]ofp.GroupDesc{
			1: {GroupID: 1, GroupType: ofp.GroupTypeFastFailover, Buckets: []ofp.Bucket{
				{WatchPort: ofp.PortAny, WatchGroup: 2, Actions: []ofp.Action{ofp.Output(5)}},
				{WatchPort: 2, WatchGroup: ofp.GroupAny, Actions: []ofp.Action{ofp.Output(2)}}}},
			2: {GroupID: 2, GroupType: ofp.GroupTypeFastFailover, Buckets: []ofp.Bucket{
				{WatchPort: 1, WatchGroup: ofp.GroupAny, Actions: []ofp.Action{ofp.Output(1)}}}},
		},
		Flows: []ofp.FlowStats{flow(0, 10, 1, ofp.NewMatch(), apply(&ofp.ActionGroup{GroupID: 1})...)},
	}
	wantPorts(t, p.Lookup(t, tcp4(t, "10.0.0.1", "10.0.0.2", 80), 9), 2)
	p.Ports[0].State = 0
	wantPorts(t, p.Lookup(t, tcp4(t, "10.0.0.1", "10.0.0.2", 80), 9), 5)
}

// ip_proto is the protocol after IPv6 extension headers, and vlan_vid
// tells tagged frames from untagged ones.
func TestLookupExtensionHeadersAndVLAN(t *testing.T) {
	p := &ofptest.Pipeline{Flows: []ofp.FlowStats{
		flow(0, 10, 1, ofp.NewMatch(ofp.EthType(0x86dd), ofp.IPProto(58), ofp.ICMPv6Type(143)), apply(ofp.Output(1))...),
		flow(0, 10, 2, ofp.NewMatch(ofp.VlanVID(ofp.VlanPresent|100), ofp.EthType(0x0800)), apply(ofp.Output(2))...),
		flow(0, 5, 3, ofp.NewMatch(ofp.VlanVID(0)), apply(ofp.Output(3))...),
		flow(0, 0, 4, ofp.NewMatch(), apply(ofp.Output(4))...),
	}}
	ip := &layers.IPv6{Version: 6, HopLimit: 1, NextHeader: layers.IPProtocolIPv6HopByHop,
		SrcIP: netip.MustParseAddr("fe80::1").AsSlice(), DstIP: netip.MustParseAddr("ff02::16").AsSlice()}
	hbh := &layers.IPv6HopByHop{}
	hbh.NextHeader = layers.IPProtocolICMPv6
	hbh.Options = []*layers.IPv6HopByHopOption{{OptionType: 5, OptionLength: 2, OptionData: []byte{0, 0}}, {OptionType: 1, OptionLength: 0}}
	ic := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(143, 0)}
	ic.SetNetworkLayerForChecksum(ip)
	mld := build(t, &layers.Ethernet{SrcMAC: macA, DstMAC: net.HardwareAddr{0x33, 0x33, 0, 0, 0, 0x16}, EthernetType: layers.EthernetTypeIPv6},
		ip, hbh, ic, gopacket.Payload(make([]byte, 4)))
	wantPorts(t, p.Lookup(t, mld, 9), 1)

	tagged := func(vid uint16) []byte {
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IP{10, 0, 0, 1}, DstIP: net.IP{10, 0, 0, 2}}
		udp := &layers.UDP{SrcPort: 1, DstPort: 2}
		udp.SetNetworkLayerForChecksum(ip)
		return build(t, &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeDot1Q},
			&layers.Dot1Q{VLANIdentifier: vid, Type: layers.EthernetTypeIPv4}, ip, udp)
	}
	wantPorts(t, p.Lookup(t, tagged(100), 9), 2)
	wantPorts(t, p.Lookup(t, tagged(200), 9), 4)
	wantPorts(t, p.Lookup(t, udp4(t, "10.0.0.2", 2), 9), 3)
}
