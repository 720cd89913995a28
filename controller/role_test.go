package controller

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sixgate/sixgate/controller/ofp"
	"github.com/sixgate/sixgate/controller/ofptest"
)

// haPair is two HA controllers with the same app, both connected to one
// fake switch, as two sixgate instances connect to one bridge.
type haPair struct {
	a, b       *harness
	regA, regB *prometheus.Registry
	appA, appB *testApp
	sw         *ofptest.Switch
	// holdRoles makes the switch leave role requests unanswered.
	holdRoles atomic.Bool
}

func startHAPair(t *testing.T) *haPair {
	t.Helper()
	p := &haPair{
		regA: prometheus.NewRegistry(), regB: prometheus.NewRegistry(),
		appA: &testApp{id: 7, flows: desiredFlows()}, appB: &testApp{id: 7, flows: desiredFlows()},
		sw: newFake(0x51),
	}
	p.sw.Ignore = func(m ofp.Message) bool { return p.holdRoles.Load() && m.Type() == ofp.TypeRoleRequest }
	p.a = startController(t, Config{HA: true, Apps: []App{p.appA}, Registerer: p.regA})
	p.b = startController(t, Config{HA: true, Apps: []App{p.appB}, Registerer: p.regB})
	p.a.connect(p.sw)
	p.b.connect(p.sw)
	ofptest.WaitFor(t, "both sessions up", func() bool { return p.appA.upCount() == 1 && p.appB.upCount() == 1 })
	return p
}

func (p *haPair) session(t *testing.T, h *harness) *Switch {
	t.Helper()
	s, ok := h.ctl.Switch(p.sw.DPID)
	if !ok {
		t.Fatal("switch not connected")
	}
	return s
}

func masters(sw *ofptest.Switch) int {
	n := 0
	for _, r := range sw.Roles() {
		if r == ofp.RoleMaster {
			n++
		}
	}
	return n
}

