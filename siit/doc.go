// Package siit is a stateless IP/ICMP translator (SIIT, RFC 7915) with
// the address mappings of RFC 6052 (an IPv4 address embedded in a pool6
// prefix) and RFC 7757 (explicit address mappings, longest prefix first),
// and the ICMP error sources of RFC 6791.
//
// Like proxy46 it is an engine: raw IP packets in, packets out into a
// packet.Batch, no OpenFlow (datapath.Engine). Translator is the
// engine; Mapper is its address mapping; Path is the header translation
// with addresses supplied by the caller, which a stateful NAT64 reuses
// with its own mapping. Nothing on the per-packet path allocates.
package siit
