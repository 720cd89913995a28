package dns64

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// Config is what the resolver does; SetConfig replaces it while queries
// are answered.
type Config struct {
	// Upstreams are recursive resolvers, asked in order: the next one
	// when a query times out, fails or gets SERVFAIL or REFUSED.
	Upstreams []netip.AddrPort
	// Prefix is the NAT64 prefix AAAA records are synthesized in.
	Prefix netip.Prefix
	// Exclude are the AAAA records treated as absent (RFC 6147 section
	// 5.1.4), ::ffff:0:0/96 by default.
	Exclude []netip.Prefix
	// Timeout bounds one try of one upstream (default 2 s).
	Timeout time.Duration
	// Rate and Burst are each client's token bucket: queries per second
	// and queries at once; Rate 0 turns the limit off. MaxClients bounds
	// the buckets kept (default 65536).
	Rate       float64
	Burst      int
	MaxClients int
	// CacheSize bounds the answers kept (default 65536; negative: no
	// cache).
	CacheSize int
}

// Defaults of Config.
const (
	DefaultTimeout    = 2 * time.Second
	DefaultMaxClients = 65536
	DefaultCacheSize  = 65536
)

// DefaultExclude returns the exclusion set used when none is given:
// IPv4-mapped addresses, which are never reachable over IPv6.
func DefaultExclude() []netip.Prefix { return []netip.Prefix{netip.MustParsePrefix("::ffff:0:0/96")} }

const (
	// bufferSize is the EDNS(0) UDP payload size offered to clients and
	// upstreams, the DNS Flag Day 2020 value that avoids fragmentation.
	bufferSize = 1232
	// noSOATTL caps a synthesized TTL when the AAAA answer carried no
	// SOA (RFC 6147 section 5.1.7).
	noSOATTL = 600
)

// exchangeFunc sends one query to one upstream and returns its answer.
type exchangeFunc func(ctx context.Context, m *dns.Msg, upstream netip.AddrPort, timeout time.Duration) (*dns.Msg, error)

// Resolver is the DNS64 handler.
type Resolver struct {
	cfg      atomic.Pointer[Config]
	limit    *limiter
	cache    *cache
	metrics  *metrics
	exchange exchangeFunc
}

// New returns a resolver for cfg.
func New(cfg Config) (*Resolver, error) {
	r := &Resolver{limit: newLimiter(), cache: newCache(), metrics: newMetrics(), exchange: exchangeUDPThenTCP}
	if err := r.SetConfig(cfg); err != nil {
		return nil, err
	}
	return r, nil
}

