package ftpalg

// MaxEdits bounds the rewritten ranges remembered per direction. Older
// ranges are folded into a base offset: their bytes can no longer be
// rendered again, which only matters for a retransmission of bytes sent
// MaxEdits rewrites ago and still unacknowledged.
const MaxEdits = 16

// maxText bounds the replacement text of one range (the longest line the
// gateway writes is a 229 reply or an EPRT command, well under this).
const maxText = 96

// edit is one rewritten range of a byte stream: the original bytes
// [start, end) were sent as text. An insertion has start == end; a
// removal has no text.
type edit struct {
	start, end uint32
	// before is the shift of the sequence numbers before the range,
	// after = before + len(text) - (end - start) the shift after it.
	before, after int32
	n             uint8
	text          [maxText]byte
}

func (e *edit) txt() []byte { return e.text[:e.n] }

// Deltas is the list of rewritten ranges of one direction of a TCP
// connection, in stream order: it maps sequence numbers from the sender's
// space to the receiver's (Map) and acknowledgement numbers back (Unmap).
// The zero value maps every number to itself.
type Deltas struct {
	e []edit
	// base is the shift of everything before the first kept range.
	base int32
	// buf holds the ranges, so that adding one never allocates.
	buf [MaxEdits]edit
	// Folded counts ranges forgotten to keep within MaxEdits.
	Folded uint64
}

// lt is sequence-number order (RFC 9293 §3.4), wrapping.
func lt(a, b uint32) bool  { return int32(a-b) < 0 }
func leq(a, b uint32) bool { return int32(a-b) <= 0 }

// shift returns the shift of the byte at seq, a byte outside every
// rewritten range.
func (d *Deltas) shift(seq uint32) int32 {
	s := d.base
	for i := range d.e {
		if lt(seq, d.e[i].end) || seq == d.e[i].start && d.e[i].start == d.e[i].end {
			break
		}
		s = d.e[i].after
	}
	return s
}

// Map returns the receiver's sequence number of the sender's seq (a byte
// outside every rewritten range, or the end of one).
func (d *Deltas) Map(seq uint32) uint32 {
	s := d.base
	for i := range d.e {
		if lt(seq, d.e[i].end) {
			break
		}
		s = d.e[i].after
	}
	return seq + uint32(s)
}

// Unmap returns the sender's number for an acknowledgement number (or a
// SACK block edge) of the receiver's space. A number inside a rewritten
// text acknowledges none of it: it maps to the range's start.
func (d *Deltas) Unmap(ack uint32) uint32 {
	s := d.base
	for i := range d.e {
		e := &d.e[i]
		t := e.start + uint32(e.before)
		if lt(ack, t) {
			break
		}
		if lt(ack, t+uint32(e.n)) {
			return e.start
		}
		s = e.after
	}
	return ack - uint32(s)
}

// Empty reports whether no number is shifted.
func (d *Deltas) Empty() bool { return len(d.e) == 0 && d.base == 0 }

// Add records that the original bytes [start, end) are sent as text
// (start == end: text inserted there). Ranges are added in stream order,
// once each: a retransmission is rendered from the list, never added
// again. It reports false when text is longer than the gateway ever
// writes.
func (d *Deltas) Add(start, end uint32, text []byte) bool {
	if len(text) > maxText {
		return false
	}
	if d.e == nil {
		d.e = d.buf[:0]
	}
	if len(d.e) == MaxEdits {
		d.base = d.e[0].after
		copy(d.buf[:], d.buf[1:])
		d.e = d.buf[:MaxEdits-1]
		d.Folded++
	}
	before := d.base
	if n := len(d.e); n > 0 {
		before = d.e[n-1].after
	}
	i := len(d.e)
	d.e = d.buf[:i+1]
	e := &d.e[i]
	e.start, e.end, e.before = start, end, before
	e.after = before + int32(len(text)) - int32(end-start)
	e.n = uint8(copy(e.text[:], text))
	return true
}

// Forget drops the ranges wholly before the sender's seq (acknowledged
// by the receiver), keeping their shift.
func (d *Deltas) Forget(seq uint32) {
	k := 0
	for k < len(d.e) && lt(d.e[k].end, seq) {
		k++
	}
	if k == 0 {
		return
	}
	d.base = d.e[k-1].after
	n := copy(d.buf[:], d.buf[k:len(d.e)])
	d.e = d.buf[:n]
}

// render appends to dst what the receiver gets for the sender's bytes
// [seq, seq+len(data)) that were already processed once, rewritten
// ranges replaced by their text, and returns it with the receiver's
// sequence number of its first byte. A segment starting inside a
// rewritten range (or at an insertion) starts at the range's text; one
// ending at an insertion ends after its text.
func (d *Deltas) render(dst []byte, seq uint32, data []byte) ([]byte, uint32) {
	end := seq + uint32(len(data))
	pos := seq
	out := seq + uint32(d.shift(seq))
	first := true
	for i := range d.e {
		e := &d.e[i]
		if lt(e.end, pos) || e.end == pos && e.start != e.end {
			continue
		}
		// An insertion at the end is rendered too: the bytes that follow
		// come after it.
		if lt(end, e.start) || e.start == end && e.start != e.end {
			break
		}
		if leq(e.start, pos) {
			if first {
				out = e.start + uint32(e.before)
			}
		} else {
			dst = append(dst, data[pos-seq:e.start-seq]...)
		}
		first = false
		dst = append(dst, e.txt()...)
		pos = e.end
		// No early return when pos reaches end: an insertion at end
		// (a retried command, an answer) still belongs to the segment.
	}
	if lt(pos, end) {
		dst = append(dst, data[pos-seq:]...)
	}
	return dst, out
}
