package ofp

import "fmt"

// TableFeaturePropType identifies a table feature property
// (ofp_table_feature_prop_type).
type TableFeaturePropType uint16

// Table feature property types of OpenFlow 1.3. Each *Miss type describes
// the table-miss flow entry and has the layout of the type before it.
const (
	TFPInstructions      TableFeaturePropType = 0
	TFPInstructionsMiss  TableFeaturePropType = 1
	TFPNextTables        TableFeaturePropType = 2
	TFPNextTablesMiss    TableFeaturePropType = 3
	TFPWriteActions      TableFeaturePropType = 4
	TFPWriteActionsMiss  TableFeaturePropType = 5
	TFPApplyActions      TableFeaturePropType = 6
	TFPApplyActionsMiss  TableFeaturePropType = 7
	TFPMatch             TableFeaturePropType = 8
	TFPWildcards         TableFeaturePropType = 10
	TFPWriteSetfield     TableFeaturePropType = 12
	TFPWriteSetfieldMiss TableFeaturePropType = 13
	TFPApplySetfield     TableFeaturePropType = 14
	TFPApplySetfieldMiss TableFeaturePropType = 15
	TFPExperimenter      TableFeaturePropType = 0xfffe
	TFPExperimenterMiss  TableFeaturePropType = 0xffff
)

// tableFeaturesFixedLen is the size of ofp_table_features before the
// properties.
const tableFeaturesFixedLen = 64

var tfpNames = map[TableFeaturePropType]string{
	TFPInstructions: "instructions", TFPInstructionsMiss: "instructions_miss",
	TFPNextTables: "next_tables", TFPNextTablesMiss: "next_tables_miss",
	TFPWriteActions: "write_actions", TFPWriteActionsMiss: "write_actions_miss",
	TFPApplyActions: "apply_actions", TFPApplyActionsMiss: "apply_actions_miss",
	TFPMatch: "match", TFPWildcards: "wildcards",
	TFPWriteSetfield: "write_setfield", TFPWriteSetfieldMiss: "write_setfield_miss",
	TFPApplySetfield: "apply_setfield", TFPApplySetfieldMiss: "apply_setfield_miss",
	TFPExperimenter: "experimenter", TFPExperimenterMiss: "experimenter_miss",
}

func (t TableFeaturePropType) String() string {
	if s, ok := tfpNames[t]; ok {
		return s
	}
	return fmt.Sprintf("prop_%d", uint16(t))
}

// TableFeatureProp is one property of a table's features. Properties are
// padded to 8 bytes; Len excludes the padding, as the length field does.
type TableFeatureProp interface {
	PropType() TableFeaturePropType
	Len() int
	marshal(b []byte)
}

var (
	_ TableFeatureProp = &TFPropInstructions{}
	_ TableFeatureProp = &TFPropNextTables{}
	_ TableFeatureProp = &TFPropActions{}
	_ TableFeatureProp = &TFPropOXM{}
	_ TableFeatureProp = &TFPropExperimenter{}
	_ TableFeatureProp = &TFPropUnknown{}
)

func putPropHeader(b []byte, t TableFeaturePropType, n int) {
	be.PutUint16(b, uint16(t))
	be.PutUint16(b[2:], uint16(n))
}

// InstructionID names an instruction type a table supports. Data holds
// what follows the 4-byte header (an experimenter id, for one).
type InstructionID struct {
	Type InstructionType
	Data []byte
}

// TFPropInstructions lists instruction types (Kind TFPInstructions or
// TFPInstructionsMiss).
type TFPropInstructions struct {
	Kind TableFeaturePropType
	IDs  []InstructionID
}

func (p *TFPropInstructions) PropType() TableFeaturePropType { return p.Kind }
func (p *TFPropInstructions) Len() int {
	n := 4
	for _, id := range p.IDs {
		n += 4 + len(id.Data)
	}
	return n
}
func (p *TFPropInstructions) marshal(b []byte) {
	putPropHeader(b, p.Kind, p.Len())
	n := 4
	for _, id := range p.IDs {
		be.PutUint16(b[n:], uint16(id.Type))
		be.PutUint16(b[n+2:], uint16(4+len(id.Data)))
		n += 4 + copy(b[n+4:], id.Data)
	}
}

// ActionID names an action type a table supports. Data holds what follows
// the 4-byte header.
type ActionID struct {
	Type ActionType
	Data []byte
}

// TFPropActions lists action types (Kind TFPWriteActions, TFPApplyActions
// or their Miss variants).
type TFPropActions struct {
	Kind TableFeaturePropType
	IDs  []ActionID
}

