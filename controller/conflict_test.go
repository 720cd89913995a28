package controller

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/sixgate/sixgate/controller/ofp"
	"github.com/sixgate/sixgate/controller/ofptest"
)

// namedApp is a testApp under another name.
type namedApp struct {
	testApp
	name string
}

func (a *namedApp) Name() string { return a.name }

// TestConflictingFlowKeptByFirstApp: two apps declare one flow (the same
// once normalised); the first keeps it, syncs after the first change
// nothing, and the conflict is logged once with both names and counted.
func TestConflictingFlowKeptByFirstApp(t *testing.T) {
	out := []ofp.Instruction{ofp.ApplyActions(ofp.Output(1))}
	first := &namedApp{testApp{id: 7, flows: []Flow{{Priority: 10, Cookie: 1,
		Match: ofp.NewMatch(ofp.EthType(0x0800), ofp.IPv4Dst(netip.MustParsePrefix("10.0.0.0/8"))), Instructions: out}}}, "first"}
	second := &namedApp{testApp{id: 8, flows: []Flow{
		{Priority: 10, Cookie: 2, Match: ofp.NewMatch(
			masked(ofp.IPv4Dst(netip.MustParsePrefix("10.1.2.3/32")), 0xff, 0, 0, 0), ofp.EthType(0x0800))},
		{Priority: 11, Cookie: 3, Match: ofp.NewMatch(ofp.EthType(0x86dd))},
	}}, "second"}
	h := startController(t, Config{Apps: []App{first, second}})
	logs := logtest.NewLocal(h.ctl.log.Logger)
	sw := newFake(0x5)
	h.connect(sw)
	ofptest.WaitFor(t, "switch up", func() bool { return first.upCount() == 1 })
	s, _ := h.ctl.Switch(0x5)
	for i := range 3 {
		st, err := s.Sync(h.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Added != 0 || st.Deleted != 0 || st.Kept != 2 {
			t.Errorf("sync %d after the first: %+v, want nothing changed and 2 flows kept", i+1, st)
		}
	}
	flows := sw.Flows()
	if len(flows) != 2 {
		t.Fatalf("switch flows %v, want 2", flows)
	}
	for _, f := range flows {
		if f.Priority == 10 && f.Cookie != AppCookie(7, 1) {
			t.Errorf("the contested flow has cookie %#x, want the first app's", f.Cookie)
		}
	}
	var conflicts []*logrus.Entry
	for _, e := range logs.AllEntries() {
		if strings.Contains(e.Message, "flow declared by two apps") {
			conflicts = append(conflicts, e)
		}
	}
	if len(conflicts) != 1 {
		t.Fatalf("conflict logged %d times, want once", len(conflicts))
	}
	e := conflicts[0]
	if e.Data["app"] != "second" || e.Data["kept_by"] != "first" ||
		!strings.HasPrefix(e.Data["flow"].(string), "flow table=0 priority=10 ") || e.Data["dpid"] != "0000000000000005" {
		t.Errorf("conflict logged with %v", e.Data)
	}
	if n := testutil.ToFloat64(h.ctl.metrics.flowConflicts); n != 1 {
		t.Errorf("sixgate_of_flow_conflicts_total = %v, want 1", n)
	}
}

func TestCheckFlowsNamesConflicts(t *testing.T) {
	a := &namedApp{testApp{id: 7, flows: []Flow{{Table: 2, Priority: 5, Match: ofp.NewMatch(ofp.EthType(0x0806))}}}, "alpha"}
	b := &namedApp{testApp{id: 8, flows: []Flow{{Table: 2, Priority: 5, Match: ofp.NewMatch(ofp.EthType(0x0806))}}}, "beta"}
	c := &namedApp{testApp{id: 9, flows: []Flow{{Table: 2, Priority: 6, Match: ofp.NewMatch(ofp.EthType(0x0806))}}}, "gamma"}
	if err := CheckFlows([]App{a, c}, []uint64{1, 2}); err != nil {
		t.Errorf("no conflict: %v", err)
	}
	err := CheckFlows([]App{a, b, c}, []uint64{1})
	if err == nil || !strings.Contains(err.Error(), "switch 0000000000000001: apps alpha and beta both declare flow table=2 priority=5 eth_type=0x806") {
		t.Errorf("CheckFlows: %v", err)
	}
	if err := CheckFlows([]App{a, b}, nil); err == nil || !strings.Contains(err.Error(), "apps alpha and beta") {
		t.Errorf("CheckFlows with no switch: %v", err)
	}
}
