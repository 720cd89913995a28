package nat64

import (
	"encoding/binary"
	"net/netip"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/sixgate/sixgate/packet"
)

// BenchmarkEstablished is the per-packet cost of a UDP session, one
// packet each way.
func BenchmarkEstablished(b *testing.B) {
	e, _ := newDefault(b)
	out6 := udp6(b, ap(h1, 2000), ap(r1v6, 5300), string(make([]byte, 64)))
	in4 := udp4(b, ap(r1, 5300), ap(p4, 2000), string(make([]byte, 64)))
	batch := packet.NewBatch(4, packet.DefaultBufSize)
	e.Handle(out6, batch)
	batch.Reset()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.Handle(out6, batch)
		e.Handle(in4, batch)
		batch.Reset()
	}
}

func heapBytes() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	runtime.GC()
	runtime.GC()
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// BenchmarkSessionMemory opens 10^6 UDP sessions, each with its own
// binding (the worst case: one per IPv6 host and port), and reports the
// heap they take per session (runtime/metrics, after GC). The goal is at
// most 256 bytes (256 MB per 10^6).
func BenchmarkSessionMemory(b *testing.B) {
	const n = 1_000_000
	for range b.N {
		clk := &fakeClock{t: time.Unix(1_000_000, 0)}
		c := testConfig(clk)
		c.Pool4 = nil
		for i := 0; i < 16; i++ {
			c.Pool4 = append(c.Pool4, Pool4Entry{Address: netip.AddrFrom4([4]byte{192, 0, 2, byte(10 + i)}), First: 1024, Last: 65535, Protocols: []Protocol{UDP}})
		}
		c.Limits = Limits{Sessions: n, Bindings: n, BindingsPerHost: n, SessionsPerHost: n}
		e := newTest(b, c)
		pkt := udp6(b, ap(h1, 1), ap(r1v6, 5300), "x")
		batch := packet.NewBatch(4, packet.DefaultBufSize)
		before := heapBytes()
		for i := 0; i < n; i++ {
			// 1000 hosts, 1000 ports each.
			binary.BigEndian.PutUint32(pkt[packet.IPv6Src+12:], uint32(i/1000))
			binary.BigEndian.PutUint16(pkt[40:], uint16(1024+i%1000))
			fixUDP6(pkt)
			if e.Handle(pkt, batch) != packet.Consumed {
				b.Fatalf("packet %d not translated: %+v", i, e.Stats().Drops)
			}
			batch.Reset()
		}
		after := heapBytes()
		if got := e.Stats().Sessions["udp"]; got != n {
			b.Fatalf("%d sessions", got)
		}
		per := float64(after-before) / n
		b.ReportMetric(per, "bytes/session")
		b.ReportMetric(float64(after-before)/(1<<20), "MB/1e6-sessions")
		runtime.KeepAlive(e)
	}
}

// fixUDP6 recomputes the UDP checksum of an IPv6 packet with no
// extension headers.
func fixUDP6(pkt []byte) {
	u := packet.UDP(pkt[packet.IPv6HeaderLen:])
	u.SetChecksum(0)
	ip := packet.IPv6(pkt)
	c := packet.Checksum(packet.PseudoHeaderSum(pkt[packet.IPv6Src:packet.IPv6Src+16], pkt[packet.IPv6Dst:packet.IPv6Dst+16], packet.ProtoUDP, int(ip.PayloadLength())), pkt[packet.IPv6HeaderLen:])
	if c == 0 {
		c = 0xffff
	}
	u.SetChecksum(c)
}

// BenchmarkNewSession is the cost of a TCP SYN from IPv6 that makes a
// binding and a session (sessions expire as they would, on a short
// transitory timer, so the table stays small).
func BenchmarkNewSession(b *testing.B) {
	clk := &fakeClock{t: time.Unix(1_000_000, 0)}
	c := testConfig(clk)
	c.Pool4 = []Pool4Entry{{Address: p4, First: 1024, Last: 65535}}
	c.Timeouts.TCPTransitory = time.Second
	c.Limits = Limits{BindingsPerHost: 1 << 20, SessionsPerHost: 1 << 20}
	e := newTest(b, c)
	syn := tcp6(b, ap(h1, 1024), ap(r1v6, 80), layersTCPSyn())
	batch := packet.NewBatch(4, packet.DefaultBufSize)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		binary.BigEndian.PutUint16(syn[40:], uint16(1024+i%60000))
		fixTCP6(syn)
		if e.Handle(syn, batch) != packet.Consumed {
			b.Fatalf("SYN %d refused: %v", i, e.Stats().Drops)
		}
		batch.Reset()
		if i%1000 == 0 {
			clk.advance(100 * time.Millisecond)
			e.Expire(batch)
			batch.Reset()
		}
	}
}

func fixTCP6(pkt []byte) {
	t := packet.TCP(pkt[packet.IPv6HeaderLen:])
	t.SetChecksum(0)
	ip := packet.IPv6(pkt)
	t.SetChecksum(packet.Checksum(packet.PseudoHeaderSum(pkt[packet.IPv6Src:packet.IPv6Src+16], pkt[packet.IPv6Dst:packet.IPv6Dst+16], packet.ProtoTCP, int(ip.PayloadLength())), pkt[packet.IPv6HeaderLen:]))
}
