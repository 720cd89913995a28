package proxy46

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/sixgate/sixgate/statecodec"
)

// The hand-over moves an engine's state to another process (an upgrade
// that keeps connections): the old engine exports it once its callers have
// stopped sending it packets, the new one imports it before it sees any.
// The state travels as a versioned binary encoding (below), which a new
// binary must keep reading for as long as an older one may hand over to it.
//
// What travels: every connection with its sequence and timestamp offsets,
// window and option state, held bytes, the candidates it has left, its
// timers as durations relative to the export; the keys of the ISN and
// cookie hashes and the engine clock, so that SYN cookies already sent and
// timestamps already echoed stay valid. What does not: counters (they
// start again, as after a restart), and DNS waits (a connection that waited
// for an answer looks its name up again on its next segment or at its
// embryonic timeout).
//
// Since version 2, the FTP gateway travels too (handover_ftp.go): the state
// of every control connection's gateway, its text not yet acknowledged, the
// data connections announced and not yet opened with their time left, and
// which connections are data connections (with a service of their own, not
// one of the configuration) and which the backend opened, an active-mode
// one still in its handshake included. A version 1 state (from the previous
// release) is still read: its control connections go on without their
// gateway and its data connections drain, as that release's import did.
//
// Encoding, version 2, big-endian (version 1 lacks what is marked v2):
//
//	magic "p46h" | version u16 | flags u16 (0)
//	clock i64 (engine ns at export) | wall i64 (Unix ns at export)
//	pool6 [16] | pool6 bits u8 | isn key k0 u64 | k1 u64
//	cookie count u32 | cookies sent u8 | connections u32
//	per connection:
//	  vip [4] | vip port u16 | client [4] | client port u16 | state u8 | flags u32
//	  backend [16] | client6 [16] | backend port u16 | client6 port u16
//	  20 u32: isn client, edge, backend, seq shift, ts edge, ts shift,
//	          ts client, ts backend, snd.nxt c, b, ack c, b, max win c, b,
//	          last end c, b, tsval b, fin end c, b, pmtu4
//	  7 u16: mss client, backend, window client, syn window, win b, adj46, adj64
//	  6 u8: scale client, backend, edge, rst from, syn-ack tries, syn tries
//	  5 i64 relative to clock: syn started, created, last seen, deadline,
//	        drain deadline (0: not draining)
//	  4 u64: packets c2b, b2c, bytes c2b, b2c
//	  held u32 + bytes | out-of-order u16 + (offset u32 | fin u8 | len u32 + bytes)*
//	  candidates u16 + (address [16] | port u16 | default u8)*
//	  v2: kind u8, an FTP data connection's server and the FTP gateway
//	      (handover_ftp.go)
//	v2: expectations (handover_ftp.go)
//
// Decoding trusts no count: each is checked against a bound and against the
// bytes left, so a corrupt or hostile stream is an error, never a panic or
// an allocation out of proportion to its length.

const (
	handoverMagic   = "p46h"
	handoverVersion = 2
	// handoverOldest is the oldest version a decoder reads.
	handoverOldest = 1

	// Bounds a decoder enforces beyond the bytes left.
	maxHandoverConns = 1 << 24
	maxHandoverOOO   = 1024
	maxHandoverCands = 1 << 16
	maxHandoverHeld  = 1 << 16
	// maxHandoverGap bounds the wall time an import adds to the exported
	// clock for the time the state spent in transit.
	maxHandoverGap = 10 * time.Second
	// maxHandoverTime bounds a time relative to the export (a century),
	// so that the arithmetic on it cannot overflow.
	maxHandoverTime = 100 * 365 * 24 * int64(time.Hour)

	connFixedLen = 4 + 2 + 4 + 2 + 1 + 4 + 16 + 16 + 2 + 2 + 20*4 + 7*2 + 6 + 5*8 + 4*8 + 4 + 2 + 2
	candLen      = 16 + 2 + 1
)

// Flags of a connection in the encoding.
const (
	hfClientWScale uint32 = 1 << iota
	hfBackendWScale
	hfClientTS
	hfClientSACK
	hfTranslateTS
	hfRescaleB2C
	hfRescaleC2B
	hfInsertTS
	hfWatch
	hfFinClient
	hfFinBackend
	hfHeldFIN
	hfHasBackend
	hfBackendDefault
	hfDecided
	hfWaiting
	hfResumed
	hfScheduled
	hfOrphan
	hfAll = hfOrphan<<1 - 1
)

