package controller

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sixgate/sixgate/controller/ofp"
	"github.com/sixgate/sixgate/controller/ofptest"
)

// emfileListener fails its first accepts with EMFILE, as a process out of
// descriptors does.
type emfileListener struct {
	net.Listener
	fails atomic.Int32
}

func (l *emfileListener) Accept() (net.Conn, error) {
	if l.fails.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

func TestAcceptErrorsRetried(t *testing.T) {
	app := &testApp{id: 7, flows: desiredFlows()}
	var el *emfileListener
	h := startControllerOn(t, Config{Apps: []App{app}}, func(l net.Listener) net.Listener {
		el = &emfileListener{Listener: l}
		el.fails.Store(4)
		return el
	})
	start := time.Now()
	h.connect(newFake(0x21))
	ofptest.WaitFor(t, "switch up after EMFILE", func() bool { return app.upCount() == 1 })
	if n := testutil.ToFloat64(h.ctl.metrics.acceptErrors); n != 4 {
		t.Errorf("accept errors counted: %v, want 4", n)
	}
	// 5+10+20+40 ms of back-off.
	if took := time.Since(start); took < 75*time.Millisecond {
		t.Errorf("switch served %v after 4 failed accepts: no back-off", took)
	}
}

// dialFrom opens a TCP connection to addr from the loopback address src.
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedSoon tells whether the controller closed c within d.
func closedSoon(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 1024)
	for {
		if _, err := c.Read(buf); err != nil {
			var ne net.Error
			return !(errors.As(err, &ne) && ne.Timeout())
		}
	}
}

func TestHandshakesBoundedPerSource(t *testing.T) {
	app := &testApp{id: 7, flows: desiredFlows()}
	h := startController(t, Config{Apps: []App{app}, MaxHandshakes: 40, MaxHandshakesPerSource: 8})
	// 60 connections from one address that never say HELLO: 8 hold a
	// handshake slot, the others are closed at once.
	var conns []net.Conn
	for range 60 {
		conns = append(conns, dialFrom(t, "127.0.0.2", h.addr))
	}
	ofptest.WaitFor(t, "52 refused", func() bool {
		return testutil.ToFloat64(h.ctl.metrics.refused.WithLabelValues("handshakes_per_source")) == 52
	})
	if n := h.ctl.inHandshake(); n != 8 {
		t.Errorf("%d connections in handshake, want 8", n)
	}
	closed := 0
	for _, c := range conns {
		if closedSoon(c, 50*time.Millisecond) {
			closed++
		}
	}
	if closed != 52 {
		t.Errorf("%d idle connections closed, want 52", closed)
	}
	// A real switch from another address is served meanwhile.
	sw := newFake(0x22)
	h.connect(sw)
	ofptest.WaitFor(t, "switch up beside the idle connections", func() bool { return app.upCount() == 1 })
	if n := len(sw.Flows()); n != 3 {
		t.Errorf("switch has %d flows, want 3", n)
	}

	// The global bound: 40 slots, 8 taken; 4 more addresses at 8 each
	// fill it, and the next connection is refused whatever its source.
	for i := range 4 {
		for range 8 {
			dialFrom(t, "127.0.1."+string(rune('1'+i)), h.addr)
		}
	}
	ofptest.WaitFor(t, "40 in handshake", func() bool { return h.ctl.inHandshake() == 40 })
	c := dialFrom(t, "127.0.2.1", h.addr)
	if !closedSoon(c, 2*time.Second) {
		t.Error("connection beyond the global bound not closed")
	}
	if n := testutil.ToFloat64(h.ctl.metrics.refused.WithLabelValues("handshakes")); n != 1 {
		t.Errorf("refused for the global bound: %v, want 1", n)
	}
}

