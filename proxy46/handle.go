package proxy46

import (
	"encoding/binary"

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

func (e *Engine) handle4(pkt []byte, out *packet.Batch) packet.Verdict {
	if len(pkt) < ip4MinLen {
		return packet.Pass // too short to tell whether it is for a VIP
	}
	dst := [4]byte(pkt[ip4Dst : ip4Dst+4])
	if !e.vips[dst] { // immutable after New, read without the lock
		return packet.Pass
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stats.Packets4In++
	ihl := int(pkt[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(pkt[ip4TotalLen:]))
	if total > len(pkt) || total < ip4MinLen {
		return e.drop(DropMalformed)
	}
	if ihl < ip4MinLen || ihl > total {
		return e.drop(DropBadHeaderLength)
	}
	if !ipv4HeaderOK(pkt[:ihl]) {
		return e.drop(DropIPChecksum)
	}
	pkt = pkt[:total]
	if binary.BigEndian.Uint16(pkt[ip4Flags:])&(ip4FlagMF|ip4FragOffMask) != 0 {
		return e.drop(DropFragment)
	}
	if !hostAddr4(packet.IPv4(pkt).Src()) {
		return e.drop(DropBadSource)
	}
	switch pkt[ip4Proto] {
	case protoTCP:
	case protoICMP4:
		return e.answerICMP(pkt, ihl, out) // host.go
	case packet.ProtoUDP:
		return e.answerUDP(pkt, ihl, out)
	default:
		return e.drop(DropNotTCP)
	}
	tcp := pkt[ihl:]
	if len(tcp) < tcpMinLen {
		return e.drop(DropMalformed)
	}
	doff := int(tcp[tcpDataOff]>>4) * 4
	if doff < tcpMinLen || doff > len(tcp) {
		return e.drop(DropBadHeaderLength)
	}
	k := key4{
		client:     [4]byte(pkt[ip4Src : ip4Src+4]),
		vip:        dst,
		clientPort: binary.BigEndian.Uint16(tcp[tcpSrcPort:]),
		vipPort:    binary.BigEndian.Uint16(tcp[tcpDstPort:]),
	}
	c := e.by4[k]
	if c != nil && c.state >= StateEstablished && tcp[tcpFlags]&flagSYN == 0 {
		return e.clientToBackend(c, pkt, tcp, doff, out)
	}
	if !tcpChecksumOK4(k.client, k.vip, tcp) {
		return e.drop(DropTCPChecksum)
	}
	if !optionsOK(tcp[tcpMinLen:doff]) {
		return e.drop(DropBadOptions)
	}
	return e.clientSlow(c, k, pkt, tcp, doff, out)
}

func (e *Engine) handle6(pkt []byte, out *packet.Batch) packet.Verdict {
	if len(pkt) < ip6HeaderLen {
		return packet.Pass
	}
	dst := (*[16]byte)(pkt[ip6Dst : ip6Dst+16])
	if !inPool6(dst, &e.pool, e.poolBits) {
		return packet.Pass
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stats.Packets6In++
	plen := int(binary.BigEndian.Uint16(pkt[ip6PayloadLen:]))
	if ip6HeaderLen+plen > len(pkt) {
		return e.drop(DropMalformed)
	}
	pkt = pkt[:ip6HeaderLen+plen]
	switch pkt[ip6NextHeader] {
	case protoTCP:
	case protoICMP6:
		return e.packetTooBig(pkt, out)
	case protoFragment6:
		return e.drop(DropFragment)
	default:
		return e.drop(DropNotTCP)
	}
	tcp := pkt[ip6HeaderLen:]
	if len(tcp) < tcpMinLen {
		return e.drop(DropMalformed)
	}
	doff := int(tcp[tcpDataOff]>>4) * 4
	if doff < tcpMinLen || doff > len(tcp) {
		return e.drop(DropBadHeaderLength)
	}
	k := key6{
		backend:     [16]byte(pkt[ip6Src : ip6Src+16]),
		client6:     *dst,
		backendPort: binary.BigEndian.Uint16(tcp[tcpSrcPort:]),
		clientPort:  binary.BigEndian.Uint16(tcp[tcpDstPort:]),
	}
	c := e.by6[k]
	if c != nil && c.state >= StateEstablished && tcp[tcpFlags]&flagSYN == 0 {
		return e.backendToClient(c, pkt, tcp, doff, out)
	}
	if !upperChecksumOK6(&k.backend, dst, protoTCP, tcp) {
		return e.drop(DropTCPChecksum)
	}
	if !optionsOK(tcp[tcpMinLen:doff]) {
		return e.drop(DropBadOptions)
	}
	return e.backendSlow(c, k, pkt, tcp, doff, out)
}
