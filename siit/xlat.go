package siit

import (
	"encoding/binary"

	"github.com/sixgate/sixgate/packet"
)

// Path is the header translation of RFC 7915 with the addresses given by
// the caller: the stateless translator maps them with a Mapper, a
// stateful NAT64 with its binding table (rewriting ports afterwards with
// packet.Edit on the output). It knows the link MTUs on both sides and
// decides fragmentation; it originates nothing itself, but returns the
// Result that tells its caller which ICMP error, if any, to send.
type Path struct {
	MTU4, MTU6           int
	LowestIPv6MTU        int
	AmendUDPChecksumZero bool
	// ZeroizeTrafficClass sets the traffic class of packets translated
	// to IPv6 to zero instead of copying the IPv4 TOS (RFC 7915 §4.1).
	ZeroizeTrafficClass bool
	// NextID returns the identification of an IPv4 packet made from an
	// unfragmented IPv6 packet that may be fragmented on its way (RFC
	// 7915 §5.1); nil means 0.
	NextID func() uint16
}

// Result is what a translation did.
type Result uint8

const (
	// Translated: the packet (or its fragments) is in the batch.
	Translated Result = iota
	// Malformed: headers that do not hold together.
	Malformed
	// TTLExpired: TTL or hop limit would reach zero; send Time Exceeded.
	TTLExpired
	// TooBig: too large for the outgoing link and not to be fragmented;
	// send Fragmentation Needed or Packet Too Big with the MTU returned.
	TooBig
	// SourceRoute: an IPv4 packet with an unexpired source route option;
	// send Destination Unreachable, source route failed (RFC 7915 §4.1).
	SourceRoute
	// RoutingHeader: an IPv6 routing header with segments left; send
	// Parameter Problem pointing at the value returned (RFC 7915 §5.1).
	RoutingHeader
	// UDPChecksumZero: an IPv4 UDP datagram without a checksum that is
	// not to be (or cannot be) amended (RFC 7915 §4.5).
	UDPChecksumZero
	// ICMPNotTranslated: an ICMP message with no counterpart (RFC 7915
	// §4.2, §5.2), or one whose quoted packet cannot be translated.
	ICMPNotTranslated
	// FragmentedICMP: an ICMP message in fragments, whose checksum
	// cannot be translated without reassembly.
	FragmentedICMP
	// BadChecksum: an ICMP message whose checksum is wrong.
	BadChecksum
	numResults
)

var resultNames = [numResults]string{
	"translated", "malformed", "ttl_expired", "too_big", "source_route",
	"routing_header", "udp_checksum_zero", "icmp_not_translated", "fragmented_icmp", "bad_checksum",
}

func (r Result) String() string {
	if r < numResults {
		return resultNames[r]
	}
	return "unknown"
}

// addrSum4 and addrSum6 are the sums of a pseudo-header's addresses.
func addrSum4(src, dst *[4]byte) uint16 { return packet.Add(packet.Sum(src[:]), packet.Sum(dst[:])) }
func addrSum6(src, dst *[16]byte) uint16 {
	return packet.Add(packet.Sum(src[:]), packet.Sum(dst[:]))
}

// Transports whose checksums cover a pseudo-header too (RFC 4340 §9.1,
// RFC 3828 §3.2), adjusted like UDP's; the others (SCTP's CRC32c, GRE,
// ESP) go through untouched.
const (
	protoDCCP    = 33
	protoUDPLite = 136
	// dccpChecksum and udpLiteChecksum are the offsets of their checksums.
	dccpChecksum    = 6
	udpLiteChecksum = 6
)

// adjustChecksum applies adj to the TCP, UDP, DCCP or UDP-Lite checksum
// of a transport payload that starts at byte fragOff of its datagram, if
// the checksum field lies in it. It reports false for a UDP checksum of
// zero.
func adjustChecksum(proto uint8, data []byte, fragOff int, adj uint16) bool {
	var at int
	switch proto {
	case packet.ProtoTCP:
		at = packet.TCPChecksum
	case packet.ProtoUDP:
		at = packet.UDPChecksum
	case protoDCCP:
		at = dccpChecksum
	case protoUDPLite:
		at = udpLiteChecksum
	default:
		return true
	}
	at -= fragOff
	if at < 0 || at+2 > len(data) {
		return true
	}
	old := binary.BigEndian.Uint16(data[at:])
	if proto == packet.ProtoUDP && old == 0 {
		return false
	}
	var ed packet.Edit
	c := ed.Apply(old, adj)
	if proto == packet.ProtoUDP && c == 0 {
		c = 0xffff // zero means no checksum (RFC 768)
	}
	binary.BigEndian.PutUint16(data[at:], c)
	return true
}

