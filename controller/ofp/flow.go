package ofp

// Flow-mod commands (ofp_flow_mod_command).
const (
	FlowAdd          = 0
	FlowModify       = 1
	FlowModifyStrict = 2
	FlowDelete       = 3
	FlowDeleteStrict = 4
)

// Flow-mod flags (ofp_flow_mod_flags).
const (
	FlowFlagSendFlowRem  = 1 << 0
	FlowFlagCheckOverlap = 1 << 1
	FlowFlagResetCounts  = 1 << 2
	FlowFlagNoPktCounts  = 1 << 3
	FlowFlagNoBytCounts  = 1 << 4
)

// Table and group wildcards.
const (
	TableMax = 0xfe
	TableAll = 0xff
	GroupAny = 0xffffffff
	GroupAll = 0xfffffffc
)

// FlowMod adds, modifies or deletes flow entries.
type FlowMod struct {
	Header
	Cookie       uint64
	CookieMask   uint64
	TableID      uint8
	Command      uint8
	IdleTimeout  uint16
	HardTimeout  uint16
	Priority     uint16
	BufferID     uint32
	OutPort      uint32
	OutGroup     uint32
	Flags        uint16
	Match        Match
	Instructions []Instruction
}

// NewFlowAdd returns an ADD flow-mod with no buffer and wildcard out
// port/group, the form every app uses.
func NewFlowAdd(table uint8, priority uint16, cookie uint64, m Match, is ...Instruction) *FlowMod {
	return &FlowMod{Cookie: cookie, TableID: table, Command: FlowAdd, Priority: priority,
		BufferID: NoBufferID, OutPort: PortAny, OutGroup: GroupAny, Match: m, Instructions: is}
}

// NoBufferID (OFP_NO_BUFFER) is the buffer id meaning "no buffered
// packet", in packet-ins, packet-outs and flow-mods. Not a max length: that
// is MaxLenNoBuffer.
const NoBufferID = 0xffffffff

func (m *FlowMod) Type() Type { return TypeFlowMod }
func (m *FlowMod) Len() int {
	return HeaderLen + 40 + m.Match.Len() + instructionsLen(m.Instructions)
}

func (m *FlowMod) marshalBody(b []byte) {
	be.PutUint64(b, m.Cookie)
	be.PutUint64(b[8:], m.CookieMask)
	b[16] = m.TableID
	b[17] = m.Command
	be.PutUint16(b[18:], m.IdleTimeout)
	be.PutUint16(b[20:], m.HardTimeout)
	be.PutUint16(b[22:], m.Priority)
	be.PutUint32(b[24:], m.BufferID)
	be.PutUint32(b[28:], m.OutPort)
	be.PutUint32(b[32:], m.OutGroup)
	be.PutUint16(b[36:], m.Flags)
	n := 40 + m.Match.marshal(b[40:])
	marshalInstructions(b[n:], m.Instructions)
}

func (m *FlowMod) unmarshalBody(d *decoder) {
	m.Cookie = d.u64("cookie")
	m.CookieMask = d.u64("cookie_mask")
	m.TableID = d.u8("table_id")
	m.Command = d.u8("command")
	m.IdleTimeout = d.u16("idle_timeout")
	m.HardTimeout = d.u16("hard_timeout")
	m.Priority = d.u16("priority")
	m.BufferID = d.u32("buffer_id")
	m.OutPort = d.u32("out_port")
	m.OutGroup = d.u32("out_group")
	m.Flags = d.u16("flags")
	d.pad(2)
	m.Match.unmarshal(d)
	m.Instructions = unmarshalInstructions(d)
}

// Flow-removed reasons (ofp_flow_removed_reason).
const (
	FlowRemovedIdleTimeout = 0
	FlowRemovedHardTimeout = 1
	FlowRemovedDelete      = 2
	FlowRemovedGroupDelete = 3
	FlowRemovedMeterDelete = 4
)

// FlowRemoved reports a flow entry that left the table.
type FlowRemoved struct {
	Header
	Cookie       uint64
	Priority     uint16
	Reason       uint8
	TableID      uint8
	DurationSec  uint32
	DurationNsec uint32
	IdleTimeout  uint16
	HardTimeout  uint16
	PacketCount  uint64
	ByteCount    uint64
	Match        Match
}

