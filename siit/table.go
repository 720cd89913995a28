package siit

import "math/bits"

// table is an open-addressing hash table from a masked address to an EAM
// index, built once and read concurrently. It costs a multiply and a
// probe or two per lookup, far less than a Go map with a 16-byte key.
type table struct {
	slots []slot
	mask  uint64
	n     int
}

type slot struct {
	key  u128
	val  int32
	used bool
}

func (v u128) hash() uint64 {
	h := v.hi*0x9e3779b97f4a7c15 ^ bits.RotateLeft64(v.lo*0xc2b2ae3d27d4eb4f, 31)
	return h ^ h>>32
}

func (t *table) get(k u128) (int32, bool) {
	if t.n == 0 {
		return 0, false
	}
	for i := k.hash() & t.mask; ; i = (i + 1) & t.mask {
		s := &t.slots[i]
		if !s.used {
			return 0, false
		}
		if s.key == k {
			return s.val, true
		}
	}
}

// put adds k and reports false if it is there already.
func (t *table) put(k u128, v int32) bool {
	if (t.n+1)*2 > len(t.slots) {
		t.grow()
	}
	for i := k.hash() & t.mask; ; i = (i + 1) & t.mask {
		s := &t.slots[i]
		if !s.used {
			*s = slot{key: k, val: v, used: true}
			t.n++
			return true
		}
		if s.key == k {
			return false
		}
	}
}

func (t *table) grow() {
	old := t.slots
	size := max(16, 2*len(old))
	t.slots, t.mask, t.n = make([]slot, size), uint64(size-1), 0
	for _, s := range old {
		if s.used {
			t.put(s.key, s.val)
		}
	}
}

// table4 is table for IPv4 prefixes: 8-byte slots, so that a table of
// 100,000 entries stays a few megabytes and a lookup touches one line.
type table4 struct {
	slots []slot4
	mask  uint32
	n     int
}

// slot4 holds a key and its value plus one, zero meaning empty.
type slot4 struct {
	key uint32
	val int32
}

func hash4(k uint32) uint32 {
	h := uint64(k) * 0x9e3779b97f4a7c15
	return uint32(h >> 32)
}

func (t *table4) get(k uint32) (int32, bool) {
	if t.n == 0 {
		return 0, false
	}
	for i := hash4(k) & t.mask; ; i = (i + 1) & t.mask {
		s := &t.slots[i]
		if s.val == 0 {
			return 0, false
		}
		if s.key == k {
			return s.val - 1, true
		}
	}
}

func (t *table4) put(k uint32, v int32) bool {
	if (t.n+1)*2 > len(t.slots) {
		t.grow()
	}
	for i := hash4(k) & t.mask; ; i = (i + 1) & t.mask {
		s := &t.slots[i]
		if s.val == 0 {
			*s = slot4{key: k, val: v + 1}
			t.n++
			return true
		}
		if s.key == k {
			return false
		}
	}
}

func (t *table4) grow() {
	old := t.slots
	size := max(16, 2*len(old))
	t.slots, t.mask, t.n = make([]slot4, size), uint32(size-1), 0
	for _, s := range old {
		if s.val != 0 {
			t.put(s.key, s.val-1)
		}
	}
}
