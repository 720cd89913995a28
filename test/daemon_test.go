package test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sixgate/sixgate/test/ovs"
)

// freePort returns a loopback TCP port nothing listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func switchesOnlyConfig(port int) string {
	return fmt.Sprintf(`controller:
  listen: "tcp:127.0.0.1:%d"
  echo_interval: 1s
  echo_timeout: 3s
  packet_in_rate: 500
  packet_in_burst: 50
switches:
  - {name: s1, dpid: "0xb1"}
  - {name: s2, dpid: "0xb2"}
`, port)
}

// The table-miss app's one flow, as Open vSwitch prints it.
const tableMissFlow = "cookie=0x100000000000000, priority=0 actions=CONTROLLER:65535"

func TestDaemonProgramsBridgesAndRestartsCleanly(t *testing.T) {
	ovs.Require(t)
	bin := ovs.BuildSixgate(t)
	port := freePort(t)
	cfg := ovs.WriteFile(t, "sixgate.yaml", switchesOnlyConfig(port))
	target := fmt.Sprintf("tcp:127.0.0.1:%d", port)
	b1 := ovs.NewBridge(t, "sgd1", 0xb1, target)
	b2 := ovs.NewBridge(t, "sgd2", 0xb2, target)

	d := ovs.StartSixgate(t, bin, "-config", cfg, "-log-level", "debug")
	for _, b := range []*ovs.Bridge{b1, b2} {
		if !ovs.Wait(20*time.Second, func() bool { return slices.Equal(b.DumpFlows(t), []string{tableMissFlow}) }) {
			t.Fatalf("%s flows %q, want only the table-miss flow", b.Name, b.DumpFlows(t))
		}
	}

	// The packet-in bound became the switches' controller meter.
	for _, b := range []*ovs.Bridge{b1, b2} {
		meters := ovs.Run(t, "ovs-ofctl", "-O", "OpenFlow13", "dump-meters", b.Name)
		if !strings.Contains(meters, "meter=controller pktps burst stats bands=") || !strings.Contains(meters, "type=drop rate=500 burst_size=50") {
			t.Errorf("%s meters:\n%s\nwant the controller meter at 500 pktps, burst 50", b.Name, meters)
		}
	}

	// SIGHUP with a broken file keeps the running configuration.
	if err := os.WriteFile(cfg, []byte("switches: [{name: s1, dpid: nonsense}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d.Signal(syscall.SIGHUP)
	if !ovs.Wait(10*time.Second, func() bool { return strings.Contains(d.Logs(), "keeping the running one") }) {
		t.Fatal("reload of a bad file not reported")
	}
	if code := d.Wait(0); code != -1 {
		t.Fatalf("sixgate exited (%d) on a bad reload", code)
	}

	if code := d.Stop(); code != 0 {
		t.Fatalf("SIGTERM: exit code %d, want 0", code)
	}
	if err := os.WriteFile(cfg, []byte(switchesOnlyConfig(port)), 0o644); err != nil {
		t.Fatal(err)
	}
	before := b1.FlowDurations(t)
	stopped := time.Now()
	d2 := ovs.StartSixgate(t, bin, "-config", cfg)
	if !ovs.Wait(20*time.Second, func() bool { return strings.Count(d2.Logs(), "flows synced") == 2 }) {
		t.Fatal("the restarted controller did not sync both bridges")
	}
	unchanged := 0
	for _, l := range strings.Split(d2.Logs(), "\n") {
		if strings.Contains(l, "flows synced") && strings.Contains(l, "added=0 deleted=0") && strings.Contains(l, "kept=1") {
			unchanged++
		}
	}
	if n := unchanged; n != 2 {
		t.Errorf("restart sync changed flows (%d of 2 syncs kept everything):\n%s", n, d2.Logs())
	}
	for _, b := range []*ovs.Bridge{b1, b2} {
		if got := b.DumpFlows(t); !slices.Equal(got, []string{tableMissFlow}) {
			t.Errorf("%s after restart: %q", b.Name, got)
		}
	}
	gap := time.Since(stopped)
	for flow, age := range b1.FlowDurations(t) {
		if _, ok := before[flow]; !ok || age < gap {
			t.Errorf("flow %q (age %v) was reinstalled by the restart %v ago", flow, age, gap)
		}
	}
}

func TestDaemonExitCodes(t *testing.T) {
	bin := ovs.BuildSixgate(t)
	bad := ovs.WriteFile(t, "bad.yaml", "switches:\n  - {name: s1, dpid: \"0x1\"}\n  - {name: s2, dpid: \"0x1\"}\n")
	good := ovs.WriteFile(t, "good.yaml", switchesOnlyConfig(freePort(t)))
	cases := []struct {
		args []string
		code int
		out  string
	}{
		{[]string{}, 2, "usage"},
		{[]string{"-bogus-flag"}, 2, "flag provided but not defined"},
		{[]string{"check", "-config", good}, 0, "ok"},
		{[]string{"check", "-config", bad}, 1, "duplicate"},
		{[]string{"-config", bad}, 1, "duplicate"},
		{[]string{"-config", good, "-log-level", "chatty"}, 2, "log-level"},
	}
	for _, c := range cases {
		out, err := exec.Command(bin, c.args...).CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != c.code || !strings.Contains(string(out), c.out) {
			t.Errorf("sixgate %q: exit %d, output %q; want exit %d mentioning %q", c.args, code, out, c.code, c.out)
		}
	}
}
