package proxy46

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/sixgate/sixgate/packet"
)

// defaultMSS4 is the MSS assumed when a client announces none (RFC 9293).
const defaultMSS4 = 536

// clientSlow handles client segments outside the established path: SYNs,
// the handshake ACK, held data, and segments for unknown connections. The
// caller has verified the checksum and the options.
func (e *Engine) clientSlow(c *conn, k key4, pkt []byte, tcp packet.TCP, doff int, out *packet.Batch) packet.Verdict {
	e.clock()
	flags := tcp.Flags()
	if c != nil && flags&(packet.TCPFlagSYN|packet.TCPFlagACK) == packet.TCPFlagSYN &&
		(c.state == StateClosed || c.state == StateSynReceived && tcp.Seq() != c.isnClient) {
		// A new connection reusing the 4-tuple of one that is closed,
		// or of one whose client restarted before completing its
		// handshake: the new SYN replaces it at once rather than wait
		// out the embryonic timer.
		e.remove(c)
		c = nil
	}
	if c != nil && c.fromBackend {
		return e.activeFromClient(c, pkt, tcp, doff, out) // ftpdata.go
	}
	if c == nil {
		svc := e.services[vipKey{k.vip, k.vipPort}]
		if svc == nil && len(e.passive) > 0 && flags&(packet.TCPFlagSYN|packet.TCPFlagACK|packet.TCPFlagRST|packet.TCPFlagFIN) == packet.TCPFlagSYN {
			svc = e.passiveService(k) // ftpdata.go
		}
		if svc == nil {
			return e.closedPort(k, tcp, out) // host.go
		}
		if e.wkp && !packet.Global4(k.client) {
			// RFC 6052 §3.1: the Well-Known Prefix does not carry
			// private or special-purpose IPv4 addresses, so such a
			// client cannot be given a source address; it gets no
			// answer (a network-specific pool6 carries any address).
			return e.drop(DropNonGlobalClient)
		}
		switch {
		case flags&(packet.TCPFlagSYN|packet.TCPFlagACK|packet.TCPFlagRST|packet.TCPFlagFIN) == packet.TCPFlagSYN:
			return e.acceptSYN(svc, k, tcp, doff, out)
		case flags&(packet.TCPFlagSYN|packet.TCPFlagACK|packet.TCPFlagRST) == packet.TCPFlagACK && e.cookiesRecent():
			return e.acceptCookie(svc, k, tcp, doff, out)
		}
		e.resetStray4(k, tcp, out)
		return e.drop(DropNoConnection)
	}
	switch c.state {
	case StateSynReceived:
		if flags&packet.TCPFlagRST != 0 {
			// RFC 5961 §3.2: only the exact next sequence number resets.
			// Nothing but the SYN-ACK was sent, so there is no ACK to
			// challenge with; the embryonic timer cleans up otherwise.
			if tcp.Seq() != c.isnClient+1 {
				return e.drop(DropRSTOutOfWindow)
			}
			e.remove(c)
			return packet.Consumed
		}
		if flags&(packet.TCPFlagSYN|packet.TCPFlagACK) == packet.TCPFlagSYN {
			e.noteSYNData(tcp, doff)
			e.sendSynAck(c, out) // our SYN-ACK was lost
			return packet.Consumed
		}
		if flags&packet.TCPFlagACK == 0 || flags&packet.TCPFlagSYN != 0 {
			return e.drop(DropStateMismatch)
		}
		if tcp.Ack() != c.isnEdge+1 {
			return e.drop(DropBadAck)
		}
		e.setState(c, StateHolding)
		// The SYN-ACK needs no more retransmission: from here the client
		// has until the embryonic timeout to send what chooses.
		e.schedule(c, c.created+int64(e.cfg.Timeouts.Embryonic))
		return e.hold(c, tcp, doff, out)
	case StateHolding, StateBackendSyn:
		return e.hold(c, tcp, doff, out)
	}
	// A SYN on a synchronized connection: the client may have restarted
	// and lost its state, or the SYN is old or forged. A challenge ACK
	// (RFC 9293 §3.10.7.4, RFC 5961 §4) makes a restarted client reset
	// the connection with the exact sequence number, after which its
	// next SYN opens a new one.
	e.challengeSpliced(c, out)
	return e.drop(DropStateMismatch)
}

