package topo

import (
	"strings"
	"time"
)

// Limits are the splicing engine's bounds. Zero means the engine's default
// (see docs/operations.md, "proxy46").
type Limits struct {
	MaxConnections     int // connection table
	MaxEmbryonic       int // connections not yet spliced
	SynCookieThreshold int // embryonic connections before SYN cookies; negative: never
	MaxHeldBytes       int // client bytes held per connection before a backend is chosen
	MaxHeldBytesGlobal int // the same, over all connections together
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
	Transitory    time.Duration // a half-closed connection (one FIN) without packets
	Closed        time.Duration // a closed connection's state kept for last ACKs
	Drain         time.Duration // a connection whose service or backend a reload removed
}

// The engine's defaults for the limits the cross-field rules compare
// (proxy46.Config; docs/operations.md). apps/splice46's tests hold these
// rules to the engine's own validation.
const (
	engineMaxConnections = 65536
	engineMaxHeldBytes   = 16384
	engineIdle           = 2*time.Hour + 4*time.Minute
	engineTransitory     = 4 * time.Minute
	engineClosed         = 10 * time.Second
	engineEmbryonic      = 10 * time.Second
)

// crossTimeouts applies the engine's order of the connection timers, with
// its defaults for those left out: a connection's state is kept shorter
// as it closes (closed <= transitory <= idle).
func (b *builder) crossTimeouts(t Timeouts) {
	pick := func(v, def time.Duration, name string) (time.Duration, string) {
		if v == 0 {
			return def, "the default " + name
		}
		return v, name
	}
	idle, idleName := pick(t.Idle, engineIdle, "idle")
	trans, transName := pick(t.Transitory, min(engineTransitory, idle), "transitory")
	closed, _ := pick(t.Closed, min(engineClosed, trans), "closed")
	if t.Transitory != 0 && trans > idle {
		b.p.add("splice46.timeouts.transitory", "%v is above %s (%v)", trans, idleName, idle)
	}
	if t.Closed != 0 && closed > trans {
		key := keyClosed
		if _, ok := b.p.lines[keyClosed]; !ok {
			key = keyLinger
		}
		b.p.add(key, "%v is above %s (%v)", closed, transName, trans)
	}
}

// crossLimits applies the engine's rules that tie one limit to another,
// with the engine's defaults for the limits left out, so that a file the
// engine would refuse fails here with its line.
func (b *builder) crossLimits(fl Limits, globalKey string) {
	embryonic, from := fl.MaxEmbryonic, "max_embryonic"
	if embryonic == 0 {
		embryonic, from = fl.MaxConnections, "max_connections, which max_embryonic defaults to"
	}
	if embryonic == 0 {
		embryonic, from = engineMaxConnections, "the default max_embryonic"
	}
	if embryonic > 0 && fl.SynCookieThreshold > embryonic {
		b.p.add("splice46.limits.syn_cookie_threshold", "%d is above %s (%d): SYN cookies would never be sent",
			fl.SynCookieThreshold, from, embryonic)
	}
	held, from := fl.MaxHeldBytes, "max_held_bytes"
	if held == 0 {
		held, from = engineMaxHeldBytes, "the default max_held_bytes"
	}
	if fl.MaxHeldBytesGlobal > 0 && held > 0 && fl.MaxHeldBytesGlobal < held {
		b.p.add("splice46.limits."+globalKey, "%d is below %s (%d)", fl.MaxHeldBytesGlobal, from, held)
	}
}

type fileLimits struct {
	MaxConnections     int `yaml:"max_connections"`
	MaxEmbryonic       int `yaml:"max_embryonic"`
	SynCookieThreshold int `yaml:"syn_cookie_threshold"`
	MaxHeldBytes       int `yaml:"max_held_bytes"`
	MaxHeldBytesGlobal int `yaml:"max_held_bytes_global"`
	ChallengeACKLimit  int `yaml:"challenge_ack_limit"`
	ICMPErrorLimit     int `yaml:"icmp_error_limit"`
	// MaxHeldBytesTotal is the old name of max_held_bytes_global, read
	// with a warning: "total" read like the counter
	// sixgate_proxy46_held_bytes_total.
	MaxHeldBytesTotal int `yaml:"max_held_bytes_total"`
}

const (
	keyHeldGlobal = "splice46.limits.max_held_bytes_global"
	keyHeldTotal  = "splice46.limits.max_held_bytes_total"
)

