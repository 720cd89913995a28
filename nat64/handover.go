package nat64

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/sixgate/sixgate/statecodec"
)

// The hand-over moves the NAT64's tables to another process (an upgrade
// that keeps sessions): the old engine exports them once nothing hands it
// packets or runs its timers, the new one imports them before it sees a
// packet. The state travels as a versioned binary encoding (below), which
// a new binary must keep reading for as long as an older one may hand
// over to it.
//
// What travels: the dynamic bindings, every session (of dynamic and static
// bindings) with its TCP state and its timer as the time left, and the
// seed of the port allocator's hash, so that a host keeps being lent ports
// of the address it has. The ports in use are the bindings themselves: an
// imported binding's port is never lent twice. What does not: the static
// bindings (the new configuration makes them), IPv4 SYNs held for a
// simultaneous open (the remote sends its SYN again), fragments waiting
// for their first one (the sender's reassembly times out, as on a loss),
// the ICMP error rate limiter, and the counters.
//
// Since version 2 the FTP gateway's control connections travel too
// (handover_ftp.go), so that a control connection whose lines the gateway
// rewrote keeps its sequence shift, its held bytes and what it waits for.
// A version 1 state (from the previous release) is still read: its
// control connections go on without their gateway, as that release's
// import had them (one whose lines were rewritten fails, and the client
// opens a new one).
//
// Encoding, version 2, big-endian (version 1 ends after the sessions):
//
//	magic "n64h" | version u16 | flags u16 (0)
//	wall i64 (Unix ns at export) | seed u64
//	bindings u32, per binding (dynamic only):
//	  protocol u8 | ipv6 [16] | ipv6 port u16 | ipv4 [4] | ipv4 port u16
//	sessions u32, per session:
//	  protocol u8 | ipv6 [16] | ipv6 port u16 | ipv4 [4] | ipv4 port u16
//	  remote [4] | remote port u16 | tcp state u8 | timer class u8
//	  time left i64 (ns)
//	v2: FTP control connections (handover_ftp.go)
//
// Decoding trusts no count: each is checked against a bound and against
// the bytes left, so a corrupt or hostile stream is an error, never a
// panic or an allocation out of proportion to its length.

const (
	handoverMagic   = "n64h"
	handoverVersion = 2
	// handoverOldest is the oldest version a decoder reads.
	handoverOldest = 1

	handoverHeaderLen  = 4 + 2 + 2 + 8 + 8
	handoverBindingLen = 1 + 16 + 2 + 4 + 2
	handoverSessionLen = handoverBindingLen + 4 + 2 + 1 + 1 + 8

	// Bounds a decoder enforces beyond the bytes left.
	maxHandoverBindings = 1 << 24
	maxHandoverSessions = 1 << 24
	// maxHandoverLeft bounds a timer's time left (far above any
	// lifetime), so that the arithmetic on it cannot overflow.
	maxHandoverLeft = int64(100 * 365 * 24 * time.Hour)
	// maxHandoverGap bounds the wall time an import takes off the
	// timers for the time the state spent in transit.
	maxHandoverGap = 10 * time.Second
)

// HandoverState is a NAT64's tables as Export takes them and Import puts
// them in another NAT64.
type HandoverState struct {
	wall     int64
	seed     uint64
	bindings []exportedBinding
	sessions []exportedSession
	ftp      []exportedFTP
	// version is the encoding's the state was read from (0: exported
	// here).
	version uint16
}

// exportedBinding is a binding detached from its engine.
type exportedBinding struct {
	proto Protocol
	addr6 [16]byte
	port6 uint16
	addr4 [4]byte
	port4 uint16
}

// exportedSession is a session with its binding's addresses and its
// timer as the time left at the export.
type exportedSession struct {
	b      exportedBinding
	remote [4]byte
	rport  uint16
	state  tcpState
	list   uint8
	left   int64
}

// Bindings and Sessions count what the state holds.
func (s *HandoverState) Bindings() int { return len(s.bindings) }
func (s *HandoverState) Sessions() int { return len(s.sessions) }

func exportBinding(b *binding) exportedBinding {
	return exportedBinding{proto: b.proto, addr6: b.addr6, port6: b.port6, addr4: b.addr4, port4: b.port4}
}

// Export takes the NAT64's tables for a hand-over. Call it once nothing
// hands the NAT64 packets or runs its timers any more: what it does
// after Export is not in the state.
func (e *NAT64) Export() *HandoverState {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.st.cfg.Clock().UnixNano()
	st := &HandoverState{wall: time.Now().UnixNano(), seed: e.seed,
		bindings: make([]exportedBinding, 0, e.t.nDynamic), sessions: make([]exportedSession, 0, len(e.t.sessions))}
	for _, b := range e.t.bib4 {
		if !b.static {
			st.bindings = append(st.bindings, exportBinding(b))
		}
	}
	// By timer list, each in order of expiry: the importer's lists come
	// out in order by appending.
	for l := range e.t.lists {
		for ss := e.t.lists[l].head; ss != nil; ss = ss.next {
			st.sessions = append(st.sessions, exportedSession{b: exportBinding(ss.b), remote: ss.remote, rport: ss.rport,
				state: ss.state, list: ss.list, left: ss.expires - now})
		}
	}
	st.ftp = e.exportFTP(now)
	return st
}

