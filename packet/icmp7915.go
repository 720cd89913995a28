package packet

import "encoding/binary"

// ICMP translation between IPv4 and IPv6 (RFC 7915 §4.2, §4.3, §5.2,
// §5.3), shared by every engine that translates between the families.
//
// The functions translate one ICMP message, from its type byte to its end,
// into a caller's buffer; the outer IP header is the caller's, as only the
// caller knows which addresses it carries. An error message's quoted
// packet is translated too: its IP header is rebuilt in the other family
// with the addresses an ICMPMapper gives, which may also rewrite the
// quoted transport header (ports, sequence numbers). The quoted transport
// checksum is left as it is: the quote is usually cut short, and a host
// matches an error to its socket by addresses and ports, not by that
// checksum. A quoted ICMP echo gets its type translated and its checksum
// adjusted. The outer ICMP checksum is computed: over the message for
// ICMPv4, over the IPv6 pseudo-header and the message for ICMPv6.
//
// A quoted IPv6 packet's extension headers are dropped, its Fragment
// header becoming the quoted IPv4 header's identification, offset and MF;
// a quoted IPv4 fragment gets a Fragment header. The RFC 4884 length of a
// Destination Unreachable or Time Exceeded with extensions (ICMPv4 in
// 32-bit words, ICMPv6 in 64-bit words) is recomputed for the translated
// quote, which is padded to that unit and to 128 bytes, and the extension
// structure follows it unchanged; where the other family's message has no
// length field (Parameter Problem, Packet Too Big) the extensions are left
// out.
//
// What is not translated (the message is dropped): informational types
// other than echo, the ICMPv4 types RFC 7915 §4.2 drops (source quench,
// redirect, timestamp, information, address mask, router messages), codes
// without a counterpart, and a quoted packet that is itself an ICMP error.
// Nothing here allocates.

// ICMPMapper maps the quoted packet of a translated ICMP error.
type ICMPMapper interface {
	// Quoted4to6 returns the IPv6 source and destination of a quoted
	// IPv4 packet from src to dst carrying proto; transport is what is
	// quoted of its transport header and data, already copied into the
	// output, which the mapper may rewrite in place. ok false drops the
	// message.
	Quoted4to6(src, dst [4]byte, proto uint8, transport []byte) (src6, dst6 [16]byte, ok bool)
	// Quoted6to4 is the same for a quoted IPv6 packet.
	Quoted6to4(src, dst [16]byte, proto uint8, transport []byte) (src4, dst4 [4]byte, ok bool)
}

// Size limits of translated errors: an ICMPv6 error stays within the IPv6
// minimum MTU (RFC 4443 §2.4 (c)), an ICMPv4 error within 576 bytes
// (RFC 1812 §4.3.2.3), IP header included.
const (
	ICMPv6ErrorMax = IPv6MinMTU - IPv6HeaderLen
	ICMPv4ErrorMax = 576 - IPv4MinLen
)

// ICMPv6 codes used in translation (RFC 4443).
const (
	ICMPv6CodeNoRoute          = 0
	ICMPv6CodeAdminProhibited  = 1
	ICMPv6CodeBeyondScope      = 2
	ICMPv6CodeAddrUnreachable  = 3
	ICMPv6CodePortUnreachable  = 4
	ICMPv6CodeErroneousHeader  = 0
	ICMPv6CodeUnrecognizedNext = 1
)

// ICMPv4 codes used in translation (RFC 792, RFC 1122, RFC 1812).
const (
	ICMPv4CodeHostAdminProhibited = 10
	ICMPv4CodePrecedenceCutoff    = 15
	ICMPv4CodePointer             = 0 // parameter problem: pointer indicates the error
	ICMPv4CodeBadLength           = 2 // parameter problem: bad length
)

