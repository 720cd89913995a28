package neighbor

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/controller"
	"github.com/sixgate/sixgate/controller/ofp"
	"github.com/sixgate/sixgate/topo"
)

// counters are the app's own statistics, by what became of each packet-in.
type counters struct {
	packetIns    atomic.Uint64
	arpAnswered  atomic.Uint64
	naSent       atomic.Uint64
	raSent       atomic.Uint64
	announced    atomic.Uint64
	sendFailures atomic.Uint64
	notAnswered  [notND + 1]atomic.Uint64 // by verdict; answered stays 0
	reroutes     atomic.Uint64
}

// Stats is a snapshot of the app's counters.
type Stats struct {
	PacketIns    uint64
	ARPReplies   uint64 // ARP replies sent
	NASent       uint64 // solicited Neighbor Advertisements sent
	RASent       uint64 // Router Advertisements sent, solicited or not
	Announced    uint64 // gratuitous ARPs and unsolicited NAs sent
	SendFailures uint64
	// Ignored counts the packet-ins not answered, by reason:
	// "malformed", "dad_probe", "unknown_target" and so on.
	Ignored  map[string]uint64
	Reroutes uint64 // forwarding recomputations that changed paths
}

// Stats returns the app's counters.
func (a *App) Stats() Stats {
	s := Stats{
		PacketIns:    a.stats.packetIns.Load(),
		ARPReplies:   a.stats.arpAnswered.Load(),
		NASent:       a.stats.naSent.Load(),
		RASent:       a.stats.raSent.Load(),
		Announced:    a.stats.announced.Load(),
		SendFailures: a.stats.sendFailures.Load(),
		Ignored:      map[string]uint64{},
		Reroutes:     a.stats.reroutes.Load(),
	}
	for v := range a.stats.notAnswered {
		if n := a.stats.notAnswered[v].Load(); n > 0 {
			s.Ignored[verdict(v).String()] = n
		}
	}
	return s
}

// PacketIn answers ARP requests, Neighbor Solicitations and Router
// Solicitations out of the port they came in by. Everything else is
// counted and dropped.
func (a *App) PacketIn(sw *controller.Switch, pi *ofp.PacketIn) {
	a.stats.packetIns.Add(1)
	port, ok := pi.InPort()
	if !ok {
		a.stats.notAnswered[malformed].Add(1)
		return
	}
	frames, kind, v := a.view.Load().handle(pi.Data)
	if v != answered {
		a.stats.notAnswered[v].Add(1)
		if a.log.Logger.IsLevelEnabled(logrus.DebugLevel) {
			a.log.WithFields(logrus.Fields{"dpid": sw.String(), "in_port": port, "kind": kind, "verdict": v.String()}).Debug("not answered")
		}
		return
	}
	for _, f := range frames {
		if !a.send(sw, port, f) {
			continue
		}
		switch kind {
		case "arp":
			a.stats.arpAnswered.Add(1)
		case "ns":
			a.stats.naSent.Add(1)
		case "rs":
			a.stats.raSent.Add(1)
		}
	}
}

// handle decodes one frame and builds its answers. kind names the message
// for counters and logs.
func (v *view) handle(data []byte) (frames [][]byte, kind string, _ verdict) {
	pkt := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.DecodeOptions{Lazy: true, NoCopy: true})
	eth, ok := pkt.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	if !ok {
		return nil, "", malformed
	}
	switch eth.EthernetType {
	case layers.EthernetTypeARP:
		arp, ok := pkt.Layer(layers.LayerTypeARP).(*layers.ARP)
		if !ok {
			return nil, "arp", malformed
		}
		f, vd := v.answerARP(eth, arp)
		return [][]byte{f}, "arp", vd
	case layers.EthernetTypeIPv6:
		ip, ok := pkt.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
		if !ok {
			return nil, "ipv6", malformed
		}
		icmp, ok := pkt.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
		if !ok {
			return nil, "ipv6", notND
		}
		switch icmp.TypeCode.Type() {
		case icmpNS:
			ns, ok := pkt.Layer(layers.LayerTypeICMPv6NeighborSolicitation).(*layers.ICMPv6NeighborSolicitation)
			if !ok {
				return nil, "ns", malformed
			}
			f, vd := v.answerNS(eth, ip, icmp, ns)
			return [][]byte{f}, "ns", vd
		case icmpRS:
			rs, ok := pkt.Layer(layers.LayerTypeICMPv6RouterSolicitation).(*layers.ICMPv6RouterSolicitation)
			if !ok {
				return nil, "rs", malformed
			}
			fs, vd := v.answerRS(eth, ip, icmp, rs)
			return fs, "rs", vd
		case icmpNA:
			return nil, "na", notQuestion
		case icmpRA:
			return nil, "ra", notQuestion
		}
	}
	return nil, "other", notND
}

// SwitchUp reads the switch's ports into the link state, rerouting if a
// port the model uses is missing or down, then announces the virtual
// addresses to the hosts on the switch: after a controller restart their
// caches may hold a MAC from an older configuration.
func (a *App) SwitchUp(sw *controller.Switch) {
	a.mu.Lock()
	changed := applyPorts(a.topo, a.links, sw)
	rerouted := changed && a.republish()
	a.mu.Unlock()
	if rerouted {
		a.resyncAll()
	}
	if _, known := a.view.Load().topo.SwitchByDPID(sw.DPID()); !known {
		a.log.WithField("dpid", sw.String()).Warn("switch not in the topology: it gets no forwarding flows")
	}
	a.announce(sw)
}

// SwitchDown keeps the link state: the switch's flows stay in its table
// (fail mode secure) and its links carry traffic without the controller.
func (a *App) SwitchDown(*controller.Switch) {}