// heldBytesGlobal reads max_held_bytes_global or, with a warning, its old
// name; both at once is an error. It returns the value and the key written.
func (b *builder) heldBytesGlobal(fl *fileLimits) (int, string) {
	if b.renamed(keyHeldGlobal, keyHeldTotal, "same meaning") == keyHeldTotal {
		return fl.MaxHeldBytesTotal, "max_held_bytes_total"
	}
	return fl.MaxHeldBytesGlobal, "max_held_bytes_global"
}

// renamed tells which of a key and its old name to read: the new one,
// unless only the old one is written, which is read with a warning (why
// says what the new name means); both written is an error.
func (b *builder) renamed(newPath, oldPath, why string) string {
	newName, oldName := lastElem(newPath), lastElem(oldPath)
	newLine, hasNew := b.p.lines[newPath]
	if _, hasOld := b.p.lines[oldPath]; !hasOld {
		return newPath
	}
	if hasNew {
		b.p.add(oldPath, "%s is the old name of %s, also given (line %d): keep only %s", oldName, newName, newLine, newName)
		return newPath
	}
	b.p.warn(oldPath, "deprecated: rename it %s (%s)", newName, why)
	return oldPath
}

// lastElem is the last element of a dotted key path.
func lastElem(path string) string { return path[strings.LastIndexByte(path, '.')+1:] }

type fileTimeouts struct {
	Embryonic     string `yaml:"embryonic"`
	SYNRetransmit string `yaml:"syn_retransmit"`
	Backend       string `yaml:"backend"`
	Idle          string `yaml:"idle"`
	Transitory    string `yaml:"transitory"`
	Closed        string `yaml:"closed"`
	Drain         string `yaml:"drain"`
	// Linger is the old name of closed, read with a warning: it was a
	// fixed wait after both FINs, closed is refreshed by every segment.
	Linger string `yaml:"linger"`
}

const (
	keyClosed = "splice46.timeouts.closed"
	keyLinger = "splice46.timeouts.linger"
)

// closedTimeout reads timeouts.closed or, with a warning, its old name
// linger; both at once is an error.
func (b *builder) closedTimeout(ft *fileTimeouts) time.Duration {
	if b.renamed(keyClosed, keyLinger, "kept after both FINs are acknowledged or a RST, refreshed by every segment") == keyLinger {
		return b.duration(keyLinger, ft.Linger, 0)
	}
	return b.duration(keyClosed, ft.Closed, 0)
}

// buildLimits reads splice46.limits and splice46.timeouts.
func (b *builder) buildLimits(s *Splice46, fl *fileLimits, ft *fileTimeouts) {
	if fl != nil {
		global, globalKey := b.heldBytesGlobal(fl)
		s.Limits = Limits{
			MaxConnections: fl.MaxConnections, MaxEmbryonic: fl.MaxEmbryonic, SynCookieThreshold: fl.SynCookieThreshold,
			MaxHeldBytes: fl.MaxHeldBytes, MaxHeldBytesGlobal: global, ChallengeACKLimit: fl.ChallengeACKLimit,
			ICMPErrorLimit: fl.ICMPErrorLimit,
		}
		for _, c := range []struct {
			name string
			v    int
		}{
			{"max_connections", fl.MaxConnections}, {"max_embryonic", fl.MaxEmbryonic},
			{"max_held_bytes", fl.MaxHeldBytes}, {globalKey, global},
		} {
			if c.v < 0 {
				b.p.add("splice46.limits."+c.name, "%d is negative (0 takes the default)", c.v)
			}
		}
		if fl.MaxHeldBytes > 65535 {
			b.p.add("splice46.limits.max_held_bytes", "%d is above 65535 (it is also the window offered to clients)", fl.MaxHeldBytes)
		}
		b.crossLimits(s.Limits, globalKey)
	}
	if ft != nil {
		t := &s.Timeouts
		t.Embryonic = b.duration("splice46.timeouts.embryonic", ft.Embryonic, 0)
		t.SYNRetransmit = b.duration("splice46.timeouts.syn_retransmit", ft.SYNRetransmit, 0)
		t.Backend = b.duration("splice46.timeouts.backend", ft.Backend, 0)
		t.Idle = b.duration("splice46.timeouts.idle", ft.Idle, 0)
		t.Transitory = b.duration("splice46.timeouts.transitory", ft.Transitory, 0)
		t.Closed = b.closedTimeout(ft)
		t.Drain = b.duration("splice46.timeouts.drain", ft.Drain, 0)
		b.crossTimeouts(*t)
	}
}