func (p *TFPropActions) PropType() TableFeaturePropType { return p.Kind }
func (p *TFPropActions) Len() int {
	n := 4
	for _, id := range p.IDs {
		n += 4 + len(id.Data)
	}
	return n
}
func (p *TFPropActions) marshal(b []byte) {
	putPropHeader(b, p.Kind, p.Len())
	n := 4
	for _, id := range p.IDs {
		be.PutUint16(b[n:], uint16(id.Type))
		be.PutUint16(b[n+2:], uint16(4+len(id.Data)))
		n += 4 + copy(b[n+4:], id.Data)
	}
}

// TFPropNextTables lists the tables a goto-table may name (Kind
// TFPNextTables or TFPNextTablesMiss).
type TFPropNextTables struct {
	Kind     TableFeaturePropType
	TableIDs []uint8
}

func (p *TFPropNextTables) PropType() TableFeaturePropType { return p.Kind }
func (p *TFPropNextTables) Len() int                       { return 4 + len(p.TableIDs) }
func (p *TFPropNextTables) marshal(b []byte) {
	putPropHeader(b, p.Kind, p.Len())
	copy(b[4:], p.TableIDs)
}

// OXMID names a match field by its OXM header, without a value.
type OXMID struct {
	Class   uint16
	Field   uint8
	HasMask bool
	// PayloadLen is the oxm_length of the header: the size of the value
	// (twice that if masked) the field would carry.
	PayloadLen uint8
	// Experimenter is set for OXMClassExperimenter, whose header is 8
	// bytes long.
	Experimenter uint32
}

func (id *OXMID) len() int {
	if id.Class == OXMClassExperimenter {
		return 8
	}
	return 4
}

// Name is the field's name, as OXM.Name spells it.
func (id *OXMID) Name() string {
	o := OXM{Class: id.Class, Field: id.Field}
	return o.Name()
}

// TFPropOXM lists match fields (Kind TFPMatch, TFPWildcards or one of the
// set-field types).
type TFPropOXM struct {
	Kind TableFeaturePropType
	IDs  []OXMID
}

func (p *TFPropOXM) PropType() TableFeaturePropType { return p.Kind }
func (p *TFPropOXM) Len() int {
	n := 4
	for i := range p.IDs {
		n += p.IDs[i].len()
	}
	return n
}
func (p *TFPropOXM) marshal(b []byte) {
	putPropHeader(b, p.Kind, p.Len())
	n := 4
	for _, id := range p.IDs {
		be.PutUint16(b[n:], id.Class)
		f := id.Field << 1
		if id.HasMask {
			f |= 1
		}
		b[n+2] = f
		b[n+3] = id.PayloadLen
		if id.Class == OXMClassExperimenter {
			be.PutUint32(b[n+4:], id.Experimenter)
		}
		n += id.len()
	}
}

// TFPropExperimenter is a vendor property (Kind TFPExperimenter or
// TFPExperimenterMiss). Data follows exp_type; the specification makes it
// 32-bit words but does not require it.
type TFPropExperimenter struct {
	Kind         TableFeaturePropType
	Experimenter uint32
	ExpType      uint32
	Data         []byte
}

func (p *TFPropExperimenter) PropType() TableFeaturePropType { return p.Kind }
func (p *TFPropExperimenter) Len() int                       { return 12 + len(p.Data) }
func (p *TFPropExperimenter) marshal(b []byte) {
	putPropHeader(b, p.Kind, p.Len())
	be.PutUint32(b[4:], p.Experimenter)
	be.PutUint32(b[8:], p.ExpType)
	copy(b[12:], p.Data)
}

// TFPropUnknown is a property of a type the codec does not know.
type TFPropUnknown struct {
	Kind TableFeaturePropType
	Data []byte
}

func (p *TFPropUnknown) PropType() TableFeaturePropType { return p.Kind }
func (p *TFPropUnknown) Len() int                       { return 4 + len(p.Data) }
func (p *TFPropUnknown) marshal(b []byte) {
	putPropHeader(b, p.Kind, p.Len())
	copy(b[4:], p.Data)
}

