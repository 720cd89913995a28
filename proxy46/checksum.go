package proxy46

import "encoding/binary"

// sumWords returns the 16-bit one's complement sum of b taken as big-endian
// words, with an odd trailing byte padded with zero (RFC 1071).
func sumWords(b []byte) uint16 {
	var acc uint64
	for len(b) >= 8 {
		acc += uint64(binary.BigEndian.Uint32(b)) + uint64(binary.BigEndian.Uint32(b[4:]))
		b = b[8:]
	}
	for len(b) >= 2 {
		acc += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		acc += uint64(b[0]) << 8
	}
	return fold(acc)
}

// fold reduces a wide one's complement accumulator to 16 bits.
func fold(acc uint64) uint16 {
	for acc>>16 != 0 {
		acc = (acc & 0xffff) + acc>>16
	}
	return uint16(acc)
}

// addSum adds two 16-bit one's complement values.
func addSum(a, b uint16) uint16 {
	return fold(uint64(a) + uint64(b))
}

// csumEdit accumulates the changes made to a segment in place so that its
// checksum can be updated without reading the rest of it (RFC 1624 eqn. 3:
// C' = ~(~C + ~m + m'), summed over every changed word).
type csumEdit struct {
	acc uint64
}

// replaced records that words whose old sum was oldSum now sum to newSum.
func (e *csumEdit) replaced(oldSum, newSum uint16) {
	e.acc += uint64(^oldSum) + uint64(newSum)
}

// put16 writes v at b[off:] and records the change. off may be odd.
func (e *csumEdit) put16(b []byte, off int, v uint16) {
	if off&1 == 0 {
		old := binary.BigEndian.Uint16(b[off:])
		binary.BigEndian.PutUint16(b[off:], v)
		e.acc += uint64(^old) + uint64(v)
		return
	}
	e.putOdd(b, off, 2, uint32(v)<<16)
}

// put32 writes v at b[off:] and records the change. off may be odd, as TCP
// options are not always aligned.
func (e *csumEdit) put32(b []byte, off int, v uint32) {
	if off&1 == 0 {
		old := binary.BigEndian.Uint32(b[off:])
		binary.BigEndian.PutUint32(b[off:], v)
		e.acc += uint64(^uint16(old>>16)) + uint64(^uint16(old)) + uint64(v>>16) + uint64(v&0xffff)
		return
	}
	e.putOdd(b, off, 4, v)
}

// putOdd handles a write of n (2 or 4) bytes starting at an odd offset: the
// change is summed over the enclosing aligned words.
func (e *csumEdit) putOdd(b []byte, off, n int, v uint32) {
	// A field ending the segment at an odd length borders the zero pad.
	start, end := off-1, min(off+n+1, len(b))
	old := sumWords(b[start:end])
	for i := 0; i < n; i++ {
		b[off+i] = byte(v >> (24 - 8*i))
	}
	e.replaced(old, sumWords(b[start:end]))
}

// apply returns the checksum that replaces old once all recorded changes
// and the constant adjustment adj are taken into account.
func (e *csumEdit) apply(old, adj uint16) uint16 {
	return ^fold(uint64(^old) + uint64(adj) + e.acc)
}

// ipv4HeaderChecksum computes the checksum of an IPv4 header whose checksum
// field is zero.
func ipv4HeaderChecksum(h []byte) uint16 {
	return ^sumWords(h)
}

// tcpChecksum4 computes a TCP checksum from scratch over an IPv4
// pseudo-header; seg's checksum field must be zero. Slow paths only.
func tcpChecksum4(src, dst [4]byte, seg []byte) uint16 {
	s := addSum(sumWords(src[:]), sumWords(dst[:]))
	s = addSum(s, protoTCP)
	s = addSum(s, uint16(len(seg)))
	return ^addSum(s, sumWords(seg))
}

// tcpChecksum6 computes a TCP checksum from scratch over an IPv6
// pseudo-header; seg's checksum field must be zero. Slow paths only.
func tcpChecksum6(src, dst [16]byte, seg []byte) uint16 {
	s := addSum(sumWords(src[:]), sumWords(dst[:]))
	s = addSum(s, protoTCP)
	s = addSum(s, uint16(len(seg)>>16))
	s = addSum(s, uint16(len(seg)))
	return ^addSum(s, sumWords(seg))
}
