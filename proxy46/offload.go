package proxy46

import (
	"github.com/sixgate/sixgate/packet"
)

// Segment offload: a data path whose sockets receive GRO super-packets
// (packet.VirtioNetHdr) hands those of established connections over whole,
// and the engine translates 64 KB in one pass instead of 45. What leaves is
// one super-packet with a partial checksum (the pseudo-header's sum, which
// is all a translation changes in it) for the kernel to cut up and finish.
// Anything else (handshakes, held data, a backend's smaller MSS that the
// super-packet's segments exceed, a connection whose payload a gateway
// rewrites) is refused before any state changes, and the data path cuts
// the super-packet into segments for Handle.

// HandleOffload takes pkt, a TCP super-packet merged from segments of gso
// payload bytes (every one but the last), whose TCP checksum may be
// partial. It reports false, having done nothing, when the engine wants
// the segments one by one instead. Like Handle, it does not retain or
// modify pkt.
func (e *Engine) HandleOffload(pkt []byte, gso int, out *packet.Batch) (packet.Verdict, bool) {
	if gso <= 0 || len(pkt) == 0 {
		return 0, false
	}
	switch pkt[0] >> 4 {
	case 4:
		return e.offload4(pkt, gso, out)
	case 6:
		return e.offload6(pkt, gso, out)
	}
	return 0, false
}

func (e *Engine) offload4(pkt []byte, gso int, out *packet.Batch) (packet.Verdict, bool) {
	if len(pkt) < packet.IPv4MinLen {
		return 0, false
	}
	ip := packet.IPv4(pkt)
	dst := ip.Dst()
	if !(*e.vips.Load())[dst] {
		return packet.Pass, true
	}
	ihl := ip.HeaderLength()
	if int(ip.TotalLength()) != len(pkt) || ihl < packet.IPv4MinLen || ihl+packet.TCPMinLen > len(pkt) ||
		ip.Protocol() != packet.ProtoTCP || ip.IsFragment() || !ip.HeaderChecksumOK() || !hostAddr4(ip.Src()) {
		return 0, false
	}
	tcp := packet.TCP(pkt[ihl:])
	doff := tcp.DataOffset()
	if doff < packet.TCPMinLen || doff > len(tcp) || tcp.HasAny(packet.TCPFlagSYN|packet.TCPFlagRST) ||
		packet.IPv6HeaderLen+doff+gso > e.cfg.MTU6 {
		return 0, false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	k := key4{client: ip.Src(), vip: dst, clientPort: tcp.SrcPort(), vipPort: tcp.DstPort()}
	c := e.by4[k]
	if c == nil || c.state < StateEstablished || c.ftp != nil {
		return 0, false
	}
	segs := segmentCount(len(tcp)-doff, gso)
	// The translation counts one packet and the bytes of one header.
	e.stats.Packets4In += uint64(segs)
	e.stats.Bytes4In += uint64((segs - 1) * (ihl + doff))
	c.packetsC2B += uint64(segs - 1)
	e.stats.OffloadIn++
	return e.clientToBackend(c, pkt, tcp, doff, gso, out), true
}

func (e *Engine) offload6(pkt []byte, gso int, out *packet.Batch) (packet.Verdict, bool) {
	if len(pkt) < packet.IPv6HeaderLen {
		return 0, false
	}
	ip := packet.IPv6(pkt)
	dst := ip.DstPtr()
	if !inPool6(dst, &e.pool, e.poolBits) {
		return packet.Pass, true
	}
	if packet.IPv6HeaderLen+int(ip.PayloadLength()) != len(pkt) || ip.NextHeader() != packet.ProtoTCP ||
		len(pkt) < packet.IPv6HeaderLen+packet.TCPMinLen {
		return 0, false
	}
	tcp := packet.TCP(ip.Payload())
	doff := tcp.DataOffset()
	// The IPv4 super-packet is 20 bytes shorter, plus a TSopt perhaps.
	if doff < packet.TCPMinLen || doff > len(tcp) || tcp.HasAny(packet.TCPFlagSYN|packet.TCPFlagRST) ||
		packet.IPv4MinLen+len(tcp)+tsOptLen > 0xffff {
		return 0, false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	k := key6{backend: ip.Src(), client6: *dst, backendPort: tcp.SrcPort(), clientPort: tcp.DstPort()}
	c := e.by6[k]
	if c == nil || c.state < StateEstablished || c.ftp != nil {
		return 0, false
	}
	segs := segmentCount(len(tcp)-doff, gso)
	e.stats.Packets6In += uint64(segs)
	e.stats.Bytes6In += uint64((segs - 1) * (packet.IPv6HeaderLen + doff))
	c.packetsB2C += uint64(segs - 1)
	e.stats.OffloadIn++
	return e.backendToClient(c, pkt, tcp, doff, gso, out), true
}

// segmentCount is how many segments of at most gso bytes carry n payload
// bytes (one for none).
func segmentCount(n, gso int) int {
	return max(1, (n+gso-1)/gso)
}

// offloadLast finishes the super-packet the engine just translated (the
// last in out, IP header of hl bytes, TCP header of doff): the checksum
// field gets pseudo, the pseudo-header's sum, and the packet is marked for
// segmentation at mss payload bytes. One that fits a single segment is
// finished here instead, as the kernel would leave it unsegmented.
func (e *Engine) offloadLast(out *packet.Batch, pseudo uint16, hl, doff, mss int) {
	last := &out.Packets[out.Len()-1]
	seg := packet.TCP(last.Data[hl:])
	mss = max(mss, 8)
	n := segmentCount(len(seg)-doff, mss)
	if n == 1 {
		seg.SetChecksum(0)
		seg.SetChecksum(packet.Checksum(pseudo, seg))
		return
	}
	seg.SetChecksum(pseudo)
	last.GSOSize = uint16(mss)
	e.stats.OffloadOut++
	if last.Family == packet.IPv4Family {
		e.stats.Packets4Out += uint64(n - 1)
	} else {
		e.stats.Packets6Out += uint64(n - 1)
	}
}
