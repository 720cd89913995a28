package handover

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pair returns both ends of a hand-over on a socket in a temporary
// directory.
func pair(t *testing.T) (old, taker *Conn) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "handover.sock")
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode: %v, %v", fi.Mode(), err)
	}
	accepted := make(chan *Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			t.Error(err)
		}
		accepted <- c
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	taker, err = Dial(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	old = <-accepted
	for _, c := range []*Conn{old, taker} {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		t.Cleanup(func() { c.Close() })
	}
	return old, taker
}

// TestHandoverSections passes state and descriptors: what the receiver
// writes into a passed pipe comes out of the sender's end.
func TestHandoverSections(t *testing.T) {
	old, taker := pair(t)
	r1, w1, _ := os.Pipe()
	r2, w2, _ := os.Pipe()
	defer r1.Close()
	defer r2.Close()
	sent := []Section{
		{Name: "splice46", Data: bytes.Repeat([]byte{0xab}, 1<<20), Files: []*os.File{w1, w2}},
		{Name: "controller.listener", Data: []byte("tcp:127.0.0.1:6653")},
		{Name: "empty"},
	}
	errc := make(chan error, 1)
	go func() {
		pid, err := old.ReadHello()
		if err == nil && pid != os.Getpid() {
			err = errors.New("wrong pid in hello")
		}
		if err == nil {
			err = old.SendSections(sent)
		}
		w1.Close()
		w2.Close()
		if err == nil {
			err = old.ReadReady()
		}
		errc <- err
	}()
	if err := taker.SendHello(); err != nil {
		t.Fatal(err)
	}
	got, err := taker.ReadSections()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d sections", len(got))
	}
	for i, s := range got {
		if s.Name != sent[i].Name || !bytes.Equal(s.Data, sent[i].Data) || len(s.Files) != len(sent[i].Files) {
			t.Errorf("section %d: %q, %d bytes, %d files", i, s.Name, len(s.Data), len(s.Files))
		}
	}
	for i, r := range []*os.File{r1, r2} {
		if _, err := got[0].Files[i].WriteString("through"); err != nil {
			t.Fatal(err)
		}
		got[0].Files[i].Close()
		b, _ := io.ReadAll(r)
		if string(b) != "through" {
			t.Errorf("passed descriptor %d: read %q", i, b)
		}
	}
	if err := taker.SendReady(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// TestHandoverPeerGone: the process taking over dies after the state was
// sent; the running one sees an error instead of a ready, and resumes.
func TestHandoverPeerGone(t *testing.T) {
	old, taker := pair(t)
	go func() {
		taker.SendHello()
		taker.ReadSections()
		taker.Close()
	}()
	if _, err := old.ReadHello(); err != nil {
		t.Fatal(err)
	}
	if err := old.SendSections([]Section{{Name: "x", Data: []byte("y")}}); err != nil {
		t.Fatal(err)
	}
	if err := old.ReadReady(); err == nil {
		t.Fatal("ready from a closed peer")
	}
}

// TestHandoverAbort: a running process that cannot hand over says why.
func TestHandoverAbort(t *testing.T) {
	old, taker := pair(t)
	go func() { old.Abort("quiesce: timeout") }()
	if _, err := taker.ReadSections(); err == nil || !strings.Contains(err.Error(), "quiesce: timeout") {
		t.Fatalf("abort: %v", err)
	}
}

// TestHandoverNoPeer: nobody listening is a cold start, not an error.
func TestHandoverNoPeer(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	if _, err := Dial(ctx, filepath.Join(dir, "none.sock")); !errors.Is(err, ErrNoPeer) {
		t.Errorf("missing socket: %v", err)
	}
	// A socket left by a process that is gone.
	l, err := Listen(filepath.Join(dir, "stale.sock"))
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if _, err := Dial(ctx, filepath.Join(dir, "stale.sock")); !errors.Is(err, ErrNoPeer) {
		t.Errorf("stale socket: %v", err)
	}
	if l, err = Listen(filepath.Join(dir, "stale.sock")); err != nil {
		t.Fatalf("listen over a stale socket: %v", err)
	}
	l.Close()
	os.WriteFile(filepath.Join(dir, "file"), nil, 0o600)
	if _, err := Listen(filepath.Join(dir, "file")); err == nil {
		t.Error("listen replaced a regular file")
	}
}

// TestHandoverBadFrames: a hostile stream is an error, never a large
// allocation.
func TestHandoverBadFrames(t *testing.T) {
	for name, in := range map[string][]byte{
		"huge":      {frameSection, 0xff, 0xff, 0xff, 0xff},
		"short":     {frameSection, 0, 0, 0, 10, 1},
		"no name":   {frameSection, 0, 0, 0, 3, 0, 0, 0},
		"too files": {frameSection, 0, 0, 0, 4, 1, 'a', 0xff, 0xff},
		"bad end":   {frameEnd, 0, 0, 0, 2, 0, 9},
		"unknown":   {99, 0, 0, 0, 0},
	} {
		if _, err := decodeStream(bytes.NewReader(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// decodeStream reads frames as ReadSections does, without descriptors.
func decodeStream(r io.Reader) ([]Section, error) {
	var secs []Section
	for {
		t, p, err := readFrame(r)
		if err != nil {
			return secs, err
		}
		switch t {
		case frameEnd:
			if len(p) != 2 || int(p[0])<<8|int(p[1]) != len(secs) {
				return secs, errors.New("bad end")
			}
			return secs, nil
		case frameSection:
			s, _, err := parseSection(p)
			if err != nil {
				return secs, err
			}
			secs = append(secs, s)
			if len(secs) > MaxSections {
				return secs, errors.New("too many")
			}
		default:
			return secs, errors.New("unexpected frame")
		}
	}
}

// FuzzFrames: any stream decodes to sections or an error.
func FuzzFrames(f *testing.F) {
	f.Add([]byte{frameSection, 0, 0, 0, 6, 1, 'a', 0, 0, 'x', 'y', frameEnd, 0, 0, 0, 2, 0, 1})
	f.Add([]byte{frameHello, 0, 0, 0, 1, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		decodeStream(bytes.NewReader(data))
	})
}
