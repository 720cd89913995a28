package controller

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/controller/ofp"
	"github.com/sixgate/sixgate/controller/ofptest"
)

// testApp declares a fixed set of flows and records packet-ins.
type testApp struct {
	id    uint8
	flows []Flow

	mu   sync.Mutex
	pins []*ofp.PacketIn
	up   []uint64
}

func (a *testApp) Name() string            { return "test" }
func (a *testApp) CookieID() uint8         { return a.id }
func (a *testApp) Flows(sw *Switch) []Flow { return a.flows }
func (a *testApp) PacketIn(sw *Switch, pi *ofp.PacketIn) {
	a.mu.Lock()
	a.pins = append(a.pins, pi)
	a.mu.Unlock()
}
func (a *testApp) SwitchUp(sw *Switch) {
	a.mu.Lock()
	a.up = append(a.up, sw.DPID())
	a.mu.Unlock()
}
func (a *testApp) SwitchDown(sw *Switch) {}

func (a *testApp) packetIns() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.pins)
}

func (a *testApp) upCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.up)
}

func desiredFlows() []Flow {
	return []Flow{
		{Priority: 0, Instructions: []ofp.Instruction{ofp.ApplyActions(ofp.Output(ofp.PortController))}},
		{Priority: 100, Match: ofp.NewMatch(ofp.EthType(0x0806)), Cookie: 1,
			Instructions: []ofp.Instruction{ofp.ApplyActions(ofp.Output(ofp.PortController))}},
		{Priority: 200, Match: ofp.NewMatch(ofp.InPort(1), ofp.EthDst(net.HardwareAddr{0, 0, 0xa, 0, 0, 1})), Cookie: 2,
			Instructions: []ofp.Instruction{ofp.ApplyActions(ofp.Output(2))}},
	}
}

type harness struct {
	t    *testing.T
	ctl  *Controller
	addr string
	ctx  context.Context
}

func startController(t *testing.T, cfg Config) *harness {
	t.Helper()
	return startControllerOn(t, cfg, nil)
}

// startControllerOn is startController with the listener passed through
// wrap, if not nil.
func startControllerOn(t *testing.T, cfg Config, wrap func(net.Listener) net.Listener) *harness {
	t.Helper()
	log := logrus.New()
	log.SetOutput(io.Discard)
	if testing.Verbose() && os.Getenv("SIXGATE_TEST_LOG") != "" {
		log.SetOutput(os.Stderr)
		log.SetLevel(logrus.DebugLevel)
	}
	cfg.Log = logrus.NewEntry(log)
	cfg.Listen = "tcp:127.0.0.1:0"
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l, err := c.Listen()
	if err != nil {
		t.Fatal(err)
	}
	if wrap != nil {
		l = wrap(l)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	done := make(chan error, 1)
	go func() { done <- c.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after cancel")
		}
	})
	return &harness{t: t, ctl: c, addr: l.Addr().String(), ctx: ctx}
}

// connect runs sw against the controller; the returned channel gets the
// error that ended the switch's side.
func (h *harness) connect(sw *ofptest.Switch) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- sw.Dial(h.ctx, h.addr) }()
	return ch
}

func newFake(dpid uint64) *ofptest.Switch {
	return &ofptest.Switch{DPID: dpid, NTables: 254, Ports: []ofp.Port{
		{PortNo: 1, Name: "p1", HWAddr: net.HardwareAddr{2, 0, 0, 0, 0, 1}},
		{PortNo: 2, Name: "p2", HWAddr: net.HardwareAddr{2, 0, 0, 0, 0, 2}},
	}}
}

