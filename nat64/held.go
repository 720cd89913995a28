package nat64

import (
	"github.com/sixgate/sixgate/packet"
)

// heldSYN is an unsolicited IPv4 SYN kept for a simultaneous open (RFC
// 6146 §3.5.2.2): if no IPv6 SYN opens its session within SYNHold, it is
// answered with ICMP port unreachable.
type heldSYN struct {
	pkt     []byte
	expires int64
}

// hold keeps an IPv4 SYN that no binding or filter lets in.
func (e *NAT64) hold(s *state, now int64, ip packet.IPv4) packet.Verdict {
	t := ip.Payload()
	k := skey{local: ip.Dst(), remote: ip.Src(), lport: be16(t[2:]), rport: be16(t[0:]), proto: TCP}
	if _, ok := e.held[k]; ok {
		return packet.Consumed // a retransmission: the first one is held
	}
	if len(e.held) >= s.cfg.Limits.HeldSYNs {
		e.drop(dropSYNHoldFull)
		return packet.Drop
	}
	e.held[k] = &heldSYN{pkt: append([]byte(nil), ip[:ip.TotalLength()]...), expires: now + s.life[listSYN]}
	e.c.heldSYNs.Add(1)
	return packet.Consumed
}

// expireHeld answers the held SYNs whose time is up.
func (e *NAT64) expireHeld(s *state, now int64, out *packet.Batch) {
	for k, h := range e.held {
		if h.expires > now {
			continue
		}
		delete(e.held, k)
		e.drop(dropSYNHoldTimeout)
		ip := packet.IPv4(h.pkt)
		e.sendError4(s, ip.Dst(), ip, out, packet.ICMPv4DestUnreachable, packet.ICMPv4CodePortUnreachable, 0)
	}
}
