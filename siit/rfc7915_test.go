package siit

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/sixgate/sixgate/packet"
)

func udp4(t testing.TB, ip4 *layers.IPv4, n int) []byte {
	return serialize(t, ip4, &layers.UDP{SrcPort: 4000, DstPort: 5000}, gopacket.Payload(bytes.Repeat([]byte{'u'}, n)))
}

func udp6(t testing.TB, ip6 *layers.IPv6, n int) []byte {
	return serialize(t, ip6, &layers.UDP{SrcPort: 4000, DstPort: 5000}, gopacket.Payload(bytes.Repeat([]byte{'u'}, n)))
}

// icmp4Error expects one ICMPv4 error from the translator's own address
// to dst, TTL 64, DF clear, and returns it.
func icmp4Error(t *testing.T, outs []packet.Out, dst netip.Addr, typ, code uint8) *layers.ICMPv4 {
	t.Helper()
	if len(outs) != 1 {
		t.Fatalf("%d packets out, want 1 ICMPv4 error", len(outs))
	}
	p := decode(t, outs[0])
	ip4 := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	if !ip4.SrcIP.Equal(ip(own4)) || !ip4.DstIP.Equal(ip(dst)) || ip4.TTL != 64 || ip4.Flags&layers.IPv4DontFragment != 0 {
		t.Fatalf("error header %+v", ip4)
	}
	ic := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
	if ic.TypeCode.Type() != typ || ic.TypeCode.Code() != code {
		t.Fatalf("ICMPv4 %v, want %d/%d", ic.TypeCode, typ, code)
	}
	if len(outs[0].Data) > 576 {
		t.Fatalf("ICMPv4 error of %d bytes", len(outs[0].Data))
	}
	return ic
}

func icmp6Error(t *testing.T, outs []packet.Out, dst netip.Addr, typ, code uint8) *layers.ICMPv6 {
	t.Helper()
	if len(outs) != 1 {
		t.Fatalf("%d packets out, want 1 ICMPv6 error", len(outs))
	}
	p := decode(t, outs[0])
	ip6 := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
	if !ip6.SrcIP.Equal(ip(own6)) || !ip6.DstIP.Equal(ip(dst)) || ip6.HopLimit != 64 || ip6.FlowLabel != 0 {
		t.Fatalf("error header %+v", ip6)
	}
	ic := p.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
	if ic.TypeCode.Type() != typ || ic.TypeCode.Code() != code {
		t.Fatalf("ICMPv6 %v, want %d/%d", ic.TypeCode, typ, code)
	}
	if len(outs[0].Data) > 1280 {
		t.Fatalf("ICMPv6 error of %d bytes", len(outs[0].Data))
	}
	return ic
}

// RFC 7915 §4.1: the IPv4 header becomes an IPv6 header.
func TestHeader4to6(t *testing.T) {
	tr := newTest(t, testConfig())
	h := v4(host4, host6v4, layers.IPProtocolUDP)
	h.Options = []layers.IPv4Option{{OptionType: 7, OptionLength: 7, OptionData: []byte{4, 0, 0, 0, 0}}} // record route: ignored
	p := one(t, tr, udp4(t, h, 100))
	ip6 := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
	if ip6.TrafficClass != 0x28 || ip6.FlowLabel != 0 || ip6.HopLimit != 63 || ip6.NextHeader != layers.IPProtocolUDP || ip6.Length != 108 {
		t.Fatalf("IPv6 header %+v", ip6)
	}
	if p.Layer(layers.LayerTypeIPv6Fragment) != nil {
		t.Fatal("a fragment header on a packet with DF")
	}
	// DF clear, small: still no fragment header (RFC 7915 §4.1, no
	// atomic fragments).
	h.Flags = 0
	p = one(t, tr, udp4(t, h, 100))
	if p.Layer(layers.LayerTypeIPv6Fragment) != nil {
		t.Fatal("an atomic fragment")
	}
}

