package ofp

import (
	"errors"
	"fmt"
	"io"
)

// Reader frames OpenFlow messages read from a byte stream (a TCP
// connection, a capture file) by the length in their headers.
type Reader struct {
	r   io.Reader
	buf []byte
	off int64 // stream offset of the next message, for errors
	// part is how many bytes of the next message a read that failed
	// (a deadline) had already taken: the next ReadRaw goes on from
	// there, so a reader interrupted on purpose loses nothing.
	part int
}

// NewReader returns a Reader that reads messages from r. It does its own
// reads of exactly the bytes each message needs, so r need not be
// buffered and nothing past the last message is consumed.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: r, buf: make([]byte, HeaderLen, 1024)}
}

// ReadRaw returns the bytes of the next message, header included. They are
// valid until the next call. At a clean end of stream it returns io.EOF; a
// message cut short returns io.ErrUnexpectedEOF; a header length shorter
// than the header is a *DecodeError, since the stream cannot be framed
// past it. After another error (a read deadline), the bytes of the message
// read so far are kept (Partial) and the next call goes on with it.
func (r *Reader) ReadRaw() ([]byte, error) {
	if r.part < HeaderLen {
		r.buf = r.buf[:HeaderLen]
		n, err := io.ReadFull(r.r, r.buf[r.part:])
		r.part += n
		if err != nil {
			if errors.Is(err, io.EOF) && r.part > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	_, typ, length, _, _ := PeekHeader(r.buf)
	if int(length) < HeaderLen {
		return nil, &DecodeError{Msg: typ.String(), Offset: 2,
			Err: fmt.Errorf("length %d shorter than the header, at stream offset %d", length, r.off)}
	}
	if cap(r.buf) < int(length) {
		r.buf = append(r.buf[:r.part], make([]byte, int(length)-r.part)...)
	}
	r.buf = r.buf[:length]
	n, err := io.ReadFull(r.r, r.buf[r.part:])
	r.part += n
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("ofp: %s at stream offset %d: %d-byte message: %w", typ, r.off, length, err)
	}
	r.part = 0
	r.off += int64(length)
	return r.buf, nil
}

// Partial returns the bytes of the next message read so far, after a read
// failed part way (a deadline): what another reader of the same stream
// must start with.
func (r *Reader) Partial() []byte { return r.buf[:r.part] }

// ReadMessage reads and decodes the next message. At a clean end of
// stream it returns io.EOF. A message that frames correctly but does not
// decode returns the *DecodeError and leaves the stream at the next
// message, so a caller may log and go on.
func (r *Reader) ReadMessage() (Message, error) {
	b, err := r.ReadRaw()
	if err != nil {
		return nil, err
	}
	return Decode(b)
}
