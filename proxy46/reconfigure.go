package proxy46

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/sixgate/sixgate/packet"
)

// Reconfiguration says what Reconfigure did to the connections.
type Reconfiguration struct {
	// Kept counts the connections whose service and backend (if one
	// is chosen yet) the new configuration still has: they go on
	// untouched.
	Kept int
	// Draining counts the connections whose service or backend is
	// gone: they keep working until they close or Timeouts.Drain
	// passes, then are reset towards both ends. Connections already
	// draining are counted again; their deadline does not move.
	Draining int
	// Undrained counts draining connections whose service and backend
	// came back: they are no longer draining.
	Undrained int
	// Redirected counts connections that were opening towards a removed
	// backend: they moved to the next candidate, as on a refusal.
	Redirected int
}

// Reconfigure hands a new configuration to the running engine without
// dropping its connections. Services, limits, timeouts, MTU6 and the
// window scale are taken live:
//
//   - New connections follow the new services at once. Established ones
//     whose service (VIP and port) and backend (address and port) remain
//     go on untouched; the others drain (Reconfiguration.Draining). A
//     connection opening towards a removed backend is reset towards it and
//     moves to the next candidate of the new service, as a refusal would
//     move it. One that has not chosen yet chooses among the new backends.
//   - A lowered MaxConnections or MaxEmbryonic refuses new connections
//     until the count falls under it; nothing is evicted for it.
//   - Timeouts apply to the existing connections from now on: the timers
//     running are moved to the new values.
//   - MTU6, WindowScale and MaxHeldBytes concern the handshakes that
//     follow. Segments from a client that are larger than a lowered MTU6
//     allows get Fragmentation Needed, as on any path whose MTU dropped.
//
// Pool6 cannot change: the backends know the connections by their
// pool6 addresses. The ISN key and the clock stay the engine's own, as
// open connections and SYN cookies depend on them. cfg is checked as New
// checks it; on error nothing changes. Packets the change sends (resets,
// SYNs to the next backend) are appended to out.
func (e *Engine) Reconfigure(cfg Config, out *packet.Batch) (Reconfiguration, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return Reconfiguration{}, err
	}
	cfg.Services = slices.Clone(cfg.Services)
	fresh := make([]*service, len(cfg.Services))
	for i, s := range cfg.Services {
		fresh[i] = newService(s)
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	if cfg.Pool6 != e.cfg.Pool6 {
		return Reconfiguration{}, fmt.Errorf("proxy46: Pool6 %v cannot change to %v on a running engine", e.cfg.Pool6, cfg.Pool6)
	}
	now := e.clock()
	old := e.cfg.Timeouts
	cfg.ISNKey, cfg.Clock = e.cfg.ISNKey, e.cfg.Clock
	if *cfg.WindowScale != *e.cfg.WindowScale {
		e.prevScale, e.scaleGen = *e.cfg.WindowScale, (e.scaleGen+1)&1
	}
	e.cfg = cfg
	prev := e.svcs
	e.installServices(fresh)
	e.retime(old, now)
	var r Reconfiguration
	// The connections not yet spliced are all on the timer list.
	// Collect them first: redirecting one may remove it, which reorders
	// the lists.
	var embryonic []*conn
	for _, c := range e.pending {
		if c.state < StateEstablished {
			embryonic = append(embryonic, c)
		}
	}
	for _, c := range embryonic {
		e.rebind(c, now, &r, out)
	}
	// The spliced ones need a look only if something they may use is
	// gone or some are draining: a reload that adds or changes without
	// removing costs little whatever the size of the table. Draining or
	// keeping one removes nothing, so the table is walked in place.
	if e.stats.Draining > 0 || e.lost(prev) {
		for _, c := range e.all {
			if c.state == StateEstablished {
				e.rebind(c, now, &r, out)
			}
		}
	} else {
		r.Kept += int(e.stats.ByState[StateEstablished])
	}
	e.publishVIPs()
	return r, nil
}

