package nat64

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/sixgate/sixgate/datapath"
	"github.com/sixgate/sixgate/packet"
)

// The NAT64 is an engine of the shared data path.
var _ datapath.Engine = (*NAT64)(nil)

// The test network: IPv6 hosts h1, h2 behind the NAT64, IPv4 hosts r1,
// r2 on the Internet, pool4 192.0.2.2 ports 1-3000 (and 61001-65535 of
// 192.0.2.3 for TCP only).
var (
	pool6 = netip.MustParsePrefix("64:ff9b::/96")
	p4    = netip.MustParseAddr("192.0.2.2")
	p4b   = netip.MustParseAddr("192.0.2.3")
	own4  = netip.MustParseAddr("192.0.2.1")
	own6  = netip.MustParseAddr("2001:db8::1")
	h1    = netip.MustParseAddr("2001:db8::5")
	h2    = netip.MustParseAddr("2001:db8::6")
	r1    = netip.MustParseAddr("203.0.113.9")
	r2    = netip.MustParseAddr("198.51.100.7")
	r1v6  = netip.MustParseAddr("64:ff9b::cb00:7109")
	r2v6  = netip.MustParseAddr("64:ff9b::c633:6407")
	p4v6  = netip.MustParseAddr("64:ff9b::c000:202")
)

// fakeClock is a clock the test moves.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func testConfig(clk *fakeClock) Config {
	return Config{
		Pool6: pool6,
		Pool4: []Pool4Entry{
			{Address: p4, First: 1, Last: 3000},
			{Address: p4b, First: 61001, Last: 65535, Protocols: []Protocol{TCP}},
		},
		IPv4:           Side{Address: own4, MTU: 1500},
		IPv6:           Side{Address: own6, MTU: 1500},
		Clock:          clk.now,
		Seed:           1,
		ICMPErrorRate:  -1,
		Timeouts:       Timeouts{},
		ICMPErrorBurst: 0,
	}
}

func newTest(t testing.TB, c Config) *NAT64 {
	t.Helper()
	e, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func newDefault(t testing.TB) (*NAT64, *fakeClock) {
	clk := &fakeClock{t: time.Unix(1_000_000, 0)}
	return newTest(t, testConfig(clk)), clk
}

func ipOf(a netip.Addr) net.IP { return net.IP(a.AsSlice()) }

// serialize builds a packet with gopacket, lengths and checksums computed.
func serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	for _, l := range ls {
		switch x := l.(type) {
		case *layers.TCP:
			x.SetNetworkLayerForChecksum(ls[0].(gopacket.NetworkLayer))
		case *layers.UDP:
			x.SetNetworkLayerForChecksum(ls[0].(gopacket.NetworkLayer))
		case *layers.ICMPv6:
			x.SetNetworkLayerForChecksum(ls[0].(gopacket.NetworkLayer))
		}
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func v4(src, dst netip.Addr, proto layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: 0x1234, Flags: layers.IPv4DontFragment, Protocol: proto, SrcIP: ipOf(src), DstIP: ipOf(dst)}
}

func v6(src, dst netip.Addr, next layers.IPProtocol) *layers.IPv6 {
	return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: next, SrcIP: ipOf(src), DstIP: ipOf(dst)}
}

func udp6(t testing.TB, src netip.AddrPort, dst netip.AddrPort, payload string) []byte {
	return serialize(t, v6(src.Addr(), dst.Addr(), layers.IPProtocolUDP),
		&layers.UDP{SrcPort: layers.UDPPort(src.Port()), DstPort: layers.UDPPort(dst.Port())}, gopacket.Payload(payload))
}

func udp4(t testing.TB, src netip.AddrPort, dst netip.AddrPort, payload string) []byte {
	return serialize(t, v4(src.Addr(), dst.Addr(), layers.IPProtocolUDP),
		&layers.UDP{SrcPort: layers.UDPPort(src.Port()), DstPort: layers.UDPPort(dst.Port())}, gopacket.Payload(payload))
}

func tcp6(t testing.TB, src, dst netip.AddrPort, tcp layers.TCP) []byte {
	tcp.SrcPort, tcp.DstPort, tcp.Window = layers.TCPPort(src.Port()), layers.TCPPort(dst.Port()), 1000
	return serialize(t, v6(src.Addr(), dst.Addr(), layers.IPProtocolTCP), &tcp)
}

