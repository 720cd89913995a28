package ftpalg

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
)

var serverAddr = netip.MustParseAddr("198.51.100.7")

type fakeBinder struct {
	got  netip.AddrPort
	fail bool
}

func (f *fakeBinder) BindActive(client netip.AddrPort, server netip.Addr) (netip.AddrPort, bool) {
	f.got = client
	if f.fail {
		return netip.AddrPort{}, false
	}
	return netip.MustParseAddrPort("192.0.2.1:61002"), true
}

// side tracks one end of the control connection: what it sent (its own
// sequence space) and what it received, in order, from the other end's
// segments after the gateway.
type side struct {
	isn  uint32
	sent []byte
	// rcv is the stream received, indexed from the peer's ISN+1 in the
	// receiver's space.
	rcv []byte
}

type pipe struct {
	t      *testing.T
	c      *Conn
	cnt    Counters
	b      fakeBinder
	cl, sv side
}

func newPipe(t *testing.T) *pipe {
	p := &pipe{t: t, cl: side{isn: 1000}, sv: side{isn: 0xfffffff0}}
	p.c = NewConn(netip.MustParseAddr("198.51.100.7"), &p.b, &p.cnt)
	p.c.SYN(true, p.cl.isn)
	p.c.SYN(false, p.sv.isn)
	return p
}

// deliver writes a segment at seq into the receiver's stream (the
// peer's ISN+1 is index 0), checking it agrees with what it already
// holds.
func (p *pipe) deliver(to *side, peerISN, seq uint32, b []byte) {
	off := int(seq - (peerISN + 1))
	if off < 0 || off > len(to.rcv) {
		p.t.Fatalf("segment at %d leaves a gap (have %d)", off, len(to.rcv))
	}
	for i, c := range b {
		if off+i < len(to.rcv) {
			if to.rcv[off+i] != c {
				p.t.Fatalf("byte %d differs on retransmission: %q vs %q", off+i, to.rcv[off:], b)
			}
			continue
		}
		to.rcv = append(to.rcv, c)
	}
}

// send sends the sender's bytes [from, from+n) of its stream; from is an
// offset in its sent bytes, so retransmissions are easy to write.
func (p *pipe) send(fromClient bool, from, n int) Result {
	s, o := &p.cl, &p.sv
	if !fromClient {
		s, o = o, s
	}
	var r Result
	p.c.Segment(fromClient, s.isn+1+uint32(from), s.sent[from:from+n], false, &r)
	if r.Drop {
		return r
	}
	p.deliver(o, s.isn, r.Seq, r.Payload)
	if len(r.Back) > 0 {
		p.deliver(s, o.isn, r.BackSeq, r.Back)
		// The answer acknowledges the sender's complete lines, never
		// more than it sent.
		if got := int(r.BackAck - s.isn - 1); got > from+n || got < 0 {
			p.t.Errorf("back ack %d beyond the segment's end %d", got, from+n)
		}
	}
	return r
}

// write appends text to what a side sends and sends it whole.
func (p *pipe) write(fromClient bool, text string) Result {
	s := &p.cl
	if !fromClient {
		s = &p.sv
	}
	from := len(s.sent)
	s.sent = append(s.sent, text...)
	return p.send(fromClient, from, len(text))
}

func (p *pipe) expect(what string, got []byte, want string) {
	p.t.Helper()
	if string(got) != want {
		p.t.Fatalf("%s:\n got %q\nwant %q", what, got, want)
	}
}

func TestEPRTRewrittenAndNumbersShifted(t *testing.T) {
	p := newPipe(t)
	p.write(false, "220 hello\r\n")
	p.write(true, "USER a\r\n")
	p.write(true, "EPRT |2|2001:db8::10|50000|\r\n")
	p.write(true, "RETR f\r\n")
	p.expect("server got", p.sv.rcv, "USER a\r\nEPRT |1|192.0.2.1|61002|\r\nRETR f\r\n")
	if p.b.got != netip.MustParseAddrPort("[2001:db8::10]:50000") {
		t.Fatalf("bound %v", p.b.got)
	}
	// The server's acknowledgement of everything maps to the client's end.
	ack := p.sv.isn + 0 // unused
	_ = ack
	all := p.cl.isn + 1 + uint32(len(p.sv.rcv))
	if got := p.c.Ack(false, all); got != p.cl.isn+1+uint32(len(p.cl.sent)) {
		t.Fatalf("ack %d maps to %d, want %d", all, got, p.cl.isn+1+uint32(len(p.cl.sent)))
	}
	// An acknowledgement inside the rewritten line acknowledges none of it.
	mid := p.cl.isn + 1 + 8 + 5
	if got := p.c.Ack(false, mid); got != p.cl.isn+1+8 {
		t.Fatalf("ack inside the rewritten line maps to %d", got-p.cl.isn-1)
	}
	if p.cnt.Rewrites.Load() != 1 {
		t.Fatalf("rewrites %d", p.cnt.Rewrites.Load())
	}
}