func TestTTL4(t *testing.T) {
	tr := newTest(t, testConfig())
	h := v4(host4, host6v4, layers.IPProtocolUDP)
	h.TTL = 1
	v, outs := run(t, tr, udp4(t, h, 10))
	if v != packet.Drop {
		t.Fatalf("verdict %v", v)
	}
	ic := icmp4Error(t, outs, host4, layers.ICMPv4TypeTimeExceeded, 0)
	if q := packet.IPv4(ic.Payload); !q.IsValid() || q.DstAddr() != host6v4 {
		t.Fatal("the error does not quote the packet")
	}
	h.TTL = 0
	if v, outs = run(t, tr, udp4(t, h, 10)); v != packet.Drop || len(outs) != 1 {
		t.Fatal("TTL 0 not answered")
	}
}

func TestHopLimit6(t *testing.T) {
	tr := newTest(t, testConfig())
	h := v6(host6, host4v6, layers.IPProtocolUDP)
	h.HopLimit = 1
	v, outs := run(t, tr, udp6(t, h, 10))
	if v != packet.Drop {
		t.Fatalf("verdict %v", v)
	}
	icmp6Error(t, outs, host6, layers.ICMPv6TypeTimeExceeded, 0)
}

// RFC 7915 §4.1: DF set and too big for the IPv6 side: Fragmentation
// Needed with the MTU less the 20 bytes IPv6 adds.
func TestFragNeeded(t *testing.T) {
	c := testConfig()
	c.IPv6.MTU = 1400
	tr := newTest(t, c)
	v, outs := run(t, tr, udp4(t, v4(host4, host6v4, layers.IPProtocolUDP), 1372)) // 1400 bytes, 1420 in IPv6
	if v != packet.Drop {
		t.Fatalf("verdict %v", v)
	}
	ic := icmp4Error(t, outs, host4, layers.ICMPv4TypeDestinationUnreachable, layers.ICMPv4CodeFragmentationNeeded)
	if ic.Seq != 1380 {
		t.Fatalf("MTU %d, want 1380", ic.Seq)
	}
	// One byte less fits.
	one(t, tr, udp4(t, v4(host4, host6v4, layers.IPProtocolUDP), 1352))
}

// RFC 7915 §4.1: DF clear and larger than lowest_ipv6_mtu: IPv6
// fragments no larger than it, the identification carried.
func TestFragment4to6(t *testing.T) {
	for _, lowest := range []int{0, 1400} {
		c := testConfig()
		c.LowestIPv6MTU = lowest
		limit := max(lowest, 1280)
		tr := newTest(t, c)
		h := v4(host4, host6v4, layers.IPProtocolUDP)
		h.Flags = 0
		payload := 1472
		in := udp4(t, h, payload)
		v, outs := run(t, tr, in)
		if v != packet.Consumed || len(outs) != 2 {
			t.Fatalf("verdict %v, %d packets", v, len(outs))
		}
		var data []byte
		for i, o := range outs {
			if len(o.Data) > limit {
				t.Fatalf("fragment of %d bytes, limit %d", len(o.Data), limit)
			}
			p := gopacket.NewPacket(o.Data, layers.LayerTypeIPv6, gopacket.Default)
			f, ok := p.Layer(layers.LayerTypeIPv6Fragment).(*layers.IPv6Fragment)
			if !ok {
				t.Fatalf("fragment %d without a fragment header", i)
			}
			if f.Identification != 0x1234 || f.MoreFragments != (i == 0) || int(f.FragmentOffset)*8 != len(data) || f.NextHeader != layers.IPProtocolUDP {
				t.Fatalf("fragment %d: %+v", i, f)
			}
			data = append(data, f.Payload...)
		}
		// Reassembled, the UDP datagram checks against the IPv6
		// pseudo-header.
		if !packet.ChecksumOK(packet.PseudoHeaderSum(host4v6.AsSlice(), host6.AsSlice(), packet.ProtoUDP, len(data)), data) {
			t.Fatal("reassembled UDP checksum wrong")
		}
		if !bytes.Equal(data[8:], bytes.Repeat([]byte{'u'}, payload)) {
			t.Fatal("reassembled payload differs")
		}
	}
}

