// Package report holds the results of one benchmark run and writes them as
// a Markdown table, JSON and a PNG bar chart.
package report

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sixgate/sixgate/bench/cbench"
)

// Results is everything one run measured. A part that did not run says why
// in its Note; a row that could not be measured has Available false.
type Results struct {
	Started time.Time     `json:"started"`
	Took    time.Duration `json:"took_ns"`
	Machine Machine       `json:"machine"`
	// Contended marks a run made while other work shared the machine.
	Contended bool `json:"contended"`

	Micro     []Micro `json:"micro"`
	MicroNote string  `json:"micro_note,omitempty"`

	Controllers    []Controller `json:"controllers"`
	ControllerNote string       `json:"controller_note,omitempty"`

	E2E     []Setup `json:"e2e"`
	E2ENote string  `json:"e2e_note,omitempty"`

	ControlPlane     []ControlPlane `json:"control_plane"`
	ControlPlaneNote string         `json:"control_plane_note,omitempty"`

	DNS64          []DNS64      `json:"dns64"`
	DNS64Note      string       `json:"dns64_note,omitempty"`
	Translators    []Translator `json:"translators"`
	TranslatorNote string       `json:"translator_note,omitempty"`
	// NAT64 are the stateful NAT64 rows, the peer last.
	NAT64     []Translator `json:"nat64,omitempty"`
	NAT64Note string       `json:"nat64_note,omitempty"`
}

// DNS64 is one DNS64 resolver under dnsperf: synthesized answers per
// second and the CPU they took.
type DNS64 struct {
	Name          string        `json:"name"`
	Label         string        `json:"label"`
	Available     bool          `json:"available"`
	Note          string        `json:"note,omitempty"`
	QueriesPerSec float64       `json:"queries_per_sec"`
	Lost          int           `json:"lost"`
	AvgLatency    time.Duration `json:"avg_latency_ns"`
	// CPUPer10k is the resolver's user+system CPU seconds per 10^4
	// answers; UpstreamCPUPer10k the upstream resolver's in that time.
	CPUPer10k         float64 `json:"cpu_s_per_10k"`
	UpstreamCPUPer10k float64 `json:"upstream_cpu_s_per_10k"`
	// RoundQueriesPerSec and RoundCPUPer10k are each turn's figures,
	// in the order measured.
	RoundQueriesPerSec []float64 `json:"round_queries_per_sec,omitempty"`
	RoundCPUPer10k     []float64 `json:"round_cpu_s_per_10k,omitempty"`
}

// Translator is one stateless translator carrying an IPv6-only client's
// traffic to an IPv4-only server on the same topology.
type Translator struct {
	Name      string `json:"name"`
	Label     string `json:"label"`
	Available bool   `json:"available"`
	Note      string `json:"note,omitempty"`
	// ThroughputMbps is iperf3's receiver figure for one TCP stream,
	// IPv6 to IPv4.
	ThroughputMbps float64 `json:"throughput_mbps"`
	// PacketsPerSec is UDP datagrams of 64 payload bytes received per
	// second, the client sending as fast as it can.
	PacketsPerSec float64 `json:"packets_per_sec"`
	// CPUPerGBTCP and CPUPerGBUDP are the translating process's CPU
	// seconds (user and system, from /proc) per gigabyte carried in the
	// TCP and UDP runs.
	CPUPerGBTCP float64 `json:"cpu_seconds_per_gb_tcp"`
	CPUPerGBUDP float64 `json:"cpu_seconds_per_gb_udp"`
	// Ceiling marks a row of plain forwarding, the most a translator on
	// the same path could carry; no process's CPU is counted for it.
	Ceiling bool `json:"ceiling,omitempty"`
	// ConnsPerSec is new TCP connections a second through the
	// translator (RFC 9693's connection establishment rate): HTTP
	// requests of one connection each. NAT64 rows only.
	ConnsPerSec float64 `json:"conns_per_sec,omitempty"`
}

