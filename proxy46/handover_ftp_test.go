package proxy46

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sixgate/sixgate/packet"
)

// TestFTPChallengeACKMapped: the challenge ACK the splice sends the client
// of a control connection (a SYN on the synchronized connection)
// acknowledges the client's bytes in the client's space, not in the
// backend's, which a rewritten line made longer.
func TestFTPChallengeACKMapped(t *testing.T) {
	e, err := New(ftpEngineConfig(nil))
	if err != nil {
		t.Fatal(err)
	}
	c4, c6 := openFTP(t, e)
	out := packet.NewBatch(8, 2048)
	e.Handle(c4.next([]byte("PORT 198,51,100,7,195,80\r\n")), out)
	if out.Len() != 1 {
		t.Fatalf("%d packets for PORT", out.Len())
	}
	sent := decodeOut(t, out.Packets[0]).tcp
	// The backend acknowledges the rewritten line, in its space.
	c6.ack = sent.Seq + uint32(len(sent.Payload))
	out.Reset()
	e.Handle(c6.next([]byte("200 ok\r\n")), out)
	if out.Len() != 1 || decodeOut(t, out.Packets[0]).tcp.Ack != c4.seq {
		t.Fatalf("the backend's ACK not mapped: %d packets", out.Len())
	}
	out.Reset()
	e.Handle(pkt4(t, client4, vip, 40000, 21, seg{seq: 12345, flags: "S", window: 0xffff}), out)
	if out.Len() != 1 {
		t.Fatalf("%d packets for a SYN on the control connection, want a challenge ACK", out.Len())
	}
	ch := decodeOut(t, out.Packets[0]).tcp
	if !ch.ACK || ch.SYN || ch.Ack != c4.seq {
		t.Fatalf("challenge ACK acknowledges %d (ACK %v), the client sent up to %d", ch.Ack, ch.ACK, c4.seq)
	}
	// The client has received the banner and "200 ok".
	if ch.Seq != c4.ack+16 {
		t.Fatalf("challenge ACK's sequence number %d, the client has %d", ch.Seq, c4.ack+16)
	}
}

// ftpRun feeds the same packets to an engine that never hands over and to
// one handed over before packet at, and requires the same output from
// both for every packet, and the same after the timers run.
func ftpRun(t *testing.T, pkts [][]byte, at int) {
	t.Helper()
	// One clock that stands still: the ISNs the engines choose depend on
	// it.
	clock := newFakeClock()
	cfg := ftpEngineConfig(func(c *Config) { c.Clock = clock.Now })
	ref, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	moved, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	openFTP(t, ref)
	openFTP(t, moved)
	o1, o2 := packet.NewBatch(8, 2048), packet.NewBatch(8, 2048)
	for i, p := range pkts {
		if i == at {
			var rep ImportReport
			moved, rep = moveFTP(t, moved, cfg)
			if rep.Dropped != 0 || rep.GatewaysDropped != 0 || rep.ExpectationsDropped != 0 {
				t.Fatalf("hand-over before packet %d: %+v", i, rep)
			}
			if len(moved.expects) != len(ref.expects) || len(moved.ftpConns) != len(ref.ftpConns) {
				t.Fatalf("hand-over before packet %d: %d expectations and %d gateways, want %d and %d", i,
					len(moved.expects), len(moved.ftpConns), len(ref.expects), len(ref.ftpConns))
			}
		}
		o1.Reset()
		o2.Reset()
		v1, v2 := ref.Handle(bytes.Clone(p), o1), moved.Handle(bytes.Clone(p), o2)
		if v1 != v2 || !sameOut(t, o1, o2) {
			t.Fatalf("packet %d after a hand-over before %d: verdict %v, %d packets; want %v, %d packets:\n%s\nwant\n%s",
				i, at, v2, o2.Len(), v1, o1.Len(), describe(t, o2), describe(t, o1))
		}
	}
	if ref.Len() != moved.Len() || len(ref.expects) != len(moved.expects) {
		t.Fatalf("%d connections and %d expectations, want %d and %d", moved.Len(), len(moved.expects), ref.Len(), len(ref.expects))
	}
}

