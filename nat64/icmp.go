package nat64

import (
	"github.com/sixgate/sixgate/packet"
	"github.com/sixgate/sixgate/siit"
)

// quoteMap maps the packet quoted in a translated ICMP error through the
// session found for it (packet.ICMPMapper): its addresses, and the port
// (or echo identifier) the binding changes, with the quoted checksum
// kept right.
type quoteMap struct {
	src4, dst4 [4]byte
	src6, dst6 [16]byte
	// port replaces the quoted source port (4->6) or destination port
	// (6->4).
	port uint16
	// proto is the quoted packet's protocol table.
	proto Protocol
}

func (q *quoteMap) Quoted4to6(src, dst [4]byte, proto uint8, t []byte) (src6, dst6 [16]byte, ok bool) {
	q.fix(t, true, packet.Adjustment(sum4(&src, &dst), sum6(&q.src6, &q.dst6)), proto)
	return q.src6, q.dst6, true
}

func (q *quoteMap) Quoted6to4(src, dst [16]byte, proto uint8, t []byte) (src4, dst4 [4]byte, ok bool) {
	q.fix(t, false, packet.Adjustment(sum6(&src, &dst), sum4(&q.src4, &q.dst4)), proto)
	return q.src4, q.dst4, true
}

// fix rewrites the quoted port and adjusts the quoted checksum to the new
// port and, for TCP and UDP, the new pseudo-header.
func (q *quoteMap) fix(t []byte, src bool, adj uint16, proto uint8) {
	if len(t) < packet.ICMPHeaderLen {
		return
	}
	var at, sum int
	switch q.proto {
	case TCP:
		at, sum = packet.TCPDstPort, packet.TCPChecksum
		if src {
			at = packet.TCPSrcPort
		}
	case UDP:
		at, sum = packet.UDPDstPort, packet.UDPChecksum
		if src {
			at = packet.UDPSrcPort
		}
	default:
		at, sum, adj = packet.ICMPRest, packet.ICMPChecksum, 0
	}
	var ed packet.Edit
	ed.Put16(t, at, q.port)
	if sum+2 > len(t) {
		return
	}
	old := be16(t[sum:])
	if q.proto == UDP && old == 0 {
		return
	}
	c := ed.Apply(old, adj)
	if q.proto == UDP && c == 0 {
		c = 0xffff
	}
	t[sum], t[sum+1] = byte(c>>8), byte(c)
}

func sum4(a, b *[4]byte) uint16  { return packet.Add(packet.Sum(a[:]), packet.Sum(b[:])) }
func sum6(a, b *[16]byte) uint16 { return packet.Add(packet.Sum(a[:]), packet.Sum(b[:])) }

// quoted reads the flow of the packet an ICMP error quotes: its
// addresses (as bytes), protocol table and ports; ok false when the
// quote does not show them (too short, a later fragment, not TCP, UDP or
// an echo).
func quotedFlow(proto uint8, t []byte) (p Protocol, sport, dport uint16, ok bool) {
	p, sport, dport, _, isErr, known, ok := transport(proto, t, false)
	if !ok && len(t) >= 4 {
		// A short quote still shows the ports.
		switch proto {
		case packet.ProtoTCP:
			return TCP, be16(t[0:]), be16(t[2:]), true
		case packet.ProtoUDP:
			return UDP, be16(t[0:]), be16(t[2:]), true
		}
	}
	return p, sport, dport, ok && known && !isErr
}