// HandoverState is an engine's state as Export takes it and Import puts it
// in another engine.
type HandoverState struct {
	clock, wall int64
	pool        [16]byte
	poolBits    uint8
	k0, k1      uint64
	cookieCount uint32
	cookiesSent bool
	conns       []exportedConn
	expects     []exportedExpect
	// version is the encoding's the state was read from (0: exported
	// here).
	version uint16
}

// Connections is the number of connections the state holds.
func (s *HandoverState) Connections() int { return len(s.conns) }

// exportedConn is one connection, detached from its engine: the service and
// the backends are named by address, the times are relative to the export.
type exportedConn struct {
	vip, client         [4]byte
	vipPort, clientPort uint16
	state               State
	flags               uint32
	k6                  key6

	u32 [20]uint32
	u16 [7]uint16
	u8  [6]uint8
	t   [5]int64
	n   [4]uint64

	held  []byte
	ooo   []heldRange
	cands []candidate

	kind uint8
	ftp  *exportedFTP
	// data is the one backend of an FTP data connection's service.
	data candidate
}

// candidate is a backend a connection may still try.
type candidate struct {
	addr      [16]byte
	port      uint16
	isDefault bool
}

// Export takes the engine's state for a hand-over. Call it once nothing
// hands the engine packets or runs its timers any more: what it does after
// Export is not in the state.
func (e *Engine) Export() *HandoverState {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.clock()
	st := &HandoverState{clock: now, wall: time.Now().UnixNano(), pool: e.pool, poolBits: uint8(e.poolBits),
		k0: e.isn.k0, k1: e.isn.k1, cookieCount: e.cookieCount, cookiesSent: e.cookiesSent,
		conns: make([]exportedConn, 0, len(e.all))}
	var pos map[*conn]uint32
	if len(e.expects) > 0 {
		pos = make(map[*conn]uint32, len(e.ftpConns))
	}
	for _, c := range e.all {
		cs := exportConn(c, now)
		if c.ftp != nil {
			cs.kind |= hkFTPControl
			cs.ftp = exportFTP(c.ftp, now)
			if pos != nil {
				pos[c] = uint32(len(st.conns))
			}
		}
		if c.svc.data {
			cs.kind |= hkFTPData
			b := &c.svc.backends[0]
			cs.data = candidate{addr: b.addr, port: b.port}
		}
		if c.fromBackend {
			cs.kind |= hkFromBackend
		}
		st.conns = append(st.conns, cs)
	}
	st.expects = e.exportExpects(pos, now)
	return st
}

func exportConn(c *conn, now int64) exportedConn {
	cs := exportedConn{vip: c.k4.vip, client: c.k4.client, vipPort: c.k4.vipPort, clientPort: c.k4.clientPort,
		state: c.state, k6: c.k6,
		u32: [20]uint32{c.isnClient, c.isnEdge, c.isnBackend, c.seqShift, c.tsEdge, c.tsShift, c.tsClient, c.tsBackend,
			c.sndNxtC, c.sndNxtB, c.ackC, c.ackB, c.maxWinC, c.maxWinB, c.lastEndC, c.lastEndB, c.tsValB,
			c.finEndC, c.finEndB, uint32(c.pmtu4)},
		u16: [7]uint16{c.mssClient, c.mssBackend, c.windowClient, c.synWindow, c.winB, c.adj46, c.adj64},
		u8: [6]uint8{c.scaleClient, c.scaleBackend, c.scaleEdge, uint8(c.rstFrom),
			uint8(min(c.synAckTries, 255)), uint8(min(c.synTries, 255))},
		t: [5]int64{c.synStarted - now, c.created - now, c.lastSeen - now, c.deadline - now, 0},
		n: [4]uint64{c.packetsC2B, c.packetsB2C, c.bytesC2B, c.bytesB2C},
	}
	for _, f := range []struct {
		on  bool
		bit uint32
	}{
		{c.clientWScale, hfClientWScale}, {c.backendWScale, hfBackendWScale}, {c.clientTS, hfClientTS},
		{c.clientSACK, hfClientSACK}, {c.translateTS, hfTranslateTS}, {c.rescaleB2C, hfRescaleB2C},
		{c.rescaleC2B, hfRescaleC2B}, {c.insertTS, hfInsertTS}, {c.watch, hfWatch},
		{c.finClient, hfFinClient}, {c.finBackend, hfFinBackend}, {c.heldFIN, hfHeldFIN},
		{c.pick.decided, hfDecided}, {c.pick.waiting, hfWaiting}, {c.pick.resumed, hfResumed},
		{c.pendingIdx >= 0, hfScheduled}, {c.orphan, hfOrphan},
	} {
		if f.on {
			cs.flags |= f.bit
		}
	}
	if c.drainAt != 0 {
		cs.t[4] = max(c.drainAt-now, 1)
	}
	if c.backend >= 0 {
		cs.flags |= hfHasBackend
		if c.svc.backends[c.backend].isDefault {
			cs.flags |= hfBackendDefault
		}
	}
	cs.held = append([]byte(nil), c.held...)
	for _, r := range c.ooo {
		cs.ooo = append(cs.ooo, heldRange{off: r.off, data: append([]byte(nil), r.data...), fin: r.fin})
	}
	if c.pick.decided {
		for _, i := range remainingCandidates(c) {
			b := &c.svc.backends[i]
			cs.cands = append(cs.cands, candidate{addr: b.addr, port: b.port, isDefault: b.isDefault})
		}
	}
	return cs
}

