package neighbor

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sixgate/sixgate/controller"
	"github.com/sixgate/sixgate/controller/controllertest"
	"github.com/sixgate/sixgate/controller/ofp"
	"github.com/sixgate/sixgate/controller/ofptest"
	"github.com/sixgate/sixgate/topo"
)

// rig is the fabric example's three switches, faked, under a real
// controller running the app.
type rig struct {
	t   *testing.T
	app *App
	ctl *controller.Controller
	sw  map[uint64]*ofptest.Switch
	ctx context.Context
}

// hostAndLinkPorts are ports 1 to 4, all up, as every switch of
// fabric.yaml has them.
func hostAndLinkPorts() []ofp.Port {
	var ps []ofp.Port
	for no := uint32(1); no <= 4; no++ {
		ps = append(ps, ofp.Port{PortNo: no, Name: fmt.Sprintf("p%d", no), HWAddr: net.HardwareAddr{2, 0, 0, 0, 0, byte(no)}})
	}
	return ps
}

func newRig(t *testing.T, top *topo.Topology) *rig {
	t.Helper()
	app := New(top, quietLog())
	c, addr, ctx := controllertest.Start(t, app)
	r := &rig{t: t, app: app, ctl: c, sw: map[uint64]*ofptest.Switch{}, ctx: ctx}
	for dpid := uint64(1); dpid <= 3; dpid++ {
		sw := &ofptest.Switch{DPID: dpid, NTables: 254, Ports: hostAndLinkPorts()}
		r.sw[dpid] = sw
		go sw.Dial(ctx, addr)
	}
	// Synced, and the SwitchUp announcements all out: on each of the two
	// host ports, three addresses and one RA.
	for dpid, sw := range r.sw {
		ofptest.WaitFor(r.t, fmt.Sprintf("switch %d synced", dpid), func() bool {
			return len(sw.Flows()) == len(app.view.Load().flowsFor(dpid)) && r.packetOuts(dpid) == 2*4
		})
	}
	return r
}

func (r *rig) packetOuts(dpid uint64) int { return len(r.sw[dpid].PacketOuts()) }

// packetIn sends frame to the controller as the switch's flow with the
// given cookie would have, from port.
func (r *rig) packetIn(dpid uint64, port uint32, cookie uint64, frame []byte) {
	r.t.Helper()
	pi := &ofp.PacketIn{BufferID: ofp.NoBufferID, Cookie: controller.AppCookie(CookieID, cookie),
		Match: ofp.NewMatch(ofp.InPort(port)), Data: frame}
	if err := r.sw[dpid].SendMessage(pi); err != nil {
		r.t.Fatal(err)
	}
}

// route returns the port switch dpid sends unicast IPv4 for mac out of,
// by looking a frame up in its tables as they are now.
func (r *rig) route(dpid uint64, m net.HardwareAddr) (uint32, bool) {
	r.t.Helper()
	f := ipv4UDP(r.t, mac(h1MAC), m, "10.0.0.1", "10.0.0.99")
	res, err := r.sw[dpid].Pipeline().Run(f, lookupPort)
	if err != nil {
		r.t.Fatal(err)
	}
	if len(res.Outputs) != 1 {
		return 0, false
	}
	return res.Outputs[0].Port, true
}

// pipelineOf is a plain list of the app's flows, as the controller would
// install them, to look packets up in without a switch.
func pipelineOf(flows []controller.Flow) *ofptest.Pipeline {
	p := &ofptest.Pipeline{}
	for _, f := range flows {
		p.Flows = append(p.Flows, ofp.FlowStats{TableID: f.Table, Priority: f.Priority,
			Cookie: controller.AppCookie(CookieID, f.Cookie), Match: f.Match, Instructions: f.Instructions})
	}
	return p
}

// lookupPort is an in-port no flow sends to, so that no output is
// suppressed as going back where it came from.
const lookupPort = 99

