package proxy46

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/sixgate/sixgate/packet"
)

// fuzzConfig has small bounds so that fuzzing reaches all of them: SYN
// cookies from the third embryonic connection, a hard cap of four, and a
// total hold bound of one connection's.
func fuzzConfig(clock *fakeClock) Config {
	cfg := testConfig(clock)
	cfg.MaxConnections = 8
	cfg.MaxHeldBytes = 512
	cfg.MaxHeldBytesTotal = 512
	cfg.MaxEmbryonic = 4
	cfg.SynCookieThreshold = 3
	return cfg
}

// fuzzSetup returns packets that leave an engine with live connections in
// several states: one established on port 22, one holding on port 8000,
// one waiting for its backend on port 80.
func fuzzSetup(t testing.TB) (setup [][]byte, p4, p6 []byte) {
	e, _ := newTestEngine(t, func(c *Config) { *c = fuzzConfig(newFakeClock()) })
	rec := &recorder{}
	p4, p6 = establishedPairRecorded(t, e, rec, 100)
	tsOpts := []layers.TCPOption{optNOPv(), optNOPv(), optTS(300, 0)}
	synOpts := []layers.TCPOption{optMSSv(1400), optSACKOK(), optTS(300, 0), optNOPv(), optWS(7)}
	for _, port := range []uint16{8000, 80} {
		syn := pkt4(t, client4, vip, 41000+port, port, seg{seq: 5000, flags: "S", opts: synOpts})
		out := packet.NewBatch(2, 2048)
		e.Handle(syn, out)
		isnV := binary.BigEndian.Uint32(out.Packets[0].Data[20+packet.TCPSeq:])
		rec.add(syn)
		payload := "GET / HTTP/1.1\r\nHo"
		if port == 80 {
			payload = "B"
		}
		rec.add(pkt4(t, client4, vip, 41000+port, port, seg{seq: 5001, ack: isnV + 1, flags: "PA", opts: tsOpts, payload: []byte(payload)}))
	}
	return rec.pkts, p4, p6
}

type recorder struct{ pkts [][]byte }

func (r *recorder) add(p []byte) { r.pkts = append(r.pkts, p) }

// establishedPairRecorded is establishedPair that also records the
// packets it fed, so that fresh engines can be brought to the same state.
func establishedPairRecorded(t testing.TB, e *Engine, rec *recorder, payload int) ([]byte, []byte) {
	spy := &spyEngine{Engine: e, rec: rec}
	return spy.establish(t, payload)
}

type spyEngine struct {
	*Engine
	rec *recorder
}

func (s *spyEngine) establish(t testing.TB, payload int) ([]byte, []byte) {
	const cport, isnC, isnB = 50000, 1, 900
	out := packet.NewBatch(4, 2048)
	syn := pkt4(t, client4, vip, cport, 22, seg{seq: isnC, flags: "S", window: 64240,
		opts: []layers.TCPOption{optMSSv(1460), optSACKOK(), optTS(100, 0), optNOPv(), optWS(8)}})
	s.Handle(syn, out)
	s.rec.add(syn)
	isnV := binary.BigEndian.Uint32(out.Packets[0].Data[20+packet.TCPSeq:])
	out.Reset()
	ack := pkt4(t, client4, vip, cport, 22, seg{seq: isnC + 1, ack: isnV + 1, flags: "A",
		opts: []layers.TCPOption{optNOPv(), optNOPv(), optTS(101, 1)}})
	s.Handle(ack, out)
	s.rec.add(ack)
	bsyn := decodeOut(t, out.Packets[0])
	backend, bport := ip(bsyn.ip6.DstIP), uint16(bsyn.tcp.DstPort)
	synack := pkt6(t, backend, client6, bport, cport, seg{seq: isnB, ack: isnC + 1, flags: "SA",
		opts: []layers.TCPOption{optMSSv(1440), optSACKOK(), optTS(7, 101), optNOPv(), optWS(6)}})
	s.rec.add(synack)
	data := make([]byte, payload)
	p4 := pkt4(t, client4, vip, cport, 22, seg{seq: isnC + 1, ack: isnV + 1, flags: "PA",
		opts: []layers.TCPOption{optNOPv(), optNOPv(), optTS(102, 7), optNOPv(), optNOPv(), optSACKBlocks(isnV+5, isnV+9)}, payload: data})
	p6 := pkt6(t, backend, client6, bport, cport, seg{seq: isnB + 1, ack: isnC + 1, flags: "PA",
		opts: []layers.TCPOption{optNOPv(), optNOPv(), optTS(8, 102)}, payload: data})
	return p4, p6
}