func TestHASlaveWritesNothing(t *testing.T) {
	p := startHAPair(t)
	ofptest.WaitFor(t, "both connections slaves", func() bool {
		return slices.Equal(p.sw.Roles(), []uint32{ofp.RoleSlave, ofp.RoleSlave})
	})
	if n := p.sw.FlowMods(); n != 0 {
		t.Fatalf("slaves sent %d flow-mods", n)
	}
	s := p.session(t, p.a)
	if s.MayWrite() {
		t.Fatal("a slave may write")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.PacketOut(ctx, 1, make([]byte, 60))
	if !errors.Is(err, ErrNotMaster) {
		t.Fatalf("packet-out from a slave: %v, want ErrNotMaster", err)
	}
	err = s.Apply(ctx, ofp.NewFlowAdd(0, 1, AppCookie(7, 9), ofp.NewMatch()))
	if !errors.Is(err, ErrNotMaster) {
		t.Fatalf("flow-mod from a slave: %v, want ErrNotMaster", err)
	}
	// The slave still reads: its sync compared the table.
	st, err := s.Sync(ctx)
	if err != nil || !st.ReadOnly || st.Added != 3 {
		t.Fatalf("slave sync: %+v, %v; want a read-only comparison with 3 flows to add", st, err)
	}
	if n := p.sw.FlowMods(); n != 0 || len(p.sw.PacketOuts()) != 0 {
		t.Fatalf("slaves sent %d flow-mods, %d packet-outs", n, len(p.sw.PacketOuts()))
	}
	if got := testutil.ToFloat64(p.a.ctl.metrics.writesGated.WithLabelValues("PACKET_OUT")); got != 1 {
		t.Errorf("writes_not_master_total{type=PACKET_OUT} = %v, want 1", got)
	}
}

func TestHAMasterElectedThenTakeoverWithoutChurn(t *testing.T) {
	p := startHAPair(t)
	p.a.ctl.SetRole(Role{Role: ofp.RoleMaster, Generation: 10})
	ofptest.WaitFor(t, "a master, flows installed", func() bool {
		return p.session(t, p.a).MayWrite() && len(p.sw.Flows()) == 3
	})
	if g, ok := p.sw.Generation(); !ok || g != 10 {
		t.Fatalf("switch generation %d (defined %v), want 10", g, ok)
	}
	if n := masters(p.sw); n != 1 {
		t.Fatalf("%d masters", n)
	}
	mods := p.sw.FlowMods()

	// b takes over with a newer generation: a is demoted by the switch,
	// b finds the table right and sends nothing.
	p.b.ctl.SetRole(Role{Role: ofp.RoleMaster, Generation: 11})
	sb := p.session(t, p.b)
	ofptest.WaitFor(t, "b master", func() bool { return sb.MayWrite() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if st, err := sb.Sync(ctx); err != nil || st.Added+st.Deleted != 0 || st.ReadOnly {
		t.Fatalf("new master's sync: %+v, %v; want nothing to change", st, err)
	}
	if got := p.sw.FlowMods(); got != mods {
		t.Fatalf("takeover sent %d flow-mods, want none", got-mods)
	}
	if n := masters(p.sw); n != 1 {
		t.Fatalf("%d masters after the takeover", n)
	}

	// a still believes it is master: its late write is refused by the
	// switch as coming from a slave, and it stops writing.
	sa := p.session(t, p.a)
	err := sa.Apply(ctx, ofp.NewFlowAdd(0, 1, AppCookie(7, 9), ofp.NewMatch()))
	var em *ofp.ErrorMsg
	if !errors.As(err, &em) || em.ErrType != ofp.ErrBadRequest || em.Code != ofp.BadRequestIsSlave {
		t.Fatalf("deposed master's flow-mod: %v, want OFPBRC_IS_SLAVE", err)
	}
	if sa.MayWrite() {
		t.Error("a still writes after IS_SLAVE")
	}
	if got := testutil.ToFloat64(p.a.ctl.metrics.roleErrors.WithLabelValues("OFPBRC_IS_SLAVE")); got != 1 {
		t.Errorf("role_errors_total{code=OFPBRC_IS_SLAVE} = %v, want 1", got)
	}

	// a's late master request carries the older generation: stale.
	_, err = sa.roleRequest(ctx, ofp.RoleMaster, 10)
	if !errors.As(err, &em) || em.ErrType != ofp.ErrRoleRequestFailed || em.Code != ofp.RoleRequestFailedStale {
		t.Fatalf("stale master request: %v, want OFPRRFC_STALE", err)
	}
	if got := testutil.ToFloat64(p.a.ctl.metrics.roleErrors.WithLabelValues("OFPRRFC_STALE")); got != 1 {
		t.Errorf("role_errors_total{code=OFPRRFC_STALE} = %v, want 1", got)
	}
	if n := masters(p.sw); n != 1 || p.sw.SlaveWrites() != 1 {
		t.Fatalf("%d masters, %d slave writes; want 1 and 1", n, p.sw.SlaveWrites())
	}
	if g, _ := p.sw.Generation(); g != 11 {
		t.Fatalf("generation %d after a stale request, want 11", g)
	}

	// a, told it is a slave, asks for that without lowering the
	// generation or being refused.
	p.a.ctl.SetRole(Role{Role: ofp.RoleSlave, Generation: 11})
	ofptest.WaitFor(t, "a slave", func() bool { return sa.Role().Role == ofp.RoleSlave })
	if g, _ := p.sw.Generation(); g != 11 || masters(p.sw) != 1 {
		t.Fatalf("generation %d, %d masters", g, masters(p.sw))
	}
}

func TestHADemotionStopsWritesAtOnce(t *testing.T) {
	p := startHAPair(t)
	p.a.ctl.SetRole(Role{Role: ofp.RoleMaster, Generation: 3})
	sa := p.session(t, p.a)
	ofptest.WaitFor(t, "a master", func() bool { return sa.MayWrite() && len(p.sw.Flows()) == 3 })
	// Hold the switch's answers to role requests: the demotion must not
	// wait for them.
	p.holdRoles.Store(true)
	p.a.ctl.SetRole(Role{Role: ofp.RoleSlave, Generation: 3})
	if sa.MayWrite() {
		t.Fatal("a may still write right after its demotion")
	}
	if r := p.a.ctl.Role(); r.IsMaster() {
		t.Fatalf("role %+v after demotion", r)
	}
}

func TestWithoutHAWritesAsBefore(t *testing.T) {
	app := &testApp{id: 7, flows: desiredFlows()}
	h := startController(t, Config{Apps: []App{app}})
	sw := newFake(0x52)
	h.connect(sw)
	ofptest.WaitFor(t, "flows", func() bool { return len(sw.Flows()) == 3 })
	for _, m := range sw.Received() {
		if m.Type() == ofp.TypeRoleRequest {
			t.Fatal("a ROLE_REQUEST without HA")
		}
	}
	if r := h.ctl.Role(); !r.IsMaster() {
		t.Fatalf("role without HA: %+v", r)
	}
}

func TestHAWriterDropsWritesQueuedBeforeDemotion(t *testing.T) {
	p := startHAPair(t)
	p.a.ctl.SetRole(Role{Role: ofp.RoleMaster, Generation: 4})
	sa := p.session(t, p.a)
	ofptest.WaitFor(t, "a master", func() bool { return sa.MayWrite() && len(p.sw.Flows()) == 3 })
	mods := p.sw.FlowMods()
	// A flow-mod that passed the gate while a was master and still waits
	// in the queue when the demotion comes: the writer drops it.
	p.a.ctl.SetRole(Role{Role: ofp.RoleSlave, Generation: 4})
	fm := ofp.NewFlowAdd(0, 1, AppCookie(7, 9), ofp.NewMatch())
	fm.SetXID(sa.nextXID())
	b, err := ofp.Marshal(fm)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := sa.enqueue(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := sa.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	if got := p.sw.FlowMods(); got != mods {
		t.Fatalf("a demoted master's queued flow-mod reached the switch (%d flow-mods)", got-mods)
	}
	if got := testutil.ToFloat64(p.a.ctl.metrics.writesGated.WithLabelValues("FLOW_MOD")); got != 1 {
		t.Errorf("writes_not_master_total{type=FLOW_MOD} = %v, want 1", got)
	}
}
