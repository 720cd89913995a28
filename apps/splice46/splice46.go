// Package splice46 connects the proxy46 splicing engine to the switches:
// it steers the TCP traffic of every VIP, and the backends' answers to
// pool6 addresses, to the engine, and sends what the engine produces to
// the host that owns each destination. The
// rest of the IPv4 traffic to a VIP goes to the controller too, for the
// engine answers it the way a host would: echo replies to pings, a reset
// for a closed TCP port, port unreachable for UDP.
//
// Both data paths are the shared one's (package datapath): in controller
// mode (the default) every spliced segment is a packet-in and a
// packet-out, which suits demos and light load; in port mode the flows
// steer the same traffic to switch ports cabled to Linux interfaces of
// this machine, whose workers run the engine directly. The VIP answers
// stay on the controller path in both.
package splice46

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/controller"
	"github.com/sixgate/sixgate/controller/ofp"
	"github.com/sixgate/sixgate/datapath"
	"github.com/sixgate/sixgate/packet"
	"github.com/sixgate/sixgate/proxy46"
	"github.com/sixgate/sixgate/topo"
)

// CookieID is the top byte of the cookies of this app's flows.
const CookieID = 0x03

// Flow priorities: above the neighbor app's forwarding, so VIP and pool6
// traffic is steered here whatever MAC it was sent to. prioGuard sits
// above the steering flows on the engine's switch in port mode (see
// datapath.Config.GuardPriority).
const (
	prioGuard   = 2200
	prioService = 2100 // TCP to a service, TCP and Packet Too Big to pool6
	prioVIP     = 2000 // anything else to a VIP
)

// App is the splice46 app: the proxy46 engine on a shared data path,
// which gives it controller mode and port mode, the steering flows, the
// framing and the timer. The app adds what is particular to the splice:
// the engine's configuration, reloads, and resetting connections whose
// backend's port goes down.
type App struct {
	*datapath.Path
	log *logrus.Entry
	// topo is the configuration in force, swapped by reloads under swap.
	topo atomic.Pointer[topo.Topology]
	swap sync.Mutex
	// dns holds the resolvers of the services with backends from DNS.
	dns *dnsResolvers
}

var (
	_ controller.FlowApp           = (*App)(nil)
	_ controller.GroupApp          = (*App)(nil)
	_ controller.PacketInHandler   = (*App)(nil)
	_ controller.PortStatusHandler = (*App)(nil)
	_ controller.SwitchHandler     = (*App)(nil)
	_ controller.Starter           = (*App)(nil)
)

// New builds the app for a topology with a splice46 section.
func New(t *topo.Topology, log *logrus.Entry) (*App, error) {
	log = log.WithField("app", "splice46")
	if t.Splice46 == nil {
		return nil, fmt.Errorf("splice46: no splice46 section in %s", t.File)
	}
	var n resolvedNotifier
	set := newDNSResolvers(n.notify)
	rs, err := set.build(t.Splice46)
	if err != nil {
		return nil, &topo.Error{File: t.File, Line: t.Splice46.Line, Field: "splice46", Msg: err.Error()}
	}
	e, err := newEngineWith(t, rs)
	if err != nil {
		set.abandon(rs)
		return nil, err
	}
	s := t.Splice46
	p, err := datapath.New(datapath.Config{
		Name: "splice46", CookieID: CookieID, Log: log, Mode: s.Mode, Ports: s.Ports,
		GuardPriority: prioGuard, GuardCookie: cookieGuard, GroupID: engineGroupLow,
		ClientPool6: s.Pool6,
	}, dataPathState(t, e))
	if err != nil {
		set.abandon(rs)
		return nil, fmt.Errorf("splice46: %w", err)
	}
	set.commit(rs)
	a := &App{Path: p, log: log, dns: set}
	a.topo.Store(t)
	n.app.Store(a)
	return a, nil
}

// Start starts the data path and stops the DNS resolvers when ctx ends.
func (a *App) Start(ctx context.Context, c *controller.Controller) error {
	if err := a.Path.Start(ctx, c); err != nil {
		return err
	}
	go func() {
		<-ctx.Done()
		a.dns.closeAll()
	}()
	return nil
}

// newEngine builds the engine of t's splice46 section, which has no
// service with backends from DNS.
func newEngine(t *topo.Topology) (*proxy46.Engine, error) { return newEngineWith(t, nil) }