// To6 translates the IPv4 packet ip (valid, header checksum checked) to
// IPv6 from src6 to dst6 and appends it, or its fragments, to out (RFC
// 7915 §4). m maps the packet quoted in an ICMP error. For TooBig the
// int is the MTU to report in Fragmentation Needed.
func (p *Path) To6(out *packet.Batch, ip packet.IPv4, src6, dst6 *[16]byte, m packet.ICMPMapper) (Result, int) {
	if ip.TTL() <= 1 {
		return TTLExpired, 0
	}
	if sourceRouted(ip.Options()) {
		return SourceRoute, 0
	}
	proto := ip.Protocol()
	if proto == packet.ProtoICMPv6 {
		return ICMPNotTranslated, 0 // ICMPv6 has no meaning over IPv4
	}
	data := ip.Payload()
	fragOff, isFrag, df := ip.FragmentOffset(), ip.IsFragment(), ip.DontFragment()
	if isFrag && fragOff == 0 && len(data) < 8 {
		return Malformed, 0
	}
	hdr := packet.IPv6HeaderLen
	if isFrag {
		hdr += packet.IPv6FragmentLen
	}
	// The translated transport's length: ICMP errors are rebuilt (and
	// stay under 1280 bytes), everything else keeps its length.
	l6 := len(data)
	size := hdr + l6
	if proto == packet.ProtoICMPv4 && len(data) > 0 && packet.IsICMPv4Error(data[0]) {
		// An error is rebuilt within the IPv6 minimum MTU, whatever
		// its size in IPv4.
		size = min(size, packet.IPv6MinMTU)
	}
	if df && size > p.MTU6 {
		return TooBig, p.MTU6 - (hdr - packet.IPv4MinLen)
	}
	limit := p.MTU6
	if !df {
		limit = min(p.MTU6, p.LowestIPv6MTU)
		if !isFrag && size > limit {
			hdr += packet.IPv6FragmentLen
			isFrag = true
		}
	}
	next6 := proto
	if proto == packet.ProtoICMPv4 {
		next6 = packet.ProtoICMPv6
		if ip.IsFragment() {
			return FragmentedICMP, 0
		}
		// An error is rebuilt, so its checksum is checked first; an
		// echo's is updated incrementally.
		if len(data) > 0 && packet.IsICMPv4Error(data[0]) && !packet.ChecksumOK(0, data) {
			return BadChecksum, 0
		}
	}
	// The slack covers an ICMPv4 error growing into an ICMPv6 one: 20
	// bytes of quoted header, an RFC 4884 length rounded to 8 bytes.
	const slack = packet.IPv6HeaderLen - packet.IPv4MinLen + 8
	b := out.Next(hdr+l6+slack, packet.IPv6Family, addrOf16(dst6))
	t := b[hdr : hdr+l6]
	if proto == packet.ProtoICMPv4 {
		n := packet.ICMPv4to6(b[hdr:], packet.ICMP(data), src6, dst6, p.MTU6, p.MTU4, m)
		if n == 0 {
			out.Unnext()
			return ICMPNotTranslated, 0
		}
		l6 = n
	} else {
		copy(t, data)
		adj := packet.Adjustment(addrSum4((*[4]byte)(ip[packet.IPv4Src:]), (*[4]byte)(ip[packet.IPv4Dst:])), addrSum6(src6, dst6))
		if !adjustChecksum(proto, t, fragOff, adj) {
			if ip.IsFragment() || !p.AmendUDPChecksumZero {
				out.Unnext()
				return UDPChecksumZero, 0
			}
			u := packet.UDP(t)
			u.SetChecksum(0)
			c := packet.Checksum(packet.PseudoHeaderSum(src6[:], dst6[:], packet.ProtoUDP, len(t)), t)
			if c == 0 {
				c = 0xffff
			}
			u.SetChecksum(c)
		}
	}
	b = b[:hdr+l6]
	out.Trim(hdr + l6)
	tc := ip.TOS()
	if p.ZeroizeTrafficClass {
		tc = 0
	}
	nh := next6
	if isFrag {
		nh = packet.ProtoFragment
	}
	packet.IPv6(b).Encode(&packet.IPv6Fields{
		TrafficClass: tc, PayloadLen: uint16(len(b) - packet.IPv6HeaderLen),
		NextHeader: nh, HopLimit: ip.TTL() - 1, Src: *src6, Dst: *dst6,
	})
	if !isFrag {
		return Translated, 0
	}
	f := b[packet.IPv6HeaderLen:hdr]
	f[0], f[1] = next6, 0
	binary.BigEndian.PutUint32(f[4:], uint32(ip.ID()))
	fragment6(out, b, fragOff, ip.MoreFragments(), limit)
	return Translated, 0
}

