package statecodec

import (
	"strings"
	"testing"
)

// The first short read fails the reader for good, at its offset; later
// reads return zeros and do not move.
func TestReaderFailureSticks(t *testing.T) {
	r := NewReader("x: state", []byte{0, 1, 0, 0, 0, 2, 9})
	if r.U16() != 1 || r.U32() != 2 || r.Err() != nil || r.Left() != 1 {
		t.Fatalf("reads of a whole input: err %v, left %d", r.Err(), r.Left())
	}
	if v := r.U16(); v != 0 || r.Err() == nil || !strings.Contains(r.Err().Error(), "x: state: truncated at byte 6") {
		t.Fatalf("short read: %d, %v", v, r.Err())
	}
	first := r.Err()
	if r.U8() != 0 || r.CopyBytes(1) != nil || r.Fail("other") != first || r.Left() != 1 {
		t.Errorf("reads after the failure: err %v, left %d", r.Err(), r.Left())
	}
}
