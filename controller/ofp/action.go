package ofp

import "fmt"

// ActionType identifies an action (ofp_action_type).
type ActionType uint16

// Action types of OpenFlow 1.3.
const (
	ActionTypeOutput       ActionType = 0
	ActionTypeCopyTTLOut   ActionType = 11
	ActionTypeCopyTTLIn    ActionType = 12
	ActionTypeSetMPLSTTL   ActionType = 15
	ActionTypeDecMPLSTTL   ActionType = 16
	ActionTypePushVlan     ActionType = 17
	ActionTypePopVlan      ActionType = 18
	ActionTypePushMPLS     ActionType = 19
	ActionTypePopMPLS      ActionType = 20
	ActionTypeSetQueue     ActionType = 21
	ActionTypeGroup        ActionType = 22
	ActionTypeSetNwTTL     ActionType = 23
	ActionTypeDecNwTTL     ActionType = 24
	ActionTypeSetField     ActionType = 25
	ActionTypePushPBB      ActionType = 26
	ActionTypePopPBB       ActionType = 27
	ActionTypeExperimenter ActionType = 0xffff
)

// Action is one action of an action list or set.
type Action interface {
	ActionType() ActionType
	// Len is the encoded length, a multiple of 8.
	Len() int
	// marshal writes the action into b (Len() bytes, zeroed), header
	// included.
	marshal(b []byte)
}

// Compile-time checks that every action type implements Action.
var (
	_ Action = &ActionOutput{}
	_ Action = &ActionGroup{}
	_ Action = &ActionSetQueue{}
	_ Action = &ActionSetField{}
	_ Action = &ActionPush{}
	_ Action = &ActionPopMPLS{}
	_ Action = &ActionTTL{}
	_ Action = &ActionNoArg{}
	_ Action = &ActionExperimenter{}
	_ Action = &ActionUnknown{}
)

func putActionHeader(b []byte, t ActionType, n int) {
	be.PutUint16(b, uint16(t))
	be.PutUint16(b[2:], uint16(n))
}

// ActionOutput sends the packet to a port. MaxLen limits the bytes sent to
// the controller when Port is PortController (MaxLenNoBuffer for all of them).
type ActionOutput struct {
	Port   uint32
	MaxLen uint16
}

// Output returns an output action; to the controller it sends whole packets.
func Output(port uint32) *ActionOutput {
	a := &ActionOutput{Port: port}
	if port == PortController {
		a.MaxLen = MaxLenNoBuffer
	}
	return a
}

func (a *ActionOutput) ActionType() ActionType { return ActionTypeOutput }
func (a *ActionOutput) Len() int               { return 16 }
func (a *ActionOutput) marshal(b []byte) {
	putActionHeader(b, ActionTypeOutput, 16)
	be.PutUint32(b[4:], a.Port)
	be.PutUint16(b[8:], a.MaxLen)
}

// ActionGroup processes the packet through a group.
type ActionGroup struct{ GroupID uint32 }

func (a *ActionGroup) ActionType() ActionType { return ActionTypeGroup }
func (a *ActionGroup) Len() int               { return 8 }
func (a *ActionGroup) marshal(b []byte) {
	putActionHeader(b, ActionTypeGroup, 8)
	be.PutUint32(b[4:], a.GroupID)
}

// ActionSetQueue sets the queue a packet is sent on.
type ActionSetQueue struct{ QueueID uint32 }

func (a *ActionSetQueue) ActionType() ActionType { return ActionTypeSetQueue }
func (a *ActionSetQueue) Len() int               { return 8 }
func (a *ActionSetQueue) marshal(b []byte) {
	putActionHeader(b, ActionTypeSetQueue, 8)
	be.PutUint32(b[4:], a.QueueID)
}

// ActionSetField rewrites a header field to the value of an OXM.
type ActionSetField struct{ Field OXM }

// SetField returns a set-field action.
func SetField(f OXM) *ActionSetField { return &ActionSetField{Field: f} }

