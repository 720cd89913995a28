package proxy46

import (
	"fmt"
	"net/netip"

	"github.com/sixgate/sixgate/packet"
)

// LookupState is what a Resolver says of a name.
type LookupState uint8

const (
	// LookupFound: the addresses are the name's, inside the prefixes.
	LookupFound LookupState = iota
	// LookupPending: a query is under way; the resolver calls back (the
	// application then calls Engine.Resolved) when it ends, whatever
	// the outcome.
	LookupPending
	// LookupNotFound: the name does not exist or has no AAAA record
	// (NXDOMAIN, NODATA).
	LookupNotFound
	// LookupOutsidePrefix: the name's addresses all fall outside the
	// allowed prefixes.
	LookupOutsidePrefix
	// LookupFailed: the resolvers did not answer in time, or answered
	// with an error.
	LookupFailed
	// LookupRateLimited: the client asked for too many lookups.
	LookupRateLimited
)

var lookupStateNames = [...]string{"found", "pending", "not-found", "outside-prefix", "failed", "rate-limited"}

func (s LookupState) String() string {
	if int(s) < len(lookupStateNames) {
		return lookupStateNames[s]
	}
	return fmt.Sprintf("LookupState(%d)", s)
}

// Resolver finds the IPv6 backends of a host name for a service whose
// backends come from DNS. Lookup must not block: it answers from what it
// knows at once, or starts a query and says LookupPending. The engine
// calls it with its lock held, so it must not call back into the engine
// either; the answer to a pending lookup is announced by the application
// calling Engine.Resolved, from another goroutine.
type Resolver interface {
	// Lookup resolves name (lower case, no final dot) for a connection
	// from client. The addresses are only used with LookupFound.
	Lookup(client netip.Addr, name string) ([]netip.Addr, LookupState)
}

// DNSBackends lets a service (http-host or sni) find the backend of a
// name that none of its backends or name routes match in DNS: the AAAA
// records of the name the client asked for, inside Prefixes, on Port.
type DNSBackends struct {
	Resolver Resolver
	// Prefixes are the IPv6 prefixes a backend address must fall in.
	// They are required, so that the service never connects to an
	// address the name's owner chose outside them. The engine checks
	// them even if the resolver does too.
	Prefixes []netip.Prefix
	Port     uint16
	// MaxBackends bounds the distinct resolved addresses a service keeps
	// at once (default 4096). When it is reached, addresses no
	// connection uses are forgotten; if all are in use the connection is
	// reset.
	MaxBackends int
}

// maxDNSCandidates bounds the addresses of a name a connection tries.
const maxDNSCandidates = 8

func (d *DNSBackends) validate(name string, s *Service, pool6 netip.Prefix) error {
	if d.Resolver == nil {
		return fmt.Errorf("%s: DNS backends need a resolver", name)
	}
	if s.Policy != PolicyHTTPHost && s.Policy != PolicySNI {
		return fmt.Errorf("%s: DNS backends need policy http-host or sni, not %v", name, s.Policy)
	}
	if d.Port == 0 {
		return fmt.Errorf("%s: DNS backends need a port", name)
	}
	if d.MaxBackends < 0 {
		return fmt.Errorf("%s: DNS MaxBackends %d is negative", name, d.MaxBackends)
	}
	if len(d.Prefixes) == 0 {
		return fmt.Errorf("%s: DNS backends need at least one IPv6 prefix", name)
	}
	for _, p := range d.Prefixes {
		if !p.IsValid() || !p.Addr().Is6() || p.Addr().Is4In6() || p.Addr().Zone() != "" {
			return fmt.Errorf("%s: DNS prefix %v is not an IPv6 prefix", name, p)
		}
		if p.Overlaps(pool6) {
			// A backend there would be this engine's own client side.
			return fmt.Errorf("%s: DNS prefix %v overlaps Pool6 %v", name, p, pool6)
		}
	}
	if s.Default.IsValid() {
		return fmt.Errorf("%s: a service with DNS backends takes no default: a name that does not resolve is reset", name)
	}
	return nil
}