func tcp4(t testing.TB, src, dst netip.AddrPort, tcp layers.TCP) []byte {
	tcp.SrcPort, tcp.DstPort, tcp.Window = layers.TCPPort(src.Port()), layers.TCPPort(dst.Port()), 1000
	return serialize(t, v4(src.Addr(), dst.Addr(), layers.IPProtocolTCP), &tcp)
}

func ap(a netip.Addr, p uint16) netip.AddrPort { return netip.AddrPortFrom(a, p) }

// decode parses an output packet with gopacket, failing the test on a
// decoding error or a wrong checksum at any layer.
func decode(t testing.TB, o packet.Out) gopacket.Packet {
	t.Helper()
	first := layers.LayerTypeIPv4
	if o.Family == packet.IPv6Family {
		first = layers.LayerTypeIPv6
	}
	p := gopacket.NewPacket(o.Data, first, gopacket.Default)
	if el := p.ErrorLayer(); el != nil {
		t.Fatalf("output does not decode: %v\n%s", el.Error(), p.Dump())
	}
	if nl := p.NetworkLayer(); nl != nil {
		for _, l := range p.Layers() {
			if c, ok := l.(interface {
				SetNetworkLayerForChecksum(gopacket.NetworkLayer) error
			}); ok {
				c.SetNetworkLayerForChecksum(nl)
			}
		}
	}
	if err, bad := p.VerifyChecksums(); err != nil || len(bad) > 0 {
		t.Fatalf("output checksums: %v %v\n%s", err, bad, p.Dump())
	}
	return p
}

// run hands one packet to the NAT64 and returns the verdict and output.
func run(t testing.TB, e *NAT64, pkt []byte) (packet.Verdict, []packet.Out) {
	t.Helper()
	out := packet.NewBatch(4, packet.DefaultBufSize)
	in := append([]byte(nil), pkt...)
	v := e.Handle(in, out)
	if string(in) != string(pkt) {
		t.Fatal("Handle modified its input")
	}
	return v, out.Packets
}

// one expects exactly one output packet and decodes it.
func one(t testing.TB, e *NAT64, pkt []byte) gopacket.Packet {
	t.Helper()
	v, outs := run(t, e, pkt)
	if v != packet.Consumed || len(outs) != 1 {
		t.Fatalf("verdict %v, %d packets; want consumed, 1 (stats %+v)", v, len(outs), e.Stats())
	}
	return decode(t, outs[0])
}

// none expects the packet to be dropped with no output, or with exactly
// the ICMP error count given.
func dropped(t testing.TB, e *NAT64, pkt []byte) []packet.Out {
	t.Helper()
	v, outs := run(t, e, pkt)
	if v == packet.Consumed {
		t.Fatalf("verdict %v; want a drop", v)
	}
	return outs
}

// ends returns a packet's network endpoints and transport ports.
func ends(t testing.TB, p gopacket.Packet) (src, dst netip.AddrPort) {
	t.Helper()
	var sa, da netip.Addr
	switch n := p.NetworkLayer().(type) {
	case *layers.IPv4:
		sa, _ = netip.AddrFromSlice(n.SrcIP)
		da, _ = netip.AddrFromSlice(n.DstIP)
	case *layers.IPv6:
		sa, _ = netip.AddrFromSlice(n.SrcIP)
		da, _ = netip.AddrFromSlice(n.DstIP)
	}
	var sp, dp uint16
	switch l := p.TransportLayer().(type) {
	case *layers.UDP:
		sp, dp = uint16(l.SrcPort), uint16(l.DstPort)
	case *layers.TCP:
		sp, dp = uint16(l.SrcPort), uint16(l.DstPort)
	}
	if l, ok := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4); ok {
		sp, dp = l.Id, l.Id
	}
	if l, ok := p.Layer(layers.LayerTypeICMPv6Echo).(*layers.ICMPv6Echo); ok {
		sp, dp = l.Identifier, l.Identifier
	}
	return netip.AddrPortFrom(sa, sp), netip.AddrPortFrom(da, dp)
}

func layersTCPSyn() layers.TCP { return layers.TCP{SYN: true, Seq: 1} }
