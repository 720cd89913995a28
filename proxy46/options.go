package proxy46

import (
	"encoding/binary"

	"github.com/sixgate/sixgate/packet"
)

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
	it := packet.NewTCPOptions(opts)
	for it.Next() {
		d := it.Data()
		switch l := it.Len(); it.Kind() {
		case packet.TCPOptMSS:
			if l == packet.TCPOptMSSLen {
				o.mss, o.hasMSS = binary.BigEndian.Uint16(d), true
			}
		case packet.TCPOptWindowScale:
			if l == packet.TCPOptWindowScaleLen {
				o.wscale, o.hasWScale = min(d[0], packet.TCPMaxWindowScale), true
			}
		case packet.TCPOptSACKPermitted:
			o.sackOK = o.sackOK || l == packet.TCPOptSACKPermittedLen
		case packet.TCPOptTimestamps:
			if l == packet.TCPOptTimestampsLen {
				o.hasTS, o.tsVal, o.tsEcr = true, binary.BigEndian.Uint32(d), binary.BigEndian.Uint32(d[4:])
			}
		}
	}
	return o
}

// findTimestamp returns the offset within opts of the timestamp option's
// TSval, or -1 if there is none; ok is false for options that overrun
// before a timestamp option is found. It is the established path's
// option walk.
func findTimestamp(opts []byte) (off int, ok bool) {
	it := packet.NewTCPOptions(opts)
	for it.Next() {
		if it.Kind() == packet.TCPOptTimestamps && it.Len() == packet.TCPOptTimestampsLen {
			return it.Offset() + 2, true
		}
	}
	return -1, !it.Malformed()
}

// optionWriter lays out handshake options, padding with NOPs so that the
// total is a multiple of four and the 32-bit fields stay aligned.
type optionWriter struct {
	buf [40]byte
	n   int
}

func (w *optionWriter) mss(v uint16) {
	w.buf[w.n], w.buf[w.n+1] = packet.TCPOptMSS, packet.TCPOptMSSLen
	binary.BigEndian.PutUint16(w.buf[w.n+2:], v)
	w.n += 4
}

// sackAndTimestamps writes SACK-permitted and timestamps in the usual
// 12-byte arrangement.
func (w *optionWriter) sackAndTimestamps(sack, ts bool, tsVal, tsEcr uint32) {
	switch {
	case sack && ts:
		w.buf[w.n], w.buf[w.n+1] = packet.TCPOptSACKPermitted, packet.TCPOptSACKPermittedLen
		w.n += 2
	case ts:
		w.buf[w.n], w.buf[w.n+1] = packet.TCPOptNOP, packet.TCPOptNOP
		w.n += 2
	case sack:
		w.buf[w.n], w.buf[w.n+1], w.buf[w.n+2], w.buf[w.n+3] = packet.TCPOptNOP, packet.TCPOptNOP, packet.TCPOptSACKPermitted, packet.TCPOptSACKPermittedLen
		w.n += 4
		return
	default:
		return
	}
	w.timestamps(tsVal, tsEcr)
}

// timestamps writes a bare timestamp option (10 bytes).
func (w *optionWriter) timestamps(tsVal, tsEcr uint32) {
	w.buf[w.n], w.buf[w.n+1] = packet.TCPOptTimestamps, packet.TCPOptTimestampsLen
	binary.BigEndian.PutUint32(w.buf[w.n+2:], tsVal)
	binary.BigEndian.PutUint32(w.buf[w.n+6:], tsEcr)
	w.n += 10
}

// alignedTimestamps writes NOP, NOP, timestamps (12 bytes), as on every
// non-SYN segment.
func (w *optionWriter) alignedTimestamps(tsVal, tsEcr uint32) {
	w.buf[w.n], w.buf[w.n+1] = packet.TCPOptNOP, packet.TCPOptNOP
	w.n += 2
	w.timestamps(tsVal, tsEcr)
}

func (w *optionWriter) windowScale(shift uint8) {
	w.buf[w.n], w.buf[w.n+1], w.buf[w.n+2], w.buf[w.n+3] = packet.TCPOptNOP, packet.TCPOptWindowScale, packet.TCPOptWindowScaleLen, shift
	w.n += 4
}

func (w *optionWriter) bytes() []byte { return w.buf[:w.n] }
