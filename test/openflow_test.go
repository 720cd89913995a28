package test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/controller"
	"github.com/sixgate/sixgate/controller/ofp"
	"github.com/sixgate/sixgate/test/ovs"
)

// flowApp declares, on every switch, a table-miss flow to the controller,
// an ARP flow and a flow that forwards one MAC to port 2.
type flowApp struct{}

func (flowApp) Name() string    { return "e2e" }
func (flowApp) CookieID() uint8 { return 0x7 }
func (flowApp) Flows(*controller.Switch) []controller.Flow {
	toController := []ofp.Instruction{ofp.ApplyActions(ofp.Output(ofp.PortController))}
	return []controller.Flow{
		{Priority: 0, Instructions: toController},
		{Priority: 100, Cookie: 1, Match: ofp.NewMatch(ofp.EthType(0x0806)), Instructions: toController},
		{Priority: 200, Cookie: 2, Table: 0,
			Match:        ofp.NewMatch(ofp.EthType(0x86dd), ofp.EthDst(net.HardwareAddr{0, 0, 0x0a, 0, 0, 1})),
			Instructions: []ofp.Instruction{ofp.ApplyActions(ofp.DecNwTTL(), ofp.Output(2))}},
		{Priority: 300, Cookie: 3, Table: 1,
			Match:        ofp.NewMatch(ofp.EthType(0x0800), ofp.IPv4Dst(netip.MustParsePrefix("10.0.0.0/24"))),
			Instructions: []ofp.Instruction{ofp.GotoTable(2)}},
	}
}

// Groups declares a select group over ports 1 and 2, used by no flow, to
// show that groups are desired state too.
func (flowApp) Groups(*controller.Switch) []controller.Group {
	bucket := func(port uint32) ofp.Bucket {
		return ofp.Bucket{Weight: 1, WatchPort: ofp.PortAny, WatchGroup: ofp.GroupAny, Actions: []ofp.Action{ofp.Output(port)}}
	}
	return []controller.Group{{ID: 1, Type: ofp.GroupTypeSelect, Buckets: []ofp.Bucket{bucket(1), bucket(2)}}}
}

// The table Open vSwitch must show, in its own words.
var wantFlows = []string{
	"cookie=0x700000000000000, priority=0 actions=CONTROLLER:65535",
	"cookie=0x700000000000001, priority=100,arp actions=CONTROLLER:65535",
	"cookie=0x700000000000002, priority=200,ipv6,dl_dst=00:00:0a:00:00:01 actions=dec_ttl,output:2",
	"cookie=0x700000000000003, table=1, priority=300,ip,nw_dst=10.0.0.0/24 actions=goto_table:2",
}

// The group table Open vSwitch must show.
var wantGroups = []string{
	"group_id=117440513,type=select,bucket=actions=output:1,bucket=actions=output:2",
}

// A flow another controller (or an operator) added: never ours to delete.
const foreignFlow = "cookie=0x42, priority=5,udp actions=drop"

// runController listens on listen, calls beforeServe (if not nil) with the
// address, then serves until the returned function is called.
func runController(t *testing.T, ctx context.Context, listen string, beforeServe func(addr string)) (*controller.Controller, string, context.CancelFunc) {
	t.Helper()
	log := logrus.New()
	log.SetOutput(io.Discard)
	c, err := controller.New(controller.Config{Listen: listen, Apps: []controller.App{flowApp{}}, Log: logrus.NewEntry(log)})
	if err != nil {
		t.Fatal(err)
	}
	l, err := c.Listen()
	if err != nil {
		t.Fatal(err)
	}
	if beforeServe != nil {
		beforeServe(l.Addr().String())
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := c.Serve(ctx, l); err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	return c, l.Addr().String(), func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("controller did not stop")
		}
	}
}

func withoutForeign(flows []string) []string {
	return slices.DeleteFunc(slices.Clone(flows), func(f string) bool { return f == foreignFlow })
}

