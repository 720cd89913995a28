package packet

import (
	"encoding/binary"
	"net"
)

// Ethernet is a view of an Ethernet II frame (IEEE 802.3):
//
//	+-------------------+-------------------+-------------+---------
//	| Destination (6)   | Source (6)        | EtherType   | Payload
//	+-------------------+-------------------+-------------+---------
type Ethernet []byte

// Offsets and EtherTypes.
const (
	EthernetDst       = 0
	EthernetSrc       = 6
	EthernetType      = 12
	EthernetHeaderLen = 14

	EtherTypeIPv4 = 0x0800
	EtherTypeARP  = 0x0806
	EtherTypeVLAN = 0x8100
	EtherTypeIPv6 = 0x86dd
)

// IsValid reports whether b holds a whole Ethernet header. Call it before
// any other accessor.
func (b Ethernet) IsValid() bool { return len(b) >= EthernetHeaderLen }

func (b Ethernet) Dst() net.HardwareAddr { return net.HardwareAddr(b[EthernetDst:EthernetSrc]) }
func (b Ethernet) Src() net.HardwareAddr { return net.HardwareAddr(b[EthernetSrc:EthernetType]) }
func (b Ethernet) Type() uint16          { return binary.BigEndian.Uint16(b[EthernetType:]) }
func (b Ethernet) Payload() []byte       { return b[EthernetHeaderLen:] }

// Encode writes the header into b.
func (b Ethernet) Encode(dst, src net.HardwareAddr, etherType uint16) {
	copy(b[EthernetDst:EthernetSrc], dst)
	copy(b[EthernetSrc:EthernetType], src)
	binary.BigEndian.PutUint16(b[EthernetType:], etherType)
}

// EtherTypeOf returns the EtherType of a raw IP packet by its version
// nibble, or 0 if it is neither IPv4 nor IPv6.
func EtherTypeOf(ip []byte) uint16 {
	if len(ip) == 0 {
		return 0
	}
	switch ip[0] >> 4 {
	case 4:
		return EtherTypeIPv4
	case 6:
		return EtherTypeIPv6
	}
	return 0
}
