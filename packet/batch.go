package packet

import (
	"net/netip"
	"strconv"
)

// Family is the IP version of an output packet.
type Family uint8

const (
	IPv4Family Family = 4
	IPv6Family Family = 6
)

// Out is one packet an engine produced for the data path to send.
type Out struct {
	Family Family
	// Dst is the packet's destination address, so that the data path can
	// pick an output port without parsing the packet.
	Dst netip.Addr
	// Data is the raw IP packet, header first. It belongs to the Batch
	// and is reused after Reset.
	Data []byte
	// GSOSize, when not zero, says Data is a TCP super-packet to be cut
	// into segments of GSOSize payload bytes, and that its TCP checksum
	// field holds only the pseudo-header's sum (a partial checksum). A
	// data path hands it to the kernel with a GSO header
	// (VirtioNetHdr) or cuts it itself (SegmentTCP).
	GSOSize uint16
}

// Batch collects the packets an engine produces. Its buffers are reused
// across Reset, so a long-lived Batch keeps a per-packet path free of
// allocations. A Batch is not safe for concurrent use.
type Batch struct {
	Packets []Out
}

// DefaultBufSize fits a full-sized segment at a 1500-byte MTU with room.
const DefaultBufSize = 2048

// MaxPacketSize is the largest IP packet (a GRO super-packet at most).
const MaxPacketSize = 0x10000 + IPv6HeaderLen

// NewBatch returns a Batch with n preallocated buffers of size bytes.
func NewBatch(n, size int) *Batch {
	b := &Batch{Packets: make([]Out, n)}
	for i := range b.Packets {
		b.Packets[i].Data = make([]byte, 0, size)
	}
	b.Packets = b.Packets[:0]
	return b
}

// Reset empties the batch, keeping its buffers for reuse.
func (b *Batch) Reset() { b.Packets = b.Packets[:0] }

// Len returns the number of packets in the batch.
func (b *Batch) Len() int { return len(b.Packets) }

// Next appends a packet of n bytes and returns its buffer to write into,
// reusing the capacity a buffer left by an earlier Reset when it is large
// enough. The buffer's old contents are not cleared.
func (b *Batch) Next(n int, fam Family, dst netip.Addr) []byte {
	i := len(b.Packets)
	if i < cap(b.Packets) {
		b.Packets = b.Packets[:i+1]
	} else {
		b.Packets = append(b.Packets, Out{})
	}
	p := &b.Packets[i]
	p.Family, p.Dst, p.GSOSize = fam, dst, 0
	switch {
	case cap(p.Data) >= n:
		p.Data = p.Data[:n]
	case n > DefaultBufSize:
		// A super-packet: a buffer that fits any, so that the next one
		// does not grow it again.
		p.Data = make([]byte, n, max(n, MaxPacketSize))
	default:
		p.Data = make([]byte, n, DefaultBufSize)
	}
	return p.Data
}

// Unnext takes back the packet Next appended last, when what was written
// into it turns out to be dropped. Its buffer stays for reuse.
func (b *Batch) Unnext() { b.Packets = b.Packets[:len(b.Packets)-1] }

// Verdict is what an engine did with one packet. Per-packet failures are
// verdicts and counters, never allocated errors.
type Verdict uint8

const (
	// Pass means the packet is not for the engine; the caller forwards
	// it as usual.
	Pass Verdict = iota
	// Consumed means the engine took the packet; what it produced, if
	// anything, is in the Batch.
	Consumed
	// Drop means the packet was for the engine but was discarded; the
	// engine's counters say why. Packets may still be in the Batch (a
	// reset, an ICMP error).
	Drop
)

func (v Verdict) String() string {
	switch v {
	case Pass:
		return "pass"
	case Consumed:
		return "consumed"
	case Drop:
		return "drop"
	}
	return "Verdict(" + strconv.Itoa(int(v)) + ")"
}

// Trim shortens the packet Next appended last to n bytes, for a writer
// that learns the length only once it has written the packet.
func (b *Batch) Trim(n int) {
	p := &b.Packets[len(b.Packets)-1]
	p.Data = p.Data[:n]
}
