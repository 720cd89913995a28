package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sixgate/sixgate/bench/lab"
	"github.com/sixgate/sixgate/bench/report"
	"github.com/sixgate/sixgate/test/ovs"
)

// The translator lab: an IPv6-only client h6 and an IPv4-only server h4
// on one bridge, and two stateless translators between them, used in
// turn by changing the hosts' routes: sixgate's siit app in port mode
// (its engine on a veth pair to port 10), and TAYGA in a dual-stack
// namespace on port 3 doing the same job (the same pool6, the same
// one-to-one mapping of h6). h6 reaches h4 as pool6 + 198.18.0.4; h4 sees
// h6 as 198.18.1.6. The IPv4 addresses are from the benchmarking range
// (RFC 2544), which the machine's own interfaces do not use: the root
// namespace's ends of the hosts' veth pairs would answer ARP for them.
const (
	xlatBridge  = "sgxbench"
	xlatIface   = "sgxb-eng0"
	xlatPort    = 10
	xlatPool6   = "2001:db8:46::/96"
	xlatH4Pool6 = "2001:db8:46::c612:4" // 198.18.0.4
	xlatH6v4    = "198.18.1.6"
	xlatH6      = "2001:db8:6::6"
	// The ceiling: h4 also has an IPv6 address on a second prefix, which
	// tg routes to, so that IPv6 from h6 crosses the bridge twice as a
	// translator's traffic does, forwarded by the kernel, untranslated.
	xlatH4v6   = "2001:db8:4::4"
	xlatRouted = "2001:db8:4::/64"
)

const xlatTopology = `# sixgate-bench: stateless translation, sixgate and TAYGA side by side.
controller:
  listen: "tcp:127.0.0.1:%d"
  http: "127.0.0.1:%d"
switches:
  - {name: s1, dpid: "0x1"}
hosts:
  - {name: h6, switch: s1, port: 1, mac: "00:00:0b:00:00:06", ipv6: ["2001:db8:6::6"]}
  - {name: h4, switch: s1, port: 2, mac: "00:00:0b:00:00:04", ipv4: ["198.18.0.4"], ipv6: ["2001:db8:4::4"]}
  - {name: tg, switch: s1, port: 3, mac: "00:00:0b:00:00:02", ipv4: ["198.18.0.2"], ipv6: ["2001:db8:6::2", "2001:db8:4::2"]}
siit:
  mac: "00:00:0b:00:00:99"
  mode: port
  ports: [{interface: "` + xlatIface + `", switch: s1, port: 10, ring: true}]
  pool6: "` + xlatPool6 + `"
  eam: [{ipv4: "` + xlatH6v4 + `/32", ipv6: "` + xlatH6 + `/128"}]
  ipv4: {address: "198.18.0.1/24", mtu: 1500}
  ipv6: {address: "2001:db8:6::1/64", mtu: 1500}
`

// taygaConfig is the same mapping for TAYGA.
const taygaConfig = `tun-device sgxb
ipv4-addr 192.168.255.1
prefix ` + xlatPool6 + `
map ` + xlatH6v4 + ` ` + xlatH6 + `
data-dir %s
`

type xlatLab struct {
	o          *options
	t          *lab.T
	br         *ovs.Bridge
	h6, h4, tg *ovs.Netns
	sixgate    *ovs.Daemon
	tayga      *ovs.Daemon
	// iperfd is the iperf3 server; tests counts the tests run on it, so
	// that the next waits until the server listens for it.
	iperfd *ovs.Daemon
	tests  int
}

// xlatSpec is one translator: the hosts' next hops through it, and the
// process that does the work.
type xlatSpec struct {
	name, label string
	via6, via4  string
	pid         func(*xlatLab) int
}

func xlatSpecs() []xlatSpec {
	return []xlatSpec{
		{"sixgate", "sixgate siit, port mode", "2001:db8:6::1", "198.18.0.1", func(l *xlatLab) int { return l.sixgate.PID() }},
		{"tayga", "TAYGA (userspace, TUN)", "2001:db8:6::2", "198.18.0.2", func(l *xlatLab) int { return l.tayga.PID() }},
	}
}

