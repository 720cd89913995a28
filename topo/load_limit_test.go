//go:build linux

package topo

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestLoadRefusesAFileOverTheLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.yaml")
	data := []byte("# " + strings.Repeat("x", MaxFileSize) + "\n")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	var list Errors
	if !errors.As(err, &list) || len(list) != 1 {
		t.Fatalf("Load = %v, want one error", err)
	}
	if want := path + ": file is larger than the 4194304 bytes allowed"; list[0].Error() != want {
		t.Errorf("error %q, want %q", list[0], want)
	}

	// A file of exactly the limit is read (and then parsed).
	if err := os.WriteFile(path, data[:MaxFileSize], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err != nil && strings.Contains(err.Error(), "allowed") {
		t.Errorf("a file of %d bytes was refused for its size: %v", MaxFileSize, err)
	}
}

// TestLoadStopsReadingAtTheLimit feeds Load a file that never ends, a FIFO:
// Load must stop at the limit rather than read it all.
func TestLoadStopsReadingAtTheLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "endless.yaml")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatalf("mkfifo: %v", err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		w, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		defer w.Close()
		chunk := []byte(strings.Repeat("# endless\n", 6554))
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := w.Write(chunk); err != nil {
				return // the reader stopped
			}
		}
	}()
	done := make(chan error, 1)
	go func() {
		_, err := Load(path)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "larger than") {
			t.Errorf("Load = %v, want the size error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Load still reading an endless file after 10s")
	}
}
