package proxy46

// Input checks. The IPv4 header checksum is verified on every packet to a
// VIP (20 bytes, a few nanoseconds). The TCP checksum is verified in full
// only off the established path: there the engine acts on a segment's
// contents (it answers SYNs, holds and replays data with a fresh checksum,
// learns a backend's ISN and options), so a corrupted segment must not get
// in. On the established path the checksum is updated incrementally
// (RFC 1624) and never recomputed, so a segment that arrives with a wrong
// checksum leaves with a wrong checksum and the receiving host drops it, as
// it would have without the splice.

// ipv4HeaderOK reports whether an IPv4 header (IHL bytes) sums correctly.
func ipv4HeaderOK(h []byte) bool { return sumWords(h) == 0xffff }

// tcpChecksumOK4 verifies a TCP segment's checksum over the IPv4
// pseudo-header.
func tcpChecksumOK4(src, dst [4]byte, seg []byte) bool {
	s := addSum(sumWords(src[:]), sumWords(dst[:]))
	s = addSum(s, protoTCP)
	s = addSum(s, uint16(len(seg)))
	return addSum(s, sumWords(seg)) == 0xffff
}

// upperChecksumOK6 verifies the checksum of an upper-layer message (TCP,
// ICMPv6) over the IPv6 pseudo-header (RFC 8200 §8.1).
func upperChecksumOK6(src, dst *[16]byte, proto uint8, msg []byte) bool {
	s := addSum(sumWords(src[:]), sumWords(dst[:]))
	s = addSum(s, uint16(proto))
	s = addSum(s, uint16(len(msg)>>16))
	s = addSum(s, uint16(len(msg)))
	return addSum(s, sumWords(msg)) == 0xffff
}

// optionsOK reports whether TCP options are well formed: every option
// other than End and NOP has a length of at least two that stays inside
// the header. What follows an End option is padding and is not read.
func optionsOK(opts []byte) bool {
	for i := 0; i < len(opts); {
		switch opts[i] {
		case optEnd:
			return true
		case optNOP:
			i++
			continue
		}
		if i+1 >= len(opts) {
			return false
		}
		l := int(opts[i+1])
		if l < 2 || i+l > len(opts) {
			return false
		}
		i += l
	}
	return true
}
