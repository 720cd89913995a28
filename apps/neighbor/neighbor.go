// Package neighbor makes a fabric of OpenFlow switches behave like one
// Ethernet segment whose every address is known in advance: it answers ARP
// requests and IPv6 Neighbor and Router Solicitations from the topology
// model (RFC 826, RFC 4861) instead of flooding them, installs static
// forwarding to every host's MAC along the computed paths, hands traffic for
// virtual MACs (gateways, splice46, registered owners) to a table that
// routing apps own, and drops the rest in the switch with counters.
//
// Hosts never learn anything by flooding, so a ring of switches needs no
// spanning tree, and a broadcast storm cannot start.
package neighbor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/controller"
	"github.com/sixgate/sixgate/topo"
)

// CookieID is the top byte of the cookies of this app's flows.
const CookieID = 0x02

// sendTimeout bounds one packet-out; a switch that cannot take a frame in
// that time is too busy for an answer to matter.
const sendTimeout = time.Second

// App is the neighbor app. Its methods are safe for concurrent use: the
// core calls them from every switch's event goroutine at once.
type App struct {
	log *logrus.Entry

	// view is what packet-ins and Flows read, without locks. It is
	// replaced whole, under mu, whenever the model, the link state or the
	// registrations change.
	view atomic.Pointer[view]

	mu    sync.Mutex
	topo  *topo.Topology
	links *topo.LinkState
	regs  []registration
	// withdrawn is host configuration reloads took away, by gateway.
	withdrawn map[string]withdrawal
	// leases are addresses other apps gave hosts of the model (DHCPv4),
	// by owner.
	leases map[string]map[netip.Addr]net.HardwareAddr
	ctl    *controller.Controller

	stats counters
}

// registration is an address range another app answers for.
type registration struct {
	owner  string
	prefix netip.Prefix
	mac    net.HardwareAddr
}

// view is one immutable snapshot of everything the app answers and
// installs from.
type view struct {
	topo *topo.Topology
	fwd  *topo.Forwarding
	// regs are sorted most specific first, so the first match wins.
	regs []registration
	// routers are the gateway addresses: their Neighbor Advertisements
	// carry the Router flag, or hosts would drop them from their default
	// router lists (RFC 4861 section 7.2.5).
	routers map[netip.Addr]bool
	// virtual are the MACs that no host owns and the controller answers
	// for: gateways, splice46, registrations. Sorted, distinct.
	virtual []net.HardwareAddr
	// withdrawn is what the gateways' RAs withdraw, by gateway name.
	withdrawn map[string]withdrawal
	// leased are addresses leased to hosts of the model, answered with
	// the host's MAC.
	leased map[netip.Addr]net.HardwareAddr
}

var (
	_ controller.FlowApp           = (*App)(nil)
	_ controller.Starter           = (*App)(nil)
	_ controller.SwitchHandler     = (*App)(nil)
	_ controller.PacketInHandler   = (*App)(nil)
	_ controller.PortStatusHandler = (*App)(nil)
)

// New returns the app for topology t, logging to log.
func New(t *topo.Topology, log *logrus.Entry) *App {
	a := &App{log: log.WithField("app", "neighbor"), topo: t, links: t.NewLinkState()}
	a.publish()
	return a
}

func (a *App) Name() string    { return "neighbor" }
func (a *App) CookieID() uint8 { return CookieID }

// Start keeps the controller, to send announcements and ask for resyncs,
// and sends periodic Router Advertisements until ctx is done.
func (a *App) Start(ctx context.Context, c *controller.Controller) error {
	a.mu.Lock()
	a.ctl = c
	a.mu.Unlock()
	go a.advertiseLoop(ctx)
	return nil
}

// Reload takes a new topology. The ports of the switches connected now are
// read again against it, the new view replaces the old one in one step, and
// every switch is resynced, so flows that did not change stay installed.
func (a *App) Reload(t *topo.Topology) error {
	a.mu.Lock()
	a.withdrawn = withdrawals(a.topo, t, a.withdrawn, time.Now())
	a.topo = t
	a.links = t.NewLinkState()
	if a.ctl != nil {
		for _, sw := range a.ctl.Switches() {
			applyPorts(t, a.links, sw)
		}
	}
	a.publish()
	ctl := a.ctl
	a.mu.Unlock()
	if ctl != nil {
		ctl.ResyncAll()
		for _, sw := range ctl.Switches() {
			a.announce(sw)
		}
	}
	return nil
}

