package packet

import (
	"bytes"
	"net"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// The views are checked against gopacket decoding the same bytes, and the
// checksums against the ones gopacket computes when it serializes.

var (
	src4 = net.IP{198, 51, 100, 7}
	dst4 = net.IP{192, 0, 2, 10}
	src6 = net.ParseIP("2001:db8::a")
	dst6 = net.ParseIP("64:ff9b::c633:6407")
)

// build serializes ls with lengths and checksums filled in.
func build(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(buf.Bytes())
}

// decode decodes b starting with first. Layers past the ones a test looks
// at may fail to decode (a payload that is no valid header); a test
// fails when the layer it asks layer for is missing.
func decode(t testing.TB, b []byte, first gopacket.Decoder) gopacket.Packet {
	t.Helper()
	return gopacket.NewPacket(b, first, gopacket.Default)
}

// layer returns the layer of type lt in p, failing the test without it.
func layer[L gopacket.Layer](t testing.TB, p gopacket.Packet, lt gopacket.LayerType) L {
	t.Helper()
	l, ok := p.Layer(lt).(L)
	if !ok {
		t.Fatalf("gopacket decoded no %v: %v", lt, p)
	}
	return l
}

func ip4Layer(proto layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, TTL: 64, Protocol: proto, SrcIP: src4, DstIP: dst4}
}

func ip6Layer(next layers.IPProtocol) *layers.IPv6 {
	return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: next, SrcIP: src6, DstIP: dst6}
}

func addr(ip net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(ip)
	return a.Unmap()
}

func TestIPv4View(t *testing.T) {
	routerAlert := []layers.IPv4Option{{OptionType: 148, OptionLength: 4, OptionData: []byte{0, 0}}}
	tests := []struct {
		name string
		ip   layers.IPv4
	}{
		{"plain", layers.IPv4{TOS: 0, Id: 1, TTL: 64}},
		{"tos and DF", layers.IPv4{TOS: 0xb8, Id: 0xbeef, Flags: layers.IPv4DontFragment, TTL: 1}},
		{"first fragment", layers.IPv4{Id: 7, Flags: layers.IPv4MoreFragments, TTL: 255}},
		{"later fragment", layers.IPv4{Id: 7, FragOffset: 185, TTL: 3}},
		{"options", layers.IPv4{Id: 9, TTL: 64, Options: routerAlert}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := tt.ip
			l.Version, l.Protocol, l.SrcIP, l.DstIP = 4, layers.IPProtocolUDP, src4, dst4
			raw := build(t, &l, gopacket.Payload("hello, world"))
			raw = append(raw, 0, 0, 0) // Ethernet padding past the total length
			g := layer[*layers.IPv4](t, decode(t, raw, layers.LayerTypeIPv4), layers.LayerTypeIPv4)

			v := IPv4(raw)
			if !v.IsValid() {
				t.Fatal("IsValid = false")
			}
			checkEq(t, "HeaderLength", v.HeaderLength(), int(g.IHL)*4)
			checkEq(t, "TOS", v.TOS(), g.TOS)
			checkEq(t, "TotalLength", v.TotalLength(), g.Length)
			checkEq(t, "ID", v.ID(), g.Id)
			checkEq(t, "Flags", v.Flags(), uint16(g.Flags)<<13)
			checkEq(t, "FragmentOffset", v.FragmentOffset(), int(g.FragOffset)*8)
			checkEq(t, "TTL", v.TTL(), g.TTL)
			checkEq(t, "Protocol", v.Protocol(), uint8(g.Protocol))
			checkEq(t, "Checksum", v.Checksum(), g.Checksum)
			checkEq(t, "SrcAddr", v.SrcAddr(), addr(g.SrcIP))
			checkEq(t, "DstAddr", v.DstAddr(), addr(g.DstIP))
			checkEq(t, "Src", v.Src(), [4]byte(g.SrcIP.To4()))
			checkEq(t, "Dst", v.Dst(), [4]byte(g.DstIP.To4()))
			checkEq(t, "DontFragment", v.DontFragment(), g.Flags&layers.IPv4DontFragment != 0)
			checkEq(t, "MoreFragments", v.MoreFragments(), g.Flags&layers.IPv4MoreFragments != 0)
			checkEq(t, "IsFragment", v.IsFragment(), g.Flags&layers.IPv4MoreFragments != 0 || g.FragOffset != 0)
			checkBytes(t, "Options", v.Options(), g.Contents[IPv4MinLen:])
			checkBytes(t, "Payload", v.Payload(), g.Payload)
			checkEq(t, "HeaderChecksumOK", v.HeaderChecksumOK(), true)

			v.SetTTL(v.TTL() - 1)
			checkEq(t, "HeaderChecksumOK after SetTTL", v.HeaderChecksumOK(), false)
			v.SetChecksum(0)
			v.SetChecksum(Checksum(0, v[:v.HeaderLength()]))
			checkEq(t, "HeaderChecksumOK after SetChecksum", v.HeaderChecksumOK(), true)
		})
	}
}

