package packet

// TCP option kinds (IANA "TCP Option Kind Numbers").
const (
	TCPOptEnd           = 0
	TCPOptNOP           = 1
	TCPOptMSS           = 2
	TCPOptWindowScale   = 3
	TCPOptSACKPermitted = 4
	TCPOptSACK          = 5
	TCPOptTimestamps    = 8

	TCPOptMSSLen           = 4
	TCPOptWindowScaleLen   = 3
	TCPOptSACKPermittedLen = 2
	TCPOptTimestampsLen    = 10
	// TCPMaxWindowScale is the largest shift RFC 7323 allows.
	TCPMaxWindowScale = 14
)

// TCPOptions walks the options of a TCP header, one option per Next:
//
//	it := packet.NewTCPOptions(tcp.Options())
//	for it.Next() {
//		switch it.Kind() { ... it.Offset() ... }
//	}
//	if it.Malformed() { ... }
//
// End of option list stops the walk (what follows is padding); NOPs are
// skipped. An option whose length is under two or overruns the options
// ends the walk and makes Malformed true. The walk allocates nothing.
type TCPOptions struct {
	b         []byte
	next      int
	off, n    int
	kind      uint8
	malformed bool
}

// NewTCPOptions starts a walk over opts, the bytes between the fixed TCP
// header and the data offset.
func NewTCPOptions(opts []byte) TCPOptions { return TCPOptions{b: opts} }

// Next moves to the next option other than NOP, reporting false at the
// end of the list or at a malformed option.
func (it *TCPOptions) Next() bool {
	for it.next < len(it.b) {
		i := it.next
		switch it.b[i] {
		case TCPOptEnd:
			it.next = len(it.b)
			return false
		case TCPOptNOP:
			it.next++
			continue
		}
		if i+1 >= len(it.b) {
			it.malformed, it.next = true, len(it.b)
			return false
		}
		l := int(it.b[i+1])
		if l < 2 || i+l > len(it.b) {
			it.malformed, it.next = true, len(it.b)
			return false
		}
		it.kind, it.off, it.n, it.next = it.b[i], i, l, i+l
		return true
	}
	return false
}

// Kind is the current option's kind.
func (it *TCPOptions) Kind() uint8 { return it.kind }

// Offset is the offset of the current option's kind byte within the
// options; its data starts two bytes later.
func (it *TCPOptions) Offset() int { return it.off }

// Len is the current option's length byte: kind, length and data.
func (it *TCPOptions) Len() int { return it.n }

// Data is the current option's data, after kind and length.
func (it *TCPOptions) Data() []byte { return it.b[it.off+2 : it.off+it.n] }

// Malformed reports whether the walk stopped at an option that overruns
// the header or has a length under two.
func (it *TCPOptions) Malformed() bool { return it.malformed }

// TCPOptionsOK reports whether options are well formed: every option
// other than End and NOP has a length of at least two that stays inside
// the header.
func TCPOptionsOK(opts []byte) bool {
	it := NewTCPOptions(opts)
	for it.Next() {
	}
	return !it.malformed
}
