package ftpalg

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/sixgate/sixgate/statecodec"
)

// A gateway's state travels with its engine's in a hand-over (an upgrade
// that keeps connections): everything a Conn needs to go on where it
// stopped, so that a retransmission spanning a rewritten line and the
// lines after it come out of the new process as they would have out of
// the old one. The engines embed it in their own encodings; it has a
// version of its own so that it can change without theirs.
//
// Encoding, version 1, big-endian:
//
//	version u8 | flags u8 (splice, tls, off, noEPSV, noEPRT, all, eprt)
//	pend0 u8 | pending u8 + u8*
//	eprt [4] | eprt port u16 (zeros without the eprt flag)
//	per direction, client to server first:
//	  flags u8 (init, skip, acked) | next u32 | multi u16
//	  held u16 + bytes
//	  base i32 | folded u64 | ranges u8 + (start u32 | end u32 | before i32 | text u8 + bytes)*
//
// A range's shift after it is not sent: it follows from the one before,
// its length and its text's, so that an inconsistent list cannot be
// written.

const stateVersion = 1

// Flags of a gateway in the encoding.
const (
	sfSplice uint8 = 1 << iota
	sfTLS
	sfOff
	sfNoEPSV
	sfNoEPRT
	sfAll
	sfEPRT
	sfAll8 = sfEPRT<<1 - 1
)

// Flags of a direction in the encoding.
const (
	dfInit uint8 = 1 << iota
	dfSkip
	dfAcked
	dfAll = dfAcked<<1 - 1
)

// numPending is one past the last pending kind.
const numPending = waitEPSVSpliced + 1

// State is the state of a gateway detached from it: what Conn.State
// takes and Conn.Restore puts in a new gateway. Its size follows its
// encoding's, whatever the bounds of a Conn.
type State struct {
	flags uint8
	pend0 pending
	pend  []pending
	eprt  [4]byte
	port  uint16
	dir   [2]streamState
}

// streamState is one direction of a State.
type streamState struct {
	flags  uint8
	nxt    uint32
	multi  uint16
	held   []byte
	base   int32
	folded uint64
	e      []edit
}

// Splice reports whether the state is a splice's gateway (NewSpliceConn)
// rather than a NAT64's (NewConn).
func (s *State) Splice() bool { return s.flags&sfSplice != 0 }

// State takes the gateway's state.
func (c *Conn) State() State {
	s := State{pend0: c.pend0, pend: append([]pending(nil), c.pend[:c.np]...)}
	for _, f := range []struct {
		on  bool
		bit uint8
	}{
		{c.splice != nil, sfSplice}, {c.tls, sfTLS}, {c.off, sfOff}, {c.noEPSV, sfNoEPSV},
		{c.noEPRT, sfNoEPRT}, {c.all, sfAll}, {c.eprt.IsValid(), sfEPRT},
	} {
		if f.on {
			s.flags |= f.bit
		}
	}
	if c.eprt.IsValid() {
		s.eprt, s.port = c.eprt.Addr().As4(), c.eprt.Port()
	}
	for i, st := range [2]*stream{&c.cs, &c.sc} {
		d := &s.dir[i]
		d.nxt, d.multi = st.nxt, uint16(st.multi)
		d.held = append([]byte(nil), st.held[:st.nheld]...)
		d.base, d.folded = st.d.base, st.d.Folded
		d.e = append([]edit(nil), st.d.e...)
		for _, f := range []struct {
			on  bool
			bit uint8
		}{{st.init, dfInit}, {st.skip, dfSkip}, {st.acked, dfAcked}} {
			if f.on {
				d.flags |= f.bit
			}
		}
	}
	return s
}

