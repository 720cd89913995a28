package proxy46

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/sixgate/sixgate/packet"
)

// reconfigure applies mod to the engine's test configuration and returns
// what it did and the packets it sent, decoded and checked.
func reconfigure(t *testing.T, e *Engine, clock *fakeClock, mod func(*Config)) (Reconfiguration, []decoded) {
	t.Helper()
	cfg := testConfig(clock)
	if mod != nil {
		mod(&cfg)
	}
	out := packet.NewBatch(4, 2048)
	r, err := e.Reconfigure(cfg, out)
	if err != nil {
		t.Fatal(err)
	}
	var ds []decoded
	for _, p := range out.Packets {
		ds = append(ds, decodeOut(t, p))
	}
	return r, ds
}

// withoutBackend drops addr from the round-robin service on port 22.
func withoutBackend(addr netip.AddrPort) func(*Config) {
	return func(c *Config) {
		for i, s := range c.Services {
			if s.Port == 22 {
				s.Backends = slices.DeleteFunc(slices.Clone(s.Backends), func(b Backend) bool { return b.Addr == addr })
				c.Services[i] = s
			}
		}
	}
}

// streamed runs some bytes each way over a spliced connection: 100 from
// the backend that the client acknowledges, 10 from the client that the
// backend acknowledges, then unacked bytes from the backend.
func streamed(t *testing.T, e *Engine, s splicedConn, unacked int) {
	t.Helper()
	for _, p := range [][]byte{
		s.fromBackend(t, 0, s.isnC+1, "PA", strings.Repeat("b", 100)),
		s.fromClient(t, 0, s.isnV+101, "A", ""),
		s.fromClient(t, 0, s.isnV+101, "PA", "0123456789"),
		s.fromBackend(t, 100, s.isnC+11, "A", ""),
	} {
		if v, ds := handle(t, e, p); v != packet.Consumed || len(ds) != 1 {
			t.Fatalf("streaming: %v, %d packets", v, len(ds))
		}
	}
	if unacked > 0 {
		handle1(t, e, s.fromBackend(t, 100, s.isnC+11, "PA", strings.Repeat("u", unacked)))
	}
}

