package siit

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/sixgate/sixgate/packet"
)

var router4 = netip.MustParseAddr("198.18.0.1")

// icmp4 builds an ICMPv4 error from src to dst quoting q.
func icmp4(t testing.TB, src, dst netip.Addr, typ, code uint8, rest uint32, q []byte) []byte {
	ic := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(typ, code), Id: uint16(rest >> 16), Seq: uint16(rest)}
	return serialize(t, v4(src, dst, layers.IPProtocolICMPv4), ic, gopacket.Payload(q))
}

func icmp6(t testing.TB, src, dst netip.Addr, typ, code uint8, rest uint32, q []byte) []byte {
	var r [4]byte
	binary.BigEndian.PutUint32(r[:], rest)
	ic := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(typ, code)}
	return serialize(t, v6(src, dst, layers.IPProtocolICMPv6), ic, gopacket.Payload(append(r[:], q...)))
}

// quotedInner checks the IPv6 packet quoted in an ICMPv6 error: the
// addresses of the packet the IPv6 host sent, and its UDP checksum
// against them when whole.
func quotedInner6(t *testing.T, q []byte, src, dst netip.Addr) {
	t.Helper()
	ip := packet.IPv6(q)
	if len(q) < 48 || ip.SrcAddr() != src || ip.DstAddr() != dst || ip.NextHeader() != packet.ProtoUDP {
		t.Fatalf("quoted packet %x", q)
	}
	if whole := 40 + int(ip.PayloadLength()); whole == len(q) {
		if !packet.ChecksumOK(ip.PseudoHeaderSum(packet.ProtoUDP, len(q)-40), q[40:]) {
			t.Fatal("quoted UDP checksum not adjusted")
		}
	}
}

func quotedInner4(t *testing.T, q []byte, src, dst netip.Addr) {
	t.Helper()
	ip := packet.IPv4(q)
	if len(q) < 28 || ip.SrcAddr() != src || ip.DstAddr() != dst || ip.Protocol() != packet.ProtoUDP || !ip.HeaderChecksumOK() {
		t.Fatalf("quoted packet %x", q)
	}
	if int(ip.TotalLength()) == len(q) && !packet.ChecksumOK(ip.PseudoHeaderSum(packet.ProtoUDP, len(q)-20), q[20:]) {
		t.Fatal("quoted UDP checksum not adjusted")
	}
}

// RFC 7915 §4.2: ICMPv4 errors about packets the IPv6 host sent.
func TestICMPv4Errors(t *testing.T) {
	tr := newTest(t, testConfig())
	// What the IPv6 host sent, as it left the translator.
	sent4 := udp4(t, v4(host6v4, host4, layers.IPProtocolUDP), 40)
	tests := []struct {
		name              string
		typ, code         uint8
		rest              uint32
		wantTyp, wantCode uint8
		wantRest          uint32
	}{
		{"port unreachable", 3, 3, 0, 1, 4, 0},
		{"host unreachable", 3, 1, 0, 1, 0, 0},
		{"admin prohibited", 3, 13, 0, 1, 1, 0},
		{"protocol unreachable", 3, 2, 0, 4, 1, 6},
		{"fragmentation needed", 3, 4, 1400, 2, 0, 1420},
		{"fragmentation needed, no MTU: plateau", 3, 4, 0, 2, 0, 1280}, // quoted packet of 68 bytes -> plateau 68 -> 1280 at least
		{"time exceeded", 11, 0, 0, 3, 0, 0},
		{"parameter problem", 12, 0, 9 << 24, 4, 0, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := one(t, tr, icmp4(t, router4, host6v4, tt.typ, tt.code, tt.rest, sent4))
			ip6 := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
			rv6, _ := tr.Mapper().To6(router4)
			if !ip6.SrcIP.Equal(ip(rv6)) || !ip6.DstIP.Equal(ip(host6)) {
				t.Fatalf("%v -> %v", ip6.SrcIP, ip6.DstIP)
			}
			ic := p.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
			if ic.TypeCode.Type() != tt.wantTyp || ic.TypeCode.Code() != tt.wantCode {
				t.Fatalf("ICMPv6 %v", ic.TypeCode)
			}
			if r := binary.BigEndian.Uint32(ic.Payload[:4]); r != tt.wantRest {
				t.Fatalf("rest %d, want %d", r, tt.wantRest)
			}
			quotedInner6(t, ic.Payload[4:], host6, host4v6)
		})
	}
	for _, typ := range []uint8{4, 5, 13, 14, 15, 16, 17, 18, 9, 10} {
		if v, outs := run(t, tr, icmp4(t, router4, host6v4, typ, 0, 0, sent4)); v != packet.Drop || len(outs) != 0 {
			t.Errorf("ICMPv4 type %d: %v, %d packets", typ, v, len(outs))
		}
	}
}

