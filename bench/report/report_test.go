package report

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sixgate/sixgate/bench/cbench"
)

func sample() *Results {
	ctl := &cbench.Result{ResponsesPerSec: 1000, P50: 500 * time.Microsecond, P90: time.Millisecond, P99: 20 * time.Millisecond}
	return &Results{
		Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Took: time.Minute, Contended: true,
		Machine: Machine{CPU: "Test CPU", Cores: 2, Kernel: "6.1", OVS: "3.1.0", Go: "go1.26"},
		Micro:   []Micro{{Conns: 1, Payload: 64, Direction: "client-to-backend", NsPerOp: 60}, {Conns: 1, Payload: 64, Direction: "backend-to-client", NsPerOp: 70}},
		Controllers: []Controller{
			{Name: "sixgate", Available: true, Throughput: ctl, Latency: ctl},
			{Name: "os-ken", Note: "osken-manager not installed"},
		},
		E2E: []Setup{
			{Name: "ceiling", Label: "ceiling", Available: true, ThroughputMbps: 1000, ConnPerSec: 4000, LatencyP50: time.Millisecond},
			{Name: "controller", Label: "controller mode", Available: true, ThroughputMbps: 250, ConnPerSec: 1000, LatencyP50: 3 * time.Millisecond},
			{Name: "port", Label: "port mode", Note: "not built\nyet | really"},
			{Name: "haproxy", Label: "haproxy", Available: true, ThroughputMbps: 500, ConnPerSec: 2000, LatencyP50: 2 * time.Millisecond},
		},
	}
}

func TestMarkdown(t *testing.T) {
	md := sample().Markdown()
	for _, want := range []string{
		"**Contended run**",
		"Test CPU, 2 cores",
		"| controller mode | 250 | 1000 | 3.00 ms | +2.00 ms | – | 0.50×, 0.50× | 0.25×, 0.25× |",
		"| port mode | not available: not built yet / really |",
		"| os-ken | not available: osken-manager not installed |",
		"| 1 | 64 | 60 | 0 | 70 | 0 |",
		"20.00 ms",
		"**controller mode: 0.50× haproxy's throughput, 0.50× its short connections per second.**",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	if _, err := sample().Write(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"results.md", "results.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "chart.png"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	// The tallest bar of the left panel (the ceiling, first slot) reaches
	// the top of the panel.
	if r, g, b, _ := img.At(30+345/4/6+5, 32).RGBA(); r>>8 != 0x80 || g>>8 != 0x80 || b>>8 != 0x80 {
		t.Errorf("ceiling bar missing at the top of the left panel: %x %x %x", r>>8, g>>8, b>>8)
	}
}

// The translator rows are compared with the last one, the peer.
func TestTranslatorMarkdown(t *testing.T) {
	r := sample()
	r.Translators = []Translator{
		{Name: "sixgate", Label: "sixgate siit", Available: true, ThroughputMbps: 900, PacketsPerSec: 150000, CPUPerGBTCP: 1.5, CPUPerGBUDP: 30},
		{Name: "ceiling", Label: "routed (ceiling)", Available: true, Ceiling: true, ThroughputMbps: 1200, PacketsPerSec: 200000},
		{Name: "tayga", Label: "TAYGA", Available: true, ThroughputMbps: 600, PacketsPerSec: 50000, CPUPerGBTCP: 2.5, CPUPerGBUDP: 50},
	}
	md := r.Markdown()
	for _, want := range []string{
		"## Translator: IPv6-only client to IPv4-only server",
		"| sixgate siit | 900 | 150000 | 1.50 | 30.00 | 1.50×, 3.00× |",
		"| routed (ceiling) | 1200 | 200000 | – | – | 2.00×, 4.00× |",
		"| TAYGA | 600 | 50000 | 2.50 | 50.00 | 1.00×, 1.00× |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md)
		}
	}
	r.Translators[2] = Translator{Name: "tayga", Label: "TAYGA", Note: "tayga not installed"}
	if md := r.Markdown(); !strings.Contains(md, "| sixgate siit | 900 | 150000 | 1.50 | 30.00 | – |") ||
		!strings.Contains(md, "| TAYGA | not available: tayga not installed |") {
		t.Errorf("without the peer:\n%s", md)
	}
}

func TestCPUMarkdown(t *testing.T) {
	r := sample()
	// Port mode measured: 2 GB in the iperf3 phase, 4000 connections in
	// the rate phase; haproxy half the bytes for the same CPU.
	r.E2E[2] = Setup{Name: "port", Label: "port mode", Available: true, ThroughputMbps: 800, ConnPerSec: 3000,
		IperfBytes: 2e9, IperfCPU: &CPU{Process: 2, OVS: 6, Machine: 12},
		Requests: 4000, RateCPU: &CPU{Process: 0.2, OVS: 0.4, Machine: 1.2},
		Profiles: []string{"port-iperf3.pprof"}}
	r.E2E[3].IperfBytes, r.E2E[3].IperfCPU = 1e9, &CPU{Process: 2, OVS: 7, Machine: 12}
	r.E2E[3].Requests, r.E2E[3].RateCPU = 2000, &CPU{Process: 0.2, OVS: 0.2, Machine: 1}
	md := r.Markdown()
	for _, want := range []string{
		"| port mode | 1.00 | 3.00 | 6.00 | 50 | 100 | 300 | 0.50×, 0.50× | 0.50×, 0.60× |",
		"| haproxy | 2.00 | 7.00 | 12.00 | 100 | 100 | 500 | 1.00×, 1.00× | 1.00×, 1.00× |",
		"| ceiling | – | – | – | – | – | – | –, – | –, – |",
		"**port mode CPU against haproxy's: the process 0.50× per GB and 0.50× per 1000 connections; the whole machine 0.50× and 0.60×.**",
		"port mode: profiles written with the results: `port-iperf3.pprof`.",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md)
		}
	}
	// Without any CPU figure, no CPU table.
	if strings.Contains(sample().Markdown(), "CPU per GB") {
		t.Error("CPU table without CPU figures")
	}
}
