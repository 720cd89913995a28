package packet

import (
	"testing"

	"github.com/gopacket/gopacket/layers"
)

// ext is one extension header of a test chain: its protocol number and
// its length in bytes (a multiple of 8, or of 4 for AH).
type ext struct {
	proto uint8
	len   int
}

var (
	hbh  = ext{ProtoHopByHop, 8}
	rt   = ext{ProtoRouting, 24}
	dest = ext{ProtoDestOptions, 16}
	frag = ext{ProtoFragment, IPv6FragmentLen}
	ah   = ext{ProtoAH, 12}
)

// chain builds an IPv6 packet whose extension headers are exts, followed
// by upper (the protocol of the last header's Next Header) and 20 bytes
// of upper-layer header. Option bytes are PadN so that gopacket accepts them.
func chain(upper uint8, exts ...ext) IPv6 {
	n := IPv6HeaderLen + TCPMinLen
	for _, e := range exts {
		n += e.len
	}
	b := make(IPv6, n)
	b.Encode(&IPv6Fields{PayloadLen: uint16(n - IPv6HeaderLen), HopLimit: 64, Src: [16]byte(src6), Dst: [16]byte(dst6)})
	nextAt, off := IPv6NextHeader, IPv6HeaderLen
	for _, e := range exts {
		b[nextAt] = e.proto
		switch e.proto {
		case ProtoAH:
			b[off+1] = byte(e.len/4 - 2)
		case ProtoFragment:
		default:
			b[off+1] = byte(e.len/8 - 1)
			b[off+2], b[off+3] = 1, byte(e.len-4) // PadN over the rest
		}
		nextAt, off = off, off+e.len
	}
	b[nextAt] = upper
	b[off+12] = 5 << 4 // a TCP data offset, should gopacket read it as TCP
	return b
}