// TestDrainResetsBothEnds: a spliced connection whose backend a
// reconfiguration removed goes on working until the drain timeout, then
// is reset towards the client (from the VIP, at the sequence numbers the
// client may expect: what it acknowledged, and the end of what the
// backend sent) and towards the backend (from the client's pool6
// address, at what the backend acknowledged).
func TestDrainResetsBothEnds(t *testing.T) {
	for _, unacked := range []int{0, 50} {
		e, clock := newTestEngine(t, nil)
		s := spliceL4(t, e, 41000)
		streamed(t, e, s, unacked)
		serving := netip.AddrPortFrom(s.backend, s.bport)

		r, ds := reconfigure(t, e, clock, func(c *Config) {
			withoutBackend(serving)(c)
			c.Timeouts.Drain = 30 * time.Second
		})
		if r.Draining != 1 || r.Kept != 0 || len(ds) != 0 {
			t.Fatalf("reconfiguration %+v, %d packets", r, len(ds))
		}
		if st := e.Stats(); st.Draining != 1 {
			t.Fatalf("draining gauge %d", st.Draining)
		}
		if cs := e.Connections(); len(cs) != 1 || cs[0].Drain != 30*time.Second {
			t.Fatalf("connections %+v, want one with 30 s of drain left", cs)
		}
		// Still working both ways, right up to the deadline.
		clock.Advance(29 * time.Second)
		if ds := expire(t, e); len(ds) != 0 {
			t.Fatalf("before the deadline the timer sent %d packets", len(ds))
		}
		if d := handle1(t, e, s.fromClient(t, 10, s.isnV+101, "PA", "more")); d.ip6 == nil || ip(d.ip6.DstIP) != s.backend {
			t.Fatalf("client segment while draining: %+v", d)
		}
		end := uint32(100 + unacked)
		if d := handle1(t, e, s.fromBackend(t, end, s.isnC+15, "A", "")); d.ip4 == nil {
			t.Fatalf("backend segment while draining: %+v", d)
		}

		clock.Advance(time.Second)
		ds = expire(t, e)
		var toClient, toBackend []uint32
		for _, d := range ds {
			if !d.tcp.RST || d.tcp.SYN || d.tcp.FIN || len(d.tcp.Payload) != 0 {
				t.Fatalf("drain sent %+v, want resets only", d.tcp)
			}
			switch {
			case d.ip4 != nil:
				if ip(d.ip4.SrcIP) != vip || ip(d.ip4.DstIP) != client4 || d.tcp.SrcPort != 22 || d.tcp.DstPort != layers.TCPPort(s.cport) {
					t.Fatalf("client reset addressed %v:%d -> %v:%d", d.ip4.SrcIP, d.tcp.SrcPort, d.ip4.DstIP, d.tcp.DstPort)
				}
				toClient = append(toClient, d.tcp.Seq)
			default:
				if ip(d.ip6.SrcIP) != client6 || ip(d.ip6.DstIP) != s.backend ||
					d.tcp.SrcPort != layers.TCPPort(s.cport) || d.tcp.DstPort != layers.TCPPort(s.bport) {
					t.Fatalf("backend reset addressed %v:%d -> %v:%d", d.ip6.SrcIP, d.tcp.SrcPort, d.ip6.DstIP, d.tcp.DstPort)
				}
				toBackend = append(toBackend, d.tcp.Seq)
			}
		}
		wantClient := []uint32{s.isnV + 101} // what the client acknowledged
		if unacked > 0 {
			wantClient = append(wantClient, s.isnV+101+uint32(unacked)) // the end of what the backend sent
		}
		if !slices.Equal(toClient, wantClient) {
			t.Errorf("unacked %d: client resets at %v, want %v", unacked, toClient, wantClient)
		}
		if want := []uint32{s.isnC + 15}; !slices.Equal(toBackend, want) {
			t.Errorf("unacked %d: backend resets at %v, want %v", unacked, toBackend, want)
		}
		st := e.Stats()
		if st.Drained != 1 || st.Draining != 0 || e.Len() != 0 {
			t.Errorf("after the drain: drained %d, draining %d, %d connections", st.Drained, st.Draining, e.Len())
		}
	}
}

// TestDrainStopsWhenBackendReturns: a backend re-added before the drain
// deadline keeps its connections; nothing is reset.
func TestDrainStopsWhenBackendReturns(t *testing.T) {
	e, clock := newTestEngine(t, nil)
	s := spliceL4(t, e, 41001)
	serving := netip.AddrPortFrom(s.backend, s.bport)
	if r, _ := reconfigure(t, e, clock, withoutBackend(serving)); r.Draining != 1 {
		t.Fatalf("removal: %+v", r)
	}
	clock.Advance(time.Minute)
	if r, ds := reconfigure(t, e, clock, nil); r.Undrained != 1 || r.Kept != 1 || len(ds) != 0 {
		t.Fatalf("re-added: %+v, %d packets", r, len(ds))
	}
	clock.Advance(DefaultDrain)
	if ds := expire(t, e); len(ds) != 0 {
		t.Fatalf("the timer sent %d packets past the old deadline", len(ds))
	}
	if st := e.Stats(); st.Drained != 0 || st.Draining != 0 || e.Len() != 1 {
		t.Fatalf("drained %d, draining %d, %d connections", st.Drained, st.Draining, e.Len())
	}
	handle1(t, e, s.fromClient(t, 0, s.isnV+1, "PA", "still"))
}

