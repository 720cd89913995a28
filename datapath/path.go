package datapath

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/controller"
	"github.com/sixgate/sixgate/controller/ofp"
	"github.com/sixgate/sixgate/packet"
	"github.com/sixgate/sixgate/topo"
)

// DefaultTick is the engine's timer period when Config.Tick is zero.
const DefaultTick = 200 * time.Millisecond

// Config is what a Path is built with and keeps for its life: the mode
// and the engine ports are set up once (sockets, workers), so changing
// them takes a restart.
type Config struct {
	// Name names the path in logs (the owning app's name).
	Name string
	// CookieID is the owning app's cookie id; the select group over the
	// engine ports carries it, as the app's flows do.
	CookieID uint8
	Log      *logrus.Entry
	Mode     topo.DataPath
	// Ports are the engine ports, in port mode. The first one's switch
	// is the engine's switch; all must be on it.
	Ports []*topo.EnginePort
	// Tick is the engine's timer period (DefaultTick if zero).
	Tick time.Duration
	// GuardPriority and GuardCookie (low bits) are those of the flows
	// that drop State.Guard traffic coming back in from an engine port.
	// The engine never sends such a packet; the guard stops a loop that
	// a miscabled interface could start. GuardPriority must be above
	// every Steer's.
	GuardPriority uint16
	GuardCookie   uint64
	// GroupID is the low bits of the select group's id over several
	// engine ports.
	GroupID uint32
	// OpenPort opens an engine port's sockets; nil opens AF_PACKET
	// sockets on the Linux interface. Tests give an in-memory port.
	OpenPort func(*topo.EnginePort) (PortIO, error)
	// ClientPool6, when valid, is the prefix in which the engine embeds
	// its IPv4 clients' addresses (RFC 6052) on the IPv6 side. The
	// AF_PACKET workers of an engine port then share out connections by
	// client, sending both halves of each to one worker (the IPv4 half
	// by source address and port, the IPv6 half by the embedded address
	// and destination port); otherwise by the kernel's flow hash, which
	// splits them. It is set when the sockets open: a reload that
	// changes the prefix leaves the halves on different workers, which
	// costs batching, not correctness (the engine is one for all).
	ClientPool6 netip.Prefix
}

// Steer is a kind of traffic the engine must see, as a flow the path
// installs on every switch.
type Steer struct {
	// Table is the flow table the flow goes in: 0 for traffic steered
	// whatever its destination MAC, or the neighbor app's handoff table
	// for traffic sent to a MAC the app registered.
	Table    uint8
	Priority uint16
	// Cookie is the flow's cookie, low bits (the core sets the app's id).
	Cookie uint64
	Match  ofp.Match
	// Controller sends the traffic to the controller in every mode: the
	// slow path (pings to a VIP, closed ports), which the same engine
	// answers there.
	Controller bool
}

// State is what a reload may change: the topology (hosts, links), the
// engine, the MAC its frames come from, and what it must see.
type State struct {
	Topology *topo.Topology
	Engine   Engine
	// MAC is the source of the frames the path sends for the engine.
	MAC   net.HardwareAddr
	Steer []Steer
	// Guard are the destinations that must never come back in from an
	// engine port (a VIP, pool6): on the engine's switch in port mode,
	// such traffic is dropped instead of being steered out again.
	Guard []ofp.Match
	// Gateway4 and Gateway6 are the next hops of the engine's output to
	// an IPv4 or IPv6 address that no host owns; nil: such output is
	// counted as no route and dropped.
	Gateway4, Gateway6 *topo.Host
}

// Path is one engine's data path. Embed it in an app.
type Path struct {
	cfg  Config
	log  *logrus.Entry
	view atomic.Pointer[view]
	// swap serializes changes of view (reloads, link changes).
	swap sync.Mutex
	ctl  atomic.Pointer[controller.Controller]

	batches sync.Pool
	stats   Counters
	ports   atomic.Pointer[portIO]
	// ho stops the path for a hand-over (handover.go).
	ho handoverGate
	// leases finds the hosts of addresses the model does not name
	// (UseLeases); nil when none.
	leases atomic.Pointer[LeaseHolder]
}

// LeaseHolder names the host an address was leased to (the DHCPv4
// server, through the neighbor app): a host of the model whose address
// the topology file does not give.
type LeaseHolder interface {
	LeaseHolder(netip.Addr) (*topo.Host, bool)
}

// UseLeases makes the engine's output reach hosts at addresses leased to
// them, beside those the topology gives them.
func (p *Path) UseLeases(l LeaseHolder) { p.leases.Store(&l) }

// view is a State with the link state and the paths computed from it.
// A reload or a link change stores a new view; packets load one.
type view struct {
	State
	// links is the state of the fabric's ports as PORT_STATUS reported
	// them, and fwd the paths over the links that are up, which port mode
	// follows to the engine's switch. links is guarded by Path.swap.
	links *topo.LinkState
	fwd   *topo.Forwarding
}