func (a *ActionSetField) ActionType() ActionType { return ActionTypeSetField }
func (a *ActionSetField) Len() int               { return align8(4 + a.Field.Len()) }
func (a *ActionSetField) marshal(b []byte) {
	putActionHeader(b, ActionTypeSetField, a.Len())
	a.Field.marshal(b[4:])
}

// ActionPush pushes a VLAN, MPLS or PBB header (Kind is ActionTypePushVlan,
// ActionTypePushMPLS or ActionTypePushPBB).
type ActionPush struct {
	Kind      ActionType
	EtherType uint16
}

func (a *ActionPush) ActionType() ActionType { return a.Kind }
func (a *ActionPush) Len() int               { return 8 }
func (a *ActionPush) marshal(b []byte) {
	putActionHeader(b, a.Kind, 8)
	be.PutUint16(b[4:], a.EtherType)
}

// ActionPopMPLS pops the outer MPLS label; EtherType is the payload's.
type ActionPopMPLS struct{ EtherType uint16 }

func (a *ActionPopMPLS) ActionType() ActionType { return ActionTypePopMPLS }
func (a *ActionPopMPLS) Len() int               { return 8 }
func (a *ActionPopMPLS) marshal(b []byte) {
	putActionHeader(b, ActionTypePopMPLS, 8)
	be.PutUint16(b[4:], a.EtherType)
}

// ActionTTL sets the MPLS or IP TTL (Kind is ActionTypeSetMPLSTTL or
// ActionTypeSetNwTTL).
type ActionTTL struct {
	Kind ActionType
	TTL  uint8
}

func (a *ActionTTL) ActionType() ActionType { return a.Kind }
func (a *ActionTTL) Len() int               { return 8 }
func (a *ActionTTL) marshal(b []byte) {
	putActionHeader(b, a.Kind, 8)
	b[4] = a.TTL
}

// ActionNoArg is an action with no argument: pop VLAN, pop PBB, copy TTL
// out or in, decrement MPLS or IP TTL.
type ActionNoArg struct{ Kind ActionType }

// DecNwTTL returns the decrement-IP-TTL action.
func DecNwTTL() *ActionNoArg { return &ActionNoArg{Kind: ActionTypeDecNwTTL} }

// PopVlan returns the pop-VLAN action.
func PopVlan() *ActionNoArg { return &ActionNoArg{Kind: ActionTypePopVlan} }

// PushVlan returns a push-VLAN action for 802.1Q.
func PushVlan() *ActionPush { return &ActionPush{Kind: ActionTypePushVlan, EtherType: 0x8100} }

func (a *ActionNoArg) ActionType() ActionType { return a.Kind }
func (a *ActionNoArg) Len() int               { return 8 }
func (a *ActionNoArg) marshal(b []byte)       { putActionHeader(b, a.Kind, 8) }

// ActionExperimenter is a vendor action, kept as raw bytes after the
// experimenter id (Open vSwitch's Nicira actions among them).
type ActionExperimenter struct {
	Experimenter uint32
	Data         []byte
}

func (a *ActionExperimenter) ActionType() ActionType { return ActionTypeExperimenter }
func (a *ActionExperimenter) Len() int               { return align8(8 + len(a.Data)) }
func (a *ActionExperimenter) marshal(b []byte) {
	putActionHeader(b, ActionTypeExperimenter, a.Len())
	be.PutUint32(b[4:], a.Experimenter)
	copy(b[8:], a.Data)
}

// ActionUnknown is an action of a type the codec does not know.
type ActionUnknown struct {
	Kind ActionType
	Data []byte // after the 4-byte header
}

func (a *ActionUnknown) ActionType() ActionType { return a.Kind }
func (a *ActionUnknown) Len() int               { return align8(4 + len(a.Data)) }
func (a *ActionUnknown) marshal(b []byte) {
	putActionHeader(b, a.Kind, a.Len())
	copy(b[4:], a.Data)
}

func actionsLen(as []Action) int {
	n := 0
	for _, a := range as {
		n += a.Len()
	}
	return n
}

func marshalActions(b []byte, as []Action) int {
	n := 0
	for _, a := range as {
		l := a.Len()
		a.marshal(b[n : n+l])
		n += l
	}
	return n
}

