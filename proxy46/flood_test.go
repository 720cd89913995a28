package proxy46

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/sixgate/sixgate/packet"
)

// synFlood generates SYNs from random spoofed sources to port, rewriting
// one template in place (addresses, ports, ISN, TSval, checksums), so that
// a million of them cost no allocations of their own.
type synFlood struct {
	pkt []byte
	rng *rand.Rand
}

func newSynFlood(t testing.TB, port uint16, seed uint64) *synFlood {
	p := pkt4(t, client4, vip, 1, port, seg{seq: 1, flags: "S", window: 64240,
		opts: []layers.TCPOption{optMSSv(1460), optSACKOK(), optTS(1, 0), optNOPv(), optWS(7)}})
	return &synFlood{pkt: p, rng: rand.New(rand.NewPCG(seed, 0))}
}

// next returns the next spoofed SYN; the slice is reused.
func (f *synFlood) next() []byte {
	p := f.pkt
	r := f.rng.Uint64()
	// Sources in 100.64.0.0/10, never the test client.
	binary.BigEndian.PutUint32(p[packet.IPv4Src:], 100<<24|64<<16|uint32(r)&0x3fffff)
	binary.BigEndian.PutUint16(p[20+packet.TCPSrcPort:], uint16(r>>24)|1024)
	binary.BigEndian.PutUint32(p[20+packet.TCPSeq:], uint32(r>>32))
	binary.BigEndian.PutUint32(p[20+packet.TCPMinLen+8:], uint32(r>>16)) // TSval
	return refix4(p)
}

// TestSynFloodMemoryBounded sends a million SYNs from random spoofed
// sources: the table must stop at the cookie threshold and the heap must
// not grow with the flood.
func TestSynFloodMemoryBounded(t *testing.T) {
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	e, _ := newTestEngine(t, nil)
	threshold := e.cfg.SynCookieThreshold
	flood := newSynFlood(t, 80, 1)
	out := packet.NewBatch(4, 2048)
	for i := 0; i < threshold; i++ { // warm up: the stateful part
		out.Reset()
		e.Handle(flood.next(), out)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	for i := threshold; i < n; i++ {
		out.Reset()
		if e.Handle(flood.next(), out) != packet.Consumed || out.Len() != 1 {
			t.Fatalf("SYN %d not answered", i)
		}
	}
	elapsed := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)
	st := e.Stats()
	growth := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d spoofed SYNs in %v: table %d (threshold %d), %d cookies; heap %d KiB -> %d KiB (%+d KiB), %d mallocs during the cookie phase",
		n, elapsed.Round(time.Millisecond), e.Len(), threshold, st.SynCookiesSent,
		before.HeapAlloc>>10, after.HeapAlloc>>10, growth>>10, after.Mallocs-before.Mallocs)
	if e.Len() != threshold || st.ByState[StateSynReceived] != int64(threshold) {
		t.Errorf("table %d, want the threshold %d", e.Len(), threshold)
	}
	if st.SynCookiesSent != uint64(n-threshold) {
		t.Errorf("%d cookies sent, want %d", st.SynCookiesSent, n-threshold)
	}
	if growth > 1<<20 {
		t.Errorf("heap grew by %d KiB during the cookie phase", growth>>10)
	}
}

