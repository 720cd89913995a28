package test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sixgate/sixgate/api"
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

func switchesOnlyConfig(port, httpPort int) string {
	return fmt.Sprintf(`controller:
  listen: "tcp:127.0.0.1:%d"
  http: "127.0.0.1:%d"
  stats_interval: 1s
  echo_interval: 1s
  echo_timeout: 3s
  packet_in_rate: 500
  packet_in_burst: 50
switches:
  - {name: s1, dpid: "0xb1"}
  - {name: s2, dpid: "0xb2"}
`, port, httpPort)
}

// The table-miss app's one flow, as Open vSwitch prints it.
const tableMissFlow = "cookie=0x100000000000000, priority=0 actions=CONTROLLER:65535"

func TestDaemonProgramsBridgesAndRestartsCleanly(t *testing.T) {
	ovs.Require(t)
	bin := ovs.BuildSixgate(t)
	port, httpPort := freePort(t), freePort(t)
	httpAddr := fmt.Sprintf("127.0.0.1:%d", httpPort)
	cfg := ovs.WriteFile(t, "sixgate.yaml", switchesOnlyConfig(port, httpPort))
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

	checkOperatorViews(t, bin, httpAddr, cfg, b1)
	// A reload resyncs: the flows sixgate wants are back.
	d.Signal(syscall.SIGHUP)
	if !ovs.Wait(10*time.Second, func() bool { return slices.Equal(b1.DumpFlows(t), []string{tableMissFlow}) }) {
		t.Fatalf("after a reload, %s has flows %q", b1.Name, b1.DumpFlows(t))
	}

	// SIGHUP with a broken file keeps the running configuration.
	hash := configHash(t, cfg)
	if err := os.WriteFile(cfg, []byte("switches: [{name: s1, dpid: nonsense}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d.Signal(syscall.SIGHUP)
	if !ovs.Wait(10*time.Second, func() bool { return strings.Contains(d.Logs(), "keeping the running one") }) {
		t.Fatal("reload of a bad file not reported")
	}
	metrics := httpGet(t, httpAddr, "/metrics")
	for _, want := range []string{`sixgate_config_reloads_total{result="failure"} 1`, `sixgate_config_reloads_total{result="success"} 1`,
		fmt.Sprintf(`sixgate_config_hash_info{hash=%q} 1`, hash)} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("after a refused reload, /metrics lacks %s", want)
		}
	}
	if code := d.Wait(0); code != -1 {
		t.Fatalf("sixgate exited (%d) on a bad reload", code)
	}

	if code := d.Stop(); code != 0 {
		t.Fatalf("SIGTERM: exit code %d, want 0", code)
	}
	if err := os.WriteFile(cfg, []byte(switchesOnlyConfig(port, httpPort)), 0o644); err != nil {
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
	// A declared switch that leaves turns /healthz to 503 naming it and
	// shows as disconnected.
	ovs.Run(t, "ovs-vsctl", "del-controller", b2.Name)
	if !ovs.Wait(20*time.Second, func() bool {
		code, body := healthz(t, httpAddr)
		return code == http.StatusServiceUnavailable && body == "missing switches: 00000000000000b2\n"
	}) {
		code, body := healthz(t, httpAddr)
		t.Errorf("/healthz with s2 gone: %d %q", code, body)
	}
	if code, out, _ := runSixgate(t, bin, "status", "-http", httpAddr); code != 0 || !regexp.MustCompile(`(?m)^s2 +00000000000000b2 +disconnected `).MatchString(out) {
		t.Errorf("status with s2 gone: exit %d\n%s", code, out)
	}
	if m := httpGet(t, httpAddr, "/metrics"); !strings.Contains(m, `sixgate_switch_connected{dpid="00000000000000b2"} 0`) ||
		strings.Contains(m, `sixgate_port_up{dpid="00000000000000b2"`) {
		t.Errorf("/metrics with s2 gone: want it connected 0 without port series:\n%s", grepLines(m, "00000000000000b2"))
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
	good := ovs.WriteFile(t, "good.yaml", switchesOnlyConfig(freePort(t), freePort(t)))
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
		{[]string{"-h"}, 0, "connections"},
		{[]string{"help"}, 0, "flows"},
		{[]string{"status", "-h"}, 0, "-http"},
		{[]string{"flows", "-bogus"}, 2, "flag provided but not defined"},
		{[]string{"-version"}, 0, "sixgate devel ("},
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

func runSixgate(t *testing.T, bin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut strings.Builder
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String(), errOut.String()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, out.String(), errOut.String()
}

func httpGet(t *testing.T, addr, path string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func healthz(t *testing.T, addr string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func grepLines(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// configHash is the short configuration hash sixgate reports for a file.
func configHash(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:12]
}

// checkOperatorViews runs sixgate status, flows and connections and reads
// /healthz and /metrics of a daemon whose two bridges (s1 = b1, s2) are
// connected with only the table-miss flow.
func checkOperatorViews(t *testing.T, bin, addr, cfg string, b1 *ovs.Bridge) {
	t.Helper()
	hash := configHash(t, cfg)
	if code, body := healthz(t, addr); code != http.StatusOK || body != "ok: 2 switches connected\n" {
		t.Errorf("/healthz with both switches: %d %q", code, body)
	}

	// Port counters arrive with the first PORT_STATS poll.
	var st api.Status
	if !ovs.Wait(10*time.Second, func() bool {
		_, out, _ := runSixgate(t, bin, "status", "-http", addr, "-json")
		st = api.Status{}
		if json.Unmarshal([]byte(out), &st) != nil || len(st.Switches) != 2 {
			return false
		}
		for _, s := range st.Switches {
			if s.StatsAt == nil {
				return false
			}
		}
		return true
	}) {
		t.Fatalf("status -json never showed both switches with port counters: %+v", st)
	}
	if st.Role != "master" || st.Config.Hash != hash || len(st.Missing) != 0 {
		t.Errorf("status -json: role %q hash %q missing %q; want master, %s, none", st.Role, st.Config.Hash, st.Missing, hash)
	}
	code, out, errOut := runSixgate(t, bin, "status", "-http", addr)
	for _, re := range []string{
		`(?m)^role +master$`,
		`(?m)^config +` + hash + ` +` + regexp.QuoteMeta(cfg) + ` `,
		`(?m)^s1 +00000000000000b1 +connected +127\.0\.0\.1:\d+ +\S+ +\d+ +\d+ +\d+ +1$`,
		`(?m)^s2 +00000000000000b2 +connected `,
		`(?m)^s1 +LOCAL +` + b1.Name + ` +(up|down|disabled)( +\d+){8}$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("sixgate status (exit %d, stderr %q) does not match %s:\n%s", code, errOut, re, out)
		}
	}

	// The flows as installed, then with the table changed behind
	// sixgate's back: the table-miss flow gone, one flow in the app's
	// cookie range that it does not declare, one of nobody's.
	code, out, errOut = runSixgate(t, bin, "flows", "-http", addr, "-dpid", "s1")
	if code != 0 || !strings.Contains(out, "s1 (00000000000000b1): 1 flows installed, as desired\n") ||
		!regexp.MustCompile(`(?m)^ +0 +0 +tablemiss +ok +\d+ +\d+ +any +CONTROLLER:65535$`).MatchString(out) {
		t.Errorf("sixgate flows -dpid s1: exit %d, stderr %q:\n%s", code, errOut, out)
	}
	ovs.Run(t, "ovs-ofctl", "-O", "OpenFlow13", "del-flows", b1.Name, "cookie=0x0100000000000000/-1")
	ovs.Run(t, "ovs-ofctl", "-O", "OpenFlow13", "add-flow", b1.Name, "cookie=0x0100000000000009,priority=5,in_port=LOCAL,actions=drop")
	ovs.Run(t, "ovs-ofctl", "-O", "OpenFlow13", "add-flow", b1.Name, "cookie=0x42,priority=7,in_port=LOCAL,actions=drop")
	code, out, errOut = runSixgate(t, bin, "flows", "-http", addr)
	for _, re := range []string{
		`s1 \(00000000000000b1\): 2 flows installed, 2 differ from the desired state`,
		`(?m)^! +0 +0 +tablemiss +missing +- +- +any +CONTROLLER:65535$`,
		`(?m)^! +0 +5 +tablemiss +extra +\d+ +\d+ +in_port=4294967294 +drop$`,
		`(?m)^ +0 +7 +- +unmanaged +\d+ +\d+ +in_port=4294967294 +drop$`,
		`s2 \(00000000000000b2\): 1 flows installed, as desired`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("sixgate flows (exit %d, stderr %q) does not match %s:\n%s", code, errOut, re, out)
		}
	}
	var fl api.Flows
	if _, out, _ := runSixgate(t, bin, "flows", "-http", addr, "-dpid", "b1", "-json"); json.Unmarshal([]byte(out), &fl) != nil ||
		len(fl.Switches) != 1 || len(fl.Switches[0].Flows) != 3 {
		t.Errorf("sixgate flows -json: %s", out)
	}
	// Nobody's flow is left alone by syncs: remove it by hand.
	ovs.Run(t, "ovs-ofctl", "-O", "OpenFlow13", "del-flows", b1.Name, "cookie=0x42/-1")

	// No splice46 here: connections says so and fails; the old spelling
	// says it is deprecated.
	if code, _, errOut := runSixgate(t, bin, "connections", "-http", addr); code != 1 || !strings.Contains(errOut, "splice46") {
		t.Errorf("sixgate connections without splice46: exit %d, stderr %q", code, errOut)
	}
	if _, _, errOut := runSixgate(t, bin, "status", "-connections", "-http", addr); !strings.Contains(errOut, "deprecated") {
		t.Errorf("sixgate status -connections: stderr %q", errOut)
	}

	m := httpGet(t, addr, "/metrics")
	for _, re := range []string{
		`(?m)^sixgate_config_hash_info\{hash="` + hash + `"\} 1$`,
		`(?m)^sixgate_switch_connected\{dpid="00000000000000b1"\} 1$`,
		`(?m)^sixgate_switch_flows\{dpid="00000000000000b2"\} 1$`,
		`(?m)^sixgate_port_up\{dpid="00000000000000b1",port="LOCAL"\} [01]$`,
		`(?m)^sixgate_port_rx_packets_total\{dpid="00000000000000b1",port="LOCAL"\} \d+$`,
		`(?m)^sixgate_switch_packet_ins_total\{dpid="00000000000000b1"\} \d+$`,
	} {
		if !regexp.MustCompile(re).MatchString(m) {
			t.Errorf("/metrics lacks %s:\n%s", re, grepLines(m, "sixgate_"))
		}
	}
}