// Register makes the app answer ARP and Neighbor Solicitations for every
// address in prefix with mac, on behalf of owner (an app's name), and hand
// IPv4 and IPv6 traffic sent to mac to HandoffTable. A single address
// (a /32 or /128) is also announced to the hosts right away and on every
// switch connection. Addresses the topology gives to a host, gateway or VIP
// keep their own answer; among registrations the most specific prefix wins.
// Registering the same owner and prefix again replaces the MAC.
func (a *App) Register(owner string, prefix netip.Prefix, mac net.HardwareAddr) error {
	if err := checkRegistration(owner, prefix, mac); err != nil {
		return err
	}
	prefix = prefix.Masked()
	a.mu.Lock()
	if h, ok := a.topo.HostByMAC(mac); ok {
		a.mu.Unlock()
		return fmt.Errorf("neighbor: register %s %s: MAC %s belongs to host %s", owner, prefix, mac, h.Name)
	}
	a.regs = slices.DeleteFunc(a.regs, func(r registration) bool { return r.owner == owner && r.prefix == prefix })
	a.regs = append(a.regs, registration{owner: owner, prefix: prefix, mac: slices.Clone(mac)})
	a.publish()
	ctl := a.ctl
	a.mu.Unlock()
	a.log.WithFields(logrus.Fields{"owner": owner, "prefix": prefix.String(), "mac": mac.String()}).Info("addresses registered")
	a.registered(ctl, prefix.IsSingleIP())
	return nil
}

// RegisterSet replaces every registration of owner with prefixes, all
// answered with mac, in one step: one new view and one resync however
// many prefixes there are (a translator with thousands of address
// mappings), and no moment in between without them.
func (a *App) RegisterSet(owner string, prefixes []netip.Prefix, mac net.HardwareAddr) error {
	regs := make([]registration, 0, len(prefixes))
	single := false
	for _, p := range prefixes {
		if err := checkRegistration(owner, p, mac); err != nil {
			return err
		}
		regs = append(regs, registration{owner: owner, prefix: p.Masked(), mac: slices.Clone(mac)})
		single = single || p.IsSingleIP()
	}
	a.mu.Lock()
	if h, ok := a.topo.HostByMAC(mac); ok {
		a.mu.Unlock()
		return fmt.Errorf("neighbor: register %s: MAC %s belongs to host %s", owner, mac, h.Name)
	}
	a.regs = append(slices.DeleteFunc(a.regs, func(r registration) bool { return r.owner == owner }), regs...)
	a.publish()
	ctl := a.ctl
	a.mu.Unlock()
	a.log.WithFields(logrus.Fields{"owner": owner, "prefixes": len(prefixes), "mac": mac.String()}).Info("addresses registered")
	a.registered(ctl, single)
	return nil
}

func checkRegistration(owner string, prefix netip.Prefix, mac net.HardwareAddr) error {
	switch {
	case owner == "":
		return errors.New("neighbor: register: empty owner")
	case !prefix.IsValid():
		return fmt.Errorf("neighbor: register %s: invalid prefix", owner)
	case prefix.Addr().Is4In6():
		// Packets carry plain IPv4 addresses; a mapped prefix would
		// never match one.
		return fmt.Errorf("neighbor: register %s %s: write IPv4 prefixes unmapped", owner, prefix)
	case len(mac) != 6 || mac[0]&1 != 0 || isZero(mac):
		return fmt.Errorf("neighbor: register %s %s: %s is not a unicast Ethernet address", owner, prefix, mac)
	}
	return nil
}

// registered resyncs the switches after a registration and, when single
// addresses were registered, announces them.
func (a *App) registered(ctl *controller.Controller, announce bool) {
	if ctl == nil {
		return
	}
	ctl.ResyncAll()
	if announce {
		for _, sw := range ctl.Switches() {
			a.announce(sw)
		}
	}
}

// SetLeases replaces the addresses owner (the DHCPv4 app) leased to hosts
// of the model: each is answered with its host's MAC, and traffic to it
// takes the host's forwarding flows, which exist by MAC already. An
// address the model gives someone keeps its own answer; a MAC that is no
// host's is ignored. Nothing is resynced: leases add no flow.
func (a *App) SetLeases(owner string, leases map[netip.Addr]net.HardwareAddr) {
	m := make(map[netip.Addr]net.HardwareAddr, len(leases))
	for addr, mac := range leases {
		m[addr.Unmap()] = slices.Clone(mac)
	}
	a.mu.Lock()
	if a.leases == nil {
		a.leases = map[string]map[netip.Addr]net.HardwareAddr{}
	}
	a.leases[owner] = m
	a.publish()
	a.mu.Unlock()
}

