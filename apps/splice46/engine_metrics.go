package splice46

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sixgate/sixgate/proxy46"
)

// statsSource is what an engineCollector reads: an *proxy46.Engine, or the
// App, which hands out the current engine's Stats as reloads replace
// engines.
type statsSource interface {
	Stats() proxy46.Stats
}

// engineCollector exposes a proxy46 engine's Stats as Prometheus metrics,
// read at scrape time. The engine is a library and only counts; the names
// are the app's (sixgate_proxy46_*, as dashboards know them).
type engineCollector struct {
	engine statsSource

	packets, connsOpened, connsClosed, spliced *prometheus.Desc
	byState, drops, heldBytes, heldTotal       *prometheus.Desc
	backendChosen, backendFailed, events       *prometheus.Desc
	embryonic, limits, dns                     *prometheus.Desc
	ftp, ftpControl, ftpExpected               *prometheus.Desc
}

var _ prometheus.Collector = (*engineCollector)(nil)

// newEngineCollector returns a collector for e; register it with a
// registry.
func newEngineCollector(e statsSource) *engineCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("sixgate_proxy46_"+name, help, labels, nil)
	}
	return &engineCollector{
		engine:        e,
		packets:       d("packets_total", "Packets by family and direction (in to the engine, out of it).", "family", "direction"),
		connsOpened:   d("connections_opened_total", "Client SYNs accepted into the connection table."),
		connsClosed:   d("connections_closed_total", "Connections removed from the table."),
		spliced:       d("connections_spliced_total", "Connections that reached the established state."),
		byState:       d("connections", "Connections in the table by state.", "state"),
		drops:         d("drops_total", "Dropped packets by reason.", "reason"),
		heldBytes:     d("held_bytes", "Client bytes held while choosing backends."),
		heldTotal:     d("held_bytes_total", "Client bytes ever held."),
		backendChosen: d("backend_chosen_total", "Connections sent to a backend.", "vip", "backend", "default"),
		backendFailed: d("backend_failed_total", "Backend handshakes that failed (refused or timed out).", "vip", "backend", "default"),
		events:        d("events_total", "Handshake, failover, reset, SYN cookie and timer events.", "event"),
		embryonic:     d("embryonic_connections", "Connections not yet spliced (syn-received, holding, backend-syn)."),
		limits:        d("limit", "Configured bounds (negative: off).", "bound"),
		dns:           d("dns_connections_total", "Connections of services with backends from DNS, by outcome of their name's lookup.", "outcome"),
		ftp:           d("ftp_alg_total", "What the FTP gateway did: lines rewritten or answered, data connections expected, opened, expired or refused.", "event"),
		ftpControl:    d("ftp_control_connections", "FTP control connections the gateway follows."),
		ftpExpected:   d("ftp_expectations", "FTP data connections announced and not yet opened."),
	}
}