func TestIPv6View(t *testing.T) {
	tests := []struct {
		name string
		ip   layers.IPv6
	}{
		{"zero", layers.IPv6{HopLimit: 64}},
		{"traffic class and flow label", layers.IPv6{TrafficClass: 0xb8, FlowLabel: 0xfedcb, HopLimit: 1}},
		{"all ones", layers.IPv6{TrafficClass: 0xff, FlowLabel: 0xfffff, HopLimit: 255}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := tt.ip
			l.Version, l.NextHeader, l.SrcIP, l.DstIP = 6, layers.IPProtocolUDP, src6, dst6
			raw := build(t, &l, gopacket.Payload("abc"))
			raw = append(raw, 0xee) // trailing bytes past the payload length
			g := layer[*layers.IPv6](t, decode(t, raw, layers.LayerTypeIPv6), layers.LayerTypeIPv6)

			v := IPv6(raw)
			if !v.IsValid() {
				t.Fatal("IsValid = false")
			}
			checkEq(t, "TrafficClass", v.TrafficClass(), g.TrafficClass)
			checkEq(t, "FlowLabel", v.FlowLabel(), g.FlowLabel)
			checkEq(t, "PayloadLength", v.PayloadLength(), g.Length)
			checkEq(t, "NextHeader", v.NextHeader(), uint8(g.NextHeader))
			checkEq(t, "HopLimit", v.HopLimit(), g.HopLimit)
			checkEq(t, "SrcAddr", v.SrcAddr(), addr(g.SrcIP))
			checkEq(t, "DstAddr", v.DstAddr(), addr(g.DstIP))
			checkEq(t, "Src", v.Src(), [16]byte(g.SrcIP))
			checkEq(t, "Dst", v.Dst(), [16]byte(g.DstIP))
			checkEq(t, "SrcPtr", *v.SrcPtr(), [16]byte(g.SrcIP))
			checkEq(t, "DstPtr", *v.DstPtr(), [16]byte(g.DstIP))
			checkBytes(t, "Payload", v.Payload(), g.Payload)

			v.SetHopLimit(9)
			v.SetPayloadLength(2)
			checkEq(t, "HopLimit after SetHopLimit", v.HopLimit(), 9)
			checkBytes(t, "Payload after SetPayloadLength", v.Payload(), []byte("ab"))
		})
	}
}