// chatter sends, from the moment sw is connected until stop is closed,
// what a busy switch sends unasked: port status, echo requests,
// packet-ins, errors and replies nobody asked for.
func chatter(sw *ofptest.Switch, stop <-chan struct{}) {
	msgs := []ofp.Message{
		&ofp.PortStatus{Reason: ofp.PortReasonModify, Port: ofp.Port{PortNo: 1, Name: "p1", HWAddr: net.HardwareAddr{2, 0, 0, 0, 0, 1}}},
		&ofp.EchoRequest{Data: []byte("busy")},
		&ofp.PacketIn{BufferID: ofp.NoBufferID, Cookie: ^uint64(0), Match: ofp.NewMatch(ofp.InPort(1)), Data: []byte{1, 2, 3}},
		&ofp.ErrorMsg{ErrType: ofp.ErrBadRequest, Code: ofp.BadRequestBadType},
		&ofp.GetConfigReply{},
	}
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		m := msgs[i%len(msgs)]
		m.SetXID(uint32(i))
		sw.SendMessage(m)
		// Fast, but not so fast that port status fills the control
		// queue (which would rightly end the session).
		time.Sleep(200 * time.Microsecond)
	}
}

// Switches that talk from the first moment race nothing in the session
// (run with -race).
func TestHandshakeWithChattySwitches(t *testing.T) {
	app := &testApp{id: 7, flows: desiredFlows()}
	h := startController(t, Config{Apps: []App{app}, EchoInterval: 10 * time.Millisecond, EchoTimeout: 5 * time.Second})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 4 {
		sw := newFake(uint64(0x30 + i))
		h.connect(sw)
		wg.Add(1)
		go func() {
			defer wg.Done()
			chatter(sw, stop)
		}()
	}
	ofptest.WaitFor(t, "4 switches up", func() bool { return app.upCount() == 4 })
	for _, s := range h.ctl.Switches() {
		if s.Err() != nil || len(s.Ports()) != 2 || s.Features().NTables != 254 || s.String() == "" {
			t.Errorf("switch %v: err %v, %d ports", s, s.Err(), len(s.Ports()))
		}
	}
	time.Sleep(100 * time.Millisecond)
	close(stop)
	wg.Wait()
}

// portDescAround injects msgs before (or after) the switch's first
// PORT_DESC reply.
func portDescAround(before bool, msgs ...ofp.Message) func(ofp.Message) ([]ofp.Message, []ofp.Message) {
	var once sync.Once
	return func(m ofp.Message) (b, a []ofp.Message) {
		if mp, ok := m.(*ofp.MultipartRequest); ok && mp.MPType == ofp.MultipartPortDesc {
			once.Do(func() {
				if before {
					b = msgs
				} else {
					a = msgs
				}
			})
		}
		return b, a
	}
}

// A PORT_STATUS read before the PORT_DESC reply was sent before the
// switch answered: the reply is newer and wins.
func TestPortStatusBeforePortDescReply(t *testing.T) {
	app := &testApp{id: 7}
	h := startController(t, Config{Apps: []App{app}})
	sw := newFake(0x41)
	sw.Around = portDescAround(true, &ofp.PortStatus{Reason: ofp.PortReasonModify,
		Port: ofp.Port{PortNo: 2, Name: "p2", Config: ofp.PortConfigDown}},
		&ofp.PortStatus{Reason: ofp.PortReasonAdd, Port: ofp.Port{PortNo: 3, Name: "p3"}},
		&ofp.PortStatus{Reason: ofp.PortReasonDelete, Port: ofp.Port{PortNo: 3, Name: "p3"}})
	h.connect(sw)
	ofptest.WaitFor(t, "switch up", func() bool { return app.upCount() == 1 })
	s, _ := h.ctl.Switch(0x41)
	ps := s.Ports()
	if len(ps) != 2 || ps[1].PortNo != 2 || ps[1].Config != 0 {
		t.Errorf("ports %+v, want the reply's: 1 and 2, both up", ps)
	}
}

// A PORT_STATUS read after the reply is newer: a port deleted right after
// the switch answered stays deleted.
func TestPortStatusAfterPortDescReply(t *testing.T) {
	app := &testApp{id: 7}
	h := startController(t, Config{Apps: []App{app}})
	sw := newFake(0x42)
	sw.Around = portDescAround(false,
		&ofp.PortStatus{Reason: ofp.PortReasonDelete, Port: ofp.Port{PortNo: 2, Name: "p2"}},
		&ofp.PortStatus{Reason: ofp.PortReasonModify, Port: ofp.Port{PortNo: 1, Name: "p1", Config: ofp.PortConfigDown}})
	h.connect(sw)
	ofptest.WaitFor(t, "switch up", func() bool { return app.upCount() == 1 })
	s, _ := h.ctl.Switch(0x42)
	ps := s.Ports()
	if len(ps) != 1 || ps[0].PortNo != 1 || ps[0].Config != ofp.PortConfigDown {
		t.Errorf("ports %+v, want only port 1, down", ps)
	}
}

