package proxy46

import (
	"encoding/binary"
	"net/netip"
)

// defaultMSS4 is the MSS assumed when a client announces none (RFC 9293).
const defaultMSS4 = 536

// clientSlow handles client segments outside the established path: SYNs,
// the handshake ACK, held data, and segments for unknown connections.
func (e *Engine) clientSlow(c *conn, k key4, pkt, tcp []byte, doff int, out *Batch) Verdict {
	e.clock()
	flags := tcp[tcpFlags]
	if c != nil && c.state == StateClosed && flags&(flagSYN|flagACK) == flagSYN {
		// A new connection reusing the 4-tuple of one that is lingering.
		e.remove(c)
		c = nil
	}
	if c == nil {
		svc := e.services[vipKey{k.vip, k.vipPort}]
		if svc == nil {
			e.resetStray4(k, tcp, doff, out)
			return e.drop(DropNoService)
		}
		if flags&(flagSYN|flagACK|flagRST|flagFIN) == flagSYN {
			return e.acceptSYN(svc, k, tcp, doff, out)
		}
		e.resetStray4(k, tcp, doff, out)
		return e.drop(DropNoConnection)
	}
	switch c.state {
	case StateSynReceived:
		if flags&flagRST != 0 {
			e.remove(c)
			return Consumed
		}
		if flags&(flagSYN|flagACK) == flagSYN {
			if binary.BigEndian.Uint32(tcp[tcpSeq:]) != c.isnClient {
				return e.drop(DropStateMismatch)
			}
			e.sendSynAck(c, out) // our SYN-ACK was lost
			return Consumed
		}
		if flags&flagACK == 0 || flags&flagSYN != 0 {
			return e.drop(DropStateMismatch)
		}
		if binary.BigEndian.Uint32(tcp[tcpAck:]) != c.isnEdge+1 {
			return e.drop(DropBadAck)
		}
		e.setState(c, StateHolding)
		return e.hold(c, tcp, doff, out)
	case StateHolding, StateBackendSyn:
		return e.hold(c, tcp, doff, out)
	}
	// Established or closed and carrying a SYN: a stale retransmission.
	return e.drop(DropStateMismatch)
}

// acceptSYN answers a client's SYN from the VIP (step 1 of the splice).
func (e *Engine) acceptSYN(svc *service, k key4, tcp []byte, doff int, out *Batch) Verdict {
	if len(e.by4) >= e.cfg.MaxConnections {
		return e.drop(DropTableFull)
	}
	o := parseSynOptions(tcp[tcpMinLen:doff])
	now := e.now
	c := &conn{
		svc:          svc,
		state:        StateSynReceived,
		k4:           k,
		backend:      -1,
		isnClient:    binary.BigEndian.Uint32(tcp[tcpSeq:]),
		isnEdge:      e.isn.isn(k.vip, k.client, k.vipPort, k.clientPort, now),
		mssClient:    defaultMSS4,
		windowClient: binary.BigEndian.Uint16(tcp[tcpWindow:]),
		synWindow:    binary.BigEndian.Uint16(tcp[tcpWindow:]),
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
		c.clientWScale, c.scaleClient, c.scaleEdge = true, o.wscale, e.cfg.WindowScale
	}
	if o.hasTS {
		c.tsEdge = uint32(now/1e6) + e.isn.tsOffset(k.vip, k.client, k.vipPort, k.clientPort)
	}
	e.insert(c)
	e.schedule(c, now+int64(e.cfg.Timeouts.Embryonic))
	e.sendSynAck(c, out)
	return Consumed
}

// sendSynAck answers the client from the VIP. The window is the hold
// bound, so the client never sends more than the edge is willing to hold.
func (e *Engine) sendSynAck(c *conn, out *Batch) {
	var w optionWriter
	w.mss(uint16(min(e.cfg.MTU6-60, 0xffff)))
	w.sackAndTimestamps(c.clientSACK, c.clientTS, c.tsEdge, c.tsClient)
	if c.clientWScale {
		w.windowScale(c.scaleEdge)
	}
	s := segment{
		srcPort: c.k4.vipPort, dstPort: c.k4.clientPort,
		seq: c.isnEdge, ack: c.isnClient + 1,
		flags: flagSYN | flagACK, window: uint16(e.cfg.MaxHeldBytes),
		opts: w.bytes(),
	}
	e.emit4(out, c.k4.vip, c.k4.client, &s)
	e.stats.SynAcksSent++
}

