// Package splice46 connects the proxy46 splicing engine to the switches:
// it sends the TCP traffic of every VIP, and the backends' answers to pool6
// addresses, to the controller, feeds those packets to the engine, and sends
// what the engine produces out of the port of the destination host. The
// rest of the IPv4 traffic to a VIP goes to the controller too, for the
// engine answers it the way a host would: echo replies to pings, a reset
// for a closed TCP port, port unreachable for UDP.
//
// In controller mode (the default) every spliced segment is a packet-in
// and a packet-out, which suits demos and light load. In port mode the
// flows steer the same traffic to switch ports cabled to Linux interfaces
// of this machine, and workers run the engine on those interfaces
// directly (port.go); only the VIP answers stay on the controller path.
package splice46

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/controller"
	"github.com/sixgate/sixgate/controller/ofp"
	"github.com/sixgate/sixgate/packet"
	"github.com/sixgate/sixgate/proxy46"
	"github.com/sixgate/sixgate/topo"
)

// CookieID is the top byte of the cookies of this app's flows.
const CookieID = 0x03

// Flow priorities: above the neighbor app's forwarding, so VIP and pool6
// traffic is steered here whatever MAC it was sent to.
const (
	prioService = 2100 // TCP to a service, TCP and Packet Too Big to pool6
	prioVIP     = 2000 // anything else to a VIP
)

// packetOutWait bounds the wait for room in a switch's send queue.
const packetOutWait = 10 * time.Millisecond

// expireEvery is the engine's timer tick.
const expireEvery = 200 * time.Millisecond

// state is one configuration with the engine built from it; a reload swaps
// it whole.
type state struct {
	topo   *topo.Topology
	engine *proxy46.Engine
	// links is the state of the fabric's ports as PORT_STATUS reported
	// them, and fwd the paths over the links that are up, which port
	// mode follows to the engine's switch. links is guarded by App.swap.
	links *topo.LinkState
	fwd   *topo.Forwarding
}

// withTopo returns the state for topology t with engine e, every link up.
func withTopo(t *topo.Topology, e *proxy46.Engine) *state {
	return &state{topo: t, engine: e, links: t.NewLinkState(), fwd: t.Forwarding(nil)}
}

// App is the splice46 app.
type App struct {
	log   *logrus.Entry
	state atomic.Pointer[state]
	// swap serializes the changes of state (reloads, link changes).
	swap sync.Mutex
	ctl  *controller.Controller

	batches sync.Pool
	stats   counters
	// ports is the port data path, set by Start in port mode.
	ports atomic.Pointer[portIO]
}

// counters are the app's own, beside the engine's.
type counters struct {
	packetIns    atomic.Uint64
	packetOuts   atomic.Uint64
	noRoute      atomic.Uint64
	notIP        atomic.Uint64
	sendFailures atomic.Uint64
}

var (
	_ controller.FlowApp           = (*App)(nil)
	_ controller.PacketInHandler   = (*App)(nil)
	_ controller.PortStatusHandler = (*App)(nil)
	_ controller.SwitchHandler     = (*App)(nil)
	_ controller.Starter           = (*App)(nil)
)

// New builds the app for a topology with a splice46 section.
func New(t *topo.Topology, log *logrus.Entry) (*App, error) {
	a := &App{log: log.WithField("app", "splice46")}
	a.batches.New = func() any { return packet.NewBatch(8, 2048) }
	st, err := newState(t)
	if err != nil {
		return nil, err
	}
	a.state.Store(st)
	return a, nil
}

func newState(t *topo.Topology) (*state, error) {
	if t.Splice46 == nil {
		return nil, fmt.Errorf("splice46: no splice46 section in %s", t.File)
	}
	cfg, err := engineConfig(t.Splice46)
	if err != nil {
		return nil, err
	}
	e, err := proxy46.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("splice46: %w", err)
	}
	return withTopo(t, e), nil
}

