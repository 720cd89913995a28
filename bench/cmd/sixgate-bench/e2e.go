package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sixgate/sixgate/bench/lab"
	"github.com/sixgate/sixgate/bench/report"
	"github.com/sixgate/sixgate/test/ovs"
)

// The bench lab is the seed demo's (test/splice46_test.go): one bridge,
// h1 and h2 IPv6-only servers, h3 the IPv4 client, sixgate in between;
// plus h4, a dual-stack host running haproxy, and an IPv6 address on h3 so
// that the ceiling (plain IPv6 forwarding, no translation) can be measured
// from the same client. Names differ from the tests' so that both can run
// on one Open vSwitch.
const (
	bridgeName = "sgbench"
	vip        = "10.0.0.42"
	haproxyV4  = "10.0.0.4"
	h1v6       = "2001:db8::1"
	iperfPort  = 5201
	httpHost   = "a.example" // routed to h1 by sixgate and haproxy alike
	// concurrency is wrk's connections at a time for the rate figure.
	concurrency = 16
)

const benchTopology = `# sixgate-bench: the seed topology plus a haproxy host and an iperf3 service.
controller:
  listen: "tcp:127.0.0.1:%d"
  http: "127.0.0.1:%d"
subnets: ["10.0.0.0/24", "2001:db8::/64"]
switches:
  - {name: s1, dpid: "0x1"}
links: []
hosts:
  - {name: h1, switch: s1, port: 1, mac: "00:00:0a:00:00:01", ipv6: ["2001:db8::1"]}
  - {name: h2, switch: s1, port: 2, mac: "00:00:0a:00:00:02", ipv6: ["2001:db8::2"]}
  - {name: h3, switch: s1, port: 3, mac: "00:00:0a:00:00:03", ipv4: ["10.0.0.3/24"], ipv6: ["2001:db8::3"]}
  - {name: h4, switch: s1, port: 4, mac: "00:00:0a:00:00:04", ipv4: ["10.0.0.4/24"], ipv6: ["2001:db8::4"]}
splice46:
  mac: "00:00:0a:00:00:42"
  pool6: "2001:db8:ffff::/96"
  mtu6: 1500
  services:
    - vip: "10.0.0.42"
      port: 443
      select: sni
      backends:
        - {address: "[2001:db8::1]:443", match: ["a.example"]}
        - {address: "[2001:db8::2]:443", match: ["b.example"]}
    - vip: "10.0.0.42"
      port: 8080
      select: http-host
      backends:
        - {address: "[2001:db8::1]:8080", match: ["a.example"], default: true}
        - {address: "[2001:db8::2]:8080", match: ["b.example"]}
    # iperf3 opens a control and a data connection, which must reach the
    # same server: hash on the client's address.
    - vip: "10.0.0.42"
      port: 5201
      select: hash
      backends:
        - {address: "[2001:db8::1]:5201"}
`

// haproxyConfig is haproxy doing sixgate's job from a dual-stack host, as
// it is deployed for IPv6-only hosting today: TLS routed by SNI in TCP
// mode, HTTP routed by Host, iperf3 passed through in TCP mode.
const haproxyConfig = `global
    maxconn 4000
defaults
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend tls
    mode tcp
    bind 10.0.0.4:443
    tcp-request inspect-delay 5s
    tcp-request content accept if { req.ssl_hello_type 1 }
    use_backend tls_b if { req.ssl_sni -i b.example }
    default_backend tls_a
frontend web
    mode http
    bind 10.0.0.4:8080
    use_backend web_b if { req.hdr(host) -i b.example }
    default_backend web_a
frontend iperf
    mode tcp
    bind 10.0.0.4:5201
    default_backend iperf_a
backend tls_a
    mode tcp
    server h1 [2001:db8::1]:443
backend tls_b
    mode tcp
    server h2 [2001:db8::2]:443
backend web_a
    mode http
    server h1 [2001:db8::1]:8080
backend web_b
    mode http
    server h2 [2001:db8::2]:8080
backend iperf_a
    mode tcp
    server h1 [2001:db8::1]:5201
`