func TestTCPView(t *testing.T) {
	tests := []struct {
		name string
		tcp  layers.TCP
		data string
	}{
		{"bare SYN", layers.TCP{SYN: true, Seq: 1, Window: 64240}, ""},
		{"SYN options", layers.TCP{SYN: true, Seq: 0xfffffff0, Window: 65535, Options: []layers.TCPOption{
			{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}},
			{OptionType: layers.TCPOptionKindSACKPermitted, OptionLength: 2},
			{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: []byte{0, 0, 0, 100, 0, 0, 0, 0}},
			{OptionType: layers.TCPOptionKindNop},
			{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{7}},
		}}, ""},
		{"data, odd length", layers.TCP{ACK: true, PSH: true, Seq: 5, Ack: 0x80000000, Window: 1}, "odd"},
		{"every flag", layers.TCP{FIN: true, SYN: true, RST: true, PSH: true, ACK: true, URG: true, ECE: true, CWR: true, Urgent: 3}, "x"},
	}
	for _, tt := range tests {
		for _, fam := range []string{"ipv4", "ipv6"} {
			t.Run(tt.name+"/"+fam, func(t *testing.T) {
				l := tt.tcp
				l.SrcPort, l.DstPort = 50000, 4433
				var raw []byte
				var pseudo func(TCP) uint16
				if fam == "ipv4" {
					ip := ip4Layer(layers.IPProtocolTCP)
					_ = l.SetNetworkLayerForChecksum(ip)
					raw = IPv4(build(t, ip, &l, gopacket.Payload(tt.data))).Payload()
					pseudo = func(s TCP) uint16 { return PseudoHeaderSum(src4, dst4, ProtoTCP, len(s)) }
				} else {
					ip := ip6Layer(layers.IPProtocolTCP)
					_ = l.SetNetworkLayerForChecksum(ip)
					raw = IPv6(build(t, ip, &l, gopacket.Payload(tt.data))).Payload()
					pseudo = func(s TCP) uint16 { return PseudoHeaderSum(src6, dst6, ProtoTCP, len(s)) }
				}
				g := layer[*layers.TCP](t, decode(t, raw, layers.LayerTypeTCP), layers.LayerTypeTCP)
				v := TCP(raw)
				if !v.IsValid() {
					t.Fatal("IsValid = false")
				}
				checkEq(t, "SrcPort", v.SrcPort(), uint16(g.SrcPort))
				checkEq(t, "DstPort", v.DstPort(), uint16(g.DstPort))
				checkEq(t, "Seq", v.Seq(), g.Seq)
				checkEq(t, "Ack", v.Ack(), g.Ack)
				checkEq(t, "DataOffset", v.DataOffset(), int(g.DataOffset)*4)
				checkEq(t, "Flags", v.Flags(), gopacketFlags(g))
				checkEq(t, "Window", v.Window(), g.Window)
				checkEq(t, "Checksum", v.Checksum(), g.Checksum)
				checkBytes(t, "Options", v.Options(), g.Contents[TCPMinLen:])
				checkBytes(t, "Payload", v.Payload(), g.Payload)
				checkEq(t, "Has(SYN|ACK)", v.Has(TCPFlagSYN|TCPFlagACK), g.SYN && g.ACK)
				checkEq(t, "HasAny(FIN|RST)", v.HasAny(TCPFlagFIN|TCPFlagRST), g.FIN || g.RST)
				want := uint32(len(g.Payload))
				if g.SYN {
					want++
				}
				if g.FIN {
					want++
				}
				checkEq(t, "SequenceLength", v.SequenceLength(), want)

				checkEq(t, "ChecksumOK", ChecksumOK(pseudo(v), v), true)
				sum := v.Checksum()
				v.SetChecksum(0)
				checkEq(t, "Checksum recomputed", Checksum(pseudo(v), v), sum)
				v.SetChecksum(sum)
				v.SetSrcPort(1)
				v.SetDstPort(2)
				checkEq(t, "ports after Set", [2]uint16{v.SrcPort(), v.DstPort()}, [2]uint16{1, 2})
				checkEq(t, "ChecksumOK after a port change", ChecksumOK(pseudo(v), v), false)
			})
		}
	}
}

func gopacketFlags(g *layers.TCP) uint8 {
	var f uint8
	for i, set := range []bool{g.FIN, g.SYN, g.RST, g.PSH, g.ACK, g.URG, g.ECE, g.CWR} {
		if set {
			f |= 1 << i
		}
	}
	return f
}

