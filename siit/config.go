package siit

import (
	"fmt"
	"net/netip"
	"time"
)

// Side is the translator's presence on one side: its own address there
// (the source of the ICMP errors it originates toward that side) and the
// MTU of its link.
type Side struct {
	Address netip.Addr
	MTU     int
}

// Config is a translator's configuration.
type Config struct {
	// Pool6 is the RFC 6052 prefix (/32, /40, /48, /56, /64 or /96);
	// the zero Prefix means none, so that only EAM entries translate.
	Pool6 netip.Prefix
	// EAM is the Explicit Address Mapping table (RFC 7757), matched by
	// longest prefix before Pool6 in both directions.
	EAM []EAM
	// RFC6791v4 and RFC6791v6 are the sources of translated ICMP errors
	// whose own source cannot be translated (RFC 6791); when empty, the
	// translator's own address on the outgoing side is used.
	RFC6791v4, RFC6791v6 []netip.Prefix
	// LowestIPv6MTU bounds the IPv6 fragments made from IPv4 packets
	// without DF (RFC 7915 §4.1); 0 means 1280.
	LowestIPv6MTU int
	// AmendUDPChecksumZero computes the checksum of an IPv4 UDP datagram
	// that carries none, instead of dropping it (RFC 7915 §4.5).
	AmendUDPChecksumZero bool
	// IPv4 and IPv6 are the translator's own addresses and link MTUs; an
	// MTU of 0 means 1500.
	IPv4, IPv6 Side

	// Clock drives the rate limit of the ICMP errors the translator
	// originates; nil means time.Now.
	Clock func() time.Time
	// ICMPErrorRate and ICMPErrorBurst are that rate limit: errors per
	// second and the burst allowed (0: Linux's defaults, 1000 and 50;
	// a negative rate: no limit).
	ICMPErrorRate, ICMPErrorBurst int
}

// Defaults.
const (
	DefaultMTU            = 1500
	DefaultICMPErrorRate  = 1000
	DefaultICMPErrorBurst = 50
)

// state is what one configuration gives the per-packet path.
type state struct {
	m    *Mapper
	path Path
	// own addresses as netip, for Pass decisions
	own4, own6 netip.Addr
	cfg        Config
}

func newState(c Config) (*state, error) {
	m, err := NewMapper(c.Pool6, c.EAM, c.RFC6791v4, c.RFC6791v6)
	if err != nil {
		return nil, err
	}
	if !c.Pool6.IsValid() && len(c.EAM) == 0 {
		return nil, fmt.Errorf("siit: neither pool6 nor eam: nothing to translate")
	}
	s := &state{m: m, cfg: c}
	p := &s.path
	p.MTU4, p.MTU6 = c.IPv4.MTU, c.IPv6.MTU
	if p.MTU4 == 0 {
		p.MTU4 = DefaultMTU
	}
	if p.MTU6 == 0 {
		p.MTU6 = DefaultMTU
	}
	if p.MTU4 < 68 || p.MTU4 > 65535 {
		return nil, fmt.Errorf("siit: ipv4 mtu %d: want 68 to 65535", p.MTU4)
	}
	if p.MTU6 < 1280 || p.MTU6 > 65535 {
		return nil, fmt.Errorf("siit: ipv6 mtu %d: want 1280 to 65535", p.MTU6)
	}
	p.LowestIPv6MTU = c.LowestIPv6MTU
	if p.LowestIPv6MTU == 0 {
		p.LowestIPv6MTU = 1280
	}
	if p.LowestIPv6MTU < 1280 || p.LowestIPv6MTU > 65535 {
		return nil, fmt.Errorf("siit: lowest ipv6 mtu %d: want 1280 to 65535", p.LowestIPv6MTU)
	}
	p.AmendUDPChecksumZero = c.AmendUDPChecksumZero
	if a := c.IPv4.Address; a.IsValid() {
		if !a.Is4() {
			return nil, fmt.Errorf("siit: ipv4 address %v is not IPv4", a)
		}
		s.own4 = a
	}
	if a := c.IPv6.Address; a.IsValid() {
		if !a.Is6() || a.Is4In6() {
			return nil, fmt.Errorf("siit: ipv6 address %v is not IPv6", a)
		}
		s.own6 = a
	}
	if c.ICMPErrorRate == 0 {
		s.cfg.ICMPErrorRate = DefaultICMPErrorRate
	}
	if c.ICMPErrorBurst <= 0 {
		s.cfg.ICMPErrorBurst = DefaultICMPErrorBurst
	}
	if c.Clock == nil {
		s.cfg.Clock = time.Now
	}
	return s, nil
}
