package dnsbackend

import (
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/sixgate/sixgate/proxy46"
)

// server is an authoritative-looking DNS server on loopback that answers
// from records, counting the queries it gets.
type server struct {
	addr    netip.AddrPort
	queries atomic.Int64
	silent  atomic.Bool // drop queries instead of answering
	mu      sync.Mutex
	records map[string][]dns.RR // by lower-case FQDN
}

func newServer(t *testing.T, zone ...string) *server {
	t.Helper()
	s := &server{records: map[string][]dns.RR{}}
	for _, z := range zone {
		rr, err := dns.NewRR(z)
		if err != nil {
			t.Fatal(err)
		}
		s.records[rr.Header().Name] = append(s.records[rr.Header().Name], rr)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = pc.LocalAddr().(*net.UDPAddr).AddrPort()
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, Handler: s, NotifyStartedFunc: func() { close(started) }}
	go func() { _ = srv.ActivateAndServe() }()
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("DNS server did not start")
	}
	t.Cleanup(func() { _ = srv.Shutdown() })
	return s
}

var soa = "example. 300 IN SOA ns.example. host.example. 1 3600 600 86400 30"

func (s *server) ServeDNS(w dns.ResponseWriter, q *dns.Msg) {
	s.queries.Add(1)
	if s.silent.Load() {
		return
	}
	m := new(dns.Msg)
	m.SetReply(q)
	name := q.Question[0].Name
	s.mu.Lock()
	rrs, ok := s.records[name]
	s.mu.Unlock()
	switch {
	case name == "fail.example.":
		m.Rcode = dns.RcodeServerFailure
	case !ok:
		m.Rcode = dns.RcodeNameError
		rr, _ := dns.NewRR(soa)
		m.Ns = append(m.Ns, rr)
	default:
		for _, rr := range rrs {
			if rr.Header().Rrtype == q.Question[0].Qtype || rr.Header().Rrtype == dns.TypeCNAME {
				m.Answer = append(m.Answer, rr)
			}
		}
		for _, rr := range m.Answer {
			if c, ok := rr.(*dns.CNAME); ok && !strings.HasPrefix(name, "short") {
				m.Answer = append(m.Answer, s.records[c.Target]...)
			}
		}
		if len(m.Answer) == 0 {
			rr, _ := dns.NewRR(soa)
			m.Ns = append(m.Ns, rr)
		}
	}
	_ = w.WriteMsg(m)
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var (
	prefix = netip.MustParsePrefix("2001:db8:5::/48")
	client = netip.MustParseAddr("198.51.100.7")
)

// testResolver asks s; notified receives each name Notify is called with.
func testResolver(t *testing.T, s *server, mod func(*Config)) (*Resolver, *clock, chan string) {
	t.Helper()
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	notified := make(chan string, 100)
	cfg := Config{
		Servers: []netip.AddrPort{s.addr}, Prefixes: []netip.Prefix{prefix}, Timeout: 2 * time.Second,
		Notify: func(n string) { notified <- n }, Clock: clk.Now,
	}
	if mod != nil {
		mod(&cfg)
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r, clk, notified
}

// resolve looks name up, waiting for the notification if it is pending.
func resolve(t *testing.T, r *Resolver, n chan string, name string) ([]netip.Addr, proxy46.LookupState) {
	t.Helper()
	addrs, st := r.Lookup(client, name)
	if st != proxy46.LookupPending {
		return addrs, st
	}
	select {
	case got := <-n:
		if got != name {
			t.Fatalf("notified %q, want %q", got, name)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no notification", name)
	}
	addrs, st = r.Lookup(client, name)
	if st == proxy46.LookupPending {
		t.Fatalf("%s: still pending after the notification", name)
	}
	return addrs, st
}

func TestTTLCaching(t *testing.T) {
	s := newServer(t, "a.example. 60 IN AAAA 2001:db8:5::a", "a.example. 60 IN AAAA 2001:db8:5::b",
		"short.example. 1 IN AAAA 2001:db8:5::1", "long.example. 86400 IN AAAA 2001:db8:5::2")
	r, clk, n := testResolver(t, s, func(c *Config) { c.MinTTL, c.MaxTTL = 10*time.Second, 120*time.Second })
	addrs, st := resolve(t, r, n, "a.example")
	if st != proxy46.LookupFound || len(addrs) != 2 {
		t.Fatalf("%v %v", addrs, st)
	}
	clk.Advance(59 * time.Second)
	if _, st := r.Lookup(client, "a.example"); st != proxy46.LookupFound || s.queries.Load() != 1 {
		t.Fatalf("not cached: %v, %d queries", st, s.queries.Load())
	}
	clk.Advance(2 * time.Second)
	if _, st := resolve(t, r, n, "a.example"); st != proxy46.LookupFound || s.queries.Load() != 2 {
		t.Fatalf("not asked again after the TTL: %v, %d queries", st, s.queries.Load())
	}
	// The floor: a 1 s TTL is kept 10 s.
	resolve(t, r, n, "short.example")
	clk.Advance(9 * time.Second)
	if _, st := r.Lookup(client, "short.example"); st != proxy46.LookupFound {
		t.Fatalf("floor: %v", st)
	}
	// The ceiling: a day is kept 120 s.
	resolve(t, r, n, "long.example")
	clk.Advance(121 * time.Second)
	if _, st := r.Lookup(client, "long.example"); st != proxy46.LookupPending {
		t.Fatalf("ceiling: %v", st)
	}
	notified(t, n)
	if st := r.Stats(); st.CacheHits != 6 || st.Queries != 5 {
		t.Fatalf("%+v", st)
	}
}

func TestNegativeCaching(t *testing.T) {
	s := newServer(t, "v4only.example. 60 IN A 192.0.2.1", "alias.example. 60 IN CNAME real.example.",
		"real.example. 60 IN AAAA 2001:db8:5::9", "shortcut.example. 60 IN CNAME real.example.")
	r, clk, n := testResolver(t, s, nil)
	if _, st := resolve(t, r, n, "nothere.example"); st != proxy46.LookupNotFound {
		t.Fatalf("NXDOMAIN: %v", st)
	}
	if _, st := resolve(t, r, n, "v4only.example"); st != proxy46.LookupNotFound {
		t.Fatalf("NODATA: %v", st)
	}
	// The SOA's MINIMUM (30 s) is below its TTL (300 s): 30 s it is.
	clk.Advance(29 * time.Second)
	for _, name := range []string{"nothere.example", "v4only.example"} {
		if _, st := r.Lookup(client, name); st != proxy46.LookupNotFound {
			t.Fatalf("%s: %v", name, st)
		}
	}
	if q := s.queries.Load(); q != 2 {
		t.Fatalf("%d queries", q)
	}
	clk.Advance(2 * time.Second)
	if _, st := r.Lookup(client, "nothere.example"); st != proxy46.LookupPending {
		t.Fatalf("negative answer kept past the SOA minimum: %v", st)
	}
	notified(t, n)
	if addrs, st := resolve(t, r, n, "alias.example"); st != proxy46.LookupFound || len(addrs) != 1 ||
		addrs[0] != netip.MustParseAddr("2001:db8:5::9") {
		t.Fatalf("CNAME: %v %v", addrs, st)
	}
	// A chain the answer does not follow to its end is followed with
	// another query.
	q := s.queries.Load()
	if addrs, st := resolve(t, r, n, "shortcut.example"); st != proxy46.LookupFound || len(addrs) != 1 ||
		addrs[0] != netip.MustParseAddr("2001:db8:5::9") || s.queries.Load() != q+2 {
		t.Fatalf("CNAME chased: %v %v, %d queries", addrs, st, s.queries.Load()-q)
	}
	if st := r.Stats(); st.NegativeHits != 4 || st.NotFound != 3 || st.CacheHits != 2 {
		t.Fatalf("%+v", st)
	}
	if _, st := r.Lookup(client, "not a name"); st != proxy46.LookupNotFound {
		t.Fatalf("bad name: %v", st)
	}
}

func TestPrefixFilter(t *testing.T) {
	s := newServer(t, "mixed.example. 60 IN AAAA 2001:db8:1::1", "mixed.example. 60 IN AAAA 2001:db8:5::1",
		"out.example. 60 IN AAAA 2001:db8:1::1", "mapped.example. 60 IN AAAA ::ffff:192.0.2.1")
	r, _, n := testResolver(t, s, nil)
	if addrs, st := resolve(t, r, n, "mixed.example"); st != proxy46.LookupFound || len(addrs) != 1 ||
		addrs[0] != netip.MustParseAddr("2001:db8:5::1") {
		t.Fatalf("mixed: %v %v", addrs, st)
	}
	for _, name := range []string{"out.example", "mapped.example"} {
		if _, st := resolve(t, r, n, name); st != proxy46.LookupOutsidePrefix {
			t.Fatalf("%s: %v", name, st)
		}
	}
	if st := r.Stats(); st.OutsidePrefix != 2 {
		t.Fatalf("%+v", st)
	}
	if _, err := New(Config{Servers: []netip.AddrPort{s.addr}}); err == nil {
		t.Fatal("no prefix accepted")
	}
}

func TestTimeoutsAndFailures(t *testing.T) {
	s := newServer(t, "a.example. 60 IN AAAA 2001:db8:5::a")
	r, clk, n := testResolver(t, s, func(c *Config) { c.Timeout = 300 * time.Millisecond })
	if _, st := resolve(t, r, n, "fail.example"); st != proxy46.LookupFailed {
		t.Fatalf("SERVFAIL: %v", st)
	}
	s.silent.Store(true)
	start := time.Now()
	if _, st := resolve(t, r, n, "a.example"); st != proxy46.LookupFailed {
		t.Fatalf("silent: %v", st)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("timeout took %v", d)
	}
	// A failure is remembered FailureTTL (5 s), then asked again.
	if _, st := r.Lookup(client, "a.example"); st != proxy46.LookupFailed {
		t.Fatalf("failure not remembered: %v", st)
	}
	s.silent.Store(false)
	clk.Advance(6 * time.Second)
	if _, st := resolve(t, r, n, "a.example"); st != proxy46.LookupFound {
		t.Fatalf("after the failure: %v", st)
	}
	if st := r.Stats(); st.Timeouts != 1 || st.Failures != 1 || st.FailureHits != 3 || st.Pending != 0 {
		t.Fatalf("%+v", st)
	}
	// A second server answers when the first is silent.
	dead := newServer(t)
	dead.silent.Store(true)
	r2, _, n2 := testResolver(t, s, func(c *Config) {
		c.Servers = []netip.AddrPort{dead.addr, s.addr}
		c.Timeout = 5 * time.Second
	})
	if _, st := resolve(t, r2, n2, "a.example"); st != proxy46.LookupFound {
		t.Fatalf("second server: %v", st)
	}
}

func TestRateLimit(t *testing.T) {
	s := newServer(t)
	r, clk, n := testResolver(t, s, func(c *Config) { c.Rate, c.Burst, c.MaxClients = 2, 3, 2 })
	names := []string{"n1.example", "n2.example", "n3.example", "n4.example"}
	for i, name := range names {
		_, st := r.Lookup(client, name)
		if want := proxy46.LookupPending; i == 3 {
			if st != proxy46.LookupRateLimited {
				t.Fatalf("4th lookup: %v", st)
			}
		} else if st != want {
			t.Fatalf("%s: %v", name, st)
		}
	}
	for range 3 {
		notified(t, n)
	}
	// Cached answers cost no token.
	if _, st := r.Lookup(client, "n1.example"); st != proxy46.LookupNotFound {
		t.Fatalf("cached: %v", st)
	}
	// Another client has its own bucket.
	other := netip.MustParseAddr("198.51.100.8")
	if _, st := r.Lookup(other, "n4.example"); st != proxy46.LookupPending {
		t.Fatalf("other client: %v", st)
	}
	notified(t, n)
	// Half a second gives one token back.
	clk.Advance(500 * time.Millisecond)
	if _, st := r.Lookup(client, "n5.example"); st != proxy46.LookupPending {
		t.Fatalf("refill: %v", st)
	}
	notified(t, n)
	// The table holds two clients: a third pushes one out.
	third := netip.MustParseAddr("198.51.100.9")
	r.Lookup(third, "n6.example")
	notified(t, n)
	r.mu.Lock()
	nc := len(r.clients)
	r.mu.Unlock()
	if nc != 2 {
		t.Fatalf("%d clients kept", nc)
	}
	if st := r.Stats(); st.RateLimited != 1 {
		t.Fatalf("%+v", st)
	}
}

func TestSizeBound(t *testing.T) {
	s := newServer(t, "a.example. 60 IN AAAA 2001:db8:5::a", "b.example. 60 IN AAAA 2001:db8:5::b",
		"c.example. 60 IN AAAA 2001:db8:5::c")
	r, _, n := testResolver(t, s, func(c *Config) { c.MaxEntries = 2 })
	resolve(t, r, n, "a.example")
	resolve(t, r, n, "b.example")
	r.Lookup(client, "a.example") // a is now the most recent
	resolve(t, r, n, "c.example") // evicts b
	if st := r.Stats(); st.Entries != 2 || st.Evictions != 1 {
		t.Fatalf("%+v", st)
	}
	if _, st := r.Lookup(client, "a.example"); st != proxy46.LookupFound {
		t.Fatalf("a evicted: %v", st)
	}
	if _, st := r.Lookup(client, "b.example"); st != proxy46.LookupPending {
		t.Fatalf("b kept: %v", st)
	}
	notified(t, n)
	// Pending entries are not evicted: with both slots pending, a third
	// name is refused rather than let the cache grow.
	s.silent.Store(true)
	r2, _, n2 := testResolver(t, s, func(c *Config) { c.MaxEntries, c.Timeout = 2, time.Second })
	r2.Lookup(client, "a.example")
	r2.Lookup(client, "b.example")
	if _, st := r2.Lookup(client, "c.example"); st != proxy46.LookupFailed {
		t.Fatalf("third pending: %v", st)
	}
	notified(t, n2)
	notified(t, n2)
	if st := r2.Stats(); st.Overloaded != 1 || st.Pending != 0 {
		t.Fatalf("%+v", st)
	}
}

// notified waits for one notification, 10 s at most.
func notified(t *testing.T, n chan string) string {
	t.Helper()
	select {
	case name := <-n:
		return name
	case <-time.After(10 * time.Second):
		t.Fatal("no notification")
		return ""
	}
}

// TestCloseNotifies: queries cut short by Close are notified, and later
// lookups fail.
func TestCloseNotifies(t *testing.T) {
	s := newServer(t)
	s.silent.Store(true)
	r, _, n := testResolver(t, s, func(c *Config) { c.Timeout = time.Minute })
	if _, st := r.Lookup(client, "a.example"); st != proxy46.LookupPending {
		t.Fatalf("%v", st)
	}
	done := make(chan struct{})
	go func() { r.Close(); close(done) }()
	if got := notified(t, n); got != "a.example" {
		t.Fatalf("notified %q", got)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	if _, st := r.Lookup(client, "a.example"); st != proxy46.LookupFailed {
		t.Fatalf("after Close: %v", st)
	}
}