// challengeSpliced sends the client, on the backend's behalf, an ACK of
// what the backend acknowledged last, with the backend's next sequence
// number, latest window and timestamp, within ChallengeACKLimit.
func (e *Engine) challengeSpliced(c *conn, out *packet.Batch) {
	if !e.challengeAllowed() {
		return
	}
	var w optionWriter
	if c.translateTS || c.insertTS {
		w.alignedTimestamps(c.tsValToClient(e.now), c.tsClient)
	}
	window := c.winB
	if c.rescaleB2C {
		window = rescaleWindow(window, c.scaleBackend, c.scaleClientView())
	}
	// The backend's acknowledgement is in its own space; on an FTP
	// control connection whose lines the gateway rewrote, the client's
	// differs (ftp.go).
	ack := c.ackB
	if c.ftp != nil {
		ack = c.ftp.g.Ack(false, ack)
	}
	s := segment{
		srcPort: c.k4.vipPort, dstPort: c.k4.clientPort,
		seq: c.sndNxtB - c.seqShift, ack: ack, flags: packet.TCPFlagACK,
		window: window, opts: w.bytes(),
	}
	e.emit4(out, c.k4.vip, c.k4.client, &s)
	e.stats.ChallengeACKs++
}

// noteSYNData counts a SYN that carries data. Without TCP Fast Open the
// data is not acknowledged, so the client sends it again after the
// handshake; the SYN itself is answered (as Linux does).
func (e *Engine) noteSYNData(tcp packet.TCP, doff int) {
	if len(tcp) > doff {
		e.stats.Drops[DropSYNData]++
	}
}

// acceptSYN answers a client's SYN from the VIP (step 1 of the splice),
// keeping state below SynCookieThreshold embryonic connections and
// answering with a SYN cookie from there on.
func (e *Engine) acceptSYN(svc *service, k key4, tcp packet.TCP, doff int, out *packet.Batch) packet.Verdict {
	if e.tableFull() {
		return e.drop(DropTableFull)
	}
	emb := e.embryonic()
	if th := e.cfg.SynCookieThreshold; th > 0 && emb >= th && !svc.data {
		// (A data connection's service is in no table a cookie could
		// find again; it was announced, and is bounded, already.)
		e.noteSYNData(tcp, doff)
		if !e.sendCookie(k, tcp, out) {
			return e.drop(DropCookieMSS)
		}
		return packet.Consumed
	}
	if emb >= e.cfg.MaxEmbryonic {
		return e.drop(DropEmbryonicFull)
	}
	e.noteSYNData(tcp, doff)
	o := parseSynOptions(tcp.Options())
	now := e.now
	c := &conn{
		svc:          svc,
		state:        StateSynReceived,
		k4:           k,
		backend:      -1,
		isnClient:    tcp.Seq(),
		isnEdge:      e.isn.isn(k.vip, k.client, k.vipPort, k.clientPort, now),
		mssClient:    defaultMSS4,
		windowClient: tcp.Window(),
		synWindow:    tcp.Window(),
		clientSACK:   o.sackOK,
		clientTS:     o.hasTS,
		tsClient:     o.tsVal,
		created:      now,
		lastSeen:     now,
	}
	if o.hasMSS {
		c.mssClient = o.mss
	}
	if o.hasWScale {
		c.clientWScale, c.scaleClient, c.scaleEdge = true, o.wscale, *e.cfg.WindowScale
	}
	if o.hasTS {
		c.tsEdge = e.tsBase(k)
	}
	e.insert(c)
	e.scheduleSynAck(c)
	e.sendSynAck(c, out)
	return packet.Consumed
}

// synAckRTO is the initial retransmission timeout of the SYN-ACK
// (RFC 9293 §3.8.1, RFC 6298 §2.1), doubled on each retransmission as
// Linux does for tcp_synack_retries.
const synAckRTO = int64(time.Second)