// ICMPv4to6 translates the ICMPv4 message msg (the checksum of an error
// already verified; an echo's is updated incrementally, so a wrong one
// stays wrong)
// into an ICMPv6 message in dst, to travel from src6 to dst6, and returns
// its length, or 0 when the message is not translated or dst is too
// small. mtu6 is the MTU of the IPv6 next hop and mtu4 that of the IPv4
// link the message came in on (0 for unknown); a Packet Too Big reports
// min(MTU + 20, mtu6, mtu4 + 20), at least 1280. An error is cut to
// ICMPv6ErrorMax bytes.
func ICMPv4to6(dst []byte, msg ICMP, src6, dst6 *[16]byte, mtu6, mtu4 int, m ICMPMapper) int {
	if !msg.IsValid() {
		return 0
	}
	typ, code := msg.Type(), msg.Code()
	var rest uint32
	switch typ {
	case ICMPv4EchoRequest, ICMPv4EchoReply:
		if len(dst) < len(msg) {
			return 0
		}
		copy(dst, msg)
		nt := uint8(ICMPv6EchoRequest)
		if typ == ICMPv4EchoReply {
			nt = ICMPv6EchoReply
		}
		// Incrementally (RFC 1624): the type and code word changes and
		// the pseudo-header ICMPv6 sums is added; the data is not read.
		var ed Edit
		ed.Put16(dst, ICMPType, uint16(nt)<<8)
		ed.Replaced(0, PseudoHeaderSum(src6[:], dst6[:], ProtoICMPv6, len(msg)))
		ICMP(dst).SetChecksum(ed.Apply(msg.Checksum(), 0))
		return len(msg)
	case ICMPv4DestUnreachable:
		switch code {
		case ICMPv4CodeNetUnreachable, ICMPv4CodeHostUnreachable, 5, 6, 7, 8, 11, 12:
			typ, code = ICMPv6DestUnreachable, ICMPv6CodeNoRoute
		case ICMPv4CodeProtoUnreachable:
			typ, code, rest = ICMPv6ParamProblem, ICMPv6CodeUnrecognizedNext, IPv6NextHeader
		case ICMPv4CodePortUnreachable:
			typ, code = ICMPv6DestUnreachable, ICMPv6CodePortUnreachable
		case ICMPv4CodeFragNeeded:
			typ, code = ICMPv6PacketTooBig, 0
			rest = uint32(packetTooBigMTU(msg, mtu6, mtu4))
		case 9, ICMPv4CodeHostAdminProhibited, ICMPv4CodeAdminProhibited, ICMPv4CodePrecedenceCutoff:
			typ, code = ICMPv6DestUnreachable, ICMPv6CodeAdminProhibited
		default: // 14, host precedence violation, and unassigned codes
			return 0
		}
	case ICMPv4TimeExceeded:
		typ = ICMPv6TimeExceeded
	case ICMPv4ParamProblem:
		if code != ICMPv4CodePointer && code != ICMPv4CodeBadLength {
			return 0
		}
		p, ok := pointer4to6(msg[ICMPRest])
		if !ok {
			return 0
		}
		typ, code, rest = ICMPv6ParamProblem, ICMPv6CodeErroneousHeader, uint32(p)
	default:
		return 0
	}
	if len(dst) < ICMPHeaderLen+IPv6HeaderLen {
		return 0
	}
	dst = dst[:min(len(dst), ICMPv6ErrorMax)]
	body, ext := msg.Body(), []byte(nil)
	if typ == ICMPv6DestUnreachable || typ == ICMPv6TimeExceeded {
		body, ext = splitExtensions(body, int(msg[5])*4)
	}
	room := (len(dst) - ICMPHeaderLen - len(ext)) &^ 7
	if len(ext) > 0 && room < rfc4884MinQuote {
		ext, room = nil, len(dst)-ICMPHeaderLen
	}
	n := quote4to6(dst[ICMPHeaderLen:ICMPHeaderLen+room], body, m)
	if n == 0 {
		return 0
	}
	dst[ICMPType], dst[ICMPCode] = typ, code
	binary.BigEndian.PutUint32(dst[ICMPRest:], rest)
	if len(ext) > 0 {
		dst[4] = uint8(max((n+7)/8*8, rfc4884MinQuote) / 8)
		n = appendExtensions(dst[ICMPHeaderLen:], n, 8, ext)
	}
	return finish6(dst[:ICMPHeaderLen+n], src6, dst6)
}

// rfc4884MinQuote is the least an ICMP message with extensions quotes
// (RFC 4884 §4.1, §4.2).
const rfc4884MinQuote = 128

