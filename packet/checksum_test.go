package packet

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// payloadOf returns n bytes of a fixed pattern with odd and even bytes
// differing, so that a byte summed in the wrong half of a word shows.
func payloadOf(n int) gopacket.Payload {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7 + 3)
	}
	return p
}

// TestChecksumAgainstGopacket checks Sum and PseudoHeaderSum over every
// length from 0 to 100 bytes (each alignment the 8-, 2- and 1-byte loops
// meet) against UDP checksums gopacket computes.
func TestChecksumAgainstGopacket(t *testing.T) {
	for n := 0; n <= 100; n++ {
		for _, v6 := range []bool{false, true} {
			u := &layers.UDP{SrcPort: 1, DstPort: 2}
			var raw []byte
			var pseudo uint16
			if v6 {
				ip := ip6Layer(layers.IPProtocolUDP)
				_ = u.SetNetworkLayerForChecksum(ip)
				raw = IPv6(build(t, ip, u, payloadOf(n))).Payload()
				pseudo = PseudoHeaderSum(src6, dst6, ProtoUDP, len(raw))
			} else {
				ip := ip4Layer(layers.IPProtocolUDP)
				_ = u.SetNetworkLayerForChecksum(ip)
				raw = IPv4(build(t, ip, u, payloadOf(n))).Payload()
				pseudo = PseudoHeaderSum(src4, dst4, ProtoUDP, len(raw))
			}
			if !ChecksumOK(pseudo, raw) {
				t.Fatalf("v6=%v len=%d: ChecksumOK = false over gopacket's checksum", v6, n)
			}
			want := UDP(raw).Checksum()
			UDP(raw).SetChecksum(0)
			if got := Checksum(pseudo, raw); !sameChecksum(got, want) {
				t.Fatalf("v6=%v len=%d: Checksum = %#04x, gopacket %#04x", v6, n, got, want)
			}
		}
	}
}

func TestFoldAndAdd(t *testing.T) {
	tests := []struct {
		acc  uint64
		want uint16
	}{
		{0, 0},
		{0xffff, 0xffff},
		{0x10000, 1},
		{0x1fffe, 0xffff},
		{0xffffffffffffffff, 0xffff},
		{0x0001000200030004, 10},
	}
	for _, tt := range tests {
		checkEq(t, "Fold", Fold(tt.acc), tt.want)
	}
	checkEq(t, "Add(0xffff, 1)", Add(0xffff, 1), 1)
	checkEq(t, "Add(0x8000, 0x8000)", Add(0x8000, 0x8000), 1)
	checkEq(t, "Add(0, 0)", Add(0, 0), 0)
}

func TestSumKnownValues(t *testing.T) {
	// RFC 1071 section 3's example: the words 0001 f203 f4f5 f6f7 sum to
	// ddf2.
	checkEq(t, "RFC 1071 example", Sum([]byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}), 0xddf2)
	checkEq(t, "odd byte padded", Sum([]byte{0x01}), 0x0100)
	checkEq(t, "odd length", Sum([]byte{0x01, 0x02, 0x03}), 0x0402)
	checkEq(t, "empty", Sum(nil), 0)
	checkEq(t, "carries", Sum(bytes.Repeat([]byte{0xff}, 1000)), 0xffff)
	checkEq(t, "carries and an odd byte", Sum(bytes.Repeat([]byte{0xff}, 1001)), 0xff00)
}

// sameChecksum treats the two one's complement zeros as equal: an
// incremental update may yield either where a full one yields 0 (RFC 1624
// section 3).
func sameChecksum(a, b uint16) bool {
	return a == b || (a == 0 && b == 0xffff) || (a == 0xffff && b == 0)
}

// putKind is one way of writing a field with Edit.
type putKind int

const (
	put8 putKind = iota
	put16
	put32
)

func (k putKind) size() int { return [...]int{1, 2, 4}[k] }

// TestEditRandom writes random fields at random, even and odd, offsets of
// random messages, including the last bytes of odd-length ones, and checks
// that the incremental checksum matches a full recompute.
func TestEditRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := 0; iter < 20000; iter++ {
		msg := make([]byte, 1+rng.IntN(80))
		for i := range msg {
			msg[i] = byte(rng.Uint32())
		}
		pseudo := uint16(rng.Uint32())
		// The checksum lives outside msg here, so that every offset can
		// be edited; the arithmetic is the same as for a field inside.
		old := Checksum(pseudo, msg)

		var ed Edit
		for n := 1 + rng.IntN(4); n > 0; n-- {
			kind := putKind(rng.IntN(3))
			if kind.size() > len(msg) {
				continue
			}
			off := rng.IntN(len(msg) - kind.size() + 1)
			if rng.IntN(4) == 0 {
				off = len(msg) - kind.size() // the very end
			}
			switch v := rng.Uint32(); kind {
			case put8:
				ed.Put8(msg, off, uint8(v))
			case put16:
				ed.Put16(msg, off, uint16(v))
			case put32:
				ed.Put32(msg, off, v)
			}
		}
		got, want := ed.Apply(old, 0), Checksum(pseudo, msg)
		if !sameChecksum(got, want) {
			t.Fatalf("iteration %d, len %d: incremental %#04x, full %#04x", iter, len(msg), got, want)
		}
	}
}

