package neighbor

import (
	"context"
	"fmt"
	"net"

	"github.com/sixgate/sixgate/controller"
	"github.com/sixgate/sixgate/controller/ofp"
)

// HandoffTable is where IPv4 and IPv6 traffic sent to a virtual MAC (a
// gateway's, splice46's, or a registered one) continues: the apps that
// route it own flows in that table, at any priority above 0. What none of
// them takes meets this app's priority-0 flow there and is dropped and
// counted. Apps that steer traffic whatever its MAC (splice46) use table 0
// above prioNeighbor instead.
const HandoffTable = 1

// Priorities in table 0, from the most specific job to the catch-all.
const (
	// prioNeighbor sends ARP and NDP to the controller. It sits below
	// splice46's steering (2000 and up), which never matches ARP or NDP.
	prioNeighbor = 1000
	// prioForward sends unicast to a host's port, or traffic for a
	// virtual MAC to HandoffTable. Unicast ARP and NDP between hosts take
	// it too: hosts then confirm each other's reachability themselves,
	// which keeps their caches valid while the controller is away.
	prioForward = 100
	// prioMulticast drops every other broadcast and multicast frame.
	prioMulticast = 1
	// prioMiss drops unknown unicast.
	prioMiss = 0
)

// Low bits of the cookies of the drop flows, whose packet counts say what
// the fabric dropped (see Drops; with ovs-ofctl, cookie=0x200000000000001/-1
// and so on).
const (
	CookieDropUnknown   = 0x01 // unicast to a MAC nobody owns
	CookieDropMulticast = 0x02 // broadcast and multicast other than ARP and NDP
	CookieDropHandoff   = 0x03 // traffic for a virtual MAC that no app took
)

// Cookie low bits of the other flows. Fixed flows have kind 0 and a code
// in the low byte; per-MAC flows carry the MAC in their low 48 bits, so
// that a flow dump reads like the table it is: 0x20100000a000003 forwards to
// 00:00:0a:00:00:03.
const (
	cookieARP = 0x10
	cookieNS  = 0x11
	cookieNA  = 0x12
	cookieRS  = 0x13

	kindShift   = 48
	kindMask    = uint64(0xff) << kindShift
	kindRoute   = uint64(0x01) << kindShift
	kindVirtual = uint64(0x02) << kindShift
)

// EtherTypes and ICMPv6 types the flows match.
const (
	etherIPv4 = 0x0800
	etherARP  = 0x0806
	etherIPv6 = 0x86dd

	protoICMPv6 = 58

	icmpRS = 133
	icmpRA = 134
	icmpNS = 135
	icmpNA = 136
)

func macBits(mac net.HardwareAddr) uint64 {
	var v uint64
	for _, b := range mac {
		v = v<<8 | uint64(b)
	}
	return v
}

// groupBit matches every frame with the Ethernet group (multicast) bit set,
// broadcast included.
func groupBit() ofp.OXM {
	g := net.HardwareAddr{1, 0, 0, 0, 0, 0}
	return ofp.EthDstMasked(g, g)
}

func toController() []ofp.Instruction {
	return []ofp.Instruction{ofp.ApplyActions(ofp.Output(ofp.PortController))}
}

// ndpMatch matches one ICMPv6 type; more fields may follow.
func ndpMatch(typ uint8, more ...ofp.OXM) ofp.Match {
	return ofp.NewMatch(append([]ofp.OXM{ofp.EthType(etherIPv6), ofp.IPProto(protoICMPv6), ofp.ICMPv6Type(typ)}, more...)...)
}

// Flows declares the switch's whole table 0 and the miss flow of
// HandoffTable; see flowsFor.
func (a *App) Flows(sw *controller.Switch) []controller.Flow {
	var dpid uint64
	if sw != nil {
		dpid = sw.DPID()
	}
	return a.view.Load().flowsFor(dpid)
}

