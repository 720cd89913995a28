package nat64

import "encoding/binary"

// maxProbes bounds the ports tried for one new binding, so that a nearly
// full pool costs a bounded search, not a scan of every port.
const (
	maxProbes    = 65536
	randomProbes = 64
)

// allocate lends a pool4 address and port for the IPv6 transport address
// addr6:port6 (RFC 6146 §3.5.1.1): the same port if it is free (port
// preservation), else a port of the same range (well-known below 1024,
// ephemeral above) and parity, else any, chosen at random (RFC 6056
// §3.3.1, random start and search). Port preservation comes first, on
// any pool4 address, so a host whose port is taken on its own address can
// get it on another (its bindings then use several addresses); otherwise
// a host starts at the pool4 address its address hashes to, so that its
// bindings tend to share one address (paired pooling, RFC 4787 REQ-2).
func (e *NAT64) allocate(s *state, proto Protocol, addr6 *[16]byte, port6 uint16) ([4]byte, uint16, bool) {
	ranges := s.ranges[proto]
	if len(ranges) == 0 {
		return [4]byte{}, 0, false
	}
	first := int(mix(e.seed, addr6[:]) % uint64(len(ranges)))
	for i := range ranges {
		r := ranges[(first+i)%len(ranges)]
		if r.first <= port6 && port6 <= r.last && e.free4(r.addr, port6, proto) {
			return r.addr, port6, true
		}
	}
	lo, hi := uint16(1024), uint16(65535)
	if port6 < 1024 {
		lo, hi = 0, 1023
	}
	// Random probes, first in the port's range and parity, then in its
	// range, then anywhere; a last sequential sweep finds the few free
	// ports of a nearly full pool.
	for pass := 0; pass < 3; pass++ {
		for i := range ranges {
			r := ranges[(first+i)%len(ranges)]
			if pass < 2 {
				r.first, r.last = max(r.first, lo), min(r.last, hi)
				if r.first > r.last {
					continue
				}
			}
			n := r.size()
			for j := 0; j < min(n, randomProbes); j++ {
				p := uint16(int(r.first) + int(e.rng.Uint64()%uint64(n)))
				if pass == 0 {
					p = p&^1 | port6&1
					if p < r.first || p > r.last {
						continue
					}
				}
				if e.free4(r.addr, p, proto) {
					return r.addr, p, true
				}
			}
		}
	}
	probes := 0
	for i := range ranges {
		r := ranges[(first+i)%len(ranges)]
		n := r.size()
		start := int(e.rng.Uint64() % uint64(n))
		for j := 0; j < n && probes < maxProbes; j++ {
			p := uint16(int(r.first) + (start+j)%n)
			probes++
			if e.free4(r.addr, p, proto) {
				return r.addr, p, true
			}
		}
	}
	return [4]byte{}, 0, false
}

// free4 reports whether addr:port of proto is lent to no binding.
func (e *NAT64) free4(addr [4]byte, port uint16, proto Protocol) bool {
	_, used := e.t.bib4[key4{addr, port, proto}]
	return !used
}

// mix hashes b with seed (a keyed, repeatable hash: the same seed gives
// the same allocation, which tests rely on).
func mix(seed uint64, b []byte) uint64 {
	h := seed ^ 0x9e3779b97f4a7c15
	for len(b) >= 8 {
		h = (h ^ binary.BigEndian.Uint64(b)) * 0xbf58476d1ce4e5b9
		h ^= h >> 31
		b = b[8:]
	}
	for _, c := range b {
		h = (h ^ uint64(c)) * 0x94d049bb133111eb
	}
	return h ^ h>>29
}

func be16(b []byte) uint16 { return binary.BigEndian.Uint16(b) }
