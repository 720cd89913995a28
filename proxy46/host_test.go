package proxy46

import (
	"bytes"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/sixgate/sixgate/packet"
)

// hostIP is the IPv4 header of a packet from src to the VIP.
func hostIP(src netip.Addr, proto layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, TTL: 57, Protocol: proto, Flags: layers.IPv4DontFragment,
		SrcIP: net.IP(src.AsSlice()), DstIP: net.IP(vip.AsSlice())}
}

func ping(t testing.TB, src netip.Addr, id, seq uint16, data string) []byte {
	t.Helper()
	return serialize(t, hostIP(src, layers.IPProtocolICMPv4),
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: id, Seq: seq},
		gopacket.Payload(data))
}

func udpTo(t testing.TB, src netip.Addr, sport, dport uint16, data string) []byte {
	t.Helper()
	ip := hostIP(src, layers.IPProtocolUDP)
	udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	return serialize(t, ip, udp, gopacket.Payload(data))
}

// answer is an engine answer decoded by gopacket, its checksums checked.
type answer struct {
	ip   *layers.IPv4
	icmp *layers.ICMPv4
	tcp  *layers.TCP
}

// decodeAnswer decodes an IPv4 answer and checks it the way a receiver
// would: the lengths, the IPv4 header and ICMP checksums (gopacket
// computes them again over the decoded layers), and the output
// destination. TCP answers go through decodeOut, which checks theirs.
func decodeAnswer(t testing.TB, p packet.Out) answer {
	t.Helper()
	if p.Family != packet.IPv4Family {
		t.Fatalf("answer of family %d", p.Family)
	}
	pk := gopacket.NewPacket(p.Data, layers.LayerTypeIPv4, gopacket.Default)
	if el := pk.ErrorLayer(); el != nil {
		t.Fatalf("answer %x does not decode: %v", p.Data, el.Error())
	}
	var a answer
	a.ip = pk.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	if int(a.ip.Length) != len(p.Data) {
		t.Fatalf("IPv4 total length %d, packet is %d bytes", a.ip.Length, len(p.Data))
	}
	if got := netip.AddrFrom4([4]byte(a.ip.DstIP.To4())); got != p.Dst {
		t.Fatalf("packet.Out.Dst %v, header says %v", p.Dst, got)
	}
	ip := *a.ip
	buf := gopacket.NewSerializeBuffer()
	if err := ip.SerializeTo(buf, gopacket.SerializeOptions{ComputeChecksums: true}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes()[:20], p.Data[:20]) {
		t.Fatalf("IPv4 header %x, gopacket computes %x", p.Data[:20], buf.Bytes()[:20])
	}
	if icmp, ok := pk.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4); ok {
		a.icmp = icmp
		again := serialize2(t, icmp, gopacket.Payload(icmp.Payload))
		if !bytes.Equal(again, p.Data[20:]) {
			t.Fatalf("ICMP message %x, gopacket computes %x", p.Data[20:], again)
		}
	}
	if _, ok := pk.Layer(layers.LayerTypeTCP).(*layers.TCP); ok {
		a.tcp = decodeOut(t, p).tcp
	}
	return a
}

// handleAnswers runs one packet through e and decodes the answers.
func handleAnswers(t testing.TB, e *Engine, pkt []byte) (packet.Verdict, []answer) {
	t.Helper()
	out := packet.NewBatch(2, 2048)
	v := e.Handle(pkt, out)
	var as []answer
	for _, p := range out.Packets {
		as = append(as, decodeAnswer(t, p))
	}
	return v, as
}

