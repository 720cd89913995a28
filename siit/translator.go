package siit

import (
	"encoding/binary"
	"net/netip"
	"sync/atomic"

	"github.com/sixgate/sixgate/packet"
)

// Translator is a stateless IP/ICMP translator (RFC 7915) with RFC 6052
// and RFC 7757 address mapping. It is safe for concurrent use.
type Translator struct {
	st atomic.Pointer[state]
	c  counters
	id atomic.Uint32

	limit ErrorLimiter
}

// New validates c and returns a Translator.
func New(c Config) (*Translator, error) {
	s, err := newState(c)
	if err != nil {
		return nil, err
	}
	t := &Translator{}
	t.install(s)
	return t, nil
}

func (t *Translator) install(s *state) {
	s.path.NextID = t.nextID
	t.limit.SetRate(s.cfg.ICMPErrorRate, s.cfg.ICMPErrorBurst)
	t.st.Store(s)
}

// SetConfig replaces the configuration; counters are kept. A packet being
// handled finishes with the configuration it started with.
func (t *Translator) SetConfig(c Config) error {
	s, err := newState(c)
	if err != nil {
		return err
	}
	t.install(s)
	return nil
}

// Mapper returns the address mapping in force.
func (t *Translator) Mapper() *Mapper { return t.st.Load().m }

func (t *Translator) nextID() uint16 { return uint16(t.id.Add(1)) }

func addrOf4(a *[4]byte) netip.Addr   { return netip.AddrFrom4(*a) }
func addrOf16(a *[16]byte) netip.Addr { return netip.AddrFrom16(*a) }

// Handle translates one raw IP packet (IPv4 or IPv6 header first). It
// passes packets whose destination it does not translate, and those to
// its own addresses.
func (t *Translator) Handle(pkt []byte, out *packet.Batch) packet.Verdict {
	if len(pkt) == 0 {
		return packet.Pass
	}
	s := t.st.Load()
	switch pkt[0] >> 4 {
	case 4:
		return t.handle4(s, packet.IPv4(pkt), out, false)
	case 6:
		return t.handle6(s, packet.IPv6(pkt), out)
	}
	return packet.Pass
}

// Expire has no timers to run: the translator keeps no state per flow,
// and its ICMP error rate limit refills as time passes.
func (t *Translator) Expire(out *packet.Batch) {}

func (t *Translator) handle4(s *state, ip packet.IPv4, out *packet.Batch, hairpin bool) packet.Verdict {
	if len(ip) < packet.IPv4MinLen {
		return packet.Pass
	}
	dst := ip.Dst()
	if s.own4.IsValid() && s.own4.As4() == dst || dst[0] >= 224 {
		return packet.Pass // the translator's own, or multicast and broadcast
	}
	dst6, ok := s.m.Map4(dst)
	if !ok {
		return packet.Pass
	}
	if !ip.IsValid() {
		return t.drop4(dropMalformed)
	}
	if !ip.HeaderChecksumOK() {
		return t.drop4(dropChecksum)
	}
	var src6 [16]byte
	src := ip.Src()
	if hairpin {
		// RFC 7757 §4.3: the source of a hairpinned packet is
		// translated with pool6, so that the reply comes back to the
		// translator.
		src6 = s.m.embed(src)
	} else if src6, ok = s.m.Map4(src); !ok {
		if !icmpError4(ip) {
			// RFC 7915 §4.4: a discarded packet is answered with
			// Destination Unreachable, administratively prohibited.
			t.sendError4(s, ip, out, packet.ICMPv4DestUnreachable, packet.ICMPv4CodeAdminProhibited, 0)
			return t.drop4(dropSource)
		}
		if src6, ok = s.m.rfc6791Source6(src); !ok {
			if !s.own6.IsValid() {
				return t.drop4(dropSource)
			}
			src6 = s.own6.As16()
		}
	}
	r, v := s.path.To6(out, ip, &src6, &dst6, quoted{s.m})
	if r == Translated {
		t.c.translated4to6.Add(1)
		return packet.Consumed
	}
	t.c.results4[r].Add(1)
	if hairpin {
		return packet.Drop
	}
	switch r {
	case TTLExpired:
		t.sendError4(s, ip, out, packet.ICMPv4TimeExceeded, 0, 0)
	case TooBig:
		t.sendError4(s, ip, out, packet.ICMPv4DestUnreachable, packet.ICMPv4CodeFragNeeded, uint32(v))
	case SourceRoute:
		t.sendError4(s, ip, out, packet.ICMPv4DestUnreachable, 5, 0)
	case UDPChecksumZero:
		// RFC 7915 §4.4: Destination Unreachable, administratively
		// prohibited. ICMP messages without a counterpart are dropped
		// silently, as RFC 7915 §4.2 says for each of them.
		t.sendError4(s, ip, out, packet.ICMPv4DestUnreachable, packet.ICMPv4CodeAdminProhibited, 0)
	}
	return packet.Drop
}

// icmpError4 reports whether an IPv4 packet is an ICMP error (the first
// fragment at least).
func icmpError4(ip packet.IPv4) bool {
	if !ip.IsValid() || ip.Protocol() != packet.ProtoICMPv4 || ip.FragmentOffset() != 0 {
		return false
	}
	p := ip.Payload()
	return len(p) > 0 && packet.IsICMPv4Error(p[0])
}

