// Package ftpalg is an FTP application-level gateway for the translators
// (RFC 6384 for the NAT64, RFC 2428 for the extended commands): a line
// parser and rewriter for the control connection, and the per-connection
// bookkeeping that keeps TCP sequence numbers consistent when a rewritten
// line changes length.
//
// The package knows nothing of packets: an engine hands it the payload of
// each control-connection segment with its sequence number and gets back
// the payload and sequence number to send, what to send back toward the
// sender (the gateway answering a command itself, or retrying one with
// the server), and the mapping of acknowledgement numbers and SACK blocks
// of the other direction. Memory per connection is fixed: the longest
// line held is MaxLine bytes, the list of rewritten ranges has MaxEdits
// entries.
package ftpalg
