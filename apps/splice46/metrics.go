package splice46

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sixgate/sixgate/proxy46"
)

// Collector exports the engine's counters and the app's own at scrape
// time, so the packet path only touches atomics.
type Collector struct{ a *App }

// Collector returns the app's Prometheus collector.
func (a *App) Collector() *Collector { return &Collector{a: a} }

var (
	descAppPackets = prometheus.NewDesc("sixgate_splice46_packets_total",
		"Packets through the splice46 app, by event.", []string{"event"}, nil)
	descEnginePackets = prometheus.NewDesc("sixgate_proxy46_packets_total",
		"Packets into and out of the engine, by direction and family.", []string{"direction", "family"}, nil)
	descConnEvents = prometheus.NewDesc("sixgate_proxy46_connection_events_total",
		"Connection events of the engine.", []string{"event"}, nil)
	descConnections = prometheus.NewDesc("sixgate_proxy46_connections",
		"Connections in the table, by state.", []string{"state"}, nil)
	descHeld = prometheus.NewDesc("sixgate_proxy46_held_bytes",
		"Client bytes held while a backend is chosen.", nil, nil)
	descDrops = prometheus.NewDesc("sixgate_proxy46_drops_total",
		"Packets the engine dropped, by reason.", []string{"reason"}, nil)
	descBackend = prometheus.NewDesc("sixgate_proxy46_backend_connections_total",
		"Connections per backend, by outcome.", []string{"vip", "backend", "outcome"}, nil)
)

func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descAppPackets, descEnginePackets, descConnEvents, descConnections, descHeld, descDrops, descBackend} {
		ch <- d
	}
}

func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	s := &c.a.stats
	counter(descAppPackets, s.packetIns.Load(), "packet_in")
	counter(descAppPackets, s.packetOuts.Load(), "packet_out")
	counter(descAppPackets, s.noRoute.Load(), "no_route")
	counter(descAppPackets, s.notIP.Load(), "not_ip")
	counter(descAppPackets, s.echoReplies.Load(), "echo_reply")
	counter(descAppPackets, s.closedPort.Load(), "closed_port")
	counter(descAppPackets, s.sendFailures.Load(), "send_failure")

	st := c.a.Engine().Stats()
	counter(descEnginePackets, st.Packets4In, "in", "ipv4")
	counter(descEnginePackets, st.Packets6In, "in", "ipv6")
	counter(descEnginePackets, st.Packets4Out, "out", "ipv4")
	counter(descEnginePackets, st.Packets6Out, "out", "ipv6")
	for name, v := range map[string]uint64{
		"opened": st.ConnectionsOpened, "closed": st.ConnectionsClosed, "spliced": st.Spliced,
		"backend_refused": st.BackendRefused, "backend_timeout": st.BackendTimeouts, "failover": st.Failovers,
		"client_reset": st.ClientResets, "no_backend": st.NoBackend, "default_chosen": st.DefaultChosen,
		"embryonic_expired": st.EmbryonicExpired, "idle_expired": st.IdleExpired, "linger_expired": st.LingerExpired,
		"icmp_translated": st.ICMPTranslated,
	} {
		counter(descConnEvents, v, name)
	}
	for i, n := range st.ByState {
		ch <- prometheus.MustNewConstMetric(descConnections, prometheus.GaugeValue, float64(n), proxy46.StateName(i))
	}
	ch <- prometheus.MustNewConstMetric(descHeld, prometheus.GaugeValue, float64(st.HeldBytes))
	for i, n := range st.Drops {
		counter(descDrops, n, proxy46.DropReasonName(i))
	}
	for _, b := range st.Backends {
		counter(descBackend, b.Chosen, b.VIP.String(), b.Backend.String(), "chosen")
		counter(descBackend, b.Failed, b.VIP.String(), b.Backend.String(), "failed")
	}
}