// checkHostHeader checks what every answer shares: from the VIP back to
// the sender, TTL 64, DF set, not a fragment.
func checkHostHeader(t *testing.T, a answer, to netip.Addr, proto layers.IPProtocol) {
	t.Helper()
	if !a.ip.SrcIP.Equal(net.IP(vip.AsSlice())) || !a.ip.DstIP.Equal(net.IP(to.AsSlice())) {
		t.Errorf("answer %v -> %v, want %v -> %v", a.ip.SrcIP, a.ip.DstIP, vip, to)
	}
	if a.ip.TTL != 64 || a.ip.Flags != layers.IPv4DontFragment || a.ip.FragOffset != 0 || a.ip.Protocol != proto || a.ip.IHL != 5 {
		t.Errorf("answer header TTL %d flags %v frag %d protocol %v IHL %d", a.ip.TTL, a.ip.Flags, a.ip.FragOffset, a.ip.Protocol, a.ip.IHL)
	}
}

func TestVIPEchoReply(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	for _, data := range []string{"", "ping!", strings.Repeat("0123456789", 140)} {
		req := ping(t, client4, 7, 9, data)
		req[1] = 0x2a // DSCP copied into the reply, ECN (ECT(0)) not
		req = refixIPv4Header(req)
		v, as := handleAnswers(t, e, req)
		if v != packet.Consumed || len(as) != 1 {
			t.Fatalf("ping with %d bytes: %v, %d answers", len(data), v, len(as))
		}
		a := as[0]
		checkHostHeader(t, a, client4, layers.IPProtocolICMPv4)
		if a.ip.TOS != 0x28 {
			t.Errorf("echo reply TOS %#x, want the request's 0x28", a.ip.TOS)
		}
		if a.icmp == nil || a.icmp.TypeCode != layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoReply, 0) ||
			a.icmp.Id != 7 || a.icmp.Seq != 9 || string(a.icmp.Payload) != data {
			t.Errorf("echo reply %+v", a.icmp)
		}
	}
	s := e.Stats()
	if s.EchoReplies != 3 || s.Packets4Out != 3 || s.Packets4In != 3 {
		t.Errorf("stats: %d echo replies, %d packets out, %d in; want 3, 3, 3", s.EchoReplies, s.Packets4Out, s.Packets4In)
	}
}

// refixIPv4Header recomputes the IPv4 header checksum after an edit.
func refixIPv4Header(p []byte) []byte {
	h := packet.IPv4(p)
	h.SetChecksum(0)
	h.SetChecksum(packet.Checksum(0, p[:h.HeaderLength()]))
	return p
}

func TestVIPClosedPortReset(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	// A SYN: a reset acknowledging it.
	v, as := handleAnswers(t, e, pkt4(t, client4, vip, 40000, 9999, seg{seq: 1000, flags: "S", payload: []byte("xy")}))
	if v != packet.Drop || len(as) != 1 || as[0].tcp == nil {
		t.Fatalf("SYN to a closed port: %v, answers %+v", v, as)
	}
	checkHostHeader(t, as[0], client4, layers.IPProtocolTCP)
	if r := as[0].tcp; !r.RST || !r.ACK || r.SYN || r.Seq != 0 || r.Ack != 1003 || r.SrcPort != 9999 || r.DstPort != 40000 {
		t.Errorf("reset %+v, want RST+ACK 0/1003 from port 9999 to 40000", r)
	}
	// An ACK: a reset with its acknowledgment number as sequence number.
	v, as = handleAnswers(t, e, pkt4(t, client4, vip, 40000, 9999, seg{seq: 1003, ack: 5555, flags: "A"}))
	if v != packet.Drop || len(as) != 1 || as[0].tcp == nil {
		t.Fatalf("ACK to a closed port: %v, answers %+v", v, as)
	}
	if r := as[0].tcp; !r.RST || r.ACK || r.Seq != 5555 {
		t.Errorf("reset %+v, want RST seq 5555", r)
	}
	s := e.Stats()
	if s.ClosedPortResets != 2 || s.ClientResets != 2 || s.Drops[DropNoService] != 2 {
		t.Errorf("stats: %d closed-port resets, %d client resets, %d no-service drops; want 2, 2, 2",
			s.ClosedPortResets, s.ClientResets, s.Drops[DropNoService])
	}
}

