package splice46

import (
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sixgate/sixgate/packet"
	"github.com/sixgate/sixgate/proxy46"
	"github.com/sixgate/sixgate/proxy46/dnsbackend"
	"github.com/sixgate/sixgate/topo"
)

// dnsResolvers holds the resolvers of the services with backends from DNS
// (backends_from_dns), one per service, keyed by the service and its
// settings: a reload that keeps them keeps their caches and the lookups
// under way.
type dnsResolvers struct {
	// notify is called with a name whose lookup ended.
	notify func(name string)

	mu  sync.Mutex
	cur map[string]*dnsResolver
}

type dnsResolver struct {
	service string // VIP:port, the metrics' label
	r       *dnsbackend.Resolver
}

func newDNSResolvers(notify func(string)) *dnsResolvers {
	return &dnsResolvers{notify: notify, cur: map[string]*dnsResolver{}}
}

// build returns the resolvers s needs, reusing the current ones whose
// settings did not change. Nothing is closed: commit does that once the
// engine that uses them is in place, abandon if it is not.
func (d *dnsResolvers) build(s *topo.Splice46) (map[string]*dnsResolver, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	next := map[string]*dnsResolver{}
	for _, svc := range s.Services {
		if svc.DNS == nil {
			continue
		}
		service := netip.AddrPortFrom(svc.VIP, svc.Port).String()
		key := service + " " + svc.DNS.String()
		if r := d.cur[key]; r != nil {
			next[key] = r
			continue
		}
		c := svc.DNS
		r, err := dnsbackend.New(dnsbackend.Config{
			Servers: c.Resolvers, Prefixes: c.Prefixes, Timeout: c.Timeout,
			MinTTL: c.MinTTL, MaxTTL: c.MaxTTL, NegativeMaxTTL: c.NegativeMaxTTL, FailureTTL: c.FailureTTL,
			MaxEntries: c.CacheSize, MaxPending: c.MaxPending, Rate: float64(c.Rate), Burst: c.Burst,
			MaxClients: c.MaxClients, Notify: d.notify,
		})
		if err != nil {
			d.closeNew(next)
			return nil, fmt.Errorf("splice46: service %s: %w", service, err)
		}
		next[key] = &dnsResolver{service: service, r: r}
	}
	return next, nil
}

// closeNew closes the resolvers of next that are not current.
func (d *dnsResolvers) closeNew(next map[string]*dnsResolver) {
	for k, r := range next {
		if d.cur[k] != r {
			r.r.Close()
		}
	}
}

// abandon closes what build made for a configuration that was refused.
func (d *dnsResolvers) abandon(next map[string]*dnsResolver) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closeNew(next)
}

// commit makes next current and closes the resolvers it dropped.
func (d *dnsResolvers) commit(next map[string]*dnsResolver) {
	d.mu.Lock()
	old := d.cur
	d.cur = next
	d.mu.Unlock()
	for k, r := range old {
		if next[k] != r {
			r.r.Close()
		}
	}
}

// resolver returns the resolver built for svc.
func resolverFor(rs map[string]*dnsResolver, svc *topo.Service) proxy46.Resolver {
	key := netip.AddrPortFrom(svc.VIP, svc.Port).String() + " " + svc.DNS.String()
	if r := rs[key]; r != nil {
		return r.r
	}
	return nil
}

// closeAll stops every resolver (the app is stopping).
func (d *dnsResolvers) closeAll() { d.commit(map[string]*dnsResolver{}) }

// snapshot lists the current resolvers' counters by service.
func (d *dnsResolvers) snapshot() map[string]dnsbackend.Stats {
	d.mu.Lock()
	rs := make([]*dnsResolver, 0, len(d.cur))
	for _, r := range d.cur {
		rs = append(rs, r)
	}
	d.mu.Unlock()
	out := make(map[string]dnsbackend.Stats, len(rs))
	for _, r := range rs {
		out[r.service] = r.r.Stats()
	}
	return out
}

// resolvedNotifier resumes the connections waiting on a name in the
// current engine and sends what they produce. It does nothing until the
// app is built.
type resolvedNotifier struct{ app atomic.Pointer[App] }

func (n *resolvedNotifier) notify(name string) {
	a := n.app.Load()
	if a == nil {
		return
	}
	b := packet.NewBatch(0, 0)
	a.Engine().Resolved(name, b)
	a.Send(b)
}

// dnsCollector exports the resolvers' counters, by service.
type dnsCollector struct {
	set *dnsResolvers

	lookups, hits, queries, results, refused, evictions, entries, pending *prometheus.Desc
}

func newDNSCollector(set *dnsResolvers) *dnsCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("sixgate_splice46_dns_"+name, help, append([]string{"service"}, labels...), nil)
	}
	return &dnsCollector{
		set:       set,
		lookups:   d("lookups_total", "Backend lookups by name for services with backends from DNS."),
		hits:      d("cache_hits_total", "Lookups answered from the cache, by kind (positive, negative, failure, pending).", "kind"),
		queries:   d("queries_total", "Queries sent to the resolvers."),
		results:   d("query_results_total", "Queries that found no backend, by result (not_found, outside_prefix, failure, timeout).", "result"),
		refused:   d("lookups_refused_total", "Lookups refused before a query, by reason (rate_limited, overloaded).", "reason"),
		evictions: d("cache_evictions_total", "Names evicted from a full cache."),
		entries:   d("cache_entries", "Names in the cache."),
		pending:   d("pending_queries", "Queries under way."),
	}
}

func (c *dnsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.lookups, c.hits, c.queries, c.results, c.refused, c.evictions, c.entries, c.pending} {
		ch <- d
	}
}

func (c *dnsCollector) Collect(ch chan<- prometheus.Metric) {
	for svc, s := range c.set.snapshot() {
		counter := func(d *prometheus.Desc, v uint64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), append([]string{svc}, labels...)...)
		}
		gauge := func(d *prometheus.Desc, v int) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), svc)
		}
		counter(c.lookups, s.Lookups)
		counter(c.hits, s.CacheHits, "positive")
		counter(c.hits, s.NegativeHits, "negative")
		counter(c.hits, s.FailureHits, "failure")
		counter(c.hits, s.PendingHits, "pending")
		counter(c.queries, s.Queries)
		counter(c.results, s.NotFound, "not_found")
		counter(c.results, s.OutsidePrefix, "outside_prefix")
		counter(c.results, s.Failures, "failure")
		counter(c.results, s.Timeouts, "timeout")
		counter(c.refused, s.RateLimited, "rate_limited")
		counter(c.refused, s.Overloaded, "overloaded")
		counter(c.evictions, s.Evictions)
		gauge(c.entries, s.Entries)
		gauge(c.pending, s.Pending)
	}
}