func TestUDPView(t *testing.T) {
	for _, payload := range []string{"", "a", "ab", "an odd-length datagram"} {
		t.Run(payload, func(t *testing.T) {
			l := &layers.UDP{SrcPort: 7777, DstPort: 33333}
			ip := ip6Layer(layers.IPProtocolUDP)
			_ = l.SetNetworkLayerForChecksum(ip)
			raw := IPv6(build(t, ip, l, gopacket.Payload(payload))).Payload()
			g := layer[*layers.UDP](t, decode(t, raw, layers.LayerTypeUDP), layers.LayerTypeUDP)
			v := UDP(raw)
			if !v.IsValid() {
				t.Fatal("IsValid = false")
			}
			checkEq(t, "SrcPort", v.SrcPort(), uint16(g.SrcPort))
			checkEq(t, "DstPort", v.DstPort(), uint16(g.DstPort))
			checkEq(t, "Length", v.Length(), g.Length)
			checkEq(t, "Checksum", v.Checksum(), g.Checksum)
			checkBytes(t, "Payload", v.Payload(), g.Payload)
			pseudo := PseudoHeaderSum(src6, dst6, ProtoUDP, len(v))
			checkEq(t, "ChecksumOK", ChecksumOK(pseudo, v), true)
			v.SetSrcPort(v.DstPort())
			v.SetDstPort(7777)
			v.SetChecksum(0)
			v.SetChecksum(Checksum(pseudo, v))
			checkEq(t, "ChecksumOK after swapping ports", ChecksumOK(pseudo, v), true)
		})
	}
}

func TestICMPView(t *testing.T) {
	t.Run("v4 echo", func(t *testing.T) {
		l := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(ICMPv4EchoRequest, 0), Id: 0x1234, Seq: 7}
		raw := IPv4(build(t, ip4Layer(layers.IPProtocolICMPv4), l, gopacket.Payload("ping!"))).Payload()
		g := layer[*layers.ICMPv4](t, decode(t, raw, layers.LayerTypeICMPv4), layers.LayerTypeICMPv4)
		v := ICMP(raw)
		if !v.IsValid() {
			t.Fatal("IsValid = false")
		}
		checkEq(t, "Type", v.Type(), g.TypeCode.Type())
		checkEq(t, "Code", v.Code(), g.TypeCode.Code())
		checkEq(t, "Checksum", v.Checksum(), g.Checksum)
		checkEq(t, "ID", v.ID(), g.Id)
		checkEq(t, "Seq", v.Seq(), g.Seq)
		checkEq(t, "Rest", v.Rest(), uint32(g.Id)<<16|uint32(g.Seq))
		checkBytes(t, "Body", v.Body(), g.Payload)
		checkEq(t, "ChecksumOK", ChecksumOK(0, v), true)
		checkEq(t, "IsICMPv4Error", IsICMPv4Error(v.Type()), false)
	})
	t.Run("v6 packet too big", func(t *testing.T) {
		l := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(ICMPv6PacketTooBig, 0)}
		ip := ip6Layer(layers.IPProtocolICMPv6)
		_ = l.SetNetworkLayerForChecksum(ip)
		body := append([]byte{0, 0, 0x05, 0x00}, make([]byte, 48)...)
		raw := IPv6(build(t, ip, l, gopacket.Payload(body))).Payload()
		g := layer[*layers.ICMPv6](t, decode(t, raw, layers.LayerTypeICMPv6), layers.LayerTypeICMPv6)
		v := ICMP(raw)
		checkEq(t, "Type", v.Type(), g.TypeCode.Type())
		checkEq(t, "Code", v.Code(), g.TypeCode.Code())
		checkEq(t, "Checksum", v.Checksum(), g.Checksum)
		checkEq(t, "Rest (MTU)", v.Rest(), 1280)
		checkBytes(t, "Body", v.Body(), g.Payload[4:])
		checkEq(t, "ChecksumOK", ChecksumOK(PseudoHeaderSum(src6, dst6, ProtoICMPv6, len(v)), v), true)
		checkEq(t, "IsICMPv6Error", IsICMPv6Error(v.Type()), true)
		v.SetChecksum(v.Checksum() + 1)
		checkEq(t, "ChecksumOK after SetChecksum", ChecksumOK(PseudoHeaderSum(src6, dst6, ProtoICMPv6, len(v)), v), false)
	})
}