// RFC 7915 §5.2: ICMPv6 errors about packets the IPv4 host sent, from a
// router whose address has no IPv4 form: RFC 6791 source, or the
// translator's own.
func TestICMPv6Errors(t *testing.T) {
	router6 := netip.MustParseAddr("2001:db8:ffff::1")
	sent6 := udp6(t, v6(host4v6, host6, layers.IPProtocolUDP), 40)
	pool := netip.MustParsePrefix("203.0.113.8/30")
	for _, withPool := range []bool{false, true} {
		c := testConfig()
		if withPool {
			c.RFC6791v4 = []netip.Prefix{pool}
		}
		tr := newTest(t, c)
		tests := []struct {
			typ, code         uint8
			rest              uint32
			wantTyp, wantCode uint8
			wantRest          uint32
		}{
			{1, 4, 0, 3, 3, 0},
			{1, 0, 0, 3, 1, 0},
			{1, 1, 0, 3, 10, 0},
			{2, 0, 1280, 3, 4, 1260},
			{2, 0, 9000, 3, 4, 1480}, // no more than the links allow
			{3, 0, 0, 11, 0, 0},
			{4, 0, 24, 12, 0, 16 << 24},
			{4, 1, 6, 3, 2, 0},
		}
		for _, tt := range tests {
			p := one(t, tr, icmp6(t, router6, host4v6, tt.typ, tt.code, tt.rest, sent6))
			ip4 := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
			src := netip.AddrFrom4([4]byte(ip4.SrcIP.To4()))
			if withPool && !pool.Contains(src) || !withPool && src != own4 {
				t.Fatalf("error source %v (pool %v)", src, withPool)
			}
			ic := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
			if ic.TypeCode.Type() != tt.wantTyp || ic.TypeCode.Code() != tt.wantCode {
				t.Fatalf("%d/%d: ICMPv4 %v", tt.typ, tt.code, ic.TypeCode)
			}
			if r := uint32(ic.Id)<<16 | uint32(ic.Seq); r != tt.wantRest {
				t.Fatalf("%d/%d: rest %d, want %d", tt.typ, tt.code, r, tt.wantRest)
			}
			quotedInner4(t, ic.Payload, host4, host6v4)
		}
		// Informational messages other than echo are not translated.
		for _, typ := range []uint8{130, 133, 135, 137, 200} {
			if v, outs := run(t, tr, icmp6(t, host6, host4v6, typ, 0, 0, nil)); v != packet.Drop || len(outs) != 0 {
				t.Errorf("ICMPv6 type %d: %v, %d packets", typ, v, len(outs))
			}
		}
	}
}

// RFC 4884: an ICMPv4 Time Exceeded with an extension structure becomes
// an ICMPv6 one whose length counts the translated, padded quote, the
// extension unchanged after it; and back.
func TestRFC4884(t *testing.T) {
	tr := newTest(t, testConfig())
	sent4 := udp4(t, v4(host6v4, host4, layers.IPProtocolUDP), 200)[:128] // quote cut at 128 bytes
	ext := []byte{0x20, 0, 0, 0, 0, 8, 1, 1, 0xaa, 0xbb, 0xcc, 0xdd}      // version 2, an object of 8 bytes
	binary.BigEndian.PutUint16(ext[2:], ^packet.Sum(ext))
	in := icmp4(t, router4, host6v4, 11, 0, 32<<16, append(append([]byte(nil), sent4...), ext...))
	p := one(t, tr, in)
	ic := p.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
	body := ic.Payload
	if body[0] != 19 { // 128 + 20 = 148 bytes, padded to 152: 19 words of 8
		t.Fatalf("ICMPv6 length %d words", body[0])
	}
	if !bytes.Equal(body[4+152:], ext) {
		t.Fatalf("extension %x", body[4+152:])
	}
	quoted := body[4 : 4+148]
	if ip6 := packet.IPv6(quoted); ip6.SrcAddr() != host6 || ip6.DstAddr() != host4v6 {
		t.Fatal("quote not translated")
	}
	// Back: the ICMPv6 error with its extension toward the IPv4 side.
	sent6 := udp6(t, v6(host4v6, host6, layers.IPProtocolUDP), 200)[:136]
	rest := uint32(17) << 24 // 136 bytes = 17 words of 8
	p = one(t, tr, icmp6(t, host6, host4v6, 3, 0, rest, append(append([]byte(nil), sent6...), ext...)))
	ic4 := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
	// 136 - 20 = 116 bytes of quote, padded to 128: 32 words of 4.
	if l := ic4.Id & 0xff; l != 32 {
		t.Fatalf("ICMPv4 length %d words", l)
	}
	if !bytes.Equal(ic4.Payload[128:], ext) {
		t.Fatalf("extension %x", ic4.Payload[128:])
	}
}