// newEngineWith builds the engine of t's splice46 section, with the
// resolvers built for it.
func newEngineWith(t *topo.Topology, rs map[string]*dnsResolver) (*proxy46.Engine, error) {
	cfg, err := engineConfig(t.Splice46, rs)
	if err == nil {
		var e *proxy46.Engine
		if e, err = proxy46.New(cfg); err == nil {
			return e, nil
		}
	}
	// topo checks what the engine checks; should they ever differ, the
	// engine's refusal still names the file and the section.
	return nil, &topo.Error{File: t.File, Line: t.Splice46.Line, Field: "splice46", Msg: err.Error()}
}

// dataPathState is what the data path needs of topology t with engine e.
func dataPathState(t *topo.Topology, e *proxy46.Engine) datapath.State {
	return datapath.State{Topology: t, Engine: e, MAC: t.Splice46.MAC, Steer: steering(t.Splice46), Guard: guarded(t.Splice46)}
}

// engineConfig maps the file's section onto the engine's configuration.
func engineConfig(s *topo.Splice46, rs map[string]*dnsResolver) (proxy46.Config, error) {
	l, t := s.Limits, s.Timeouts
	cfg := proxy46.Config{
		Pool6: s.Pool6, MTU6: s.MTU6, WindowScale: s.WindowScale,
		MaxConnections: l.MaxConnections, MaxEmbryonic: l.MaxEmbryonic, SynCookieThreshold: l.SynCookieThreshold,
		MaxHeldBytes: l.MaxHeldBytes, MaxHeldBytesTotal: l.MaxHeldBytesGlobal, ChallengeACKLimit: l.ChallengeACKLimit,
		ICMPErrorLimit: l.ICMPErrorLimit,
		Timeouts: proxy46.Timeouts{Embryonic: t.Embryonic, SYNRetransmit: t.SYNRetransmit, Backend: t.Backend,
			Idle: t.Idle, Transitory: t.Transitory, Closed: t.Closed},
	}
	if _, err := rand.Read(cfg.ISNKey[:]); err != nil {
		return cfg, fmt.Errorf("splice46: ISN key: %w", err)
	}
	for _, svc := range s.Services {
		p, err := proxy46.ParsePolicy(string(svc.Select))
		if err != nil {
			return cfg, err
		}
		cfg.Services = append(cfg.Services, engineService(svc, p, rs))
	}
	return cfg, nil
}

// engineService maps one service onto the engine's.
func engineService(svc *topo.Service, p proxy46.Policy, rs map[string]*dnsResolver) proxy46.Service {
	ps := proxy46.Service{VIP: svc.VIP, Port: svc.Port, Policy: p, Default: svc.Default,
		Backends: make([]proxy46.Backend, 0, len(svc.Backends))}
	for _, b := range svc.Backends {
		if b.Default {
			ps.Default = b.Address
		}
		ps.Backends = append(ps.Backends, proxy46.Backend{Addr: b.Address, Match: b.Match})
	}
	if len(svc.Names) > 0 {
		ps.Names = make([]proxy46.NameRoute, len(svc.Names))
		for i, r := range svc.Names {
			ps.Names[i] = proxy46.NameRoute{Name: r.Name, Backends: r.Backends}
		}
	}
	if d := svc.DNS; d != nil {
		ps.DNS = &proxy46.DNSBackends{Resolver: resolverFor(rs, svc), Prefixes: d.Prefixes, Port: d.Port, MaxBackends: d.MaxBackends}
	}
	return ps
}

func (a *App) Name() string    { return "splice46" }
func (a *App) CookieID() uint8 { return CookieID }

// Engine returns the running engine, for status and metrics.
func (a *App) Engine() *proxy46.Engine { return a.Path.Engine().(*proxy46.Engine) }