// runTranslators builds the lab and measures each translator, the peer
// last.
func runTranslators(ctx context.Context, o *options, t *lab.T) ([]report.Translator, string) {
	note := fmt.Sprintf("One Open vSwitch bridge (userspace datapath), an IPv6-only client (h6) and an IPv4-only server (h4) in namespaces; the translator is chosen by the hosts' routes. iperf3 for %v each: one TCP stream h6 -> h4, then UDP with 64-byte payloads sent as fast as the client can (packets/s is what h4 received). CPU is the translating process's (sixgate's, TAYGA's) user and system time from /proc/PID/stat over each run; Open vSwitch's share is not counted for either.", o.duration)
	if why := e2ePrereqs(); why != "" {
		return nil, "Skipped: " + why + "."
	}
	if _, err := exec.LookPath("tayga"); err != nil {
		return nil, "Skipped: tayga not installed (run bench/install-deps.sh)."
	}
	l := &xlatLab{o: o, t: t}
	o.progress("translator: building the lab")
	if err := t.Do(func() { l.build(ctx) }); err != nil {
		return nil, "Skipped: the lab could not be built: " + err.Error()
	}
	// Each translator is measured twice, in the order A B B A, and keeps
	// its better figures: on a shared machine a neighbour's burst then
	// costs one run, not the comparison.
	specs := xlatSpecs()
	out := make([]report.Translator, len(specs))
	for i, sp := range specs {
		out[i] = report.Translator{Name: sp.name, Label: sp.label}
	}
	order := []int{0, 1, 1, 0}
	for round, i := range order {
		if ctx.Err() != nil {
			break
		}
		sp := specs[i]
		var r report.Translator
		o.progress("translator: %s (run %d of 2)", sp.label, 1+round/2)
		if err := t.Do(func() { l.measure(ctx, sp, &r) }); err != nil {
			if !out[i].Available {
				out[i].Note = err.Error()
			}
			continue
		}
		out[i].Note = ""
		best(&out[i], r)
	}
	// The ceiling goes before the peer, which the report keeps last.
	c := report.Translator{Name: "ceiling", Label: "IPv6 routed by a Linux namespace (ceiling)", Ceiling: true}
	o.progress("translator: %s", c.Label)
	if err := t.Do(func() { l.measureCeiling(ctx, &c) }); err != nil {
		c.Note = err.Error()
	}
	peer := out[len(out)-1]
	out = append(append(out[:len(out)-1:len(out)-1], c), peer)
	return out, note + " Each translator is measured twice (sixgate, TAYGA, TAYGA, sixgate); each figure is the better of its two runs, with the CPU cost of that run. The ceiling row is IPv6 from h6 to an IPv6 address of h4, routed by the kernel of TAYGA's namespace: the same two passes through the bridge as a translator's traffic, without translation, once."
}

// routeCeiling gives h4 and tg addresses on the ceiling's prefix and
// routes h6 to h4 through tg (the topologies declare the addresses).
func (l *xlatLab) routeCeiling() {
	t := l.t
	l.h4.Run(t, "ip", "-6", "addr", "add", xlatH4v6+"/64", "dev", "eth0", "nodad")
	l.tg.Run(t, "ip", "-6", "addr", "add", "2001:db8:4::2/64", "dev", "eth0", "nodad")
	l.h6.Run(t, "ip", "-6", "route", "add", xlatRouted, "via", "2001:db8:6::2", "dev", "eth0")
	l.h4.Run(t, "ip", "-6", "route", "add", "2001:db8:6::/64", "via", "2001:db8:4::2", "dev", "eth0")
}

// measureCeiling runs the same iperf3 tests to h4's IPv6 address, routed
// by tg's kernel.
func (l *xlatLab) measureCeiling(ctx context.Context, r *report.Translator) {
	if _, _, err := l.h6.PingUntil(xlatH4v6, time.Second, 15*time.Second); err != nil {
		l.t.Fatalf("no IPv6 path from h6 to h4 through tg: %v", err)
	}
	l.iperfRuns(ctx, xlatH4v6, 0, r)
	r.Ceiling = true
}

// best keeps in b the better of its figures and r's.
func best(b *report.Translator, r report.Translator) {
	if r.ThroughputMbps > b.ThroughputMbps {
		b.ThroughputMbps, b.CPUPerGBTCP = r.ThroughputMbps, r.CPUPerGBTCP
	}
	if r.PacketsPerSec > b.PacketsPerSec {
		b.PacketsPerSec, b.CPUPerGBUDP = r.PacketsPerSec, r.CPUPerGBUDP
	}
	b.Available = true
}

