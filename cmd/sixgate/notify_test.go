package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// freeTCPPort returns a loopback port nobody listens on right now.
func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// notifyListener is the service manager's end: a datagram socket.
type notifyListener struct {
	t    *testing.T
	conn *net.UnixConn
}

func listenNotify(t *testing.T, path string) *notifyListener {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &notifyListener{t, c}
}

// next returns the next notification, failing the test after timeout.
func (n *notifyListener) next(timeout time.Duration) string {
	n.t.Helper()
	n.conn.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, 4096)
	k, err := n.conn.Read(buf)
	if err != nil {
		n.t.Fatalf("no notification within %v: %v", timeout, err)
	}
	return string(buf[:k])
}

// startDaemon runs this test binary as sixgate -config path with env added.
func startDaemon(t *testing.T, path string, env ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-config", path)
	cmd.Env = append(os.Environ(), append([]string{"SIXGATE_AS_MAIN=1"}, env...)...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		if t.Failed() {
			t.Logf("sixgate output:\n%s", logs.String())
		}
	})
	return cmd, &logs
}

// The daemon speaks the notification protocol to a socket the test
// listens on: ready once listening, watchdog pings at half of
// WATCHDOG_USEC, reloading then ready on SIGHUP, stopping on SIGTERM.
// waitLoaded bounds the wait for a notification that follows an event
// (a reload, a signal): generous, because a loaded machine running the
// race detector can take seconds; the watchdog interval is checked apart.
const waitLoaded = 30 * time.Second

func TestNotifyProtocol(t *testing.T) {
	for _, abstract := range []bool{false, true} {
		t.Run(fmt.Sprintf("abstract=%v", abstract), func(t *testing.T) {
			sock := filepath.Join(t.TempDir(), "notify")
			if abstract {
				sock = fmt.Sprintf("@sixgate-notify-test-%d", os.Getpid())
			}
			n := listenNotify(t, sock)
			path, _ := capsFile(t, freeTCPPort(t), "off", false)
			cmd, _ := startDaemon(t, path, "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=400000")

			if got := n.next(waitLoaded); !strings.HasPrefix(got, "READY=1\nSTATUS=serving; configuration ") {
				t.Fatalf("first notification %q, want READY=1 and a status", got)
			}
			start := time.Now()
			for range 3 {
				if got := n.next(5 * time.Second); got != "WATCHDOG=1\n" {
					t.Fatalf("got %q, want a watchdog ping", got)
				}
			}
			if took := time.Since(start); took < 400*time.Millisecond || took > 10*time.Second {
				t.Errorf("3 pings took %v, want about 600ms (one every 200ms)", took)
			}

			if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			got := n.next(waitLoaded)
			for got == "WATCHDOG=1\n" {
				got = n.next(waitLoaded)
			}
			if !strings.HasPrefix(got, "RELOADING=1\nMONOTONIC_USEC=") {
				t.Fatalf("after SIGHUP %q, want RELOADING=1 and MONOTONIC_USEC", got)
			}
			got = n.next(waitLoaded)
			for got == "WATCHDOG=1\n" {
				got = n.next(waitLoaded)
			}
			if !strings.HasPrefix(got, "READY=1\nSTATUS=serving; configuration reloaded ") {
				t.Fatalf("after the reload %q, want READY=1", got)
			}

			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			got = n.next(waitLoaded)
			for got == "WATCHDOG=1\n" {
				got = n.next(waitLoaded)
			}
			if got != "STOPPING=1\n" {
				t.Fatalf("after SIGTERM %q, want STOPPING=1", got)
			}
			if err := cmd.Wait(); err != nil {
				t.Errorf("exit: %v", err)
			}
		})
	}
}

// A watchdog meant for another process (WATCHDOG_PID) is not fed; a
// daemon not started by systemd sends nothing and runs as before.
func TestNotifyWatchdogOfAnotherProcess(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	n := listenNotify(t, sock)
	path, _ := capsFile(t, freeTCPPort(t), "off", false)
	cmd, _ := startDaemon(t, path, "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=200000", "WATCHDOG_PID=1")
	if got := n.next(10 * time.Second); !strings.HasPrefix(got, "READY=1\n") {
		t.Fatalf("got %q, want READY=1", got)
	}
	n.conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	if k, err := n.conn.Read(make([]byte, 512)); err == nil {
		t.Errorf("a notification (%d bytes) for a watchdog of process 1", k)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit: %v", err)
	}
}
