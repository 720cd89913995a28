package splice46

import (
	"context"
	"encoding/binary"
	"net"
	"sync/atomic"
	"time"

	"github.com/sixgate/sixgate/afpacket"
	"github.com/sixgate/sixgate/packet"
	"github.com/sixgate/sixgate/topo"
)

// Port mode: the flows steer spliced traffic to engine ports, and these
// workers read it from the Linux interfaces cabled to them, run it through
// the engine and write what the engine produces back into the same
// interface. The switch then forwards it by destination MAC like any
// host's traffic (the neighbor app's flows), so the workers only need the
// MAC of the host that owns each destination address.

const (
	ethHeaderLen = 14
	// pollEvery bounds how long a worker sleeps in poll, so that it sees
	// a cancelled context soon.
	pollEvery = 100 * time.Millisecond
	// flushAt sends the output gathered so far once a receive batch has
	// produced this many packets, so that a burst does not wait for the
	// end of a whole ring block.
	flushAt = 64
)

// portIO is the port data path: one socket group per engine interface
// and a worker per socket, plus a sending socket for the timers' output.
type portIO struct {
	groups  []*afpacket.Group
	workers []*portWorker
	timer   *portWorker
}

// portWorker runs the engine on one socket. Only its own goroutine
// touches it, except the counters, which the collector reads.
type portWorker struct {
	a     *App
	iface string
	index int // the interface index the socket is bound to
	sock  *afpacket.Socket
	out   *packet.Batch
	heads [][ethHeaderLen]byte // one Ethernet header per queued packet
	st    *state               // loaded once per receive batch
	frame func([]byte)         // w.handle, bound once so Receive gets no new closure
	stats portCounters
}

// portCounters are per worker so that workers on different cores do not
// share a cache line for every packet.
type portCounters struct {
	notIP   counter // not IPv4 or IPv6
	pass    counter // IP but not for the engine
	noRoute counter // engine output to an address no host owns
	_       [64]byte
}

// startPorts opens the engine interfaces and starts the workers; they run
// until ctx is done, and then the sockets are closed.
func (a *App) startPorts(ctx context.Context) error {
	st := a.state.Load()
	pio := &portIO{}
	for _, p := range st.topo.Splice46.Ports {
		g, err := afpacket.Open(afpacket.Config{Interface: p.Interface, Promiscuous: true, NoRing: !p.Ring})
		if err != nil {
			pio.close()
			return err
		}
		pio.groups = append(pio.groups, g)
		io := "tpacket_v3"
		if g.Fallback != nil {
			io = "recvmmsg"
			if p.Ring {
				a.log.WithError(g.Fallback).WithField("interface", p.Interface).Warn("engine port without a receive ring: using recvmmsg")
			}
		}
		a.log.WithFields(map[string]any{"interface": p.Interface, "switch": p.Switch, "port": p.Port,
			"workers": len(g.Sockets()), "io": io}).Info("engine port open")
		for _, s := range g.Sockets() {
			pio.workers = append(pio.workers, a.newPortWorker(p, g.Index, s))
		}
	}
	// The timers' output (SYN retransmissions, resets, failover) leaves by
	// the first engine port; the switch forwards it by MAC from any.
	ts, err := afpacket.OpenSender(st.topo.Splice46.Ports[0].Interface, afpacket.DefaultBatch)
	if err != nil {
		pio.close()
		return err
	}
	pio.timer = a.newPortWorker(st.topo.Splice46.Ports[0], pio.groups[0].Index, ts)
	a.ports.Store(pio)

	done := make(chan struct{}, len(pio.workers)+1)
	for _, w := range pio.workers {
		go func() { w.run(ctx); done <- struct{}{} }()
	}
	go func() {
		pio.timer.expireLoop(ctx)
		done <- struct{}{}
	}()
	go func() {
		for range len(pio.workers) + 1 {
			<-done
		}
		pio.close()
	}()
	return nil
}

func (p *portIO) close() {
	for _, g := range p.groups {
		g.Close()
	}
	if p.timer != nil {
		p.timer.sock.Close()
	}
}

func (a *App) newPortWorker(p *topo.EnginePort, index int, s *afpacket.Socket) *portWorker {
	w := &portWorker{a: a, iface: p.Interface, index: index, sock: s, out: packet.NewBatch(flushAt, 2048),
		heads: make([][ethHeaderLen]byte, flushAt)}
	w.frame = w.handle
	return w
}