// scheduleSynAck sets the timer of a syn-received connection: the next
// SYN-ACK retransmission, or the embryonic timeout if that comes first.
func (e *Engine) scheduleSynAck(c *conn) {
	rto := synAckRTO << min(c.synAckTries, 16)
	e.schedule(c, min(e.now+rto, c.created+int64(e.cfg.Timeouts.Embryonic)))
}

// synAckTimer runs when a syn-received connection's timer fires. Its
// client may be waiting for the SYN-ACK, or be established with its
// handshake ACK lost: for a server-speaks-first service it then waits
// for a banner forever unless the SYN-ACK comes again and draws another
// ACK. At the embryonic timeout the connection is given up with a reset,
// which both kinds of client accept.
func (e *Engine) synAckTimer(c *conn, now int64, out *packet.Batch) {
	if now-c.created >= int64(e.cfg.Timeouts.Embryonic) {
		e.stats.EmbryonicExpired++
		e.resetClient(c, out)
		e.remove(c)
		return
	}
	c.synAckTries++
	e.stats.SynAckRetries++
	e.sendSynAck(c, out)
	e.scheduleSynAck(c)
}

// tsBase is the edge's timestamp clock for a connection: milliseconds
// plus a per-connection offset, so that TSvals leak no uptime.
func (e *Engine) tsBase(k key4) uint32 {
	return uint32(e.now/1e6) + e.isn.tsOffset(k.vip, k.client, k.vipPort, k.clientPort)
}

// sendCookie answers a SYN without keeping state: the SYN-ACK's ISN and
// TSval carry what the handshake ACK needs to rebuild the connection. A
// SYN whose MSS no cookie can carry is not answered: it returns false.
func (e *Engine) sendCookie(k key4, tcp packet.TCP, out *packet.Batch) bool {
	o := parseSynOptions(tcp.Options())
	mss := uint16(defaultMSS4)
	if o.hasMSS {
		mss = o.mss
	}
	idx, ok := cookieMSSIndex(mss)
	if !ok {
		// No entry is small enough, and rounding up would let the
		// backend exceed the client's MSS.
		return false
	}
	count := cookieCount(e.now)
	isnClient := tcp.Seq()
	p := synAck{
		k:         k,
		isnClient: isnClient,
		isnEdge:   e.isn.cookie(k.client, k.vip, k.clientPort, k.vipPort, isnClient, count, idx),
		// Window scale and SACK survive only inside the TSval.
		ts:       o.hasTS,
		sack:     o.hasTS && o.sackOK,
		wscale:   o.hasTS && o.hasWScale,
		shift:    *e.cfg.WindowScale,
		tsClient: o.tsVal,
	}
	if o.hasTS {
		p.tsEdge = cookieTSVal(e.tsBase(k), o.hasWScale, o.wscale, o.sackOK, e.scaleGen)
	}
	e.writeSynAck(p, out)
	e.cookieCount, e.cookiesSent = count, true
	e.stats.SynCookiesSent++
	return true
}

// cookiesRecent reports whether a cookie sent earlier may still come back.
func (e *Engine) cookiesRecent() bool {
	return e.cookiesSent && cookieCount(e.now)-e.cookieCount <= cookieMaxAge
}