// splitExtensions cuts an error's body at the RFC 4884 length (in bytes,
// 0 when the message gives none) into the quoted packet and the
// extension structure; a length that does not leave room for an
// extension header means there is none.
func splitExtensions(body []byte, length int) (quote, ext []byte) {
	if length == 0 || length < rfc4884MinQuote || length+4 > len(body) {
		return body, nil
	}
	return body[:length], body[length:]
}

// appendExtensions pads the n-byte translated quote in b with zeros to a
// multiple of unit and at least 128 bytes, copies ext after it, and
// returns the quote's padded length plus the extensions'. The caller has
// kept room for ext after the largest quote.
func appendExtensions(b []byte, n, unit int, ext []byte) int {
	padded := max((n+unit-1)/unit*unit, rfc4884MinQuote)
	clear(b[n:padded])
	copy(b[padded:], ext)
	// The length field counts the padded quote only.
	return padded + len(ext)
}

func finish6(msg []byte, src6, dst6 *[16]byte) int {
	ICMP(msg).SetChecksum(0)
	ICMP(msg).SetChecksum(Checksum(PseudoHeaderSum(src6[:], dst6[:], ProtoICMPv6, len(msg)), msg))
	return len(msg)
}

func finish4(msg []byte) int {
	ICMP(msg).SetChecksum(0)
	ICMP(msg).SetChecksum(Checksum(0, msg))
	return len(msg)
}

// plateaus are RFC 1191's MTU plateaus, for a Fragmentation Needed from a
// router that reports no MTU.
var plateaus = [...]int{65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68}

// packetTooBigMTU is the MTU of the Packet Too Big that translates a
// Fragmentation Needed (RFC 7915 §4.2): the reported MTU plus the 20 bytes
// the IPv6 header adds, no more than the next hops allow, never below the
// IPv6 minimum MTU. A router that reports 0 (pre-RFC 1191) gets the
// largest plateau below the quoted packet's total length.
func packetTooBigMTU(msg ICMP, mtu6, mtu4 int) int {
	mtu := int(binary.BigEndian.Uint16(msg[ICMPSeq:]))
	if mtu == 0 {
		total := 0
		if q := msg.Body(); len(q) >= IPv4MinLen {
			total = int(IPv4(q).TotalLength())
		}
		mtu = IPv4MinMTU
		for _, p := range plateaus {
			if p < total {
				mtu = p
				break
			}
		}
	}
	mtu += 20
	if mtu6 > 0 {
		mtu = min(mtu, mtu6)
	}
	if mtu4 > 0 {
		mtu = min(mtu, mtu4+20)
	}
	return max(mtu, IPv6MinMTU)
}

// pointer4to6 maps the pointer of an ICMPv4 Parameter Problem onto the
// IPv6 header (RFC 7915 §4.2, Figure 3).
func pointer4to6(p uint8) (uint8, bool) {
	switch {
	case p == 0, p == 1:
		return p, true // version/IHL -> version/traffic class; TOS -> traffic class/flow label
	case p == 2, p == 3:
		return IPv6PayloadLength, true
	case p == IPv4TTL:
		return IPv6HopLimit, true
	case p == IPv4Protocol:
		return IPv6NextHeader, true
	case p >= IPv4Src && p < IPv4Src+4:
		return IPv6Src, true
	case p >= IPv4Dst && p < IPv4Dst+4:
		return IPv6Dst, true
	}
	return 0, false // identification, flags, fragment offset, checksum, options
}

// pointer6to4 maps the pointer of an ICMPv6 Parameter Problem onto the
// IPv4 header (RFC 7915 §5.2, Figure 6).
func pointer6to4(p uint32) (uint8, bool) {
	switch {
	case p == 0, p == 1:
		return uint8(p), true
	case p == IPv6PayloadLength, p == IPv6PayloadLength+1:
		return IPv4TotalLength, true
	case p == IPv6NextHeader:
		return IPv4Protocol, true
	case p == IPv6HopLimit:
		return IPv4TTL, true
	case p >= IPv6Src && p < IPv6Src+16:
		return IPv4Src, true
	case p >= IPv6Dst && p < IPv6Dst+16:
		return IPv4Dst, true
	}
	return 0, false // flow label, or past the header
}