// TestSynCookieOptions checks what a cookie carries: MSS rounded down to
// the table, and with timestamps the window scale and SACK; without
// timestamps neither is offered.
func TestSynCookieOptions(t *testing.T) {
	e, _ := newTestEngine(t, func(c *Config) { c.SynCookieThreshold, c.MaxEmbryonic = 1, 8 })
	handle(t, e, pkt4(t, client4, vip, 44000, 22, seg{seq: 1, flags: "S"})) // stateful, now one embryonic
	for _, tc := range []struct {
		name    string
		opts    []layers.TCPOption
		mss     uint16
		ts      bool
		wscale  int // -1: none
		sack    bool
		backend int // MSS in the backend SYN
	}{
		{"all", []layers.TCPOption{optMSSv(1460), optSACKOK(), optTS(77, 0), optNOPv(), optWS(9)}, 1460, true, 9, true, 1440},
		// With timestamps the backend is told 12 bytes less (room for a
		// TSopt the engine adds if the backend refuses timestamps).
		{"no-sack", []layers.TCPOption{optMSSv(1380), optTS(77, 0), optNOPv(), optWS(0)}, 1360, true, 0, false, 1348},
		{"no-wscale", []layers.TCPOption{optMSSv(9000), optSACKOK(), optTS(77, 0)}, 8960, true, -1, true, 1440},
		{"no-timestamps", []layers.TCPOption{optMSSv(1460), optSACKOK(), optNOPv(), optWS(9)}, 1460, false, -1, false, 1440},
		{"nothing", nil, 536, false, -1, false, 536},
		// Below 536 an MSS is rounded down too, never up: a sender must
		// not exceed it (RFC 9293 §3.7.1).
		{"mss-500", []layers.TCPOption{optMSSv(500)}, 500, false, -1, false, 256},
		{"mss-100", []layers.TCPOption{optMSSv(100)}, 100, false, -1, false, 64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cport := 44100 + uint16(e.Stats().SynCookiesSent)
			before := e.Len()
			sa := handle1(t, e, pkt4(t, client4, vip, cport, 22, seg{seq: 5000, flags: "S", window: 29200, opts: tc.opts}))
			o := tcpOpts(sa.tcp)
			_, hasTS := o[layers.TCPOptionKindTimestamps]
			_, hasWS := o[layers.TCPOptionKindWindowScale]
			_, hasSACK := o[layers.TCPOptionKindSACKPermitted]
			if hasTS != tc.ts || hasWS != (tc.wscale >= 0) || hasSACK != tc.sack {
				t.Fatalf("cookie SYN-ACK options %v", sa.tcp.Options)
			}
			if e.Len() != before {
				t.Fatalf("a cookie SYN kept state")
			}
			ackOpts := []layers.TCPOption(nil)
			if hasTS {
				tsv, _ := tsOf(t, sa.tcp)
				ackOpts = []layers.TCPOption{optNOPv(), optNOPv(), optTS(78, tsv)}
			}
			// Port 22 is round robin: the ACK opens the backend at once.
			_, ds := handle(t, e, pkt4(t, client4, vip, cport, 22, seg{seq: 5001, ack: sa.tcp.Seq + 1, flags: "A", window: 229, opts: ackOpts}))
			if len(ds) != 1 || !ds[0].tcp.SYN || ds[0].tcp.Seq != 5000 {
				t.Fatalf("no backend SYN with the client's ISN: %+v", ds)
			}
			bo := tcpOpts(ds[0].tcp)
			if mss := binary.BigEndian.Uint16(bo[layers.TCPOptionKindMSS]); int(mss) != tc.backend {
				t.Errorf("backend MSS %d, want %d", mss, tc.backend)
			}
			ws, hasWS := bo[layers.TCPOptionKindWindowScale]
			if hasWS != (tc.wscale >= 0) || hasWS && int(ws[0]) != tc.wscale {
				t.Errorf("backend window scale %v, want %d", ws, tc.wscale)
			}
			if _, ok := bo[layers.TCPOptionKindSACKPermitted]; ok != tc.sack {
				t.Errorf("backend SACK %v, want %v", ok, tc.sack)
			}
			if tc.ts {
				if val, _ := tsOf(t, ds[0].tcp); val != 78 {
					t.Errorf("backend TSval %d, want the client's 78", val)
				}
			}
			wantWin := uint16(229)
			if tc.wscale > 0 {
				wantWin = uint16(min(229<<tc.wscale, 0xffff))
			}
			if ds[0].tcp.Window != wantWin {
				t.Errorf("backend SYN window %d, want %d", ds[0].tcp.Window, wantWin)
			}
		})
	}
}

// TestSynCookieTinyMSS: a SYN announcing an MSS below the smallest a
// cookie carries is dropped under cookies rather than answered with a
// larger MSS.
func TestSynCookieTinyMSS(t *testing.T) {
	e, _ := newTestEngine(t, func(c *Config) { c.SynCookieThreshold, c.MaxEmbryonic = 1, 8 })
	handle(t, e, pkt4(t, client4, vip, 44000, 22, seg{seq: 1, flags: "S"}))
	v, ds := handle(t, e, pkt4(t, client4, vip, 44001, 22, seg{seq: 1, flags: "S", opts: []layers.TCPOption{optMSSv(40)}}))
	if v != packet.Drop || len(ds) != 0 || e.Stats().Drops[DropCookieMSS] != 1 {
		t.Fatalf("SYN with MSS 40 under cookies: %v, %d packets, drops %v", v, len(ds), e.Stats().Drops)
	}
}