// acceptCookie takes an ACK for no connection: if it returns a valid
// cookie, the connection is created as if its SYN had been kept and the
// segment proceeds exactly as on the stateful path.
func (e *Engine) acceptCookie(svc *service, k key4, tcp packet.TCP, doff int, out *packet.Batch) packet.Verdict {
	isnClient := tcp.Seq() - 1
	isnEdge := tcp.Ack() - 1
	idx, ok := e.isn.checkCookie(k.client, k.vip, k.clientPort, k.vipPort, isnClient, isnEdge, cookieCount(e.now))
	var (
		tsVal, tsEcr uint32
		hasTS        bool
		wscale, sack bool
		shift, gen   uint8
	)
	if i, _ := findTimestamp(tcp.Options()); ok && i >= 0 {
		hasTS = true
		tsVal = binary.BigEndian.Uint32(tcp[packet.TCPMinLen+i:])
		tsEcr = binary.BigEndian.Uint32(tcp[packet.TCPMinLen+i+4:])
		wscale, shift, sack, gen, ok = decodeCookieTS(e.tsBase(k), tsEcr)
	}
	if !ok {
		e.resetStray4(k, tcp, out)
		return e.drop(DropBadCookie)
	}
	if e.tableFull() {
		return e.drop(DropTableFull)
	}
	if e.embryonic() >= e.cfg.MaxEmbryonic {
		// The client resends its ACK or data; there may be room then.
		return e.drop(DropEmbryonicFull)
	}
	now := e.now
	window := tcp.Window()
	c := &conn{
		svc:          svc,
		state:        StateHolding,
		k4:           k,
		backend:      -1,
		isnClient:    isnClient,
		isnEdge:      isnEdge,
		mssClient:    cookieMSSTable()[idx],
		windowClient: window,
		synWindow:    window,
		clientSACK:   sack,
		clientTS:     hasTS,
		tsClient:     tsVal,
		tsEdge:       tsEcr,
		created:      now,
		lastSeen:     now,
	}
	if wscale {
		c.clientWScale, c.scaleClient, c.scaleEdge = true, shift, *e.cfg.WindowScale
		if gen != e.scaleGen {
			// The SYN-ACK offered the shift in force before the last
			// reconfiguration changed it.
			c.scaleEdge = e.prevScale
		}
		// The SYN's window was unscaled; this one is scaled.
		c.synWindow = uint16(min(uint32(window)<<shift, 0xffff))
	}
	e.insert(c)
	e.schedule(c, now+int64(e.cfg.Timeouts.Embryonic))
	e.stats.SynCookiesAccepted++
	return e.hold(c, tcp, doff, out)
}

// synAck describes a SYN-ACK from the VIP, from a connection or a cookie.
type synAck struct {
	k                  key4
	isnEdge, isnClient uint32
	tsEdge, tsClient   uint32
	ts, sack, wscale   bool
	shift              uint8 // the edge's window scale, if wscale
}

// sendSynAck answers the client from the VIP.
func (e *Engine) sendSynAck(c *conn, out *packet.Batch) {
	e.writeSynAck(synAck{
		k: c.k4, isnEdge: c.isnEdge, isnClient: c.isnClient, tsEdge: c.tsEdge, tsClient: c.tsClient,
		ts: c.clientTS, sack: c.clientSACK, wscale: c.clientWScale, shift: c.scaleEdge,
	}, out)
}

// writeSynAck emits a SYN-ACK. The window is the hold bound, so the
// client never sends more than the edge is willing to hold.
func (e *Engine) writeSynAck(p synAck, out *packet.Batch) {
	var w optionWriter
	w.mss(uint16(min(e.cfg.MTU6-60, 0xffff)))
	w.sackAndTimestamps(p.sack, p.ts, p.tsEdge, p.tsClient)
	if p.wscale {
		w.windowScale(p.shift)
	}
	s := segment{
		srcPort: p.k.vipPort, dstPort: p.k.clientPort,
		seq: p.isnEdge, ack: p.isnClient + 1,
		flags: packet.TCPFlagSYN | packet.TCPFlagACK, window: uint16(e.cfg.MaxHeldBytes),
		opts: w.bytes(),
	}
	e.emit4(out, p.k.vip, p.k.client, &s)
	e.stats.SynAcksSent++
}

// hold keeps the client's early data in order, without acknowledging it
// (step 2): the client retransmits whatever the edge does not keep.
func (e *Engine) hold(c *conn, tcp packet.TCP, doff int, out *packet.Batch) packet.Verdict {
	flags := tcp.Flags()
	if flags&packet.TCPFlagRST != 0 {
		return e.holdReset(c, tcp, out)
	}
	if flags&packet.TCPFlagSYN != 0 {
		// The client is synchronized: challenge as on a spliced
		// connection (RFC 5961 §4).
		e.challengeClient(c, out)
		return e.drop(DropStateMismatch)
	}
	if flags&packet.TCPFlagACK == 0 {
		return e.drop(DropStateMismatch)
	}
	if tcp.Ack() != c.isnEdge+1 {
		return e.drop(DropBadAck)
	}
	c.lastSeen = e.now
	c.windowClient = tcp.Window()
	if doff > packet.TCPMinLen {
		if i, _ := findTimestamp(tcp.Options()); i >= 0 {
			c.tsClient = binary.BigEndian.Uint32(tcp[packet.TCPMinLen+i:])
		}
	}
	verdict := packet.Consumed
	payload := tcp[doff:]
	if len(payload) > 0 || flags&packet.TCPFlagFIN != 0 {
		verdict = e.appendHeld(c, tcp.Seq(), payload, flags&packet.TCPFlagFIN != 0)
	}
	if c.state == StateHolding {
		e.tryChoose(c, false, out)
	}
	return verdict
}