// An IPv4 fragment becomes an IPv6 fragment, offset, MF and ID carried;
// the checksum of the first is adjusted, the others are left alone.
func TestIPv4Fragments(t *testing.T) {
	tr := newTest(t, testConfig())
	whole := udp4(t, v4(host4, host6v4, layers.IPProtocolUDP), 200)
	udp := whole[20:]
	mk := func(off int, data []byte, more bool) []byte {
		b := make([]byte, 20+len(data))
		fl := uint16(off / 8)
		if more {
			fl |= packet.IPv4FlagMF
		}
		packet.IPv4(b).Encode(&packet.IPv4Fields{TOS: 0, TotalLen: uint16(len(b)), ID: 0xbeef, Flags: fl, TTL: 9, Protocol: packet.ProtoUDP, Src: host4.As4(), Dst: host6v4.As4()})
		copy(b[20:], data)
		return b
	}
	var got []byte
	for i, f := range [][]byte{mk(0, udp[:104], true), mk(104, udp[104:], false)} {
		v, outs := run(t, tr, f)
		if v != packet.Consumed || len(outs) != 1 {
			t.Fatalf("fragment %d: %v %d", i, v, len(outs))
		}
		p := gopacket.NewPacket(outs[0].Data, layers.LayerTypeIPv6, gopacket.Default)
		fh := p.Layer(layers.LayerTypeIPv6Fragment).(*layers.IPv6Fragment)
		if fh.Identification != 0xbeef || fh.MoreFragments != (i == 0) || int(fh.FragmentOffset)*8 != len(got) {
			t.Fatalf("fragment %d: %+v", i, fh)
		}
		got = append(got, fh.Payload...)
	}
	if !packet.ChecksumOK(packet.PseudoHeaderSum(host4v6.AsSlice(), host6.AsSlice(), packet.ProtoUDP, len(got)), got) {
		t.Fatal("reassembled checksum wrong")
	}
	// A fragmented ICMP message is dropped: its checksum would need the
	// whole message.
	f := mk(0, make([]byte, 16), true)
	f[9] = packet.ProtoICMPv4
	packet.IPv4(f).SetChecksum(0)
	packet.IPv4(f).SetChecksum(^packet.Sum(f[:20]))
	if v, outs := run(t, tr, f); v != packet.Drop || len(outs) != 0 {
		t.Fatalf("fragmented ICMP: %v %d", v, len(outs))
	}
}

// RFC 7915 §5.1: DF set above 1260 bytes, clear below with an
// identification; the IPv6 fragment header gives ID, offset and MF.
func TestHeader6to4(t *testing.T) {
	tr := newTest(t, testConfig())
	p := one(t, tr, udp6(t, v6(host6, host4v6, layers.IPProtocolUDP), 100))
	ip4 := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	if ip4.Flags&layers.IPv4DontFragment != 0 || ip4.TOS != 0x28 || ip4.TTL != 63 || ip4.Length != 128 || ip4.IHL != 5 {
		t.Fatalf("small packet: %+v", ip4)
	}
	id1 := ip4.Id
	p = one(t, tr, udp6(t, v6(host6, host4v6, layers.IPProtocolUDP), 100))
	if p.Layer(layers.LayerTypeIPv4).(*layers.IPv4).Id == id1 {
		t.Fatal("two packets that may be fragmented with one identification")
	}
	p = one(t, tr, udp6(t, v6(host6, host4v6, layers.IPProtocolUDP), 1300))
	if ip4 := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4); ip4.Flags&layers.IPv4DontFragment == 0 {
		t.Fatal("no DF over 1260 bytes")
	}
}

