package packet

import (
	"bytes"
	"fmt"
	"testing"
)

// option is one option the walk reported.
type option struct {
	kind uint8
	off  int
	data string
}

func (o option) String() string { return fmt.Sprintf("{%d @%d %x}", o.kind, o.off, o.data) }

// walk collects what the walker reports over opts.
func walk(opts []byte) ([]option, bool) {
	var got []option
	it := NewTCPOptions(opts)
	for it.Next() {
		if it.Len() != 2+len(it.Data()) {
			panic("Len disagrees with Data")
		}
		got = append(got, option{it.Kind(), it.Offset(), string(it.Data())})
	}
	return got, it.Malformed()
}

func TestTCPOptions(t *testing.T) {
	ts := []byte{TCPOptTimestamps, 10, 0, 0, 0, 1, 0, 0, 0, 2}
	tests := []struct {
		name      string
		opts      []byte
		want      []option
		malformed bool
	}{
		{"empty", nil, nil, false},
		{"linux SYN", cat([]byte{TCPOptMSS, 4, 0x05, 0xb4, TCPOptSACKPermitted, 2}, ts, []byte{TCPOptNOP, TCPOptWindowScale, 3, 7}),
			[]option{{TCPOptMSS, 0, "\x05\xb4"}, {TCPOptSACKPermitted, 4, ""}, {TCPOptTimestamps, 6, "\x00\x00\x00\x01\x00\x00\x00\x02"}, {TCPOptWindowScale, 17, "\x07"}}, false},
		{"NOPs skipped", cat([]byte{TCPOptNOP, TCPOptNOP}, ts), []option{{TCPOptTimestamps, 2, string(ts[2:])}}, false},
		{"only NOPs", []byte{TCPOptNOP, TCPOptNOP, TCPOptNOP, TCPOptNOP}, nil, false},
		{"SACK blocks", []byte{TCPOptNOP, TCPOptNOP, TCPOptSACK, 10, 1, 2, 3, 4, 5, 6, 7, 8},
			[]option{{TCPOptSACK, 2, "\x01\x02\x03\x04\x05\x06\x07\x08"}}, false},
		{"unknown kind", []byte{254, 4, 0xab, 0xcd}, []option{{254, 0, "\xab\xcd"}}, false},
		{"End stops the walk", []byte{TCPOptMSS, 4, 0, 1, TCPOptEnd, TCPOptMSS, 4, 0, 2}, []option{{TCPOptMSS, 0, "\x00\x01"}}, false},
		{"End hides garbage", []byte{TCPOptEnd, 9, 9, 9}, nil, false},
		{"length 0", []byte{TCPOptMSS, 0, 0, 0}, nil, true},
		{"length 1", []byte{TCPOptNOP, TCPOptNOP, TCPOptMSS, 1}, nil, true},
		{"overrun", []byte{TCPOptMSS, 4, 0, 1, TCPOptTimestamps, 10, 0, 0}, []option{{TCPOptMSS, 0, "\x00\x01"}}, true},
		{"kind without length byte", []byte{TCPOptNOP, TCPOptNOP, TCPOptNOP, TCPOptSACKPermitted}, nil, true},
		{"exactly fills", []byte{TCPOptSACKPermitted, 2, TCPOptWindowScale, 3, 14}, []option{{TCPOptSACKPermitted, 0, ""}, {TCPOptWindowScale, 2, "\x0e"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, malformed := walk(tt.opts)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) || malformed != tt.malformed {
				t.Fatalf("walk = %v malformed %v, want %v malformed %v", got, malformed, tt.want, tt.malformed)
			}
			if TCPOptionsOK(tt.opts) == tt.malformed {
				t.Fatalf("TCPOptionsOK = %v, want %v", !tt.malformed, !tt.malformed)
			}
		})
	}
}

// TestTCPOptionsStaysDone checks that Next keeps reporting false once the
// walk has ended, malformed or not.
func TestTCPOptionsStaysDone(t *testing.T) {
	for _, opts := range [][]byte{{TCPOptEnd, TCPOptMSS, 4, 0, 1}, {TCPOptMSS, 1}, {TCPOptNOP}} {
		it := NewTCPOptions(opts)
		for it.Next() {
		}
		m := it.Malformed()
		if it.Next() || it.Malformed() != m {
			t.Errorf("%x: walk resumed after it ended", opts)
		}
	}
}

// TestTCPOptionsDataAliases checks that Data is the header's own bytes, so
// that an option can be rewritten in place through it.
func TestTCPOptionsDataAliases(t *testing.T) {
	opts := []byte{TCPOptNOP, TCPOptMSS, 4, 0, 1}
	it := NewTCPOptions(opts)
	if !it.Next() {
		t.Fatal("no option")
	}
	it.Data()[1] = 2
	if !bytes.Equal(opts, []byte{TCPOptNOP, TCPOptMSS, 4, 0, 2}) {
		t.Fatalf("options after writing through Data: %x", opts)
	}
}

func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
