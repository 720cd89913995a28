// Package dnsbackend finds the backends of a proxy46 service in DNS: the
// AAAA records of the name a client asked for (TLS SNI or HTTP Host). It
// is the proxy46.Resolver the splice46 app gives a service configured
// with backends_from_dns.
//
// Lookups never block. An answer in the cache (positive, or negative as
// RFC 2308 has it) is returned at once; otherwise a query goes to the
// configured resolvers in the background, Lookup says pending, and Notify
// is called with the name when the query ends, however it ends, so that
// the engine looks the name up again and finds the outcome in the cache.
//
// Only addresses inside the configured prefixes are returned: a name
// whose records point elsewhere is refused, so the service never relays
// to an address a name's owner picked. Queries are rate limited per
// client address (a token bucket each, in a bounded table), and the
// cache holds a bounded number of names, least recently used evicted
// first.
package dnsbackend

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/sixgate/sixgate/proxy46"
)

// Config configures a Resolver. Zero values take defaults.
type Config struct {
	// Servers are the recursive resolvers asked, in order (port 53 if
	// none is given). Required.
	Servers []netip.AddrPort
	// Prefixes are the IPv6 prefixes an address must fall in. Required.
	Prefixes []netip.Prefix
	// Timeout bounds one lookup across all servers (default 2 s).
	Timeout time.Duration
	// MinTTL and MaxTTL bound how long an answer is cached, whatever
	// its TTL (default 5 s and 1 h).
	MinTTL, MaxTTL time.Duration
	// NegativeMaxTTL bounds how long NXDOMAIN and NODATA are cached
	// (default 5 min); the TTL is the SOA's, as RFC 2308 §5 says.
	// MinTTL is its floor too.
	NegativeMaxTTL time.Duration
	// FailureTTL is how long a failed lookup (timeout, SERVFAIL) is
	// remembered before the name is asked again (default 5 s).
	FailureTTL time.Duration
	// MaxEntries bounds the cached names, pending ones included
	// (default 65536).
	MaxEntries int
	// MaxPending bounds the queries under way at once (default 1024).
	MaxPending int
	// Rate and Burst are each client's token bucket: queries per second
	// and at most Burst at once (default 10 and 20). Cache hits cost
	// nothing.
	Rate  float64
	Burst int
	// MaxClients bounds the clients whose buckets are kept (default
	// 65536); beyond it one is forgotten at random.
	MaxClients int
	// Notify is called, from the query's goroutine, when a lookup that
	// returned pending ends.
	Notify func(name string)
	// Clock returns the time; nil means time.Now.
	Clock func() time.Time
}

// Stats are a Resolver's counters.
type Stats struct {
	Lookups       uint64 // Lookup calls
	CacheHits     uint64 // answered from a positive entry
	NegativeHits  uint64 // answered from a negative entry (NXDOMAIN, NODATA)
	FailureHits   uint64 // answered from a recent failure
	PendingHits   uint64 // the name's query was under way already
	Queries       uint64 // lookups sent to the resolvers
	NotFound      uint64 // queries answered NXDOMAIN or NODATA
	RateLimited   uint64 // lookups refused by the client's bucket
	Overloaded    uint64 // lookups refused as MaxPending queries were under way
	OutsidePrefix uint64 // queries whose addresses all fell outside the prefixes
	Failures      uint64 // queries answered with an error (SERVFAIL, REFUSED...)
	Timeouts      uint64 // queries no server answered in time
	Evictions     uint64 // names evicted from a full cache
	Entries       int    // names cached now
	Pending       int    // queries under way now
}

// Resolver is a proxy46.Resolver over DNS.
type Resolver struct {
	cfg    Config
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	entries map[string]*list.Element // of *entry
	lru     list.List                // front: most recently used
	pending int
	clients map[netip.Addr]*bucket
	stats   Stats
}

var _ proxy46.Resolver = (*Resolver)(nil)

