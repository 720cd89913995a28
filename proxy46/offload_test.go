package proxy46

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/sixgate/sixgate/packet"
)

// partial makes a built packet look as GRO leaves a super-packet: its
// TCP checksum field holds only the pseudo-header's sum.
func partial(t *testing.T, pkt []byte) []byte {
	t.Helper()
	pkt = bytes.Clone(pkt)
	var hl int
	var pseudo uint16
	if pkt[0]>>4 == 4 {
		hl = packet.IPv4(pkt).HeaderLength()
		pseudo = packet.IPv4(pkt).PseudoHeaderSum(packet.ProtoTCP, len(pkt)-hl)
	} else {
		hl = packet.IPv6HeaderLen
		pseudo = packet.IPv6(pkt).PseudoHeaderSum(packet.ProtoTCP, len(pkt)-hl)
	}
	packet.TCP(pkt[hl:]).SetChecksum(pseudo)
	return pkt
}

// cutAll cuts the super-packets of b (each checked with gopacket first
// as it would be once the kernel cut it) and returns every segment.
func cutAll(t *testing.T, b *packet.Batch) []packet.Out {
	t.Helper()
	var out []packet.Out
	for _, o := range b.Packets {
		if o.GSOSize == 0 {
			decodeOut(t, o)
			out = append(out, packet.Out{Family: o.Family, Dst: o.Dst, Data: bytes.Clone(o.Data)})
			continue
		}
		var segs packet.Batch
		if packet.SegmentTCP(o.Data, int(o.GSOSize), &segs, o.Family, o.Dst) < 2 {
			t.Fatalf("super-packet of %d bytes at %d per segment cuts into fewer than two", len(o.Data), o.GSOSize)
		}
		for _, s := range segs.Packets {
			decodeOut(t, s)
			out = append(out, packet.Out{Family: s.Family, Dst: s.Dst, Data: bytes.Clone(s.Data)})
		}
	}
	return out
}

// withoutID zeroes what the kernel's segmentation sets for itself in an
// IPv4 header (the identification, counting up, and the checksum over it).
func withoutID(o packet.Out) []byte {
	b := bytes.Clone(o.Data)
	if o.Family == packet.IPv4Family {
		b[packet.IPv4ID], b[packet.IPv4ID+1] = 0, 0
		b[packet.IPv4Checksum], b[packet.IPv4Checksum+1] = 0, 0
	}
	return b
}

// A super-packet translated whole and cut up by the kernel is, segment
// for segment, what the engine makes of the segments one by one: both
// directions, with the counters agreeing.
func TestOffloadSameAsSegments(t *testing.T) {
	for _, dir := range []string{"client-to-backend", "backend-to-client"} {
		t.Run(dir, func(t *testing.T) {
			const gso, payload = 1200, 3*1200 - 100
			whole, _ := newTestEngine(t, nil)
			single, _ := newTestEngine(t, nil)
			c1, b1 := establishedPair(t, whole, payload)
			c2, b2 := establishedPair(t, single, payload)
			if !bytes.Equal(c1, c2) || !bytes.Equal(b1, b2) {
				t.Fatal("the two engines set up different connections")
			}
			super := c1
			if dir == "backend-to-client" {
				super = b1
			}
			var segs packet.Batch
			fam := packet.IPv4Family
			if super[0]>>4 == 6 {
				fam = packet.IPv6Family
			}
			if n := packet.SegmentTCP(super, gso, &segs, fam, packet.IPv4(super).DstAddr()); n != 3 {
				t.Fatalf("%d segments", n)
			}

			var out packet.Batch
			v, taken := whole.HandleOffload(partial(t, super), gso, &out)
			if !taken || v != packet.Consumed || out.Len() != 1 || out.Packets[0].GSOSize != gso {
				t.Fatalf("taken %v, verdict %v, %d packets out (GSO %v)", taken, v, out.Len(), out.Packets)
			}
			got := cutAll(t, &out)

			var want packet.Batch
			for _, s := range segs.Packets {
				if v := single.Handle(s.Data, &want); v != packet.Consumed {
					t.Fatalf("segment: verdict %v", v)
				}
			}
			if len(got) != want.Len() {
				t.Fatalf("%d segments, one by one %d", len(got), want.Len())
			}
			for i := range got {
				if !bytes.Equal(withoutID(got[i]), withoutID(want.Packets[i])) {
					t.Fatalf("segment %d:\n whole %x\nsingle %x", i, got[i].Data, want.Packets[i].Data)
				}
			}
			s1, s2 := whole.Stats(), single.Stats()
			if s1.OffloadIn != 1 || s1.OffloadOut != 1 {
				t.Errorf("offload counters %d in, %d out", s1.OffloadIn, s1.OffloadOut)
			}
			s1.OffloadIn, s1.OffloadOut = 0, 0
			if s1.Packets4In != s2.Packets4In || s1.Packets6In != s2.Packets6In || s1.Packets4Out != s2.Packets4Out ||
				s1.Packets6Out != s2.Packets6Out || s1.Bytes4In != s2.Bytes4In || s1.Bytes6In != s2.Bytes6In {
				t.Errorf("counters differ:\n whole %+v\nsingle %+v", s1, s2)
			}
			c := whole.Connections()[0]
			d := single.Connections()[0]
			if c.PacketsToBackend != d.PacketsToBackend || c.PacketsToClient != d.PacketsToClient || c.BytesToBackend != d.BytesToBackend || c.BytesToClient != d.BytesToClient {
				t.Errorf("connection counters differ:\n whole %+v\nsingle %+v", c, d)
			}
		})
	}
}