// run receives until ctx is done. A socket error (the interface is down)
// is logged and retried after a pause while the other workers go on. A
// socket stays bound to the interface index it was opened on: an interface
// deleted and created again under the same name is a new one, which only a
// restart attaches, and the log says so.
func (w *portWorker) run(ctx context.Context) {
	log := w.a.log.WithField("interface", w.iface)
	failing := false
	for ctx.Err() == nil {
		w.st = w.a.state.Load()
		_, err := w.sock.Receive(pollEvery, w.frame)
		w.flush()
		switch {
		case err != nil && !failing:
			failing = true
			if ifi, e := net.InterfaceByName(w.iface); e == nil && ifi.Index != w.index {
				log.WithError(err).Error("engine port interface was recreated; restart sixgate to attach the new one")
			} else {
				log.WithError(err).Error("engine port receive failed; retrying")
			}
			fallthrough
		case err != nil:
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		case failing:
			log.Info("engine port receiving again")
			failing = false
		}
	}
}

// handle runs one frame through the engine; the output is sent when the
// batch is full and after every receive batch.
func (w *portWorker) handle(frame []byte) {
	if len(frame) < ethHeaderLen {
		w.stats.notIP.inc()
		return
	}
	switch binary.BigEndian.Uint16(frame[12:14]) {
	case etherIPv4, etherIPv6:
	default:
		w.stats.notIP.inc()
		return
	}
	if w.st.engine.Handle(frame[ethHeaderLen:], w.out) == packet.Pass {
		w.stats.pass.inc()
	}
	if w.out.Len() >= flushAt {
		w.flush()
	}
}

// flush sends the engine's output gathered so far, each packet in an
// Ethernet frame from splice46.mac to the host that owns its destination.
func (w *portWorker) flush() {
	if w.out.Len() == 0 {
		return
	}
	t := w.st.topo
	if n := w.out.Len(); n > len(w.heads) {
		// A replay of many held segments: grow once, keep it.
		w.heads = append(w.heads, make([][ethHeaderLen]byte, n-len(w.heads))...)
	}
	for i := range w.out.Packets {
		p := &w.out.Packets[i]
		h, ok := t.HostByAddr(p.Dst)
		if !ok {
			w.stats.noRoute.inc()
			continue
		}
		head := &w.heads[i]
		copy(head[0:6], h.MAC)
		copy(head[6:12], t.Splice46.MAC)
		et := uint16(etherIPv4)
		if p.Family == packet.IPv6Family {
			et = etherIPv6
		}
		binary.BigEndian.PutUint16(head[12:14], et)
		if !w.sock.Queue(head[:], p.Data) {
			w.send()
			w.sock.Queue(head[:], p.Data)
		}
	}
	w.send()
	w.out.Reset()
}

// send flushes the socket. A refused frame is lost as it would be on a
// congested link; the counters say so and the TCP endpoints retransmit.
func (w *portWorker) send() {
	if w.sock.Queued() > 0 {
		w.sock.Flush()
	}
}

// expireLoop runs the engine's timers and sends their output through the
// worker's socket.
func (w *portWorker) expireLoop(ctx context.Context) {
	t := time.NewTicker(expireEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.st = w.a.state.Load()
			w.st.engine.Expire(w.out)
			w.flush()
		}
	}
}

// PortStats are the port data path's counters for one engine interface.
type PortStats struct {
	Interface string
	afpacket.Stats
	NotIP, Pass, NoRoute uint64
}

// PortStats returns the counters of every engine interface, or nil in
// controller mode.
func (a *App) PortStats() []PortStats {
	pio := a.ports.Load()
	if pio == nil {
		return nil
	}
	var out []PortStats
	index := map[string]int{}
	for _, w := range append(pio.workers, pio.timer) {
		i, ok := index[w.iface]
		if !ok {
			i = len(out)
			index[w.iface] = i
			out = append(out, PortStats{Interface: w.iface})
		}
		s, o := w.sock.Stats(), &out[i]
		o.Received += s.Received
		o.Sent += s.Sent
		o.Truncated += s.Truncated
		o.SendErrors += s.SendErrors
		o.KernelPackets += s.KernelPackets
		o.KernelDrops += s.KernelDrops
		o.RingFull += s.RingFull
		o.NotIP += w.stats.notIP.load()
		o.Pass += w.stats.pass.load()
		o.NoRoute += w.stats.noRoute.load()
	}
	return out
}

// counter is a packet counter that one goroutine adds to and others read.
type counter struct{ v atomic.Uint64 }

func (c *counter) inc()         { c.v.Add(1) }
func (c *counter) load() uint64 { return c.v.Load() }
