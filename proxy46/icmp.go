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
	icmp := pkt[ip6HeaderLen:]
	const quoteOff = 8
	if len(icmp) < quoteOff+ip6HeaderLen+8 {
		return e.drop(DropMalformed)
	}
	if icmp[0] != icmp6PacketTooBig || icmp[1] != 0 {
		return e.drop(DropICMPUnhandled)
	}
	if !upperChecksumOK6((*[16]byte)(pkt[ip6Src:ip6Src+16]), (*[16]byte)(pkt[ip6Dst:ip6Dst+16]), protoICMP6, icmp) {
		return e.drop(DropICMPChecksum)
	}
	mtu := binary.BigEndian.Uint32(icmp[4:])
	inner := icmp[quoteOff:]
	if inner[0]>>4 != 6 || inner[ip6NextHeader] != protoTCP {
		return e.drop(DropICMPUnhandled)
	}
	itcp := inner[ip6HeaderLen:]
	k := key6{
		client6:     [16]byte(inner[ip6Src : ip6Src+16]),
		backend:     [16]byte(inner[ip6Dst : ip6Dst+16]),
		clientPort:  binary.BigEndian.Uint16(itcp[tcpSrcPort:]),
		backendPort: binary.BigEndian.Uint16(itcp[tcpDstPort:]),
	}
	c := e.by6[k]
	if c == nil || !c.quotesInFlight(binary.BigEndian.Uint32(itcp[tcpSeq:])) {
		// RFC 5927 §4.1: an error must quote a segment that could still
		// be in flight, or anyone could lower a connection's MTU blind.
		return e.drop(DropICMPUnknown)
	}
	// The quoted IPv4 packet: header, then as much TCP as was quoted.
	quotedTCP := itcp[:min(len(itcp), 548-ip4MinLen)]
	var q [548]byte
	innerLen := ip4MinLen + int(binary.BigEndian.Uint16(inner[ip6PayloadLen:]))
	tclass := uint8(binary.BigEndian.Uint16(inner[0:]) >> 4)
	putIPv4Header(q[:], innerLen, tclass, inner[ip6HopLimit], protoTCP, c.k4.client, c.k4.vip)
	qt := q[ip4MinLen : ip4MinLen+len(quotedTCP)]
	copy(qt, quotedTCP)
	binary.BigEndian.PutUint16(qt[tcpDstPort:], c.k4.vipPort)
	if len(qt) >= tcpAck+4 && qt[tcpFlags]&flagACK != 0 && c.state >= StateEstablished {
		binary.BigEndian.PutUint32(qt[tcpAck:], binary.BigEndian.Uint32(qt[tcpAck:])-c.seqShift)
	}
	// RFC 7915 §5.2: MTU less 20, never below the IPv4 minimum.
	v4mtu := int(min(mtu, 0xffff)) - 20
	e.sendFragNeeded(out, c.k4.vip, c.k4.client, q[:ip4MinLen+len(qt)], v4mtu)
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