// SetConfig puts cfg in force for the queries that follow.
func (r *Resolver) SetConfig(cfg Config) error {
	if len(cfg.Upstreams) == 0 {
		return errors.New("dns64: no upstream resolver")
	}
	if err := CheckPrefix(cfg.Prefix); err != nil {
		return fmt.Errorf("dns64: %w", err)
	}
	if cfg.Exclude == nil {
		cfg.Exclude = DefaultExclude()
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxClients <= 0 {
		cfg.MaxClients = DefaultMaxClients
	}
	if cfg.Rate < 0 || (cfg.Rate > 0 && cfg.Burst < 1) {
		return fmt.Errorf("dns64: rate %v with burst %d", cfg.Rate, cfg.Burst)
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	r.limit.configure(cfg.Rate, cfg.Burst, cfg.MaxClients)
	// Answers cached under the old configuration (another prefix,
	// other upstreams) are forgotten: an entry is only served under
	// the configuration it was resolved with.
	r.cfg.Store(&cfg)
	r.cache.reset(max(cfg.CacheSize, 0))
	return nil
}

// Config returns the configuration in force.
func (r *Resolver) Config() Config { return *r.cfg.Load() }

// ServeDNS answers one query; it implements dns.Handler.
func (r *Resolver) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	_, tcp := w.RemoteAddr().(*net.TCPAddr)
	if !r.admit(clientOf(w.RemoteAddr()), tcp) {
		// Over UDP the source may be forged: say nothing. Over TCP
		// the client is real and is told.
		if tcp && len(req.Question) == 1 {
			m := new(dns.Msg)
			m.SetRcode(req, dns.RcodeRefused)
			_ = w.WriteMsg(m)
		}
		return
	}
	r.serveAdmitted(w, req, tcp)
}

// serveAdmitted answers a query the rate limit let through.
func (r *Resolver) serveAdmitted(w dns.ResponseWriter, req *dns.Msg, tcp bool) {
	out, ok := r.quick(req, tcp)
	if !ok {
		out = r.resolve(req, tcp)
	}
	if out != nil {
		r.metrics.response(out.Rcode)
		_ = w.WriteMsg(out)
	}
}

// admit counts a query from client and takes a token from its bucket.
func (r *Resolver) admit(client netip.Addr, tcp bool) bool {
	return r.admitAt(client, tcp, time.Now())
}

// admitAt is admit at the time now.
func (r *Resolver) admitAt(client netip.Addr, tcp bool, now time.Time) bool {
	if tcp {
		r.metrics.queriesTCP.Inc()
	} else {
		r.metrics.queriesUDP.Inc()
	}
	if !r.limit.allow(client, now) {
		r.metrics.rateLimited.Inc()
		return false
	}
	return true
}

// Answer returns the reply to req, sized for its transport, or nil when
// req deserves none (it is itself a response). It does not count the
// query nor apply the rate limit.
func (r *Resolver) Answer(ctx context.Context, req *dns.Msg, tcp bool) *dns.Msg {
	if out, ok := r.quick(req, tcp); ok {
		return out
	}
	return r.answer(ctx, req, tcp)
}

// quick answers what needs no upstream: a malformed query, or one whose
// answer is in the cache. ok is false when the upstreams must be asked
// (resolve).
func (r *Resolver) quick(req *dns.Msg, tcp bool) (out *dns.Msg, ok bool) {
	if req.Response {
		return nil, true
	}
	if req.Opcode != dns.OpcodeQuery {
		return finish(errorReply(dns.RcodeNotImplemented), req, tcp, false), true
	}
	if len(req.Question) != 1 {
		return finish(errorReply(dns.RcodeFormatError), req, tcp, false), true
	}
	opt := req.IsEdns0()
	if opt != nil && opt.Version() != 0 {
		// RFC 6891 section 6.1.3: only version 0 is known.
		return finish(errorReply(dns.RcodeBadVers), req, tcp, false), true
	}
	do := opt != nil && opt.Do()
	cfg := r.cfg.Load()
	if hit := r.cache.get(keyOf(req.Question[0], req.RecursionDesired, req.CheckingDisabled, do), cfg, time.Now()); hit != nil {
		r.metrics.cacheHits.Inc()
		return finish(hit, req, tcp, false), true
	}
	return nil, false
}

// resolve answers a query quick could not, asking the upstreams within a
// deadline that leaves each of them two tries.
func (r *Resolver) resolve(req *dns.Msg, tcp bool) *dns.Msg {
	cfg := r.cfg.Load()
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(2*len(cfg.Upstreams)+1)*cfg.Timeout)
	defer cancel()
	return r.answer(ctx, req, tcp)
}

