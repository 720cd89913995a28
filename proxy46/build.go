package proxy46

import (
	"net/netip"

	"github.com/sixgate/sixgate/packet"
)

// defaultTTL is the TTL (and hop limit) of the packets the engine
// originates, Linux's default.
const defaultTTL = 64

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

func (s *segment) len() int { return packet.TCPMinLen + len(s.opts) + len(s.payload) }

// put writes the TCP header, options and payload into b with a zero
// checksum.
func (s *segment) put(b []byte) {
	n := packet.TCP(b).Encode(&packet.TCPFields{
		SrcPort: s.srcPort, DstPort: s.dstPort,
		Seq: s.seq, Ack: s.ack,
		Flags: s.flags, Window: s.window,
		Options: s.opts,
	})
	copy(b[n:], s.payload)
}

// emit4 appends an IPv4 packet carrying s from src to dst.
func (e *Engine) emit4(out *packet.Batch, src, dst [4]byte, s *segment) {
	n := packet.IPv4MinLen + s.len()
	b := out.Next(n, packet.IPv4Family, netip.AddrFrom4(dst))
	putIPv4Header(b, n, 0, defaultTTL, packet.ProtoTCP, src, dst)
	seg := packet.TCP(b[packet.IPv4MinLen:])
	s.put(seg)
	seg.SetChecksum(packet.Checksum(packet.IPv4(b).PseudoHeaderSum(packet.ProtoTCP, len(seg)), seg))
	e.stats.Packets4Out++
}

// emit6 appends an IPv6 packet carrying s from src to dst.
func (e *Engine) emit6(out *packet.Batch, src, dst [16]byte, s *segment) {
	n := packet.IPv6HeaderLen + s.len()
	b := out.Next(n, packet.IPv6Family, netip.AddrFrom16(dst))
	packet.IPv6(b).Encode(&packet.IPv6Fields{
		PayloadLen: uint16(s.len()), NextHeader: packet.ProtoTCP, HopLimit: defaultTTL,
		Src: src, Dst: dst,
	})
	seg := packet.TCP(b[packet.IPv6HeaderLen:])
	s.put(seg)
	seg.SetChecksum(packet.Checksum(packet.IPv6(b).PseudoHeaderSum(packet.ProtoTCP, len(seg)), seg))
	e.stats.Packets6Out++
}

// putIPv4Header writes a 20-byte IPv4 header with DF set, as every packet
// the engine sends relies on path MTU discovery; an atomic datagram needs
// no identification (RFC 6864).
func putIPv4Header(b []byte, total int, tos, ttl, proto uint8, src, dst [4]byte) {
	packet.IPv4(b).Encode(&packet.IPv4Fields{
		TOS: tos, TotalLen: uint16(total), Flags: packet.IPv4FlagDF,
		TTL: ttl, Protocol: proto, Src: src, Dst: dst,
	})
}

// strayReset builds the reset RFC 9293 §3.10.7.1 prescribes for a segment
// that belongs to no connection. It returns false for a RST, which is never
// answered.
func strayReset(tcp packet.TCP) (segment, bool) {
	flags := tcp.Flags()
	if flags&packet.TCPFlagRST != 0 {
		return segment{}, false
	}
	s := segment{srcPort: tcp.DstPort(), dstPort: tcp.SrcPort()}
	if flags&packet.TCPFlagACK != 0 {
		s.seq = tcp.Ack()
		s.flags = packet.TCPFlagRST
	} else {
		s.ack = tcp.Seq() + tcp.SequenceLength()
		s.flags = packet.TCPFlagRST | packet.TCPFlagACK
	}
	return s, true
}