// Restore puts a state into c, a gateway made for the same engine kind
// (NewSpliceConn for a splice's state, NewConn for a NAT64's) that has
// seen no segment. Its binder, splicer, counters and server stay its own.
func (c *Conn) Restore(s *State) error {
	if s.Splice() != (c.splice != nil) {
		return fmt.Errorf("ftpalg: restore: a state of the other engine kind (splice %v)", s.Splice())
	}
	c.pend0 = s.pend0
	c.np = copy(c.pend[:], s.pend)
	c.tls, c.off = s.flags&sfTLS != 0, s.flags&sfOff != 0
	c.noEPSV, c.noEPRT, c.all = s.flags&sfNoEPSV != 0, s.flags&sfNoEPRT != 0, s.flags&sfAll != 0
	c.eprt = netip.AddrPort{}
	if s.flags&sfEPRT != 0 {
		c.eprt = netip.AddrPortFrom(netip.AddrFrom4(s.eprt), s.port)
	}
	for i, st := range [2]*stream{&c.cs, &c.sc} {
		d := &s.dir[i]
		st.nxt, st.multi = d.nxt, int(d.multi)
		st.init, st.skip, st.acked = d.flags&dfInit != 0, d.flags&dfSkip != 0, d.flags&dfAcked != 0
		st.nheld = copy(st.held[:], d.held)
		st.d.base, st.d.Folded = d.base, d.folded
		st.d.e = st.d.buf[:copy(st.d.buf[:], d.e)]
	}
	return nil
}

// Len is the length of the state's encoding.
func (s *State) Len() int {
	n := 3 + 1 + len(s.pend) + 6
	for i := range s.dir {
		d := &s.dir[i]
		n += 1 + 4 + 2 + 2 + len(d.held) + 4 + 8 + 1
		for j := range d.e {
			n += 13 + int(d.e[j].n)
		}
	}
	return n
}

// AppendBinary appends the state's encoding to b.
func (s *State) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, stateVersion, s.flags, byte(s.pend0), byte(len(s.pend)))
	for _, p := range s.pend {
		b = append(b, byte(p))
	}
	b = append(b, s.eprt[:]...)
	b = binary.BigEndian.AppendUint16(b, s.port)
	for i := range s.dir {
		d := &s.dir[i]
		b = append(b, d.flags)
		b = binary.BigEndian.AppendUint32(b, d.nxt)
		b = binary.BigEndian.AppendUint16(b, d.multi)
		b = binary.BigEndian.AppendUint16(b, uint16(len(d.held)))
		b = append(b, d.held...)
		b = binary.BigEndian.AppendUint32(b, uint32(d.base))
		b = binary.BigEndian.AppendUint64(b, d.folded)
		b = append(b, byte(len(d.e)))
		for j := range d.e {
			e := &d.e[j]
			b = binary.BigEndian.AppendUint32(b, e.start)
			b = binary.BigEndian.AppendUint32(b, e.end)
			b = binary.BigEndian.AppendUint32(b, uint32(e.before))
			b = append(b, e.n)
			b = append(b, e.txt()...)
		}
	}
	return b, nil
}

// MarshalBinary encodes the state.
func (s *State) MarshalBinary() ([]byte, error) { return s.AppendBinary(make([]byte, 0, s.Len())) }

// UnmarshalBinary decodes a state MarshalBinary encoded, and nothing
// after it.
func (s *State) UnmarshalBinary(data []byte) error {
	r := statecodec.NewReader("ftpalg: gateway state", data)
	st, err := ReadState(r)
	if err != nil {
		return err
	}
	if r.Left() != 0 {
		return r.Fail("trailing bytes")
	}
	*s = st
	return nil
}

