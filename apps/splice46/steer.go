package splice46

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/sixgate/sixgate/controller"
	"github.com/sixgate/sixgate/controller/ofp"
	"github.com/sixgate/sixgate/topo"
)

// prioGuard sits above the steering flows on the engine's switch: traffic
// that comes back in from an engine port addressed to a VIP or pool6 is
// dropped instead of being steered out again. The engine never sends such
// a packet (its output goes to clients and backends, which are hosts), so
// the guard only stops a loop that a misconfigured interface could start.
const prioGuard = 2200

// Cookie low bits of the flows that are not per service.
const (
	cookieVIP       = 0x1000
	cookiePool6     = 0x2000
	cookiePool6PTB  = 0x2001
	cookieGuard     = 0x3000
	engineGroupLow  = 1 // the select group over several engine ports
	etherIPv4       = 0x0800
	etherIPv6       = 0x86dd
	protoTCP        = 6
	protoICMPv6     = 58
	icmpv6TooBig    = 2
	maxServiceFlows = cookieVIP - 1
)

// Flows steers, on every switch, what the engine must see: TCP to each
// service, and TCP and Packet Too Big to pool6. In controller mode it goes
// to the controller. In port mode it goes to the engine port (or the
// select group over the engine ports) on the engine's switch, and towards
// that switch on the others; a switch cut off from it falls back to the
// controller, which runs the same engine. The rest of the IPv4 traffic to
// a VIP (pings, closed ports) goes to the controller in both modes.
func (a *App) Flows(sw *controller.Switch) []controller.Flow {
	var dpid uint64
	if sw != nil {
		dpid = sw.DPID()
	}
	return a.state.Load().flowsFor(dpid)
}

func (st *state) flowsFor(dpid uint64) []controller.Flow {
	s := st.topo.Splice46
	toController := []ofp.Instruction{ofp.ApplyActions(ofp.Output(ofp.PortController))}
	steer := []ofp.Instruction{ofp.ApplyActions(st.steerAction(dpid))}
	var flows []controller.Flow
	for i, svc := range s.Services {
		flows = append(flows, controller.Flow{
			Priority: prioService, Cookie: uint64(min(i+1, maxServiceFlows)), Instructions: steer,
			Match: ofp.NewMatch(ofp.EthType(etherIPv4), ofp.IPProto(protoTCP),
				ofp.IPv4Dst(netip.PrefixFrom(svc.VIP, 32)), ofp.TCPDst(svc.Port)),
		})
	}
	for _, vip := range s.VIPs() {
		flows = append(flows, controller.Flow{
			Priority: prioVIP, Cookie: cookieVIP, Instructions: toController,
			Match: ofp.NewMatch(ofp.EthType(etherIPv4), ofp.IPv4Dst(netip.PrefixFrom(vip, 32))),
		})
	}
	// Backends answer to pool6 addresses. Only TCP and Packet Too Big:
	// neighbor discovery for pool6 addresses belongs to the neighbor app.
	flows = append(flows,
		controller.Flow{Priority: prioService, Cookie: cookiePool6, Instructions: steer,
			Match: ofp.NewMatch(ofp.EthType(etherIPv6), ofp.IPProto(protoTCP), ofp.IPv6Dst(s.Pool6))},
		controller.Flow{Priority: prioService, Cookie: cookiePool6PTB, Instructions: steer,
			Match: ofp.NewMatch(ofp.EthType(etherIPv6), ofp.IPProto(protoICMPv6), ofp.IPv6Dst(s.Pool6), ofp.ICMPv6Type(icmpv6TooBig))},
	)
	if s.Mode == topo.DataPathPort && len(s.Ports) > 0 && dpid == s.Ports[0].DPID {
		for _, p := range s.Ports {
			for _, vip := range s.VIPs() {
				flows = append(flows, controller.Flow{Priority: prioGuard, Cookie: cookieGuard,
					Match: ofp.NewMatch(ofp.InPort(p.Port), ofp.EthType(etherIPv4), ofp.IPv4Dst(netip.PrefixFrom(vip, 32)))})
			}
			flows = append(flows, controller.Flow{Priority: prioGuard, Cookie: cookieGuard,
				Match: ofp.NewMatch(ofp.InPort(p.Port), ofp.EthType(etherIPv6), ofp.IPv6Dst(s.Pool6))})
		}
	}
	return flows
}

// steerAction is where switch dpid sends what the engine must see.
func (st *state) steerAction(dpid uint64) ofp.Action {
	s := st.topo.Splice46
	if s.Mode != topo.DataPathPort || len(s.Ports) == 0 {
		return ofp.Output(ofp.PortController)
	}
	engine := s.Ports[0].DPID
	switch {
	case dpid == engine && len(s.Ports) == 1:
		return ofp.Output(s.Ports[0].Port)
	case dpid == engine:
		return &ofp.ActionGroup{GroupID: controller.AppGroupID(CookieID, engineGroupLow)}
	}
	if port, ok := st.fwd.SwitchPort(dpid, engine); ok {
		return ofp.Output(port)
	}
	return ofp.Output(ofp.PortController)
}

// Groups declares, on the engine's switch in port mode with several engine
// ports, a select group with one bucket per port. The switch hashes each
// flow onto one bucket, so a connection's packets keep to one port in each
// direction; a bucket whose port is down is skipped (its watch port).
func (a *App) Groups(sw *controller.Switch) []controller.Group {
	if sw == nil {
		return nil
	}
	return a.state.Load().groupsFor(sw.DPID())
}

func (st *state) groupsFor(dpid uint64) []controller.Group {
	s := st.topo.Splice46
	if s.Mode != topo.DataPathPort || len(s.Ports) < 2 || dpid != s.Ports[0].DPID {
		return nil
	}
	g := controller.Group{ID: engineGroupLow, Type: ofp.GroupTypeSelect}
	for _, p := range s.Ports {
		g.Buckets = append(g.Buckets, ofp.Bucket{Weight: 1, WatchPort: p.Port, WatchGroup: ofp.GroupAny,
			Actions: []ofp.Action{ofp.Output(p.Port)}})
	}
	return []controller.Group{g}
}

// sameDataPath refuses a reload that changes the mode or the engine ports:
// the workers and their sockets are set up once, at start.
func sameDataPath(x, y *topo.Splice46) error {
	if x == nil || y == nil {
		return nil
	}
	key := func(s *topo.Splice46) []string {
		out := []string{string(s.Mode)}
		for _, p := range s.Ports {
			out = append(out, fmt.Sprintf("%s@%#x:%d", p.Interface, p.DPID, p.Port))
		}
		return out
	}
	if !slices.Equal(key(x), key(y)) {
		return fmt.Errorf("splice46: mode or ports changed: restart sixgate to apply it")
	}
	return nil
}
