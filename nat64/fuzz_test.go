package nat64

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/sixgate/sixgate/packet"
)

// live returns a NAT64 with sessions of every protocol and a static
// binding, and packets of each that match them.
func live(t testing.TB) (*NAT64, *fakeClock, [][]byte) {
	clk := &fakeClock{t: time.Unix(1_000_000, 0)}
	c := testConfig(clk)
	c.StaticBIB = []StaticBinding{{Protocol: UDP, IPv4: ap(p4, 999), IPv6: ap(h2, 999)}}
	e := newTest(t, c)
	echo6 := serialize(t, v6(h1, r1v6, layers.IPProtocolICMPv6),
		&layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(128, 0)}, &layers.ICMPv6Echo{Identifier: 7, SeqNumber: 1}, gopacket.Payload("ping"))
	echo4 := serialize(t, v4(r1, p4, layers.IPProtocolICMPv4),
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(0, 0), Id: 7, Seq: 1}, gopacket.Payload("ping"))
	u6 := udp6(t, ap(h1, 2000), ap(r1v6, 5300), "query")
	u4 := udp4(t, ap(r1, 5300), ap(p4, 2000), "answer")
	syn := tcp6(t, ap(h1, 2100), ap(r1v6, 80), layers.TCP{SYN: true, Seq: 1})
	synack := tcp4(t, ap(r1, 80), ap(p4, 2100), layers.TCP{SYN: true, ACK: true, Seq: 5, Ack: 2})
	data6 := serialize(t, v6(h1, r1v6, layers.IPProtocolTCP), &layers.TCP{SrcPort: 2100, DstPort: 80, ACK: true, PSH: true, Seq: 2, Ack: 6, Window: 100}, gopacket.Payload("GET /"))
	hair := udp6(t, ap(h1, 2000), ap(p4v6, 999), "hairpin")
	pkts := [][]byte{echo6, echo4, u6, u4, syn, synack, data6, hair}
	out := packet.NewBatch(4, packet.DefaultBufSize)
	for _, p := range pkts {
		e.Handle(p, out)
		out.Reset()
	}
	sent := one(t, e, u6).Data()
	pkts = append(pkts,
		serialize(t, v4(r2, p4, layers.IPProtocolICMPv4), &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(11, 0)}, gopacket.Payload(sent)),
		serialize(t, v6(h1, r1v6, layers.IPProtocolICMPv6), &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(1, 4)}, gopacket.Payload(append([]byte{0, 0, 0, 0}, one(t, e, u4).Data()...))),
		tcp4(t, ap(r2, 80), ap(p4, 2200), layers.TCP{SYN: true}),
	)
	first, second := fragments6(t, ap(h1, 2000), ap(r1v6, 5300), make([]byte, 150))
	pkts = append(pkts, second, first)
	return e, clk, pkts
}

// FuzzEngine feeds arbitrary packets to a NAT64 with live sessions: no
// panic, the input untouched, every output packet well-formed with its
// checksums right, and the timers still running.
func FuzzEngine(f *testing.F) {
	_, _, seeds := live(f)
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, pkt []byte) {
		e, clk, _ := live(t)
		in := append([]byte(nil), pkt...)
		out := packet.NewBatch(4, packet.DefaultBufSize)
		e.Handle(in, out)
		if string(in) != string(pkt) {
			t.Fatal("input modified")
		}
		n := out.Len()
		clk.advance(10 * time.Second)
		e.Expire(out)
		// Checksums are updated, not recomputed: a wrong one stays
		// wrong, so only a valid input's output is checked in full.
		valid := checksumsOK(pkt)
		for i, o := range out.Packets {
			if i >= n || valid {
				checkOut(t, o)
			} else if o.Family == packet.IPv4Family && !packet.IPv4(o.Data).IsValid() || o.Family == packet.IPv6Family && !packet.IPv6(o.Data).IsValid() {
				t.Fatalf("invalid output %x", o.Data)
			}
		}
	})
}