// lost reports whether the services just installed lack something that
// the services prev had and a spliced connection may use: a service, a
// configured backend, or the backends from DNS of a service (their port
// or prefixes changed).
func (e *Engine) lost(prev []*service) bool {
	for _, o := range prev {
		n := e.services[vipKey{o.vip, o.port}]
		if n == nil {
			return true
		}
		if o.dns != nil && (n.dns == nil || n.dns.cfg.Port != o.dns.cfg.Port || !slices.Equal(n.dns.cfg.Prefixes, o.dns.cfg.Prefixes)) {
			return true
		}
		for i := range o.backends {
			if b := &o.backends[i]; !b.dynamic && configuredIndex(n, b.ap) < 0 {
				return true
			}
		}
	}
	return false
}

// SetServices replaces the engine's services and keeps the rest of its
// configuration, as Reconfigure does; packets the change sends are
// appended to out.
func (e *Engine) SetServices(services []Service, out *packet.Batch) (Reconfiguration, error) {
	e.mu.Lock()
	cfg := e.cfg
	e.mu.Unlock()
	cfg.Services = services
	return e.Reconfigure(cfg, out)
}

// installServices makes fresh the engine's services. Counters of the
// backends that stay (same VIP, port, address and default flag) and the
// round-robin positions of the services that stay carry over.
func (e *Engine) installServices(fresh []*service) {
	type backendKey struct {
		svc     vipKey
		backend netip.AddrPort
		def     bool
	}
	old := make(map[backendKey]*backend)
	rr := make(map[vipKey]uint32, len(e.svcs))
	for _, svc := range e.svcs {
		k := vipKey{svc.vip, svc.port}
		rr[k] = svc.rr
		for i := range svc.backends {
			b := &svc.backends[i]
			old[backendKey{k, b.ap, b.isDefault}] = b
		}
	}
	e.services = make(map[vipKey]*service, len(fresh))
	e.svcs = fresh
	for _, svc := range fresh {
		k := vipKey{svc.vip, svc.port}
		svc.rr = rr[k]
		for i := range svc.backends {
			b := &svc.backends[i]
			if o := old[backendKey{k, b.ap, b.isDefault}]; o != nil {
				b.chosen, b.failed = o.chosen, o.failed
			}
		}
		e.services[k] = svc
	}
}

// retime moves the running timers from the old timeouts to the current
// ones, so that a change applies to open connections from now on.
func (e *Engine) retime(old Timeouts, now int64) {
	t := e.cfg.Timeouts
	for _, c := range e.pending {
		switch c.state {
		case StateSynReceived:
			// The timer fires at the next SYN-ACK retransmission or at
			// the embryonic timeout; firing early only retransmits.
			c.deadline = min(c.deadline, c.created+int64(t.Embryonic))
		case StateHolding:
			c.deadline = c.created + int64(t.Embryonic)
		case StateBackendSyn:
			// Likewise: the SYN is sent again, or the backend given up
			// on once Backend has passed.
			c.deadline = min(c.deadline, c.synStarted+int64(t.Backend))
		default:
			// The closed timer, started Closed before its deadline.
			c.deadline += int64(t.Closed - old.Closed)
		}
	}
	if d := int64(t.Drain - old.Drain); d != 0 && e.stats.Draining > 0 {
		e.drainNext = 0
		for _, c := range e.all {
			if c.drainAt != 0 {
				c.drainAt = max(c.drainAt+d, now)
				e.noteDrain(c.drainAt)
			}
		}
	}
}

// rebind sets c against the services just installed.
func (e *Engine) rebind(c *conn, now int64, r *Reconfiguration, out *packet.Batch) {
	svc := e.services[vipKey{c.k4.vip, c.k4.vipPort}]
	switch {
	case c.state == StateClosed:
		// Over already; its timer removes it.
		return
	case c.svc.data:
		// An FTP data connection: its service is its own.
		r.Kept++
		return
	case svc == nil:
		// The service is gone: the connection goes on with the
		// old one's settings while it drains.
		e.drain(c, now, true)
		r.Draining++
		return
	}
	e.unorphan(c) // if its service had gone, it is back
	e.rebindLive(c, svc, now, r, out)
}

