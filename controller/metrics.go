package controller

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sixgate/sixgate/controller/ofp"
)

type metrics struct {
	connections        prometheus.Counter
	handshakeFailures  prometheus.Counter
	decodeErrors       prometheus.Counter
	switchErrors       prometheus.Counter
	syncErrors         prometheus.Counter
	packetIns          prometheus.Counter
	packetInsDropped   prometheus.Counter
	packetInsThrottled prometheus.Counter
	flowMods           prometheus.Counter
	statsPollFailures  prometheus.Counter
	messagesIn         *prometheus.CounterVec
	acceptErrors       prometheus.Counter
	refused            *prometheus.CounterVec
	multipartAborted   *prometheus.CounterVec
	refusedMessages    *prometheus.CounterVec
	flowConflicts      prometheus.Counter
	writesGated        *prometheus.CounterVec
	roleReplies        *prometheus.CounterVec
	roleErrors         *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, c *Controller) (*metrics, error) {
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "sixgate", Subsystem: "of", Name: name, Help: help})
	}
	m := &metrics{
		connections:        counter("connections_total", "Switch connections accepted."),
		handshakeFailures:  counter("handshake_failures_total", "Switch connections that failed the handshake."),
		decodeErrors:       counter("decode_errors_total", "Malformed messages that ended a switch session."),
		switchErrors:       counter("switch_errors_total", "ERROR messages no request was waiting for."),
		syncErrors:         counter("sync_errors_total", "Flow syncs that failed."),
		packetIns:          counter("packet_ins_total", "Packet-ins received."),
		packetInsDropped:   counter("packet_ins_dropped_total", "Packet-ins dropped because a switch's event queue was full."),
		packetInsThrottled: counter("packet_ins_throttled_total", "Packet-ins dropped on arrival for exceeding the per-switch rate."),
		flowMods:           counter("flow_mods_total", "Flow-mods sent by flow syncs."),
		statsPollFailures:  counter("stats_poll_failures_total", "PORT_STATS polls that failed."),
		messagesIn: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "sixgate", Subsystem: "of",
			Name: "messages_in_total", Help: "Messages received, by type."}, []string{"type"}),
		acceptErrors: counter("accept_errors_total", "Temporary accept errors (out of descriptors or memory, aborted connections), retried."),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "sixgate", Subsystem: "of",
			Name: "connections_refused_total", Help: "Connections closed without being served, by reason."}, []string{"reason"}),
		multipartAborted: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "sixgate", Subsystem: "of",
			Name: "multipart_aborted_total", Help: "Multipart replies aborted for exceeding a bound: the per-request one or the total."}, []string{"limit"}),
	}
	m.refusedMessages = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "sixgate", Subsystem: "of",
		Name: "messages_refused_total", Help: "Messages of unknown types (or experimenters) answered with an ERROR, by type."}, []string{"type"})
	m.flowConflicts = counter("flow_conflicts_total", "Flows declared by two apps on a switch, counted once each: the second app's is not installed.")
	m.writesGated = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "sixgate", Subsystem: "of",
		Name: "writes_not_master_total", Help: "Writes (flow, group, meter mods, packet-outs) not sent because this controller is not the switch's master, by type."}, []string{"type"})
	m.roleReplies = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "sixgate", Subsystem: "of",
		Name: "role_replies_total", Help: "ROLE_REPLY messages received, by the role they confirm."}, []string{"role"})
	m.roleErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "sixgate", Subsystem: "of",
		Name: "role_errors_total", Help: "Errors by which switches refused a role (OFPRRFC_*) or a write from a slave (OFPBRC_IS_SLAVE), by code."}, []string{"code"})
	for _, code := range []string{"OFPRRFC_STALE", "OFPRRFC_UNSUP", "OFPRRFC_BAD_ROLE", "OFPBRC_IS_SLAVE"} {
		m.roleErrors.WithLabelValues(code)
	}
	for _, r := range []string{"handshakes", "handshakes_per_source", "dpid_in_use", "tls_subject"} {
		m.refused.WithLabelValues(r)
	}
	for _, l := range []string{"request", "total"} {
		m.multipartAborted.WithLabelValues(l)
	}
	switches := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "sixgate", Subsystem: "of",
		Name: "switches", Help: "Switches connected."}, func() float64 { return float64(len(c.Switches())) })
	handshakes := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "sixgate", Subsystem: "of",
		Name: "handshakes", Help: "Connections in handshake."}, func() float64 { return float64(c.inHandshake()) })
	multipartBytes := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "sixgate", Subsystem: "of",
		Name: "multipart_bytes", Help: "Bytes held by the multipart replies in progress."}, func() float64 { return float64(c.multipartBytes.Load()) })
	for _, col := range []prometheus.Collector{m.connections, m.handshakeFailures, m.decodeErrors,
		m.switchErrors, m.syncErrors, m.packetIns, m.packetInsDropped, m.packetInsThrottled, m.flowMods, m.statsPollFailures, m.messagesIn, switches,
		m.acceptErrors, m.refused, handshakes, m.multipartAborted, multipartBytes, m.refusedMessages, m.flowConflicts, m.writesGated, m.roleReplies, m.roleErrors, &switchCollector{c}} {
		if err := reg.Register(col); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// switchCollector reports per-switch and per-port series at scrape time
// from the sessions' own counters, so that no label lookup happens per
// packet. A switch that disconnects takes its series with it, except that
// the switches the topology declares stay as sixgate_switch_connected 0.
type switchCollector struct{ c *Controller }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("sixgate_"+name, help, labels, nil)
}

