package nat64

import (
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/sixgate/sixgate/packet"
)

func wantEnds(t *testing.T, p gopacket.Packet, src, dst string) {
	t.Helper()
	s, d := ends(t, p)
	if s.String() != src || d.String() != dst {
		t.Fatalf("packet %v -> %v; want %s -> %s", s, d, src, dst)
	}
}

// RFC 6146 §3.5.1: a UDP datagram from IPv6 gets a binding (its port
// kept when free) and a session; the answer comes back through them.
func TestUDPOutAndBack(t *testing.T) {
	e, _ := newDefault(t)
	p := one(t, e, udp6(t, ap(h1, 2000), ap(r1v6, 5300), "query"))
	wantEnds(t, p, "192.0.2.2:2000", "203.0.113.9:5300")
	if string(p.ApplicationLayer().Payload()) != "query" {
		t.Fatal("payload changed")
	}
	p = one(t, e, udp4(t, ap(r1, 5300), ap(p4, 2000), "answer"))
	wantEnds(t, p, "[64:ff9b::cb00:7109]:5300", "[2001:db8::5]:2000")
	st := e.Stats()
	if st.Sessions["udp"] != 1 || st.Bindings["udp"] != 1 || st.Pool4Used["udp"]["192.0.2.2"] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// Endpoint-independent mapping: one binding for every destination; a
// second host asking for the same port gets another, of the same parity
// and range.
func TestMappingAndPortAllocation(t *testing.T) {
	e, _ := newDefault(t)
	wantEnds(t, one(t, e, udp6(t, ap(h1, 2000), ap(r1v6, 5300), "a")), "192.0.2.2:2000", "203.0.113.9:5300")
	wantEnds(t, one(t, e, udp6(t, ap(h1, 2000), ap(r2v6, 99), "b")), "192.0.2.2:2000", "198.51.100.7:99")
	for _, port := range []uint16{2000, 2001, 80, 81} {
		s, _ := ends(t, one(t, e, udp6(t, ap(h2, port), ap(r1v6, 5300), "c")))
		if port == 2000 {
			if s.Port() == 2000 || s.Port()%2 != 0 || s.Port() < 1024 {
				t.Fatalf("h2:2000 got %v: want another even port of the ephemeral range", s)
			}
		} else if s.Port() != port {
			t.Fatalf("h2:%d got %v: want the port kept", port, s)
		}
	}
	// Port 80 is taken now: h1:80 gets another well-known even port.
	s, _ := ends(t, one(t, e, udp6(t, ap(h1, 80), ap(r1v6, 5300), "d")))
	if s.Port() == 80 || s.Port()%2 != 0 || s.Port() >= 1024 {
		t.Fatalf("h1:80 got %v: want another even well-known port", s)
	}
	if n := len(e.BIB()); n != 6 {
		t.Fatalf("%d bindings, want 6", n)
	}
}

// Endpoint-independent filtering lets any IPv4 host use a binding;
// address-dependent filtering only those the host has talked to.
func TestFiltering(t *testing.T) {
	for _, adf := range []bool{false, true} {
		clk := &fakeClock{t: time.Unix(1_000_000, 0)}
		c := testConfig(clk)
		c.AddressDependentFiltering = adf
		e := newTest(t, c)
		one(t, e, udp6(t, ap(h1, 2000), ap(r1v6, 5300), "a"))
		// The same address from another port passes either way.
		wantEnds(t, one(t, e, udp4(t, ap(r1, 54), ap(p4, 2000), "x")), "[64:ff9b::cb00:7109]:54", "[2001:db8::5]:2000")
		pkt := udp4(t, ap(r2, 9), ap(p4, 2000), "y")
		if !adf {
			wantEnds(t, one(t, e, pkt), "[64:ff9b::c633:6407]:9", "[2001:db8::5]:2000")
			continue
		}
		outs := dropped(t, e, pkt)
		if len(outs) != 1 {
			t.Fatalf("adf: %d packets, want an ICMP error", len(outs))
		}
		ic := decode(t, outs[0]).Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
		if ic.TypeCode != layers.CreateICMPv4TypeCode(3, 13) {
			t.Fatalf("adf: %v, want administratively prohibited", ic.TypeCode)
		}
	}
}

// RFC 6146 §3.5.1.2: UDP to a pool4 port without a binding gets ICMP
// port unreachable from the pool4 address.
func TestUnboundUDP(t *testing.T) {
	e, _ := newDefault(t)
	outs := dropped(t, e, udp4(t, ap(r1, 5300), ap(p4, 2222), "x"))
	if len(outs) != 1 {
		t.Fatalf("%d packets, want 1", len(outs))
	}
	p := decode(t, outs[0])
	ic := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
	if ic.TypeCode != layers.CreateICMPv4TypeCode(3, 3) || p.NetworkLayer().(*layers.IPv4).SrcIP.String() != "192.0.2.2" {
		t.Fatalf("got %v from %v", ic.TypeCode, p.NetworkLayer().(*layers.IPv4).SrcIP)
	}
	// IPv4 outside pool4 and IPv6 outside pool6 are not the NAT64's.
	if v, _ := run(t, e, udp4(t, ap(r1, 5300), ap(r2, 1), "x")); v != packet.Pass {
		t.Fatalf("verdict %v, want pass", v)
	}
	if v, _ := run(t, e, udp6(t, ap(h1, 1), ap(h2, 1), "x")); v != packet.Pass {
		t.Fatalf("verdict %v, want pass", v)
	}
}

func sessionState(t *testing.T, e *NAT64) string {
	t.Helper()
	ss := e.Sessions()
	if len(ss) != 1 {
		t.Fatalf("%d sessions, want 1", len(ss))
	}
	return ss[0].State
}

// RFC 6146 §3.5.2.2: the TCP state machine from a SYN from IPv6 through
// the FINs of both sides, with its timers.
func TestTCPStateMachine(t *testing.T) {
	e, clk := newDefault(t)
	a, b := ap(h1, 2100), ap(r1v6, 80)
	wantEnds(t, one(t, e, tcp6(t, a, b, layers.TCP{SYN: true, Seq: 1})), "192.0.2.2:2100", "203.0.113.9:80")
	if s := sessionState(t, e); s != "V6_INIT" {
		t.Fatalf("state %s", s)
	}
	one(t, e, tcp4(t, ap(r1, 80), ap(p4, 2100), layers.TCP{SYN: true, ACK: true, Seq: 7, Ack: 2}))
	if s := sessionState(t, e); s != "ESTABLISHED" {
		t.Fatalf("state %s", s)
	}
	if d := e.Sessions()[0].ExpiresIn; d != MinTCPEstablished {
		t.Fatalf("established lifetime %v", d)
	}
	one(t, e, tcp6(t, a, b, layers.TCP{FIN: true, ACK: true, Seq: 2, Ack: 8}))
	if s := sessionState(t, e); s != "V6_FIN_RCV" {
		t.Fatalf("state %s", s)
	}
	one(t, e, tcp4(t, ap(r1, 80), ap(p4, 2100), layers.TCP{FIN: true, ACK: true, Seq: 8, Ack: 3}))
	if s := sessionState(t, e); s != "V4_FIN_V6_FIN_RCV" {
		t.Fatalf("state %s", s)
	}
	clk.advance(MinTCPTransitory + time.Second)
	e.Expire(packet.NewBatch(1, 64))
	if n := len(e.Sessions()); n != 0 || len(e.BIB()) != 0 {
		t.Fatalf("%d sessions, %d bindings after the transitory timer", n, len(e.BIB()))
	}
	// A segment without SYN opens nothing.
	dropped(t, e, tcp6(t, a, b, layers.TCP{ACK: true, Seq: 2}))
	if e.Stats().Drops["no_session"] != 1 {
		t.Fatal("not counted")
	}
}

// A RST makes an established session transitory; an idle established
// one also becomes transitory when its timer runs out.
func TestTCPResetAndIdle(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_000_000, 0)}
	c := testConfig(clk)
	c.Timeouts = Timeouts{TCPEstablished: 10 * time.Second, TCPTransitory: 2 * time.Second}
	e := newTest(t, c)
	a, b := ap(h1, 2100), ap(r1v6, 80)
	one(t, e, tcp6(t, a, b, layers.TCP{SYN: true}))
	one(t, e, tcp4(t, ap(r1, 80), ap(p4, 2100), layers.TCP{SYN: true, ACK: true}))
	clk.advance(11 * time.Second)
	e.Expire(packet.NewBatch(1, 64))
	if s := sessionState(t, e); s != "TRANS" {
		t.Fatalf("idle: state %s", s)
	}
	one(t, e, tcp6(t, a, b, layers.TCP{ACK: true}))
	if s := sessionState(t, e); s != "ESTABLISHED" {
		t.Fatalf("traffic: state %s", s)
	}
	one(t, e, tcp4(t, ap(r1, 80), ap(p4, 2100), layers.TCP{RST: true}))
	if s := sessionState(t, e); s != "TRANS" {
		t.Fatalf("rst: state %s", s)
	}
	clk.advance(3 * time.Second)
	e.Expire(packet.NewBatch(1, 64))
	if n := len(e.Sessions()); n != 0 {
		t.Fatalf("%d sessions left", n)
	}
}

