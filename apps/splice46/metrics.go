package splice46

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sixgate/sixgate/proxy46"
)

// Collectors returns the app's Prometheus collectors: its own packet
// counters and the engine's (read from whichever engine is current).
func (a *App) Collectors() []prometheus.Collector {
	return []prometheus.Collector{&collector{a: a}, newEngineCollector(a), newDNSCollector(a.dns)}
}

// Stats returns the current engine's counters.
func (a *App) Stats() proxy46.Stats { return a.Engine().Stats() }

// collector exports the app's own counters at scrape time, so the packet
// path only touches atomics.
type collector struct{ a *App }

var descAppPackets = prometheus.NewDesc("sixgate_splice46_packets_total",
	"Packets through the splice46 app, by event.", []string{"event"}, nil)

var descPortFrames = prometheus.NewDesc("sixgate_splice46_port_frames_total",
	"Frames on the engine interfaces in port mode, by interface and event.", []string{"interface", "event"}, nil)

var (
	descDrained = prometheus.NewDesc("sixgate_splice46_connections_drained_total",
		"Connections reset towards both ends because a reload removed their service or backend and splice46.timeouts.drain passed.", nil, nil)
	descDraining = prometheus.NewDesc("sixgate_splice46_connections_draining",
		"Connections whose service or backend a reload removed, still open until they close or the drain timeout passes.", nil, nil)
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descAppPackets
	ch <- descPortFrames
	ch <- descDrained
	ch <- descDraining
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.a.Counters()
	// The VIP answers are the engine's now (sixgate_proxy46_events_total
	// echo_reply, closed_port_reset, port_unreachable); echo_reply and
	// closed_port stay here for the dashboards that read them.
	es := c.a.Stats()
	ch <- prometheus.MustNewConstMetric(descDrained, prometheus.CounterValue, float64(es.Drained))
	ch <- prometheus.MustNewConstMetric(descDraining, prometheus.GaugeValue, float64(es.Draining))
	for event, v := range map[string]uint64{
		"packet_in": s.PacketIns.Load(), "packet_out": s.PacketOuts.Load(), "no_route": s.NoRoute.Load(),
		"not_ip": s.NotIP.Load(), "echo_reply": es.EchoReplies, "closed_port": es.ClosedPortResets + es.PortUnreachables,
		"send_failure": s.SendFailures.Load(),
	} {
		ch <- prometheus.MustNewConstMetric(descAppPackets, prometheus.CounterValue, float64(v), event)
	}
	for _, p := range c.a.PortStats() {
		for event, v := range map[string]uint64{
			"received": p.Received, "sent": p.Sent, "truncated": p.Truncated, "send_error": p.SendErrors,
			"kernel_drop": p.KernelDrops, "ring_full": p.RingFull,
			"not_ip": p.NotIP, "pass": p.Pass, "no_route": p.NoRoute,
			"offload": p.Offload, "offload_cut": p.OffloadCut, "offload_bad": p.OffloadBad,
		} {
			ch <- prometheus.MustNewConstMetric(descPortFrames, prometheus.CounterValue, float64(v), p.Interface, event)
		}
	}
}
