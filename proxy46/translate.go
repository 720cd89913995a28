package proxy46

import (
	"encoding/binary"

	"github.com/sixgate/sixgate/packet"
)

// The established path: one segment in, one segment out, translated
// between the families with its sequence space shifted. It copies the
// segment once and touches only the fields it changes; the checksum is
// updated from the changed words alone (RFC 1624), never over the payload.
// A super-packet (offload.go) goes the same way and leaves with a partial
// checksum, the new pseudo-header's sum, for the kernel to finish.

// clientToBackend translates a client segment (IPv4) for the backend.
// gso is 0 for a segment, or the segment size of a super-packet
// (offload.go), which leaves as one with a partial checksum.
func (e *Engine) clientToBackend(c *conn, pkt []byte, tcp packet.TCP, doff, gso int, out *packet.Batch) packet.Verdict {
	ttl := packet.IPv4(pkt).TTL()
	if ttl <= 1 {
		e.timeExceeded4(pkt, out) // host.go
		return e.drop(DropTTLExpired)
	}
	n := len(tcp)
	if gso == 0 && packet.IPv6HeaderLen+n > e.cfg.MTU6 {
		return e.clientTooBig(c, pkt, out)
	}
	flags := tcp.Flags()
	seq := tcp.Seq()
	ack := tcp.Ack() + c.seqShift // in the backend's space
	if flags&packet.TCPFlagACK != 0 && !ackAcceptable(ack, c.sndNxtB, c.maxWinC) {
		return e.drop(DropACKOutOfWindow)
	}
	rst := rstInside
	if flags&packet.TCPFlagRST != 0 {
		if rst = rstCheck(seq, c.ackB, c.maxWinB, c.sndNxtC, c.lastEndC); rst == rstOutside {
			return e.drop(DropRSTOutOfWindow)
		}
	}
	b := out.Next(packet.IPv6HeaderLen+n, packet.IPv6Family, c.backendAddr())
	// RFC 7915 §4.1: traffic class from TOS, flow label zero, hop limit
	// from TTL, which this hop decrements.
	packet.IPv6(b).Encode(&packet.IPv6Fields{
		TrafficClass: packet.IPv4(pkt).TOS(), PayloadLen: uint16(n),
		NextHeader: packet.ProtoTCP, HopLimit: ttl - 1,
		Src: c.k6.client6, Dst: c.k6.backend,
	})
	seg := packet.TCP(b[packet.IPv6HeaderLen:])
	copy(seg, tcp)

	// The port change is part of adj46, so it is written unrecorded.
	seg.SetDstPort(c.k6.backendPort)
	var ed packet.Edit
	if flags&packet.TCPFlagACK != 0 {
		ed.Put32(seg, packet.TCPAck, ack)
	}
	w := seg.Window()
	if c.rescaleC2B {
		ed.Put16(seg, packet.TCPWindow, rescaleWindow(w, c.scaleClient, 0))
	}
	tsClient := c.tsClient
	if doff > packet.TCPMinLen {
		var ok bool
		if tsClient, ok = rewriteOptionsC2B(c, seg, doff, &ed, tsClient); !ok {
			out.Unnext()
			return e.drop(DropBadOptions)
		}
	}
	limit := int(c.mssBackend) + packet.TCPMinLen - doff
	switch {
	case gso != 0:
		e.offloadLast(out, packet.IPv6(b).PseudoHeaderSum(packet.ProtoTCP, n), packet.IPv6HeaderLen, doff, min(gso, limit))
	default:
		seg.SetChecksum(ed.Apply(seg.Checksum(), c.adj46))
		if n-doff > limit && flags&packet.TCPFlagRST == 0 {
			// Larger than the backend takes: the client was told MTU6 - 60
			// before the backend and its MSS were known.
			e.splitLast(out, limit)
		}
	}

	c.tsClient = tsClient
	if flags&packet.TCPFlagACK != 0 {
		c.ackC = ack - c.seqShift
	}
	end := seq + tcp.SequenceLength()
	c.lastEndC = end
	if int32(end-c.sndNxtC) > 0 {
		c.sndNxtC = end
	}
	if win := uint32(w) << c.scaleClient; win > c.maxWinC {
		c.maxWinC = win
	}
	c.lastSeen = e.now
	c.packetsC2B++
	c.bytesC2B += uint64(n - doff)
	e.stats.Bytes4In += uint64(len(pkt))
	e.stats.Packets6Out++ // a super-packet's are counted by offloadLast
	if c.watch || flags&(packet.TCPFlagFIN|packet.TCPFlagRST) != 0 {
		e.closeTrack(c, flags, rst == rstExact, sideClient, end)
	}
	return packet.Consumed
}

