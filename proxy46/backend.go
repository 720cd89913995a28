package proxy46

import (
	"github.com/sixgate/sixgate/packet"
)

// defaultMSS6 is the MSS assumed when a backend announces none (RFC 8200
// minimum MTU less the headers).
const defaultMSS6 = 1220

// openBackend sends the SYN that opens the IPv6 half towards backend idx,
// from the client's embedded address, with the client's ISN and options
// (step 3). A backend 4-tuple already used by another connection is
// skipped, as the backend could not tell the two apart.
func (e *Engine) openBackend(c *conn, idx int, out *packet.Batch) {
	client6 := packet.Embed4(e.pool, e.poolBits, c.k4.client)
	for idx >= 0 {
		b := &c.svc.backends[idx]
		k := key6{backend: b.addr, client6: client6, backendPort: b.port, clientPort: c.k4.clientPort}
		if other := e.by6[k]; other == nil || other == c {
			c.backend, c.k6 = idx, k
			e.by6[k] = c
			break
		}
		e.stats.Drops[DropPortCollision]++
		idx, _ = e.choose(c, true, true)
	}
	if idx < 0 {
		e.stats.NoBackend++
		e.resetClient(c, out)
		e.remove(c)
		return
	}
	c.svc.backends[idx].chosen++
	c.adj46, c.adj64 = addressAdjustments(c.k4, c.k6)
	if c.state != StateBackendSyn {
		e.setState(c, StateBackendSyn)
	}
	c.synTries = 0
	c.synStarted = e.now
	e.sendBackendSyn(c, out)
	e.stats.BackendSyns++
}

// addressAdjustments returns the constant checksum changes of each
// direction: the pseudo-header addresses and the VIP/backend port. The
// protocol and length words are equal in both pseudo-headers.
func addressAdjustments(k4 key4, k6 key6) (adj46, adj64 uint16) {
	s4 := packet.Add(packet.Add(packet.Sum(k4.client[:]), packet.Sum(k4.vip[:])), k4.vipPort)
	s6 := packet.Add(packet.Add(packet.Sum(k6.client6[:]), packet.Sum(k6.backend[:])), k6.backendPort)
	return packet.Adjustment(s4, s6), packet.Adjustment(s6, s4)
}

// backendMSS is the MSS the SYN to a backend announces from the client's:
// when the client negotiated timestamps, 12 bytes less. A backend that
// refuses timestamps gets a TSopt added to each of its segments by the
// engine (insertTS), and its full segments must still fit the client's
// MSS; the SYN goes out before the backend's answer says which kind it
// is, so every backend is told the lower value. A backend that uses
// timestamps counts its own 12 bytes of TSopt against the MSS as well,
// so its segments are 12 bytes (under 1 %) shorter than they could be.
func backendMSS(c *conn) int {
	if c.clientTS {
		return max(int(c.mssClient)-tsOptLen, 64)
	}
	return int(c.mssClient)
}

// minMSS is the smallest MSS the engine takes from a backend.
const minMSS = 64

// tsOptLen is the length of an aligned timestamp option: NOP, NOP, TSopt.
const tsOptLen = 12

// sendBackendSyn sends (or resends) the SYN to the chosen backend.
func (e *Engine) sendBackendSyn(c *conn, out *packet.Batch) {
	var w optionWriter
	w.mss(uint16(min(backendMSS(c), e.cfg.MTU6-60)))
	w.sackAndTimestamps(c.clientSACK, c.clientTS, c.tsClient, 0)
	if c.clientWScale {
		w.windowScale(c.scaleClient)
	}
	s := segment{
		srcPort: c.k6.clientPort, dstPort: c.k6.backendPort,
		seq: c.isnClient, flags: packet.TCPFlagSYN, window: c.synWindow,
		opts: w.bytes(),
	}
	e.emit6(out, c.k6.client6, c.k6.backend, &s)
	c.synTries++
	e.schedule(c, min(e.now+int64(e.cfg.Timeouts.SYNRetransmit), c.synStarted+int64(e.cfg.Timeouts.Backend)))
}