// quote4to6 translates a quoted IPv4 packet q into dst: a 40-byte IPv6
// header (and a Fragment header for a fragment) and as much of the
// transport as fits. It returns the length written, 0 if the quote is not
// translated.
func quote4to6(dst, q []byte, m ICMPMapper) int {
	ip := IPv4(q)
	if len(q) < IPv4MinLen || q[0]>>4 != 4 {
		return 0
	}
	ihl := ip.HeaderLength()
	if ihl < IPv4MinLen || ihl > len(q) {
		return 0
	}
	hdr := IPv6HeaderLen
	if ip.IsFragment() {
		hdr += IPv6FragmentLen
	}
	if len(dst) < hdr {
		return 0
	}
	proto := ip.Protocol()
	transport := q[ihl:]
	n := min(len(transport), len(dst)-hdr)
	t := dst[hdr : hdr+n]
	copy(t, transport)
	next := proto
	later := ip.FragmentOffset() != 0
	if proto == ProtoICMPv4 {
		if later || !quotedEcho(t, ICMPv4EchoRequest, ICMPv4EchoReply, ICMPv6EchoRequest, ICMPv6EchoReply) {
			return 0
		}
		next = ProtoICMPv6
	}
	mt := t
	if later {
		mt = t[:0] // data, not a transport header
	}
	src6, dst6, ok := m.Quoted4to6(ip.Src(), ip.Dst(), proto, mt)
	if !ok {
		return 0
	}
	// The payload length the quoted packet had, even if the quote is cut.
	plen := max(int(ip.TotalLength())-ihl, 0)
	nh := next
	if hdr > IPv6HeaderLen {
		nh = ProtoFragment
		plen += IPv6FragmentLen
		f := dst[IPv6HeaderLen:hdr]
		f[0], f[1] = next, 0
		v := uint16(ip.FragmentOffset())
		if ip.MoreFragments() {
			v |= 1
		}
		binary.BigEndian.PutUint16(f[2:], v)
		binary.BigEndian.PutUint32(f[4:], uint32(ip.ID()))
	}
	IPv6(dst).Encode(&IPv6Fields{
		TrafficClass: ip.TOS(), PayloadLen: uint16(min(plen, 0xffff)), NextHeader: nh,
		HopLimit: ip.TTL(), Src: src6, Dst: dst6,
	})
	if next == ProtoICMPv6 && len(t) >= ICMPHeaderLen {
		// ICMPv6 sums a pseudo-header ICMPv4 does not: add it, with the
		// length the quoted message had.
		var ed Edit
		ed.Replaced(0, PseudoHeaderSum(src6[:], dst6[:], ProtoICMPv6, max(int(ip.TotalLength())-ihl, 0)))
		ICMP(t).SetChecksum(ed.Apply(ICMP(t).Checksum(), 0))
	}
	return hdr + n
}

// quotedEcho translates the type of a quoted ICMP echo in place, adjusting
// its checksum; anything but an echo (an error quoting an error) is
// refused.
func quotedEcho(t []byte, req, rep, req2, rep2 uint8) bool {
	if len(t) < 2 {
		return false
	}
	var nt uint8
	switch t[ICMPType] {
	case req:
		nt = req2
	case rep:
		nt = rep2
	default:
		return false
	}
	if len(t) < ICMPHeaderLen {
		t[ICMPType] = nt
		return true
	}
	var ed Edit
	ed.Put8(t, ICMPType, nt)
	ICMP(t).SetChecksum(ed.Apply(ICMP(t).Checksum(), 0))
	return true
}