func (l *xlatLab) build(ctx context.Context) {
	t, o := l.t, l.o
	dir := t.TempDir()
	bin, err := build(ctx, o, dir, "./cmd/sixgate", "sixgate")
	if err != nil {
		t.Fatal(err)
	}
	ctlPort, metrics := freePort(t), freePort(t)
	config := filepath.Join(dir, "xlat.yaml")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(xlatTopology, ctlPort, metrics)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "check", "-config", config).CombinedOutput(); err != nil {
		t.Fatalf("translator topology rejected: %s", out)
	}
	l.br = ovs.NewBridge(t, xlatBridge, 0x1, fmt.Sprintf("tcp:127.0.0.1:%d", ctlPort))
	ovs.AddEnginePort(t, l.br, xlatIface, xlatPort)
	l.h6 = ovs.AddNetns(t, l.br, "sgxb-h6", 1, "00:00:0b:00:00:06", xlatH6+"/64")
	l.h4 = ovs.AddNetns(t, l.br, "sgxb-h4", 2, "00:00:0b:00:00:04", "198.18.0.4/24")
	l.tg = ovs.AddNetns(t, l.br, "sgxb-tg", 3, "00:00:0b:00:00:02", "198.18.0.2/24", "2001:db8:6::2/64")
	l.routeCeiling()

	// TAYGA: its TUN device carries pool6 and h6's IPv4 address.
	tc := filepath.Join(dir, "tayga.conf")
	if err := os.WriteFile(tc, []byte(fmt.Sprintf(taygaConfig, dir)), 0o644); err != nil {
		t.Fatal(err)
	}
	l.tg.Run(t, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1")
	l.tg.Run(t, "tayga", "-c", tc, "--mktun")
	l.tg.Run(t, "ip", "link", "set", "sgxb", "up")
	l.tg.Run(t, "ip", "route", "add", xlatH6v4+"/32", "dev", "sgxb")
	l.tg.Run(t, "ip", "-6", "route", "add", xlatPool6, "dev", "sgxb")
	l.tayga = l.tg.Start(t, "tayga", "-c", tc, "-n")
	if code := l.tayga.Wait(300 * time.Millisecond); code != -1 {
		t.Fatalf("tayga exited with %d: %s", code, l.tayga.Logs())
	}

	l.sixgate = ovs.StartSixgate(t, bin, "-config", config, "-log-level", "warn")
	if !ovs.Wait(20*time.Second, func() bool {
		return l.br.Connected(t) && strings.Contains(strings.Join(l.br.DumpFlows(t), "\n"), fmt.Sprintf("output:%d", xlatPort))
	}) {
		t.Fatalf("sixgate did not program the bridge:\n%s", l.sixgate.Logs())
	}
	l.iperfd = l.h4.Start(t, "iperf3", "-s", "--forceflush", "-p", strconv.Itoa(iperfPort))
}

// route points the hosts at one translator.
func (l *xlatLab) route(sp xlatSpec) {
	l.h6.Run(l.t, "ip", "-6", "route", "replace", xlatPool6, "via", sp.via6, "dev", "eth0")
	l.h4.Run(l.t, "ip", "route", "replace", xlatH6v4+"/32", "via", sp.via4, "dev", "eth0")
}

// measure runs one TCP stream and one UDP flood through sp, after a ping
// proves the path, reading the translating process's CPU time around each.
func (l *xlatLab) measure(ctx context.Context, sp xlatSpec, r *report.Translator) {
	t := l.t
	l.route(sp)
	if _, _, err := l.h6.PingUntil(xlatH4Pool6, time.Second, 15*time.Second); err != nil {
		tun, _ := l.tg.Output(5*time.Second, "", "ip", "-s", "-o", "link", "show", "sgxb")
		t.Logf("no path through %s: %v\nTAYGA's TUN device: %s\nTAYGA: %s", sp.label, err, tun, l.tayga.Logs())
		t.Fatalf("no path through %s (log.txt has the details)", sp.label)
	}
	l.iperfRuns(ctx, xlatH4Pool6, sp.pid(l), r)
}