// ControlPlane is the daemon's cost for one large configuration: what
// sixgate check takes, the time from the daemon's start to the first
// switch synced, and a reload that changes one entry.
type ControlPlane struct {
	Name      string `json:"name"`
	Available bool   `json:"available"`
	Note      string `json:"note,omitempty"`
	// Items is the number of names or services in the configuration.
	Items int `json:"items"`
	// Check is sixgate check's wall time; CheckMaxRSS its peak
	// resident memory.
	Check       time.Duration `json:"check_ns"`
	CheckMaxRSS int64         `json:"check_max_rss_bytes"`
	// Start is from the daemon's exec to the end of its first switch's
	// flow sync; Flows the flows the switch then holds.
	Start time.Duration `json:"start_ns"`
	Flows int           `json:"flows"`
	// RSS is the daemon's resident memory once synced; BytesPerItem is
	// its excess over a ten-item configuration's, per item.
	RSS          int64   `json:"rss_bytes"`
	BytesPerItem float64 `json:"bytes_per_item"`
	// Reload is from SIGHUP to the end of the resync after a change of
	// one item; ReloadFlowMods the flows it added or deleted.
	Reload         time.Duration `json:"reload_ns"`
	ReloadFlowMods int           `json:"reload_flow_mods"`
}

// Machine is what the numbers were measured on.
type Machine struct {
	CPU    string `json:"cpu"`
	Cores  int    `json:"cores"`
	Kernel string `json:"kernel"`
	OVS    string `json:"ovs"`
	Go     string `json:"go"`
}

// ChooseByName is the Direction of the backend-choice benchmark's rows,
// whose Conns is the number of names in the service.
const ChooseByName = "choose-by-name"

// Micro is one engine microbenchmark: one segment through the engine with
// Conns connections in its table, or (Direction ChooseByName) the backend
// choice of one connection with Conns names in its service.
type Micro struct {
	Conns       int     `json:"conns"`
	Payload     int     `json:"payload"`
	Direction   string  `json:"direction"` // client-to-backend or backend-to-client
	NsPerOp     float64 `json:"ns_per_segment"`
	AllocsPerOp float64 `json:"allocs_per_segment"`
	BytesPerOp  float64 `json:"bytes_per_segment"`
}

// Controller is one controller's cbench figures.
type Controller struct {
	Name       string         `json:"name"`
	Available  bool           `json:"available"`
	Note       string         `json:"note,omitempty"`
	Throughput *cbench.Result `json:"throughput,omitempty"`
	Latency    *cbench.Result `json:"latency,omitempty"`
}

// Setup is one end-to-end path from the IPv4 client to the IPv6 servers.
type Setup struct {
	Name      string `json:"name"`
	Label     string `json:"label"`
	Available bool   `json:"available"`
	Note      string `json:"note,omitempty"`
	// ThroughputMbps is iperf3's receiver figure for one TCP stream.
	ThroughputMbps float64 `json:"throughput_mbps"`
	// ConnPerSec is short HTTP requests per second, a new connection for
	// each, with Concurrency connections at a time.
	ConnPerSec  float64 `json:"conn_per_sec"`
	Concurrency int     `json:"concurrency"`
	Errors      int     `json:"errors"`
	// LatencyP50 and LatencyP99 are one short request's time (connect,
	// request, response, close) with one connection at a time.
	LatencyP50 time.Duration `json:"latency_p50_ns"`
	LatencyP99 time.Duration `json:"latency_p99_ns"`

	// IperfBytes is what iperf3's receiver got, and IperfCPU the CPU
	// spent meanwhile; Requests is what wrk completed in the rate phase,
	// and RateCPU the CPU spent meanwhile. Nil when not measured.
	IperfBytes int64 `json:"iperf_bytes"`
	IperfCPU   *CPU  `json:"iperf_cpu,omitempty"`
	Requests   int64 `json:"requests"`
	RateCPU    *CPU  `json:"rate_cpu,omitempty"`
	// Profiles are files written beside the results for this setup
	// (CPU profiles of its data-path process).
	Profiles []string `json:"profiles,omitempty"`
}