// bigPart is a multipart reply part of about 60 kB.
func bigPart(xid uint32, t ofp.MultipartType, more bool) *ofp.MultipartReply {
	m := &ofp.MultipartReply{MPType: t, Body: &ofp.MultipartRaw{Data: make([]byte, 60000)}}
	if more {
		m.Flags = ofp.MultipartMore
	}
	m.SetXID(xid)
	return m
}

const bigPartLen = 60016

func isExperimenterMP(m ofp.Message) bool {
	mp, ok := m.(*ofp.MultipartRequest)
	return ok && mp.MPType == ofp.MultipartExperimenter
}

// request starts an EXPERIMENTER multipart request on s and returns the
// xid the switch received it with and where its result goes.
func request(t *testing.T, h *harness, s *Switch, sw *ofptest.Switch) (uint32, <-chan error) {
	t.Helper()
	seen := len(sw.Received())
	done := make(chan error, 1)
	go func() {
		parts, err := s.Multipart(h.ctx, &ofp.MultipartRequest{MPType: ofp.MultipartExperimenter,
			Body: &ofp.MultipartExperimenterBody{Experimenter: 1}})
		if err == nil && len(parts) == 0 {
			err = errors.New("no parts")
		}
		done <- err
	}()
	var xid uint32
	ofptest.WaitFor(t, "request received", func() bool {
		for _, m := range sw.Received()[seen:] {
			if isExperimenterMP(m) {
				xid = m.XID()
				return true
			}
		}
		return false
	})
	return xid, done
}

func TestMultipartBounds(t *testing.T) {
	app := &testApp{id: 7}
	h := startController(t, Config{Apps: []App{app}, MaxMultipartBytes: 4 * bigPartLen, MaxMultipartTotal: 5 * bigPartLen})
	a, b := newFake(0x51), newFake(0x52)
	a.Ignore, b.Ignore = isExperimenterMP, isExperimenterMP
	h.connect(a)
	h.connect(b)
	ofptest.WaitFor(t, "switches up", func() bool { return app.upCount() == 2 })
	sa, _ := h.ctl.Switch(0x51)
	sb, _ := h.ctl.Switch(0x52)
	held := func() int64 { return h.ctl.multipartBytes.Load() }

	// One reply beyond the per-request bound: that request fails, the
	// session goes on.
	xid, done := request(t, h, sa, a)
	for range 5 {
		a.SendMessage(bigPart(xid, ofp.MultipartExperimenter, true))
	}
	if err := <-done; !errors.Is(err, ErrMultipartTooLarge) {
		t.Fatalf("oversized reply: %v, want ErrMultipartTooLarge", err)
	}
	a.SendMessage(bigPart(xid, ofp.MultipartExperimenter, false)) // the rest is dropped
	if err := sa.Barrier(h.ctx); err != nil {
		t.Fatalf("session after an aborted reply: %v", err)
	}
	if n := testutil.ToFloat64(h.ctl.metrics.multipartAborted.WithLabelValues("request")); n != 1 {
		t.Errorf("aborted for the per-request bound: %v, want 1", n)
	}
	if n := held(); n != 0 {
		t.Errorf("%d bytes still held after the abort", n)
	}

	// Two replies in progress beyond the total: the one that crosses it
	// fails; the other completes.
	xa, doneA := request(t, h, sa, a)
	xb, doneB := request(t, h, sb, b)
	for range 3 {
		a.SendMessage(bigPart(xa, ofp.MultipartExperimenter, true))
	}
	ofptest.WaitFor(t, "3 parts held", func() bool { return held() == 3*bigPartLen })
	for range 3 {
		b.SendMessage(bigPart(xb, ofp.MultipartExperimenter, true))
	}
	if err := <-doneB; !errors.Is(err, ErrMultipartTooLarge) {
		t.Fatalf("reply beyond the total: %v, want ErrMultipartTooLarge", err)
	}
	a.SendMessage(bigPart(xa, ofp.MultipartExperimenter, false))
	if err := <-doneA; err != nil {
		t.Fatalf("reply within the total: %v", err)
	}
	if n := testutil.ToFloat64(h.ctl.metrics.multipartAborted.WithLabelValues("total")); n != 1 {
		t.Errorf("aborted for the total: %v, want 1", n)
	}
	ofptest.WaitFor(t, "budget back to 0", func() bool { return held() == 0 })
	if err := sb.Barrier(h.ctx); err != nil {
		t.Errorf("session b after an aborted reply: %v", err)
	}
}

