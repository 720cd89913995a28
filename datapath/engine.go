package datapath

import (
	"github.com/sixgate/sixgate/packet"
)

// Engine is a packet engine: raw IP packets in (starting at the IP
// header), packets for the data path to send appended to a Batch. Its
// methods are called from several goroutines at once (switch event
// goroutines, port workers, the timer) and must be safe for that.
type Engine interface {
	// Handle takes one packet, which it must not retain or modify, and
	// appends what to send to out. Pass means the packet was not for the
	// engine.
	Handle(pkt []byte, out *packet.Batch) packet.Verdict
	// Expire runs the engine's timers and appends what they send.
	Expire(out *packet.Batch)
}

// OffloadEngine is an Engine that takes TCP super-packets whole: the
// packets GRO merged on an engine port with `offload` (packet.VirtioNetHdr).
type OffloadEngine interface {
	// HandleOffload takes pkt, merged from segments of gso payload
	// bytes, whose TCP checksum may be partial, and reports false,
	// having done nothing, when it wants the segments one by one. Its
	// output may hold super-packets (packet.Out.GSOSize).
	HandleOffload(pkt []byte, gso int, out *packet.Batch) (packet.Verdict, bool)
}