// FuzzHandle feeds arbitrary packets, and arbitrary TCP segments inside
// valid headers of live connections, to an engine, then runs its timers.
// It must not panic, must keep its table and holds within their bounds,
// and every packet it emits must have consistent IP lengths.
func FuzzHandle(f *testing.F) {
	setup, p4, p6 := fuzzSetup(f)
	f.Add(byte(0), p4)
	f.Add(byte(0), p6)
	f.Add(byte(1), p4[20:])
	f.Add(byte(2), p6[40:])
	for _, p := range setup {
		f.Add(byte(0), p)
		f.Add(byte(3), append([]byte{byte(len(p) >> 8), byte(len(p))}, p...))
	}
	// What the engine answers for its VIPs as a host (host.go).
	f.Add(byte(0), ping(f, client4, 7, 9, "ping!"))
	f.Add(byte(0), udpTo(f, client4, 5353, 53, "query"))
	f.Add(byte(0), pkt4(f, client4, vip, 40000, 9999, seg{seq: 1000, flags: "S"}))
	// ICMP errors about spliced segments, both ways (icmp.go).
	toClient, toBackend := fuzzSpliced(f, setup, p4, p6)
	f.Add(byte(0), icmpError4(toClient, packet.ICMPv4DestUnreachable, packet.ICMPv4CodeFragNeeded, 576))
	f.Add(byte(0), icmpError4(toClient, packet.ICMPv4TimeExceeded, 0, 0))
	f.Add(byte(0), icmpError6(toBackend, packet.ICMPv6PacketTooBig, 0, 1280))
	f.Add(byte(0), icmpError6(toBackend, packet.ICMPv6DestUnreachable, packet.ICMPv6CodePortUnreachable, 0))
	f.Fuzz(func(t *testing.T, kind byte, data []byte) {
		clock := newFakeClock()
		cfg := fuzzConfig(clock)
		e, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		out := packet.NewBatch(8, 2048)
		for _, p := range setup {
			e.Handle(p, out)
		}
		var pkts [][]byte
		switch kind % 4 {
		case 0:
			pkts = [][]byte{data}
		case 1: // a client segment inside a valid header
			pkts = [][]byte{withIPv4(p4, data)}
		case 2: // a backend segment inside a valid header
			pkts = [][]byte{withIPv6(p6, data)}
		case 3: // a sequence of length-prefixed packets
			for len(data) >= 2 {
				n := min(int(binary.BigEndian.Uint16(data)), len(data)-2)
				pkts = append(pkts, data[2:2+n])
				data = data[2+n:]
			}
		}
		for i, p := range pkts {
			e.Handle(p, out)
			if i%2 == 1 {
				clock.Advance(time.Duration(kind) * 100 * time.Millisecond)
				e.Expire(out)
			}
		}
		clock.Advance(11 * time.Second)
		e.Expire(out)
		st := e.Stats()
		if e.Len() > cfg.MaxConnections || len(e.by6) > e.Len() || len(e.all) != e.Len() {
			t.Fatalf("table out of bounds: %d by4, %d by6, %d all", e.Len(), len(e.by6), len(e.all))
		}
		if st.HeldBytes > uint64(cfg.MaxHeldBytesTotal) {
			t.Fatalf("holding %d bytes", st.HeldBytes)
		}
		if emb := e.embryonic(); emb > cfg.MaxEmbryonic {
			t.Fatalf("%d embryonic connections", emb)
		}
		for _, p := range out.Packets {
			checkLengths(t, p)
			checkICMPv4(t, p)
		}
	})
}

// withIPv4 puts seg behind p's IPv4 header, keeping p's ports.
func withIPv4(p, seg []byte) []byte {
	b := append(append([]byte(nil), p[:20+4]...), seg[min(4, len(seg)):]...)
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	return b
}

