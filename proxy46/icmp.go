package proxy46

import (
	"encoding/binary"

	"github.com/sixgate/sixgate/packet"
)

// packetTooBig turns an ICMPv6 Packet Too Big about a segment the engine
// sent towards a backend into ICMPv4 Fragmentation Needed for the client
// (RFC 7915 §5.2 and §5.3): the MTU is lowered by the 20 bytes the IPv6
// header adds, and the quoted packet is translated back into the IPv4
// segment the client sent.
func (e *Engine) packetTooBig(pkt []byte, out *packet.Batch) packet.Verdict {
	icmp := packet.ICMP(pkt[packet.IPv6HeaderLen:])
	if len(icmp) < packet.ICMPHeaderLen+packet.IPv6HeaderLen+8 {
		return e.drop(DropMalformed)
	}
	if icmp.Type() != packet.ICMPv6PacketTooBig || icmp.Code() != 0 {
		return e.drop(DropICMPUnhandled)
	}
	if !packet.ChecksumOK(packet.IPv6(pkt).PseudoHeaderSum(packet.ProtoICMPv6, len(icmp)), icmp) {
		return e.drop(DropICMPChecksum)
	}
	mtu := icmp.Rest()
	inner := packet.IPv6(icmp.Body())
	if inner[0]>>4 != 6 || inner.NextHeader() != packet.ProtoTCP {
		return e.drop(DropICMPUnhandled)
	}
	// At least the ports and the sequence number are quoted.
	itcp := packet.TCP(inner[packet.IPv6HeaderLen:])
	k := key6{client6: inner.Src(), backend: inner.Dst(), clientPort: itcp.SrcPort(), backendPort: itcp.DstPort()}
	c := e.by6[k]
	if c == nil || !c.quotesInFlight(itcp.Seq()) {
		// RFC 5927 §4.1: an error must quote a segment that could still
		// be in flight, or anyone could lower a connection's MTU blind.
		return e.drop(DropICMPUnknown)
	}
	// The quoted IPv4 packet: header, then as much TCP as was quoted.
	quotedTCP := itcp[:min(len(itcp), 548-packet.IPv4MinLen)]
	var q [548]byte
	innerLen := packet.IPv4MinLen + int(inner.PayloadLength())
	putIPv4Header(q[:], innerLen, inner.TrafficClass(), inner.HopLimit(), packet.ProtoTCP, c.k4.client, c.k4.vip)
	qt := packet.TCP(q[packet.IPv4MinLen : packet.IPv4MinLen+len(quotedTCP)])
	copy(qt, quotedTCP)
	qt.SetDstPort(c.k4.vipPort)
	// The acknowledgment is translated back only when the quote reaches
	// the flags that say it is one.
	if len(qt) > packet.TCPFlags && qt.HasAny(packet.TCPFlagACK) && c.state >= StateEstablished {
		binary.BigEndian.PutUint32(qt[packet.TCPAck:], qt.Ack()-c.seqShift)
	}
	// RFC 7915 §5.2: MTU less 20, never below the IPv4 minimum.
	v4mtu := int(min(mtu, 0xffff)) - 20
	e.sendFragNeeded(out, c.k4.vip, c.k4.client, q[:packet.IPv4MinLen+len(qt)], v4mtu)
	e.stats.ICMPSent--
	e.stats.ICMPTranslated++
	return packet.Consumed
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
