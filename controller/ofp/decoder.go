package ofp

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// DecodeError reports input that is not a valid OpenFlow 1.3 message.
type DecodeError struct {
	// Msg names the message (or element) being decoded.
	Msg string
	// Offset is the byte offset in the message where decoding failed.
	Offset int
	Err    error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("ofp: %s: offset %d: %v", e.Msg, e.Offset, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

var (
	// ErrVersion is returned for a message of a version other than 1.3.
	ErrVersion = errors.New("unsupported version")
	errShort   = errors.New("unexpected end of message")
)

// decoder reads big-endian fields from a bounded window of a message. Its
// first error is sticky and shared with the decoders made from it by sub, so
// a chain of reads can be checked once; after an error every read returns
// zero values and consumes nothing.
type decoder struct {
	b    []byte
	base int // offset of b[0] in the whole message
	msg  string
	err  *error
}

func newDecoder(b []byte, base int, msg string) *decoder {
	return &decoder{b: b, base: base, msg: msg, err: new(error)}
}

func (d *decoder) failed() bool { return d.err != nil && *d.err != nil }

func (d *decoder) error() error {
	if d.err == nil {
		return nil
	}
	return *d.err
}

// fail records an error at the current offset unless one is recorded.
func (d *decoder) fail(format string, args ...any) error {
	if d.err == nil {
		d.err = new(error)
	}
	if *d.err == nil {
		*d.err = &DecodeError{Msg: d.msg, Offset: d.base, Err: fmt.Errorf(format, args...)}
	}
	return *d.err
}

func (d *decoder) len() int { return len(d.b) }

func (d *decoder) take(n int, what string) []byte {
	if d.failed() {
		return nil
	}
	if n < 0 || n > len(d.b) {
		if d.err == nil {
			d.err = new(error)
		}
		*d.err = &DecodeError{Msg: d.msg, Offset: d.base, Err: fmt.Errorf("%s: need %d bytes, have %d: %w", what, n, len(d.b), errShort)}
		return nil
	}
	p := d.b[:n]
	d.b = d.b[n:]
	d.base += n
	return p
}

func (d *decoder) u8(what string) uint8 {
	p := d.take(1, what)
	if p == nil {
		return 0
	}
	return p[0]
}

func (d *decoder) u16(what string) uint16 {
	p := d.take(2, what)
	if p == nil {
		return 0
	}
	return binary.BigEndian.Uint16(p)
}

func (d *decoder) u32(what string) uint32 {
	p := d.take(4, what)
	if p == nil {
		return 0
	}
	return binary.BigEndian.Uint32(p)
}

func (d *decoder) u64(what string) uint64 {
	p := d.take(8, what)
	if p == nil {
		return 0
	}
	return binary.BigEndian.Uint64(p)
}

// pad skips n bytes of padding.
func (d *decoder) pad(n int) { d.take(n, "padding") }

// bytes returns a copy of the next n bytes.
func (d *decoder) bytes(n int, what string) []byte {
	p := d.take(n, what)
	if p == nil {
		return nil
	}
	return append([]byte(nil), p...)
}

// rest returns a copy of what is left, or nil if nothing is.
func (d *decoder) rest() []byte {
	if d.failed() || len(d.b) == 0 {
		return nil
	}
	return d.bytes(len(d.b), "rest")
}

// sub returns a decoder over the next n bytes and advances past them. On a
// short input the sub-decoder is empty and the error is recorded.
func (d *decoder) sub(n int, what string) *decoder {
	base := d.base
	p := d.take(n, what)
	return &decoder{b: p, base: base, msg: d.msg, err: d.err}
}

// str reads a fixed-size NUL-padded string.
func (d *decoder) str(n int, what string) string {
	p := d.take(n, what)
	for i, c := range p {
		if c == 0 {
			return string(p[:i])
		}
	}
	return string(p)
}

// putStr writes s NUL-padded into b, truncating it to leave a NUL.
func putStr(b []byte, s string) {
	n := copy(b[:len(b)-1], s)
	clear(b[n:])
}

// tlvLen reads the length of a type-length element whose length field sits
// at lenOff in the element, and checks it against the element's minimum
// size, its alignment and what is left of the input.
func (d *decoder) tlvLen(lenOff, min, align int, what string) int {
	if d.failed() {
		return 0
	}
	if len(d.b) < lenOff+2 {
		d.take(lenOff+2, what)
		return 0
	}
	n := int(binary.BigEndian.Uint16(d.b[lenOff:]))
	switch {
	case n < min:
		d.fail("%s: length %d shorter than %d", what, n, min)
	case align > 1 && n%align != 0:
		d.fail("%s: length %d not a multiple of %d", what, n, align)
	case n > len(d.b):
		d.fail("%s: length %d overruns the %d bytes left", what, n, len(d.b))
	default:
		return n
	}
	return 0
}

var be = binary.BigEndian
