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
	"syscall"
	"time"

	"github.com/sixgate/sixgate/bench/lab"
	"github.com/sixgate/sixgate/bench/report"
	"github.com/sixgate/sixgate/controller/ofp"
	"github.com/sixgate/sixgate/controller/ofptest"
	"github.com/sixgate/sixgate/test/ovs"
)

// The control-plane scenarios: one VIP with a map file of 10^5 names over
// 100 backend addresses, and 10^4 services each on its own VIP with one
// name. Each is also written with ten items, whose daemon's memory is the
// baseline of the per-item figure.
const (
	cpNames    = 100_000
	cpServices = 10_000
	cpBackends = 100
	cpBaseline = 10
)

type cpScenario struct {
	name  string
	items int
	// write writes the configuration with n items into dir and returns
	// its path; change rewrites it with one item changed.
	write  func(dir string, n, port int) string
	change func(dir string, n, port int)
}

var cpScenarios = []cpScenario{
	{name: "10^5 names (one service, map file)", items: cpNames, write: writeNames, change: changeName},
	{name: "10^4 services (one name each)", items: cpServices, write: writeServices, change: changeService},
}

// runControlPlane measures, for each scenario, sixgate check, the daemon's
// start to its first synced switch (a simulated switch that keeps a flow
// table, controller/ofptest), its memory, and a reload changing one item.
func runControlPlane(ctx context.Context, o *options, t *lab.T) ([]report.ControlPlane, string) {
	note := "sixgate check: wall time and peak RSS of the process. Start: from the daemon's exec to the end of the first flow sync of one simulated switch (in-process, keeps a flow table) connected to it. Daemon RSS once synced; per item: its excess over the same configuration with 10 items, divided by the items. Reload: one name (map file line) or one service (its port) changed, from SIGHUP to the end of the resync; flows re-sent: flow-mods of that resync."
	var out []report.ControlPlane
	var bin string
	for _, sc := range cpScenarios {
		o.progress("control plane: %s", sc.name)
		row := report.ControlPlane{Name: sc.name, Items: sc.items}
		if err := t.Do(func() {
			if bin == "" {
				b, err := build(ctx, o, t.TempDir(), "./cmd/sixgate", "sixgate")
				if err != nil {
					t.Fatal(err)
				}
				bin = b
			}
			base := measureDaemon(ctx, t, bin, sc, cpBaseline, false)
			big := measureDaemon(ctx, t, bin, sc, sc.items, true)
			row.Check, row.CheckMaxRSS = big.Check, big.CheckMaxRSS
			row.Start, row.Flows, row.RSS = big.Start, big.Flows, big.RSS
			row.Reload, row.ReloadFlowMods = big.Reload, big.ReloadFlowMods
			row.BytesPerItem = float64(big.RSS-base.RSS) / float64(sc.items-cpBaseline)
			row.Available = true
			o.progress("  check %v (%d MiB), start %v, %d flows, RSS %d MiB (%.0f B/item), reload %v (%d flow-mods)",
				row.Check.Round(time.Millisecond), row.CheckMaxRSS>>20, row.Start.Round(time.Millisecond), row.Flows,
				row.RSS>>20, row.BytesPerItem, row.Reload.Round(time.Millisecond), row.ReloadFlowMods)
		}); err != nil {
			row.Note = err.Error()
		}
		out = append(out, row)
	}
	return out, note
}

// measureDaemon runs check and the daemon on the scenario with n items; with
// reload it also changes one item and reloads.
func measureDaemon(ctx context.Context, t *lab.T, bin string, sc cpScenario, n int, reload bool) report.ControlPlane {
	var r report.ControlPlane
	dir := t.TempDir()
	port := freePort(t)
	cfg := sc.write(dir, n, port)

	start := time.Now()
	check := exec.CommandContext(ctx, bin, "check", "-config", cfg)
	if b, err := check.CombinedOutput(); err != nil {
		t.Fatalf("sixgate check: %v: %s", err, lastLines(b, 5))
	}
	r.Check = time.Since(start)
	if ru, ok := check.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.CheckMaxRSS = ru.Maxrss << 10
	}

	start = time.Now()
	d := ovs.StartSixgate(t, bin, "-config", cfg, "-log-format", "json")
	defer d.Stop()
	sw := &ofptest.Switch{DPID: 1, NTables: 254, PartSize: 200, Ports: []ofp.Port{{PortNo: 1, Name: "p1"}, {PortNo: 2, Name: "p2"}}}
	swCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	go func() {
		for swCtx.Err() == nil {
			sw.Dial(swCtx, addr)
			time.Sleep(2 * time.Millisecond)
		}
	}()
	if !ovs.Wait(60*time.Second, func() bool { return len(synced(d.Logs())) > 0 || d.Wait(0) >= 0 }) || d.Wait(0) >= 0 {
		t.Fatalf("no flow sync: %s", lastLines([]byte(d.Logs()), 5))
	}
	r.Start = time.Since(start)
	r.Flows = len(sw.Flows())
	r.RSS = rss(d.PID())
	if !reload {
		return r
	}
	sc.change(dir, n, port)
	start = time.Now()
	if err := d.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	// A sync already under way when the signal came may end after the
	// reload's message: take every sync logged after it, and wait until
	// none has come for half a second.
	var after []syncLine
	last := time.Now()
	for deadline := start.Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		logs := d.Logs()
		i := strings.Index(logs, "configuration reloaded")
		if i < 0 {
			if strings.Contains(logs, "reload:") {
				t.Fatalf("reload refused: %s", lastLines([]byte(logs), 5))
			}
			continue
		}
		if s := synced(logs[i:]); len(s) != len(after) {
			after, last = s, time.Now()
			r.Reload = last.Sub(start)
		}
		if len(after) > 0 && time.Since(last) > 500*time.Millisecond {
			break
		}
	}
	if len(after) == 0 {
		t.Fatalf("no resync after the reload: %s", lastLines([]byte(d.Logs()), 5))
	}
	for _, s := range after {
		r.ReloadFlowMods += s.Added + s.Deleted
	}
	return r
}