// holdReset checks a client RST before the splice (RFC 5961 §3.2). The
// edge has acknowledged only the SYN but has received the held bytes, so
// either end of them resets: the first is what a client answering a
// challenge ACK uses, the second what a client that saw no loss sends.
// Anything else inside the offered window gets a challenge ACK; anything
// outside is dropped.
func (e *Engine) holdReset(c *conn, tcp packet.TCP, out *packet.Batch) packet.Verdict {
	seq := tcp.Seq()
	next := c.isnClient + 1 + uint32(len(c.held))
	if c.heldFIN {
		next++
	}
	switch {
	case seq == c.isnClient+1 || seq == next:
		if c.state == StateBackendSyn {
			e.resetBackend(c, out)
		}
		e.remove(c)
		return packet.Consumed
	case seq-(c.isnClient+1) < uint32(e.cfg.MaxHeldBytes):
		e.challengeClient(c, out)
		return e.drop(DropRSTChallenged)
	}
	return e.drop(DropRSTOutOfWindow)
}

// challengeClient sends the client an ACK of what the edge acknowledged so
// far (RFC 5961 §3.2), within ChallengeACKLimit per second.
func (e *Engine) challengeClient(c *conn, out *packet.Batch) {
	if !e.challengeAllowed() {
		return
	}
	var w optionWriter
	if c.clientTS {
		// The SYN-ACK's TSval again, not the clock's: after the splice
		// the backend's timestamps are mapped onto the SYN-ACK's, and
		// a later TSval here would make them go backwards (RFC 7323
		// §5: the client's PAWS would drop the backend's segments).
		w.alignedTimestamps(c.tsEdge, c.tsClient)
	}
	// The ACK stays at the client's ISN + 1, so the window that keeps
	// the right edge where the SYN-ACK put it is the whole hold bound
	// (RFC 9293 §3.8.6.2.2: a window must not shrink), rounded up when
	// scaled.
	window := e.cfg.MaxHeldBytes
	if c.clientWScale {
		window = (window + 1<<c.scaleEdge - 1) >> c.scaleEdge
	}
	s := segment{
		srcPort: c.k4.vipPort, dstPort: c.k4.clientPort,
		seq: c.isnEdge + 1, ack: c.isnClient + 1, flags: packet.TCPFlagACK,
		window: uint16(window), opts: w.bytes(),
	}
	e.emit4(out, c.k4.vip, c.k4.client, &s)
	e.stats.ChallengeACKs++
}

// challengeAllowed counts a challenge ACK against the per-second limit.
func (e *Engine) challengeAllowed() bool {
	if e.cfg.ChallengeACKLimit < 0 {
		e.stats.ChallengeACKsLimited++
		return false
	}
	if sec := e.now / 1e9; sec != e.challengeSecond {
		e.challengeSecond, e.challengeN = sec, 0
	}
	if e.challengeN >= e.cfg.ChallengeACKLimit {
		e.stats.ChallengeACKsLimited++
		return false
	}
	e.challengeN++
	return true
}

