package ofp

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// stutter reads its data in steps of the given sizes, failing with
// errPause between steps, as a read deadline does.
type stutter struct {
	data  []byte
	steps []int
	fail  bool
}

var errPause = errors.New("deadline")

func (s *stutter) Read(p []byte) (int, error) {
	if s.fail {
		s.fail = false
		return 0, errPause
	}
	if len(s.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(s.data))
	if len(s.steps) > 0 {
		n = min(n, s.steps[0])
		s.steps = s.steps[1:]
		s.fail = true
	}
	copy(p, s.data[:n])
	s.data = s.data[n:]
	return n, nil
}

// TestReaderResumes: a read interrupted part way through a message (in
// its header, then in its body) loses nothing: Partial holds what was
// read, and the next ReadRaw completes the message.
func TestReaderResumes(t *testing.T) {
	a, _ := Marshal(&EchoRequest{Data: bytes.Repeat([]byte("x"), 3000)})
	b, _ := Marshal(NewHello())
	stream := append(append([]byte(nil), a...), b...)
	r := NewReader(&stutter{data: stream, steps: []int{3, 5, 100, 2900, 4}})
	var got [][]byte
	partials := 0
	for range 20 {
		m, err := r.ReadRaw()
		if errors.Is(err, errPause) {
			if len(r.Partial()) > 0 {
				partials++
			}
			continue
		}
		if err == io.EOF {
			break
		}
		if err != nil && !errors.Is(err, errPause) {
			t.Fatal(err)
		}
		got = append(got, bytes.Clone(m))
	}
	if len(got) != 2 || !bytes.Equal(got[0], a) || !bytes.Equal(got[1], b) || partials == 0 {
		t.Fatalf("got %d messages (%d interrupted part way)", len(got), partials)
	}
}
