package cbench

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/apps/learning"
	"github.com/sixgate/sixgate/controller"
)

// controllerAddr starts sixgate's controller core with the learning app in
// this process and returns its address.
func controllerAddr(t *testing.T) string {
	t.Helper()
	log := logrus.New()
	log.SetOutput(io.Discard)
	c, err := controller.New(controller.Config{Listen: "tcp:127.0.0.1:0",
		Apps: []controller.App{learning.New(logrus.NewEntry(log))}, Log: logrus.NewEntry(log)})
	if err != nil {
		t.Fatal(err)
	}
	l, err := c.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		c.Serve(ctx, l)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return l.Addr().String()
}

func TestThroughput(t *testing.T) {
	addr := controllerAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := Run(ctx, Config{Addr: addr, Mode: Throughput, Switches: 4, Hosts: 50, StallTimeout: 5 * time.Second,
		Warmup: 300 * time.Millisecond, Duration: 700 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(res)
	if res.PacketIns == 0 || res.PacketOuts == 0 {
		t.Fatalf("nothing measured: %+v", res)
	}
	// After the warm-up every destination is known: each packet-in brings
	// a flow-mod and a packet-out.
	if res.FlowMods < res.PacketOuts*9/10 || res.FlowMods > res.PacketOuts+uint64(4*100) {
		t.Errorf("%d flow-mods for %d packet-outs, want about one each", res.FlowMods, res.PacketOuts)
	}
	// The window bounds what is outstanding, so what was sent and what
	// was answered differ by at most a window per switch.
	if d := int64(res.PacketIns) - int64(res.PacketOuts); d > 4*100 || d < -4*100 {
		t.Errorf("%d packet-ins sent, %d answered: more apart than the windows allow", res.PacketIns, res.PacketOuts)
	}
	if res.Lost != 0 {
		t.Errorf("%d packet-ins lost", res.Lost)
	}
	if res.P50 <= 0 || res.P50 > res.P90 || res.P90 > res.P99 {
		t.Errorf("latency percentiles out of order: %v %v %v", res.P50, res.P90, res.P99)
	}
}

func TestLatency(t *testing.T) {
	addr := controllerAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := Run(ctx, Config{Addr: addr, Mode: Latency, Switches: 2, Hosts: 10,
		Warmup: 200 * time.Millisecond, Duration: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(res)
	if res.Window != 1 {
		t.Errorf("latency mode window %d, want 1", res.Window)
	}
	if res.Samples == 0 || res.P50 <= 0 {
		t.Fatalf("no latency measured: %+v", res)
	}
	// One outstanding per switch: the rate cannot exceed switches/p50 by
	// much (it is the same quantity, measured two ways).
	if limit := 2 * 2 / res.P50.Seconds(); res.ResponsesPerSec > limit {
		t.Errorf("%.0f responses/s with one outstanding per switch and p50 %v: over %.0f", res.ResponsesPerSec, res.P50, limit)
	}
}

func TestNoController(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := Run(ctx, Config{Addr: "127.0.0.1:1", Switches: 1, ConnectTimeout: 300 * time.Millisecond})
	if err == nil {
		t.Fatal("run against no controller succeeded")
	}
}
