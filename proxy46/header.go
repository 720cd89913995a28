package proxy46

// Byte offsets into the headers the engine reads and writes. The engine
// works on raw byte slices so that the established path allocates nothing;
// every accessor assumes the lengths were checked by the caller.

// IPv4 header (RFC 791):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|Version|  IHL  |Type of Service|          Total Length         |
//	|         Identification        |Flags|      Fragment Offset    |
//	|  Time to Live |    Protocol   |         Header Checksum       |
//	|                       Source Address                          |
//	|                    Destination Address                        |
const (
	ip4TOS      = 1
	ip4TotalLen = 2
	ip4ID       = 4
	ip4Flags    = 6
	ip4TTL      = 8
	ip4Proto    = 9
	ip4Checksum = 10
	ip4Src      = 12
	ip4Dst      = 16
	ip4MinLen   = 20

	ip4FlagDF        = 0x4000
	ip4FlagMF        = 0x2000
	ip4FragOffMask   = 0x1fff
	ip4DefaultTTL    = 64
	ip4MinMTU        = 68
	icmp4Type        = 0
	protoICMP4       = 1
	protoTCP         = 6
	protoICMP6       = 58
	protoFragment6   = 44
	icmp4DestUnreach = 3
	icmp4FragNeeded  = 4
)

// IPv6 header (RFC 8200):
//
//	|Version| Traffic Class |           Flow Label                  |
//	|         Payload Length        |  Next Header  |   Hop Limit   |
//	|                 Source Address (16 bytes)                     |
//	|              Destination Address (16 bytes)                   |
const (
	ip6PayloadLen = 4
	ip6NextHeader = 6
	ip6HopLimit   = 7
	ip6Src        = 8
	ip6Dst        = 24
	ip6HeaderLen  = 40

	icmp6PacketTooBig = 2
)

// TCP header (RFC 9293):
//
//	|          Source Port          |       Destination Port        |
//	|                        Sequence Number                        |
//	|                    Acknowledgment Number                      |
//	|  Data |       |C|E|U|A|P|R|S|F|                               |
//	| Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
//	|           Checksum            |         Urgent Pointer        |
//	|                    Options                    |    Padding    |
const (
	tcpSrcPort  = 0
	tcpDstPort  = 2
	tcpSeq      = 4
	tcpAck      = 8
	tcpDataOff  = 12
	tcpFlags    = 13
	tcpWindow   = 14
	tcpChecksum = 16
	tcpUrgent   = 18
	tcpMinLen   = 20

	flagFIN = 0x01
	flagSYN = 0x02
	flagRST = 0x04
	flagPSH = 0x08
	flagACK = 0x10

	optEnd       = 0
	optNOP       = 1
	optMSS       = 2
	optWScale    = 3
	optSACKPerm  = 4
	optSACK      = 5
	optTimestamp = 8

	maxWindowScale = 14
)