// checksumsOK reports whether gopacket decodes pkt whole with valid
// checksums.
func checksumsOK(pkt []byte) bool {
	if len(pkt) == 0 {
		return false
	}
	first := layers.LayerTypeIPv4
	if pkt[0]>>4 == 6 {
		first = layers.LayerTypeIPv6
	}
	p := gopacket.NewPacket(pkt, first, gopacket.Default)
	if p.ErrorLayer() != nil || p.NetworkLayer() == nil {
		return false
	}
	for _, l := range p.Layers() {
		if c, ok := l.(interface {
			SetNetworkLayerForChecksum(gopacket.NetworkLayer) error
		}); ok {
			c.SetNetworkLayerForChecksum(p.NetworkLayer())
		}
	}
	err, bad := p.VerifyChecksums()
	return err == nil && len(bad) == 0
}

// checkOut decodes o with gopacket and checks its checksums, those a
// gopacket layer can check (IPv4 header, TCP, UDP, ICMP).
func checkOut(t testing.TB, o packet.Out) {
	t.Helper()
	if o.Family == packet.IPv4Family && !packet.IPv4(o.Data).IsValid() || o.Family == packet.IPv6Family && !packet.IPv6(o.Data).IsValid() {
		t.Fatalf("invalid output %x", o.Data)
	}
	if o.Family == packet.IPv4Family && packet.IPv4(o.Data).IsFragment() || o.Family == packet.IPv6Family && packet.IPv6(o.Data).NextHeader() == packet.ProtoFragment {
		return // a fragment's transport checksum covers the whole packet
	}
	decode(t, o)
}

// Property: every packet the NAT64 translates, of any size, protocol and
// direction over live sessions, decodes in gopacket with valid checksums.
func TestTranslatedPacketsDecode(t *testing.T) {
	e, _, _ := live(t)
	rng := rand.New(rand.NewPCG(1, 2))
	out := packet.NewBatch(8, packet.DefaultBufSize)
	translated := 0
	for i := 0; i < 3000; i++ {
		payload := make([]byte, rng.IntN(1600))
		for j := range payload {
			payload[j] = byte(rng.Uint32())
		}
		var pkt []byte
		h := []netip.Addr{h1, h2}[rng.IntN(2)]
		port := uint16(2000 + rng.IntN(3))
		switch rng.IntN(6) {
		case 0:
			pkt = udp6(t, ap(h, port), ap(r1v6, 5300), string(payload))
		case 1:
			pkt = udp4(t, ap(r1, 5300), ap(p4, port), string(payload))
		case 2:
			pkt = serialize(t, v6(h1, r1v6, layers.IPProtocolTCP), &layers.TCP{SrcPort: 2100, DstPort: 80, ACK: true, Seq: rng.Uint32(), Window: 9}, gopacket.Payload(payload))
		case 3:
			l := v4(r1, p4, layers.IPProtocolTCP)
			if rng.IntN(2) == 0 {
				l.Flags = 0
			}
			pkt = serialize(t, l, &layers.TCP{SrcPort: 80, DstPort: 2100, ACK: true, Seq: rng.Uint32(), Window: 9}, gopacket.Payload(payload))
		case 4:
			pkt = serialize(t, v6(h1, r1v6, layers.IPProtocolICMPv6),
				&layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(128, 0)}, &layers.ICMPv6Echo{Identifier: 7, SeqNumber: uint16(i)}, gopacket.Payload(payload))
		case 5:
			pkt = serialize(t, v4(r1, p4, layers.IPProtocolICMPv4),
				&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(0, 0), Id: 7, Seq: uint16(i)}, gopacket.Payload(payload))
		}
		if e.Handle(pkt, out) == packet.Consumed {
			translated++
		}
		for _, o := range out.Packets {
			checkOut(t, o)
		}
		out.Reset()
	}
	if translated < 2000 {
		t.Fatalf("only %d of 3000 translated (stats %+v)", translated, e.Stats())
	}
}
