package siit

import (
	"net/netip"

	"github.com/sixgate/sixgate/apps/handoff"
	"github.com/sixgate/sixgate/apps/neighbor"
	"github.com/sixgate/sixgate/controller/ofp"
	"github.com/sixgate/sixgate/datapath"
	"github.com/sixgate/sixgate/packet"
)

// Flow priorities. The steering flows sit in the neighbor app's handoff
// table, which receives what hosts send to a virtual MAC: the
// translator's (hosts reach it as a router, its own addresses being their
// next hop, or as the owner of the addresses it stands for, which the
// neighbor app answers ARP and NDP for with that MAC) or a gateway's (a
// host's default route). The translator's own output goes to hosts' MACs,
// which never enter that table (apps/handoff); the guard in table 0 drops
// what would loop back in from an engine port all the same.
const (
	prioGuard = 2300 // table 0, engine switch, port mode
	prioCLAT  = 300  // handoff table: a CLAT host's IPv4, by source
	prioSteer = 200  // handoff table: pool6, EAM and CLAT destinations
)

// maxPrefixFlows bounds the per-prefix steering flows of a family. A
// larger EAM table is steered by one flow per family matching the MAC
// alone: the switch then passes the engine whatever hosts send to the
// translator's MAC, which is what the neighbor app makes them send, and
// the engine passes (drops) the rest; a switch keeps a handful of flows
// instead of one per EAM prefix.
const maxPrefixFlows = 1024

// Cookie kinds (bits 48-55 of the low bits); the rest of the cookie is
// derived from the prefix, so that a flow keeps its cookie when entries
// are added or removed around it and reloads leave it alone.
const (
	kindDst4    = uint64(1) << 48
	kindDst6    = uint64(2) << 48
	kindCLAT    = uint64(3) << 48
	kindFamily  = uint64(4) << 48 // the MAC-wide flow of a family
	cookieGuard = 0x3000
	groupLow    = 1 // the select group over several engine ports
)

func prefixCookie(kind uint64, p netip.Prefix) uint64 { return handoff.PrefixCookie(kind, p) }

// steering is what the translator must see, sent to its MAC: IPv6 to
// pool6, to every EAM IPv6 prefix and to every CLAT address; IPv4 to every
// EAM IPv4 prefix; and, above them, the IPv4 of every CLAT host, whatever
// its destination (the host routes everything through the translator).
func steering(l *layout) []datapath.Steer {
	mac := ofp.EthDst(l.mac)
	out := make([]datapath.Steer, 0, len(l.steer4)+len(l.steer6)+len(l.clat))
	for _, c := range l.clat {
		p := netip.PrefixFrom(c.ipv4, 32)
		out = append(out, datapath.Steer{Table: neighbor.HandoffTable, Priority: prioCLAT, Cookie: prefixCookie(kindCLAT, p),
			Match: ofp.NewMatch(mac, ofp.EthType(packet.EtherTypeIPv4), ofp.IPv4Src(p))})
	}
	if len(l.steer4) > maxPrefixFlows {
		out = append(out, datapath.Steer{Table: neighbor.HandoffTable, Priority: prioSteer, Cookie: kindFamily | 4,
			Match: ofp.NewMatch(mac, ofp.EthType(packet.EtherTypeIPv4))})
	} else {
		out = append(out, handoff.ToPrefixes(prioSteer, kindDst4, kindDst6, l.steer4, nil)...)
	}
	if len(l.steer6) > maxPrefixFlows {
		out = append(out, datapath.Steer{Table: neighbor.HandoffTable, Priority: prioSteer, Cookie: kindFamily | 6,
			Match: ofp.NewMatch(mac, ofp.EthType(packet.EtherTypeIPv6))})
	} else {
		out = append(out, handoff.ToPrefixes(prioSteer, kindDst4, kindDst6, nil, l.steer6)...)
	}
	return out
}

// guarded is what must never come back in from an engine port: anything
// to the translator's MAC (it sends only to hosts' MACs).
func guarded(l *layout) []ofp.Match { return handoff.Guard(l.mac) }
