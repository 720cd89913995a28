package siit

import "github.com/sixgate/sixgate/topo"

// ConfigFromTopo is the engine's configuration for a siit section.
func ConfigFromTopo(s *topo.SIIT) Config {
	c := Config{
		Pool6:                s.Pool6,
		RFC6791v4:            s.RFC6791v4,
		RFC6791v6:            s.RFC6791v6,
		LowestIPv6MTU:        s.LowestIPv6MTU,
		AmendUDPChecksumZero: s.AmendUDPChecksumZero,
		IPv4:                 Side{Address: s.IPv4.Address.Addr(), MTU: s.IPv4.MTU},
		IPv6:                 Side{Address: s.IPv6.Address.Addr(), MTU: s.IPv6.MTU},
	}
	for _, e := range s.EAM {
		c.EAM = append(c.EAM, EAM{IPv4: e.IPv4, IPv6: e.IPv6})
	}
	return c
}
