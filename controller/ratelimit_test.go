package controller

import (
	"testing"
	"time"

	"github.com/sixgate/sixgate/controller/ofp"
	"github.com/sixgate/sixgate/controller/ofptest"
)

func TestTokenBucket(t *testing.T) {
	b := newTokenBucket(100, 10)
	now := time.Unix(1000, 0)
	n := 0
	for range 50 {
		if b.allow(now) {
			n++
		}
	}
	if n != 10 {
		t.Errorf("burst admitted %d of 50 at one instant, want 10", n)
	}
	// A second later, the rate refills up to the burst again, no more.
	now = now.Add(time.Second)
	n = 0
	for range 50 {
		if b.allow(now) {
			n++
		}
	}
	if n != 10 {
		t.Errorf("after a second admitted %d, want the burst of 10", n)
	}
	// 50 ms later: 5 tokens.
	now = now.Add(50 * time.Millisecond)
	n = 0
	for range 50 {
		if b.allow(now) {
			n++
		}
	}
	if n != 5 {
		t.Errorf("after 50 ms admitted %d, want 5", n)
	}
}

func TestPacketInFloodThrottledOthersServed(t *testing.T) {
	flooded := &testApp{id: 7}
	h := startController(t, Config{Apps: []App{flooded}, PacketInRate: 200, PacketInBurst: 20})
	bad, good := newFake(0xb), newFake(0xc)
	h.connect(bad)
	h.connect(good)
	ofptest.WaitFor(t, "both up", func() bool { return flooded.upCount() == 2 })

	pi := func(port uint32) *ofp.PacketIn {
		return &ofp.PacketIn{BufferID: ofp.NoBufferID, Cookie: AppCookie(7, 1), Match: ofp.NewMatch(ofp.InPort(port)), Data: make([]byte, 64)}
	}
	start := time.Now()
	const flood = 5000
	for range flood {
		if err := bad.SendMessage(pi(1)); err != nil {
			t.Fatal(err)
		}
	}
	// The other switch's packet-ins still arrive.
	if err := good.SendMessage(pi(2)); err != nil {
		t.Fatal(err)
	}
	s, _ := h.ctl.Switch(0xb)
	if err := s.Barrier(h.ctx); err != nil {
		t.Fatalf("flooding switch's session: %v", err)
	}
	elapsed := time.Since(start)
	flooded.mu.Lock()
	fromBad := 0
	for _, p := range flooded.pins {
		if port, _ := p.InPort(); port == 1 {
			fromBad++
		}
	}
	flooded.mu.Unlock()
	// Burst plus the rate over the time the flood took, with slack for the
	// time the event loop needs to drain.
	limit := 20 + int(200*elapsed.Seconds()) + 20
	if fromBad > limit || fromBad == 0 {
		t.Errorf("%d of %d flooded packet-ins reached the app in %v, want between 1 and %d", fromBad, flood, elapsed, limit)
	}
	ofptest.WaitFor(t, "the other switch's packet-in", func() bool {
		flooded.mu.Lock()
		defer flooded.mu.Unlock()
		for _, p := range flooded.pins {
			if port, _ := p.InPort(); port == 2 {
				return true
			}
		}
		return false
	})
}