// RFC 6146 §3.5.2.2: an unsolicited IPv4 SYN is held; an IPv6 SYN of the
// same connection within 6 s makes the session (simultaneous open) and
// the held SYN goes; otherwise ICMP port unreachable answers it.
func TestSimultaneousOpen(t *testing.T) {
	e, clk := newDefault(t)
	syn4 := tcp4(t, ap(r1, 80), ap(p4, 2100), layers.TCP{SYN: true, Seq: 9})
	if v, outs := run(t, e, syn4); v != packet.Consumed || len(outs) != 0 {
		t.Fatalf("held SYN: %v, %d packets", v, len(outs))
	}
	if st := e.Stats(); st.Holding != 1 {
		t.Fatalf("holding %d", st.Holding)
	}
	clk.advance(3 * time.Second)
	wantEnds(t, one(t, e, tcp6(t, ap(h1, 2100), ap(r1v6, 80), layers.TCP{SYN: true, Seq: 1})), "192.0.2.2:2100", "203.0.113.9:80")
	if st := e.Stats(); st.Holding != 0 {
		t.Fatalf("holding %d after the IPv6 SYN", st.Holding)
	}
	// The remote's SYN, sent again, completes the open.
	one(t, e, syn4)
	if s := sessionState(t, e); s != "ESTABLISHED" {
		t.Fatalf("state %s", s)
	}
	clk.advance(10 * time.Second)
	out := packet.NewBatch(1, 64)
	e.Expire(out)
	if out.Len() != 0 {
		t.Fatal("error sent for an answered SYN")
	}
}

