package siit

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"net/netip"
	"slices"

	"github.com/sixgate/sixgate/packet"
)

// EAM is one Explicit Address Mapping (RFC 7757): every address of IPv4
// maps to one address of IPv6 and back. The IPv4 suffix (the bits after
// the IPv4 prefix) is placed right after the IPv6 prefix; IPv6 bits past
// it are zero going 4->6 and ignored going 6->4, so the IPv6 suffix must
// be at least as long as the IPv4 one (192.0.2.0/24 <-> 2001:db8::/120,
// or <-> 2001:db8::/64).
type EAM struct{ IPv4, IPv6 netip.Prefix }

// u128 is an IPv6 address as two words, for masking and shifting.
type u128 struct{ hi, lo uint64 }

func load128(a *[16]byte) u128 {
	return u128{binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(a[8:])}
}

func (v u128) store(a *[16]byte) {
	binary.BigEndian.PutUint64(a[:8], v.hi)
	binary.BigEndian.PutUint64(a[8:], v.lo)
}

// mask128 keeps the first n bits.
func mask128(n int) u128 {
	switch {
	case n <= 0:
		return u128{}
	case n < 64:
		return u128{^uint64(0) << (64 - n), 0}
	case n == 64:
		return u128{^uint64(0), 0}
	case n < 128:
		return u128{^uint64(0), ^uint64(0) << (128 - n)}
	}
	return u128{^uint64(0), ^uint64(0)}
}

func (v u128) and(m u128) u128 { return u128{v.hi & m.hi, v.lo & m.lo} }
func (v u128) or(m u128) u128  { return u128{v.hi | m.hi, v.lo | m.lo} }

// shl shifts left by n (0..127).
func (v u128) shl(n uint) u128 {
	switch {
	case n == 0:
		return v
	case n < 64:
		return u128{v.hi<<n | v.lo>>(64-n), v.lo << n}
	}
	return u128{v.lo << (n - 64), 0}
}

// shr shifts right by n (0..127).
func (v u128) shr(n uint) u128 {
	switch {
	case n == 0:
		return v
	case n < 64:
		return u128{v.hi >> n, v.lo>>n | v.hi<<(64-n)}
	}
	return u128{0, v.hi >> (n - 64)}
}

func mask32(n int) uint32 {
	if n <= 0 {
		return 0
	}
	return ^uint32(0) << (32 - n)
}

// eam is an EAM ready for translation.
type eam struct {
	p4     uint32
	bits4  int
	p6     u128
	bits6  int
	shift  uint // where the IPv4 suffix sits in the IPv6 address
	suffix uint32
}

func (e *eam) to6(a uint32) u128 {
	return e.p6.or(u128{0, uint64(a & e.suffix)}.shl(e.shift))
}

func (e *eam) to4(a u128) uint32 {
	return e.p4 | uint32(a.shr(e.shift).lo)&e.suffix
}

// lpm4 is a longest-prefix match over IPv4 prefixes: one hash table per
// prefix length present, tried from the longest. EAM tables hold few
// distinct lengths, so a lookup is a handful of map probes however many
// entries there are.
type lpm4 struct {
	lengths []int // longest first
	tables  [33]*table4
	// present has a bit for every /16 some prefix covers, so that most
	// misses cost no hashing.
	present *[1 << 16 / 64]uint64
}

func (t *lpm4) insert(p uint32, n int, v int32) bool {
	if t.present == nil {
		t.present = new([1 << 16 / 64]uint64)
	}
	first, last := p>>16, (p|^mask32(n))>>16
	for i := first; i <= last; i++ {
		t.present[i/64] |= 1 << (i % 64)
	}
	if t.tables[n] == nil {
		t.tables[n] = &table4{}
		t.lengths = append(t.lengths, n)
		slices.SortFunc(t.lengths, func(a, b int) int { return b - a })
	}
	return t.tables[n].put(p, v)
}

