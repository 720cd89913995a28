//go:build soak

package test

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSoak mixes legitimate transfers with a SYN flood from spoofed sources
// and malformed packets on the seed topology for SOAK_DURATION (default
// 3m), then reports transfers intact/started, sixgate's peak RSS, its
// goroutines before and after, and the engine's drops by reason. Run it
// with `make soak`; it is not part of the default test run.
func TestSoak(t *testing.T) {
	duration := 3 * time.Minute
	if s := os.Getenv("SOAK_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("SOAK_DURATION: %v", err)
		}
		duration = d
	}
	l := newSeedLab(t)
	flood := filepath.Join(t.TempDir(), "flood")
	if out, err := exec.Command("go", "build", "-o", flood, "./flood").CombinedOutput(); err != nil {
		t.Fatalf("build flood: %v: %s", err, out)
	}
	goroutinesBefore := metric(t, l.metrics, "go_goroutines")

	// The flood comes from h3's namespace with spoofed sources, at a rate
	// the controller data path can take alongside the transfers.
	floodDone := make(chan string, 1)
	go func() {
		out, err := l.h3.Output(duration+time.Minute, "", flood, "-dst", "10.0.0.42:80", "-spoof", "10.9.0.0/16",
			"-rate", "2000", "-duration", duration.String(), "-malformed", "0.3")
		if err != nil {
			out += err.Error()
		}
		floodDone <- out
	}()

	// Legitimate transfers: 4 clients in a loop, 1 MB each, checksummed.
	const size = 1 << 20
	want := patternSum(size)
	var started, intact atomic.Int64
	var peakRSS atomic.Int64
	deadline := time.Now().Add(duration)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				started.Add(1)
				out, err := l.client(60*time.Second, "", "sh", "-c",
					fmt.Sprintf("curl -sS --max-time 50 -H 'Host: a.example' 'http://10.0.0.42:8080/bytes?n=%d' | sha256sum", size))
				if err == nil && strings.HasPrefix(out, want) {
					intact.Add(1)
				}
				if rss := vmHWM(l.sixgate.PID()); rss > peakRSS.Load() {
					peakRSS.Store(rss)
				}
			}
		}()
	}
	wg.Wait()
	floodOut := <-floodDone

	// After the flood, new connections still work, and the table drains.
	l.expect(t, "after the soak", `h1 got "A"`, "A\n", "socat", "-t", "5", "-", "TCP:10.0.0.42:80")
	goroutinesAfter := metric(t, l.metrics, "go_goroutines")
	t.Logf("soak of %v: transfers intact %d / started %d; %s", duration, intact.Load(), started.Load(), strings.TrimSpace(floodOut))
	t.Logf("sixgate peak RSS %d MiB; goroutines before %v, after %v", peakRSS.Load()>>10, goroutinesBefore, goroutinesAfter)
	for _, line := range metricLines(t, l.metrics, "sixgate_proxy46_drops_total", "sixgate_proxy46_connections{", "sixgate_proxy46_events_total", "sixgate_of_packet_ins") {
		t.Logf("  %s", line)
	}
	if started.Load() == 0 || intact.Load() != started.Load() {
		t.Errorf("%d of %d transfers intact", intact.Load(), started.Load())
	}
	if goroutinesAfter > goroutinesBefore+10 {
		t.Errorf("goroutines grew from %v to %v", goroutinesBefore, goroutinesAfter)
	}
}

// vmHWM is a process's peak resident set in KiB.
func vmHWM(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return n
		}
	}
	return 0
}

func metricLines(t *testing.T, addr string, prefixes ...string) []string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	var out []string
	s := bufio.NewScanner(resp.Body)
	for s.Scan() {
		for _, p := range prefixes {
			if strings.HasPrefix(s.Text(), p) && !strings.HasSuffix(s.Text(), " 0") {
				out = append(out, s.Text())
			}
		}
	}
	return out
}

func metric(t *testing.T, addr, name string) float64 {
	t.Helper()
	for _, l := range metricLines(t, addr, name+" ") {
		v, err := strconv.ParseFloat(strings.Fields(l)[1], 64)
		if err == nil {
			return v
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}
