package ofp

import (
	"bytes"
	"strings"
	"testing"
)

func TestMarshalInstructionsMatchesFlowMod(t *testing.T) {
	is := []Instruction{
		ApplyActions(Output(3)),
		&InstructionWriteMetadata{Metadata: 7, Mask: 0xff},
		GotoTable(2),
	}
	m := Match{Fields: []OXM{InPort(1)}}
	fm := NewFlowAdd(0, 10, 0, m, is...)
	whole, err := Marshal(fm)
	if err != nil {
		t.Fatal(err)
	}
	got, err := MarshalInstructions(is)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(whole, got) || len(got) != instructionsLen(is) {
		t.Errorf("MarshalInstructions = %x, not the tail of the FLOW_MOD %x", got, whole)
	}
}

func TestMarshalInstructionsRefusesWhatNoMessageCarries(t *testing.T) {
	big := &InstructionExperimenter{Data: make([]byte, MaxMessageLen)}
	for name, is := range map[string][]Instruction{
		"too long":  {big},
		"too many":  {ApplyActions(&ActionExperimenter{Data: make([]byte, 40000)}), ApplyActions(&ActionExperimenter{Data: make([]byte, 40000)})},
		"nil entry": {GotoTable(1), nil},
	} {
		if b, err := MarshalInstructions(is); err == nil {
			t.Errorf("%s: MarshalInstructions = %d bytes, no error", name, len(b))
		}
	}
	// Two different lists that cannot be encoded must not look alike.
	_, err1 := MarshalInstructions([]Instruction{big})
	if err1 == nil || !strings.Contains(err1.Error(), "instruction 0") {
		t.Errorf("error %v does not name the instruction", err1)
	}
}

func TestMarshalBuckets(t *testing.T) {
	bs := []Bucket{
		{Weight: 1, WatchPort: PortAny, WatchGroup: GroupAny, Actions: []Action{Output(1)}},
		{Weight: 2, WatchPort: PortAny, WatchGroup: GroupAny, Actions: []Action{Output(2)}},
	}
	whole, err := Marshal(&GroupMod{GroupType: GroupTypeSelect, GroupID: 5, Buckets: bs})
	if err != nil {
		t.Fatal(err)
	}
	got, err := MarshalBuckets(bs)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, whole[HeaderLen+8:]) {
		t.Errorf("MarshalBuckets = %x, want %x", got, whole[HeaderLen+8:])
	}
	huge := []Bucket{{Actions: []Action{&ActionExperimenter{Data: make([]byte, MaxMessageLen)}}}}
	if b, err := MarshalBuckets(huge); err == nil {
		t.Errorf("MarshalBuckets of a bucket over 64 KiB = %d bytes, no error", len(b))
	}
}