func TestHeldSYNTimesOut(t *testing.T) {
	e, clk := newDefault(t)
	run(t, e, tcp4(t, ap(r1, 80), ap(p4, 2100), layers.TCP{SYN: true}))
	out := packet.NewBatch(1, 64)
	clk.advance(5 * time.Second)
	e.Expire(out)
	if out.Len() != 0 {
		t.Fatal("answered before 6 s")
	}
	clk.advance(2 * time.Second)
	e.Expire(out)
	if out.Len() != 1 {
		t.Fatalf("%d packets after 6 s, want 1", out.Len())
	}
	p := decode(t, out.Packets[0])
	if ic := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4); ic.TypeCode != layers.CreateICMPv4TypeCode(3, 3) {
		t.Fatalf("%v", ic.TypeCode)
	}
	wantEnds(t, p, "192.0.2.2:0", "203.0.113.9:0")
}

// ICMP echo: the identifier is the query's port.
func TestEcho(t *testing.T) {
	e, _ := newDefault(t)
	req := serialize(t, v6(h1, r1v6, layers.IPProtocolICMPv6),
		&layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(128, 0)}, &layers.ICMPv6Echo{Identifier: 77, SeqNumber: 1}, gopacket.Payload("ping"))
	p := one(t, e, req)
	wantEnds(t, p, "192.0.2.2:77", "203.0.113.9:77")
	rep := serialize(t, v4(r1, p4, layers.IPProtocolICMPv4),
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(0, 0), Id: 77, Seq: 1}, gopacket.Payload("ping"))
	p = one(t, e, rep)
	wantEnds(t, p, "[64:ff9b::cb00:7109]:77", "[2001:db8::5]:77")
	// A second host with the same identifier gets another.
	req2 := serialize(t, v6(h2, r1v6, layers.IPProtocolICMPv6),
		&layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(128, 0)}, &layers.ICMPv6Echo{Identifier: 77, SeqNumber: 1})
	s, _ := ends(t, one(t, e, req2))
	if s.Port() == 77 {
		t.Fatal("identifier lent twice")
	}
}