// moveFTP hands old over to a new engine built from cfg, through the
// encoding, with no time spent in transit: the engines' clocks stay
// equal, so that both choose the same ISNs after it.
func moveFTP(t *testing.T, old *Engine, cfg Config) (*Engine, ImportReport) {
	t.Helper()
	b, err := old.Export().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var st HandoverState
	if err := st.UnmarshalBinary(b); err != nil {
		t.Fatalf("decode own export: %v", err)
	}
	if again, _ := st.MarshalBinary(); !bytes.Equal(again, b) {
		t.Fatal("export does not survive its encoding")
	}
	st.wall = time.Now().Add(time.Hour).UnixNano()
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := e.Import(&st)
	if err != nil {
		t.Fatal(err)
	}
	return e, rep
}

func sameOut(t *testing.T, a, b *packet.Batch) bool {
	if a.Len() != b.Len() {
		return false
	}
	for i := range a.Packets {
		x, y := a.Packets[i], b.Packets[i]
		if x.Family != y.Family || !bytes.Equal(stripID(x), stripID(y)) {
			return false
		}
		decodeOut(t, y)
	}
	return true
}

// stripID returns a packet without its IPv4 identification and header
// checksum, which are the engine's own count of packets sent.
func stripID(p packet.Out) []byte {
	b := bytes.Clone(p.Data)
	if p.Family == packet.IPv4Family && len(b) >= 20 {
		b[4], b[5], b[10], b[11] = 0, 0, 0, 0
	}
	return b
}

func describe(t *testing.T, o *packet.Batch) string {
	var s strings.Builder
	for _, p := range o.Packets {
		d := decodeOut(t, p)
		fmt.Fprintf(&s, "  %v seq %d ack %d syn %v %q\n", p.Family, d.tcp.Seq, d.tcp.Ack, d.tcp.SYN, d.tcp.Payload)
	}
	return s.String()
}

// ftpScript is a control connection (opened by openFTP) in the middle of
// rewrites: PORT sent as a longer EPRT, a PASV whose 229 reply comes in
// two segments (the first held by the gateway) and becomes a 227, a
// command held incomplete, retransmissions of rewritten lines from both
// sides, then the data connections both announced: the server's SYN to
// the client (active), the client's answer, and the client's SYN to the
// lent VIP port (passive).
func ftpScript(t testing.TB) [][]byte {
	clock := newFakeClock()
	e, err := New(ftpEngineConfig(func(c *Config) { c.Clock = clock.Now }))
	if err != nil {
		t.Fatal(err)
	}
	c4, c6 := openFTP(t, e)
	at4, at6 := c4.seq, c6.seq
	var pkts [][]byte
	pkts = append(pkts, c4.next([]byte("PORT 198,51,100,7,195,80\r\n")))
	pkts = append(pkts, c6.next([]byte("200 ok\r\n")))
	pkts = append(pkts, c4.next([]byte("PASV\r\n")))
	reply := "229 Entering Extended Passive Mode (|||40001|)\r\n"
	pkts = append(pkts, c6.next([]byte(reply[:17])))
	pkts = append(pkts, c6.next([]byte(reply[17:])))
	pkts = append(pkts, c4.next([]byte("LI")))
	// The client sends everything again, the held bytes and the rest.
	all := "PORT 198,51,100,7,195,80\r\nPASV\r\nLIST\r\n"
	pkts = append(pkts, pkt4(t, client4, vip, 40000, 21, seg{seq: at4, ack: c4.ack, flags: "AP", window: 0xffff, payload: []byte(all)}))
	c4.seq = at4 + uint32(len(all))
	// The server sends its replies again from the first.
	pkts = append(pkts, pkt6(t, hostFTP, client6, 21, 40000, seg{seq: at6, ack: c6.ack, flags: "AP", window: 0xffff,
		payload: []byte("200 ok\r\n" + reply)}))
	pkts = append(pkts, c6.next([]byte("150 here\r\n")))
	// The server opens the active-mode data connection, the client
	// answers it.
	pkts = append(pkts, pkt6(t, hostFTP, client6, 20, 50000, seg{seq: 5000, flags: "S", window: 0xffff}))
	pkts = append(pkts, pkt4(t, client4, vip, 50000, 20, seg{seq: 7000, ack: 5001, flags: "SA", window: 0xffff}))
	pkts = append(pkts, pkt6(t, hostFTP, client6, 20, 50000, seg{seq: 5001, ack: 7001, flags: "AP", window: 0xffff, payload: []byte("data")}))
	// The client opens the passive-mode data connection.
	pkts = append(pkts, pkt4(t, client4, vip, 41000, 50000, seg{seq: 9000, flags: "S", window: 0xffff}))
	pkts = append(pkts, c4.next([]byte("QUIT\r\n")))
	return pkts
}

