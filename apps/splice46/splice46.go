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
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

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
	prioFTP     = 2050 // TCP to a VIP of an FTP service (its data connections)
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
	// orphans are the VIPs and ports of removed services whose
	// connections still drain, as last steered; guarded by swap.
	orphans []netip.AddrPort
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
	}, dataPathState(t, e, nil))
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
	go a.watchDrains(ctx, c, time.Second)
	return nil
}

// watchDrains looks at the engine's drains every period until ctx ends:
// it logs the connections reset as their drain timeout passed, and takes
// a removed service's steering flows away once its last connection has
// left.
func (a *App) watchDrains(ctx context.Context, c *controller.Controller, period time.Duration) {
	tick := time.NewTicker(period)
	defer tick.Stop()
	_, logged := a.Engine().Drains()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		e := a.Engine()
		draining, drained := e.Drains()
		if drained > logged {
			a.log.WithFields(logrus.Fields{"connections": drained - logged, "still_draining": draining}).
				Warn("splice46: drain timeout passed: connections reset towards both ends")
			logged = drained
		}
		if a.refreshOrphans() {
			c.ResyncAll()
		}
	}
}

// refreshOrphans steers no longer what the drains of removed services
// have left, and reports whether the flows changed.
func (a *App) refreshOrphans() bool {
	a.swap.Lock()
	defer a.swap.Unlock()
	if len(a.orphans) == 0 {
		return false
	}
	e := a.Engine()
	now := e.Orphans()
	if slices.Equal(now, a.orphans) {
		return false
	}
	a.orphans = now
	if err := a.Update(dataPathState(a.topo.Load(), e, now)); err != nil {
		a.log.WithError(err).Error("splice46: data path kept its previous state")
	}
	return true
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

// dataPathState is what the data path needs of topology t with engine e,
// whose connections still drain at orphans, the VIPs and ports of
// services t no longer has.
func dataPathState(t *topo.Topology, e *proxy46.Engine, orphans []netip.AddrPort) datapath.State {
	return datapath.State{Topology: t, Engine: e, MAC: t.Splice46.MAC, Steer: steering(t.Splice46, orphans),
		Guard: guarded(t.Splice46, orphans)}
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
			Idle: t.Idle, Transitory: t.Transitory, Closed: t.Closed, Drain: t.Drain},
		FTP: proxy46.FTP{PassiveFirst: s.FTP.PassiveFirst, PassiveLast: s.FTP.PassiveLast,
			ExpectTimeout: s.FTP.ExpectTimeout, MaxExpectations: s.FTP.Expectations, MaxControl: s.FTP.Connections},
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
	if svc.ALG == topo.ALGFTP {
		ps.ALG = proxy46.ALGFTP
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

// CheckReload says, as topology errors naming the key, what of t a
// reload cannot apply: the data path's mode and engine ports (its sockets
// and workers are set up once) and pool6 (the backends know the open
// connections by their pool6 addresses, and the neighbor answers and
// steering flows of the old prefix would have to outlive a drain; see
// docs/operations.md, "Reload"). A restart applies them. The daemon runs
// it before any app takes t, so that a refused reload changes nothing.
func (a *App) CheckReload(t *topo.Topology) error {
	cur := a.topo.Load().Splice46
	s := t.Splice46
	if s == nil {
		return &topo.Error{File: t.File, Field: "splice46", Msg: "the section was removed: restart sixgate to apply it"}
	}
	var errs topo.Errors
	restart := func(key, format string, args ...any) {
		errs = append(errs, &topo.Error{File: t.File, Line: t.KeyLine(key), Field: key,
			Msg: fmt.Sprintf(format, args...) + ": restart sixgate to apply it"})
	}
	if err := a.CheckLayout(t, "splice46", s.Mode, s.Ports); err != nil {
		errs = append(errs, err)
	}
	if cur.Pool6 != s.Pool6 {
		restart("splice46.pool6", "changed from %v to %v (backends know the open connections by their pool6 addresses)", cur.Pool6, s.Pool6)
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// Reload takes a new configuration into the running engine, which keeps
// its connections whatever changed (proxy46.Engine.Reconfigure): new
// connections follow the new services, limits and timeouts at once; open
// ones whose service and backend remain go on untouched; those whose
// service or backend is gone drain until they close or the drain timeout
// passes, then are reset towards both ends. What CheckReload refuses
// needs a restart.
func (a *App) Reload(t *topo.Topology) error {
	a.swap.Lock()
	defer a.swap.Unlock()
	if err := a.CheckReload(t); err != nil {
		return err
	}
	rs, err := a.dns.build(t.Splice46)
	if err != nil {
		return &topo.Error{File: t.File, Line: t.Splice46.Line, Field: "splice46", Msg: err.Error()}
	}
	cfg, err := engineConfig(t.Splice46, rs)
	if err != nil {
		a.dns.abandon(rs)
		return &topo.Error{File: t.File, Line: t.Splice46.Line, Field: "splice46", Msg: err.Error()}
	}
	e := a.Engine()
	b := packet.NewBatch(0, 0)
	r, err := e.Reconfigure(cfg, b)
	if err != nil {
		a.dns.abandon(rs)
		return &topo.Error{File: t.File, Line: t.Splice46.Line, Field: "splice46", Msg: err.Error()}
	}
	a.dns.commit(rs)
	a.topo.Store(t)
	orphans := e.Orphans()
	a.orphans = orphans
	if err := a.Update(dataPathState(t, e, orphans)); err != nil {
		// The state's parts were checked when t was; this does not
		// happen.
		a.log.WithError(err).Error("splice46: data path kept its previous state")
	}
	a.Send(b)
	fields := logrus.Fields{"services": len(t.Splice46.Services), "connections_kept": r.Kept}
	if r.Draining > 0 || r.Undrained > 0 || r.Redirected > 0 {
		fields["connections_draining"] = r.Draining
		fields["drain_timeout"] = cfg.Timeouts.Drain
		fields["drains_stopped"] = r.Undrained
		fields["connections_redirected"] = r.Redirected
	}
	a.log.WithFields(fields).Info("splice46 reconfigured")
	return nil
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