// innerOf decodes the packet an ICMP error quotes.
func innerOf(t *testing.T, p gopacket.Packet, v6 bool) gopacket.Packet {
	t.Helper()
	var body []byte
	if v6 {
		body = p.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6).Payload[4:]
		return gopacket.NewPacket(body, layers.LayerTypeIPv6, gopacket.Default)
	}
	body = p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4).Payload
	return gopacket.NewPacket(body, layers.LayerTypeIPv4, gopacket.Default)
}

// RFC 6146 §3.5.3: an ICMPv4 error about a packet the NAT64 sent goes to
// the IPv6 host of its session, the quoted packet mapped back.
func TestICMPv4ErrorThroughSession(t *testing.T) {
	e, _ := newDefault(t)
	sent := one(t, e, udp6(t, ap(h1, 2000), ap(r1v6, 5300), "query"))
	router := r2
	icmp := serialize(t, v4(router, p4, layers.IPProtocolICMPv4),
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(11, 0)}, gopacket.Payload(sent.Data()))
	p := one(t, e, icmp)
	n := p.NetworkLayer().(*layers.IPv6)
	if n.SrcIP.String() != r2v6.String() || n.DstIP.String() != h1.String() {
		t.Fatalf("error %v -> %v", n.SrcIP, n.DstIP)
	}
	if tc := p.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6).TypeCode; tc.Type() != 3 {
		t.Fatalf("%v, want time exceeded", tc)
	}
	wantEnds(t, innerOf(t, p, true), "[2001:db8::5]:2000", "[64:ff9b::cb00:7109]:5300")
	// A quote of no session is dropped.
	other := udp4(t, ap(p4, 2999), ap(r1, 5300), "x")
	icmp = serialize(t, v4(router, p4, layers.IPProtocolICMPv4),
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(11, 0)}, gopacket.Payload(other))
	dropped(t, e, icmp)
	if e.Stats().Drops["icmp_error_no_session"] != 1 {
		t.Fatal("not counted")
	}
}

// An ICMPv6 error from an IPv6 host about a packet it got through the
// NAT64 goes to the IPv4 remote from the binding's pool4 address.
func TestICMPv6ErrorThroughSession(t *testing.T) {
	e, _ := newDefault(t)
	one(t, e, udp6(t, ap(h1, 2000), ap(r1v6, 5300), "query"))
	got := one(t, e, udp4(t, ap(r1, 5300), ap(p4, 2000), "answer"))
	icmp := serialize(t, v6(h1, r1v6, layers.IPProtocolICMPv6),
		&layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(1, 4)}, gopacket.Payload(append([]byte{0, 0, 0, 0}, got.Data()...)))
	p := one(t, e, icmp)
	n := p.NetworkLayer().(*layers.IPv4)
	if n.SrcIP.String() != "192.0.2.2" || n.DstIP.String() != "203.0.113.9" {
		t.Fatalf("error %v -> %v", n.SrcIP, n.DstIP)
	}
	if tc := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4).TypeCode; tc != layers.CreateICMPv4TypeCode(3, 3) {
		t.Fatalf("%v, want port unreachable", tc)
	}
	wantEnds(t, innerOf(t, p, false), "203.0.113.9:5300", "192.0.2.2:2000")
}