// remainingCandidates lists, in order, the backends nextCandidate would
// still hand out to c.
func remainingCandidates(c *conn) []int {
	svc, p := c.svc, &c.pick
	var out []int
	if p.dyn != nil {
		for _, i := range p.dyn[min(int(p.next), len(p.dyn)):] {
			out = append(out, int(i))
		}
		return out
	}
	for n := p.next; n < p.list.n; n++ {
		out = append(out, int(svc.cands[p.list.off+(p.start+n)%p.list.n]))
	}
	if p.withDefault && svc.hasDefault && p.next <= p.list.n {
		out = append(out, len(svc.backends)-1)
	}
	return out
}

// ImportReport says what Import did with the connections of a state.
type ImportReport struct {
	Imported int
	// Dropped are connections the importing engine cannot carry: not yet
	// spliced towards a backend it has, or over its table's bound.
	Dropped int
	// Draining are the imported connections that drain: they were
	// draining in the exporter, or their service or backend is not in
	// the importing engine's configuration.
	Draining int
	// Expectations are the FTP data connections still expected;
	// ExpectationsDropped those the importing engine could not keep (their
	// control connection dropped, their port taken or out of its range).
	Expectations, ExpectationsDropped int
	// GatewaysDropped are FTP control connections imported without their
	// gateway (over MaxControl): they go on untranslated.
	GatewaysDropped int
}

// Import puts a state taken by Export into e, which must be new (no
// connection yet) and use the same pool6. The engine clock and the ISN and
// cookie keys become the exporter's, so that what the old engine sent stays
// valid; the configuration (services, limits, timeouts) stays e's own.
func (e *Engine) Import(st *HandoverState) (ImportReport, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var rep ImportReport
	if len(e.all) != 0 {
		return rep, errors.New("proxy46: import: the engine already has connections")
	}
	if st.pool != e.pool || int(st.poolBits) != e.poolBits {
		from := netip.PrefixFrom(netip.AddrFrom16(st.pool), int(st.poolBits))
		to := netip.PrefixFrom(netip.AddrFrom16(e.pool), e.poolBits)
		return rep, fmt.Errorf("proxy46: import: pool6 changed from %v to %v: connections cannot move across it", from, to)
	}
	gap := time.Duration(time.Now().UnixNano() - st.wall)
	gap = max(0, min(gap, maxHandoverGap))
	e.epoch = e.cfg.Clock().Add(-time.Duration(st.clock) - gap)
	now := e.clock()
	e.isn = isnGenerator{k0: st.k0, k1: st.k1}
	e.cookieCount, e.cookiesSent = st.cookieCount, st.cookiesSent
	conns := make([]*conn, len(st.conns))
	for i := range st.conns {
		c := e.importConn(&st.conns[i], now)
		switch {
		case c == nil:
			rep.Dropped++
			continue
		case st.conns[i].ftp != nil && c.state != StateClosed && !e.importFTP(c, st.conns[i].ftp, now):
			rep.GatewaysDropped++
		}
		conns[i] = c
		rep.Imported++
	}
	rep.ExpectationsDropped = e.importExpects(st.expects, conns, now)
	rep.Expectations = len(e.expects)
	rep.Draining = int(e.stats.Draining)
	if len(e.orphans) > 0 {
		e.publishVIPs()
	}
	return rep, nil
}