// CPU is the CPU time, in seconds, spent during one measured phase.
type CPU struct {
	// Process is the setup's data-path process (sixgate, haproxy),
	// every thread, user and system time; 0 when the setup has none.
	Process float64 `json:"process_s"`
	// OVS is ovs-vswitchd's.
	OVS float64 `json:"ovs_vswitchd_s"`
	// Machine is every CPU's busy time (user, nice, system, irq and
	// softirq), whoever spent it.
	Machine float64 `json:"machine_s"`
}

// PerGB returns the CPU seconds of each kind per 10^9 bytes carried by
// the iperf3 phase, or nil.
func (s *Setup) PerGB() *CPU {
	if s.IperfCPU == nil || s.IperfBytes <= 0 {
		return nil
	}
	return s.IperfCPU.scaled(1e9 / float64(s.IperfBytes))
}

// PerKConn returns the CPU milliseconds of each kind per 1000 short
// connections in the rate phase, or nil.
func (s *Setup) PerKConn() *CPU {
	if s.RateCPU == nil || s.Requests <= 0 {
		return nil
	}
	return s.RateCPU.scaled(1e6 / float64(s.Requests))
}

func (c *CPU) scaled(k float64) *CPU {
	return &CPU{Process: c.Process * k, OVS: c.OVS * k, Machine: c.Machine * k}
}

// Write writes results.md, results.json and chart.png into dir and
// returns the Markdown.
func (r *Results) Write(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	md := r.Markdown()
	if err := os.WriteFile(filepath.Join(dir, "results.md"), []byte(md), 0o644); err != nil {
		return "", err
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(js, '\n'), 0o644); err != nil {
		return "", err
	}
	f, err := os.Create(filepath.Join(dir, "chart.png"))
	if err != nil {
		return "", err
	}
	if err := r.Chart(f); err != nil {
		f.Close()
		return "", err
	}
	return md, f.Close()
}

func (r *Results) setup(name string) *Setup {
	for i := range r.E2E {
		if r.E2E[i].Name == name && r.E2E[i].Available {
			return &r.E2E[i]
		}
	}
	return nil
}