// backendToClient translates a backend segment (IPv6) for the client;
// gso as for clientToBackend.
func (e *Engine) backendToClient(c *conn, pkt []byte, tcp packet.TCP, doff, gso int, out *packet.Batch) packet.Verdict {
	hops := packet.IPv6(pkt).HopLimit()
	if hops <= 1 {
		e.timeExceeded6(pkt, out) // host.go
		return e.drop(DropTTLExpired)
	}
	n := len(tcp)
	if packet.IPv4MinLen+n > 0xffff {
		return e.drop(DropTooBig)
	}
	flags := tcp.Flags()
	seq := tcp.Seq() - c.seqShift // in the edge's space
	ack := tcp.Ack()
	if flags&packet.TCPFlagACK != 0 && !ackAcceptable(ack, c.sndNxtC, c.maxWinB) {
		return e.drop(DropACKOutOfWindow)
	}
	rst := rstInside
	if flags&packet.TCPFlagRST != 0 {
		if rst = rstCheck(seq, c.ackC, c.maxWinC, c.sndNxtB-c.seqShift, c.lastEndB-c.seqShift); rst == rstOutside {
			return e.drop(DropRSTOutOfWindow)
		}
	}
	grow := 0
	if c.insertTS && flags&packet.TCPFlagRST == 0 && doff+tsOptLen <= packet.TCPMaxLen {
		grow = tsOptLen
	}
	b := out.Next(packet.IPv4MinLen+n+grow, packet.IPv4Family, c.clientAddr())
	// RFC 7915 §5.1: TOS from traffic class, DF set, no identification
	// needed for an atomic datagram, TTL from the hop limit less one.
	putIPv4Header(b, packet.IPv4MinLen+n+grow, packet.IPv6(pkt).TrafficClass(), hops-1, packet.ProtoTCP, c.k4.vip, c.k4.client)
	seg := packet.TCP(b[packet.IPv4MinLen:])
	var ed packet.Edit
	if grow == 0 {
		copy(seg, tcp)
	} else {
		e.insertTimestamps(c, seg, tcp, doff, &ed)
	}

	seg.SetSrcPort(c.k4.vipPort)
	ed.Put32(seg, packet.TCPSeq, seq)
	w := seg.Window()
	if c.rescaleB2C {
		ed.Put16(seg, packet.TCPWindow, rescaleWindow(w, c.scaleBackend, c.scaleClientView()))
	}
	if doff > packet.TCPMinLen && c.translateTS {
		i, ok := findTimestamp(seg[packet.TCPMinLen:doff])
		if !ok {
			out.Unnext()
			return e.drop(DropBadOptions)
		}
		if i >= 0 {
			off := packet.TCPMinLen + i
			c.tsValB = binary.BigEndian.Uint32(seg[off:])
			ed.Put32(seg, off, c.tsValB-c.tsShift)
		}
	}
	switch {
	case gso != 0:
		e.offloadLast(out, packet.IPv4(b).PseudoHeaderSum(packet.ProtoTCP, n+grow), packet.IPv4MinLen, doff+grow, min(gso, c.clientLimit(doff+grow)))
	default:
		seg.SetChecksum(ed.Apply(seg.Checksum(), c.adj64))
		if c.pmtu4 != 0 || grow != 0 {
			e.splitLast(out, c.clientLimit(doff+grow))
		}
	}

	if flags&packet.TCPFlagACK != 0 {
		c.ackB = ack
	}
	end := seq + c.seqShift + tcp.SequenceLength()
	c.lastEndB = end
	if int32(end-c.sndNxtB) > 0 {
		c.sndNxtB = end
	}
	c.winB = w
	if win := uint32(w) << c.scaleBackend; win > c.maxWinB {
		c.maxWinB = win
	}
	c.lastSeen = e.now
	c.packetsB2C++
	c.bytesB2C += uint64(n - doff)
	e.stats.Bytes6In += uint64(len(pkt))
	e.stats.Packets4Out++
	if c.watch || flags&(packet.TCPFlagFIN|packet.TCPFlagRST) != 0 {
		e.closeTrack(c, flags, rst == rstExact, sideBackend, end-c.seqShift)
	}
	return packet.Consumed
}

// ackAcceptable applies RFC 5961 §5.2 to an acknowledgment in the space of
// the side being acknowledged: no later than the end of what that side
// sent, and no further behind it than the acknowledging side's largest
// window twice over (a bound on SND.UNA - MAX.SND.WND the engine can keep
// without tracking SND.UNA). Both ends check again; the engine checks so
// that blind segments neither refresh nor close its state.
func ackAcceptable(ack, sndNxt, maxWin uint32) bool {
	d := int64(int32(ack - sndNxt))
	return d <= 0 && -d <= 2*int64(maxWin)
}

