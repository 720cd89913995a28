// Package packet is sixgate's packet toolkit: views over raw header bytes
// (Ethernet, IPv4, IPv6 with its extension headers, TCP, UDP, ICMPv4,
// ICMPv6), the Internet checksum in full (RFC 1071) and updated
// incrementally (RFC 1624), the TCP option walk, the ICMP translation between IPv4 and IPv6
// (RFC 7915, icmp7915.go), and the Batch an engine
// writes its output packets into.
//
// A view is a byte slice typed by the header it starts with, in the style
// of gVisor's netstack: IPv4(b).TTL() reads the byte at the offset the RFC
// diagram above the constants gives. Views do not copy and do not
// allocate, so every engine's per-packet path can use them. Accessors
// assume the slice is long enough: call the view's IsValid first (or check
// the lengths yourself), as each doc comment says.
//
// Every engine and app parses headers with this package; none keeps its
// own offsets or checksum code.
package packet