// TestFTPHandoverMidRewrite hands the engine over before each packet of
// ftpScript: every packet after it comes out exactly as from an engine
// that never handed over (sequence numbers shifted by the rewrites, held
// bytes, retransmissions rendered as the first time, expectations met,
// the active-mode handshake completed).
func TestFTPHandoverMidRewrite(t *testing.T) {
	pkts := ftpScript(t)
	for at := 0; at <= len(pkts); at++ {
		ftpRun(t, pkts, at)
	}
	// The script does what it says: with no hand-over, the data
	// connections open and the lines are rewritten.
	clock := newFakeClock()
	e, _ := New(ftpEngineConfig(func(c *Config) { c.Clock = clock.Now }))
	openFTP(t, e)
	out := packet.NewBatch(8, 2048)
	for _, p := range pkts {
		e.Handle(p, out)
	}
	st := e.Stats().FTP
	if st.ActiveOpened != 1 || st.PassiveOpened != 1 || st.Rewrites < 2 || e.Len() != 3 {
		t.Fatalf("script: %+v, %d connections", st, e.Len())
	}
}

// TestHandoverReadsVersion1: a state the previous release encoded
// (version 1, testdata) still imports, its FTP control connection
// without a gateway, as that release's own import did.
func TestHandoverReadsVersion1(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "handover-v1.bin"))
	if err != nil {
		t.Fatal(err)
	}
	var st HandoverState
	if err := st.UnmarshalBinary(b); err != nil {
		t.Fatalf("version 1: %v", err)
	}
	if st.version != 1 || st.Connections() != 1 {
		t.Fatalf("version %d, %d connections", st.version, st.Connections())
	}
	e, err := New(ftpEngineConfig(nil))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := e.Import(&st)
	if err != nil || rep.Imported != 1 {
		t.Fatalf("import: %+v, %v", rep, err)
	}
	again, _ := st.MarshalBinary()
	var st2 HandoverState
	if err := st2.UnmarshalBinary(again); err != nil || st2.version != handoverVersion {
		t.Fatalf("re-encoded as version %d: %v", st2.version, err)
	}
}

// TestFTPHandoverDecodeErrors: FTP parts that do not fit their
// connections are errors.
func TestFTPHandoverDecodeErrors(t *testing.T) {
	e, _ := New(ftpEngineConfig(nil))
	c4, _ := openFTP(t, e)
	out := packet.NewBatch(8, 2048)
	e.Handle(c4.next([]byte("PORT 198,51,100,7,195,80\r\n")), out)
	st := e.Export()
	if len(st.expects) != 1 || st.conns[0].ftp == nil {
		t.Fatalf("%d expectations exported", len(st.expects))
	}
	for _, tc := range []struct {
		name string
		mut  func(s *HandoverState)
		want string
	}{
		{"expectation of nothing", func(s *HandoverState) { s.expects[0].ctl = 5 }, "no FTP control connection"},
		{"data and control", func(s *HandoverState) { s.conns[0].kind |= hkFTPData }, "both control and data"},
		{"from backend", func(s *HandoverState) { s.conns[0].kind = hkFromBackend }, "no FTP data connection"},
		{"active with a server port", func(s *HandoverState) { s.expects[0].serverPort = 21 }, "with a server port"},
	} {
		s := *e.Export()
		s.conns = append([]exportedConn(nil), s.conns...)
		s.expects = append([]exportedExpect(nil), s.expects...)
		tc.mut(&s)
		b, _ := s.MarshalBinary()
		var got HandoverState
		if err := got.UnmarshalBinary(b); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}
