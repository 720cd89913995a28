package proxy46

import "net/netip"

// NumDropReasons is the length of Stats.Drops.
const NumDropReasons = int(numDropReasons)

// NumStates is the length of Stats.ByState.
const NumStates = int(numStates)

// Stats are the engine's counters. Totals only grow; HeldBytes and
// ByState are gauges.
type Stats struct {
	Packets4In, Packets6In   uint64
	Packets4Out, Packets6Out uint64
	Bytes4In, Bytes6In       uint64 // IP bytes of translated segments

	ConnectionsOpened uint64 // SYNs accepted into the table
	ConnectionsClosed uint64 // removed for any reason
	Spliced           uint64 // reached established
	ByState           [NumStates]int64

	SynAcksSent       uint64
	SynAckRetries     uint64 // SYN-ACKs retransmitted by the timer (also in SynAcksSent)
	BackendSyns       uint64 // first SYNs to a backend
	BackendSynRetries uint64
	BackendRefused    uint64 // RST from a backend during its handshake
	BackendTimeouts   uint64
	BackendLost       uint64 // spliced connections reset because their backend went down
	Failovers         uint64 // next backend tried after a refusal or timeout
	ClientResets      uint64 // resets the engine sent to clients
	BackendResets     uint64 // resets the engine sent to backends
	NoBackend         uint64 // connections reset as nothing matched and no default
	DefaultChosen     uint64 // connections sent to a default backend
	ForcedChoices     uint64 // chosen when the hold bound, a FIN or the timer forced it

	// BackendUnreachable counts ICMPv6 Destination Unreachable about a
	// backend SYN: the next backend is tried at once.
	BackendUnreachable uint64

	HeldBytes      uint64 // bytes held right now
	HeldBytesTotal uint64
	Replayed       uint64 // held segments replayed to backends
	HeldOutOfOrder uint64 // held segments that arrived past a gap, kept

	EmbryonicExpired  uint64
	IdleExpired       uint64 // established connections idle for Timeouts.Idle
	TransitoryExpired uint64 // half-closed connections idle for Timeouts.Transitory
	ClosedExpired     uint64 // closed connections removed after Timeouts.Closed
	ClosedEvicted     uint64 // closed connections removed to make room in a full table

	// Draining connections are those whose service or backend a
	// reconfiguration removed (a gauge); Drained counts those reset
	// towards both ends when Timeouts.Drain ran out.
	Draining int64
	Drained  uint64

	SynCookiesSent       uint64 // SYN-ACKs carrying a SYN cookie, no state kept
	SynCookiesAccepted   uint64 // handshake ACKs whose cookie validated
	ChallengeACKs        uint64 // challenge ACKs sent for in-window RSTs
	ChallengeACKsLimited uint64 // challenge ACKs not sent: ChallengeACKLimit reached

	ICMPTranslated uint64 // ICMP errors translated between the halves, either way
	ICMPSent       uint64 // Fragmentation Needed for oversize client segments
	SegmentsSplit  uint64 // segments sent as pieces of a larger one (path MTU, MSS)

	// Segment offload (offload.go): super-packets translated whole, and
	// sent as one for the kernel to cut up.
	OffloadIn, OffloadOut uint64

	// Answers for the VIPs, as a host gives them (host.go).
	EchoReplies       uint64 // echo replies to pings
	ClosedPortResets  uint64 // resets for TCP to a port without a service (also in ClientResets)
	PortUnreachables  uint64 // ICMP port unreachable for UDP
	TimeExceeded      uint64 // ICMP time exceeded for spliced segments whose TTL or hop limit ran out
	ICMPErrorsLimited uint64 // ICMP errors not sent: ICMPErrorLimit reached

	// Backends from DNS (dns.go), counted per connection.
	DNSWaits         uint64 // connections held while their name was looked up
	DNSResolved      uint64 // connections given backends from DNS
	DNSNotFound      uint64 // reset: the name does not exist or has no AAAA record
	DNSOutsidePrefix uint64 // reset: no address of the name inside the allowed prefixes
	DNSFailed        uint64 // reset: the resolvers failed or did not answer in time
	DNSRateLimited   uint64 // reset: the client's lookup rate was exceeded
	DNSTimeouts      uint64 // reset: no answer before the embryonic timeout
	DNSBackendsFull  uint64 // resolved addresses not tried: MaxBackends in use

	// FTP counts what the FTP gateway did (ftp.go).
	FTP FTPStats

	Drops [NumDropReasons]uint64

	// Limits are the configured bounds, so that dashboards can show how
	// close the gauges are to them.
	Limits Limits

	Backends []BackendStats
}

