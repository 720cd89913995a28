package proxy46

import (
	"encoding/binary"

	"github.com/sixgate/sixgate/packet"
)

// ICMP errors about spliced segments are translated between the two
// halves with the project's RFC 7915 code (packet.ICMPv4to6 and
// packet.ICMPv6to4): an ICMPv6 error from the backend's path becomes an
// ICMPv4 error from the VIP to the client, an ICMPv4 error from the
// client's path an ICMPv6 error to the backend. The quoted segment is
// translated back into the one its sender sent: addresses, the port the
// engine changes, and the sequence or acknowledgment number shifted.
// Either way the error must quote a segment that may still be in flight
// (RFC 5927 §4.1), or anyone could lower a connection's MTU blind.

// icmpFromBackendPath translates an ICMPv6 error about a segment the engine
// sent towards a backend for the client: Destination Unreachable, Packet
// Too Big, Time Exceeded and Parameter Problem, as RFC 7915 §5.2 maps
// them. A Destination Unreachable about the SYN to a backend fails over
// to the next backend at once.
func (e *Engine) icmpFromBackendPath(pkt []byte, out *packet.Batch) packet.Verdict {
	icmp := packet.ICMP(pkt[packet.IPv6HeaderLen:])
	if len(icmp) < packet.ICMPHeaderLen+packet.IPv6HeaderLen+8 {
		return e.drop(DropMalformed)
	}
	if !packet.IsICMPv6Error(icmp.Type()) {
		return e.drop(DropICMPUnhandled)
	}
	if !packet.ChecksumOK(packet.IPv6(pkt).PseudoHeaderSum(packet.ProtoICMPv6, len(icmp)), icmp) {
		return e.drop(DropICMPChecksum)
	}
	inner := packet.IPv6(icmp.Body())
	if inner[0]>>4 != 6 || inner.NextHeader() != packet.ProtoTCP {
		return e.drop(DropICMPUnhandled)
	}
	// At least the ports and the sequence number are quoted.
	itcp := packet.TCP(inner[packet.IPv6HeaderLen:])
	k := key6{client6: inner.Src(), backend: inner.Dst(), clientPort: itcp.SrcPort(), backendPort: itcp.DstPort()}
	c := e.by6[k]
	if c == nil || !c.quotesInFlight(itcp.Seq()) {
		return e.drop(DropICMPUnknown)
	}
	if c.state < StateEstablished {
		// The backend's SYN is unanswerable: a host does not wait out
		// its SYN timer after a Destination Unreachable (Linux aborts a
		// connect at once), so the next backend is tried now. The
		// client knows nothing of this half yet: nothing to translate.
		if icmp.Type() != packet.ICMPv6DestUnreachable {
			return e.drop(DropICMPUnhandled)
		}
		e.clock()
		e.stats.BackendUnreachable++
		e.failover(c, out)
		return packet.Consumed
	}
	b := out.Next(packet.IPv4MinLen+packet.ICMPv4ErrorMax, packet.IPv4Family, c.clientAddr())
	n := packet.ICMPv6to4(b[packet.IPv4MinLen:], icmp, 0, e.cfg.MTU6, true, c)
	if n == 0 {
		out.Unnext()
		return e.drop(DropICMPUnhandled)
	}
	putIPv4Header(b, packet.IPv4MinLen+n, 0, defaultTTL, packet.ProtoICMPv4, c.k4.vip, c.k4.client)
	out.Trim(packet.IPv4MinLen + n)
	e.stats.Packets4Out++
	e.stats.ICMPTranslated++
	return packet.Consumed
}