// setupSpec says how to reach the servers in one setup.
type setupSpec struct {
	name, label string
	iperfHost   string // iperf3 -c
	url         string // wrk's target; Host is always httpHost
}

func specs() map[string]setupSpec {
	return map[string]setupSpec{
		"ceiling":      {"ceiling", "IPv6 forwarding (ceiling)", h1v6, "http://[" + h1v6 + "]:8080/"},
		"controller":   {"controller", "sixgate controller mode", vip, "http://" + vip + ":8080/"},
		"port":         {"port", "sixgate port mode", vip, "http://" + vip + ":8080/"},
		"port-ring":    {"port-ring", "sixgate port mode, receive ring", vip, "http://" + vip + ":8080/"},
		"port-offload": {"port-offload", "sixgate port mode, segment offload", vip, "http://" + vip + ":8080/"},
		"haproxy":      {"haproxy", "haproxy (TCP/SNI, HTTP/Host)", haproxyV4, "http://" + haproxyV4 + ":8080/"},
	}
}

// e2eLab is the running topology.
type e2eLab struct {
	o                  *options
	t                  *lab.T
	bin, config        string
	br                 *ovs.Bridge
	h1, h2, h3, h4     *ovs.Netns
	sixgate            *ovs.Daemon
	haproxy            *ovs.Daemon
	ctlPort, metricsAt int
	// pprofAt is the port of sixgate's -pprof server.
	pprofAt int
	// engineCabled says the engine port exists (port mode ran).
	engineCabled bool
}

// runE2E builds the lab once and measures each setup asked for, in order.
func runE2E(ctx context.Context, o *options, t *lab.T) ([]report.Setup, string) {
	stream := "one TCP stream"
	if o.bitrate != "" {
		stream += " capped at " + o.bitrate + "bit/s"
	}
	note := fmt.Sprintf("One Open vSwitch bridge (userspace datapath), hosts in network namespaces. iperf3: "+stream+" for %v, client h3 to a server on h1. Short connections: wrk, %d connections at a time for %v, `Connection: close` (a new TCP connection per request), GET / with `Host: %s`. Request latency: the same with one connection at a time.",
		o.duration, concurrency, o.duration, httpHost)
	if why := e2ePrereqs(); why != "" {
		return nil, "Skipped: " + why + "."
	}
	l := &e2eLab{o: o, t: t}
	o.progress("end to end: building the lab")
	if err := t.Do(func() { l.build(ctx) }); err != nil {
		return nil, "Skipped: the lab could not be built: " + err.Error()
	}
	all := specs()
	var out []report.Setup
	for _, name := range o.setups {
		if ctx.Err() != nil {
			break
		}
		sp, ok := all[name]
		if !ok {
			out = append(out, report.Setup{Name: name, Label: name, Note: "unknown setup"})
			continue
		}
		s := report.Setup{Name: sp.name, Label: sp.label, Concurrency: concurrency}
		o.progress("end to end: %s", sp.label)
		if why := l.prepare(ctx, name); why != "" {
			s.Note = why
		} else if err := t.Do(func() { l.measure(ctx, sp, &s) }); err != nil {
			s.Available, s.Note = false, err.Error()
		}
		out = append(out, s)
	}
	return out, note
}

// e2ePrereqs says why the end-to-end part cannot run here, or "".
func e2ePrereqs() string {
	if os.Geteuid() != 0 {
		return "needs root (network namespaces, Open vSwitch)"
	}
	var missing []string
	for _, tool := range []string{"ovs-vsctl", "ovs-ofctl", "ip", "ethtool", "iperf3", "wrk", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) > 0 {
		return "missing " + strings.Join(missing, ", ") + " (run bench/install-deps.sh)"
	}
	if err := exec.Command("ovs-vsctl", "--timeout=3", "show").Run(); err != nil {
		return "Open vSwitch is not running (scripts/start-ovs.sh)"
	}
	return ""
}