// engineConfig maps the file's section onto the engine's configuration.
func engineConfig(s *topo.Splice46) (proxy46.Config, error) {
	l, t := s.Limits, s.Timeouts
	cfg := proxy46.Config{
		Pool6: s.Pool6, MTU6: s.MTU6,
		MaxConnections: l.MaxConnections, MaxEmbryonic: l.MaxEmbryonic, SynCookieThreshold: l.SynCookieThreshold,
		MaxHeldBytes: l.MaxHeldBytes, MaxHeldBytesTotal: l.MaxHeldBytesTotal, ChallengeACKLimit: l.ChallengeACKLimit,
		ICMPErrorLimit: l.ICMPErrorLimit,
		Timeouts: proxy46.Timeouts{Embryonic: t.Embryonic, SYNRetransmit: t.SYNRetransmit, Backend: t.Backend,
			Idle: t.Idle, Linger: t.Linger},
	}
	if _, err := rand.Read(cfg.ISNKey[:]); err != nil {
		return cfg, fmt.Errorf("splice46: ISN key: %w", err)
	}
	for _, svc := range s.Services {
		p, err := proxy46.ParsePolicy(string(svc.Select))
		if err != nil {
			return cfg, err
		}
		ps := proxy46.Service{VIP: svc.VIP, Port: svc.Port, Policy: p, Default: svc.Default}
		for _, b := range svc.Backends {
			if b.Default {
				ps.Default = b.Address
			}
			ps.Backends = append(ps.Backends, proxy46.Backend{Addr: b.Address, Match: b.Match})
		}
		cfg.Services = append(cfg.Services, ps)
	}
	return cfg, nil
}

func (a *App) Name() string    { return "splice46" }
func (a *App) CookieID() uint8 { return CookieID }

// Engine returns the running engine, for status and metrics.
func (a *App) Engine() *proxy46.Engine { return a.state.Load().engine }

// Start runs the engine's timers until ctx is done and, in port mode,
// opens the engine ports and starts their workers.
func (a *App) Start(ctx context.Context, c *controller.Controller) error {
	a.ctl = c
	if a.state.Load().topo.Splice46.Mode == topo.DataPathPort {
		return a.startPorts(ctx)
	}
	go func() {
		t := time.NewTicker(expireEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				st := a.state.Load()
				b := a.batches.Get().(*packet.Batch)
				st.engine.Expire(b)
				a.send(st, b)
				b.Reset()
				a.batches.Put(b)
			}
		}
	}()
	return nil
}

// Reload takes a new configuration. An unchanged splice46 section keeps
// the engine and its connections; a changed one starts a new engine, and
// the connections of the old one are forgotten (their clients see resets
// from the backends or time out).
//
// The new configuration starts with every link up; the connected switches'
// ports are then read again, as on connect.
func (a *App) Reload(t *topo.Topology) error {
	if err := a.reload(t); err != nil {
		return err
	}
	if a.ctl != nil {
		for _, sw := range a.ctl.Switches() {
			a.applyPorts(sw.DPID(), sw.Port)
		}
	}
	return nil
}

func (a *App) reload(t *topo.Topology) error {
	a.swap.Lock()
	defer a.swap.Unlock()
	old := a.state.Load()
	if err := sameDataPath(old.topo.Splice46, t.Splice46); err != nil {
		return err
	}
	if sameSection(old.topo.Splice46, t.Splice46) {
		a.state.Store(withTopo(t, old.engine))
		return nil
	}
	st, err := newState(t)
	if err != nil {
		return err
	}
	a.state.Store(st)
	a.log.WithField("connections_dropped", old.engine.Len()).Warn("splice46 section changed: new engine")
	return nil
}

func sameSection(x, y *topo.Splice46) bool {
	if x == nil || y == nil {
		return x == y
	}
	return fmt.Sprintf("%v|%v|%v|%+v|%+v|%v", x.MAC, x.Pool6, x.MTU6, x.Limits, x.Timeouts, services(x)) ==
		fmt.Sprintf("%v|%v|%v|%+v|%+v|%v", y.MAC, y.Pool6, y.MTU6, y.Limits, y.Timeouts, services(y))
}

func services(s *topo.Splice46) string {
	out := ""
	for _, svc := range s.Services {
		out += fmt.Sprintf("%v:%d/%s/%v[", svc.VIP, svc.Port, svc.Select, svc.Default)
		for _, b := range svc.Backends {
			out += fmt.Sprintf("%v%v%v,", b.Address, b.Match, b.Default)
		}
		out += "]"
	}
	return out
}

// PacketIn hands one IPv4 or IPv6 packet to the engine, which also
// answers for the VIPs as a host would, and sends what it produced.
func (a *App) PacketIn(sw *controller.Switch, pi *ofp.PacketIn) {
	a.stats.packetIns.Add(1)
	eth := packet.Ethernet(pi.Data)
	if !eth.IsValid() || (eth.Type() != packet.EtherTypeIPv4 && eth.Type() != packet.EtherTypeIPv6) {
		a.stats.notIP.Add(1)
		return
	}
	st := a.state.Load()
	b := a.batches.Get().(*packet.Batch)
	st.engine.Handle(eth.Payload(), b)
	a.send(st, b)
	b.Reset()
	a.batches.Put(b)
}

