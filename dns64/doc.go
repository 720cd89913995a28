// Package dns64 is a DNS64 resolver (RFC 6147): a miekg/dns handler that
// forwards queries to recursive resolvers, tried in order, and synthesizes
// AAAA records from A records for names that have none, embedding the IPv4
// address in a NAT64 prefix (RFC 6052). It answers PTR queries under that
// prefix from in-addr.arpa (RFC 6147 section 5.3.1) and the special name
// ipv4only.arpa locally (RFC 7050, RFC 8880), passes DNSSEC queries that set
// DO and CD through unsynthesized (RFC 6147 section 5.5), speaks EDNS(0)
// and truncates over UDP like a resolver, and rate-limits each client.
//
// Answers are cached for their TTL. Over UDP, a plain query whose answer
// is cached is answered from the packed reply without decoding or encoding
// a message, a batch of datagrams per system call.
package dns64
