package nat64

import (
	"encoding/json"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
)

// Collectors returns the app's Prometheus collectors.
func (a *App) Collectors() []prometheus.Collector { return []prometheus.Collector{&collector{a: a}} }

// BIBHandler serves the binding table as JSON (sixgate nat64 bib).
func (a *App) BIBHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { writeJSON(w, a.engine.BIB()) })
}

// SessionsHandler serves the session table as JSON (sixgate nat64
// sessions).
func (a *App) SessionsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { writeJSON(w, a.engine.Sessions()) })
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

type collector struct{ a *App }

var (
	descPackets = prometheus.NewDesc("sixgate_nat64_packets_total",
		"Packets through the nat64 app's data path, by event.", []string{"event"}, nil)
	descPortFrames = prometheus.NewDesc("sixgate_nat64_port_frames_total",
		"Frames on the engine interfaces in port mode, by interface and event.", []string{"interface", "event"}, nil)
	descTranslated = prometheus.NewDesc("sixgate_nat64_translated_total",
		"Packets translated, by direction (4to6, 6to4, hairpin).", []string{"direction"}, nil)
	descDrops = prometheus.NewDesc("sixgate_nat64_drops_total",
		"Packets dropped by the NAT64, by reason.", []string{"reason"}, nil)
	descICMP = prometheus.NewDesc("sixgate_nat64_icmp_errors_total",
		"ICMP errors the NAT64 originated, by the family they were sent to; rate_limited those not sent.", []string{"family"}, nil)
	descSessions = prometheus.NewDesc("sixgate_nat64_sessions",
		"Sessions in the table, by protocol.", []string{"protocol"}, nil)
	descBindings = prometheus.NewDesc("sixgate_nat64_bindings",
		"Bindings in the BIB, by protocol.", []string{"protocol"}, nil)
	descPool4Used = prometheus.NewDesc("sixgate_nat64_pool4_ports_used",
		"Pool4 ports lent to bindings, by protocol and address.", []string{"protocol", "address"}, nil)
	descPool4Size = prometheus.NewDesc("sixgate_nat64_pool4_ports",
		"Pool4 ports there are to lend, by protocol and address.", []string{"protocol", "address"}, nil)
	descHeld = prometheus.NewDesc("sixgate_nat64_held_syns",
		"Unsolicited IPv4 SYNs held for a simultaneous open.", nil, nil)
	descFragBytes = prometheus.NewDesc("sixgate_nat64_fragment_bytes",
		"Memory held by fragments waiting for the first of their packet.", nil, nil)
	descExpired = prometheus.NewDesc("sixgate_nat64_sessions_expired_total",
		"Sessions their timer removed.", nil, nil)
	descFTP = prometheus.NewDesc("sixgate_nat64_ftp_alg_total",
		"What the FTP gateway did, by event: rewrite (EPRT, PORT, 229 lines), answered (LPRT, LPSV, ALGS, EPSV ALL), "+
			"retry (EPSV or EPRT sent again as PASV or PORT), failure (a line it could not translate), "+
			"line_too_long (passed unparsed), held (incomplete line held), out_of_order (segment after a gap dropped), "+
			"tls (connections that started TLS), table_full (connections passed without the gateway), "+
			"too_big (rewritten segment over the buffer), sent (segments the gateway originated), resent (its text sent again, unacknowledged).", []string{"event"}, nil)
	descFTPConns = prometheus.NewDesc("sixgate_nat64_ftp_alg_connections",
		"FTP control connections the gateway follows.", nil, nil)
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPackets, descPortFrames, descTranslated, descDrops, descICMP,
		descSessions, descBindings, descPool4Used, descPool4Size, descHeld, descFragBytes, descExpired, descFTP, descFTPConns} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v int, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
	}
	s := c.a.Counters()
	for event, v := range map[string]uint64{
		"packet_in": s.PacketIns.Load(), "packet_out": s.PacketOuts.Load(), "no_route": s.NoRoute.Load(),
		"not_ip": s.NotIP.Load(), "send_failure": s.SendFailures.Load(),
	} {
		counter(descPackets, v, event)
	}
	for _, p := range c.a.PortStats() {
		for event, v := range map[string]uint64{
			"received": p.Received, "sent": p.Sent, "truncated": p.Truncated, "send_error": p.SendErrors,
			"kernel_drop": p.KernelDrops, "ring_full": p.RingFull,
			"not_ip": p.NotIP, "pass": p.Pass, "no_route": p.NoRoute,
			"offload": p.Offload, "offload_cut": p.OffloadCut, "offload_bad": p.OffloadBad,
		} {
			counter(descPortFrames, v, p.Interface, event)
		}
	}
	st := c.a.engine.Stats()
	counter(descTranslated, st.Translated4to6, "4to6")
	counter(descTranslated, st.Translated6to4, "6to4")
	counter(descTranslated, st.Hairpinned, "hairpin")
	for reason, v := range st.Drops {
		counter(descDrops, v, reason)
	}
	counter(descICMP, st.ICMPErrors4, "ipv4")
	counter(descICMP, st.ICMPErrors6, "ipv6")
	counter(descICMP, st.ICMPRateLimited, "rate_limited")
	for p, n := range st.Sessions {
		gauge(descSessions, n, p)
	}
	for p, n := range st.Bindings {
		gauge(descBindings, n, p)
	}
	for p, m := range st.Pool4Size {
		for addr, n := range m {
			gauge(descPool4Size, n, p, addr)
			gauge(descPool4Used, st.Pool4Used[p][addr], p, addr)
		}
	}
	gauge(descHeld, st.Holding)
	gauge(descFragBytes, st.FragmentBytes)
	counter(descExpired, st.SessionsExpired)
	f := st.FTP
	for event, v := range map[string]uint64{
		"rewrite": f.Rewrites, "answered": f.Answered, "retry": f.Retries, "failure": f.Failures,
		"line_too_long": f.LinesTooLong, "held": f.Held, "held_acked": f.HeldAcked, "out_of_order": f.OutOfOrder, "tls": f.TLS,
		"table_full": f.Full, "too_big": f.TooBig, "sent": f.Sent, "resent": f.Resent,
	} {
		counter(descFTP, v, event)
	}
	gauge(descFTPConns, f.Connections)
}