// Reload takes a new configuration. An unchanged splice46 section keeps
// the engine and its connections, and so does one whose services alone
// changed (names, backends, services added or removed): the engine takes
// the new services and its open connections go on. Any other change (MAC,
// pool6, MTU, limits, timeouts) starts a new engine, and the connections
// of the old one are forgotten (their clients see resets from the
// backends or time out). A change of mode or engine ports needs a restart.
func (a *App) Reload(t *topo.Topology) error {
	a.swap.Lock()
	defer a.swap.Unlock()
	if t.Splice46 == nil {
		return fmt.Errorf("splice46: no splice46 section in %s", t.File)
	}
	if err := a.SameLayout(t.Splice46.Mode, t.Splice46.Ports); err != nil {
		return err
	}
	old := a.Engine()
	e := old
	cur := a.topo.Load().Splice46
	servicesOnly := false
	rs, err := a.dns.build(t.Splice46)
	if err != nil {
		return &topo.Error{File: t.File, Line: t.Splice46.Line, Field: "splice46", Msg: err.Error()}
	}
	switch {
	case sameSection(cur, t.Splice46):
	case sameEngineSettings(cur, t.Splice46):
		cfg, err := engineConfig(t.Splice46, rs)
		if err == nil {
			err = old.SetServices(cfg.Services)
		}
		if err != nil {
			a.dns.abandon(rs)
			return &topo.Error{File: t.File, Line: t.Splice46.Line, Field: "splice46", Msg: err.Error()}
		}
		servicesOnly = true
	default:
		var err error
		if e, err = newEngineWith(t, rs); err != nil {
			a.dns.abandon(rs)
			return err
		}
	}
	if err := a.Update(dataPathState(t, e)); err != nil {
		a.dns.abandon(rs)
		return err
	}
	a.dns.commit(rs)
	a.topo.Store(t)
	switch {
	case e != old:
		a.log.WithField("connections_dropped", old.Len()).Warn("splice46 section changed: new engine")
	case servicesOnly:
		a.log.WithFields(logrus.Fields{"services": len(t.Splice46.Services), "connections_kept": e.Len()}).Info("splice46 services changed")
	}
	return nil
}

// sameEngineSettings compares what of the section the engine cannot take
// while it runs: everything but the services.
func sameEngineSettings(x, y *topo.Splice46) bool {
	return x.MAC.String() == y.MAC.String() && x.Pool6 == y.Pool6 && x.MTU6 == y.MTU6 &&
		x.Limits == y.Limits && x.Timeouts == y.Timeouts && sameScale(x.WindowScale, y.WindowScale)
}

// sameScale compares window scales, nil (the engine's default) included.
func sameScale(x, y *uint8) bool {
	return x == y || x != nil && y != nil && *x == *y
}

func sameSection(x, y *topo.Splice46) bool {
	if x == nil || y == nil {
		return x == y
	}
	if !sameEngineSettings(x, y) || len(x.Services) != len(y.Services) {
		return false
	}
	for i := range x.Services {
		if !sameService(x.Services[i], y.Services[i]) {
			return false
		}
	}
	return true
}

// sameService compares what the engine takes of a service; lines do not
// count.
func sameService(x, y *topo.Service) bool {
	if (x.DNS == nil) != (y.DNS == nil) || x.DNS != nil && x.DNS.String() != y.DNS.String() {
		return false
	}
	if x.VIP != y.VIP || x.Port != y.Port || x.Select != y.Select || x.Default != y.Default ||
		len(x.Backends) != len(y.Backends) || len(x.Names) != len(y.Names) {
		return false
	}
	for i, a := range x.Backends {
		b := y.Backends[i]
		if a.Address != b.Address || a.Default != b.Default || !slices.Equal(a.Match, b.Match) {
			return false
		}
	}
	for i, a := range x.Names {
		b := y.Names[i]
		if a.Name != b.Name || !slices.Equal(a.Backends, b.Backends) {
			return false
		}
	}
	return true
}

// PortStatus follows link state (the data path's steering) and tells the
// engine when a backend's port goes down (link lost, port disabled or
// removed): connections opening towards it fail over and spliced ones are
// reset towards their clients, instead of hanging until the idle timeout.
func (a *App) PortStatus(sw *controller.Switch, ps *ofp.PortStatus) {
	a.Path.PortStatus(sw, ps)
	if ps.Reason != ofp.PortReasonDelete && ps.Port.Up() {
		return
	}
	h, ok := a.topo.Load().HostAt(sw.DPID(), ps.Port.PortNo)
	if !ok {
		return
	}
	b := packet.NewBatch(0, 0)
	e := a.Engine()
	n := 0
	for _, addr := range h.IPv6 {
		n += e.BackendDown(addr, b)
	}
	a.Send(b)
	if n > 0 {
		a.log.WithFields(logrus.Fields{"host": h.Name, "dpid": sw.String(), "port": ps.Port.PortNo, "connections": n}).
			Warn("backend port down: its connections failed over or were reset")
	}
}
