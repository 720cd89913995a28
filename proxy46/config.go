package proxy46

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/sixgate/sixgate/packet"
)

// Policy says how a service picks the backend of a connection.
type Policy uint8

const (
	// PolicyPrefix matches the first bytes the client sends against each
	// backend's match strings.
	PolicyPrefix Policy = iota
	// PolicyHTTPHost matches the Host header of an HTTP/1.x request.
	PolicyHTTPHost
	// PolicySNI matches the server_name of a TLS ClientHello.
	PolicySNI
	// PolicyHash picks by a hash of the client's address, so a client
	// keeps landing on the same backend.
	PolicyHash
	// PolicyRoundRobin takes the backends in turn.
	PolicyRoundRobin
)

var policyNames = [...]string{"prefix", "http-host", "sni", "hash", "round-robin"}

func (p Policy) String() string {
	if int(p) < len(policyNames) {
		return policyNames[p]
	}
	return fmt.Sprintf("Policy(%d)", p)
}

// ParsePolicy maps a configuration name ("prefix", "http-host", "sni",
// "hash", "round-robin") to a Policy.
func ParsePolicy(s string) (Policy, error) {
	for i, n := range policyNames {
		if s == n {
			return Policy(i), nil
		}
	}
	return 0, fmt.Errorf("proxy46: unknown select policy %q", s)
}

// layer4 reports whether the policy decides without looking at data, so
// the backend is opened as soon as the client completes its handshake
// (which is what a server-speaks-first protocol needs).
func (p Policy) layer4() bool { return p == PolicyHash || p == PolicyRoundRobin }

// Backend is one IPv6 server behind a service.
type Backend struct {
	Addr netip.AddrPort
	// Match lists what selects this backend under an L7 policy: payload
	// prefixes, Host names or SNI names. Names match case-insensitively,
	// and "*.example.com" matches any name under example.com.
	Match []string
}

// Service is one IPv4 VIP and TCP port with its backends.
type Service struct {
	VIP      netip.Addr
	Port     uint16
	Policy   Policy
	Backends []Backend
	// Default, if valid, takes connections no backend matched, and those
	// whose first bytes did not decide in time.
	Default netip.AddrPort
	// Names routes host names to backends (http-host and sni), for name
	// sets too large to write as each backend's Match (map files). A name
	// given both ways is tried on the backends that match it, in order,
	// then on those of its route.
	Names []NameRoute
	// DNS, if set, finds the backend of a name that neither Backends
	// nor Names match in DNS (http-host and sni; no Default).
	DNS *DNSBackends
	// ALG is the application-level gateway the service's connections go
	// through (ALGNone: none).
	ALG ALG
}

// ALG names an application-level gateway of the splice.
type ALG uint8

const (
	// ALGNone: the connections are spliced as they are.
	ALGNone ALG = iota
	// ALGFTP: the connections are FTP control connections (ftp.go): the
	// gateway rewrites their PASV, EPSV, PORT and EPRT, and the engine
	// splices the data connections they announce.
	ALGFTP
)

// FTP configures the FTP gateway of the services with ALGFTP. Zero values
// take defaults.
type FTP struct {
	// PassiveFirst and PassiveLast are the range of VIP ports lent to
	// passive-mode data connections, one per expected connection
	// (default 50000 to 50999). No service of an FTP service's VIP may
	// listen in it.
	PassiveFirst, PassiveLast uint16
	// ExpectTimeout bounds the wait for an announced data connection
	// (default 30 s): its VIP port, or its way through for the
	// server's connection, is then given up.
	ExpectTimeout time.Duration
	// MaxExpectations bounds the data connections expected at once,
	// over all control connections (default 1024); a PASV, EPSV, PORT
	// or EPRT beyond it is answered 425.
	MaxExpectations int
	// MaxControl bounds the control connections the gateway follows at
	// once (default 4096); more are spliced without it and counted.
	MaxControl int
}

// Defaults of FTP.
const (
	DefaultFTPPassiveFirst    = 50000
	DefaultFTPPassiveLast     = 50999
	DefaultFTPExpectTimeout   = 30 * time.Second
	DefaultFTPMaxExpectations = 1024
	DefaultFTPMaxControl      = 4096
)

// NameRoute sends a host name (or a "*.example.com" wildcard) to
// backends, given as indices into the service's Backends in the order
// they are tried.
type NameRoute struct {
	Name     string
	Backends []uint32
}