func TestVIPPortUnreachable(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	for _, c := range []struct {
		name string
		pkt  []byte
	}{
		{"datagram", udpTo(t, client4, 5353, 53, "query")},
		{"no checksum", func() []byte {
			p := udpTo(t, client4, 5353, 53, "query")
			packet.UDP(p[20:]).SetChecksum(0)
			return p
		}()},
		{"empty", udpTo(t, client4, 5353, 53, "")},
		{"with IP options", func() []byte {
			ip := hostIP(client4, layers.IPProtocolUDP)
			ip.Options = []layers.IPv4Option{{OptionType: 1}, {OptionType: 1}, {OptionType: 1}, {OptionType: 0}}
			udp := &layers.UDP{SrcPort: 5353, DstPort: 53}
			udp.SetNetworkLayerForChecksum(ip)
			return serialize(t, ip, udp, gopacket.Payload("query with options"))
		}()},
	} {
		v, as := handleAnswers(t, e, c.pkt)
		if v != packet.Drop || len(as) != 1 || as[0].icmp == nil {
			t.Fatalf("%s: %v, answers %+v", c.name, v, as)
		}
		a := as[0]
		checkHostHeader(t, a, client4, layers.IPProtocolICMPv4)
		if a.ip.TOS != 0xc0 {
			t.Errorf("%s: TOS %#x, want 0xc0", c.name, a.ip.TOS)
		}
		ihl := int(c.pkt[0]&0xf) * 4
		want := c.pkt[:min(len(c.pkt), ihl+8)]
		if a.icmp.TypeCode != layers.CreateICMPv4TypeCode(layers.ICMPv4TypeDestinationUnreachable, layers.ICMPv4CodePort) ||
			a.icmp.Id != 0 || a.icmp.Seq != 0 || !bytes.Equal(a.icmp.Payload, want) {
			t.Errorf("%s: %v quoting %x, want port unreachable quoting %x", c.name, a.icmp.TypeCode, a.icmp.Payload, want)
		}
	}
	s := e.Stats()
	if s.PortUnreachables != 4 || s.Drops[DropNoService] != 4 || s.ICMPErrorsLimited != 0 || s.ICMPSent != 0 {
		t.Errorf("stats: %d port unreachables, %d no-service drops, %d limited, %d ICMPSent; want 4, 4, 0, 0",
			s.PortUnreachables, s.Drops[DropNoService], s.ICMPErrorsLimited, s.ICMPSent)
	}
}

type noAnswer struct {
	name   string
	pkt    []byte
	reason DropReason
}

