package proxy46

import "net/netip"

// Family is the IP version of an output packet.
type Family uint8

const (
	IPv4 Family = 4
	IPv6 Family = 6
)

// Packet is one packet for the caller to send.
type Packet struct {
	Family Family
	// Dst is the packet's destination address, so that the caller can
	// pick an output port without parsing the packet.
	Dst netip.Addr
	// Data is the raw IP packet, header first. It belongs to the Batch
	// and is reused after Reset.
	Data []byte
}

// Batch collects the packets the engine produces. Its buffers are reused
// across Reset, so a long-lived Batch makes the established path free of
// allocations. A Batch is not safe for concurrent use.
type Batch struct {
	Packets []Packet
}

// defaultBufSize fits a full-sized IPv6 segment at the default MTU.
const defaultBufSize = 2048

// NewBatch returns a Batch with n preallocated buffers of size bytes.
func NewBatch(n, size int) *Batch {
	b := &Batch{Packets: make([]Packet, n)}
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

// next appends a packet of n bytes and returns its buffer, reusing the
// capacity of a buffer left by an earlier Reset when it is large enough.
func (b *Batch) next(n int, fam Family, dst netip.Addr) []byte {
	i := len(b.Packets)
	if i < cap(b.Packets) {
		b.Packets = b.Packets[:i+1]
	} else {
		b.Packets = append(b.Packets, Packet{})
	}
	p := &b.Packets[i]
	p.Family, p.Dst = fam, dst
	if cap(p.Data) >= n {
		p.Data = p.Data[:n]
	} else {
		p.Data = make([]byte, n, max(n, defaultBufSize))
	}
	return p.Data
}

// unnext takes back the packet next appended last, when the segment
// written into it turns out to be dropped. Its buffer stays for reuse.
func (b *Batch) unnext() { b.Packets = b.Packets[:len(b.Packets)-1] }
