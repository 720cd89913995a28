package datapath

import (
	"github.com/sixgate/sixgate/controller"
	"github.com/sixgate/sixgate/controller/ofp"
	"github.com/sixgate/sixgate/topo"
)

// PortStatus follows the fabric's links: in port mode, the steering from
// other switches takes the paths that are up, so a link change that
// changes a path resyncs the switches.
func (p *Path) PortStatus(sw *controller.Switch, ps *ofp.PortStatus) {
	down := ps.Reason == ofp.PortReasonDelete || !ps.Port.Up()
	if p.followLinks(sw.DPID(), ps.Port.PortNo, down) && p.cfg.Mode == topo.DataPathPort {
		p.resyncAll()
	}
}

// SwitchUp reads the state of a connecting switch's inter-switch ports,
// which may have changed while it was away, and resyncs if the paths
// changed.
func (p *Path) SwitchUp(sw *controller.Switch) {
	if p.applyPorts(sw.DPID(), sw.Port) && p.cfg.Mode == topo.DataPathPort {
		p.resyncAll()
	}
}

// SwitchDown keeps the switch's last known port state.
func (p *Path) SwitchDown(*controller.Switch) {}

func (p *Path) resyncAll() {
	if ctl := p.ctl.Load(); ctl != nil {
		ctl.ResyncAll()
	}
}

// applyPorts records switch dpid's inter-switch ports as port reports
// them: a port it does not know counts as down. It says whether paths
// changed.
func (p *Path) applyPorts(dpid uint64, port func(uint32) (ofp.Port, bool)) bool {
	changed := false
	for _, no := range p.view.Load().Topology.InterSwitchPorts(dpid) {
		pt, ok := port(no)
		if p.followLinks(dpid, no, !ok || !pt.Up()) {
			changed = true
		}
	}
	return changed
}

// followLinks records a port's state and, when that changes the paths,
// stores a view with the new ones; it reports whether it did.
func (p *Path) followLinks(dpid uint64, port uint32, down bool) bool {
	p.swap.Lock()
	defer p.swap.Unlock()
	v := p.view.Load()
	var changed bool
	if down {
		changed = v.links.SetPortDown(dpid, port)
	} else {
		changed = v.links.SetPortUp(dpid, port)
	}
	if !changed {
		return false
	}
	next := *v
	next.fwd = v.links.Forwarding()
	p.view.Store(&next)
	return true
}
