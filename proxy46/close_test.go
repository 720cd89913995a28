package proxy46

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/sixgate/sixgate/packet"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// closeFabric is a network for the closing tests: port 5000 goes to a
// server that aborts (it closes with unread input, so its stack resets
// right behind its last data), port 25 to a server that speaks first.
func closeFabric(t *testing.T, mod func(*Config)) *fabric {
	t.Helper()
	cfg := Config{
		Pool6: pool6,
		Services: []Service{
			{VIP: vip, Port: 5000, Policy: PolicyHash, Backends: []Backend{{Addr: ap(hostA, 5000)}}},
			{VIP: vip, Port: 25, Policy: PolicyHash, Backends: []Backend{{Addr: ap(hostA, 25)}}},
		},
		ISNKey: [16]byte{5, 5, 5},
	}
	if mod != nil {
		mod(&cfg)
	}
	f := newFabric(t, fabricConfig{
		engine:   cfg,
		backends: map[netip.Addr]netstackOptions{hostA: {}},
		seed:     11,
	})
	serveEach(f.listen(ap(hostA, 5000)), func(c net.Conn) {
		var b [1]byte
		if _, err := io.ReadFull(c, b[:]); err != nil {
			return
		}
		c.Write([]byte("bye\n"))
		// Returning closes with the rest of the input unread: a reset.
	})
	serveBanner(t, f.listen(ap(hostA, 25)), "A")
	return f
}

// dialFrom opens a connection from a chosen client port.
func (f *fabric) dialFrom(ctx context.Context, lport, port uint16) (*gonet.TCPConn, error) {
	var wq waiter.Queue
	ep, terr := f.client.NewEndpoint(tcp.ProtocolNumber, ipv4.ProtocolNumber, &wq)
	if terr != nil {
		return nil, errors.New(terr.String())
	}
	ep.SocketOptions().SetReuseAddress(true)
	if terr := ep.Bind(tcpip.FullAddress{NIC: 1, Port: lport}); terr != nil {
		ep.Close()
		return nil, errors.New(terr.String())
	}
	we, ch := waiter.NewChannelEntry(waiter.WritableEvents)
	wq.EventRegister(&we)
	defer wq.EventUnregister(&we)
	terr = ep.Connect(tcpip.FullAddress{NIC: 1, Addr: tcpip.AddrFrom4(vip.As4()), Port: port})
	if _, ok := terr.(*tcpip.ErrConnectStarted); ok {
		select {
		case <-ch:
			terr = ep.LastError()
		case <-ctx.Done():
			ep.Close()
			return nil, ctx.Err()
		}
	}
	if terr != nil {
		ep.Close()
		return nil, errors.New(terr.String())
	}
	return gonet.NewTCPConn(&wq, ep), nil
}

// abortedExchange sends a few bytes from lport, reads the server's answer
// and expects the server's reset.
func abortedExchange(ctx context.Context, f *fabric, lport uint16) error {
	c, err := f.dialFrom(ctx, lport, 5000)
	if err != nil {
		return err
	}
	defer c.Close()
	if d, ok := ctx.Deadline(); ok {
		c.SetDeadline(d)
	}
	if _, err := c.Write([]byte("hello, unread")); err != nil {
		return err
	}
	got, err := io.ReadAll(c)
	if string(got) != "bye\n" {
		return errors.New("answer " + string(got))
	}
	if err == nil {
		return errors.New("closed without a reset")
	}
	return nil
}