func (l *e2eLab) build(ctx context.Context) {
	t, o := l.t, l.o
	dir := t.TempDir()
	var err error
	if l.bin, err = build(ctx, o, dir, "./cmd/sixgate", "sixgate"); err != nil {
		t.Fatal(err)
	}
	server, err := build(ctx, o, dir, "./test/demoserver", "demoserver")
	if err != nil {
		t.Fatal(err)
	}
	l.ctlPort, l.metricsAt, l.pprofAt = freePort(t), freePort(t), freePort(t)
	l.config = filepath.Join(dir, "bench.yaml")
	if err := os.WriteFile(l.config, []byte(fmt.Sprintf(benchTopology, l.ctlPort, l.metricsAt)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(l.bin, "check", "-config", l.config).CombinedOutput(); err != nil {
		t.Fatalf("bench topology rejected: %s", out)
	}

	l.br = ovs.NewBridge(t, bridgeName, 0x1, fmt.Sprintf("tcp:127.0.0.1:%d", l.ctlPort))
	// Controller mode sends every spliced segment to the controller: let
	// Open vSwitch queue more packet-ins than its default 100.
	ovs.Run(t, "ovs-vsctl", "set", "controller", bridgeName, "controller_queue_size=512")
	l.h1 = ovs.AddNetns(t, l.br, "sgb-h1", 1, "00:00:0a:00:00:01", h1v6+"/64")
	l.h2 = ovs.AddNetns(t, l.br, "sgb-h2", 2, "00:00:0a:00:00:02", "2001:db8::2/64")
	l.h3 = ovs.AddNetns(t, l.br, "sgb-h3", 3, "00:00:0a:00:00:03", "10.0.0.3/24", "2001:db8::3/64")
	l.h4 = ovs.AddNetns(t, l.br, "sgb-h4", 4, "00:00:0a:00:00:04", haproxyV4+"/24", "2001:db8::4/64")
	for _, h := range []*ovs.Netns{l.h1, l.h2} {
		h.Run(t, "ip", "-6", "route", "add", "2001:db8:ffff::/96", "dev", "eth0")
	}
	l.startSixgate(l.config)
	for name, h := range map[string]*ovs.Netns{"h1": l.h1, "h2": l.h2} {
		d := h.Start(t, server, "-name", name, "-line", "[::]:80", "-http", "[::]:8080", "-https", "[::]:443")
		if !ovs.Wait(10*time.Second, func() bool { return strings.Contains(d.Logs(), "serving") }) {
			t.Fatalf("%s server did not start: %s", name, d.Logs())
		}
	}
	l.h1.Start(t, "iperf3", "-s", "-p", strconv.Itoa(iperfPort))
}

func (l *e2eLab) startSixgate(config string) {
	t := l.t
	if l.sixgate != nil {
		l.sixgate.Stop()
	}
	l.sixgate = ovs.StartSixgate(t, l.bin, "-config", config, "-log-level", "warn", "-pprof", fmt.Sprintf("127.0.0.1:%d", l.pprofAt))
	if !ovs.Wait(20*time.Second, func() bool { return l.br.Connected(t) && len(l.br.DumpFlows(t)) > 1 }) {
		t.Fatalf("sixgate did not program the bridge:\n%s", l.sixgate.Logs())
	}
}

// prepare readies the lab for a setup and returns why it cannot be
// measured, or "".
func (l *e2eLab) prepare(_ context.Context, name string) string {
	switch name {
	case "port":
		return portModeAvailable(l, "")
	case "port-ring":
		return portModeAvailable(l, "ring")
	case "port-offload":
		return portModeAvailable(l, "offload")
	case "haproxy":
		if _, err := exec.LookPath("haproxy"); err != nil {
			return "haproxy not installed (run bench/install-deps.sh)"
		}
		var why string
		if err := l.t.Do(func() {
			cfg := filepath.Join(l.t.TempDir(), "haproxy.cfg")
			if err := os.WriteFile(cfg, []byte(haproxyConfig), 0o644); err != nil {
				l.t.Fatal(err)
			}
			d := l.h4.Start(l.t, "haproxy", "-db", "-f", cfg)
			l.haproxy = d
			if !ovs.Wait(10*time.Second, func() bool {
				out, _ := l.h4.Output(5*time.Second, "", "ss", "-ltn")
				return strings.Contains(out, haproxyV4+":8080")
			}) {
				l.t.Fatalf("haproxy did not start: %s", d.Logs())
			}
		}); err != nil {
			why = err.Error()
		}
		return why
	}
	return ""
}

// Port mode runs the engine on enginePort of the bridge, cabled to
// engineIface in the root namespace.
const (
	engineIface = "sgb-eng0"
	enginePort  = 10
)

// portModeAvailable switches sixgate to port mode: a copy of the bench
// topology with `mode: port` on the engine interface must pass `sixgate
// check` (a binary without port mode says why, and the setup is reported as
// not available); then the engine port is cabled and sixgate restarted with
// that file. The measurement is the same as for the other setups. io is
// "" (recvmmsg), "ring" or "offload" (GRO on the engine's end of the
// veth pair, super-packets through the engine).
func portModeAvailable(l *e2eLab, io string) string {
	section := fmt.Sprintf("  mode: port\n  ports:\n    - {interface: %q, switch: s1, port: %d, ring: %v, offload: %v}\n",
		engineIface, enginePort, io == "ring", io == "offload")
	cfg := strings.Replace(fmt.Sprintf(benchTopology, l.ctlPort, l.metricsAt), "  mtu6: 1500\n", "  mtu6: 1500\n"+section, 1)
	path := filepath.Join(filepath.Dir(l.config), "bench-port.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return err.Error()
	}
	if out, err := exec.Command(l.bin, "check", "-config", path).CombinedOutput(); err != nil {
		// "FILE:LINE: field: problem": the file is ours, the problem is news.
		msg := strings.TrimSpace(lastLines(out, 1))
		if i := strings.Index(msg, ": "); i >= 0 {
			msg = msg[i+2:]
		}
		return "sixgate does not accept `splice46.mode: port` (" + msg + ")"
	}
	if err := l.t.Do(func() {
		if !l.engineCabled {
			ovs.AddEnginePort(l.t, l.br, engineIface, enginePort)
			l.engineCabled = true
		}
		gro, flush := "off", "0"
		if io == "offload" {
			gro, flush = "on", "20000"
		}
		ovs.Run(l.t, "ethtool", "-K", engineIface, "gro", gro)
		if err := os.WriteFile("/sys/class/net/"+engineIface+"/gro_flush_timeout", []byte(flush), 0o644); err != nil {
			l.t.Fatalf("gro_flush_timeout: %v", err)
		}
		l.startSixgate(path)
		// The old process's flows are still there: wait for the steering.
		steer := fmt.Sprintf("output:%d", enginePort)
		if !ovs.Wait(20*time.Second, func() bool { return strings.Contains(strings.Join(l.br.DumpFlows(l.t), "\n"), steer) }) {
			l.t.Fatalf("port mode: no flow steers to port %d:\n%s", enginePort, strings.Join(l.br.DumpFlows(l.t), "\n"))
		}
	}); err != nil {
		return err.Error()
	}
	return ""
}

// measure runs iperf3, then wrk for the rate, then wrk for the latency,
// after one request proves the path works. The CPU of the data-path
// process, of ovs-vswitchd and of the machine is sampled around the first
// two; in port mode a CPU profile of sixgate is taken during each.
func (l *e2eLab) measure(ctx context.Context, sp setupSpec, s *report.Setup) {
	t, o := l.t, l.o
	if out, err := l.h3.Output(20*time.Second, "", "curl", "-sS", "--max-time", "15", "-H", "Host: "+httpHost, sp.url); err != nil || !strings.Contains(out, "h1") {
		t.Fatalf("no answer from h1 through %s: %v: %s", sp.label, err, strings.TrimSpace(out))
	}
	secs := strconv.Itoa(max(1, int(o.duration.Seconds())))
	m := cpuMeter{proc: l.dataPID(sp.name), ovs: ovsPID()}

	stop := l.profile(ctx, sp.name, "iperf3", m.proc, s)
	c0 := m.sample()
	iperf := []string{"iperf3", "-c", sp.iperfHost, "-p", strconv.Itoa(iperfPort), "-t", secs, "-J"}
	if o.bitrate != "" {
		iperf = append(iperf, "-b", o.bitrate)
	}
	out, err := l.run(ctx, o.duration+30*time.Second, iperf...)
	c1 := m.sample()
	stop()
	if err != nil {
		t.Fatalf("iperf3: %v: %s", err, lastLines([]byte(out), 5))
	}
	ip, err := parseIperf(out)
	if err != nil {
		t.Fatal(err)
	}
	s.ThroughputMbps, s.IperfBytes, s.IperfCPU = ip.mbps, ip.bytes, c1.since(c0, m)
	o.progress("  iperf3: %.0f Mbit/s%s", s.ThroughputMbps, cpuProgress(s.PerGB(), "s/GB", "%.2f"))

	stop = l.profile(ctx, sp.name, "wrk", m.proc, s)
	c0 = m.sample()
	out, err = l.run(ctx, o.duration+30*time.Second, "wrk", "-t", "1", "-c", strconv.Itoa(concurrency), "-d", secs+"s",
		"-H", "Host: "+httpHost, "-H", "Connection: close", sp.url)
	c1 = m.sample()
	stop()
	if err != nil {
		t.Fatalf("wrk: %v: %s", err, lastLines([]byte(out), 5))
	}
	w := parseWrk(out)
	s.ConnPerSec, s.Errors, s.Requests, s.RateCPU = w.rps, w.errors, w.requests, c1.since(c0, m)
	o.progress("  wrk -c %d: %.0f conn/s, %d errors%s", concurrency, w.rps, w.errors, cpuProgress(s.PerKConn(), "ms/1000 conn", "%.0f"))

	out, err = l.run(ctx, o.duration+30*time.Second, "wrk", "-t", "1", "-c", "1", "-d", secs+"s", "--latency",
		"-H", "Host: "+httpHost, "-H", "Connection: close", sp.url)
	if err != nil {
		t.Fatalf("wrk: %v: %s", err, lastLines([]byte(out), 5))
	}
	w = parseWrk(out)
	s.LatencyP50, s.LatencyP99 = w.p50, w.p99
	s.Errors += w.errors
	o.progress("  wrk -c 1: p50 %v p99 %v", w.p50, w.p99)
	s.Available = true
}

// cpuProgress formats a CPU figure for the progress lines.
func cpuProgress(c *report.CPU, unit, format string) string {
	if c == nil {
		return ""
	}
	return fmt.Sprintf("; CPU "+format+" process, "+format+" ovs-vswitchd, "+format+" machine %s", c.Process, c.OVS, c.Machine, unit)
}

// dataPID is the process that carries a setup's traffic, 0 for none (the
// ceiling is the switch alone).
func (l *e2eLab) dataPID(setup string) int {
	switch {
	case (setup == "controller" || strings.HasPrefix(setup, "port")) && l.sixgate != nil:
		return l.sixgate.PID()
	case setup == "haproxy" && l.haproxy != nil:
		return l.haproxy.PID()
	}
	return 0
}

// profile starts profiling a phase of a setup and returns the function
// that waits for the profiles and lists them in s: in port mode, a Go CPU
// profile of sixgate for the measurement duration (NAME-PHASE.pprof);
// with -perf, perf record -g of the data-path process
// (NAME-PHASE.perf.data and its report, NAME-PHASE.perf.txt) and perf stat
// of its context switches and system calls (NAME-PHASE.perf-stat.txt).
func (l *e2eLab) profile(ctx context.Context, setup, phase string, pid int, s *report.Setup) func() {
	o := l.o
	secs := max(1, int(o.duration.Seconds()))
	base := setup + "-" + phase
	var waits []func() string
	if strings.HasPrefix(setup, "port") {
		done := make(chan string, 1)
		go func() {
			done <- fetchProfile(ctx, fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile?seconds=%d", l.pprofAt, secs),
				filepath.Join(o.dir, base+".pprof"), time.Duration(secs+30)*time.Second)
		}()
		waits = append(waits, func() string { return <-done })
	}
	if o.perf && pid != 0 {
		if _, err := exec.LookPath("perf"); err == nil {
			data := filepath.Join(o.dir, base+".perf.data")
			cmd := exec.CommandContext(ctx, "perf", "record", "-q", "-g", "-p", strconv.Itoa(pid), "-o", data, "--", "sleep", strconv.Itoa(secs))
			// Context switches and system calls of the process, counted
			// meanwhile: wake-ups are what port mode pays for.
			stat := filepath.Join(o.dir, base+".perf-stat.txt")
			counts := exec.CommandContext(ctx, "perf", "stat", "-e", "sched:sched_switch,raw_syscalls:sys_enter", "-p", strconv.Itoa(pid), "-o", stat, "--", "sleep", strconv.Itoa(secs))
			if err := counts.Start(); err == nil {
				waits = append(waits, func() string {
					if err := counts.Wait(); err != nil {
						fmt.Fprintf(o.log, "perf stat %s: %v\n", base, err)
						return ""
					}
					return filepath.Base(stat)
				})
			}
			if err := cmd.Start(); err == nil {
				waits = append(waits, func() string {
					if err := cmd.Wait(); err != nil {
						fmt.Fprintf(o.log, "perf record %s: %v\n", base, err)
						return ""
					}
					txt := filepath.Join(o.dir, base+".perf.txt")
					rep, err := exec.CommandContext(ctx, "perf", "report", "-i", data, "--stdio", "--no-children", "--percent-limit", "0.5").Output()
					if err != nil || os.WriteFile(txt, rep, 0o644) != nil {
						return filepath.Base(data)
					}
					return filepath.Base(data) + "`, `" + filepath.Base(txt)
				})
			}
		}
	}
	return func() {
		for _, w := range waits {
			if f := w(); f != "" {
				s.Profiles = append(s.Profiles, f)
			}
		}
	}
}

// fetchProfile writes what url answers (a CPU profile, once its seconds
// have passed) to file and returns the file's base name, or "" (the
// failure goes to the log).
func fetchProfile(ctx context.Context, url, file string, timeout time.Duration) string {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "curl", "-sS", "--fail", "-o", file, url).CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "sixgate-bench: CPU profile %s: %v: %s\n", filepath.Base(file), err, out)
		return ""
	}
	return filepath.Base(file)
}