// rebindLive sets c against svc, the new form of its service.
func (e *Engine) rebindLive(c *conn, svc *service, now int64, r *Reconfiguration, out *packet.Batch) {
	switch {
	case c.backend < 0:
		// No backend yet: it chooses among the new ones, unless a DNS
		// answer for the old service is awaited.
		if !c.pick.waiting {
			c.svc = svc
		}
	case c.state == StateBackendSyn:
		if !e.follow(c, svc) {
			e.redirect(c, svc, out)
			r.Redirected++
			return
		}
	case !hasBackend(svc, c):
		if c.drainAt == 0 {
			e.drain(c, now, false)
		}
		r.Draining++
		return
	}
	if c.drainAt != 0 {
		e.undrain(c)
		r.Undrained++
	}
	r.Kept++
}

// hasBackend reports whether svc still serves c's backend: a configured
// backend with its address and port, or, for a backend that came from
// DNS, a service that still takes such addresses from DNS.
func hasBackend(svc *service, c *conn) bool {
	b := &c.svc.backends[c.backend]
	if b.dynamic {
		return svc.dns != nil && svc.dns.cfg.Port == b.port && svc.dns.cfg.inPrefixes(b.ap.Addr())
	}
	return configuredIndex(svc, b.ap) >= 0
}

// configuredIndex is the index in svc.backends of the configured backend
// (or default) at ap, or -1. Services with many backends get an index by
// address on first use; the configured backends never change, and those
// from DNS come after them.
func configuredIndex(svc *service, ap netip.AddrPort) int {
	const scanUpTo = 8
	if len(svc.backends) <= scanUpTo {
		for i := range svc.backends {
			if b := &svc.backends[i]; !b.dynamic && b.ap == ap {
				return i
			}
		}
		return -1
	}
	if svc.byAddr == nil {
		svc.byAddr = make(map[netip.AddrPort]int, len(svc.backends))
		for i := range svc.backends {
			b := &svc.backends[i]
			if _, dup := svc.byAddr[b.ap]; !dup && !b.dynamic {
				svc.byAddr[b.ap] = i
			}
		}
	}
	if i, ok := svc.byAddr[ap]; ok {
		return i
	}
	return -1
}

// follow moves a connection opening towards a backend onto svc, the new
// form of its service, if svc still has that backend: later failovers
// then take svc's candidates, from the one after it. It reports false
// when the backend is gone. A connection of a service with backends from
// DNS stays with the old service's candidates.
func (e *Engine) follow(c *conn, svc *service) bool {
	if c.svc.backends[c.backend].dynamic || svc.dns != nil || c.svc.dns != nil {
		return hasBackend(svc, c)
	}
	idx := configuredIndex(svc, c.svc.backends[c.backend].ap)
	if idx < 0 {
		return false
	}
	c.svc, c.backend = svc, idx
	c.pick = choice{}
	e.decide(c, true)
	p := &c.pick
	for j := uint32(0); j < p.list.n; j++ {
		if int(svc.cands[p.list.off+(p.start+j)%p.list.n]) == idx {
			p.next = j + 1
			return true
		}
	}
	if svc.backends[idx].isDefault {
		p.next = p.list.n + 1 // the default, tried last, is being tried
	}
	return true
}

// redirect moves a connection opening towards a removed backend to the
// next candidate of svc, the new form of its service: the backend is
// reset, as after its timeout, and the choice made again on the held
// bytes, as after a refusal.
func (e *Engine) redirect(c *conn, svc *service, out *packet.Batch) {
	e.resetBackend(c, out)
	if e.by6[c.k6] == c {
		delete(e.by6, c.k6)
	}
	c.svc, c.backend, c.pick = svc, -1, choice{}
	e.setState(c, StateHolding)
	idx, decided := e.choose(c, true, true)
	if !decided {
		return // waiting for DNS, which the embryonic timer bounds
	}
	if idx < 0 {
		e.stats.NoBackend++
		e.resetClient(c, out)
		e.remove(c)
		return
	}
	e.stats.Failovers++
	e.openBackend(c, idx, out)
}

// drain starts c's drain. orphan says its service is gone, so that its
// VIP and port stay with the engine until the drain ends.
func (e *Engine) drain(c *conn, now int64, orphan bool) {
	e.drainAt(c, now+int64(e.cfg.Timeouts.Drain), orphan)
}