// ReadState reads a state from r (within an engine's encoding), checking
// it against every bound and invariant of a gateway: what it returns
// without error Restore takes.
func ReadState(r *statecodec.Reader) (State, error) {
	var s State
	if v := r.U8(); r.Err() == nil && v != stateVersion {
		return s, r.Fail(fmt.Sprintf("FTP gateway state version %d; this binary reads version %d", v, stateVersion))
	}
	s.flags = r.U8()
	s.pend0 = pending(r.U8())
	np := r.U8()
	if r.Err() != nil {
		return s, r.Err()
	}
	switch {
	case s.flags&^sfAll8 != 0:
		return s, r.Fail("FTP gateway: unknown flags")
	case np > maxPending:
		return s, r.Fail(fmt.Sprintf("FTP gateway: %d pending commands", np))
	case !s.validPending(s.pend0):
		return s, r.Fail("FTP gateway: bad pending command")
	}
	if np > 0 {
		s.pend = make([]pending, 0, min(int(np), r.Left()))
	}
	for range np {
		p := pending(r.U8())
		if r.Err() == nil && !s.validPending(p) {
			return s, r.Fail("FTP gateway: bad pending command")
		}
		s.pend = append(s.pend, p)
	}
	copy(s.eprt[:], r.Bytes(4))
	s.port = r.U16()
	if r.Err() == nil && s.flags&sfEPRT == 0 && (s.eprt != [4]byte{} || s.port != 0) {
		return s, r.Fail("FTP gateway: an EPRT address without its flag")
	}
	if r.Err() == nil && s.flags&sfSplice != 0 && s.flags&(sfOff|sfNoEPSV|sfNoEPRT|sfAll|sfEPRT) != 0 {
		return s, r.Fail("FTP gateway: a NAT64 flag in a splice's state")
	}
	for i := range s.dir {
		if err := readStream(r, &s.dir[i]); err != nil {
			return s, err
		}
	}
	return s, r.Err()
}

// validPending reports whether p is a command the gateway of the state's
// kind waits for.
func (s *State) validPending(p pending) bool {
	switch {
	case p >= numPending:
		return false
	case p == waitNone, p == waitAUTH:
		return true
	case s.flags&sfSplice != 0:
		return p == waitEPSVFor227 || p == waitEPSVSpliced
	}
	return p != waitEPSVFor227 && p != waitEPSVSpliced
}

func readStream(r *statecodec.Reader, d *streamState) error {
	d.flags = r.U8()
	d.nxt = r.U32()
	d.multi = r.U16()
	nh := r.U16()
	if r.Err() != nil {
		return r.Err()
	}
	switch {
	case d.flags&^dfAll != 0:
		return r.Fail("FTP gateway: unknown direction flags")
	case d.multi != 0 && (d.multi < 100 || d.multi > 999):
		return r.Fail("FTP gateway: bad multi-line reply code")
	case int(nh) > MaxLine:
		return r.Fail(fmt.Sprintf("FTP gateway: %d held bytes", nh))
	case nh > 0 && d.flags&dfSkip != 0:
		return r.Fail("FTP gateway: held bytes inside a line too long")
	case d.flags&dfAcked != 0 && nh == 0:
		return r.Fail("FTP gateway: held bytes acknowledged but none held")
	case d.flags&dfInit == 0 && (d.nxt != 0 || nh != 0):
		return r.Fail("FTP gateway: a direction not started has bytes")
	}
	d.held = r.CopyBytes(int(nh))
	if r.Err() == nil {
		for _, c := range d.held {
			if c == '\n' {
				return r.Fail("FTP gateway: a held line is complete")
			}
		}
	}
	d.base = int32(r.U32())
	d.folded = r.U64()
	ne := r.U8()
	if r.Err() != nil {
		return r.Err()
	}
	if ne > MaxEdits || int(ne) > r.Left()/13 {
		return r.Fail(fmt.Sprintf("FTP gateway: %d rewritten ranges", ne))
	}
	if ne > 0 {
		d.e = make([]edit, ne)
	}
	shift := d.base
	point := d.nxt - uint32(nh)
	for i := range d.e {
		e := &d.e[i]
		e.start, e.end, e.before = r.U32(), r.U32(), int32(r.U32())
		e.n = r.U8()
		if r.Err() != nil {
			return r.Err()
		}
		switch {
		case e.n > maxText:
			return r.Fail("FTP gateway: rewritten text too long")
		case e.end-e.start > MaxLine:
			return r.Fail("FTP gateway: rewritten range out of order or too long")
		case e.before != shift:
			return r.Fail("FTP gateway: a range's shift does not follow the one before")
		case i > 0 && lt(e.start, d.e[i-1].end):
			return r.Fail("FTP gateway: rewritten ranges out of order")
		case d.flags&dfInit != 0 && lt(point, e.end):
			return r.Fail("FTP gateway: a rewritten range past the bytes sent on")
		}
		copy(e.text[:], r.Bytes(int(e.n)))
		e.after = e.before + int32(e.n) - int32(e.end-e.start)
		shift = e.after
	}
	return r.Err()
}
