package proxy46

import (
	"context"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/sixgate/sixgate/packet"
)

// spliceNoTSBackend splices a client that negotiates timestamps (MSS 1400)
// onto a backend that refuses them, and returns the backend's address and
// port, the edge's ISN and the SYN-ACK's TSval.
func spliceNoTSBackend(t testing.TB, e *Engine, cport uint16) (backend netip.Addr, bport uint16, isnV, tsV uint32, mssToBackend uint16) {
	t.Helper()
	const isnC, isnB = 1, 900
	_, ds := handle(t, e, pkt4(t, client4, vip, cport, 22, seg{seq: isnC, flags: "S", window: 64240,
		opts: []layers.TCPOption{optMSSv(1400), optSACKOK(), optTS(100, 0), optNOPv(), optWS(8)}}))
	isnV = ds[0].tcp.Seq
	tsV, _ = tsOf(t, ds[0].tcp)
	_, ds = handle(t, e, pkt4(t, client4, vip, cport, 22, seg{seq: isnC + 1, ack: isnV + 1, flags: "A",
		opts: []layers.TCPOption{optNOPv(), optNOPv(), optTS(101, tsV)}}))
	if len(ds) != 1 || !ds[0].tcp.SYN {
		t.Fatalf("no backend SYN: %+v", ds)
	}
	mssToBackend = binary.BigEndian.Uint16(tcpOpts(ds[0].tcp)[layers.TCPOptionKindMSS])
	backend, bport = ip(ds[0].ip6.DstIP), uint16(ds[0].tcp.DstPort)
	handle(t, e, pkt6(t, backend, client6, bport, cport, seg{seq: isnB, ack: isnC + 1, flags: "SA",
		opts: []layers.TCPOption{optMSSv(1440), optSACKOK(), optNOPv(), optWS(6)}}))
	return backend, bport, isnV, tsV, mssToBackend
}

// TestTimestampsSuppliedForBackend: the client negotiated timestamps, the
// backend refused them; every backend segment but a RST reaches the client
// with a TSopt the engine supplies (RFC 7323 §3.2), and the backend was
// told an MSS 12 bytes lower so that its full segments, grown by the
// option, still fit the client's MSS.
func TestTimestampsSuppliedForBackend(t *testing.T) {
	e, clock := newTestEngine(t, nil)
	const cport = 50100
	backend, bport, isnV, tsV, mss := spliceNoTSBackend(t, e, cport)
	if mss != 1400-12 {
		t.Fatalf("MSS to the backend %d, want %d", mss, 1400-12)
	}
	clock.Advance(1500 * time.Millisecond)
	e.Expire(packet.NewBatch(1, 64)) // refreshes the engine clock
	// The client's latest TSval, to be echoed.
	handle(t, e, pkt4(t, client4, vip, cport, 22, seg{seq: 2, ack: isnV + 1, flags: "A",
		opts: []layers.TCPOption{optNOPv(), optNOPv(), optTS(555, tsV)}}))
	for _, tc := range []struct {
		name    string
		flags   string
		payload int
		opts    []layers.TCPOption
	}{
		{"full segment", "PA", int(mss), nil},
		{"ack with SACK", "A", 0, []layers.TCPOption{optNOPv(), optNOPv(), optSACKBlocks(10, 20)}},
		{"FIN", "FA", 10, nil},
	} {
		v, ds := handle(t, e, pkt6(t, backend, client6, bport, cport, seg{seq: 901, ack: 2, flags: tc.flags, window: 100,
			opts: tc.opts, payload: make([]byte, tc.payload)}))
		if v != packet.Consumed || len(ds) != 1 {
			t.Fatalf("%s: %v, %d packets", tc.name, v, len(ds))
		}
		d := ds[0] // decodeOut checked both checksums
		val, ecr := tsOf(t, d.tcp)
		if ecr != 555 || val < tsV+1500 || val > tsV+1700 {
			t.Errorf("%s: TSval %d TSecr %d, want about %d and 555", tc.name, val, ecr, tsV+1500)
		}
		if d.tcp.Seq != isnV+1 || len(d.tcp.Payload) != tc.payload {
			t.Errorf("%s: seq %d, %d bytes", tc.name, d.tcp.Seq, len(d.tcp.Payload))
		}
		if tc.opts != nil {
			if _, ok := tcpOpts(d.tcp)[layers.TCPOptionKindSACK]; !ok {
				t.Errorf("%s: SACK option lost: %v", tc.name, d.tcp.Options)
			}
		}
		if tc.payload == int(mss) && int(d.ip4.Length) != 1400+40 {
			t.Errorf("full segment is %d bytes, want the client's MSS + 40", d.ip4.Length)
		}
	}
	// A RST goes as it came.
	_, ds := handle(t, e, pkt6(t, backend, client6, bport, cport, seg{seq: 901 + uint32(mss) + 11, flags: "R"}))
	if len(ds) != 1 || len(ds[0].tcp.Options) != 0 {
		t.Fatalf("RST: %+v", ds)
	}
}