// ImportReport says what Import did with the tables of a state.
type ImportReport struct {
	Bindings, Sessions int
	// Dropped are the sessions the importing NAT64 cannot carry: their
	// pool4 address and port are not in its pool4 (or taken by one of its
	// static bindings), their static binding is gone, or its tables are
	// full. DroppedBindings are the dynamic bindings dropped likewise.
	Dropped, DroppedBindings int
	// FTP are the FTP control connections imported with their gateway,
	// DroppedFTP those that could not be (their session dropped, their
	// server port no longer a control port, or the gateway's bound).
	FTP, DroppedFTP int
}

// ErrNotEmpty is Import's refusal of an engine that has translated
// already.
var ErrNotEmpty = errors.New("nat64: import: the NAT64 already has dynamic bindings or sessions")

// Import puts a state taken by Export into e, which must have no dynamic
// binding or session yet. The configuration stays e's own, as after a
// reload: what pool4 no longer holds is dropped and counted, lifetimes
// shortened since the export apply to the time left, the table bounds
// hold (nothing over them is imported). The per-host bounds are not
// applied to what the exporter had granted: as after a reload that
// lowers them, they refuse new bindings and sessions, and evict nothing.
func (e *NAT64) Import(st *HandoverState) (ImportReport, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var rep ImportReport
	if e.t.nDynamic != 0 || len(e.t.sessions) != 0 {
		return rep, ErrNotEmpty
	}
	s := e.st
	gap := time.Duration(time.Now().UnixNano() - st.wall)
	gap = max(0, min(gap, maxHandoverGap))
	now := s.cfg.Clock().UnixNano()
	e.seed = st.seed
	e.rng = rand.New(rand.NewPCG(st.seed, uint64(st.wall)))
	for i := range st.bindings {
		x := &st.bindings[i]
		k4 := key4{x.addr4, x.port4, x.proto}
		k6 := key6{x.addr6, x.port6, x.proto}
		if !s.inRange(x.proto, x.addr4, x.port4) || e.t.bib4[k4] != nil || e.t.bib6[k6] != nil || e.t.nDynamic >= s.cfg.Limits.Bindings {
			rep.DroppedBindings++
			continue
		}
		e.t.addBinding(&binding{addr6: x.addr6, port6: x.port6, addr4: x.addr4, port4: x.port4, proto: x.proto})
	}
	// Each list in order of expiry, whatever order the state came in.
	sessions := slices.Clone(st.sessions)
	slices.SortStableFunc(sessions, func(a, b exportedSession) int {
		return cmp.Or(cmp.Compare(a.list, b.list), cmp.Compare(a.left, b.left))
	})
	for i := range sessions {
		x := &sessions[i]
		b := e.t.bib4[key4{x.b.addr4, x.b.port4, x.b.proto}]
		if b == nil || b.addr6 != x.b.addr6 || b.port6 != x.b.port6 || e.sessionCount() >= s.cfg.Limits.Sessions {
			rep.Dropped++
			continue
		}
		k := skey{local: b.addr4, lport: b.port4, remote: x.remote, rport: x.rport, proto: b.proto}
		if e.t.sessions[k] != nil {
			rep.Dropped++
			continue
		}
		left := min(x.left-int64(gap), s.life[x.list])
		ss := e.t.newSession(b, x.remote, x.rport, x.list, now+left)
		ss.state = x.state
	}
	// A dynamic binding lives as long as its sessions: one left without
	// any (its sessions dropped) goes.
	for _, b := range e.t.bib4 {
		if !b.static && b.nsess == 0 {
			e.t.removeBinding(b)
			rep.DroppedBindings++
		}
	}
	rep.DroppedFTP = e.importFTP(s, st.ftp, now)
	rep.Bindings, rep.Sessions, rep.FTP = e.t.nDynamic, len(e.t.sessions), len(e.t.ftp)
	return rep, nil
}

