package controller

import (
	"github.com/prometheus/client_golang/prometheus"
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
	messagesIn         *prometheus.CounterVec
	acceptErrors       prometheus.Counter
	refused            *prometheus.CounterVec
	multipartAborted   *prometheus.CounterVec
	refusedMessages    *prometheus.CounterVec
	flowConflicts      prometheus.Counter
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
		m.switchErrors, m.syncErrors, m.packetIns, m.packetInsDropped, m.packetInsThrottled, m.flowMods, m.messagesIn, switches,
		m.acceptErrors, m.refused, handshakes, m.multipartAborted, multipartBytes, m.refusedMessages, m.flowConflicts} {
		if err := reg.Register(col); err != nil {
			return nil, err
		}
	}
	return m, nil
}