// unmarshalActions decodes actions until d is empty.
func unmarshalActions(d *decoder) []Action {
	var as []Action
	for d.len() > 0 && !d.failed() {
		if a := unmarshalAction(d); a != nil {
			as = append(as, a)
		}
	}
	return as
}

func unmarshalAction(d *decoder) Action {
	n := d.tlvLen(2, 8, 8, "action")
	if d.failed() {
		return nil
	}
	ad := d.sub(n, "action")
	t := ActionType(ad.u16("type"))
	ad.u16("len")
	fixed := func(want int) bool {
		if n != want {
			ad.fail("%s action: length %d, want %d", t, n, want)
			return false
		}
		return true
	}
	var a Action
	switch t {
	case ActionTypeOutput:
		if !fixed(16) {
			return nil
		}
		o := &ActionOutput{Port: ad.u32("port"), MaxLen: ad.u16("max_len")}
		ad.pad(6)
		a = o
	case ActionTypeGroup:
		a = &ActionGroup{GroupID: ad.u32("group_id")}
	case ActionTypeSetQueue:
		a = &ActionSetQueue{QueueID: ad.u32("queue_id")}
	case ActionTypeSetMPLSTTL, ActionTypeSetNwTTL:
		if !fixed(8) {
			return nil
		}
		a = &ActionTTL{Kind: t, TTL: ad.u8("ttl")}
		ad.pad(3)
	case ActionTypePushVlan, ActionTypePushMPLS, ActionTypePushPBB:
		if !fixed(8) {
			return nil
		}
		a = &ActionPush{Kind: t, EtherType: ad.u16("ethertype")}
		ad.pad(2)
	case ActionTypePopMPLS:
		if !fixed(8) {
			return nil
		}
		a = &ActionPopMPLS{EtherType: ad.u16("ethertype")}
		ad.pad(2)
	case ActionTypeCopyTTLOut, ActionTypeCopyTTLIn, ActionTypeDecMPLSTTL,
		ActionTypePopVlan, ActionTypeDecNwTTL, ActionTypePopPBB:
		if !fixed(8) {
			return nil
		}
		a = &ActionNoArg{Kind: t}
		ad.pad(4)
	case ActionTypeSetField:
		sf := &ActionSetField{}
		sf.Field.unmarshal(ad)
		ad.rest() // padding
		a = sf
	case ActionTypeExperimenter:
		a = &ActionExperimenter{Experimenter: ad.u32("experimenter"), Data: ad.rest()}
	default:
		a = &ActionUnknown{Kind: t, Data: ad.rest()}
	}
	if ad.len() != 0 && !ad.failed() {
		ad.fail("%s action: %d trailing bytes", t, ad.len())
	}
	if ad.failed() {
		return nil
	}
	return a
}

var actionNames = map[ActionType]string{
	ActionTypeOutput: "OUTPUT", ActionTypeCopyTTLOut: "COPY_TTL_OUT",
	ActionTypeCopyTTLIn: "COPY_TTL_IN", ActionTypeSetMPLSTTL: "SET_MPLS_TTL",
	ActionTypeDecMPLSTTL: "DEC_MPLS_TTL", ActionTypePushVlan: "PUSH_VLAN",
	ActionTypePopVlan: "POP_VLAN", ActionTypePushMPLS: "PUSH_MPLS",
	ActionTypePopMPLS: "POP_MPLS", ActionTypeSetQueue: "SET_QUEUE",
	ActionTypeGroup: "GROUP", ActionTypeSetNwTTL: "SET_NW_TTL",
	ActionTypeDecNwTTL: "DEC_NW_TTL", ActionTypeSetField: "SET_FIELD",
	ActionTypePushPBB: "PUSH_PBB", ActionTypePopPBB: "POP_PBB",
	ActionTypeExperimenter: "EXPERIMENTER",
}

func (t ActionType) String() string {
	if s, ok := actionNames[t]; ok {
		return s
	}
	return fmt.Sprintf("ACTION_%d", uint16(t))
}
