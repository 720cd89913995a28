package proxy46

import (
	"encoding/binary"

	"github.com/sixgate/sixgate/proxy46/l7"
)

// choose picks a backend index for c (step 3). decided is false while the
// held bytes cannot decide yet and force is not set. An index of -1 means
// no backend is left: the client is to be reset. Backends already tried
// are skipped; on failover the default is not a substitute for a backend
// that matched.
func (e *Engine) choose(c *conn, force, failover bool) (idx int, decided bool) {
	svc := c.svc
	switch svc.cfg.Policy {
	case PolicyHash:
		return e.pickFrom(c, int(e.clientHash(c)%uint64(max(svc.configured(), 1)))), true
	case PolicyRoundRobin:
		start := 0
		if n := svc.configured(); n > 0 {
			start = int(svc.rr % uint32(n))
			svc.rr++
		}
		return e.pickFrom(c, start), true
	case PolicyPrefix:
		for i := range svc.backends[:svc.configured()] {
			b := &svc.backends[i]
			for _, m := range b.match {
				switch l7.MatchPrefix(c.held, m) {
				case l7.Found:
					if c.tried&(1<<i) == 0 {
						return i, true
					}
				case l7.NeedMore:
					if !force {
						return 0, false
					}
				}
			}
		}
		return e.fallback(c, failover), true
	case PolicyHTTPHost, PolicySNI:
		var name []byte
		var r l7.Result
		if svc.cfg.Policy == PolicySNI {
			name, r = l7.ServerName(c.held)
		} else {
			name, r = l7.HTTPHost(c.held)
		}
		if r == l7.NeedMore && !force {
			return 0, false
		}
		if r == l7.Found {
			for i := range svc.backends[:svc.configured()] {
				if c.tried&(1<<i) != 0 {
					continue
				}
				for _, m := range svc.backends[i].match {
					if l7.MatchName(name, m) {
						return i, true
					}
				}
			}
			if anyNameMatch(svc, name) {
				// Every backend for this name was tried.
				return -1, true
			}
		}
		return e.fallback(c, failover), true
	}
	return -1, true
}

// pickFrom takes the first untried backend from start on, wrapping, the
// default last. L4 policies treat the default as one more backend.
func (e *Engine) pickFrom(c *conn, start int) int {
	n := c.svc.configured()
	for j := 0; j < n; j++ {
		i := (start + j) % n
		if c.tried&(1<<i) == 0 {
			return i
		}
	}
	if c.svc.hasDefault && c.tried&(1<<n) == 0 {
		e.stats.DefaultChosen++
		return n
	}
	return -1
}

// fallback returns the default backend for bytes that matched nothing.
func (e *Engine) fallback(c *conn, failover bool) int {
	n := c.svc.configured()
	if failover || !c.svc.hasDefault || c.tried&(1<<n) != 0 {
		return -1
	}
	e.stats.DefaultChosen++
	return n
}

func anyNameMatch(svc *service, name []byte) bool {
	for _, b := range svc.backends[:svc.configured()] {
		for _, m := range b.match {
			if l7.MatchName(name, m) {
				return true
			}
		}
	}
	return false
}

// configured is the number of backends before the default.
func (s *service) configured() int {
	if s.hasDefault {
		return len(s.backends) - 1
	}
	return len(s.backends)
}

// clientHash hashes the client address alone, so that a client sticks to
// one backend across connections and ports.
func (e *Engine) clientHash(c *conn) uint64 {
	var m [4]byte
	copy(m[:], c.k4.client[:])
	return siphash24(e.isn.k0, e.isn.k1^0x68617368, m[:]) ^ uint64(binary.BigEndian.Uint16(c.k4.vip[2:]))
}