func TestEthernetView(t *testing.T) {
	l := &layers.Ethernet{
		SrcMAC:       net.HardwareAddr{2, 0, 0, 0, 0, 1},
		DstMAC:       net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		EthernetType: layers.EthernetTypeIPv6,
	}
	raw := build(t, l, gopacket.Payload("payload"))
	g := layer[*layers.Ethernet](t, decode(t, raw, layers.LayerTypeEthernet), layers.LayerTypeEthernet)
	v := Ethernet(raw)
	if !v.IsValid() {
		t.Fatal("IsValid = false")
	}
	checkBytes(t, "Src", v.Src(), g.SrcMAC)
	checkBytes(t, "Dst", v.Dst(), g.DstMAC)
	checkEq(t, "Type", v.Type(), uint16(g.EthernetType))
	checkBytes(t, "Payload", v.Payload(), g.Payload)

	out := make(Ethernet, EthernetHeaderLen)
	out.Encode(v.Src(), v.Dst(), EtherTypeIPv4)
	g2 := layer[*layers.Ethernet](t, decode(t, append(out, 0x45), layers.LayerTypeEthernet), layers.LayerTypeEthernet)
	checkBytes(t, "encoded DstMAC", g2.DstMAC, l.SrcMAC)
	checkBytes(t, "encoded SrcMAC", g2.SrcMAC, l.DstMAC)
	checkEq(t, "encoded EthernetType", g2.EthernetType, layers.EthernetTypeIPv4)
}

func TestEtherTypeOf(t *testing.T) {
	tests := []struct {
		ip   []byte
		want uint16
	}{
		{nil, 0},
		{[]byte{0x45}, EtherTypeIPv4},
		{[]byte{0x60, 0}, EtherTypeIPv6},
		{[]byte{0x50}, 0},
	}
	for _, tt := range tests {
		checkEq(t, "EtherTypeOf", EtherTypeOf(tt.ip), tt.want)
	}
}

// TestEncode writes headers with the views' Encode and decodes them with
// gopacket, whose serializer recomputes the checksums to compare with.
func TestEncode(t *testing.T) {
	opts := []byte{TCPOptNOP, TCPOptNOP, TCPOptTimestamps, 10, 0, 0, 0, 1, 0, 0, 0, 2}
	payload := []byte("seven b")
	tf := TCPFields{SrcPort: 80, DstPort: 50000, Seq: 0xdeadbeef, Ack: 42, Flags: TCPFlagACK | TCPFlagPSH, Window: 512, Urgent: 0, Options: opts}
	segLen := TCPMinLen + len(opts) + len(payload)

	t.Run("IPv4+TCP", func(t *testing.T) {
		b := make([]byte, IPv4MinLen+segLen)
		f := IPv4Fields{TOS: 0x10, TotalLen: uint16(len(b)), ID: 77, Flags: IPv4FlagDF, TTL: 63, Protocol: ProtoTCP,
			Src: [4]byte(src4), Dst: [4]byte(dst4)}
		IPv4(b).Encode(&f)
		putSegment(b[IPv4MinLen:], &tf, payload, func(n int) uint16 { return IPv4(b).PseudoHeaderSum(ProtoTCP, n) })

		p := decode(t, b, layers.LayerTypeIPv4)
		ip := layer[*layers.IPv4](t, p, layers.LayerTypeIPv4)
		checkEq(t, "IHL", ip.IHL, 5)
		checkEq(t, "TOS", ip.TOS, f.TOS)
		checkEq(t, "Length", ip.Length, f.TotalLen)
		checkEq(t, "Id", ip.Id, f.ID)
		checkEq(t, "Flags", ip.Flags, layers.IPv4DontFragment)
		checkEq(t, "TTL", ip.TTL, f.TTL)
		checkEq(t, "Protocol", ip.Protocol, layers.IPProtocolTCP)
		checkEq(t, "SrcIP", addr(ip.SrcIP), netip.AddrFrom4(f.Src))
		checkEq(t, "DstIP", addr(ip.DstIP), netip.AddrFrom4(f.Dst))
		checkDecodedSegment(t, b, p, ip, &tf, payload)
	})
	t.Run("IPv6+TCP", func(t *testing.T) {
		b := make([]byte, IPv6HeaderLen+segLen)
		f := IPv6Fields{TrafficClass: 0xb8, FlowLabel: 0x12345, PayloadLen: uint16(segLen), NextHeader: ProtoTCP, HopLimit: 9,
			Src: [16]byte(src6), Dst: [16]byte(dst6)}
		IPv6(b).Encode(&f)
		putSegment(b[IPv6HeaderLen:], &tf, payload, func(n int) uint16 { return IPv6(b).PseudoHeaderSum(ProtoTCP, n) })

		p := decode(t, b, layers.LayerTypeIPv6)
		ip := layer[*layers.IPv6](t, p, layers.LayerTypeIPv6)
		checkEq(t, "Version", ip.Version, 6)
		checkEq(t, "TrafficClass", ip.TrafficClass, f.TrafficClass)
		checkEq(t, "FlowLabel", ip.FlowLabel, f.FlowLabel)
		checkEq(t, "Length", ip.Length, f.PayloadLen)
		checkEq(t, "NextHeader", ip.NextHeader, layers.IPProtocolTCP)
		checkEq(t, "HopLimit", ip.HopLimit, f.HopLimit)
		checkEq(t, "SrcIP", addr(ip.SrcIP), netip.AddrFrom16(f.Src))
		checkEq(t, "DstIP", addr(ip.DstIP), netip.AddrFrom16(f.Dst))
		checkDecodedSegment(t, b, p, ip, &tf, payload)
	})
	t.Run("IPv6 flow label masked", func(t *testing.T) {
		b := make(IPv6, IPv6HeaderLen)
		b.Encode(&IPv6Fields{TrafficClass: 1, FlowLabel: 0xfff00001})
		checkEq(t, "version", b[0]>>4, 6)
		checkEq(t, "TrafficClass", b.TrafficClass(), 1)
		checkEq(t, "FlowLabel", b.FlowLabel(), 1)
	})
}