// New returns a path for cfg starting with st.
func New(cfg Config, st State) (*Path, error) {
	if cfg.Log == nil {
		return nil, errors.New("datapath: no logger")
	}
	if cfg.Tick <= 0 {
		cfg.Tick = DefaultTick
	}
	if cfg.Mode == "" {
		cfg.Mode = topo.DataPathController
	}
	if cfg.Mode == topo.DataPathPort {
		if len(cfg.Ports) == 0 {
			return nil, fmt.Errorf("datapath %s: port mode without engine ports", cfg.Name)
		}
		for _, p := range cfg.Ports[1:] {
			if p.DPID != cfg.Ports[0].DPID {
				return nil, fmt.Errorf("datapath %s: engine ports on switches %#x and %#x: all must be on one", cfg.Name, cfg.Ports[0].DPID, p.DPID)
			}
		}
	}
	if err := st.check(); err != nil {
		return nil, fmt.Errorf("datapath %s: %w", cfg.Name, err)
	}
	p := &Path{cfg: cfg, log: cfg.Log.WithField("datapath", cfg.Name)}
	p.batches.New = func() any { return packet.NewBatch(8, packet.DefaultBufSize) }
	p.view.Store(newView(st))
	return p, nil
}

func (st *State) check() error {
	switch {
	case st.Topology == nil:
		return errors.New("no topology")
	case st.Engine == nil:
		return errors.New("no engine")
	case len(st.MAC) != 6:
		return fmt.Errorf("MAC %v is not an Ethernet address", st.MAC)
	}
	return nil
}

// newView is st with every link up.
func newView(st State) *view {
	return &view{State: st, links: st.Topology.NewLinkState(), fwd: st.Topology.Forwarding(nil)}
}

// Engine returns the engine packets go to now.
func (p *Path) Engine() Engine { return p.view.Load().Engine }

// Mode returns the path's mode.
func (p *Path) Mode() topo.DataPath { return p.cfg.Mode }

// SameLayout reports, as an error, a change of mode or engine ports that
// a reload cannot apply: the sockets and workers are set up once.
func (p *Path) SameLayout(mode topo.DataPath, ports []*topo.EnginePort) error {
	key := func(mode topo.DataPath, ports []*topo.EnginePort) []string {
		if mode == "" {
			mode = topo.DataPathController
		}
		out := []string{string(mode)}
		for _, p := range ports {
			out = append(out, fmt.Sprintf("%s@%#x:%d/%v/%v", p.Interface, p.DPID, p.Port, p.Ring, p.Offload))
		}
		return out
	}
	if !slices.Equal(key(p.cfg.Mode, p.cfg.Ports), key(mode, ports)) {
		return fmt.Errorf("%s: mode or engine ports changed: restart sixgate to apply it", p.cfg.Name)
	}
	return nil
}

// CheckLayout refuses, naming the key and its line in t, a mode or
// engine ports other than the ones the path was built with: they take a
// restart. section is the configuration section that owns the path.
func (p *Path) CheckLayout(t *topo.Topology, section string, mode topo.DataPath, ports []*topo.EnginePort) *topo.Error {
	restart := func(key, from, to string) *topo.Error {
		return &topo.Error{File: t.File, Line: t.KeyLine(key), Field: key,
			Msg: fmt.Sprintf("changed from %s to %s: restart sixgate to apply it", from, to)}
	}
	if cur, next := modeOf(p.cfg.Mode), modeOf(mode); cur != next {
		return restart(section+".mode", string(cur), string(next))
	}
	if p.SameLayout(mode, ports) != nil {
		return restart(section+".ports", portList(p.cfg.Ports), portList(ports))
	}
	return nil
}

func modeOf(m topo.DataPath) topo.DataPath {
	if m == "" {
		return topo.DataPathController
	}
	return m
}

func portList(ps []*topo.EnginePort) string {
	if len(ps) == 0 {
		return "none"
	}
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
		if p.Ring {
			out[i] += " ring"
		}
		if p.Offload {
			out[i] += " offload"
		}
	}
	return strings.Join(out, ", ")
}

// Update takes a new state, from a reload. The new topology starts with
// every link up; the connected switches' ports are then read again, as
// on connect, and the switches resynced if that changed the paths.
func (p *Path) Update(st State) error {
	if err := st.check(); err != nil {
		return fmt.Errorf("datapath %s: %w", p.cfg.Name, err)
	}
	p.swap.Lock()
	p.view.Store(newView(st))
	p.swap.Unlock()
	if ctl := p.ctl.Load(); ctl != nil {
		for _, sw := range ctl.Switches() {
			p.applyPorts(sw.DPID(), sw.Port)
		}
	}
	return nil
}

// Counters are the path's own counters, beside the engine's.
type Counters struct {
	PacketIns    atomic.Uint64 // packet-ins handed to the engine
	PacketOuts   atomic.Uint64 // packets sent as packet-outs
	NoRoute      atomic.Uint64 // engine output to an address no host owns
	NotIP        atomic.Uint64 // packet-ins that are neither IPv4 nor IPv6
	SendFailures atomic.Uint64 // packet-outs refused by a full switch queue
}

// Counters returns the path's counters.
func (p *Path) Counters() *Counters { return &p.stats }

// header writes the Ethernet header of a frame carrying o to the host
// that owns its destination (in the model, or by a lease when leases is
// not nil), or to the gateway of its family when no host does, and
// returns that host.
func (v *view) header(o *packet.Out, head []byte, leases *LeaseHolder) (*topo.Host, bool) {
	et := uint16(packet.EtherTypeIPv4)
	gw := v.Gateway4
	if o.Family == packet.IPv6Family {
		et, gw = packet.EtherTypeIPv6, v.Gateway6
	}
	h, ok := v.Topology.HostByAddr(o.Dst)
	if !ok && leases != nil {
		h, ok = (*leases).LeaseHolder(o.Dst)
	}
	if !ok {
		if gw == nil {
			return nil, false
		}
		h = gw
	}
	packet.Ethernet(head).Encode(h.MAC, v.MAC, et)
	return h, true
}
