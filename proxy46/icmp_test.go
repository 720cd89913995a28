package proxy46

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/sixgate/sixgate/packet"
)

// TestNetstackClientPath576 moves 10 MB from a backend to a client behind
// a 576-byte path: the router's Fragmentation Needed reaches the backend
// as a Packet Too Big of 1280, and the engine cuts the backend's segments
// to the client's path MTU.
func TestNetstackClientPath576(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	f := newFabric(t, fabricConfig{
		engine:        e2eEngineConfig(),
		client:        netstackOptions{rcvBuf: 4 << 20},
		backends:      map[netip.Addr]netstackOptions{hostA: {rcvBuf: 1 << 20}},
		clientPathMTU: 576,
	})
	serveBulk(t, f.listen(ap(hostA, 9000)))
	if err := bulk(ctx, f, 9000, 64<<10, 10<<20, 42); err != nil {
		t.Fatal(err)
	}
	st := f.engine.Stats()
	t.Logf("translated %d ICMP errors, split %d segments, %d packets too big for the path", st.ICMPTranslated, st.SegmentsSplit, f.tooBig.Load())
	if st.ICMPTranslated == 0 || st.SegmentsSplit == 0 {
		t.Errorf("translated %d, split %d", st.ICMPTranslated, st.SegmentsSplit)
	}
	if n := f.tooBig.Load(); n > 50 {
		t.Errorf("%d packets too big for the client path", n)
	}
}

// fragNeeded4 builds an ICMPv4 Fragmentation Needed from a router on the
// client's path about pkt, a packet the engine sent to the client.
func fragNeeded4(t *testing.T, pkt []byte, mtu uint16) []byte {
	t.Helper()
	ip4 := &layers.IPv4{Version: 4, TTL: 60, Protocol: layers.IPProtocolICMPv4,
		SrcIP: net.IP(pathRouter.AsSlice()), DstIP: net.IP(vip.AsSlice())}
	icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(3, 4), Seq: mtu}
	return serialize(t, ip4, icmp, gopacket.Payload(pkt[:min(len(pkt), 28)]))
}

// TestFragNeededFromClientPath: a Fragmentation Needed about a backend
// segment reaches the backend as a Packet Too Big with the MTU raised by
// 20 (never below 1280) and the quoted segment as the backend sent it;
// from then on backend segments are cut to the client's path MTU.
func TestFragNeededFromClientPath(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	_, p6 := establishedPair(t, e, 1200)
	out := packet.NewBatch(8, 2048)
	e.Handle(p6, out)
	toClient := append([]byte(nil), out.Packets[0].Data...)
	for _, tc := range []struct {
		mtu, want uint16
	}{{1400, 1420}, {576, 1280}} {
		out.Reset()
		if v := e.Handle(fragNeeded4(t, toClient, tc.mtu), out); v != packet.Consumed || out.Len() != 1 {
			t.Fatalf("MTU %d: %v, %d packets", tc.mtu, v, out.Len())
		}
		p := out.Packets[0]
		if p.Family != packet.IPv6Family || p.Dst != backendA.Addr() && p.Dst != backendB.Addr() {
			t.Fatalf("sent to %v", p.Dst)
		}
		pk := gopacket.NewPacket(p.Data, layers.LayerTypeIPv6, gopacket.Default)
		ip6, _ := pk.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
		ic, ok := pk.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
		if !ok || ic.TypeCode != layers.CreateICMPv6TypeCode(2, 0) {
			t.Fatalf("not a Packet Too Big: %v", pk)
		}
		if got := binary.BigEndian.Uint32(ic.Payload); got != uint32(tc.want) {
			t.Errorf("MTU %d reported as %d, want %d", tc.mtu, got, tc.want)
		}
		if !packet.ChecksumOK(packet.IPv6(p.Data).PseudoHeaderSum(packet.ProtoICMPv6, len(p.Data)-40), p.Data[40:]) {
			t.Fatal("ICMPv6 checksum wrong")
		}
		if ip(ip6.SrcIP) != netip.MustParseAddr("2001:db8:d246::198.51.100.1") {
			t.Errorf("source %v, want the router embedded in pool6", ip6.SrcIP)
		}
		inner := p.Data[48:]
		if !bytes.Equal(inner[8:40], p6[8:40]) || !bytes.Equal(inner[40:48], p6[40:48]) {
			t.Fatalf("quoted segment not the backend's:\n got %x\nwant %x", inner[:48], p6[:48])
		}
	}
	// A quote of a segment no longer in flight changes nothing.
	stale := append([]byte(nil), toClient...)
	binary.BigEndian.PutUint32(stale[24:], binary.BigEndian.Uint32(stale[24:])+1<<20)
	out.Reset()
	if v := e.Handle(fragNeeded4(t, stale, 300), out); v != packet.Drop || out.Len() != 0 || e.Stats().Drops[DropICMPUnknown] != 1 {
		t.Fatalf("stale quote: %v, %d packets", v, out.Len())
	}
	// The backend's next 1200-byte segment leaves in pieces of 576.
	next := append([]byte(nil), p6...)
	binary.BigEndian.PutUint32(next[44:], binary.BigEndian.Uint32(next[44:])+1200)
	next = pkt6Fix(t, next)
	out.Reset()
	if v := e.Handle(next, out); v != packet.Consumed || out.Len() != 3 {
		t.Fatalf("%v, %d pieces, want 3", v, out.Len())
	}
	seq := decodeOut(t, out.Packets[0]).tcp.Seq
	total := 0
	for i, p := range out.Packets {
		d := decodeOut(t, p)
		if len(p.Data) > 576 {
			t.Errorf("piece %d: %d bytes", i, len(p.Data))
		}
		if d.tcp.Seq != seq+uint32(total) {
			t.Errorf("piece %d: seq %d, want %d", i, d.tcp.Seq, seq+uint32(total))
		}
		if d.tcp.PSH != (i == 2) || !d.tcp.ACK || len(d.tcp.Options) == 0 || d.ip4.Flags&layers.IPv4DontFragment == 0 {
			t.Errorf("piece %d: flags PSH %v ACK %v, options %v", i, d.tcp.PSH, d.tcp.ACK, d.tcp.Options)
		}
		total += len(d.tcp.Payload)
	}
	if total != 1200 {
		t.Errorf("%d bytes in the pieces", total)
	}
}

