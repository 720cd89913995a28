package test

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sixgate/sixgate/test/ovs"
)

// restartVswitchd stops ovs-vswitchd, as a crash or an upgrade would, and
// starts it again; the bridges come back from the database with no flows.
func restartVswitchd(t *testing.T) {
	t.Helper()
	pid, err := os.ReadFile("/var/run/openvswitch/ovs-vswitchd.pid")
	if err != nil {
		t.Fatal(err)
	}
	ovs.Run(t, "ovs-appctl", "-t", "ovs-vswitchd", "exit")
	// ovs-appctl returns before the daemon is gone; ovs-ctl start would
	// find it still running and start nothing.
	proc := "/proc/" + strings.TrimSpace(string(pid))
	if !ovs.Wait(10*time.Second, func() bool { _, err := os.Stat(proc); return os.IsNotExist(err) }) {
		t.Fatalf("ovs-vswitchd (pid %s) still running 10 s after exit", strings.TrimSpace(string(pid)))
	}
	ovs.KeepFilesFromDaemons()
	ctl := "/usr/share/openvswitch/scripts/ovs-ctl"
	if out, err := exec.Command(ctl, "--no-ovsdb-server", "start").CombinedOutput(); err != nil {
		t.Fatalf("%s --no-ovsdb-server start: %v: %s", ctl, err, out)
	}
}

// Open vSwitch restarted: the switch reconnects, is reprogrammed to the
// same table, and spliced connections work again.
func TestOVSRestartReprograms(t *testing.T) {
	l := newSeedLab(t)
	l.expect(t, "before the restart", `h1 got "A"`, "A\n", "socat", "-t", "5", "-", "TCP:10.0.0.42:80")
	before := l.br.DumpFlows(t)
	restarted := time.Now()
	restartVswitchd(t)
	if !ovs.Wait(30*time.Second, func() bool { return slices.Equal(l.br.DumpFlows(t), before) }) {
		t.Fatalf("flows after the Open vSwitch restart:\n%s\nwant:\n%s", join(l.br.DumpFlows(t)), join(before))
	}
	reprogrammed := time.Since(restarted)
	var out string
	if !ovs.Wait(30*time.Second, func() bool {
		out, _ = l.client(10*time.Second, "B\n", "socat", "-t", "5", "-", "TCP:10.0.0.42:80")
		return strings.Contains(out, `h2 got "B"`)
	}) {
		t.Fatalf("after the Open vSwitch restart: %q", out)
	}
	t.Logf("Open vSwitch restarted: flows back after %v, a new spliced connection served after %v",
		reprogrammed.Round(time.Millisecond), time.Since(restarted).Round(time.Millisecond))
}

// A backend host dies in the middle of a download (its link goes down):
// the client gets a reset promptly instead of hanging.
func TestBackendDiesMidTransfer(t *testing.T) {
	l := newSeedLab(t)
	type result struct {
		out string
		err error
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		// Paced so that the transfer is still running when h1 dies.
		out, err := l.client(60*time.Second, "", "curl", "-sS", "--max-time", "50", "--limit-rate", "2M",
			"-o", "/dev/null", "-H", "Host: a.example", "http://10.0.0.42:8080/bytes?n=100000000")
		done <- result{out, err}
	}()
	if !ovs.Wait(20*time.Second, func() bool { return strings.Contains(l.servers["h1"].Logs(), "sending 100000000 bytes") }) {
		t.Fatal("download did not start")
	}
	l.h1.Run(t, "ip", "link", "set", "eth0", "down")
	died := time.Now()
	select {
	case r := <-done:
		if r.err == nil || !strings.Contains(r.out, "reset") {
			t.Errorf("client: %q (%v), want the transfer to end with a connection reset", r.out, r.err)
		}
		t.Logf("backend died %v into the transfer; the client got %q %v later",
			died.Sub(start).Round(time.Millisecond), strings.TrimSpace(r.out), time.Since(died).Round(time.Millisecond))
	case <-time.After(30 * time.Second):
		t.Fatal("client still hanging 30 s after its backend died")
	}
}