// answer resolves a well-formed query that quick let through.
func (r *Resolver) answer(ctx context.Context, req *dns.Msg, tcp bool) *dns.Msg {
	opt := req.IsEdns0()
	do := opt != nil && opt.Do()
	q := req.Question[0]
	cfg := r.cfg.Load()
	a := asker{r: r, cfg: cfg, rd: req.RecursionDesired, cd: req.CheckingDisabled, do: do}
	key := keyOf(q, a.rd, a.cd, a.do)
	now := time.Now()
	var out *dns.Msg
	local := false
	switch {
	case q.Qclass != dns.ClassINET:
		out = a.forward(ctx, q)
	case (isIPv4OnlyArpa(q.Name) || isIPv4OnlyReverse(q.Name)) && !isIPv4OnlyDS(q):
		out, local = a.ipv4OnlyArpa(q), true
	case q.Qtype == dns.TypeAAAA && do && req.CheckingDisabled:
		// RFC 6147 section 5.5: a validating client gets the data as
		// it is, to validate itself.
		out = a.forward(ctx, q)
	case q.Qtype == dns.TypeAAAA:
		out = a.aaaa(ctx, q)
	case q.Qtype == dns.TypePTR:
		out = a.ptr(ctx, q)
	default:
		out = a.forward(ctx, q)
	}
	if !local {
		r.cache.put(key, out, cfg, now)
	}
	return finish(out, req, tcp, local)
}

// asker carries one client query's flags to the upstream queries made
// for it.
type asker struct {
	r          *Resolver
	cfg        *Config
	rd, cd, do bool
}

// query asks the upstreams in order. It returns the first answer that is
// neither SERVFAIL nor REFUSED, else the last answer, else an error.
func (a *asker) query(ctx context.Context, name string, qtype, qclass uint16) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.Id = dns.Id()
	m.RecursionDesired = a.rd
	m.CheckingDisabled = a.cd
	m.Question = []dns.Question{{Name: name, Qtype: qtype, Qclass: qclass}}
	m.SetEdns0(bufferSize, a.do)
	var last *dns.Msg
	var lastErr error
	for _, up := range a.cfg.Upstreams {
		if ctx.Err() != nil {
			break
		}
		in, err := a.r.exchange(ctx, m, up, a.cfg.Timeout)
		if err == nil {
			err = checkReply(m, in)
		}
		var reason string
		switch {
		case err != nil:
			reason = "error"
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
				reason = "timeout"
			}
			lastErr = fmt.Errorf("upstream %s: %w", up, err)
		case in.Rcode == dns.RcodeServerFailure || in.Rcode == dns.RcodeRefused:
			reason = strings.ToLower(dns.RcodeToString[in.Rcode])
			last = in
		default:
			return in, nil
		}
		a.r.metrics.upstreamFailures.WithLabelValues(up.String(), reason).Inc()
	}
	if last != nil {
		return last, nil
	}
	if lastErr == nil {
		lastErr = ctx.Err()
	}
	return nil, lastErr
}

// checkReply rejects an answer to another question.
func checkReply(q, in *dns.Msg) error {
	if !in.Response || len(in.Question) != 1 {
		return errors.New("malformed answer")
	}
	a, b := q.Question[0], in.Question[0]
	if a.Qtype != b.Qtype || a.Qclass != b.Qclass || !strings.EqualFold(a.Name, b.Name) {
		return fmt.Errorf("answer to another question (%s)", b.String())
	}
	return nil
}

// forward passes the query through.
func (a *asker) forward(ctx context.Context, q dns.Question) *dns.Msg {
	in, err := a.query(ctx, q.Name, q.Qtype, q.Qclass)
	if err != nil {
		return servfail()
	}
	return in
}

// aaaa answers an AAAA query, synthesizing from A records when the name
// has no AAAA record that is not excluded (RFC 6147 section 5.1).
func (a *asker) aaaa(ctx context.Context, q dns.Question) *dns.Msg {
	in, err := a.query(ctx, q.Name, dns.TypeAAAA, dns.ClassINET)
	if err != nil {
		return servfail()
	}
	switch in.Rcode {
	case dns.RcodeNameError:
		return in // section 5.1.2: handled as usual
	case dns.RcodeSuccess:
		in.Answer = a.withoutExcluded(in.Answer)
		if hasType(in.Answer, dns.TypeAAAA) {
			return in
		}
	}
	// Section 5.1.2: any other RCODE is treated as an empty answer.
	negTTL, haveSOA := negativeTTL(in)
	if !haveSOA {
		negTTL = noSOATTL
	}
	v4, err := a.query(ctx, q.Name, dns.TypeA, dns.ClassINET)
	if err != nil || v4.Rcode != dns.RcodeSuccess {
		if in.Rcode == dns.RcodeSuccess {
			return in
		}
		if err != nil {
			return servfail()
		}
		return v4
	}
	answer := a.synthesize(v4.Answer, negTTL)
	if !hasType(answer, dns.TypeAAAA) {
		if in.Rcode == dns.RcodeSuccess {
			return in // nothing to synthesize: the NODATA stands
		}
		// The AAAA query failed and the A records cannot be
		// represented: answer what the A query said about the name.
		v4.Answer = answer
		return v4
	}
	a.r.metrics.synthesized.Inc()
	out := new(dns.Msg)
	out.Rcode = dns.RcodeSuccess
	out.RecursionAvailable = v4.RecursionAvailable
	out.Answer = answer
	return out
}