type entry struct {
	name    string
	addrs   []netip.Addr
	state   proxy46.LookupState
	expires time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// New checks cfg and returns a Resolver. Close stops its queries.
func New(cfg Config) (*Resolver, error) {
	if len(cfg.Servers) == 0 {
		return nil, errors.New("dnsbackend: no resolver")
	}
	for i, s := range cfg.Servers {
		if !s.Addr().IsValid() {
			return nil, fmt.Errorf("dnsbackend: resolver %d is not an address", i)
		}
		if s.Port() == 0 {
			cfg.Servers[i] = netip.AddrPortFrom(s.Addr(), 53)
		}
	}
	if len(cfg.Prefixes) == 0 {
		return nil, errors.New("dnsbackend: no prefix: any address would do")
	}
	for _, p := range cfg.Prefixes {
		if !p.IsValid() || !p.Addr().Is6() || p.Addr().Is4In6() {
			return nil, fmt.Errorf("dnsbackend: %v is not an IPv6 prefix", p)
		}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&cfg.Timeout, 2*time.Second)
	def(&cfg.MinTTL, 5*time.Second)
	def(&cfg.MaxTTL, time.Hour)
	def(&cfg.NegativeMaxTTL, 5*time.Minute)
	def(&cfg.FailureTTL, 5*time.Second)
	defInt := func(n *int, v int) {
		if *n == 0 {
			*n = v
		}
	}
	defInt(&cfg.MaxEntries, 65536)
	defInt(&cfg.MaxPending, 1024)
	defInt(&cfg.Burst, 20)
	defInt(&cfg.MaxClients, 65536)
	if cfg.Rate == 0 {
		cfg.Rate = 10
	}
	switch {
	case cfg.Timeout < 0 || cfg.MinTTL < 0 || cfg.FailureTTL < 0:
		return nil, errors.New("dnsbackend: negative duration")
	case cfg.MaxTTL < cfg.MinTTL || cfg.NegativeMaxTTL < cfg.MinTTL:
		return nil, fmt.Errorf("dnsbackend: TTL ceiling below the floor %v", cfg.MinTTL)
	case cfg.MaxEntries < 1 || cfg.MaxPending < 1 || cfg.Burst < 1 || cfg.MaxClients < 1 || cfg.Rate < 0:
		return nil, errors.New("dnsbackend: bounds must be positive")
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	cfg.Servers = append([]netip.AddrPort(nil), cfg.Servers...)
	cfg.Prefixes = append([]netip.Prefix(nil), cfg.Prefixes...)
	r := &Resolver{cfg: cfg, entries: make(map[string]*list.Element), clients: make(map[netip.Addr]*bucket)}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	return r, nil
}

// Close cancels the queries under way and waits for their goroutines,
// which notify their names as failed. Lookups after Close fail.
func (r *Resolver) Close() {
	r.cancel()
	r.wg.Wait()
}

// Stats returns a snapshot of the counters.
func (r *Resolver) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stats
	s.Entries, s.Pending = len(r.entries), r.pending
	return s
}

// Lookup implements proxy46.Resolver.
func (r *Resolver) Lookup(client netip.Addr, name string) ([]netip.Addr, proxy46.LookupState) {
	now := r.cfg.Clock()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stats.Lookups++
	if el, ok := r.entries[name]; ok {
		en := el.Value.(*entry)
		if en.state == proxy46.LookupPending {
			r.stats.PendingHits++
			r.lru.MoveToFront(el)
			return nil, proxy46.LookupPending
		}
		if now.Before(en.expires) {
			switch en.state {
			case proxy46.LookupNotFound:
				r.stats.NegativeHits++
			case proxy46.LookupFailed:
				r.stats.FailureHits++
			default:
				r.stats.CacheHits++
			}
			r.lru.MoveToFront(el)
			return en.addrs, en.state
		}
		r.lru.Remove(el)
		delete(r.entries, name)
	}
	if r.ctx.Err() != nil {
		return nil, proxy46.LookupFailed // closed
	}
	if !hostName(name) {
		return nil, proxy46.LookupNotFound
	}
	if !r.allow(client, now) {
		r.stats.RateLimited++
		return nil, proxy46.LookupRateLimited
	}
	if r.pending >= r.cfg.MaxPending {
		r.stats.Overloaded++
		return nil, proxy46.LookupFailed
	}
	if !r.makeRoom() {
		r.stats.Overloaded++
		return nil, proxy46.LookupFailed
	}
	r.entries[name] = r.lru.PushFront(&entry{name: name, state: proxy46.LookupPending})
	r.pending++
	r.stats.Queries++
	r.wg.Add(1)
	go r.query(name)
	return nil, proxy46.LookupPending
}

// makeRoom evicts the least recently used settled entry if the cache is
// full; pending ones stay until their query ends.
func (r *Resolver) makeRoom() bool {
	if len(r.entries) < r.cfg.MaxEntries {
		return true
	}
	for el := r.lru.Back(); el != nil; el = el.Prev() {
		en := el.Value.(*entry)
		if en.state != proxy46.LookupPending {
			r.lru.Remove(el)
			delete(r.entries, en.name)
			r.stats.Evictions++
			return true
		}
	}
	return false
}

// allow takes a token from client's bucket.
func (r *Resolver) allow(client netip.Addr, now time.Time) bool {
	b, ok := r.clients[client]
	if !ok {
		if len(r.clients) >= r.cfg.MaxClients {
			for k := range r.clients { // Go picks one at random
				delete(r.clients, k)
				break
			}
		}
		b = &bucket{tokens: float64(r.cfg.Burst), last: now}
		r.clients[client] = b
	}
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(float64(r.cfg.Burst), b.tokens+d.Seconds()*r.cfg.Rate)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// query asks the servers about name, stores the outcome and notifies.
func (r *Resolver) query(name string) {
	defer r.wg.Done()
	ctx, cancel := context.WithTimeout(r.ctx, r.cfg.Timeout)
	addrs, state, ttl, timedOut := r.ask(ctx, name)
	cancel()
	now := r.cfg.Clock()
	r.mu.Lock()
	r.pending--
	switch {
	case timedOut:
		r.stats.Timeouts++
	case state == proxy46.LookupFailed:
		r.stats.Failures++
	case state == proxy46.LookupNotFound:
		r.stats.NotFound++
	case state == proxy46.LookupOutsidePrefix:
		r.stats.OutsidePrefix++
	}
	if el, ok := r.entries[name]; ok {
		en := el.Value.(*entry)
		en.addrs, en.state, en.expires = addrs, state, now.Add(ttl)
	}
	r.mu.Unlock()
	// Also when Close cut the query short: the connections waiting on
	// it learn that the lookup failed rather than wait out their timer.
	if r.cfg.Notify != nil {
		r.cfg.Notify(name)
	}
}

// ask queries the servers in turn until one answers; timedOut says none
// did before ctx ended.
func (r *Resolver) ask(ctx context.Context, name string) (addrs []netip.Addr, st proxy46.LookupState, ttl time.Duration, timedOut bool) {
	// A resolver may answer with a CNAME chain that stops short of the
	// addresses (unbound does for its local data): the chain's end is
	// asked about in turn, a few times at most.
	chainTTL := r.cfg.MaxTTL
	for range maxChain {
		var next string
		addrs, st, ttl, next, timedOut = r.askOnce(ctx, name)
		chainTTL = min(chainTTL, ttl)
		if next == "" {
			return addrs, st, chainTTL, timedOut
		}
		name = strings.TrimSuffix(next, ".")
	}
	return nil, proxy46.LookupNotFound, chainTTL, false
}

// maxChain bounds the queries that follow one name's CNAME chain.
const maxChain = 8

// askOnce queries the servers in turn until one answers; timedOut says
// none did before ctx ended. next is the end of a CNAME chain the answer
// did not resolve.
func (r *Resolver) askOnce(ctx context.Context, name string) (addrs []netip.Addr, st proxy46.LookupState, ttl time.Duration, next string, timedOut bool) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeAAAA)
	m.RecursionDesired = true
	m.SetEdns0(1232, false)
	lastTimedOut := false
	for i, s := range r.cfg.Servers {
		if ctx.Err() != nil {
			break
		}
		// Each server gets its share of the time left, so that a silent
		// one leaves time for the next.
		tctx, cancel := ctx, context.CancelFunc(func() {})
		if d, ok := ctx.Deadline(); ok {
			tctx, cancel = context.WithTimeout(ctx, time.Until(d)/time.Duration(len(r.cfg.Servers)-i))
		}
		in, err := exchange(tctx, m, s)
		cancel()
		if err != nil {
			// The socket's deadline, set from ctx's, may fire just
			// before ctx says it is done.
			var ne net.Error
			lastTimedOut = errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded)
			continue
		}
		lastTimedOut = false
		addrs, st, ttl, next = r.interpret(name, in)
		if st == proxy46.LookupFailed {
			continue // another server may know better
		}
		return addrs, st, ttl, next, false
	}
	return nil, proxy46.LookupFailed, r.cfg.FailureTTL, "", lastTimedOut || ctx.Err() != nil
}