// Extension headers: hop-by-hop and destination options are dropped;
// a routing header with segments left is answered with Parameter Problem
// pointing at that field (RFC 7915 §5.1).
func TestExtensionHeaders6(t *testing.T) {
	tr := newTest(t, testConfig())
	opts := func(next layers.IPProtocol) []byte {
		return []byte{byte(next), 0, 1, 4, 0, 0, 0, 0} // PadN
	}
	mk := func(exts [][]byte, first layers.IPProtocol) []byte {
		udp := udp6(t, v6(host6, host4v6, layers.IPProtocolUDP), 20)
		var ext []byte
		for _, e := range exts {
			ext = append(ext, e...)
		}
		b := append(append(append([]byte(nil), udp[:40]...), ext...), udp[40:]...)
		b[6] = byte(first)
		binary.BigEndian.PutUint16(b[4:], uint16(len(b)-40))
		return b
	}
	in := mk([][]byte{opts(layers.IPProtocolIPv6Destination), opts(layers.IPProtocolUDP)}, layers.IPProtocolIPv6HopByHop)
	p := one(t, tr, in)
	if ip4 := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4); ip4.Protocol != layers.IPProtocolUDP || ip4.Length != 20+28 {
		t.Fatalf("%+v", ip4)
	}
	rt := []byte{byte(layers.IPProtocolUDP), 2, 0, 1, 0, 0, 0, 0}
	rt = append(rt, make([]byte, 16)...) // one address, segments left 1
	in = mk([][]byte{opts(layers.IPProtocolIPv6Routing), rt}, layers.IPProtocolIPv6HopByHop)
	v, outs := run(t, tr, in)
	if v != packet.Drop {
		t.Fatalf("verdict %v", v)
	}
	ic := icmp6Error(t, outs, host6, layers.ICMPv6TypeParameterProblem, 0)
	if ptr := binary.BigEndian.Uint32(ic.Payload[:4]); ptr != 40+8+3 {
		t.Fatalf("pointer %d, want 51", ptr)
	}
	rt[3] = 0 // segments left 0: translated
	in = mk([][]byte{rt}, layers.IPProtocolIPv6Routing)
	one(t, tr, in)
}

func TestFragments6to4(t *testing.T) {
	tr := newTest(t, testConfig())
	whole := udp6(t, v6(host6, host4v6, layers.IPProtocolUDP), 200)
	udp := whole[40:]
	mk := func(off int, data []byte, more bool) []byte {
		b := append([]byte(nil), whole[:40]...)
		b[6] = packet.ProtoFragment
		fh := make([]byte, 8)
		fh[0] = packet.ProtoUDP
		v := uint16(off)
		if more {
			v |= 1
		}
		binary.BigEndian.PutUint16(fh[2:], v)
		binary.BigEndian.PutUint32(fh[4:], 0xabcd1234)
		b = append(append(b, fh...), data...)
		binary.BigEndian.PutUint16(b[4:], uint16(len(b)-40))
		return b
	}
	var got []byte
	for i, f := range [][]byte{mk(0, udp[:104], true), mk(104, udp[104:], false)} {
		p := one(t, tr, f)
		ip4 := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		if ip4.Id != 0x1234 || (ip4.Flags&layers.IPv4MoreFragments != 0) != (i == 0) || int(ip4.FragOffset)*8 != len(got) || ip4.Flags&layers.IPv4DontFragment != 0 {
			t.Fatalf("fragment %d: %+v", i, ip4)
		}
		got = append(got, ip4.Payload...)
	}
	if !packet.ChecksumOK(packet.PseudoHeaderSum(host6v4.AsSlice(), host4.AsSlice(), packet.ProtoUDP, len(got)), got) {
		t.Fatal("reassembled checksum wrong")
	}
	// An atomic fragment is a whole packet.
	p := one(t, tr, mk(0, udp, false))
	if ip4 := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4); ip4.Flags&layers.IPv4MoreFragments != 0 || ip4.FragOffset != 0 {
		t.Fatalf("atomic fragment: %+v", ip4)
	}
}