func TestTransport(t *testing.T) {
	tcpAfter := func(exts ...ext) int {
		n := IPv6HeaderLen
		for _, e := range exts {
			n += e.len
		}
		return n
	}
	tests := []struct {
		name     string
		b        IPv6
		ok       bool
		proto    uint8
		offset   int
		fragment int
		routing  int
	}{
		{"no extension", chain(ProtoTCP), true, ProtoTCP, IPv6HeaderLen, 0, 0},
		{"hop-by-hop", chain(ProtoUDP, hbh), true, ProtoUDP, tcpAfter(hbh), 0, 0},
		{"every kind", chain(ProtoTCP, hbh, dest, rt, frag, ah, dest), true, ProtoTCP, tcpAfter(hbh, dest, rt, frag, ah, dest), tcpAfter(hbh, dest, rt), tcpAfter(hbh, dest)},
		{"fragment first", chain(ProtoICMPv6, frag), true, ProtoICMPv6, tcpAfter(frag), IPv6HeaderLen, 0},
		{"long AH", chain(ProtoTCP, ext{ProtoAH, 24}), true, ProtoTCP, tcpAfter(ext{ProtoAH, 24}), 0, 0},
		{"no next header", chain(ProtoNoNext, dest), true, ProtoNoNext, tcpAfter(dest), 0, 0},
		{"ESP ends the walk", chain(ProtoTCP, ext{ProtoESP, 8}), true, ProtoESP, IPv6HeaderLen, 0, 0},
		{"eight headers", chain(ProtoTCP, hbh, dest, dest, dest, dest, dest, dest, dest), true, ProtoTCP, tcpAfter(hbh, dest, dest, dest, dest, dest, dest, dest), 0, 0},
		{"nine headers", chain(ProtoTCP, hbh, dest, dest, dest, dest, dest, dest, dest, dest), false, 0, 0, 0, 0},
		{"hop-by-hop not first", chain(ProtoTCP, dest, hbh), false, 0, 0, 0, 0},
		{"two fragment headers", chain(ProtoTCP, frag, frag), false, 0, 0, 0, 0},
		{"header length overruns", overrun(chain(ProtoTCP, dest), IPv6HeaderLen+1, 200), false, 0, 0, 0, 0},
		{"AH length overruns", overrun(chain(ProtoTCP, ah), IPv6HeaderLen+1, 200), false, 0, 0, 0, 0},
		{"header cut by payload length", truncated(chain(ProtoTCP, hbh), IPv6HeaderLen+4), false, 0, 0, 0, 0},
		{"fragment cut by payload length", truncated(chain(ProtoTCP, frag), IPv6HeaderLen+7), false, 0, 0, 0, 0},
		{"AH cut by payload length", truncated(chain(ProtoTCP, ah), IPv6HeaderLen+7), false, 0, 0, 0, 0},
		{"later fragment ends the walk", laterFragment(chain(ProtoTCP, frag, dest)), true, ProtoDestOptions, tcpAfter(frag), IPv6HeaderLen, 0},
		{"empty payload", truncated(chain(ProtoTCP), IPv6HeaderLen), true, ProtoTCP, IPv6HeaderLen, 0, 0},
		{"extension in an empty payload", truncated(chain(ProtoTCP, dest), IPv6HeaderLen), false, 0, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.b.IsValid() {
				t.Fatal("test packet is not valid")
			}
			u, ok := tt.b.Transport()
			if ok != tt.ok {
				t.Fatalf("Transport ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			want := Upper{Proto: tt.proto, Offset: tt.offset, Fragment: tt.fragment, Routing: tt.routing}
			if u != want {
				t.Fatalf("Transport = %+v, want %+v", u, want)
			}
		})
	}
}

// laterFragment sets a fragment offset in the Fragment header that
// follows the IPv6 header: what follows it is data, not headers.
func laterFragment(b IPv6) IPv6 {
	b[IPv6HeaderLen+3] = 8 << 3
	return b
}

// overrun sets the length byte at off to v, making the header it belongs
// to run past the payload.
func overrun(b IPv6, off int, v byte) IPv6 {
	b[off] = v
	return b
}

// truncated sets the payload length so that the packet ends at end.
func truncated(b IPv6, end int) IPv6 {
	b.SetPayloadLength(end - IPv6HeaderLen)
	return b
}

// TestTransportAgainstGopacket compares the walk with gopacket's decoding
// of the same chains (gopacket stops at a fragment header, so there are
// none here).
func TestTransportAgainstGopacket(t *testing.T) {
	chains := [][]ext{
		{},
		{hbh},
		{hbh, dest},
		{hbh, rt, dest},
		{dest, rt, ah, dest},
		{ext{ProtoHopByHop, 32}, ext{ProtoAH, 16}},
	}
	for _, exts := range chains {
		b := chain(ProtoTCP, exts...)
		u, ok := b.Transport()
		if !ok {
			t.Fatalf("%v: Transport failed", exts)
		}
		tcp := layer[*layers.TCP](t, decode(t, b, layers.LayerTypeIPv6), layers.LayerTypeTCP)
		if at := len(b) - len(tcp.Contents) - len(tcp.Payload); at != u.Offset {
			t.Errorf("%v: Transport offset %d, gopacket's TCP at %d", exts, u.Offset, at)
		}
	}
}

func TestFragmentView(t *testing.T) {
	l := &layers.IPv6Fragment{NextHeader: layers.IPProtocolTCP, FragmentOffset: 185, MoreFragments: true, Identification: 0xdecafbad}
	raw := IPv6(build(t, ip6Layer(layers.IPProtocolIPv6Fragment), l, payloadOf(16))).Payload()
	v := IPv6Fragment(raw)
	checkEq(t, "NextHeader", v.NextHeader(), ProtoTCP)
	checkEq(t, "Offset", v.Offset(), 185*8)
	checkEq(t, "More", v.More(), true)
	checkEq(t, "ID", v.ID(), 0xdecafbad)
}
