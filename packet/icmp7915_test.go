package packet

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Addresses of the translation tests: the IPv4 side is embedded in
// 64:ff9b::/96 (RFC 6052), as a stateless translator does.
var (
	x4a = [4]byte{198, 51, 100, 7}
	x4b = [4]byte{192, 0, 2, 10}
	x6a = embedWKP(x4a)
	x6b = embedWKP(x4b)
)

func embedWKP(a [4]byte) [16]byte {
	var b [16]byte
	b[0], b[1], b[2], b[3] = 0, 0x64, 0xff, 0x9b
	copy(b[12:], a[:])
	return b
}

// wkpMapper maps addresses by the well-known prefix, and counts calls.
type wkpMapper struct{ calls int }

func (m *wkpMapper) Quoted4to6(src, dst [4]byte, proto uint8, t []byte) ([16]byte, [16]byte, bool) {
	m.calls++
	return embedWKP(src), embedWKP(dst), true
}

func (m *wkpMapper) Quoted6to4(src, dst [16]byte, proto uint8, t []byte) ([4]byte, [4]byte, bool) {
	m.calls++
	return [4]byte(src[12:]), [4]byte(dst[12:]), true
}

// quotedTCP4 is an IPv4 TCP segment from x4a to x4b with n bytes of data.
func quotedTCP4(n int) []byte {
	b := make([]byte, IPv4MinLen+TCPMinLen+n)
	IPv4(b).Encode(&IPv4Fields{TOS: 0x28, TotalLen: uint16(len(b)), Flags: IPv4FlagDF, TTL: 61, Protocol: ProtoTCP, Src: x4a, Dst: x4b})
	t := TCP(b[IPv4MinLen:])
	t.Encode(&TCPFields{SrcPort: 40000, DstPort: 80, Seq: 1000, Ack: 2000, Flags: TCPFlagACK | TCPFlagPSH, Window: 512})
	for i := range t[TCPMinLen:] {
		t[TCPMinLen+i] = byte(i)
	}
	t.SetChecksum(Checksum(IPv4(b).PseudoHeaderSum(ProtoTCP, len(t)), t))
	return b
}

// quotedTCP6 is the same segment in IPv6.
func quotedTCP6(n int) []byte {
	b := make([]byte, IPv6HeaderLen+TCPMinLen+n)
	IPv6(b).Encode(&IPv6Fields{TrafficClass: 0x28, PayloadLen: uint16(TCPMinLen + n), NextHeader: ProtoTCP, HopLimit: 61, Src: x6a, Dst: x6b})
	t := TCP(b[IPv6HeaderLen:])
	t.Encode(&TCPFields{SrcPort: 40000, DstPort: 80, Seq: 1000, Ack: 2000, Flags: TCPFlagACK | TCPFlagPSH, Window: 512})
	t.SetChecksum(Checksum(IPv6(b).PseudoHeaderSum(ProtoTCP, len(t)), t))
	return b
}

func icmpMsg(typ, code uint8, rest uint32, body []byte) ICMP {
	m := make(ICMP, ICMPHeaderLen+len(body))
	m[ICMPType], m[ICMPCode] = typ, code
	binary.BigEndian.PutUint32(m[ICMPRest:], rest)
	copy(m[ICMPHeaderLen:], body)
	m.SetChecksum(Checksum(0, m))
	return m
}

func icmp6Msg(typ, code uint8, rest uint32, body []byte, src, dst *[16]byte) ICMP {
	m := make(ICMP, ICMPHeaderLen+len(body))
	m[ICMPType], m[ICMPCode] = typ, code
	binary.BigEndian.PutUint32(m[ICMPRest:], rest)
	copy(m[ICMPHeaderLen:], body)
	m.SetChecksum(Checksum(PseudoHeaderSum(src[:], dst[:], ProtoICMPv6, len(m)), m))
	return m
}

