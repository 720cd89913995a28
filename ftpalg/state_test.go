package ftpalg

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/sixgate/sixgate/statecodec"
)

// step is one thing a side of the control connection does.
type step struct {
	what string
	do   func(p *pipe) Result
}

// writeStep sends text whole; partStep appends text but sends only its
// first n bytes; resendStep sends the side's bytes [from, end) again.
func writeStep(fromClient bool, text string) step {
	return step{fmt.Sprintf("write %v %q", fromClient, text), func(p *pipe) Result { return p.write(fromClient, text) }}
}

func partStep(fromClient bool, text string, n int) step {
	return step{fmt.Sprintf("part %v %q %d", fromClient, text, n), func(p *pipe) Result {
		s := &p.cl
		if !fromClient {
			s = &p.sv
		}
		from := len(s.sent)
		s.sent = append(s.sent, text...)
		return p.send(fromClient, from, n)
	}}
}

func sendStep(fromClient bool, from, n int) step {
	return step{fmt.Sprintf("send %v [%d,+%d)", fromClient, from, n), func(p *pipe) Result { return p.send(fromClient, from, n) }}
}

func resendStep(fromClient bool, from int) step {
	return step{fmt.Sprintf("resend %v from %d", fromClient, from), func(p *pipe) Result {
		s := &p.cl
		if !fromClient {
			s = &p.sv
		}
		return p.send(fromClient, from, len(s.sent)-from)
	}}
}

// natSteps go through a refused EPSV (retried as PASV, whose 227 becomes
// a 229), an EPRT whose rewrite changes the line's length, a command held
// incomplete and acknowledged by the gateway, retransmissions of both
// streams from their start, and an EPSV sent as PASV straight away.
var natSteps = []step{
	writeStep(false, "220 hi\r\n"),
	writeStep(true, "EPSV\r\n"),
	writeStep(false, "500 what\r\n"),
	writeStep(false, "227 Entering Passive Mode (198,51,100,7,195,81).\r\n"),
	writeStep(true, "EPRT |2|2001:db8::10|50000|\r\n"),
	partStep(true, "RETR f\r\n", 3),
	sendStep(true, len("EPSV\r\nEPRT |2|2001:db8::10|50000|\r\n"), 3),
	writeStep(false, "200 EPRT ok\r\n"),
	resendStep(true, 0),
	writeStep(false, "150-Opening\r\n"),
	partStep(false, "150 go\r\n", 4),
	resendStep(false, 0),
	writeStep(true, "EPSV\r\n"),
	writeStep(false, "226 done\r\n227 Entering Passive Mode (198,51,100,7,195,82).\r\n"),
	resendStep(false, 3),
	resendStep(true, 2),
}

// spliceSteps: PASV sent as EPSV with its 229 reply split (held) and
// turned into a 227, PORT sent as EPRT |2|, a held command, and
// retransmissions.
var spliceSteps = []step{
	writeStep(false, "220 hi\r\n"),
	writeStep(true, "PASV\r\n"),
	partStep(false, "229 Entering Extended Passive Mode (|||40001|)\r\n", 16),
	resendStep(false, len("220 hi\r\n")),
	writeStep(true, "PORT 198,51,100,7,195,80\r\n"),
	partStep(true, "LIST\r\n", 2),
	sendStep(true, len("PASV\r\nPORT 198,51,100,7,195,80\r\n"), 2),
	resendStep(true, 0),
	writeStep(false, "200 ok\r\n150 go\r\n"),
	resendStep(false, 0),
	writeStep(true, "EPSV\r\n"),
	writeStep(false, "226 done\r\n229 Entering Extended Passive Mode (|||40002|)\r\n"),
	resendStep(true, 3),
}

// handOver moves p's gateway into a new one through its encoding, as an
// upgrade does.
func handOver(t *testing.T, p *pipe) {
	t.Helper()
	st := p.c.State()
	b, err := st.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != st.Len() {
		t.Fatalf("encoding of %d bytes, Len %d", len(b), st.Len())
	}
	var got State
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatalf("decode: %v", err)
	}
	var c *Conn
	if got.Splice() {
		c = NewSpliceConn(p.c.splice, &p.cnt)
	} else {
		c = NewConn(p.c.server, &p.b, &p.cnt)
	}
	if err := c.Restore(&got); err != nil {
		t.Fatal(err)
	}
	p.c = c
}

func sameResult(a, b Result) bool {
	return a.Seq == b.Seq && bytes.Equal(a.Payload, b.Payload) && a.Drop == b.Drop && bytes.Equal(a.Back, b.Back) &&
		a.BackSeq == b.BackSeq && a.BackAck == b.BackAck && a.AckBack == b.AckBack && a.Own == b.Own
}

