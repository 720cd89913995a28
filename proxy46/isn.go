package proxy46

import (
	"encoding/binary"
	"math/bits"
)

// isnGenerator derives initial sequence numbers as RFC 6528 asks:
// ISN = M + F(localip, localport, remoteip, remoteport, secretkey), with M a
// clock ticking every 4 microseconds and F a keyed hash (SipHash-2-4 here).
// The same hash also gives a per-connection timestamp offset (RFC 7323 §7.1)
// so that TSval leaks no uptime.
type isnGenerator struct {
	k0, k1 uint64
}

func newISNGenerator(key [16]byte) isnGenerator {
	return isnGenerator{
		k0: binary.LittleEndian.Uint64(key[0:]),
		k1: binary.LittleEndian.Uint64(key[8:]),
	}
}

// tupleHash hashes a connection 4-tuple with a domain tag so that the ISN
// and the timestamp offset are independent.
func (g isnGenerator) tupleHash(tag byte, src, dst [4]byte, sport, dport uint16) uint64 {
	var m [16]byte
	copy(m[0:], src[:])
	copy(m[4:], dst[:])
	binary.BigEndian.PutUint16(m[8:], sport)
	binary.BigEndian.PutUint16(m[10:], dport)
	m[12] = tag
	return siphash24(g.k0, g.k1, m[:])
}

// isn returns the ISN for a connection from src:sport to dst:dport at the
// monotonic time nowNanos.
func (g isnGenerator) isn(src, dst [4]byte, sport, dport uint16, nowNanos int64) uint32 {
	return uint32(g.tupleHash('i', src, dst, sport, dport)) + uint32(nowNanos/4000)
}

// tsOffset returns the random offset added to the edge's timestamp clock.
func (g isnGenerator) tsOffset(src, dst [4]byte, sport, dport uint16) uint32 {
	return uint32(g.tupleHash('t', src, dst, sport, dport))
}

// siphash24 is SipHash-2-4 (Aumasson and Bernstein) of msg under (k0, k1).
func siphash24(k0, k1 uint64, msg []byte) uint64 {
	v0 := k0 ^ 0x736f6d6570736575
	v1 := k1 ^ 0x646f72616e646f6d
	v2 := k0 ^ 0x6c7967656e657261
	v3 := k1 ^ 0x7465646279746573
	round := func() {
		v0 += v1
		v1 = bits.RotateLeft64(v1, 13)
		v1 ^= v0
		v0 = bits.RotateLeft64(v0, 32)
		v2 += v3
		v3 = bits.RotateLeft64(v3, 16)
		v3 ^= v2
		v0 += v3
		v3 = bits.RotateLeft64(v3, 21)
		v3 ^= v0
		v2 += v1
		v1 = bits.RotateLeft64(v1, 17)
		v1 ^= v2
		v2 = bits.RotateLeft64(v2, 32)
	}
	n := len(msg)
	for len(msg) >= 8 {
		m := binary.LittleEndian.Uint64(msg)
		v3 ^= m
		round()
		round()
		v0 ^= m
		msg = msg[8:]
	}
	var last [8]byte
	copy(last[:], msg)
	last[7] = byte(n)
	m := binary.LittleEndian.Uint64(last[:])
	v3 ^= m
	round()
	round()
	v0 ^= m
	v2 ^= 0xff
	round()
	round()
	round()
	round()
	return v0 ^ v1 ^ v2 ^ v3
}