func TestHandshakeInstallsDesiredFlows(t *testing.T) {
	app := &testApp{id: 7, flows: desiredFlows()}
	h := startController(t, Config{Apps: []App{app}})
	sw := newFake(0x1)
	h.connect(sw)
	ofptest.WaitFor(t, "switch up", func() bool { return app.upCount() == 1 })

	flows := sw.Flows()
	if len(flows) != 3 {
		t.Fatalf("switch has %d flows, want 3: %+v", len(flows), flows)
	}
	for _, f := range flows {
		if f.Cookie>>CookieShift != 7 {
			t.Errorf("flow priority %d has cookie %#x, not in app 7's range", f.Priority, f.Cookie)
		}
	}
	var sawConfig, sawPortDesc bool
	for _, m := range sw.Received() {
		switch m := m.(type) {
		case *ofp.SetConfig:
			sawConfig = m.MissSendLen == ofp.MaxLenNoBuffer
		case *ofp.MultipartRequest:
			sawPortDesc = sawPortDesc || m.MPType == ofp.MultipartPortDesc
		}
	}
	if !sawConfig || !sawPortDesc {
		t.Errorf("handshake: SET_CONFIG(no buffer) %v, PORT_DESC %v", sawConfig, sawPortDesc)
	}
	s, ok := h.ctl.Switch(0x1)
	if !ok || len(s.Ports()) != 2 {
		t.Fatalf("controller knows switch %v with ports %v", ok, s)
	}
}

