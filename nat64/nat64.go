package nat64

import (
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sixgate/sixgate/packet"
	"github.com/sixgate/sixgate/siit"
)

// NAT64 is a stateful NAT64. It is safe for concurrent use: one lock
// guards the tables, held for the time of one packet.
type NAT64 struct {
	mu    sync.Mutex
	st    *state
	t     tables
	held  map[skey]*heldSYN
	frags fragTable
	rng   *rand.Rand
	seed  uint64
	qm    quoteMap
	c     counters
	id    atomic.Uint32
	limit siit.ErrorLimiter
}

// New validates c and returns a NAT64 with its static bindings.
func New(c Config) (*NAT64, error) {
	s, err := newState(c)
	if err != nil {
		return nil, err
	}
	seed := c.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	e := &NAT64{
		t: newTables(), held: map[skey]*heldSYN{}, frags: newFragTable(),
		rng: rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d)), seed: seed,
	}
	e.install(s)
	return e, nil
}

// install puts s in force: the static bindings it lists are made, those
// it no longer lists removed, dynamic bindings outside pool4 removed with
// their sessions. The lock is held.
func (e *NAT64) install(s *state) {
	want := map[key4]StaticBinding{}
	for _, sb := range s.cfg.StaticBIB {
		want[key4{sb.IPv4.Addr().As4(), sb.IPv4.Port(), sb.Protocol}] = sb
	}
	for k, b := range e.t.bib4 {
		if b.static {
			if sb, ok := want[k]; !ok || sb.IPv6.Addr().As16() != b.addr6 || sb.IPv6.Port() != b.port6 {
				e.t.removeBinding(b)
			}
			continue
		}
		if _, ok := want[k]; ok || !s.inRange(b.proto, b.addr4, b.port4) {
			e.t.removeBinding(b)
		}
	}
	for k, sb := range want {
		if b := e.t.bib4[k]; b != nil {
			continue // kept above: the same static binding
		}
		k6 := key6{sb.IPv6.Addr().As16(), sb.IPv6.Port(), sb.Protocol}
		if b := e.t.bib6[k6]; b != nil {
			e.t.removeBinding(b)
		}
		e.t.addBinding(&binding{addr6: k6.addr, port6: k6.port, addr4: k.addr, port4: k.port, proto: k.proto, static: true})
	}
	e.t.filterByAddress(s.cfg.AddressDependentFiltering)
	e.limit.SetRate(s.cfg.ICMPErrorRate, s.cfg.ICMPErrorBurst)
	e.st = s
}

// SetConfig replaces the configuration, keeping the bindings and sessions
// whose pool4 address and port are still in pool4 (RFC 6146 leaves
// reloads to implementations; this is what operators expect of Jool).
// Counters are kept.
func (e *NAT64) SetConfig(c Config) error {
	s, err := newState(c)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.install(s)
	return nil
}

// Pool6 returns the prefix IPv4 addresses appear under.
func (e *NAT64) Pool6() netip.Prefix {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.st.cfg.Pool6
}

func (e *NAT64) nextID() uint16 { return uint16(e.id.Add(1)) }

// Handle translates one raw IP packet (IPv4 or IPv6 header first). It
// passes what is not its to translate: IPv6 outside pool6, IPv4 to an
// address outside pool4, and the NAT64's own IPv6 address.
func (e *NAT64) Handle(pkt []byte, out *packet.Batch) packet.Verdict {
	if len(pkt) == 0 {
		return packet.Pass
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.st
	now := s.cfg.Clock().UnixNano()
	switch pkt[0] >> 4 {
	case 4:
		return e.handle4(s, now, packet.IPv4(pkt), out, false)
	case 6:
		return e.handle6(s, now, packet.IPv6(pkt), out)
	}
	return packet.Pass
}

// Expire runs the timers: sessions whose lifetime is over, held SYNs
// answered with ICMP port unreachable, fragments that waited too long.
func (e *NAT64) Expire(out *packet.Batch) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.st
	now := s.cfg.Clock().UnixNano()
	for l := range e.t.lists {
		list := &e.t.lists[l]
		for list.head != nil && list.head.expires <= now {
			ss := list.head
			if ss.b.proto == TCP && ss.state == stEstablished {
				// RFC 6146 §3.5.2.2: an established session whose timer
				// runs out becomes transitory; traffic brings it back.
				ss.state = stTrans
				e.t.setTimer(ss, listTCPTrans, now+s.life[listTCPTrans])
				continue
			}
			e.t.removeSession(ss, true)
			e.c.expired.Add(1)
		}
	}
	e.expireHeld(s, now, out)
	e.frags.expire(now, &e.c)
}

// ipv4String formats a as dotted quad.
func ipv4String(a [4]byte) string { return netip.AddrFrom4(a).String() }

// Now returns the NAT64's clock, for listings.
func (e *NAT64) now() time.Time { return e.st.cfg.Clock() }