// putSegment encodes f and payload into seg and sets its checksum over the
// pseudo-header sum pseudo gives for the segment's length.
func putSegment(seg TCP, f *TCPFields, payload []byte, pseudo func(length int) uint16) {
	n := seg.Encode(f)
	copy(seg[n:], payload)
	seg.SetChecksum(Checksum(pseudo(len(seg)), seg))
}

// checkDecodedSegment checks the TCP layer gopacket decoded from raw
// against f and payload, and the checksums against gopacket's.
func checkDecodedSegment(t *testing.T, raw []byte, p gopacket.Packet, ip gopacket.NetworkLayer, f *TCPFields, payload []byte) {
	t.Helper()
	tcp := layer[*layers.TCP](t, p, layers.LayerTypeTCP)
	checkTCPFields(t, tcp, f, payload)
	checkGopacketChecksums(t, raw, ip, tcp)
}

func checkTCPFields(t *testing.T, g *layers.TCP, f *TCPFields, payload []byte) {
	t.Helper()
	checkEq(t, "SrcPort", uint16(g.SrcPort), f.SrcPort)
	checkEq(t, "DstPort", uint16(g.DstPort), f.DstPort)
	checkEq(t, "Seq", g.Seq, f.Seq)
	checkEq(t, "Ack", g.Ack, f.Ack)
	checkEq(t, "Flags", gopacketFlags(g), f.Flags)
	checkEq(t, "Window", g.Window, f.Window)
	checkEq(t, "Urgent", g.Urgent, f.Urgent)
	checkEq(t, "DataOffset", int(g.DataOffset)*4, TCPMinLen+len(f.Options))
	checkBytes(t, "Options", g.Contents[TCPMinLen:], f.Options)
	checkBytes(t, "Payload", g.Payload, payload)
}

// checkGopacketChecksums serializes the decoded layers again with
// checksums computed by gopacket and compares the bytes.
func checkGopacketChecksums(t *testing.T, raw []byte, ip gopacket.NetworkLayer, tcp *layers.TCP) {
	t.Helper()
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	again := build(t, ip.(gopacket.SerializableLayer), tcp, gopacket.Payload(tcp.Payload))
	checkBytes(t, "bytes with gopacket's checksums", raw, again)
}