// TestICMPv4to6Golden follows RFC 7915 §4.2 line by line.
func TestICMPv4to6Golden(t *testing.T) {
	q := quotedTCP4(100)
	tests := []struct {
		name       string
		typ, code  uint8
		rest       uint32
		body       []byte
		mtu6, mtu4 int
		drop       bool
		wantType   uint8
		wantCode   uint8
		wantRest   uint32
	}{
		{name: "net unreachable", typ: 3, code: 0, wantType: 1, wantCode: 0},
		{name: "host unreachable", typ: 3, code: 1, wantType: 1, wantCode: 0},
		{name: "protocol unreachable", typ: 3, code: 2, wantType: 4, wantCode: 1, wantRest: 6},
		{name: "port unreachable", typ: 3, code: 3, wantType: 1, wantCode: 4},
		{name: "fragmentation needed", typ: 3, code: 4, rest: 1400, wantType: 2, wantRest: 1420},
		{name: "fragmentation needed, IPv6 next hop smaller", typ: 3, code: 4, rest: 1480, mtu6: 1450, wantType: 2, wantRest: 1450},
		{name: "fragmentation needed, IPv4 link smaller", typ: 3, code: 4, rest: 1480, mtu4: 1400, wantType: 2, wantRest: 1420},
		{name: "fragmentation needed below 1280", typ: 3, code: 4, rest: 576, wantType: 2, wantRest: 1280},
		{name: "fragmentation needed, no MTU: plateau below 1520", typ: 3, code: 4, rest: 0, body: quotedTCP4(1480), wantType: 2, wantRest: 1512},
		{name: "source route failed", typ: 3, code: 5, wantType: 1, wantCode: 0},
		{name: "network unknown", typ: 3, code: 6, wantType: 1, wantCode: 0},
		{name: "host unknown", typ: 3, code: 7, wantType: 1, wantCode: 0},
		{name: "source host isolated", typ: 3, code: 8, wantType: 1, wantCode: 0},
		{name: "network prohibited", typ: 3, code: 9, wantType: 1, wantCode: 1},
		{name: "host prohibited", typ: 3, code: 10, wantType: 1, wantCode: 1},
		{name: "network TOS", typ: 3, code: 11, wantType: 1, wantCode: 0},
		{name: "host TOS", typ: 3, code: 12, wantType: 1, wantCode: 0},
		{name: "administratively prohibited", typ: 3, code: 13, wantType: 1, wantCode: 1},
		{name: "host precedence violation", typ: 3, code: 14, drop: true},
		{name: "precedence cutoff", typ: 3, code: 15, wantType: 1, wantCode: 1},
		{name: "unassigned unreachable code", typ: 3, code: 16, drop: true},
		{name: "source quench", typ: 4, drop: true},
		{name: "redirect", typ: 5, drop: true},
		{name: "TTL exceeded", typ: 11, code: 0, wantType: 3, wantCode: 0},
		{name: "reassembly time exceeded", typ: 11, code: 1, wantType: 3, wantCode: 1},
		{name: "parameter problem, TOS", typ: 12, code: 0, rest: 1 << 24, wantType: 4, wantCode: 0, wantRest: 1},
		{name: "parameter problem, total length", typ: 12, code: 0, rest: 3 << 24, wantType: 4, wantRest: 4},
		{name: "parameter problem, TTL", typ: 12, code: 0, rest: 8 << 24, wantType: 4, wantRest: 7},
		{name: "parameter problem, protocol", typ: 12, code: 0, rest: 9 << 24, wantType: 4, wantRest: 6},
		{name: "parameter problem, source", typ: 12, code: 0, rest: 14 << 24, wantType: 4, wantRest: 8},
		{name: "parameter problem, destination", typ: 12, code: 0, rest: 19 << 24, wantType: 4, wantRest: 24},
		{name: "parameter problem, identification", typ: 12, code: 0, rest: 4 << 24, drop: true},
		{name: "parameter problem, checksum", typ: 12, code: 0, rest: 10 << 24, drop: true},
		{name: "parameter problem, bad length", typ: 12, code: 2, rest: 2 << 24, wantType: 4, wantRest: 4},
		{name: "parameter problem, missing option", typ: 12, code: 1, drop: true},
		{name: "timestamp", typ: 13, drop: true},
		{name: "address mask", typ: 17, drop: true},
		{name: "router advertisement", typ: 9, drop: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := tc.body
			if body == nil {
				body = q
			}
			msg := icmpMsg(tc.typ, tc.code, tc.rest, body)
			dst := make([]byte, 2000)
			var m wkpMapper
			n := ICMPv4to6(dst, msg, &x6b, &x6a, tc.mtu6, tc.mtu4, &m)
			if tc.drop {
				if n != 0 {
					t.Fatalf("translated into %d bytes, want a drop", n)
				}
				return
			}
			if n == 0 {
				t.Fatal("dropped")
			}
			out := ICMP(dst[:n])
			if out.Type() != tc.wantType || out.Code() != tc.wantCode || out.Rest() != tc.wantRest {
				t.Fatalf("type %d code %d rest %d, want %d %d %d", out.Type(), out.Code(), out.Rest(), tc.wantType, tc.wantCode, tc.wantRest)
			}
			checkICMPv6(t, out, &x6b, &x6a)
			inner := IPv6(out.Body())
			if inner.Src() != x6a || inner.Dst() != x6b || inner.NextHeader() != ProtoTCP || inner.HopLimit() != 61 || inner.TrafficClass() != 0x28 {
				t.Fatalf("inner header %x", inner[:IPv6HeaderLen])
			}
			if want := IPv4(body).TotalLength() - IPv4MinLen; inner.PayloadLength() != want {
				t.Errorf("inner payload length %d, want %d", inner.PayloadLength(), want)
			}
			if m.calls != 1 {
				t.Errorf("mapper called %d times", m.calls)
			}
		})
	}
}

