package controller_test

import (
	"context"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/controller"
	"github.com/sixgate/sixgate/controller/controllertest"
	"github.com/sixgate/sixgate/controller/ofp"
	"github.com/sixgate/sixgate/controller/ofptest"
)

// countingApp counts what it is told.
type countingApp struct {
	up, down, packetIns atomic.Int64
}

func (a *countingApp) Name() string                               { return "counting" }
func (a *countingApp) CookieID() uint8                            { return 0x10 }
func (a *countingApp) SwitchUp(*controller.Switch)                { a.up.Add(1) }
func (a *countingApp) SwitchDown(*controller.Switch)              { a.down.Add(1) }
func (a *countingApp) PacketIn(*controller.Switch, *ofp.PacketIn) { a.packetIns.Add(1) }
func (a *countingApp) Flows(*controller.Switch) []controller.Flow { return nil }
func (a *countingApp) waitFor(t *testing.T, what string, v *atomic.Int64, n int64) {
	t.Helper()
	ofptest.WaitFor(t, what, func() bool { return v.Load() >= n })
}

var _ controller.PacketInHandler = (*countingApp)(nil)

func packetIn() *ofp.PacketIn {
	return &ofp.PacketIn{BufferID: ofp.NoBufferID, Cookie: controller.AppCookie(0x10, 1),
		Match: ofp.NewMatch(ofp.InPort(1)), Data: make([]byte, 60)}
}

// TestSessionHandover moves a live switch session to another controller
// (as to a new process): the switch never sees its connection close, a
// packet-in it sent while the session was stopped reaches the new
// controller's app, the new controller syncs it, and the session goes on
// after the old controller stops.
func TestSessionHandover(t *testing.T) {
	oldApp, newApp := &countingApp{}, &countingApp{}
	old, addr, ctx := controllertest.Start(t, oldApp)
	sw := &ofptest.Switch{DPID: 1, NTables: 254}
	ended := make(chan error, 1)
	go func() { ended <- sw.Dial(ctx, addr) }()
	oldApp.waitFor(t, "switch up at the old controller", &oldApp.up, 1)

	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ds := old.DetachSessions(dctx)
	if len(ds) != 1 || ds[0].State.DPID != 1 {
		t.Fatalf("detached %d sessions", len(ds))
	}
	// Sent while nobody reads: it waits in the connection.
	if err := sw.SendMessage(packetIn()); err != nil {
		t.Fatal(err)
	}
	b, err := ds[0].State.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var st controller.SessionState
	if err := st.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}

	log := logrus.New()
	log.SetOutput(io.Discard)
	next, err := controller.New(controller.Config{Listen: "tcp:127.0.0.1:0", Log: logrus.NewEntry(log), Apps: []controller.App{newApp}})
	if err != nil {
		t.Fatal(err)
	}
	if err := next.AdoptSession(ds[0].File, st); err != nil {
		t.Fatal(err)
	}
	l, err := next.Listen()
	if err != nil {
		t.Fatal(err)
	}
	nctx, stopNext := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { next.Serve(nctx, l); close(served) }()
	defer func() { stopNext(); <-served }()

	newApp.waitFor(t, "switch up at the new controller", &newApp.up, 1)
	newApp.waitFor(t, "the packet-in sent during the hand-over", &newApp.packetIns, 1)
	ds[0].Close()
	if err := sw.SendMessage(packetIn()); err != nil {
		t.Fatal(err)
	}
	newApp.waitFor(t, "a packet-in after the old controller let go", &newApp.packetIns, 2)
	select {
	case err := <-ended:
		t.Fatalf("the switch saw its connection end: %v", err)
	default:
	}
	if oldApp.packetIns.Load() != 0 {
		t.Errorf("the old controller handled %d packet-ins", oldApp.packetIns.Load())
	}
}

// TestSessionResume: after a failed hand-over the session goes on in the
// controller that had stopped it, with what the switch sent meanwhile.
func TestSessionResume(t *testing.T) {
	app := &countingApp{}
	c, addr, ctx := controllertest.Start(t, app)
	sw := &ofptest.Switch{DPID: 1, NTables: 254}
	go sw.Dial(ctx, addr)
	app.waitFor(t, "switch up", &app.up, 1)
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ds := c.DetachSessions(dctx)
	if len(ds) != 1 {
		t.Fatalf("detached %d sessions", len(ds))
	}
	if err := sw.SendMessage(packetIn()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // nothing may read it yet
	if app.packetIns.Load() != 0 {
		t.Fatal("a detached session handled a packet-in")
	}
	c.ResumeSessions(ds)
	app.waitFor(t, "the packet-in after resuming", &app.packetIns, 1)
	if err := sw.SendMessage(packetIn()); err != nil {
		t.Fatal(err)
	}
	app.waitFor(t, "a later packet-in", &app.packetIns, 2)
	if app.down.Load() != 0 {
		t.Error("the session went down")
	}
}

// FuzzSessionState: any input decodes to a state that encodes back to an
// equal one, or is an error.
func FuzzSessionState(f *testing.F) {
	b, _ := controller.SessionState{DPID: 1, Unread: []byte{4, 10, 0, 8, 0, 0, 0, 1}, XID: 0x1234}.MarshalBinary()
	f.Add(b)
	f.Add([]byte(`{"dpid":1,"unread":"!!","xid":-1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var st controller.SessionState
		if err := st.UnmarshalBinary(data); err != nil {
			return
		}
		b, err := st.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var again controller.SessionState
		if err := again.UnmarshalBinary(b); err != nil || again.DPID != st.DPID || again.XID != st.XID || string(again.Unread) != string(st.Unread) {
			t.Fatalf("round trip: %+v, %v", again, err)
		}
	})
}