// error4 translates an ICMPv4 error to a pool4 address through the
// session of the packet it quotes (RFC 6146 §3.5.3): that packet went
// from the binding's pool4 address and port to a remote.
func (e *NAT64) error4(s *state, ip packet.IPv4, out *packet.Batch) packet.Verdict {
	msg := ip.Payload()
	q := packet.IPv4(msg[packet.ICMPHeaderLen:])
	if len(q) < packet.IPv4MinLen || q[0]>>4 != 4 || q.HeaderLength() < packet.IPv4MinLen || q.HeaderLength() > len(q) || q.FragmentOffset() != 0 {
		e.drop(dropMalformed)
		return packet.Drop
	}
	proto, sport, dport, ok := quotedFlow(q.Protocol(), q[q.HeaderLength():])
	if !ok {
		e.drop(dropICMPNoSession)
		return packet.Drop
	}
	ss := e.t.sessions[skey{local: q.Src(), remote: q.Dst(), lport: sport, rport: dport, proto: proto}]
	if ss == nil {
		e.drop(dropICMPNoSession)
		return packet.Drop
	}
	b := ss.b
	src6, _ := s.m.Map4(ip.Src())
	e.qm.src6 = b.addr6
	e.qm.dst6, _ = s.m.Map4(q.Dst())
	e.qm.port, e.qm.proto = b.port6, proto
	r, _ := s.path.To6(out, ip, &src6, &b.addr6, &e.qm)
	if r != siit.Translated {
		e.c.results[r].Add(1)
		return packet.Drop
	}
	e.c.translated4to6.Add(1)
	return packet.Consumed
}

// error6 translates an ICMPv6 error toward pool6 through the session of
// the packet it quotes: that packet went from a remote (in pool6) to an
// IPv6 host's bound address and port. The translated error leaves from
// the binding's pool4 address.
func (e *NAT64) error6(s *state, now int64, ip packet.IPv6, u packet.Upper, dst4 [4]byte, out *packet.Batch) packet.Verdict {
	end := packet.IPv6HeaderLen + int(ip.PayloadLength())
	q := ip[u.Offset+packet.ICMPHeaderLen : end]
	if len(q) < packet.IPv6HeaderLen || q[0]>>4 != 6 {
		e.drop(dropMalformed)
		return packet.Drop
	}
	qp, off, ok := quotedUpper(q)
	if !ok {
		e.drop(dropICMPNoSession)
		return packet.Drop
	}
	proto, sport, dport, ok := quotedFlow(qp, q[off:])
	if !ok {
		e.drop(dropICMPNoSession)
		return packet.Drop
	}
	qsrc := packet.IPv6(q).SrcPtr()
	remote, ok := s.m.Map6(qsrc)
	if !ok {
		e.drop(dropICMPNoSession)
		return packet.Drop
	}
	b := e.t.bib6[key6{packet.IPv6(q).Dst(), dport, proto}]
	if b == nil {
		e.drop(dropICMPNoSession)
		return packet.Drop
	}
	if proto == ICMP {
		sport = b.port4
	}
	ss := e.t.sessions[skey{local: b.addr4, remote: remote, lport: b.port4, rport: sport, proto: proto}]
	if ss == nil {
		e.drop(dropICMPNoSession)
		return packet.Drop
	}
	e.qm.src4, e.qm.dst4 = remote, b.addr4
	e.qm.port, e.qm.proto = b.port4, proto
	src4 := b.addr4
	start := out.Len()
	r, v := s.path.To4(out, ip, u, &src4, &dst4, &e.qm)
	if r != siit.Translated {
		return e.refused6(s, ip, u, out, r, v)
	}
	if s.isPool4(dst4) {
		return e.hairpin(s, now, out, start)
	}
	e.c.translated6to4.Add(1)
	return packet.Consumed
}

// quotedUpper walks a quoted IPv6 packet's extension headers (the quote
// may be cut, so the payload length is not trusted) to its transport
// header; a fragment other than the first has none.
func quotedUpper(q []byte) (proto uint8, off int, ok bool) {
	next, off := q[packet.IPv6NextHeader], packet.IPv6HeaderLen
	for n := 0; n < 8; n++ {
		switch next {
		case packet.ProtoHopByHop, packet.ProtoRouting, packet.ProtoDestOptions:
			if off+8 > len(q) {
				return 0, 0, false
			}
			next, off = q[off], off+(int(q[off+1])+1)*8
		case packet.ProtoFragment:
			if off+packet.IPv6FragmentLen > len(q) || packet.IPv6Fragment(q[off:]).Offset() != 0 {
				return 0, 0, false
			}
			next, off = q[off], off+packet.IPv6FragmentLen
		default:
			return next, off, off <= len(q)
		}
	}
	return 0, 0, false
}
