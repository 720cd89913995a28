package proxy46

import (
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/sixgate/sixgate/packet"
)

// openToBackend runs a client through the handshake and sends payload,
// returning the edge ISN and the backend SYN it caused (if any).
func openToBackend(t *testing.T, e *Engine, port, cport uint16, payload string) (uint32, []decoded) {
	t.Helper()
	isnV, tsV := handshake(t, e, port, cport, 1000)
	if payload == "" {
		return isnV, nil
	}
	_, ds := handle(t, e, pkt4(t, client4, vip, cport, port, seg{seq: 1001, ack: isnV + 1, flags: "PA",
		opts: []layers.TCPOption{optNOPv(), optNOPv(), optTS(102, tsV)}, payload: []byte(payload)}))
	return isnV, ds
}

func TestFailoverOnRefusalThenReset(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	const cport = 40001
	// SNI service: d.example is served by D, then E.
	hello := captureHello(t, "d.example")
	_, ds := openToBackend(t, e, 443, cport, string(hello))
	if len(ds) != 1 || ip(ds[0].ip6.DstIP) != backendD.Addr() {
		t.Fatalf("first SYN: %+v", ds)
	}
	refuse := func(b netip.AddrPort) []decoded {
		_, ds := handle(t, e, pkt6(t, b.Addr(), client6, b.Port(), cport, seg{ack: 1001, flags: "RA"}))
		return ds
	}
	ds = refuse(backendD)
	if len(ds) != 1 || !ds[0].tcp.SYN || ip(ds[0].ip6.DstIP) != backendE.Addr() || ds[0].tcp.Seq != 1000 {
		t.Fatalf("failover SYN: %+v", ds)
	}
	ds = refuse(backendE)
	if len(ds) != 1 || ds[0].ip4 == nil || !ds[0].tcp.RST || ds[0].tcp.Ack != 1001+uint32(len(hello)) {
		t.Fatalf("no reset to the client: %+v", ds)
	}
	st := e.Stats()
	if st.BackendRefused != 2 || st.Failovers != 1 || st.NoBackend != 1 || st.ClientResets != 1 || e.Len() != 0 {
		t.Fatalf("stats %+v, %d connections", st, e.Len())
	}
}

