package packet

import (
	"strconv"
	"testing"
)

func BenchmarkSum(b *testing.B) {
	for _, n := range []int{64, 1460} {
		buf := payloadOf(n)
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(n))
			var sink uint16
			for b.Loop() {
				sink += Sum(buf)
			}
			_ = sink
		})
	}
}

// BenchmarkTCPOptions walks the options of a data segment (NOP, NOP,
// timestamps) and of a Linux SYN.
func BenchmarkTCPOptions(b *testing.B) {
	cases := []struct {
		name string
		opts []byte
	}{
		{"timestamps", []byte{TCPOptNOP, TCPOptNOP, TCPOptTimestamps, 10, 0, 0, 0, 1, 0, 0, 0, 2}},
		{"syn", []byte{TCPOptMSS, 4, 5, 0xb4, TCPOptSACKPermitted, 2, TCPOptTimestamps, 10, 0, 0, 0, 1, 0, 0, 0, 0, TCPOptNOP, TCPOptWindowScale, 3, 7}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var sink int
			for b.Loop() {
				it := NewTCPOptions(c.opts)
				for it.Next() {
					if it.Kind() == TCPOptTimestamps {
						sink += it.Offset()
					}
				}
			}
			_ = sink
		})
	}
}
