package proxy46

import "encoding/binary"

// synOptions are the TCP options that matter in a handshake.
type synOptions struct {
	mss       uint16
	hasMSS    bool
	wscale    uint8
	hasWScale bool
	sackOK    bool
	hasTS     bool
	tsVal     uint32
	tsEcr     uint32
}

// parseSynOptions reads the options of a SYN or SYN-ACK. Malformed options
// end the walk; what was read so far is kept, as a host would.
func parseSynOptions(opts []byte) synOptions {
	var o synOptions
	for i := 0; i < len(opts); {
		kind := opts[i]
		if kind == optEnd {
			break
		}
		if kind == optNOP {
			i++
			continue
		}
		if i+1 >= len(opts) {
			break
		}
		l := int(opts[i+1])
		if l < 2 || i+l > len(opts) {
			break
		}
		switch {
		case kind == optMSS && l == 4:
			o.mss, o.hasMSS = binary.BigEndian.Uint16(opts[i+2:]), true
		case kind == optWScale && l == 3:
			o.wscale, o.hasWScale = min(opts[i+2], maxWindowScale), true
		case kind == optSACKPerm && l == 2:
			o.sackOK = true
		case kind == optTimestamp && l == 10:
			o.hasTS = true
			o.tsVal = binary.BigEndian.Uint32(opts[i+2:])
			o.tsEcr = binary.BigEndian.Uint32(opts[i+6:])
		}
		i += l
	}
	return o
}

// optsMalformed is what findTimestamp returns for options that overrun.
const optsMalformed = -2

// findTimestamp returns the offset within opts of the timestamp option's
// TSval, -1 if there is none, or optsMalformed. It is the established
// path's option walk.
func findTimestamp(opts []byte) int {
	for i := 0; i < len(opts); {
		kind := opts[i]
		if kind == optEnd {
			return -1
		}
		if kind == optNOP {
			i++
			continue
		}
		if i+1 >= len(opts) {
			return optsMalformed
		}
		l := int(opts[i+1])
		if l < 2 || i+l > len(opts) {
			return optsMalformed
		}
		if kind == optTimestamp && l == 10 {
			return i + 2
		}
		i += l
	}
	return -1
}

// optionWriter lays out handshake options, padding with NOPs so that the
// total is a multiple of four and the 32-bit fields stay aligned.
type optionWriter struct {
	buf [40]byte
	n   int
}

func (w *optionWriter) mss(v uint16) {
	w.buf[w.n], w.buf[w.n+1] = optMSS, 4
	binary.BigEndian.PutUint16(w.buf[w.n+2:], v)
	w.n += 4
}

// sackAndTimestamps writes SACK-permitted and timestamps in the usual
// 12-byte arrangement.
func (w *optionWriter) sackAndTimestamps(sack, ts bool, tsVal, tsEcr uint32) {
	switch {
	case sack && ts:
		w.buf[w.n], w.buf[w.n+1] = optSACKPerm, 2
		w.n += 2
	case ts:
		w.buf[w.n], w.buf[w.n+1] = optNOP, optNOP
		w.n += 2
	case sack:
		w.buf[w.n], w.buf[w.n+1], w.buf[w.n+2], w.buf[w.n+3] = optNOP, optNOP, optSACKPerm, 2
		w.n += 4
		return
	default:
		return
	}
	w.timestamps(tsVal, tsEcr)
}

// timestamps writes a bare timestamp option (10 bytes).
func (w *optionWriter) timestamps(tsVal, tsEcr uint32) {
	w.buf[w.n], w.buf[w.n+1] = optTimestamp, 10
	binary.BigEndian.PutUint32(w.buf[w.n+2:], tsVal)
	binary.BigEndian.PutUint32(w.buf[w.n+6:], tsEcr)
	w.n += 10
}

// alignedTimestamps writes NOP, NOP, timestamps (12 bytes), as on every
// non-SYN segment.
func (w *optionWriter) alignedTimestamps(tsVal, tsEcr uint32) {
	w.buf[w.n], w.buf[w.n+1] = optNOP, optNOP
	w.n += 2
	w.timestamps(tsVal, tsEcr)
}

func (w *optionWriter) windowScale(shift uint8) {
	w.buf[w.n], w.buf[w.n+1], w.buf[w.n+2], w.buf[w.n+3] = optNOP, optWScale, 3, shift
	w.n += 4
}

func (w *optionWriter) bytes() []byte { return w.buf[:w.n] }