// iperfRuns measures one TCP stream and one UDP flood of 64-byte
// datagrams from h6 to dst, reading the CPU time of process pid around
// each.
func (l *xlatLab) iperfRuns(ctx context.Context, dst string, pid int, r *report.Translator) {
	t, o := l.t, l.o
	secs := strconv.Itoa(max(1, int(o.duration.Seconds())))

	cpu0 := cpuSeconds(t, pid)
	out, err := l.iperf(ctx, "-c", dst, "-p", strconv.Itoa(iperfPort), "-t", secs, "-J")
	if err != nil {
		t.Fatalf("iperf3 TCP: %v: %s", err, lastLines([]byte(out), 5))
	}
	cpu := cpuSeconds(t, pid) - cpu0
	var tcp iperfEnd
	if err := tcp.parse(out); err != nil {
		t.Fatal(err)
	}
	r.ThroughputMbps = tcp.End.SumReceived.BitsPerSecond / 1e6
	r.CPUPerGBTCP = perGB(cpu, tcp.End.SumReceived.Bytes)
	o.progress("  iperf3 TCP: %.0f Mbit/s, %.2f CPU s/GB", r.ThroughputMbps, r.CPUPerGBTCP)

	cpu0 = cpuSeconds(t, pid)
	out, err = l.iperf(ctx, "-c", dst, "-p", strconv.Itoa(iperfPort), "-t", secs, "-u", "-l", "64", "-b", "0", "-J")
	if err != nil {
		t.Fatalf("iperf3 UDP: %v: %s", err, lastLines([]byte(out), 5))
	}
	cpu = cpuSeconds(t, pid) - cpu0
	var udp iperfEnd
	if err := udp.parse(out); err != nil {
		t.Fatal(err)
	}
	s := udp.End.Sum
	if s.Seconds <= 0 {
		t.Fatalf("iperf3 UDP: no receiver figures: %s", lastLines([]byte(out), 5))
	}
	got := s.Packets - s.LostPackets
	r.PacketsPerSec = float64(got) / s.Seconds
	r.CPUPerGBUDP = perGB(cpu, got*64)
	o.progress("  iperf3 UDP 64 B: %.0f packets/s, %.2f CPU s/GB", r.PacketsPerSec, r.CPUPerGBUDP)
	r.Available = true
}

func (l *xlatLab) iperf(ctx context.Context, args ...string) (string, error) {
	// The server takes one test at a time and turns away a client that
	// comes before it listens again.
	l.tests++
	next := fmt.Sprintf("(test #%d)", l.tests)
	if !ovs.Wait(10*time.Second, func() bool { return strings.Contains(l.iperfd.Logs(), next) }) {
		return "", fmt.Errorf("iperf3 server not ready for test %d: %s", l.tests, lastLines([]byte(l.iperfd.Logs()), 3))
	}
	ctx, cancel := context.WithTimeout(ctx, l.o.duration+30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", l.h6.Name, "iperf3"}, args...)...).CombinedOutput()
	return string(out), err
}

// iperfEnd is what the translator rows read of iperf3's JSON.
type iperfEnd struct {
	End struct {
		SumReceived struct {
			BitsPerSecond float64 `json:"bits_per_second"`
			Bytes         int64   `json:"bytes"`
		} `json:"sum_received"`
		// Sum is UDP's, with the receiver's packet counts.
		Sum struct {
			Seconds     float64 `json:"seconds"`
			Packets     int64   `json:"packets"`
			LostPackets int64   `json:"lost_packets"`
		} `json:"sum"`
	} `json:"end"`
	Error string `json:"error"`
}

func (e *iperfEnd) parse(out string) error {
	if err := json.Unmarshal([]byte(out), e); err != nil {
		return fmt.Errorf("iperf3 output: %v: %s", err, lastLines([]byte(out), 3))
	}
	if e.Error != "" {
		return fmt.Errorf("iperf3: %s", e.Error)
	}
	return nil
}

// cpuSeconds is process pid's user and system time so far, all threads;
// 0 for pid 0 (no process does the work).
func cpuSeconds(t *lab.T, pid int) float64 {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatalf("CPU time of %d: %v", pid, err)
	}
	// Fields after the command name, which is in parentheses and may
	// hold spaces: state is field 3, utime 14 and stime 15.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		t.Fatalf("CPU time of %d: short /proc stat: %q", pid, s)
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / clockTicks
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat times: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

func perGB(cpu float64, bytes int64) float64 {
	if bytes <= 0 {
		return 0
	}
	return cpu / (float64(bytes) / 1e9)
}
