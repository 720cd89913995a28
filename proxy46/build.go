package proxy46

import (
	"encoding/binary"
	"net/netip"

	"github.com/sixgate/sixgate/packet"
)

// segment describes a TCP segment the engine originates (handshakes,
// replays, resets). These are slow paths: checksums are computed in full.
type segment struct {
	srcPort, dstPort uint16
	seq, ack         uint32
	flags            uint8
	window           uint16
	opts             []byte // a multiple of four bytes
	payload          []byte
}

func (s *segment) len() int { return tcpMinLen + len(s.opts) + len(s.payload) }

// put writes the TCP header, options and payload into b with a zero
// checksum.
func (s *segment) put(b []byte) {
	binary.BigEndian.PutUint16(b[tcpSrcPort:], s.srcPort)
	binary.BigEndian.PutUint16(b[tcpDstPort:], s.dstPort)
	binary.BigEndian.PutUint32(b[tcpSeq:], s.seq)
	binary.BigEndian.PutUint32(b[tcpAck:], s.ack)
	b[tcpDataOff] = byte((tcpMinLen+len(s.opts))/4) << 4
	b[tcpFlags] = s.flags
	binary.BigEndian.PutUint16(b[tcpWindow:], s.window)
	binary.BigEndian.PutUint16(b[tcpChecksum:], 0)
	binary.BigEndian.PutUint16(b[tcpUrgent:], 0)
	copy(b[tcpMinLen:], s.opts)
	copy(b[tcpMinLen+len(s.opts):], s.payload)
}

// emit4 appends an IPv4 packet carrying s from src to dst.
func (e *Engine) emit4(out *packet.Batch, src, dst [4]byte, s *segment) {
	n := ip4MinLen + s.len()
	b := out.Next(n, packet.IPv4Family, netip.AddrFrom4(dst))
	putIPv4Header(b, n, 0, ip4DefaultTTL, protoTCP, src, dst)
	seg := b[ip4MinLen:]
	s.put(seg)
	binary.BigEndian.PutUint16(seg[tcpChecksum:], tcpChecksum4(src, dst, seg))
	e.stats.Packets4Out++
}

// emit6 appends an IPv6 packet carrying s from src to dst.
func (e *Engine) emit6(out *packet.Batch, src, dst [16]byte, s *segment) {
	n := ip6HeaderLen + s.len()
	b := out.Next(n, packet.IPv6Family, netip.AddrFrom16(dst))
	putIPv6Header(b, n-ip6HeaderLen, 0, ip4DefaultTTL, protoTCP, src, dst)
	seg := b[ip6HeaderLen:]
	s.put(seg)
	binary.BigEndian.PutUint16(seg[tcpChecksum:], tcpChecksum6(src, dst, seg))
	e.stats.Packets6Out++
}

// putIPv4Header writes a 20-byte IPv4 header with DF set, as every packet
// the engine sends relies on path MTU discovery.
func putIPv4Header(b []byte, total int, tos, ttl, proto uint8, src, dst [4]byte) {
	b[0] = 0x45
	b[ip4TOS] = tos
	binary.BigEndian.PutUint16(b[ip4TotalLen:], uint16(total))
	binary.BigEndian.PutUint16(b[ip4ID:], 0)
	binary.BigEndian.PutUint16(b[ip4Flags:], ip4FlagDF)
	b[ip4TTL] = ttl
	b[ip4Proto] = proto
	binary.BigEndian.PutUint16(b[ip4Checksum:], 0)
	copy(b[ip4Src:], src[:])
	copy(b[ip4Dst:], dst[:])
	binary.BigEndian.PutUint16(b[ip4Checksum:], ipv4HeaderChecksum(b[:ip4MinLen]))
}

// putIPv6Header writes a 40-byte IPv6 header with a zero flow label.
func putIPv6Header(b []byte, payloadLen int, tclass, hops, next uint8, src, dst [16]byte) {
	binary.BigEndian.PutUint32(b[0:], 6<<28|uint32(tclass)<<20)
	binary.BigEndian.PutUint16(b[ip6PayloadLen:], uint16(payloadLen))
	b[ip6NextHeader] = next
	b[ip6HopLimit] = hops
	copy(b[ip6Src:], src[:])
	copy(b[ip6Dst:], dst[:])
}

// segLen is the sequence space a segment occupies (payload, SYN, FIN).
func segLen(tcp []byte, doff int) uint32 {
	n := uint32(len(tcp) - doff)
	if tcp[tcpFlags]&flagSYN != 0 {
		n++
	}
	if tcp[tcpFlags]&flagFIN != 0 {
		n++
	}
	return n
}

// strayReset builds the reset RFC 9293 §3.10.7.1 prescribes for a segment
// that belongs to no connection. It returns false for a RST, which is never
// answered.
func strayReset(tcp []byte, doff int) (segment, bool) {
	flags := tcp[tcpFlags]
	if flags&flagRST != 0 {
		return segment{}, false
	}
	s := segment{
		srcPort: binary.BigEndian.Uint16(tcp[tcpDstPort:]),
		dstPort: binary.BigEndian.Uint16(tcp[tcpSrcPort:]),
	}
	if flags&flagACK != 0 {
		s.seq = binary.BigEndian.Uint32(tcp[tcpAck:])
		s.flags = flagRST
	} else {
		s.ack = binary.BigEndian.Uint32(tcp[tcpSeq:]) + segLen(tcp, doff)
		s.flags = flagRST | flagACK
	}
	return s, true
}