// exchange sends m over UDP, and again over TCP if the answer was
// truncated. Cancelling ctx (Close) ends it at once: the client library
// only heeds ctx's deadline, so the connection is closed under it.
func exchange(ctx context.Context, m *dns.Msg, s netip.AddrPort) (*dns.Msg, error) {
	addr := net.JoinHostPort(s.Addr().String(), fmt.Sprint(s.Port()))
	c := &dns.Client{Net: "udp", UDPSize: 1232}
	if d, ok := ctx.Deadline(); ok {
		// The client's own timeouts (2 s each by default) would
		// otherwise cut a longer lookup short.
		c.Timeout = time.Until(d)
	}
	in, err := exchangeOn(ctx, c, m, addr)
	if err == nil && in.Truncated {
		c.Net = "tcp"
		in, err = exchangeOn(ctx, c, m, addr)
	}
	if err == nil && in.Id != m.Id {
		err = errors.New("dnsbackend: answer to another query")
	}
	return in, err
}

func exchangeOn(ctx context.Context, c *dns.Client, m *dns.Msg, addr string) (*dns.Msg, error) {
	co, err := c.DialContext(ctx, addr)
	if err != nil {
		return nil, err
	}
	defer co.Close()
	stop := context.AfterFunc(ctx, func() { _ = co.Close() })
	defer stop()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	in, _, err := c.ExchangeWithConnContext(ctx, m.Copy(), co)
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	return in, err
}