func TestBackendTimeoutRetransmitsThenFailsOver(t *testing.T) {
	e, clock := newTestEngine(t, nil)
	_, ds := openToBackend(t, e, 80, 40002, "A")
	if len(ds) != 1 || ip(ds[0].ip6.DstIP) != backendA.Addr() {
		t.Fatalf("first SYN: %+v", ds)
	}
	for i := 0; i < 2; i++ {
		clock.Advance(time.Second)
		if ds := expire(t, e); len(ds) != 1 || !ds[0].tcp.SYN || ip(ds[0].ip6.DstIP) != backendA.Addr() {
			t.Fatalf("retransmission %d: %+v", i, ds)
		}
	}
	// At 3 s the backend is given up: a reset for it, and, as "A" matched
	// nothing else and failover never falls back to the default, a reset
	// for the client.
	clock.Advance(time.Second)
	ds = expire(t, e)
	if len(ds) != 2 || !ds[0].tcp.RST || ds[0].ip6 == nil || !ds[1].tcp.RST || ds[1].ip4 == nil {
		t.Fatalf("after the timeout: %+v", ds)
	}
	if st := e.Stats(); st.BackendTimeouts != 1 || st.BackendSynRetries != 2 || e.Len() != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestDefaultBackendAndForcedChoice(t *testing.T) {
	e, clock := newTestEngine(t, nil)
	// Bytes that match no prefix go to the default at once.
	if _, ds := openToBackend(t, e, 80, 40003, "Z"); len(ds) != 1 || ip(ds[0].ip6.DstIP) != backendC.Addr() {
		t.Fatalf("unmatched prefix: %+v", ds)
	}
	// An incomplete Host header waits, then the embryonic timer sends
	// it to the default.
	if _, ds := openToBackend(t, e, 8000, 40004, "GET / HTTP/1.1\r\nHo"); len(ds) != 0 {
		t.Fatalf("decided too early: %+v", ds)
	}
	clock.Advance(11 * time.Second)
	ds := expire(t, e)
	var syn *decoded
	for i := range ds {
		if ds[i].tcp.SYN && ds[i].ip6 != nil && ds[i].tcp.SrcPort == 40004 {
			syn = &ds[i]
		}
	}
	if syn == nil || ip(syn.ip6.DstIP) != backendC.Addr() {
		t.Fatalf("no default after the timer: %+v", ds)
	}
	if st := e.Stats(); st.DefaultChosen != 2 || st.ForcedChoices != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestHoldBoundForcesChoice(t *testing.T) {
	e, _ := newTestEngine(t, func(c *Config) { c.MaxHeldBytes = 20 })
	isnV, tsV := handshake(t, e, 8000, 40005, 1000)
	req := []byte("GET / HTTP/1.1\r\nUser-Agent: a long header\r\nHost: a.example\r\n\r\n")
	_, ds := handle(t, e, pkt4(t, client4, vip, 40005, 8000, seg{seq: 1001, ack: isnV + 1, flags: "PA",
		opts: []layers.TCPOption{optNOPv(), optNOPv(), optTS(102, tsV)}, payload: req[:10]}))
	if len(ds) != 0 {
		t.Fatal("decided on 10 bytes")
	}
	_, ds = handle(t, e, pkt4(t, client4, vip, 40005, 8000, seg{seq: 1011, ack: isnV + 1, flags: "PA",
		opts: []layers.TCPOption{optNOPv(), optNOPv(), optTS(103, tsV)}, payload: req[10:]}))
	if len(ds) != 1 || ip(ds[0].ip6.DstIP) != backendC.Addr() {
		t.Fatalf("bound reached: %+v", ds)
	}
	st := e.Stats()
	if st.HeldBytes != 20 || st.Drops[DropHoldFull] != 1 {
		t.Fatalf("held %d, hold-full drops %d", st.HeldBytes, st.Drops[DropHoldFull])
	}
}

func TestHTTPHostAcrossSegments(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	isnV, tsV := handshake(t, e, 8000, 40006, 1000)
	req := []byte("GET / HTTP/1.1\r\nHost: b.example\r\n\r\n")
	seq := uint32(1001)
	for i, part := range [][]byte{req[:5], req[5:20], req[20:]} {
		_, ds := handle(t, e, pkt4(t, client4, vip, 40006, 8000, seg{seq: seq, ack: isnV + 1, flags: "PA",
			opts: []layers.TCPOption{optNOPv(), optNOPv(), optTS(102, tsV)}, payload: part}))
		seq += uint32(len(part))
		if want := i / 2; len(ds) != want {
			t.Fatalf("segment %d: %d packets", i, len(ds))
		}
		if i == 2 && ip(ds[0].ip6.DstIP) != backendB.Addr() {
			t.Fatalf("chose %v", ds[0].ip6.DstIP)
		}
	}
}

func TestSNIAcrossSegments(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	isnV, tsV := handshake(t, e, 443, 40007, 1000)
	hello := captureHello(t, "x.e.example")
	seq := uint32(1001)
	var got []decoded
	for off := 0; off < len(hello); off += 500 {
		part := hello[off:min(off+500, len(hello))]
		_, ds := handle(t, e, pkt4(t, client4, vip, 40007, 443, seg{seq: seq, ack: isnV + 1, flags: "PA",
			opts: []layers.TCPOption{optNOPv(), optNOPv(), optTS(102, tsV)}, payload: part}))
		seq += uint32(len(part))
		got = append(got, ds...)
		if len(ds) != 0 && off+500 < len(hello) {
			t.Fatalf("decided at %d of %d bytes", off+500, len(hello))
		}
	}
	if len(got) != 1 || ip(got[0].ip6.DstIP) != backendE.Addr() {
		t.Fatalf("SNI choice: %+v", got)
	}
}

func TestL4Policies(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	// Round robin alternates; hash keeps a client on one backend.
	var rr, hashed []string
	for i := uint16(0); i < 4; i++ {
		_, ds := openToBackendL4(t, e, 22, 41000+i)
		rr = append(rr, ds.String())
		_, ds = openToBackendL4(t, e, 23, 42000+i)
		hashed = append(hashed, ds.String())
	}
	if rr[0] == rr[1] || rr[0] != rr[2] || rr[1] != rr[3] {
		t.Errorf("round robin: %v", rr)
	}
	if hashed[0] != hashed[1] || hashed[0] != hashed[2] || hashed[0] != hashed[3] {
		t.Errorf("hash not sticky: %v", hashed)
	}
}

// openToBackendL4 completes a handshake on an L4 service and returns the
// backend the SYN went to.
func openToBackendL4(t *testing.T, e *Engine, port, cport uint16) (uint32, net.IP) {
	t.Helper()
	syn := pkt4(t, client4, vip, cport, port, seg{seq: 1000, flags: "S", opts: []layers.TCPOption{optMSSv(1460)}})
	sa := handle1(t, e, syn)
	bs := handle1(t, e, pkt4(t, client4, vip, cport, port, seg{seq: 1001, ack: sa.tcp.Seq + 1, flags: "A"}))
	if !bs.tcp.SYN || bs.ip6 == nil {
		t.Fatalf("no backend SYN at the handshake: %+v", bs)
	}
	if opts := tcpOpts(bs.tcp); len(opts) != 1 {
		t.Errorf("options offered beyond the client's: %v", bs.tcp.Options)
	}
	return sa.tcp.Seq, bs.ip6.DstIP
}

func TestTableFull(t *testing.T) {
	e, _ := newTestEngine(t, func(c *Config) { c.MaxConnections = 2 })
	for i := uint16(0); i < 3; i++ {
		v, ds := handle(t, e, pkt4(t, client4, vip, 43000+i, 80, seg{seq: 1, flags: "S"}))
		if i < 2 && (v != packet.Consumed || len(ds) != 1) || i == 2 && (v != packet.Drop || len(ds) != 0) {
			t.Fatalf("SYN %d: %v, %d packets", i, v, len(ds))
		}
	}
	if st := e.Stats(); st.Drops[DropTableFull] != 1 || st.ByState[StateSynReceived] != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestEmbryonicExpiry(t *testing.T) {
	e, clock := newTestEngine(t, nil)
	handle(t, e, pkt4(t, client4, vip, 43100, 80, seg{seq: 1, flags: "S"}))
	clock.Advance(9 * time.Second)
	expire(t, e)
	if e.Len() != 1 {
		t.Fatal("expired early")
	}
	clock.Advance(2 * time.Second)
	if ds := expire(t, e); len(ds) != 1 || !ds[0].tcp.RST || e.Len() != 0 || e.Stats().EmbryonicExpired != 1 {
		t.Fatalf("not expired: %d packets, %d connections", len(ds), e.Len())
	}
}

func TestIdleExpiry(t *testing.T) {
	e, clock := newTestEngine(t, func(c *Config) { c.Timeouts.Idle = time.Minute })
	establishedPair(t, e, 10)
	clock.Advance(30 * time.Second)
	expire(t, e)
	if e.Len() != 1 {
		t.Fatal("expired early")
	}
	clock.Advance(31 * time.Second)
	expire(t, e)
	if e.Len() != 0 || e.Stats().IdleExpired != 1 {
		t.Fatalf("%d connections after idle timeout", e.Len())
	}
}

func TestPassAndStray(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	other := pkt4(t, client4, client4, 1, 2, seg{flags: "S"})
	if v, ds := handle(t, e, other); v != packet.Pass || len(ds) != 0 {
		t.Fatalf("foreign packet: %v", v)
	}
	if v, _ := handle(t, e, pkt6(t, backendA.Addr(), backendB.Addr(), 1, 2, seg{flags: "S"})); v != packet.Pass {
		t.Fatalf("foreign IPv6 packet: %v", v)
	}
	// A backend segment for a forgotten connection is reset.
	v, ds := handle(t, e, pkt6(t, backendA.Addr(), client6, 8080, 5555, seg{seq: 10, ack: 20, flags: "A"}))
	if v != packet.Drop || len(ds) != 1 || !ds[0].tcp.RST || ds[0].tcp.Seq != 20 || ip(ds[0].ip6.DstIP) != backendA.Addr() {
		t.Fatalf("stray backend segment: %v %+v", v, ds)
	}
	// A segment to a VIP port without a service is reset too.
	v, ds = handle(t, e, pkt4(t, client4, vip, 1234, 9, seg{seq: 10, flags: "S"}))
	if v != packet.Drop || len(ds) != 1 || !ds[0].tcp.RST || ds[0].tcp.Ack != 11 {
		t.Fatalf("no service: %v %+v", v, ds)
	}
}

// TestPacketTooBig turns an ICMPv6 Packet Too Big about a spliced segment
// into ICMPv4 Fragmentation Needed with the inner packet translated.
func TestPacketTooBig(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	p4, _ := establishedPair(t, e, 1000)
	out := packet.NewBatch(2, 2048)
	e.Handle(p4, out)
	sent := out.Packets[0].Data
	router := net.ParseIP("2001:db8:ffff::1")
	icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypePacketTooBig, 0)}
	ip6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolICMPv6, SrcIP: router, DstIP: net.IP(client6.AsSlice())}
	icmp.SetNetworkLayerForChecksum(ip6)
	body := binary.BigEndian.AppendUint32(nil, 1280)
	ptb := serialize(t, ip6, icmp, gopacket.Payload(append(body, sent[:1232-8]...)))
	out.Reset()
	if v := e.Handle(ptb, out); v != packet.Consumed || out.Len() != 1 {
		t.Fatalf("PTB: %v, %d packets", v, out.Len())
	}
	pk := gopacket.NewPacket(out.Packets[0].Data, layers.LayerTypeIPv4, gopacket.Default)
	ic, ok := pk.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
	if !ok {
		t.Fatalf("not ICMPv4: %v", pk)
	}
	if ic.TypeCode != layers.CreateICMPv4TypeCode(3, 4) || binary.BigEndian.Uint16(ic.Contents[6:]) != 1260 {
		t.Fatalf("ICMPv4 %v, MTU %d", ic.TypeCode, binary.BigEndian.Uint16(ic.Contents[6:]))
	}
	// Recompute the ICMP checksum over the whole message.
	if !packet.ChecksumOK(0, out.Packets[0].Data[20:]) {
		t.Fatal("ICMPv4 checksum wrong")
	}
	inner := gopacket.NewPacket(ic.Payload, layers.LayerTypeIPv4, gopacket.Default)
	iip, _ := inner.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	itcp, _ := inner.Layer(layers.LayerTypeTCP).(*layers.TCP)
	if iip == nil || itcp == nil || ip(iip.SrcIP) != client4 || ip(iip.DstIP) != vip || itcp.DstPort != 22 || itcp.SrcPort != 50000 {
		t.Fatalf("inner packet not translated back: %v", inner)
	}
	if iip.Length != uint16(len(p4)) {
		t.Errorf("inner total length %d, want the client's %d", iip.Length, len(p4))
	}
}