func TestRetransmissionAcrossRewrittenLine(t *testing.T) {
	p := newPipe(t)
	p.write(true, "NOOP\r\nEPRT |2|2001:db8::10|50000|\r\nNOOP\r\n")
	n := len(p.cl.sent)
	// Retransmissions with every start and end: each must agree with the
	// stream the server has (deliver checks) and cover what it claims.
	for from := 0; from < n; from++ {
		for to := from + 1; to <= n; to++ {
			r := p.send(true, from, to-from)
			if r.Drop || len(r.Payload) == 0 {
				t.Fatalf("[%d,%d) sent nothing", from, to)
			}
		}
	}
	p.expect("server got", p.sv.rcv, "NOOP\r\nEPRT |1|192.0.2.1|61002|\r\nNOOP\r\n")
	// The retransmission did not add ranges.
	if len(p.c.cs.d.e) != 1 {
		t.Fatalf("%d ranges", len(p.c.cs.d.e))
	}
}

func TestSACKBlocksMapped(t *testing.T) {
	p := newPipe(t)
	p.write(true, "EPRT |2|2001:db8::10|50000|\r\n")
	p.write(true, "LIST\r\n")
	p.write(true, "QUIT\r\n")
	// The server SACKs LIST (a block in its space).
	start := p.cl.isn + 1 + uint32(strings.Index(string(p.sv.rcv), "LIST"))
	end := start + 6
	want := p.cl.isn + 1 + uint32(strings.Index(string(p.cl.sent), "LIST"))
	if got := p.c.Ack(false, start); got != want {
		t.Fatalf("SACK left edge %d, want %d", got, want)
	}
	if got := p.c.Ack(false, end); got != want+6 {
		t.Fatalf("SACK right edge %d, want %d", got, want+6)
	}
}

func TestSplitCommandHeld(t *testing.T) {
	p := newPipe(t)
	p.cl.sent = []byte("EPRT |2|2001:db8::10|50000|\r\nPWD\r\n")
	r := p.send(true, 0, 4)
	if len(r.Payload) != 0 || r.Seq != p.cl.isn+1 {
		t.Fatalf("partial line sent on: %q at %d", r.Payload, r.Seq)
	}
	if r.AckBack {
		t.Fatal("held bytes acknowledged at once")
	}
	// The held bytes are sent again by the client, nothing new: it waits
	// for their acknowledgement, which the gateway sends.
	r = p.send(true, 0, 4)
	if len(r.Payload) != 0 {
		t.Fatalf("held bytes sent on: %q", r.Payload)
	}
	if !r.AckBack || r.BackAck != p.cl.isn+1+4 {
		t.Fatalf("held bytes sent again not acknowledged: %+v", r)
	}
	// The server acknowledges nothing of them.
	if got := p.c.Ack(false, r.Seq); got != p.cl.isn+1 {
		t.Fatalf("ack %d", got)
	}
	p.send(true, 4, 10)
	r = p.send(true, 14, len(p.cl.sent)-14)
	p.expect("server got", p.sv.rcv, "EPRT |1|192.0.2.1|61002|\r\nPWD\r\n")
	// The gateway answers for bytes the client will not send again.
	if !r.Own {
		t.Fatal("the line completing acknowledged bytes is not the gateway's to keep")
	}
	if p.cnt.Held.Load() != 2 {
		t.Fatalf("held %d", p.cnt.Held.Load())
	}
}

func TestSegmentAfterGapDropped(t *testing.T) {
	p := newPipe(t)
	p.cl.sent = []byte("NOOP\r\nNOOP\r\n")
	if r := p.send(true, 6, 6); !r.Drop {
		t.Fatal("segment after a gap sent on")
	}
	p.send(true, 0, 12)
	p.expect("server got", p.sv.rcv, "NOOP\r\nNOOP\r\n")
}

