package datapath

import (
	"github.com/sixgate/sixgate/controller"
	"github.com/sixgate/sixgate/controller/ofp"
	"github.com/sixgate/sixgate/topo"
)

// Flows steers, on every switch, what the engine must see. In controller
// mode it goes to the controller. In port mode it goes to the engine port
// (or the select group over the engine ports) on the engine's switch, and
// towards that switch on the others; a switch cut off from it falls back
// to the controller, which runs the same engine. Steer entries marked
// Controller go to the controller in both modes.
func (p *Path) Flows(sw *controller.Switch) []controller.Flow {
	var dpid uint64
	if sw != nil {
		dpid = sw.DPID()
	}
	return p.FlowsFor(dpid)
}

// FlowsFor returns the flows of switch dpid.
func (p *Path) FlowsFor(dpid uint64) []controller.Flow {
	v := p.view.Load()
	toController := []ofp.Instruction{ofp.ApplyActions(ofp.Output(ofp.PortController))}
	steer := []ofp.Instruction{ofp.ApplyActions(p.steerAction(v, dpid))}
	flows := make([]controller.Flow, 0, len(v.Steer))
	for _, s := range v.Steer {
		ins := steer
		if s.Controller {
			ins = toController
		}
		flows = append(flows, controller.Flow{Table: s.Table, Priority: s.Priority, Cookie: s.Cookie, Match: s.Match, Instructions: ins})
	}
	if p.cfg.Mode == topo.DataPathPort && dpid == p.cfg.Ports[0].DPID {
		for _, port := range p.cfg.Ports {
			for _, g := range v.Guard {
				m := ofp.NewMatch(append([]ofp.OXM{ofp.InPort(port.Port)}, g.Fields...)...)
				flows = append(flows, controller.Flow{Priority: p.cfg.GuardPriority, Cookie: p.cfg.GuardCookie, Match: m})
			}
		}
	}
	return flows
}

// steerAction is where switch dpid sends what the engine must see.
func (p *Path) steerAction(v *view, dpid uint64) ofp.Action {
	if p.cfg.Mode != topo.DataPathPort {
		return ofp.Output(ofp.PortController)
	}
	engine := p.cfg.Ports[0].DPID
	switch {
	case dpid == engine && len(p.cfg.Ports) == 1:
		return ofp.Output(p.cfg.Ports[0].Port)
	case dpid == engine:
		return &ofp.ActionGroup{GroupID: controller.AppGroupID(p.cfg.CookieID, p.cfg.GroupID)}
	}
	if port, ok := v.fwd.SwitchPort(dpid, engine); ok {
		return ofp.Output(port)
	}
	return ofp.Output(ofp.PortController)
}

// Groups declares, on the engine's switch in port mode with several engine
// ports, a select group with one bucket per port. The switch hashes each
// flow onto one bucket, so a connection's packets keep to one port in each
// direction; a bucket whose port is down is skipped (its watch port).
func (p *Path) Groups(sw *controller.Switch) []controller.Group {
	if sw == nil {
		return nil
	}
	return p.GroupsFor(sw.DPID())
}

// GroupsFor returns the groups of switch dpid.
func (p *Path) GroupsFor(dpid uint64) []controller.Group {
	if p.cfg.Mode != topo.DataPathPort || len(p.cfg.Ports) < 2 || dpid != p.cfg.Ports[0].DPID {
		return nil
	}
	g := controller.Group{ID: p.cfg.GroupID, Type: ofp.GroupTypeSelect}
	for _, port := range p.cfg.Ports {
		g.Buckets = append(g.Buckets, ofp.Bucket{Weight: 1, WatchPort: port.Port, WatchGroup: ofp.GroupAny,
			Actions: []ofp.Action{ofp.Output(port.Port)}})
	}
	return []controller.Group{g}
}