func (m *FlowRemoved) Type() Type { return TypeFlowRemoved }
func (m *FlowRemoved) Len() int   { return HeaderLen + 40 + m.Match.Len() }

func (m *FlowRemoved) marshalBody(b []byte) {
	be.PutUint64(b, m.Cookie)
	be.PutUint16(b[8:], m.Priority)
	b[10] = m.Reason
	b[11] = m.TableID
	be.PutUint32(b[12:], m.DurationSec)
	be.PutUint32(b[16:], m.DurationNsec)
	be.PutUint16(b[20:], m.IdleTimeout)
	be.PutUint16(b[22:], m.HardTimeout)
	be.PutUint64(b[24:], m.PacketCount)
	be.PutUint64(b[32:], m.ByteCount)
	m.Match.marshal(b[40:])
}

func (m *FlowRemoved) unmarshalBody(d *decoder) {
	m.Cookie = d.u64("cookie")
	m.Priority = d.u16("priority")
	m.Reason = d.u8("reason")
	m.TableID = d.u8("table_id")
	m.DurationSec = d.u32("duration_sec")
	m.DurationNsec = d.u32("duration_nsec")
	m.IdleTimeout = d.u16("idle_timeout")
	m.HardTimeout = d.u16("hard_timeout")
	m.PacketCount = d.u64("packet_count")
	m.ByteCount = d.u64("byte_count")
	m.Match.unmarshal(d)
}

// Packet-in reasons (ofp_packet_in_reason).
const (
	PacketInNoMatch    = 0
	PacketInAction     = 1
	PacketInInvalidTTL = 2
)

// PacketIn carries a packet the switch sends to the controller.
type PacketIn struct {
	Header
	BufferID uint32
	TotalLen uint16
	Reason   uint8
	TableID  uint8
	Cookie   uint64
	Match    Match
	Data     []byte
}

// InPort returns the in_port of the packet-in's match, if present.
func (m *PacketIn) InPort() (uint32, bool) {
	o, ok := m.Match.Field(FieldInPort)
	if !ok {
		return 0, false
	}
	return uint32(o.Uint()), true
}

func (m *PacketIn) Type() Type { return TypePacketIn }
func (m *PacketIn) Len() int   { return HeaderLen + 16 + m.Match.Len() + 2 + len(m.Data) }

func (m *PacketIn) marshalBody(b []byte) {
	be.PutUint32(b, m.BufferID)
	be.PutUint16(b[4:], m.TotalLen)
	b[6] = m.Reason
	b[7] = m.TableID
	be.PutUint64(b[8:], m.Cookie)
	n := 16 + m.Match.marshal(b[16:])
	copy(b[n+2:], m.Data)
}

func (m *PacketIn) unmarshalBody(d *decoder) {
	m.BufferID = d.u32("buffer_id")
	m.TotalLen = d.u16("total_len")
	m.Reason = d.u8("reason")
	m.TableID = d.u8("table_id")
	m.Cookie = d.u64("cookie")
	m.Match.unmarshal(d)
	d.pad(2)
	m.Data = d.rest()
}

// PacketOut sends a packet out of the switch through an action list.
type PacketOut struct {
	Header
	BufferID uint32
	InPort   uint32
	Actions  []Action
	Data     []byte
}

// NewPacketOut returns a packet-out of data through the actions, with no
// buffer and the controller as in_port.
func NewPacketOut(data []byte, as ...Action) *PacketOut {
	return &PacketOut{BufferID: NoBufferID, InPort: PortController, Actions: as, Data: data}
}

func (m *PacketOut) Type() Type { return TypePacketOut }
func (m *PacketOut) Len() int   { return HeaderLen + 16 + actionsLen(m.Actions) + len(m.Data) }

func (m *PacketOut) marshalBody(b []byte) {
	be.PutUint32(b, m.BufferID)
	be.PutUint32(b[4:], m.InPort)
	be.PutUint16(b[8:], uint16(actionsLen(m.Actions)))
	n := 16 + marshalActions(b[16:], m.Actions)
	copy(b[n:], m.Data)
}

func (m *PacketOut) unmarshalBody(d *decoder) {
	m.BufferID = d.u32("buffer_id")
	m.InPort = d.u32("in_port")
	n := int(d.u16("actions_len"))
	d.pad(6)
	m.Actions = unmarshalActions(d.sub(n, "actions"))
	m.Data = d.rest()
}
