package nat64

import (
	"github.com/sixgate/sixgate/packet"
	"github.com/sixgate/sixgate/siit"
)

// handle4 translates an IPv4 packet to a pool4 address (RFC 6146 §3.5,
// from the IPv4 side). hairpin: the packet is this NAT64's own output,
// looped back (no ICMP errors are sent about it).
func (e *NAT64) handle4(s *state, now int64, ip packet.IPv4, out *packet.Batch, hairpin bool) packet.Verdict {
	if len(ip) < packet.IPv4MinLen {
		return packet.Pass
	}
	dst := ip.Dst()
	if !s.isPool4(dst) {
		return packet.Pass
	}
	if !ip.IsValid() {
		e.drop(dropMalformed)
		return packet.Drop
	}
	if !ip.HeaderChecksumOK() {
		e.drop(dropChecksum)
		return packet.Drop
	}
	if ip.TTL() <= 1 {
		e.c.results[siit.TTLExpired].Add(1)
		if !hairpin && s.has4 {
			e.sendError4(s, s.own4, ip, out, packet.ICMPv4TimeExceeded, 0, 0)
		}
		return packet.Drop
	}
	if ip.FragmentOffset() != 0 {
		return e.later4(s, now, ip, out)
	}
	proto, sport, dport, flags, isErr, known, ok := transport(ip.Protocol(), ip.Payload(), !ip.MoreFragments())
	if !ok {
		e.drop(dropMalformed)
		return packet.Drop
	}
	if !known {
		e.drop(dropUnsupported)
		return packet.Drop
	}
	if isErr {
		return e.error4(s, ip, out)
	}
	src := ip.Src()
	ss := e.t.sessions[skey{local: dst, remote: src, lport: dport, rport: sport, proto: proto}]
	if ss == nil {
		var v packet.Verdict
		if ss, v = e.open4(s, now, ip, proto, flags, out, hairpin); ss == nil {
			return v
		}
	}
	e.refresh(s, now, ss, false, flags)
	b := ss.b
	src6, _ := s.m.Map4(src)
	start := out.Len()
	r, v := s.path.To6(out, ip, &src6, &b.addr6, &e.qm)
	if r != siit.Translated {
		e.c.results[r].Add(1)
		if !hairpin && r == siit.TooBig && s.has4 {
			e.sendError4(s, s.own4, ip, out, packet.ICMPv4DestUnreachable, packet.ICMPv4CodeFragNeeded, uint32(v))
		}
		return packet.Drop
	}
	rewrite6(out, start, proto, false, b.port6)
	if ip.MoreFragments() {
		e.firstFragment4(s, now, ip, &src6, &b.addr6, out)
	}
	if !hairpin {
		e.c.translated4to6.Add(1)
	}
	return packet.Consumed
}

// open4 makes a session for an IPv4 packet that has none, when a binding
// and the filtering allow it (RFC 6146 §3.5.1.2, §3.5.2.2); otherwise it
// drops the packet, holds a SYN for a simultaneous open, or answers with
// an ICMP error, and returns nil.
func (e *NAT64) open4(s *state, now int64, ip packet.IPv4, proto Protocol, flags uint8, out *packet.Batch, hairpin bool) (*session, packet.Verdict) {
	dst, src := ip.Dst(), ip.Src()
	t := ip.Payload()
	dport, sport := be16(t[2:]), be16(t[0:])
	if proto == ICMP {
		sport = be16(t[4:])
		dport = sport
	}
	syn := proto == TCP && flags&(packet.TCPFlagSYN|packet.TCPFlagACK|packet.TCPFlagRST) == packet.TCPFlagSYN
	b := e.t.bib4[key4{dst, dport, proto}]
	filtered := b != nil && s.cfg.AddressDependentFiltering && !e.t.hasRemote(b, src)
	if b == nil || filtered {
		switch {
		case syn:
			return nil, e.hold(s, now, ip)
		case proto == UDP && !hairpin && b == nil:
			e.sendError4(s, dst, ip, out, packet.ICMPv4DestUnreachable, packet.ICMPv4CodePortUnreachable, 0)
		case proto == UDP && !hairpin:
			e.sendError4(s, dst, ip, out, packet.ICMPv4DestUnreachable, packet.ICMPv4CodeAdminProhibited, 0)
		}
		if b == nil {
			e.drop(dropNoBinding)
		} else {
			e.drop(dropFiltered)
		}
		return nil, packet.Drop
	}
	if proto == TCP && !syn {
		e.drop(dropNoSession)
		return nil, packet.Drop
	}
	if e.sessionCount() >= s.cfg.Limits.Sessions {
		e.drop(dropSessionsFull)
		return nil, packet.Drop
	}
	if h := e.t.hostOf(b); h != nil && int(h.sessions) >= s.cfg.Limits.SessionsPerHost {
		e.drop(dropHostSessions)
		return nil, packet.Drop
	}
	l := listOf(proto)
	if proto == TCP {
		l = listSYN
	}
	return e.t.newSession(b, src, sport, l, now+s.life[l]), packet.Consumed
}