// TestSynCookieAge accepts a cookie two ticks old and refuses it at three,
// and refuses one bound to another ISN or tuple.
func TestSynCookieAge(t *testing.T) {
	g := newISNGenerator([16]byte{7})
	src, dst := [4]byte{198, 51, 100, 7}, [4]byte{192, 0, 2, 10}
	for idx := uint32(0); idx < cookieMSSEntries; idx++ {
		c := g.cookie(src, dst, 40000, 80, 12345, 1000, idx)
		for age := uint32(0); age <= cookieMaxAge+1; age++ {
			got, ok := g.checkCookie(src, dst, 40000, 80, 12345, c, 1000+age)
			if ok != (age <= cookieMaxAge) || ok && got != idx {
				t.Errorf("idx %d age %d: %d %v", idx, age, got, ok)
			}
		}
		for d := uint32(1); d < 16; d++ {
			if _, ok := g.checkCookie(src, dst, 40000, 80, 12345+d, c, 1000); ok {
				t.Errorf("cookie accepted for the ISN %d past", d)
			}
		}
		if _, ok := g.checkCookie(src, dst, 40001, 80, 12345, c, 1000); ok {
			t.Errorf("cookie accepted for another port")
		}
	}
	// Random cookies are accepted about len(table)*3/2^24 of the time.
	rng := rand.New(rand.NewPCG(3, 3))
	accepted := 0
	for i := 0; i < 200_000; i++ {
		if _, ok := g.checkCookie(src, dst, 40000, 80, 12345, rng.Uint32(), 1000); ok {
			accepted++
		}
	}
	if accepted > 2 {
		t.Errorf("%d of 200000 random cookies accepted", accepted)
	}
	// The timestamp carries the options and never runs ahead of the clock.
	for _, base := range []uint32{0, 5, 63, 64, 1 << 31, 0xffffffff} {
		for _, ws := range []int{-1, 0, 7, 14} {
			for _, sack := range []bool{false, true} {
				for gen := range uint8(2) {
					ts := cookieTSVal(base, ws >= 0, uint8(max(ws, 0)), sack, gen)
					if int32(ts-base) > 0 {
						t.Errorf("TSval %d ahead of %d", ts, base)
					}
					w, s, sk, g, ok := decodeCookieTS(base+1000, ts)
					if !ok || w != (ws >= 0) || w && int(s) != ws || sk != sack || g != gen {
						t.Errorf("base %d ws %d sack %v gen %d: decoded %v %d %v %d %v", base, ws, sack, gen, w, s, sk, g, ok)
					}
				}
			}
		}
		if _, _, _, _, ok := decodeCookieTS(base, base+100); ok {
			t.Errorf("TSecr from the future accepted")
		}
	}
}

// TestNetstackSynFlood floods the VIP with spoofed SYNs while a real
// client (gVisor) connects, is answered with cookies, and moves data both
// ways intact; the table stays bounded throughout.
func TestNetstackSynFlood(t *testing.T) {
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	f := e2eFabric(t, impairment{}, impairment{})
	threshold := f.engine.cfg.SynCookieThreshold

	var sent atomic.Int64
	var maxLen atomic.Int64
	floodDone := make(chan struct{})
	go func() {
		defer close(floodDone)
		flood := newSynFlood(t, 80, 2)
		out := packet.NewBatch(4, 2048)
		for i := 0; i < n && ctx.Err() == nil; i++ {
			out.Reset()
			f.engine.Handle(flood.next(), out) // the SYN-ACKs go nowhere
			sent.Add(1)
			if i%1024 == 0 {
				if l := int64(f.engine.Len()); l > maxLen.Load() {
					maxLen.Store(l)
				}
				runtime.Gosched()
			}
		}
	}()
	// Wait for the flood to reach the threshold, so that the client is
	// answered with cookies.
	for f.engine.Stats().SynCookiesSent == 0 {
		time.Sleep(time.Millisecond)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i, port := range []uint16{9000, 9001} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := bulk(ctx, f, port, 1<<20, 1<<20, uint64(100+i)); err != nil {
				errs <- err
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if got, err := echo(ctx, f, "Bhello"); err != nil || got != "B:Bhello" {
			errs <- fmt.Errorf("echo during the flood: %q, %v", got, err)
		}
	}()
	wg.Wait()
	during := sent.Load()
	<-floodDone
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st := f.engine.Stats()
	t.Logf("%d spoofed SYNs (%d while the client worked); largest table %d (threshold %d); cookies sent %d, accepted %d; spliced %d",
		sent.Load(), during, maxLen.Load(), threshold, st.SynCookiesSent, st.SynCookiesAccepted, st.Spliced)
	if st.SynCookiesAccepted < 3 || st.Spliced < 3 {
		t.Errorf("client connections not through cookies: %d accepted, %d spliced", st.SynCookiesAccepted, st.Spliced)
	}
	// The flood's own state is the threshold; the client's connections
	// (lingering) come on top.
	if m := maxLen.Load(); m > int64(threshold)+3 {
		t.Errorf("table reached %d, threshold %d", m, threshold)
	}
}