func (r *rig) wantRoute(dpid uint64, hostMAC string, port uint32) {
	r.t.Helper()
	ofptest.WaitFor(r.t, fmt.Sprintf("switch %d to send %s out of port %d", dpid, hostMAC, port), func() bool {
		p, ok := r.route(dpid, mac(hostMAC))
		return ok && p == port
	})
}

func TestFlowsOfFabric(t *testing.T) {
	v := newView(t, "fabric.yaml")
	flows := v.flowsFor(1)
	// 7 fixed flows, 6 host routes, 5 for the gateway's MAC.
	if len(flows) != 7+6+5 {
		t.Errorf("%d flows, want 18", len(flows))
	}
	// Each host's MAC leaves s1 by the port on its path.
	want := map[string]uint32{h1MAC: 1, "00:00:0a:00:00:02": 2, h3MAC: 3, "00:00:0a:00:00:04": 3, "00:00:0a:00:00:05": 4, "00:00:0a:00:00:06": 4}
	p := pipelineOf(flows)
	for m, port := range want {
		res := p.Lookup(t, ipv4UDP(t, mac("00:00:0a:00:00:77"), mac(m), "10.0.0.77", "10.0.0.1"), lookupPort)
		if got := res.OutputPorts(); len(got) != 1 || got[0] != port {
			t.Errorf("%s out of ports %v, want %d\n%s", m, got, port, res)
		}
	}
	seen := map[uint64]bool{}
	for _, f := range flows {
		k := uint64(f.Table)<<56 | uint64(f.Priority)<<40 | f.Cookie&0xffffffffff
		if f.Cookie&kindMask == 0 && seen[k] {
			t.Errorf("two fixed flows with cookie %#x", f.Cookie)
		}
		seen[k] = true
	}
	// A switch the model does not know gets the fixed and virtual flows
	// only: everything it cannot forward is dropped.
	if n := len(v.flowsFor(0x99)); n != 7+5 {
		t.Errorf("unknown switch: %d flows, want 12", n)
	}
}

