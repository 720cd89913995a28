package packet

import (
	"encoding/binary"
	"net/netip"
)

// IP protocol numbers (IANA "Assigned Internet Protocol Numbers"), the
// IPv6 extension headers among them.
const (
	ProtoHopByHop    = 0
	ProtoICMPv4      = 1
	ProtoTCP         = 6
	ProtoUDP         = 17
	ProtoRouting     = 43
	ProtoFragment    = 44
	ProtoESP         = 50
	ProtoAH          = 51
	ProtoICMPv6      = 58
	ProtoNoNext      = 59
	ProtoDestOptions = 60
)

// IPv4 is a view of an IPv4 header and what follows it (RFC 791):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|Version|  IHL  |Type of Service|          Total Length         |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|         Identification        |Flags|      Fragment Offset    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Time to Live |    Protocol   |         Header Checksum       |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                       Source Address                          |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Destination Address                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Options                    |    Padding    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
type IPv4 []byte

// Offsets and values of the IPv4 header.
const (
	IPv4VersionIHL  = 0
	IPv4TOS         = 1
	IPv4TotalLength = 2
	IPv4ID          = 4
	IPv4FlagsFrag   = 6
	IPv4TTL         = 8
	IPv4Protocol    = 9
	IPv4Checksum    = 10
	IPv4Src         = 12
	IPv4Dst         = 16
	IPv4MinLen      = 20
	IPv4MaxLen      = 60

	IPv4FlagDF      = 0x4000
	IPv4FlagMF      = 0x2000
	IPv4FragOffMask = 0x1fff
	// IPv4MinMTU is the smallest MTU every IPv4 link has (RFC 791).
	IPv4MinMTU = 68
)

// IsValid reports whether b holds a whole IPv4 header: version 4, an IHL
// of at least 20 bytes within both b and the total length, and a total
// length no longer than b. Call it before any other accessor. Bytes of b
// past the total length (Ethernet padding) are allowed; Payload ends at
// the total length.
func (b IPv4) IsValid() bool {
	if len(b) < IPv4MinLen || b[0]>>4 != 4 {
		return false
	}
	ihl, total := b.HeaderLength(), int(b.TotalLength())
	return ihl >= IPv4MinLen && ihl <= total && total <= len(b)
}

func (b IPv4) HeaderLength() int   { return int(b[IPv4VersionIHL]&0x0f) * 4 }
func (b IPv4) TOS() uint8          { return b[IPv4TOS] }
func (b IPv4) TotalLength() uint16 { return binary.BigEndian.Uint16(b[IPv4TotalLength:]) }
func (b IPv4) ID() uint16          { return binary.BigEndian.Uint16(b[IPv4ID:]) }
func (b IPv4) Flags() uint16       { return binary.BigEndian.Uint16(b[IPv4FlagsFrag:]) &^ IPv4FragOffMask }
func (b IPv4) FragmentOffset() int {
	return int(binary.BigEndian.Uint16(b[IPv4FlagsFrag:])&IPv4FragOffMask) * 8
}
func (b IPv4) TTL() uint8           { return b[IPv4TTL] }
func (b IPv4) Protocol() uint8      { return b[IPv4Protocol] }
func (b IPv4) Checksum() uint16     { return binary.BigEndian.Uint16(b[IPv4Checksum:]) }
func (b IPv4) Src() [4]byte         { return [4]byte(b[IPv4Src : IPv4Src+4]) }
func (b IPv4) Dst() [4]byte         { return [4]byte(b[IPv4Dst : IPv4Dst+4]) }
func (b IPv4) SrcAddr() netip.Addr  { return netip.AddrFrom4(b.Src()) }
func (b IPv4) DstAddr() netip.Addr  { return netip.AddrFrom4(b.Dst()) }
func (b IPv4) DontFragment() bool   { return b.Flags()&IPv4FlagDF != 0 }
func (b IPv4) MoreFragments() bool  { return b.Flags()&IPv4FlagMF != 0 }
func (b IPv4) Options() []byte      { return b[IPv4MinLen:b.HeaderLength()] }
func (b IPv4) SetTTL(v uint8)       { b[IPv4TTL] = v }
func (b IPv4) SetChecksum(v uint16) { binary.BigEndian.PutUint16(b[IPv4Checksum:], v) }

// IsFragment reports whether the packet is a fragment: a later one, or
// the first of several.
func (b IPv4) IsFragment() bool {
	return binary.BigEndian.Uint16(b[IPv4FlagsFrag:])&(IPv4FlagMF|IPv4FragOffMask) != 0
}

// Payload returns what follows the header, up to the total length.
func (b IPv4) Payload() []byte { return b[b.HeaderLength():b.TotalLength()] }

