package proxy46

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/sixgate/sixgate/packet"
)

// A backend that dies in the middle of a download: once the engine is told
// (BackendDown), the client gets a reset instead of waiting forever.
func TestBackendDownResetsClient(t *testing.T) {
	f := e2eFabric(t, impairment{}, impairment{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := f.dial(ctx, 9000) // round robin onto host A's bulk server
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var hdr [24]byte
	binary.BigEndian.PutUint64(hdr[8:], 1<<30) // ask for 1 GiB down
	if _, err := c.Write(hdr[:]); err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(io.Discard, c, 1<<20); err != nil {
		t.Fatalf("first MiB: %v", err)
	}

	f.backends[hostA].dead.Store(true)
	out := packet.NewBatch(4, 2048)
	if n := f.engine.BackendDown(hostA, out); n != 1 {
		t.Fatalf("BackendDown affected %d connections, want 1", n)
	}
	f.send(out)

	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = io.Copy(io.Discard, c)
	var ne interface{ Timeout() bool }
	if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("client read ended with %v, want a connection reset", err)
	}
	if st := f.engine.Stats(); st.BackendLost != 1 || f.engine.Len() != 0 {
		t.Errorf("BackendLost %d, %d connections left", st.BackendLost, f.engine.Len())
	}
}
