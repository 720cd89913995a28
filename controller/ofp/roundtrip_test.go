package ofp

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRyuRoundTrip(t *testing.T) {
	files, err := filepath.Glob("testdata/ryu-of13/packets/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test data: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			m, err := Decode(b)
			if strings.HasSuffix(f, ".truncated64") {
				if err == nil {
					t.Fatalf("truncated message decoded as %T", m)
				}
				return
			}
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			out, err := Marshal(m)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			if !bytes.Equal(out, b) {
				t.Fatalf("re-encoded %T differs:\n got %x\nwant %x", m, out, b)
			}
		})
	}
}