func TestSyncIsIdempotent(t *testing.T) {
	r := newRig(t, loadTopo(t, "fabric.yaml"))
	before := r.sw[1].FlowMods()
	r.sw[1].Flows()
	sw, _ := r.ctl.Switch(1)
	st, err := sw.Sync(r.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Added != 0 || st.Deleted != 0 || st.Kept != len(r.app.Flows(sw)) {
		t.Errorf("second sync %+v, want everything kept", st)
	}
	if r.sw[1].FlowMods() != before {
		t.Errorf("second sync sent %d flow-mods", r.sw[1].FlowMods()-before)
	}
}

func TestPacketInAnsweredOutOfInPort(t *testing.T) {
	r := newRig(t, loadTopo(t, "fabric.yaml"))
	n := r.packetOuts(2)
	r.packetIn(2, 2, cookieNS, neighborSolicitation(t, mac("00:00:0a:00:00:04"), "2001:db8::4", "2001:db8::1"))
	ofptest.WaitFor(r.t, "NA", func() bool { return r.packetOuts(2) == n+1 })
	var po *ofp.PacketOut
	for _, m := range r.sw[2].Received() {
		if p, ok := m.(*ofp.PacketOut); ok {
			po = p
		}
	}
	if out := po.Actions[0].(*ofp.ActionOutput).Port; len(po.Actions) != 1 || out != 2 {
		t.Errorf("packet-out actions %v, want output:2", po.Actions)
	}
	pkt := decode(t, po.Data)
	if na, ok := pkt.Layer(layers.LayerTypeICMPv6NeighborAdvertisement).(*layers.ICMPv6NeighborAdvertisement); !ok ||
		net.HardwareAddr(na.Options[0].Data).String() != h1MAC {
		t.Errorf("answer %v", pkt)
	}

	// A DAD probe and an unknown target: nothing sent, both counted.
	r.packetIn(2, 2, cookieNS, neighborSolicitation(t, mac("00:00:0a:00:00:04"), "::", "2001:db8::4"))
	r.packetIn(2, 2, cookieARP, arpRequest(t, mac("00:00:0a:00:00:04"), "10.0.0.4", "10.0.0.200"))
	ofptest.WaitFor(r.t, "both counted", func() bool {
		s := r.app.Stats()
		return s.Ignored["dad_probe"] == 1 && s.Ignored["unknown_target"] == 1
	})
	if got := r.packetOuts(2); got != n+1 {
		t.Errorf("%d packet-outs after the probe and the unknown target, want %d", got, n+1)
	}
	if s := r.app.Stats(); s.NASent != 1 || s.PacketIns != 3 {
		t.Errorf("stats %+v", s)
	}
}

func TestSwitchUpAnnouncesVirtualAddresses(t *testing.T) {
	r := newRig(t, loadTopo(t, "fabric.yaml"))
	// Per host port (1 and 2): 10.0.0.254, 2001:db8::fe, the link-local
	// address, then the gateway's RA; newRig waited for all of them.
	kinds := map[string]int{}
	for _, m := range r.sw[3].Received() {
		po, ok := m.(*ofp.PacketOut)
		if !ok {
			continue
		}
		if out := po.Actions[0].(*ofp.ActionOutput).Port; out != 1 && out != 2 {
			t.Errorf("announcement out of port %d, which is not a host's", out)
		}
		pkt := decode(t, po.Data)
		switch {
		case pkt.Layer(layers.LayerTypeARP) != nil:
			kinds["arp"]++
		case pkt.Layer(layers.LayerTypeICMPv6NeighborAdvertisement) != nil:
			kinds["na"]++
		case pkt.Layer(layers.LayerTypeICMPv6RouterAdvertisement) != nil:
			kinds["ra"]++
		}
	}
	if kinds["arp"] != 2 || kinds["na"] != 4 || kinds["ra"] != 2 {
		t.Errorf("announcements %v, want 2 ARP, 4 NA, 2 RA", kinds)
	}
}

func TestLinkDownReroutesEverySwitch(t *testing.T) {
	r := newRig(t, loadTopo(t, "fabric.yaml"))
	r.wantRoute(1, h3MAC, 3) // s1:3 is the link to s2
	r.wantRoute(2, h1MAC, 4) // s2:4 is its other end
	r.wantRoute(3, h1MAC, 3)

	down := &ofp.PortStatus{Reason: ofp.PortReasonModify, Port: ofp.Port{PortNo: 3, State: ofp.PortStateLinkDown}}
	if err := r.sw[1].SendMessage(down); err != nil {
		t.Fatal(err)
	}
	// Both ends of the cut link now go round through s3.
	r.wantRoute(1, h3MAC, 4)
	r.wantRoute(2, h1MAC, 3)
	r.wantRoute(3, h1MAC, 3) // unchanged
	r.wantRoute(3, h3MAC, 4)

	up := &ofp.PortStatus{Reason: ofp.PortReasonModify, Port: ofp.Port{PortNo: 3}}
	if err := r.sw[1].SendMessage(up); err != nil {
		t.Fatal(err)
	}
	r.wantRoute(1, h3MAC, 3)
	r.wantRoute(2, h1MAC, 4)

	// A host port going away takes the host's routes with it everywhere.
	gone := &ofp.PortStatus{Reason: ofp.PortReasonDelete, Port: ofp.Port{PortNo: 1}}
	if err := r.sw[2].SendMessage(gone); err != nil {
		t.Fatal(err)
	}
	for dpid := uint64(1); dpid <= 3; dpid++ {
		ofptest.WaitFor(r.t, "h3's routes removed", func() bool { _, ok := r.route(dpid, mac(h3MAC)); return !ok })
	}
	if s := r.app.Stats(); s.Reroutes != 3 {
		t.Errorf("%d reroutes, want 3", s.Reroutes)
	}
}

func TestReloadSwapsModel(t *testing.T) {
	r := newRig(t, loadTopo(t, "fabric.yaml"))
	src, err := os.ReadFile("../../topo/examples/fabric.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// h3 gets a new MAC and a new address.
	changed := strings.Replace(string(src), `mac: "00:00:0a:00:00:03", ipv4: ["10.0.0.3"]`, `mac: "00:00:0a:00:00:33", ipv4: ["10.0.0.33"]`, 1)
	p := filepath.Join(t.TempDir(), "fabric.yaml")
	if err := os.WriteFile(p, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	top, err := topo.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.app.Reload(top); err != nil {
		t.Fatal(err)
	}
	r.wantRoute(1, "00:00:0a:00:00:33", 3)
	ofptest.WaitFor(r.t, "old MAC gone", func() bool { _, ok := r.route(1, mac(h3MAC)); return !ok })
	v := r.app.view.Load()
	if _, _, vd := v.handle(arpRequest(t, mac(h1MAC), "10.0.0.1", "10.0.0.3")); vd != unknownTarget {
		t.Errorf("old address: %v", vd)
	}
	frames, _, vd := v.handle(arpRequest(t, mac(h1MAC), "10.0.0.1", "10.0.0.33"))
	decode(t, one(t, frames, vd))
}

func TestDropCounters(t *testing.T) {
	top := loadTopo(t, "fabric.yaml")
	app := New(top, quietLog())
	c, addr, ctx := controllertest.Start(t, app)
	// The switch already holds the app's drop flows, with counts, from an
	// earlier run: the sync keeps them and their counts.
	sw := &ofptest.Switch{DPID: 1, NTables: 254, Ports: hostAndLinkPorts()}
	for _, f := range app.view.Load().flowsFor(1) {
		var n uint64
		switch f.Cookie {
		case CookieDropUnknown:
			n = 7
		case CookieDropMulticast:
			n = 11
		case CookieDropHandoff:
			n = 13
		default:
			continue
		}
		sw.AddFlow(ofp.FlowStats{TableID: f.Table, Priority: f.Priority, Cookie: controller.AppCookie(CookieID, f.Cookie),
			Match: f.Match, Instructions: f.Instructions, PacketCount: n})
	}
	go sw.Dial(ctx, addr)
	var s *controller.Switch
	deadline := time.Now().Add(10 * time.Second)
	for {
		var ok bool
		if s, ok = c.Switch(1); ok && len(sw.Flows()) == len(app.view.Load().flowsFor(1)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("switch not synced")
		}
		time.Sleep(5 * time.Millisecond)
	}
	d, err := app.Drops(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if d != (Drops{UnknownUnicast: 7, Multicast: 11, Handoff: 13}) {
		t.Errorf("drops %+v", d)
	}
}

func TestCollector(t *testing.T) {
	r := newRig(t, loadTopo(t, "fabric.yaml"))
	r.packetIn(1, 1, CookieDropUnknown, arpRequest(t, mac(h1MAC), "10.0.0.1", "10.0.0.99"))
	ofptest.WaitFor(r.t, "packet-in counted", func() bool { return r.app.Stats().PacketIns == 1 })
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(r.app.Collectors()...)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	series := map[string]int{}
	values := map[string]float64{}
	for _, mf := range mfs {
		series[mf.GetName()] = len(mf.GetMetric())
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += "/" + l.GetValue()
			}
			values[key] = m.GetCounter().GetValue()
		}
	}
	if series["sixgate_neighbor_switch_dropped_packets_total"] != 3*3 {
		t.Errorf("drop series: %d, want 3 switches x 3 reasons", series["sixgate_neighbor_switch_dropped_packets_total"])
	}
	if values["sixgate_neighbor_ignored_total/unknown_target"] != 1 || values["sixgate_neighbor_packets_total/packet_in"] != 1 {
		t.Errorf("counters %v", values)
	}
	if values["sixgate_neighbor_packets_total/announcement"] != 3*2*3 {
		t.Errorf("announcements %v, want 3 addresses on 2 ports of 3 switches", values["sixgate_neighbor_packets_total/announcement"])
	}
}