// flowsFor lists the flows of switch dpid:
//
//   - broadcast ARP and multicast NS, NA and RS to the controller, which
//     answers them (or, for NA, notes them);
//   - for each host reachable from dpid, frames to its MAC out of the
//     port on its path;
//   - for each virtual MAC, ARP, NS and RS to the controller, and IPv4
//     and IPv6 to HandoffTable;
//   - the rest of broadcast and multicast dropped, unknown unicast
//     dropped, and in HandoffTable whatever no app took dropped, each by
//     its own flow so that its packet count says what was lost.
func (v *view) flowsFor(dpid uint64) []controller.Flow {
	flows := []controller.Flow{
		{Priority: prioMiss, Cookie: CookieDropUnknown},
		{Priority: prioMulticast, Cookie: CookieDropMulticast, Match: ofp.NewMatch(groupBit())},
		{Table: HandoffTable, Priority: 0, Cookie: CookieDropHandoff},
		{Priority: prioNeighbor, Cookie: cookieARP, Match: ofp.NewMatch(ofp.EthType(etherARP), groupBit()), Instructions: toController()},
		{Priority: prioNeighbor, Cookie: cookieNS, Match: ndpMatch(icmpNS, groupBit()), Instructions: toController()},
		{Priority: prioNeighbor, Cookie: cookieNA, Match: ndpMatch(icmpNA, groupBit()), Instructions: toController()},
		{Priority: prioNeighbor, Cookie: cookieRS, Match: ndpMatch(icmpRS, groupBit()), Instructions: toController()},
	}
	for _, r := range v.fwd.Routes(dpid) {
		flows = append(flows, controller.Flow{
			Priority: prioForward, Cookie: kindRoute | macBits(r.Host.MAC),
			Match:        ofp.NewMatch(ofp.EthDst(r.Host.MAC)),
			Instructions: []ofp.Instruction{ofp.ApplyActions(ofp.Output(r.Port))},
		})
	}
	for _, mac := range v.virtual {
		c := kindVirtual | macBits(mac)
		handoff := []ofp.Instruction{ofp.GotoTable(HandoffTable)}
		flows = append(flows,
			controller.Flow{Priority: prioNeighbor, Cookie: c, Match: ofp.NewMatch(ofp.EthType(etherARP), ofp.EthDst(mac)), Instructions: toController()},
			controller.Flow{Priority: prioNeighbor, Cookie: c, Match: ndpMatch(icmpNS, ofp.EthDst(mac)), Instructions: toController()},
			controller.Flow{Priority: prioNeighbor, Cookie: c, Match: ndpMatch(icmpRS, ofp.EthDst(mac)), Instructions: toController()},
			controller.Flow{Priority: prioForward, Cookie: c, Match: ofp.NewMatch(ofp.EthType(etherIPv4), ofp.EthDst(mac)), Instructions: handoff},
			controller.Flow{Priority: prioForward, Cookie: c, Match: ofp.NewMatch(ofp.EthType(etherIPv6), ofp.EthDst(mac)), Instructions: handoff},
		)
	}
	return flows
}

// Drops counts, per reason, the packets a switch dropped by this app's
// flows since they were installed.
type Drops struct {
	UnknownUnicast uint64 // to a MAC no host or virtual address owns
	Multicast      uint64 // broadcast and multicast other than ARP and NDP
	Handoff        uint64 // IPv4 and IPv6 to a virtual MAC that no app took
}

// Drops reads the drop counters of sw from its flow statistics.
func (a *App) Drops(ctx context.Context, sw *controller.Switch) (Drops, error) {
	req := ofp.NewFlowStatsRequest()
	req.Cookie = controller.AppCookie(CookieID, 0)
	req.CookieMask = controller.CookieMask | kindMask
	parts, err := sw.Multipart(ctx, &ofp.MultipartRequest{MPType: ofp.MultipartFlow, Body: req})
	if err != nil {
		return Drops{}, fmt.Errorf("neighbor: drop counters: %w", err)
	}
	var d Drops
	for _, p := range parts {
		fs, ok := p.Body.(*ofp.FlowStatsReply)
		if !ok {
			continue
		}
		for _, f := range fs.Stats {
			switch f.Cookie &^ controller.CookieMask {
			case CookieDropUnknown:
				d.UnknownUnicast += f.PacketCount
			case CookieDropMulticast:
				d.Multicast += f.PacketCount
			case CookieDropHandoff:
				d.Handoff += f.PacketCount
			}
		}
	}
	return d, nil
}