// TestICMPv6to4Golden follows RFC 7915 §5.2 line by line.
func TestICMPv6to4Golden(t *testing.T) {
	q := quotedTCP6(100)
	tests := []struct {
		name       string
		typ, code  uint8
		rest       uint32
		mtu4, mtu6 int
		drop       bool
		wantType   uint8
		wantCode   uint8
		wantRest   uint32
	}{
		{name: "no route", typ: 1, code: 0, wantType: 3, wantCode: 1},
		{name: "administratively prohibited", typ: 1, code: 1, wantType: 3, wantCode: 10},
		{name: "beyond scope", typ: 1, code: 2, wantType: 3, wantCode: 1},
		{name: "address unreachable", typ: 1, code: 3, wantType: 3, wantCode: 1},
		{name: "port unreachable", typ: 1, code: 4, wantType: 3, wantCode: 3},
		{name: "source address failed policy", typ: 1, code: 5, drop: true},
		{name: "reject route", typ: 1, code: 6, drop: true},
		{name: "packet too big", typ: 2, rest: 1400, wantType: 3, wantCode: 4, wantRest: 1380},
		{name: "packet too big, IPv4 next hop smaller", typ: 2, rest: 1500, mtu4: 1400, wantType: 3, wantCode: 4, wantRest: 1400},
		{name: "packet too big, IPv6 link smaller", typ: 2, rest: 1500, mtu6: 1300, wantType: 3, wantCode: 4, wantRest: 1280},
		{name: "packet too big, huge", typ: 2, rest: 1 << 20, wantType: 3, wantCode: 4, wantRest: 0xffff},
		{name: "packet too big, tiny", typ: 2, rest: 20, wantType: 3, wantCode: 4, wantRest: 68},
		{name: "hop limit exceeded", typ: 3, code: 0, wantType: 11, wantCode: 0},
		{name: "fragment reassembly exceeded", typ: 3, code: 1, wantType: 11, wantCode: 1},
		{name: "parameter problem, traffic class", typ: 4, code: 0, rest: 1, wantType: 12, wantRest: 1 << 24},
		{name: "parameter problem, flow label", typ: 4, code: 0, rest: 2, drop: true},
		{name: "parameter problem, payload length", typ: 4, code: 0, rest: 4, wantType: 12, wantRest: 2 << 24},
		{name: "parameter problem, next header", typ: 4, code: 0, rest: 6, wantType: 12, wantRest: 9 << 24},
		{name: "parameter problem, hop limit", typ: 4, code: 0, rest: 7, wantType: 12, wantRest: 8 << 24},
		{name: "parameter problem, source", typ: 4, code: 0, rest: 20, wantType: 12, wantRest: 12 << 24},
		{name: "parameter problem, destination", typ: 4, code: 0, rest: 39, wantType: 12, wantRest: 16 << 24},
		{name: "parameter problem, past the header", typ: 4, code: 0, rest: 40, drop: true},
		{name: "unrecognized next header", typ: 4, code: 1, wantType: 3, wantCode: 2},
		{name: "unrecognized option", typ: 4, code: 2, drop: true},
		{name: "neighbor solicitation", typ: 135, drop: true},
		{name: "MLD query", typ: 130, drop: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg := icmp6Msg(tc.typ, tc.code, tc.rest, q, &x6b, &x6a)
			dst := make([]byte, 2000)
			var m wkpMapper
			n := ICMPv6to4(dst, msg, tc.mtu4, tc.mtu6, false, &m)
			if tc.drop {
				if n != 0 {
					t.Fatalf("translated into %d bytes, want a drop", n)
				}
				return
			}
			if n == 0 {
				t.Fatal("dropped")
			}
			out := ICMP(dst[:n])
			if out.Type() != tc.wantType || out.Code() != tc.wantCode || out.Rest() != tc.wantRest {
				t.Fatalf("type %d code %d rest %#x, want %d %d %#x", out.Type(), out.Code(), out.Rest(), tc.wantType, tc.wantCode, tc.wantRest)
			}
			checkICMPv4(t, out)
			inner := IPv4(out.Body())
			if inner.Src() != x4a || inner.Dst() != x4b || inner.Protocol() != ProtoTCP || inner.TTL() != 61 || inner.TOS() != 0x28 ||
				inner.TotalLength() != 140 || inner.DontFragment() || !inner.HeaderChecksumOK() {
				t.Fatalf("inner header %x", inner[:IPv4MinLen])
			}
		})
	}
}