var (
	descConnected      = desc("switch_connected", "1 while the switch is connected; 0 for a declared switch that is not.", "dpid")
	descConnectedSince = desc("switch_connected_since_seconds", "When the switch's connection was accepted, in seconds since the epoch.", "dpid")
	descPacketIns      = desc("switch_packet_ins_total", "Packet-ins received from the switch in this session.", "dpid")
	descPacketInDrops  = desc("switch_packet_in_drops_total", "Packet-ins from the switch dropped by the controller: queue-full (event queue full) or rate (above packet_in_rate).", "dpid", "reason")
	descErrors         = desc("switch_errors_total", "ERROR messages received from the switch in this session.", "dpid")
	descFlows          = desc("switch_flows", "Flows the apps hold on the switch, as of the last successful sync.", "dpid")
	descPortUp         = desc("port_up", "1 when the port is administratively up with a link, else 0.", "dpid", "port")
	descPortInfo       = desc("port_info", "The port's name and MAC address (always 1).", "dpid", "port", "name", "hw_addr")
	descPortStatsAge   = desc("port_stats_age_seconds", "Seconds since the switch's PORT_STATS were last read.", "dpid")
	portCounters       = []struct {
		d   *prometheus.Desc
		get func(*ofp.PortStats) uint64
	}{
		{desc("port_rx_packets_total", "Packets received on the port (PORT_STATS).", "dpid", "port"), func(p *ofp.PortStats) uint64 { return p.RxPackets }},
		{desc("port_tx_packets_total", "Packets sent on the port (PORT_STATS).", "dpid", "port"), func(p *ofp.PortStats) uint64 { return p.TxPackets }},
		{desc("port_rx_bytes_total", "Bytes received on the port (PORT_STATS).", "dpid", "port"), func(p *ofp.PortStats) uint64 { return p.RxBytes }},
		{desc("port_tx_bytes_total", "Bytes sent on the port (PORT_STATS).", "dpid", "port"), func(p *ofp.PortStats) uint64 { return p.TxBytes }},
		{desc("port_rx_dropped_total", "Packets dropped on receive (PORT_STATS).", "dpid", "port"), func(p *ofp.PortStats) uint64 { return p.RxDropped }},
		{desc("port_tx_dropped_total", "Packets dropped on send (PORT_STATS).", "dpid", "port"), func(p *ofp.PortStats) uint64 { return p.TxDropped }},
		{desc("port_rx_errors_total", "Receive errors (PORT_STATS).", "dpid", "port"), func(p *ofp.PortStats) uint64 { return p.RxErrors }},
		{desc("port_tx_errors_total", "Send errors (PORT_STATS).", "dpid", "port"), func(p *ofp.PortStats) uint64 { return p.TxErrors }},
	}
)

func (sc *switchCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descConnected, descConnectedSince, descPacketIns, descPacketInDrops,
		descErrors, descFlows, descPortUp, descPortInfo, descPortStatsAge} {
		ch <- d
	}
	for _, pc := range portCounters {
		ch <- pc.d
	}
}

func (sc *switchCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for _, d := range sc.c.Missing() {
		gauge(descConnected, 0, FormatDPID(d))
	}
	now := time.Now()
	for _, s := range sc.c.Switches() {
		dpid := FormatDPID(s.DPID())
		gauge(descConnected, 1, dpid)
		gauge(descConnectedSince, float64(s.ConnectedSince().UnixMilli())/1e3, dpid)
		n := s.Counters()
		counter(descPacketIns, n.PacketIns, dpid)
		counter(descPacketInDrops, n.QueueDrops, dpid, "queue-full")
		counter(descPacketInDrops, n.RateDrops, dpid, "rate")
		counter(descErrors, n.Errors, dpid)
		if n.Flows >= 0 {
			gauge(descFlows, float64(n.Flows), dpid)
		}
		stats, at := s.PortStats()
		if !at.IsZero() {
			gauge(descPortStatsAge, now.Sub(at).Seconds(), dpid)
		}
		for _, p := range s.Ports() {
			port := ofp.PortName(p.PortNo)
			up := 0.0
			if p.Up() {
				up = 1
			}
			gauge(descPortUp, up, dpid, port)
			gauge(descPortInfo, 1, dpid, port, p.Name, p.HWAddr.String())
			if st, ok := stats[p.PortNo]; ok {
				for _, pc := range portCounters {
					counter(pc.d, pc.get(&st), dpid, port)
				}
			}
		}
	}
}
