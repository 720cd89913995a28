package topo

import "time"

// Limits are the splicing engine's bounds. Zero means the engine's default
// (see docs/operations.md, "proxy46").
type Limits struct {
	MaxConnections     int // connection table
	MaxEmbryonic       int // connections not yet spliced
	SynCookieThreshold int // embryonic connections before SYN cookies; negative: never
	MaxHeldBytes       int // client bytes held per connection before a backend is chosen
	MaxHeldBytesTotal  int // the same, over all connections
	ChallengeACKLimit  int // challenge ACKs per second; negative: none
	ICMPErrorLimit     int // ICMP errors for the VIPs per second; negative: none
}

// Timeouts are the splicing engine's timers. Zero means the engine's
// default.
type Timeouts struct {
	Embryonic     time.Duration // SYN to a chosen backend
	SYNRetransmit time.Duration // between SYNs to a silent backend
	Backend       time.Duration // one backend's SYN-ACK before the next is tried
	Idle          time.Duration // an established connection without packets
	Linger        time.Duration // a closed connection's state kept for last ACKs
}

type fileLimits struct {
	MaxConnections     int `yaml:"max_connections"`
	MaxEmbryonic       int `yaml:"max_embryonic"`
	SynCookieThreshold int `yaml:"syn_cookie_threshold"`
	MaxHeldBytes       int `yaml:"max_held_bytes"`
	MaxHeldBytesTotal  int `yaml:"max_held_bytes_total"`
	ChallengeACKLimit  int `yaml:"challenge_ack_limit"`
	ICMPErrorLimit     int `yaml:"icmp_error_limit"`
}

type fileTimeouts struct {
	Embryonic     string `yaml:"embryonic"`
	SYNRetransmit string `yaml:"syn_retransmit"`
	Backend       string `yaml:"backend"`
	Idle          string `yaml:"idle"`
	Linger        string `yaml:"linger"`
}

// buildLimits reads splice46.limits and splice46.timeouts.
func (b *builder) buildLimits(s *Splice46, fl *fileLimits, ft *fileTimeouts) {
	if fl != nil {
		s.Limits = Limits(*fl)
		for _, c := range []struct {
			name string
			v    int
		}{
			{"max_connections", fl.MaxConnections}, {"max_embryonic", fl.MaxEmbryonic},
			{"max_held_bytes", fl.MaxHeldBytes}, {"max_held_bytes_total", fl.MaxHeldBytesTotal},
		} {
			if c.v < 0 {
				b.p.add("splice46.limits."+c.name, "%d is negative (0 takes the default)", c.v)
			}
		}
		if fl.MaxHeldBytes > 65535 {
			b.p.add("splice46.limits.max_held_bytes", "%d is above 65535 (it is also the window offered to clients)", fl.MaxHeldBytes)
		}
	}
	if ft != nil {
		t := &s.Timeouts
		t.Embryonic = b.duration("splice46.timeouts.embryonic", ft.Embryonic, 0)
		t.SYNRetransmit = b.duration("splice46.timeouts.syn_retransmit", ft.SYNRetransmit, 0)
		t.Backend = b.duration("splice46.timeouts.backend", ft.Backend, 0)
		t.Idle = b.duration("splice46.timeouts.idle", ft.Idle, 0)
		t.Linger = b.duration("splice46.timeouts.linger", ft.Linger, 0)
	}
}