// TestIsValid checks that each view rejects truncated or inconsistent
// headers.
func TestIsValid(t *testing.T) {
	good4 := IPv4(build(t, ip4Layer(layers.IPProtocolUDP), gopacket.Payload("12345678")))
	good6 := IPv6(build(t, ip6Layer(layers.IPProtocolUDP), gopacket.Payload("12345678")))
	goodTCP := make([]byte, 24)
	goodTCP[TCPDataOffset] = 6 << 4
	goodUDP := []byte{0, 1, 0, 2, 0, 9, 0, 0, 'x'}
	edit := func(b []byte, f func([]byte)) []byte {
		c := bytes.Clone(b)
		f(c)
		return c
	}
	tests := []struct {
		name string
		ok   func([]byte) bool
		b    []byte
		want bool
	}{
		{"ipv4 good", ipv4OK, good4, true},
		{"ipv4 empty", ipv4OK, nil, false},
		{"ipv4 truncated header", ipv4OK, good4[:19], false},
		{"ipv4 version 6", ipv4OK, edit(good4, func(b []byte) { b[0] = 0x65 }), false},
		{"ipv4 IHL 4", ipv4OK, edit(good4, func(b []byte) { b[0] = 0x44 }), false},
		{"ipv4 IHL past total", ipv4OK, edit(good4, func(b []byte) { b[0] = 0x4f }), false},
		{"ipv4 total under IHL", ipv4OK, edit(good4, func(b []byte) { b[3] = 19 }), false},
		{"ipv4 total past the bytes", ipv4OK, edit(good4, func(b []byte) { b[3]++ }), false},
		{"ipv4 truncated payload", ipv4OK, good4[:len(good4)-1], false},
		{"ipv4 header only", ipv4OK, edit(good4[:20], func(b []byte) { b[2], b[3] = 0, 20 }), true},
		{"ipv6 good", ipv6OK, good6, true},
		{"ipv6 truncated header", ipv6OK, good6[:39], false},
		{"ipv6 version 4", ipv6OK, edit(good6, func(b []byte) { b[0] = 0x45 }), false},
		{"ipv6 payload past the bytes", ipv6OK, good6[:len(good6)-1], false},
		{"tcp good", tcpOK, goodTCP, true},
		{"tcp truncated", tcpOK, goodTCP[:19], false},
		{"tcp data offset 4", tcpOK, edit(goodTCP, func(b []byte) { b[TCPDataOffset] = 4 << 4 }), false},
		{"tcp data offset past the bytes", tcpOK, edit(goodTCP, func(b []byte) { b[TCPDataOffset] = 7 << 4 }), false},
		{"udp good", udpOK, goodUDP, true},
		{"udp truncated", udpOK, goodUDP[:7], false},
		{"udp length under 8", udpOK, edit(goodUDP, func(b []byte) { b[5] = 7 }), false},
		{"udp length past the bytes", udpOK, edit(goodUDP, func(b []byte) { b[5] = 10 }), false},
		{"icmp good", icmpOK, make([]byte, 8), true},
		{"icmp truncated", icmpOK, make([]byte, 7), false},
		{"ethernet good", ethOK, make([]byte, 14), true},
		{"ethernet truncated", ethOK, make([]byte, 13), false},
	}
	for _, tt := range tests {
		if got := tt.ok(tt.b); got != tt.want {
			t.Errorf("%s: IsValid = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func ipv4OK(b []byte) bool { return IPv4(b).IsValid() }
func ipv6OK(b []byte) bool { return IPv6(b).IsValid() }
func tcpOK(b []byte) bool  { return TCP(b).IsValid() }
func udpOK(b []byte) bool  { return UDP(b).IsValid() }
func icmpOK(b []byte) bool { return ICMP(b).IsValid() }
func ethOK(b []byte) bool  { return Ethernet(b).IsValid() }

func checkEq[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func checkBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Errorf("%s = %x, want %x", what, got, want)
	}
}