// fragment6 cuts the IPv6 packet b (a 40-byte header, a Fragment header
// whose offset and M flag it sets, then data starting at byte off of the
// original datagram) into fragments of at most limit bytes. b is the last
// packet in out; the first fragment stays there, the others follow.
func fragment6(out *packet.Batch, b []byte, off int, more bool, limit int) {
	const hdr = packet.IPv6HeaderLen + packet.IPv6FragmentLen
	data := b[hdr:]
	max := (limit - hdr) &^ 7
	if len(data) <= max {
		setFrag6(b, off, more)
		return
	}
	var dst [16]byte
	copy(dst[:], b[packet.IPv6Dst:])
	for pos := max; pos < len(data); pos += max {
		n := min(max, len(data)-pos)
		f := out.Next(hdr+n, packet.IPv6Family, addrOf16(&dst))
		copy(f, b[:hdr])
		copy(f[hdr:], data[pos:pos+n])
		packet.IPv6(f).SetPayloadLength(packet.IPv6FragmentLen + n)
		setFrag6(f, off+pos, more || pos+n < len(data))
	}
	// The first fragment is the packet out held before the others were
	// appended: shorten it in place.
	first := &out.Packets[out.Len()-1-(len(data)-1)/max]
	first.Data = first.Data[:hdr+max]
	packet.IPv6(first.Data).SetPayloadLength(packet.IPv6FragmentLen + max)
	setFrag6(first.Data, off, true)
}

func setFrag6(b []byte, off int, more bool) {
	v := uint16(off) &^ 7
	if more {
		v |= 1
	}
	binary.BigEndian.PutUint16(b[packet.IPv6HeaderLen+2:], v)
}

// sourceRouted reports whether IPv4 options hold a loose or strict source
// route that is not used up.
func sourceRouted(opts []byte) bool {
	for i := 0; i < len(opts); {
		switch opts[i] {
		case 0: // end of options
			return false
		case 1: // no operation
			i++
			continue
		}
		if i+1 >= len(opts) {
			return false
		}
		l := int(opts[i+1])
		if l < 2 || i+l > len(opts) {
			return false
		}
		if (opts[i] == 131 || opts[i] == 137) && l >= 3 && int(opts[i+2]) <= l {
			return true
		}
		i += l
	}
	return false
}