// MarshalBinary encodes the state (version 2, whatever version it was
// read from).
func (s *HandoverState) MarshalBinary() ([]byte, error) {
	n := handoverHeaderLen + 12 + len(s.bindings)*handoverBindingLen + len(s.sessions)*handoverSessionLen
	for i := range s.ftp {
		n += ftpLen(&s.ftp[i])
	}
	b := make([]byte, 0, n)
	b = append(b, handoverMagic...)
	b = binary.BigEndian.AppendUint16(b, handoverVersion)
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint64(b, uint64(s.wall))
	b = binary.BigEndian.AppendUint64(b, s.seed)
	b = binary.BigEndian.AppendUint32(b, uint32(len(s.bindings)))
	for i := range s.bindings {
		b = appendBinding(b, &s.bindings[i])
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(s.sessions)))
	for i := range s.sessions {
		x := &s.sessions[i]
		b = appendBinding(b, &x.b)
		b = append(b, x.remote[:]...)
		b = binary.BigEndian.AppendUint16(b, x.rport)
		b = append(b, byte(x.state), x.list)
		b = binary.BigEndian.AppendUint64(b, uint64(x.left))
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(s.ftp)))
	for i := range s.ftp {
		b = appendFTP(b, &s.ftp[i])
	}
	return b, nil
}

func appendBinding(b []byte, x *exportedBinding) []byte {
	b = append(b, byte(x.proto))
	b = append(b, x.addr6[:]...)
	b = binary.BigEndian.AppendUint16(b, x.port6)
	b = append(b, x.addr4[:]...)
	return binary.BigEndian.AppendUint16(b, x.port4)
}

// UnmarshalBinary decodes a state MarshalBinary encoded; anything else is
// an error.
func (s *HandoverState) UnmarshalBinary(data []byte) error {
	r := statecodec.NewReader("nat64: hand-over state", data)
	if string(r.Bytes(4)) != handoverMagic {
		return r.Fail("not a nat64 hand-over state")
	}
	v := r.U16()
	if r.Err() == nil && (v < handoverOldest || v > handoverVersion) {
		return fmt.Errorf("nat64: hand-over state version %d; this binary reads versions %d to %d", v, handoverOldest, handoverVersion)
	}
	if f := r.U16(); r.Err() == nil && f != 0 {
		return r.Fail("unknown flags")
	}
	st := HandoverState{wall: int64(r.U64()), seed: r.U64(), version: v}
	n := r.U32()
	if r.Err() != nil {
		return r.Err()
	}
	if n > maxHandoverBindings || int(n) > r.Left()/handoverBindingLen {
		return r.Fail(fmt.Sprintf("%d bindings in %d bytes", n, r.Left()))
	}
	st.bindings = make([]exportedBinding, n)
	for i := range st.bindings {
		if err := readBinding(r, &st.bindings[i]); err != nil {
			return fmt.Errorf("%w (binding %d)", err, i)
		}
	}
	n = r.U32()
	if r.Err() != nil {
		return r.Err()
	}
	if n > maxHandoverSessions || int(n) > r.Left()/handoverSessionLen {
		return r.Fail(fmt.Sprintf("%d sessions in %d bytes", n, r.Left()))
	}
	st.sessions = make([]exportedSession, n)
	for i := range st.sessions {
		if err := readSession(r, &st.sessions[i]); err != nil {
			return fmt.Errorf("%w (session %d)", err, i)
		}
	}
	if v >= 2 {
		var err error
		if st.ftp, err = readFTPs(r); err != nil {
			return err
		}
		if err := checkFTPSessions(r, &st); err != nil {
			return err
		}
	}
	if r.Left() != 0 {
		return r.Fail("trailing bytes")
	}
	*s = st
	return nil
}

func readBinding(r *statecodec.Reader, x *exportedBinding) error {
	x.proto = Protocol(r.U8())
	copy(x.addr6[:], r.Bytes(16))
	x.port6 = r.U16()
	copy(x.addr4[:], r.Bytes(4))
	x.port4 = r.U16()
	if r.Err() == nil && x.proto >= numProtocols {
		return r.Fail("unknown protocol")
	}
	return r.Err()
}

func readSession(r *statecodec.Reader, x *exportedSession) error {
	if err := readBinding(r, &x.b); err != nil {
		return err
	}
	copy(x.remote[:], r.Bytes(4))
	x.rport = r.U16()
	x.state, x.list = tcpState(r.U8()), r.U8()
	x.left = int64(r.U64())
	if r.Err() != nil {
		return r.Err()
	}
	switch {
	case x.left < -maxHandoverLeft || x.left > maxHandoverLeft:
		return r.Fail("time left out of range")
	case x.b.proto != TCP && x.state != stClosed:
		return r.Fail("a TCP state in a session of " + x.b.proto.String())
	case x.b.proto == TCP && x.state > stTrans:
		return r.Fail("unknown TCP state")
	case x.b.proto == UDP && x.list != listUDP, x.b.proto == ICMP && x.list != listICMP,
		x.b.proto == TCP && x.list != listTCPEst && x.list != listTCPTrans && x.list != listSYN:
		return r.Fail("a timer class not of its protocol")
	}
	return nil
}
