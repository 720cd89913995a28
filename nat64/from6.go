package nat64

import (
	"github.com/sixgate/sixgate/packet"
	"github.com/sixgate/sixgate/siit"
)

// transport reads what names a flow in a transport header t of IP
// protocol proto: the protocol's table, the source and destination ports
// (for an ICMP echo, the identifier as both), and TCP's flags. ok false:
// t is too short. isError: an ICMP error, to be translated through the
// session of the packet it quotes. known false: not TCP, UDP or ICMP.
func transport(proto uint8, t []byte, whole bool) (p Protocol, sport, dport uint16, flags uint8, isError, known, ok bool) {
	switch proto {
	case packet.ProtoTCP:
		if !packet.TCP(t).IsValid() {
			return
		}
		return TCP, be16(t[0:]), be16(t[2:]), t[packet.TCPFlags], false, true, true
	case packet.ProtoUDP:
		if len(t) < packet.UDPLen {
			return
		}
		// The length must fit what came (RFC 768); a first fragment
		// holds only part of the datagram.
		if l := int(be16(t[packet.UDPLength:])); l < packet.UDPLen || whole && l > len(t) {
			return
		}
		return UDP, be16(t[0:]), be16(t[2:]), 0, false, true, true
	case packet.ProtoICMPv6, packet.ProtoICMPv4:
		if len(t) < packet.ICMPHeaderLen {
			return
		}
		echo := t[0] == packet.ICMPv4EchoRequest || t[0] == packet.ICMPv4EchoReply
		if proto == packet.ProtoICMPv6 {
			echo = t[0] == packet.ICMPv6EchoRequest || t[0] == packet.ICMPv6EchoReply
		}
		if echo {
			id := be16(t[4:])
			return ICMP, id, id, 0, false, true, true
		}
		if proto == packet.ProtoICMPv6 && packet.IsICMPv6Error(t[0]) || proto == packet.ProtoICMPv4 && packet.IsICMPv4Error(t[0]) {
			return ICMP, 0, 0, 0, true, true, true
		}
		return ICMP, 0, 0, 0, false, false, true
	}
	return 0, 0, 0, 0, false, false, true
}

// handle6 translates an IPv6 packet toward pool6 (RFC 6146 §3.5, from the
// IPv6 side).
func (e *NAT64) handle6(s *state, now int64, ip packet.IPv6, out *packet.Batch) packet.Verdict {
	if len(ip) < packet.IPv6HeaderLen {
		return packet.Pass
	}
	if s.has6 && *ip.DstPtr() == s.own6 {
		return packet.Pass
	}
	dst4, ok := s.m.Map6(ip.DstPtr())
	if !ok {
		return packet.Pass
	}
	if !ip.IsValid() {
		e.drop(dropMalformed)
		return packet.Drop
	}
	u, ok := ip.Transport()
	if !ok {
		e.drop(dropMalformed)
		return packet.Drop
	}
	if ip.HopLimit() <= 1 {
		e.c.results[siit.TTLExpired].Add(1)
		e.sendError6(s, ip, u, out, packet.ICMPv6TimeExceeded, 0, 0)
		return packet.Drop
	}
	if u.Fragment != 0 && packet.IPv6Fragment(ip[u.Fragment:]).Offset() != 0 {
		return e.later6(s, now, ip, u, out)
	}
	end := packet.IPv6HeaderLen + int(ip.PayloadLength())
	whole := u.Fragment == 0 || !packet.IPv6Fragment(ip[u.Fragment:]).More()
	proto, sport, dport, flags, isErr, known, ok := transport(u.Proto, ip[u.Offset:end], whole)
	if !ok {
		e.drop(dropMalformed)
		return packet.Drop
	}
	if !known {
		e.drop(dropUnsupported)
		return packet.Drop
	}
	if isErr {
		return e.error6(s, now, ip, u, dst4, out)
	}
	src := ip.SrcPtr()
	b := e.t.bib6[key6{*src, sport, proto}]
	var ss *session
	if b != nil {
		if proto == ICMP {
			dport = b.port4
		}
		ss = e.t.sessions[skey{local: b.addr4, remote: dst4, lport: b.port4, rport: dport, proto: proto}]
	}
	if ss == nil {
		if proto == TCP && flags&(packet.TCPFlagSYN|packet.TCPFlagRST|packet.TCPFlagACK) != packet.TCPFlagSYN {
			// RFC 6146 §3.5.2.2: only a SYN opens a TCP session.
			e.drop(dropNoSession)
			return packet.Drop
		}
		var r dropReason
		if b, ss, r = e.open6(s, now, src, sport, proto, dst4, dport, b); ss == nil {
			e.drop(r)
			if r == dropPool4Exhausted || r == dropBIBFull || r == dropHostBindings {
				// RFC 6146 §3.5.1.1: no binding can be made.
				e.sendError6(s, ip, u, out, packet.ICMPv6DestUnreachable, packet.ICMPv6CodeAddrUnreachable, 0)
			}
			return packet.Drop
		}
	}
	e.refresh(s, now, ss, true, flags)
	start := out.Len()
	r, v := s.path.To4(out, ip, u, &b.addr4, &dst4, &e.qm)
	if r != siit.Translated {
		return e.refused6(s, ip, u, out, r, v)
	}
	rewrite4(out, start, proto, true, b.port4)
	verdict := packet.Consumed
	if s.isPool4(dst4) {
		verdict = e.hairpin(s, now, out, start)
	} else {
		e.c.translated6to4.Add(1)
	}
	if u.Fragment != 0 && packet.IPv6Fragment(ip[u.Fragment:]).More() {
		e.firstFragment6(s, now, ip, u, &b.addr4, &dst4, out)
	}
	return verdict
}