// TestEditEdges pins the cases the random test reaches only by chance.
func TestEditEdges(t *testing.T) {
	tests := []struct {
		name string
		len  int
		kind putKind
		off  int
	}{
		{"put8 last byte of odd length", 9, put8, 8},
		{"put8 odd offset", 9, put8, 3},
		{"put16 odd offset ending an odd length", 9, put16, 7},
		{"put16 odd offset inside", 10, put16, 3},
		{"put32 odd offset ending an odd length", 11, put32, 7},
		{"put32 odd offset ending an even length", 12, put32, 7},
		{"put32 whole message", 4, put32, 0},
		{"put16 one-word message", 2, put16, 0},
		{"put8 one-byte message", 1, put8, 0},
	}
	for _, tt := range tests {
		for _, v := range []uint32{0, 0xffffffff, 0x12345678, 0x80008000} {
			msg := bytes.Repeat([]byte{0xa5, 0x3c}, tt.len)[:tt.len]
			old := Checksum(0, msg)
			var ed Edit
			switch tt.kind {
			case put8:
				ed.Put8(msg, tt.off, uint8(v))
			case put16:
				ed.Put16(msg, tt.off, uint16(v))
			case put32:
				ed.Put32(msg, tt.off, v)
			}
			if got, want := ed.Apply(old, 0), Checksum(0, msg); !sameChecksum(got, want) {
				t.Errorf("%s, value %#x: incremental %#04x, full %#04x", tt.name, v, got, want)
			}
		}
	}
}

func TestEditReplaced(t *testing.T) {
	msg := []byte{1, 2, 3, 4, 5, 6}
	old := Checksum(0, msg)
	var ed Edit
	was := Sum(msg[2:6])
	copy(msg[2:6], []byte{9, 9, 9, 9})
	ed.Replaced(was, Sum(msg[2:6]))
	checkEq(t, "Replaced then Apply", ed.Apply(old, 0), Checksum(0, msg))
	var none Edit
	checkEq(t, "zero Edit keeps the checksum", none.Apply(old, 0), old)
}

// TestAdjustmentFamilies moves random TCP segments from an IPv4 to an IPv6
// pseudo-header (a 12-byte pseudo-header's addresses replaced by 32 bytes'
// worth) and back, rewriting fields on the way, and checks the result
// against a full recompute.
func TestAdjustmentFamilies(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for iter := 0; iter < 5000; iter++ {
		var a4, b4 [4]byte
		var a6, b6 [16]byte
		fill(rng, a4[:], b4[:], a6[:], b6[:])
		seg := make([]byte, TCPMinLen+rng.IntN(60))
		fill(rng, seg)
		TCP(seg).SetChecksum(0)
		p4 := PseudoHeaderSum(a4[:], b4[:], ProtoTCP, len(seg))
		p6 := PseudoHeaderSum(a6[:], b6[:], ProtoTCP, len(seg))
		TCP(seg).SetChecksum(Checksum(p4, seg))

		// The protocol and length words are equal in both pseudo-headers,
		// so the address sums alone make the adjustment.
		adj := Adjustment(Add(Sum(a4[:]), Sum(b4[:])), Add(Sum(a6[:]), Sum(b6[:])))
		var ed Edit
		ed.Put32(seg, TCPSeq, rng.Uint32())
		ed.Put16(seg, TCPWindow, uint16(rng.Uint32()))
		TCP(seg).SetChecksum(ed.Apply(TCP(seg).Checksum(), adj))
		if !ChecksumOK(p6, seg) {
			t.Fatalf("iteration %d: 4 to 6 checksum wrong", iter)
		}

		back := Adjustment(Add(Sum(a6[:]), Sum(b6[:])), Add(Sum(a4[:]), Sum(b4[:])))
		var ed2 Edit
		ed2.Put32(seg, TCPAck, rng.Uint32())
		TCP(seg).SetChecksum(ed2.Apply(TCP(seg).Checksum(), back))
		if !ChecksumOK(p4, seg) {
			t.Fatalf("iteration %d: 6 to 4 checksum wrong", iter)
		}
	}
}

// TestPseudoHeaderLengths checks that the IPv4 pseudo-header's 16-bit
// length and the IPv6 one's 32-bit length give the same sum below 65536
// and that the IPv6 one counts the high half above.
func TestPseudoHeaderLengths(t *testing.T) {
	for _, n := range []int{0, 1, 20, 1460, 65535} {
		var v4 [12]byte // src, dst zero; zero, proto, length
		v4[9] = ProtoTCP
		binary.BigEndian.PutUint16(v4[10:], uint16(n))
		checkEq(t, "PseudoHeaderSum", PseudoHeaderSum(make([]byte, 4), make([]byte, 4), ProtoTCP, n), Sum(v4[:]))
	}
	var v6 [40]byte
	binary.BigEndian.PutUint32(v6[32:], 70000)
	v6[39] = ProtoTCP
	checkEq(t, "jumbo length", PseudoHeaderSum(make([]byte, 16), make([]byte, 16), ProtoTCP, 70000), Sum(v6[:]))
}

func fill(rng *rand.Rand, bs ...[]byte) {
	for _, b := range bs {
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
	}
}
