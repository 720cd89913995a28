package proxy46

import "github.com/sixgate/sixgate/packet"

// Expire runs the engine's timers at the injected clock's current time and
// appends any packets they produce (SYN retransmissions, resets) to out.
// Call it periodically; every few hundred milliseconds suits the default
// timeouts. Connections with a running state timer are examined on every
// call; established ones are swept for idleness at most ExpireBudget at a
// time, so a huge table costs a bounded amount per call.
func (e *Engine) Expire(out *packet.Batch) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.clock()
	for i := 0; i < len(e.pending); {
		c := e.pending[i]
		if now >= c.deadline {
			e.fire(c, now, out)
		}
		if i < len(e.pending) && e.pending[i] == c {
			i++
		}
	}
	e.expireDrains(now, out) // reconfigure.go
	e.expireFTP(now, out)    // ftp.go
	if e.vipsStale {
		e.publishVIPs()
	}
	idle, transitory := int64(e.cfg.Timeouts.Idle), int64(e.cfg.Timeouts.Transitory)
	for n := min(e.cfg.ExpireBudget, len(e.all)); n > 0 && len(e.all) > 0; n-- {
		if e.sweep >= len(e.all) {
			e.sweep = 0
		}
		c := e.all[e.sweep]
		if c.state == StateEstablished {
			half := c.finClient || c.finBackend
			if half && now-c.lastSeen >= transitory {
				e.stats.TransitoryExpired++
				e.remove(c) // the last entry moved to sweep: look at it next
				continue
			}
			if now-c.lastSeen >= idle {
				e.stats.IdleExpired++
				e.remove(c)
				continue
			}
		}
		e.sweep++
	}
}

// fire handles a connection whose state timer ran out.
func (e *Engine) fire(c *conn, now int64, out *packet.Batch) {
	switch c.state {
	case StateSynReceived:
		e.synAckTimer(c, now, out)
	case StateHolding:
		// The first bytes did not decide in time: a default backend
		// takes the connection, as it would for a server-speaks-first
		// protocol behind an L7 policy; without one the client is reset.
		// A forced choice always decides, and removes the connection
		// itself when it resets the client.
		e.stats.EmbryonicExpired++
		e.tryChoose(c, true, out)
	case StateBackendSyn:
		if c.fromBackend {
			// An active-mode data connection the client did not
			// answer in time.
			e.stats.EmbryonicExpired++
			e.remove(c)
			return
		}
		if now-c.synStarted >= int64(e.cfg.Timeouts.Backend) {
			e.stats.BackendTimeouts++
			e.resetBackend(c, out)
			e.failover(c, out)
			return
		}
		e.stats.BackendSynRetries++
		e.sendBackendSyn(c, out)
	case StateEstablished:
		if c.rstFrom == rstNone {
			e.unschedule(c)
			return
		}
		// A RST that was not exact and that the other side did not
		// answer: the receiver took it.
		e.stats.ClosedExpired++
		e.remove(c)
	case StateClosed:
		e.stats.ClosedExpired++
		e.remove(c)
	default:
		e.unschedule(c)
	}
}
