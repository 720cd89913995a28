package packet

import (
	"net/netip"
	"testing"
)

// The views, the checksum and the option walk run on every engine's
// per-packet path, which promises not to allocate.

func TestAllocations(t *testing.T) {
	seg := make([]byte, 1460)
	opts := []byte{TCPOptNOP, TCPOptNOP, TCPOptTimestamps, 10, 0, 0, 0, 1, 0, 0, 0, 2, TCPOptMSS, 4, 5, 0xb4}
	ip6 := chain(ProtoTCP, hbh, dest, frag)
	ip4 := make(IPv4, 40)
	ip4.Encode(&IPv4Fields{TotalLen: 40, TTL: 64, Protocol: ProtoTCP})
	tcp := TCP(make([]byte, 40))
	tcp.Encode(&TCPFields{Options: opts[:12]})
	var sink int
	tests := []struct {
		name string
		f    func()
	}{
		{"Sum", func() { sink += int(Sum(seg)) }},
		{"Checksum", func() { sink += int(Checksum(ip4.PseudoHeaderSum(ProtoTCP, len(seg)), seg)) }},
		{"Edit", func() {
			var ed Edit
			ed.Put32(seg, 7, 1)
			ed.Put16(seg, 4, 2)
			ed.Put8(seg, 1459, 3)
			sink += int(ed.Apply(0x1234, 0x5678))
		}},
		{"option walk", func() {
			it := NewTCPOptions(opts)
			for it.Next() {
				sink += int(it.Kind()) + it.Offset() + len(it.Data())
			}
		}},
		{"TCPOptionsOK", func() {
			if TCPOptionsOK(opts) {
				sink++
			}
		}},
		{"IPv4 view", func() {
			if ip4.IsValid() && ip4.HeaderChecksumOK() && !ip4.IsFragment() {
				sink += int(ip4.TTL()) + len(ip4.Payload()) + int(ip4.SrcAddr().As4()[0])
			}
		}},
		{"IPv6 view", func() {
			if ip6.IsValid() {
				sink += int(ip6.HopLimit()) + len(ip6.Payload()) + int(ip6.DstPtr()[0]) + int(ip6.SrcAddr().As16()[0])
			}
		}},
		{"TCP view", func() {
			if tcp.IsValid() {
				sink += int(tcp.Seq()) + len(tcp.Options()) + int(tcp.SequenceLength())
			}
		}},
		{"Transport", func() {
			u, _ := ip6.Transport()
			sink += u.Offset
		}},
	}
	for _, tt := range tests {
		if n := testing.AllocsPerRun(100, tt.f); n != 0 {
			t.Errorf("%s: %v allocations, want 0", tt.name, n)
		}
	}
	_ = sink
}

func TestBatch(t *testing.T) {
	dst := netip.MustParseAddr("2001:db8::1")
	b := NewBatch(2, 64)
	checkEq(t, "Len of a new batch", b.Len(), 0)
	p := b.Next(40, IPv6Family, dst)
	checkEq(t, "len of the buffer", len(p), 40)
	p[0] = 0x60
	b.Next(100, IPv4Family, dst) // larger than the preallocated 64
	b.Next(10, IPv4Family, dst)  // beyond the preallocated two
	checkEq(t, "Len", b.Len(), 3)
	checkEq(t, "Family", b.Packets[1].Family, IPv4Family)
	checkEq(t, "Dst", b.Packets[0].Dst, dst)
	b.Unnext()
	checkEq(t, "Len after Unnext", b.Len(), 2)
	b.Reset()
	checkEq(t, "Len after Reset", b.Len(), 0)
	checkEq(t, "buffer reused", b.Next(20, IPv6Family, dst)[0], 0x60)

	// Once the batch has grown to its working size, Next allocates
	// nothing.
	if n := testing.AllocsPerRun(100, func() {
		b.Reset()
		b.Next(1500, IPv6Family, dst)
		b.Next(60, IPv4Family, dst)
		b.Next(60, IPv4Family, dst)
		b.Unnext()
	}); n != 0 {
		t.Errorf("Batch.Next after warm-up: %v allocations, want 0", n)
	}
}

func TestVerdictString(t *testing.T) {
	for v, want := range map[Verdict]string{Pass: "pass", Consumed: "consumed", Drop: "drop", 9: "Verdict(9)"} {
		checkEq(t, "String", v.String(), want)
	}
}
