package test

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sixgate/sixgate/test/ovs"
)

// TestReloadKeepsConnections changes the configuration under a long
// download and a loop of short requests, in each data path: a service
// added, an unrelated backend removed, the limits and timeouts changed
// leave both intact; the download's own backend removed drains it, and
// after the drain timeout the client gets a reset, counted, while the
// short requests to the other backend go on.
func TestReloadKeepsConnections(t *testing.T) { inEachMode(t, testReloadKeepsConnections) }

func testReloadKeepsConnections(t *testing.T, l *seedLab) {
	const size, rate = 12 << 20, 2 << 20 // 6 s
	base := l.readConfig(t)

	// Section by section, each change keeping the ones before.
	added := strings.Replace(base, extraServices, extraServices+
		`    - {vip: "10.0.0.42", port: 8443, backends: [{address: "[2001:db8::2]:443"}]}`+"\n", 1)
	unrelated := strings.Replace(added, `        - {address: "[2001:db8::2]:443", match: ["b.example"]}`+"\n", "", 1)
	limits := strings.Replace(unrelated, "  mtu6: 1500\n", "  mtu6: 1500\n"+
		"  limits: {max_connections: 5000, max_embryonic: 1000, syn_cookie_threshold: 500}\n"+
		"  timeouts: {idle: 1h, embryonic: 5s, drain: 2s}\n", 1)
	serving := strings.Replace(limits,
		`        - {address: "[2001:db8::1]:8080", match: ["a.example"], default: true}`+"\n"+
			`        - {address: "[2001:db8::2]:8080", match: ["b.example"]}`+"\n",
		`        - {address: "[2001:db8::2]:8080", match: ["b.example"], default: true}`+"\n", 1)
	for i, c := range []string{added, unrelated, limits, serving} {
		if c == base || i > 0 && c == []string{added, unrelated, limits}[i-1] {
			t.Fatalf("change %d left the file as it was", i+1)
		}
	}

	// (1), (2), (4): nothing lost.
	tr := startTraffic(t, l.h3, demoTraffic(size, rate))
	l.waitDownloading(t, tr)
	l.reloadWith(t, added)
	l.expect(t, "the added service", "h2: Host 10.0.0.42:8443", "", "curl", "-sSk", "--max-time", "10", "https://10.0.0.42:8443/")
	l.reloadWith(t, unrelated)
	l.reloadWith(t, limits)
	if got := l.metric(t, `sixgate_proxy46_limit{bound="max_connections"}`); got != 5000 {
		t.Errorf("max_connections after the reload: %v", got)
	}
	if !tr.Running() {
		t.Errorf("the download ended before the reloads did: it tested nothing")
	}
	r := tr.Wait(t, 40*time.Second)
	r.checkIntact(t, "service added, unrelated backend removed, limits changed", size)
	t.Logf("%s mode: %d MB download across 3 reloads in %v, %d short requests, %d failed",
		l.mode, size>>20, r.DownloadTook.Round(time.Millisecond), r.Requests, len(r.Failures))
	if strings.Contains(l.sixgate.Logs(), "drain timeout passed") || l.metric(t, "sixgate_splice46_connections_drained_total") != 0 {
		t.Errorf("connections were drained by reloads that removed nothing they used")
	}

	// (3): the download's backend removed, with a drain of 2 s.
	tr = startTraffic(t, l.h3, demoTraffic(size, rate))
	l.waitDownloading(t, tr)
	removed := time.Now()
	l.reloadWith(t, serving)
	if !ovs.Wait(5*time.Second, func() bool { return l.metric(t, "sixgate_splice46_connections_draining") == 1 }) {
		t.Errorf("no draining connection after the serving backend was removed")
	}
	r = tr.Wait(t, 20*time.Second)
	reset := r.DownloadEnd.Sub(removed)
	if r.DownloadExit == 0 || !strings.Contains(r.DownloadOut, "reset") {
		t.Errorf("download from the removed backend: exit %d, %q; want a connection reset", r.DownloadExit, r.DownloadOut)
	}
	// Not before the drain timeout; after it, within the engine's timer
	// period and a round of challenge ACKs, with room for a loaded
	// machine.
	if reset < 2*time.Second || reset > 5*time.Second {
		t.Errorf("the drained download ended %v after the reload, want soon after the 2 s drain timeout", reset)
	}
	if r.DownloadLen == 0 || r.DownloadLen >= size {
		t.Errorf("the drained download received %d bytes", r.DownloadLen)
	}
	if len(r.Failures) > 0 || r.Requests == 0 {
		t.Errorf("short requests to the remaining backend: %d of %d failed:\n%s", len(r.Failures), r.Requests, strings.Join(r.Failures, "\n"))
	}
	if !ovs.Wait(3*time.Second, func() bool {
		return l.metric(t, "sixgate_splice46_connections_drained_total") == 1 && l.metric(t, "sixgate_splice46_connections_draining") == 0
	}) {
		t.Errorf("drained %v, draining %v; want 1 and 0", l.metric(t, "sixgate_splice46_connections_drained_total"),
			l.metric(t, "sixgate_splice46_connections_draining"))
	}
	if !ovs.Wait(3*time.Second, func() bool {
		return strings.Contains(l.sixgate.Logs(), `msg="splice46: drain timeout passed: connections reset towards both ends" app=splice46 connections=1`)
	}) {
		t.Errorf("no log line for the drained connection:\n%s", lastLines(l.sixgate.Logs(), 5))
	}
	// The backend's end is gone too: the reset reached it.
	if !ovs.Wait(3*time.Second, func() bool {
		return strings.TrimSpace(l.h1.Run(t, "ss", "-tnH", "state", "established", "( sport = :8080 )")) == ""
	}) {
		t.Errorf("h1 still has the drained connection:\n%s", l.h1.Run(t, "ss", "-tn"))
	}
	t.Logf("%s mode: download from the removed backend reset %v after the reload (drain 2 s) at %d bytes, %d short requests, %d failed",
		l.mode, reset.Round(time.Millisecond), r.DownloadLen, r.Requests, len(r.Failures))

	// What needs a restart is refused, and the running file stays.
	refusedBefore := l.metric(t, `sixgate_config_reloads_total{result="failure"}`)
	l.writeConfig(t, strings.Replace(serving, `pool6: "2001:db8:ffff::/96"`, `pool6: "2001:db8:fffe::/96"`, 1))
	if err := l.sixgate.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if !ovs.Wait(10*time.Second, func() bool {
		return l.metric(t, `sixgate_config_reloads_total{result="failure"}`) == refusedBefore+1
	}) {
		t.Fatal("a pool6 change was not refused")
	}
	if logs := l.sixgate.Logs(); !strings.Contains(logs, l.config+":") || !strings.Contains(logs, "splice46.pool6: changed from 2001:db8:ffff::/96 to 2001:db8:fffe::/96") {
		t.Errorf("the refusal does not name the file, line and key:\n%s", lastLines(logs, 5))
	}
	l.expect(t, "after the refused reload", "h2: Host b.example", "", "curl", "-sS", "--max-time", "10", "-H", "Host: b.example", "http://10.0.0.42:8080/")
}

