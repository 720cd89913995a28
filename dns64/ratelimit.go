package dns64

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// limiter holds a token bucket per client in a bounded table.
type limiter struct {
	on         atomic.Bool // rate is not 0: read without the lock
	mu         sync.Mutex
	rate       float64 // tokens per second; 0: no limit
	burst      float64
	maxClients int
	clients    map[netip.Addr]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter() *limiter {
	return &limiter{clients: map[netip.Addr]*bucket{}}
}

// configure sets the rate; buckets already kept stay as they are, capped
// at the new burst.
func (l *limiter) configure(rate float64, burst, maxClients int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rate, l.burst, l.maxClients = rate, float64(burst), maxClients
	l.on.Store(rate != 0)
	if rate == 0 {
		clear(l.clients)
	}
}

// allow takes a token from client's bucket.
func (l *limiter) allow(client netip.Addr, now time.Time) bool {
	if !l.on.Load() {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rate == 0 {
		return true
	}
	b, ok := l.clients[client]
	if !ok {
		if len(l.clients) >= l.maxClients {
			l.evict(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.clients[client] = b
	}
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(l.burst, b.tokens+d.Seconds()*l.rate)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// evict makes room for one client. It looks at a few entries (Go's map
// order is random) and removes one whose bucket has refilled, which
// forgets nothing, or else the first seen: a flood of forged sources
// cannot pin a real client's empty bucket in place for long, nor grow the
// table.
func (l *limiter) evict(now time.Time) {
	const sample = 8
	var victim netip.Addr
	n := 0
	for k, b := range l.clients {
		if n == 0 {
			victim = k
		}
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			victim = k
			break
		}
		if n++; n == sample {
			break
		}
	}
	delete(l.clients, victim)
}