// RFC 7915 §5.1 with a small IPv4 link: over 1260 bytes, Packet Too Big
// (MTU + 20, at least 1280); at most 1260, IPv4 fragments.
func TestIPv4LinkMTU(t *testing.T) {
	c := testConfig()
	c.IPv4.MTU = 1000
	tr := newTest(t, c)
	v, outs := run(t, tr, udp6(t, v6(host6, host4v6, layers.IPProtocolUDP), 1300))
	if v != packet.Drop {
		t.Fatalf("verdict %v", v)
	}
	ic := icmp6Error(t, outs, host6, layers.ICMPv6TypePacketTooBig, 0)
	if mtu := binary.BigEndian.Uint32(ic.Payload[:4]); mtu != 1280 {
		t.Fatalf("MTU %d", mtu)
	}
	v, outs = run(t, tr, udp6(t, v6(host6, host4v6, layers.IPProtocolUDP), 1200))
	if v != packet.Consumed || len(outs) != 2 {
		t.Fatalf("verdict %v, %d packets", v, len(outs))
	}
	var data []byte
	for i, o := range outs {
		p := decodeNoChecksum(t, o)
		ip4 := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		if len(o.Data) > 1000 || int(ip4.FragOffset)*8 != len(data) || (ip4.Flags&layers.IPv4MoreFragments != 0) != (i == 0) || ip4.Id != packet.IPv4(outs[0].Data).ID() {
			t.Fatalf("fragment %d: %+v", i, ip4)
		}
		data = append(data, ip4.Payload...)
	}
	if !packet.ChecksumOK(packet.PseudoHeaderSum(host6v4.AsSlice(), host4.AsSlice(), packet.ProtoUDP, len(data)), data) {
		t.Fatal("reassembled checksum wrong")
	}
	c.IPv4.MTU = 1400
	tr = newTest(t, c)
	_, outs = run(t, tr, udp6(t, v6(host6, host4v6, layers.IPProtocolUDP), 1400))
	ic = icmp6Error(t, outs, host6, layers.ICMPv6TypePacketTooBig, 0)
	if mtu := binary.BigEndian.Uint32(ic.Payload[:4]); mtu != 1420 {
		t.Fatalf("MTU %d, want 1420", mtu)
	}
}

// decodeNoChecksum decodes an IP header whose transport is a fragment.
func decodeNoChecksum(t *testing.T, o packet.Out) gopacket.Packet {
	t.Helper()
	first := layers.LayerTypeIPv4
	if o.Family == packet.IPv6Family {
		first = layers.LayerTypeIPv6
	}
	p := gopacket.NewPacket(o.Data, first, gopacket.Default)
	if ip4, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4); ok {
		if err, r := ip4.VerifyChecksum(); err != nil || !r.Valid {
			t.Fatal("IPv4 header checksum wrong")
		}
	}
	return p
}

// RFC 7915 §4.5: a zero UDP checksum from IPv4 is dropped with an ICMP
// error, or computed when amend_udp_checksum_zero is set.
func TestUDPChecksumZero(t *testing.T) {
	in := udp4(t, v4(host4, host6v4, layers.IPProtocolUDP), 50)
	in[20+6], in[20+7] = 0, 0
	tr := newTest(t, testConfig())
	v, outs := run(t, tr, in)
	if v != packet.Drop {
		t.Fatalf("verdict %v", v)
	}
	icmp4Error(t, outs, host4, layers.ICMPv4TypeDestinationUnreachable, layers.ICMPv4CodeCommAdminProhibited)
	if s := tr.Stats(); s.Drops4["udp_checksum_zero"] != 1 {
		t.Fatalf("stats %+v", s)
	}
	c := testConfig()
	c.AmendUDPChecksumZero = true
	one(t, newTest(t, c), in)
}

func TestSourceRoute(t *testing.T) {
	tr := newTest(t, testConfig())
	h := v4(host4, host6v4, layers.IPProtocolUDP)
	h.Options = []layers.IPv4Option{{OptionType: 131, OptionLength: 7, OptionData: []byte{4, 10, 0, 0, 1}}}
	v, outs := run(t, tr, udp4(t, h, 10))
	if v != packet.Drop {
		t.Fatalf("verdict %v", v)
	}
	icmp4Error(t, outs, host4, layers.ICMPv4TypeDestinationUnreachable, layers.ICMPv4CodeSourceRoutingFailed)
	// Used up (pointer past the addresses): ignored like any option.
	h.Options[0].OptionData[0] = 8
	one(t, tr, udp4(t, h, 10))
}