// appendHeld adds the new part of a segment to the held bytes. A segment
// past a gap is kept aside (holdOutOfOrder) and joins the held bytes once
// the gap fills.
func (e *Engine) appendHeld(c *conn, seq uint32, payload []byte, fin bool) packet.Verdict {
	if c.heldFIN {
		return e.drop(DropDuplicate)
	}
	off := int64(int32(seq - (c.isnClient + 1)))
	held := int64(len(c.held))
	switch {
	case off > held:
		return e.holdOutOfOrder(c, int(off), payload, fin)
	case off < 0:
		return e.drop(DropOutOfOrder)
	case off+int64(len(payload)) <= held && !(fin && off+int64(len(payload)) == held):
		return e.drop(DropDuplicate)
	}
	fresh := payload[held-off:]
	// A reconfiguration may have lowered the bound below what is held.
	room := max(e.cfg.MaxHeldBytes-len(c.held), 0)
	cut := false // a FIN after cut bytes is not held either
	if len(fresh) > room {
		fresh, cut = fresh[:room], true
		e.stats.Drops[DropHoldFull]++
	}
	if total := e.cfg.MaxHeldBytesTotal - int(e.stats.HeldBytes); len(fresh) > total {
		// The engine-wide bound: keep what fits and let the client
		// resend the rest, by which time other connections may have
		// released theirs (or the embryonic timer decides this one).
		// The choice is not forced: that would decide on partial bytes
		// because of other connections.
		fresh, cut = fresh[:max(total, 0)], true
		if len(fresh) == 0 {
			return e.drop(DropHeldTotalFull)
		}
		e.stats.Drops[DropHeldTotalFull]++
	}
	if c.held == nil && len(fresh) > 0 {
		c.held = make([]byte, 0, min(e.cfg.MaxHeldBytes, max(len(fresh), 2048)))
	}
	c.held = append(c.held, fresh...)
	e.stats.HeldBytes += uint64(len(fresh))
	e.stats.HeldBytesTotal += uint64(len(fresh))
	if fin && !cut {
		c.heldFIN = true
	}
	if len(c.ooo) > 0 {
		e.joinOutOfOrder(c)
	}
	return packet.Consumed
}

// maxOutOfOrder bounds the segments kept past a gap per connection.
const maxOutOfOrder = 16

// holdOutOfOrder keeps a segment that starts past the held bytes, as a
// receiver queues out-of-order data: still unacknowledged, so the client
// keeps its own copy, but once the gap is filled the choice need not wait
// for the client's retransmission timer. It is kept only inside the window
// the edge offered (MaxHeldBytes from the client's ISN + 1), within the
// per-connection bound together with the held bytes, and within
// MaxHeldBytesTotal; otherwise it is dropped as before.
func (e *Engine) holdOutOfOrder(c *conn, off int, payload []byte, fin bool) packet.Verdict {
	bound := e.cfg.MaxHeldBytes
	if off >= bound || len(c.ooo) >= maxOutOfOrder {
		return e.drop(DropOutOfOrder)
	}
	if off+len(payload) > bound {
		payload, fin = payload[:bound-off], false
	}
	for _, r := range c.ooo {
		if r.off <= off && off+len(payload) <= r.off+len(r.data) && (!fin || r.fin) {
			return e.drop(DropDuplicate)
		}
	}
	if len(c.held)+c.oooBytes+len(payload) > bound ||
		int(e.stats.HeldBytes)+len(payload) > e.cfg.MaxHeldBytesTotal {
		return e.drop(DropOutOfOrder)
	}
	if len(payload) == 0 && !fin {
		return e.drop(DropDuplicate)
	}
	c.ooo = append(c.ooo, heldRange{off: off, data: append([]byte(nil), payload...), fin: fin})
	c.oooBytes += len(payload)
	e.stats.HeldBytes += uint64(len(payload))
	e.stats.HeldBytesTotal += uint64(len(payload))
	e.stats.HeldOutOfOrder++
	return packet.Consumed
}

