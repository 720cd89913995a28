package packet

import "encoding/binary"

// TCP is a view of a TCP header and its payload (RFC 9293):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|          Source Port          |       Destination Port        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                        Sequence Number                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Acknowledgment Number                      |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Data |       |C|E|U|A|P|R|S|F|                               |
//	| Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
//	|       |       |R|E|G|K|H|T|N|N|                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|           Checksum            |         Urgent Pointer        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                           [Options]                           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
type TCP []byte

// Offsets and flags of the TCP header.
const (
	TCPSrcPort    = 0
	TCPDstPort    = 2
	TCPSeq        = 4
	TCPAck        = 8
	TCPDataOffset = 12
	TCPFlags      = 13
	TCPWindow     = 14
	TCPChecksum   = 16
	TCPUrgent     = 18
	TCPMinLen     = 20
	TCPMaxLen     = 60

	TCPFlagFIN = 0x01
	TCPFlagSYN = 0x02
	TCPFlagRST = 0x04
	TCPFlagPSH = 0x08
	TCPFlagACK = 0x10
	TCPFlagURG = 0x20
	TCPFlagECE = 0x40
	TCPFlagCWR = 0x80
)

// IsValid reports whether b holds a whole TCP header: at least 20 bytes
// and a data offset of at least 20 within b. Call it before any other
// accessor.
func (b TCP) IsValid() bool {
	if len(b) < TCPMinLen {
		return false
	}
	doff := b.DataOffset()
	return doff >= TCPMinLen && doff <= len(b)
}

func (b TCP) SrcPort() uint16         { return binary.BigEndian.Uint16(b[TCPSrcPort:]) }
func (b TCP) DstPort() uint16         { return binary.BigEndian.Uint16(b[TCPDstPort:]) }
func (b TCP) Seq() uint32             { return binary.BigEndian.Uint32(b[TCPSeq:]) }
func (b TCP) Ack() uint32             { return binary.BigEndian.Uint32(b[TCPAck:]) }
func (b TCP) DataOffset() int         { return int(b[TCPDataOffset]>>4) * 4 }
func (b TCP) Flags() uint8            { return b[TCPFlags] }
func (b TCP) Window() uint16          { return binary.BigEndian.Uint16(b[TCPWindow:]) }
func (b TCP) Checksum() uint16        { return binary.BigEndian.Uint16(b[TCPChecksum:]) }
func (b TCP) Options() []byte         { return b[TCPMinLen:b.DataOffset()] }
func (b TCP) Payload() []byte         { return b[b.DataOffset():] }
func (b TCP) SetSrcPort(v uint16)     { binary.BigEndian.PutUint16(b[TCPSrcPort:], v) }
func (b TCP) SetDstPort(v uint16)     { binary.BigEndian.PutUint16(b[TCPDstPort:], v) }
func (b TCP) SetChecksum(v uint16)    { binary.BigEndian.PutUint16(b[TCPChecksum:], v) }
func (b TCP) Has(flags uint8) bool    { return b[TCPFlags]&flags == flags }
func (b TCP) HasAny(flags uint8) bool { return b[TCPFlags]&flags != 0 }

// SequenceLength is the sequence space the segment occupies: its payload,
// plus one for a SYN and one for a FIN.
func (b TCP) SequenceLength() uint32 {
	n := uint32(len(b) - b.DataOffset())
	if b[TCPFlags]&TCPFlagSYN != 0 {
		n++
	}
	if b[TCPFlags]&TCPFlagFIN != 0 {
		n++
	}
	return n
}

// TCPFields are the fields Encode writes.
type TCPFields struct {
	SrcPort, DstPort uint16
	Seq, Ack         uint32
	Flags            uint8
	Window           uint16
	Urgent           uint16
	// Options must be a multiple of four bytes long, at most 40.
	Options []byte
}

// Encode writes the header and options into b with a zero checksum and
// returns the header length. The payload, if any, goes after it; then
// set the checksum.
func (b TCP) Encode(f *TCPFields) int {
	n := TCPMinLen + len(f.Options)
	binary.BigEndian.PutUint16(b[TCPSrcPort:], f.SrcPort)
	binary.BigEndian.PutUint16(b[TCPDstPort:], f.DstPort)
	binary.BigEndian.PutUint32(b[TCPSeq:], f.Seq)
	binary.BigEndian.PutUint32(b[TCPAck:], f.Ack)
	b[TCPDataOffset] = byte(n/4) << 4
	b[TCPFlags] = f.Flags
	binary.BigEndian.PutUint16(b[TCPWindow:], f.Window)
	binary.BigEndian.PutUint16(b[TCPChecksum:], 0)
	binary.BigEndian.PutUint16(b[TCPUrgent:], f.Urgent)
	copy(b[TCPMinLen:], f.Options)
	return n
}

// UDP is a view of a UDP header and its payload (RFC 768):
//
//	 0      7 8     15 16    23 24    31
//	+--------+--------+--------+--------+
//	|     Source      |   Destination   |
//	|      Port       |      Port       |
//	+--------+--------+--------+--------+
//	|                 |                 |
//	|     Length      |    Checksum     |
//	+--------+--------+--------+--------+
type UDP []byte