type rstVerdict uint8

const (
	rstExact   rstVerdict = iota // the receiver's next sequence number: resets
	rstInside                    // in the window: the receiver challenges
	rstOutside                   // dropped
)

// rstCheck applies RFC 5961 §3.2 to a RST as Linux conntrack does. The
// RST is exact, and ends the engine's state, when its sequence number is
// the receiver's latest acknowledgment (its RCV.NXT as far as the engine
// saw) or the end of what the engine forwarded from the sender: the end of
// its highest segment (SND.NXT, where Linux and gVisor abort from, right
// behind data the receiver has not acknowledged yet) or of its last one (a
// stack that went back to SND.UNA after a timeout). Any other RST inside
// the receiver's largest window is passed on for the receiver to judge
// (it sends its own challenge ACK, which a real peer answers with an exact
// RST); one outside is dropped. All values are in the receiver's space.
func rstCheck(seq, rcvNxt, win, sndNxt, lastEnd uint32) rstVerdict {
	if seq == rcvNxt || seq == sndNxt || seq == lastEnd {
		return rstExact
	}
	if seq-rcvNxt < max(win, 1) {
		return rstInside
	}
	return rstOutside
}

// rewriteOptionsC2B shifts the client's TSecr into the backend's clock and
// its SACK blocks into the backend's sequence space. It returns the client's
// TSval (or last unchanged), remembered for segments the edge originates,
// and false if the options overrun the header.
func rewriteOptionsC2B(c *conn, seg []byte, doff int, ed *packet.Edit, last uint32) (uint32, bool) {
	opts := seg[packet.TCPMinLen:doff]
	it := packet.NewTCPOptions(opts)
	for it.Next() {
		// Kind and length read from the local slice, which stays in
		// registers, rather than through the iterator, which does not.
		i := it.Offset()
		off, l := packet.TCPMinLen+i, int(opts[i+1])
		switch opts[i] {
		case packet.TCPOptTimestamps:
			if l != packet.TCPOptTimestampsLen {
				break
			}
			last = binary.BigEndian.Uint32(seg[off+2:])
			if c.translateTS {
				ed.Put32(seg, off+6, binary.BigEndian.Uint32(seg[off+6:])+c.tsShift)
			}
		case packet.TCPOptSACK:
			if (l-2)%8 != 0 {
				break
			}
			for j := off + 2; j < off+l; j += 4 {
				ed.Put32(seg, j, binary.BigEndian.Uint32(seg[j:])+c.seqShift)
			}
		}
	}
	return last, !it.Malformed()
}

// rescaleWindow converts a window field scaled by from into one scaled by
// to, clamped to 16 bits, and never turns an open window into a zero one.
func rescaleWindow(w uint16, from, to uint8) uint16 {
	bytes := uint64(w) << from >> to
	switch {
	case bytes > 0xffff:
		return 0xffff
	case bytes == 0 && w != 0:
		return 1
	}
	return uint16(bytes)
}

// scaleClientView is the shift the client applies to windows it receives.
func (c *conn) scaleClientView() uint8 {
	if c.clientWScale {
		return c.scaleEdge
	}
	return 0
}

// closeTrack follows FINs and resets on a spliced connection; the
// established path calls it for a FIN or a RST, and for every segment
// while c.watch is set. end is the end of the segment in the space its
// receiver acknowledges (the client's for the client's segments, the
// edge's for the backend's).
func (e *Engine) closeTrack(c *conn, flags uint8, exact bool, from side, end uint32) {
	closed := e.now + int64(e.cfg.Timeouts.Closed)
	if c.state == StateClosed {
		e.schedule(c, closed) // any segment keeps a closed entry a little longer
		return
	}
	if flags&packet.TCPFlagRST != 0 {
		if exact {
			e.closeNow(c)
			return
		}
		// Forwarded for the receiver to judge: the entry ends soon
		// unless the receiver's answer shows it is still alive.
		c.rstFrom, c.watch = from, true
		e.schedule(c, closed)
		return
	}
	if c.rstFrom != rstNone && c.rstFrom != from {
		c.rstFrom = rstNone
		e.unschedule(c)
	}
	if flags&packet.TCPFlagFIN != 0 {
		if from == sideClient {
			c.finClient, c.finEndC = true, end
		} else {
			c.finBackend, c.finEndB = true, end
		}
	}
	c.watch = c.finClient || c.finBackend || c.rstFrom != rstNone
	// Closed once both FINs are acknowledged: until then a FIN or the
	// data before it may still be retransmitted.
	if c.finClient && c.finBackend && int32(c.ackB-c.finEndC) >= 0 && int32(c.ackC-c.finEndB) >= 0 {
		e.closeNow(c)
	}
}