// TestNetstackAbortFreesPort: a server that aborts resets with the
// sequence number right behind its unacknowledged data. The engine must
// take that reset as closing, so that the client can connect again from
// the same port at once.
func TestNetstackAbortFreesPort(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	f := closeFabric(t, nil)
	const lport = 41000
	for i := range 3 {
		if err := abortedExchange(ctx, f, lport); err != nil {
			t.Fatalf("connection %d from port %d: %v", i, lport, err)
		}
		deadline := time.Now().Add(2 * time.Second)
		for {
			cs := f.engine.Connections()
			if len(cs) == 1 && cs[0].State == StateClosed {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("connection %d after the reset: %+v", i, cs)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// spliced sets up a spliced connection on the round-robin service and
// returns what the test needs to forge its segments.
type splicedConn struct {
	cport      uint16
	isnC, isnV uint32
	isnB       uint32
	backend    netip.Addr
	bport      uint16
}

func spliceL4(t *testing.T, e *Engine, cport uint16) splicedConn {
	t.Helper()
	s := splicedConn{cport: cport, isnC: 1000, isnB: 500_000}
	syn := pkt4(t, client4, vip, cport, 22, seg{seq: s.isnC, flags: "S", window: 64240, opts: []layers.TCPOption{optMSSv(1460)}})
	s.isnV = handle1(t, e, syn).tcp.Seq
	bs := handle1(t, e, pkt4(t, client4, vip, cport, 22, seg{seq: s.isnC + 1, ack: s.isnV + 1, flags: "A"}))
	s.backend, s.bport = ip(bs.ip6.DstIP), uint16(bs.tcp.DstPort)
	v, ds := handle(t, e, pkt6(t, s.backend, client6, s.bport, cport, seg{seq: s.isnB, ack: s.isnC + 1, flags: "SA", window: 65535,
		opts: []layers.TCPOption{optMSSv(1440)}}))
	if v != packet.Consumed || len(ds) != 1 {
		t.Fatalf("splice: %v, %d packets", v, len(ds))
	}
	return s
}

func (s splicedConn) fromBackend(t *testing.T, off uint32, ack uint32, flags, payload string) []byte {
	return pkt6(t, s.backend, client6, s.bport, s.cport, seg{seq: s.isnB + 1 + off, ack: ack, flags: flags, window: 1000, payload: []byte(payload)})
}

func (s splicedConn) fromClient(t *testing.T, off uint32, ack uint32, flags, payload string) []byte {
	return pkt4(t, client4, vip, s.cport, 22, seg{seq: s.isnC + 1 + off, ack: ack, flags: flags, window: 1000, payload: []byte(payload)})
}

func connState(t *testing.T, e *Engine) State {
	t.Helper()
	cs := e.Connections()
	if len(cs) != 1 {
		t.Fatalf("%d connections", len(cs))
	}
	return cs[0].State
}

// TestRSTClosing checks which resets close a spliced connection: the
// receiver's last ACK, the end of the sender's last forwarded segment;
// another in-window RST is forwarded and ends the entry after the closed
// timeout unless the peer speaks; one outside the window is dropped.
func TestRSTClosing(t *testing.T) {
	for _, tc := range []struct {
		name  string
		off   uint32 // RST sequence number past the backend's ISN + 1
		peer  bool   // the client speaks after the RST
		state State  // right after the RST
		gone  bool   // removed after the closed timeout
	}{
		{"receiver-ack", 0, false, StateClosed, true},
		{"sender-end", 10, false, StateClosed, true},
		{"in-window", 5, false, StateEstablished, true},
		{"in-window-answered", 5, true, StateEstablished, false},
		{"outside", 1 << 20, false, StateEstablished, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, clock := newTestEngine(t, nil)
			s := spliceL4(t, e, 40100)
			// Ten bytes from the backend the client has not acknowledged.
			handle1(t, e, s.fromBackend(t, 0, s.isnC+1, "PA", "0123456789"))
			v, ds := handle(t, e, s.fromBackend(t, tc.off, s.isnC+1, "RA", ""))
			if tc.off == 1<<20 {
				if v != packet.Drop || len(ds) != 0 {
					t.Fatalf("out-of-window RST: %v, %d packets", v, len(ds))
				}
			} else if len(ds) != 1 || !ds[0].tcp.RST || ds[0].tcp.Seq != s.isnV+1+tc.off {
				t.Fatalf("RST not forwarded: %v %+v", v, ds)
			}
			if got := connState(t, e); got != tc.state {
				t.Fatalf("state %v after the RST, want %v", got, tc.state)
			}
			if tc.peer {
				handle1(t, e, s.fromClient(t, 0, s.isnV+1+10, "A", ""))
			}
			clock.Advance(e.cfg.Timeouts.Linger + time.Second)
			expire(t, e)
			if gone := e.Len() == 0; gone != tc.gone {
				t.Fatalf("removed %v after the closed timeout, want %v", gone, tc.gone)
			}
		})
	}
}

// TestSYNOnSplicedGetsChallengeACK: a SYN on a spliced connection is
// answered with an ACK carrying the backend's next sequence number and
// last acknowledgment; a SYN on a closed one opens a new connection.
func TestSYNOnSplicedGetsChallengeACK(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	s := spliceL4(t, e, 40200)
	handle1(t, e, s.fromClient(t, 0, s.isnV+1, "PA", "abc"))
	handle1(t, e, s.fromBackend(t, 0, s.isnC+1+3, "PA", "0123456789"))
	syn := pkt4(t, client4, vip, s.cport, 22, seg{seq: 777, flags: "S", window: 64240})
	v, ds := handle(t, e, syn)
	if v != packet.Drop || len(ds) != 1 {
		t.Fatalf("SYN on a spliced connection: %v, %d packets", v, len(ds))
	}
	ch := ds[0].tcp
	if ch.SYN || !ch.ACK || ch.RST || ch.Seq != s.isnV+1+10 || ch.Ack != s.isnC+1+3 || ch.Window != 1000 {
		t.Fatalf("challenge ACK %+v", ch)
	}
	if e.Stats().ChallengeACKs != 1 || connState(t, e) != StateEstablished {
		t.Fatalf("challenge ACKs %d", e.Stats().ChallengeACKs)
	}
	// The client resets exactly; the next SYN is a new connection.
	handle1(t, e, s.fromClient(t, 3, 0, "R", ""))
	if connState(t, e) != StateClosed {
		t.Fatalf("state %v after the exact RST", connState(t, e))
	}
	sa := handle1(t, e, syn)
	if !sa.tcp.SYN || !sa.tcp.ACK || sa.tcp.Ack != 778 {
		t.Fatalf("SYN on a closed connection: %+v", sa.tcp)
	}
}

// TestNetstackLostHandshakeACK: on a server-speaks-first service the
// client whose handshake ACK is lost is established and waits for the
// banner. The SYN-ACK retransmission draws the ACK again.
func TestNetstackLostHandshakeACK(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	f := closeFabric(t, nil)
	var dropped atomic.Bool
	drop := func(p []byte) bool {
		ip := packet.IPv4(p)
		tcp := packet.TCP(p[ip.HeaderLength():])
		if tcp.Flags() == packet.TCPFlagACK && len(tcp) == tcp.DataOffset() && !dropped.Load() {
			dropped.Store(true)
			return true
		}
		return false
	}
	f.clientDrop.Store(&drop)
	c, err := f.dialFrom(ctx, 41500, 25)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	if string(b) != "220 A\r\n" || !dropped.Load() {
		t.Fatalf("banner %q (%v), handshake ACK dropped: %v", b, err, dropped.Load())
	}
	if st := f.engine.Stats(); st.SynAckRetries == 0 {
		t.Errorf("no SYN-ACK retransmission counted: %+v", st)
	}
}

// TestSynAckRetransmission: the SYN-ACK goes again 1, 2, 4 s after the
// first while the handshake ACK is missing, each time the same; at the
// embryonic timeout the client is reset.
func TestSynAckRetransmission(t *testing.T) {
	e, clock := newTestEngine(t, nil) // embryonic timeout 10 s
	syn := pkt4(t, client4, vip, 40300, 22, seg{seq: 1000, flags: "S", window: 64240,
		opts: []layers.TCPOption{optMSSv(1460), optSACKOK(), optTS(100, 0), optNOPv(), optWS(8)}})
	first := handle1(t, e, syn)
	tsFirst, _ := tsOf(t, first.tcp)
	var at []time.Duration
	for elapsed := time.Duration(0); elapsed < 12*time.Second; {
		clock.Advance(100 * time.Millisecond)
		elapsed += 100 * time.Millisecond
		for _, d := range expire(t, e) {
			if d.tcp.RST {
				if elapsed != 10*time.Second || d.tcp.Seq != first.tcp.Seq+1 || d.tcp.Ack != 1001 || !d.tcp.ACK {
					t.Fatalf("reset at %v: %+v", elapsed, d.tcp)
				}
				at = append(at, -elapsed)
				continue
			}
			if !d.tcp.SYN || !d.tcp.ACK || d.tcp.Seq != first.tcp.Seq || d.tcp.Ack != 1001 {
				t.Fatalf("not the SYN-ACK again at %v: %+v", elapsed, d.tcp)
			}
			if ts, _ := tsOf(t, d.tcp); ts != tsFirst {
				t.Errorf("retransmitted TSval %d, first %d", ts, tsFirst)
			}
			at = append(at, elapsed)
		}
	}
	want := []time.Duration{time.Second, 3 * time.Second, 7 * time.Second, -10 * time.Second}
	if fmt.Sprint(at) != fmt.Sprint(want) {
		t.Fatalf("SYN-ACKs (negative: reset) at %v, want %v", at, want)
	}
	if st := e.Stats(); e.Len() != 0 || st.SynAckRetries != 3 || st.EmbryonicExpired != 1 || st.ClientResets != 1 {
		t.Fatalf("%d connections, stats %+v", e.Len(), st)
	}
}

// TestIdleOutlivesKeepalive: an idle established connection survives
// until the first keepalive (2 h on Linux) and a little beyond, as
// RFC 5382 REQ-5 asks (2 h 4 min).
func TestIdleOutlivesKeepalive(t *testing.T) {
	e, clock := newTestEngine(t, nil)
	s := spliceL4(t, e, 40400)
	clock.Advance(2 * time.Hour)
	expire(t, e)
	// The keepalive probe: one byte before what the backend acknowledged.
	handle1(t, e, s.fromClient(t, ^uint32(0), s.isnV+1, "A", ""))
	clock.Advance(2*time.Hour + 3*time.Minute)
	expire(t, e)
	if e.Len() != 1 {
		t.Fatal("idle connection removed before 2 h 4 min")
	}
	clock.Advance(2 * time.Minute)
	expire(t, e)
	if e.Len() != 0 || e.Stats().IdleExpired != 1 {
		t.Fatalf("%d connections after the idle timeout", e.Len())
	}
}

// TestHalfClosedTransitory: after one FIN the connection is removed when
// idle for the transitory timeout, not the idle one.
func TestHalfClosedTransitory(t *testing.T) {
	e, clock := newTestEngine(t, nil)
	s := spliceL4(t, e, 40500)
	handle1(t, e, s.fromBackend(t, 0, s.isnC+1, "FA", "tail"))
	clock.Advance(3 * time.Minute)
	expire(t, e)
	handle1(t, e, s.fromClient(t, 0, s.isnV+1+5, "PA", "more"))
	clock.Advance(3 * time.Minute)
	expire(t, e)
	if e.Len() != 1 || connState(t, e) != StateEstablished {
		t.Fatal("half-closed connection removed while in use")
	}
	clock.Advance(2 * time.Minute)
	expire(t, e)
	if st := e.Stats(); e.Len() != 0 || st.TransitoryExpired != 1 {
		t.Fatalf("%d connections after the transitory timeout, stats %+v", e.Len(), st)
	}
}

// TestClosedRefreshedByTraffic: a connection is closed once both FINs are
// acknowledged, and every segment then keeps it for the closed timeout,
// so that a FIN retransmitted late is still translated, not reset.
func TestClosedRefreshedByTraffic(t *testing.T) {
	e, clock := newTestEngine(t, nil)
	s := spliceL4(t, e, 40600)
	handle1(t, e, s.fromBackend(t, 0, s.isnC+1, "FA", "tail"))
	handle1(t, e, s.fromClient(t, 0, s.isnV+1+5, "FA", ""))
	if connState(t, e) != StateEstablished {
		t.Fatal("closed before the client's FIN is acknowledged")
	}
	handle1(t, e, s.fromBackend(t, 5, s.isnC+2, "A", ""))
	if connState(t, e) != StateClosed {
		t.Fatal("not closed with both FINs acknowledged")
	}
	for i := range 3 {
		clock.Advance(8 * time.Second)
		expire(t, e)
		// The backend did not see the client's last ACK: its FIN again.
		d := handle1(t, e, s.fromBackend(t, 0, s.isnC+2, "FA", "tail"))
		if d.tcp.RST || !d.tcp.FIN {
			t.Fatalf("retransmitted FIN %d: %+v", i, d.tcp)
		}
	}
	clock.Advance(11 * time.Second)
	expire(t, e)
	if st := e.Stats(); e.Len() != 0 || st.ClosedExpired != 1 {
		t.Fatalf("%d connections after the closed timeout, stats %+v", e.Len(), st)
	}
}

// TestClosedEvictedWhenFull: a full table makes room for a new
// connection by evicting a closed one.
func TestClosedEvictedWhenFull(t *testing.T) {
	e, _ := newTestEngine(t, func(c *Config) { c.MaxConnections = 2 })
	s := spliceL4(t, e, 40700)
	handle1(t, e, s.fromClient(t, 0, s.isnV+1, "R", ""))
	handle1(t, e, pkt4(t, client4, vip, 40701, 80, seg{seq: 1, flags: "S"}))
	if v, ds := handle(t, e, pkt4(t, client4, vip, 40702, 80, seg{seq: 1, flags: "S"})); v != packet.Consumed || len(ds) != 1 {
		t.Fatalf("SYN with a closed connection in a full table: %v, %d packets", v, len(ds))
	}
	if v, _ := handle(t, e, pkt4(t, client4, vip, 40703, 80, seg{seq: 1, flags: "S"})); v != packet.Drop {
		t.Fatalf("SYN into a table full of live connections: %v", v)
	}
	if st := e.Stats(); st.ClosedEvicted != 1 || st.Drops[DropTableFull] != 1 || e.Len() != 2 {
		t.Fatalf("stats %+v, %d connections", st, e.Len())
	}
}

// holdUndecided runs a client through the handshake on the SNI service
// and sends two bytes that do not decide the backend.
func holdUndecided(t *testing.T, e *Engine, cport uint16) (isnV, tsV uint32) {
	t.Helper()
	isnV, tsV = handshake(t, e, 443, cport, 1000)
	v, ds := handle(t, e, pkt4(t, client4, vip, cport, 443, seg{seq: 1001, ack: isnV + 1, flags: "PA",
		opts: []layers.TCPOption{optNOPv(), optNOPv(), optTS(102, tsV)}, payload: []byte{0x16, 0x03}}))
	if v != packet.Consumed || len(ds) != 0 {
		t.Fatalf("held bytes: %v, %d packets", v, len(ds))
	}
	return isnV, tsV
}

// TestChallengeACKKeepsWindow: a challenge ACK while holding offers the
// window of the SYN-ACK again: the ACK does not move, so a window less
// the held bytes would move the right edge left (RFC 9293 §3.8.6.2.2).
func TestChallengeACKKeepsWindow(t *testing.T) {
	for _, held := range []int{16384, 16000} {
		e, _ := newTestEngine(t, func(c *Config) { c.MaxHeldBytes = held })
		holdUndecided(t, e, 40800)
		_, ds := handle(t, e, pkt4(t, client4, vip, 40800, 443, seg{seq: 1001 + 100, flags: "R"}))
		if len(ds) != 1 {
			t.Fatalf("%d packets for an in-window RST", len(ds))
		}
		d := ds[0]
		if d.tcp.RST || !d.tcp.ACK || d.tcp.Ack != 1001 {
			t.Fatalf("challenge ACK %+v", d.tcp)
		}
		// The client offered scale 8; the edge answered 7.
		if edge := 1001 + uint32(d.tcp.Window)<<7; edge < 1001+uint32(held) {
			t.Errorf("hold bound %d: challenge ACK window %d puts the right edge at %d, before %d",
				held, d.tcp.Window, edge, 1001+held)
		}
	}
}

// TestChallengeACKTimestampBeforeSplice: the timestamps the client sees
// never go backwards, from a challenge ACK sent while holding to the
// backend's first segments after the splice (RFC 7323 §5).
func TestChallengeACKTimestampBeforeSplice(t *testing.T) {
	e, clock := newTestEngine(t, nil)
	const cport = 40900
	isnV, tsV := handshake(t, e, 80, cport, 1000)
	clock.Advance(3 * time.Second)
	_, ds := handle(t, e, pkt4(t, client4, vip, cport, 80, seg{seq: 1001 + 100, flags: "R"}))
	if len(ds) != 1 {
		t.Fatalf("%d packets for an in-window RST", len(ds))
	}
	tsChallenge, _ := tsOf(t, ds[0].tcp)
	if int32(tsChallenge-tsV) < 0 {
		t.Fatalf("challenge TSval %d before the SYN-ACK's %d", tsChallenge, tsV)
	}
	clock.Advance(time.Second)
	bs := handle1(t, e, pkt4(t, client4, vip, cport, 80, seg{seq: 1001, ack: isnV + 1, flags: "PA",
		opts: []layers.TCPOption{optNOPv(), optNOPv(), optTS(200, tsChallenge)}, payload: []byte("A")}))
	if !bs.tcp.SYN {
		t.Fatalf("no backend SYN: %+v", bs.tcp)
	}
	b := ip(bs.ip6.DstIP)
	bport := uint16(bs.tcp.DstPort)
	handle(t, e, pkt6(t, b, client6, bport, cport, seg{seq: 9000, ack: 1001, flags: "SA", window: 65535,
		opts: []layers.TCPOption{optMSSv(1440), optSACKOK(), optTS(5000, 200), optNOPv(), optWS(7)}}))
	d := handle1(t, e, pkt6(t, b, client6, bport, cport, seg{seq: 9001, ack: 1002, flags: "PA",
		opts: []layers.TCPOption{optNOPv(), optNOPv(), optTS(5001, 200)}, payload: []byte("hi")}))
	if ts, _ := tsOf(t, d.tcp); int32(ts-tsChallenge) < 0 {
		t.Fatalf("backend TSval translated to %d, before the challenge ACK's %d", ts, tsChallenge)
	}
}

// TestReplayRespectsBackendWindow: the held bytes replayed to the backend
// stop at the window its SYN-ACK offered (RFC 9293 §3.8.6), and so does
// a held FIN; the client's retransmission carries the rest.
func TestReplayRespectsBackendWindow(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	const cport = 41100
	isnV, tsV := handshake(t, e, 80, cport, 1000)
	payload := make([]byte, 1400)
	payload[0] = 'A'
	bs := handle1(t, e, pkt4(t, client4, vip, cport, 80, seg{seq: 1001, ack: isnV + 1, flags: "FPA",
		opts: []layers.TCPOption{optNOPv(), optNOPv(), optTS(102, tsV)}, payload: payload}))
	b, bport := ip(bs.ip6.DstIP), uint16(bs.tcp.DstPort)
	_, ds := handle(t, e, pkt6(t, b, client6, bport, cport, seg{seq: 9000, ack: 1001, flags: "SA", window: 1000,
		opts: []layers.TCPOption{optMSSv(1440), optSACKOK(), optTS(5000, 102), optNOPv(), optWS(7)}}))
	sent := 0
	for _, d := range ds {
		if d.tcp.FIN {
			t.Errorf("FIN replayed after %d of %d bytes", sent, len(payload))
		}
		if d.tcp.Seq != 1001+uint32(sent) {
			t.Fatalf("replayed segment at %d, want %d", d.tcp.Seq, 1001+sent)
		}
		sent += len(d.tcp.Payload)
	}
	if sent != 1000 {
		t.Fatalf("replayed %d bytes into a window of 1000", sent)
	}
	// The client, never acknowledged, sends the rest with its FIN.
	d := handle1(t, e, pkt4(t, client4, vip, cport, 80, seg{seq: 1001 + 1000, ack: isnV + 1, flags: "FPA",
		opts: []layers.TCPOption{optNOPv(), optNOPv(), optTS(103, tsV)}, payload: payload[1000:]}))
	if !d.tcp.FIN || d.tcp.Seq != 2001 || len(d.tcp.Payload) != 400 {
		t.Fatalf("retransmitted tail: %+v", d.tcp)
	}
}

// TestSYNNewISNReplacesSynReceived: a client that restarts before
// completing its handshake sends a SYN with a new ISN on the same
// 4-tuple; it replaces the embryonic connection at once.
func TestSYNNewISNReplacesSynReceived(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	const cport = 41200
	handle1(t, e, pkt4(t, client4, vip, cport, 80, seg{seq: 1000, flags: "S"}))
	sa := handle1(t, e, pkt4(t, client4, vip, cport, 80, seg{seq: 5_000_000, flags: "S"}))
	if !sa.tcp.SYN || !sa.tcp.ACK || sa.tcp.Ack != 5_000_001 {
		t.Fatalf("SYN with a new ISN: %+v", sa.tcp)
	}
	if e.Len() != 1 {
		t.Fatalf("%d connections", e.Len())
	}
	// The handshake completes on the new ISN.
	v, _ := handle(t, e, pkt4(t, client4, vip, cport, 80, seg{seq: 5_000_001, ack: sa.tcp.Seq + 1, flags: "A"}))
	if v != packet.Consumed || connState(t, e) != StateHolding {
		t.Fatalf("handshake ACK on the new ISN: %v, state %v", v, connState(t, e))
	}
}

// TestTimeExceeded: a spliced segment whose TTL or hop limit would reach
// zero is answered with ICMP Time Exceeded, as a router answers, quoting
// the segment, within the ICMP error limit.
func TestTimeExceeded(t *testing.T) {
	e, _ := newTestEngine(t, func(c *Config) { c.ICMPErrorLimit = 1 }) // a burst of one
	s := spliceL4(t, e, 41300)
	p4 := pkt4(t, client4, vip, s.cport, 22, seg{seq: s.isnC + 1, ack: s.isnV + 1, flags: "PA", payload: []byte("x"), ttl: 1})
	v, as := handleAnswers(t, e, p4)
	if v != packet.Drop || len(as) != 1 || as[0].icmp == nil {
		t.Fatalf("TTL 1 from the client: %v, %+v", v, as)
	}
	checkHostHeader(t, as[0], client4, layers.IPProtocolICMPv4)
	if as[0].icmp.TypeCode != layers.CreateICMPv4TypeCode(layers.ICMPv4TypeTimeExceeded, layers.ICMPv4CodeTTLExceeded) ||
		!bytes.Equal(as[0].icmp.Payload, p4) {
		t.Fatalf("time exceeded %v quoting %x", as[0].icmp.TypeCode, as[0].icmp.Payload)
	}
	// The bucket is empty: the next expiry is counted, not answered.
	if v, as := handleAnswers(t, e, p4); v != packet.Drop || len(as) != 0 {
		t.Fatalf("second TTL 1: %v, %d answers", v, len(as))
	}

	e, _ = newTestEngine(t, nil)
	s = spliceL4(t, e, 41301)
	p6 := pkt6(t, s.backend, client6, s.bport, s.cport, seg{seq: s.isnB + 1, ack: s.isnC + 1, flags: "PA", payload: []byte("y"), ttl: 1})
	out := packet.NewBatch(2, 2048)
	if v := e.Handle(p6, out); v != packet.Drop || out.Len() != 1 {
		t.Fatalf("hop limit 1 from the backend: %v, %d packets", v, out.Len())
	}
	p := out.Packets[0]
	pk := gopacket.NewPacket(p.Data, layers.LayerTypeIPv6, gopacket.Default)
	ip6, _ := pk.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
	icmp, _ := pk.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
	if ip6 == nil || icmp == nil || p.Dst != s.backend || ip(ip6.SrcIP) != client6 || ip(ip6.DstIP) != s.backend {
		t.Fatalf("hop limit answer %x", p.Data)
	}
	if icmp.TypeCode != layers.CreateICMPv6TypeCode(layers.ICMPv6TypeTimeExceeded, layers.ICMPv6CodeHopLimitExceeded) ||
		!bytes.Equal(icmp.Payload[4:], p6) {
		t.Fatalf("time exceeded %v quoting %x", icmp.TypeCode, icmp.Payload)
	}
	icmpBytes := p.Data[packet.IPv6HeaderLen:]
	if !packet.ChecksumOK(packet.IPv6(p.Data).PseudoHeaderSum(packet.ProtoICMPv6, len(icmpBytes)), icmpBytes) {
		t.Fatal("ICMPv6 checksum wrong")
	}
	if st := e.Stats(); st.TimeExceeded != 1 || st.Drops[DropTTLExpired] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestSYNWhileHoldingGetsChallengeACK: the client is synchronized once
// its handshake ACK came, so a SYN while its bytes are held is answered
// with a challenge ACK, not ignored (RFC 5961 §4).
func TestSYNWhileHoldingGetsChallengeACK(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	const cport = 41400
	isnV, tsV := holdUndecided(t, e, cport)
	v, ds := handle(t, e, pkt4(t, client4, vip, cport, 443, seg{seq: 9999, flags: "S"}))
	if v != packet.Drop || len(ds) != 1 {
		t.Fatalf("SYN while holding: %v, %d packets", v, len(ds))
	}
	ch := ds[0].tcp
	if ch.SYN || ch.RST || !ch.ACK || ch.Seq != isnV+1 || ch.Ack != 1001 {
		t.Fatalf("challenge ACK %+v", ch)
	}
	if ts, _ := tsOf(t, ch); ts != tsV {
		t.Errorf("challenge TSval %d, want the SYN-ACK's %d", ts, tsV)
	}
	if connState(t, e) != StateHolding || e.Stats().HeldBytes != 2 {
		t.Fatalf("state %v, held %d", connState(t, e), e.Stats().HeldBytes)
	}
}

// TestHoldingWaitsForTheEmbryonicTimeout: once the handshake completes,
// the client has until the embryonic timeout to send the bytes that
// choose its backend; the SYN-ACK retransmission timer of the
// syn-received state does not force the choice a second later.
func TestHoldingWaitsForTheEmbryonicTimeout(t *testing.T) {
	e, clock := newTestEngine(t, nil) // embryonic timeout 10 s
	isnV, tsV := handshake(t, e, 8000, 40500, 1000)
	for i := range 30 {
		clock.Advance(100 * time.Millisecond)
		if ds := expire(t, e); len(ds) != 0 {
			t.Fatalf("%d ms after the handshake with nothing sent: %d packets, first %+v",
				100*(i+1), len(ds), ds[0].tcp)
		}
	}
	req := "GET / HTTP/1.1\r\nHost: b.example\r\n\r\n"
	v, ds := handle(t, e, pkt4(t, client4, vip, 40500, 8000, seg{seq: 1001, ack: isnV + 1, flags: "PA",
		opts: []layers.TCPOption{optNOPv(), optNOPv(), optTS(102, tsV)}, payload: []byte(req)}))
	if v != packet.Consumed || len(ds) != 1 || !ds[0].tcp.SYN || ip(ds[0].ip6.DstIP) != backendB.Addr() {
		t.Fatalf("request 3 s after the handshake: verdict %v, %d packets, want a SYN to %v", v, len(ds), backendB)
	}
}
