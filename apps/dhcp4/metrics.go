package dhcp4

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Collectors returns the app's Prometheus collector.
func (a *App) Collectors() []prometheus.Collector {
	return []prometheus.Collector{&collector{a: a,
		received: prometheus.NewDesc("sixgate_dhcp4_received_total", "DHCP messages received, by type.", []string{"type"}, nil),
		sent:     prometheus.NewDesc("sixgate_dhcp4_sent_total", "DHCP replies sent, by type.", []string{"type"}, nil),
		verdicts: prometheus.NewDesc("sixgate_dhcp4_handled_total", "DHCP messages by outcome (replied, malformed, unknown_host, pool_exhausted, ...).", []string{"outcome"}, nil),
		opt108:   prometheus.NewDesc("sixgate_dhcp4_ipv6_only_preferred_sent_total", "Replies that carried option 108 (RFC 8925).", nil, nil),
		leases:   prometheus.NewDesc("sixgate_dhcp4_leases", "Bound dynamic leases.", nil, nil),
		failures: prometheus.NewDesc("sixgate_dhcp4_failures_total", "Packet-outs, lease file writes and (with ha) etcd reads and writes of the leases that failed.", []string{"what"}, nil),
	}}
}

type collector struct {
	a                                                  *App
	received, sent, verdicts, opt108, leases, failures *prometheus.Desc
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.received, c.sent, c.verdicts, c.opt108, c.leases, c.failures} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.a.Stats()
	for name, n := range s.Received {
		ch <- prometheus.MustNewConstMetric(c.received, prometheus.CounterValue, float64(n), name)
	}
	for name, n := range s.Sent {
		ch <- prometheus.MustNewConstMetric(c.sent, prometheus.CounterValue, float64(n), name)
	}
	for name, n := range s.Handled {
		ch <- prometheus.MustNewConstMetric(c.verdicts, prometheus.CounterValue, float64(n), name)
	}
	ch <- prometheus.MustNewConstMetric(c.opt108, prometheus.CounterValue, float64(s.Option108))
	ch <- prometheus.MustNewConstMetric(c.leases, prometheus.GaugeValue, float64(s.Leases))
	ch <- prometheus.MustNewConstMetric(c.failures, prometheus.CounterValue, float64(s.PacketOutFailures), "packet_out")
	ch <- prometheus.MustNewConstMetric(c.failures, prometheus.CounterValue, float64(s.LeaseFileFailures), "lease_file")
	ch <- prometheus.MustNewConstMetric(c.failures, prometheus.CounterValue, float64(s.StateFailures), "etcd")
}
