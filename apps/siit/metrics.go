package siit

import (
	"github.com/prometheus/client_golang/prometheus"

	xlat "github.com/sixgate/sixgate/siit"
)

// Collectors returns the app's Prometheus collectors: the data path's
// counters and the translators' (read from whichever are current).
func (a *App) Collectors() []prometheus.Collector { return []prometheus.Collector{&collector{a: a}} }

// Stats returns the current translators' counters by role ("siit" for
// the section's translator, "clat" for the CLAT hosts').
func (a *App) Stats() map[string]xlat.Stats {
	d := a.cur.Load().engine
	out := map[string]xlat.Stats{}
	if d.main != nil {
		out["siit"] = d.main.Stats()
	}
	if d.clat != nil {
		out["clat"] = d.clat.Stats()
	}
	return out
}

// collector exports the counters at scrape time, so the packet path only
// touches atomics.
type collector struct{ a *App }

var (
	descPackets = prometheus.NewDesc("sixgate_siit_packets_total",
		"Packets through the siit app's data path, by event.", []string{"event"}, nil)
	descPortFrames = prometheus.NewDesc("sixgate_siit_port_frames_total",
		"Frames on the engine interfaces in port mode, by interface and event.", []string{"interface", "event"}, nil)
	descTranslated = prometheus.NewDesc("sixgate_siit_translated_total",
		"Packets translated, by translator (siit, clat) and direction (4to6, 6to4, hairpin).", []string{"translator", "direction"}, nil)
	descDrops = prometheus.NewDesc("sixgate_siit_drops_total",
		"Packets dropped by the translators, by translator, family of the packet and reason.", []string{"translator", "family", "reason"}, nil)
	descICMP = prometheus.NewDesc("sixgate_siit_icmp_errors_total",
		"ICMP errors the translators originated, by translator and the family they were sent to; rate_limited those not sent.",
		[]string{"translator", "family"}, nil)
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPackets, descPortFrames, descTranslated, descDrops, descICMP} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
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
	for role, st := range c.a.Stats() {
		counter(descTranslated, st.Translated4to6, role, "4to6")
		counter(descTranslated, st.Translated6to4, role, "6to4")
		counter(descTranslated, st.Hairpinned, role, "hairpin")
		for reason, v := range st.Drops4 {
			counter(descDrops, v, role, "ipv4", reason)
		}
		for reason, v := range st.Drops6 {
			counter(descDrops, v, role, "ipv6", reason)
		}
		counter(descICMP, st.ICMPErrors4, role, "ipv4")
		counter(descICMP, st.ICMPErrors6, role, "ipv6")
		counter(descICMP, st.ICMPRateLimited, role, "rate_limited")
	}
}