// pkt6Fix recomputes the TCP checksum of an IPv6 segment a test edited.
func pkt6Fix(t *testing.T, b []byte) []byte {
	t.Helper()
	seg := packet.TCP(b[40:])
	seg.SetChecksum(0)
	seg.SetChecksum(packet.Checksum(packet.IPv6(b).PseudoHeaderSum(packet.ProtoTCP, len(seg)), seg))
	return b
}

// TestNetstackBackendUnreachable: a router's Destination Unreachable about
// the SYN to a backend makes the engine try the next backend at once, not
// after the backend timeout.
func TestNetstackBackendUnreachable(t *testing.T) {
	cfg := e2eEngineConfig()
	cfg.Timeouts = Timeouts{SYNRetransmit: 5 * time.Second, Backend: 20 * time.Second}
	f := newFabric(t, fabricConfig{
		engine:      cfg,
		client:      netstackOptions{rcvBuf: 1 << 20},
		backends:    map[netip.Addr]netstackOptions{hostA: {}, hostB: {}},
		unreachable: hostDead,
	})
	for _, h := range []struct {
		addr netip.Addr
		name string
	}{{hostA, "A"}, {hostB, "B"}} {
		serveHTTP(t, f.listen(ap(h.addr, 80)), h.name, nil)
	}
	f.tlsCert = selfSigned(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	got, err := get(ctx, f.httpClient(f.tlsCert), "http://silent.example:81/")
	if err != nil || got != "B host=silent.example:81 sni=" {
		t.Fatalf("%q, %v", got, err)
	}
	st := f.engine.Stats()
	if st.BackendUnreachable != 1 || st.Failovers != 1 || st.BackendTimeouts != 0 {
		t.Errorf("unreachable %d, failovers %d, timeouts %d", st.BackendUnreachable, st.Failovers, st.BackendTimeouts)
	}
}

// TestICMPErrorsTranslated: errors other than Packet Too Big cross the
// splice both ways as RFC 7915 maps them, quoting the segment as its
// sender sent it; an error quoting nothing in flight does not cross.
func TestICMPErrorsTranslated(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	p4, p6 := establishedPair(t, e, 100)
	out := packet.NewBatch(8, 2048)
	e.Handle(p4, out)
	toBackend := append([]byte(nil), out.Packets[0].Data...)
	out.Reset()
	e.Handle(p6, out)
	toClient := append([]byte(nil), out.Packets[0].Data...)
	router6 := net.ParseIP("2001:db8:ffff::1")

	for _, tc := range []struct {
		typ, code          uint8
		wantType, wantCode uint8
	}{
		{1, 4, 3, 3},  // port unreachable
		{1, 0, 3, 1},  // no route -> host unreachable
		{1, 1, 3, 10}, // administratively prohibited
		{3, 0, 11, 0}, // hop limit exceeded
	} {
		icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(tc.typ, tc.code)}
		ip6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolICMPv6, SrcIP: router6, DstIP: net.IP(client6.AsSlice())}
		icmp.SetNetworkLayerForChecksum(ip6)
		msg := serialize(t, ip6, icmp, gopacket.Payload(append(make([]byte, 4), toBackend...)))
		out.Reset()
		if v := e.Handle(msg, out); v != packet.Consumed || out.Len() != 1 {
			t.Fatalf("ICMPv6 %d/%d: %v, %d packets", tc.typ, tc.code, v, out.Len())
		}
		b := out.Packets[0].Data
		if b[20] != tc.wantType || b[21] != tc.wantCode || !packet.ChecksumOK(0, b[20:]) || out.Packets[0].Dst != client4 {
			t.Fatalf("ICMPv6 %d/%d became %d/%d to %v", tc.typ, tc.code, b[20], b[21], out.Packets[0].Dst)
		}
		inner := packet.IPv4(b[28:])
		if inner.Src() != client4.As4() || inner.Dst() != vip.As4() || !bytes.Equal(b[48:56], p4[20:28]) {
			t.Fatalf("quote not the client's segment: %x", b[28:56])
		}
	}

	for _, tc := range []struct {
		typ, code          uint8
		wantType, wantCode uint8
	}{
		{3, 1, 1, 0},  // host unreachable -> no route
		{3, 3, 1, 4},  // port unreachable
		{3, 13, 1, 1}, // administratively prohibited
		{11, 0, 3, 0}, // TTL exceeded
	} {
		ip4 := &layers.IPv4{Version: 4, TTL: 60, Protocol: layers.IPProtocolICMPv4,
			SrcIP: net.IP(pathRouter.AsSlice()), DstIP: net.IP(vip.AsSlice())}
		icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(tc.typ, tc.code)}
		msg := serialize(t, ip4, icmp, gopacket.Payload(toClient[:28]))
		out.Reset()
		if v := e.Handle(msg, out); v != packet.Consumed || out.Len() != 1 {
			t.Fatalf("ICMPv4 %d/%d: %v, %d packets", tc.typ, tc.code, v, out.Len())
		}
		b := out.Packets[0].Data
		if b[40] != tc.wantType || b[41] != tc.wantCode || out.Packets[0].Family != packet.IPv6Family ||
			!packet.ChecksumOK(packet.IPv6(b).PseudoHeaderSum(packet.ProtoICMPv6, len(b)-40), b[40:]) {
			t.Fatalf("ICMPv4 %d/%d became %d/%d", tc.typ, tc.code, b[40], b[41])
		}
		if !bytes.Equal(b[48+8:48+40], p6[8:40]) || !bytes.Equal(b[88:96], p6[40:48]) {
			t.Fatalf("quote not the backend's segment: %x", b[48:96])
		}
	}
	// Redirects and source quench do not cross.
	for _, typ := range []uint8{4, 5} {
		ip4 := &layers.IPv4{Version: 4, TTL: 60, Protocol: layers.IPProtocolICMPv4,
			SrcIP: net.IP(pathRouter.AsSlice()), DstIP: net.IP(vip.AsSlice())}
		icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(typ, 0)}
		out.Reset()
		if v := e.Handle(serialize(t, ip4, icmp, gopacket.Payload(toClient[:28])), out); v != packet.Drop || out.Len() != 0 {
			t.Fatalf("ICMPv4 type %d: %v, %d packets", typ, v, out.Len())
		}
	}
}

// TestNetstackBackendSmallMSS moves 4 MB up to a backend on a 1280-byte
// link (MSS 1220) from a client that was told 1440 before the backend was
// chosen: the engine cuts the client's segments to the backend's MSS.
func TestNetstackBackendSmallMSS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	f := newFabric(t, fabricConfig{
		engine:   e2eEngineConfig(),
		client:   netstackOptions{rcvBuf: 1 << 20},
		backends: map[netip.Addr]netstackOptions{hostA: {rcvBuf: 1 << 20, mtu: 1280}},
	})
	serveBulk(t, f.listen(ap(hostA, 9000)))
	if err := bulk(ctx, f, 9000, 4<<20, 64<<10, 43); err != nil {
		t.Fatal(err)
	}
	st := f.engine.Stats()
	t.Logf("split %d segments, %d packets too big for the backend's link", st.SegmentsSplit, f.backendTooBig.Load())
	if st.SegmentsSplit == 0 || f.backendTooBig.Load() != 0 {
		t.Errorf("split %d, %d too big", st.SegmentsSplit, f.backendTooBig.Load())
	}
}
