package datapath

import (
	"context"
	"time"

	"github.com/sixgate/sixgate/controller"
	"github.com/sixgate/sixgate/controller/ofp"
	"github.com/sixgate/sixgate/packet"
	"github.com/sixgate/sixgate/topo"
)

// packetOutWait bounds the wait for room in a switch's send queue.
const packetOutWait = 10 * time.Millisecond

// Frame is a frame to send out of a switch port.
type Frame struct {
	DPID uint64
	Port uint32
	Data []byte
}

// Start runs the engine's timer until ctx is done and, in port mode,
// opens the engine ports and starts their workers.
func (p *Path) Start(ctx context.Context, c *controller.Controller) error {
	p.ctl.Store(c)
	if p.cfg.Mode == topo.DataPathPort {
		return p.startPorts(ctx)
	}
	go p.tick(ctx, p.Send)
	return nil
}

// tick runs the engine's timers every Tick and hands their output to
// send, until ctx is done. Both modes use it; they differ in send.
func (p *Path) tick(ctx context.Context, send func(*packet.Batch)) {
	t := time.NewTicker(p.cfg.Tick)
	defer t.Stop()
	b := packet.NewBatch(8, packet.DefaultBufSize)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if !p.enter() {
				continue
			}
			p.view.Load().Engine.Expire(b)
			send(b)
			p.leave()
			b.Reset()
		}
	}
}

// PacketIn runs a punted frame through the engine and sends what it
// produces as packet-outs.
func (p *Path) PacketIn(_ *controller.Switch, pi *ofp.PacketIn) {
	if !p.enter() {
		return // quiesced for a hand-over
	}
	defer p.leave()
	p.stats.PacketIns.Add(1)
	for _, f := range p.Process(pi.Data) {
		p.output(f)
	}
}

// Process runs one frame through the engine and returns the frames to
// send, each for the port of the host that owns its destination.
func (p *Path) Process(frame []byte) []Frame {
	eth := packet.Ethernet(frame)
	if !eth.IsValid() {
		p.stats.NotIP.Add(1)
		return nil
	}
	switch eth.Type() {
	case packet.EtherTypeIPv4, packet.EtherTypeIPv6:
	default:
		p.stats.NotIP.Add(1)
		return nil
	}
	v := p.view.Load()
	b := p.batches.Get().(*packet.Batch)
	defer func() { b.Reset(); p.batches.Put(b) }()
	v.Engine.Handle(eth.Payload(), b)
	return p.frames(v, b)
}

// Send sends packets the engine produced outside Handle (timers, a
// backend's port going down) as packet-outs, in either mode.
func (p *Path) Send(b *packet.Batch) {
	for _, f := range p.frames(p.view.Load(), b) {
		p.output(f)
	}
}

// frames puts each packet of b in an Ethernet frame for the host that
// owns its destination.
func (p *Path) frames(v *view, b *packet.Batch) []Frame {
	if b.Len() == 0 {
		return nil
	}
	out := make([]Frame, 0, b.Len())
	leases := p.leases.Load()
	for i := range b.Packets {
		o := &b.Packets[i]
		data := make([]byte, packet.EthernetHeaderLen+len(o.Data))
		h, ok := v.header(o, data, leases)
		if !ok {
			p.stats.NoRoute.Add(1)
			continue
		}
		copy(data[packet.EthernetHeaderLen:], o.Data)
		out = append(out, Frame{DPID: h.DPID, Port: h.Port, Data: data})
	}
	return out
}

// output sends f as a packet-out. A switch whose queue is full drops the
// packet at once rather than stall this switch's events: TCP resends it.
func (p *Path) output(f Frame) {
	ctl := p.ctl.Load()
	if ctl == nil {
		p.stats.NoRoute.Add(1)
		return
	}
	sw, ok := ctl.Switch(f.DPID)
	if !ok {
		p.stats.NoRoute.Add(1)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), packetOutWait)
	defer cancel()
	if err := sw.PacketOut(ctx, f.Port, f.Data); err != nil {
		p.stats.SendFailures.Add(1)
		return
	}
	p.stats.PacketOuts.Add(1)
}
