package dns64

import (
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// maxCacheTTL bounds how long an answer is kept, whatever its TTL (a day,
// as resolvers commonly do).
const maxCacheTTL = 86400

// cacheKey is what an answer depends on: the question, and the client's
// flags that change what the upstreams say or whether it is synthesized.
type cacheKey struct {
	name           string // lower case
	qtype, qclass  uint16
	rd, cd, dnssec bool
}

type cacheEntry struct {
	msg     *dns.Msg // the answer before finish: no OPT, no question
	cfg     *Config  // the configuration it was resolved with
	stored  time.Time
	expires time.Time
}

// cache keeps final answers, synthesized or not, for their TTL: a
// positive answer for its records' smallest TTL, NXDOMAIN and NODATA for
// the SOA's negative TTL (RFC 2308 section 5). A hit is served with the
// TTLs counted down. It is bounded; when full, an expired entry or else
// one at random goes.
type cache struct {
	max     atomic.Int64 // entries of each kind at most
	mu      sync.Mutex
	entries map[cacheKey]*cacheEntry
	// wire are packed replies, for the UDP fast path, in shards chosen
	// by a hash of their key.
	seed maphash.Seed
	wire [wireShards]wireShard
}

func newCache() *cache {
	c := &cache{entries: map[cacheKey]*cacheEntry{}, seed: maphash.MakeSeed()}
	for i := range c.wire {
		c.wire[i].m = map[string]*wireEntry{}
	}
	return c
}

func keyOf(q dns.Question, rd, cd, do bool) cacheKey {
	return cacheKey{name: strings.ToLower(q.Name), qtype: q.Qtype, qclass: q.Qclass, rd: rd, cd: cd, dnssec: do}
}

// reset empties the cache and sets its bound (0: no cache).
func (c *cache) reset(max int) {
	c.mu.Lock()
	c.max.Store(int64(max))
	clear(c.entries)
	c.mu.Unlock()
	for i := range c.wire {
		sh := &c.wire[i]
		sh.mu.Lock()
		clear(sh.m)
		sh.mu.Unlock()
	}
}

// get returns a copy of the answer stored for k under cfg with its TTLs
// counted down, or nil.
func (c *cache) get(k cacheKey, cfg *Config, now time.Time) *dns.Msg {
	c.mu.Lock()
	e, ok := c.entries[k]
	if ok && (!now.Before(e.expires) || e.cfg != cfg) {
		delete(c.entries, k)
		ok = false
	}
	c.mu.Unlock()
	if !ok {
		return nil
	}
	m := e.msg.Copy()
	age := uint32(now.Sub(e.stored) / time.Second)
	for _, sec := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range sec {
			h := rr.Header()
			h.Ttl -= min(age, h.Ttl)
		}
	}
	return m
}

// put stores a copy of m, when it is an answer that may be kept.
func (c *cache) put(k cacheKey, m *dns.Msg, cfg *Config, now time.Time) {
	ttl, ok := cacheTTL(m)
	if !ok || ttl == 0 {
		return
	}
	e := &cacheEntry{msg: m.Copy(), cfg: cfg, stored: now, expires: now.Add(time.Duration(min(ttl, maxCacheTTL)) * time.Second)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.max.Load() == 0 {
		return
	}
	if _, there := c.entries[k]; !there && int64(len(c.entries)) >= c.max.Load() {
		c.evict(now)
	}
	c.entries[k] = e
}

func (c *cache) evict(now time.Time) {
	const sample = 8
	n := 0
	var victim cacheKey
	for k, e := range c.entries {
		if n == 0 {
			victim = k
		}
		if !now.Before(e.expires) {
			victim = k
			break
		}
		if n++; n == sample {
			break
		}
	}
	delete(c.entries, victim)
}

// cacheTTL is how long m may be kept: NOERROR with records, their
// smallest TTL; NOERROR without records or NXDOMAIN, the SOA's negative
// TTL. Other answers, truncated ones and negative ones without SOA are not
// kept.
func cacheTTL(m *dns.Msg) (uint32, bool) {
	if m.Truncated || (m.Rcode != dns.RcodeSuccess && m.Rcode != dns.RcodeNameError) {
		return 0, false
	}
	if m.Rcode == dns.RcodeSuccess && len(m.Answer) > 0 {
		ttl := uint32(maxCacheTTL)
		for _, rr := range m.Answer {
			ttl = min(ttl, rr.Header().Ttl)
		}
		return ttl, true
	}
	return negativeTTL(m)
}
