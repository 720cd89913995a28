package nat64

import (
	"sync/atomic"

	"github.com/sixgate/sixgate/siit"
)

// Reasons a packet is dropped, beyond the header translation's own
// results (siit.Result).
type dropReason uint8

const (
	dropMalformed dropReason = iota
	dropChecksum
	dropUnsupported
	dropNoBinding
	dropNoSession
	dropFiltered
	dropPool4Exhausted
	dropBIBFull
	dropSessionsFull
	dropHostBindings
	dropHostSessions
	dropICMPNoSession
	dropFragmentMemory
	dropFragmentTimeout
	dropSYNHoldFull
	dropSYNHoldTimeout
	dropTranslation
	numDrops
)

var dropNames = [numDrops]string{
	"malformed", "checksum", "unsupported_protocol", "no_binding", "no_session", "filtered",
	"pool4_exhausted", "bib_full", "session_table_full", "host_binding_limit", "host_session_limit",
	"icmp_error_no_session", "fragment_memory", "fragment_timeout", "syn_hold_full", "syn_hold_timeout",
	"translation",
}

type counters struct {
	drops          [numDrops]atomic.Uint64
	results        [16]atomic.Uint64 // by siit.Result
	translated6to4 atomic.Uint64
	translated4to6 atomic.Uint64
	hairpinned     atomic.Uint64
	heldSYNs       atomic.Uint64
	icmpSent4      atomic.Uint64
	icmpSent6      atomic.Uint64
	rateLimited    atomic.Uint64
	expired        atomic.Uint64
}

// Stats is a snapshot of a NAT64's counters and table sizes.
type Stats struct {
	Translated6to4, Translated4to6, Hairpinned uint64
	// Drops counts dropped packets by reason, the header translation's
	// refusals (siit.Result names) among them.
	Drops map[string]uint64
	// HeldSYNs counts unsolicited IPv4 SYNs held for a simultaneous
	// open; Holding is how many are held now.
	HeldSYNs                 uint64
	Holding                  int
	ICMPErrors4, ICMPErrors6 uint64
	ICMPRateLimited          uint64
	// SessionsExpired counts sessions their timer removed.
	SessionsExpired uint64
	// Sessions and Bindings by protocol name.
	Sessions, Bindings map[string]int
	// Pool4Used is the ports lent per protocol and pool4 address;
	// Pool4Size the ports each has.
	Pool4Used, Pool4Size map[string]map[string]int
	// FragmentBytes is the memory held by fragments waiting for their
	// first one.
	FragmentBytes int
}

// Stats returns the counters and the sizes of the tables.
func (e *NAT64) Stats() Stats {
	st := Stats{
		Translated6to4: e.c.translated6to4.Load(), Translated4to6: e.c.translated4to6.Load(),
		Hairpinned: e.c.hairpinned.Load(), HeldSYNs: e.c.heldSYNs.Load(),
		ICMPErrors4: e.c.icmpSent4.Load(), ICMPErrors6: e.c.icmpSent6.Load(),
		ICMPRateLimited: e.c.rateLimited.Load(), SessionsExpired: e.c.expired.Load(),
		Drops: map[string]uint64{}, Sessions: map[string]int{}, Bindings: map[string]int{},
		Pool4Used: map[string]map[string]int{}, Pool4Size: map[string]map[string]int{},
	}
	for i := range e.c.drops {
		if v := e.c.drops[i].Load(); v != 0 {
			st.Drops[dropNames[i]] = v
		}
	}
	for i := range e.c.results {
		if v := e.c.results[i].Load(); v != 0 {
			st.Drops[siit.Result(i).String()] += v
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.st
	for p := Protocol(0); p < numProtocols; p++ {
		st.Sessions[p.String()] = e.t.nSessions[p]
		st.Bindings[p.String()] = e.t.nBindings[p]
		used, size := map[string]int{}, map[string]int{}
		for _, r := range s.ranges[p] {
			size[ipv4String(r.addr)] += r.size()
		}
		for k, n := range e.t.used {
			if k.proto == p {
				used[ipv4String(k.addr)] += n
			}
		}
		st.Pool4Used[p.String()], st.Pool4Size[p.String()] = used, size
	}
	st.Holding = len(e.held)
	st.FragmentBytes = e.frags.bytes
	return st
}

func (e *NAT64) drop(r dropReason) {
	e.c.drops[r].Add(1)
}
