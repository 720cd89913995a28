package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	appnat64 "github.com/sixgate/sixgate/apps/nat64"
	"github.com/sixgate/sixgate/apps/splice46"
	"github.com/sixgate/sixgate/handover"
	"github.com/sixgate/sixgate/sdnotify"
)

// The apps whose engines keep state hand it over.
var (
	_ handoverApp = (*splice46.App)(nil)
	_ handoverApp = (*appnat64.App)(nil)
)

// recordingApp is an app in a hand-over that records what it was asked.
type recordingApp struct {
	mu                 sync.Mutex
	quiesced, resumed  int
	exportErr          error
	adopted            map[string]handover.Section
	file               *os.File // handed over with the state
	stateWhileQuiesced bool
}

func (a *recordingApp) Name() string { return "recording" }
func (a *recordingApp) Quiesce() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.quiesced++
}
func (a *recordingApp) Resume() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.resumed++
}
func (a *recordingApp) HandoverSections() ([]handover.Section, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stateWhileQuiesced = a.quiesced > a.resumed
	if a.exportErr != nil {
		return nil, a.exportErr
	}
	f, err := dupFile(a.file)
	if err != nil {
		return nil, err
	}
	return []handover.Section{{Name: "recording.state", Data: []byte("state"), Files: []*os.File{f}}}, nil
}
func (a *recordingApp) AdoptSections(secs map[string]handover.Section) error {
	a.adopted = secs
	return nil
}
func (a *recordingApp) counts() (int, int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.quiesced, a.resumed
}

func dupFile(f *os.File) (*os.File, error) {
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

// source starts the running process's end of a hand-over on a socket in a
// temporary directory.
func source(t *testing.T, app *recordingApp) (*handoverSource, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "handover.sock")
	l, err := handover.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	src := &handoverSource{l: l, apps: []handoverApp{app}, log: quietLog(), done: make(chan struct{}),
		files: func() ([]handover.Section, error) { return nil, nil }}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go src.serve(ctx)
	return src, path
}

// TestHandoverFailuresResume: a process taking over that dies after it
// received the state, or that the running one cannot export to, leaves
// the running one serving: its app is resumed and it accepts the next
// one, which succeeds.
func TestHandoverFailuresResume(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	app := &recordingApp{file: w}
	src, path := source(t, app)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// Dies after the state arrived, before confirming.
	c, secs, err := takeOver(ctx, path, quietLog())
	if err != nil || c == nil {
		t.Fatalf("take over: %v", err)
	}
	if s := secs["recording.state"]; string(s.Data) != "state" || len(s.Files) != 1 {
		t.Fatalf("sections %+v", secs)
	}
	closeSections(secs)
	c.Close()
	if !waitFor(5*time.Second, func() bool { q, r := app.counts(); return q == 1 && r == 1 }) {
		q, r := app.counts()
		t.Fatalf("after the new process died: quiesced %d, resumed %d; want 1 and 1", q, r)
	}
	select {
	case <-src.done:
		t.Fatal("hand-over reported complete without a confirmation")
	default:
	}

	// The running process cannot export: the new one is told why.
	app.mu.Lock()
	app.exportErr = errors.New("engine busy")
	app.mu.Unlock()
	if _, _, err := takeOver(ctx, path, quietLog()); err == nil {
		t.Fatal("take over succeeded although the export failed")
	}
	if !waitFor(5*time.Second, func() bool { _, r := app.counts(); return r == 2 }) {
		t.Fatal("not resumed after a failed export")
	}

	// And a hand-over that completes.
	app.mu.Lock()
	app.exportErr = nil
	app.mu.Unlock()
	c, secs, err = takeOver(ctx, path, quietLog())
	if err != nil || c == nil {
		t.Fatalf("take over: %v", err)
	}
	defer closeSections(secs)
	if _, err := secs["recording.state"].Files[0].WriteString("via the new process"); err != nil {
		t.Fatal(err)
	}
	if err := c.SendReady(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-src.done:
	case <-time.After(5 * time.Second):
		t.Fatal("hand-over not complete after the confirmation")
	}
	if q, r := app.counts(); q != 3 || r != 2 || !app.stateWhileQuiesced {
		t.Errorf("quiesced %d, resumed %d, exported while quiesced %v; want 3, 2, true", q, r, app.stateWhileQuiesced)
	}
	buf := make([]byte, 64)
	n, _ := r.Read(buf)
	if string(buf[:n]) != "via the new process" {
		t.Errorf("descriptor passed: read %q", buf[:n])
	}
}

// TestTakeOverColdStart: no process on the socket is a cold start.
func TestTakeOverColdStart(t *testing.T) {
	c, secs, err := takeOver(context.Background(), filepath.Join(t.TempDir(), "none.sock"), quietLog())
	if c != nil || secs != nil || err != nil {
		t.Errorf("cold start: %v, %v, %v", c, secs, err)
	}
}

func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return cond()
}

func quietLog() *logrus.Entry {
	log := logrus.New()
	log.SetOutput(io.Discard)
	return logrus.NewEntry(log)
}

// startDaemonArgs runs this test binary as sixgate with args and env added.
// Its output goes to a file: a process it starts (SIGUSR2) inherits it and
// may outlive it.
func startDaemonArgs(t *testing.T, args []string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), append([]string{"SIXGATE_AS_MAIN=1"}, env...)...)
	logs, err := os.CreateTemp(t.TempDir(), "sixgate-*.log")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		logs.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logs.Name())
			t.Logf("sixgate %v output:\n%s", args, b)
		}
	})
	return cmd
}