// A switch whose port description exceeds the handshake's bound is
// disconnected.
func TestOversizedPortDescEndsHandshake(t *testing.T) {
	h := startController(t, Config{})
	sw := newFake(0x53)
	sw.Around = func(m ofp.Message) (before, after []ofp.Message) {
		if mp, ok := m.(*ofp.MultipartRequest); ok && mp.MPType == ofp.MultipartPortDesc {
			for range 20 {
				before = append(before, bigPart(m.XID(), ofp.MultipartPortDesc, true))
			}
		}
		return before, nil
	}
	done := h.connect(sw)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("switch with a 1.2 MB port description still connected")
	}
	if _, ok := h.ctl.Switch(0x53); ok {
		t.Error("switch registered")
	}
	if n := testutil.ToFloat64(h.ctl.metrics.multipartAborted.WithLabelValues("request")); n != 1 {
		t.Errorf("aborted: %v, want 1", n)
	}
	ofptest.WaitFor(t, "budget back to 0", func() bool { return h.ctl.multipartBytes.Load() == 0 })
}

// errorsReceived returns the ERROR messages sw got.
func errorsReceived(sw *ofptest.Switch) []*ofp.ErrorMsg {
	var out []*ofp.ErrorMsg
	for _, m := range sw.Received() {
		if e, ok := m.(*ofp.ErrorMsg); ok {
			out = append(out, e)
		}
	}
	return out
}

func TestWrongVersionGetsBadVersion(t *testing.T) {
	h := startController(t, Config{})
	sw := newFake(0x61)
	done := h.connect(sw)
	ofptest.WaitFor(t, "switch registered", func() bool { _, ok := h.ctl.Switch(0x61); return ok })
	// An ECHO_REQUEST of OpenFlow 1.4.
	msg := []byte{0x05, 0x02, 0x00, 0x0c, 0, 0, 0x12, 0x34, 'a', 'b', 'c', 'd'}
	if err := sw.Send(msg); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("session not closed after a message of another version")
	}
	es := errorsReceived(sw)
	if len(es) != 1 || es[0].ErrType != ofp.ErrBadRequest || es[0].Code != ofp.BadRequestBadVersion ||
		es[0].XID() != 0x1234 || string(es[0].Data) != string(msg) {
		t.Errorf("errors received %+v, want one BAD_REQUEST/BAD_VERSION for xid 0x1234 quoting the message", es)
	}
}

func TestUnknownTypeGetsBadType(t *testing.T) {
	h := startController(t, Config{})
	sw := newFake(0x62)
	h.connect(sw)
	var s *Switch
	ofptest.WaitFor(t, "switch registered", func() bool { var ok bool; s, ok = h.ctl.Switch(0x62); return ok })
	msg := []byte{0x04, 0x63, 0x00, 0x0c, 0, 0, 0x43, 0x21, 1, 2, 3, 4}
	if err := sw.Send(msg); err != nil {
		t.Fatal(err)
	}
	// The session goes on.
	if err := s.Barrier(h.ctx); err != nil {
		t.Fatalf("barrier after an unknown type: %v", err)
	}
	ofptest.WaitFor(t, "an error", func() bool { return len(errorsReceived(sw)) == 1 })
	e := errorsReceived(sw)[0]
	if e.ErrType != ofp.ErrBadRequest || e.Code != ofp.BadRequestBadType || e.XID() != 0x4321 || string(e.Data) != string(msg) {
		t.Errorf("error %+v, want BAD_REQUEST/BAD_TYPE for xid 0x4321 quoting the message", e)
	}
	if s.Err() != nil {
		t.Errorf("session ended: %v", s.Err())
	}
}

