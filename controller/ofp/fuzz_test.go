package ofp

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// fuzzSeeds adds the Ryu packets and the golden messages to the corpus.
func fuzzSeeds(f *testing.F) [][]byte {
	var seeds [][]byte
	files, _ := filepath.Glob("testdata/ryu-of13/packets/*")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	for _, g := range goldenMessages {
		seeds = append(seeds, hexBytes(f, g.hex))
	}
	return seeds
}

// checkRoundTrip asserts that a decoded message encodes, and that its
// encoding decodes and encodes again to the same bytes. Decoding may
// normalise (padding bytes become zeros, a set-field's padding is
// recomputed), so the first encoding need not equal the input; the
// second must equal the first.
func checkRoundTrip(t *testing.T, m Message) {
	t.Helper()
	b1, err := Marshal(m)
	if err != nil {
		t.Fatalf("marshal of decoded %T: %v", m, err)
	}
	m2, err := Decode(b1)
	if err != nil {
		t.Fatalf("re-encoded %T does not decode: %v\n%x", m, err, b1)
	}
	b2, err := Marshal(m2)
	if err != nil {
		t.Fatalf("second marshal of %T: %v", m2, err)
	}
	if !bytes.Equal(b1, b2) {
		t.Fatalf("%T: encodings differ:\n%x\n%x", m, b1, b2)
	}
	_ = Format(m2)
}

func FuzzDecode(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %v is not a *DecodeError", err)
			}
			return
		}
		checkRoundTrip(t, m)
	})
}

func FuzzReader(f *testing.F) {
	seeds := fuzzSeeds(f)
	for i := 0; i+1 < len(seeds); i += 2 {
		f.Add(append(append([]byte(nil), seeds[i]...), seeds[i+1]...))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewReader(bytes.NewReader(b))
		for range len(b)/HeaderLen + 1 {
			m, err := r.ReadMessage()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				var de *DecodeError
				if errors.As(err, &de) {
					continue // framed but not valid: the stream goes on
				}
				return
			}
			checkRoundTrip(t, m)
		}
	})
}
