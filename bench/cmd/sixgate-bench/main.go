// Command sixgate-bench runs sixgate's benchmark suite and writes one
// report: engine microbenchmarks, the controller against os-ken under
// simulated switches, end-to-end throughput, connection rate and
// latency on Open vSwitch against plain IPv6 forwarding and haproxy, and
// the stateless translator against TAYGA.
//
//	sixgate-bench [-out DIR] [-parts micro,controller,controlplane,dns64,e2e,translator,nat64] [-setups ceiling,controller,port,haproxy]
//	              [-duration 3s] [-benchtime 200ms] [-contended] [-iperf-bitrate RATE] [-perf] [-publish]
//
// It prints the Markdown table and writes DIR/<timestamp>/results.md,
// results.json and chart.png. The end-to-end part needs root and Open
// vSwitch; without them it is skipped and the report says so. Everything
// it creates (namespaces, the bridge, processes) is removed on exit and on
// Ctrl-C.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/sixgate/sixgate/bench/lab"
	"github.com/sixgate/sixgate/bench/report"
)

func main() { os.Exit(run()) }

// options are the command line, shared by the parts.
type options struct {
	root      string // the module's directory
	duration  time.Duration
	benchtime string
	setups    []string
	log       *os.File
	// dir is where this run's results go; perf also records the
	// data-path process with perf(1) into it when set.
	dir  string
	perf bool
	// bitrate caps iperf3's stream (iperf3 -b), "" for none.
	bitrate string
}

func run() int {
	out := flag.String("out", "results", "write the report under `dir`/<timestamp>/")
	parts := flag.String("parts", "micro,controller,controlplane,dns64,e2e,translator,nat64", "comma-separated `parts` to run")
	setups := flag.String("setups", "ceiling,controller,port,haproxy", "comma-separated end-to-end `setups`, in table order (also port-ring: port mode with the TPACKET_V3 receive ring; port-offload: with segment offload)")
	duration := flag.Duration("duration", 3*time.Second, "length of each controller and end-to-end measurement")
	benchtime := flag.String("benchtime", "200ms", "go test -benchtime for the engine microbenchmarks")
	contended := flag.Bool("contended", false, "label the report as measured on a shared, busy machine")
	bitrate := flag.String("iperf-bitrate", "", "cap the iperf3 stream at `rate` (iperf3 -b, e.g. 200M), so that CPU per GB compares setups at one load")
	perf := flag.Bool("perf", false, "also record each data-path process with perf record -g during the measurements (costs CPU; off for the published figures)")
	doPublish := flag.Bool("publish", false, "also put the table into docs/benchmarks.md and the chart into docs/benchmarks.png")
	flag.Parse()
	if flag.NArg() != 0 {
		flag.Usage()
		return 2
	}
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintf(os.Stderr, "sixgate-bench: %v\n", err)
		return 1
	}
	o := &options{root: root, duration: *duration, benchtime: *benchtime, setups: split(*setups), log: os.Stderr}

	res := &report.Results{Started: time.Now(), Machine: machine(), Contended: *contended}
	dir := filepath.Join(*out, res.Started.UTC().Format("20060102-150405"))
	o.dir, o.perf, o.bitrate = dir, *perf, *bitrate
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintf(os.Stderr, "sixgate-bench: %v\n", err)
		return 1
	}
	// The harness's own messages (the output of a process that failed, a
	// clean-up that went wrong) go to a log beside the results, so that
	// the terminal shows progress only.
	logf, err := os.Create(filepath.Join(dir, "log.txt"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "sixgate-bench: %v\n", err)
		return 1
	}
	defer logf.Close()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	t := lab.New("sixgate-bench", logf)
	defer t.Close()
	// On an interrupt the running step's commands die with ctx and the
	// deferred Close removes what was built; if the step does not return
	// promptly, clean up from here and leave.
	go func() {
		<-ctx.Done()
		time.Sleep(10 * time.Second)
		fmt.Fprintln(os.Stderr, "sixgate-bench: interrupted; cleaning up")
		t.Close()
		os.Exit(130)
	}()

	want := map[string]bool{}
	for _, p := range split(*parts) {
		want[p] = true
	}
	if want["micro"] {
		o.progress("engine microbenchmarks (go test -bench, -benchtime %s)", o.benchtime)
		res.Micro, err = runMicro(ctx, o)
		if err != nil {
			res.MicroNote = "Failed: " + err.Error()
		}
	} else {
		res.MicroNote = "Not run (-parts)."
	}
	if want["controller"] && ctx.Err() == nil {
		res.Controllers, res.ControllerNote = runControllers(ctx, o, t)
	} else {
		res.ControllerNote = "Not run (-parts)."
	}
	if want["controlplane"] && ctx.Err() == nil {
		res.ControlPlane, res.ControlPlaneNote = runControlPlane(ctx, o, t)
	} else {
		res.ControlPlaneNote = "Not run (-parts)."
	}
	if want["dns64"] && ctx.Err() == nil {
		res.DNS64, res.DNS64Note = runDNS64(ctx, o, t)
	} else {
		res.DNS64Note = "Not run (-parts)."
	}
	if want["e2e"] && ctx.Err() == nil {
		res.E2E, res.E2ENote = runE2E(ctx, o, t)
	} else {
		res.E2ENote = "Not run (-parts)."
	}
	if want["translator"] && ctx.Err() == nil {
		res.Translators, res.TranslatorNote = runTranslators(ctx, o, t)
	} else {
		res.TranslatorNote = "Not run (-parts)."
	}
	if want["nat64"] && ctx.Err() == nil {
		res.NAT64, res.NAT64Note = runNAT64(ctx, o, t)
	} else {
		res.NAT64Note = "Not run (-parts)."
	}
	if ctx.Err() != nil {
		fmt.Fprintf(os.Stderr, "sixgate-bench: interrupted; no report written (log in %s)\n", dir)
		return 130
	}
	res.Took = time.Since(res.Started)

	md, err := res.Write(dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sixgate-bench: %v\n", err)
		return 1
	}
	fmt.Print(md)
	if *doPublish {
		if err := publish(root, dir, md); err != nil {
			fmt.Fprintf(os.Stderr, "sixgate-bench: -publish: %v\n", err)
			return 1
		}
		fmt.Fprintln(os.Stderr, "sixgate-bench: docs/benchmarks.md and docs/benchmarks.png updated")
	}
	fmt.Fprintf(os.Stderr, "\nsixgate-bench: wrote %s/{results.md,results.json,chart.png,log.txt}\n", dir)
	return 0
}

func (o *options) progress(format string, args ...any) {
	fmt.Fprintf(o.log, "== "+format+"\n", args...)
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func moduleRoot() (string, error) {
	b, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(b))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("run from inside the sixgate module")
	}
	return filepath.Dir(mod), nil
}

// machine describes this machine from /proc, uname and the tools' own
// version output.
func machine() report.Machine {
	m := report.Machine{Cores: runtime.NumCPU(), Go: runtime.Version(), CPU: "unknown", Kernel: "unknown", OVS: "not installed"}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := exec.Command("ovs-vsctl", "--version").Output(); err == nil {
		first, _, _ := strings.Cut(string(b), "\n")
		if f := strings.Fields(first); len(f) > 0 {
			m.OVS = f[len(f)-1]
		}
	}
	return m
}

// build compiles a package of the module into dir and returns the path.
func build(ctx context.Context, o *options, dir, pkg, name string) (string, error) {
	bin := filepath.Join(dir, name)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg)
	cmd.Dir = o.root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %v: %s", pkg, err, out)
	}
	return bin, nil
}