// TestVIPNoAnswer checks the packets a host leaves unanswered.
func TestVIPNoAnswer(t *testing.T) {
	badChecksum := func(p []byte, off int) []byte {
		p[off] ^= 0xff
		return p
	}
	fragment := func(p []byte, flags uint16) []byte {
		packet.IPv4(p)[packet.IPv4FlagsFrag] = byte(flags >> 8)
		packet.IPv4(p)[packet.IPv4FlagsFrag+1] = byte(flags)
		return refixIPv4Header(p)
	}
	icmpMsg := func(typ, code uint8, body string) []byte {
		return serialize(t, hostIP(client4, layers.IPProtocolICMPv4),
			&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(typ, code)}, gopacket.Payload(body))
	}
	cases := []noAnswer{
		{"RST to a closed port", pkt4(t, client4, vip, 40000, 9999, seg{seq: 1, flags: "R"}), DropNoService},
		{"RST+ACK to a closed port", pkt4(t, client4, vip, 40000, 9999, seg{seq: 1, ack: 2, flags: "RA"}), DropNoService},
		{"port unreachable", icmpMsg(layers.ICMPv4TypeDestinationUnreachable, layers.ICMPv4CodePort, strings.Repeat("q", 28)), DropICMPUnhandled},
		{"time exceeded", icmpMsg(layers.ICMPv4TypeTimeExceeded, 0, strings.Repeat("q", 28)), DropICMPUnhandled},
		{"echo reply", icmpMsg(layers.ICMPv4TypeEchoReply, 0, "pong"), DropICMPUnhandled},
		{"timestamp request", icmpMsg(layers.ICMPv4TypeTimestampRequest, 0, strings.Repeat("t", 12)), DropICMPUnhandled},
		{"ping with a bad checksum", badChecksum(ping(t, client4, 1, 1, "data"), 20+2), DropICMPChecksum},
		{"truncated ping", func() []byte {
			p := ping(t, client4, 1, 1, "")[:20+6]
			p[3] = 26
			return refixIPv4Header(p)
		}(), DropMalformed},
		{"UDP with a bad checksum", badChecksum(udpTo(t, client4, 1, 53, "query"), 20+6), DropUDPChecksum},
		{"UDP length past the packet", func() []byte {
			p := udpTo(t, client4, 1, 53, "query")
			p[20+5] = 200
			return p
		}(), DropMalformed},
		{"first fragment of a ping", fragment(ping(t, client4, 1, 1, "data"), packet.IPv4FlagMF), DropFragment},
		{"later fragment of a ping", fragment(ping(t, client4, 1, 1, "data"), 100), DropFragment},
		{"UDP fragment", fragment(udpTo(t, client4, 1, 53, "query"), packet.IPv4FlagMF), DropFragment},
		{"SYN fragment", fragment(pkt4(t, client4, vip, 40000, 9999, seg{flags: "S"}), packet.IPv4FlagDF|1), DropFragment},
		{"GRE", serialize(t, hostIP(client4, layers.IPProtocolGRE), gopacket.Payload("gre!")), DropNotTCP},
	}
	for _, src := range []string{"224.0.0.1", "239.255.255.250", "255.255.255.255", "0.0.0.0", "127.0.0.1", "240.0.0.1"} {
		a := netip.MustParseAddr(src)
		cases = append(cases,
			noAnswer{"ping from " + src, ping(t, a, 1, 1, "data"), DropBadSource},
			noAnswer{"UDP from " + src, udpTo(t, a, 1, 53, "query"), DropBadSource},
			noAnswer{"SYN to a closed port from " + src, pkt4(t, a, vip, 40000, 9999, seg{flags: "S"}), DropBadSource},
			noAnswer{"SYN to a service from " + src, pkt4(t, a, vip, 40000, 80, seg{flags: "S"}), DropBadSource},
		)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, _ := newTestEngine(t, nil)
			out := packet.NewBatch(2, 2048)
			v := e.Handle(c.pkt, out)
			if v != packet.Drop || out.Len() != 0 {
				t.Errorf("%v with %d answers, want a drop without", v, out.Len())
			}
			s := e.Stats()
			if s.Drops[c.reason] != 1 {
				t.Errorf("drops %v, want one %v", s.Drops, c.reason)
			}
			if s.EchoReplies+s.ClosedPortResets+s.PortUnreachables+s.Packets4Out != 0 || e.Len() != 0 {
				t.Errorf("answered: %+v, %d connections", s, e.Len())
			}
		})
	}
}

func TestVIPMustBeUnicast(t *testing.T) {
	for _, a := range []string{"224.0.0.10", "255.255.255.255", "0.0.0.0", "127.0.0.1", "240.1.2.3"} {
		_, err := New(Config{Pool6: pool6, Services: []Service{{VIP: netip.MustParseAddr(a), Port: 80, Policy: PolicyRoundRobin,
			Backends: []Backend{{Addr: backendA}}}}})
		if err == nil || !strings.Contains(err.Error(), "unicast") {
			t.Errorf("VIP %s: error %v", a, err)
		}
	}
}

