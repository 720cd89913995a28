// Package dhcp4 is a DHCPv4 server (RFC 2131, RFC 2132) for the hosts of
// the model: it answers their DHCP messages from packet-ins, gives a host
// the IPv4 address the model declares for it or one from its subnet's
// pool, registers dynamic addresses with the neighbor app so that the
// fabric answers ARP for them and forwards to them, keeps dynamic leases
// in a file across restarts, and offers option 108 (RFC 8925) to hosts
// that can live without IPv4.
package dhcp4

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/controller"
	"github.com/sixgate/sixgate/controller/ofp"
	"github.com/sixgate/sixgate/ha"
	"github.com/sixgate/sixgate/topo"
)

// CookieID is the top byte of the cookies of this app's flows.
const CookieID = 0x07

// prioDHCP is the priority, in table 0, of the flow that sends DHCP
// requests to the controller: above the neighbor app's forwarding (100)
// and its broadcast drop (1), so that broadcast DISCOVERs and unicast
// RENEWs to a gateway's MAC both arrive, and below splice46's steering
// (2000 and up), which never matches UDP to port 67.
const prioDHCP = 1100

// cookieServer is the low bits of the cookie of that flow.
const cookieServer = 0x01

// expireEvery is how often ended leases are dropped without traffic.
const expireEvery = 5 * time.Second

// sendTimeout bounds one packet-out.
const sendTimeout = time.Second

// Leaser is where dynamic leases are registered: the neighbor app, which
// answers ARP for them with the host's MAC.
type Leaser interface {
	SetLeases(owner string, leases map[netip.Addr]net.HardwareAddr)
}

// App is the DHCPv4 app. Its methods are safe for concurrent use.
type App struct {
	log    *logrus.Entry
	leaser Leaser

	mu     sync.Mutex
	srv    *server
	path   string // the lease file
	stats  counters
	saveOK atomic.Bool

	// With ha (UseState): the Store, set before the controller starts.
	// smu orders the answers and their writes to etcd; loadedGen is the
	// term whose leases the table holds (0: read them again).
	state       ha.Store
	smu         sync.Mutex
	loadedGen   uint64
	stateLogged atomic.Int64 // unix nanoseconds of the last failure logged
}

type counters struct {
	received [dhcpv4.MessageTypeInform + 1]atomic.Uint64 // by message type
	sent     [dhcpv4.MessageTypeInform + 1]atomic.Uint64
	verdicts [notStored + 1]atomic.Uint64
	send     atomic.Uint64 // packet-outs that failed
	saves    atomic.Uint64 // lease file writes that failed
	state    atomic.Uint64 // etcd reads and writes that failed (with ha)
}

var (
	_ controller.FlowApp         = (*App)(nil)
	_ controller.PacketInHandler = (*App)(nil)
	_ controller.Starter         = (*App)(nil)
)

// New returns the app for t, whose dhcp4 section must be set, reading
// the lease file. leaser may be nil (no hosts, so no neighbor app: then
// there is nobody to serve either).
func New(t *topo.Topology, leaser Leaser, log *logrus.Entry) (*App, error) {
	if t.DHCP4 == nil {
		return nil, fmt.Errorf("dhcp4: no dhcp4 section")
	}
	a := &App{log: log.WithField("app", "dhcp4"), leaser: leaser, path: t.DHCP4.LeaseFile}
	tab, skipped, err := loadTable(a.path, t, time.Now())
	if err != nil {
		return nil, err
	}
	if skipped > 0 {
		a.log.WithFields(logrus.Fields{"file": a.path, "skipped": skipped}).Warn("lease file records left out (expired, malformed, or no longer in the configuration)")
	}
	a.srv = &server{topo: t, cfg: t.DHCP4, table: tab, now: time.Now}
	a.saveOK.Store(true)
	// The leases read back are answered for at once. The file is left
	// as it is until a lease changes: New also runs for sixgate check,
	// which writes nothing.
	if leaser != nil {
		leaser.SetLeases("dhcp4", tab.boundLeases())
	}
	a.log.WithFields(logrus.Fields{"file": a.path, "leases": len(tab.byKey)}).Info("leases read")
	return a, nil
}

func (a *App) Name() string    { return "dhcp4" }
func (a *App) CookieID() uint8 { return CookieID }

// Flows sends DHCP requests (UDP to port 67) to the controller.
func (a *App) Flows(*controller.Switch) []controller.Flow {
	return []controller.Flow{{
		Priority: prioDHCP, Cookie: cookieServer,
		Match:        ofp.NewMatch(ofp.EthType(0x0800), ofp.IPProto(17), ofp.UDPDst(serverPort)),
		Instructions: []ofp.Instruction{ofp.ApplyActions(ofp.Output(ofp.PortController))},
	}}
}

// Start drops ended leases every few seconds until ctx is done; with ha
// it also reads the leases back from etcd soon after this instance becomes
// master, so that the fabric answers ARP for them before any client
// speaks DHCP again.
func (a *App) Start(ctx context.Context, _ *controller.Controller) error {
	if a.state != nil {
		go a.followTerms(ctx)
	}
	go func() {
		t := time.NewTicker(expireEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if a.state != nil {
				a.expireStored()
				continue
			}
			a.mu.Lock()
			if a.srv.table.expire(a.srv.now()) {
				a.srv.dirty = true
			}
			a.mu.Unlock()
			a.publish()
		}
	}()
	return nil
}