// checkICMPv6 decodes an ICMPv6 message with gopacket inside an IPv6
// header and checks its checksum and its quoted packet.
func checkICMPv6(t *testing.T, msg []byte, src, dst *[16]byte) {
	t.Helper()
	if !ChecksumOK(PseudoHeaderSum(src[:], dst[:], ProtoICMPv6, len(msg)), msg) {
		t.Fatal("ICMPv6 checksum wrong")
	}
	b := make([]byte, IPv6HeaderLen+len(msg))
	IPv6(b).Encode(&IPv6Fields{PayloadLen: uint16(len(msg)), NextHeader: ProtoICMPv6, HopLimit: 64, Src: *src, Dst: *dst})
	copy(b[IPv6HeaderLen:], msg)
	p := gopacket.NewPacket(b, layers.LayerTypeIPv6, gopacket.Default)
	ic, ok := p.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
	if !ok {
		t.Fatalf("gopacket finds no ICMPv6: %v", p)
	}
	if msg[0] < 128 {
		inner := gopacket.NewPacket(msg[ICMPHeaderLen:], layers.LayerTypeIPv6, gopacket.Lazy)
		if ip, ok := inner.Layer(layers.LayerTypeIPv6).(*layers.IPv6); !ok || ip.Version != 6 {
			t.Fatalf("gopacket cannot decode the quoted packet: %v", inner)
		}
	}
	_ = ic
}

func checkICMPv4(t *testing.T, msg []byte) {
	t.Helper()
	if !ChecksumOK(0, msg) {
		t.Fatal("ICMPv4 checksum wrong")
	}
	p := gopacket.NewPacket(msg, layers.LayerTypeICMPv4, gopacket.Default)
	if _, ok := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4); !ok {
		t.Fatalf("gopacket finds no ICMPv4: %v", p)
	}
	if IsICMPv4Error(msg[0]) {
		inner := gopacket.NewPacket(msg[ICMPHeaderLen:], layers.LayerTypeIPv4, gopacket.Lazy)
		ip, ok := inner.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		if !ok {
			t.Fatalf("gopacket cannot decode the quoted packet: %v", inner)
		}
		// gopacket checks the header checksum only on request.
		if Sum(msg[ICMPHeaderLen:ICMPHeaderLen+int(ip.IHL)*4]) != 0xffff {
			t.Fatal("quoted IPv4 header checksum wrong")
		}
	}
}

// TestICMPTranslationRoundTrip translates errors and echoes there and back:
// what comes back is what went in, but for what RFC 7915 maps many to one.
func TestICMPTranslationRoundTrip(t *testing.T) {
	q4 := quotedTCP4(200)
	for _, tc := range []struct {
		typ, code uint8
		rest      uint32
		body      []byte
	}{
		{3, 1, 0, q4},        // host unreachable -> no route -> host unreachable
		{3, 3, 0, q4},        // port unreachable
		{3, 4, 1400, q4},     // fragmentation needed <-> packet too big
		{11, 0, 0, q4},       // time exceeded
		{12, 0, 9 << 24, q4}, // parameter problem at the protocol
		{3, 2, 0, q4},        // protocol unreachable <-> unrecognized next header
		{8, 0, 0x12340001, []byte("ping payload")},
		{0, 0, 0x12340001, []byte("pong payload")},
	} {
		msg := icmpMsg(tc.typ, tc.code, tc.rest, tc.body)
		var m wkpMapper
		six := make([]byte, 1500)
		n := ICMPv4to6(six, msg, &x6b, &x6a, 0, 0, &m)
		if n == 0 {
			t.Fatalf("type %d code %d: dropped", tc.typ, tc.code)
		}
		checkICMPv6(t, six[:n], &x6b, &x6a)
		back := make([]byte, 1500)
		k := ICMPv6to4(back, six[:n], 0, 0, true, &m)
		if k == 0 {
			t.Fatalf("type %d code %d: dropped on the way back", tc.typ, tc.code)
		}
		checkICMPv4(t, back[:k])
		if !bytes.Equal(back[:k], msg) {
			t.Errorf("type %d code %d: round trip\n got %x\nwant %x", tc.typ, tc.code, back[:k], []byte(msg))
		}
	}
}

