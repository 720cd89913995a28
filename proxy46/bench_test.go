package proxy46

import (
	"fmt"
	"testing"

	"github.com/gopacket/gopacket/layers"
	"github.com/sixgate/sixgate/packet"
)

// establishedPair sets up one spliced connection through the real
// handshake and returns a client and a backend segment for it.
func establishedPair(t testing.TB, e *Engine, payload int) (fromClient, fromBackend []byte) {
	t.Helper()
	return establishedPairMSS(t, e, payload, 8940)
}

// establishedPairMSS is establishedPair with the backend announcing mss.
func establishedPairMSS(t testing.TB, e *Engine, payload int, mss uint16) (fromClient, fromBackend []byte) {
	t.Helper()
	const cport, isnC, isnB = 50000, 1, 900
	out := packet.NewBatch(4, 2048)
	syn := pkt4(t, client4, vip, cport, 22, seg{seq: isnC, flags: "S", window: 64240,
		opts: []layers.TCPOption{optMSSv(1460), optSACKOK(), optTS(100, 0), optNOPv(), optWS(8)}})
	e.Handle(syn, out)
	isnV := decodeOut(t, out.Packets[0]).tcp.Seq
	out.Reset()
	e.Handle(pkt4(t, client4, vip, cport, 22, seg{seq: isnC + 1, ack: isnV + 1, flags: "A",
		opts: []layers.TCPOption{optNOPv(), optNOPv(), optTS(101, 1)}}), out)
	if out.Len() != 1 {
		t.Fatalf("round-robin service sent %d packets at the handshake", out.Len())
	}
	bsyn := decodeOut(t, out.Packets[0])
	backend := ip(bsyn.ip6.DstIP)
	bport := uint16(bsyn.tcp.DstPort)
	out.Reset()
	e.Handle(pkt6(t, backend, client6, bport, cport, seg{seq: isnB, ack: isnC + 1, flags: "SA",
		opts: []layers.TCPOption{optMSSv(mss), optSACKOK(), optTS(7, 101), optNOPv(), optWS(6)}}), out)
	data := make([]byte, payload)
	fromClient = pkt4(t, client4, vip, cport, 22, seg{seq: isnC + 1, ack: isnV + 1, flags: "PA",
		opts: []layers.TCPOption{optNOPv(), optNOPv(), optTS(102, 7)}, payload: data})
	fromBackend = pkt6(t, backend, client6, bport, cport, seg{seq: isnB + 1, ack: isnC + 1, flags: "PA",
		opts: []layers.TCPOption{optNOPv(), optNOPv(), optTS(8, 102)}, payload: data})
	return fromClient, fromBackend
}

// addSynthetic fills the table with n established connections without
// running n handshakes, so that lookups run against a table of that size.
func addSynthetic(e *Engine, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	svc := e.services[vipKey{vip.As4(), 80}]
	for i := 0; i < n; i++ {
		k4 := key4{client: [4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}, vip: svc.vip,
			clientPort: uint16(1024 + i%60000), vipPort: 80}
		b := &svc.backends[i%len(svc.backends)]
		c := &conn{svc: svc, state: StateEstablished, k4: k4, backend: i % len(svc.backends)}
		c.k6 = key6{backend: b.addr, client6: packet.Embed4(e.pool, e.poolBits, k4.client), backendPort: b.port, clientPort: k4.clientPort}
		c.adj46, c.adj64 = addressAdjustments(c.k4, c.k6)
		e.insert(c)
		e.by6[c.k6] = c
	}
}

func BenchmarkEstablished(b *testing.B) {
	for _, conns := range []int{1, 10_000, 1_000_000} {
		for _, size := range []int{64, 1460} {
			// MTU6 above 1500 lets a 1460-byte client payload through.
			e, _ := newTestEngine(b, func(c *Config) { c.MaxConnections = 2_000_000; c.MTU6 = 9000 })
			addSynthetic(e, conns-1)
			p4, p6 := establishedPair(b, e, size)
			out := packet.NewBatch(4, 2048)
			b.Run(fmt.Sprintf("conns=%d/payload=%d/client-to-backend", conns, size), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(p4)))
				for b.Loop() {
					out.Reset()
					if e.Handle(p4, out) != packet.Consumed {
						b.Fatal("not consumed")
					}
				}
			})
			b.Run(fmt.Sprintf("conns=%d/payload=%d/backend-to-client", conns, size), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(p6)))
				for b.Loop() {
					out.Reset()
					if e.Handle(p6, out) != packet.Consumed {
						b.Fatal("not consumed")
					}
				}
			})
		}
	}
}

// TestEstablishedPathAllocatesNothing asserts the zero-allocation promise
// of the established path in both directions.
func TestEstablishedPathAllocatesNothing(t *testing.T) {
	e, _ := newTestEngine(t, func(c *Config) { c.MTU6 = 9000 })
	addSynthetic(e, 1000)
	p4, p6 := establishedPair(t, e, 1460)
	out := packet.NewBatch(4, 2048)
	allocs := testing.AllocsPerRun(1000, func() {
		out.Reset()
		e.Handle(p4, out)
		e.Handle(p6, out)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per round trip, want 0", allocs)
	}
	if out.Len() != 2 {
		t.Fatalf("%d packets out, want 2", out.Len())
	}
	decodeOut(t, out.Packets[0])
	decodeOut(t, out.Packets[1])
}

// BenchmarkReconfigure measures a reload's hold on the engine: the whole
// of Reconfigure runs under its lock, while packets wait. "kept": nothing
// removed, nothing draining; "draining": a backend removed, so that every
// spliced connection is looked at.
func BenchmarkReconfigure(b *testing.B) {
	for _, conns := range []int{1_000, 100_000, 1_000_000} {
		for _, remove := range []bool{false, true} {
			clock := newFakeClock()
			e, _ := newTestEngine(b, func(c *Config) { c.MaxConnections = 2_000_000; c.Clock = clock.Now })
			addSynthetic(e, conns)
			cfg := testConfig(clock)
			cfg.MaxConnections = 2_000_000
			name, want := "kept", Reconfiguration{Kept: conns}
			if remove {
				// Port 80's backends alternate A, B, default C: drop A.
				cfg.Services[0].Backends = cfg.Services[0].Backends[1:]
				name = "draining"
				want = Reconfiguration{Kept: conns - (conns+2)/3, Draining: (conns + 2) / 3}
			}
			out := packet.NewBatch(0, 0)
			b.Run(fmt.Sprintf("conns=%d/%s", conns, name), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if r, err := e.Reconfigure(cfg, out); err != nil || r != want {
						b.Fatalf("%+v, %v; want %+v", r, err, want)
					}
				}
			})
		}
	}
}