func TestEPSVRetriedAsPASV(t *testing.T) {
	p := newPipe(t)
	p.write(false, "220 hi\r\n")
	p.write(true, "EPSV\r\n")
	r := p.write(false, "500 what\r\n")
	if string(r.Back) != "PASV\r\n" {
		t.Fatalf("retry %q", r.Back)
	}
	p.write(false, "227 Entering Passive Mode (198,51,100,7,195,81).\r\n")
	p.expect("client got", p.cl.rcv, "220 hi\r\n229 Entering Extended Passive Mode (|||50001|).\r\n")
	p.expect("server got", p.sv.rcv, "EPSV\r\nPASV\r\n")
	// The next EPSV goes straight as PASV.
	p.write(true, "EPSV\r\n")
	p.write(false, "227 Entering Passive Mode (198,51,100,7,195,82).\r\n")
	p.expect("client got", p.cl.rcv, "220 hi\r\n229 Entering Extended Passive Mode (|||50001|).\r\n229 Entering Extended Passive Mode (|||50002|).\r\n")
	p.expect("server got", p.sv.rcv, "EPSV\r\nPASV\r\nPASV\r\n")
	// Acknowledgements both ways land on the senders' ends.
	if got := p.c.Ack(true, p.sv.isn+1+uint32(len(p.cl.rcv))); got != p.sv.isn+1+uint32(len(p.sv.sent)) {
		t.Fatalf("client ack maps to %d of %d", got-p.sv.isn-1, len(p.sv.sent))
	}
	if got := p.c.Ack(false, p.cl.isn+1+uint32(len(p.sv.rcv))); got != p.cl.isn+1+uint32(len(p.cl.sent)) {
		t.Fatalf("server ack maps to %d of %d", got-p.cl.isn-1, len(p.cl.sent))
	}
	// The server's refusal, sent again, is not shown to the client.
	p.send(false, 8, 10)
	if p.cnt.Retries.Load() != 1 {
		t.Fatalf("retries %d", p.cnt.Retries.Load())
	}
}

func TestEPSVPassed(t *testing.T) {
	p := newPipe(t)
	p.write(true, "EPSV\r\n")
	p.write(false, "229 Entering Extended Passive Mode (|||40000|)\r\n")
	p.expect("client got", p.cl.rcv, "229 Entering Extended Passive Mode (|||40000|)\r\n")
	if p.c.Shifted() {
		t.Fatal("numbers shifted")
	}
}

func TestEPRTRetriedAsPORT(t *testing.T) {
	p := newPipe(t)
	p.write(true, "EPRT |2|2001:db8::10|50000|\r\n")
	r := p.write(false, "502 no\r\n")
	if string(r.Back) != "PORT 192,0,2,1,238,74\r\n" {
		t.Fatalf("retry %q", r.Back)
	}
	p.write(false, "200 PORT ok\r\n")
	p.expect("client got", p.cl.rcv, "200 PORT ok\r\n")
	p.write(true, "EPRT |2|2001:db8::10|50001|\r\n")
	p.expect("server got", p.sv.rcv, "EPRT |1|192.0.2.1|61002|\r\nPORT 192,0,2,1,238,74\r\nPORT 192,0,2,1,238,74\r\n")
}

// A retransmission that ends where the gateway inserted text (the PORT
// retried for a refused EPRT, sent while the next line was held) carries
// the inserted text too, so the bytes after it land where they did the
// first time.
func TestRetransmissionEndingAtInsertion(t *testing.T) {
	p := newPipe(t)
	p.cl.sent = []byte("EPRT |2|::1|1|\r\nNOOP\r\n")
	p.send(true, 0, 20) // the EPRT line and "NOOP", held
	p.write(false, "500 no\r\n")
	p.send(true, 12, len(p.cl.sent)-12) // from inside the EPRT line to the end
	p.expect("server got", p.sv.rcv, "EPRT |1|192.0.2.1|61002|\r\nPORT 192,0,2,1,238,74\r\nNOOP\r\n")
}

func TestLPRTAndLPSVAnswered(t *testing.T) {
	p := newPipe(t)
	p.write(false, "220 hi\r\n")
	r := p.write(true, "LPSV\r\n")
	p.expect("answer", r.Back, "500 Command not understood.\r\n")
	p.write(true, "LPRT 6,16,32,1,13,184,0,0,0,0,0,0,0,0,0,0,16,2,195,80\r\n")
	p.write(true, "PWD\r\n")
	p.write(false, "257 \"/\"\r\n")
	p.expect("server got", p.sv.rcv, "PWD\r\n")
	p.expect("client got", p.cl.rcv, "220 hi\r\n500 Command not understood.\r\n500 Command not understood.\r\n257 \"/\"\r\n")
	if got := p.c.Ack(false, p.cl.isn+1+uint32(len(p.sv.rcv))); got != p.cl.isn+1+uint32(len(p.cl.sent)) {
		t.Fatalf("server ack maps to %d of %d", got-p.cl.isn-1, len(p.cl.sent))
	}
}

