package controller

import (
	"context"
	"testing"
	"time"

	"github.com/sixgate/sixgate/controller/ofp"
	"github.com/sixgate/sixgate/controller/ofptest"
)

// stuckApp blocks its packet-in callback until release is closed.
type stuckApp struct {
	testApp
	stuck   chan struct{}
	release chan struct{}
}

func (a *stuckApp) PacketIn(sw *Switch, pi *ofp.PacketIn) {
	close(a.stuck)
	<-a.release
}

// Alive answers through every switch's event loop: it fails while an app
// holds one in a callback and succeeds again once the callback returns.
func TestAliveGoesThroughTheEventLoop(t *testing.T) {
	app := &stuckApp{testApp: testApp{id: 7}, stuck: make(chan struct{}), release: make(chan struct{})}
	h := startController(t, Config{Apps: []App{app}})
	select {
	case <-h.ctl.Listening():
	case <-time.After(5 * time.Second):
		t.Fatal("Listening not closed while serving")
	}
	alive := func(d time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		return h.ctl.Alive(ctx)
	}
	if err := alive(time.Second); err != nil {
		t.Fatalf("no switch: %v", err)
	}
	sw := newFake(0x21)
	h.connect(sw)
	ofptest.WaitFor(t, "switch up", func() bool { return app.upCount() == 1 })
	if err := alive(5 * time.Second); err != nil {
		t.Fatalf("idle switch: %v", err)
	}
	pi := &ofp.PacketIn{BufferID: ofp.NoBufferID, Cookie: AppCookie(7, 1), Match: ofp.NewMatch(ofp.InPort(1))}
	if err := sw.SendMessage(pi); err != nil {
		t.Fatal(err)
	}
	<-app.stuck
	if err := alive(200 * time.Millisecond); err == nil {
		t.Fatal("alive while the event loop is stuck in a callback")
	} else {
		t.Logf("stuck: %v", err)
	}
	close(app.release)
	if err := alive(5 * time.Second); err != nil {
		t.Fatalf("after the callback returned: %v", err)
	}
}

func TestNotAliveWhenNotServing(t *testing.T) {
	c, err := New(Config{Listen: "tcp:127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Alive(context.Background()); err == nil {
		t.Error("alive before Serve")
	}
}