// Unknown transports go through with the header translated.
func TestUnknownTransport(t *testing.T) {
	tr := newTest(t, testConfig())
	v, outs := run(t, tr, serialize(t, v4(host4, host6v4, 253), gopacket.Payload([]byte("opaque"))))
	if v != packet.Consumed || len(outs) != 1 {
		t.Fatal(v, len(outs))
	}
	p := decodeNoChecksum(t, outs[0])
	if ip6 := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6); ip6.NextHeader != 253 || !bytes.Equal(ip6.Payload, []byte("opaque")) {
		t.Fatalf("%+v", ip6)
	}
	_, outs = run(t, tr, serialize(t, v6(host6, host4v6, 253), gopacket.Payload([]byte("opaque"))))
	p = decodeNoChecksum(t, outs[0])
	if ip4 := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4); ip4.Protocol != 253 {
		t.Fatalf("%+v", ip4)
	}
}

func TestBadIPv4Checksum(t *testing.T) {
	tr := newTest(t, testConfig())
	in := udp4(t, v4(host4, host6v4, layers.IPProtocolUDP), 10)
	in[10] ^= 0xff
	if v, outs := run(t, tr, in); v != packet.Drop || len(outs) != 0 {
		t.Fatalf("%v %d", v, len(outs))
	}
}

// RFC 7757 §4.3 (appendix B): an IPv6 host reaching another IPv6 host's
// EAM IPv4 address through pool6 is hairpinned: the packet comes back as
// IPv6 to the EAM address, from the sender's pool6 form.
func TestHairpin(t *testing.T) {
	tr := newTest(t, testConfig())
	other := netip.MustParseAddr("2001:db8:3::9") // 192.0.2.9
	via := netip.AddrFrom16(tr.Mapper().embed([4]byte{192, 0, 2, 9}))
	p := one(t, tr, udp6(t, v6(host6, via, layers.IPProtocolUDP), 30))
	ip6 := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
	src := netip.AddrFrom16(tr.Mapper().embed(host6v4.As4()))
	if !ip6.DstIP.Equal(ip(other)) || !ip6.SrcIP.Equal(ip(src)) || ip6.HopLimit != 62 {
		t.Fatalf("hairpinned %v -> %v hop %d; want %v -> %v", ip6.SrcIP, ip6.DstIP, ip6.HopLimit, src, other)
	}
	// And the reply, from the EAM address to the pool6 form, comes back
	// the same way.
	p = one(t, tr, udp6(t, v6(other, src, layers.IPProtocolUDP), 30))
	ip6 = p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
	if !ip6.DstIP.Equal(ip(host6)) || !ip6.SrcIP.Equal(ip(via)) {
		t.Fatalf("reply %v -> %v", ip6.SrcIP, ip6.DstIP)
	}
	if s := tr.Stats(); s.Hairpinned != 2 {
		t.Fatalf("stats %+v", s)
	}
}

// The errors the translator originates are rate-limited like Linux's:
// per destination a burst of 6 then one a second, Fragmentation Needed
// exempt; overall a burst then the rate.
func TestICMPRateLimit(t *testing.T) {
	now := time.Unix(1000, 0)
	c := testConfig()
	c.Clock = func() time.Time { return now }
	c.ICMPErrorRate, c.ICMPErrorBurst = 10, 8
	tr := newTest(t, c)
	expiring := func(src netip.Addr) []byte {
		h := v4(src, host6v4, layers.IPProtocolUDP)
		h.TTL = 1
		return udp4(t, h, 10)
	}
	sent := func(in []byte) int {
		_, outs := run(t, tr, in)
		return len(outs)
	}
	a, b := expiring(host4), expiring(netip.MustParseAddr("203.0.113.77"))
	n := 0
	for range 10 {
		n += sent(a)
	}
	if n != 6 {
		t.Fatalf("%d errors to one destination in a burst, want 6", n)
	}
	// Another destination has its own limit, but the overall burst of 8
	// is nearly spent.
	n = 0
	for range 10 {
		n += sent(b)
	}
	if n != 2 {
		t.Fatalf("%d errors to a second destination, want the 2 left of the overall burst", n)
	}
	// Fragmentation Needed is exempt from the per-destination limit only.
	now = now.Add(time.Second) // 10 overall tokens back (capped at 8), 1 per destination
	big := udp4(t, v4(host4, host6v4, layers.IPProtocolUDP), 1480)
	n = 0
	for range 5 {
		n += sent(big)
	}
	if n != 5 {
		t.Fatalf("%d Fragmentation Needed of 5", n)
	}
	if sent(a) != 1 || sent(a) != 0 {
		t.Fatal("one error a second per destination")
	}
	if s := tr.Stats(); s.ICMPErrors4 != 14 || s.ICMPRateLimited != 13 {
		t.Fatalf("stats %+v", s)
	}
}