// TestReconfigureLeavesKeptConnections: a connection whose service and
// backend stay is not touched by a change of everything else.
func TestReconfigureLeavesKeptConnections(t *testing.T) {
	e, clock := newTestEngine(t, nil)
	s := spliceL4(t, e, 41002)
	ws := uint8(2)
	r, ds := reconfigure(t, e, clock, func(c *Config) {
		c.Services = append(c.Services[:1:1], c.Services[3]) // ports 80 and 22
		c.MTU6, c.WindowScale, c.MaxConnections = 1400, &ws, 10
		c.Timeouts.Idle = time.Hour
	})
	if r != (Reconfiguration{Kept: 1}) || len(ds) != 0 {
		t.Fatalf("reconfiguration %+v, %d packets", r, len(ds))
	}
	streamed(t, e, s, 0)
	// New handshakes take the new settings: MSS from MTU6, the shift.
	sa := handle1(t, e, pkt4(t, client4, vip, 41003, 22, seg{seq: 5, flags: "S", opts: []layers.TCPOption{optMSSv(1460), optWS(7)}}))
	o := tcpOpts(sa.tcp)
	if mss := uint16(o[layers.TCPOptionKindMSS][0])<<8 | uint16(o[layers.TCPOptionKindMSS][1]); mss != 1340 || o[layers.TCPOptionKindWindowScale][0] != 2 {
		t.Errorf("SYN-ACK after the change: MSS %d, shift %d; want 1340 and 2", mss, o[layers.TCPOptionKindWindowScale][0])
	}
	if v, _ := handle(t, e, pkt4(t, client4, vip, 41004, 443, seg{seq: 5, flags: "S"})); v != packet.Drop {
		t.Errorf("SYN to the removed service: %v, want a drop with a reset", v)
	}
}

// TestLoweredBoundRefusesWithoutEvicting: lowering MaxConnections below
// the table's size evicts nothing; new connections are refused until the
// count falls under the bound.
func TestLoweredBoundRefusesWithoutEvicting(t *testing.T) {
	e, clock := newTestEngine(t, nil)
	syn := func(port uint16) packet.Verdict {
		v, _ := handle(t, e, pkt4(t, client4, vip, port, 22, seg{seq: 1000, flags: "S"}))
		return v
	}
	for p := uint16(42000); p < 42003; p++ {
		if syn(p) != packet.Consumed {
			t.Fatal("SYN refused")
		}
	}
	r, _ := reconfigure(t, e, clock, func(c *Config) { c.MaxConnections, c.SynCookieThreshold = 2, -1 })
	if r.Kept != 3 || e.Len() != 3 {
		t.Fatalf("lowering the bound: %+v, %d connections", r, e.Len())
	}
	if syn(42010) != packet.Drop || e.Stats().Drops[DropTableFull] != 1 {
		t.Fatal("a SYN was taken above the lowered bound")
	}
	abort := func(port uint16) { handle(t, e, pkt4(t, client4, vip, port, 22, seg{seq: 1001, flags: "R"})) }
	abort(42000)
	if syn(42011) != packet.Drop || e.Len() != 2 {
		t.Fatalf("at the bound: a SYN taken, or %d connections", e.Len())
	}
	abort(42001)
	if syn(42012) != packet.Consumed || e.Len() != 2 {
		t.Fatalf("under the bound: the SYN refused, %d connections", e.Len())
	}
}

// TestTimeoutsChangeLive: new timeouts apply to the connections already
// open, from the reconfiguration on.
func TestTimeoutsChangeLive(t *testing.T) {
	e, clock := newTestEngine(t, nil)
	spliceL4(t, e, 41005)
	handshake(t, e, 80, 41006, 3000) // holding, waiting for its first bytes
	clock.Advance(time.Second)
	reconfigure(t, e, clock, func(c *Config) { c.Timeouts.Idle, c.Timeouts.Embryonic = 10*time.Second, 2*time.Second })
	clock.Advance(time.Second) // 2 s after the holding one's SYN
	ds := expire(t, e)
	if st := e.Stats(); st.EmbryonicExpired != 1 || len(ds) != 1 || ds[0].ip6 == nil || ip(ds[0].ip6.DstIP) != backendC.Addr() {
		t.Fatalf("holding connection at the new embryonic timeout: expired %d, sent %+v (want a SYN to the default)", st.EmbryonicExpired, ds)
	}
	clock.Advance(8 * time.Second) // 10 s since the spliced one's last segment
	expire(t, e)
	if st := e.Stats(); st.IdleExpired != 1 {
		t.Fatalf("spliced connection at the new idle timeout: idle-expired %d", st.IdleExpired)
	}
}

