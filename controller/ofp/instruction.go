package ofp

import "fmt"

// InstructionType identifies an instruction (ofp_instruction_type).
type InstructionType uint16

// Instruction types of OpenFlow 1.3.
const (
	InstructionTypeGotoTable     InstructionType = 1
	InstructionTypeWriteMetadata InstructionType = 2
	InstructionTypeWriteActions  InstructionType = 3
	InstructionTypeApplyActions  InstructionType = 4
	InstructionTypeClearActions  InstructionType = 5
	InstructionTypeMeter         InstructionType = 6
	InstructionTypeExperimenter  InstructionType = 0xffff
)

func (t InstructionType) String() string {
	switch t {
	case InstructionTypeGotoTable:
		return "GOTO_TABLE"
	case InstructionTypeWriteMetadata:
		return "WRITE_METADATA"
	case InstructionTypeWriteActions:
		return "WRITE_ACTIONS"
	case InstructionTypeApplyActions:
		return "APPLY_ACTIONS"
	case InstructionTypeClearActions:
		return "CLEAR_ACTIONS"
	case InstructionTypeMeter:
		return "METER"
	case InstructionTypeExperimenter:
		return "EXPERIMENTER"
	}
	return fmt.Sprintf("INSTRUCTION_%d", uint16(t))
}

// Instruction is one instruction of a flow entry.
type Instruction interface {
	InstructionType() InstructionType
	Len() int
	marshal(b []byte)
}

var (
	_ Instruction = &InstructionGotoTable{}
	_ Instruction = &InstructionWriteMetadata{}
	_ Instruction = &InstructionActions{}
	_ Instruction = &InstructionMeter{}
	_ Instruction = &InstructionExperimenter{}
	_ Instruction = &InstructionUnknown{}
)

func putInstructionHeader(b []byte, t InstructionType, n int) {
	be.PutUint16(b, uint16(t))
	be.PutUint16(b[2:], uint16(n))
}

// InstructionGotoTable continues processing in a later table.
type InstructionGotoTable struct{ TableID uint8 }

// GotoTable returns a goto-table instruction.
func GotoTable(id uint8) *InstructionGotoTable { return &InstructionGotoTable{TableID: id} }

func (i *InstructionGotoTable) InstructionType() InstructionType { return InstructionTypeGotoTable }
func (i *InstructionGotoTable) Len() int                         { return 8 }
func (i *InstructionGotoTable) marshal(b []byte) {
	putInstructionHeader(b, InstructionTypeGotoTable, 8)
	b[4] = i.TableID
}

// InstructionWriteMetadata writes the metadata register under a mask.
type InstructionWriteMetadata struct {
	Metadata uint64
	Mask     uint64
}

func (i *InstructionWriteMetadata) InstructionType() InstructionType {
	return InstructionTypeWriteMetadata
}
func (i *InstructionWriteMetadata) Len() int { return 24 }
func (i *InstructionWriteMetadata) marshal(b []byte) {
	putInstructionHeader(b, InstructionTypeWriteMetadata, 24)
	be.PutUint64(b[8:], i.Metadata)
	be.PutUint64(b[16:], i.Mask)
}

// InstructionActions writes, applies or clears actions (Kind is one of
// InstructionTypeWriteActions, ApplyActions or ClearActions).
type InstructionActions struct {
	Kind    InstructionType
	Actions []Action
}

// ApplyActions returns an apply-actions instruction.
func ApplyActions(as ...Action) *InstructionActions {
	return &InstructionActions{Kind: InstructionTypeApplyActions, Actions: as}
}

// WriteActions returns a write-actions instruction.
func WriteActions(as ...Action) *InstructionActions {
	return &InstructionActions{Kind: InstructionTypeWriteActions, Actions: as}
}

// ClearActions returns a clear-actions instruction.
func ClearActions() *InstructionActions {
	return &InstructionActions{Kind: InstructionTypeClearActions}
}

func (i *InstructionActions) InstructionType() InstructionType { return i.Kind }
func (i *InstructionActions) Len() int                         { return 8 + actionsLen(i.Actions) }
func (i *InstructionActions) marshal(b []byte) {
	putInstructionHeader(b, i.Kind, i.Len())
	marshalActions(b[8:], i.Actions)
}

// InstructionMeter sends the packet through a meter.
type InstructionMeter struct{ MeterID uint32 }

func (i *InstructionMeter) InstructionType() InstructionType { return InstructionTypeMeter }
func (i *InstructionMeter) Len() int                         { return 8 }
func (i *InstructionMeter) marshal(b []byte) {
	putInstructionHeader(b, InstructionTypeMeter, 8)
	be.PutUint32(b[4:], i.MeterID)
}

// InstructionExperimenter is a vendor instruction kept as raw bytes.
type InstructionExperimenter struct {
	Experimenter uint32
	Data         []byte
}

func (i *InstructionExperimenter) InstructionType() InstructionType {
	return InstructionTypeExperimenter
}
func (i *InstructionExperimenter) Len() int { return align8(8 + len(i.Data)) }
func (i *InstructionExperimenter) marshal(b []byte) {
	putInstructionHeader(b, InstructionTypeExperimenter, i.Len())
	be.PutUint32(b[4:], i.Experimenter)
	copy(b[8:], i.Data)
}

// InstructionUnknown is an instruction of a type the codec does not know.
type InstructionUnknown struct {
	Kind InstructionType
	Data []byte
}

func (i *InstructionUnknown) InstructionType() InstructionType { return i.Kind }
func (i *InstructionUnknown) Len() int                         { return align8(4 + len(i.Data)) }
func (i *InstructionUnknown) marshal(b []byte) {
	putInstructionHeader(b, i.Kind, i.Len())
	copy(b[4:], i.Data)
}

func instructionsLen(is []Instruction) int {
	n := 0
	for _, i := range is {
		n += i.Len()
	}
	return n
}

func marshalInstructions(b []byte, is []Instruction) int {
	n := 0
	for _, i := range is {
		l := i.Len()
		i.marshal(b[n : n+l])
		n += l
	}
	return n
}

func unmarshalInstructions(d *decoder) []Instruction {
	var is []Instruction
	for d.len() > 0 && !d.failed() {
		if i := unmarshalInstruction(d); i != nil {
			is = append(is, i)
		}
	}
	return is
}

func unmarshalInstruction(d *decoder) Instruction {
	n := d.tlvLen(2, 8, 8, "instruction")
	if d.failed() {
		return nil
	}
	id := d.sub(n, "instruction")
	t := InstructionType(id.u16("type"))
	id.u16("len")
	var in Instruction
	switch t {
	case InstructionTypeGotoTable:
		in = &InstructionGotoTable{TableID: id.u8("table_id")}
		id.pad(3)
	case InstructionTypeWriteMetadata:
		id.pad(4)
		in = &InstructionWriteMetadata{Metadata: id.u64("metadata"), Mask: id.u64("metadata_mask")}
	case InstructionTypeWriteActions, InstructionTypeApplyActions, InstructionTypeClearActions:
		id.pad(4)
		in = &InstructionActions{Kind: t, Actions: unmarshalActions(id)}
	case InstructionTypeMeter:
		in = &InstructionMeter{MeterID: id.u32("meter_id")}
	case InstructionTypeExperimenter:
		in = &InstructionExperimenter{Experimenter: id.u32("experimenter"), Data: id.rest()}
	default:
		in = &InstructionUnknown{Kind: t, Data: id.rest()}
	}
	if id.len() != 0 && !id.failed() {
		id.fail("%s instruction: %d trailing bytes", t, id.len())
	}
	if id.failed() {
		return nil
	}
	return in
}