// importConn adds one connection; nil means e cannot carry it.
func (e *Engine) importConn(cs *exportedConn, now int64) *conn {
	vk := vipKey{cs.vip, cs.vipPort}
	svc := e.services[vk]
	if cs.kind&hkFTPData != 0 {
		// A data connection's service is its own, whatever the
		// configuration says of the VIP's port.
		svc = dataService(cs.vip, cs.vipPort, cs.data.addr, cs.data.port)
	}
	k4 := key4{client: cs.client, vip: cs.vip, clientPort: cs.clientPort, vipPort: cs.vipPort}
	if e.by4[k4] != nil || len(e.by4) >= e.cfg.MaxConnections {
		return nil
	}
	// A spliced connection whose service or backend this engine does not
	// have (removed by a reload before the hand-over, or by the new
	// file) drains, as a reload would have it: it keeps its backend, in
	// a service of its own, until it closes or its drain deadline.
	spliced := cs.flags&hfHasBackend != 0 && cs.state >= StateEstablished && cs.state != StateClosed
	bk := candidate{addr: cs.k6.backend, port: cs.k6.backendPort, isDefault: cs.flags&hfBackendDefault != 0}
	orphan := svc == nil
	if orphan && !spliced {
		return nil
	}
	c := &conn{svc: svc, state: cs.state, k4: k4, backend: -1, fromBackend: cs.kind&hkFromBackend != 0}
	if cs.flags&hfHasBackend != 0 {
		if e.by6[cs.k6] != nil {
			return nil
		}
		i, ok := 0, false
		if svc != nil {
			i, ok = e.findBackend(svc, bk)
		}
		switch {
		case ok:
		case spliced:
			c.svc, i = detachedService(vk, bk), 0
			if cs.t[4] == 0 {
				cs.t[4] = int64(e.cfg.Timeouts.Drain)
			}
		default:
			return nil
		}
		c.backend, c.k6 = i, cs.k6
		if c.svc.data {
			c.svc.backends[0].chosen++
		}
	}
	u := cs.u32
	c.isnClient, c.isnEdge, c.isnBackend, c.seqShift = u[0], u[1], u[2], u[3]
	c.tsEdge, c.tsShift, c.tsClient, c.tsBackend = u[4], u[5], u[6], u[7]
	c.sndNxtC, c.sndNxtB, c.ackC, c.ackB = u[8], u[9], u[10], u[11]
	c.maxWinC, c.maxWinB, c.lastEndC, c.lastEndB = u[12], u[13], u[14], u[15]
	c.tsValB, c.finEndC, c.finEndB, c.pmtu4 = u[16], u[17], u[18], int(u[19])
	w := cs.u16
	c.mssClient, c.mssBackend, c.windowClient, c.synWindow, c.winB, c.adj46, c.adj64 = w[0], w[1], w[2], w[3], w[4], w[5], w[6]
	b := cs.u8
	c.scaleClient, c.scaleBackend, c.scaleEdge, c.rstFrom = b[0], b[1], b[2], side(b[3])
	c.synAckTries, c.synTries = int(b[4]), int(b[5])
	c.synStarted, c.created, c.lastSeen = now+cs.t[0], now+cs.t[1], now+cs.t[2]
	c.packetsC2B, c.packetsB2C, c.bytesC2B, c.bytesB2C = cs.n[0], cs.n[1], cs.n[2], cs.n[3]
	f := cs.flags
	c.clientWScale, c.backendWScale, c.clientTS = f&hfClientWScale != 0, f&hfBackendWScale != 0, f&hfClientTS != 0
	c.clientSACK, c.translateTS = f&hfClientSACK != 0, f&hfTranslateTS != 0
	c.rescaleB2C, c.rescaleC2B, c.insertTS = f&hfRescaleB2C != 0, f&hfRescaleC2B != 0, f&hfInsertTS != 0
	c.watch, c.finClient, c.finBackend, c.heldFIN = f&hfWatch != 0, f&hfFinClient != 0, f&hfFinBackend != 0, f&hfHeldFIN != 0
	if f&hfDecided != 0 && f&hfWaiting == 0 {
		c.pick = choice{decided: true, resumed: f&hfResumed != 0, dyn: make([]uint32, 0, len(cs.cands))}
		for _, cand := range cs.cands {
			if c.svc != svc {
				break // draining in a service of its own: no other backend
			}
			if i, ok := e.findBackend(svc, cand); ok {
				c.pick.dyn = append(c.pick.dyn, uint32(i))
			}
		}
	}
	// A connection that waited for a DNS answer decides again: its next
	// segment or its embryonic timeout looks the name up.
	if len(cs.held) > 0 {
		c.held = append(make([]byte, 0, max(len(cs.held), min(e.cfg.MaxHeldBytes, 2048))), cs.held...)
	}
	for _, r := range cs.ooo {
		c.ooo = append(c.ooo, heldRange{off: r.off, data: append([]byte(nil), r.data...), fin: r.fin})
		c.oooBytes += len(r.data)
	}
	e.insert(c)
	e.stats.ConnectionsOpened-- // opened by the exporter, not here
	e.stats.HeldBytes += uint64(len(c.held) + c.oooBytes)
	if c.backend >= 0 {
		e.by6[c.k6] = c
	}
	if c.state == StateClosed {
		c.closedIdx = len(e.closed)
		e.closed = append(e.closed, c)
	}
	if f&hfScheduled != 0 {
		e.schedule(c, now+cs.t[3])
	}
	if cs.t[4] != 0 {
		e.drainAt(c, now+cs.t[4], orphan)
	}
	return c
}