type syncLine struct {
	Msg     string `json:"msg"`
	Added   int    `json:"added"`
	Deleted int    `json:"deleted"`
}

// synced returns the daemon's "flows synced" log lines.
func synced(logs string) []syncLine {
	var out []syncLine
	for _, l := range strings.Split(logs, "\n") {
		if !strings.Contains(l, `"flows synced"`) {
			continue
		}
		var s syncLine
		if json.Unmarshal([]byte(l), &s) == nil {
			out = append(out, s)
		}
	}
	return out
}

// rss reads a process's resident memory from /proc.
func rss(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// cpHead is the fabric around the services: one switch, a server host
// holding the backend addresses, a client host.
func cpHead(port int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "controller: {listen: \"tcp:127.0.0.1:%d\"}\n", port)
	b.WriteString("switches: [{name: s1, dpid: \"0x1\"}]\nhosts:\n")
	b.WriteString("  - {name: web, switch: s1, port: 1, mac: \"00:00:0a:00:00:01\", ipv6: [")
	for i := range cpBackends {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "\"2001:db8::1:%x\"", i)
	}
	b.WriteString("]}\n  - {name: client, switch: s1, port: 2, mac: \"00:00:0a:00:00:03\", ipv4: [\"10.0.0.3\"]}\n")
	b.WriteString("splice46:\n  mac: \"00:00:0a:00:00:42\"\n  pool6: \"2001:db8:ffff::/96\"\n  services:\n")
	return b.String()
}

func writeNames(dir string, n, port int) string {
	cfg := filepath.Join(dir, "sixgate.yaml")
	must(os.WriteFile(cfg, []byte(cpHead(port)+"    - {vip: \"10.0.0.42\", port: 80, select: http-host, backends_file: sites.map}\n"), 0o644))
	writeMap(dir, n, -1)
	return cfg
}

// writeMap writes n names, name i on backend i%100 (name changed on the
// next backend).
func writeMap(dir string, n, changed int) {
	var b strings.Builder
	b.WriteString("# generated by sixgate-bench\n")
	for i := range n {
		be := i % cpBackends
		if i == changed {
			be = (be + 1) % cpBackends
		}
		fmt.Fprintf(&b, "site%d.example [2001:db8::1:%x]:80\n", i, be)
	}
	must(os.WriteFile(filepath.Join(dir, "sites.map"), []byte(b.String()), 0o644))
}

func changeName(dir string, n, _ int) { writeMap(dir, n, n/2) }

func writeServices(dir string, n, port int) string { return servicesFile(dir, n, port, -1) }

func changeService(dir string, n, port int) { servicesFile(dir, n, port, n/2) }

// servicesFile writes n services, service i on VIP 10.1.x.y port 80 (the
// changed one on port 8080).
func servicesFile(dir string, n, port, changed int) string {
	var b strings.Builder
	b.WriteString(cpHead(port))
	for i := range n {
		p := 80
		if i == changed {
			p = 8080
		}
		fmt.Fprintf(&b, "    - {vip: \"10.1.%d.%d\", port: %d, select: http-host, backends: [{address: \"[2001:db8::1:%x]:80\", match: [site%d.example]}]}\n",
			i/250, i%250+1, p, i%cpBackends, i)
	}
	cfg := filepath.Join(dir, "sixgate.yaml")
	must(os.WriteFile(cfg, []byte(b.String()), 0o644))
	return cfg
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}
