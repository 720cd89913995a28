// Package nat64 is a stateful NAT64 (RFC 6146): IPv6-only hosts reach
// IPv4 hosts through a pool of IPv4 addresses and ports (pool4), with
// IPv4 addresses represented in IPv6 under pool6 (RFC 6052).
//
// The header and ICMP translation are the stateless translator's
// (siit.Path, RFC 7915); this package adds what makes it stateful: the
// binding table (BIB) and the session table for TCP, UDP and ICMP query
// messages, endpoint-independent mapping, endpoint-independent filtering
// or address-dependent filtering (RFC 4787), port allocation that keeps
// parity and range and is otherwise random (RFC 6056), the TCP state
// machine with its timers (RFC 6146 §3.5.2), unsolicited IPv4 SYNs held
// for a simultaneous open, hairpinning, fragments, and ICMP errors whose
// quoted packet is mapped through its session.
//
// A NAT64 is an engine of the shared data path: Handle translates one
// packet into a packet.Batch, Expire runs the timers. The established
// path allocates nothing. Every table has a bound; what a bound refuses
// is counted.
package nat64
