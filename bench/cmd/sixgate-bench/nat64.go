package main

import (
	"context"
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

// The NAT64 lab: the translator lab's hosts and bridge, with two stateful
// NAT64s between them, used in turn by changing h6's route to pool6:
// sixgate's nat64 app in port mode (pool4 198.18.0.3), and TAYGA with its
// dynamic pool masqueraded by nftables to tg's 198.18.0.2 (the usual
// Linux stateful NAT64 without Jool). h4 answers each at an address on
// its own link, so its routes do not change.
const (
	n64Bridge = "sgnbench"
	n64Iface  = "sgnb-eng0"
	n64Pool4  = "198.18.0.3"
	n64HTTP   = 8080
)

const n64Topology = `# sixgate-bench: stateful NAT64, sixgate and TAYGA + nftables side by side.
controller:
  listen: "tcp:127.0.0.1:%d"
  http: "127.0.0.1:%d"
switches:
  - {name: s1, dpid: "0x1"}
hosts:
  - {name: h6, switch: s1, port: 1, mac: "00:00:0b:00:00:06", ipv6: ["2001:db8:6::6"]}
  - {name: h4, switch: s1, port: 2, mac: "00:00:0b:00:00:04", ipv4: ["198.18.0.4"], ipv6: ["2001:db8:4::4"]}
  - {name: tg, switch: s1, port: 3, mac: "00:00:0b:00:00:02", ipv4: ["198.18.0.2"], ipv6: ["2001:db8:6::2", "2001:db8:4::2"]}
nat64:
  mac: "00:00:0b:00:00:99"
  mode: port
  ports: [{interface: "` + n64Iface + `", switch: s1, port: 10, ring: true}]
  pool6: "` + xlatPool6 + `"
  pool4: [{address: "` + n64Pool4 + `", ports: "1024-65535"}]
  limits: {bindings_per_host: 65536, sessions_per_host: 1000000}
  ipv4: {address: "198.18.0.1/24", mtu: 1500}
  ipv6: {address: "2001:db8:6::1/64", mtu: 1500}
`

// n64TaygaConfig: TAYGA's dynamic pool, masqueraded out of eth0.
const n64TaygaConfig = `tun-device sgnb
ipv4-addr 192.168.255.1
prefix ` + xlatPool6 + `
dynamic-pool 192.168.255.0/24
data-dir %s
`

// runNAT64 builds the lab and measures each NAT64, the peer last, twice
// in the order A B B A.
func runNAT64(ctx context.Context, o *options, t *lab.T) ([]report.Translator, string) {
	note := fmt.Sprintf("The translator lab's bridge and hosts; the NAT64 is chosen by h6's route to pool6. sixgate's nat64 app in port mode against TAYGA with its dynamic pool masqueraded by nftables (stateful NAT64 the usual Linux way without Jool). iperf3 for %v each: one TCP stream h6 -> h4, UDP with 64-byte payloads as fast as the client sends; then wrk for %v: HTTP requests of one connection each (Connection: close) to haproxy on h4, 128 at a time, giving new TCP connections per second through the NAT64. CPU is the translating process's (sixgate's, TAYGA's; the kernel's NAT is not counted).", o.duration, o.duration)
	if why := e2ePrereqs(); why != "" {
		return nil, "Skipped: " + why + "."
	}
	for _, tool := range []string{"tayga", "nft", "wrk", "haproxy"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, "Skipped: " + tool + " not installed (run bench/install-deps.sh)."
		}
	}
	l := &xlatLab{o: o, t: t}
	o.progress("nat64: building the lab")
	if err := t.Do(func() { buildNAT64Lab(ctx, l) }); err != nil {
		return nil, "Skipped: the lab could not be built: " + err.Error()
	}
	specs := []xlatSpec{
		{"sixgate", "sixgate nat64, port mode", "2001:db8:6::1", "", func(l *xlatLab) int { return l.sixgate.PID() }},
		{"tayga", "TAYGA + nftables masquerade", "2001:db8:6::2", "", func(l *xlatLab) int { return l.tayga.PID() }},
	}
	out := make([]report.Translator, len(specs))
	for i, sp := range specs {
		out[i] = report.Translator{Name: sp.name, Label: sp.label}
	}
	for round, i := range []int{0, 1, 1, 0} {
		if ctx.Err() != nil {
			break
		}
		sp := specs[i]
		var r report.Translator
		o.progress("nat64: %s (run %d of 2)", sp.label, 1+round/2)
		if err := t.Do(func() { measureNAT64(ctx, l, sp, &r) }); err != nil {
			if !out[i].Available {
				out[i].Note = err.Error()
			}
			continue
		}
		out[i].Note = ""
		best(&out[i], r)
		out[i].ConnsPerSec = max(out[i].ConnsPerSec, r.ConnsPerSec)
	}
	c := report.Translator{Name: "ceiling", Label: "IPv6 routed by a Linux namespace (ceiling)", Ceiling: true}
	o.progress("nat64: %s", c.Label)
	if err := t.Do(func() { measureNAT64Ceiling(ctx, l, &c) }); err != nil {
		c.Note = err.Error()
	}
	peer := out[len(out)-1]
	out = append(append(out[:len(out)-1:len(out)-1], c), peer)
	return out, note + " Each figure is the better of two runs. The ceiling row is IPv6 from h6 to an IPv6 address of h4 (iperf3, and wrk to the same haproxy), routed by the kernel of TAYGA's namespace: the same two passes through the bridge, without translation or state, once."
}

