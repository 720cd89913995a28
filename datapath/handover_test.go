package datapath_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sixgate/sixgate/datapath"
	"github.com/sixgate/sixgate/topo"
)

// TestQuiesceHoldsFrames: a quiesced path reads nothing from its engine
// ports, so frames wait for the process taking over; resumed (the
// hand-over failed), it goes on with them.
func TestQuiesceHoldsFrames(t *testing.T) {
	port := newMemPort()
	app, _ := newEcho(t, datapath.Config{
		Mode:     topo.DataPathPort,
		Ports:    []*topo.EnginePort{{Interface: "mem0", Switch: "s1", DPID: 1, Port: 10}},
		OpenPort: func(*topo.EnginePort) (datapath.PortIO, error) { return port, nil },
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := app.Start(ctx, nil); err != nil {
		t.Fatal(err)
	}
	app.Quiesce()
	payload := "ping while quiesced"
	port.rx <- frameFromH1(t, echo4, payload)
	deadline := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(deadline) {
		if len(port.rx) != 1 {
			t.Fatal("a quiesced path read a frame")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, _, err := app.HandoverPorts(); err == nil || !strings.Contains(err.Error(), "cannot be handed over") {
		t.Errorf("hand-over of an in-memory port: %v", err)
	}
	app.Resume()
	checkEchoed(t, port.receiver.next(t), echo4, payload)
}

// TestAdoptPortsRefuses: a ports state that does not match its
// descriptors is refused.
func TestAdoptPortsRefuses(t *testing.T) {
	app, _ := newEcho(t, datapath.Config{
		Mode:  topo.DataPathPort,
		Ports: []*topo.EnginePort{{Interface: "mem0", Switch: "s1", DPID: 1, Port: 10}},
	})
	for _, data := range []string{
		``, `{}`, `{"version":2}`,
		`{"version":1,"ports":[{"interface":"mem0","group":{"interface":"mem0","sockets":[{"batch":1}]}}]}`,
	} {
		if err := app.AdoptPorts([]byte(data), nil); err == nil {
			t.Errorf("%q adopted without descriptors", data)
		}
	}
}
