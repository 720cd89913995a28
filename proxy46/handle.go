package proxy46

import (
	"github.com/sixgate/sixgate/packet"
)

// Handle takes one raw IP packet (IPv4 from a client or IPv6 from a
// backend, starting at the IP header) and appends the packets to send to
// out. The packet is not retained and not modified. A Drop verdict may
// still come with packets in out, such as a reset.
func (e *Engine) Handle(pkt []byte, out *packet.Batch) packet.Verdict {
	if len(pkt) == 0 {
		return packet.Pass
	}
	switch pkt[0] >> 4 {
	case 4:
		return e.handle4(pkt, out)
	case 6:
		return e.handle6(pkt, out)
	}
	return packet.Pass
}

// Input checks. The IPv4 header checksum is verified on every packet to a
// VIP (20 bytes, a few nanoseconds). The TCP checksum is verified in full
// only off the established path: there the engine acts on a segment's
// contents (it answers SYNs, holds and replays data with a fresh checksum,
// learns a backend's ISN and options), so a corrupted segment must not get
// in. On the established path the checksum is updated incrementally
// (RFC 1624) and never recomputed, so a segment that arrives with a wrong
// checksum leaves with a wrong checksum and the receiving host drops it, as
// it would have without the splice.

func (e *Engine) handle4(pkt []byte, out *packet.Batch) packet.Verdict {
	if len(pkt) < packet.IPv4MinLen {
		return packet.Pass // too short to tell whether it is for a VIP
	}
	ip := packet.IPv4(pkt)
	dst := ip.Dst()
	if !(*e.vips.Load())[dst] { // replaced whole by reconfigurations, read without the lock
		return packet.Pass
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stats.Packets4In++
	ihl, total := ip.HeaderLength(), int(ip.TotalLength())
	if total > len(pkt) || total < packet.IPv4MinLen {
		return e.drop(DropMalformed)
	}
	if ihl < packet.IPv4MinLen || ihl > total {
		return e.drop(DropBadHeaderLength)
	}
	if !ip.HeaderChecksumOK() {
		return e.drop(DropIPChecksum)
	}
	pkt, ip = pkt[:total], ip[:total]
	if ip.IsFragment() {
		return e.drop(DropFragment)
	}
	if !hostAddr4(ip.Src()) {
		return e.drop(DropBadSource)
	}
	switch ip.Protocol() {
	case packet.ProtoTCP:
	case packet.ProtoICMPv4:
		return e.answerICMP(pkt, ihl, out) // host.go
	case packet.ProtoUDP:
		return e.answerUDP(pkt, ihl, out)
	default:
		return e.drop(DropNotTCP)
	}
	tcp := packet.TCP(pkt[ihl:])
	if len(tcp) < packet.TCPMinLen {
		return e.drop(DropMalformed)
	}
	doff := tcp.DataOffset()
	if doff < packet.TCPMinLen || doff > len(tcp) {
		return e.drop(DropBadHeaderLength)
	}
	k := key4{client: ip.Src(), vip: dst, clientPort: tcp.SrcPort(), vipPort: tcp.DstPort()}
	c := e.by4[k]
	if c != nil && c.state >= StateEstablished && !tcp.HasAny(packet.TCPFlagSYN) {
		if c.ftp != nil {
			return e.ftpControlSegment(c, true, pkt, tcp, doff, out)
		}
		return e.clientToBackend(c, pkt, tcp, doff, 0, out)
	}
	if !packet.ChecksumOK(ip.PseudoHeaderSum(packet.ProtoTCP, len(tcp)), tcp) {
		return e.drop(DropTCPChecksum)
	}
	if !packet.TCPOptionsOK(tcp.Options()) {
		return e.drop(DropBadOptions)
	}
	return e.clientSlow(c, k, pkt, tcp, doff, out)
}

func (e *Engine) handle6(pkt []byte, out *packet.Batch) packet.Verdict {
	if len(pkt) < packet.IPv6HeaderLen {
		return packet.Pass
	}
	ip := packet.IPv6(pkt)
	dst := ip.DstPtr()
	if !inPool6(dst, &e.pool, e.poolBits) {
		return packet.Pass
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stats.Packets6In++
	end := packet.IPv6HeaderLen + int(ip.PayloadLength())
	if end > len(pkt) {
		return e.drop(DropMalformed)
	}
	pkt, ip = pkt[:end], ip[:end]
	switch ip.NextHeader() {
	case packet.ProtoTCP:
	case packet.ProtoICMPv6:
		return e.icmpFromBackendPath(pkt, out) // icmp.go
	case packet.ProtoFragment:
		return e.drop(DropFragment)
	default:
		return e.drop(DropNotTCP)
	}
	tcp := packet.TCP(ip.Payload())
	if len(tcp) < packet.TCPMinLen {
		return e.drop(DropMalformed)
	}
	doff := tcp.DataOffset()
	if doff < packet.TCPMinLen || doff > len(tcp) {
		return e.drop(DropBadHeaderLength)
	}
	k := key6{backend: ip.Src(), client6: *dst, backendPort: tcp.SrcPort(), clientPort: tcp.DstPort()}
	c := e.by6[k]
	if c != nil && c.state >= StateEstablished && !tcp.HasAny(packet.TCPFlagSYN) {
		if c.ftp != nil {
			return e.ftpControlSegment(c, false, pkt, tcp, doff, out)
		}
		return e.backendToClient(c, pkt, tcp, doff, 0, out)
	}
	if !packet.ChecksumOK(ip.PseudoHeaderSum(packet.ProtoTCP, len(tcp)), tcp) {
		return e.drop(DropTCPChecksum)
	}
	if !packet.TCPOptionsOK(tcp.Options()) {
		return e.drop(DropBadOptions)
	}
	return e.backendSlow(c, k, pkt, tcp, doff, out)
}
