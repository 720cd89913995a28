// Package nat64 runs the stateful NAT64 (package nat64 at the root of the
// module, RFC 6146) in the fabric, on the shared data path: IPv6-only
// hosts reach IPv4 hosts through pool6, sharing the pool4 addresses.
//
// The app registers with the neighbor app the addresses the NAT64 owns
// or stands for (its own addresses, pool6, the pool4 addresses), so hosts
// resolve them to the NAT64's MAC, and steers what is sent to that MAC to
// the engine (apps/handoff), by packet-in (controller mode) or to engine
// ports (port mode). What the NAT64 emits goes to the host that owns each
// destination, or to the gateway of its family for destinations outside
// the model (the IPv4 Internet).
package nat64

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/apps/handoff"
	"github.com/sixgate/sixgate/controller"
	"github.com/sixgate/sixgate/datapath"
	engine "github.com/sixgate/sixgate/nat64"
	"github.com/sixgate/sixgate/topo"
)

// CookieID is the top byte of the cookies of this app's flows.
const CookieID = 0x06

// Registrar answers ARP and NDP for address ranges on an app's behalf:
// the neighbor app.
type Registrar interface {
	RegisterSet(owner string, prefixes []netip.Prefix, mac net.HardwareAddr) error
}

const owner = "nat64"

// Flow priorities and cookies: the steering flows in the handoff table
// by destination (pool4 addresses, pool6), the guard in table 0.
const (
	prioGuard   = 2300
	prioSteer   = 200
	kindDst4    = uint64(1) << 48
	kindDst6    = uint64(2) << 48
	cookieGuard = 0x3000
	groupLow    = 1
)

// App is the nat64 app: the NAT64 on a shared data path. The engine lives
// as long as the app; reloads change its configuration, keeping its
// bindings and sessions.
type App struct {
	*datapath.Path
	log    *logrus.Entry
	reg    Registrar
	engine *engine.NAT64
	swap   sync.Mutex
	topo   *topo.Topology
}

var (
	_ controller.FlowApp           = (*App)(nil)
	_ controller.GroupApp          = (*App)(nil)
	_ controller.PacketInHandler   = (*App)(nil)
	_ controller.PortStatusHandler = (*App)(nil)
	_ controller.SwitchHandler     = (*App)(nil)
	_ controller.Starter           = (*App)(nil)
)

// New builds the app for a topology with a nat64 section. reg is the
// neighbor app, which must run with it.
func New(t *topo.Topology, reg Registrar, log *logrus.Entry) (*App, error) {
	log = log.WithField("app", "nat64")
	if t.NAT64 == nil {
		return nil, fmt.Errorf("nat64: no nat64 section in %s", t.File)
	}
	if reg == nil {
		return nil, fmt.Errorf("nat64: %s declares no hosts: the NAT64 needs the neighbor app", t.File)
	}
	n := t.NAT64
	cfg := Config(n)
	e, err := engine.New(cfg)
	if err != nil {
		return nil, &topo.Error{File: t.File, Line: n.Line, Field: "nat64", Msg: err.Error()}
	}
	for _, w := range cfg.Warnings() {
		log.WithField("file", t.File).Warn(w)
	}
	p, err := datapath.New(datapath.Config{
		Name: "nat64", CookieID: CookieID, Log: log, Mode: n.Mode, Ports: n.Ports,
		GuardPriority: prioGuard, GuardCookie: cookieGuard, GroupID: groupLow,
	}, state(t, e))
	if err != nil {
		return nil, fmt.Errorf("nat64: %w", err)
	}
	a := &App{Path: p, log: log, reg: reg, engine: e, topo: t}
	if err := a.register(n); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *App) Name() string    { return "nat64" }
func (a *App) CookieID() uint8 { return CookieID }

// Engine returns the NAT64.
func (a *App) Engine() *engine.NAT64 { return a.engine }

// Start starts the data path and the watch over the tables' bounds.
func (a *App) Start(ctx context.Context, c *controller.Controller) error {
	go a.watchBounds(ctx, 5*time.Second)
	return a.Path.Start(ctx, c)
}

// state is what the data path needs.
func state(t *topo.Topology, e *engine.NAT64) datapath.State {
	n := t.NAT64
	st := datapath.State{Topology: t, Engine: e, MAC: n.MAC,
		Steer: handoff.ToPrefixes(prioSteer, kindDst4, kindDst6, pool4Prefixes(n), []netip.Prefix{n.Pool6}),
		Guard: handoff.Guard(n.MAC)}
	if g := n.IPv4.Gateway; g.IsValid() {
		st.Gateway4, _ = t.HostByAddr(g)
	}
	if g := n.IPv6.Gateway; g.IsValid() {
		st.Gateway6, _ = t.HostByAddr(g)
	}
	return st
}

// pool4Prefixes is each pool4 address once, as a /32.
func pool4Prefixes(n *topo.NAT64) []netip.Prefix {
	var out []netip.Prefix
	seen := map[netip.Addr]bool{}
	for _, p := range n.Pool4 {
		if !seen[p.Address] {
			seen[p.Address] = true
			out = append(out, netip.PrefixFrom(p.Address, 32))
		}
	}
	return out
}

