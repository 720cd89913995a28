package siit

import (
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/sixgate/sixgate/packet"
)

// transportOK reports whether an unfragmented packet's TCP, UDP or ICMP
// checksum is right, and whether there is one to check.
func transportOK(b []byte) (ok, checked bool) {
	switch {
	case len(b) > 0 && b[0]>>4 == 4:
		ip := packet.IPv4(b)
		if !ip.IsValid() || ip.IsFragment() {
			return false, false
		}
		p := ip.Payload()
		switch ip.Protocol() {
		case packet.ProtoTCP:
			return packet.ChecksumOK(ip.PseudoHeaderSum(packet.ProtoTCP, len(p)), p), true
		case packet.ProtoUDP:
			if len(p) >= 8 && p[6] == 0 && p[7] == 0 {
				return true, false
			}
			return packet.ChecksumOK(ip.PseudoHeaderSum(packet.ProtoUDP, len(p)), p), true
		case packet.ProtoICMPv4:
			return packet.ChecksumOK(0, p), true
		}
	case len(b) > 0 && b[0]>>4 == 6:
		ip := packet.IPv6(b)
		if !ip.IsValid() {
			return false, false
		}
		u, ok := ip.Transport()
		if !ok || u.Fragment != 0 && (packet.IPv6Fragment(b[u.Fragment:]).Offset() != 0 || packet.IPv6Fragment(b[u.Fragment:]).More()) {
			return false, false
		}
		p := b[u.Offset : 40+int(ip.PayloadLength())]
		switch u.Proto {
		case packet.ProtoTCP, packet.ProtoUDP, packet.ProtoICMPv6:
			return packet.ChecksumOK(ip.PseudoHeaderSum(u.Proto, len(p)), p), true
		}
	}
	return false, false
}

// FuzzHandle feeds arbitrary bytes to the translator: it must not panic,
// must not write into its input, and every packet it emits must be a
// well-formed IP packet (gopacket decodes it, header checksum right)
// whose transport checksum is right whenever the input's was.
func FuzzHandle(f *testing.F) {
	seeds := [][]byte{
		tcp6(f, 64), tcp4(f, 64), tcp6(f, 1400), tcp4(f, 1400),
		udp4(f, v4(host4, host6v4, layers.IPProtocolUDP), 1472),
		udp6(f, v6(host6, host4v6, layers.IPProtocolUDP), 1300),
		icmp4(f, router4, host6v4, 3, 4, 0, udp4(f, v4(host6v4, host4, layers.IPProtocolUDP), 40)),
		icmp4(f, router4, host6v4, 11, 0, 32<<16, udp4(f, v4(host6v4, host4, layers.IPProtocolUDP), 200)),
		icmp6(f, host6, host4v6, 2, 0, 1280, udp6(f, v6(host4v6, host6, layers.IPProtocolUDP), 40)),
		icmp6(f, host6, host4v6, 3, 0, 17<<24, udp6(f, v6(host4v6, host6, layers.IPProtocolUDP), 200)),
		serialize(f, v6(host6, host4v6, layers.IPProtocolICMPv6), &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(128, 0)}, &layers.ICMPv6Echo{Identifier: 1}),
	}
	for _, s := range seeds {
		f.Add(s)
	}
	c := testConfig()
	c.IPv4.MTU = 1000 // so that fragmentation toward IPv4 is reached too
	c.ICMPErrorRate = -1
	tr := newTest(f, c)
	out := packet.NewBatch(8, packet.DefaultBufSize)
	f.Fuzz(func(t *testing.T, in []byte) {
		keep := string(in)
		out.Reset()
		tr.Handle(in, out)
		if string(in) != keep {
			t.Fatal("Handle wrote into its input")
		}
		inOK, inChecked := transportOK(in)
		for _, o := range out.Packets {
			first := layers.LayerTypeIPv4
			if o.Family == packet.IPv6Family {
				first = layers.LayerTypeIPv6
			}
			if len(o.Data) == 0 || int(o.Data[0]>>4) != int(o.Family) {
				t.Fatalf("output of family %d starts %x", o.Family, o.Data[:min(len(o.Data), 1)])
			}
			p := gopacket.NewPacket(o.Data, first, gopacket.DecodeOptions{Lazy: false, NoCopy: true})
			if p.NetworkLayer() == nil {
				t.Fatalf("output does not decode: %x", o.Data)
			}
			if o.Family == packet.IPv4Family {
				ip := packet.IPv4(o.Data)
				if !ip.IsValid() || !ip.HeaderChecksumOK() || int(ip.TotalLength()) != len(o.Data) {
					t.Fatalf("bad IPv4 header %x", o.Data[:20])
				}
			} else if ip := packet.IPv6(o.Data); !ip.IsValid() || 40+int(ip.PayloadLength()) != len(o.Data) {
				t.Fatalf("bad IPv6 header %x", o.Data[:40])
			}
			outOK, outChecked := transportOK(o.Data)
			// What the translator builds (errors it sends, translated
			// ICMP) is always right; what it adjusts stays as right as
			// it came.
			if outChecked && !outOK && (inOK || !inChecked) && isICMP(o.Data) {
				t.Fatalf("ICMP output with a wrong checksum: %x", o.Data)
			}
			if outChecked && inChecked && inOK && !outOK {
				t.Fatalf("checksum right in, wrong out:\n in %x\nout %x", in, o.Data)
			}
		}
	})
}

func isICMP(b []byte) bool {
	if b[0]>>4 == 4 {
		return packet.IPv4(b).Protocol() == packet.ProtoICMPv4
	}
	u, ok := packet.IPv6(b).Transport()
	return ok && u.Proto == packet.ProtoICMPv6
}
