package controller

import (
	"testing"

	"github.com/sixgate/sixgate/controller/ofp"
	"github.com/sixgate/sixgate/controller/ofptest"
)

// meterApp declares meters 1 (pktps drop at 100) and 2 (kbps drop at
// 1000), and a flow that uses meter 1.
type meterApp struct {
	testApp
	meters []Meter
}

func (a *meterApp) Meters(*Switch) []Meter { return a.meters }

func dropBand(rate, burst uint32) []ofp.MeterBand {
	return []ofp.MeterBand{&ofp.MeterBandDrop{Rate: rate, BurstSize: burst}}
}

func meterFake(dpid uint64) *ofptest.Switch {
	sw := newFake(dpid)
	sw.Meters = true
	return sw
}

// TestPacketInMeterRemovedWhenNoLongerWanted: a controller meter left by
// an earlier run with packet_in_rate goes once the controller runs
// without; other controllers' meters stay.
func TestPacketInMeterRemovedWhenNoLongerWanted(t *testing.T) {
	app := &testApp{id: 7, flows: desiredFlows()}
	h := startController(t, Config{Apps: []App{app}})
	sw := meterFake(0x21)
	sw.SetMeter(ofp.MeterConfig{MeterID: ofp.MeterController, Flags: ofp.MeterFlagPktps | ofp.MeterFlagStats, Bands: dropBand(500, 0)})
	sw.SetMeter(ofp.MeterConfig{MeterID: 5, Flags: ofp.MeterFlagKbps, Bands: dropBand(10, 0)})
	sw.SetMeter(ofp.MeterConfig{MeterID: AppMeterID(7, 1), Flags: ofp.MeterFlagKbps, Bands: dropBand(10, 0)})
	h.connect(sw)
	ofptest.WaitFor(t, "switch up", func() bool { return app.upCount() == 1 })
	ms := sw.MeterConfigs()
	if _, ok := ms[ofp.MeterController]; ok {
		t.Error("the packet-in meter of an earlier run is still there")
	}
	if _, ok := ms[5]; !ok {
		t.Error("a foreign meter was deleted")
	}
	if _, ok := ms[AppMeterID(7, 1)]; !ok {
		t.Error("a meter in the range of an app that declares no meters was deleted")
	}
	s, _ := h.ctl.Switch(0x21)
	if st, err := s.Sync(h.ctx); err != nil || st.Meters != 0 {
		t.Errorf("second sync: %+v, %v; want no meter-mod", st, err)
	}
}

// TestPacketInMeterKeptAndRestored: with packet_in_rate the controller
// meter is desired state: installed at connect, left alone by syncs while
// it is right, put back when it is changed or removed behind the
// controller's back.
func TestPacketInMeterKeptAndRestored(t *testing.T) {
	app := &testApp{id: 7}
	h := startController(t, Config{Apps: []App{app}, PacketInRate: 300, PacketInBurst: 30})
	sw := meterFake(0x22)
	h.connect(sw)
	ofptest.WaitFor(t, "switch up", func() bool { return app.upCount() == 1 })
	want := sw.MeterConfigs()[ofp.MeterController]
	if b, ok := want.Bands[0].(*ofp.MeterBandDrop); !ok || b.Rate != 300 || b.BurstSize != 30 {
		t.Fatalf("controller meter %+v, want a drop band at 300 burst 30", want)
	}
	s, _ := h.ctl.Switch(0x22)
	if st, err := s.Sync(h.ctx); err != nil || st.Meters != 0 {
		t.Errorf("sync of a right meter: %+v, %v; want no meter-mod", st, err)
	}
	sw.SetMeter(ofp.MeterConfig{MeterID: ofp.MeterController, Flags: ofp.MeterFlagPktps, Bands: dropBand(9, 0)})
	if st, err := s.Sync(h.ctx); err != nil || st.Meters != 1 {
		t.Errorf("sync of a changed meter: %+v, %v; want one meter-mod", st, err)
	}
	if got := sw.MeterConfigs()[ofp.MeterController]; got.Flags != want.Flags || got.Bands[0].(*ofp.MeterBandDrop).Rate != 300 {
		t.Errorf("meter after sync %+v, want %+v", got, want)
	}
}

