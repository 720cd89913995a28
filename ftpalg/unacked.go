package ftpalg

import (
	"encoding/binary"
	"time"

	"github.com/sixgate/sixgate/statecodec"
)

// Unacked is text a gateway sent to one receiver that no one else will
// send again: a line it wrote itself (Result.Back), or bytes it
// acknowledged to their sender (Result.Own). The engine keeps it,
// numbered as the receiver sees it, and sends it again on its timer
// (Due) until the receiver acknowledges it (Acked). Both engines that run
// the gateway keep one per receiver of each control connection.
type Unacked struct {
	// Seq is the text's first sequence number, Ack the acknowledgement it
	// is sent with, At when it was last sent (engine clock, ns).
	Seq, Ack uint32
	At       int64
	n        int
	text     [maxUnacked]byte
}

// maxUnacked bounds the text kept for one receiver: a few of the
// gateway's lines. Text that does not follow on from what is kept, or
// would not fit, replaces it.
const maxUnacked = 1024

// ResendAfter is how long kept text waits for its acknowledgement
// before it is sent again.
const ResendAfter = int64(200 * time.Millisecond)

// Keep records text sent at seq with ack at now; text right after what
// is kept already is added to it.
func (u *Unacked) Keep(seq, ack uint32, text []byte, now int64) {
	if u.n == 0 || u.Seq+uint32(u.n) != seq || u.n+len(text) > len(u.text) {
		u.n, u.Seq = 0, seq
	}
	u.n += copy(u.text[u.n:], text)
	u.Ack, u.At = ack, now
}

// Text is the text kept, nil when none.
func (u *Unacked) Text() []byte { return u.text[:u.n] }

// Acked forgets the text when ack, from its receiver, covers all of it.
func (u *Unacked) Acked(ack uint32) {
	if u.n > 0 && !lt(ack, u.Seq+uint32(u.n)) {
		u.n = 0
	}
}

// Due reports whether there is text that has waited ResendAfter since it
// was last sent.
func (u *Unacked) Due(now int64) bool { return u.n > 0 && now-u.At >= ResendAfter }

// UnackedState is an Unacked in a hand-over: its time as the time since it
// was last sent, as of the export (at most 0).
type UnackedState struct {
	Seq, Ack uint32
	Since    int64
	Text     []byte
}

// UnackedStateMin is the length of an UnackedState's encoding without its
// text: seq u32 | ack u32 | since i64 | length u16, then the text.
const UnackedStateMin = 4 + 4 + 8 + 2

// State returns what the text kept is at now, for a hand-over.
func (u *Unacked) State(now int64) UnackedState {
	if u.n == 0 {
		return UnackedState{}
	}
	return UnackedState{Seq: u.Seq, Ack: u.Ack, Since: min(u.At-now, 0), Text: append([]byte(nil), u.text[:u.n]...)}
}

// Restore makes u what s was, its time counted from now.
func (u *Unacked) Restore(s *UnackedState, now int64) {
	*u = Unacked{}
	if len(s.Text) > 0 {
		u.Seq, u.Ack, u.At = s.Seq, s.Ack, now+s.Since
		u.n = copy(u.text[:], s.Text)
	}
}

// Len is the length of s's encoding.
func (s *UnackedState) Len() int { return UnackedStateMin + len(s.Text) }

// Append appends s's encoding to b.
func (s *UnackedState) Append(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, s.Seq)
	b = binary.BigEndian.AppendUint32(b, s.Ack)
	b = binary.BigEndian.AppendUint64(b, uint64(s.Since))
	b = binary.BigEndian.AppendUint16(b, uint16(len(s.Text)))
	return append(b, s.Text...)
}

// ReadUnackedState reads an UnackedState written by Append, refusing text
// longer than a gateway keeps, a time in the future or older than
// maxSince, and numbers without text.
func ReadUnackedState(r *statecodec.Reader, maxSince int64) (UnackedState, error) {
	var s UnackedState
	s.Seq, s.Ack, s.Since = r.U32(), r.U32(), int64(r.U64())
	n := r.U16()
	if r.Err() != nil {
		return s, r.Err()
	}
	if int(n) > maxUnacked || s.Since > 0 || s.Since < -maxSince {
		return s, r.Fail("bad FTP gateway text")
	}
	if n == 0 && (s.Seq != 0 || s.Ack != 0 || s.Since != 0) {
		return s, r.Fail("FTP gateway text numbered but empty")
	}
	s.Text = r.CopyBytes(int(n))
	return s, r.Err()
}
