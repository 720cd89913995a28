// Package handoff is the steering the translators share (apps/siit,
// apps/nat64). The neighbor app's handoff table receives what hosts send
// to a virtual MAC: a gateway's, or a translator's (which the neighbor app
// answers ARP and NDP with for the addresses the translator owns). A
// translator's destination prefixes are matched there whatever the
// virtual MAC, so that a host whose default route is a gateway (learnt
// from its router advertisements) reaches pool6 through that gateway as
// well as through the translator's own address. The engine's own output
// goes to hosts' MACs, which never enter that table, so it is never
// steered back to it.
package handoff

import (
	"hash/fnv"
	"net"
	"net/netip"

	"github.com/sixgate/sixgate/apps/neighbor"
	"github.com/sixgate/sixgate/controller/ofp"
	"github.com/sixgate/sixgate/datapath"
	"github.com/sixgate/sixgate/packet"
)

// PrefixCookie is the low bits of the cookie of prefix p's flow: kind
// (bits 48-55), then an IPv4 prefix as its address and length, an IPv6
// one as a hash of both. A flow keeps its cookie when entries are added
// or removed around it, so reloads leave it alone.
func PrefixCookie(kind uint64, p netip.Prefix) uint64 {
	if p.Addr().Is4() {
		a := p.Addr().As4()
		return kind | uint64(a[0])<<40 | uint64(a[1])<<32 | uint64(a[2])<<24 | uint64(a[3])<<16 | uint64(p.Bits())
	}
	h := fnv.New64a()
	b, _ := p.MarshalBinary()
	h.Write(b)
	return kind | h.Sum64()&(1<<48-1)
}

// ToPrefixes steers IPv4 to the prefixes v4 and IPv6 to v6, sent to any
// virtual MAC, to the engine, at priority prio in the handoff table;
// kind4 and kind6 are the cookie kinds of each family.
func ToPrefixes(prio uint16, kind4, kind6 uint64, v4, v6 []netip.Prefix) []datapath.Steer {
	out := make([]datapath.Steer, 0, len(v4)+len(v6))
	for _, p := range v4 {
		out = append(out, datapath.Steer{Table: neighbor.HandoffTable, Priority: prio, Cookie: PrefixCookie(kind4, p),
			Match: ofp.NewMatch(ofp.EthType(packet.EtherTypeIPv4), ofp.IPv4Dst(p))})
	}
	for _, p := range v6 {
		out = append(out, datapath.Steer{Table: neighbor.HandoffTable, Priority: prio, Cookie: PrefixCookie(kind6, p),
			Match: ofp.NewMatch(ofp.EthType(packet.EtherTypeIPv6), ofp.IPv6Dst(p))})
	}
	return out
}

// Guard is what must never come back in from an engine port: anything
// to the engine's MAC (it sends only to hosts' MACs).
func Guard(mac net.HardwareAddr) []ofp.Match {
	return []ofp.Match{
		ofp.NewMatch(ofp.EthDst(mac), ofp.EthType(packet.EtherTypeIPv4)),
		ofp.NewMatch(ofp.EthDst(mac), ofp.EthType(packet.EtherTypeIPv6)),
	}
}