// inPrefixes reports whether a falls in one of d's prefixes.
func (d *DNSBackends) inPrefixes(a netip.Addr) bool {
	if !a.Is6() || a.Is4In6() {
		return false
	}
	a = a.WithZone("")
	for _, p := range d.Prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// dnsState is a service's resolved backends: svc.backends[first:] are
// addresses that came from DNS, found again by address.
type dnsState struct {
	cfg   DNSBackends
	first int
	index map[netip.Addr]uint32
	free  []uint32
}

func newDNSState(d *DNSBackends, first int) *dnsState {
	cfg := *d
	cfg.Prefixes = append([]netip.Prefix(nil), d.Prefixes...)
	if cfg.MaxBackends == 0 {
		cfg.MaxBackends = 4096
	}
	return &dnsState{cfg: cfg, first: first, index: make(map[netip.Addr]uint32)}
}

// decideDNS sets c's candidates from the resolved addresses of name, as
// the client sent it. It returns false while the answer is pending.
func (e *Engine) decideDNS(c *conn, name []byte) bool {
	svc, p := c.svc, &c.pick
	key := dnsKey(name)
	if key == "" {
		*p = choice{decided: true}
		return true
	}
	expired := e.now-c.created >= int64(e.cfg.Timeouts.Embryonic)
	if p.waiting && !expired {
		return false // more bytes while the answer is awaited
	}
	addrs, st := svc.dns.cfg.Resolver.Lookup(c.clientAddr(), key)
	if st == LookupPending {
		if expired {
			e.stats.DNSTimeouts++
			*p = choice{decided: true}
			return true
		}
		if !p.waiting {
			if !p.resumed {
				e.stats.DNSWaits++
			}
			p.waiting = true
			e.wait(key, c)
			// The answer, not the first bytes' timer, decides now;
			// the embryonic timeout still bounds the wait.
			e.schedule(c, c.created+int64(e.cfg.Timeouts.Embryonic))
		}
		return false
	}
	*p = choice{decided: true}
	switch st {
	case LookupFound:
		e.dnsCandidates(c, addrs)
	case LookupNotFound:
		e.stats.DNSNotFound++
	case LookupOutsidePrefix:
		e.stats.DNSOutsidePrefix++
	case LookupRateLimited:
		e.stats.DNSRateLimited++
	default:
		e.stats.DNSFailed++
	}
	return true
}

// dnsCandidates turns the addresses of a name into c's candidates.
func (e *Engine) dnsCandidates(c *conn, addrs []netip.Addr) {
	d, p := c.svc.dns, &c.pick
	inside := 0
	for _, a := range addrs {
		if !d.cfg.inPrefixes(a) {
			continue
		}
		inside++
		if len(p.dyn) == maxDNSCandidates {
			break
		}
		i, ok := e.dnsBackend(c.svc, a.WithZone(""))
		if !ok {
			e.stats.DNSBackendsFull++
			continue
		}
		p.dyn = append(p.dyn, i)
	}
	switch {
	case inside == 0:
		e.stats.DNSOutsidePrefix++
	case len(p.dyn) > 0:
		e.stats.DNSResolved++
	}
}

// dnsBackend returns the index in svc.backends of resolved address a,
// adding it if it is new.
func (e *Engine) dnsBackend(svc *service, a netip.Addr) (uint32, bool) {
	d := svc.dns
	if i, ok := d.index[a]; ok {
		return i, true
	}
	if len(d.free) == 0 && len(d.index) >= d.cfg.MaxBackends {
		e.reclaimDNS(svc)
	}
	b := backend{ap: netip.AddrPortFrom(a, d.cfg.Port), addr: a.As16(), port: d.cfg.Port, dynamic: true}
	var i uint32
	switch {
	case len(d.free) > 0:
		i = d.free[len(d.free)-1]
		d.free = d.free[:len(d.free)-1]
		svc.backends[i] = b
	case len(d.index) < d.cfg.MaxBackends:
		i = uint32(len(svc.backends))
		svc.backends = append(svc.backends, b)
	default:
		return 0, false
	}
	d.index[a] = i
	return i, true
}

// reclaimDNS forgets the resolved addresses of svc that no connection
// uses or may still try, so that their slots take new ones.
func (e *Engine) reclaimDNS(svc *service) {
	d := svc.dns
	used := make(map[uint32]bool)
	for _, c := range e.all {
		if c.svc != svc {
			continue
		}
		if c.backend >= d.first {
			used[uint32(c.backend)] = true
		}
		for _, i := range c.pick.dyn {
			used[i] = true
		}
	}
	for a, i := range d.index {
		if !used[i] {
			delete(d.index, a)
			d.free = append(d.free, i)
		}
	}
}

// dnsKey is the form a name is looked up under: lower case, without a
// final dot, or "" if it cannot be a host name.
func dnsKey(name []byte) string {
	if n := len(name); n > 0 && name[n-1] == '.' {
		name = name[:n-1]
	}
	if len(name) == 0 || len(name) > MaxNameLen {
		return ""
	}
	b := make([]byte, len(name))
	for i, ch := range name {
		switch {
		case 'A' <= ch && ch <= 'Z':
			ch += 'a' - 'A'
		case 'a' <= ch && ch <= 'z', '0' <= ch && ch <= '9', ch == '-', ch == '.', ch == '_':
		default:
			return ""
		}
		b[i] = ch
	}
	return string(b)
}

// wait records that c waits for the answer about name.
func (e *Engine) wait(name string, c *conn) {
	if e.waiting == nil {
		e.waiting = make(map[string][]*conn)
	}
	l := e.waiting[name]
	if n := len(l); n >= 64 && n&(n-1) == 0 {
		// Drop connections that are gone, so that a name that keeps
		// being asked for does not keep every connection ever made.
		live := l[:0]
		for _, w := range l {
			if e.stillWaiting(w) {
				live = append(live, w)
			}
		}
		clear(l[len(live):])
		l = live
	}
	e.waiting[name] = append(l, c)
	if len(e.waiting) > e.waitSweepAt {
		// Names whose answer never came (a resolver closed by a
		// reload) would stay: drop every entry whose connection has
		// gone, so the map stays in proportion to the waiting ones.
		for n, l := range e.waiting {
			live := l[:0]
			for _, w := range l {
				if e.stillWaiting(w) {
					live = append(live, w)
				}
			}
			clear(l[len(live):])
			if len(live) == 0 {
				delete(e.waiting, n)
			} else {
				e.waiting[n] = live
			}
		}
		e.waitSweepAt = 2*len(e.waiting) + 64
	}
}

func (e *Engine) stillWaiting(c *conn) bool {
	return c.pick.waiting && c.state == StateHolding && e.by4[c.k4] == c
}

// Resolved tells the engine that the resolver has an answer about name
// (or gave up on it): the connections waiting for it look the name up
// again and go on, to a backend or to a reset. The packets they produce
// are appended to out, for the application to send.
func (e *Engine) Resolved(name string, out *packet.Batch) {
	e.mu.Lock()
	defer e.mu.Unlock()
	l, ok := e.waiting[name]
	if !ok {
		return
	}
	delete(e.waiting, name)
	e.clock()
	for _, c := range l {
		if !e.stillWaiting(c) {
			continue
		}
		c.pick.waiting, c.pick.resumed = false, true
		e.tryChoose(c, false, out)
	}
}

// Waiting is the number of names connections wait on.
func (e *Engine) Waiting() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.waiting)
}
