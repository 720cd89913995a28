// Package proxy46 splices TCP connections from IPv4 clients to IPv6 backends.
//
// The engine answers an IPv4 client's SYN to a virtual address (VIP) itself,
// holds the client's first segments without acknowledging them, chooses a
// backend from those bytes (or from the client address alone), opens the
// IPv6 half with the client's own initial sequence number and options, and
// from then on translates every segment between the two address families
// with its sequence space shifted. No socket is held and no byte stream is
// copied: both ends keep their own reliability, and the edge keeps a few
// dozen bytes of state per connection.
//
// The engine knows nothing of the network it runs on: raw IP packets go in
// through [Engine.Handle] and the packets to send come out in a [Batch].
// Timers run when the caller calls [Engine.Expire].
//
// Specifications followed:
//
//   - RFC 6052: IPv4-embedded IPv6 addresses; the client's IPv4 address is
//     carried in the source address the backend sees.
//   - RFC 7915: IP/ICMP translation between IPv4 and IPv6 headers, and of
//     ICMPv6 Packet Too Big into ICMPv4 Fragmentation Needed.
//   - RFC 1624: incremental Internet checksum update, here across
//     pseudo-headers of different sizes.
//   - RFC 6528: initial sequence numbers from a keyed hash of the
//     connection's addresses and a clock.
//   - RFC 7323: window scale and timestamps, rewritten per connection.
//   - RFC 2018: selective acknowledgment, whose blocks are shifted.
//   - RFC 9293: TCP itself (reset generation, state handling).
//   - RFC 4987: SYN cookies under SYN floods (the encoding is described in
//     cookie.go).
//   - RFC 5961: blind reset and data injection: exact RSTs, challenge ACKs,
//     acceptable ACK range.
//   - RFC 5927: ICMP errors must quote a segment in flight.
//   - RFC 792 and RFC 1122: the engine answers for its VIPs as a host does
//     (echo replies, resets and port unreachable for closed ports, no
//     answer to errors, fragments or sources that are no single host).
package proxy46