// icmpFromClientPath translates an ICMPv4 error about a segment the engine
// sent towards a client (a backend's segment, translated) for the backend,
// as RFC 7915 §4.2 maps it (unreachables, time exceeded, parameter
// problem; source quench and redirects are dropped). Errors about the
// engine's own SYN-ACK, before the splice, are dropped: the client's
// handshake timer covers them.
// A Fragmentation Needed becomes a Packet Too Big of the MTU plus 20
// (RFC 7915 §4.2); as IPv6 goes no lower than 1280, a client path below
// 1300 bytes cannot be reached by the backend's segments alone, so the
// engine also remembers the client's path MTU and from then on cuts the
// backend's segments to it (splitToClient): DF stays set and each piece
// is a TCP segment of its own, which the client takes as any other.
// The caller has verified the ICMP checksum.
func (e *Engine) icmpFromClientPath(pkt []byte, ihl int, out *packet.Batch) packet.Verdict {
	icmp := packet.ICMP(pkt[ihl:])
	if len(icmp) < packet.ICMPHeaderLen+packet.IPv4MinLen+8 {
		return e.drop(DropMalformed)
	}
	inner := packet.IPv4(icmp.Body())
	iihl := inner.HeaderLength()
	if inner[0]>>4 != 4 || inner.Protocol() != packet.ProtoTCP || iihl < packet.IPv4MinLen || len(inner) < iihl+8 {
		return e.drop(DropICMPUnhandled)
	}
	itcp := packet.TCP(inner[iihl:])
	k := key4{client: inner.Dst(), vip: inner.Src(), clientPort: itcp.DstPort(), vipPort: itcp.SrcPort()}
	c := e.by4[k]
	if c == nil || c.state < StateEstablished || !c.quotesInFlightToClient(itcp.Seq()) {
		return e.drop(DropICMPUnknown)
	}
	router := packet.IPv4(pkt).Src()
	src6 := c.k6.client6
	if e.embeddable(router) {
		src6 = packet.Embed4(e.pool, e.poolBits, router)
	}
	b := out.Next(packet.IPv6HeaderLen+packet.ICMPv6ErrorMax, packet.IPv6Family, c.backendAddr())
	n := packet.ICMPv4to6(b[packet.IPv6HeaderLen:], icmp, &src6, &c.k6.backend, e.cfg.MTU6, 0, c)
	if n == 0 {
		out.Unnext()
		return e.drop(DropICMPUnhandled)
	}
	packet.IPv6(b).Encode(&packet.IPv6Fields{
		PayloadLen: uint16(n), NextHeader: packet.ProtoICMPv6, HopLimit: defaultTTL,
		Src: src6, Dst: c.k6.backend,
	})
	out.Trim(packet.IPv6HeaderLen + n)
	if icmp.Type() == packet.ICMPv4DestUnreachable && icmp.Code() == packet.ICMPv4CodeFragNeeded {
		mtu := int(icmp.Seq()) // the next-hop MTU (RFC 1191)
		if mtu == 0 {
			mtu = int(packet.ICMP(b[packet.IPv6HeaderLen:]).Rest()) - 20
		}
		mtu = max(mtu, packet.IPv4MinMTU)
		if c.pmtu4 == 0 || mtu < c.pmtu4 {
			c.pmtu4 = mtu
		}
	}
	e.stats.Packets6Out++
	e.stats.ICMPTranslated++
	return packet.Consumed
}

// Quoted6to4 maps the quote of an ICMPv6 error from the backend's path, a
// segment from the client's pool6 address to the backend, back into the
// segment the client sent to the VIP (packet.ICMPMapper).
func (c *conn) Quoted6to4(src, dst [16]byte, proto uint8, t []byte) (src4, dst4 [4]byte, ok bool) {
	if len(t) >= 4 {
		packet.TCP(t).SetDstPort(c.k4.vipPort)
	}
	// The acknowledgment is translated back only when the quote reaches
	// the flags that say it is one.
	if len(t) > packet.TCPFlags && packet.TCP(t).HasAny(packet.TCPFlagACK) && c.state >= StateEstablished {
		binary.BigEndian.PutUint32(t[packet.TCPAck:], packet.TCP(t).Ack()-c.seqShift)
	}
	return c.k4.client, c.k4.vip, true
}

// Quoted4to6 maps the quote of an ICMPv4 error from the client's path, a
// segment from the VIP to the client, back into the segment the backend
// sent (packet.ICMPMapper).
func (c *conn) Quoted4to6(src, dst [4]byte, proto uint8, t []byte) (src6, dst6 [16]byte, ok bool) {
	if len(t) >= 2 {
		packet.TCP(t).SetSrcPort(c.k6.backendPort)
	}
	if len(t) >= 8 {
		binary.BigEndian.PutUint32(t[packet.TCPSeq:], packet.TCP(t).Seq()+c.seqShift)
	}
	return c.k6.backend, c.k6.client6, true
}

// quotesInFlight reports whether seq, quoted by an ICMP error from the
// backend's path, belongs to a segment the engine sent towards the backend
// that may still be unacknowledged: the SYN while the handshake runs, then
// anything from the backend's last acknowledgment to the end of what the
// client sent (a pure ACK quotes exactly that end).
func (c *conn) quotesInFlight(seq uint32) bool {
	if c.state < StateEstablished {
		return seq == c.isnClient
	}
	return seq-c.ackB <= c.sndNxtC-c.ackB
}

// quotesInFlightToClient is the same for seq (in the edge's space) quoted
// by an ICMP error from the client's path: from the client's last
// acknowledgment to the end of what the backend sent.
func (c *conn) quotesInFlightToClient(seq uint32) bool {
	end := c.sndNxtB - c.seqShift
	return seq-c.ackC <= end-c.ackC
}