func (t *lpm4) lookup(a uint32) (int32, bool) {
	if t.present == nil || t.present[a>>22]&(1<<(a>>16%64)) == 0 {
		return 0, false
	}
	for _, n := range t.lengths {
		if v, ok := t.tables[n].get(a & mask32(n)); ok {
			return v, true
		}
	}
	return 0, false
}

// lpm6 is lpm4 for IPv6 prefixes.
type lpm6 struct {
	lengths []int
	masks   []u128
	tables  []*table
}

func (t *lpm6) insert(p u128, n int, v int32) bool {
	i := slices.Index(t.lengths, n)
	if i < 0 {
		t.lengths = append(t.lengths, n)
		t.masks = append(t.masks, mask128(n))
		t.tables = append(t.tables, &table{})
		// Keep the three slices sorted longest first, together.
		for j := len(t.lengths) - 1; j > 0 && t.lengths[j] > t.lengths[j-1]; j-- {
			t.lengths[j], t.lengths[j-1] = t.lengths[j-1], t.lengths[j]
			t.masks[j], t.masks[j-1] = t.masks[j-1], t.masks[j]
			t.tables[j], t.tables[j-1] = t.tables[j-1], t.tables[j]
		}
		i = slices.Index(t.lengths, n)
	}
	return t.tables[i].put(p, v)
}

func (t *lpm6) lookup(a u128) (int32, bool) {
	for i := range t.tables {
		if v, ok := t.tables[i].get(a.and(t.masks[i])); ok {
			return v, true
		}
	}
	return 0, false
}

// Mapper maps addresses between IPv4 and IPv6 the way a stateless
// translator does: an EAM entry by longest-prefix match first (RFC 7757),
// then the RFC 6052 prefix (pool6). It also picks the IPv4 or IPv6 source
// of a translated ICMP error whose own source has no mapping (RFC 6791).
// A Mapper is read-only once built and safe for concurrent use.
type Mapper struct {
	pool6     u128
	pool6Bits int // 0: no pool6
	// eamInPool6 says whether some EAM IPv6 prefix overlaps pool6; when
	// none does, a pool6 address needs no EAM lookup.
	eamInPool6 bool
	eams       []eam
	by4        lpm4
	by6        lpm6
	rfc6791v4  []netip.Prefix
	rfc6791v6  []netip.Prefix
}

