package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sixgate/sixgate/test/ovs"
)

// The unprivileged user the packaged service stands for.
const (
	unprivUser  = "nobody"
	unprivGroup = "nogroup"
)

// capNetRawMask is CAP_NET_RAW (13) in /proc/PID/status's CapEff.
const capNetRawMask = 1 << 13

// unprivileged returns a launcher that runs sixgate as nobody with caps
// (setpriv's capability list, "-all" for none) as its only capabilities:
// inheritable, ambient and bounding set alike. The binary and the
// configuration are copied where that user can read them.
func unprivileged(caps string) func(t *testing.T, bin, config string) []string {
	return func(t *testing.T, bin, config string) []string {
		t.Helper()
		requireSetpriv(t)
		dir, err := os.MkdirTemp("", "sixgate-unprivileged-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range []struct {
			from string
			mode os.FileMode
		}{{bin, 0o755}, {config, 0o644}} {
			b, err := os.ReadFile(f.from)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, filepath.Base(f.from)), b, f.mode); err != nil {
				t.Fatal(err)
			}
		}
		return []string{"setpriv", "--reuid=" + unprivUser, "--regid=" + unprivGroup, "--clear-groups",
			"--inh-caps=" + caps, "--ambient-caps=" + caps, "--bounding-set=" + caps,
			filepath.Join(dir, filepath.Base(bin)), "-config", filepath.Join(dir, filepath.Base(config))}
	}
}

func requireSetpriv(t *testing.T) {
	t.Helper()
	for _, c := range [][]string{{"setpriv", "--version"}, {"id", unprivUser}} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s: %v: %s", strings.Join(c, " "), err, out)
			}
			t.Skipf("%s: %v: %s (set CI=true to fail instead)", strings.Join(c, " "), err, out)
		}
	}
}

// procStatusField returns a field of /proc/PID/status as written.
func procStatusField(t *testing.T, pid int, field string) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return ""
}

// The packaged service runs sixgate as its own user with only the
// capabilities its configuration needs. In port mode that is CAP_NET_RAW
// alone: the splice works end to end on the engine port. Without it,
// sixgate refuses to start, naming the key and the capability, while
// sixgate check only notes it.
func TestSpliceUnprivilegedPortMode(t *testing.T) {
	l := newSeedLabAs(t, portMode, unprivileged("-all,+net_raw"))
	// The seed demo's every request, over the engine port.
	testSeedDemo(t, l)

	// setpriv execs sixgate, so the daemon's process is setpriv's.
	pid := l.sixgate.PID()
	uid := procStatusField(t, pid, "Uid")
	capEff, err := strconv.ParseUint(procStatusField(t, pid, "CapEff"), 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("sixgate runs with Uid %s, CapEff %#x", uid, capEff)
	if strings.HasPrefix(uid, "0\t") || capEff != capNetRawMask {
		t.Errorf("sixgate runs with Uid %q and CapEff %#x, want an unprivileged user with CAP_NET_RAW (%#x) only", uid, capEff, capNetRawMask)
	}
	if code := l.sixgate.Stop(); code != 0 {
		t.Errorf("SIGTERM: exit %d", code)
	}

	// The same, without CAP_NET_RAW: exit 1 at once, saying why.
	launch := unprivileged("-all")(t, l.bin, l.config)
	d := ovs.StartSixgate(t, launch[0], launch[1:]...)
	code := d.Wait(20 * time.Second)
	want := "splice46.ports: engine ports need CAP_NET_RAW"
	if code != 1 || !strings.Contains(d.Logs(), want) {
		t.Errorf("without CAP_NET_RAW: exit %d, output:\n%s\nwant exit 1 and %q", code, d.Logs(), want)
	}
	if strings.Contains(d.Logs(), "operation not permitted") {
		t.Errorf("without CAP_NET_RAW, sixgate tried anyway:\n%s", d.Logs())
	}
	t.Logf("without CAP_NET_RAW: exit %d: %s", code, strings.TrimSpace(d.Logs()))

	// sixgate check may run elsewhere: a note, exit 0.
	args := append(append([]string{}, launch[:len(launch)-3]...), launch[len(launch)-3], "check", "-config", launch[len(launch)-1])
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "note: ") || !strings.Contains(string(out), want) {
		t.Errorf("sixgate check without CAP_NET_RAW: %v\n%s", err, out)
	}
}
