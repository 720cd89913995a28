// Package etcdtest runs a real etcd server (Debian's etcd-server) on
// loopback for tests: free ports, a data directory of the test's, stopped
// when the test ends.
package etcdtest

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Server is one etcd member.
type Server struct {
	t       testing.TB
	dir     string
	client  string // http://127.0.0.1:PORT
	peer    string
	cmd     *exec.Cmd
	exited  chan struct{}
	logFile string
}

// Start runs etcd until the test ends. Without the etcd binary the test
// is skipped, or fails under CI=true.
func Start(t testing.TB) *Server {
	t.Helper()
	if _, err := exec.LookPath("etcd"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("etcd not installed (scripts/install-deps.sh installs etcd-server): %v", err)
		}
		t.Skipf("etcd not installed (scripts/install-deps.sh installs etcd-server): %v", err)
	}
	s := &Server{t: t, dir: t.TempDir()}
	s.client = "http://" + freeAddr(t)
	s.peer = "http://" + freeAddr(t)
	s.logFile = filepath.Join(s.dir, "etcd.log")
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			if b, err := os.ReadFile(s.logFile); err == nil && len(b) > 0 {
				if len(b) > 4000 {
					b = b[len(b)-4000:]
				}
				t.Logf("etcd log (tail):\n%s", b)
			}
		}
	})
	s.Restart()
	return s
}

// Endpoint is the client URL.
func (s *Server) Endpoint() string { return s.client }

// Restart starts the server again on the same ports and data after Stop
// (Start calls it the first time), and waits until it answers.
func (s *Server) Restart() {
	s.t.Helper()
	log, err := os.OpenFile(s.logFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	defer log.Close()
	s.cmd = exec.Command("etcd", "--name", "t", "--data-dir", filepath.Join(s.dir, "data"),
		"--listen-client-urls", s.client, "--advertise-client-urls", s.client,
		"--listen-peer-urls", s.peer, "--initial-advertise-peer-urls", s.peer,
		"--initial-cluster", "t="+s.peer, "--initial-cluster-state", "new")
	s.cmd.Stdout, s.cmd.Stderr = log, log
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start etcd: %v", err)
	}
	exited := make(chan struct{})
	s.exited = exited
	go func() { s.cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(20 * time.Second)
	c := &http.Client{Timeout: time.Second}
	for {
		resp, err := c.Get(s.client + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case <-exited:
			s.t.Fatalf("etcd exited at start (log %s)", s.logFile)
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("etcd not healthy at %s after 20s: %v", s.client, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop kills the server (SIGKILL: a crash, not a clean stop) and waits
// for it; its data is kept for Restart.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr())
}
