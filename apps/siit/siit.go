// Package siit runs the stateless translator (package siit at the root of
// the module, RFC 7915 with RFC 6052 and RFC 7757 addressing) in the
// fabric, on the shared data path: IPv6 hosts reach IPv4 hosts through
// pool6 and EAM addresses, IPv4 hosts reach IPv6 hosts through their EAM
// addresses, and declared IPv4-only hosts have their traffic translated
// toward a NAT64 prefix (the CLAT role of 464XLAT, RFC 6877).
//
// The app registers with the neighbor app every address the translator
// owns or stands for (its own addresses, pool6, both sides of every EAM
// entry, the CLAT hosts' IPv6 addresses), so hosts resolve them to the
// translator's MAC, and steers what is sent to that MAC to the engine, by
// packet-in (controller mode) or to engine ports (port mode). What the
// translator emits goes to the host that owns each destination, or to the
// gateway of its family for destinations outside the model.
package siit

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/controller"
	"github.com/sixgate/sixgate/datapath"
	xlat "github.com/sixgate/sixgate/siit"
	"github.com/sixgate/sixgate/topo"
)

// CookieID is the top byte of the cookies of this app's flows.
const CookieID = 0x05

// Registrar answers ARP and NDP for address ranges on an app's behalf
// and hands what hosts send to the app's MAC to the handoff table: the
// neighbor app.
type Registrar interface {
	// RegisterSet replaces owner's registrations with prefixes, in one
	// step.
	RegisterSet(owner string, prefixes []netip.Prefix, mac net.HardwareAddr) error
}

// owner is the name the app registers its addresses under.
const owner = "siit"

// App is the siit app: the translators on a shared data path.
type App struct {
	*datapath.Path
	log *logrus.Entry
	reg Registrar
	// cur is what runs, swapped by reloads under swap.
	cur  atomic.Pointer[running]
	swap sync.Mutex
}

// running is a configuration in force: the topology, what the app made of
// it, and the engines built from it.
type running struct {
	topo   *topo.Topology
	layout *layout
	engine *dispatch
}

var (
	_ controller.FlowApp           = (*App)(nil)
	_ controller.GroupApp          = (*App)(nil)
	_ controller.PacketInHandler   = (*App)(nil)
	_ controller.PortStatusHandler = (*App)(nil)
	_ controller.SwitchHandler     = (*App)(nil)
	_ controller.Starter           = (*App)(nil)
)

// New builds the app for a topology with a siit section. reg is the
// neighbor app, which must run with it.
func New(t *topo.Topology, reg Registrar, log *logrus.Entry) (*App, error) {
	log = log.WithField("app", "siit")
	if t.SIIT == nil {
		return nil, fmt.Errorf("siit: no siit section in %s", t.File)
	}
	if reg == nil {
		return nil, fmt.Errorf("siit: %s declares no hosts: the translator needs the neighbor app", t.File)
	}
	r, err := build(t, nil)
	if err != nil {
		return nil, err
	}
	l := r.layout
	p, err := datapath.New(datapath.Config{
		Name: "siit", CookieID: CookieID, Log: log, Mode: l.mode, Ports: l.ports,
		GuardPriority: prioGuard, GuardCookie: cookieGuard, GroupID: groupLow,
	}, r.state())
	if err != nil {
		return nil, fmt.Errorf("siit: %w", err)
	}
	a := &App{Path: p, log: log, reg: reg}
	if err := a.register(l); err != nil {
		return nil, err
	}
	a.cur.Store(r)
	return a, nil
}

func (a *App) Name() string    { return "siit" }
func (a *App) CookieID() uint8 { return CookieID }

// Start starts the data path.
func (a *App) Start(ctx context.Context, c *controller.Controller) error {
	return a.Path.Start(ctx, c)
}

// build makes the layout and the engines of t's siit section. The
// translators of prev, when given (a reload), take the new configuration
// in place and keep their counters; a role that appears gets a new one.
// Should the engine refuse what topo accepted, nothing of prev changes
// (the CLAT configuration, small, is tried on a scratch translator before
// the main one is changed).
func build(t *topo.Topology, prev *dispatch) (*running, error) {
	l := layoutOf(t)
	main, clat := engineConfigs(t)
	d := &dispatch{clat4: map[netip.Addr]struct{}{}, clat6: map[netip.Addr]struct{}{}}
	for _, c := range l.clat {
		d.clat4[c.ipv4] = struct{}{}
		d.clat6[c.ipv6] = struct{}{}
	}
	refused := func(field string, err error) error {
		return &topo.Error{File: t.File, Line: t.SIIT.Line, Field: field, Msg: err.Error()}
	}
	if clat != nil {
		x, err := xlat.New(*clat)
		if err != nil {
			return nil, refused("siit.clat", err)
		}
		d.clat = x
		if prev != nil && prev.clat != nil {
			d.clat = prev.clat
		}
	}
	if main != nil {
		var err error
		if prev != nil && prev.main != nil {
			d.main, err = prev.main, prev.main.SetConfig(*main)
		} else {
			d.main, err = xlat.New(*main)
		}
		if err != nil {
			return nil, refused("siit", err)
		}
	}
	if d.clat != nil && prev != nil && d.clat == prev.clat {
		if err := d.clat.SetConfig(*clat); err != nil {
			return nil, refused("siit.clat", err)
		}
	}
	return &running{topo: t, layout: l, engine: d}, nil
}

// state is what the data path needs of r.
func (r *running) state() datapath.State {
	l := r.layout
	return datapath.State{Topology: r.topo, Engine: r.engine, MAC: l.mac, Steer: steering(l), Guard: guarded(l),
		Gateway4: l.gw4, Gateway6: l.gw6}
}

// register has the neighbor app answer for every address of l.
func (a *App) register(l *layout) error {
	if err := a.reg.RegisterSet(owner, l.answered(), l.mac); err != nil {
		return fmt.Errorf("siit: %w", err)
	}
	return nil
}

// Reload takes a new configuration: the translators take it in place
// (they keep no state per flow; their counters go on), the steering and
// the neighbor registrations follow. A change of mode or engine ports
// needs a restart.
func (a *App) Reload(t *topo.Topology) error {
	a.swap.Lock()
	defer a.swap.Unlock()
	if t.SIIT == nil {
		return fmt.Errorf("siit: no siit section in %s", t.File)
	}
	if err := a.SameLayout(t.SIIT.Mode, t.SIIT.Ports); err != nil {
		return err
	}
	r, err := build(t, a.cur.Load().engine)
	if err != nil {
		return err
	}
	if err := a.Update(r.state()); err != nil {
		return err
	}
	if err := a.register(r.layout); err != nil {
		return err
	}
	a.cur.Store(r)
	return nil
}
