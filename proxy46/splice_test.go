package proxy46

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/sixgate/sixgate/packet"
)

func ip(a net.IP) netip.Addr {
	x, _ := netip.AddrFromSlice(a)
	return x.Unmap()
}

// oneOut asserts exactly one output packet.
func oneOut(t *testing.T, v packet.Verdict, ds []decoded) decoded {
	t.Helper()
	if v != packet.Consumed {
		t.Fatalf("verdict %v, want consumed", v)
	}
	if len(ds) != 1 {
		t.Fatalf("%d output packets, want 1", len(ds))
	}
	return ds[0]
}

// handle1 runs a packet that must produce exactly one packet.
func handle1(t *testing.T, e *Engine, pkt []byte) decoded {
	t.Helper()
	v, ds := handle(t, e, pkt)
	return oneOut(t, v, ds)
}

// handshake runs a client SYN and ACK against port, returning the edge ISN
// and TSval the client saw.
func handshake(t *testing.T, e *Engine, port, cport uint16, isnC uint32) (isnV, tsV uint32) {
	t.Helper()
	syn := pkt4(t, client4, vip, cport, port, seg{seq: isnC, flags: "S", window: 64240,
		opts: []layers.TCPOption{optMSSv(1460), optSACKOK(), optTS(100, 0), optNOPv(), optWS(8)}})
	sa := handle1(t, e, syn)
	if sa.ip4 == nil || !sa.tcp.SYN || !sa.tcp.ACK || sa.tcp.Ack != isnC+1 {
		t.Fatalf("not a SYN-ACK: %+v", sa.tcp)
	}
	tsV, _ = tsOf(t, sa.tcp)
	isnV = sa.tcp.Seq
	v, ds := handle(t, e, pkt4(t, client4, vip, cport, port, seg{seq: isnC + 1, ack: isnV + 1, flags: "A",
		opts: []layers.TCPOption{optNOPv(), optNOPv(), optTS(101, tsV)}}))
	if v != packet.Consumed || (len(ds) != 0 && port != 22 && port != 23) {
		t.Fatalf("handshake ACK: verdict %v, %d packets", v, len(ds))
	}
	return isnV, tsV
}