func TestSetConfigKeepsCounters(t *testing.T) {
	tr := newTest(t, testConfig())
	one(t, tr, tcp6(t, 10))
	c := testConfig()
	c.Pool6 = netip.MustParsePrefix("64:ff9b::/96")
	if err := tr.SetConfig(c); err != nil {
		t.Fatal(err)
	}
	if v, _ := run(t, tr, tcp6(t, 10)); v != packet.Pass {
		t.Fatalf("old pool6 still translated: %v", v)
	}
	if s := tr.Stats(); s.Translated6to4 != 1 {
		t.Fatalf("stats %+v", s)
	}
	if err := tr.SetConfig(Config{}); err == nil {
		t.Fatal("an empty configuration accepted")
	}
}

// RFC 7915 §4.4 and §5.4: a packet dropped because its source has no
// mapping is answered with Destination Unreachable, administratively
// prohibited.
func TestUntranslatableSource(t *testing.T) {
	tr := newTest(t, testConfig())
	stranger := netip.MustParseAddr("2001:db9::1")
	v, outs := run(t, tr, udp6(t, v6(stranger, host4v6, layers.IPProtocolUDP), 10))
	if v != packet.Drop {
		t.Fatalf("verdict %v", v)
	}
	icmp6Error(t, outs, stranger, layers.ICMPv6TypeDestinationUnreachable, layers.ICMPv6CodeAdminProhibited)

	c := testConfig()
	c.Pool6 = netip.Prefix{} // EAM only: an IPv4 source outside it has no IPv6 form
	tr = newTest(t, c)
	v, outs = run(t, tr, udp4(t, v4(host4, host6v4, layers.IPProtocolUDP), 10))
	if v != packet.Drop {
		t.Fatalf("verdict %v", v)
	}
	icmp4Error(t, outs, host4, layers.ICMPv4TypeDestinationUnreachable, layers.ICMPv4CodeCommAdminProhibited)
	if s := tr.Stats(); s.Drops4["untranslatable_source"] != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// DCCP's checksum covers the pseudo-header like UDP's and is adjusted;
// SCTP's does not, and its bytes go through unchanged.
func TestOtherTransportChecksums(t *testing.T) {
	tr := newTest(t, testConfig())
	dccp := make([]byte, 16)
	dccp[4] = 4 // data offset: 4 words
	h6 := v6(host6, host4v6, 33)
	in := serialize(t, h6, gopacket.Payload(dccp))
	ip6 := packet.IPv6(in)
	binary.BigEndian.PutUint16(in[40+6:], packet.Checksum(ip6.PseudoHeaderSum(33, 16), in[40:]))
	_, outs := run(t, tr, in)
	if len(outs) != 1 {
		t.Fatal("not translated")
	}
	ip4 := packet.IPv4(outs[0].Data)
	if !packet.ChecksumOK(ip4.PseudoHeaderSum(33, 16), ip4.Payload()) {
		t.Fatal("DCCP checksum not adjusted")
	}
	sctp := serialize(t, v6(host6, host4v6, layers.IPProtocolSCTP), gopacket.Payload(dccp))
	_, outs = run(t, tr, sctp)
	if len(outs) != 1 || !bytes.Equal(packet.IPv4(outs[0].Data).Payload(), sctp[40:]) {
		t.Fatal("SCTP changed")
	}
}
