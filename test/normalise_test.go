package test

import (
	"context"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/controller"
	"github.com/sixgate/sixgate/controller/ofp"
	"github.com/sixgate/sixgate/test/ovs"
)

// maskApp declares flows whose matches Open vSwitch reports back in
// another form than they were sent: masks that select nothing, masks that
// select every bit, and values with bits outside their mask.
type maskApp struct{}

func (maskApp) Name() string    { return "masks" }
func (maskApp) CookieID() uint8 { return 0x9 }

func withMask(o ofp.OXM, mask ...byte) ofp.OXM {
	o.Mask = mask
	return o
}

func (maskApp) Flows(*controller.Switch) []controller.Flow {
	drop := []ofp.Instruction(nil)
	return []controller.Flow{
		// A value with bits outside its mask: nw_dst=10.1.2.0/24.
		{Priority: 10, Cookie: 1, Match: ofp.NewMatch(ofp.EthType(0x0800),
			withMask(ofp.IPv4Dst(netip.MustParsePrefix("10.1.2.3/32")), 0xff, 0xff, 0xff, 0)), Instructions: drop},
		// An all-zero mask (dl_src) and an all-ones one (dl_dst).
		{Priority: 11, Cookie: 2, Match: ofp.NewMatch(ofp.EthType(0x86dd),
			withMask(ofp.EthSrc(net.HardwareAddr{2, 0, 0, 0, 0, 9}), 0, 0, 0, 0, 0, 0),
			withMask(ofp.EthDst(net.HardwareAddr{2, 0, 0, 0, 0, 1}), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)), Instructions: drop},
		// Metadata with bits outside its mask, in another table.
		{Table: 1, Priority: 12, Cookie: 3, Match: ofp.NewMatch(ofp.Metadata(0x1234, 0xff00)), Instructions: drop},
		// A VLAN id under a mask of its 13 bits.
		{Priority: 13, Cookie: 4, Match: ofp.NewMatch(withMask(ofp.VlanVID(ofp.VlanPresent|5), 0x1f, 0xff)), Instructions: drop},
		// An all-ones address mask, and an all-zero metadata mask.
		{Priority: 14, Cookie: 5, Match: ofp.NewMatch(ofp.EthType(0x0800), ofp.Metadata(7, 0),
			withMask(ofp.IPv4Src(netip.MustParsePrefix("10.0.0.1/32")), 0xff, 0xff, 0xff, 0xff)), Instructions: drop},
	}
}

// TestOVSMatchesNormalised: flows whose matches Open vSwitch normalises
// are installed once; later syncs neither delete nor add them, so their
// durations keep growing.
func TestOVSMatchesNormalised(t *testing.T) {
	ovs.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	log := logrus.New()
	log.SetOutput(io.Discard)
	c, err := controller.New(controller.Config{Listen: "tcp:127.0.0.1:0", Apps: []controller.App{maskApp{}}, Log: logrus.NewEntry(log)})
	if err != nil {
		t.Fatal(err)
	}
	l, err := c.Listen()
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); c.Serve(sctx, l) }()
	defer func() { stop(); <-done }()

	b := ovs.NewBridge(t, "sgnorm", 0xc1, "tcp:"+l.Addr().String())
	var flows []string
	if !ovs.Wait(20*time.Second, func() bool {
		flows = b.DumpFlows(t)
		return len(flows) == 5
	}) {
		t.Fatalf("flows:\n%s\nwant the 5 declared", join(flows))
	}
	t.Logf("Open vSwitch reports the declared flows as:\n%s", join(flows))
	for _, want := range []string{"nw_dst=10.1.2.0/24", "dl_dst=02:00:00:00:00:01", "metadata=0x1200/0xff00", "dl_vlan=5", "nw_src=10.0.0.1"} {
		if !strings.Contains(strings.Join(flows, "\n"), want) {
			t.Errorf("no flow shows %s", want)
		}
	}
	var sw *controller.Switch
	if !ovs.Wait(20*time.Second, func() bool { var ok bool; sw, ok = c.Switch(b.DPID); return ok }) {
		t.Fatal("bridge not connected")
	}
	// How Open vSwitch reports masks it is sent as they are (a foreign
	// cookie, so that the app's syncs leave the flow alone): a clean
	// all-zero mask is dropped, an all-ones one is exact.
	raw := ofp.NewFlowAdd(0, 20, 0x42, ofp.NewMatch(ofp.EthType(0x0800),
		withMask(ofp.EthSrc(net.HardwareAddr{0, 0, 0, 0, 0, 0}), 0, 0, 0, 0, 0, 0),
		withMask(ofp.IPv4Dst(netip.MustParsePrefix("10.9.9.9/32")), 0xff, 0xff, 0xff, 0xff)))
	if err := sw.Apply(ctx, raw); err != nil {
		t.Fatal(err)
	}
	var rawFlow string
	for _, f := range b.DumpFlows(t) {
		if strings.HasPrefix(f, "cookie=0x42,") {
			rawFlow = f
		}
	}
	t.Logf("a flow-mod with eth_src=0/0 and ipv4_dst=10.9.9.9/255.255.255.255 reads back as: %s", rawFlow)
	if want := "cookie=0x42, priority=20,ip,nw_dst=10.9.9.9 actions=drop"; rawFlow != want {
		t.Errorf("raw masked flow reads back as %q, want %q", rawFlow, want)
	}
	// A value with bits outside its mask is refused, not folded.
	stray := ofp.NewFlowAdd(0, 21, 0x42, ofp.NewMatch(ofp.EthType(0x0800),
		withMask(ofp.IPv4Dst(netip.MustParsePrefix("10.9.9.9/32")), 0xff, 0xff, 0xff, 0)))
	err = sw.Apply(ctx, stray)
	t.Logf("a flow-mod with ipv4_dst=10.9.9.9/255.255.255.0: %v", err)
	if err == nil {
		t.Error("Open vSwitch took a value with bits outside its mask")
	}

	before := b.FlowDurations(t)
	time.Sleep(1100 * time.Millisecond)
	for i := range 2 {
		st, err := sw.Sync(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Added != 0 || st.Deleted != 0 || st.Kept != 5 {
			t.Errorf("sync %d of a synced switch: %+v, want the 5 flows kept", i+1, st)
		}
	}
	after := b.FlowDurations(t)
	for f, d := range after {
		if strings.HasPrefix(f, "cookie=0x42,") {
			continue
		}
		if d0, ok := before[f]; !ok || d <= d0 {
			t.Errorf("flow %q: duration %v after the syncs, %v before (present: %v): reinstalled", f, d, d0, ok)
		}
	}
}
