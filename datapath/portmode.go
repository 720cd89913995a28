package datapath

import (
	"context"
	"net"
	"net/netip"
	"time"

	"github.com/sixgate/sixgate/afpacket"
	"github.com/sixgate/sixgate/packet"
	"github.com/sixgate/sixgate/topo"
)

// Port mode: the flows steer the engine's traffic to engine ports, and
// these workers read it from the Linux interfaces cabled to them, run it
// through the engine and write what the engine produces back into the
// same interface. The switch then forwards it by destination MAC like any
// host's traffic, so the workers only need the MAC of the host that owns
// each destination address.

const (
	// pollEvery bounds how long a worker sleeps in poll, so that it sees
	// a cancelled context soon, and so that a hand-over (Quiesce), which
	// waits for the receive in hand, stops the data path only briefly.
	pollEvery = 20 * time.Millisecond
	// flushAt sends the output gathered so far once a receive batch has
	// produced this many packets, so that a burst does not wait for the
	// end of a whole ring block.
	flushAt = 64
	// retryAfter is the pause after a failed receive (the interface is
	// down) before the next try.
	retryAfter = time.Second
)

// Socket is one socket of an engine port, as afpacket.Socket provides it.
// A socket is used by one goroutine at a time, except Stats.
type Socket interface {
	// Serve receives for timeout, calling frame for each frame and
	// batch after each batch of frames.
	Serve(timeout time.Duration, frame func([]byte), batch func()) (int, error)
	// Queue adds a frame (head then body) to the send batch, reporting
	// false when the batch is full; both slices stay untouched until
	// Flush returns.
	Queue(head, body []byte) bool
	Queued() int
	Flush() (int, error)
	Stats() afpacket.Stats
	// VnetHdr reports whether every frame in and out starts with a
	// struct virtio_net_hdr (segment offload).
	VnetHdr() bool
}

// PortIO is an engine port's sockets: receivers, one worker each, and a
// sender for the timer's output.
type PortIO interface {
	Receivers() []Socket
	Sender() Socket
	// Kind names the receive method for the log ("tpacket_v3",
	// "recvmmsg", ...).
	Kind() string
	// Index is the interface index the sockets are bound to, 0 if none.
	Index() int
	Close() error
}

// portIO is the port data path: a PortIO per engine port and a worker
// per receiving socket, plus one per port for the timer's output.
type portIO struct {
	ports   []PortIO
	workers []*worker
	timers  []*worker
}

// worker runs the engine on one socket. Only its own goroutine touches
// it, except the counters, which collectors read.
type worker struct {
	p     *Path
	iface string
	index int
	sock  Socket
	out   *packet.Batch
	heads [][headRoom]byte // a virtio_net_hdr and an Ethernet header per queued packet
	v     *view            // loaded once per receive batch
	frame func([]byte)     // w.handle, bound once so Serve gets no new closure
	batch func()           // w.batchDone, likewise
	// vnet: the socket's frames start with a virtio_net_hdr (offload.go).
	vnet bool
	// soft holds the segments of a received super-packet cut in
	// software, cutOut the output of a socket without offload.
	soft, cutOut *packet.Batch
	stats        workerCounters
}

// headRoom is what goes in front of a packet: a virtio_net_hdr, with
// offload, and the Ethernet header.
const headRoom = packet.VirtioNetHdrLen + packet.EthernetHeaderLen