// captureHello returns the first TLS record a crypto/tls client sends.
func captureHello(t *testing.T, name string) []byte {
	t.Helper()
	c, s := net.Pipe()
	defer s.Close()
	go func() {
		tc := tls.Client(c, &tls.Config{ServerName: name, InsecureSkipVerify: true})
		tc.SetDeadline(time.Now().Add(5 * time.Second))
		tc.Handshake()
		c.Close()
	}()
	s.SetDeadline(time.Now().Add(5 * time.Second))
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(s, hdr); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, binary.BigEndian.Uint16(hdr[3:]))
	if _, err := io.ReadFull(s, body); err != nil {
		t.Fatal(err)
	}
	return append(hdr, body...)
}

// TestHoldTimeoutWithoutDefault resets a client whose first bytes never
// decide on a service without a default backend.
func TestHoldTimeoutWithoutDefault(t *testing.T) {
	e, clock := newTestEngine(t, nil)
	hello := captureHello(t, "d.example")
	if _, ds := openToBackend(t, e, 443, 40008, string(hello[:100])); len(ds) != 0 {
		t.Fatalf("decided on a partial ClientHello: %+v", ds)
	}
	clock.Advance(11 * time.Second)
	ds := expire(t, e)
	if len(ds) != 1 || ds[0].ip4 == nil || !ds[0].tcp.RST {
		t.Fatalf("want one reset to the client, got %+v", ds)
	}
	st := e.Stats()
	if e.Len() != 0 || st.ConnectionsClosed != 1 || st.ByState[StateHolding] != 0 || st.HeldBytes != 0 {
		t.Fatalf("after the reset: %d connections, stats %+v", e.Len(), st)
	}
}