// TestICMPErrorLimit checks the token bucket on the ICMP errors: a burst,
// then the configured rate, every refusal counted, and resets for closed
// ports never limited (a reset is no larger than what it answers).
func TestICMPErrorLimit(t *testing.T) {
	count := func(e *Engine, pkt []byte, n int) (answered int) {
		out := packet.NewBatch(2, 2048)
		for range n {
			out.Reset()
			if v := e.Handle(pkt, out); v != packet.Drop {
				t.Fatalf("verdict %v", v)
			}
			answered += out.Len()
		}
		return answered
	}
	udp := udpTo(t, client4, 5353, 53, "query")

	e, clock := newTestEngine(t, func(c *Config) { c.ICMPErrorLimit = 10 })
	if n := count(e, udp, 25); n != 10 {
		t.Errorf("%d answered at once, want a burst of 10", n)
	}
	clock.Advance(250 * time.Millisecond)
	if n := count(e, udp, 5); n != 2 {
		t.Errorf("%d answered 250 ms later at 10/s, want 2", n)
	}
	clock.Advance(time.Hour)
	if n := count(e, udp, 25); n != 10 {
		t.Errorf("%d answered after an hour, want the burst of 10 again", n)
	}
	s := e.Stats()
	if s.PortUnreachables != 22 || s.ICMPErrorsLimited != 33 || s.Drops[DropNoService] != 55 || s.Limits.ICMPErrorLimit != 10 {
		t.Errorf("%d sent, %d limited, %d no-service drops, limit %d; want 22, 33, 55, 10",
			s.PortUnreachables, s.ICMPErrorsLimited, s.Drops[DropNoService], s.Limits.ICMPErrorLimit)
	}
	syn := pkt4(t, client4, vip, 40000, 9999, seg{flags: "S"})
	if n := count(e, syn, 100); n != 100 {
		t.Errorf("%d of 100 SYNs to a closed port answered, want every one", n)
	}

	// The default: 1000 a second in bursts of 50.
	e, clock = newTestEngine(t, nil)
	if n := count(e, udp, 200); n != 50 {
		t.Errorf("%d answered at once by default, want 50", n)
	}
	clock.Advance(10 * time.Millisecond)
	if n := count(e, udp, 200); n != 10 {
		t.Errorf("%d answered 10 ms later by default, want 10", n)
	}

	// Negative: none.
	e, _ = newTestEngine(t, func(c *Config) { c.ICMPErrorLimit = -1 })
	if n := count(e, udp, 3); n != 0 || e.Stats().ICMPErrorsLimited != 3 {
		t.Errorf("%d answered with the limit off, %d counted limited; want 0, 3", n, e.Stats().ICMPErrorsLimited)
	}

	// Echo replies are not errors and are not limited.
	e, _ = newTestEngine(t, func(c *Config) { c.ICMPErrorLimit = 1 })
	out := packet.NewBatch(2, 2048)
	req := ping(t, client4, 1, 1, "x")
	for range 20 {
		e.Handle(req, out)
	}
	if n := e.Stats().EchoReplies; n != 20 {
		t.Errorf("%d echo replies to 20 pings with an ICMP error limit of 1", n)
	}
}

// TestVIPAnswersAllocate checks that answering allocates nothing once a
// batch has its buffers, though it is a slow path.
func TestVIPAnswersAllocate(t *testing.T) {
	e, _ := newTestEngine(t, func(c *Config) { c.ICMPErrorLimit = 1 << 30 })
	out := packet.NewBatch(2, 2048)
	for _, p := range [][]byte{
		ping(t, client4, 1, 1, "data"),
		udpTo(t, client4, 5353, 53, "query"),
		pkt4(t, client4, vip, 40000, 9999, seg{flags: "S"}),
	} {
		if n := testing.AllocsPerRun(100, func() {
			out.Reset()
			e.Handle(p, out)
		}); n != 0 {
			t.Errorf("%v allocations per answer", n)
		}
	}
}

// checkICMPv4 checks the ICMP checksum of an IPv4 ICMP output packet.
func checkICMPv4(t *testing.T, p packet.Out) {
	ip := packet.IPv4(p.Data)
	if p.Family != packet.IPv4Family || !ip.IsValid() || ip.Protocol() != packet.ProtoICMPv4 {
		return
	}
	if icmp := ip.Payload(); len(icmp) < packet.ICMPHeaderLen || !packet.ChecksumOK(0, icmp) {
		t.Fatalf("ICMPv4 output with a wrong checksum or truncated: %x", p.Data)
	}
}