// startPorts opens the engine ports and starts the workers; they run
// until ctx is done, and then the sockets are closed.
func (p *Path) startPorts(ctx context.Context) error {
	open := p.cfg.OpenPort
	if open == nil {
		steer := clientSteering(p.cfg.ClientPool6)
		open = func(ep *topo.EnginePort) (PortIO, error) { return openAFPacket(ep, steer) }
	}
	pio := &portIO{}
	defer p.closeAdopted()
	for _, ep := range p.cfg.Ports {
		io := p.takeAdopted(ep)
		var err error
		if io == nil {
			io, err = open(ep)
		} else {
			p.log.WithField("interface", ep.Interface).Info("engine port sockets taken over from the previous process")
		}
		if err == nil {
			err = setOffload(io, ep)
		}
		if err != nil {
			pio.close()
			return err
		}
		pio.ports = append(pio.ports, io)
		if ep.Ring && io.Kind() != "tpacket_v3" {
			p.log.WithField("interface", ep.Interface).Warn("engine port without a receive ring: using " + io.Kind())
		}
		p.log.WithFields(map[string]any{"interface": ep.Interface, "switch": ep.Switch, "port": ep.Port,
			"workers": len(io.Receivers()), "io": io.Kind()}).Info("engine port open")
		for _, s := range io.Receivers() {
			pio.workers = append(pio.workers, p.newWorker(ep.Interface, io.Index(), s))
		}
	}
	// The timer's output (SYN retransmissions, resets, failover) leaves
	// by the first engine port that takes it; the switch forwards it by
	// MAC from any.
	for i, io := range pio.ports {
		pio.timers = append(pio.timers, p.newWorker(p.cfg.Ports[i].Interface, io.Index(), io.Sender()))
	}
	p.ports.Store(pio)

	done := make(chan struct{}, len(pio.workers)+1)
	for _, w := range pio.workers {
		go func() { w.run(ctx); done <- struct{}{} }()
	}
	go func() {
		p.tick(ctx, pio.sendTimer)
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

func (pio *portIO) close() {
	for _, io := range pio.ports {
		io.Close()
	}
}

func (p *Path) newWorker(iface string, index int, s Socket) *worker {
	w := &worker{p: p, iface: iface, index: index, sock: s, out: packet.NewBatch(flushAt, packet.DefaultBufSize),
		heads: make([][headRoom]byte, flushAt), vnet: s.VnetHdr(), soft: packet.NewBatch(0, 0)}
	w.frame, w.batch = w.handle, w.batchDone
	return w
}

// run receives until ctx is done. A socket error (the interface is down)
// is logged and retried after a pause while the other workers go on. A
// socket stays bound to the interface index it was opened on: an interface
// deleted and created again under the same name is a new one, which only a
// restart attaches, and the log says so.
func (w *worker) run(ctx context.Context) {
	log := w.p.log.WithField("interface", w.iface)
	failing := false
	for ctx.Err() == nil {
		if !w.p.enter() {
			w.p.waitThaw(ctx)
			continue
		}
		w.v = w.p.view.Load()
		_, err := w.sock.Serve(pollEvery, w.frame, w.batch)
		w.flush()
		w.p.leave()
		switch {
		case err != nil && !failing:
			failing = true
			if ifi, e := net.InterfaceByName(w.iface); e == nil && w.index != 0 && ifi.Index != w.index {
				log.WithError(err).Error("engine port interface was recreated; restart sixgate to attach the new one")
			} else {
				log.WithError(err).Error("engine port receive failed; retrying")
			}
			fallthrough
		case err != nil:
			select {
			case <-ctx.Done():
			case <-time.After(retryAfter):
			}
		case failing:
			log.Info("engine port receiving again")
			failing = false
		}
	}
}

// batchDone sends the output of a receive batch and takes the view the
// next batch will use (a reload or a link change may have replaced it).
func (w *worker) batchDone() {
	w.flush()
	w.v = w.p.view.Load()
}

// handle runs one frame through the engine; the output is sent when the
// batch is full and after every receive batch.
func (w *worker) handle(frame []byte) {
	if w.vnet {
		h, err := packet.DecodeVirtioNetHdr(frame)
		if err != nil {
			w.stats.notIP.inc()
			return
		}
		frame = frame[packet.VirtioNetHdrLen:]
		if h.GSOType != packet.VirtioGSONone || h.Flags&packet.VirtioNeedsCsum != 0 {
			w.handleOffloaded(&h, frame)
			return
		}
	}
	w.handleFrame(frame)
}

// handleFrame runs one Ethernet frame through the engine.
func (w *worker) handleFrame(frame []byte) {
	eth := packet.Ethernet(frame)
	if !eth.IsValid() {
		w.stats.notIP.inc()
		return
	}
	switch eth.Type() {
	case packet.EtherTypeIPv4, packet.EtherTypeIPv6:
	default:
		w.stats.notIP.inc()
		return
	}
	if w.v.Engine.Handle(eth.Payload(), w.out) == packet.Pass {
		w.stats.pass.inc()
	}
	if w.out.Len() >= flushAt {
		w.flush()
	}
}

// sendTimer sends b (the timer's output) by the first engine port whose
// socket takes any of it: one whose link is down refuses every frame
// (ENETDOWN), and the output must not wait for that link to come back.
func (pio *portIO) sendTimer(b *packet.Batch) {
	for _, w := range pio.timers {
		if sent, err := w.send(b); sent > 0 || err == nil {
			return
		}
	}
}

// send sends b through the worker's socket and returns how many frames
// the socket took and its first error.
func (w *worker) send(b *packet.Batch) (int, error) {
	w.v = w.p.view.Load()
	return w.write(b)
}

// flush sends the engine's output gathered so far. A refused frame is
// counted by the socket (Stats) and lost, as on a congested link.
func (w *worker) flush() {
	w.write(w.out)
	w.out.Reset()
}

// write queues each packet of b in an Ethernet frame from the path's MAC
// to the host that owns its destination, and flushes the socket. A
// refused frame is lost as it would be on a congested link; the counters
// say so and the endpoints retransmit.
func (w *worker) write(b *packet.Batch) (int, error) {
	if b.Len() == 0 {
		return 0, nil
	}
	if !w.vnet && hasSuper(b) {
		b = w.cut(b)
	}
	if n := b.Len(); n > len(w.heads) {
		// A replay of many held segments: grow once, keep it.
		w.heads = append(w.heads, make([][headRoom]byte, n-len(w.heads))...)
	}
	sent, first := 0, error(nil)
	leases := w.p.leases.Load()
	for i := range b.Packets {
		o := &b.Packets[i]
		head := w.heads[i][packet.VirtioNetHdrLen:]
		if _, ok := w.v.header(o, head, leases); !ok {
			w.stats.noRoute.inc()
			continue
		}
		if w.vnet {
			head = w.heads[i][:]
			putVnetHdr(head, o)
		}
		if !w.sock.Queue(head, o.Data) {
			n, err := w.sock.Flush()
			sent += n
			if first == nil {
				first = err
			}
			w.sock.Queue(head, o.Data)
		}
	}
	if w.sock.Queued() > 0 {
		n, err := w.sock.Flush()
		sent += n
		if first == nil {
			first = err
		}
	}
	return sent, first
}

// PortStats are the port data path's counters for one engine interface.
type PortStats struct {
	Interface string
	afpacket.Stats
	NotIP, Pass, NoRoute uint64
	// Offload counts super-packets the engine took whole, OffloadCut
	// those cut into segments first, OffloadBad those that could not be
	// (offload.go).
	Offload, OffloadCut, OffloadBad uint64
}

// PortStats returns the counters of every engine interface, or nil in
// controller mode.
func (p *Path) PortStats() []PortStats {
	pio := p.ports.Load()
	if pio == nil {
		return nil
	}
	var out []PortStats
	index := map[string]int{}
	for _, w := range append(pio.workers, pio.timers...) {
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
		o.Offload += w.stats.offload.load()
		o.OffloadCut += w.stats.offloadCut.load()
		o.OffloadBad += w.stats.offloadBad.load()
	}
	return out
}

// workerCounters are per worker so that workers on different cores do
// not share a cache line for every packet.
type workerCounters struct {
	notIP   counter // not IPv4 or IPv6
	pass    counter // IP but not for the engine
	noRoute counter // engine output to an address no host owns

	offload, offloadCut, offloadBad counter
	_                               [64]byte
}

// clientSteering is the fanout steering for clients embedded in pool6
// (RFC 6052: the address's bytes follow the prefix, skipping byte 8), or
// nil for none.
func clientSteering(pool6 netip.Prefix) *afpacket.ClientSteering {
	if !pool6.IsValid() || !pool6.Addr().Is6() {
		return nil
	}
	switch pool6.Bits() {
	case 32, 40, 48, 56, 64, 96:
	default:
		return nil
	}
	var s afpacket.ClientSteering
	pos := pool6.Bits() / 8
	for i := range s.Embedded {
		if pos == 8 {
			pos++
		}
		s.Embedded[i] = pos
		pos++
	}
	return &s
}

// openAFPacket opens an engine port's AF_PACKET sockets: a fanout group
// to receive, and a sender for the timer.
func openAFPacket(ep *topo.EnginePort, steer *afpacket.ClientSteering) (PortIO, error) {
	// Without ring: true, recvmmsg. A TPACKET_V2 ring (FrameRing) reads
	// without a system call, but measured no cheaper on the bench, and a
	// socket without a ring is simpler to hand to another process.
	g, err := afpacket.Open(afpacket.Config{Interface: ep.Interface, Promiscuous: true, NoRing: !ep.Ring, Steering: steer, VnetHdr: ep.Offload})
	if err != nil {
		return nil, err
	}
	s, err := afpacket.OpenSender(ep.Interface, afpacket.DefaultBatch)
	if err != nil {
		g.Close()
		return nil, err
	}
	return &afpacketPort{g: g, sender: s}, nil
}

type afpacketPort struct {
	g      *afpacket.Group
	sender *afpacket.Socket
}

func (a *afpacketPort) Receivers() []Socket {
	out := make([]Socket, 0, len(a.g.Sockets()))
	for _, s := range a.g.Sockets() {
		out = append(out, s)
	}
	return out
}

func (a *afpacketPort) Sender() Socket { return a.sender }
func (a *afpacketPort) Index() int     { return a.g.Index }

func (a *afpacketPort) Kind() string {
	switch {
	case a.g.Fallback != nil:
		return "recvmmsg"
	case a.g.Sockets()[0].FrameRing():
		return "tpacket_v2"
	}
	return "tpacket_v3"
}

func (a *afpacketPort) Close() error {
	a.sender.Close()
	return a.g.Close()
}