// RFC 6146 §3.8: an IPv6 host reaching another through its pool4 address
// (hairpinning), and an ICMP error the same way.
func TestHairpinning(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_000_000, 0)}
	c := testConfig(clk)
	c.StaticBIB = []StaticBinding{{Protocol: UDP, IPv4: ap(p4, 5300), IPv6: ap(h2, 6000)}}
	e := newTest(t, c)
	p := one(t, e, udp6(t, ap(h1, 2000), ap(p4v6, 5300), "hello"))
	wantEnds(t, p, "[64:ff9b::c000:202]:2000", "[2001:db8::6]:6000")
	if string(p.ApplicationLayer().Payload()) != "hello" {
		t.Fatal("payload")
	}
	back := one(t, e, udp6(t, ap(h2, 6000), ap(p4v6, 2000), "hi"))
	wantEnds(t, back, "[64:ff9b::c000:202]:5300", "[2001:db8::5]:2000")
	// h1 refuses what h2 sent: the error reaches h2 about its packet.
	icmp := serialize(t, v6(h1, p4v6, layers.IPProtocolICMPv6),
		&layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(1, 4)}, gopacket.Payload(append([]byte{0, 0, 0, 0}, back.Data()...)))
	ep := one(t, e, icmp)
	wantEnds(t, ep, "[64:ff9b::c000:202]:0", "[2001:db8::6]:0")
	wantEnds(t, innerOf(t, ep, true), "[2001:db8::6]:6000", "[64:ff9b::c000:202]:2000")
	if e.Stats().Hairpinned != 3 {
		t.Fatalf("hairpinned %d", e.Stats().Hairpinned)
	}
}

// Packet Too Big and Fragmentation Needed as in SIIT: the MTU reported
// accounts for the 20 bytes between the headers.
func TestPathMTU(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_000_000, 0)}
	c := testConfig(clk)
	c.IPv4.MTU = 1400
	e := newTest(t, c)
	big := make([]byte, 1400)
	outs := dropped(t, e, udp6(t, ap(h1, 2000), ap(r1v6, 5300), string(big)))
	if len(outs) != 1 {
		t.Fatalf("%d packets", len(outs))
	}
	ptb := decode(t, outs[0]).Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
	if ptb.TypeCode.Type() != 2 || be32(ptb.Payload) != 1420 {
		t.Fatalf("%v mtu %d, want packet too big 1420", ptb.TypeCode, be32(ptb.Payload))
	}
	one(t, e, udp6(t, ap(h1, 2000), ap(r1v6, 5300), "x"))
	outs = dropped(t, e, udp4(t, ap(r1, 5300), ap(p4, 2000), string(make([]byte, 1470))))
	if len(outs) != 1 {
		t.Fatalf("%d packets", len(outs))
	}
	fn := decode(t, outs[0]).Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
	if fn.TypeCode != layers.CreateICMPv4TypeCode(3, 4) || fn.Seq != 1480 {
		t.Fatalf("%v mtu %d, want fragmentation needed 1480", fn.TypeCode, fn.Seq)
	}
}

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// fragments6 cuts a UDP datagram from IPv6 into two fragments.
func fragments6(t testing.TB, src, dst netip.AddrPort, payload []byte) (first, second []byte) {
	t.Helper()
	whole := udp6(t, src, dst, string(payload))
	data := whole[40:]
	cut := 64
	mk := func(off int, more bool, part []byte) []byte {
		ip := v6(src.Addr(), dst.Addr(), layers.IPProtocolIPv6Fragment)
		f := &layers.IPv6Fragment{NextHeader: layers.IPProtocolUDP, FragmentOffset: uint16(off / 8), MoreFragments: more, Identification: 0xabcd}
		return serialize(t, ip, f, gopacket.Payload(part))
	}
	return mk(0, true, data[:cut]), mk(cut, false, data[cut:])
}

// Fragments other than the first wait for it, then take its
// translation; those that never see it go when the timer runs out.
func TestFragments(t *testing.T) {
	e, clk := newDefault(t)
	payload := make([]byte, 200)
	for i := range payload {
		payload[i] = byte(i)
	}
	first, second := fragments6(t, ap(h1, 2000), ap(r1v6, 5300), payload)
	if v, outs := run(t, e, second); v != packet.Consumed || len(outs) != 0 {
		t.Fatalf("later fragment first: %v, %d packets", v, len(outs))
	}
	v, outs := run(t, e, first)
	if v != packet.Consumed || len(outs) != 2 {
		t.Fatalf("first fragment: %v, %d packets", v, len(outs))
	}
	// Reassemble with the IPv4 offsets and check the datagram.
	whole := make([]byte, 8+len(payload))
	for _, o := range outs {
		ip := packet.IPv4(o.Data)
		if ip.Src() != p4.As4() || ip.Dst() != r1.As4() {
			t.Fatalf("fragment %v -> %v", ip.SrcAddr(), ip.DstAddr())
		}
		copy(whole[ip.FragmentOffset():], ip.Payload())
	}
	ps := packet.PseudoHeaderSum(p4.AsSlice(), r1.AsSlice(), packet.ProtoUDP, len(whole))
	if !packet.ChecksumOK(ps, whole) || packet.UDP(whole).SrcPort() != 2000 || string(whole[8:]) != string(payload) {
		t.Fatal("reassembled datagram wrong")
	}
	// A lone later fragment is dropped on the timer.
	_, lone := fragments6(t, ap(h1, 2002), ap(r1v6, 5300), payload)
	lone[40+4] ^= 1 // another identification
	run(t, e, lone)
	if e.Stats().FragmentBytes == 0 {
		t.Fatal("not held")
	}
	clk.advance(3 * time.Second)
	e.Expire(packet.NewBatch(1, 64))
	if st := e.Stats(); st.FragmentBytes != 0 || st.Drops["fragment_timeout"] != 1 {
		t.Fatalf("after the timer: %+v", st)
	}
}

