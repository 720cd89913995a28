package proxy46

import (
	"encoding/binary"

	"github.com/sixgate/sixgate/proxy46/l7"
)

// choice is where a connection stands in its service's candidates: the
// list its first bytes (or its policy) chose, and how many of the list's
// entries it was handed. Backends are tried in list order, so the entries
// before next are exactly the ones tried; no per-backend record is needed,
// whatever the number of backends.
type choice struct {
	list  span
	start uint32 // rotation into list (hash, round-robin)
	next  uint32 // entries of list handed out, the default counting as one more
	// decided is set once the list is chosen; withDefault lets the
	// service's default follow the list.
	decided, withDefault bool
	// waiting is set while the backend waits for a DNS answer; dyn then
	// holds the resolved candidates, indices into svc.backends, in place
	// of list.
	waiting bool
	dyn     []uint32
	// resumed is set when an answer woke the connection, so that a
	// second wait (the answer was for another service's resolver) is
	// not counted again.
	resumed bool
}

// newService lays out the candidate lists of a configured service.
func newService(s Service) *service {
	svc := &service{cfg: s, vip: s.VIP.As4(), port: s.Port}
	for _, b := range s.Backends {
		svc.backends = append(svc.backends, backend{ap: b.Addr, addr: b.Addr.Addr().As16(), port: b.Addr.Port()})
	}
	if s.DNS != nil {
		// Resolved addresses follow the configured backends; such a
		// service has no default.
		svc.dns = newDNSState(s.DNS, len(svc.backends))
	}
	n := uint32(len(s.Backends))
	switch {
	case s.Policy.layer4():
		all := make([]uint32, n)
		for i := range all {
			all[i] = uint32(i)
		}
		svc.all = svc.addList(all)
	case s.Policy == PolicyPrefix:
		seen := map[string]int{}
		var lists [][]uint32
		for i, b := range s.Backends {
			for _, m := range b.Match {
				j, ok := seen[m]
				if !ok {
					j = len(lists)
					seen[m] = j
					lists = append(lists, nil)
					svc.prefixes = append(svc.prefixes, prefixRoute{prefix: m})
				}
				if l := lists[j]; len(l) == 0 || l[len(l)-1] != uint32(i) {
					lists[j] = append(l, uint32(i))
				}
			}
		}
		for j := range svc.prefixes {
			svc.prefixes[j].list = svc.addList(lists[j])
		}
	default:
		ib := indexBuilder{lists: make(map[string][]uint32, len(s.Names))}
		for i, b := range s.Backends {
			for _, m := range b.Match {
				ib.add(m, uint32(i))
			}
		}
		for _, r := range s.Names {
			for _, i := range r.Backends {
				ib.add(r.Name, i)
			}
		}
		ib.build(svc)
	}
	if s.Default.IsValid() {
		svc.hasDefault = true
		svc.backends = append(svc.backends, backend{
			ap: s.Default, addr: s.Default.Addr().As16(), port: s.Default.Port(), isDefault: true,
		})
	}
	return svc
}

// addList appends one candidate list to the service's and returns where.
func (s *service) addList(l []uint32) span {
	sp := span{off: uint32(len(s.cands)), n: uint32(len(l))}
	s.cands = append(s.cands, l...)
	return sp
}

// choose picks a backend index for c (step 3). decided is false while the
// held bytes cannot decide yet and force is not set. An index of -1 means
// no backend is left: the client is to be reset. Each call after the
// decision (a failover) hands out the next candidate of the same match;
// the default is not a substitute for a backend that matched.
func (e *Engine) choose(c *conn, force, _ bool) (idx int, decided bool) {
	if !c.pick.decided {
		if !e.decide(c, force) {
			return 0, false
		}
	}
	return e.nextCandidate(c), true
}

// decide sets c's candidate list from its policy and held bytes; it
// returns false while the bytes cannot decide and force is not set.
func (e *Engine) decide(c *conn, force bool) bool {
	svc := c.svc
	p := &c.pick
	switch svc.cfg.Policy {
	case PolicyHash:
		*p = choice{list: svc.all, withDefault: true}
		if svc.all.n > 0 {
			p.start = uint32(e.clientHash(c) % uint64(svc.all.n))
		}
	case PolicyRoundRobin:
		*p = choice{list: svc.all, withDefault: true}
		if svc.all.n > 0 {
			p.start = svc.rr % svc.all.n
			svc.rr++
		}
	case PolicyPrefix:
		*p = choice{withDefault: true}
		for _, r := range svc.prefixes {
			switch l7.MatchPrefix(c.held, r.prefix) {
			case l7.Found:
				*p = choice{list: r.list}
				p.decided = true
				return true
			case l7.NeedMore:
				if !force {
					return false
				}
			}
		}
	case PolicyHTTPHost, PolicySNI:
		var name []byte
		var r l7.Result
		if svc.cfg.Policy == PolicySNI {
			name, r = l7.ServerName(c.held)
		} else {
			name, r = l7.HTTPHost(c.held)
		}
		if r == l7.NeedMore && !force {
			return false
		}
		if r == l7.Found {
			if s, ok := svc.names.lookup(name); ok {
				*p = choice{list: s, decided: true}
				return true
			}
			if svc.dns != nil {
				return e.decideDNS(c, name) // dns.go
			}
		}
		*p = choice{withDefault: true}
	default:
		*p = choice{}
	}
	p.decided = true
	return true
}

// nextCandidate hands out the next backend of c's list, then the default
// when the list allows it, then -1.
func (e *Engine) nextCandidate(c *conn) int {
	svc, p := c.svc, &c.pick
	if p.dyn != nil {
		if p.next < uint32(len(p.dyn)) {
			p.next++
			return int(p.dyn[p.next-1])
		}
		return -1
	}
	if p.next < p.list.n {
		i := (p.start + p.next) % p.list.n
		p.next++
		return int(svc.cands[p.list.off+i])
	}
	if p.withDefault && svc.hasDefault && p.next == p.list.n {
		p.next++
		e.stats.DefaultChosen++
		return len(svc.backends) - 1
	}
	return -1
}

// clientHash hashes the client address alone, so that a client sticks to
// one backend across connections and ports.
func (e *Engine) clientHash(c *conn) uint64 {
	var m [4]byte
	copy(m[:], c.k4.client[:])
	return siphash24(e.isn.k0, e.isn.k1^0x68617368, m[:]) ^ uint64(binary.BigEndian.Uint16(c.k4.vip[2:]))
}
