// Package statecodec reads the versioned binary encodings in which the
// engines hand their state to another process (proxy46, nat64): a bounded
// big-endian reader whose first failure sticks, so that a decoder reads on
// and checks once, and a short or hostile input is an error, never a
// panic or an allocation out of proportion to its length.
package statecodec

import (
	"encoding/binary"
	"fmt"
)

// Reader reads b from the start. Once it has failed, every read returns
// zeros and Err the first failure.
type Reader struct {
	prefix string
	b      []byte
	off    int
	err    error
}

// NewReader reads b; prefix starts its error messages ("nat64: hand-over
// state").
func NewReader(prefix string, b []byte) *Reader { return &Reader{prefix: prefix, b: b} }

// Err returns the first failure, or nil.
func (r *Reader) Err() error { return r.err }

// Fail records msg, at the current offset, as the failure unless there is
// one already, and returns the failure.
func (r *Reader) Fail(msg string) error {
	if r.err == nil {
		r.err = fmt.Errorf("%s: %s at byte %d", r.prefix, msg, r.off)
	}
	return r.err
}

// Left returns the number of bytes not read yet.
func (r *Reader) Left() int { return len(r.b) - r.off }

// Bytes returns the next n bytes (not a copy), or zeros once the input ran
// short. Callers bound n before asking.
func (r *Reader) Bytes(n int) []byte {
	if r.err != nil || n > r.Left() {
		r.Fail("truncated")
		return make([]byte, n)
	}
	v := r.b[r.off : r.off+n]
	r.off += n
	return v
}

// CopyBytes returns a copy of the next n bytes, nil for none or once the
// input ran short.
func (r *Reader) CopyBytes(n int) []byte {
	if n == 0 || r.err != nil {
		return nil
	}
	if n > r.Left() {
		r.Fail("truncated")
		return nil
	}
	return append([]byte(nil), r.Bytes(n)...)
}

func (r *Reader) U8() uint8   { return r.Bytes(1)[0] }
func (r *Reader) U16() uint16 { return binary.BigEndian.Uint16(r.Bytes(2)) }
func (r *Reader) U32() uint32 { return binary.BigEndian.Uint32(r.Bytes(4)) }
func (r *Reader) U64() uint64 { return binary.BigEndian.Uint64(r.Bytes(8)) }