// detachedService is the service of its own that a connection drains in
// when the importing engine no longer has its service or its backend: its
// VIP and port, and its one backend.
func detachedService(k vipKey, b candidate) *service {
	ap := netip.AddrPortFrom(netip.AddrFrom16(b.addr), b.port)
	return &service{
		cfg: Service{VIP: netip.AddrFrom4(k.vip), Port: k.port},
		vip: k.vip, port: k.port,
		backends: []backend{{ap: ap, addr: b.addr, port: b.port, isDefault: b.isDefault}},
	}
}

// findBackend finds a backend of svc by address, port and kind, adding a
// resolved one to a service with backends from DNS.
func (e *Engine) findBackend(svc *service, b candidate) (int, bool) {
	for i := range svc.backends {
		x := &svc.backends[i]
		if x.addr == b.addr && x.port == b.port && x.isDefault == b.isDefault && !x.dynamic {
			return i, true
		}
	}
	if b.isDefault || svc.dns == nil || b.port != svc.dns.cfg.Port {
		return 0, false
	}
	a := netip.AddrFrom16(b.addr)
	if !svc.dns.cfg.inPrefixes(a) {
		return 0, false
	}
	i, ok := e.dnsBackend(svc, a)
	return int(i), ok
}

// MarshalBinary encodes the state (version 2, whatever version it was
// read from).
func (s *HandoverState) MarshalBinary() ([]byte, error) {
	n := 4 + 2 + 2 + 8 + 8 + 16 + 1 + 16 + 4 + 1 + 4 + 4 + len(s.expects)*expectLen
	for i := range s.conns {
		c := &s.conns[i]
		n += connFixedLen + 1 + len(c.held) + len(c.cands)*candLen
		if c.ftp != nil {
			n += ftpLen(c.ftp)
		}
		if c.kind&hkFTPData != 0 {
			n += 18
		}
		for _, r := range c.ooo {
			n += 9 + len(r.data)
		}
	}
	b := make([]byte, 0, n)
	b = append(b, handoverMagic...)
	b = binary.BigEndian.AppendUint16(b, handoverVersion)
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint64(b, uint64(s.clock))
	b = binary.BigEndian.AppendUint64(b, uint64(s.wall))
	b = append(b, s.pool[:]...)
	b = append(b, s.poolBits)
	b = binary.BigEndian.AppendUint64(b, s.k0)
	b = binary.BigEndian.AppendUint64(b, s.k1)
	b = binary.BigEndian.AppendUint32(b, s.cookieCount)
	b = append(b, boolByte(s.cookiesSent))
	b = binary.BigEndian.AppendUint32(b, uint32(len(s.conns)))
	for i := range s.conns {
		c := &s.conns[i]
		b = append(b, c.vip[:]...)
		b = binary.BigEndian.AppendUint16(b, c.vipPort)
		b = append(b, c.client[:]...)
		b = binary.BigEndian.AppendUint16(b, c.clientPort)
		b = append(b, byte(c.state))
		b = binary.BigEndian.AppendUint32(b, c.flags)
		b = append(b, c.k6.backend[:]...)
		b = append(b, c.k6.client6[:]...)
		b = binary.BigEndian.AppendUint16(b, c.k6.backendPort)
		b = binary.BigEndian.AppendUint16(b, c.k6.clientPort)
		for _, v := range c.u32 {
			b = binary.BigEndian.AppendUint32(b, v)
		}
		for _, v := range c.u16 {
			b = binary.BigEndian.AppendUint16(b, v)
		}
		b = append(b, c.u8[:]...)
		for _, v := range c.t {
			b = binary.BigEndian.AppendUint64(b, uint64(v))
		}
		for _, v := range c.n {
			b = binary.BigEndian.AppendUint64(b, v)
		}
		b = binary.BigEndian.AppendUint32(b, uint32(len(c.held)))
		b = append(b, c.held...)
		b = binary.BigEndian.AppendUint16(b, uint16(len(c.ooo)))
		for _, r := range c.ooo {
			b = binary.BigEndian.AppendUint32(b, uint32(r.off))
			b = append(b, boolByte(r.fin))
			b = binary.BigEndian.AppendUint32(b, uint32(len(r.data)))
			b = append(b, r.data...)
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(c.cands)))
		for _, cd := range c.cands {
			b = append(b, cd.addr[:]...)
			b = binary.BigEndian.AppendUint16(b, cd.port)
			b = append(b, boolByte(cd.isDefault))
		}
		b = append(b, c.kind)
		if c.kind&hkFTPData != 0 {
			b = append(b, c.data.addr[:]...)
			b = binary.BigEndian.AppendUint16(b, c.data.port)
		}
		if c.ftp != nil {
			b = appendFTP(b, c.ftp)
		}
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(s.expects)))
	for i := range s.expects {
		b = appendExpect(b, &s.expects[i])
	}
	return b, nil
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// UnmarshalBinary decodes a state MarshalBinary encoded; anything else is
// an error.
func (s *HandoverState) UnmarshalBinary(data []byte) error {
	r := statecodec.NewReader("proxy46: hand-over state", data)
	if string(r.Bytes(4)) != handoverMagic {
		return r.Fail("not a proxy46 hand-over state")
	}
	v := r.U16()
	if r.Err() == nil && (v < handoverOldest || v > handoverVersion) {
		return fmt.Errorf("proxy46: hand-over state version %d; this binary reads versions %d to %d", v, handoverOldest, handoverVersion)
	}
	if r.U16() != 0 {
		return r.Fail("unknown flags")
	}
	st := HandoverState{clock: int64(r.U64()), wall: int64(r.U64()), version: v}
	copy(st.pool[:], r.Bytes(16))
	st.poolBits = r.U8()
	st.k0, st.k1 = r.U64(), r.U64()
	st.cookieCount = r.U32()
	sent := r.U8()
	n := r.U32()
	if r.Err() != nil {
		return r.Err()
	}
	if sent > 1 || st.poolBits > 96 || st.clock < 0 {
		return r.Fail("bad header")
	}
	st.cookiesSent = sent == 1
	if n > maxHandoverConns || int(n) > r.Left()/connFixedLen {
		return r.Fail(fmt.Sprintf("%d connections in %d bytes", n, r.Left()))
	}
	st.conns = make([]exportedConn, n)
	for i := range st.conns {
		if err := readConn(r, &st.conns[i], v); err != nil {
			return fmt.Errorf("%w (connection %d)", err, i)
		}
	}
	if v >= 2 {
		var err error
		if st.expects, err = readExpects(r, st.conns); err != nil {
			return err
		}
	}
	if r.Left() != 0 {
		return r.Fail("trailing bytes")
	}
	*s = st
	return nil
}