// drainAt starts c's drain with its deadline at, unless it drains already.
func (e *Engine) drainAt(c *conn, at int64, orphan bool) {
	if c.drainAt == 0 {
		c.drainAt = at
		e.stats.Draining++
		e.noteDrain(c.drainAt)
	}
	if orphan && !c.orphan {
		c.orphan = true
		e.orphans[vipKey{c.k4.vip, c.k4.vipPort}]++
		e.vipsStale = true
	}
}

// unorphan forgets that c's service is gone: it came back, or c's drain
// ended.
func (e *Engine) unorphan(c *conn) {
	if !c.orphan {
		return
	}
	c.orphan = false
	k := vipKey{c.k4.vip, c.k4.vipPort}
	if e.orphans[k]--; e.orphans[k] <= 0 {
		delete(e.orphans, k)
		e.vipsStale = true
	}
}

// noteDrain keeps drainNext the earliest deadline.
func (e *Engine) noteDrain(at int64) {
	if e.drainNext == 0 || at < e.drainNext {
		e.drainNext = at
	}
}

// undrain ends c's drain, if it is draining: it closed, was reset, or its
// service and backend came back.
func (e *Engine) undrain(c *conn) {
	if c.drainAt == 0 {
		return
	}
	c.drainAt = 0
	e.stats.Draining--
	e.unorphan(c)
}

// expireDrains resets the connections whose drain deadline passed
// towards both ends. It scans the table only when the earliest deadline
// is due, which happens once per reload that started a drain.
func (e *Engine) expireDrains(now int64, out *packet.Batch) {
	if e.drainNext == 0 || now < e.drainNext {
		return
	}
	e.drainNext = 0
	var due []*conn
	for _, c := range e.all {
		switch {
		case c.drainAt == 0:
		case now >= c.drainAt:
			due = append(due, c)
		default:
			e.noteDrain(c.drainAt)
		}
	}
	for _, c := range due {
		if c.state == StateClosed {
			e.undrain(c) // closed meanwhile: its own timer removes it
			continue
		}
		e.abortBoth(c, out)
		e.stats.Drained++
		e.remove(c)
	}
}

// abortBoth resets a connection towards whichever ends know of it.
func (e *Engine) abortBoth(c *conn, out *packet.Batch) {
	switch c.state {
	case StateSynReceived, StateHolding:
		e.resetClient(c, out)
	case StateBackendSyn:
		e.resetBackend(c, out)
		e.resetClient(c, out)
	default:
		e.abortClient(c, out)
		e.abortBackend(c, out)
	}
}

// abortBackend resets a spliced connection towards its backend, from the
// client's pool6 address. As abortClient does for the client, it sends
// the sequence number the backend acknowledged last and, if the client
// sent more since, the end of that.
func (e *Engine) abortBackend(c *conn, out *packet.Batch) {
	seqs := [2]uint32{c.ackB, c.sndNxtC}
	n := 1
	if seqs[1] != seqs[0] {
		n = 2
	}
	for _, seq := range seqs[:n] {
		s := segment{srcPort: c.k6.clientPort, dstPort: c.k6.backendPort, seq: seq, flags: packet.TCPFlagRST}
		e.emit6(out, c.k6.client6, c.k6.backend, &s)
		e.stats.BackendResets++
	}
}

// publishVIPs stores the addresses the engine answers for: its services'
// and those of services removed while connections to them drain.
func (e *Engine) publishVIPs() {
	vips := make(map[[4]byte]bool, len(e.svcs)+len(e.orphans))
	for _, svc := range e.svcs {
		vips[svc.vip] = true
	}
	for k := range e.orphans {
		vips[k.vip] = true
	}
	e.vips.Store(&vips)
	e.vipsStale = false
}

// Orphans returns the VIPs and ports of removed services that draining
// connections still use, so that the traffic to them still reaches the
// engine until their drain ends.
func (e *Engine) Orphans() []netip.AddrPort {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]netip.AddrPort, 0, len(e.orphans))
	for k := range e.orphans {
		out = append(out, netip.AddrPortFrom(netip.AddrFrom4(k.vip), k.port))
	}
	slices.SortFunc(out, func(a, b netip.AddrPort) int { return a.Compare(b) })
	return out
}

// Drains returns the number of connections draining now and of those
// reset so far because their drain ran out.
func (e *Engine) Drains() (draining int, drained uint64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return int(e.stats.Draining), e.stats.Drained
}
