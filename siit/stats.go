package siit

import (
	"sync/atomic"

	"github.com/sixgate/sixgate/packet"
)

// drop reasons counted before header translation starts.
type dropReason uint8

const (
	dropMalformed dropReason = iota // headers that do not hold together
	dropChecksum                    // IPv4 header checksum wrong
	dropSource                      // source address without a mapping
	numDropReasons
)

var dropNames = [numDropReasons]string{"malformed", "bad_checksum", "untranslatable_source"}

type counters struct {
	translated4to6, translated6to4 atomic.Uint64
	hairpinned                     atomic.Uint64
	drops4, drops6                 [numDropReasons]atomic.Uint64
	results4, results6             [numResults]atomic.Uint64
	icmpSent4, icmpSent6           atomic.Uint64
	icmpRateLimited                atomic.Uint64
}

func (t *Translator) drop4(r dropReason) packet.Verdict {
	t.c.drops4[r].Add(1)
	return packet.Drop
}

func (t *Translator) drop6(r dropReason) packet.Verdict {
	t.c.drops6[r].Add(1)
	return packet.Drop
}

// Stats are a translator's counters since it was made.
type Stats struct {
	Translated4to6, Translated6to4 uint64
	// Hairpinned counts IPv6 packets sent back to IPv6 (RFC 7757 §4.3).
	Hairpinned uint64
	// Drops4 and Drops6 count the packets of each family dropped, by
	// reason (the names are the metric labels).
	Drops4, Drops6 map[string]uint64
	// ICMPErrors4 and ICMPErrors6 count the errors the translator
	// originated toward each side; ICMPRateLimited those it did not send.
	ICMPErrors4, ICMPErrors6 uint64
	ICMPRateLimited          uint64
}

// Stats returns a snapshot of the counters.
func (t *Translator) Stats() Stats {
	s := Stats{
		Translated4to6:  t.c.translated4to6.Load(),
		Translated6to4:  t.c.translated6to4.Load(),
		Hairpinned:      t.c.hairpinned.Load(),
		Drops4:          map[string]uint64{},
		Drops6:          map[string]uint64{},
		ICMPErrors4:     t.c.icmpSent4.Load(),
		ICMPErrors6:     t.c.icmpSent6.Load(),
		ICMPRateLimited: t.c.icmpRateLimited.Load(),
	}
	for r := Result(1); r < numResults; r++ {
		if v := t.c.results4[r].Load(); v != 0 {
			s.Drops4[r.String()] = v
		}
		if v := t.c.results6[r].Load(); v != 0 {
			s.Drops6[r.String()] = v
		}
	}
	for r := dropReason(0); r < numDropReasons; r++ {
		if v := t.c.drops4[r].Load(); v != 0 {
			s.Drops4[dropNames[r]] += v
		}
		if v := t.c.drops6[r].Load(); v != 0 {
			s.Drops6[dropNames[r]] += v
		}
	}
	return s
}
