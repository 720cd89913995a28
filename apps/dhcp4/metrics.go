package dhcp4

import (
	"strings"

	"github.com/insomniacslk/dhcp/dhcpv4"
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
		failures: prometheus.NewDesc("sixgate_dhcp4_failures_total", "Packet-outs and lease file writes that failed.", []string{"what"}, nil),
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
	s := &c.a.stats
	for mt := dhcpv4.MessageTypeDiscover; mt <= dhcpv4.MessageTypeInform; mt++ {
		name := strings.ToLower(strings.TrimPrefix(mt.String(), "DHCP"))
		ch <- prometheus.MustNewConstMetric(c.received, prometheus.CounterValue, float64(s.received[mt].Load()), name)
		ch <- prometheus.MustNewConstMetric(c.sent, prometheus.CounterValue, float64(s.sent[mt].Load()), name)
	}
	for v := range s.verdicts {
		ch <- prometheus.MustNewConstMetric(c.verdicts, prometheus.CounterValue, float64(s.verdicts[v].Load()), verdict(v).String())
	}
	c.a.mu.Lock()
	n108 := c.a.srv.sent108
	bound := len(c.a.srv.table.boundLeases())
	c.a.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(c.opt108, prometheus.CounterValue, float64(n108))
	ch <- prometheus.MustNewConstMetric(c.leases, prometheus.GaugeValue, float64(bound))
	ch <- prometheus.MustNewConstMetric(c.failures, prometheus.CounterValue, float64(s.send.Load()), "packet_out")
	ch <- prometheus.MustNewConstMetric(c.failures, prometheus.CounterValue, float64(s.saves.Load()), "lease_file")
}