// One host cannot take more bindings than its limit, leaving the pool
// to the others; the session table has its bound too.
func TestLimits(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_000_000, 0)}
	c := testConfig(clk)
	c.Limits = Limits{BindingsPerHost: 10, Sessions: 15}
	e := newTest(t, c)
	for i := 0; i < 20; i++ {
		run(t, e, tcp6(t, ap(h1, uint16(4000+i)), ap(r1v6, 80), layers.TCP{SYN: true}))
	}
	st := e.Stats()
	if st.Bindings["tcp"] != 10 || st.Drops["host_binding_limit"] != 10 {
		t.Fatalf("flood: %+v", st)
	}
	for i := 0; i < 10; i++ {
		run(t, e, udp6(t, ap(h2, uint16(100+i)), ap(r1v6, 5300), "x"))
	}
	st = e.Stats()
	if st.Sessions["udp"] != 5 || st.Drops["session_table_full"] != 5 {
		t.Fatalf("session bound: %+v", st)
	}
}

// A reload keeps the sessions whose pool4 address and port remain, and
// drops the others.
func TestReload(t *testing.T) {
	e, clk := newDefault(t)
	one(t, e, udp6(t, ap(h1, 2000), ap(r1v6, 5300), "a"))
	one(t, e, tcp6(t, ap(h1, 62000), ap(r1v6, 80), layers.TCP{SYN: true}))
	c := testConfig(clk)
	c.Pool4 = c.Pool4[:1]
	if err := e.SetConfig(c); err != nil {
		t.Fatal(err)
	}
	ss := e.Sessions()
	if len(ss) != 1 || ss[0].Protocol != "udp" {
		t.Fatalf("after reload %+v", ss)
	}
	wantEnds(t, one(t, e, udp4(t, ap(r1, 5300), ap(p4, 2000), "b")), "[64:ff9b::cb00:7109]:5300", "[2001:db8::5]:2000")
}

func TestConfigChecks(t *testing.T) {
	clk := &fakeClock{}
	c := testConfig(clk)
	c.Pool4 = append(c.Pool4, Pool4Entry{Address: p4, First: 3000, Last: 4000})
	if err := c.Validate(); err == nil {
		t.Fatal("overlapping pool4 ranges accepted")
	}
	c = testConfig(clk)
	c.Timeouts.UDP = time.Second
	c.FragmentTimeout = time.Second
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if w := c.Warnings(); len(w) != 2 {
		t.Fatalf("warnings %q", w)
	}
	c.StaticBIB = []StaticBinding{{Protocol: TCP, IPv4: ap(r1, 1), IPv6: ap(h1, 1)}}
	if err := c.Validate(); err == nil {
		t.Fatal("static binding outside pool4 accepted")
	}
}

// The established path allocates nothing, either way.
func TestEstablishedNoAlloc(t *testing.T) {
	e, _ := newDefault(t)
	out6 := udp6(t, ap(h1, 2000), ap(r1v6, 5300), "query")
	in4 := udp4(t, ap(r1, 5300), ap(p4, 2000), "answer")
	one(t, e, out6)
	b := packet.NewBatch(4, packet.DefaultBufSize)
	n := testing.AllocsPerRun(200, func() {
		e.Handle(out6, b)
		e.Handle(in4, b)
		b.Reset()
	})
	if n != 0 {
		t.Fatalf("%v allocations per packet pair", n)
	}
}