// register has the neighbor app answer for the NAT64's addresses.
func (a *App) register(n *topo.NAT64) error {
	ps := pool4Prefixes(n)
	for _, s := range []topo.SIITSide{n.IPv4, n.IPv6} {
		if s.Address.IsValid() {
			ps = append(ps, netip.PrefixFrom(s.Address.Addr(), s.Address.Addr().BitLen()))
		}
	}
	ps = append(ps, n.Pool6)
	if err := a.reg.RegisterSet(owner, ps, n.MAC); err != nil {
		return fmt.Errorf("nat64: %w", err)
	}
	return nil
}

// CheckReload refuses, before any app takes the file, what needs a
// restart: a new mode or other engine ports.
func (a *App) CheckReload(t *topo.Topology) error {
	if t.NAT64 == nil {
		return &topo.Error{File: t.File, Field: "nat64", Msg: "the section was removed: restart sixgate to apply it"}
	}
	if err := a.CheckLayout(t, "nat64", t.NAT64.Mode, t.NAT64.Ports); err != nil {
		return err
	}
	return nil
}

// Reload takes a new configuration: the engine keeps the bindings and
// sessions whose pool4 address and port remain; the steering and the
// registrations follow. A change of mode or engine ports needs a restart.
func (a *App) Reload(t *topo.Topology) error {
	a.swap.Lock()
	defer a.swap.Unlock()
	n := t.NAT64
	if n == nil {
		return fmt.Errorf("nat64: no nat64 section in %s", t.File)
	}
	if err := a.SameLayout(n.Mode, n.Ports); err != nil {
		return err
	}
	cfg := Config(n)
	if err := a.engine.SetConfig(cfg); err != nil {
		return &topo.Error{File: t.File, Line: n.Line, Field: "nat64", Msg: err.Error()}
	}
	for _, w := range cfg.Warnings() {
		a.log.WithField("file", t.File).Warn(w)
	}
	if err := a.Update(state(t, a.engine)); err != nil {
		return err
	}
	if err := a.register(n); err != nil {
		return err
	}
	a.topo = t
	return nil
}

// watchBounds logs, at most once a period, when a bound of the tables
// refused something since the last look: the counters say how often,
// the log says that it happens at all.
func (a *App) watchBounds(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	last := map[string]uint64{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st := a.engine.Stats()
		for _, reason := range []string{"pool4_exhausted", "bib_full", "session_table_full", "host_binding_limit", "host_session_limit", "syn_hold_full", "fragment_memory"} {
			if v := st.Drops[reason]; v > last[reason] {
				a.log.WithFields(logrus.Fields{"bound": reason, "drops": v - last[reason], "sessions": st.Sessions, "bindings": st.Bindings}).Warn("nat64: a table bound refused packets")
				last[reason] = v
			}
		}
	}
}

// Config maps a nat64 section onto the engine's configuration.
func Config(n *topo.NAT64) engine.Config {
	c := engine.Config{
		Pool6:                     n.Pool6,
		AddressDependentFiltering: n.AddressDependentFiltering,
		ZeroizeTrafficClass:       n.ZeroizeTrafficClass,
		LowestIPv6MTU:             n.LowestIPv6MTU,
		IPv4:                      engine.Side{Address: n.IPv4.Address.Addr(), MTU: n.IPv4.MTU},
		IPv6:                      engine.Side{Address: n.IPv6.Address.Addr(), MTU: n.IPv6.MTU},
		Timeouts: engine.Timeouts{
			TCPEstablished: n.Timeouts.TCPEstablished, TCPTransitory: n.Timeouts.TCPTransitory,
			UDP: n.Timeouts.UDP, ICMP: n.Timeouts.ICMP, SYNHold: n.Timeouts.SYNHold,
		},
		FragmentTimeout: n.Timeouts.Fragment,
		Limits: engine.Limits{
			Sessions: n.Limits.Sessions, Bindings: n.Limits.Bindings, BindingsPerHost: n.Limits.BindingsPerHost,
			SessionsPerHost: n.Limits.SessionsPerHost, HeldSYNs: n.Limits.HeldSYNs, FragmentBytes: n.Limits.FragmentBytes,
		},
		ALG: engine.ALG{FTPPorts: n.FTP.Ports, FTPConnections: n.FTP.Connections},
	}
	for _, p := range n.Pool4 {
		e := engine.Pool4Entry{Address: p.Address, First: p.First, Last: p.Last}
		for _, name := range p.Protocols {
			if pr, ok := engine.ParseProtocol(name); ok {
				e.Protocols = append(e.Protocols, pr)
			}
		}
		c.Pool4 = append(c.Pool4, e)
	}
	for _, s := range n.StaticBIB {
		pr, _ := engine.ParseProtocol(s.Protocol)
		c.StaticBIB = append(c.StaticBIB, engine.StaticBinding{Protocol: pr, IPv4: s.IPv4, IPv6: s.IPv6})
	}
	return c
}
