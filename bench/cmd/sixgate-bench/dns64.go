package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/sixgate/sixgate/bench/lab"
	"github.com/sixgate/sixgate/bench/report"
	"github.com/sixgate/sixgate/test/ovs"
)

// The DNS64 benchmark: dnsperf sends AAAA queries for names with A
// records only (every answer synthesized) to sixgate's DNS64 and to
// Unbound's dns64 module, both in front of the same Unbound serving the
// zone from memory (an auth-zone). Both see the zone warm, each from its
// own cache of answers after the warming pass.
const dnsBenchNames = 1000

// clk is the clock tick of /proc/PID/stat times (USER_HZ, 100 on Linux).
const clk = 100

// dnsRounds is how many times each resolver is measured, in turns
// (sixgate, Unbound, then Unbound, sixgate, ...), so that a change in the
// machine's other load during the run falls on both alike.
const dnsRounds = 3

func runDNS64(ctx context.Context, o *options, t *lab.T) ([]report.DNS64, string) {
	note := fmt.Sprintf("dnsperf (%s) on loopback, AAAA queries over UDP for %d names that have A records only, so every answer is synthesized; the zone is served from memory by an Unbound auth-zone upstream that both DNS64s forward to, and both were warmed with one pass first. Each resolver is measured %d times for %s, in turns (sixgate, Unbound, Unbound, sixgate, ...), and its figures are over all its turns; the ratios of each round are listed below the table. CPU: user+system seconds of the DNS64 process per 10^4 answers, and of the upstream Unbound beside it (both answer from their caches once warm, so the upstream is barely asked).", dnsperfVersion(), dnsBenchNames, dnsRounds, o.duration)
	unbound, err := exec.LookPath("unbound")
	if err != nil {
		unbound = "/usr/sbin/unbound"
	}
	if _, err := os.Stat(unbound); err != nil {
		return nil, "Not run: unbound is not installed (bench/install-deps.sh)."
	}
	if _, err := exec.LookPath("dnsperf"); err != nil {
		return nil, "Not run: dnsperf is not installed (bench/install-deps.sh)."
	}
	type resolver struct {
		row  report.DNS64
		addr string
		pid  int
		// Totals over the turns.
		completed, lost int
		secs, latency   float64 // seconds measured; latency × answers
		cpu, upCPU      int64
	}
	rs := []*resolver{{row: report.DNS64{Name: "sixgate", Label: "sixgate DNS64"}}, {row: report.DNS64{Name: "unbound", Label: "Unbound dns64 module"}}}
	var upPID int
	var queries string
	o.progress("dns64: starting the upstream, sixgate and Unbound")
	if err := t.Do(func() {
		bin, err := build(ctx, o, t.TempDir(), "./cmd/sixgate", "sixgate")
		if err != nil {
			t.Fatal(err)
		}
		upPort := freeUDP(t)
		upPID = startBenchUpstream(t, unbound, upPort)
		queries = filepath.Join(t.TempDir(), "queries")
		var b strings.Builder
		for i := range dnsBenchNames {
			fmt.Fprintf(&b, "n%d.bench.test AAAA\n", i)
		}
		if err := os.WriteFile(queries, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			port := freeUDP(t)
			switch r.row.Name {
			case "sixgate":
				dir := t.TempDir()
				cfg := filepath.Join(dir, "dns64.yaml")
				text := fmt.Sprintf("controller: {listen: \"tcp:127.0.0.1:%d\", http: \"off\"}\ndns64:\n  listen: [\"127.0.0.1:%d\"]\n  upstream: [\"127.0.0.1:%d\"]\n  prefix: \"64:ff9b::/96\"\n  rate: \"off\"\n",
					freeUDP(t), port, upPort)
				if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
				d := ovs.StartSixgate(t, bin, "-config", cfg, "-log-level", "warn")
				t.Cleanup(func() { d.Stop() })
				r.pid = d.PID()
			default:
				r.pid = startBenchUnboundDNS64(t, unbound, port, upPort)
			}
			r.addr = fmt.Sprintf("127.0.0.1:%d", port)
			waitSynthesized(t, r.addr)
			// Warm: every name once through.
			if _, err := dnsperf(ctx, r.addr, queries, time.Second, 1); err != nil {
				t.Fatal(err)
			}
		}
	}); err != nil {
		for _, r := range rs {
			r.row.Note = err.Error()
		}
		return []report.DNS64{rs[0].row, rs[1].row}, note
	}
	var failed error
	for round := range dnsRounds {
		order := []*resolver{rs[0], rs[1]}
		if round%2 == 1 {
			order[0], order[1] = rs[1], rs[0]
		}
		for _, r := range order {
			cpu0, up0 := cpuTicks(r.pid), cpuTicks(upPID)
			res, err := dnsperf(ctx, r.addr, queries, o.duration, 0)
			if err != nil {
				failed = err
				break
			}
			cpu1, up1 := cpuTicks(r.pid), cpuTicks(upPID)
			r.completed += res.completed
			r.lost += res.lost
			if res.qps > 0 {
				r.secs += float64(res.completed) / res.qps
			}
			r.latency += res.latency.Seconds() * float64(res.completed)
			r.cpu += cpu1 - cpu0
			r.upCPU += up1 - up0
			r.row.RoundQueriesPerSec = append(r.row.RoundQueriesPerSec, res.qps)
			per10k := 0.0
			if res.completed > 0 {
				per10k = float64(cpu1-cpu0) / clk / float64(res.completed) * 1e4
			}
			r.row.RoundCPUPer10k = append(r.row.RoundCPUPer10k, per10k)
			o.progress("  dns64 round %d, %s: %.0f queries/s, %d lost, avg latency %v, CPU %.3f s per 10^4", round+1, r.row.Label, res.qps, res.lost, res.latency, per10k)
		}
		if failed != nil {
			break
		}
	}
	var out []report.DNS64
	for _, r := range rs {
		row := r.row
		switch {
		case failed != nil:
			row = report.DNS64{Name: row.Name, Label: row.Label, Note: failed.Error()}
		case r.completed > 0 && r.secs > 0:
			row.QueriesPerSec = float64(r.completed) / r.secs
			row.Lost = r.lost
			row.AvgLatency = time.Duration(r.latency / float64(r.completed) * float64(time.Second))
			row.CPUPer10k = float64(r.cpu) / clk / float64(r.completed) * 1e4
			row.UpstreamCPUPer10k = float64(r.upCPU) / clk / float64(r.completed) * 1e4
			row.Available = true
		}
		out = append(out, row)
	}
	return out, note
}