// withoutExcluded drops the AAAA records in the exclusion set and the
// signatures over AAAA records when any was dropped (they would no longer
// validate).
func (a *asker) withoutExcluded(rrs []dns.RR) []dns.RR {
	dropped := false
	out := rrs[:0]
	for _, rr := range rrs {
		if aaaa, ok := rr.(*dns.AAAA); ok {
			if ip, ok := netip.AddrFromSlice(aaaa.AAAA); ok && excluded(a.cfg.Exclude, ip) {
				dropped = true
				continue
			}
		}
		out = append(out, rr)
	}
	if !dropped {
		return out
	}
	kept := out[:0]
	for _, rr := range out {
		if sig, ok := rr.(*dns.RRSIG); ok && sig.TypeCovered == dns.TypeAAAA {
			continue
		}
		kept = append(kept, rr)
	}
	return kept
}

func excluded(set []netip.Prefix, ip netip.Addr) bool {
	for _, p := range set {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// synthesize turns the answer to the A query into the answer to the AAAA
// query: the CNAME and DNAME records of the chain as they are, each A
// record as an AAAA record in the prefix whose TTL is at most negTTL
// (section 5.1.7). Signatures go: the synthesized set has none, and the
// chain's would tell a validator nothing it can check against the AAAA.
func (a *asker) synthesize(rrs []dns.RR, negTTL uint32) []dns.RR {
	out := make([]dns.RR, 0, len(rrs))
	for _, rr := range rrs {
		switch rr := rr.(type) {
		case *dns.CNAME, *dns.DNAME:
			out = append(out, rr)
		case *dns.A:
			v4, ok := netip.AddrFromSlice(rr.A.To4())
			if !ok || !synthesizable(a.cfg.Prefix, v4) {
				continue
			}
			v6 := Embed(a.cfg.Prefix, v4).As16()
			out = append(out, &dns.AAAA{
				Hdr:  dns.RR_Header{Name: rr.Hdr.Name, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: min(rr.Hdr.Ttl, negTTL)},
				AAAA: net.IP(v6[:]),
			})
		}
	}
	return out
}

// negativeTTL is how long the AAAA answer's absence may be cached: the
// smaller of the SOA record's TTL and its MINIMUM field (RFC 2308 section
// 5), and whether the answer had a SOA at all.
func negativeTTL(in *dns.Msg) (uint32, bool) {
	for _, rr := range in.Ns {
		if soa, ok := rr.(*dns.SOA); ok {
			return min(soa.Hdr.Ttl, soa.Minttl), true
		}
	}
	return 0, false
}

func hasType(rrs []dns.RR, t uint16) bool {
	for _, rr := range rrs {
		if rr.Header().Rrtype == t {
			return true
		}
	}
	return false
}

// ptr answers a PTR query: a full reverse name inside the NAT64 prefix is
// answered with the PTR records of the embedded IPv4 address's
// in-addr.arpa name, under the name asked (RFC 6147 section 5.3.1, the
// answer synthesized from in-addr.arpa); anything else is forwarded.
func (a *asker) ptr(ctx context.Context, q dns.Question) *dns.Msg {
	ip, ok := parseIP6Arpa(q.Name)
	var v4 netip.Addr
	if ok {
		v4, ok = Extract(a.cfg.Prefix, ip)
	}
	if !ok {
		return a.forward(ctx, q)
	}
	target := inAddrArpa(v4)
	var in *dns.Msg
	if isIPv4OnlyReverse(target) {
		in = a.ipv4OnlyArpa(dns.Question{Name: target, Qtype: dns.TypePTR, Qclass: dns.ClassINET})
	} else {
		var err error
		if in, err = a.query(ctx, target, dns.TypePTR, dns.ClassINET); err != nil {
			return servfail()
		}
	}
	// The PTR records at the end of the chain (RFC 2317 delegations
	// are CNAMEs), renamed; the chain inside in-addr.arpa is not the
	// client's business.
	answer := make([]dns.RR, 0, len(in.Answer))
	for _, rr := range in.Answer {
		if p, ok := rr.(*dns.PTR); ok {
			c := *p
			c.Hdr.Name = q.Name
			answer = append(answer, &c)
		}
	}
	in.Answer = answer
	in.AuthenticatedData = false
	return in
}

func servfail() *dns.Msg {
	m := new(dns.Msg)
	m.Rcode = dns.RcodeServerFailure
	return m
}

func errorReply(rcode int) *dns.Msg {
	m := new(dns.Msg)
	m.Rcode = rcode
	return m
}

// finish makes out the reply to req: its id, question and flags, an OPT
// record when req had one, and a size that fits the transport (RFC 6891
// section 6.2.5: the smaller of the client's buffer and ours over UDP; 512
// bytes without EDNS), with TC set when records had to go.
func finish(out, req *dns.Msg, tcp, authoritative bool) *dns.Msg {
	out.Id = req.Id
	out.Response = true
	out.Opcode = req.Opcode
	out.RecursionDesired = req.RecursionDesired
	out.RecursionAvailable = true
	out.CheckingDisabled = req.CheckingDisabled
	out.Authoritative = authoritative
	out.Truncated = false
	out.Question = req.Question
	extra := out.Extra[:0]
	for _, rr := range out.Extra {
		if rr.Header().Rrtype != dns.TypeOPT {
			extra = append(extra, rr)
		}
	}
	out.Extra = extra
	size := dns.MinMsgSize
	if opt := req.IsEdns0(); opt != nil {
		o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		o.SetUDPSize(bufferSize)
		o.SetDo(opt.Do())
		out.Extra = append(out.Extra, o)
		size = min(max(int(opt.UDPSize()), dns.MinMsgSize), bufferSize)
	}
	if opt := req.IsEdns0(); opt == nil && out.Rcode > 0xf {
		out.Rcode = dns.RcodeServerFailure // an extended RCODE needs an OPT
	}
	if tcp {
		size = dns.MaxMsgSize
	}
	out.Truncate(size)
	if out.Truncated {
		// A partial answer would be cached as if whole (RFC 2181
		// section 9); the client asks again over TCP.
		out.Answer, out.Ns = nil, nil
		extra := out.Extra[:0]
		for _, rr := range out.Extra {
			if rr.Header().Rrtype == dns.TypeOPT {
				extra = append(extra, rr)
			}
		}
		out.Extra = extra
	}
	return out
}

// clientOf is clientKey of a socket address.
func clientOf(a net.Addr) netip.Addr {
	var ip netip.Addr
	switch a := a.(type) {
	case *net.UDPAddr:
		ip, _ = netip.AddrFromSlice(a.IP)
	case *net.TCPAddr:
		ip, _ = netip.AddrFromSlice(a.IP)
	}
	return clientKey(ip)
}

// clientKey is the rate limit's key for a client: its IPv4 address, or the
// /64 of its IPv6 address (one host picks any address in its /64).
func clientKey(ip netip.Addr) netip.Addr {
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.Addr()
	}
	return ip
}