// TestICMPQuotedEcho translates an error quoting an echo request: the
// quoted echo's type and checksum are translated too, and the quoted ICMPv6
// checksum includes the pseudo-header.
func TestICMPQuotedEcho(t *testing.T) {
	echo := make([]byte, IPv4MinLen+ICMPHeaderLen+16)
	IPv4(echo).Encode(&IPv4Fields{TotalLen: uint16(len(echo)), TTL: 1, Protocol: ProtoICMPv4, Src: x4a, Dst: x4b})
	e := ICMP(echo[IPv4MinLen:])
	e[ICMPType] = ICMPv4EchoRequest
	binary.BigEndian.PutUint32(e[ICMPRest:], 0xabcd0001)
	e.SetChecksum(Checksum(0, e))
	msg := icmpMsg(ICMPv4TimeExceeded, 0, 0, echo)
	var m wkpMapper
	out := make([]byte, 1500)
	n := ICMPv4to6(out, msg, &x6b, &x6a, 0, 0, &m)
	if n == 0 {
		t.Fatal("dropped")
	}
	inner := IPv6(out[ICMPHeaderLen:n])
	if inner.NextHeader() != ProtoICMPv6 || inner[IPv6HeaderLen] != ICMPv6EchoRequest {
		t.Fatalf("quoted echo not translated: %x", inner)
	}
	if !ChecksumOK(inner.PseudoHeaderSum(ProtoICMPv6, len(inner)-IPv6HeaderLen), inner[IPv6HeaderLen:]) {
		t.Fatal("quoted ICMPv6 echo checksum wrong")
	}
	// An error quoting an error is not translated.
	msg2 := icmpMsg(ICMPv4TimeExceeded, 0, 0, append(append([]byte{}, echo[:IPv4MinLen]...), msg...))
	IPv4(msg2[ICMPHeaderLen:]).Encode(&IPv4Fields{TotalLen: uint16(IPv4MinLen + len(msg)), TTL: 1, Protocol: ProtoICMPv4, Src: x4a, Dst: x4b})
	if ICMPv4to6(out, msg2, &x6b, &x6a, 0, 0, &m) != 0 {
		t.Fatal("an error quoting an error was translated")
	}
}

// TestICMPTranslationLimits cuts errors to the minimum-MTU bounds.
func TestICMPTranslationLimits(t *testing.T) {
	var m wkpMapper
	out := make([]byte, 4000)
	msg := icmpMsg(ICMPv4DestUnreachable, ICMPv4CodeHostUnreachable, 0, quotedTCP4(1400))
	if n := ICMPv4to6(out, msg, &x6b, &x6a, 0, 0, &m); n != ICMPv6ErrorMax {
		t.Fatalf("ICMPv6 error of %d bytes, want %d", n, ICMPv6ErrorMax)
	}
	msg6 := icmp6Msg(ICMPv6DestUnreachable, ICMPv6CodePortUnreachable, 0, quotedTCP6(1400), &x6b, &x6a)
	n := ICMPv6to4(out, msg6, 0, 0, false, &m)
	if n != ICMPv4ErrorMax {
		t.Fatalf("ICMPv4 error of %d bytes, want %d", n, ICMPv4ErrorMax)
	}
	if !IPv4(out[ICMPHeaderLen:]).DontFragment() {
		t.Error("a quoted IPv4 packet over 1260 bytes without DF (RFC 7915 §5.1)")
	}
	checkICMPv4(t, out[:n])
	// Too small a buffer is a drop, not a panic.
	if ICMPv4to6(out[:30], msg, &x6b, &x6a, 0, 0, &m) != 0 || ICMPv6to4(out[:20], msg6, 0, 0, false, &m) != 0 {
		t.Fatal("translated into a buffer too small")
	}
}