// ICMPv6EchoTo4 translates an ICMPv6 echo request or reply msg, carried
// from src6 to dst6, into an ICMPv4 one in dst and returns its length, or
// 0 for another type or a dst too small. The checksum is updated
// incrementally (RFC 1624), the data not read: a wrong checksum stays
// wrong, for the receiver to see.
func ICMPv6EchoTo4(dst []byte, msg ICMP, src6, dst6 *[16]byte) int {
	if !msg.IsValid() || len(dst) < len(msg) {
		return 0
	}
	var nt uint8
	switch msg.Type() {
	case ICMPv6EchoRequest:
		nt = ICMPv4EchoRequest
	case ICMPv6EchoReply:
		nt = ICMPv4EchoReply
	default:
		return 0
	}
	copy(dst, msg)
	var ed Edit
	ed.Put16(dst, ICMPType, uint16(nt)<<8)
	ed.Replaced(PseudoHeaderSum(src6[:], dst6[:], ProtoICMPv6, len(msg)), 0)
	ICMP(dst).SetChecksum(ed.Apply(msg.Checksum(), 0))
	return len(msg)
}

// ICMPv6to4 translates the ICMPv6 message msg (checksum already
// verified) into an ICMPv4 message in dst and returns its length, or 0
// when the message is not translated or dst is too small. mtu4 is the MTU
// of the IPv4 next hop and mtu6 that of the IPv6 link the message came in
// on (0 for unknown): a Packet Too Big becomes a Fragmentation Needed
// reporting min(MTU - 20, mtu4, mtu6 - 20), at least 68 and at most 65535.
// alwaysDF sets DF in the quoted IPv4 header, for a translator that sets
// DF on every packet it sends; otherwise DF is set as RFC 7915 §5.1 sets
// it, on packets over 1260 bytes. An error is cut to ICMPv4ErrorMax bytes.
func ICMPv6to4(dst []byte, msg ICMP, mtu4, mtu6 int, alwaysDF bool, m ICMPMapper) int {
	if !msg.IsValid() {
		return 0
	}
	typ, code := msg.Type(), msg.Code()
	var rest uint32
	switch typ {
	case ICMPv6EchoRequest, ICMPv6EchoReply:
		if len(dst) < len(msg) {
			return 0
		}
		copy(dst, msg)
		dst[ICMPType] = ICMPv4EchoRequest
		if typ == ICMPv6EchoReply {
			dst[ICMPType] = ICMPv4EchoReply
		}
		dst[ICMPCode] = 0
		return finish4(dst[:len(msg)])
	case ICMPv6DestUnreachable:
		switch code {
		case ICMPv6CodeNoRoute, ICMPv6CodeBeyondScope, ICMPv6CodeAddrUnreachable:
			code = ICMPv4CodeHostUnreachable
		case ICMPv6CodeAdminProhibited:
			code = ICMPv4CodeHostAdminProhibited
		case ICMPv6CodePortUnreachable:
			code = ICMPv4CodePortUnreachable
		default:
			return 0
		}
		typ = ICMPv4DestUnreachable
	case ICMPv6PacketTooBig:
		typ, code = ICMPv4DestUnreachable, ICMPv4CodeFragNeeded
		mtu := int64(msg.Rest()) - 20
		if mtu4 > 0 {
			mtu = min(mtu, int64(mtu4))
		}
		if mtu6 > 0 {
			mtu = min(mtu, int64(mtu6-20))
		}
		rest = uint32(min(max(mtu, IPv4MinMTU), 0xffff))
	case ICMPv6TimeExceeded:
		typ = ICMPv4TimeExceeded
	case ICMPv6ParamProblem:
		switch code {
		case ICMPv6CodeErroneousHeader:
			p, ok := pointer6to4(msg.Rest())
			if !ok {
				return 0
			}
			typ, code, rest = ICMPv4ParamProblem, ICMPv4CodePointer, uint32(p)<<24
		case ICMPv6CodeUnrecognizedNext:
			typ, code = ICMPv4DestUnreachable, ICMPv4CodeProtoUnreachable
		default:
			return 0
		}
	default:
		return 0
	}
	if len(dst) < ICMPHeaderLen+IPv4MinLen {
		return 0
	}
	dst = dst[:min(len(dst), ICMPv4ErrorMax)]
	body, ext := msg.Body(), []byte(nil)
	if (msg.Type() == ICMPv6DestUnreachable || msg.Type() == ICMPv6TimeExceeded) && typ != ICMPv4ParamProblem {
		body, ext = splitExtensions(body, int(msg[4])*8)
	}
	room := (len(dst) - ICMPHeaderLen - len(ext)) &^ 3
	if len(ext) > 0 && room < rfc4884MinQuote {
		ext, room = nil, len(dst)-ICMPHeaderLen
	}
	n := quote6to4(dst[ICMPHeaderLen:ICMPHeaderLen+room], body, alwaysDF, m)
	if n == 0 {
		return 0
	}
	dst[ICMPType], dst[ICMPCode] = typ, code
	binary.BigEndian.PutUint32(dst[ICMPRest:], rest)
	if len(ext) > 0 {
		quoteLen := max((n+3)/4*4, rfc4884MinQuote)
		n = appendExtensions(dst[ICMPHeaderLen:], n, 4, ext)
		dst[5] = uint8(quoteLen / 4)
	}
	return finish4(dst[:ICMPHeaderLen+n])
}