// Limits are the engine's configured bounds (after defaults).
type Limits struct {
	MaxConnections     int
	MaxEmbryonic       int
	SynCookieThreshold int // negative: cookies off
	MaxHeldBytes       int // per connection
	MaxHeldBytesTotal  int
	ChallengeACKLimit  int // per second; negative: none sent
	ICMPErrorLimit     int // per second; negative: none sent
}

// FTPStats are the FTP gateway's counters: control connections and the
// lines of theirs it rewrote or answered, and the data connections they
// announced. Control and Expectations are gauges.
type FTPStats struct {
	Control     int    // control connections followed now
	ControlFull uint64 // control connections spliced without the gateway: MaxControl reached
	// The gateway's lines (package ftpalg's counters).
	Rewrites, Answered, Failures, LinesTooLong uint64
	Held, HeldAcked, OutOfOrder, TLS           uint64
	Sent, Resent                               uint64 // segments of the gateway's own, and sent again
	TooBig                                     uint64 // rewritten segments too large for the path, dropped
	Expectations                               int    // data connections expected now
	Expected                                   uint64 // data connections announced
	PassiveOpened, ActiveOpened                uint64 // expected data connections that came
	ExpectExpired                              uint64 // that did not come in time
	ExpectReplaced                             uint64 // given up for a newer one of the same control connection
	ExpectFull                                 uint64 // not expected: MaxExpectations or the passive ports in use
	Refused                                    uint64 // PORT or EPRT for another host, SYN to a lent port from another client
	// Limits.
	MaxControl, MaxExpectations int
}

// BackendStats counts what happened to one backend of one service.
type BackendStats struct {
	VIP     netip.AddrPort
	Backend netip.AddrPort
	Default bool
	Chosen  uint64
	Failed  uint64
}

// DropReasonName names index i of Stats.Drops.
func DropReasonName(i int) string { return DropReason(i).String() }

// StateName names index i of Stats.ByState.
func StateName(i int) string { return State(i).String() }

// Stats returns a consistent snapshot of the counters.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.stats
	s.Backends = nil
	f, g := &s.FTP, &e.ftpc
	f.Control, f.Expectations = len(e.ftpConns), len(e.expects)
	f.Rewrites, f.Answered, f.Failures, f.LinesTooLong = g.Rewrites.Load(), g.Answered.Load(), g.Failures.Load(), g.LinesTooLong.Load()
	f.Held, f.HeldAcked, f.OutOfOrder, f.TLS = g.Held.Load(), g.HeldAcked.Load(), g.OutOfOrder.Load(), g.TLS.Load()
	f.MaxControl, f.MaxExpectations = e.cfg.FTP.MaxControl, e.cfg.FTP.MaxExpectations
	s.Limits = Limits{
		MaxConnections: e.cfg.MaxConnections, MaxEmbryonic: e.cfg.MaxEmbryonic,
		SynCookieThreshold: e.cfg.SynCookieThreshold, MaxHeldBytes: e.cfg.MaxHeldBytes,
		MaxHeldBytesTotal: e.cfg.MaxHeldBytesTotal, ChallengeACKLimit: e.cfg.ChallengeACKLimit,
		ICMPErrorLimit: e.cfg.ICMPErrorLimit,
	}
	for _, svc := range e.svcs {
		vip := netip.AddrPortFrom(svc.cfg.VIP, svc.port)
		for _, b := range svc.backends {
			if b.dynamic {
				continue // unbounded in number: the DNS counters cover them
			}
			s.Backends = append(s.Backends, BackendStats{
				VIP: vip, Backend: b.ap, Default: b.isDefault, Chosen: b.chosen, Failed: b.failed,
			})
		}
	}
	return s
}