func TestALGS(t *testing.T) {
	p := newPipe(t)
	p.write(true, "ALGS STATUS64\r\n")
	p.write(true, "ALGS DISABLE64\r\n")
	p.write(true, "algs status64\r\n")
	p.write(true, "EPRT |2|2001:db8::10|50000|\r\n")
	p.write(true, "ALGS ENABLE64\r\n")
	p.write(true, "ALGS BOGUS\r\n")
	p.expect("server got", p.sv.rcv, "EPRT |2|2001:db8::10|50000|\r\n")
	want := "216 FTP ALG for IPv6 to IPv4 translation is enabled.\r\n" +
		"200 FTP ALG for IPv6 to IPv4 translation disabled.\r\n" +
		"216 FTP ALG for IPv6 to IPv4 translation is disabled.\r\n" +
		"200 FTP ALG for IPv6 to IPv4 translation enabled.\r\n" +
		"501 Syntax error in ALGS parameters.\r\n"
	p.expect("client got", p.cl.rcv, want)
}

func TestEPSVAllHonoured(t *testing.T) {
	p := newPipe(t)
	p.write(true, "EPSV ALL\r\n")
	p.write(false, "500 no\r\n")
	p.expect("client got", p.cl.rcv, "200 EPSV ALL command successful.\r\n")
	r := p.write(true, "PASV\r\n")
	p.expect("answer", r.Back, "501 EPSV ALL in effect.\r\n")
	p.write(true, "EPSV\r\n")
	p.expect("server got", p.sv.rcv, "EPSV ALL\r\nPASV\r\n")
}

func TestRewritingStopsAtTLS(t *testing.T) {
	p := newPipe(t)
	p.write(true, "AUTH TLS\r\n")
	p.write(false, "234 go\r\n")
	p.write(true, "EPRT |2|2001:db8::10|50000|\r\n")
	p.write(true, "LPSV\r\n")
	p.expect("server got", p.sv.rcv, "AUTH TLS\r\nEPRT |2|2001:db8::10|50000|\r\nLPSV\r\n")
	if p.cnt.TLS.Load() != 1 {
		t.Fatal("TLS not counted")
	}
}

func TestLineTooLongPassedUnparsed(t *testing.T) {
	p := newPipe(t)
	long := "EPRT |2|2001:db8::10|50000|" + strings.Repeat(" ", MaxLine) + "\r\n"
	p.cl.sent = []byte(long + "NOOP\r\n")
	for i := 0; i < len(p.cl.sent); i += 100 {
		p.send(true, i, min(100, len(p.cl.sent)-i))
	}
	if !bytes.Equal(p.sv.rcv, p.cl.sent) {
		t.Fatalf("server got %q", p.sv.rcv)
	}
	if p.cnt.LinesTooLong.Load() != 1 {
		t.Fatalf("too long %d", p.cnt.LinesTooLong.Load())
	}
}

func TestFEATPassed(t *testing.T) {
	p := newPipe(t)
	p.write(true, "FEAT\r\n")
	feat := "211-Features:\r\n EPRT\r\n EPSV\r\n227 not a reply\r\n211 End\r\n"
	p.write(false, feat)
	p.expect("client got", p.cl.rcv, feat)
}

func TestNoAllocation(t *testing.T) {
	p := newPipe(t)
	seg := []byte("NOOP\r\n")
	rep := []byte("200 ok\r\n")
	var r Result
	cs, ss := p.cl.isn+1, p.sv.isn+1
	n := testing.AllocsPerRun(100, func() {
		p.c.Segment(true, cs, seg, false, &r)
		p.c.Segment(false, ss, rep, false, &r)
		cs += uint32(len(seg))
		ss += uint32(len(rep))
	})
	if n != 0 {
		t.Fatalf("%v allocations per segment pair", n)
	}
}

// TestAckAfterFIN checks that the segments after a FIN, which takes a
// sequence number of its own, pass with their numbers mapped rather than
// being taken for bytes past a gap.
func TestAckAfterFIN(t *testing.T) {
	p := newPipe(t)
	p.write(true, "EPRT |2|2001:db8::10|50000|\r\n")
	var r Result
	seq := p.cl.isn + 1 + uint32(len(p.cl.sent))
	p.c.Segment(true, seq, nil, true, &r)
	// The FIN goes on at the end of what the server received.
	if r.Drop || r.Seq != p.cl.isn+1+uint32(len(p.sv.rcv)) {
		t.Fatalf("FIN: drop %v, seq %d, want %d", r.Drop, r.Seq, p.cl.isn+1+uint32(len(p.sv.rcv)))
	}
	p.c.Segment(true, seq+1, nil, false, &r)
	if r.Drop || r.Seq != p.cl.isn+1+uint32(len(p.sv.rcv))+1 {
		t.Fatalf("ACK after the FIN: drop %v, seq %d, want %d", r.Drop, r.Seq, p.cl.isn+1+uint32(len(p.sv.rcv))+1)
	}
	if n := p.cnt.OutOfOrder.Load(); n != 0 {
		t.Fatalf("%d segments taken for out of order", n)
	}
}
