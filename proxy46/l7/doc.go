// Package l7 reads the first bytes a client sends and finds what chooses a
// backend: the server_name of a TLS ClientHello (RFC 8446 §4.1.2, RFC 6066
// §3), the Host header of an HTTP/1.x request (RFC 9112 §3.2), or a plain
// payload prefix.
//
// The parsers work on bytes as they arrive: a Result of NeedMore asks for
// more data, and every parser is safe on arbitrary input. They return
// sub-slices of their input and allocate only when a TLS handshake message
// is split over several records.
package l7

// Result says what a parser learned from the bytes it was given.
type Result uint8

const (
	// NeedMore means the bytes so far are a valid beginning but do not
	// decide yet.
	NeedMore Result = iota
	// Found means the name was found.
	Found
	// Absent means the message is complete, or far enough along, and has
	// no such name (for prefixes: the bytes do not start with it).
	Absent
	// Invalid means the bytes are not the protocol expected.
	Invalid
)

func (r Result) String() string {
	switch r {
	case NeedMore:
		return "need-more"
	case Found:
		return "found"
	case Absent:
		return "absent"
	case Invalid:
		return "invalid"
	}
	return "unknown"
}