func unmarshalTableFeatureProp(d *decoder) TableFeatureProp {
	n := d.tlvLen(2, 4, 1, "table feature property")
	if d.failed() {
		return nil
	}
	padded := align8(n)
	if padded > d.len() {
		d.fail("table feature property: padded length %d overruns the %d bytes left", padded, d.len())
		return nil
	}
	outer := d.sub(padded, "table feature property")
	e := outer.sub(n, "table feature property")
	t := TableFeaturePropType(e.u16("type"))
	e.u16("length")
	var p TableFeatureProp
	switch t {
	case TFPInstructions, TFPInstructionsMiss:
		ip := &TFPropInstructions{Kind: t}
		for e.len() > 0 && !e.failed() {
			l := e.tlvLen(2, 4, 1, "instruction id")
			id := e.sub(l, "instruction id")
			typ := InstructionType(id.u16("type"))
			id.u16("len")
			ip.IDs = append(ip.IDs, InstructionID{Type: typ, Data: id.rest()})
		}
		p = ip
	case TFPWriteActions, TFPWriteActionsMiss, TFPApplyActions, TFPApplyActionsMiss:
		ap := &TFPropActions{Kind: t}
		for e.len() > 0 && !e.failed() {
			l := e.tlvLen(2, 4, 1, "action id")
			id := e.sub(l, "action id")
			typ := ActionType(id.u16("type"))
			id.u16("len")
			ap.IDs = append(ap.IDs, ActionID{Type: typ, Data: id.rest()})
		}
		p = ap
	case TFPNextTables, TFPNextTablesMiss:
		p = &TFPropNextTables{Kind: t, TableIDs: e.rest()}
	case TFPMatch, TFPWildcards, TFPWriteSetfield, TFPWriteSetfieldMiss,
		TFPApplySetfield, TFPApplySetfieldMiss:
		op := &TFPropOXM{Kind: t}
		for e.len() > 0 && !e.failed() {
			var id OXMID
			id.Class = e.u16("oxm_class")
			f := e.u8("oxm_field")
			id.Field, id.HasMask = f>>1, f&1 != 0
			id.PayloadLen = e.u8("oxm_length")
			if id.Class == OXMClassExperimenter {
				id.Experimenter = e.u32("experimenter")
			}
			op.IDs = append(op.IDs, id)
		}
		p = op
	case TFPExperimenter, TFPExperimenterMiss:
		p = &TFPropExperimenter{Kind: t, Experimenter: e.u32("experimenter"),
			ExpType: e.u32("exp_type"), Data: e.rest()}
	default:
		p = &TFPropUnknown{Kind: t, Data: e.rest()}
	}
	if d.failed() {
		return nil
	}
	return p
}

// TableFeatures describes what one flow table can do (ofp_table_features).
type TableFeatures struct {
	TableID       uint8
	Name          string
	MetadataMatch uint64
	MetadataWrite uint64
	Config        uint32
	MaxEntries    uint32
	Properties    []TableFeatureProp
}

// Len is the encoded length of the entry, property padding included.
func (f *TableFeatures) Len() int {
	n := tableFeaturesFixedLen
	for _, p := range f.Properties {
		n += align8(p.Len())
	}
	return n
}

func (f *TableFeatures) marshal(b []byte) int {
	be.PutUint16(b, uint16(f.Len()))
	b[2] = f.TableID
	putStr(b[8:40], f.Name)
	be.PutUint64(b[40:], f.MetadataMatch)
	be.PutUint64(b[48:], f.MetadataWrite)
	be.PutUint32(b[56:], f.Config)
	be.PutUint32(b[60:], f.MaxEntries)
	n := tableFeaturesFixedLen
	for _, p := range f.Properties {
		p.marshal(b[n:])
		n += align8(p.Len())
	}
	return n
}

func (f *TableFeatures) unmarshal(d *decoder) {
	n := d.tlvLen(0, tableFeaturesFixedLen, 8, "table features")
	if d.failed() {
		return
	}
	e := d.sub(n, "table features")
	e.u16("length")
	f.TableID = e.u8("table_id")
	e.pad(5)
	f.Name = e.str(32, "name")
	f.MetadataMatch = e.u64("metadata_match")
	f.MetadataWrite = e.u64("metadata_write")
	f.Config = e.u32("config")
	f.MaxEntries = e.u32("max_entries")
	for e.len() > 0 && !e.failed() {
		if p := unmarshalTableFeatureProp(e); p != nil {
			f.Properties = append(f.Properties, p)
		}
	}
}

// TableFeaturesBody is the body of TABLE_FEATURES requests and replies: an
// empty request asks for the features, a non-empty one sets them.
type TableFeaturesBody struct{ Tables []TableFeatures }

func (r *TableFeaturesBody) Len() int {
	n := 0
	for i := range r.Tables {
		n += r.Tables[i].Len()
	}
	return n
}

func (r *TableFeaturesBody) marshal(b []byte) {
	for i := range r.Tables {
		b = b[r.Tables[i].marshal(b):]
	}
}

func (r *TableFeaturesBody) unmarshal(d *decoder) {
	for d.len() > 0 && !d.failed() {
		var f TableFeatures
		f.unmarshal(d)
		r.Tables = append(r.Tables, f)
	}
}