// NewMapper validates and builds a Mapper. pool6 may be the zero Prefix
// (none); the RFC 6791 pools may be empty.
func NewMapper(pool6 netip.Prefix, eams []EAM, rfc6791v4, rfc6791v6 []netip.Prefix) (*Mapper, error) {
	m := &Mapper{}
	if pool6.IsValid() {
		if err := ValidPool6(pool6); err != nil {
			return nil, err
		}
		a := pool6.Addr().As16()
		m.pool6, m.pool6Bits = load128(&a), pool6.Bits()
	}
	for i, e := range eams {
		if !e.IPv4.IsValid() || !e.IPv4.Addr().Is4() {
			return nil, fmt.Errorf("siit: eam %d: ipv4 %v is not an IPv4 prefix", i, e.IPv4)
		}
		if !e.IPv6.IsValid() || !e.IPv6.Addr().Is6() || e.IPv6.Addr().Is4In6() {
			return nil, fmt.Errorf("siit: eam %d: ipv6 %v is not an IPv6 prefix", i, e.IPv6)
		}
		if e.IPv4.Masked() != e.IPv4 {
			return nil, fmt.Errorf("siit: eam %d: ipv4 %v has host bits set", i, e.IPv4)
		}
		if e.IPv6.Masked() != e.IPv6 {
			return nil, fmt.Errorf("siit: eam %d: ipv6 %v has host bits set", i, e.IPv6)
		}
		suffix4, suffix6 := 32-e.IPv4.Bits(), 128-e.IPv6.Bits()
		if suffix6 < suffix4 {
			return nil, fmt.Errorf("siit: eam %d: %v <-> %v: the IPv6 prefix leaves %d bits for the %d-bit IPv4 suffix", i, e.IPv4, e.IPv6, suffix6, suffix4)
		}
		a4, a6 := e.IPv4.Addr().As4(), e.IPv6.Addr().As16()
		x := eam{
			p4: binary.BigEndian.Uint32(a4[:]), bits4: e.IPv4.Bits(),
			p6: load128(&a6), bits6: e.IPv6.Bits(),
			shift:  uint(suffix6 - suffix4),
			suffix: ^mask32(e.IPv4.Bits()),
		}
		idx := int32(len(m.eams))
		if !m.by4.insert(x.p4, x.bits4, idx) {
			return nil, fmt.Errorf("siit: eam %d: ipv4 %v appears twice", i, e.IPv4)
		}
		if !m.by6.insert(x.p6, x.bits6, idx) {
			return nil, fmt.Errorf("siit: eam %d: ipv6 %v appears twice", i, e.IPv6)
		}
		m.eams = append(m.eams, x)
		if m.pool6Bits != 0 && (x.bits6 >= m.pool6Bits && x.p6.and(mask128(m.pool6Bits)) == m.pool6 ||
			x.bits6 < m.pool6Bits && m.pool6.and(mask128(x.bits6)) == x.p6) {
			m.eamInPool6 = true
		}
	}
	for _, p := range rfc6791v4 {
		if !p.IsValid() || !p.Addr().Is4() {
			return nil, fmt.Errorf("siit: rfc6791_ipv4: %v is not an IPv4 prefix", p)
		}
		m.rfc6791v4 = append(m.rfc6791v4, p.Masked())
	}
	for _, p := range rfc6791v6 {
		if !p.IsValid() || !p.Addr().Is6() || p.Addr().Is4In6() {
			return nil, fmt.Errorf("siit: rfc6791_ipv6: %v is not an IPv6 prefix", p)
		}
		m.rfc6791v6 = append(m.rfc6791v6, p.Masked())
	}
	return m, nil
}

// ValidPool6 reports whether p can embed IPv4 addresses (RFC 6052 §2.2):
// an IPv6 prefix of length 32, 40, 48, 56, 64 or 96, no host bits, and
// bits 64-71 (the "u" octet) zero.
func ValidPool6(p netip.Prefix) error {
	if err := packet.CheckRFC6052Prefix(p); err != nil {
		return fmt.Errorf("siit: pool6 %w", err)
	}
	return nil
}

// Pool6 returns the RFC 6052 prefix, or the zero Prefix when there is none.
func (m *Mapper) Pool6() netip.Prefix {
	if m.pool6Bits == 0 {
		return netip.Prefix{}
	}
	var a [16]byte
	m.pool6.store(&a)
	return netip.PrefixFrom(netip.AddrFrom16(a), m.pool6Bits)
}

// To6 maps an IPv4 address to IPv6: EAM, then pool6.
func (m *Mapper) To6(a netip.Addr) (netip.Addr, bool) {
	if !a.Is4() {
		return netip.Addr{}, false
	}
	v6, ok := m.Map4(a.As4())
	if !ok {
		return netip.Addr{}, false
	}
	return netip.AddrFrom16(v6), true
}

