package datapath

import (
	"fmt"
	"net/netip"

	"github.com/sixgate/sixgate/packet"
	"github.com/sixgate/sixgate/topo"
)

// Segment offload on an engine port (`offload: true`): the sockets carry
// a virtio_net_hdr in front of every frame, so a TCP super-packet that GRO
// merged on the port's interface arrives whole, and one the engine
// produces leaves whole, for the kernel to cut up and checksum on its way
// to the switch. An engine that translates super-packets
// (OffloadEngine) runs once per 64 KB; for one that does not, or for a
// packet it refuses, the worker cuts the super-packet into segments here.

// handleOffloaded runs a frame the kernel marked: a super-packet, or a
// single packet whose checksum it left partial.
func (w *worker) handleOffloaded(h *packet.VirtioNetHdr, frame []byte) {
	gso := h.GSOType &^ packet.VirtioGSOECN
	if gso == packet.VirtioGSONone {
		// One packet, its checksum unfinished: finish it.
		if !packet.FinishChecksum(frame, int(h.CsumStart), int(h.CsumOffset)) {
			w.stats.offloadBad.inc()
			return
		}
		w.handleFrame(frame)
		return
	}
	eth := packet.Ethernet(frame)
	var fam packet.Family
	var et uint16
	switch gso {
	case packet.VirtioGSOTCPv4:
		fam, et = packet.IPv4Family, packet.EtherTypeIPv4
	case packet.VirtioGSOTCPv6:
		fam, et = packet.IPv6Family, packet.EtherTypeIPv6
	}
	if fam == 0 || h.GSOSize == 0 || !eth.IsValid() || eth.Type() != et {
		w.stats.offloadBad.inc()
		return
	}
	pkt := eth.Payload()
	if e, ok := w.v.Engine.(OffloadEngine); ok {
		if v, taken := e.HandleOffload(pkt, int(h.GSOSize), w.out); taken {
			w.stats.offload.inc()
			if v == packet.Pass {
				w.stats.pass.inc()
			}
			if w.out.Len() >= flushAt {
				w.flush()
			}
			return
		}
	}
	w.soft.Reset()
	if packet.SegmentTCP(pkt, int(h.GSOSize), w.soft, fam, netip.Addr{}) == 0 {
		w.stats.offloadBad.inc()
		return
	}
	w.stats.offloadCut.inc()
	for i := range w.soft.Packets {
		if w.v.Engine.Handle(w.soft.Packets[i].Data, w.out) == packet.Pass {
			w.stats.pass.inc()
		}
		if w.out.Len() >= flushAt {
			w.flush()
		}
	}
}

// putVnetHdr writes the virtio_net_hdr of o in front of its Ethernet
// header (head: the header's room, then the Ethernet header): a GSO
// request for a super-packet, zeros for any other packet.
func putVnetHdr(head []byte, o *packet.Out) {
	h := packet.VirtioNetHdr{}
	if o.GSOSize != 0 {
		hl, typ := packet.IPv4MinLen, packet.VirtioGSOTCPv4
		if o.Family == packet.IPv6Family {
			hl, typ = packet.IPv6HeaderLen, packet.VirtioGSOTCPv6
		} else {
			hl = packet.IPv4(o.Data).HeaderLength()
		}
		start := packet.EthernetHeaderLen + hl
		h = packet.VirtioNetHdr{Flags: packet.VirtioNeedsCsum, GSOType: typ, GSOSize: o.GSOSize,
			HdrLen:    uint16(start + packet.TCP(o.Data[hl:]).DataOffset()),
			CsumStart: uint16(start), CsumOffset: packet.TCPChecksum}
	}
	h.Put(head)
}

// hasSuper reports whether b holds a super-packet.
func hasSuper(b *packet.Batch) bool {
	for i := range b.Packets {
		if b.Packets[i].GSOSize != 0 {
			return true
		}
	}
	return false
}

// cut returns b with its super-packets cut into segments, for a socket
// that cannot send them: a copy in w.cutOut.
func (w *worker) cut(b *packet.Batch) *packet.Batch {
	if w.cutOut == nil {
		w.cutOut = packet.NewBatch(0, 0)
	}
	c := w.cutOut
	c.Reset()
	for i := range b.Packets {
		o := &b.Packets[i]
		if o.GSOSize != 0 && packet.SegmentTCP(o.Data, int(o.GSOSize), c, o.Family, o.Dst) > 0 {
			continue
		}
		copy(c.Next(len(o.Data), o.Family, o.Dst), o.Data)
	}
	return c
}

// setOffload makes the sockets of an engine port (opened here or handed
// over by the previous process) carry virtio_net_hdr as ep says.
func setOffload(io PortIO, ep *topo.EnginePort) error {
	a, ok := io.(*afpacketPort)
	if !ok {
		return nil
	}
	for _, s := range a.g.Sockets() {
		if s.VnetHdr() == ep.Offload {
			continue
		}
		if err := s.SetVnetHdr(ep.Offload); err != nil {
			return fmt.Errorf("engine port %s: offload: %w", ep.Interface, err)
		}
	}
	return nil
}
