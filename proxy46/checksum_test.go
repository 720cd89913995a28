package proxy46

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/sixgate/sixgate/packet"
)

// TestChecksumIncrementalMatchesFull edits random segments at random
// (also odd) offsets, moves them between pseudo-headers of both families
// with the engine's address adjustments, and checks the incremental result
// against a full recomputation.
func TestChecksumIncrementalMatchesFull(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for iter := 0; iter < 20000; iter++ {
		n := packet.TCPMinLen + r.IntN(64)
		seg := make([]byte, n)
		for i := range seg {
			seg[i] = byte(r.Uint32())
		}
		binary.BigEndian.PutUint16(seg[packet.TCPChecksum:], 0)
		var k4 key4
		var k6 key6
		fill(r, k4.client[:])
		fill(r, k4.vip[:])
		fill(r, k6.client6[:])
		fill(r, k6.backend[:])
		k4.vipPort = uint16(r.Uint32())
		k6.backendPort = uint16(r.Uint32())
		binary.BigEndian.PutUint16(seg[packet.TCPDstPort:], k4.vipPort)
		binary.BigEndian.PutUint16(seg[packet.TCPChecksum:], packet.Checksum(packet.PseudoHeaderSum(k4.client[:], k4.vip[:], packet.ProtoTCP, n), seg))

		adj46, adj64 := addressAdjustments(k4, k6)
		var ed packet.Edit
		binary.BigEndian.PutUint16(seg[packet.TCPDstPort:], k6.backendPort)
		for j := r.IntN(5); j > 0; j-- {
			// Any offset, odd ones too, that leaves the checksum alone.
			if r.IntN(2) == 0 {
				off := 4 + r.IntN(n-7)
				if off+4 > packet.TCPChecksum && off < packet.TCPChecksum+2 {
					off = packet.TCPChecksum + 2
				}
				if off+4 <= n {
					ed.Put32(seg, off, r.Uint32())
				}
			} else {
				off := 4 + r.IntN(n-5)
				if off+2 > packet.TCPChecksum && off < packet.TCPChecksum+2 {
					off = packet.TCPChecksum + 2
				}
				ed.Put16(seg, off, uint16(r.Uint32()))
			}
		}
		got := ed.Apply(binary.BigEndian.Uint16(seg[packet.TCPChecksum:]), adj46)
		binary.BigEndian.PutUint16(seg[packet.TCPChecksum:], 0)
		want := packet.Checksum(packet.PseudoHeaderSum(k6.client6[:], k6.backend[:], packet.ProtoTCP, n), seg)
		if !sameChecksum(got, want) {
			t.Fatalf("iteration %d: 4->6 incremental %#04x, full %#04x", iter, got, want)
		}
		// And back: 6 -> 4 with the opposite adjustment.
		binary.BigEndian.PutUint16(seg[packet.TCPChecksum:], got)
		binary.BigEndian.PutUint16(seg[packet.TCPDstPort:], k4.vipPort)
		var back packet.Edit
		got4 := back.Apply(got, adj64)
		binary.BigEndian.PutUint16(seg[packet.TCPChecksum:], 0)
		want4 := packet.Checksum(packet.PseudoHeaderSum(k4.client[:], k4.vip[:], packet.ProtoTCP, n), seg)
		if !sameChecksum(got4, want4) {
			t.Fatalf("iteration %d: 6->4 incremental %#04x, full %#04x", iter, got4, want4)
		}
	}
}

// sameChecksum compares checksums as a receiver does: 0x0000 and 0xffff
// are both one's complement zero (RFC 1624 §3).
func sameChecksum(a, b uint16) bool {
	return a == b || (a == 0 && b == 0xffff) || (a == 0xffff && b == 0)
}

func fill(r *rand.Rand, b []byte) {
	for i := range b {
		b[i] = byte(r.Uint32())
	}
}
