package sdnotify

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// listen opens a datagram socket as systemd's would be, at path.
func listen(t *testing.T, path string) *net.UnixConn {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func receive(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n])
}

func TestSendPathAndAbstract(t *testing.T) {
	for _, path := range []string{
		filepath.Join(t.TempDir(), "notify"),
		fmt.Sprintf("@sixgate-sdnotify-test-%d", os.Getpid()),
	} {
		c := listen(t, path)
		n := New(path)
		if !n.Enabled() {
			t.Fatalf("%s: not enabled", path)
		}
		if err := n.Send(Ready, Status("serving\n3 switches")); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if got, want := receive(t, c), "READY=1\nSTATUS=serving 3 switches\n"; got != want {
			t.Errorf("%s: got %q, want %q", path, got, want)
		}
	}
}

func TestReloadingCarriesMonotonicTime(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	c := listen(t, path)
	before := monotonicUsec()
	if err := New(path).Send(ReloadingNow()...); err != nil {
		t.Fatal(err)
	}
	got := receive(t, c)
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != 2 || lines[0] != "RELOADING=1" || !strings.HasPrefix(lines[1], "MONOTONIC_USEC=") {
		t.Fatalf("got %q", got)
	}
	us, err := strconv.ParseInt(strings.TrimPrefix(lines[1], "MONOTONIC_USEC="), 10, 64)
	if err != nil || us < before || us > monotonicUsec() {
		t.Errorf("MONOTONIC_USEC %q not between %d and now", lines[1], before)
	}
}

func TestDisabledSendsNothing(t *testing.T) {
	var nilNotifier *Notifier
	for _, n := range []*Notifier{New(""), nilNotifier, {}} {
		if n.Enabled() {
			t.Error("enabled without a socket")
		}
		if err := n.Send(Ready); err != nil {
			t.Error(err)
		}
	}
	t.Setenv("NOTIFY_SOCKET", "")
	if FromEnv().Enabled() {
		t.Error("enabled with NOTIFY_SOCKET empty")
	}
}

func TestSendRefusesBrokenAssignments(t *testing.T) {
	n := New(filepath.Join(t.TempDir(), "notify"))
	for _, a := range []string{"READY", "STATUS=a\nREADY=1"} {
		if err := n.Send(a); err == nil {
			t.Errorf("%q accepted", a)
		}
	}
}

func TestSendWithoutListener(t *testing.T) {
	if err := New(filepath.Join(t.TempDir(), "nobody")).Send(Ready); err == nil {
		t.Error("no error sending to a socket nobody listens on")
	}
}

func TestWatchdogInterval(t *testing.T) {
	for _, c := range []struct {
		usec, pid string
		want      time.Duration
		ok, err   bool
	}{
		{"", "", 0, false, false},
		{"30000000", "", 15 * time.Second, true, false},
		{"30000000", "42", 15 * time.Second, true, false},
		{"30000000", "43", 0, false, false},
		{"1000", "42", 500 * time.Microsecond, true, false},
		{"0", "", 0, false, true},
		{"-5", "", 0, false, true},
		{"soon", "", 0, false, true},
		{"30000000", "me", 0, false, true},
	} {
		got, ok, err := watchdogInterval(c.usec, c.pid, 42)
		if got != c.want || ok != c.ok || (err != nil) != c.err {
			t.Errorf("WATCHDOG_USEC=%q WATCHDOG_PID=%q: %v %v %v, want %v %v error %v", c.usec, c.pid, got, ok, err, c.want, c.ok, c.err)
		}
	}
	t.Setenv("WATCHDOG_USEC", "2000000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	if every, ok, err := WatchdogInterval(); every != time.Second || !ok || err != nil {
		t.Errorf("from the environment: %v %v %v", every, ok, err)
	}
}