// backendSlow handles backend segments outside the established path: the
// SYN-ACK, refusals, and segments for unknown connections.
func (e *Engine) backendSlow(c *conn, k key6, pkt []byte, tcp packet.TCP, doff int, out *packet.Batch) packet.Verdict {
	e.clock()
	flags := tcp.Flags()
	if c == nil {
		if len(e.active) > 0 && flags&(packet.TCPFlagSYN|packet.TCPFlagACK|packet.TCPFlagRST|packet.TCPFlagFIN) == packet.TCPFlagSYN {
			if v, ok := e.acceptActive(k, pkt, tcp, doff, out); ok { // ftpdata.go
				return v
			}
		}
		e.resetStray6(k, tcp, out)
		return e.drop(DropNoConnection)
	}
	if c.fromBackend {
		return e.activeFromBackend(c, pkt, tcp, doff, out)
	}
	ack := tcp.Ack()
	if c.state != StateBackendSyn {
		if flags&(packet.TCPFlagSYN|packet.TCPFlagACK) == packet.TCPFlagSYN|packet.TCPFlagACK && c.state >= StateEstablished &&
			tcp.Seq() == c.isnBackend {
			// Our ACK of its SYN-ACK was lost; the held data replayed
			// after it may be lost too, but the client resends that.
			e.ackBackend(c, out)
			return packet.Consumed
		}
		return e.drop(DropStateMismatch)
	}
	if flags&packet.TCPFlagRST != 0 {
		if flags&packet.TCPFlagACK == 0 || ack != c.isnClient+1 {
			return e.drop(DropBadAck)
		}
		e.stats.BackendRefused++
		e.failover(c, out)
		return packet.Consumed
	}
	if flags&(packet.TCPFlagSYN|packet.TCPFlagACK) != packet.TCPFlagSYN|packet.TCPFlagACK {
		return e.drop(DropStateMismatch)
	}
	if ack != c.isnClient+1 {
		return e.drop(DropBadAck)
	}
	e.splice(c, tcp, out)
	return packet.Consumed
}

// splice completes the connection on the backend's SYN-ACK (step 4):
// learn the backend's ISN and options, acknowledge, replay what was held.
func (e *Engine) splice(c *conn, tcp packet.TCP, out *packet.Batch) {
	o := parseSynOptions(tcp.Options())
	c.isnBackend = tcp.Seq()
	c.seqShift = c.isnBackend - c.isnEdge
	mss := defaultMSS6
	if o.hasMSS {
		mss = int(o.mss)
	}
	// An MSS below 64 is taken as 64, as Linux takes one below 88 as 88:
	// the established path cuts client segments to it.
	c.mssBackend = uint16(max(min(mss, e.cfg.MTU6-60), minMSS))
	if c.clientWScale && o.hasWScale {
		c.backendWScale, c.scaleBackend = true, o.wscale
	}
	c.rescaleB2C = c.scaleBackend != c.scaleClientView()
	c.rescaleC2B = c.clientWScale && !c.backendWScale
	if c.clientTS && o.hasTS {
		c.translateTS = true
		c.tsBackend = o.tsVal
		c.tsShift = c.tsBackend - c.tsEdge
	}
	c.insertTS = c.clientTS && !o.hasTS
	// Starting points of the established path's RFC 5961 checks.
	c.sndNxtB = c.isnBackend + 1
	c.ackB = c.isnClient + 1
	// The client may have up to the window the edge offered in flight,
	// beside what the backend offers (a SYN's window is unscaled).
	c.maxWinB = max(uint32(tcp.Window()), uint32(e.cfg.MaxHeldBytes))
	c.ackC = c.isnEdge + 1
	c.maxWinC = max(uint32(c.synWindow), uint32(c.windowClient)<<c.scaleClient)
	c.sndNxtC = c.isnClient + 1 + uint32(len(c.held))
	if c.heldFIN {
		c.sndNxtC++
	}
	c.lastEndC, c.lastEndB = c.sndNxtC, c.sndNxtB
	c.winB, c.tsValB = tcp.Window()>>c.scaleBackend, c.tsBackend
	e.unschedule(c)
	e.setState(c, StateEstablished)
	e.stats.Spliced++
	if c.svc.cfg.ALG == ALGFTP {
		e.newFTPControl(c) // before the held bytes are released
	}
	e.replay(c, int(tcp.Window()), out)
	c.lastSeen = e.now
}