// TestTimestampsSuppliedAllocateNothing: adding the TSopt stays on the
// zero-allocation path.
func TestTimestampsSuppliedAllocateNothing(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	backend, bport, _, _, mss := spliceNoTSBackend(t, e, 50200)
	p6 := pkt6(t, backend, client6, bport, 50200, seg{seq: 901, ack: 2, flags: "PA", payload: make([]byte, mss)})
	out := packet.NewBatch(4, 2048)
	if a := testing.AllocsPerRun(1000, func() {
		out.Reset()
		e.Handle(p6, out)
	}); a != 0 {
		t.Fatalf("%v allocations per segment", a)
	}
}

// TestClientSegmentSplitToBackendMSS: a client segment larger than the
// backend's MSS leaves as backend-MSS segments with consecutive sequence
// numbers, the same options, PSH and FIN on the last one only, and right
// checksums.
func TestClientSegmentSplitToBackendMSS(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	p4, _ := establishedPairMSS(t, e, 1000, 536)
	tcp := packet.TCP(p4[20:])
	tcp[packet.TCPFlags] |= packet.TCPFlagFIN
	tcp.SetChecksum(0)
	tcp.SetChecksum(packet.Checksum(packet.IPv4(p4).PseudoHeaderSum(packet.ProtoTCP, len(tcp)), tcp))
	v, ds := handle(t, e, p4)
	if v != packet.Consumed || len(ds) != 2 {
		t.Fatalf("%v, %d segments, want 2", v, len(ds))
	}
	seq := ds[0].tcp.Seq
	total := 0
	for i, d := range ds {
		last := i == len(ds)-1
		if d.tcp.Seq != seq+uint32(total) || d.tcp.PSH != last || d.tcp.FIN != last || !d.tcp.ACK {
			t.Errorf("piece %d: seq %d PSH %v FIN %v", i, d.tcp.Seq, d.tcp.PSH, d.tcp.FIN)
		}
		if len(d.tcp.Payload)+len(d.tcp.Contents)-20 > 536 {
			t.Errorf("piece %d: %d bytes of payload and options", i, len(d.tcp.Payload)+len(d.tcp.Contents)-20)
		}
		_, ecr0 := tsOf(t, ds[0].tcp)
		if _, ecr := tsOf(t, d.tcp); ecr != ecr0 {
			t.Errorf("piece %d: TSecr %d, first piece %d", i, ecr, ecr0)
		}
		total += len(d.tcp.Payload)
	}
	if total != 1000 {
		t.Errorf("%d bytes in the pieces", total)
	}
	if e.Stats().SegmentsSplit != 2 {
		t.Errorf("SegmentsSplit %d", e.Stats().SegmentsSplit)
	}
}

// TestNetstackBackendWithoutTimestamps moves 10 MB each way between a
// client that negotiates timestamps and a backend that refuses them: every
// segment the client receives carries a TSopt, none is larger than the
// client's MTU and none had to be cut. (gVisor leaves room for options in
// its segments, so full-MSS segments and the lowered MSS are checked at
// packet level, TestTimestampsSuppliedForBackend.)
func TestNetstackBackendWithoutTimestamps(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// A large MTU6 so that the client's own MSS, not MTU6 - 60, is what
	// bounds the backend's segments.
	cfg := e2eEngineConfig()
	cfg.MTU6 = 9000
	f := newFabric(t, fabricConfig{
		engine:        cfg,
		client:        netstackOptions{rcvBuf: 4 << 20},
		backends:      map[netip.Addr]netstackOptions{hostA: {rcvBuf: 1 << 20, mtu: 9000}},
		backendNoTS:   true,
		clientPathMTU: 1500, // the client's own link
	})
	serveBulk(t, f.listen(ap(hostA, 9000)))
	if err := bulk(ctx, f, 9000, 10<<20, 10<<20, 44); err != nil {
		t.Fatal(err)
	}
	if n := f.noTSToClient.Load(); n != 0 {
		t.Errorf("%d segments reached the client without timestamps", n)
	}
	if n := f.tooBig.Load(); n != 0 {
		t.Errorf("%d segments larger than the client's MTU", n)
	}
	if n := f.engine.Stats().SegmentsSplit; n != 0 {
		t.Errorf("%d pieces: full backend segments did not fit the client's MSS with the TSopt", n)
	}
	f.engine.mu.Lock()
	defer f.engine.mu.Unlock()
	for _, c := range f.engine.all {
		if !c.insertTS {
			t.Errorf("connection %v: backend timestamps not refused", c.k4)
		}
	}
}