// PortStatus records ports going down or up; when that changes paths,
// every switch is resynced.
func (a *App) PortStatus(sw *controller.Switch, ps *ofp.PortStatus) {
	up := ps.Reason != ofp.PortReasonDelete && ps.Port.Up()
	a.mu.Lock()
	var changed bool
	if up {
		changed = a.links.SetPortUp(sw.DPID(), ps.Port.PortNo)
	} else {
		changed = a.links.SetPortDown(sw.DPID(), ps.Port.PortNo)
	}
	rerouted := changed && a.republish()
	a.mu.Unlock()
	if !changed {
		return
	}
	a.log.WithFields(logrus.Fields{"dpid": sw.String(), "port": ps.Port.PortNo, "up": up, "rerouted": rerouted}).Info("fabric port changed state")
	if rerouted {
		a.resyncAll()
	}
	if up {
		// A host plugged back in gets the virtual addresses at once.
		if h, ok := a.view.Load().topo.HostAt(sw.DPID(), ps.Port.PortNo); ok {
			a.announcePort(sw, h.Port)
		}
	}
}

// republish publishes a new view if forwarding changed, reporting whether
// it did. The caller holds mu.
func (a *App) republish() bool {
	if a.links.Forwarding().Equal(a.view.Load().fwd) {
		return false
	}
	a.publish()
	a.stats.reroutes.Add(1)
	return true
}

// applyPorts records the state of every port the model uses on sw: a
// port the switch lacks counts as down until a PORT_STATUS adds it.
func applyPorts(t *topo.Topology, links *topo.LinkState, sw *controller.Switch) bool {
	dpid := sw.DPID()
	var ports []uint32
	ports = append(ports, t.InterSwitchPorts(dpid)...)
	for _, h := range t.Hosts {
		if h.DPID == dpid {
			ports = append(ports, h.Port)
		}
	}
	changed := false
	for _, no := range ports {
		p, ok := sw.Port(no)
		if ok && p.Up() {
			changed = links.SetPortUp(dpid, no) || changed
		} else {
			changed = links.SetPortDown(dpid, no) || changed
		}
	}
	return changed
}

// announce sends the virtual addresses out of every host port of sw.
func (a *App) announce(sw *controller.Switch) {
	v := a.view.Load()
	for _, h := range v.topo.Hosts {
		if h.DPID == sw.DPID() {
			a.announcePort(sw, h.Port)
		}
	}
}

// announcePort sends, out of one host port that is up, a gratuitous ARP
// or unsolicited NA for every virtual address with a MAC (gateways, VIPs,
// single registered addresses) and the advertising gateways' RAs.
func (a *App) announcePort(sw *controller.Switch, port uint32) {
	if p, ok := sw.Port(port); !ok || !p.Up() {
		return
	}
	v := a.view.Load()
	n := 0
	for _, addr := range v.virtualAddrs() {
		ans, ok := v.lookup(addr)
		if !ok {
			continue
		}
		var f []byte
		var err error
		if addr.Is4() {
			f, err = gratuitousARP(addr, ans.mac)
		} else {
			f, err = v.unsolicitedNA(addr, ans)
		}
		if err == nil && a.send(sw, port, f) {
			n++
		}
	}
	a.stats.announced.Add(uint64(n))
	for _, f := range v.routerAdvertisements(allNodes(), multicastMAC(allNodes())) {
		if a.send(sw, port, f) {
			a.stats.raSent.Add(1)
		}
	}
	if a.log.Logger.IsLevelEnabled(logrus.DebugLevel) {
		a.log.WithFields(logrus.Fields{"dpid": sw.String(), "port": port, "addresses": n}).Debug("announced virtual addresses")
	}
}

// virtualAddrs lists the addresses the controller answers for that can be
// announced one by one: every topology neighbor that is not a host's, and
// registrations of a single address.
func (v *view) virtualAddrs() []netip.Addr {
	var out []netip.Addr
	for _, n := range v.topo.Neighbors() {
		if n.Kind != topo.NeighborHost {
			out = append(out, n.Addr)
		}
	}
	for _, r := range v.regs {
		if r.prefix.IsSingleIP() {
			out = append(out, r.prefix.Addr())
		}
	}
	return out
}

// advertiseLoop sends every advertising gateway's RA to every host port of
// every switch, at a random time between 3/4 of the shortest configured
// interval and the interval itself, so that advertisements from several
// controllers do not synchronise (RFC 4861 section 6.2.4).
func (a *App) advertiseLoop(ctx context.Context) {
	for {
		interval := time.Duration(0)
		for _, g := range a.view.Load().topo.Gateways {
			if g.RA != nil && (interval == 0 || g.RA.Interval < interval) {
				interval = g.RA.Interval
			}
		}
		wait := time.Minute // to notice a reload that enables advertisements
		if interval > 0 {
			wait = interval*3/4 + rand.N(interval/4+1)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if interval == 0 {
			continue
		}
		a.mu.Lock()
		ctl := a.ctl
		a.mu.Unlock()
		v := a.view.Load()
		frames := v.routerAdvertisements(allNodes(), multicastMAC(allNodes()))
		for _, sw := range ctl.Switches() {
			if !sw.MayWrite() {
				continue // a slave (ha): the master advertises
			}
			for _, h := range v.topo.Hosts {
				if p, ok := sw.Port(h.Port); h.DPID != sw.DPID() || !ok || !p.Up() {
					continue
				}
				for _, f := range frames {
					if a.send(sw, h.Port, f) {
						a.stats.raSent.Add(1)
					}
				}
			}
		}
	}
}