// To4 maps an IPv6 address to IPv4: EAM, then pool6.
func (m *Mapper) To4(a netip.Addr) (netip.Addr, bool) {
	if !a.Is6() || a.Is4In6() {
		return netip.Addr{}, false
	}
	a16 := a.As16()
	v4, ok := m.Map6(&a16)
	if !ok {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4(v4), true
}

// Map4 is To6 on arrays, for the per-packet path.
func (m *Mapper) Map4(a [4]byte) ([16]byte, bool) {
	v6, _, ok := m.map4(a)
	return v6, ok
}

// map4 also says whether pool6 (not an EAM) gave the address.
func (m *Mapper) map4(a [4]byte) (out [16]byte, viaPool6, ok bool) {
	v := binary.BigEndian.Uint32(a[:])
	if i, ok := m.by4.lookup(v); ok {
		m.eams[i].to6(v).store(&out)
		return out, false, true
	}
	if m.pool6Bits == 0 {
		return out, false, false
	}
	return m.embed(a), true, true
}

// Map6 is To4 on arrays, for the per-packet path.
func (m *Mapper) Map6(a *[16]byte) ([4]byte, bool) {
	v4, _, ok := m.map6(a)
	return v4, ok
}

func (m *Mapper) map6(a *[16]byte) (out [4]byte, viaPool6, ok bool) {
	v := load128(a)
	if !m.eamInPool6 && m.inPool6(v) {
		return m.extract(a), true, true
	}
	if i, ok := m.by6.lookup(v); ok {
		binary.BigEndian.PutUint32(out[:], m.eams[i].to4(v))
		return out, false, true
	}
	if !m.inPool6(v) {
		return out, false, false
	}
	return m.extract(a), true, true
}

// eam4 reports whether an EAM covers the IPv4 address.
func (m *Mapper) eam4(a [4]byte) bool {
	_, ok := m.by4.lookup(binary.BigEndian.Uint32(a[:]))
	return ok
}

func (m *Mapper) inPool6(v u128) bool {
	return m.pool6Bits != 0 && v.and(mask128(m.pool6Bits)) == m.pool6
}

// embed places a inside pool6 (RFC 6052 §2.2): the 32 bits right after the
// prefix, skipping bits 64-71 (the u octet, zero), the suffix zero.
func (m *Mapper) embed(a [4]byte) [16]byte {
	var prefix [16]byte
	m.pool6.store(&prefix)
	return packet.Embed4(prefix, m.pool6Bits, a)
}

// extract is the inverse of embed; the u octet and the suffix are not
// looked at.
func (m *Mapper) extract(a *[16]byte) [4]byte { return packet.Extract4(a, m.pool6Bits) }

// rfc6791Source4 picks the IPv4 source of a translated ICMPv6 error whose
// source has no mapping: an address from the RFC 6791 pool chosen by a
// hash of the original source (so one router keeps one address), or
// false when the pool is empty.
func (m *Mapper) rfc6791Source4(orig *[16]byte) ([4]byte, bool) {
	if len(m.rfc6791v4) == 0 {
		return [4]byte{}, false
	}
	h := hash16(orig)
	p := m.rfc6791v4[h%uint64(len(m.rfc6791v4))]
	a := p.Addr().As4()
	host := 32 - p.Bits()
	if host > 0 {
		v := binary.BigEndian.Uint32(a[:])
		span := uint64(1) << host
		v |= uint32((h >> 8) % span)
		binary.BigEndian.PutUint32(a[:], v)
	}
	return a, true
}

// rfc6791Source6 is rfc6791Source4 for translated ICMPv4 errors.
func (m *Mapper) rfc6791Source6(orig [4]byte) ([16]byte, bool) {
	if len(m.rfc6791v6) == 0 {
		return [16]byte{}, false
	}
	h := uint64(binary.BigEndian.Uint32(orig[:])) * 0x9e3779b97f4a7c15
	h ^= h >> 29
	p := m.rfc6791v6[h%uint64(len(m.rfc6791v6))]
	a := p.Addr().As16()
	host := 128 - p.Bits()
	if host > 0 {
		v := load128(&a)
		r := u128{0, h >> 8}
		if host < 64 {
			r.lo &= ^uint64(0) >> (64 - host)
		}
		v.or(r).store(&a)
	}
	return a, true
}

func hash16(a *[16]byte) uint64 {
	v := load128(a)
	h := (v.hi ^ bits.RotateLeft64(v.lo, 31)) * 0x9e3779b97f4a7c15
	return h ^ h>>29
}
