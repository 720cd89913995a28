package dns64

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	queries          *prometheus.CounterVec
	responses        *prometheus.CounterVec
	synthesized      prometheus.Counter
	upstreamFailures *prometheus.CounterVec
	rateLimited      prometheus.Counter
	cacheHits        prometheus.Counter
}

func newMetrics() *metrics {
	return &metrics{
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
	}
}

// Collectors returns the resolver's metrics, for a registry.
func (r *Resolver) Collectors() []prometheus.Collector {
	m := r.metrics
	for _, t := range []string{"udp", "tcp"} {
		m.queries.WithLabelValues(t)
	}
	return []prometheus.Collector{m.queries, m.responses, m.synthesized, m.upstreamFailures, m.rateLimited, m.cacheHits}
}