func (l *seedLab) readConfig(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(l.config)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (l *seedLab) writeConfig(t *testing.T, cfg string) {
	t.Helper()
	if err := os.WriteFile(l.config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
}

// reloadWith writes cfg over the lab's file, sends SIGHUP and waits until
// the reload is taken and the bridge resynced.
func (l *seedLab) reloadWith(t *testing.T, cfg string) {
	t.Helper()
	l.writeConfig(t, cfg)
	ok := l.metric(t, `sixgate_config_reloads_total{result="success"}`)
	synced := strings.Count(l.sixgate.Logs(), "flows synced")
	if err := l.sixgate.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if !ovs.Wait(10*time.Second, func() bool {
		return l.metric(t, `sixgate_config_reloads_total{result="success"}`) == ok+1 && strings.Count(l.sixgate.Logs(), "flows synced") > synced
	}) {
		t.Fatalf("reload not taken:\n%s", lastLines(l.sixgate.Logs(), 10))
	}
}

// waitDownloading waits until the download has received its first bytes.
func (l *seedLab) waitDownloading(t *testing.T, tr *traffic) {
	t.Helper()
	if !ovs.Wait(10*time.Second, func() bool { return tr.Downloaded() > 256<<10 }) {
		t.Fatalf("the download did not start: %s", tr.download.Logs())
	}
}