// ratio formats a/b, or "–" when either is missing.
func ratio(a, b float64) string {
	if a <= 0 || b <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// cellText makes a note fit in a table cell: one line, no pipes, bounded.
func cellText(s string) string {
	s = strings.Join(strings.Fields(strings.ReplaceAll(s, "|", "/")), " ")
	if r := []rune(s); len(r) > 240 {
		s = string(r[:240]) + "…"
	}
	return s
}

func ms(d time.Duration) string {
	if d <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f ms", float64(d)/1e6)
}

func mib(b int64) string {
	if b <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}

// us shows a controller latency: microseconds below a millisecond,
// milliseconds above.
func us(d time.Duration) string {
	switch {
	case d <= 0:
		return "–"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0f µs", float64(d)/1e3)
	}
	return ms(d)
}

// cpuMarkdown renders the CPU each setup spent per GB (iperf3 phase) and
// per 1000 short connections (wrk rate phase), with ratios to haproxy's.
func (r *Results) cpuMarkdown(p func(string, ...any)) {
	measured := false
	for i := range r.E2E {
		if r.E2E[i].Available && (r.E2E[i].PerGB() != nil || r.E2E[i].PerKConn() != nil) {
			measured = true
		}
	}
	if !measured {
		return
	}
	p("### CPU per GB and per 1000 connections (lower is better)\n\n")
	p("CPU time sampled from /proc at the start and end of the iperf3 phase (per GB received) and of the wrk rate phase (per 1000 connections): the data-path process (sixgate or haproxy, every thread, user and system), ovs-vswitchd, and the whole machine (/proc/stat: user, nice, system, irq, softirq; clients and servers included).\n\n")
	p("| setup | process s/GB | ovs-vswitchd s/GB | machine s/GB | process ms/1000 conn | ovs-vswitchd ms/1000 conn | machine ms/1000 conn | process vs haproxy (GB, conn) | machine vs haproxy (GB, conn) |\n")
	p("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	hap := r.setup("haproxy")
	var hGB, hConn *CPU
	if hap != nil {
		hGB, hConn = hap.PerGB(), hap.PerKConn()
	}
	f := func(v float64, ok bool) string {
		if !ok || v <= 0 {
			return "–"
		}
		return fmt.Sprintf("%.2f", v)
	}
	fc := func(v float64, ok bool) string {
		if !ok || v <= 0 {
			return "–"
		}
		return fmt.Sprintf("%.0f", v)
	}
	// cmp is ratio for two optional CPU figures picked by field.
	cmp := func(a, b *CPU, field func(*CPU) float64) string {
		if a == nil || b == nil {
			return "–"
		}
		return ratio(field(a), field(b))
	}
	proc := func(c *CPU) float64 { return c.Process }
	mach := func(c *CPU) float64 { return c.Machine }
	for i := range r.E2E {
		s := &r.E2E[i]
		if !s.Available {
			continue
		}
		gb, kc := s.PerGB(), s.PerKConn()
		var g, k CPU
		if gb != nil {
			g = *gb
		}
		if kc != nil {
			k = *kc
		}
		p("| %s | %s | %s | %s | %s | %s | %s | %s, %s | %s, %s |\n", s.Label,
			f(g.Process, gb != nil), f(g.OVS, gb != nil), f(g.Machine, gb != nil),
			fc(k.Process, kc != nil), fc(k.OVS, kc != nil), fc(k.Machine, kc != nil),
			cmp(gb, hGB, proc), cmp(kc, hConn, proc), cmp(gb, hGB, mach), cmp(kc, hConn, mach))
	}
	if hap != nil {
		for i := range r.E2E {
			s := &r.E2E[i]
			if s.Available && strings.HasPrefix(s.Name, "port") {
				gb, kc := s.PerGB(), s.PerKConn()
				p("\n**%s CPU against haproxy's: the process %s per GB and %s per 1000 connections; the whole machine %s and %s.**\n", s.Label,
					cmp(gb, hGB, proc), cmp(kc, hConn, proc), cmp(gb, hGB, mach), cmp(kc, hConn, mach))
			}
		}
	}
	for _, s := range r.E2E {
		if s.Available && len(s.Profiles) > 0 {
			p("\n%s: profiles written with the results: %s.\n", s.Label, "`"+strings.Join(s.Profiles, "`, `")+"`")
		}
	}
	p("\n")
}

// Markdown renders the results; the end-to-end ratios come first since
// they are the headline.
func (r *Results) Markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# sixgate benchmark, %s\n\n", r.Started.UTC().Format("2006-01-02 15:04 UTC"))
	if r.Contended {
		p("**Contended run**: other work shared this machine; compare rows within this run only.\n\n")
	}
	m := r.Machine
	p("Machine: %s, %d cores, Linux %s, Open vSwitch %s, %s. Whole run: %v.\n\n", m.CPU, m.Cores, m.Kernel, m.OVS, m.Go, r.Took.Round(time.Second))

	p("## End to end: IPv4 client to IPv6 servers on one Open vSwitch bridge\n\n")
	if r.E2ENote != "" {
		p("%s\n\n", r.E2ENote)
	}
	if len(r.E2E) > 0 {
		hap, ceil := r.setup("haproxy"), r.setup("ceiling")
		p("| setup | iperf3 Mbit/s | short conn/s | p50 request | added p50 | p99 request | vs haproxy (Mbit/s, conn/s) | vs ceiling (Mbit/s, conn/s) |\n")
		p("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
		for _, s := range r.E2E {
			if !s.Available {
				p("| %s | not available: %s | | | | | | |\n", s.Label, cellText(s.Note))
				continue
			}
			added := "–"
			if ceil != nil && s.LatencyP50 > 0 && ceil.LatencyP50 > 0 {
				added = fmt.Sprintf("%+.2f ms", float64(s.LatencyP50-ceil.LatencyP50)/1e6)
			}
			vsH, vsC := "–", "–"
			if hap != nil {
				vsH = ratio(s.ThroughputMbps, hap.ThroughputMbps) + ", " + ratio(s.ConnPerSec, hap.ConnPerSec)
			}
			if ceil != nil {
				vsC = ratio(s.ThroughputMbps, ceil.ThroughputMbps) + ", " + ratio(s.ConnPerSec, ceil.ConnPerSec)
			}
			errs := ""
			if s.Errors > 0 {
				errs = fmt.Sprintf(" (%d errors)", s.Errors)
			}
			p("| %s | %.0f | %.0f%s | %s | %s | %s | %s | %s |\n", s.Label, s.ThroughputMbps, s.ConnPerSec, errs,
				ms(s.LatencyP50), added, ms(s.LatencyP99), vsH, vsC)
		}
		if hap != nil {
			for _, s := range r.E2E {
				if s.Available && (s.Name == "controller" || strings.HasPrefix(s.Name, "port")) {
					p("\n**%s: %s haproxy's throughput, %s its short connections per second.**\n", s.Label,
						ratio(s.ThroughputMbps, hap.ThroughputMbps), ratio(s.ConnPerSec, hap.ConnPerSec))
				}
			}
		}
		for _, s := range r.E2E {
			if s.Available && s.Note != "" {
				p("\n%s: %s\n", s.Label, cellText(s.Note))
			}
		}
		p("\n")
		r.cpuMarkdown(p)
	}

	r.translatorMarkdown(p)
	r.nat64Markdown(p)

	p("## Controller: cbench-style simulated switches, learning-switch app\n\n")
	if r.ControllerNote != "" {
		p("%s\n\n", r.ControllerNote)
	}
	if len(r.Controllers) > 0 {
		p("| controller | responses/s | flow-mods/s | p50 | p90 | p99 | latency mode: responses/s | p50 | p90 | p99 |\n")
		p("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
		for _, c := range r.Controllers {
			if !c.Available {
				p("| %s | not available: %s | | | | | | | | |\n", c.Name, cellText(c.Note))
				continue
			}
			t, l := c.Throughput, c.Latency
			p("| %s | %.0f | %.0f | %s | %s | %s | %.0f | %s | %s | %s |\n", c.Name,
				t.ResponsesPerSec, t.FlowModsPerSec, us(t.P50), us(t.P90), us(t.P99),
				l.ResponsesPerSec, us(l.P50), us(l.P90), us(l.P99))
		}
		if len(r.Controllers) == 2 && r.Controllers[0].Available && r.Controllers[1].Available {
			a, o := r.Controllers[0], r.Controllers[1]
			p("\n%s answers %s the packet-ins of %s (throughput mode) at %s its p50 latency (latency mode).\n",
				a.Name, ratio(a.Throughput.ResponsesPerSec, o.Throughput.ResponsesPerSec), o.Name,
				ratio(float64(a.Latency.P50), float64(o.Latency.P50)))
		}
		p("\n")
	}

	p("## DNS64: synthesized answers per second\n\n")
	if r.DNS64Note != "" {
		p("%s\n\n", r.DNS64Note)
	}
	if len(r.DNS64) > 0 {
		var peer *DNS64
		for i := range r.DNS64 {
			if r.DNS64[i].Name == "unbound" && r.DNS64[i].Available {
				peer = &r.DNS64[i]
			}
		}
		p("| resolver | queries/s | lost | avg latency | CPU s per 10^4 | upstream CPU s per 10^4 | vs Unbound (queries/s, CPU per answer) |\n")
		p("| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n")
		for _, d := range r.DNS64 {
			if !d.Available {
				p("| %s | not available: %s | | | | | |\n", d.Label, cellText(d.Note))
				continue
			}
			vs := "–"
			if peer != nil {
				vs = ratio(d.QueriesPerSec, peer.QueriesPerSec) + ", " + ratio(d.CPUPer10k, peer.CPUPer10k)
			}
			p("| %s | %.0f | %d | %s | %.3f | %.3f | %s |\n", d.Label, d.QueriesPerSec, d.Lost, us(d.AvgLatency), d.CPUPer10k, d.UpstreamCPUPer10k, vs)
		}
		p("\n")
		for _, d := range r.DNS64 {
			if peer == nil || d.Name == peer.Name || !d.Available || len(d.RoundQueriesPerSec) != len(peer.RoundQueriesPerSec) || len(d.RoundQueriesPerSec) < 2 {
				continue
			}
			var rate, cpu []string
			for i := range d.RoundQueriesPerSec {
				rate = append(rate, ratio(d.RoundQueriesPerSec[i], peer.RoundQueriesPerSec[i]))
				cpu = append(cpu, ratio(d.RoundCPUPer10k[i], peer.RoundCPUPer10k[i]))
			}
			p("%s against %s, round by round: queries/s %s; CPU per answer %s.\n\n", d.Label, peer.Label, strings.Join(rate, ", "), strings.Join(cpu, ", "))
		}
	}

	p("## Control plane: large configurations\n\n")
	if r.ControlPlaneNote != "" {
		p("%s\n\n", r.ControlPlaneNote)
	}
	if len(r.ControlPlane) > 0 {
		p("| configuration | check | check peak RSS | start to first synced switch | flows | daemon RSS | per item | reload one item | flows re-sent |\n")
		p("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
		for _, c := range r.ControlPlane {
			if !c.Available {
				p("| %s | not available: %s | | | | | | | |\n", c.Name, cellText(c.Note))
				continue
			}
			p("| %s | %s | %s | %s | %d | %s | %.0f B | %s | %d |\n", c.Name, ms(c.Check), mib(c.CheckMaxRSS),
				ms(c.Start), c.Flows, mib(c.RSS), c.BytesPerItem, ms(c.Reload), c.ReloadFlowMods)
		}
		p("\n")
	}

	p("## Engine: one segment through proxy46, established connection\n\n")
	if r.MicroNote != "" {
		p("%s\n\n", r.MicroNote)
	}
	if len(r.Micro) > 0 {
		p("| connections | payload | client -> backend ns | allocs | backend -> client ns | allocs |\n")
		p("| ---: | ---: | ---: | ---: | ---: | ---: |\n")
		type key struct{ conns, payload int }
		rows := map[key][2]*Micro{}
		var order []key
		for i := range r.Micro {
			mi := &r.Micro[i]
			if mi.Direction == ChooseByName {
				continue
			}
			k := key{mi.Conns, mi.Payload}
			row, seen := rows[k]
			if !seen {
				order = append(order, k)
			}
			if mi.Direction == "client-to-backend" {
				row[0] = mi
			} else {
				row[1] = mi
			}
			rows[k] = row
		}
		cell := func(mi *Micro) string {
			if mi == nil {
				return "– | –"
			}
			return fmt.Sprintf("%.0f | %.0f", mi.NsPerOp, mi.AllocsPerOp)
		}
		for _, k := range order {
			row := rows[k]
			p("| %d | %d | %s | %s |\n", k.conns, k.payload, cell(row[0]), cell(row[1]))
		}
		p("\n")
		first := true
		for _, mi := range r.Micro {
			if mi.Direction != ChooseByName {
				continue
			}
			if first {
				p("Backend choice of one connection by its Host header (read from the held bytes, looked up, first candidate taken), `BenchmarkChooseByName`:\n\n")
				p("| names in the service | ns | allocs |\n| ---: | ---: | ---: |\n")
				first = false
			}
			p("| %d | %.0f | %.0f |\n", mi.Conns, mi.NsPerOp, mi.AllocsPerOp)
		}
		if !first {
			p("\n")
		}
	}
	p("Chart (`chart.png`): left, iperf3 Mbit/s; right, short connections per second; each panel scaled to its tallest bar, a grid line every tenth of it; one bar per setup in table order, colours: %s. Missing setups leave a gap.\n",
		legend(r.E2E))
	return b.String()
}

// translatorMarkdown renders the translator rows, with ratios to the last
// row (the peer).
func (r *Results) translatorMarkdown(p func(string, ...any)) {
	p("## Translator: IPv6-only client to IPv4-only server (stateless, RFC 7915)\n\n")
	if r.TranslatorNote != "" {
		p("%s\n\n", r.TranslatorNote)
	}
	if len(r.Translators) == 0 {
		return
	}
	var peer *Translator
	if last := &r.Translators[len(r.Translators)-1]; last.Available {
		peer = last
	}
	p("| translator | iperf3 Mbit/s | UDP 64 B packets/s | CPU s/GB (TCP) | CPU s/GB (UDP) | vs %s (Mbit/s, packets/s) |\n", peerName(peer))
	p("| --- | ---: | ---: | ---: | ---: | ---: |\n")
	for _, s := range r.Translators {
		if !s.Available {
			p("| %s | not available: %s | | | | |\n", s.Label, cellText(s.Note))
			continue
		}
		vs := "–"
		if peer != nil {
			vs = ratio(s.ThroughputMbps, peer.ThroughputMbps) + ", " + ratio(s.PacketsPerSec, peer.PacketsPerSec)
		}
		cpuTCP, cpuUDP := s.cpuCells()
		p("| %s | %.0f | %.0f | %s | %s | %s |\n", s.Label, s.ThroughputMbps, s.PacketsPerSec, cpuTCP, cpuUDP, vs)
	}
	p("\n")
}

// nat64Markdown renders the NAT64 rows, with ratios to the last row
// (the peer).
func (r *Results) nat64Markdown(p func(string, ...any)) {
	if len(r.NAT64) == 0 && r.NAT64Note == "" {
		return
	}
	p("## NAT64: IPv6-only client to IPv4-only server (stateful, RFC 6146)\n\n")
	if r.NAT64Note != "" {
		p("%s\n\n", r.NAT64Note)
	}
	if len(r.NAT64) == 0 {
		return
	}
	var peer *Translator
	if last := &r.NAT64[len(r.NAT64)-1]; last.Available {
		peer = last
	}
	p("| NAT64 | iperf3 Mbit/s | UDP 64 B packets/s | new connections/s | CPU s/GB (TCP) | CPU s/GB (UDP) | vs %s (Mbit/s, packets/s, connections/s) |\n", peerName(peer))
	p("| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, s := range r.NAT64 {
		if !s.Available {
			p("| %s | not available: %s | | | | | |\n", s.Label, cellText(s.Note))
			continue
		}
		vs := "–"
		if peer != nil {
			vs = ratio(s.ThroughputMbps, peer.ThroughputMbps) + ", " + ratio(s.PacketsPerSec, peer.PacketsPerSec) + ", " + ratio(s.ConnsPerSec, peer.ConnsPerSec)
		}
		cpuTCP, cpuUDP := s.cpuCells()
		p("| %s | %.0f | %.0f | %.0f | %s | %s | %s |\n", s.Label, s.ThroughputMbps, s.PacketsPerSec, s.ConnsPerSec, cpuTCP, cpuUDP, vs)
	}
	p("\n")
}

// cpuCells are the CPU per GB cells of a row: none for a ceiling, whose
// forwarding no process does.
func (t *Translator) cpuCells() (tcp, udp string) {
	if t.Ceiling {
		return "–", "–"
	}
	return fmt.Sprintf("%.2f", t.CPUPerGBTCP), fmt.Sprintf("%.2f", t.CPUPerGBUDP)
}

func peerName(t *Translator) string {
	if t == nil {
		return "the peer"
	}
	return t.Label
}