func readConn(r *statecodec.Reader, c *exportedConn, version uint16) error {
	copy(c.vip[:], r.Bytes(4))
	c.vipPort = r.U16()
	copy(c.client[:], r.Bytes(4))
	c.clientPort = r.U16()
	c.state = State(r.U8())
	c.flags = r.U32()
	copy(c.k6.backend[:], r.Bytes(16))
	copy(c.k6.client6[:], r.Bytes(16))
	c.k6.backendPort, c.k6.clientPort = r.U16(), r.U16()
	for i := range c.u32 {
		c.u32[i] = r.U32()
	}
	for i := range c.u16 {
		c.u16[i] = r.U16()
	}
	copy(c.u8[:], r.Bytes(len(c.u8)))
	for i := range c.t {
		c.t[i] = int64(r.U64())
	}
	for i := range c.n {
		c.n[i] = r.U64()
	}
	if r.Err() != nil {
		return r.Err()
	}
	switch {
	case c.state >= numStates:
		return r.Fail("unknown state")
	case c.flags&^hfAll != 0:
		return r.Fail("unknown flags")
	case c.state >= StateBackendSyn && c.flags&hfHasBackend == 0:
		return r.Fail("no backend in state " + c.state.String())
	case c.u8[0] > 14 || c.u8[1] > 14 || c.u8[2] > 14 || c.u8[3] > uint8(sideBackend):
		return r.Fail("bad window scale or reset side")
	case c.u32[19] > 65535:
		return r.Fail("bad path MTU")
	}
	for _, t := range c.t {
		// Times are within a century of the export: the arithmetic on
		// them cannot overflow.
		if t < -100*365*24*int64(time.Hour) || t > 100*365*24*int64(time.Hour) {
			return r.Fail("time out of range")
		}
	}
	held := r.U32()
	if held > maxHandoverHeld {
		return r.Fail("held bytes out of range")
	}
	c.held = r.CopyBytes(int(held))
	no := r.U16()
	if r.Err() == nil && (no > maxHandoverOOO || int(no) > r.Left()/9) {
		return r.Fail("out-of-order segments out of range")
	}
	total := 0
	for range no {
		h := heldRange{off: int(r.U32())}
		fin := r.U8()
		l := r.U32()
		if r.Err() != nil {
			return r.Err()
		}
		total += int(l)
		if fin > 1 || l > maxHandoverHeld || total > 2*maxHandoverHeld || h.off > maxHandoverHeld*2 {
			return r.Fail("bad out-of-order segment")
		}
		h.fin, h.data = fin == 1, r.CopyBytes(int(l))
		c.ooo = append(c.ooo, h)
	}
	nc := r.U16()
	if r.Err() == nil && (int(nc) > maxHandoverCands || int(nc) > r.Left()/candLen) {
		return r.Fail("candidates out of range")
	}
	if nc > 0 {
		c.cands = make([]candidate, nc)
	}
	for i := range c.cands {
		copy(c.cands[i].addr[:], r.Bytes(16))
		c.cands[i].port = r.U16()
		d := r.U8()
		if d > 1 {
			return r.Fail("bad candidate")
		}
		c.cands[i].isDefault = d == 1
	}
	if version < 2 {
		return r.Err()
	}
	c.kind = r.U8()
	if r.Err() != nil {
		return r.Err()
	}
	switch {
	case c.kind&^hkAll != 0:
		return r.Fail("unknown connection kind")
	case c.kind&hkFTPControl != 0 && c.kind&hkFTPData != 0:
		return r.Fail("an FTP connection both control and data")
	case c.kind&hkFromBackend != 0 && c.kind&hkFTPData == 0:
		return r.Fail("a connection the backend opened that is no FTP data connection")
	case c.kind&hkFromBackend != 0 && c.flags&hfHasBackend == 0:
		return r.Fail("a connection the backend opened without its backend")
	case c.kind&hkFTPControl != 0 && c.state < StateEstablished:
		return r.Fail("an FTP control connection not spliced yet")
	}
	if c.kind&hkFTPData != 0 {
		copy(c.data.addr[:], r.Bytes(16))
		c.data.port = r.U16()
		if r.Err() == nil && c.flags&hfHasBackend != 0 && (c.data.addr != c.k6.backend || c.data.port != c.k6.backendPort) {
			return r.Fail("an FTP data connection spliced to another server than its own")
		}
	}
	if c.kind&hkFTPControl != 0 {
		f, err := readFTP(r)
		if err != nil {
			return err
		}
		c.ftp = f
	}
	return r.Err()
}