// TestSpliceStepByStep walks one connection through every step of the
// splice and checks each output packet field by field.
func TestSpliceStepByStep(t *testing.T) {
	e, clock := newTestEngine(t, nil)
	const cport, isnC, isnB = 40000, 1000, 7_000_000

	// 1. SYN: answered from the VIP with the client's options mirrored.
	syn := pkt4(t, client4, vip, cport, 80, seg{seq: isnC, flags: "S", window: 64240,
		opts: []layers.TCPOption{optMSSv(1460), optSACKOK(), optTS(100, 0), optNOPv(), optWS(8)}})
	sa := handle1(t, e, syn)
	if ip(sa.ip4.SrcIP) != vip || ip(sa.ip4.DstIP) != client4 || sa.tcp.SrcPort != 80 || sa.tcp.DstPort != cport {
		t.Fatalf("SYN-ACK addressing: %v:%d -> %v:%d", sa.ip4.SrcIP, sa.tcp.SrcPort, sa.ip4.DstIP, sa.tcp.DstPort)
	}
	if !sa.tcp.SYN || !sa.tcp.ACK || sa.tcp.Ack != isnC+1 || sa.tcp.Window != 16384 {
		t.Fatalf("SYN-ACK: %+v", sa.tcp)
	}
	if sa.ip4.Flags&layers.IPv4DontFragment == 0 {
		t.Errorf("SYN-ACK without DF")
	}
	o := tcpOpts(sa.tcp)
	if mss := binary.BigEndian.Uint16(o[layers.TCPOptionKindMSS]); mss != 1500-60 {
		t.Errorf("MSS to client %d, want %d", mss, 1500-60)
	}
	if ws := o[layers.TCPOptionKindWindowScale]; len(ws) != 1 || ws[0] != 7 {
		t.Errorf("window scale %v, want 7", ws)
	}
	if _, ok := o[layers.TCPOptionKindSACKPermitted]; !ok {
		t.Errorf("SACK-permitted not offered back")
	}
	tsV, ecr := tsOf(t, sa.tcp)
	if ecr != 100 {
		t.Errorf("TSecr %d, want 100", ecr)
	}
	isnV := sa.tcp.Seq

	// A retransmitted SYN gets the same SYN-ACK.
	if again := handle1(t, e, syn); again.tcp.Seq != isnV {
		t.Errorf("SYN-ACK retransmission has seq %d, want %d", again.tcp.Seq, isnV)
	}

	// 2. ACK, then data in two segments with a duplicate and a segment
	// beyond the window the edge offered: nothing is acknowledged,
	// nothing sent.
	ack := func(seq uint32, ts uint32, flags string, payload string) []byte {
		return pkt4(t, client4, vip, cport, 80, seg{seq: seq, ack: isnV + 1, flags: flags, window: 1000,
			opts: []layers.TCPOption{optNOPv(), optNOPv(), optTS(ts, tsV)}, payload: []byte(payload)})
	}
	for i, step := range []struct {
		pkt    []byte
		reason DropReason
	}{
		{ack(isnC+1, 101, "A", ""), numDropReasons},
		{ack(isnC+1+20000, 102, "PA", "world"), DropOutOfOrder}, // beyond the window
		{ack(isnC+1, 103, "PA", "Bhell"), numDropReasons},
	} {
		before := e.Stats().Drops
		v, ds := handle(t, e, step.pkt)
		if want := i / 2; len(ds) != want { // "B" decides: the backend SYN goes out
			t.Fatalf("step %d: %d packets out, want %d", i, len(ds), want)
		}
		after := e.Stats().Drops
		if step.reason < numDropReasons && (v != packet.Drop || after[step.reason] != before[step.reason]+1) {
			t.Fatalf("step %d: verdict %v, drops %v", i, v, after)
		}
	}
	// "B" decided: the backend SYN went out; it is checked below
	// through its retransmission.
	cs := e.Connections()
	if len(cs) != 1 || cs[0].State != StateBackendSyn || cs[0].Backend != backendB || cs[0].Held != 5 {
		t.Fatalf("connections: %+v", cs)
	}
	// More data while the backend answers is held too; a duplicate is not.
	if v, ds := handle(t, e, ack(isnC+1+5, 104, "PA", "o")); v != packet.Consumed || len(ds) != 0 {
		t.Fatalf("held append: %v %d", v, len(ds))
	}
	if v, _ := handle(t, e, ack(isnC+1, 105, "PA", "Bh")); v != packet.Drop {
		t.Fatalf("duplicate accepted: %v", v)
	}
	if got := e.Stats().HeldBytes; got != 6 {
		t.Fatalf("held bytes %d, want 6", got)
	}

	// 3. The backend SYN (seen via the retransmit timer).
	clock.Advance(time.Second)
	ds := expire(t, e)
	if len(ds) != 1 {
		t.Fatalf("%d packets on SYN retransmit", len(ds))
	}
	bs := ds[0]
	if ip(bs.ip6.SrcIP) != client6 || ip(bs.ip6.DstIP) != backendB.Addr() || bs.tcp.SrcPort != cport || bs.tcp.DstPort != 80 {
		t.Fatalf("backend SYN addressing: %v:%d -> %v:%d", bs.ip6.SrcIP, bs.tcp.SrcPort, bs.ip6.DstIP, bs.tcp.DstPort)
	}
	if !bs.tcp.SYN || bs.tcp.ACK || bs.tcp.Seq != isnC || bs.tcp.Window != 64240 {
		t.Fatalf("backend SYN: %+v", bs.tcp)
	}
	o = tcpOpts(bs.tcp)
	if mss := binary.BigEndian.Uint16(o[layers.TCPOptionKindMSS]); mss != 1440 {
		t.Errorf("MSS to backend %d, want 1440", mss)
	}
	if ws := o[layers.TCPOptionKindWindowScale]; len(ws) != 1 || ws[0] != 8 {
		t.Errorf("window scale to backend %v, want the client's 8", ws)
	}
	if val, _ := tsOf(t, bs.tcp); val != 105 {
		t.Errorf("backend SYN TSval %d, want the client's latest 105", val)
	}

	// 4. Backend SYN-ACK (window scale 5, not 7): ACK with replay.
	b6 := func(s seg) []byte { return pkt6(t, backendB.Addr(), client6, 80, cport, s) }
	v, ds := handle(t, e, b6(seg{seq: isnB, ack: isnC + 1, flags: "SA", window: 65535,
		opts: []layers.TCPOption{optMSSv(1400), optSACKOK(), optTS(5000, 105), optNOPv(), optWS(5)}}))
	r := oneOut(t, v, ds)
	if r.tcp.Seq != isnC+1 || r.tcp.Ack != isnB+1 || string(r.tcp.Payload) != "Bhello" || !r.tcp.PSH || r.tcp.Window != 1000 {
		t.Fatalf("replay: seq %d ack %d %q %+v", r.tcp.Seq, r.tcp.Ack, r.tcp.Payload, r.tcp)
	}
	if val, ecr := tsOf(t, r.tcp); val != 105 || ecr != 5000 {
		t.Errorf("replay timestamps %d %d", val, ecr)
	}
	if e.Stats().HeldBytes != 0 {
		t.Errorf("held bytes not released")
	}

	// 5. Backend data to the client: seq shifted, window rescaled from
	// scale 5 to 7, TSval shifted, addresses and ports translated, TTL
	// and traffic class carried.
	d := uint32(isnB) - isnV
	v, ds = handle(t, e, b6(seg{seq: isnB + 1, ack: isnC + 7, flags: "PA", window: 100, tos: 0x28, ttl: 50,
		opts: []layers.TCPOption{optNOPv(), optNOPv(), optTS(5003, 105)}, payload: []byte("HTTP/1.1 200 OK\r\n")}))
	c := oneOut(t, v, ds)
	if ip(c.ip4.SrcIP) != vip || ip(c.ip4.DstIP) != client4 || c.tcp.SrcPort != 80 || c.tcp.DstPort != cport {
		t.Fatalf("to client addressing: %v:%d -> %v:%d", c.ip4.SrcIP, c.tcp.SrcPort, c.ip4.DstIP, c.tcp.DstPort)
	}
	if c.tcp.Seq != isnV+1 || c.tcp.Ack != isnC+7 || c.tcp.Window != 100<<5>>7 {
		t.Fatalf("to client: seq %d (want %d) ack %d window %d", c.tcp.Seq, isnV+1, c.tcp.Ack, c.tcp.Window)
	}
	if c.ip4.TTL != 49 || c.ip4.TOS != 0x28 || c.ip4.Flags&layers.IPv4DontFragment == 0 {
		t.Errorf("IPv4 header: TTL %d TOS %#x flags %v", c.ip4.TTL, c.ip4.TOS, c.ip4.Flags)
	}
	if val, ecr := tsOf(t, c.tcp); val != tsV+3 || ecr != 105 {
		t.Errorf("to client timestamps %d %d, want %d 105", val, ecr, tsV+3)
	}
	// A small window never becomes zero.
	_, ds = handle(t, e, b6(seg{seq: isnB + 18, ack: isnC + 7, flags: "A", window: 1,
		opts: []layers.TCPOption{optNOPv(), optNOPv(), optTS(5004, 105)}}))
	if ds[0].tcp.Window != 1 {
		t.Errorf("window 1<<5 rescaled to %d, want 1", ds[0].tcp.Window)
	}

	// 6. Client ACK with SACK: ack and SACK shifted by d, TSecr by the
	// timestamp offset, IPv6 header from the IPv4 one.
	v, ds = handle(t, e, pkt4(t, client4, vip, cport, 80, seg{seq: isnC + 7, ack: isnV + 18, flags: "A", window: 2000, tos: 0x10, ttl: 30,
		opts: []layers.TCPOption{optNOPv(), optNOPv(), optTS(110, tsV+3), optNOPv(), optNOPv(), optSACKBlocks(isnV+30, isnV+40)}}))
	b := oneOut(t, v, ds)
	if b.tcp.Ack != isnV+18+d || b.tcp.Seq != isnC+7 || b.tcp.Window != 2000 {
		t.Fatalf("to backend: seq %d ack %d (want %d) window %d", b.tcp.Seq, b.tcp.Ack, isnV+18+d, b.tcp.Window)
	}
	if b.ip6.HopLimit != 29 || b.ip6.TrafficClass != 0x10 || ip(b.ip6.SrcIP) != client6 || b.tcp.DstPort != 80 {
		t.Errorf("IPv6 header: hop %d tc %#x src %v port %d", b.ip6.HopLimit, b.ip6.TrafficClass, b.ip6.SrcIP, b.tcp.DstPort)
	}
	if val, ecr := tsOf(t, b.tcp); val != 110 || ecr != 5003 {
		t.Errorf("to backend timestamps %d %d, want 110 5003", val, ecr)
	}
	sack := tcpOpts(b.tcp)[layers.TCPOptionKindSACK]
	if l, r := binary.BigEndian.Uint32(sack), binary.BigEndian.Uint32(sack[4:]); l != isnV+30+d || r != isnV+40+d {
		t.Errorf("SACK block %d-%d, want %d-%d", l, r, isnV+30+d, isnV+40+d)
	}

	// 7. FIN both ways, then the linger timer removes the connection.
	_, ds = handle(t, e, pkt4(t, client4, vip, cport, 80, seg{seq: isnC + 7, ack: isnV + 18, flags: "FA"}))
	if !ds[0].tcp.FIN {
		t.Fatal("client FIN not translated")
	}
	_, ds = handle(t, e, b6(seg{seq: isnB + 18, ack: isnC + 8, flags: "FA"}))
	if !ds[0].tcp.FIN || ds[0].tcp.Seq != isnV+18 {
		t.Fatal("backend FIN not translated")
	}
	// The backend's FIN acknowledged the client's, but the client has
	// not acknowledged the backend's yet: not closed.
	if cs := e.Connections(); cs[0].State != StateEstablished {
		t.Fatalf("state %v after both FINs, one acknowledged", cs[0].State)
	}
	_, ds = handle(t, e, pkt4(t, client4, vip, cport, 80, seg{seq: isnC + 8, ack: isnV + 19, flags: "A"}))
	if len(ds) != 1 {
		t.Fatal("last ACK not translated")
	}
	if cs := e.Connections(); cs[0].State != StateClosed {
		t.Fatalf("state %v after both FINs acknowledged", cs[0].State)
	}
	clock.Advance(11 * time.Second)
	expire(t, e)
	if n := e.Len(); n != 0 {
		t.Fatalf("%d connections after linger", n)
	}
	st := e.Stats()
	if st.Spliced != 1 || st.ConnectionsClosed != 1 || st.ByState[StateClosed] != 0 || st.ClosedExpired != 1 {
		t.Errorf("stats: %+v", st)
	}
	// A late segment is now answered with a reset.
	v, ds = handle(t, e, pkt4(t, client4, vip, cport, 80, seg{seq: isnC + 8, ack: isnV + 19, flags: "A"}))
	if v != packet.Drop || len(ds) != 1 || !ds[0].tcp.RST || ds[0].tcp.Seq != isnV+19 {
		t.Fatalf("stray segment: %v %d", v, len(ds))
	}
}