func TestReconcileOnConnect(t *testing.T) {
	app := &testApp{id: 7, flows: desiredFlows()}
	h := startController(t, Config{Apps: []App{app}})
	sw := newFake(0x2)
	sw.PartSize = 1 // every flow in its own REPLY_MORE part
	// Already right: kept without a flow-mod.
	d := desiredFlows()[1]
	sw.AddFlow(ofp.FlowStats{Priority: d.Priority, Match: d.Match, Cookie: AppCookie(7, d.Cookie), Instructions: d.Instructions})
	// Ours but no longer declared: deleted.
	sw.AddFlow(ofp.FlowStats{Priority: 300, Match: ofp.NewMatch(ofp.EthType(0x86dd)), Cookie: AppCookie(7, 9)})
	// Ours with stale instructions: replaced.
	d2 := desiredFlows()[2]
	sw.AddFlow(ofp.FlowStats{Priority: d2.Priority, Match: d2.Match, Cookie: AppCookie(7, d2.Cookie),
		Instructions: []ofp.Instruction{ofp.ApplyActions(ofp.Output(3))}})
	// Another controller's: left alone.
	foreign := ofp.FlowStats{Priority: 5, Match: ofp.NewMatch(ofp.EthType(0x0800)), Cookie: 0x42}
	sw.AddFlow(foreign)

	h.connect(sw)
	ofptest.WaitFor(t, "switch up", func() bool { return app.upCount() == 1 })
	if got := sw.FlowMods(); got != 3 {
		t.Errorf("sync sent %d flow-mods, want 3 (add table-miss, replace one, delete one)", got)
	}
	flows := sw.Flows()
	if len(flows) != 4 {
		t.Fatalf("switch has %d flows, want 3 declared + 1 foreign: %+v", len(flows), flows)
	}
	var sawForeign bool
	for _, f := range flows {
		if f.Cookie == foreign.Cookie {
			sawForeign = true
		}
		if f.Priority == 300 {
			t.Error("stale flow of our cookie range survived")
		}
		if got, want := mustInstructions(t, f.Instructions), mustInstructions(t, d2.Instructions); f.Priority == d2.Priority && got != want {
			t.Error("flow with stale instructions not replaced")
		}
	}
	if !sawForeign {
		t.Error("foreign flow was deleted")
	}

	// A second sync of an unchanged table changes nothing.
	s, _ := h.ctl.Switch(0x2)
	before := sw.FlowMods()
	st, err := s.Sync(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Added != 0 || st.Deleted != 0 || st.Kept != 3 || sw.FlowMods() != before {
		t.Errorf("resync of a synced table: %+v, %d flow-mods", st, sw.FlowMods()-before)
	}
}

func TestErrorMappedToRequest(t *testing.T) {
	h := startController(t, Config{})
	sw := newFake(0x3)
	sw.NTables = 2
	h.connect(sw)
	var s *Switch
	ofptest.WaitFor(t, "switch registered", func() bool { var ok bool; s, ok = h.ctl.Switch(0x3); return ok })

	good := ofp.NewFlowAdd(1, 10, 0, ofp.Match{})
	bad := ofp.NewFlowAdd(200, 10, 0, ofp.Match{})
	err := s.Apply(h.ctx, good, bad)
	var em *ofp.ErrorMsg
	if !errors.As(err, &em) {
		t.Fatalf("Apply returned %v, want an *ofp.ErrorMsg", err)
	}
	if em.ErrType != ofp.ErrFlowModFailed || em.Code != ofp.FlowModBadTableID {
		t.Errorf("error %v, want FLOW_MOD_FAILED BAD_TABLE_ID", em)
	}
	if !strings.Contains(err.Error(), "(xid ") || !strings.Contains(err.Error(), "FLOW_MOD") {
		t.Errorf("error %q does not name the failed message", err)
	}
	if err := s.Barrier(h.ctx); err != nil {
		t.Errorf("barrier after error: %v", err)
	}
}

func TestEchoTimeoutDropsSilentSwitch(t *testing.T) {
	h := startController(t, Config{EchoInterval: 50 * time.Millisecond, EchoTimeout: 100 * time.Millisecond})
	silent := newFake(0x4)
	silent.IgnoreEchoes = true
	done := h.connect(silent)
	var s *Switch
	ofptest.WaitFor(t, "switch registered", func() bool { var ok bool; s, ok = h.ctl.Switch(0x4); return ok })
	select {
	case <-s.Done():
		if err := s.Err(); err == nil || !strings.Contains(err.Error(), "echo timeout") {
			t.Errorf("session ended with %v, want an echo timeout", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("silent switch not dropped")
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("switch side still connected")
	}
}

func TestMalformedSwitchDisconnectedOthersUnaffected(t *testing.T) {
	cases := map[string][]byte{
		"length shorter than header": {0x04, 0x02, 0x00, 0x04, 0, 0, 0, 1},
		"wrong version":              {0x01, 0x02, 0x00, 0x08, 0, 0, 0, 1},
		"overrunning oxm":            mustHex(t, "040a0020000000000000000000000000000100ff80000004000000010000000000"),
	}
	for name, garbage := range cases {
		t.Run(name, func(t *testing.T) {
			h := startController(t, Config{})
			bad, good := newFake(0x5), newFake(0x6)
			badDone := h.connect(bad)
			h.connect(good)
			var gs *Switch
			ofptest.WaitFor(t, "both registered", func() bool {
				_, ok1 := h.ctl.Switch(0x5)
				var ok2 bool
				gs, ok2 = h.ctl.Switch(0x6)
				return ok1 && ok2
			})
			if err := bad.Send(garbage); err != nil {
				t.Fatal(err)
			}
			select {
			case <-badDone:
			case <-time.After(5 * time.Second):
				t.Fatal("misbehaving switch not disconnected")
			}
			ofptest.WaitFor(t, "bad switch unregistered", func() bool { _, ok := h.ctl.Switch(0x5); return !ok })
			if err := gs.Barrier(h.ctx); err != nil {
				t.Errorf("other switch: %v", err)
			}
		})
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b := make([]byte, len(s)/2)
	for i := range b {
		var v byte
		for _, c := range s[2*i : 2*i+2] {
			v <<= 4
			switch {
			case c >= '0' && c <= '9':
				v |= byte(c - '0')
			case c >= 'a' && c <= 'f':
				v |= byte(c-'a') + 10
			default:
				t.Fatalf("bad hex %q", s)
			}
		}
		b[i] = v
	}
	return b
}

func TestVersionNegotiationFailure(t *testing.T) {
	h := startController(t, Config{})
	old := newFake(0x7)
	old.HelloVersion = 0x01
	done := h.connect(old)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("OpenFlow 1.0-only switch not disconnected")
	}
	var failed bool
	for _, m := range old.Received() {
		if e, ok := m.(*ofp.ErrorMsg); ok && e.ErrType == ofp.ErrHelloFailed && e.Code == ofp.HelloFailedIncompatible {
			failed = true
		}
	}
	if !failed {
		t.Errorf("switch got %v, want an OFPET_HELLO_FAILED/INCOMPATIBLE error", old.Received())
	}
}

func TestPacketInDispatchedByCookie(t *testing.T) {
	mine := &testApp{id: 7}
	other := &testApp{id: 8}
	h := startController(t, Config{Apps: []App{mine, other}})
	sw := newFake(0x8)
	h.connect(sw)
	ofptest.WaitFor(t, "switch up", func() bool { return mine.upCount() == 1 })
	pi := &ofp.PacketIn{BufferID: ofp.NoBufferID, Cookie: AppCookie(7, 1), Match: ofp.NewMatch(ofp.InPort(1)), Data: []byte{1, 2, 3}}
	if err := sw.SendMessage(pi); err != nil {
		t.Fatal(err)
	}
	unowned := &ofp.PacketIn{BufferID: ofp.NoBufferID, Cookie: ^uint64(0), Match: ofp.NewMatch(ofp.InPort(2))}
	if err := sw.SendMessage(unowned); err != nil {
		t.Fatal(err)
	}
	ofptest.WaitFor(t, "packet-ins", func() bool { return mine.packetIns() == 2 && other.packetIns() == 1 })
}

func TestDuplicateCookieIDRejected(t *testing.T) {
	if _, err := New(Config{Apps: []App{&testApp{id: 3}, &testApp{id: 3}}}); err == nil {
		t.Error("two apps with cookie id 3 accepted")
	}
	if _, err := New(Config{Apps: []App{&testApp{id: 0}}}); err == nil {
		t.Error("cookie id 0 accepted")
	}
}

func TestDisconnectMidReconcile(t *testing.T) {
	app := &testApp{id: 7, flows: desiredFlows()}
	h := startController(t, Config{Apps: []App{app}})
	flaky, steady := newFake(0xd), newFake(0xe)
	// The flaky switch hangs up when asked for its flows, in the middle
	// of the first sync.
	flaky.HangUp = func(m ofp.Message) bool {
		mp, ok := m.(*ofp.MultipartRequest)
		return ok && mp.MPType == ofp.MultipartFlow
	}
	done := h.connect(flaky)
	h.connect(steady)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("flaky switch did not hang up")
	}
	ofptest.WaitFor(t, "steady switch synced", func() bool { return len(steady.Flows()) == 3 })
	ofptest.WaitFor(t, "flaky switch unregistered", func() bool { _, ok := h.ctl.Switch(0xd); return !ok })

	// It comes back, behaving: the sync completes.
	flaky.HangUp = nil
	h.connect(flaky)
	ofptest.WaitFor(t, "flaky switch synced after reconnecting", func() bool { return len(flaky.Flows()) == 3 })
	s, _ := h.ctl.Switch(0xe)
	if err := s.Barrier(h.ctx); err != nil {
		t.Errorf("steady switch: %v", err)
	}
}

// blockingApp makes a request to the switch from inside its first
// packet-in callback, after letting the test flood the session.
type blockingApp struct {
	testApp
	flood    chan struct{} // closed by the callback: flood now
	flooded  chan struct{} // closed by the test: flood done
	barrier  chan error
	took     chan time.Duration
	inFlight atomic.Bool
}

func (a *blockingApp) PacketIn(sw *Switch, pi *ofp.PacketIn) {
	if !a.inFlight.CompareAndSwap(false, true) {
		return
	}
	close(a.flood)
	<-a.flooded
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a.barrier <- sw.Barrier(ctx)
	a.took <- time.Since(start)
}

// A session whose event loop is busy in a callback keeps reading: a
// port status arriving behind a full packet-in queue must not stop the
// reader from delivering the reply the callback waits for.
func TestReaderNeverBlocksOnEvents(t *testing.T) {
	app := &blockingApp{testApp: testApp{id: 7}, flood: make(chan struct{}), flooded: make(chan struct{}),
		barrier: make(chan error, 1), took: make(chan time.Duration, 1)}
	h := startController(t, Config{Apps: []App{app}, EventQueue: 16})
	sw := newFake(0xf)
	h.connect(sw)
	ofptest.WaitFor(t, "switch up", func() bool { return app.upCount() == 1 })
	pi := &ofp.PacketIn{BufferID: ofp.NoBufferID, Cookie: AppCookie(7, 1), Match: ofp.NewMatch(ofp.InPort(1))}
	if err := sw.SendMessage(pi); err != nil {
		t.Fatal(err)
	}
	<-app.flood
	for range 40 {
		if err := sw.SendMessage(pi); err != nil {
			t.Fatal(err)
		}
	}
	if err := sw.SendMessage(&ofp.PortStatus{Reason: ofp.PortReasonModify, Port: ofp.Port{PortNo: 2, Config: ofp.PortConfigDown}}); err != nil {
		t.Fatal(err)
	}
	close(app.flooded)
	if err := <-app.barrier; err != nil {
		t.Fatalf("barrier from the callback: %v", err)
	}
	if took := <-app.took; took > time.Second {
		t.Errorf("barrier took %v: the reader was blocked", took)
	}
}