// closeNow moves a connection to the closed state.
func (e *Engine) closeNow(c *conn) {
	c.watch, c.rstFrom = true, rstNone
	if c.ftp != nil {
		e.unexpectAll(c) // ftp.go
	}
	if c.state != StateClosed {
		e.setState(c, StateClosed)
		c.closedIdx = len(e.closed)
		e.closed = append(e.closed, c)
		e.schedule(c, e.clock()+int64(e.cfg.Timeouts.Closed))
	}
}

// insertTimestamps copies the backend's segment tcp into seg with NOP,
// NOP, TSopt added in front of its options, for a client that negotiated
// timestamps with the edge when the backend did not (RFC 7323 §3.2: once
// negotiated, every segment but a RST carries one). TSval runs on from
// the SYN-ACK's on the engine clock; TSecr echoes the client's latest
// TSval. The checksum change is recorded in ed: the inserted words, the
// data offset and the pseudo-header length; what moved did so by 12
// bytes, a whole number of 16-bit words, and sums as before.
func (e *Engine) insertTimestamps(c *conn, seg, tcp packet.TCP, doff int, ed *packet.Edit) {
	copy(seg[:packet.TCPMinLen], tcp[:packet.TCPMinLen])
	o := seg[packet.TCPMinLen : packet.TCPMinLen+tsOptLen]
	o[0], o[1], o[2], o[3] = packet.TCPOptNOP, packet.TCPOptNOP, packet.TCPOptTimestamps, packet.TCPOptTimestampsLen
	binary.BigEndian.PutUint32(o[4:], c.tsValToClient(e.now))
	binary.BigEndian.PutUint32(o[8:], c.tsClient)
	copy(seg[packet.TCPMinLen+tsOptLen:], tcp[packet.TCPMinLen:])
	ed.Replaced(0, packet.Sum(o))
	ed.Put8(seg, packet.TCPDataOffset, byte((doff+tsOptLen)/4)<<4|seg[packet.TCPDataOffset]&0x0f)
	ed.Replaced(uint16(len(tcp)), uint16(len(tcp)+tsOptLen))
}

// tsValToClient is the TSval of a segment the engine sends the client on
// the backend's behalf: the backend's latest, mapped, when both halves use
// timestamps; otherwise the SYN-ACK's advanced by the milliseconds since.
func (c *conn) tsValToClient(now int64) uint32 {
	if c.translateTS {
		return c.tsValB - c.tsShift
	}
	return c.tsEdge + uint32(max(now-c.created, 0)/1e6)
}

// clientLimit is the most payload a segment to the client with a TCP
// header of doff bytes may carry: what its path MTU allows once a
// Fragmentation Needed reported one, and its MSS (which a segment grown
// by an inserted TSopt may pass if the backend ignored the lowered MSS it
// was given).
func (c *conn) clientLimit(doff int) int {
	limit := int(c.mssClient) + packet.TCPMinLen - doff
	if c.pmtu4 != 0 {
		limit = min(limit, c.pmtu4-packet.IPv4MinLen-doff)
	}
	return limit
}

// splitLast cuts the last packet of out, a TCP segment the engine has just
// translated (IPv4 or IPv6, with a header of its own making), into
// segments of at most mss payload bytes (packet.SegmentTCP). Used when a
// segment does not fit what the receiver's path or MSS allows: a slow
// path.
func (e *Engine) splitLast(out *packet.Batch, mss int) {
	mss = max(mss, 8)
	last := &out.Packets[out.Len()-1]
	hl := packet.IPv4MinLen
	if last.Family == packet.IPv6Family {
		hl = packet.IPv6HeaderLen
	}
	tcp := packet.TCP(last.Data[hl:])
	if len(tcp)-tcp.DataOffset() <= mss {
		return
	}
	if e.scratch == nil {
		e.scratch = make([]byte, 0, packet.MaxPacketSize)
	}
	src := append(e.scratch[:0], last.Data...)
	fam, dst := last.Family, last.Dst
	out.Unnext()
	n := packet.SegmentTCP(src, mss, out, fam, dst)
	if fam == packet.IPv4Family {
		e.stats.Packets4Out += uint64(n - 1)
	} else {
		e.stats.Packets6Out += uint64(n - 1)
	}
	e.stats.SegmentsSplit += uint64(n)
}
