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
	b    []byte
	next int // where the walk resumes
	off  int // the current option's kind byte
}

// NewTCPOptions starts a walk over opts, the bytes between the fixed TCP
// header and the data offset.
func NewTCPOptions(opts []byte) TCPOptions { return TCPOptions{b: opts} }

// Next moves to the next option other than NOP, reporting false at the
// end of the list or at a malformed option. It is kept small enough to be
// inlined, as it runs on every segment of an engine's established path.
func (it *TCPOptions) Next() bool {
	// The fields are read once into locals, which stay in registers once
	// Next is inlined into the caller's loop. The walk does not advance
	// past an End or a malformed option: calling Next again stops there
	// again, and Malformed looks there.
	b, i := it.b, it.next
	for i < len(b) && b[i] == TCPOptNOP {
		i++
	}
	r := b[i:]
	if len(r) >= 2 && r[0] != TCPOptEnd && r[1] >= 2 && int(r[1]) <= len(r) {
		it.off, it.next = i, i+int(r[1])
		return true
	}
	return false
}

// Kind is the current option's kind.
func (it *TCPOptions) Kind() uint8 { return it.b[it.off] }

// Offset is the offset of the current option's kind byte within the
// options; its data starts two bytes later.
func (it *TCPOptions) Offset() int { return it.off }

// Len is the current option's length byte: kind, length and data.
func (it *TCPOptions) Len() int { return int(it.b[it.off+1]) }

// Data is the current option's data, after kind and length.
func (it *TCPOptions) Data() []byte { return it.b[it.off+2 : it.off+it.Len()] }

// Malformed reports, once Next has returned false, whether the walk
// stopped at an option with no length byte, a length under two or one
// that overruns the options, rather than at their end or an End option.
func (it *TCPOptions) Malformed() bool {
	b, i := it.b, it.next
	for i < len(b) && b[i] == TCPOptNOP {
		i++
	}
	return i < len(b) && b[i] != TCPOptEnd
}

// TCPOptionsOK reports whether options are well formed: every option
// other than End and NOP has a length of at least two that stays inside
// the header.
func TCPOptionsOK(opts []byte) bool {
	it := NewTCPOptions(opts)
	for it.Next() {
	}
	return !it.Malformed()
}
