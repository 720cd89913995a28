package ovs

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BuildSixgate compiles the sixgate binary into a temporary directory of t
// and returns its path.
func BuildSixgate(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "sixgate")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/sixgate/sixgate/cmd/sixgate")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// Daemon is a running sixgate process.
type Daemon struct {
	cmd  *exec.Cmd
	logs *lockedBuffer
	done chan struct{}
	err  error
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// StartSixgate runs bin with args (any long-lived command, in fact). Its
// output is kept and printed if the test fails; the process is killed when
// the test ends if still running.
func StartSixgate(t testing.TB, bin string, args ...string) *Daemon {
	t.Helper()
	d := &Daemon{cmd: exec.Command(bin, args...), logs: &lockedBuffer{}, done: make(chan struct{})}
	d.cmd.Stdout = d.logs
	d.cmd.Stderr = d.logs
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() {
		d.err = d.cmd.Wait()
		close(d.done)
	}()
	t.Cleanup(func() {
		select {
		case <-d.done:
		default:
			d.cmd.Process.Kill()
			<-d.done
		}
		if t.Failed() {
			t.Logf("sixgate %v output:\n%s", args, d.logs.String())
		}
	})
	return d
}

// PID is the process id.
func (d *Daemon) PID() int { return d.cmd.Process.Pid }

// Logs returns what the process printed so far.
func (d *Daemon) Logs() string { return d.logs.String() }

// Signal sends sig to the process.
func (d *Daemon) Signal(sig syscall.Signal) error { return d.cmd.Process.Signal(sig) }

// Wait waits up to timeout for the process to exit and returns its exit
// code, or -1 if it is still running.
func (d *Daemon) Wait(timeout time.Duration) int {
	select {
	case <-d.done:
		return d.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		return -1
	}
}

// Stop sends SIGTERM and returns the exit code (-1 if it did not exit
// within 10 s).
func (d *Daemon) Stop() int {
	d.Signal(syscall.SIGTERM)
	return d.Wait(10 * time.Second)
}

// Kill ends the process with SIGKILL, as a crash would.
func (d *Daemon) Kill() {
	d.cmd.Process.Kill()
	<-d.done
}

// WriteFile writes data to a file in t's temporary directory and returns
// its path.
func WriteFile(t testing.TB, name, data string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
