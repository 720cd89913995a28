// Package lab lets a program, not only a test, drive the end-to-end test
// harness (test/ovs): it stands in for testing.TB, turning a failed step
// into an error and running the registered clean-ups (namespaces, bridges,
// processes) when the program is done or interrupted.
package lab

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// T implements the part of testing.TB that test/ovs uses. The embedded
// interface is nil: calling a method T does not define panics, which the
// harness never does.
type T struct {
	testing.TB

	log  io.Writer
	name string

	mu       sync.Mutex
	cleanups []func()
	dirs     int
	base     string
	failed   bool
	errs     []error
}

// New returns a T logging to log (nil for none).
func New(name string, log io.Writer) *T {
	if log == nil {
		log = io.Discard
	}
	return &T{name: name, log: log}
}

// stepFailed is what Fatal panics with; Do recovers it.
type stepFailed struct{ msg string }

// Do runs step and returns the error of a Fatal inside it, if any, and of
// any Error it reported.
func (t *T) Do(step func()) (err error) {
	t.mu.Lock()
	t.errs = nil
	t.mu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(stepFailed)
			if !ok {
				panic(r)
			}
			err = errors.New(f.msg)
			return
		}
		t.mu.Lock()
		err = errors.Join(t.errs...)
		t.mu.Unlock()
	}()
	step()
	return nil
}

func (t *T) Helper()      {}
func (t *T) Name() string { return t.name }

func (t *T) Failed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failed
}

func (t *T) Logf(format string, args ...any) { fmt.Fprintf(t.log, format+"\n", args...) }
func (t *T) Log(args ...any)                 { fmt.Fprintln(t.log, args...) }

func (t *T) Errorf(format string, args ...any) { t.fail(fmt.Sprintf(format, args...)) }
func (t *T) Error(args ...any)                 { t.fail(fmt.Sprint(args...)) }

func (t *T) fail(msg string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.failed = true
	t.errs = append(t.errs, errors.New(msg))
}

func (t *T) Fatalf(format string, args ...any) { t.fatal(fmt.Sprintf(format, args...)) }
func (t *T) Fatal(args ...any)                 { t.fatal(fmt.Sprint(args...)) }
func (t *T) FailNow()                          { t.fatal("failed") }
func (t *T) Skipf(format string, args ...any)  { t.fatal(fmt.Sprintf(format, args...)) }

func (t *T) fatal(msg string) {
	t.mu.Lock()
	t.failed = true
	t.mu.Unlock()
	panic(stepFailed{msg})
}

// Cleanup registers f to run at Close, last registered first.
func (t *T) Cleanup(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cleanups = append(t.cleanups, f)
}

// TempDir returns a new directory, removed at Close.
func (t *T) TempDir() string {
	t.mu.Lock()
	if t.base == "" {
		base, err := os.MkdirTemp("", "sixgate-bench-")
		if err != nil {
			t.mu.Unlock()
			t.fatal(err.Error())
		}
		t.base = base
		t.cleanups = append([]func(){func() { os.RemoveAll(base) }}, t.cleanups...)
	}
	t.dirs++
	dir := filepath.Join(t.base, fmt.Sprint(t.dirs))
	t.mu.Unlock()
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.fatal(err.Error())
	}
	return dir
}

// Close runs the clean-ups, last registered first. It may be called more
// than once (on an interrupt, then on the normal way out); each runs once.
// A clean-up that fails in the harness's way is reported to the log and
// the others still run.
func (t *T) Close() {
	for {
		t.mu.Lock()
		n := len(t.cleanups)
		if n == 0 {
			t.mu.Unlock()
			return
		}
		f := t.cleanups[n-1]
		t.cleanups = t.cleanups[:n-1]
		t.mu.Unlock()
		if err := t.Do(f); err != nil {
			t.Logf("clean-up: %v", err)
		}
	}
}