// Timeouts bound each phase of a connection. Zero values take defaults.
type Timeouts struct {
	// Embryonic bounds the time from the client's SYN to a backend being
	// chosen (waiting for the handshake ACK and the deciding bytes).
	Embryonic time.Duration
	// SYNRetransmit is the interval between SYNs to a silent backend.
	SYNRetransmit time.Duration
	// Backend bounds the wait for one backend's SYN-ACK before the next
	// one is tried.
	Backend time.Duration
	// Idle removes an established connection that saw no packet
	// (default 2 h 4 min: RFC 5382 REQ-5 and RFC 7857 §2 ask for at least
	// that, so that a connection idle up to the first keepalive, 2 h on
	// Linux, survives).
	Idle time.Duration
	// Transitory removes a half-closed connection (one FIN seen) that saw
	// no packet (default 4 min, RFC 5382 REQ-5, or Idle if shorter). It
	// must not be above Idle.
	Transitory time.Duration
	// Closed keeps a closed connection (both FINs acknowledged, or a RST)
	// so that the last ACKs and retransmitted FINs are still translated;
	// every segment starts it again (default 10 s, or Transitory if
	// shorter; not above Transitory). When the table is full, closed
	// connections are evicted to make room.
	Closed time.Duration
	// Drain bounds how long a connection whose service or backend a
	// reconfiguration removed keeps working (default 10 min, as Envoy's
	// drain time): then it is reset towards both ends. A connection that
	// closes first is not touched.
	Drain time.Duration
	// Linger is the old name of Closed, used when Closed is zero.
	//
	// Deprecated: use Closed.
	Linger time.Duration
}

// Config configures an Engine.
type Config struct {
	Services []Service
	// Pool6 is the RFC 6052 prefix that IPv4 client addresses are
	// embedded in as the source of the IPv6 half.
	Pool6 netip.Prefix
	// MTU6 is the IPv6 path MTU towards the backends (default 1500).
	MTU6 int
	// MaxConnections bounds the connection table (default 65536).
	MaxConnections int
	// MaxHeldBytes bounds the client bytes held per connection before a
	// backend is chosen (default 16384, at most 65535 as it is also the
	// window offered to the client).
	MaxHeldBytes int
	// MaxHeldBytesTotal bounds the client bytes held across all
	// connections (default 64 MiB), so that many connections each at
	// MaxHeldBytes cannot exhaust memory. Bytes beyond it are dropped
	// unacknowledged; the client sends them again.
	MaxHeldBytesTotal int
	// MaxEmbryonic bounds the connections that are not yet spliced
	// (syn-received, holding, backend-syn); default MaxConnections. SYNs,
	// and handshake ACKs carrying a SYN cookie, beyond it are dropped.
	MaxEmbryonic int
	// SynCookieThreshold is the number of embryonic connections from
	// which SYNs are answered with SYN cookies instead of creating state
	// (default 1024, or MaxEmbryonic if smaller; negative: never).
	SynCookieThreshold int
	// ChallengeACKLimit bounds the challenge ACKs (RFC 5961 §7) sent per
	// second across the engine (default 1000; negative: none are sent).
	ChallengeACKLimit int
	// ICMPErrorLimit bounds the ICMP errors the engine originates for its
	// VIPs (port unreachable) per second across the engine, in bursts of
	// at most 50 (default 1000, as Linux's icmp_msgs_per_sec; negative:
	// none are sent). Fragmentation Needed, which path MTU discovery
	// relies on, is not limited, as in Linux.
	ICMPErrorLimit int
	// WindowScale is the shift offered to clients that offer one, 0 to
	// 14; nil means the default, 7. Backend windows are rescaled when
	// theirs differs. 0 is a shift like any other: scaling is negotiated
	// (the client may scale its windows) and the engine's are unscaled.
	WindowScale *uint8
	// ExpireBudget bounds the connections Expire examines for idleness in
	// one call (default 65536), so that huge tables are swept in slices.
	ExpireBudget int
	Timeouts     Timeouts
	// ISNKey keys the sequence number and timestamp hashes. Use random
	// bytes; a fixed key makes tests repeatable.
	ISNKey [16]byte
	// Clock returns the current time; nil means time.Now. Tests inject
	// a fake clock to make timers deterministic.
	Clock func() time.Time
	// FTP configures the gateway of the services with ALGFTP.
	FTP FTP
}

// DefaultDrain is Timeouts.Drain when it is zero.
const DefaultDrain = 10 * time.Minute

// defaultWindowScale is the shift offered to clients when
// Config.WindowScale is nil.
const defaultWindowScale = 7