// measureNAT64Ceiling runs the NAT64 measurements to h4's IPv6 address,
// routed by tg's kernel.
func measureNAT64Ceiling(ctx context.Context, l *xlatLab, r *report.Translator) {
	l.measureCeiling(ctx, r)
	r.ConnsPerSec = wrkConns(ctx, l, fmt.Sprintf("http://[%s]:%d/", xlatH4v6, n64HTTP), r.Label)
}

func buildNAT64Lab(ctx context.Context, l *xlatLab) {
	t, o := l.t, l.o
	dir := t.TempDir()
	bin, err := build(ctx, o, dir, "./cmd/sixgate", "sixgate")
	if err != nil {
		t.Fatal(err)
	}
	ctlPort, metrics := freePort(t), freePort(t)
	config := filepath.Join(dir, "nat64.yaml")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(n64Topology, ctlPort, metrics)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "check", "-config", config).CombinedOutput(); err != nil {
		t.Fatalf("NAT64 topology rejected: %s", out)
	}
	l.br = ovs.NewBridge(t, n64Bridge, 0x1, fmt.Sprintf("tcp:127.0.0.1:%d", ctlPort))
	ovs.AddEnginePort(t, l.br, n64Iface, xlatPort)
	l.h6 = ovs.AddNetns(t, l.br, "sgnb-h6", 1, "00:00:0b:00:00:06", xlatH6+"/64")
	l.h4 = ovs.AddNetns(t, l.br, "sgnb-h4", 2, "00:00:0b:00:00:04", "198.18.0.4/24")
	l.tg = ovs.AddNetns(t, l.br, "sgnb-tg", 3, "00:00:0b:00:00:02", "198.18.0.2/24", "2001:db8:6::2/64")
	l.routeCeiling()

	tc := filepath.Join(dir, "tayga.conf")
	if err := os.WriteFile(tc, []byte(fmt.Sprintf(n64TaygaConfig, dir)), 0o644); err != nil {
		t.Fatal(err)
	}
	l.tg.Run(t, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1")
	l.tg.Run(t, "tayga", "-c", tc, "--mktun")
	l.tg.Run(t, "ip", "link", "set", "sgnb", "up")
	l.tg.Run(t, "ip", "route", "add", "192.168.255.0/24", "dev", "sgnb")
	l.tg.Run(t, "ip", "-6", "route", "add", xlatPool6, "dev", "sgnb")
	rules := filepath.Join(dir, "nat64.nft")
	if err := os.WriteFile(rules, []byte("table ip sgnb_nat64 {\n\tchain post {\n\t\ttype nat hook postrouting priority srcnat;\n\t\toifname \"eth0\" ip saddr 192.168.255.0/24 masquerade\n\t}\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l.tg.Run(t, "nft", "-f", rules)
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
	hc := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(hc, []byte(fmt.Sprintf("global\n\tmaxconn 4000\ndefaults\n\tmode http\n\ttimeout client 10s\n\ttimeout server 10s\n\ttimeout connect 5s\nfrontend f\n\tbind 198.18.0.4:%d\n\tbind ["+xlatH4v6+"]:%d\n\thttp-request return status 200 content-type text/plain string ok\n", n64HTTP, n64HTTP)), 0o644); err != nil {
		t.Fatal(err)
	}
	hap := l.h4.Start(t, "haproxy", "-db", "-f", hc)
	if !ovs.Wait(10*time.Second, func() bool {
		out, _ := l.h4.Output(2*time.Second, "", "ss", "-Htln", fmt.Sprintf("src 198.18.0.4:%d", n64HTTP))
		return strings.TrimSpace(out) != ""
	}) {
		t.Fatalf("haproxy does not listen: %s", hap.Logs())
	}
	// Short connections leave the client's ports in TIME_WAIT; let it
	// reuse them as a busy client would.
	l.h6.Run(t, "sysctl", "-qw", "net.ipv4.tcp_tw_reuse=1", "net.ipv4.ip_local_port_range=1024 65000")
}

var wrkRate = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)

func measureNAT64(ctx context.Context, l *xlatLab, sp xlatSpec, r *report.Translator) {
	t := l.t
	l.h6.Run(t, "ip", "-6", "route", "replace", xlatPool6, "via", sp.via6, "dev", "eth0")
	if _, _, err := l.h6.PingUntil(xlatH4Pool6, time.Second, 15*time.Second); err != nil {
		t.Fatalf("no path through %s: %v", sp.label, err)
	}
	l.iperfRuns(ctx, xlatH4Pool6, sp.pid(l), r)
	r.ConnsPerSec = wrkConns(ctx, l, fmt.Sprintf("http://[%s]:%d/", xlatH4Pool6, n64HTTP), sp.label)
}

// wrkConns runs wrk from h6 against url, one connection a request, and
// returns the rate.
func wrkConns(ctx context.Context, l *xlatLab, url, label string) float64 {
	t, o := l.t, l.o
	secs := strconv.Itoa(max(1, int(o.duration.Seconds())))
	ctx, cancel := context.WithTimeout(ctx, o.duration+30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", "netns", "exec", l.h6.Name, "wrk", "-t", "2", "-c", "128", "-d", secs+"s",
		"-H", "Connection: close", url).CombinedOutput()
	if err != nil {
		t.Fatalf("wrk: %v: %s", err, lastLines(out, 5))
	}
	m := wrkRate.FindSubmatch(out)
	if m == nil {
		t.Fatalf("wrk: no rate in %s", lastLines(out, 5))
	}
	rate, _ := strconv.ParseFloat(string(m[1]), 64)
	if strings.Contains(string(out), "Socket errors") {
		t.Logf("wrk through %s: %s", label, lastLines(out, 3))
	}
	o.progress("  wrk, one connection a request: %.0f connections/s", rate)
	return rate
}