// Reload takes a new configuration. Leases the new one cannot keep (out of
// every pool, of a host no longer declared) are dropped.
func (a *App) Reload(t *topo.Topology) error {
	if t.DHCP4 == nil {
		return fmt.Errorf("dhcp4: the dhcp4 section was removed: restart sixgate to apply it")
	}
	a.mu.Lock()
	a.srv.topo, a.srv.cfg = t, t.DHCP4
	for _, l := range a.srv.table.byKey {
		if _, ok := t.HostByMAC(l.mac); !ok || !inSomePool(t, l.addr) {
			a.srv.table.remove(l)
			a.srv.dirty = true
		}
	}
	a.path = t.DHCP4.LeaseFile
	a.srv.dirty = true // the file may have moved
	a.mu.Unlock()
	a.publish()
	return nil
}

// PacketIn answers one DHCP message out of the port it came in by.
func (a *App) PacketIn(sw *controller.Switch, pi *ofp.PacketIn) {
	port, ok := pi.InPort()
	if !ok {
		a.stats.verdicts[malformed].Add(1)
		return
	}
	out := a.handle(pi.Data, sw.DPID(), port)
	if out == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), sendTimeout)
	defer cancel()
	if err := sw.PacketOut(ctx, port, out); err != nil {
		a.stats.send.Add(1)
		return
	}
	if rt := replyType(out); int(rt) < len(a.stats.sent) {
		a.stats.sent[rt].Add(1)
	}
}

// handle answers one frame from port of switch dpid, counting it, and
// writes and registers the leases if they changed.
func (a *App) handle(frame []byte, dpid uint64, port uint32) []byte {
	if a.state != nil {
		return a.handleStored(frame, dpid, port)
	}
	a.mu.Lock()
	out, mt, v := a.srv.handle(frame, dpid, port)
	dirty := a.srv.dirty
	a.mu.Unlock()
	return a.handled(out, mt, v, dirty, dpid, port)
}

// handled counts and logs one answer and publishes the leases if they
// changed.
func (a *App) handled(out []byte, mt dhcpv4.MessageType, v verdict, dirty bool, dpid uint64, port uint32) []byte {
	a.stats.verdicts[v].Add(1)
	if int(mt) < len(a.stats.received) {
		a.stats.received[mt].Add(1)
	}
	if a.log.Logger.IsLevelEnabled(logrus.DebugLevel) {
		a.log.WithFields(logrus.Fields{"dpid": dpid, "in_port": port, "type": mt.String(), "verdict": v.String()}).Debug("dhcp message")
	}
	if dirty {
		a.publish()
	}
	return out
}

// replyType reads the message type of a framed message (a reply, or a
// request not answered).
func replyType(frame []byte) dhcpv4.MessageType {
	const off = 14 + 20 + 8
	if len(frame) <= off {
		return dhcpv4.MessageTypeNone
	}
	m, err := dhcpv4.FromBytes(frame[off:])
	if err != nil {
		return dhcpv4.MessageTypeNone
	}
	return m.MessageType()
}

// publish writes the lease file and registers the bound leases with the
// neighbor app when they changed.
func (a *App) publish() {
	a.mu.Lock()
	if !a.srv.dirty {
		a.mu.Unlock()
		return
	}
	a.srv.dirty = false
	leases := a.srv.table.boundLeases()
	err := a.srv.table.save(a.path)
	a.mu.Unlock()
	if err != nil {
		a.stats.saves.Add(1)
		if a.saveOK.Swap(false) {
			a.log.WithError(err).Error("cannot write the lease file; leases live in memory until it works again")
		}
	} else if !a.saveOK.Swap(true) {
		a.log.Info("lease file written again")
	}
	if a.leaser != nil {
		a.leaser.SetLeases("dhcp4", leases)
	}
}

// Stats is a snapshot of the app's counters.
type Stats struct {
	Received map[string]uint64 // by message type: "discover", "request", ...
	Sent     map[string]uint64 // replies by type: "offer", "ack", "nak"
	// Handled counts messages by outcome: "replied", "malformed",
	// "unknown_host", "pool_exhausted" and so on.
	Handled           map[string]uint64
	Option108         uint64 // replies that carried option 108
	Leases            int    // bound dynamic leases
	PacketOutFailures uint64
	LeaseFileFailures uint64
	// StateFailures counts etcd reads and writes that failed (with ha):
	// each kept an answer back.
	StateFailures uint64
}

// Stats returns the app's counters.
func (a *App) Stats() Stats {
	s := Stats{Received: map[string]uint64{}, Sent: map[string]uint64{}, Handled: map[string]uint64{},
		PacketOutFailures: a.stats.send.Load(), LeaseFileFailures: a.stats.saves.Load(),
		StateFailures: a.stats.state.Load()}
	for mt := dhcpv4.MessageTypeDiscover; mt <= dhcpv4.MessageTypeInform; mt++ {
		name := strings.ToLower(strings.TrimPrefix(mt.String(), "DHCP"))
		s.Received[name] = a.stats.received[mt].Load()
		s.Sent[name] = a.stats.sent[mt].Load()
	}
	for v := range a.stats.verdicts {
		s.Handled[verdict(v).String()] = a.stats.verdicts[v].Load()
	}
	a.mu.Lock()
	s.Option108 = a.srv.sent108
	s.Leases = len(a.srv.table.boundLeases())
	a.mu.Unlock()
	return s
}

// Lease is one dynamic lease, as Leases reports it.
type Lease struct {
	MAC     net.HardwareAddr
	Addr    netip.Addr
	Expires time.Time
}

// Leases returns the bound dynamic leases.
func (a *App) Leases() []Lease {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []Lease
	for _, l := range a.srv.table.byKey {
		if l.bound {
			out = append(out, Lease{MAC: l.mac, Addr: l.addr, Expires: l.expiry})
		}
	}
	return out
}
