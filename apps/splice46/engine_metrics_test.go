package splice46

import (
	"net/netip"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sixgate/sixgate/proxy46"
)

type fixedStats proxy46.Stats

func (f *fixedStats) Stats() proxy46.Stats { return proxy46.Stats(*f) }

// value gathers from g the value of the metric of family name whose
// labels include want (name=value pairs).
func value(t *testing.T, g prometheus.Gatherer, name string, want ...string) float64 {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for i := 0; i+1 < len(want); i += 2 {
				if labels[want[i]] != want[i+1] {
					continue next
				}
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s with labels %v", name, want)
	return 0
}

// TestEngineMetricNames pins the names, help texts and labels of the
// engine's metrics: dashboards depend on them.
func TestEngineMetricNames(t *testing.T) {
	s := proxy46.Stats{
		Spliced: 1,
		Backends: []proxy46.BackendStats{{VIP: netip.MustParseAddrPort("10.0.0.42:80"),
			Backend: netip.MustParseAddrPort("[2001:db8::1]:80"), Chosen: 3}},
	}
	s.EchoReplies, s.ClosedPortResets, s.PortUnreachables, s.ICMPErrorsLimited = 11, 12, 13, 14
	s.SynAckRetries, s.TimeExceeded = 15, 16
	s.TransitoryExpired, s.ClosedExpired, s.ClosedEvicted = 17, 18, 19
	s.SegmentsSplit, s.BackendUnreachable, s.HeldOutOfOrder, s.ICMPTranslated = 20, 21, 22, 23
	s.Drops[proxy46.DropNonGlobalClient] = 24
	s.Limits.ICMPErrorLimit = 1000
	s.DNSOutsidePrefix, s.DNSTimeouts = 21, 22
	s.ByState[proxy46.StateHolding] = 2
	s.Drops[proxy46.DropNoService] = 5
	s.FTP.PassiveOpened, s.FTP.ActiveOpened, s.FTP.Rewrites, s.FTP.Control, s.FTP.Expectations = 31, 32, 33, 3, 4
	s.FTP.MaxExpectations = 1024
	reg := prometheus.NewPedanticRegistry()
	fs := fixedStats(s)
	reg.MustRegister(newEngineCollector(&fs))
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"sixgate_proxy46_packets_total":             "Packets by family and direction (in to the engine, out of it).",
		"sixgate_proxy46_connections_opened_total":  "Client SYNs accepted into the connection table.",
		"sixgate_proxy46_connections_closed_total":  "Connections removed from the table.",
		"sixgate_proxy46_connections_spliced_total": "Connections that reached the established state.",
		"sixgate_proxy46_connections":               "Connections in the table by state.",
		"sixgate_proxy46_drops_total":               "Dropped packets by reason.",
		"sixgate_proxy46_held_bytes":                "Client bytes held while choosing backends.",
		"sixgate_proxy46_held_bytes_total":          "Client bytes ever held.",
		"sixgate_proxy46_backend_chosen_total":      "Connections sent to a backend.",
		"sixgate_proxy46_backend_failed_total":      "Backend handshakes that failed (refused or timed out).",
		"sixgate_proxy46_events_total":              "Handshake, failover, reset, SYN cookie and timer events.",
		"sixgate_proxy46_embryonic_connections":     "Connections not yet spliced (syn-received, holding, backend-syn).",
		"sixgate_proxy46_limit":                     "Configured bounds (negative: off).",
		"sixgate_proxy46_dns_connections_total":     "Connections of services with backends from DNS, by outcome of their name's lookup.",
		"sixgate_proxy46_ftp_alg_total":             "What the FTP gateway did: lines rewritten or answered, data connections expected, opened, expired or refused.",
		"sixgate_proxy46_ftp_control_connections":   "FTP control connections the gateway follows.",
		"sixgate_proxy46_ftp_expectations":          "FTP data connections announced and not yet opened.",
	}
	var got []string
	for _, mf := range families {
		name := mf.GetName()
		got = append(got, name)
		if h, ok := want[name]; !ok {
			t.Errorf("unexpected metric family %s", name)
		} else if mf.GetHelp() != h {
			t.Errorf("%s help %q, want %q", name, mf.GetHelp(), h)
		}
	}
	sort.Strings(got)
	if len(got) != len(want) {
		t.Errorf("metric families %s, want %d", strings.Join(got, " "), len(want))
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"sixgate_proxy46_connections_spliced_total", nil, 1},
		{"sixgate_proxy46_connections", []string{"state", "holding"}, 2},
		{"sixgate_proxy46_embryonic_connections", nil, 2},
		{"sixgate_proxy46_drops_total", []string{"reason", "no-service"}, 5},
		{"sixgate_proxy46_backend_chosen_total", []string{"vip", "10.0.0.42:80", "backend", "[2001:db8::1]:80", "default", "false"}, 3},
		{"sixgate_proxy46_events_total", []string{"event", "echo_reply"}, 11},
		{"sixgate_proxy46_events_total", []string{"event", "closed_port_reset"}, 12},
		{"sixgate_proxy46_events_total", []string{"event", "port_unreachable"}, 13},
		{"sixgate_proxy46_events_total", []string{"event", "icmp_error_limited"}, 14},
		{"sixgate_proxy46_events_total", []string{"event", "syn_ack_retry"}, 15},
		{"sixgate_proxy46_events_total", []string{"event", "time_exceeded"}, 16},
		{"sixgate_proxy46_events_total", []string{"event", "transitory_expired"}, 17},
		{"sixgate_proxy46_events_total", []string{"event", "closed_expired"}, 18},
		{"sixgate_proxy46_events_total", []string{"event", "closed_evicted"}, 19},
		{"sixgate_proxy46_events_total", []string{"event", "segment_split"}, 20},
		{"sixgate_proxy46_events_total", []string{"event", "backend_unreachable"}, 21},
		{"sixgate_proxy46_events_total", []string{"event", "held_out_of_order"}, 22},
		{"sixgate_proxy46_events_total", []string{"event", "icmp_translated"}, 23},
		{"sixgate_proxy46_drops_total", []string{"reason", "non-global-client"}, 24},
		{"sixgate_proxy46_limit", []string{"bound", "icmp_error_limit"}, 1000},
		{"sixgate_proxy46_dns_connections_total", []string{"outcome", "outside_prefix"}, 21},
		{"sixgate_proxy46_dns_connections_total", []string{"outcome", "timeout"}, 22},
		{"sixgate_proxy46_limit", []string{"bound", "challenge_ack_limit"}, 0},
		{"sixgate_proxy46_ftp_alg_total", []string{"event", "passive_opened"}, 31},
		{"sixgate_proxy46_ftp_alg_total", []string{"event", "active_opened"}, 32},
		{"sixgate_proxy46_ftp_alg_total", []string{"event", "rewrite"}, 33},
		{"sixgate_proxy46_ftp_control_connections", nil, 3},
		{"sixgate_proxy46_ftp_expectations", nil, 4},
		{"sixgate_proxy46_limit", []string{"bound", "ftp_expectations"}, 1024},
	} {
		if v := value(t, reg, c.name, c.labels...); v != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, v, c.want)
		}
	}
}
