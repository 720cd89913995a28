package nat64

import (
	"fmt"
	"net/netip"
	"time"
)

// Protocol is a protocol with its own bindings and sessions.
type Protocol uint8

// The protocols a NAT64 keeps state for.
const (
	TCP Protocol = iota
	UDP
	ICMP
	numProtocols
)

var protocolNames = [numProtocols]string{"tcp", "udp", "icmp"}

func (p Protocol) String() string {
	if p < numProtocols {
		return protocolNames[p]
	}
	return "unknown"
}

// ParseProtocol reads "tcp", "udp" or "icmp".
func ParseProtocol(s string) (Protocol, bool) {
	for i, n := range protocolNames {
		if n == s {
			return Protocol(i), true
		}
	}
	return 0, false
}

// Pool4Entry is an IPv4 address of pool4 with the ports (ICMP: query
// identifiers) it lends to each protocol it serves.
type Pool4Entry struct {
	Address netip.Addr
	// First and Last bound the port range, both included.
	First, Last uint16
	// Protocols served; none means all three.
	Protocols []Protocol
}

// StaticBinding is a binding made by configuration: it never expires
// and lets IPv4 hosts reach an IPv6 server.
type StaticBinding struct {
	Protocol Protocol
	IPv4     netip.AddrPort
	IPv6     netip.AddrPort
}

// Side is the NAT64's presence on one side: its own address (the source
// of the ICMP errors it originates) and the link MTU.
type Side struct {
	Address netip.Addr
	MTU     int
}

// Timeouts are the session lifetimes (RFC 6146 §4).
type Timeouts struct {
	TCPEstablished time.Duration
	TCPTransitory  time.Duration
	UDP            time.Duration
	ICMP           time.Duration
	// SYNHold is how long an unsolicited IPv4 SYN is held for a
	// simultaneous open (TCP_INCOMING_SYN), and the lifetime of a session
	// an IPv4 SYN opened (V4 INIT).
	SYNHold time.Duration
}

// The RFC minimums and defaults (RFC 6146 §4), and the fragment timer's
// (RFC 6146 §3.4: FRAGMENT_MIN).
const (
	MinTCPEstablished = 2*time.Hour + 4*time.Minute
	MinTCPTransitory  = 4 * time.Minute
	MinUDP            = 2 * time.Minute
	DefaultUDP        = 5 * time.Minute
	MinICMP           = 60 * time.Second
	MinSYNHold        = 6 * time.Second
	MinFragment       = 2 * time.Second
)

// Limits bound the tables. Zero takes the default.
type Limits struct {
	// Sessions is the most sessions of all protocols together.
	Sessions int
	// Bindings is the most dynamic bindings.
	Bindings int
	// BindingsPerHost and SessionsPerHost bound what one IPv6 address
	// can take, so that one host flooding SYNs to random destinations
	// cannot use up the ports of the others.
	BindingsPerHost int
	SessionsPerHost int
	// HeldSYNs is the most unsolicited IPv4 SYNs held at once.
	HeldSYNs int
	// FragmentBytes bounds the memory of fragments waiting for the first
	// fragment of their packet; FragmentFlows the packets followed.
	FragmentBytes int
	FragmentFlows int
}

// Defaults of the limits.
const (
	DefaultSessions        = 1 << 20
	DefaultBindings        = 1 << 20
	DefaultBindingsPerHost = 4096
	DefaultSessionsPerHost = 16384
	DefaultHeldSYNs        = 64
	DefaultFragmentBytes   = 1 << 20
	DefaultFragmentFlows   = 4096
	DefaultMTU             = 1500
	DefaultPortFirst       = 61001
	DefaultPortLast        = 65535
)

// Config is a NAT64's configuration.
type Config struct {
	// Pool6 is the prefix IPv4 addresses appear under in IPv6 (RFC
	// 6052: /32, /40, /48, /56, /64 or /96).
	Pool6 netip.Prefix
	Pool4 []Pool4Entry
	// StaticBIB are bindings made by configuration.
	StaticBIB []StaticBinding
	// AddressDependentFiltering lets an IPv4 packet in only from an
	// address the binding's IPv6 host has a session with (RFC 4787);
	// false is endpoint-independent filtering.
	AddressDependentFiltering bool
	// ZeroizeTrafficClass sets the traffic class of translated IPv4
	// packets to zero instead of copying their TOS (RFC 7915 §4.1).
	ZeroizeTrafficClass bool
	LowestIPv6MTU       int
	IPv4, IPv6          Side
	Timeouts            Timeouts
	// FragmentTimeout is how long fragments wait for the first one of
	// their packet (at least 2 s: RFC 6146 §3.4).
	FragmentTimeout time.Duration
	Limits          Limits
	// Clock is the time of the timers and of the ICMP error rate limit;
	// nil means time.Now.
	Clock func() time.Time
	// ICMPErrorRate and ICMPErrorBurst limit the ICMP errors the NAT64
	// originates (0: 1000 a second, a burst of 50; negative: no limit).
	ICMPErrorRate, ICMPErrorBurst int
	// Seed seeds the random choice of ports (RFC 6056); 0 draws a seed.
	// A fixed seed makes the allocation repeatable, for tests.
	Seed uint64
}

// Warnings lists what in c is allowed but below what RFC 6146 asks, as
// Jool does, so that tests can use short timers.
func (c *Config) Warnings() []string {
	var w []string
	t := c.Timeouts
	check := func(name string, v, min time.Duration) {
		if v != 0 && v < min {
			w = append(w, fmt.Sprintf("%s %v is below the RFC 6146 minimum %v", name, v, min))
		}
	}
	check("tcp_established", t.TCPEstablished, MinTCPEstablished)
	check("tcp_transitory", t.TCPTransitory, MinTCPTransitory)
	check("udp", t.UDP, MinUDP)
	check("icmp", t.ICMP, MinICMP)
	check("syn_hold", t.SYNHold, MinSYNHold)
	check("fragment_timeout", c.FragmentTimeout, MinFragment)
	return w
}

// withDefaults returns c with every zero value replaced by its default.
func (c Config) withDefaults() Config {
	d := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	d(&c.Timeouts.TCPEstablished, MinTCPEstablished)
	d(&c.Timeouts.TCPTransitory, MinTCPTransitory)
	d(&c.Timeouts.UDP, DefaultUDP)
	d(&c.Timeouts.ICMP, MinICMP)
	d(&c.Timeouts.SYNHold, MinSYNHold)
	d(&c.FragmentTimeout, MinFragment)
	n := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	l := &c.Limits
	n(&l.Sessions, DefaultSessions)
	n(&l.Bindings, DefaultBindings)
	n(&l.BindingsPerHost, DefaultBindingsPerHost)
	n(&l.SessionsPerHost, DefaultSessionsPerHost)
	n(&l.HeldSYNs, DefaultHeldSYNs)
	n(&l.FragmentBytes, DefaultFragmentBytes)
	n(&l.FragmentFlows, DefaultFragmentFlows)
	n(&c.IPv4.MTU, DefaultMTU)
	n(&c.IPv6.MTU, DefaultMTU)
	n(&c.LowestIPv6MTU, 1280)
	if c.ICMPErrorRate == 0 {
		c.ICMPErrorRate = 1000
	}
	n(&c.ICMPErrorBurst, 50)
	if c.Clock == nil {
		c.Clock = time.Now
	}
	return c
}

// Validate checks c as New does.
func (c *Config) Validate() error {
	_, err := newState(*c)
	return err
}
