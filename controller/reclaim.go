package controller

import (
	"context"
	"runtime/debug"
	"sync"
	"time"
)

// After a burst of hostile or broken peers (oversized multipart replies,
// floods of connections in handshake) the heap holds their garbage until
// the next GC, and the runtime returns freed memory to the system only
// slowly: nothing allocates much once they are gone, so the next GC can
// be two minutes away. The reclaimer watches the memory the bounded
// resources may pin and, once a burst has drained, collects and returns
// it at once.
const (
	// reclaimBurst is the pressure (bytes) a burst must have reached.
	reclaimBurst = 32 << 20
	// handshakeBytes is what one connection in handshake may pin:
	// read, frame and write buffers of 64 KiB each and its queues.
	handshakeBytes = 256 << 10
	reclaimEvery   = time.Second
	reclaimMinGap  = 5 * time.Second
)

type reclaimer struct {
	mu   sync.Mutex
	high int64 // highest pressure since the last reclaim
	last time.Time
	free func() // debug.FreeOSMemory; replaced in tests
}

// pressure is the memory the bounded resources hold now.
func (c *Controller) pressure() int64 {
	return c.multipartBytes.Load() + int64(c.inHandshake())*handshakeBytes
}

// notePressure records the pressure after it grew.
func (c *Controller) notePressure() { c.reclaim.raise(c.pressure()) }

func (r *reclaimer) raise(p int64) {
	r.mu.Lock()
	r.high = max(r.high, p)
	r.mu.Unlock()
}

// reclaimLoop returns memory to the system after bursts, until ctx ends.
func (c *Controller) reclaimLoop(ctx context.Context) {
	t := time.NewTicker(reclaimEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			c.maybeReclaim(now)
		}
	}
}

// maybeReclaim frees memory if a burst reached reclaimBurst and has
// drained to a quarter of its height.
func (c *Controller) maybeReclaim(now time.Time) bool {
	p := c.pressure()
	r := &c.reclaim
	r.mu.Lock()
	r.high = max(r.high, p)
	if r.high < reclaimBurst || p*4 > r.high || now.Sub(r.last) < reclaimMinGap {
		r.mu.Unlock()
		return false
	}
	high := r.high
	r.high, r.last = p, now
	free := r.free
	r.mu.Unlock()
	if free == nil {
		free = debug.FreeOSMemory
	}
	start := time.Now()
	free()
	c.log.WithField("burst_bytes", high).WithField("took", time.Since(start).Round(time.Microsecond)).Info("burst drained: memory returned to the system")
	return true
}