// Describe implements prometheus.Collector.
func (c *engineCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.packets, c.connsOpened, c.connsClosed, c.spliced, c.byState,
		c.drops, c.heldBytes, c.heldTotal, c.backendChosen, c.backendFailed, c.events, c.embryonic, c.limits, c.dns,
		c.ftp, c.ftpControl, c.ftpExpected} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *engineCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.engine.Stats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter(c.packets, s.Packets4In, "ipv4", "in")
	counter(c.packets, s.Packets6In, "ipv6", "in")
	counter(c.packets, s.Packets4Out, "ipv4", "out")
	counter(c.packets, s.Packets6Out, "ipv6", "out")
	counter(c.connsOpened, s.ConnectionsOpened)
	counter(c.connsClosed, s.ConnectionsClosed)
	counter(c.spliced, s.Spliced)
	for i, n := range s.ByState {
		gauge(c.byState, float64(n), proxy46.StateName(i))
	}
	for i, n := range s.Drops {
		counter(c.drops, n, proxy46.DropReasonName(i))
	}
	gauge(c.heldBytes, float64(s.HeldBytes))
	counter(c.heldTotal, s.HeldBytesTotal)
	for _, b := range s.Backends {
		def := strconv.FormatBool(b.Default)
		counter(c.backendChosen, b.Chosen, b.VIP.String(), b.Backend.String(), def)
		counter(c.backendFailed, b.Failed, b.VIP.String(), b.Backend.String(), def)
	}
	for _, ev := range []struct {
		name string
		v    uint64
	}{
		{"syn_ack_sent", s.SynAcksSent}, {"syn_ack_retry", s.SynAckRetries}, {"backend_syn", s.BackendSyns},
		{"backend_syn_retry", s.BackendSynRetries}, {"backend_refused", s.BackendRefused},
		{"backend_timeout", s.BackendTimeouts}, {"backend_unreachable", s.BackendUnreachable}, {"backend_lost", s.BackendLost}, {"failover", s.Failovers},
		{"client_reset", s.ClientResets}, {"backend_reset", s.BackendResets},
		{"no_backend", s.NoBackend}, {"default_chosen", s.DefaultChosen},
		{"forced_choice", s.ForcedChoices}, {"replayed_segment", s.Replayed}, {"held_out_of_order", s.HeldOutOfOrder},
		{"embryonic_expired", s.EmbryonicExpired}, {"idle_expired", s.IdleExpired},
		{"transitory_expired", s.TransitoryExpired}, {"closed_expired", s.ClosedExpired},
		{"closed_evicted", s.ClosedEvicted}, {"icmp_translated", s.ICMPTranslated},
		{"icmp_sent", s.ICMPSent}, {"syn_cookie_sent", s.SynCookiesSent},
		{"syn_cookie_accepted", s.SynCookiesAccepted}, {"challenge_ack", s.ChallengeACKs},
		{"challenge_ack_limited", s.ChallengeACKsLimited},
		{"echo_reply", s.EchoReplies}, {"closed_port_reset", s.ClosedPortResets},
		{"port_unreachable", s.PortUnreachables}, {"time_exceeded", s.TimeExceeded},
		{"icmp_error_limited", s.ICMPErrorsLimited}, {"segment_split", s.SegmentsSplit},
		{"offload_in", s.OffloadIn}, {"offload_out", s.OffloadOut},
	} {
		counter(c.events, ev.v, ev.name)
	}
	for _, o := range []struct {
		name string
		v    uint64
	}{
		{"waited", s.DNSWaits}, {"resolved", s.DNSResolved}, {"not_found", s.DNSNotFound},
		{"outside_prefix", s.DNSOutsidePrefix}, {"failed", s.DNSFailed}, {"rate_limited", s.DNSRateLimited},
		{"timeout", s.DNSTimeouts}, {"backends_full", s.DNSBackendsFull},
	} {
		counter(c.dns, o.v, o.name)
	}
	f := &s.FTP
	for _, ev := range []struct {
		name string
		v    uint64
	}{
		{"rewrite", f.Rewrites}, {"answered", f.Answered}, {"failure", f.Failures}, {"line_too_long", f.LinesTooLong},
		{"held", f.Held}, {"held_acked", f.HeldAcked}, {"out_of_order", f.OutOfOrder}, {"tls", f.TLS},
		{"sent", f.Sent}, {"resent", f.Resent}, {"too_big", f.TooBig}, {"control_full", f.ControlFull},
		{"expected", f.Expected}, {"passive_opened", f.PassiveOpened}, {"active_opened", f.ActiveOpened},
		{"expect_expired", f.ExpectExpired}, {"expect_replaced", f.ExpectReplaced}, {"expect_full", f.ExpectFull},
		{"refused", f.Refused},
	} {
		counter(c.ftp, ev.v, ev.name)
	}
	gauge(c.ftpControl, float64(f.Control))
	gauge(c.ftpExpected, float64(f.Expectations))
	gauge(c.embryonic, float64(s.ByState[proxy46.StateSynReceived]+s.ByState[proxy46.StateHolding]+s.ByState[proxy46.StateBackendSyn]))
	for _, l := range []struct {
		name string
		v    int
	}{
		{"max_connections", s.Limits.MaxConnections}, {"max_embryonic", s.Limits.MaxEmbryonic},
		{"syn_cookie_threshold", s.Limits.SynCookieThreshold}, {"max_held_bytes", s.Limits.MaxHeldBytes},
		{"max_held_bytes_total", s.Limits.MaxHeldBytesTotal}, {"challenge_ack_limit", s.Limits.ChallengeACKLimit},
		{"icmp_error_limit", s.Limits.ICMPErrorLimit},
		{"ftp_control_connections", f.MaxControl}, {"ftp_expectations", f.MaxExpectations},
	} {
		gauge(c.limits, float64(l.v), l.name)
	}
}