// HeaderChecksumOK reports whether the header sums to all ones.
func (b IPv4) HeaderChecksumOK() bool { return Sum(b[:b.HeaderLength()]) == 0xffff }

// PseudoHeaderSum is the sum of the pseudo-header of an upper-layer
// message of length bytes carried by this packet.
func (b IPv4) PseudoHeaderSum(proto uint8, length int) uint16 {
	return PseudoHeaderSum(b[IPv4Src:IPv4Src+4], b[IPv4Dst:IPv4Dst+4], proto, length)
}

// IPv4Fields are the fields Encode writes into a 20-byte header.
type IPv4Fields struct {
	TOS      uint8
	TotalLen uint16
	ID       uint16
	Flags    uint16 // IPv4FlagDF, IPv4FlagMF, with the fragment offset in bytes / 8
	TTL      uint8
	Protocol uint8
	Src, Dst [4]byte
}

// Encode writes a 20-byte header without options into b, its checksum
// computed.
func (b IPv4) Encode(f *IPv4Fields) {
	b[IPv4VersionIHL] = 0x45
	b[IPv4TOS] = f.TOS
	binary.BigEndian.PutUint16(b[IPv4TotalLength:], f.TotalLen)
	binary.BigEndian.PutUint16(b[IPv4ID:], f.ID)
	binary.BigEndian.PutUint16(b[IPv4FlagsFrag:], f.Flags)
	b[IPv4TTL] = f.TTL
	b[IPv4Protocol] = f.Protocol
	binary.BigEndian.PutUint16(b[IPv4Checksum:], 0)
	// Array assignments rather than copy: fixed-size moves, no memmove call.
	*(*[4]byte)(b[IPv4Src:]) = f.Src
	*(*[4]byte)(b[IPv4Dst:]) = f.Dst
	binary.BigEndian.PutUint16(b[IPv4Checksum:], ^Sum(b[:IPv4MinLen]))
}

// IPv6 is a view of an IPv6 header and what follows it (RFC 8200):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|Version| Traffic Class |           Flow Label                  |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|         Payload Length        |  Next Header  |   Hop Limit   |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                                                               |
//	+                    Source Address (16 bytes)                  +
//	|                                                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                                                               |
//	+                 Destination Address (16 bytes)                +
//	|                                                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
type IPv6 []byte

// Offsets of the IPv6 header.
const (
	IPv6PayloadLength = 4
	IPv6NextHeader    = 6
	IPv6HopLimit      = 7
	IPv6Src           = 8
	IPv6Dst           = 24
	IPv6HeaderLen     = 40
	// IPv6MinMTU is the smallest MTU every IPv6 link has (RFC 8200).
	IPv6MinMTU = 1280
)

// IsValid reports whether b holds a whole IPv6 header, version 6, and a
// payload length no longer than what follows it. Call it before any other
// accessor. Bytes past the payload length are allowed; Payload ends there.
func (b IPv6) IsValid() bool {
	return len(b) >= IPv6HeaderLen && b[0]>>4 == 6 && IPv6HeaderLen+int(b.PayloadLength()) <= len(b)
}

func (b IPv6) TrafficClass() uint8    { return uint8(binary.BigEndian.Uint16(b[0:]) >> 4) }
func (b IPv6) FlowLabel() uint32      { return binary.BigEndian.Uint32(b[0:]) & 0xfffff }
func (b IPv6) PayloadLength() uint16  { return binary.BigEndian.Uint16(b[IPv6PayloadLength:]) }
func (b IPv6) NextHeader() uint8      { return b[IPv6NextHeader] }
func (b IPv6) HopLimit() uint8        { return b[IPv6HopLimit] }
func (b IPv6) Src() [16]byte          { return [16]byte(b[IPv6Src : IPv6Src+16]) }
func (b IPv6) Dst() [16]byte          { return [16]byte(b[IPv6Dst : IPv6Dst+16]) }
func (b IPv6) SrcPtr() *[16]byte      { return (*[16]byte)(b[IPv6Src : IPv6Src+16]) }
func (b IPv6) DstPtr() *[16]byte      { return (*[16]byte)(b[IPv6Dst : IPv6Dst+16]) }
func (b IPv6) SrcAddr() netip.Addr    { return netip.AddrFrom16(b.Src()) }
func (b IPv6) DstAddr() netip.Addr    { return netip.AddrFrom16(b.Dst()) }
func (b IPv6) Payload() []byte        { return b[IPv6HeaderLen : IPv6HeaderLen+int(b.PayloadLength())] }
func (b IPv6) SetHopLimit(v uint8)    { b[IPv6HopLimit] = v }
func (b IPv6) SetPayloadLength(n int) { binary.BigEndian.PutUint16(b[IPv6PayloadLength:], uint16(n)) }