// Offsets of the UDP header.
const (
	UDPSrcPort  = 0
	UDPDstPort  = 2
	UDPLength   = 4
	UDPChecksum = 6
	UDPLen      = 8
)

// IsValid reports whether b holds a UDP header whose length field covers
// at least the header and at most b. Call it before any other accessor.
func (b UDP) IsValid() bool {
	return len(b) >= UDPLen && int(b.Length()) >= UDPLen && int(b.Length()) <= len(b)
}

func (b UDP) SrcPort() uint16      { return binary.BigEndian.Uint16(b[UDPSrcPort:]) }
func (b UDP) DstPort() uint16      { return binary.BigEndian.Uint16(b[UDPDstPort:]) }
func (b UDP) Length() uint16       { return binary.BigEndian.Uint16(b[UDPLength:]) }
func (b UDP) Checksum() uint16     { return binary.BigEndian.Uint16(b[UDPChecksum:]) }
func (b UDP) Payload() []byte      { return b[UDPLen:b.Length()] }
func (b UDP) SetSrcPort(v uint16)  { binary.BigEndian.PutUint16(b[UDPSrcPort:], v) }
func (b UDP) SetDstPort(v uint16)  { binary.BigEndian.PutUint16(b[UDPDstPort:], v) }
func (b UDP) SetChecksum(v uint16) { binary.BigEndian.PutUint16(b[UDPChecksum:], v) }

// ICMP is a view of an ICMPv4 (RFC 792) or ICMPv6 (RFC 4443) message; the
// first four bytes are laid out alike:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Type      |     Code      |          Checksum             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Identifier (echo) / Unused / MTU / Pointer                |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Data (echo) / as much of the invoking packet as fits ...
type ICMP []byte

// Offsets of the ICMP header.
const (
	ICMPType      = 0
	ICMPCode      = 1
	ICMPChecksum  = 2
	ICMPRest      = 4 // identifier, MTU or pointer
	ICMPSeq       = 6 // sequence number of an echo
	ICMPHeaderLen = 8
)

// ICMPv4 types and codes (RFC 792, RFC 1191).
const (
	ICMPv4EchoReply       = 0
	ICMPv4DestUnreachable = 3
	ICMPv4Redirect        = 5
	ICMPv4EchoRequest     = 8
	ICMPv4TimeExceeded    = 11
	ICMPv4ParamProblem    = 12

	ICMPv4CodeNetUnreachable   = 0
	ICMPv4CodeHostUnreachable  = 1
	ICMPv4CodeProtoUnreachable = 2
	ICMPv4CodePortUnreachable  = 3
	ICMPv4CodeFragNeeded       = 4
	ICMPv4CodeAdminProhibited  = 13
)

// ICMPv6 types (RFC 4443, RFC 4861).
const (
	ICMPv6DestUnreachable = 1
	ICMPv6PacketTooBig    = 2
	ICMPv6TimeExceeded    = 3
	ICMPv6ParamProblem    = 4
	ICMPv6EchoRequest     = 128
	ICMPv6EchoReply       = 129
	ICMPv6RouterSolicit   = 133
	ICMPv6RouterAdvert    = 134
	ICMPv6NeighborSolicit = 135
	ICMPv6NeighborAdvert  = 136
	ICMPv6Redirect        = 137
)

// IsValid reports whether b holds the 8-byte ICMP header. Call it before
// any other accessor.
func (b ICMP) IsValid() bool { return len(b) >= ICMPHeaderLen }

func (b ICMP) Type() uint8          { return b[ICMPType] }
func (b ICMP) Code() uint8          { return b[ICMPCode] }
func (b ICMP) Checksum() uint16     { return binary.BigEndian.Uint16(b[ICMPChecksum:]) }
func (b ICMP) Rest() uint32         { return binary.BigEndian.Uint32(b[ICMPRest:]) }
func (b ICMP) ID() uint16           { return binary.BigEndian.Uint16(b[ICMPRest:]) }
func (b ICMP) Seq() uint16          { return binary.BigEndian.Uint16(b[ICMPSeq:]) }
func (b ICMP) Body() []byte         { return b[ICMPHeaderLen:] }
func (b ICMP) SetChecksum(v uint16) { binary.BigEndian.PutUint16(b[ICMPChecksum:], v) }

// IsICMPv4Error reports whether an ICMPv4 type is an error message, one
// that quotes the packet that caused it.
func IsICMPv4Error(t uint8) bool {
	switch t {
	case ICMPv4DestUnreachable, ICMPv4Redirect, ICMPv4TimeExceeded, ICMPv4ParamProblem, 4 /* source quench */ :
		return true
	}
	return false
}

// IsICMPv6Error reports whether an ICMPv6 type is an error message (types
// below 128, RFC 4443 section 2.1).
func IsICMPv6Error(t uint8) bool { return t < 128 }
