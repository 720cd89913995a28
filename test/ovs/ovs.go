// Package ovs drives a real Open vSwitch for end-to-end tests: it checks
// that one runs (starting it if it can), makes userspace-datapath bridges
// that point at a controller, and reads their flow tables with ovs-ofctl.
//
// Tests that need it call Require first. Without root or Open vSwitch a
// test is skipped, except when CI=true, where it fails: CI installs and
// starts everything, so a missing piece there is a broken build.
package ovs

import (
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Require fails or skips t unless Open vSwitch can be driven.
func Require(t testing.TB) {
	t.Helper()
	if err := available(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Open vSwitch end-to-end prerequisites missing: %v", err)
		}
		t.Skipf("Open vSwitch end-to-end prerequisites missing (set CI=true to fail instead): %v", err)
	}
}

func available() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("not root")
	}
	for _, tool := range []string{"ovs-vsctl", "ovs-ofctl", "ovs-appctl"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not installed (apt-get install openvswitch-switch)", tool)
		}
	}
	if exec.Command("ovs-vsctl", "--timeout=3", "show").Run() == nil {
		return nil
	}
	// Not running: start it the way Debian's service would, without the
	// kernel module (bridges use the userspace datapath).
	KeepFilesFromDaemons()
	ctl := "/usr/share/openvswitch/scripts/ovs-ctl"
	if out, err := exec.Command(ctl, "start", "--system-id=random").CombinedOutput(); err != nil {
		return fmt.Errorf("%s start: %v: %s", ctl, err, out)
	}
	if err := exec.Command("ovs-vsctl", "--timeout=5", "show").Run(); err != nil {
		return fmt.Errorf("ovs-vsctl show after starting Open vSwitch: %v", err)
	}
	return nil
}

// vsctlTimeout bounds every ovs-vsctl call: with ovs-vswitchd gone, a
// change would otherwise wait for it for ever.
const vsctlTimeout = "--timeout=30"

// Run runs an Open vSwitch command and returns its standard output,
// failing t with the command's own error message if it fails.
func Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	if name == "ovs-vsctl" {
		// Without a timeout ovs-vsctl waits for ovs-vswitchd for ever.
		args = append([]string{vsctlTimeout}, args...)
	}
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, msg)
	}
	return string(out)
}

// Bridge is a userspace-datapath bridge made for one test.
type Bridge struct {
	Name string
	DPID uint64
}

// NewBridge makes bridge name with the given datapath id, speaking only
// OpenFlow 1.3 to the controller at target ("tcp:127.0.0.1:6653"; empty for
// none yet), in secure fail mode so that only the controller's flows
// forward. The bridge is deleted when the test ends.
func NewBridge(t testing.TB, name string, dpid uint64, target string) *Bridge {
	t.Helper()
	exec.Command("ovs-vsctl", vsctlTimeout, "--if-exists", "del-br", name).Run()
	args := []string{"add-br", name,
		"--", "set", "bridge", name, "datapath_type=netdev", "protocols=OpenFlow13",
		"fail-mode=secure", fmt.Sprintf("other-config:datapath-id=%016x", dpid)}
	if target != "" {
		args = append(args, "--", "set-controller", name, target)
	}
	Run(t, "ovs-vsctl", args...)
	t.Cleanup(func() { exec.Command("ovs-vsctl", vsctlTimeout, "--if-exists", "del-br", name).Run() })
	return &Bridge{Name: name, DPID: dpid}
}

// SetController points the bridge at another controller target.
func (b *Bridge) SetController(t testing.TB, target string) {
	t.Helper()
	Run(t, "ovs-vsctl", "set-controller", b.Name, target)
}

// Connected reports whether the bridge's controller connection is up.
func (b *Bridge) Connected(t testing.TB) bool {
	t.Helper()
	ids := strings.Trim(strings.TrimSpace(Run(t, "ovs-vsctl", "get", "bridge", b.Name, "controller")), "[]")
	for _, id := range strings.Split(ids, ",") {
		id = strings.TrimSpace(id)
		if id == "" {
			continue
		}
		if strings.TrimSpace(Run(t, "ovs-vsctl", "get", "controller", id, "is_connected")) == "true" {
			return true
		}
	}
	return false
}

// DumpFlows returns the bridge's flows as ovs-ofctl prints them without
// statistics (no durations or counters), sorted.
func (b *Bridge) DumpFlows(t testing.TB) []string {
	t.Helper()
	out := Run(t, "ovs-ofctl", "-O", "OpenFlow13", "--no-stats", "dump-flows", b.Name)
	var flows []string
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "OFPST_FLOW") {
			continue
		}
		flows = append(flows, l)
	}
	sort.Strings(flows)
	return flows
}

// DumpGroups returns the bridge's groups as ovs-ofctl prints them, sorted.
func (b *Bridge) DumpGroups(t testing.TB) []string {
	t.Helper()
	out := Run(t, "ovs-ofctl", "-O", "OpenFlow13", "dump-groups", b.Name)
	var groups []string
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "OFPST_GROUP_DESC") {
			continue
		}
		groups = append(groups, l)
	}
	sort.Strings(groups)
	return groups
}

// FlowDurations returns, for each flow line without statistics, how long
// the flow has been installed, read from ovs-ofctl's duration field.
func (b *Bridge) FlowDurations(t testing.TB) map[string]time.Duration {
	t.Helper()
	out := Run(t, "ovs-ofctl", "-O", "OpenFlow13", "dump-flows", b.Name)
	d := map[string]time.Duration{}
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "OFPST_FLOW") {
			continue
		}
		var key []string
		var dur time.Duration
		for _, f := range strings.Split(l, ", ") {
			k, v, _ := strings.Cut(f, "=")
			switch k {
			case "duration":
				dur, _ = time.ParseDuration(v)
			case "n_packets", "n_bytes", "idle_age", "hard_age":
			default:
				key = append(key, f)
			}
		}
		d[strings.Join(key, ", ")] = dur
	}
	return d
}

// Wait polls cond every 20 ms until it holds or timeout passes, and reports
// whether it held.
func Wait(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// KeepFilesFromDaemons marks every descriptor this process inherited
// beyond standard input, output and error close-on-exec. A test run under
// flock(1), say, inherits the lock's descriptor; an ovs-vswitchd the test
// starts would hold it, and the lock, for the rest of its life.
func KeepFilesFromDaemons() {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range entries {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			syscall.CloseOnExec(fd)
		}
	}
}
