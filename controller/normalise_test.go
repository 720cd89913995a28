package controller

import (
	"net"
	"net/netip"
	"testing"

	"github.com/sixgate/sixgate/controller/ofp"
	"github.com/sixgate/sixgate/controller/ofptest"
)

func masked(o ofp.OXM, mask ...byte) ofp.OXM {
	o.Mask = mask
	return o
}

// TestKeyOfNormalisesMatches: each declared match has the same key as the
// match Open vSwitch reports back for it.
func TestKeyOfNormalisesMatches(t *testing.T) {
	ip := ofp.EthType(0x0800)
	for _, tc := range []struct {
		name               string
		declared, reported ofp.Match
	}{
		{"all-zero mask omitted",
			ofp.NewMatch(ip, masked(ofp.EthDst(net.HardwareAddr{2, 0, 0, 0, 0, 1}), 0, 0, 0, 0, 0, 0)),
			ofp.NewMatch(ip)},
		{"all-zero metadata mask omitted",
			ofp.NewMatch(ofp.Metadata(0x1234, 0), ip),
			ofp.NewMatch(ip)},
		{"all-ones mask exact",
			ofp.NewMatch(ip, masked(ofp.EthDst(net.HardwareAddr{2, 0, 0, 0, 0, 1}), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)),
			ofp.NewMatch(ip, ofp.EthDst(net.HardwareAddr{2, 0, 0, 0, 0, 1}))},
		{"all-ones prefix exact",
			ofp.NewMatch(ip, masked(ofp.IPv4Dst(netip.MustParsePrefix("10.0.0.1/32")), 0xff, 0xff, 0xff, 0xff)),
			ofp.NewMatch(ip, ofp.IPv4Dst(netip.MustParsePrefix("10.0.0.1/32")))},
		{"vlan_vid mask over its 13 bits exact",
			ofp.NewMatch(masked(ofp.VlanVID(ofp.VlanPresent|5), 0x1f, 0xff)),
			ofp.NewMatch(ofp.VlanVID(ofp.VlanPresent | 5))},
		{"masked value keeps its mask's bits",
			ofp.NewMatch(ip, masked(ofp.IPv4Dst(netip.MustParsePrefix("10.0.0.1/32")), 0xff, 0xff, 0xff, 0)),
			ofp.NewMatch(ip, ofp.IPv4Dst(netip.MustParsePrefix("10.0.0.0/24")))},
		{"masked metadata",
			ofp.NewMatch(ofp.Metadata(0xabcd, 0xff00)),
			ofp.NewMatch(ofp.Metadata(0xab00, 0xff00))},
		{"field order",
			ofp.NewMatch(ofp.IPProto(6), ip),
			ofp.NewMatch(ip, ofp.IPProto(6))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if a, b := keyOf(0, 10, tc.declared), keyOf(0, 10, tc.reported); a != b {
				t.Errorf("keys differ:\ndeclared %q\nreported %q", a.match, b.match)
			}
		})
	}
	// What is different stays different.
	for _, pair := range [][2]ofp.Match{
		{ofp.NewMatch(ofp.Metadata(0xab00, 0xff00)), ofp.NewMatch(ofp.Metadata(0xab00, 0xfff0))},
		{ofp.NewMatch(ofp.IPv4Dst(netip.MustParsePrefix("10.0.0.0/24"))), ofp.NewMatch(ofp.IPv4Dst(netip.MustParsePrefix("10.0.1.0/24")))},
		{ofp.NewMatch(ofp.Metadata(1, 1)), ofp.NewMatch()},
	} {
		if keyOf(0, 1, pair[0]) == keyOf(0, 1, pair[1]) {
			t.Errorf("%v and %v have the same key", &pair[0], &pair[1])
		}
	}
	// The app's match is not changed in place.
	m := ofp.NewMatch(ofp.Metadata(0xabcd, 0xff00))
	keyOf(0, 1, m)
	if v := m.Fields[0].Uint(); v != 0xabcd {
		t.Errorf("keyOf changed the declared value to %#x", v)
	}
}

// TestSyncKeepsFlowsReportedNormalised: a switch that reports a declared
// flow the way Open vSwitch does (masks folded) has it already: the sync
// neither deletes nor adds it.
func TestSyncKeepsFlowsReportedNormalised(t *testing.T) {
	declared := Flow{Priority: 10, Cookie: 1, Match: ofp.NewMatch(ofp.EthType(0x0800),
		masked(ofp.IPv4Dst(netip.MustParsePrefix("10.0.0.7/32")), 0xff, 0xff, 0xff, 0),
		masked(ofp.EthSrc(net.HardwareAddr{2, 0, 0, 0, 0, 9}), 0, 0, 0, 0, 0, 0),
		ofp.Metadata(5, ^uint64(0)-1), masked(ofp.TunnelID(9), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))}
	app := &testApp{id: 7, flows: []Flow{declared}}
	h := startController(t, Config{Apps: []App{app}})
	sw := newFake(0xe)
	sw.AddFlow(ofp.FlowStats{Priority: 10, Cookie: AppCookie(7, 1), Match: ofp.NewMatch(ofp.EthType(0x0800),
		ofp.IPv4Dst(netip.MustParsePrefix("10.0.0.0/24")), ofp.Metadata(4, ^uint64(0)-1), ofp.TunnelID(9))})
	h.connect(sw)
	ofptest.WaitFor(t, "switch up", func() bool { return app.upCount() == 1 })
	s, _ := h.ctl.Switch(0xe)
	st, err := s.Sync(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Added != 0 || st.Deleted != 0 || st.Kept != 1 {
		t.Errorf("sync of a flow reported normalised: %+v, want it kept", st)
	}
	if n := sw.FlowMods(); n != 0 {
		t.Errorf("%d flow-mods sent, want none", n)
	}
}

// TestSyncSendsNormalisedMatches: the flow-mod carries the match as the
// switch will hold it, since Open vSwitch refuses a value with bits
// outside its mask.
func TestSyncSendsNormalisedMatches(t *testing.T) {
	app := &testApp{id: 7, flows: []Flow{{Priority: 10, Match: ofp.NewMatch(ofp.EthType(0x0800),
		masked(ofp.IPv4Dst(netip.MustParsePrefix("10.0.0.7/32")), 0xff, 0xff, 0xff, 0),
		ofp.Metadata(3, 0))}}}
	h := startController(t, Config{Apps: []App{app}})
	sw := newFake(0xf)
	h.connect(sw)
	ofptest.WaitFor(t, "switch up", func() bool { return app.upCount() == 1 })
	flows := sw.Flows()
	want := ofp.NewMatch(ofp.EthType(0x0800), ofp.IPv4Dst(netip.MustParsePrefix("10.0.0.0/24")))
	if len(flows) != 1 || flows[0].Match.String() != want.String() {
		t.Fatalf("switch holds %v, want one flow matching %v", flows, &want)
	}
}
