// Package dns64 is a DNS64 resolver (RFC 6147): a miekg/dns handler that
// forwards queries to recursive resolvers, tried in order, and synthesizes
// AAAA records from A records for names that have none, embedding the IPv4
// address in a NAT64 prefix (RFC 6052). It answers PTR queries under that
// prefix from in-addr.arpa (RFC 6147 section 5.3.1) and the special name
// ipv4only.arpa locally (RFC 7050, RFC 8880), passes DNSSEC queries that set
// DO and CD through unsynthesized (RFC 6147 section 5.5), speaks EDNS(0)
// and truncates over UDP like a resolver, and rate-limits each client.
//
// It holds no cache: every query goes to the upstream resolvers, which
// are expected to cache.
package dns64