func freeUDP(t *lab.T) int {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

func unboundConf(dir string, port int) string {
	return fmt.Sprintf("server:\n  interface: 127.0.0.1\n  port: %d\n  do-daemonize: no\n  username: \"\"\n  chroot: \"\"\n  directory: %q\n  pidfile: \"\"\n  use-syslog: no\n  logfile: \"\"\n  verbosity: 0\n  do-ip6: no\n  access-control: 127.0.0.0/8 allow\n  num-threads: %d\n", port, dir, runtime.NumCPU())
}

func runUnboundConf(t *lab.T, bin, dir, conf string) int {
	path := filepath.Join(dir, "unbound.conf")
	if err := os.WriteFile(path, []byte(conf+"remote-control:\n  control-enable: no\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(filepath.Join(filepath.Dir(bin), "unbound-checkconf"), path).CombinedOutput(); err != nil {
		t.Fatalf("unbound-checkconf: %v: %s", err, out)
	}
	d := ovs.StartSixgate(t, bin, "-d", "-c", path)
	t.Cleanup(func() { d.Stop() })
	return d.PID()
}

// startBenchUpstream serves bench.test, n0 to n999 with an A record each,
// from an auth-zone, and refuses every other name.
func startBenchUpstream(t *lab.T, bin string, port int) int {
	dir := t.TempDir()
	var z strings.Builder
	z.WriteString("$ORIGIN bench.test.\n@ 3600 IN SOA ns hostmaster 1 3600 600 86400 300\n@ 3600 IN NS ns\nns 3600 IN A 198.41.0.53\n")
	for i := range dnsBenchNames {
		fmt.Fprintf(&z, "n%d 3600 IN A 198.41.%d.%d\n", i, i/250, i%250+1)
	}
	zone := filepath.Join(dir, "bench.test.zone")
	if err := os.WriteFile(zone, []byte(z.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := unboundConf(dir, port) + "  module-config: \"iterator\"\n  local-zone: \".\" refuse\n  local-zone: \"bench.test.\" transparent\n" +
		fmt.Sprintf("auth-zone:\n  name: \"bench.test.\"\n  zonefile: %q\n  for-downstream: yes\n  for-upstream: yes\n  fallback-enabled: no\n", zone)
	return runUnboundConf(t, bin, dir, conf)
}

func startBenchUnboundDNS64(t *lab.T, bin string, port, upstream int) int {
	dir := t.TempDir()
	conf := unboundConf(dir, port) + "  module-config: \"dns64 iterator\"\n  dns64-prefix: 64:ff9b::/96\n  do-not-query-localhost: no\n  local-zone: \"test.\" nodefault\n" +
		fmt.Sprintf("forward-zone:\n  name: \".\"\n  forward-addr: 127.0.0.1@%d\n", upstream)
	return runUnboundConf(t, bin, dir, conf)
}

// waitSynthesized waits until addr answers a synthesized AAAA record.
func waitSynthesized(t *lab.T, addr string) {
	m := new(dns.Msg)
	m.SetQuestion("n1.bench.test.", dns.TypeAAAA)
	c := &dns.Client{Timeout: 500 * time.Millisecond}
	if !ovs.Wait(15*time.Second, func() bool {
		in, _, err := c.Exchange(m, addr)
		return err == nil && len(in.Answer) == 1
	}) {
		t.Fatalf("no synthesized answer from %s", addr)
	}
}

type dnsperfResult struct {
	qps       float64
	completed int
	lost      int
	latency   time.Duration
}

var (
	reQPS       = regexp.MustCompile(`Queries per second:\s+([0-9.]+)`)
	reCompleted = regexp.MustCompile(`Queries completed:\s+(\d+)`)
	reLost      = regexp.MustCompile(`Queries lost:\s+(\d+)`)
	reLatency   = regexp.MustCompile(`Average Latency \(s\):\s+([0-9.]+)`)
)

// dnsperf runs dnsperf against addr for d (or passes passes over the
// file, when not 0) and reads its summary.
func dnsperf(ctx context.Context, addr, file string, d time.Duration, passes int) (dnsperfResult, error) {
	host, port, _ := net.SplitHostPort(addr)
	args := []string{"-s", host, "-p", port, "-d", file, "-q", "200", "-t", "2"}
	if passes > 0 {
		args = append(args, "-n", strconv.Itoa(passes))
	} else {
		args = append(args, "-l", strconv.Itoa(int(max(d/time.Second, 1))))
	}
	out, err := exec.CommandContext(ctx, "dnsperf", args...).CombinedOutput()
	if err != nil {
		return dnsperfResult{}, fmt.Errorf("dnsperf: %v: %s", err, lastLines(out, 5))
	}
	return parseDNSPerf(string(out))
}

func parseDNSPerf(s string) (dnsperfResult, error) {
	var r dnsperfResult
	m := reQPS.FindStringSubmatch(s)
	if m == nil {
		return r, fmt.Errorf("dnsperf: no queries per second in its output: %s", lastLines([]byte(s), 5))
	}
	r.qps, _ = strconv.ParseFloat(m[1], 64)
	if m := reCompleted.FindStringSubmatch(s); m != nil {
		r.completed, _ = strconv.Atoi(m[1])
	}
	if m := reLost.FindStringSubmatch(s); m != nil {
		r.lost, _ = strconv.Atoi(m[1])
	}
	if m := reLatency.FindStringSubmatch(s); m != nil {
		v, _ := strconv.ParseFloat(m[1], 64)
		r.latency = time.Duration(v * float64(time.Second))
	}
	return r, nil
}

func dnsperfVersion() string {
	out, err := exec.Command("dnsperf", "-h").CombinedOutput()
	if m := regexp.MustCompile(`DNS Performance Testing Tool\s+Version ([0-9.]+)`).FindSubmatch(out); err == nil || m != nil {
		if m != nil {
			return "version " + string(m[1])
		}
	}
	return "version unknown"
}

// cpuTicks is the user and system time of process pid so far, in clock
// ticks (/proc/PID/stat fields 14 and 15).
func cpuTicks(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	// The command name may hold spaces: fields count from after ")".
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st
}
