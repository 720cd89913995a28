package test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sixgate/sixgate/test/ovs"
)

// TestHandoverUpgrade restarts sixgate through the hand-over while a
// rate-limited download and a loop of short requests run through the VIP,
// in each data path: the download arrives intact (sha256), no request of
// the loop fails, the old process exits 0 and the new one serves new
// connections. A new process whose configuration is bad exits non-zero
// first, and the old one serves on.
func TestHandoverUpgrade(t *testing.T) { inEachMode(t, testHandoverUpgrade) }

func testHandoverUpgrade(t *testing.T, l *seedLab) {
	sock := filepath.Join(t.TempDir(), "handover.sock")
	// The lab started sixgate without the socket: start it again with.
	if code := l.sixgate.Stop(); code != 0 {
		t.Fatalf("SIGTERM: exit %d", code)
	}
	l.launcher = []string{l.bin, "-config", l.config, "-handover", sock}
	l.start(t)
	old := l.sixgate

	// 6 MB at 1 MB/s: the hand-over happens in the middle.
	const size = 6 << 20
	want := patternSum(size)
	download := make(chan string, 1)
	go func() {
		out, err := l.client(60*time.Second, "", "sh", "-c",
			fmt.Sprintf("curl -sS --max-time 50 --limit-rate 1M -H 'Host: a.example' 'http://10.0.0.42:8080/bytes?n=%d' | sha256sum", size))
		if err != nil {
			out += err.Error()
		}
		download <- out
	}()

	// Short requests, one after the other, until stopped.
	var mu sync.Mutex
	var latencies []time.Duration
	var starts []time.Time
	var failures []string
	stop := make(chan struct{})
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		for i := 0; i < 2000; i++ {
			select {
			case <-stop:
				return
			default:
			}
			start := time.Now()
			out, err := l.client(20*time.Second, "", "curl", "-sS", "--max-time", "15", "-H", "Host: b.example", "http://10.0.0.42:8080/")
			mu.Lock()
			latencies = append(latencies, time.Since(start))
			starts = append(starts, start)
			if err != nil || !strings.Contains(out, "h2: Host b.example") {
				failures = append(failures, fmt.Sprintf("request %d: %q %v", i, out, err))
			}
			mu.Unlock()
		}
	}()
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(latencies) }
	if !ovs.Wait(20*time.Second, func() bool { return count() >= 10 }) {
		t.Fatal("the request loop did not get going")
	}

	// A configuration the new process refuses: it exits 1 and the old one
	// goes on.
	bad := ovs.WriteFile(t, "bad.yaml", "controller: [\n")
	refused := ovs.StartSixgate(t, l.bin, "-config", bad, "-handover", sock)
	if code := refused.Wait(10 * time.Second); code != 1 {
		t.Errorf("new process with a bad configuration: exit %d, want 1", code)
	}

	time.Sleep(time.Second) // the download is a second in
	drops := controllerDrops(t, l.config)
	before := count()
	started := time.Now()
	l.sixgate = ovs.StartSixgate(t, l.bin, "-config", l.config, "-handover", sock)
	if code := old.Wait(30 * time.Second); code != 0 {
		t.Fatalf("old process: exit %d after the hand-over, want 0:\n%s", code, old.Logs())
	}
	exited := time.Since(started)
	// The switch reconnects to the new process: until then the new
	// process's /healthz says it is missing.
	if !ovs.Wait(20*time.Second, func() bool { code, _ := healthz(t, l.metrics); return code == 200 }) {
		t.Fatal("the bridge did not reconnect to the new process")
	}
	reconnected := time.Since(started) - exited
	stopped := regexp.MustCompile(`engines_stopped_for=(\S+)`).FindStringSubmatch(old.Logs())
	if stopped == nil {
		t.Fatalf("old process did not say how long its engines stopped:\n%s", old.Logs())
	}
	if !strings.Contains(l.sixgate.Logs(), "hand-over complete: serving") {
		t.Fatalf("new process did not confirm:\n%s", l.sixgate.Logs())
	}
	if !strings.Contains(l.sixgate.Logs(), "connections taken over") {
		t.Errorf("new process took no connections over:\n%s", l.sixgate.Logs())
	}
	// The switch session moved with its connection: Open vSwitch never
	// saw it close.
	if !strings.Contains(l.sixgate.Logs(), "switch session taken over") {
		t.Errorf("new process took no switch session over:\n%s", l.sixgate.Logs())
	}
	if n := controllerDrops(t, l.config); n != drops {
		t.Errorf("Open vSwitch logged %d controller disconnections during the hand-over", n-drops)
	}

	got := <-download
	if !strings.HasPrefix(got, want) {
		t.Errorf("download across the hand-over: sha256 %q, want %s", got, want)
	}
	// A few more requests, all to the new process.
	n := count()
	if !ovs.Wait(20*time.Second, func() bool { return count() >= n+5 }) {
		t.Error("no request completed after the hand-over")
	}
	close(stop)
	<-loopDone
	l.expect(t, "a new connection to the new process", `h2 got "B"`, "B\n", "socat", "-t", "5", "-", "TCP:10.0.0.42:80")

	mu.Lock()
	defer mu.Unlock()
	for _, f := range failures {
		t.Error(f)
	}
	sorted := slices.Clone(latencies[:before])
	slices.Sort(sorted)
	median := sorted[len(sorted)/2]
	worst := slices.Max(latencies[before:])
	t.Logf("%s mode: engines stopped for %s; old process exited %v after the new one started; /healthz 200 from the new one %v later; "+
		"%d requests, %d failed; worst from the hand-over on %v = %.1f x the median before (%v; worst before %v)",
		l.mode, stopped[1], exited.Round(time.Millisecond), reconnected.Round(time.Millisecond), len(latencies), len(failures),
		worst.Round(time.Millisecond), float64(worst)/float64(median), median.Round(time.Millisecond), sorted[len(sorted)-1].Round(time.Millisecond))
	for i, d := range latencies {
		if d > 10*median {
			t.Logf("slow request %d: %v, started %v after the new process", i, d.Round(time.Millisecond), starts[i].Sub(started).Round(time.Millisecond))
		}
	}
	for name, d := range map[string]*ovs.Daemon{"old": old, "new": l.sixgate} {
		t.Logf("%s process:\n%s", name, matchingLines(d.Logs(), regexp.MustCompile(`hand-over|switch|taken over|engine port|synced`)))
	}
	if code := l.sixgate.Stop(); code != 0 {
		t.Errorf("new process: SIGTERM: exit %d", code)
	}
}

// controllerDrops counts the times Open vSwitch logged that the controller
// at the configuration's OpenFlow port closed its connection.
func controllerDrops(t *testing.T, config string) int {
	t.Helper()
	cfg, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`listen: "tcp:127\.0\.0\.1:(\d+)"`).FindSubmatch(cfg)
	if m == nil {
		t.Fatal("no OpenFlow port in the configuration")
	}
	log, err := os.ReadFile("/var/log/openvswitch/ovs-vswitchd.log")
	if err != nil {
		t.Fatalf("Open vSwitch's log: %v", err)
	}
	return strings.Count(string(log), "<->tcp:127.0.0.1:"+string(m[1])+": connection closed")
}

// matchingLines are the lines of text that re matches.
func matchingLines(text string, re *regexp.Regexp) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if re.MatchString(l) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