// A gateway handed over at any point between two segments goes on exactly
// as one that never was: every segment after it, retransmissions across
// rewritten lines and held bytes included, comes out the same, and
// acknowledgements map the same.
func TestStateHandOverAtEveryStep(t *testing.T) {
	for _, kind := range []struct {
		name   string
		steps  []step
		splice bool
	}{{"nat64", natSteps, false}, {"splice", spliceSteps, true}} {
		for at := 0; at <= len(kind.steps); at++ {
			t.Run(fmt.Sprintf("%s/%d", kind.name, at), func(t *testing.T) {
				mk := func() *pipe {
					if kind.splice {
						p, _ := newSplicePipe(t)
						return p
					}
					return newPipe(t)
				}
				ref, moved := mk(), mk()
				for i, s := range kind.steps {
					if i == at {
						handOver(t, moved)
					}
					a, b := s.do(ref), s.do(moved)
					if !sameResult(a, b) {
						t.Fatalf("step %d (%s) after a hand-over at %d:\n got %+v\nwant %+v", i, s.what, at, b, a)
					}
				}
				if at == len(kind.steps) {
					handOver(t, moved)
				}
				if !bytes.Equal(ref.sv.rcv, moved.sv.rcv) || !bytes.Equal(ref.cl.rcv, moved.cl.rcv) {
					t.Fatalf("streams differ:\n%q\n%q\n%q\n%q", ref.sv.rcv, moved.sv.rcv, ref.cl.rcv, moved.cl.rcv)
				}
				for d := uint32(0); d < 200; d++ {
					for _, fc := range []bool{true, false} {
						n := ref.cl.isn + d
						if !fc {
							n = ref.sv.isn + d
						}
						if x, y := ref.c.Ack(fc, n), moved.c.Ack(fc, n); x != y {
							t.Fatalf("ack %d from client %v maps to %d, %d after the hand-over", n, fc, x, y)
						}
					}
				}
			})
		}
	}
	// The scenarios do what they claim: rewrites that change lengths.
	p := newPipe(t)
	for _, s := range natSteps {
		s.do(p)
	}
	if !strings.Contains(string(p.sv.rcv), "EPRT |1|192.0.2.1|61002|") || !p.c.Shifted() || p.cnt.HeldAcked.Load() == 0 {
		t.Fatalf("server got %q", p.sv.rcv)
	}
}

func TestStateRestoreOtherKind(t *testing.T) {
	p, _ := newSplicePipe(t)
	st := p.c.State()
	if err := NewConn(serverAddr, &p.b, &p.cnt).Restore(&st); err == nil {
		t.Fatal("a splice's state restored into a NAT64's gateway")
	}
}

// stateSeeds are encodings of gateways in the middle of the scenarios.
func stateSeeds(t testing.TB) [][]byte {
	var out [][]byte
	for _, kind := range [][]step{natSteps, spliceSteps} {
		var p *pipe
		if len(kind) == len(spliceSteps) {
			p, _ = newSplicePipe(&testing.T{})
		} else {
			p = newPipe(&testing.T{})
		}
		for i, s := range kind {
			s.do(p)
			if i%3 == 2 {
				st := p.c.State()
				b, err := st.MarshalBinary()
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, b)
			}
		}
	}
	return out
}

func TestStateDecodeErrors(t *testing.T) {
	good := stateSeeds(t)[1]
	for _, tc := range []struct {
		name string
		mut  func(b []byte) []byte
		want string
	}{
		{"version", func(b []byte) []byte { b[0] = 9; return b }, "version 9"},
		{"flags", func(b []byte) []byte { b[1] |= 0x80; return b }, "unknown flags"},
		{"pending", func(b []byte) []byte { b[2] = 99; return b }, "bad pending"},
		{"truncated", func(b []byte) []byte { return b[:len(b)-1] }, "truncated"},
		{"trailing", func(b []byte) []byte { return append(b, 0) }, "trailing"},
	} {
		b := tc.mut(append([]byte(nil), good...))
		var s State
		err := s.UnmarshalBinary(b)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	// Every truncation is an error.
	for n := range good {
		var s State
		if s.UnmarshalBinary(good[:n]) == nil {
			t.Fatalf("%d of %d bytes decoded", n, len(good))
		}
	}
}

// A state that decodes is restored into a gateway that takes segments
// without a panic, and encodes back to the same bytes.
func FuzzState(f *testing.F) {
	for _, b := range stateSeeds(f) {
		f.Add(b, []byte("EPRT |2|2001:db8::1|5|\r\n227 (1,2,3,4,5,6)\r\n"))
	}
	f.Fuzz(func(t *testing.T, b, seg []byte) {
		var s State
		if s.UnmarshalBinary(b) != nil {
			return
		}
		again, err := s.MarshalBinary()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("decoded state encodes as %x, was %x", again, b)
		}
		r := statecodec.NewReader("x", b)
		if _, err := ReadState(r); err != nil || r.Left() != 0 {
			t.Fatalf("ReadState: %v, %d left", err, r.Left())
		}
		var cnt Counters
		var c *Conn
		if s.Splice() {
			c = NewSpliceConn(&fakeSplicer{}, &cnt)
		} else {
			c = NewConn(serverAddr, &fakeBinder{}, &cnt)
		}
		if err := c.Restore(&s); err != nil {
			t.Fatal(err)
		}
		var res Result
		for i, d := range s.dir {
			fromClient := i == 0
			start := d.nxt - uint32(len(d.held))
			for _, at := range []uint32{start - 40, start, d.nxt, d.nxt + 3} {
				c.Segment(fromClient, at, seg, false, &res)
				c.Ack(fromClient, at)
			}
			c.Segment(fromClient, d.nxt, seg, true, &res)
		}
	})
}