// replay acknowledges the backend's SYN-ACK and sends the held bytes in
// order, cut to the backend's MSS. The hold is then released: from here
// on the client's retransmissions are the only copy, as with any TCP.
//
// Only what fits the window of the backend's SYN-ACK (unscaled, as in any
// SYN) is sent (RFC 9293 §3.8.6); the client, which never had the rest
// acknowledged, sends it again and the established path carries it.
func (e *Engine) replay(c *conn, backendWindow int, out *packet.Batch) {
	var w optionWriter
	if c.translateTS {
		w.alignedTimestamps(c.tsClient, c.tsBackend)
	}
	window := c.windowClient
	if c.rescaleC2B {
		window = rescaleWindow(window, c.scaleClient, 0)
	}
	chunk := max(int(c.mssBackend)-w.n, 1)
	data := c.held[:min(len(c.held), backendWindow)]
	fin := c.heldFIN && len(data) == len(c.held)
	s := segment{
		srcPort: c.k6.clientPort, dstPort: c.k6.backendPort,
		seq: c.isnClient + 1, ack: c.isnBackend + 1, window: window,
		opts: w.bytes(),
	}
	for {
		n := min(len(data), chunk)
		s.payload = data[:n]
		s.flags = packet.TCPFlagACK
		last := n == len(data)
		if n > 0 {
			s.flags |= packet.TCPFlagPSH
			e.stats.Replayed++
		}
		if last && fin {
			s.flags |= packet.TCPFlagFIN
			c.finClient, c.watch = true, true
			c.finEndC = s.seq + uint32(n) + 1
		}
		e.emit6(out, c.k6.client6, c.k6.backend, &s)
		if last {
			break
		}
		s.seq += uint32(n)
		data = data[n:]
	}
	e.releaseHeld(c)
}

// ackBackend acknowledges a retransmitted SYN-ACK.
func (e *Engine) ackBackend(c *conn, out *packet.Batch) {
	var w optionWriter
	if c.translateTS {
		w.alignedTimestamps(c.tsClient, c.tsBackend)
	}
	s := segment{
		srcPort: c.k6.clientPort, dstPort: c.k6.backendPort,
		seq: c.isnClient + 1, ack: c.isnBackend + 1, flags: packet.TCPFlagACK,
		window: c.windowClient, opts: w.bytes(),
	}
	if c.rescaleC2B {
		s.window = rescaleWindow(s.window, c.scaleClient, 0)
	}
	e.emit6(out, c.k6.client6, c.k6.backend, &s)
}

// failover gives up on the current backend before any byte was relayed
// and tries the next one for the same match (step 5).
func (e *Engine) failover(c *conn, out *packet.Batch) {
	c.svc.backends[c.backend].failed++
	if e.by6[c.k6] == c {
		delete(e.by6, c.k6)
	}
	idx, _ := e.choose(c, true, true)
	if idx < 0 {
		e.stats.NoBackend++
		e.resetClient(c, out)
		e.remove(c)
		return
	}
	e.stats.Failovers++
	e.openBackend(c, idx, out)
}

// resetBackend aborts the backend half while its handshake is pending.
func (e *Engine) resetBackend(c *conn, out *packet.Batch) {
	s := segment{
		srcPort: c.k6.clientPort, dstPort: c.k6.backendPort,
		seq: c.isnClient + 1, flags: packet.TCPFlagRST,
	}
	e.emit6(out, c.k6.client6, c.k6.backend, &s)
	e.stats.BackendResets++
}

// resetStray6 answers a backend segment to pool6 that belongs to no
// connection, so that backends drop state the edge has forgotten.
func (e *Engine) resetStray6(k key6, tcp packet.TCP, out *packet.Batch) {
	if s, ok := strayReset(tcp); ok {
		e.emit6(out, k.client6, k.backend, &s)
		e.stats.BackendResets++
	}
}