// open6 makes the session, and the binding if b is nil, for a packet from
// the IPv6 transport address src:sport to dst4:dport.
func (e *NAT64) open6(s *state, now int64, src *[16]byte, sport uint16, proto Protocol, dst4 [4]byte, dport uint16, b *binding) (*binding, *session, dropReason) {
	made := false
	if b == nil {
		h := e.t.hosts[*src]
		if h != nil && int(h.bindings) >= s.cfg.Limits.BindingsPerHost {
			return nil, nil, dropHostBindings
		}
		if e.t.nDynamic >= s.cfg.Limits.Bindings {
			return nil, nil, dropBIBFull
		}
		a4, p4, ok := e.allocate(s, proto, src, sport)
		if !ok {
			return nil, nil, dropPool4Exhausted
		}
		b = &binding{addr6: *src, port6: sport, addr4: a4, port4: p4, proto: proto}
		e.t.addBinding(b)
		made = true
		if proto == ICMP {
			dport = p4
		}
	}
	r := dropReason(0)
	switch {
	case e.sessionCount() >= s.cfg.Limits.Sessions:
		r = dropSessionsFull
	case !b.static && hostSessions(e.t.hosts[b.addr6]) >= s.cfg.Limits.SessionsPerHost:
		r = dropHostSessions
	}
	if r != 0 {
		if made {
			e.t.removeBinding(b)
		}
		return nil, nil, r
	}
	ss := e.t.newSession(b, dst4, dport, listOf(proto), now+s.life[listOf(proto)])
	if proto == TCP {
		// A simultaneous open: the remote's SYN, held, is answered by
		// this one's; the remote sends it again.
		if h := e.held[ss.key()]; h != nil {
			delete(e.held, ss.key())
		}
	}
	return b, ss, 0
}

func hostSessions(h *host) int {
	if h == nil {
		return 0
	}
	return int(h.sessions)
}

func (e *NAT64) sessionCount() int {
	return e.t.nSessions[TCP] + e.t.nSessions[UDP] + e.t.nSessions[ICMP]
}

// refused6 counts a packet the header translation refused and sends the
// ICMPv6 error it calls for.
func (e *NAT64) refused6(s *state, ip packet.IPv6, u packet.Upper, out *packet.Batch, r siit.Result, v int) packet.Verdict {
	e.c.results[r].Add(1)
	switch r {
	case siit.TooBig:
		e.sendError6(s, ip, u, out, packet.ICMPv6PacketTooBig, 0, uint32(v))
	case siit.RoutingHeader:
		e.sendError6(s, ip, u, out, packet.ICMPv6ParamProblem, packet.ICMPv6CodeErroneousHeader, uint32(v))
	}
	return packet.Drop
}

