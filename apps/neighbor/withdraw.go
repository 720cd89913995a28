package neighbor

import (
	"net/netip"
	"slices"
	"time"

	"github.com/sixgate/sixgate/topo"
)

// withdrawal is host configuration a reload took away from a gateway's
// RAs: it is advertised with lifetime 0 (RFC 8781 section 4, RFC 8106
// section 5) until every host that could hold it has let it expire.
type withdrawal struct {
	pref64 []netip.Prefix
	rdnss  []netip.Addr
	dnssl  []string
	until  time.Time
}

// live returns w if it is still to be advertised at now, else nothing.
func (w withdrawal) live(now time.Time) withdrawal {
	if now.Before(w.until) {
		return w
	}
	return withdrawal{}
}

// withdrawals returns, by gateway name, what the gateways of old
// advertised (or still withdrew, in prev) that those of t no longer
// advertise. Each lasts the longest lifetime it was advertised with.
func withdrawals(old, t *topo.Topology, prev map[string]withdrawal, now time.Time) map[string]withdrawal {
	out := map[string]withdrawal{}
	next := map[string]*topo.RouterAdvertisement{}
	for _, g := range t.Gateways {
		if g.RA != nil {
			next[g.Name] = g.RA
		}
	}
	for _, g := range old.Gateways {
		ra, keep := next[g.Name]
		if g.RA == nil || !keep {
			// A gateway that stops advertising takes its options
			// along; its hosts keep them until they expire.
			continue
		}
		w := prev[g.Name].live(now)
		if p := g.RA.PREF64; p.IsValid() && p != ra.PREF64 && !slices.Contains(w.pref64, p) {
			w.pref64 = append(w.pref64, p)
			w.until = later(w.until, now.Add(g.RA.PREF64Lifetime()))
		}
		for _, a := range g.RA.RDNSS {
			if !slices.Contains(ra.RDNSS, a) && !slices.Contains(w.rdnss, a) {
				w.rdnss = append(w.rdnss, a)
				w.until = later(w.until, now.Add(g.RA.DNSLifetime()))
			}
		}
		for _, d := range g.RA.DNSSL {
			if !slices.Contains(ra.DNSSL, d) && !slices.Contains(w.dnssl, d) {
				w.dnssl = append(w.dnssl, d)
				w.until = later(w.until, now.Add(g.RA.DNSLifetime()))
			}
		}
		// What the new configuration advertises again is no longer
		// withdrawn.
		w.pref64 = slices.DeleteFunc(w.pref64, func(p netip.Prefix) bool { return p == ra.PREF64 })
		w.rdnss = slices.DeleteFunc(w.rdnss, func(a netip.Addr) bool { return slices.Contains(ra.RDNSS, a) })
		w.dnssl = slices.DeleteFunc(w.dnssl, func(d string) bool { return slices.Contains(ra.DNSSL, d) })
		if len(w.pref64)+len(w.rdnss)+len(w.dnssl) > 0 {
			out[g.Name] = w
		}
	}
	return out
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
