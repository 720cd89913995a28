package controller

import (
	"testing"

	"github.com/sixgate/sixgate/controller/ofp"
	"github.com/sixgate/sixgate/controller/ofptest"
)

// groupApp declares a select group over ports 1 and 2, an indirect group,
// and a flow that uses the first.
type groupApp struct{ testApp }

func (a *groupApp) Groups(*Switch) []Group {
	return []Group{
		{ID: 1, Type: ofp.GroupTypeSelect, Buckets: []ofp.Bucket{
			{Weight: 1, WatchPort: ofp.PortAny, WatchGroup: ofp.GroupAny, Actions: []ofp.Action{ofp.Output(1)}},
			{Weight: 1, WatchPort: ofp.PortAny, WatchGroup: ofp.GroupAny, Actions: []ofp.Action{ofp.Output(2)}},
		}},
		{ID: 2, Type: ofp.GroupTypeIndirect, Buckets: []ofp.Bucket{
			{WatchPort: ofp.PortAny, WatchGroup: ofp.GroupAny, Actions: []ofp.Action{ofp.Output(3)}},
		}},
	}
}

func (a *groupApp) Flows(*Switch) []Flow {
	return []Flow{{Priority: 10, Match: ofp.NewMatch(ofp.EthType(0x0800)),
		Instructions: []ofp.Instruction{ofp.ApplyActions(&ofp.ActionGroup{GroupID: AppGroupID(7, 1)})}}}
}

func TestGroupsSyncedAsDesiredState(t *testing.T) {
	app := &groupApp{testApp{id: 7}}
	h := startController(t, Config{Apps: []App{app}})
	sw := newFake(0xa)
	// Installed before: group 2 with other buckets (modified), a stale
	// group of ours (deleted), another controller's group (kept).
	sw.SetGroup(ofp.GroupDesc{GroupType: ofp.GroupTypeIndirect, GroupID: AppGroupID(7, 2),
		Buckets: []ofp.Bucket{{WatchPort: ofp.PortAny, WatchGroup: ofp.GroupAny, Actions: []ofp.Action{ofp.Output(9)}}}})
	sw.SetGroup(ofp.GroupDesc{GroupType: ofp.GroupTypeAll, GroupID: AppGroupID(7, 99)})
	sw.SetGroup(ofp.GroupDesc{GroupType: ofp.GroupTypeAll, GroupID: 5})
	h.connect(sw)
	ofptest.WaitFor(t, "switch up", func() bool { return app.upCount() == 1 })

	groups := sw.Groups()
	if len(groups) != 3 {
		t.Fatalf("switch has groups %v, want ours 1 and 2 and the foreign 5", groups)
	}
	if _, ok := groups[5]; !ok {
		t.Error("foreign group deleted")
	}
	if _, ok := groups[AppGroupID(7, 99)]; ok {
		t.Error("stale group of ours kept")
	}
	if g := groups[AppGroupID(7, 2)]; len(g.Buckets) != 1 || g.Buckets[0].Actions[0].(*ofp.ActionOutput).Port != 3 {
		t.Errorf("group 2 not modified: %+v", g)
	}
	if g := groups[AppGroupID(7, 1)]; g.GroupType != ofp.GroupTypeSelect || len(g.Buckets) != 2 {
		t.Errorf("group 1: %+v", g)
	}
	// Groups come before the flow that uses them: the fake switch would
	// accept either order, so check the order of the messages.
	var firstGroup, firstFlow = -1, -1
	for i, m := range sw.Received() {
		switch m.(type) {
		case *ofp.GroupMod:
			if firstGroup < 0 {
				firstGroup = i
			}
		case *ofp.FlowMod:
			if firstFlow < 0 {
				firstFlow = i
			}
		}
	}
	if firstGroup < 0 || firstFlow < 0 || firstGroup > firstFlow {
		t.Errorf("first group-mod at %d, first flow-mod at %d: groups must be added first", firstGroup, firstFlow)
	}

	s, _ := h.ctl.Switch(0xa)
	st, err := s.Sync(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Groups != 0 || st.Added != 0 || st.Deleted != 0 {
		t.Errorf("second sync changed things: %+v", st)
	}
}