// TestRedirectFromRemovedBackend: a connection waiting for a removed
// backend's SYN-ACK resets it and goes to the next candidate of the new
// configuration, as a refusal would send it.
func TestRedirectFromRemovedBackend(t *testing.T) {
	e, clock := newTestEngine(t, nil)
	syn := pkt4(t, client4, vip, 41007, 22, seg{seq: 1000, flags: "S"})
	isnV := handle1(t, e, syn).tcp.Seq
	first := handle1(t, e, pkt4(t, client4, vip, 41007, 22, seg{seq: 1001, ack: isnV + 1, flags: "A"}))
	from := netip.AddrPortFrom(ip(first.ip6.DstIP), uint16(first.tcp.DstPort))
	r, ds := reconfigure(t, e, clock, withoutBackend(from))
	if r.Redirected != 1 || len(ds) != 2 {
		t.Fatalf("reconfiguration %+v, %d packets", r, len(ds))
	}
	if d := ds[0]; !d.tcp.RST || ip(d.ip6.DstIP) != from.Addr() || d.tcp.Seq != 1001 {
		t.Errorf("first packet %+v, want a RST to %v at 1001", d.tcp, from)
	}
	if d := ds[1]; !d.tcp.SYN || d.tcp.ACK || ip(d.ip6.DstIP) == from.Addr() || d.tcp.Seq != 1000 {
		t.Errorf("second packet %+v, want the client's SYN to the other backend", d.tcp)
	}
	if st := e.Stats(); st.Failovers != 1 || st.Draining != 0 {
		t.Errorf("failovers %d, draining %d", st.Failovers, st.Draining)
	}
}

// TestRemovedServiceDrains: a connection to a service removed with its
// VIP goes on while it drains; the VIP is the engine's until the drain
// ends, then passed on like any other address.
func TestRemovedServiceDrains(t *testing.T) {
	e, clock := newTestEngine(t, nil)
	s := spliceL4(t, e, 41008)
	other := netip.MustParseAddr("192.0.2.99")
	r, _ := reconfigure(t, e, clock, func(c *Config) {
		c.Services = []Service{{VIP: other, Port: 22, Policy: PolicyRoundRobin, Backends: []Backend{{Addr: backendB}}}}
		c.Timeouts.Drain = time.Second
	})
	if r.Draining != 1 {
		t.Fatalf("reconfiguration %+v", r)
	}
	if got := e.Orphans(); len(got) != 1 || got[0] != netip.AddrPortFrom(vip, 22) {
		t.Fatalf("orphans %v", got)
	}
	handle1(t, e, s.fromClient(t, 0, s.isnV+1, "PA", "draining"))
	clock.Advance(time.Second)
	// To the client at what it acknowledged; to the backend at what it
	// acknowledged and at the end of the bytes it has not yet.
	if ds := expire(t, e); len(ds) != 3 || ds[0].ip4 == nil || ds[1].tcp.Seq != s.isnC+1 || ds[2].tcp.Seq != s.isnC+9 {
		t.Fatalf("drain sent %+v, want a reset to the client and two to the backend", ds)
	}
	expire(t, e)
	if got := e.Orphans(); len(got) != 0 {
		t.Fatalf("orphans after the drain: %v", got)
	}
	if v, _ := handle(t, e, s.fromClient(t, 8, s.isnV+1, "A", "")); v != packet.Pass {
		t.Errorf("a segment to the removed VIP after the drain: %v, want pass", v)
	}
}

// TestReconfigureRefusesPool6: pool6 cannot change under open
// connections; nothing changes on refusal.
func TestReconfigureRefusesPool6(t *testing.T) {
	e, clock := newTestEngine(t, nil)
	cfg := testConfig(clock)
	cfg.Pool6 = netip.MustParsePrefix("2001:db8:d247::/96")
	cfg.MaxConnections = 1
	if _, err := e.Reconfigure(cfg, packet.NewBatch(0, 0)); err == nil || !strings.Contains(err.Error(), "Pool6") {
		t.Fatalf("pool6 change: %v", err)
	}
	if e.Stats().Limits.MaxConnections == 1 {
		t.Error("a refused reconfiguration changed the limits")
	}
}