func (c *Config) setDefaults() {
	if c.MTU6 == 0 {
		c.MTU6 = 1500
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = 65536
	}
	if c.MaxHeldBytes == 0 {
		c.MaxHeldBytes = 16384
	}
	if c.MaxHeldBytesTotal == 0 {
		c.MaxHeldBytesTotal = 64 << 20
	}
	if c.MaxEmbryonic == 0 {
		c.MaxEmbryonic = c.MaxConnections
	}
	if c.SynCookieThreshold == 0 {
		c.SynCookieThreshold = min(1024, c.MaxEmbryonic)
	}
	if c.ChallengeACKLimit == 0 {
		c.ChallengeACKLimit = 1000
	}
	if c.ICMPErrorLimit == 0 {
		c.ICMPErrorLimit = 1000
	}
	// A copy of its own, so that the caller's variable may change.
	ws := uint8(defaultWindowScale)
	if c.WindowScale != nil {
		ws = *c.WindowScale
	}
	c.WindowScale = &ws
	if c.ExpireBudget == 0 {
		c.ExpireBudget = 65536
	}
	t := &c.Timeouts
	setDur(&t.Embryonic, 10*time.Second)
	setDur(&t.SYNRetransmit, time.Second)
	setDur(&t.Backend, 3*time.Second)
	setDur(&t.Idle, 2*time.Hour+4*time.Minute)
	setDur(&t.Transitory, min(4*time.Minute, t.Idle))
	setDur(&t.Closed, t.Linger)
	setDur(&t.Closed, min(10*time.Second, t.Transitory))
	t.Linger = t.Closed
	setDur(&t.Drain, DefaultDrain)
	f := &c.FTP
	if f.PassiveFirst == 0 && f.PassiveLast == 0 {
		f.PassiveFirst, f.PassiveLast = DefaultFTPPassiveFirst, DefaultFTPPassiveLast
	}
	setDur(&f.ExpectTimeout, DefaultFTPExpectTimeout)
	if f.MaxExpectations == 0 {
		f.MaxExpectations = DefaultFTPMaxExpectations
	}
	if f.MaxControl == 0 {
		f.MaxControl = DefaultFTPMaxControl
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
}

func setDur(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}

func (c *Config) validate() error {
	if err := validPool6(c.Pool6); err != nil {
		return err
	}
	if c.MTU6 < 1280 || c.MTU6 > 65535 {
		return fmt.Errorf("proxy46: MTU6 %d out of range 1280..65535", c.MTU6)
	}
	if c.MaxHeldBytes < 1 || c.MaxHeldBytes > 65535 {
		return fmt.Errorf("proxy46: MaxHeldBytes %d out of range 1..65535", c.MaxHeldBytes)
	}
	if *c.WindowScale > packet.TCPMaxWindowScale {
		return fmt.Errorf("proxy46: WindowScale %d above %d", *c.WindowScale, packet.TCPMaxWindowScale)
	}
	if c.MaxConnections < 1 {
		return fmt.Errorf("proxy46: MaxConnections %d must be positive", c.MaxConnections)
	}
	if c.MaxHeldBytesTotal < c.MaxHeldBytes {
		return fmt.Errorf("proxy46: MaxHeldBytesTotal %d below MaxHeldBytes %d", c.MaxHeldBytesTotal, c.MaxHeldBytes)
	}
	if c.MaxEmbryonic < 1 {
		return fmt.Errorf("proxy46: MaxEmbryonic %d must be positive", c.MaxEmbryonic)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"Embryonic", c.Timeouts.Embryonic}, {"SYNRetransmit", c.Timeouts.SYNRetransmit},
		{"Backend", c.Timeouts.Backend}, {"Idle", c.Timeouts.Idle},
		{"Transitory", c.Timeouts.Transitory}, {"Closed", c.Timeouts.Closed}, {"Drain", c.Timeouts.Drain},
	} {
		if d.v < 0 {
			return fmt.Errorf("proxy46: Timeouts.%s %v is negative", d.name, d.v)
		}
	}
	if t := c.Timeouts; t.Transitory > t.Idle || t.Closed > t.Transitory {
		return fmt.Errorf("proxy46: Timeouts.Closed %v, Transitory %v and Idle %v must not decrease", t.Closed, t.Transitory, t.Idle)
	}
	if c.SynCookieThreshold > c.MaxEmbryonic {
		// Cookies would never be sent: the hard cap would refuse first.
		return fmt.Errorf("proxy46: SynCookieThreshold %d above MaxEmbryonic %d", c.SynCookieThreshold, c.MaxEmbryonic)
	}
	if err := c.validateFTP(); err != nil {
		return err
	}
	seen := make(map[netip.AddrPort]bool)
	for i, s := range c.Services {
		name := fmt.Sprintf("proxy46: service %d (%v:%d)", i, s.VIP, s.Port)
		if !s.VIP.Is4() {
			return fmt.Errorf("%s: VIP must be an IPv4 address", name)
		}
		if !hostAddr4(s.VIP.As4()) {
			return fmt.Errorf("%s: VIP must be a unicast address", name)
		}
		if s.Port == 0 {
			return fmt.Errorf("%s: port must be set", name)
		}
		key := netip.AddrPortFrom(s.VIP, s.Port)
		if seen[key] {
			return fmt.Errorf("%s: duplicate VIP and port", name)
		}
		seen[key] = true
		if int(s.Policy) >= len(policyNames) {
			return fmt.Errorf("%s: unknown policy %d", name, s.Policy)
		}
		if s.DNS != nil {
			if err := s.DNS.validate(name, &s, c.Pool6); err != nil {
				return err
			}
		}
		if len(s.Backends) == 0 && !s.Default.IsValid() && s.DNS == nil {
			return fmt.Errorf("%s: no backends and no default", name)
		}
		if len(s.Names) > 0 && s.Policy != PolicyHTTPHost && s.Policy != PolicySNI {
			return fmt.Errorf("%s: name routes need policy http-host or sni, not %v", name, s.Policy)
		}
		for j, r := range s.Names {
			if err := CheckName(r.Name); err != nil {
				return fmt.Errorf("%s: name %d: %w", name, j, err)
			}
			if len(r.Backends) == 0 {
				return fmt.Errorf("%s: name %q: no backend", name, r.Name)
			}
			for _, i := range r.Backends {
				if int(i) >= len(s.Backends) {
					return fmt.Errorf("%s: name %q: backend %d of %d", name, r.Name, i, len(s.Backends))
				}
			}
		}
		for j, b := range s.Backends {
			if err := validBackend(b.Addr); err != nil {
				return fmt.Errorf("%s: backend %d: %w", name, j, err)
			}
			if !s.Policy.layer4() && len(b.Match) == 0 && len(s.Names) == 0 {
				return fmt.Errorf("%s: backend %d: policy %v needs match strings", name, j, s.Policy)
			}
			if s.Policy.layer4() && len(b.Match) > 0 {
				return fmt.Errorf("%s: backend %d: policy %v takes no match strings", name, j, s.Policy)
			}
			for _, m := range b.Match {
				if m == "" {
					return fmt.Errorf("%s: backend %d: empty match string", name, j)
				}
				if s.Policy == PolicyHTTPHost || s.Policy == PolicySNI {
					if err := CheckName(m); err != nil {
						return fmt.Errorf("%s: backend %d: %w", name, j, err)
					}
				}
			}
		}
		if s.Default.IsValid() {
			if err := validBackend(s.Default); err != nil {
				return fmt.Errorf("%s: default: %w", name, err)
			}
		}
	}
	return nil
}