// hold keeps the client's early data in order, without acknowledging it
// (step 2): the client retransmits whatever the edge does not keep.
func (e *Engine) hold(c *conn, tcp []byte, doff int, out *Batch) Verdict {
	flags := tcp[tcpFlags]
	if flags&flagRST != 0 {
		if c.state == StateBackendSyn {
			e.resetBackend(c, out)
		}
		e.remove(c)
		return Consumed
	}
	if flags&flagSYN != 0 || flags&flagACK == 0 {
		return e.drop(DropStateMismatch)
	}
	if binary.BigEndian.Uint32(tcp[tcpAck:]) != c.isnEdge+1 {
		return e.drop(DropBadAck)
	}
	c.lastSeen = e.now
	c.windowClient = binary.BigEndian.Uint16(tcp[tcpWindow:])
	if doff > tcpMinLen {
		if i := findTimestamp(tcp[tcpMinLen:doff]); i >= 0 {
			c.tsClient = binary.BigEndian.Uint32(tcp[tcpMinLen+i:])
		}
	}
	verdict := Consumed
	payload := tcp[doff:]
	if len(payload) > 0 || flags&flagFIN != 0 {
		verdict = e.appendHeld(c, binary.BigEndian.Uint32(tcp[tcpSeq:]), payload, flags&flagFIN != 0)
	}
	if c.state == StateHolding {
		e.tryChoose(c, false, out)
	}
	return verdict
}

// appendHeld adds the new part of a segment to the held bytes. Segments
// past a gap are dropped rather than kept: the client will send them again.
func (e *Engine) appendHeld(c *conn, seq uint32, payload []byte, fin bool) Verdict {
	if c.heldFIN {
		return e.drop(DropDuplicate)
	}
	off := int64(int32(seq - (c.isnClient + 1)))
	held := int64(len(c.held))
	switch {
	case off < 0 || off > held:
		return e.drop(DropOutOfOrder)
	case off+int64(len(payload)) <= held && !(fin && off+int64(len(payload)) == held):
		return e.drop(DropDuplicate)
	}
	fresh := payload[held-off:]
	room := e.cfg.MaxHeldBytes - len(c.held)
	full := false
	if len(fresh) > room {
		fresh, full = fresh[:room], true
		e.stats.Drops[DropHoldFull]++
	}
	if c.held == nil && len(fresh) > 0 {
		c.held = make([]byte, 0, min(e.cfg.MaxHeldBytes, max(len(fresh), 2048)))
	}
	c.held = append(c.held, fresh...)
	e.stats.HeldBytes += uint64(len(fresh))
	e.stats.HeldBytesTotal += uint64(len(fresh))
	if fin && !full {
		c.heldFIN = true
	}
	return Consumed
}

// tryChoose picks the backend once the held bytes decide it. force makes
// it decide with what there is (hold bound reached, FIN, timer).
func (e *Engine) tryChoose(c *conn, force bool, out *Batch) {
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
func (e *Engine) resetClient(c *conn, out *Batch) {
	next := c.isnClient + 1 + uint32(len(c.held))
	if c.heldFIN {
		next++
	}
	s := segment{
		srcPort: c.k4.vipPort, dstPort: c.k4.clientPort,
		seq: c.isnEdge + 1, ack: next, flags: flagRST | flagACK,
	}
	e.emit4(out, c.k4.vip, c.k4.client, &s)
	e.stats.ClientResets++
}

// resetStray4 answers a segment to a VIP that belongs to no connection.
func (e *Engine) resetStray4(k key4, tcp []byte, doff int, out *Batch) {
	if s, ok := strayReset(tcp, doff); ok {
		e.emit4(out, k.vip, k.client, &s)
		e.stats.ClientResets++
	}
}

// clientTooBig handles a client segment that would not fit MTU6 once
// translated: with DF set the client learns the MTU (RFC 7915 §4 and
// RFC 1191), otherwise the segment is dropped.
func (e *Engine) clientTooBig(c *conn, pkt []byte, out *Batch) Verdict {
	if binary.BigEndian.Uint16(pkt[ip4Flags:])&ip4FlagDF != 0 {
		e.sendFragNeeded(out, c.k4.vip, c.k4.client, pkt, e.cfg.MTU6-20)
	}
	return e.drop(DropTooBig)
}

// sendFragNeeded sends ICMPv4 Destination Unreachable, Fragmentation
// Needed, quoting the offending IPv4 packet's header and first bytes.
func (e *Engine) sendFragNeeded(out *Batch, src, dst [4]byte, quoted []byte, mtu int) {
	quoted = quoted[:min(len(quoted), 548)] // stay within 576 bytes
	n := ip4MinLen + 8 + len(quoted)
	b := out.next(n, IPv4, netip.AddrFrom4(dst))
	putIPv4Header(b, n, 0, ip4DefaultTTL, protoICMP4, src, dst)
	icmp := b[ip4MinLen:]
	icmp[0], icmp[1] = icmp4DestUnreach, icmp4FragNeeded
	binary.BigEndian.PutUint16(icmp[2:], 0)
	binary.BigEndian.PutUint16(icmp[4:], 0)
	binary.BigEndian.PutUint16(icmp[6:], uint16(max(mtu, ip4MinMTU)))
	copy(icmp[8:], quoted)
	binary.BigEndian.PutUint16(icmp[2:], ^sumWords(icmp))
	e.stats.Packets4Out++
	e.stats.ICMPSent++
}
