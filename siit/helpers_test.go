package siit

import (
	"net"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/sixgate/sixgate/datapath"
	"github.com/sixgate/sixgate/packet"
)

// The test network: IPv6 hosts in 2001:db8:3::/120 appear in IPv4 as
// 192.0.2.0/24 (EAM); IPv4 hosts appear in IPv6 under pool6.
var (
	testPool6 = netip.MustParsePrefix("2001:db8:100::/40")
	testEAM   = EAM{IPv4: netip.MustParsePrefix("192.0.2.0/24"), IPv6: netip.MustParsePrefix("2001:db8:3::/120")}
	own4      = netip.MustParseAddr("198.51.100.1")
	own6      = netip.MustParseAddr("2001:db8:1c0:2:1::")

	host6   = netip.MustParseAddr("2001:db8:3::5") // 192.0.2.5
	host6v4 = netip.MustParseAddr("192.0.2.5")
	host4   = netip.MustParseAddr("203.0.113.9")
	host4v6 = netip.MustParseAddr("2001:db8:1cb:71:9::") // pool6 + 203.0.113.9
)

// The translator is an engine of the shared data path.
var _ datapath.Engine = (*Translator)(nil)

func testConfig() Config {
	return Config{
		Pool6: testPool6,
		EAM:   []EAM{testEAM},
		IPv4:  Side{Address: own4, MTU: 1500},
		IPv6:  Side{Address: own6, MTU: 1500},
	}
}

func newTest(t testing.TB, c Config) *Translator {
	t.Helper()
	tr, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func ip(a netip.Addr) net.IP { return net.IP(a.AsSlice()) }

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
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, TOS: 0x28, Id: 0x1234, Flags: layers.IPv4DontFragment, Protocol: proto, SrcIP: ip(src), DstIP: ip(dst)}
}

func v6(src, dst netip.Addr, next layers.IPProtocol) *layers.IPv6 {
	return &layers.IPv6{Version: 6, TrafficClass: 0x28, FlowLabel: 0x12345, HopLimit: 64, NextHeader: next, SrcIP: ip(src), DstIP: ip(dst)}
}

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

// run hands one packet to the translator and returns the verdict and
// its output.
func run(t testing.TB, tr *Translator, pkt []byte) (packet.Verdict, []packet.Out) {
	t.Helper()
	out := packet.NewBatch(4, packet.DefaultBufSize)
	in := append([]byte(nil), pkt...)
	v := tr.Handle(in, out)
	if string(in) != string(pkt) {
		t.Fatal("Handle modified its input")
	}
	return v, out.Packets
}

// one expects exactly one output packet and decodes it.
func one(t testing.TB, tr *Translator, pkt []byte) gopacket.Packet {
	t.Helper()
	v, outs := run(t, tr, pkt)
	if v != packet.Consumed || len(outs) != 1 {
		t.Fatalf("verdict %v, %d packets; want consumed, 1 (stats %+v)", v, len(outs), tr.Stats())
	}
	return decode(t, outs[0])
}