// TestAppMetersSyncedAsDesiredState: app meters carry the app's cookie id
// in their top byte; missing ones are added, changed ones modified, stale
// ones of the app deleted, before and after the flows as groups are.
func TestAppMetersSyncedAsDesiredState(t *testing.T) {
	app := &meterApp{testApp: testApp{id: 7, flows: []Flow{{Priority: 10, Match: ofp.NewMatch(ofp.EthType(0x0800)),
		Instructions: []ofp.Instruction{&ofp.InstructionMeter{MeterID: AppMeterID(7, 1)}}}}},
		meters: []Meter{
			{ID: 1, Flags: ofp.MeterFlagPktps, Bands: dropBand(100, 0)},
			{ID: 2, Flags: ofp.MeterFlagKbps, Bands: dropBand(1000, 0)},
		}}
	h := startController(t, Config{Apps: []App{app}})
	sw := meterFake(0x23)
	sw.SetMeter(ofp.MeterConfig{MeterID: AppMeterID(7, 2), Flags: ofp.MeterFlagKbps, Bands: dropBand(1, 0)})
	sw.SetMeter(ofp.MeterConfig{MeterID: AppMeterID(7, 9), Flags: ofp.MeterFlagKbps, Bands: dropBand(1, 0)})
	sw.SetMeter(ofp.MeterConfig{MeterID: AppMeterID(8, 1), Flags: ofp.MeterFlagKbps, Bands: dropBand(1, 0)})
	h.connect(sw)
	ofptest.WaitFor(t, "switch up", func() bool { return app.upCount() == 1 })
	ms := sw.MeterConfigs()
	if len(ms) != 3 {
		t.Errorf("meters %v, want the app's 1 and 2 and the other range's", ms)
	}
	if m := ms[AppMeterID(7, 2)]; m.Bands[0].(*ofp.MeterBandDrop).Rate != 1000 {
		t.Errorf("meter 2 not modified: %+v", m)
	}
	if _, ok := ms[AppMeterID(7, 9)]; ok {
		t.Error("stale meter of the app kept")
	}
	if _, ok := ms[AppMeterID(8, 1)]; !ok {
		t.Error("meter of an id no app owns deleted")
	}
	firstMeter, firstFlow, lastMeter := -1, -1, -1
	for i, m := range sw.Received() {
		switch m.(type) {
		case *ofp.MeterMod:
			if firstMeter < 0 {
				firstMeter = i
			}
			lastMeter = i
		case *ofp.FlowMod:
			if firstFlow < 0 {
				firstFlow = i
			}
		}
	}
	if firstMeter < 0 || firstFlow < firstMeter || lastMeter < firstFlow {
		t.Errorf("meter-mods at %d..%d, first flow-mod at %d: want meters added before and deleted after", firstMeter, lastMeter, firstFlow)
	}
	s, _ := h.ctl.Switch(0x23)
	if st, err := s.Sync(h.ctx); err != nil || st.Meters != 0 || st.Added != 0 {
		t.Errorf("second sync: %+v, %v; want nothing changed", st, err)
	}
}

// TestSyncWithoutMeterSupport: a switch that cannot list meters is synced
// as before when no meter is wanted.
func TestSyncWithoutMeterSupport(t *testing.T) {
	app := &testApp{id: 7, flows: desiredFlows()}
	h := startController(t, Config{Apps: []App{app}})
	sw := newFake(0x24)
	h.connect(sw)
	ofptest.WaitFor(t, "switch up", func() bool { return app.upCount() == 1 })
	s, _ := h.ctl.Switch(0x24)
	if _, err := s.Sync(h.ctx); err != nil {
		t.Errorf("sync of a switch without meters: %v", err)
	}
	if n := len(sw.Flows()); n != 3 {
		t.Errorf("%d flows, want 3", n)
	}
}

// TestMeterBodyBurstOnlyWithBurstFlag: without OFPMF_BURST the burst size
// Open vSwitch reports (the rate) is no difference; with it, it is.
func TestMeterBodyBurstOnlyWithBurstFlag(t *testing.T) {
	body := func(flags uint16, rate, burst uint32) string {
		t.Helper()
		b, err := meterBody(flags, []ofp.MeterBand{&ofp.MeterBandDrop{Rate: rate, BurstSize: burst},
			&ofp.MeterBandDSCPRemark{Rate: rate * 2, BurstSize: burst, PrecLevel: 1}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if body(ofp.MeterFlagPktps, 500, 0) != body(ofp.MeterFlagPktps, 500, 500) {
		t.Error("without the burst flag, burst sizes 0 and 500 differ")
	}
	if body(ofp.MeterFlagPktps|ofp.MeterFlagBurst, 500, 50) == body(ofp.MeterFlagPktps|ofp.MeterFlagBurst, 500, 60) {
		t.Error("with the burst flag, burst sizes 50 and 60 compare equal")
	}
	if body(ofp.MeterFlagPktps, 500, 0) == body(ofp.MeterFlagPktps, 501, 0) {
		t.Error("rates 500 and 501 compare equal")
	}
	if body(ofp.MeterFlagPktps, 500, 0) == body(ofp.MeterFlagKbps, 500, 0) {
		t.Error("pktps and kbps compare equal")
	}
}
