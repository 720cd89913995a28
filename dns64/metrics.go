package dns64

import (
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	queries                *prometheus.CounterVec
	queriesUDP, queriesTCP prometheus.Counter
	responses              *prometheus.CounterVec
	// byRcode are the responses counters of the RCODEs of RFC 1035 and
	// RFC 2136 (0 to 10), looked up once.
	byRcode          [11]prometheus.Counter
	synthesized      prometheus.Counter
	upstreamFailures *prometheus.CounterVec
	rateLimited      prometheus.Counter
	cacheHits        prometheus.Counter
	malformed        prometheus.Counter
	dropped          prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sixgate_dns64_queries_total", Help: "DNS queries received by the DNS64 resolver, by transport (udp, tcp).",
		}, []string{"transport"}),
		responses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sixgate_dns64_responses_total", Help: "DNS64 responses sent, by RCODE.",
		}, []string{"rcode"}),
		synthesized: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sixgate_dns64_synthesized_total", Help: "AAAA answers synthesized from A records (RFC 6147).",
		}),
		upstreamFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sixgate_dns64_upstream_failures_total", Help: "Upstream queries that failed over to the next upstream, by upstream and reason (timeout, error, servfail, refused).",
		}, []string{"upstream", "reason"}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sixgate_dns64_rate_limited_total", Help: "DNS64 queries dropped (UDP) or refused (TCP) by the per-client rate limit.",
		}),
		cacheHits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sixgate_dns64_cache_hits_total", Help: "DNS64 queries answered from the cache.",
		}),
		malformed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sixgate_dns64_malformed_total", Help: "UDP datagrams that are not DNS messages (answered FORMERR when their header is a query's).",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sixgate_dns64_dropped_total", Help: "UDP queries dropped because too many were waiting on the upstreams already.",
		}),
	}
	m.queriesUDP, m.queriesTCP = m.queries.WithLabelValues("udp"), m.queries.WithLabelValues("tcp")
	for i := range m.byRcode {
		m.byRcode[i] = m.responses.WithLabelValues(dns.RcodeToString[i])
	}
	return m
}

// response counts a response sent.
func (m *metrics) response(rcode int) {
	if rcode >= 0 && rcode < len(m.byRcode) {
		m.byRcode[rcode].Inc()
		return
	}
	m.responses.WithLabelValues(dns.RcodeToString[rcode]).Inc()
}

// Collectors returns the resolver's metrics, for a registry.
func (r *Resolver) Collectors() []prometheus.Collector {
	m := r.metrics
	return []prometheus.Collector{m.queries, m.responses, m.synthesized, m.upstreamFailures, m.rateLimited, m.cacheHits, m.malformed, m.dropped}
}