// Echo both ways keeps identifier, sequence and data; a big echo without
// DF is fragmented like any packet.
func TestEchoLarge(t *testing.T) {
	tr := newTest(t, testConfig())
	data := bytes.Repeat([]byte{7}, 1400)
	h := v4(host4, host6v4, layers.IPProtocolICMPv4)
	h.Flags = 0
	in := serialize(t, h, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 1, Seq: 2}, gopacket.Payload(data))
	v, outs := run(t, tr, in)
	if v != packet.Consumed || len(outs) != 2 {
		t.Fatalf("%v %d", v, len(outs))
	}
	var msg []byte
	for _, o := range outs {
		p := gopacket.NewPacket(o.Data, layers.LayerTypeIPv6, gopacket.Default)
		msg = append(msg, p.Layer(layers.LayerTypeIPv6Fragment).(*layers.IPv6Fragment).Payload...)
	}
	if msg[0] != 128 || !packet.ChecksumOK(packet.PseudoHeaderSum(host4v6.AsSlice(), host6.AsSlice(), packet.ProtoICMPv6, len(msg)), msg) || !bytes.Equal(msg[8:], data) {
		t.Fatal("reassembled echo request wrong")
	}
}

// Large errors are cut to fit, never answered as too big: an ICMPv4
// error of 1500 bytes with DF, an ICMPv6 error of 1280 bytes toward an
// IPv4 link of 1000.
func TestLargeErrors(t *testing.T) {
	c := testConfig()
	c.IPv4.MTU = 1000
	c.IPv6.MTU = 1280
	tr := newTest(t, c)
	sent4 := udp4(t, v4(host6v4, host4, layers.IPProtocolUDP), 1400)
	v, outs := run(t, tr, icmp4(t, router4, host6v4, 3, 3, 0, sent4)) // 1500 bytes, DF
	if v != packet.Consumed || len(outs) != 1 || len(outs[0].Data) != 1280 {
		t.Fatalf("%v, %d packets", v, len(outs))
	}
	decode(t, outs[0])
	sent6 := udp6(t, v6(host4v6, host6, layers.IPProtocolUDP), 1400)[:1232]
	v, outs = run(t, tr, icmp6(t, host6, host4v6, 1, 4, 0, sent6))
	if v != packet.Consumed || len(outs) != 1 || len(outs[0].Data) != 576 {
		t.Fatalf("%v, %d packets", v, len(outs))
	}
	decode(t, outs[0])
}

// The quoted packet's extension headers are dropped and its Fragment
// header becomes the quoted IPv4 fragment fields; a quoted IPv4 fragment
// gets a Fragment header.
func TestQuotedFragments(t *testing.T) {
	tr := newTest(t, testConfig())
	// IPv6 packet from the IPv4 host's pool6 form: hop-by-hop, fragment
	// (offset 0, more), UDP.
	whole := udp6(t, v6(host4v6, host6, layers.IPProtocolUDP), 100)
	q := append([]byte(nil), whole[:40]...)
	q[6] = 0
	q = append(q, packet.ProtoFragment, 0, 1, 4, 0, 0, 0, 0)        // hop-by-hop, PadN
	q = append(q, packet.ProtoUDP, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef) // fragment: offset 0, M
	q = append(q, whole[40:]...)
	binary.BigEndian.PutUint16(q[4:], uint16(len(q)-40))
	p := one(t, tr, icmp6(t, host6, host4v6, 3, 0, 0, q))
	inner := packet.IPv4(p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4).Payload)
	if inner.ID() != 0xbeef || !inner.MoreFragments() || inner.FragmentOffset() != 0 || inner.Protocol() != packet.ProtoUDP || int(inner.TotalLength()) != 20+len(whole)-40 {
		t.Fatalf("quoted IPv4 %x", inner[:20])
	}
	if !inner.HeaderChecksumOK() || inner.SrcAddr() != host4 || inner.DstAddr() != host6v4 {
		t.Fatal("quoted IPv4 header")
	}

	// IPv4 fragment (offset 0, MF) quoted in an ICMPv4 error.
	f4 := udp4(t, v4(host6v4, host4, layers.IPProtocolUDP), 100)
	f4[6], f4[7] = 0x20, 0 // MF, offset 0
	packet.IPv4(f4).SetChecksum(0)
	packet.IPv4(f4).SetChecksum(^packet.Sum(f4[:20]))
	p = one(t, tr, icmp4(t, router4, host6v4, 11, 0, 0, f4))
	body := p.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6).Payload[4:]
	ip6 := packet.IPv6(body)
	if ip6.NextHeader() != packet.ProtoFragment {
		t.Fatalf("quoted IPv6 without a fragment header: %x", body[:48])
	}
	fh := packet.IPv6Fragment(body[40:])
	if fh.ID() != uint32(packet.IPv4(f4).ID()) || !fh.More() || fh.Offset() != 0 || fh.NextHeader() != packet.ProtoUDP {
		t.Fatalf("quoted fragment header %x", body[40:48])
	}
	if ip6.SrcAddr() != host6 || ip6.DstAddr() != host4v6 {
		t.Fatal("quoted IPv6 addresses")
	}
}
