package packet

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// Segment offload. A Linux packet socket with PACKET_VNET_HDR puts a
// struct virtio_net_hdr (linux/virtio_net.h) in front of every frame, both
// ways: on receive it describes a TCP super-packet that GRO merged from
// several segments (every segment but the last gso_size payload bytes long,
// the TCP checksum left partial), and on send it asks the kernel to cut
// such a super-packet back into segments and to finish their checksums.
// One engine pass per 64 KB instead of per 1448 bytes is what it buys.

// VirtioNetHdrLen is the size of struct virtio_net_hdr.
const VirtioNetHdrLen = 10

// virtio_net_hdr flags and GSO types.
const (
	// VirtioNeedsCsum: the checksum at CsumStart+CsumOffset holds only
	// the pseudo-header's sum; the rest is summed at transmission.
	VirtioNeedsCsum uint8 = 1
	// VirtioDataValid: the kernel verified the checksum.
	VirtioDataValid uint8 = 2

	VirtioGSONone  uint8 = 0
	VirtioGSOTCPv4 uint8 = 1
	VirtioGSOUDP   uint8 = 3
	VirtioGSOTCPv6 uint8 = 4
	VirtioGSOECN   uint8 = 0x80
)

// VirtioNetHdr is a decoded struct virtio_net_hdr. The packet socket
// writes its 16-bit fields in the host's byte order (a legacy virtio
// header on a little-endian host; the kernel's vio_le()).
type VirtioNetHdr struct {
	Flags      uint8
	GSOType    uint8
	HdrLen     uint16 // headers up to the payload, Ethernet included
	GSOSize    uint16 // payload bytes per segment
	CsumStart  uint16 // from the start of the frame
	CsumOffset uint16 // of the checksum field, from CsumStart
}

var errVirtioShort = errors.New("virtio_net_hdr: short frame")

// DecodeVirtioNetHdr reads the header at the start of b.
func DecodeVirtioNetHdr(b []byte) (VirtioNetHdr, error) {
	if len(b) < VirtioNetHdrLen {
		return VirtioNetHdr{}, errVirtioShort
	}
	n := binary.NativeEndian
	return VirtioNetHdr{
		Flags: b[0], GSOType: b[1],
		HdrLen: n.Uint16(b[2:]), GSOSize: n.Uint16(b[4:]),
		CsumStart: n.Uint16(b[6:]), CsumOffset: n.Uint16(b[8:]),
	}, nil
}

// Put writes h at the start of b, which must hold VirtioNetHdrLen bytes.
func (h *VirtioNetHdr) Put(b []byte) {
	n := binary.NativeEndian
	b[0], b[1] = h.Flags, h.GSOType
	n.PutUint16(b[2:], h.HdrLen)
	n.PutUint16(b[4:], h.GSOSize)
	n.PutUint16(b[6:], h.CsumStart)
	n.PutUint16(b[8:], h.CsumOffset)
}

// FinishChecksum completes in place a checksum the kernel left partial
// in pkt: the 16-bit field at start+offset holds the pseudo-header's sum,
// and the field becomes the complement of the sum from start to the end.
// It reports false when the field lies outside pkt.
func FinishChecksum(pkt []byte, start, offset int) bool {
	at := start + offset
	if start < 0 || offset < 0 || at+2 > len(pkt) {
		return false
	}
	binary.BigEndian.PutUint16(pkt[at:], ^Sum(pkt[start:]))
	return true
}

// SegmentTCP cuts pkt, an IPv4 or IPv6 packet carrying TCP (an IPv6
// header without extension headers), into segments of at most mss payload
// bytes appended to out, each with the same headers and options, its own
// sequence number, lengths and checksums computed in full; for IPv4 the
// identification counts up from pkt's. PSH and FIN go on the last piece
// only, CWR on the first; an urgent pointer stays with the piece it
// points into or past. pkt's own TCP checksum is not read, so a partial
// one will do. fam and dst label the segments in out. It returns how many
// segments it appended, 0 if pkt is not such a packet (nothing appended
// then). pkt must not share memory with out's buffers.
//
// It is the software form of what the kernel does for a super-packet
// sent with a GSO header, for the paths that cannot send one.
func SegmentTCP(pkt []byte, mss int, out *Batch, fam Family, dst netip.Addr) int {
	var hl int
	switch {
	case fam == IPv4Family && len(pkt) >= IPv4MinLen && pkt[0]>>4 == 4 && IPv4(pkt).Protocol() == ProtoTCP:
		hl = IPv4(pkt).HeaderLength()
	case fam == IPv6Family && len(pkt) >= IPv6HeaderLen && pkt[0]>>4 == 6 && IPv6(pkt).NextHeader() == ProtoTCP:
		hl = IPv6HeaderLen
	default:
		return 0
	}
	end := IPv6HeaderLen + int(IPv6(pkt).PayloadLength())
	if fam == IPv4Family {
		end = int(IPv4(pkt).TotalLength())
	}
	if hl < IPv4MinLen || hl+TCPMinLen > end || end > len(pkt) {
		return 0
	}
	pkt = pkt[:end]
	tcp := TCP(pkt[hl:])
	doff := tcp.DataOffset()
	if doff < TCPMinLen || hl+doff > len(pkt) {
		return 0
	}
	mss = max(mss, 8)
	payload := tcp[doff:]
	flags, seq, urg := tcp.Flags(), tcp.Seq(), int(binary.BigEndian.Uint16(tcp[TCPUrgent:]))
	id := uint16(0)
	if fam == IPv4Family {
		id = IPv4(pkt).ID()
	}
	n := 0
	for off := 0; off < len(payload) || off == 0; off += mss {
		size := min(mss, len(payload)-off)
		b := out.Next(hl+doff+size, fam, dst)
		copy(b, pkt[:hl+doff])
		copy(b[hl+doff:], payload[off:off+size])
		seg := TCP(b[hl:])
		f := flags
		if off+size < len(payload) {
			f &^= TCPFlagPSH | TCPFlagFIN
		}
		if off > 0 {
			f &^= TCPFlagCWR
		}
		u := 0
		if flags&TCPFlagURG != 0 && urg > off {
			u = urg - off
		} else {
			f &^= TCPFlagURG
		}
		seg[TCPFlags] = f
		binary.BigEndian.PutUint16(seg[TCPUrgent:], uint16(u))
		binary.BigEndian.PutUint32(seg[TCPSeq:], seq+uint32(off))
		seg.SetChecksum(0)
		if fam == IPv4Family {
			ip := IPv4(b)
			binary.BigEndian.PutUint16(b[IPv4TotalLength:], uint16(len(b)))
			binary.BigEndian.PutUint16(b[IPv4ID:], id+uint16(n))
			ip.SetChecksum(0)
			ip.SetChecksum(^Sum(b[:hl]))
			seg.SetChecksum(Checksum(ip.PseudoHeaderSum(ProtoTCP, len(seg)), seg))
		} else {
			ip := IPv6(b)
			ip.SetPayloadLength(len(seg))
			seg.SetChecksum(Checksum(ip.PseudoHeaderSum(ProtoTCP, len(seg)), seg))
		}
		n++
		if len(payload) == 0 {
			break
		}
	}
	return n
}