// LeaseHolder returns the host of the model that addr is leased to (by
// SetLeases), so that the engines' output reaches it at that address.
func (a *App) LeaseHolder(addr netip.Addr) (*topo.Host, bool) {
	v := a.view.Load()
	mac, ok := v.leased[addr.Unmap()]
	if !ok {
		return nil, false
	}
	return v.topo.HostByMAC(mac)
}

// Unregister forgets every registration of owner.
func (a *App) Unregister(owner string) {
	a.mu.Lock()
	n := len(a.regs)
	a.regs = slices.DeleteFunc(a.regs, func(r registration) bool { return r.owner == owner })
	changed := len(a.regs) != n
	if changed {
		a.publish()
	}
	ctl := a.ctl
	a.mu.Unlock()
	if changed && ctl != nil {
		ctl.ResyncAll()
	}
}

func isZero(mac net.HardwareAddr) bool {
	for _, b := range mac {
		if b != 0 {
			return false
		}
	}
	return true
}

// publish builds a new view from the fields under mu; the caller holds mu.
func (a *App) publish() {
	v := &view{
		topo:    a.topo,
		fwd:     a.links.Forwarding(),
		regs:    slices.Clone(a.regs),
		routers: map[netip.Addr]bool{},
		// Read-only once published: replaced, never changed.
		withdrawn: a.withdrawn,
		leased:    map[netip.Addr]net.HardwareAddr{},
	}
	for _, m := range a.leases {
		for addr, mac := range m {
			if _, ok := a.topo.HostByMAC(mac); ok {
				v.leased[addr] = mac
			}
		}
	}
	slices.SortStableFunc(v.regs, func(x, y registration) int { return y.prefix.Bits() - x.prefix.Bits() })
	var macs []net.HardwareAddr
	for _, g := range a.topo.Gateways {
		macs = append(macs, g.MAC)
		for _, p := range append(slices.Clone(g.IPv4), g.IPv6...) {
			v.routers[p.Addr()] = true
		}
		if g.LinkLocal.IsValid() {
			v.routers[g.LinkLocal] = true
		}
	}
	if s := a.topo.Splice46; s != nil {
		macs = append(macs, s.MAC)
	}
	for _, r := range v.regs {
		macs = append(macs, r.mac)
	}
	for _, m := range macs {
		if _, host := a.topo.HostByMAC(m); host {
			// Reload gave a host a registered MAC: the host's own
			// forwarding wins over the hand-off.
			a.log.WithField("mac", m.String()).Warn("a registered MAC now belongs to a host; not handing its traffic off")
			continue
		}
		if !slices.ContainsFunc(v.virtual, func(x net.HardwareAddr) bool { return string(x) == string(m) }) {
			v.virtual = append(v.virtual, m)
		}
	}
	slices.SortFunc(v.virtual, func(x, y net.HardwareAddr) int { return compareBytes(x, y) })
	a.view.Store(v)
}

func compareBytes(x, y []byte) int {
	for i := range min(len(x), len(y)) {
		if x[i] != y[i] {
			return int(x[i]) - int(y[i])
		}
	}
	return len(x) - len(y)
}

// answer is who owns an address.
type answer struct {
	mac    net.HardwareAddr
	router bool
}

// lookup returns the MAC that answers for addr: the topology's (hosts,
// gateways, VIPs, pool6), then the most specific registration.
func (v *view) lookup(addr netip.Addr) (answer, bool) {
	addr = addr.Unmap()
	if mac, ok := v.topo.MACFor(addr); ok {
		return answer{mac: mac, router: v.routers[addr]}, true
	}
	if mac, ok := v.leased[addr]; ok {
		return answer{mac: mac}, true
	}
	for _, r := range v.regs {
		if r.prefix.Contains(addr) {
			return answer{mac: r.mac}, true
		}
	}
	return answer{}, false
}

// resyncAll asks every switch to reconcile its flows with the current view.
func (a *App) resyncAll() {
	a.mu.Lock()
	ctl := a.ctl
	a.mu.Unlock()
	if ctl != nil {
		ctl.ResyncAll()
	}
}

// send puts one frame out of port of sw, counting failures.
func (a *App) send(sw *controller.Switch, port uint32, frame []byte) bool {
	ctx, cancel := context.WithTimeout(context.Background(), sendTimeout)
	defer cancel()
	if err := sw.PacketOut(ctx, port, frame); err != nil {
		a.stats.sendFailures.Add(1)
		if a.log.Logger.IsLevelEnabled(logrus.DebugLevel) {
			a.log.WithError(err).WithFields(logrus.Fields{"dpid": sw.String(), "port": port}).Debug("packet-out failed")
		}
		return false
	}
	return true
}
