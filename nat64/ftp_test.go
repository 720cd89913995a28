package nat64

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/sixgate/sixgate/ftpalg"
	"github.com/sixgate/sixgate/packet"
)

// ftpSession opens a control connection h1:40000 -> r2:21 through a NAT64
// with the FTP gateway on port 21, and returns the client's and the
// server's next sequence numbers and the client's pool4 port.
func ftpSession(t *testing.T) (*NAT64, uint32, uint32, uint16) {
	_, clk := newDefault(t)
	c := testConfig(clk)
	c.ALG.FTPPorts = []uint16{21}
	e := newTest(t, c)
	syn := one(t, e, tcp6(t, ap(h1, 40000), ap(r2v6, 21), layers.TCP{SYN: true, Seq: 100}))
	_, to := ends(t, syn)
	src, _ := ends(t, syn)
	if to != ap(r2, 21) {
		t.Fatalf("SYN to %v", to)
	}
	one(t, e, tcp4(t, ap(r2, 21), src, layers.TCP{SYN: true, ACK: true, Seq: 5000, Ack: 101}))
	return e, 101, 5001, src.Port()
}

// tcpData6 and tcpData4 are segments carrying payload.
func tcpData6(t testing.TB, src, dst netip.AddrPort, tcp layers.TCP, payload string) []byte {
	tcp.SrcPort, tcp.DstPort, tcp.Window = layers.TCPPort(src.Port()), layers.TCPPort(dst.Port()), 1000
	return serialize(t, v6(src.Addr(), dst.Addr(), layers.IPProtocolTCP), &tcp, gopacket.Payload(payload))
}

func tcpData4(t testing.TB, src, dst netip.AddrPort, tcp layers.TCP, payload string) []byte {
	tcp.SrcPort, tcp.DstPort, tcp.Window = layers.TCPPort(src.Port()), layers.TCPPort(dst.Port()), 1000
	return serialize(t, v4(src.Addr(), dst.Addr(), layers.IPProtocolTCP), &tcp, gopacket.Payload(payload))
}

// seg is a data segment's sequence number, acknowledgement and payload
// as decoded, with its endpoints.
func seg(t *testing.T, p gopacket.Packet) (uint32, uint32, string) {
	t.Helper()
	tcp := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
	return tcp.Seq, tcp.Ack, string(tcp.Payload)
}