// quote6to4 translates a quoted IPv6 packet q into dst: a 20-byte IPv4
// header and as much of the transport as fits. Extension headers are
// skipped; a Fragment header gives the IPv4 identification, offset and
// MF.
func quote6to4(dst, q []byte, alwaysDF bool, m ICMPMapper) int {
	if len(q) < IPv6HeaderLen || q[0]>>4 != 6 || len(dst) < IPv4MinLen {
		return 0
	}
	ip := IPv6(q)
	proto, off := ip.NextHeader(), IPv6HeaderLen
	frag := 0
	// The quote may be cut short: walk what is there, at most as many
	// headers as Transport does.
walk:
	for range maxExtensionHeaders + 1 {
		switch proto {
		case ProtoHopByHop, ProtoRouting, ProtoDestOptions:
			if off+2 > len(q) {
				return 0
			}
			proto, off = q[off], off+(int(q[off+1])+1)*8
		case ProtoFragment:
			if off+IPv6FragmentLen > len(q) || frag != 0 {
				return 0
			}
			frag = off
			proto, off = q[off], off+IPv6FragmentLen
		case ProtoAH, ProtoESP:
			return 0
		default:
			break walk
		}
	}
	switch proto {
	case ProtoHopByHop, ProtoRouting, ProtoFragment, ProtoDestOptions:
		return 0
	}
	if off > len(q) {
		return 0
	}
	var id uint16
	var fragOff int
	var more bool
	if frag != 0 {
		f := IPv6Fragment(q[frag:])
		id, fragOff, more = uint16(f.ID()), f.Offset(), f.More()
	}
	later := fragOff != 0
	transport := q[off:]
	n := min(len(transport), len(dst)-IPv4MinLen)
	t := dst[IPv4MinLen : IPv4MinLen+n]
	copy(t, transport)
	next := proto
	// The upper-layer length the quoted packet had: its payload less the
	// extension headers.
	plen := max(int(ip.PayloadLength())-(off-IPv6HeaderLen), 0)
	if proto == ProtoICMPv6 {
		if later || !quotedEcho(t, ICMPv6EchoRequest, ICMPv6EchoReply, ICMPv4EchoRequest, ICMPv4EchoReply) {
			return 0
		}
		next = ProtoICMPv4
		if len(t) >= ICMPHeaderLen {
			var ed Edit
			ed.Replaced(PseudoHeaderSum(q[IPv6Src:IPv6Src+16], q[IPv6Dst:IPv6Dst+16], ProtoICMPv6, plen), 0)
			ICMP(t).SetChecksum(ed.Apply(ICMP(t).Checksum(), 0))
		}
	}
	mt := t
	if later {
		mt = t[:0]
	}
	src4, dst4, ok := m.Quoted6to4(ip.Src(), ip.Dst(), proto, mt)
	if !ok {
		return 0
	}
	total := IPv4MinLen + plen
	var flags uint16
	switch {
	case frag != 0:
		flags = uint16(fragOff/8) & IPv4FragOffMask
		if more {
			flags |= IPv4FlagMF
		}
	case alwaysDF || total > 1260:
		flags = IPv4FlagDF
	}
	IPv4(dst).Encode(&IPv4Fields{
		TOS: ip.TrafficClass(), TotalLen: uint16(min(total, 0xffff)), ID: id, Flags: flags,
		TTL: ip.HopLimit(), Protocol: next, Src: src4, Dst: dst4,
	})
	return IPv4MinLen + n
}
