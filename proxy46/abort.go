package proxy46

import (
	"net/netip"

	"github.com/sixgate/sixgate/packet"
)

// BackendDown tells the engine that the backend host at addr is gone (its
// switch port went down, say). Connections still opening towards it fail
// over to the next backend for their match, as a refusal would; spliced
// ones are reset towards their clients, which would otherwise wait for a
// host that will never answer. It returns the number of connections
// affected; the packets to send are appended to out.
func (e *Engine) BackendDown(addr netip.Addr, out *packet.Batch) int {
	if !addr.Is6() {
		return 0
	}
	a := addr.As16()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.clock()
	// Collect first: failover and remove reorder e.all.
	var hit []*conn
	for _, c := range e.all {
		if c.backend >= 0 && c.k6.backend == a && c.state != StateClosed {
			hit = append(hit, c)
		}
	}
	for _, c := range hit {
		switch c.state {
		case StateBackendSyn:
			e.stats.BackendTimeouts++
			e.failover(c, out)
		default:
			e.abortClient(c, out)
			e.stats.BackendLost++
			e.remove(c)
		}
	}
	return len(hit)
}

// abortClient resets a spliced connection towards its client. A client
// only honours a reset whose sequence number is exactly the next one it
// expects (RFC 5961), which is what it last acknowledged once the backend
// has stopped sending; the end of what the backend sent is tried too, for
// a client that had not yet acknowledged all of it.
func (e *Engine) abortClient(c *conn, out *packet.Batch) {
	seqs := [2]uint32{c.ackC, c.sndNxtB - c.seqShift}
	n := 1
	if seqs[1] != seqs[0] {
		n = 2
	}
	for _, seq := range seqs[:n] {
		s := segment{srcPort: c.k4.vipPort, dstPort: c.k4.clientPort, seq: seq, flags: packet.TCPFlagRST}
		e.emit4(out, c.k4.vip, c.k4.client, &s)
		e.stats.ClientResets++
	}
}