func TestFTPEPRTThroughNAT64(t *testing.T) {
	e, cs, ss, cport := ftpSession(t)
	cmd := "EPRT |2|2001:db8::5|50000|\r\n"
	p := one(t, e, tcpData6(t, ap(h1, 40000), ap(r2v6, 21), layers.TCP{ACK: true, PSH: true, Seq: cs, Ack: ss}, cmd))
	seq, ack, pl := seg(t, p)
	_, arg := ftpalg.ParseCommand([]byte(pl))
	a4, ok := ftpalg.ParseEPRT(arg)
	if !ok || a4.Addr() != p4 || seq != cs || ack != ss {
		t.Fatalf("server got %q seq %d ack %d", pl, seq, ack)
	}
	want := pl
	// The server's acknowledgement of the rewritten line is the client's
	// of its own.
	reply := "200 EPRT command successful.\r\n"
	p = one(t, e, tcpData4(t, ap(r2, 21), ap(p4, cport), layers.TCP{ACK: true, PSH: true, Seq: ss, Ack: cs + uint32(len(want))}, reply))
	seq, ack, pl = seg(t, p)
	if pl != reply || seq != ss || ack != cs+uint32(len(cmd)) {
		t.Fatalf("client got %q seq %d ack %d", pl, seq, ack)
	}
	// The server's data connection comes through to the client's port,
	// from port 20 as from any other.
	for _, sport := range []uint16{20, 33333} {
		p = one(t, e, tcp4(t, ap(r2, sport), a4, layers.TCP{SYN: true, Seq: 9}))
		_, dst := ends(t, p)
		if dst != ap(h1, 50000) {
			t.Fatalf("data SYN from %d to %v", sport, dst)
		}
	}
	if st := e.Stats().FTP; st.Rewrites != 1 || st.Connections != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestFTPEPSVRetriedAsPASVThroughNAT64(t *testing.T) {
	e, cs, ss, cport := ftpSession(t)
	one(t, e, tcpData6(t, ap(h1, 40000), ap(r2v6, 21), layers.TCP{ACK: true, PSH: true, Seq: cs, Ack: ss}, "EPSV\r\n"))
	cs += 6
	// The refusal goes no further; PASV goes to the server instead.
	refusal := "500 Unknown command.\r\n"
	v, outs := run(t, e, tcpData4(t, ap(r2, 21), ap(p4, cport), layers.TCP{ACK: true, PSH: true, Seq: ss, Ack: cs}, refusal))
	if v != packet.Consumed || len(outs) != 2 {
		t.Fatalf("verdict %v, %d packets", v, len(outs))
	}
	toClient, toServer := decode(t, outs[0]), decode(t, outs[1])
	if _, _, pl := seg(t, toClient); pl != "" {
		t.Fatalf("client got %q", pl)
	}
	src, dst := ends(t, toServer)
	seq, ack, pl := seg(t, toServer)
	if src != ap(p4, cport) || dst != ap(r2, 21) || pl != "PASV\r\n" || seq != cs || ack != ss+uint32(len(refusal)) {
		t.Fatalf("retry %v -> %v %q seq %d ack %d", src, dst, pl, seq, ack)
	}
	ss += uint32(len(refusal))
	// The 227 reply, cut in two segments in the middle: the first half is
	// held (the client gets an empty segment), then the 229 reply.
	r227 := "227 Entering Passive Mode (198,51,100,7,156,64).\r\n"
	srvAck := cs + 6 // the server acknowledges the PASV
	p := one(t, e, tcpData4(t, ap(r2, 21), ap(p4, cport), layers.TCP{ACK: true, Seq: ss, Ack: srvAck}, r227[:20]))
	seq, ack, pl = seg(t, p)
	if pl != "" || ack != cs || seq != ss-uint32(len(refusal)) {
		t.Fatalf("half a 227 sent on: %q, seq %d ack %d (want %d)", pl, seq, ack, cs)
	}
	p = one(t, e, tcpData4(t, ap(r2, 21), ap(p4, cport), layers.TCP{ACK: true, PSH: true, Seq: ss + 20, Ack: srvAck}, r227[20:]))
	seq, _, pl = seg(t, p)
	want := "229 Entering Extended Passive Mode (|||40000|).\r\n"
	if pl != want || seq != ss-uint32(len(refusal)) {
		t.Fatalf("client got %q at %d", pl, seq)
	}
	// The client's acknowledgement of the 229 is the server's of both
	// of its replies.
	p = one(t, e, tcp6(t, ap(h1, 40000), ap(r2v6, 21), layers.TCP{ACK: true, Seq: cs, Ack: seq + uint32(len(want))}))
	if _, ack, _ := seg(t, p); ack != ss+uint32(len(r227)) {
		t.Fatalf("client's ack maps to %d, want %d", ack, ss+uint32(len(r227)))
	}
	if st := e.Stats().FTP; st.Retries != 1 || st.Rewrites != 1 || st.Held != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestFTPLPSVAnsweredByNAT64(t *testing.T) {
	e, cs, ss, _ := ftpSession(t)
	v, outs := run(t, e, tcpData6(t, ap(h1, 40000), ap(r2v6, 21), layers.TCP{ACK: true, PSH: true, Seq: cs, Ack: ss}, "LPSV\r\n"))
	if v != packet.Consumed || len(outs) != 2 {
		t.Fatalf("verdict %v, %d packets", v, len(outs))
	}
	if _, _, pl := seg(t, decode(t, outs[0])); pl != "" {
		t.Fatalf("server got %q", pl)
	}
	ans := decode(t, outs[1])
	src, dst := ends(t, ans)
	seq, ack, pl := seg(t, ans)
	if src != ap(r2v6, 21) || dst != ap(h1, 40000) || !strings.HasPrefix(pl, "500 ") || seq != ss || ack != cs+6 {
		t.Fatalf("answer %v -> %v %q seq %d ack %d", src, dst, pl, seq, ack)
	}
}

func TestFTPOffByDefault(t *testing.T) {
	e, _ := newDefault(t)
	syn := one(t, e, tcp6(t, ap(h1, 40000), ap(r2v6, 21), layers.TCP{SYN: true, Seq: 100}))
	src, _ := ends(t, syn)
	one(t, e, tcp4(t, ap(r2, 21), src, layers.TCP{SYN: true, ACK: true, Seq: 5000, Ack: 101}))
	p := one(t, e, tcpData6(t, ap(h1, 40000), ap(r2v6, 21), layers.TCP{ACK: true, Seq: 101, Ack: 5001}, "LPSV\r\n"))
	if _, _, pl := seg(t, p); pl != "LPSV\r\n" {
		t.Fatalf("server got %q", pl)
	}
}

// The gateway adds no allocation per control segment it passes.
func TestFTPNoAllocation(t *testing.T) {
	e, cs, ss, cport := ftpSession(t)
	c2s := tcpData6(t, ap(h1, 40000), ap(r2v6, 21), layers.TCP{ACK: true, PSH: true, Seq: cs, Ack: ss}, "NOOP\r\n")
	s2c := tcpData4(t, ap(r2, 21), ap(p4, cport), layers.TCP{ACK: true, PSH: true, Seq: ss, Ack: cs + 6}, "200 ok\r\n")
	out := packet.NewBatch(4, packet.DefaultBufSize)
	in6, in4 := make([]byte, len(c2s)), make([]byte, len(s2c))
	n := testing.AllocsPerRun(200, func() {
		copy(in6, c2s)
		copy(in4, s2c)
		out.Reset()
		e.Handle(in6, out)
		e.Handle(in4, out)
	})
	if n != 0 {
		t.Fatalf("%v allocations per pair of control segments", n)
	}
	if e.Stats().FTP.Connections != 1 {
		t.Fatal("not through the gateway")
	}
}
