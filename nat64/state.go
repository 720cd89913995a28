package nat64

import (
	"fmt"
	"slices"

	"github.com/sixgate/sixgate/siit"
)

// portRange is one pool4 address's ports for one protocol.
type portRange struct {
	addr        [4]byte
	first, last uint16
}

func (r portRange) size() int { return int(r.last) - int(r.first) + 1 }

// state is what one configuration gives the per-packet path.
type state struct {
	cfg  Config
	m    *siit.Mapper
	path siit.Path
	// ranges holds each protocol's pool4 ranges, in configuration order.
	ranges [numProtocols][]portRange
	// pool4 holds every pool4 address.
	pool4      map[[4]byte]struct{}
	own4       [4]byte
	own6       [16]byte
	has4, has6 bool
	// timeouts in nanoseconds, by timer class.
	life [numLists]int64
	frag int64
}

func newState(c Config) (*state, error) {
	c = c.withDefaults()
	if !c.Pool6.IsValid() {
		return nil, fmt.Errorf("nat64: pool6: missing")
	}
	if err := siit.ValidPool6(c.Pool6); err != nil {
		return nil, fmt.Errorf("nat64: pool6: %w", err)
	}
	m, err := siit.NewMapper(c.Pool6, nil, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("nat64: pool6: %w", err)
	}
	if len(c.Pool4) == 0 {
		return nil, fmt.Errorf("nat64: pool4: empty")
	}
	if c.IPv4.MTU < 68 || c.IPv4.MTU > 65535 {
		return nil, fmt.Errorf("nat64: ipv4 mtu %d: want 68 to 65535", c.IPv4.MTU)
	}
	if c.IPv6.MTU < 1280 || c.IPv6.MTU > 65535 {
		return nil, fmt.Errorf("nat64: ipv6 mtu %d: want 1280 to 65535", c.IPv6.MTU)
	}
	if c.LowestIPv6MTU < 1280 || c.LowestIPv6MTU > 65535 {
		return nil, fmt.Errorf("nat64: lowest ipv6 mtu %d: want 1280 to 65535", c.LowestIPv6MTU)
	}
	s := &state{cfg: c, m: m, pool4: map[[4]byte]struct{}{}}
	for i, e := range c.Pool4 {
		if !e.Address.Is4() {
			return nil, fmt.Errorf("nat64: pool4 entry %d: %v is not an IPv4 address", i+1, e.Address)
		}
		if e.First > e.Last {
			return nil, fmt.Errorf("nat64: pool4 entry %d: ports %d-%d: first above last", i+1, e.First, e.Last)
		}
		protos := e.Protocols
		if len(protos) == 0 {
			protos = []Protocol{TCP, UDP, ICMP}
		}
		r := portRange{addr: e.Address.As4(), first: e.First, last: e.Last}
		for _, p := range protos {
			if p >= numProtocols {
				return nil, fmt.Errorf("nat64: pool4 entry %d: unknown protocol %d", i+1, p)
			}
			for _, o := range s.ranges[p] {
				if o.addr == r.addr && o.first <= r.last && r.first <= o.last {
					return nil, fmt.Errorf("nat64: pool4 entry %d: %v %s ports %d-%d overlap %d-%d", i+1, e.Address, p, r.first, r.last, o.first, o.last)
				}
			}
			s.ranges[p] = append(s.ranges[p], r)
		}
		s.pool4[r.addr] = struct{}{}
	}
	seen := map[key4]bool{}
	for i, b := range c.StaticBIB {
		if b.Protocol >= numProtocols {
			return nil, fmt.Errorf("nat64: static bib entry %d: unknown protocol %d", i+1, b.Protocol)
		}
		if !b.IPv4.Addr().Is4() {
			return nil, fmt.Errorf("nat64: static bib entry %d: %v is not IPv4", i+1, b.IPv4)
		}
		if a := b.IPv6.Addr(); !a.Is6() || a.Is4In6() {
			return nil, fmt.Errorf("nat64: static bib entry %d: %v is not IPv6", i+1, b.IPv6)
		}
		if _, ok := s.pool4[b.IPv4.Addr().As4()]; !ok {
			return nil, fmt.Errorf("nat64: static bib entry %d: %v is not a pool4 address", i+1, b.IPv4.Addr())
		}
		k := key4{addr: b.IPv4.Addr().As4(), port: b.IPv4.Port(), proto: b.Protocol}
		if seen[k] {
			return nil, fmt.Errorf("nat64: static bib entry %d: %s %v bound twice", i+1, b.Protocol, b.IPv4)
		}
		seen[k] = true
	}
	if a := c.IPv4.Address; a.IsValid() {
		if !a.Is4() {
			return nil, fmt.Errorf("nat64: ipv4 address %v is not IPv4", a)
		}
		s.own4, s.has4 = a.As4(), true
	}
	if a := c.IPv6.Address; a.IsValid() {
		if !a.Is6() || a.Is4In6() {
			return nil, fmt.Errorf("nat64: ipv6 address %v is not IPv6", a)
		}
		s.own6, s.has6 = a.As16(), true
	}
	t := c.Timeouts
	for _, d := range []struct {
		name string
		v    int64
	}{{"tcp_established", int64(t.TCPEstablished)}, {"tcp_transitory", int64(t.TCPTransitory)}, {"udp", int64(t.UDP)}, {"icmp", int64(t.ICMP)}, {"syn_hold", int64(t.SYNHold)}, {"fragment", int64(c.FragmentTimeout)}} {
		if d.v < 0 {
			return nil, fmt.Errorf("nat64: timeout %s: negative", d.name)
		}
	}
	s.life = [numLists]int64{
		listTCPEst:   int64(t.TCPEstablished),
		listTCPTrans: int64(t.TCPTransitory),
		listUDP:      int64(t.UDP),
		listICMP:     int64(t.ICMP),
		listSYN:      int64(t.SYNHold),
	}
	s.frag = int64(c.FragmentTimeout)
	p := &s.path
	p.MTU4, p.MTU6, p.LowestIPv6MTU = c.IPv4.MTU, c.IPv6.MTU, c.LowestIPv6MTU
	p.ZeroizeTrafficClass = c.ZeroizeTrafficClass
	return s, nil
}

// inRange reports whether addr:port is in a pool4 range of proto.
func (s *state) inRange(proto Protocol, addr [4]byte, port uint16) bool {
	return slices.ContainsFunc(s.ranges[proto], func(r portRange) bool {
		return r.addr == addr && r.first <= port && port <= r.last
	})
}

// isPool4 reports whether a is a pool4 address.
func (s *state) isPool4(a [4]byte) bool {
	_, ok := s.pool4[a]
	return ok
}
