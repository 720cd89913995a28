package test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/controller"
	"github.com/sixgate/sixgate/controller/ofp"
	"github.com/sixgate/sixgate/test/ovs"
)

// meterApp declares the meters it holds (none when empty).
type meterApp struct{ meters []controller.Meter }

func (meterApp) Name() string                                   { return "meters" }
func (meterApp) CookieID() uint8                                { return 0xa }
func (a meterApp) Meters(*controller.Switch) []controller.Meter { return a.meters }

// serveController runs a controller for apps on listen until the returned
// function is called; beforeServe, if set, runs once it listens.
func serveController(t *testing.T, ctx context.Context, cfg controller.Config, beforeServe func(addr string)) (*controller.Controller, string, func()) {
	t.Helper()
	log := logrus.New()
	log.SetOutput(io.Discard)
	cfg.Log = logrus.NewEntry(log)
	c, err := controller.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l, err := c.Listen()
	if err != nil {
		t.Fatal(err)
	}
	if beforeServe != nil {
		beforeServe(l.Addr().String())
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); c.Serve(ctx, l) }()
	return c, l.Addr().String(), func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("controller did not stop")
		}
	}
}

// dumpMeters returns the bridge's meters, one line each with its bands.
func dumpMeters(t *testing.T, b *ovs.Bridge) []string {
	t.Helper()
	var out []string
	for _, l := range strings.Split(ovs.Run(t, "ovs-ofctl", "-O", "OpenFlow13", "dump-meters", b.Name), "\n") {
		switch l = strings.TrimSpace(l); {
		case l == "" || strings.HasPrefix(l, "OFPST_METER_CONFIG"):
		case strings.HasPrefix(l, "meter=") || len(out) == 0:
			out = append(out, l)
		default:
			out[len(out)-1] += " " + l
		}
	}
	return out
}

func hasMeter(ms []string, prefix string) bool {
	for _, m := range ms {
		if strings.HasPrefix(m, prefix) {
			return true
		}
	}
	return false
}

// TestOVSMetersDesiredState: the packet-in meter and app meters are
// installed, kept as Open vSwitch reports them, and removed after a
// restart that no longer wants them; a meter of another controller stays.
func TestOVSMetersDesiredState(t *testing.T) {
	ovs.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	appMeter := controller.AppMeterID(0xa, 1)
	withMeters := meterApp{meters: []controller.Meter{{ID: 1, Flags: ofp.MeterFlagKbps | ofp.MeterFlagStats,
		Bands: []ofp.MeterBand{&ofp.MeterBandDrop{Rate: 2000}}}}}
	var b *ovs.Bridge
	_, addr, stop := serveController(t, ctx, controller.Config{Listen: "tcp:127.0.0.1:0",
		PacketInRate: 500, PacketInBurst: 50, Apps: []controller.App{withMeters}}, func(addr string) {
		b = ovs.NewBridge(t, "sgmeter", 0xc2, "tcp:"+addr)
		ovs.Run(t, "ovs-ofctl", "-O", "OpenFlow13", "add-meter", b.Name, "meter=5,pktps,band=type=drop,rate=10")
	})
	var ms []string
	if !ovs.Wait(20*time.Second, func() bool {
		ms = dumpMeters(t, b)
		return hasMeter(ms, "meter=controller ") && hasMeter(ms, "meter=167772161 ") && hasMeter(ms, "meter=5 ")
	}) {
		t.Fatalf("meters:\n%s\nwant the controller meter, the app's %d and the foreign 5", join(ms), appMeter)
	}
	t.Logf("with packet_in_rate and an app meter:\n%s", join(ms))
	stop()

	// Restart without packet_in_rate, the app declaring no meter.
	ctl, _, stop2 := serveController(t, ctx, controller.Config{Listen: "tcp:" + addr,
		Apps: []controller.App{meterApp{}}}, nil)
	defer stop2()
	if !ovs.Wait(30*time.Second, func() bool {
		ms = dumpMeters(t, b)
		return !hasMeter(ms, "meter=controller ") && !hasMeter(ms, "meter=167772161 ")
	}) {
		t.Fatalf("after a restart without them, meters:\n%s", join(ms))
	}
	t.Logf("after the restart:\n%s", join(ms))
	if !hasMeter(ms, "meter=5 ") {
		t.Errorf("the foreign meter 5 was removed:\n%s", join(ms))
	}
	var sw *controller.Switch
	if !ovs.Wait(20*time.Second, func() bool { var ok bool; sw, ok = ctl.Switch(b.DPID); return ok }) {
		t.Fatal("bridge not connected")
	}
	if st, err := sw.Sync(ctx); err != nil || st.Meters != 0 {
		t.Errorf("sync after the restart: %+v, %v; want no meter-mod", st, err)
	}
}

// TestOVSMetersKeptAsReported: what Open vSwitch reports of the meters the
// controller set compares equal to them: a further sync sends no
// meter-mod.
func TestOVSMetersKeptAsReported(t *testing.T) {
	ovs.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, burst := range []int{0, 50} {
		app := meterApp{meters: []controller.Meter{
			{ID: 1, Flags: ofp.MeterFlagKbps | ofp.MeterFlagStats, Bands: []ofp.MeterBand{&ofp.MeterBandDrop{Rate: 2000}}},
			{ID: 2, Flags: ofp.MeterFlagPktps | ofp.MeterFlagBurst, Bands: []ofp.MeterBand{&ofp.MeterBandDrop{Rate: 100, BurstSize: 20}}},
		}}
		ctl, addr, stop := serveController(t, ctx, controller.Config{Listen: "tcp:127.0.0.1:0",
			PacketInRate: 500, PacketInBurst: burst, Apps: []controller.App{app}}, nil)
		b := ovs.NewBridge(t, "sgmeter2", 0xc3, "tcp:"+addr)
		var sw *controller.Switch
		if !ovs.Wait(20*time.Second, func() bool { var ok bool; sw, ok = ctl.Switch(b.DPID); return ok }) {
			t.Fatal("bridge not connected")
		}
		var ms []string
		if !ovs.Wait(20*time.Second, func() bool { ms = dumpMeters(t, b); return len(ms) == 3 }) {
			t.Fatalf("meters:\n%s", join(ms))
		}
		t.Logf("burst %d:\n%s", burst, join(ms))
		for i := range 2 {
			if st, err := sw.Sync(ctx); err != nil || st.Meters != 0 {
				t.Errorf("burst %d: sync %d: %+v, %v; want no meter-mod", burst, i+1, st, err)
			}
		}
		stop()
	}
}