// To4 translates the IPv6 packet ip (valid, its extension headers walked
// into u) to IPv4 from src4 to dst4 and appends it, or its fragments, to
// out (RFC 7915 §5). For TooBig the int is the MTU to report in Packet
// Too Big; for RoutingHeader, the Parameter Problem pointer.
func (p *Path) To4(out *packet.Batch, ip packet.IPv6, u packet.Upper, src4, dst4 *[4]byte, m packet.ICMPMapper) (Result, int) {
	if ip.HopLimit() <= 1 {
		return TTLExpired, 0
	}
	if u.Routing != 0 && ip[u.Routing+3] != 0 {
		return RoutingHeader, u.Routing + 3
	}
	end := packet.IPv6HeaderLen + int(ip.PayloadLength())
	data := ip[u.Offset:end]
	proto := u.Proto
	if proto == packet.ProtoICMPv4 {
		return ICMPNotTranslated, 0 // nor ICMPv4 over IPv6
	}
	fragOff, more, isFrag := 0, false, false
	var id uint16
	if u.Fragment != 0 {
		f := packet.IPv6Fragment(ip[u.Fragment:])
		fragOff, more = f.Offset(), f.More()
		// An atomic fragment (offset 0, no more) is a whole packet.
		isFrag = fragOff != 0 || more
		id = uint16(f.ID())
	}
	if isFrag && fragOff == 0 && len(data) < 8 {
		return Malformed, 0
	}
	total := packet.IPv4MinLen + len(data)
	if proto == packet.ProtoICMPv6 && len(data) > 0 && packet.IsICMPv6Error(data[0]) {
		// An error is rebuilt within 576 bytes, whatever its size in
		// IPv6.
		total = min(total, packet.ICMPv4ErrorMax+packet.IPv4MinLen)
	}
	var flags uint16
	if isFrag {
		flags = uint16(fragOff/8) & packet.IPv4FragOffMask
		if more {
			flags |= packet.IPv4FlagMF
		}
	} else if total > 1260 {
		flags = packet.IPv4FlagDF
	} else if p.NextID != nil {
		id = p.NextID()
	}
	if total > p.MTU4 && flags&packet.IPv4FlagDF != 0 {
		return TooBig, max(p.MTU4+packet.IPv6HeaderLen-packet.IPv4MinLen, packet.IPv6MinMTU)
	}
	proto4 := proto
	var src6, dst6 [16]byte
	copy(src6[:], ip[packet.IPv6Src:])
	copy(dst6[:], ip[packet.IPv6Dst:])
	if proto == packet.ProtoICMPv6 {
		proto4 = packet.ProtoICMPv4
		if isFrag {
			return FragmentedICMP, 0
		}
		if len(data) > 0 && packet.IsICMPv6Error(data[0]) && !packet.ChecksumOK(packet.PseudoHeaderSum(src6[:], dst6[:], packet.ProtoICMPv6, len(data)), data) {
			return BadChecksum, 0
		}
	}
	b := out.Next(total+8, packet.IPv4Family, addrOf4(dst4))
	if proto == packet.ProtoICMPv6 {
		l4 := packet.ICMPv6EchoTo4(b[packet.IPv4MinLen:], packet.ICMP(data), &src6, &dst6)
		if l4 == 0 {
			l4 = packet.ICMPv6to4(b[packet.IPv4MinLen:], packet.ICMP(data), p.MTU4, p.MTU6, false, m)
		}
		if l4 == 0 {
			out.Unnext()
			return ICMPNotTranslated, 0
		}
		total = packet.IPv4MinLen + l4
		if total > 1260 {
			flags |= packet.IPv4FlagDF
		}
	} else {
		t := b[packet.IPv4MinLen:total]
		copy(t, data)
		adj := packet.Adjustment(addrSum6(&src6, &dst6), addrSum4(src4, dst4))
		if !adjustChecksum(proto, t, fragOff, adj) {
			// A zero UDP checksum is not allowed over IPv6 (RFC 8200
			// §8.1); nothing was checked, so nothing is vouched for.
			out.Unnext()
			return UDPChecksumZero, 0
		}
	}
	b = b[:total]
	out.Trim(total)
	packet.IPv4(b).Encode(&packet.IPv4Fields{
		TOS: ip.TrafficClass(), TotalLen: uint16(total), ID: id, Flags: flags,
		TTL: ip.HopLimit() - 1, Protocol: proto4, Src: *src4, Dst: *dst4,
	})
	if total > p.MTU4 {
		fragment4(out, b, p.MTU4)
	}
	return Translated, 0
}

// fragment4 cuts the IPv4 packet b (a 20-byte header, DF clear), the last
// in out, into fragments that fit mtu.
func fragment4(out *packet.Batch, b []byte, mtu int) {
	const hdr = packet.IPv4MinLen
	ip := packet.IPv4(b)
	data := b[hdr:]
	max := (mtu - hdr) &^ 7
	base, more := ip.FragmentOffset(), ip.MoreFragments()
	f := packet.IPv4Fields{TOS: ip.TOS(), ID: ip.ID(), TTL: ip.TTL(), Protocol: ip.Protocol(), Src: ip.Src(), Dst: ip.Dst()}
	dst := ip.DstAddr()
	for pos := max; pos < len(data); pos += max {
		n := min(max, len(data)-pos)
		o := out.Next(hdr+n, packet.IPv4Family, dst)
		copy(o[hdr:], data[pos:pos+n])
		f.TotalLen = uint16(hdr + n)
		f.Flags = uint16((base+pos)/8) & packet.IPv4FragOffMask
		if more || pos+n < len(data) {
			f.Flags |= packet.IPv4FlagMF
		}
		packet.IPv4(o).Encode(&f)
	}
	first := &out.Packets[out.Len()-1-(len(data)-1)/max]
	first.Data = first.Data[:hdr+max]
	f.TotalLen = uint16(hdr + max)
	f.Flags = uint16(base/8)&packet.IPv4FragOffMask | packet.IPv4FlagMF
	packet.IPv4(first.Data).Encode(&f)
}
