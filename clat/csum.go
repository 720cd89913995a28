package clat

import (
	"encoding/binary"

	"github.com/sixgate/sixgate/packet"
)

// completeChecksum computes the TCP or UDP checksum of an IPv6 packet
// whose checksum the kernel left unfinished (TP_STATUS_CSUMNOTREADY): a
// packet that GRO merged from several segments carries only its
// pseudo-header sum, finished when the kernel segments it again, which
// a packet socket's reader must do itself. It reports false, leaving
// pkt alone, for anything else (not IPv6, a fragment, another
// protocol, a malformed header chain).
func completeChecksum(pkt []byte) bool {
	ip := packet.IPv6(pkt)
	if !ip.IsValid() {
		return false
	}
	u, ok := ip.Transport()
	if !ok || u.Fragment != 0 {
		return false
	}
	var field int
	switch u.Proto {
	case packet.ProtoTCP:
		field = 16
	case packet.ProtoUDP:
		field = 6
	default:
		return false
	}
	seg := pkt[u.Offset : packet.IPv6HeaderLen+int(ip.PayloadLength())]
	if len(seg) < field+2 {
		return false
	}
	binary.BigEndian.PutUint16(seg[field:], 0)
	c := packet.Checksum(ip.PseudoHeaderSum(u.Proto, len(seg)), seg)
	if c == 0 && u.Proto == packet.ProtoUDP {
		c = 0xffff // zero means "no checksum" in UDP
	}
	binary.BigEndian.PutUint16(seg[field:], c)
	return true
}