func validBackend(a netip.AddrPort) error {
	if !a.Addr().Is6() || a.Addr().Is4In6() || a.Addr().Zone() != "" {
		return fmt.Errorf("%v is not a plain IPv6 address", a)
	}
	if a.Port() == 0 {
		return fmt.Errorf("%v has no port", a)
	}
	return nil
}

// validateFTP checks the gateway's settings and the FTP services: their
// server speaks first, so the backend is chosen without waiting for
// bytes (hash or round-robin), and the passive ports of their VIPs must
// be free of services.
func (c *Config) validateFTP() error {
	f := c.FTP
	if f.PassiveFirst == 0 || f.PassiveFirst > f.PassiveLast {
		return fmt.Errorf("proxy46: FTP passive ports %d-%d: want a range of ports from 1 to 65535, first <= last", f.PassiveFirst, f.PassiveLast)
	}
	if f.ExpectTimeout < 0 || f.MaxExpectations < 0 || f.MaxControl < 0 {
		return fmt.Errorf("proxy46: FTP expect timeout %v, max expectations %d and max control connections %d must not be negative",
			f.ExpectTimeout, f.MaxExpectations, f.MaxControl)
	}
	ftpVIPs := map[netip.Addr]bool{}
	for i, s := range c.Services {
		switch s.ALG {
		case ALGNone:
			continue
		case ALGFTP:
		default:
			return fmt.Errorf("proxy46: service %d (%v:%d): unknown ALG %d", i, s.VIP, s.Port, s.ALG)
		}
		if !s.Policy.layer4() {
			return fmt.Errorf("proxy46: service %d (%v:%d): an FTP service needs policy hash or round-robin (the server speaks first), not %v", i, s.VIP, s.Port, s.Policy)
		}
		ftpVIPs[s.VIP] = true
	}
	for i, s := range c.Services {
		if ftpVIPs[s.VIP] && s.Port >= f.PassiveFirst && s.Port <= f.PassiveLast {
			return fmt.Errorf("proxy46: service %d (%v:%d): port inside the FTP passive ports %d-%d of its VIP", i, s.VIP, s.Port, f.PassiveFirst, f.PassiveLast)
		}
	}
	return nil
}