// interpret reads an answer: the AAAA records of name, following CNAMEs
// within the answer section, filtered by the prefixes. next is the end of
// a CNAME chain that has no record here, to be asked about.
func (r *Resolver) interpret(name string, in *dns.Msg) (addrs []netip.Addr, st proxy46.LookupState, ttl time.Duration, next string) {
	switch in.Rcode {
	case dns.RcodeSuccess:
	case dns.RcodeNameError:
		return nil, proxy46.LookupNotFound, r.negativeTTL(in), ""
	default:
		return nil, proxy46.LookupFailed, r.cfg.FailureTTL, ""
	}
	owner := dns.Fqdn(name)
	minTTL := uint32(1<<32 - 1)
	var all []netip.Addr
	chased := false
	for range 16 { // bounded CNAME chain
		next = ""
		for _, rr := range in.Answer {
			h := rr.Header()
			if !strings.EqualFold(h.Name, owner) {
				continue
			}
			switch v := rr.(type) {
			case *dns.AAAA:
				if a, ok := netip.AddrFromSlice(v.AAAA); ok {
					all = append(all, a)
					minTTL = min(minTTL, h.Ttl)
				}
			case *dns.CNAME:
				next = v.Target
				minTTL = min(minTTL, h.Ttl)
			}
		}
		if len(all) > 0 || next == "" {
			break
		}
		owner, chased = next, true
	}
	if len(all) == 0 {
		if chased && next == "" {
			// The chain ends at a name the answer says nothing of.
			return nil, proxy46.LookupNotFound, r.clamp(time.Duration(minTTL)*time.Second, r.cfg.MaxTTL), strings.TrimSuffix(owner, ".")
		}
		return nil, proxy46.LookupNotFound, r.negativeTTL(in), "" // NODATA
	}
	ttl = r.clamp(time.Duration(minTTL)*time.Second, r.cfg.MaxTTL)
	var inside []netip.Addr
	for _, a := range all {
		if r.inPrefixes(a) {
			inside = append(inside, a)
		}
	}
	if len(inside) == 0 {
		return nil, proxy46.LookupOutsidePrefix, ttl, ""
	}
	return inside, proxy46.LookupFound, ttl, ""
}

// negativeTTL is the time a negative answer is cached: the SOA record's
// TTL or its MINIMUM field, whichever is lower (RFC 2308 §5), clamped;
// without a SOA, the floor.
func (r *Resolver) negativeTTL(in *dns.Msg) time.Duration {
	for _, rr := range in.Ns {
		if soa, ok := rr.(*dns.SOA); ok {
			return r.clamp(time.Duration(min(soa.Hdr.Ttl, soa.Minttl))*time.Second, r.cfg.NegativeMaxTTL)
		}
	}
	return r.cfg.MinTTL
}

func (r *Resolver) clamp(d, ceiling time.Duration) time.Duration {
	return min(max(d, r.cfg.MinTTL), ceiling)
}

func (r *Resolver) inPrefixes(a netip.Addr) bool {
	if !a.Is6() || a.Is4In6() {
		return false
	}
	for _, p := range r.cfg.Prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// hostName reports whether name is worth asking about: dot-separated
// labels of 1 to 63 letters, digits, '-' or '_', 253 bytes at most.
func hostName(name string) bool {
	if len(name) == 0 || len(name) > 253 {
		return false
	}
	for l := range strings.SplitSeq(name, ".") {
		if len(l) == 0 || len(l) > 63 {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}
