// Package learning is an Ethernet learning switch, the reference app that
// OpenFlow controllers are benchmarked with. It does what os-ken's (Ryu's)
// simple_switch_13 does, so that the two controllers can be measured doing
// the same work:
//
//   - a table-miss flow sends every unmatched packet to the controller;
//   - a packet-in teaches the source MAC's port on that switch;
//   - when the destination MAC is known, a flow (in_port, eth_src,
//     eth_dst -> output) is added and the packet is sent there;
//   - otherwise the packet is flooded.
//
// It is not part of sixgate's normal configuration: the binary runs it
// alone with `sixgate -app learning`, for the controller benchmark.
package learning

import (
	"context"
	"net"
	"sync"

	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/controller"
	"github.com/sixgate/sixgate/controller/ofp"
)

// CookieID is the top byte of the cookies of this app's flows.
const CookieID = 0x04

// DefaultMaxMACs bounds the MACs learned per switch, so that a flood of
// random source addresses cannot grow the controller without limit.
const DefaultMaxMACs = 1 << 16

// Priorities as simple_switch_13 uses them.
const (
	missPriority    = 0
	learnedPriority = 1
)

type mac [6]byte

// table is what one switch session taught: source MAC -> port. Only that
// session's event goroutine writes it; the lock is for Known, which tests
// and status pages call from elsewhere.
type table struct {
	mu    sync.Mutex
	ports map[mac]uint32
}

// App is the learning switch.
type App struct {
	log     *logrus.Entry
	maxMACs int

	mu     sync.Mutex
	tables map[*controller.Switch]*table
}

var (
	_ controller.FlowApp         = (*App)(nil)
	_ controller.SwitchHandler   = (*App)(nil)
	_ controller.PacketInHandler = (*App)(nil)
)

// New returns the app, learning at most DefaultMaxMACs per switch.
func New(log *logrus.Entry) *App {
	return &App{log: log.WithField("app", "learning"), maxMACs: DefaultMaxMACs, tables: map[*controller.Switch]*table{}}
}

// SetMaxMACs changes how many MACs are learned per switch; past it, new
// sources are forwarded but not learned.
func (a *App) SetMaxMACs(n int) { a.maxMACs = n }

func (a *App) Name() string    { return "learning" }
func (a *App) CookieID() uint8 { return CookieID }

func (a *App) table(sw *controller.Switch) *table {
	a.mu.Lock()
	defer a.mu.Unlock()
	t := a.tables[sw]
	if t == nil {
		t = &table{ports: map[mac]uint32{}}
		a.tables[sw] = t
	}
	return t
}

// Flows declares the table-miss flow only. Learned flows are added as
// packet-ins ask for them and are not declared: a resync (a reload) removes
// them and the next packet-ins add them back, as after a restart of
// simple_switch_13.
func (a *App) Flows(*controller.Switch) []controller.Flow {
	return []controller.Flow{{
		Priority:     missPriority,
		Instructions: []ofp.Instruction{ofp.ApplyActions(ofp.Output(ofp.PortController))},
	}}
}

// SwitchUp needs nothing: a session's table is made by its first packet-in.
func (a *App) SwitchUp(*controller.Switch) {}

// SwitchDown forgets what the session learned. Tables are per session, not
// per datapath id, so a switch that reconnects starts afresh and the old
// session's end cannot erase the new one's table.
func (a *App) SwitchDown(sw *controller.Switch) {
	a.mu.Lock()
	delete(a.tables, sw)
	a.mu.Unlock()
}

// PacketIn learns the source and forwards the packet.
func (a *App) PacketIn(sw *controller.Switch, pi *ofp.PacketIn) {
	msgs, ok := a.Handle(sw, pi)
	if !ok {
		return
	}
	// No deadline of our own: Send gives up when the session ends, and the
	// session's write timeout ends it if the switch stops reading. A timer
	// per packet-in would cost more than the rest of the answer.
	if err := sw.Send(context.Background(), msgs...); err != nil {
		a.log.WithError(err).Debug("packet-in answer not sent")
	}
}

// Handle is the switch logic without the sending: it returns the messages
// answering a packet-in from switch sw (a flow-mod when the destination
// is known, then a packet-out), or false for a packet it ignores (too short
// for Ethernet, no in_port, or LLDP).
func (a *App) Handle(sw *controller.Switch, pi *ofp.PacketIn) ([]ofp.Message, bool) {
	inPort, ok := pi.InPort()
	if !ok || len(pi.Data) < 14 {
		return nil, false
	}
	var dst, src mac
	copy(dst[:], pi.Data[0:6])
	copy(src[:], pi.Data[6:12])
	if pi.Data[12] == 0x88 && pi.Data[13] == 0xcc {
		return nil, false // LLDP is topology discovery's, not ours
	}

	t := a.table(sw)
	t.mu.Lock()
	if _, known := t.ports[src]; known || len(t.ports) < a.maxMACs {
		t.ports[src] = inPort
	}
	out, known := t.ports[dst]
	t.mu.Unlock()
	if !known {
		out = ofp.PortFlood
	}

	var msgs []ofp.Message
	if known {
		m := ofp.NewMatch(ofp.InPort(inPort), ofp.EthDst(net.HardwareAddr(dst[:])), ofp.EthSrc(net.HardwareAddr(src[:])))
		msgs = append(msgs, ofp.NewFlowAdd(0, learnedPriority, controller.AppCookie(CookieID, 0), m,
			ofp.ApplyActions(ofp.Output(out))))
	}
	po := &ofp.PacketOut{BufferID: pi.BufferID, InPort: inPort, Actions: []ofp.Action{ofp.Output(out)}}
	if pi.BufferID == ofp.NoBufferID {
		po.Data = pi.Data
	}
	return append(msgs, po), true
}

// Known returns the port a MAC was learned on in switch session sw.
func (a *App) Known(sw *controller.Switch, addr net.HardwareAddr) (uint32, bool) {
	var m mac
	copy(m[:], addr)
	t := a.table(sw)
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.ports[m]
	return p, ok
}