// A backend that announced a smaller MSS than the client's segments gets
// segments cut to it, the payload unchanged.
func TestOffloadCutsToBackendMSS(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	const gso, payload = 1400, 4 * 1400
	c, _ := establishedPairMSS(t, e, payload, 1000)
	var out packet.Batch
	if _, taken := e.HandleOffload(partial(t, c), gso, &out); !taken {
		t.Fatal("refused")
	}
	doff := packet.TCP(c[packet.IPv4MinLen:]).DataOffset()
	if want := 1000 + packet.TCPMinLen - doff; int(out.Packets[0].GSOSize) != want {
		t.Fatalf("segment size %d, want %d", out.Packets[0].GSOSize, want)
	}
	var stream []byte
	for _, s := range cutAll(t, &out) {
		d := decodeOut(t, s)
		if len(d.tcp.Payload) > 1000+packet.TCPMinLen-doff {
			t.Fatalf("segment of %d bytes", len(d.tcp.Payload))
		}
		stream = append(stream, d.tcp.Payload...)
	}
	if !bytes.Equal(stream, c[packet.IPv4MinLen+doff:]) {
		t.Fatal("payload changed")
	}
}

// What the engine wants one segment at a time is refused with nothing
// changed: a connection still being set up, a SYN, segments larger than
// the IPv6 side's MTU.
func TestOffloadRefused(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	c, _ := establishedPair(t, e, 3000)
	syn := pkt4(t, client4, vip, 40001, 80, seg{seq: 5, flags: "S", window: 1000, payload: make([]byte, 3000)})
	notYet := pkt4(t, client4, vip, 40002, 80, seg{seq: 5, flags: "A", window: 1000, payload: make([]byte, 3000)})
	synFlag := bytes.Clone(c)
	packet.TCP(synFlag[packet.IPv4MinLen:])[packet.TCPFlags] |= packet.TCPFlagSYN
	before := e.Stats()
	for name, tc := range map[string]struct {
		pkt []byte
		gso int
	}{
		"no connection":   {notYet, 1000},
		"SYN":             {syn, 1000},
		"SYN flag":        {synFlag, 1000},
		"larger than MTU": {c, 1500},
	} {
		var out packet.Batch
		if _, taken := e.HandleOffload(partial(t, tc.pkt), tc.gso, &out); taken || out.Len() != 0 {
			t.Errorf("%s: taken %v, %d packets out", name, taken, out.Len())
		}
	}
	if after := e.Stats(); after.Packets4In != before.Packets4In || after.OffloadIn != 0 {
		t.Errorf("counters moved: %d -> %d packets in", before.Packets4In, after.Packets4In)
	}
	// Not for a VIP: passed, as Handle passes it.
	other := bytes.Clone(c)
	binary.BigEndian.PutUint32(other[packet.IPv4Dst:], 0xc0000263)
	if v, taken := e.HandleOffload(other, 1000, &packet.Batch{}); !taken || v != packet.Pass {
		t.Errorf("not for a VIP: taken %v, verdict %v", taken, v)
	}
}

func BenchmarkOffload(b *testing.B) {
	const gso = 1400
	for _, dir := range []string{"client-to-backend", "backend-to-client"} {
		// An engine per direction: the client's 63 KB would otherwise
		// leave the backend's acknowledgement behind its window.
		e, _ := newTestEngine(b, nil)
		pkt, p6 := establishedPair(b, e, 45*gso)
		if dir == "backend-to-client" {
			pkt = p6
		}
		out := packet.NewBatch(4, 2048)
		b.Run(dir, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(pkt)))
			for b.Loop() {
				out.Reset()
				if v, ok := e.HandleOffload(pkt, gso, out); !ok || v != packet.Consumed {
					b.Fatalf("taken %v, verdict %v", ok, v)
				}
			}
		})
	}
}
