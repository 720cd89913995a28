package dns64

import (
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestCacheCountsDown(t *testing.T) {
	c := newCache()
	c.reset(2)
	now := time.Unix(1000, 0)
	q := dns.Question{Name: "V4.example.", Qtype: dns.TypeAAAA, Qclass: dns.ClassINET}
	m := new(dns.Msg)
	m.Answer = []dns.RR{mustRR(t, "v4.example. 300 IN AAAA 64:ff9b::c629:4"), mustRR(t, "v4.example. 100 IN AAAA 64:ff9b::c629:5")}
	cfg := &Config{}
	c.put(keyOf(q, true, false, false), m, cfg, now)
	q.Name = "v4.EXAMPLE."
	got := c.get(keyOf(q, true, false, false), cfg, now.Add(40*time.Second))
	if got == nil || got.Answer[0].Header().Ttl != 260 || got.Answer[1].Header().Ttl != 60 {
		t.Fatalf("after 40 s: %v", got)
	}
	if m.Answer[0].Header().Ttl != 300 {
		t.Error("the stored answer was changed")
	}
	if c.get(keyOf(q, true, false, true), cfg, now) != nil {
		t.Error("hit with another DO bit")
	}
	if c.get(keyOf(q, true, false, false), cfg, now.Add(100*time.Second)) != nil {
		t.Error("hit after the smallest TTL")
	}
	if c.get(keyOf(q, true, false, false), &Config{}, now) != nil {
		t.Error("hit under another configuration")
	}
	// Negative answers for the SOA's negative TTL; failures never.
	neg := new(dns.Msg)
	neg.Rcode = dns.RcodeNameError
	neg.Ns = []dns.RR{mustRR(t, testSOA)}
	if ttl, ok := cacheTTL(neg); !ok || ttl != 300 {
		t.Errorf("NXDOMAIN kept for %d %v", ttl, ok)
	}
	neg.Ns = nil
	if _, ok := cacheTTL(neg); ok {
		t.Error("NXDOMAIN without SOA kept")
	}
	if _, ok := cacheTTL(servfail()); ok {
		t.Error("SERVFAIL kept")
	}
	for i := range 10 {
		c.put(cacheKey{name: string(rune('a' + i))}, m, cfg, now)
	}
	if len(c.entries) > 2 {
		t.Errorf("%d entries, bound 2", len(c.entries))
	}
}

func TestCachedAnswers(t *testing.T) {
	up := newFakeUpstream(t, testSOA, "v4.example. 3000 IN A 198.41.0.4")
	r := newTestResolver(t, Config{Upstreams: []netip.AddrPort{up.addr}})
	srv := serve(t, r)
	for range 3 {
		wantAnswer(t, askAt(t, srv, "udp", "v4.example", dns.TypeAAAA, nil), dns.RcodeSuccess, "v4.example. 300 IN AAAA 64:ff9b::c629:4")
	}
	if n := up.queries.Load(); n != 2 {
		t.Errorf("%d upstream queries for three identical ones, want 2 (AAAA, A)", n)
	}
	if v := testutil.ToFloat64(r.metrics.cacheHits); v != 2 {
		t.Errorf("cache hits %v, want 2", v)
	}
	// A new prefix forgets what was synthesized in the old one.
	if err := r.SetConfig(Config{Upstreams: []netip.AddrPort{up.addr}, Prefix: netip.MustParsePrefix("2001:db8:64::/96")}); err != nil {
		t.Fatal(err)
	}
	wantAnswer(t, askAt(t, srv, "udp", "v4.example", dns.TypeAAAA, nil), dns.RcodeSuccess, "v4.example. 300 IN AAAA 2001:db8:64::c629:4")
}