// PortStatus tells the engine when a backend's port goes down (link lost,
// port disabled or removed): connections opening towards it fail over and
// spliced ones are reset towards their clients, instead of hanging until
// the idle timeout.
func (a *App) PortStatus(sw *controller.Switch, ps *ofp.PortStatus) {
	down := ps.Reason == ofp.PortReasonDelete || !ps.Port.Up()
	if a.followLinks(sw.DPID(), ps.Port.PortNo, down) && a.ctl != nil {
		// Port mode's steering from other switches follows the paths.
		a.ctl.ResyncAll()
	}
	if !down {
		return
	}
	st := a.state.Load()
	h, ok := st.topo.HostAt(sw.DPID(), ps.Port.PortNo)
	if !ok {
		return
	}
	b := a.batches.Get().(*packet.Batch)
	n := 0
	for _, addr := range h.IPv6 {
		n += st.engine.BackendDown(addr, b)
	}
	a.send(st, b)
	b.Reset()
	a.batches.Put(b)
	if n > 0 {
		a.log.WithFields(logrus.Fields{"host": h.Name, "dpid": sw.String(), "port": ps.Port.PortNo, "connections": n}).
			Warn("backend port down: its connections failed over or were reset")
	}
}

// SwitchUp reads the state of a connecting switch's inter-switch ports,
// which may have changed while it was away, and resyncs if the paths
// changed.
func (a *App) SwitchUp(sw *controller.Switch) {
	if a.applyPorts(sw.DPID(), sw.Port) && a.ctl != nil {
		a.ctl.ResyncAll()
	}
}

// SwitchDown keeps the switch's last known port state.
func (a *App) SwitchDown(*controller.Switch) {}

// applyPorts records switch dpid's inter-switch ports as port reports
// them: a port it does not know counts as down. It says whether paths
// changed.
func (a *App) applyPorts(dpid uint64, port func(uint32) (ofp.Port, bool)) bool {
	changed := false
	for _, no := range a.state.Load().topo.InterSwitchPorts(dpid) {
		p, ok := port(no)
		if a.followLinks(dpid, no, !ok || !p.Up()) {
			changed = true
		}
	}
	return changed
}

// followLinks records a port's state and, when that changes the paths,
// stores a state with the new ones; it reports whether it did.
func (a *App) followLinks(dpid uint64, port uint32, down bool) bool {
	a.swap.Lock()
	defer a.swap.Unlock()
	st := a.state.Load()
	var changed bool
	if down {
		changed = st.links.SetPortDown(dpid, port)
	} else {
		changed = st.links.SetPortUp(dpid, port)
	}
	if !changed {
		return false
	}
	next := *st
	next.fwd = st.links.Forwarding()
	a.state.Store(&next)
	return true
}

// send puts each packet of b in an Ethernet frame for the host that owns
// its destination and sends it out of that host's port.
func (a *App) send(st *state, b *packet.Batch) {
	for _, p := range b.Packets {
		a.output(st, p.Family == packet.IPv6Family, p.Dst, p.Data)
	}
}

func (a *App) output(st *state, v6 bool, dst netip.Addr, ip []byte) {
	h, ok := st.topo.HostByAddr(dst)
	if !ok || a.ctl == nil {
		a.stats.noRoute.Add(1)
		return
	}
	sw, ok := a.ctl.Switch(h.DPID)
	if !ok {
		a.stats.noRoute.Add(1)
		return
	}
	frame := make([]byte, 14+len(ip))
	copy(frame, h.MAC)
	copy(frame[6:], st.topo.Splice46.MAC)
	et := uint16(0x0800)
	if v6 {
		et = 0x86dd
	}
	binary.BigEndian.PutUint16(frame[12:], et)
	copy(frame[14:], ip)
	// A switch whose queue is full drops the packet at once rather than
	// stall this switch's events: TCP resends it.
	ctx, cancel := context.WithTimeout(context.Background(), packetOutWait)
	defer cancel()
	if err := sw.PacketOut(ctx, h.Port, frame); err != nil {
		a.stats.sendFailures.Add(1)
		return
	}
	a.stats.packetOuts.Add(1)
}
