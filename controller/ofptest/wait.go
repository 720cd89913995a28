package ofptest

import (
	"testing"
	"time"

	"github.com/sixgate/sixgate/controller/ofp"
)

// WaitFor polls cond every 5 ms until it holds, failing t after 10 s with
// what was awaited.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// PacketOuts returns the packet-outs received so far, in order.
func (s *Switch) PacketOuts() []*ofp.PacketOut {
	var out []*ofp.PacketOut
	for _, m := range s.Received() {
		if p, ok := m.(*ofp.PacketOut); ok {
			out = append(out, p)
		}
	}
	return out
}
