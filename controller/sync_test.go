package controller

import (
	"strings"
	"testing"

	"github.com/sixgate/sixgate/controller/ofp"
	"github.com/sixgate/sixgate/controller/ofptest"
)

func mustInstructions(t *testing.T, is []ofp.Instruction) string {
	t.Helper()
	b, err := ofp.MarshalInstructions(is)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// oversized is an instruction no message can carry.
func oversized(fill byte) ofp.Instruction {
	data := make([]byte, ofp.MaxMessageLen)
	data[0] = fill
	return &ofp.InstructionExperimenter{Data: data}
}

func TestUnencodableBodiesAreErrorsNotEqual(t *testing.T) {
	a, errA := body(1, []ofp.Instruction{oversized(1)}, 0, 0, 0)
	b, errB := body(1, []ofp.Instruction{oversized(2)}, 0, 0, 0)
	if errA == nil || errB == nil {
		t.Fatalf("bodies of unencodable instructions: %v, %v; want errors (they compare equal: %v)", errA, errB, a == b)
	}
	bucket := []ofp.Bucket{{Actions: []ofp.Action{&ofp.ActionExperimenter{Data: make([]byte, ofp.MaxMessageLen)}}}}
	if _, err := groupBody(ofp.GroupTypeAll, bucket); err == nil {
		t.Error("groupBody of an unencodable bucket: no error")
	}
	x, _ := groupBody(ofp.GroupTypeAll, nil)
	y, _ := groupBody(ofp.GroupTypeIndirect, nil)
	if x == y {
		t.Error("groups of different types compare equal")
	}
}

// badApp declares a flow and a group that cannot be encoded, beside good ones.
type badApp struct {
	testApp
	badGroup bool
}

func (a *badApp) Groups(*Switch) []Group {
	if !a.badGroup {
		return nil
	}
	return []Group{{ID: 3, Type: ofp.GroupTypeAll, Buckets: []ofp.Bucket{
		{WatchPort: ofp.PortAny, WatchGroup: ofp.GroupAny, Actions: []ofp.Action{&ofp.ActionExperimenter{Data: make([]byte, ofp.MaxMessageLen)}}},
	}}}
}

func TestSyncNamesTheFlowThatCannotBeEncoded(t *testing.T) {
	for _, tc := range []struct {
		name string
		app  *badApp
		want []string
	}{
		{"flow", &badApp{testApp: testApp{id: 7, flows: append(desiredFlows(),
			Flow{Priority: 50, Match: ofp.NewMatch(ofp.EthType(0x0800)), Instructions: []ofp.Instruction{oversized(0)}})}},
			[]string{"app test: flow table=0 priority=50", "instruction 0"}},
		{"group", &badApp{testApp: testApp{id: 7}, badGroup: true},
			[]string{"app test: group 0x7000003", "bucket 0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := startController(t, Config{Apps: []App{tc.app}})
			fake := newFake(0x3)
			h.connect(fake)
			var s *Switch
			ofptest.WaitFor(t, "switch connected", func() bool {
				var ok bool
				s, ok = h.ctl.Switch(0x3)
				return ok
			})
			_, err := s.Sync(h.ctx)
			if err == nil {
				t.Fatal("Sync succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}