func TestOVSDesiredFlowsAndRestart(t *testing.T) {
	ovs.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var b1, b2 *ovs.Bridge
	// Open vSwitch clears a bridge's flows when its controller is set, so
	// the bridges point at the controller first and get their extra flows
	// while it is listening but not yet serving.
	ctl, addr, stop := runController(t, ctx, "tcp:127.0.0.1:0", func(addr string) {
		b1 = ovs.NewBridge(t, "sgof1", 0xa1, "tcp:"+addr)
		b2 = ovs.NewBridge(t, "sgof2", 0xa2, "tcp:"+addr)
		for _, b := range []*ovs.Bridge{b1, b2} {
			// A stale flow in our cookie range goes; a foreign one stays.
			ovs.Run(t, "ovs-ofctl", "-O", "OpenFlow13", "add-flow", b.Name, "cookie=0x700000000000009,priority=9,tcp,actions=drop")
			ovs.Run(t, "ovs-ofctl", "-O", "OpenFlow13", "add-flow", b.Name, "cookie=0x42,priority=5,udp,actions=drop")
		}
	})
	for _, b := range []*ovs.Bridge{b1, b2} {
		var got []string
		if !ovs.Wait(20*time.Second, func() bool {
			got = b.DumpFlows(t)
			return slices.Equal(withoutForeign(got), wantFlows) && slices.Contains(got, foreignFlow)
		}) {
			t.Fatalf("%s flows:\n%s\nwant:\n%s\nplus %s", b.Name, join(got), join(wantFlows), foreignFlow)
		}
	}
	if n := len(ctl.Switches()); n != 2 {
		t.Fatalf("controller sees %d switches, want 2", n)
	}
	for _, b := range []*ovs.Bridge{b1, b2} {
		if got := b.DumpGroups(t); !slices.Equal(got, wantGroups) {
			t.Errorf("%s groups:\n%s\nwant:\n%s", b.Name, join(got), join(wantGroups))
		}
	}

	// Restart: a new controller on the same address reconciles without
	// reinstalling anything, so no flow's duration starts over.
	before := b1.FlowDurations(t)
	stopped := time.Now()
	stop()
	ctl2, _, stop2 := runController(t, ctx, "tcp:"+addr, nil)
	defer stop2()
	for _, b := range []*ovs.Bridge{b1, b2} {
		if !ovs.Wait(20*time.Second, func() bool { return b.Connected(t) }) {
			t.Fatalf("%s did not reconnect", b.Name)
		}
	}
	// The bridges reconnect on their own back-off; the checks below poll
	// until the new controller has synced both.
	for _, b := range []*ovs.Bridge{b1, b2} {
		var got []string
		if !ovs.Wait(20*time.Second, func() bool {
			got = b.DumpFlows(t)
			return slices.Equal(withoutForeign(got), wantFlows) && slices.Contains(got, foreignFlow)
		}) {
			t.Fatalf("after restart %s flows:\n%s", b.Name, join(got))
		}
	}
	// What Open vSwitch reports back, flows and groups, compares equal to
	// what the app declares: a further sync changes nothing.
	for _, b := range []*ovs.Bridge{b1, b2} {
		var sw *controller.Switch
		if !ovs.Wait(20*time.Second, func() bool { var ok bool; sw, ok = ctl2.Switch(b.DPID); return ok }) {
			t.Fatalf("%s not connected to the new controller", b.Name)
		}
		st, err := sw.Sync(ctx)
		if err != nil || st.Added+st.Deleted+st.Groups != 0 {
			t.Errorf("%s: sync of a synced switch: %+v, %v", b.Name, st, err)
		}
	}
	after := b1.FlowDurations(t)
	gap := time.Since(stopped)
	for flow, d := range after {
		if d < gap {
			t.Errorf("flow %q is %v old, younger than the %v since the restart: it was reinstalled", flow, d, gap)
		}
		if _, ok := before[flow]; !ok {
			t.Errorf("flow %q appeared after restart", flow)
		}
	}
}

func TestOVSErrorSurfacesOnRequest(t *testing.T) {
	ovs.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ctl, addr, stop := runController(t, ctx, "tcp:127.0.0.1:0", nil)
	defer stop()
	b := ovs.NewBridge(t, "sgof3", 0xa3, "tcp:"+addr)
	var sw *controller.Switch
	if !ovs.Wait(20*time.Second, func() bool { var ok bool; sw, ok = ctl.Switch(b.DPID); return ok }) {
		t.Fatal("bridge did not connect")
	}
	// The flows below are in flowApp's cookie range: the first sync, which
	// may still be running once the switch is registered, would delete
	// them as stale. Wait until it has installed flowApp's own.
	if !ovs.Wait(20*time.Second, func() bool { return len(b.DumpFlows(t)) == len(flowApp{}.Flows(nil)) }) {
		t.Fatalf("first sync did not install flowApp's flows: %s", join(b.DumpFlows(t)))
	}
	good := ofp.NewFlowAdd(0, 50, controller.AppCookie(7, 50), ofp.NewMatch(ofp.EthType(0x88cc)))
	// Table 255 is OFPTT_ALL, which Open vSwitch refuses for an add.
	bad := ofp.NewFlowAdd(ofp.TableAll, 50, controller.AppCookie(7, 51), ofp.Match{})
	// An output to a port beyond OFPP_MAX is refused as well.
	badPort := ofp.NewFlowAdd(0, 51, controller.AppCookie(7, 52), ofp.Match{},
		ofp.ApplyActions(ofp.Output(0xffffff10)))
	err := sw.Apply(ctx, good, bad, badPort)
	var em *ofp.ErrorMsg
	if !errors.As(err, &em) {
		t.Fatalf("Apply: %v, want the switch's error", err)
	}
	t.Logf("Open vSwitch answered: %v", err)
	if em.ErrType != ofp.ErrFlowModFailed || em.Code != ofp.FlowModBadTableID {
		t.Errorf("first error %v, want OFPET_FLOW_MOD_FAILED OFPFMFC_BAD_TABLE_ID", em)
	}
	if n := len(unwrapAll(err)); n != 2 {
		t.Errorf("got %d errors, want one per bad flow-mod (2): %v", n, err)
	}
	if !slices.ContainsFunc(b.DumpFlows(t), func(f string) bool { return f == "cookie=0x700000000000032, priority=50,dl_type=0x88cc actions=drop" }) {
		t.Errorf("the good flow-mod of the batch was not applied: %s", join(b.DumpFlows(t)))
	}
	// The session survives its errors.
	if err := sw.Barrier(ctx); err != nil {
		t.Errorf("barrier after errors: %v", err)
	}
}

func unwrapAll(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func join(ss []string) string {
	out := ""
	for _, s := range ss {
		out += "  " + s + "\n"
	}
	return out
}