// withIPv6 puts seg behind p's IPv6 header, keeping p's ports.
func withIPv6(p, seg []byte) []byte {
	b := append(append([]byte(nil), p[:40+4]...), seg[min(4, len(seg)):]...)
	binary.BigEndian.PutUint16(b[4:], uint16(len(b)-40))
	return b
}

func checkLengths(t *testing.T, p packet.Out) {
	switch p.Family {
	case packet.IPv4Family:
		if len(p.Data) < 20 || int(binary.BigEndian.Uint16(p.Data[2:])) != len(p.Data) {
			t.Fatalf("IPv4 output with inconsistent length: %x", p.Data)
		}
		if !packet.IPv4(p.Data).HeaderChecksumOK() {
			t.Fatalf("IPv4 header checksum wrong: %x", p.Data[:20])
		}
	case packet.IPv6Family:
		if len(p.Data) < 40 || int(binary.BigEndian.Uint16(p.Data[4:]))+40 != len(p.Data) {
			t.Fatalf("IPv6 output with inconsistent length: %x", p.Data)
		}
	default:
		t.Fatalf("family %d", p.Family)
	}
}

// fuzzSpliced returns what an engine brought to the fuzz state sends for
// p6 (to the client) and p4 (to the backend).
func fuzzSpliced(t testing.TB, setup [][]byte, p4, p6 []byte) (toClient, toBackend []byte) {
	e, _ := newTestEngine(t, func(c *Config) { *c = fuzzConfig(newFakeClock()) })
	out := packet.NewBatch(8, 2048)
	for _, p := range setup {
		e.Handle(p, out)
	}
	out.Reset()
	e.Handle(p6, out)
	toClient = append([]byte(nil), out.Packets[0].Data...)
	out.Reset()
	e.Handle(p4, out)
	toBackend = append([]byte(nil), out.Packets[0].Data...)
	return toClient, toBackend
}

// icmpError4 is an ICMPv4 error from a router on the client's path to the
// VIP, quoting the IP header and 8 bytes of pkt.
func icmpError4(pkt []byte, typ, code uint8, rest uint32) []byte {
	quote := pkt[:min(len(pkt), packet.IPv4MinLen+8)]
	b := make([]byte, packet.IPv4MinLen+packet.ICMPHeaderLen+len(quote))
	packet.IPv4(b).Encode(&packet.IPv4Fields{TotalLen: uint16(len(b)), TTL: 60, Protocol: packet.ProtoICMPv4,
		Src: [4]byte{198, 51, 100, 1}, Dst: packet.IPv4(pkt).Src()})
	icmp := packet.ICMP(b[packet.IPv4MinLen:])
	icmp[packet.ICMPType], icmp[packet.ICMPCode] = typ, code
	binary.BigEndian.PutUint32(icmp[packet.ICMPRest:], rest)
	copy(icmp.Body(), quote)
	icmp.SetChecksum(packet.Checksum(0, icmp))
	return b
}

// icmpError6 is an ICMPv6 error from a router on the backend's path to the
// client's pool6 address, quoting pkt.
func icmpError6(pkt []byte, typ, code uint8, rest uint32) []byte {
	b := make([]byte, packet.IPv6HeaderLen+packet.ICMPHeaderLen+len(pkt))
	packet.IPv6(b).Encode(&packet.IPv6Fields{PayloadLen: uint16(len(b) - packet.IPv6HeaderLen), NextHeader: packet.ProtoICMPv6,
		HopLimit: 60, Src: [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 1}, Dst: packet.IPv6(pkt).Src()})
	icmp := packet.ICMP(b[packet.IPv6HeaderLen:])
	icmp[packet.ICMPType], icmp[packet.ICMPCode] = typ, code
	binary.BigEndian.PutUint32(icmp[packet.ICMPRest:], rest)
	copy(icmp.Body(), pkt)
	icmp.SetChecksum(packet.Checksum(packet.IPv6(b).PseudoHeaderSum(packet.ProtoICMPv6, len(icmp)), icmp))
	return b
}
