package test

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sixgate/sixgate/test/ovs"
)

// trafficSpec is what runs through a VIP while an operator changes
// something under it: one long download, paced by the server so that it
// lasts seconds, and a loop of short requests.
type trafficSpec struct {
	// DownloadURL is fetched with DownloadHost as its Host header; it
	// answers DownloadBytes bytes.
	DownloadURL, DownloadHost string
	DownloadBytes             int
	// RequestURL is fetched with RequestHost again and again, Every
	// apart; an answer without RequestWant, or none, is a failure.
	RequestURL, RequestHost, RequestWant string
	Every                                time.Duration
}

// traffic is a trafficSpec running from a client namespace.
type traffic struct {
	spec     trafficSpec
	file     string
	download *ovs.Daemon
	started  time.Time
	stop     chan struct{}
	loopDone chan struct{}
	// ended is closed when the download ends, at endedAt.
	ended   chan struct{}
	endedAt time.Time

	mu       sync.Mutex
	requests int
	failures []string
}

// trafficResult is how the traffic went.
type trafficResult struct {
	DownloadExit int    // curl's exit code (0: complete); -1 if it did not end in time
	DownloadOut  string // what curl printed: its errors
	DownloadSum  string // SHA-256 of the bytes received, in hex
	DownloadLen  int64
	DownloadEnd  time.Time // when curl exited
	DownloadTook time.Duration
	Requests     int
	Failures     []string // one line per failed short request
}

// startTraffic starts the download and the request loop on client.
func startTraffic(t *testing.T, client *ovs.Netns, spec trafficSpec) *traffic {
	t.Helper()
	tr := &traffic{spec: spec, file: filepath.Join(t.TempDir(), "download"), stop: make(chan struct{}),
		loopDone: make(chan struct{}), ended: make(chan struct{})}
	tr.started = time.Now()
	tr.download = client.Start(t, "curl", "-sS", "--max-time", "60", "-H", "Host: "+spec.DownloadHost, "-o", tr.file, spec.DownloadURL)
	go func() {
		tr.download.Wait(90 * time.Second) // past curl's own --max-time
		tr.endedAt = time.Now()
		close(tr.ended)
	}()
	go tr.loop(client)
	t.Cleanup(tr.halt)
	return tr
}

// loop makes short requests until stopped, at most 10000 of them.
func (tr *traffic) loop(client *ovs.Netns) {
	defer close(tr.loopDone)
	for range 10000 {
		select {
		case <-tr.stop:
			return
		case <-time.After(tr.spec.Every):
		}
		start := time.Now()
		out, err := client.Output(10*time.Second, "", "curl", "-sS", "--max-time", "5", "-H", "Host: "+tr.spec.RequestHost, tr.spec.RequestURL)
		tr.mu.Lock()
		tr.requests++
		if err != nil || !strings.Contains(out, tr.spec.RequestWant) {
			tr.failures = append(tr.failures, fmt.Sprintf("%s +%v: %q (%v)", start.Format("15:04:05.000"),
				start.Sub(tr.started).Round(time.Millisecond), strings.TrimSpace(out), err))
		}
		tr.mu.Unlock()
	}
}

// halt stops the request loop and waits for its last request.
func (tr *traffic) halt() {
	select {
	case <-tr.stop:
	default:
		close(tr.stop)
	}
	<-tr.loopDone
}

// Running reports whether the download is still under way.
func (tr *traffic) Running() bool {
	select {
	case <-tr.ended:
		return false
	default:
		return true
	}
}

// Downloaded returns how many bytes the download has written so far.
func (tr *traffic) Downloaded() int64 {
	fi, err := os.Stat(tr.file)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// Wait waits up to timeout for the download to end, then stops the
// request loop, and returns the results.
func (tr *traffic) Wait(t *testing.T, timeout time.Duration) trafficResult {
	t.Helper()
	r := trafficResult{DownloadExit: tr.download.Wait(timeout)}
	tr.halt()
	if r.DownloadExit >= 0 {
		<-tr.ended // closed right after the exit Wait saw
		r.DownloadEnd = tr.endedAt
		r.DownloadTook = tr.endedAt.Sub(tr.started)
	}
	r.DownloadOut = strings.TrimSpace(tr.download.Logs())
	if f, err := os.Open(tr.file); err == nil {
		h := sha256.New()
		r.DownloadLen, _ = io.Copy(h, f)
		f.Close()
		r.DownloadSum = fmt.Sprintf("%x", h.Sum(nil))
	}
	tr.mu.Lock()
	r.Requests, r.Failures = tr.requests, append([]string(nil), tr.failures...)
	tr.mu.Unlock()
	return r
}

// demoTraffic is a trafficSpec for the seed lab: a download of n bytes
// from h1 (Host a.example on port 8080) at rate bytes per second, and
// short requests to h2 (Host b.example, same port) every 100 ms.
func demoTraffic(n, rate int) trafficSpec {
	return trafficSpec{
		DownloadURL: fmt.Sprintf("http://10.0.0.42:8080/bytes?n=%d&rate=%d", n, rate), DownloadHost: "a.example", DownloadBytes: n,
		RequestURL: "http://10.0.0.42:8080/", RequestHost: "b.example", RequestWant: "h2: Host b.example", Every: 100 * time.Millisecond,
	}
}

// checkIntact fails t unless the download completed with the demo
// server's pattern and no short request failed.
func (r trafficResult) checkIntact(t *testing.T, what string, n int) {
	t.Helper()
	if r.DownloadExit != 0 || r.DownloadLen != int64(n) || r.DownloadSum != patternSum(n) {
		t.Errorf("%s: download exit %d, %d of %d bytes, sha256 %s (want %s): %s", what, r.DownloadExit, r.DownloadLen, n,
			r.DownloadSum, patternSum(n), r.DownloadOut)
	}
	if len(r.Failures) > 0 || r.Requests == 0 {
		t.Errorf("%s: %d of %d short requests failed:\n%s", what, len(r.Failures), r.Requests, strings.Join(r.Failures, "\n"))
	}
}