// run runs a client on h3, ended by ctx or the timeout.
func (l *e2eLab) run(ctx context.Context, timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", l.h3.Name}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// iperfResult is iperf3's receiver figures.
type iperfResult struct {
	mbps  float64
	bytes int64
}

func parseIperf(out string) (iperfResult, error) {
	var r struct {
		End struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
				Bytes         int64   `json:"bytes"`
			} `json:"sum_received"`
		} `json:"end"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		return iperfResult{}, fmt.Errorf("iperf3 output: %v: %s", err, lastLines([]byte(out), 3))
	}
	if r.Error != "" {
		return iperfResult{}, fmt.Errorf("iperf3: %s", r.Error)
	}
	return iperfResult{mbps: r.End.SumReceived.BitsPerSecond / 1e6, bytes: r.End.SumReceived.Bytes}, nil
}

type wrkResult struct {
	rps      float64
	requests int64
	errors   int
	p50, p99 time.Duration
}

func parseWrk(out string) wrkResult {
	var w wrkResult
	if m := regexp.MustCompile(`Requests/sec:\s+([\d.]+)`).FindStringSubmatch(out); m != nil {
		w.rps, _ = strconv.ParseFloat(m[1], 64)
	}
	if m := regexp.MustCompile(`(\d+) requests in`).FindStringSubmatch(out); m != nil {
		w.requests, _ = strconv.ParseInt(m[1], 10, 64)
	}
	// "Socket errors: connect 0, read 3, write 0, timeout 0" and
	// "Non-2xx or 3xx responses: N" are the failures wrk counts.
	for _, m := range regexp.MustCompile(`(?:connect|read|write|timeout) (\d+)`).FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(m[1])
		w.errors += n
	}
	if m := regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`).FindStringSubmatch(out); m != nil {
		n, _ := strconv.Atoi(m[1])
		w.errors += n
	}
	for _, m := range regexp.MustCompile(`(?m)^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$`).FindAllStringSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		unit := map[string]float64{"us": 1e3, "ms": 1e6, "s": 1e9}[m[3]]
		d := time.Duration(v * unit)
		if m[1] == "50" {
			w.p50 = d
		} else {
			w.p99 = d
		}
	}
	return w
}