func (t *Translator) handle6(s *state, ip packet.IPv6, out *packet.Batch) packet.Verdict {
	if len(ip) < packet.IPv6HeaderLen {
		return packet.Pass
	}
	dstp := ip.DstPtr()
	if s.own6.IsValid() && s.own6.As16() == *dstp {
		return packet.Pass
	}
	dst4, dstPool, ok := s.m.map6(dstp)
	if !ok {
		return packet.Pass
	}
	if !ip.IsValid() {
		return t.drop6(dropMalformed)
	}
	u, ok := ip.Transport()
	if !ok {
		return t.drop6(dropMalformed)
	}
	src4, ok := s.m.Map6(ip.SrcPtr())
	if !ok {
		if !icmpError6(ip, u) {
			// RFC 7915 §5.4: Destination Unreachable, administratively
			// prohibited.
			t.sendError6(s, ip, u, out, packet.ICMPv6DestUnreachable, packet.ICMPv6CodeAdminProhibited, 0)
			return t.drop6(dropSource)
		}
		if src4, ok = s.m.rfc6791Source4(ip.SrcPtr()); !ok {
			if !s.own4.IsValid() {
				return t.drop6(dropSource)
			}
			src4 = s.own4.As4()
		}
	}
	hairpin := dstPool && s.m.eam4(dst4)
	start := out.Len()
	r, v := s.path.To4(out, ip, u, &src4, &dst4, quoted{s.m})
	if r == Translated {
		if hairpin {
			return t.hairpin(s, out, start)
		}
		t.c.translated6to4.Add(1)
		return packet.Consumed
	}
	t.c.results6[r].Add(1)
	switch r {
	case TTLExpired:
		t.sendError6(s, ip, u, out, packet.ICMPv6TimeExceeded, 0, 0)
	case TooBig:
		t.sendError6(s, ip, u, out, packet.ICMPv6PacketTooBig, 0, uint32(v))
	case RoutingHeader:
		t.sendError6(s, ip, u, out, packet.ICMPv6ParamProblem, packet.ICMPv6CodeErroneousHeader, uint32(v))
	case UDPChecksumZero:
		t.sendError6(s, ip, u, out, packet.ICMPv6DestUnreachable, packet.ICMPv6CodeAdminProhibited, 0)
	}
	return packet.Drop
}

// hairpin sends the IPv4 packets just made (a packet or its fragments,
// out's packets from start on) back through the 4->6 translation (RFC
// 7757 §4.3): their destination is an EAM address on the IPv6 side,
// reached through pool6.
func (t *Translator) hairpin(s *state, out *packet.Batch, start int) packet.Verdict {
	n := out.Len() - start
	v := packet.Consumed
	for i := 0; i < n; i++ {
		if t.handle4(s, packet.IPv4(out.Packets[start+i].Data), out, true) != packet.Consumed {
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
	t.c.hairpinned.Add(1)
	return v
}

// icmpError6 reports whether an IPv6 packet is an ICMPv6 error.
func icmpError6(ip packet.IPv6, u packet.Upper) bool {
	if u.Proto != packet.ProtoICMPv6 || u.Fragment != 0 && packet.IPv6Fragment(ip[u.Fragment:]).Offset() != 0 {
		return false
	}
	end := packet.IPv6HeaderLen + int(ip.PayloadLength())
	return u.Offset < end && packet.IsICMPv6Error(ip[u.Offset])
}

// quoted maps the packet quoted in an ICMP error with the translator's
// Mapper, and adjusts the quoted TCP or UDP checksum to the new
// pseudo-header (packet.ICMPMapper).
type quoted struct{ m *Mapper }

func (q quoted) Quoted4to6(src, dst [4]byte, proto uint8, transport []byte) (src6, dst6 [16]byte, ok bool) {
	if src6, ok = q.m.Map4(src); !ok {
		return
	}
	if dst6, ok = q.m.Map4(dst); !ok {
		return
	}
	adjustChecksum(proto, transport, 0, packet.Adjustment(addrSum4(&src, &dst), addrSum6(&src6, &dst6)))
	return src6, dst6, true
}

func (q quoted) Quoted6to4(src, dst [16]byte, proto uint8, transport []byte) (src4, dst4 [4]byte, ok bool) {
	if src4, ok = q.m.Map6(&src); !ok {
		return
	}
	if dst4, ok = q.m.Map6(&dst); !ok {
		return
	}
	adjustChecksum(proto, transport, 0, packet.Adjustment(addrSum6(&src, &dst), addrSum4(&src4, &dst4)))
	return src4, dst4, true
}

// sendError4 answers ip with an ICMPv4 error from the translator's own
// IPv4 address, within the rate limits.
func (t *Translator) sendError4(s *state, ip packet.IPv4, out *packet.Batch, typ, code uint8, rest uint32) {
	if !s.own4.IsValid() || !Answerable4(ip) {
		return
	}
	pmtu := typ == packet.ICMPv4DestUnreachable && code == packet.ICMPv4CodeFragNeeded
	if !t.limit.Allow(s.cfg.Clock(), peer4(ip.Src()), pmtu) {
		t.c.icmpRateLimited.Add(1)
		return
	}
	AppendICMPv4Error(out, s.own4.As4(), ip, typ, code, rest, t.nextID())
	t.c.icmpSent4.Add(1)
}

// sendError6 answers ip with an ICMPv6 error from the translator's own
// IPv6 address, within the rate limits.
func (t *Translator) sendError6(s *state, ip packet.IPv6, u packet.Upper, out *packet.Batch, typ, code uint8, rest uint32) {
	if !s.own6.IsValid() || !Answerable6(ip, u) {
		return
	}
	if !t.limit.Allow(s.cfg.Clock(), hash16(ip.SrcPtr()), typ == packet.ICMPv6PacketTooBig) {
		t.c.icmpRateLimited.Add(1)
		return
	}
	AppendICMPv6Error(out, s.own6.As16(), ip, typ, code, rest)
	t.c.icmpSent6.Add(1)
}

func peer4(a [4]byte) uint64 {
	return uint64(binary.BigEndian.Uint32(a[:])) * 0x9e3779b97f4a7c15 >> 32
}
