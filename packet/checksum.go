package packet

import "encoding/binary"

// Sum returns the 16-bit one's complement sum of b taken as big-endian
// words, an odd trailing byte padded with zero (RFC 1071). It is not
// complemented: a checksum field holds ^Sum over what it covers.
func Sum(b []byte) uint16 {
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
	return Fold(acc)
}

// Fold reduces a wide one's complement accumulator to 16 bits.
func Fold(acc uint64) uint16 {
	for acc>>16 != 0 {
		acc = (acc & 0xffff) + acc>>16
	}
	return uint16(acc)
}

// Add adds two 16-bit one's complement values.
func Add(a, b uint16) uint16 {
	return Fold(uint64(a) + uint64(b))
}

// PseudoHeaderSum returns the sum of an upper-layer pseudo-header: the
// source and destination addresses (4 bytes each for IPv4, RFC 9293
// section 3.1; 16 for IPv6, RFC 8200 section 8.1), the protocol and the
// upper-layer length. The IPv4 pseudo-header's 16-bit length and the IPv6
// one's 32-bit length sum alike for any length below 65536.
func PseudoHeaderSum(src, dst []byte, proto uint8, length int) uint16 {
	s := Add(Sum(src), Sum(dst))
	s = Add(s, uint16(proto))
	s = Add(s, uint16(uint32(length)>>16))
	return Add(s, uint16(length))
}

// Checksum returns the checksum of msg (whose checksum field must be
// zero) over a pseudo-header sum; pass 0 for a checksum with none, as
// IPv4 and ICMPv4 have.
func Checksum(pseudo uint16, msg []byte) uint16 {
	return ^Add(pseudo, Sum(msg))
}

// ChecksumOK reports whether msg, checksum field included, sums to all
// ones over the pseudo-header sum: the check a receiver makes.
func ChecksumOK(pseudo uint16, msg []byte) bool {
	return Add(pseudo, Sum(msg)) == 0xffff
}

// Adjustment is the constant to give Edit.Apply when the words that sum
// to oldSum are replaced by words that sum to newSum outside the bytes an
// Edit records: a pseudo-header's addresses, say, when a segment moves
// from IPv4 to IPv6 (C' = ~(~C + ~sum(old) + sum(new)), RFC 1624 eqn. 3,
// which also holds when the old and new fields differ in length).
func Adjustment(oldSum, newSum uint16) uint16 {
	return Add(^oldSum, newSum)
}

// Edit accumulates the changes made to a message in place so that its
// checksum can be updated without reading the rest of it (RFC 1624 eqn.
// 3, summed over every changed word). The zero Edit records no change.
type Edit struct {
	acc uint64
}

// Replaced records that words whose old sum was oldSum now sum to newSum.
func (e *Edit) Replaced(oldSum, newSum uint16) {
	e.acc += uint64(^oldSum) + uint64(newSum)
}

// Put16 writes v at b[off:] and records the change. off may be odd; b is
// the whole checksummed message, so that an odd offset can be summed with
// its neighbours.
func (e *Edit) Put16(b []byte, off int, v uint16) {
	if off&1 == 0 {
		old := binary.BigEndian.Uint16(b[off:])
		binary.BigEndian.PutUint16(b[off:], v)
		e.acc += uint64(^old) + uint64(v)
		return
	}
	e.putOdd(b, off, 2, uint32(v)<<16)
}

// Put32 writes v at b[off:] and records the change. off may be odd, as
// TCP options are not always aligned.
func (e *Edit) Put32(b []byte, off int, v uint32) {
	if off&1 == 0 {
		old := binary.BigEndian.Uint32(b[off:])
		binary.BigEndian.PutUint32(b[off:], v)
		e.acc += uint64(^uint16(old>>16)) + uint64(^uint16(old)) + uint64(v>>16) + uint64(v&0xffff)
		return
	}
	e.putOdd(b, off, 4, v)
}

// Put8 writes v at b[off] and records the change.
func (e *Edit) Put8(b []byte, off int, v uint8) {
	start := off &^ 1
	end := min(start+2, len(b)) // a last odd byte is summed with the zero pad
	old := Sum(b[start:end])
	b[off] = v
	e.Replaced(old, Sum(b[start:end]))
}

// putOdd handles a write of n (2 or 4) bytes starting at an odd offset:
// the change is summed over the enclosing aligned words.
func (e *Edit) putOdd(b []byte, off, n int, v uint32) {
	// A field ending the message at an odd length borders the zero pad.
	start, end := off-1, min(off+n+1, len(b))
	old := Sum(b[start:end])
	for i := 0; i < n; i++ {
		b[off+i] = byte(v >> (24 - 8*i))
	}
	e.Replaced(old, Sum(b[start:end]))
}

// Apply returns the checksum that replaces old once the recorded changes
// and the constant adjustment adj (0 for none) are taken into account.
func (e *Edit) Apply(old, adj uint16) uint16 {
	return ^Fold(uint64(^old) + uint64(adj) + e.acc)
}