// joinOutOfOrder moves the segments kept past a gap that the held bytes
// now reach onto them, in order, until a gap remains or none is left.
func (e *Engine) joinOutOfOrder(c *conn) {
	for joined := true; joined && !c.heldFIN; {
		joined = false
		for i := 0; i < len(c.ooo); i++ {
			r := c.ooo[i]
			if r.off > len(c.held) {
				continue
			}
			fresh := r.data[min(len(c.held)-r.off, len(r.data)):]
			fresh = fresh[:min(len(fresh), max(e.cfg.MaxHeldBytes-len(c.held), 0))]
			c.held = append(c.held, fresh...)
			c.oooBytes -= len(r.data)
			e.stats.HeldBytes -= uint64(len(r.data) - len(fresh))
			if r.fin && r.off+len(r.data) == len(c.held) {
				c.heldFIN = true
			}
			c.ooo = append(c.ooo[:i], c.ooo[i+1:]...)
			joined = true
			break
		}
	}
	if c.heldFIN {
		// Nothing follows a FIN: what is left past it is dropped.
		for _, r := range c.ooo {
			c.oooBytes -= len(r.data)
			e.stats.HeldBytes -= uint64(len(r.data))
		}
		c.ooo = nil
	}
}

// tryChoose picks the backend once the held bytes decide it. force makes
// it decide with what there is (hold bound reached, FIN, timer).
func (e *Engine) tryChoose(c *conn, force bool, out *packet.Batch) {
	if len(c.held) >= e.cfg.MaxHeldBytes || c.heldFIN {
		force = true
	}
	idx, decided := e.choose(c, force, false)
	if !decided {
		return
	}
	if force && !c.svc.cfg.Policy.layer4() {
		e.stats.ForcedChoices++
	}
	if idx < 0 {
		e.stats.NoBackend++
		e.resetClient(c, out)
		e.remove(c)
		return
	}
	e.openBackend(c, idx, out)
}

// resetClient aborts the connection towards the client. The sequence
// number is the one the client expects from the VIP.
func (e *Engine) resetClient(c *conn, out *packet.Batch) {
	next := c.isnClient + 1 + uint32(len(c.held))
	if c.heldFIN {
		next++
	}
	s := segment{
		srcPort: c.k4.vipPort, dstPort: c.k4.clientPort,
		seq: c.isnEdge + 1, ack: next, flags: packet.TCPFlagRST | packet.TCPFlagACK,
	}
	e.emit4(out, c.k4.vip, c.k4.client, &s)
	e.stats.ClientResets++
}

// resetStray4 answers a segment to a VIP that belongs to no connection.
func (e *Engine) resetStray4(k key4, tcp packet.TCP, out *packet.Batch) {
	if s, ok := strayReset(tcp); ok {
		e.emit4(out, k.vip, k.client, &s)
		e.stats.ClientResets++
	}
}

// clientTooBig handles a client segment that would not fit MTU6 once
// translated: with DF set the client learns the MTU (RFC 7915 §4 and
// RFC 1191), otherwise the segment is dropped.
func (e *Engine) clientTooBig(c *conn, pkt []byte, out *packet.Batch) packet.Verdict {
	if packet.IPv4(pkt).DontFragment() {
		e.sendFragNeeded(out, c.k4.vip, c.k4.client, pkt, e.cfg.MTU6-20)
	}
	return e.drop(DropTooBig)
}

// sendFragNeeded sends ICMPv4 Destination Unreachable, Fragmentation
// Needed, quoting the offending IPv4 packet's header and first bytes.
func (e *Engine) sendFragNeeded(out *packet.Batch, src, dst [4]byte, quoted []byte, mtu int) {
	quoted = quoted[:min(len(quoted), 548)] // stay within 576 bytes
	n := packet.IPv4MinLen + packet.ICMPHeaderLen + len(quoted)
	b := out.Next(n, packet.IPv4Family, netip.AddrFrom4(dst))
	putIPv4Header(b, n, 0, defaultTTL, packet.ProtoICMPv4, src, dst)
	icmp := packet.ICMP(b[packet.IPv4MinLen:])
	icmp[packet.ICMPType], icmp[packet.ICMPCode] = packet.ICMPv4DestUnreachable, packet.ICMPv4CodeFragNeeded
	icmp.SetChecksum(0)
	// RFC 1191: the next-hop MTU in the low half of the rest of the header.
	binary.BigEndian.PutUint32(icmp[packet.ICMPRest:], uint32(uint16(max(mtu, packet.IPv4MinMTU))))
	copy(icmp.Body(), quoted)
	icmp.SetChecksum(packet.Checksum(0, icmp))
	e.stats.Packets4Out++
	e.stats.ICMPSent++
}