// TestICMPTranslationAllocatesNothing: translation into a caller buffer.
func TestICMPTranslationAllocatesNothing(t *testing.T) {
	var m wkpMapper
	msg := icmpMsg(ICMPv4DestUnreachable, ICMPv4CodeFragNeeded, 1400, quotedTCP4(100))
	msg6 := icmp6Msg(ICMPv6PacketTooBig, 0, 1400, quotedTCP6(100), &x6b, &x6a)
	out := make([]byte, 1500)
	a := testing.AllocsPerRun(100, func() {
		ICMPv4to6(out, msg, &x6b, &x6a, 0, 0, &m)
		ICMPv6to4(out, msg6, 0, 0, true, &m)
	})
	if a != 0 {
		t.Fatalf("%v allocations per translation", a)
	}
}

// FuzzICMPTranslate feeds arbitrary messages both ways: no panic, nothing
// written past the buffer, and whatever comes out of a message with a
// right checksum has a right checksum.
func FuzzICMPTranslate(f *testing.F) {
	f.Add([]byte(icmpMsg(3, 4, 1400, quotedTCP4(40))), uint16(1500))
	f.Add([]byte(icmpMsg(12, 0, 9<<24, quotedTCP4(8))), uint16(200))
	f.Add([]byte(icmp6Msg(2, 0, 1280, quotedTCP6(40), &x6b, &x6a)), uint16(1500))
	f.Add([]byte(icmpMsg(8, 0, 1, []byte("x"))), uint16(64))
	f.Fuzz(func(t *testing.T, msg []byte, size uint16) {
		var m wkpMapper
		dst := make([]byte, int(size)%3000)
		if n := ICMPv4to6(dst, msg, &x6b, &x6a, 0, 0, &m); n != 0 {
			if n > len(dst) || n > max(len(msg)+20, ICMPv6ErrorMax) {
				t.Fatalf("%d bytes out of %d in, buffer %d", n, len(msg), len(dst))
			}
			// An echo is translated with an incremental checksum update,
			// which carries a wrong checksum over as a wrong one (the
			// receiver drops it, as it would the original); errors get a
			// new checksum.
			if !ChecksumOK(PseudoHeaderSum(x6b[:], x6a[:], ProtoICMPv6, n), dst[:n]) && ChecksumOK(0, msg) {
				t.Fatal("ICMPv6 checksum wrong")
			}
		}
		if n := ICMPv6to4(dst, msg, 0, 0, false, &m); n != 0 {
			if n > len(dst) || n > max(len(msg), ICMPv4ErrorMax) {
				t.Fatalf("%d bytes out of %d in, buffer %d", n, len(msg), len(dst))
			}
			if !ChecksumOK(0, dst[:n]) {
				t.Fatal("ICMPv4 checksum wrong")
			}
		}
	})
}

// TestEchoIncremental checks the incremental echo translation against a
// full recomputation, over random identifiers, data and lengths (odd
// ones included), both ways.
func TestEchoIncremental(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range 500 {
		n := 8 + rng.IntN(200)
		msg := make([]byte, n)
		for j := range msg {
			msg[j] = byte(rng.Uint32())
		}
		msg[ICMPType], msg[ICMPCode] = ICMPv4EchoRequest, 0
		if i%2 == 1 {
			msg[ICMPType] = ICMPv4EchoReply
		}
		ICMP(msg).SetChecksum(0)
		ICMP(msg).SetChecksum(Checksum(0, msg))
		out := make([]byte, n)
		if ICMPv4to6(out, msg, &x6a, &x6b, 0, 0, &wkpMapper{}) != n {
			t.Fatal("echo not translated")
		}
		if !ChecksumOK(PseudoHeaderSum(x6a[:], x6b[:], ProtoICMPv6, n), out) {
			t.Fatalf("ICMPv6 checksum wrong for %x", msg)
		}
		back := make([]byte, n)
		if ICMPv6EchoTo4(back, out, &x6a, &x6b) != n {
			t.Fatal("echo not translated back")
		}
		if !ChecksumOK(0, back) || string(back[ICMPRest:]) != string(msg[ICMPRest:]) || back[ICMPType] != msg[ICMPType] {
			t.Fatalf("round trip %x -> %x", msg, back)
		}
	}
	if ICMPv6EchoTo4(make([]byte, 8), ICMP{1, 0, 0, 0, 0, 0, 0, 0}, &x6a, &x6b) != 0 {
		t.Fatal("an error translated as an echo")
	}
}
