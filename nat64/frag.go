package nat64

import (
	"github.com/sixgate/sixgate/packet"
	"github.com/sixgate/sixgate/siit"
)

// Fragments (RFC 6146 §3.4, §3.5): only the first fragment of a packet
// carries its ports, so it alone finds (or makes) the session; the
// translation it gets (the addresses on the other side) is kept for the
// packet's other fragments for FragmentTimeout. Fragments that arrive
// before the first wait for it, within the memory bound, and are dropped
// when the timer runs out.

// fragKey names a fragmented packet: addresses, identification,
// protocol, family.
type fragKey struct {
	src, dst [16]byte
	id       uint32
	proto    uint8
	fam      uint8
}

type fragFlow struct {
	expires int64
	mapped  bool
	// the other side's addresses, once the first fragment came.
	src, dst [16]byte
	held     [][]byte
}

type fragTable struct {
	flows map[fragKey]*fragFlow
	bytes int
}

func newFragTable() fragTable { return fragTable{flows: map[fragKey]*fragFlow{}} }

func fragKey6(ip packet.IPv6, u packet.Upper) fragKey {
	f := packet.IPv6Fragment(ip[u.Fragment:])
	return fragKey{src: ip.Src(), dst: ip.Dst(), id: f.ID(), proto: f.NextHeader(), fam: 6}
}

func fragKey4(ip packet.IPv4) fragKey {
	k := fragKey{id: uint32(ip.ID()), proto: ip.Protocol(), fam: 4}
	copy(k.src[:], ip[packet.IPv4Src:packet.IPv4Src+4])
	copy(k.dst[:], ip[packet.IPv4Dst:packet.IPv4Dst+4])
	return k
}

// flow returns the flow of k, made if there is room.
func (t *fragTable) flow(s *state, now int64, k fragKey) *fragFlow {
	f := t.flows[k]
	if f == nil {
		if len(t.flows) >= s.cfg.Limits.FragmentFlows {
			return nil
		}
		f = &fragFlow{expires: now + s.frag}
		t.flows[k] = f
	}
	return f
}

// hold copies a fragment to wait for its first one.
func (t *fragTable) hold(s *state, f *fragFlow, pkt []byte) bool {
	if t.bytes+len(pkt) > s.cfg.Limits.FragmentBytes {
		return false
	}
	f.held = append(f.held, append([]byte(nil), pkt...))
	t.bytes += len(pkt)
	return true
}

func (t *fragTable) expire(now int64, c *counters) {
	for k, f := range t.flows {
		if f.expires <= now {
			for _, p := range f.held {
				t.bytes -= len(p)
				c.drops[dropFragmentTimeout].Add(1)
			}
			delete(t.flows, k)
		}
	}
}

// firstFragment6 records the translation of a first fragment from IPv6
// and translates the fragments that came before it.
func (e *NAT64) firstFragment6(s *state, now int64, ip packet.IPv6, u packet.Upper, src4, dst4 *[4]byte, out *packet.Batch) {
	f := e.frags.flow(s, now, fragKey6(ip, u))
	if f == nil {
		return
	}
	f.mapped = true
	copy(f.src[:], src4[:])
	copy(f.dst[:], dst4[:])
	held := f.held
	f.held = nil
	for _, p := range held {
		e.frags.bytes -= len(p)
		q := packet.IPv6(p)
		if u, ok := q.Transport(); ok {
			e.later6(s, now, q, u, out)
		}
	}
}

// later6 translates a fragment other than the first from IPv6 with its
// packet's translation, or holds it until the first fragment comes.
func (e *NAT64) later6(s *state, now int64, ip packet.IPv6, u packet.Upper, out *packet.Batch) packet.Verdict {
	f := e.frags.flow(s, now, fragKey6(ip, u))
	if f == nil {
		e.drop(dropFragmentMemory)
		return packet.Drop
	}
	if !f.mapped {
		if !e.frags.hold(s, f, ip) {
			e.drop(dropFragmentMemory)
			return packet.Drop
		}
		return packet.Consumed
	}
	src4, dst4 := [4]byte(f.src[:4]), [4]byte(f.dst[:4])
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

// firstFragment4 is firstFragment6 from IPv4.
func (e *NAT64) firstFragment4(s *state, now int64, ip packet.IPv4, src6, dst6 *[16]byte, out *packet.Batch) {
	f := e.frags.flow(s, now, fragKey4(ip))
	if f == nil {
		return
	}
	f.mapped, f.src, f.dst = true, *src6, *dst6
	held := f.held
	f.held = nil
	for _, p := range held {
		e.frags.bytes -= len(p)
		e.later4(s, now, packet.IPv4(p), out)
	}
}

// later4 is later6 from IPv4.
func (e *NAT64) later4(s *state, now int64, ip packet.IPv4, out *packet.Batch) packet.Verdict {
	f := e.frags.flow(s, now, fragKey4(ip))
	if f == nil {
		e.drop(dropFragmentMemory)
		return packet.Drop
	}
	if !f.mapped {
		if !e.frags.hold(s, f, ip[:ip.TotalLength()]) {
			e.drop(dropFragmentMemory)
			return packet.Drop
		}
		return packet.Consumed
	}
	r, _ := s.path.To6(out, ip, &f.src, &f.dst, &e.qm)
	if r != siit.Translated {
		e.c.results[r].Add(1)
		return packet.Drop
	}
	e.c.translated4to6.Add(1)
	return packet.Consumed
}