// hairpin sends the IPv4 packets just made (out's packets from start on)
// back in from the IPv4 side (RFC 6146 §3.8): their destination is a
// pool4 address, that is, another IPv6 host of this NAT64.
func (e *NAT64) hairpin(s *state, now int64, out *packet.Batch, start int) packet.Verdict {
	n := out.Len() - start
	v := packet.Consumed
	for i := 0; i < n; i++ {
		if e.handle4(s, now, packet.IPv4(out.Packets[start+i].Data), out, true) != packet.Consumed {
			v = packet.Drop
		}
	}
	// Move the IPv6 output over the IPv4 packets, keeping every buffer.
	k := 0
	for j := start + n; j < out.Len(); j++ {
		out.Packets[start+k], out.Packets[j] = out.Packets[j], out.Packets[start+k]
		k++
	}
	out.Packets = out.Packets[:start+k]
	e.c.hairpinned.Add(1)
	return v
}

// sendError6 answers ip with an ICMPv6 error from the NAT64's own IPv6
// address, within the rate limits.
func (e *NAT64) sendError6(s *state, ip packet.IPv6, u packet.Upper, out *packet.Batch, typ, code uint8, rest uint32) {
	if !s.has6 || !siit.Answerable6(ip, u) {
		return
	}
	if !e.limit.Allow(s.cfg.Clock(), mix(e.seed, ip[packet.IPv6Src:packet.IPv6Src+16]), typ == packet.ICMPv6PacketTooBig) {
		e.c.rateLimited.Add(1)
		return
	}
	siit.AppendICMPv6Error(out, s.own6, ip, typ, code, rest)
	e.c.icmpSent6.Add(1)
}

// sendError4 answers ip with an ICMPv4 error from the address from,
// within the rate limits.
func (e *NAT64) sendError4(s *state, from [4]byte, ip packet.IPv4, out *packet.Batch, typ, code uint8, rest uint32) {
	if !siit.Answerable4(ip) {
		return
	}
	pmtu := typ == packet.ICMPv4DestUnreachable && code == packet.ICMPv4CodeFragNeeded
	if !e.limit.Allow(s.cfg.Clock(), mix(e.seed, ip[packet.IPv4Src:packet.IPv4Src+4]), pmtu) {
		e.c.rateLimited.Add(1)
		return
	}
	siit.AppendICMPv4Error(out, from, ip, typ, code, rest, e.nextID())
	e.c.icmpSent4.Add(1)
}

// rewrite4 sets, in the IPv4 packets out.Packets[start:], the source (src)
// or destination port of the first fragment's transport header, or an
// echo's identifier, updating its checksum.
func rewrite4(out *packet.Batch, start int, proto Protocol, src bool, port uint16) {
	for i := start; i < out.Len(); i++ {
		ip := packet.IPv4(out.Packets[i].Data)
		if ip.FragmentOffset() != 0 {
			continue
		}
		setPort(ip[ip.HeaderLength():], proto, src, port)
	}
}

// rewrite6 is rewrite4 for IPv6 packets as the translation makes them (a
// Fragment header or none).
func rewrite6(out *packet.Batch, start int, proto Protocol, src bool, port uint16) {
	for i := start; i < out.Len(); i++ {
		ip := packet.IPv6(out.Packets[i].Data)
		off := packet.IPv6HeaderLen
		if ip.NextHeader() == packet.ProtoFragment {
			if packet.IPv6Fragment(ip[off:]).Offset() != 0 {
				continue
			}
			off += packet.IPv6FragmentLen
		}
		setPort(ip[off:], proto, src, port)
	}
}

// setPort writes port into the transport header t (as much of it as
// there is) and updates its checksum incrementally.
func setPort(t []byte, proto Protocol, src bool, port uint16) {
	var at, sum int
	switch proto {
	case TCP:
		at, sum = packet.TCPSrcPort, packet.TCPChecksum
		if !src {
			at = packet.TCPDstPort
		}
	case UDP:
		at, sum = packet.UDPSrcPort, packet.UDPChecksum
		if !src {
			at = packet.UDPDstPort
		}
	default:
		at, sum = packet.ICMPRest, packet.ICMPChecksum
	}
	if at+2 > len(t) {
		return
	}
	var ed packet.Edit
	ed.Put16(t, at, port)
	if sum+2 > len(t) {
		return
	}
	old := be16(t[sum:])
	if proto == UDP && old == 0 {
		return // no checksum to keep
	}
	c := ed.Apply(old, 0)
	if proto == UDP && c == 0 {
		c = 0xffff
	}
	t[sum], t[sum+1] = byte(c>>8), byte(c)
}