// orderApp records SwitchUp and SwitchDown by session, taking its time
// over SwitchDown as an app tearing down state does.
type orderApp struct {
	testApp
	mu2    sync.Mutex
	events []string
	ids    map[*Switch]int
}

func (a *orderApp) record(kind string, sw *Switch) {
	a.mu2.Lock()
	defer a.mu2.Unlock()
	if a.ids == nil {
		a.ids = map[*Switch]int{}
	}
	if _, ok := a.ids[sw]; !ok {
		a.ids[sw] = len(a.ids) + 1
	}
	a.events = append(a.events, fmt.Sprintf("%s%d", kind, a.ids[sw]))
}

func (a *orderApp) SwitchUp(sw *Switch) { a.record("up", sw) }
func (a *orderApp) SwitchDown(sw *Switch) {
	time.Sleep(200 * time.Millisecond)
	a.record("down", sw)
}

func (a *orderApp) log() []string {
	a.mu2.Lock()
	defer a.mu2.Unlock()
	return append([]string(nil), a.events...)
}

func TestReconnectDeliversSwitchDownFirst(t *testing.T) {
	app := &orderApp{testApp: testApp{id: 7}}
	h := startController(t, Config{Apps: []App{app}, TakeoverProbeTimeout: 100 * time.Millisecond})
	first := newFake(0x71)
	first.IgnoreEchoes = true // the old session is dead but not yet timed out
	h.connect(first)
	ofptest.WaitFor(t, "first session up", func() bool { return len(app.log()) == 1 })
	h.connect(newFake(0x71))
	ofptest.WaitFor(t, "three events", func() bool { return len(app.log()) == 3 })
	time.Sleep(300 * time.Millisecond)
	if got := strings.Join(app.log(), " "); got != "up1 down1 up2" {
		t.Errorf("events %q, want \"up1 down1 up2\"", got)
	}
}

// A connection claiming the datapath id of a live session is refused;
// the live session is untouched.
func TestLiveSessionNotTakenOver(t *testing.T) {
	app := &testApp{id: 7, flows: desiredFlows()}
	h := startController(t, Config{Apps: []App{app}})
	owner := newFake(0x81)
	h.connect(owner)
	ofptest.WaitFor(t, "owner up", func() bool { return app.upCount() == 1 })
	live, _ := h.ctl.Switch(0x81)

	impostor := newFake(0x81)
	done := h.connect(impostor)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("impostor still connected")
	}
	if s, _ := h.ctl.Switch(0x81); s != live || live.Err() != nil {
		t.Errorf("session of 0x81 is %p (err %v), want the live one %p", s, live.Err(), live)
	}
	if n := testutil.ToFloat64(h.ctl.metrics.refused.WithLabelValues("dpid_in_use")); n != 1 {
		t.Errorf("refused for a live datapath: %v, want 1", n)
	}
	if err := live.Barrier(h.ctx); err != nil {
		t.Errorf("live session after the attempt: %v", err)
	}
	if app.upCount() != 1 {
		t.Errorf("%d SwitchUp, want 1", app.upCount())
	}
}

func TestReclaimAfterBurst(t *testing.T) {
	h := startController(t, Config{})
	c := h.ctl
	freed := 0
	c.reclaim.mu.Lock()
	c.reclaim.free = func() { freed++ }
	c.reclaim.mu.Unlock()
	now := time.Now()
	// A small burst: nothing to return.
	c.multipartReserve(1 << 20)
	c.multipartRelease(1 << 20)
	if c.maybeReclaim(now) {
		t.Error("reclaimed after a 1 MiB burst")
	}
	// A big one, still held: wait.
	c.multipartReserve(40 << 20)
	if c.maybeReclaim(now) {
		t.Error("reclaimed while the burst is held")
	}
	// Drained: return it, once.
	c.multipartRelease(40 << 20)
	if !c.maybeReclaim(now) || freed != 1 {
		t.Errorf("not reclaimed after the burst drained (%d)", freed)
	}
	if c.maybeReclaim(now.Add(10 * time.Second)) {
		t.Error("reclaimed again without a new burst")
	}
}
