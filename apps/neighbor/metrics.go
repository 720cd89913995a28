package neighbor

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sixgate/sixgate/controller"
)

// scrapeTimeout bounds the flow statistics requests of one scrape: a
// switch that does not answer in time is left out of that scrape.
const scrapeTimeout = 2 * time.Second

// Collectors returns the app's Prometheus collector: its packet counters,
// read from atomics, and the switches' drop counters, read from their flow
// statistics at scrape time.
func (a *App) Collectors() []prometheus.Collector {
	return []prometheus.Collector{&collector{
		a: a,
		packets: prometheus.NewDesc("sixgate_neighbor_packets_total",
			"ARP and NDP packets through the neighbor app, by event.", []string{"event"}, nil),
		ignored: prometheus.NewDesc("sixgate_neighbor_ignored_total",
			"ARP and NDP packets the neighbor app did not answer, by reason.", []string{"reason"}, nil),
		reroutes: prometheus.NewDesc("sixgate_neighbor_reroutes_total",
			"Port changes that altered forwarding paths.", nil, nil),
		drops: prometheus.NewDesc("sixgate_neighbor_switch_dropped_packets_total",
			"Packets a switch dropped by the neighbor app's drop flows since they were installed, by reason.",
			[]string{"dpid", "reason"}, nil),
	}}
}

type collector struct {
	a                                 *App
	packets, ignored, reroutes, drops *prometheus.Desc
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.packets
	ch <- c.ignored
	ch <- c.reroutes
	ch <- c.drops
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.a.Stats()
	for event, v := range map[string]uint64{
		"packet_in": s.PacketIns, "arp_reply": s.ARPReplies, "neighbor_advertisement": s.NASent,
		"router_advertisement": s.RASent, "announcement": s.Announced, "send_failure": s.SendFailures,
	} {
		ch <- prometheus.MustNewConstMetric(c.packets, prometheus.CounterValue, float64(v), event)
	}
	for v := malformed; v <= notND; v++ {
		ch <- prometheus.MustNewConstMetric(c.ignored, prometheus.CounterValue, float64(s.Ignored[v.String()]), v.String())
	}
	ch <- prometheus.MustNewConstMetric(c.reroutes, prometheus.CounterValue, float64(s.Reroutes))

	c.a.mu.Lock()
	ctl := c.a.ctl
	c.a.mu.Unlock()
	if ctl == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, sw := range ctl.Switches() {
		wg.Add(1)
		go func(sw *controller.Switch) {
			defer wg.Done()
			d, err := c.a.Drops(ctx, sw)
			if err != nil {
				return
			}
			for reason, n := range map[string]uint64{"unknown_unicast": d.UnknownUnicast, "multicast": d.Multicast, "handoff": d.Handoff} {
				ch <- prometheus.MustNewConstMetric(c.drops, prometheus.CounterValue, float64(n), sw.String(), reason)
			}
		}(sw)
	}
	wg.Wait()
}