// PseudoHeaderSum is the sum of the pseudo-header of an upper-layer
// message of length bytes carried by this packet (RFC 8200 section 8.1;
// a routing header's final destination is not looked for).
func (b IPv6) PseudoHeaderSum(proto uint8, length int) uint16 {
	return PseudoHeaderSum(b[IPv6Src:IPv6Src+16], b[IPv6Dst:IPv6Dst+16], proto, length)
}

// IPv6Fields are the fields Encode writes into a 40-byte header.
type IPv6Fields struct {
	TrafficClass uint8
	FlowLabel    uint32
	PayloadLen   uint16
	NextHeader   uint8
	HopLimit     uint8
	Src, Dst     [16]byte
}

// Encode writes a 40-byte header into b.
func (b IPv6) Encode(f *IPv6Fields) {
	binary.BigEndian.PutUint32(b[0:], 6<<28|uint32(f.TrafficClass)<<20|f.FlowLabel&0xfffff)
	binary.BigEndian.PutUint16(b[IPv6PayloadLength:], f.PayloadLen)
	b[IPv6NextHeader] = f.NextHeader
	b[IPv6HopLimit] = f.HopLimit
	// Array assignments rather than copy: fixed-size moves, no memmove call.
	*(*[16]byte)(b[IPv6Src:]) = f.Src
	*(*[16]byte)(b[IPv6Dst:]) = f.Dst
}

// IPv6Fragment is a view of the Fragment extension header (RFC 8200
// section 4.5):
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Next Header  |   Reserved    |      Fragment Offset    |Res|M|
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                         Identification                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
type IPv6Fragment []byte

// IPv6FragmentLen is the Fragment header's fixed length.
const IPv6FragmentLen = 8

func (b IPv6Fragment) NextHeader() uint8 { return b[0] }
func (b IPv6Fragment) Offset() int       { return int(binary.BigEndian.Uint16(b[2:]) &^ 7) }
func (b IPv6Fragment) More() bool        { return b[3]&1 != 0 }
func (b IPv6Fragment) ID() uint32        { return binary.BigEndian.Uint32(b[4:]) }

// maxExtensionHeaders bounds the extension header walk. RFC 8200 allows
// each at most once (destination options twice); a longer chain is an
// attack on the walk, not a packet to forward.
const maxExtensionHeaders = 8

// Upper is where the upper-layer header of an IPv6 packet starts, as
// found by Transport.
type Upper struct {
	// Proto is the upper-layer protocol (TCP, UDP, ICMPv6, ...), or
	// ProtoNoNext.
	Proto uint8
	// Offset is the upper-layer header's offset from the start of the
	// IPv6 header.
	Offset int
	// Fragment is the offset of a Fragment header, or 0 if there is none.
	// A fragment other than the first carries no upper-layer header at
	// Offset: check IPv6Fragment(b[Fragment:]).Offset() before reading it.
	// The walk stops after the Fragment header of such a fragment, as
	// what follows is data, not headers: Proto is then the Fragment
	// header's next header.
	Fragment int
	// Routing is the offset of a Routing header, or 0 if there is none.
	Routing int
}

// Transport walks the extension headers (hop-by-hop, routing, fragment,
// destination options, authentication) to the upper-layer header. It
// returns false for a chain that overruns the payload, is longer than
// eight headers, or puts a hop-by-hop header anywhere but first. Call it
// after IsValid. ESP ends the walk: what it encrypts is its own.
func (b IPv6) Transport() (Upper, bool) {
	end := IPv6HeaderLen + int(b.PayloadLength())
	next, off := b.NextHeader(), IPv6HeaderLen
	u := Upper{}
	for n := 0; n <= maxExtensionHeaders; n++ {
		switch next {
		case ProtoHopByHop, ProtoRouting, ProtoDestOptions:
			if next == ProtoHopByHop && off != IPv6HeaderLen {
				return u, false
			}
			if off+8 > end {
				return u, false
			}
			l := (int(b[off+1]) + 1) * 8
			if off+l > end {
				return u, false
			}
			if next == ProtoRouting {
				u.Routing = off
			}
			next, off = b[off], off+l
		case ProtoAH:
			if off+8 > end {
				return u, false
			}
			l := (int(b[off+1]) + 2) * 4
			if off+l > end {
				return u, false
			}
			next, off = b[off], off+l
		case ProtoFragment:
			if off+IPv6FragmentLen > end || u.Fragment != 0 {
				return u, false
			}
			u.Fragment = off
			next, off = b[off], off+IPv6FragmentLen
			if IPv6Fragment(b[u.Fragment:]).Offset() != 0 {
				u.Proto, u.Offset = next, off
				return u, true
			}
		default:
			u.Proto, u.Offset = next, off
			return u, true
		}
	}
	return u, false
}