// TestCookieAcrossScaleChange: a handshake answered with a SYN cookie
// before a reconfiguration changed the window scale completes with the
// shift its SYN-ACK offered, and one answered after with the new shift.
func TestCookieAcrossScaleChange(t *testing.T) {
	e, clock := newTestEngine(t, func(c *Config) { c.SynCookieThreshold, c.MaxEmbryonic = 1, 8 })
	handle(t, e, pkt4(t, client4, vip, 44000, 22, seg{seq: 1, flags: "S"})) // stateful, now one embryonic
	cookie := func(cport uint16) (uint32, uint32, uint8) {
		sa := handle1(t, e, pkt4(t, client4, vip, cport, 22, seg{seq: 5000, flags: "S",
			opts: []layers.TCPOption{optMSSv(1460), optSACKOK(), optTS(77, 0), optNOPv(), optWS(9)}}))
		tsv, _ := tsOf(t, sa.tcp)
		return sa.tcp.Seq, tsv, tcpOpts(sa.tcp)[layers.TCPOptionKindWindowScale][0]
	}
	ack := func(cport uint16, isnV, tsv uint32) uint8 {
		handle(t, e, pkt4(t, client4, vip, cport, 22, seg{seq: 5001, ack: isnV + 1, flags: "A",
			opts: []layers.TCPOption{optNOPv(), optNOPv(), optTS(78, tsv)}}))
		c := e.by4[key4{client: client4.As4(), vip: vip.As4(), clientPort: cport, vipPort: 22}]
		if c == nil {
			t.Fatalf("port %d: the cookie ACK made no connection", cport)
		}
		return c.scaleEdge
	}
	scale := func(s uint8) func(*Config) {
		return func(c *Config) { c.WindowScale, c.SynCookieThreshold, c.MaxEmbryonic = &s, 1, 8 }
	}
	isnBefore, tsBefore, offered := cookie(44100)
	if offered != defaultWindowScale {
		t.Fatalf("offered shift %d", offered)
	}
	reconfigure(t, e, clock, scale(3))
	isnAfter, tsAfter, offeredAfter := cookie(44101)
	if got := ack(44100, isnBefore, tsBefore); got != offered {
		t.Errorf("cookie from before the change: shift %d, want the %d it offered", got, offered)
	}
	if got := ack(44101, isnAfter, tsAfter); offeredAfter != 3 || got != 3 {
		t.Errorf("cookie from after the change: offered %d, shift %d; want 3", offeredAfter, got)
	}
}

// TestReconfigureUnderTraffic reconfigures the engine over and over while
// a netstack client downloads through it: every change that leaves the
// download's service and backend in place leaves its bytes intact.
func TestReconfigureUnderTraffic(t *testing.T) {
	f := e2eFabric(t, impairment{}, impairment{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := f.dial(ctx, 9000)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const size, seed = 8 << 20, 42
	var hdr [24]byte
	binary.BigEndian.PutUint64(hdr[8:], size)
	binary.BigEndian.PutUint64(hdr[16:], seed)
	if _, err := c.Write(hdr[:]); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	changes := make(chan int, 1)
	go func() {
		defer close(changes)
		n := 0
		for ; n < 100000; n++ {
			select {
			case <-done:
				changes <- n
				return
			default:
			}
			cfg := e2eEngineConfig()
			switch n % 4 {
			case 0:
				cfg.Services = append(cfg.Services, Service{VIP: vip, Port: 9100 + uint16(n%1000), Policy: PolicyRoundRobin,
					Backends: []Backend{{Addr: ap(hostB, 9000)}}})
			case 1:
				cfg.MaxConnections, cfg.MaxEmbryonic, cfg.SynCookieThreshold = 100+n, 50, 10
			case 2:
				cfg.Timeouts.Idle, cfg.Timeouts.Drain = time.Hour, time.Second
				cfg.MTU6 = 1400
			}
			out := packet.NewBatch(0, 0)
			if r, err := f.engine.Reconfigure(cfg, out); err != nil || r.Draining != 0 || out.Len() != 0 {
				t.Errorf("change %d: %+v, %v, %d packets", n, r, err, out.Len())
			}
		}
		changes <- n
	}()
	got := sha256.New()
	_, err = io.CopyN(got, c, size)
	close(done)
	n := <-changes
	if err != nil {
		t.Fatalf("download across %d reconfigurations: %v", n, err)
	}
	want := sha256.New()
	io.CopyN(want, newStream(seed), size)
	if !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Fatalf("download across %d reconfigurations corrupted", n)
	}
	if n < 5 {
		t.Errorf("only %d reconfigurations during the download: it tested little", n)
	}
	t.Logf("%d MiB intact across %d reconfigurations", size>>20, n)
}