// TestNotifyHandover: under systemd (Type=notify, NotifyAccess=all) the
// process taking over names itself the main process with its readiness,
// and the one it replaces exits 0 without saying the service stops. By
// hand (a second process) and by SIGUSR2 (the process starts its own
// replacement), one after the other.
func TestNotifyHandover(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	n := listenNotify(t, sock)
	path, _ := capsFile(t, freeTCPPort(t), "off", false)
	args := []string{"-config", path, "-handover", filepath.Join(t.TempDir(), "handover.sock")}
	first := startDaemonArgs(t, args, "NOTIFY_SOCKET="+sock)
	if got := n.next(10 * time.Second); !strings.HasPrefix(got, "READY=1\n") {
		t.Fatalf("first notification %q, want READY=1", got)
	}

	second := startDaemonArgs(t, args, "NOTIFY_SOCKET="+sock)
	if pid := nextMainPID(t, n); pid != second.Process.Pid {
		t.Fatalf("MAINPID=%d from the process taking over, want %d", pid, second.Process.Pid)
	}
	if err := first.Wait(); err != nil {
		t.Fatalf("the replaced process: %v", err)
	}

	// SIGUSR2: the running process starts the next one itself.
	if err := second.Process.Signal(syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	third := nextMainPID(t, n)
	if third == second.Process.Pid {
		t.Fatal("SIGUSR2: no new process")
	}
	if err := second.Wait(); err != nil {
		t.Fatalf("the process replaced on SIGUSR2: %v", err)
	}
	// The third process serves, and stops as a service does.
	p, err := os.FindProcess(third)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for got := ""; got != "STOPPING=1\n"; {
		got = n.next(5 * time.Second)
	}
}

// nextMainPID reads notifications up to a MAINPID= and returns it; a
// STOPPING=1 on the way fails the test (a replaced process must not say
// the service stops).
func nextMainPID(t *testing.T, n *notifyListener) int {
	t.Helper()
	for range 20 {
		got := n.next(10 * time.Second)
		if got == "STOPPING=1\n" {
			t.Fatal("STOPPING=1 during a hand-over")
		}
		var pid int
		if _, err := fmt.Sscanf(got, "MAINPID=%d\n", &pid); err == nil {
			if !strings.Contains(got, "\nREADY=1\n") {
				t.Errorf("MAINPID without READY=1: %q", got)
			}
			return pid
		}
	}
	t.Fatal("no MAINPID=")
	return 0
}

// TestHandoverTakerDies: a process that takes the state and dies before
// confirming leaves the running daemon serving, and the next hand-over
// succeeds.
func TestHandoverTakerDies(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	n := listenNotify(t, sock)
	path, _ := capsFile(t, freeTCPPort(t), "off", false)
	hsock := filepath.Join(t.TempDir(), "handover.sock")
	args := []string{"-config", path, "-handover", hsock}
	old := startDaemonArgs(t, args, "NOTIFY_SOCKET="+sock)
	if got := n.next(10 * time.Second); !strings.HasPrefix(got, "READY=1\n") {
		t.Fatalf("first notification %q, want READY=1", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var c *handover.Conn
	var secs map[string]handover.Section
	// The socket opens once the daemon serves, beside READY=1.
	if !waitFor(10*time.Second, func() bool {
		var err error
		c, secs, err = takeOver(ctx, hsock, quietLog())
		if err != nil {
			t.Fatalf("take over: %v", err)
		}
		return c != nil
	}) {
		t.Fatal("the daemon does not listen on its hand-over socket")
	}
	if _, ok := secs[sectionOpenFlow]; !ok {
		t.Errorf("no OpenFlow listener handed over: %v", secs)
	}
	closeSections(secs)
	c.Close() // dies before confirming

	next := startDaemonArgs(t, args, "NOTIFY_SOCKET="+sock)
	if pid := nextMainPID(t, n); pid != next.Process.Pid {
		t.Fatalf("MAINPID=%d, want %d", pid, next.Process.Pid)
	}
	if err := old.Wait(); err != nil {
		t.Fatalf("old daemon after the second hand-over: %v", err)
	}
	logs, _ := os.ReadFile(old.Stdout.(*os.File).Name())
	if !strings.Contains(string(logs), "hand-over failed; this process serves on") {
		t.Errorf("the failed hand-over was not logged:\n%s", logs)
	}
	next.Process.Signal(syscall.SIGTERM)
	if err := next.Wait(); err != nil {
		t.Errorf("new daemon: %v", err)
	}
}

// TestUpgradeEnv: the process started on SIGUSR2 feeds the watchdog that
// was this one's; anything else is passed on.
func TestUpgradeEnv(t *testing.T) {
	env := upgradeEnv([]string{"NOTIFY_SOCKET=/run/systemd/notify", "WATCHDOG_USEC=90000000", "WATCHDOG_PID=42", "PATH=/usr/bin"}, 42)
	if strings.Join(env, " ") != "NOTIFY_SOCKET=/run/systemd/notify WATCHDOG_USEC=90000000 PATH=/usr/bin" {
		t.Errorf("env %q", env)
	}
	// The new process, with that environment, feeds the watchdog.
	t.Setenv("WATCHDOG_USEC", "90000000")
	t.Setenv("WATCHDOG_PID", "")
	os.Unsetenv("WATCHDOG_PID")
	if every, ok, err := sdnotify.WatchdogInterval(); !ok || err != nil || every != 45*time.Second {
		t.Errorf("the new process would not feed the watchdog: %v %v %v", every, ok, err)
	}
	other := upgradeEnv([]string{"WATCHDOG_PID=7"}, 42)
	if len(other) != 1 {
		t.Errorf("a watchdog for another process was dropped: %q", other)
	}
}
