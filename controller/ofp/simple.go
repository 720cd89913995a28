package ofp

// Messages with an empty or a trivial fixed body.

// EchoRequest asks the peer to answer with an EchoReply carrying Data.
type EchoRequest struct {
	Header
	Data []byte
}

func (m *EchoRequest) Type() Type               { return TypeEchoRequest }
func (m *EchoRequest) Len() int                 { return HeaderLen + len(m.Data) }
func (m *EchoRequest) marshalBody(b []byte)     { copy(b, m.Data) }
func (m *EchoRequest) unmarshalBody(d *decoder) { m.Data = d.rest() }

// EchoReply answers an EchoRequest with the same xid and data.
type EchoReply struct {
	Header
	Data []byte
}

func (m *EchoReply) Type() Type               { return TypeEchoReply }
func (m *EchoReply) Len() int                 { return HeaderLen + len(m.Data) }
func (m *EchoReply) marshalBody(b []byte)     { copy(b, m.Data) }
func (m *EchoReply) unmarshalBody(d *decoder) { m.Data = d.rest() }

// emptyBody is embedded by messages that are only a header.
type emptyBody struct{ Header }

func (emptyBody) Len() int               { return HeaderLen }
func (emptyBody) marshalBody([]byte)     {}
func (emptyBody) unmarshalBody(*decoder) {}

// FeaturesRequest asks for the switch's datapath id and capabilities.
type FeaturesRequest struct{ emptyBody }

func (*FeaturesRequest) Type() Type { return TypeFeaturesRequest }

// GetConfigRequest asks for the switch configuration.
type GetConfigRequest struct{ emptyBody }

func (*GetConfigRequest) Type() Type { return TypeGetConfigRequest }

// BarrierRequest asks the switch to finish every earlier message first.
type BarrierRequest struct{ emptyBody }

func (*BarrierRequest) Type() Type { return TypeBarrierRequest }

// BarrierReply tells that every message before the barrier was processed.
type BarrierReply struct{ emptyBody }

func (*BarrierReply) Type() Type { return TypeBarrierReply }

// GetAsyncRequest asks which asynchronous messages the switch sends.
type GetAsyncRequest struct{ emptyBody }

func (*GetAsyncRequest) Type() Type { return TypeGetAsyncRequest }

// Experimenter is a vendor message (ofp_experimenter_header).
type Experimenter struct {
	Header
	Experimenter uint32
	ExpType      uint32
	Data         []byte
}

func (m *Experimenter) Type() Type { return TypeExperimenter }
func (m *Experimenter) Len() int   { return HeaderLen + 8 + len(m.Data) }
func (m *Experimenter) marshalBody(b []byte) {
	be.PutUint32(b, m.Experimenter)
	be.PutUint32(b[4:], m.ExpType)
	copy(b[8:], m.Data)
}
func (m *Experimenter) unmarshalBody(d *decoder) {
	m.Experimenter = d.u32("experimenter")
	m.ExpType = d.u32("exp_type")
	m.Data = d.rest()
}

// Switch configuration flags (ofp_config_flags).
const (
	ConfigFragNormal = 0
	ConfigFragDrop   = 1
	ConfigFragReasm  = 2
)

// Max lengths, for MissSendLen and ActionOutput.MaxLen: the bytes of a
// packet a packet-in carries. MaxLenNoBuffer (OFPCML_NO_BUFFER) asks for
// whole packets, none buffered on the switch. Not a buffer id: that is
// NoBufferID.
const (
	ControllerMaxLen = 0xffe5
	MaxLenNoBuffer   = 0xffff
)

// SwitchConfig is the body of GET_CONFIG_REPLY and SET_CONFIG.
type SwitchConfig struct {
	Flags       uint16
	MissSendLen uint16
}

func (c *SwitchConfig) marshal(b []byte) {
	be.PutUint16(b, c.Flags)
	be.PutUint16(b[2:], c.MissSendLen)
}

func (c *SwitchConfig) unmarshal(d *decoder) {
	c.Flags = d.u16("flags")
	c.MissSendLen = d.u16("miss_send_len")
}

// GetConfigReply carries the switch configuration.
type GetConfigReply struct {
	Header
	SwitchConfig
}

func (m *GetConfigReply) Type() Type               { return TypeGetConfigReply }
func (m *GetConfigReply) Len() int                 { return HeaderLen + 4 }
func (m *GetConfigReply) marshalBody(b []byte)     { m.SwitchConfig.marshal(b) }
func (m *GetConfigReply) unmarshalBody(d *decoder) { m.SwitchConfig.unmarshal(d) }

// SetConfig sets the switch configuration.
type SetConfig struct {
	Header
	SwitchConfig
}

func (m *SetConfig) Type() Type               { return TypeSetConfig }
func (m *SetConfig) Len() int                 { return HeaderLen + 4 }
func (m *SetConfig) marshalBody(b []byte)     { m.SwitchConfig.marshal(b) }
func (m *SetConfig) unmarshalBody(d *decoder) { m.SwitchConfig.unmarshal(d) }

// Controller roles (ofp_controller_role).
const (
	RoleNoChange = 0
	RoleEqual    = 1
	RoleMaster   = 2
	RoleSlave    = 3
)

// RoleBody is the body of ROLE_REQUEST and ROLE_REPLY.
type RoleBody struct {
	Role         uint32
	GenerationID uint64
}

func (r *RoleBody) marshal(b []byte) {
	be.PutUint32(b, r.Role)
	be.PutUint64(b[8:], r.GenerationID)
}

func (r *RoleBody) unmarshal(d *decoder) {
	r.Role = d.u32("role")
	d.pad(4)
	r.GenerationID = d.u64("generation_id")
}

// RoleRequest asks the switch to change or report this controller's role.
type RoleRequest struct {
	Header
	RoleBody
}

func (m *RoleRequest) Type() Type               { return TypeRoleRequest }
func (m *RoleRequest) Len() int                 { return HeaderLen + 16 }
func (m *RoleRequest) marshalBody(b []byte)     { m.RoleBody.marshal(b) }
func (m *RoleRequest) unmarshalBody(d *decoder) { m.RoleBody.unmarshal(d) }

// RoleReply reports this controller's role.
type RoleReply struct {
	Header
	RoleBody
}

func (m *RoleReply) Type() Type               { return TypeRoleReply }
func (m *RoleReply) Len() int                 { return HeaderLen + 16 }
func (m *RoleReply) marshalBody(b []byte)     { m.RoleBody.marshal(b) }
func (m *RoleReply) unmarshalBody(d *decoder) { m.RoleBody.unmarshal(d) }

// AsyncConfig is the body of GET_ASYNC_REPLY and SET_ASYNC: bitmaps of the
// packet-in, port-status and flow-removed reasons the switch sends, indexed
// by role (0: master or equal, 1: slave).
type AsyncConfig struct {
	PacketInMask    [2]uint32
	PortStatusMask  [2]uint32
	FlowRemovedMask [2]uint32
}

func (a *AsyncConfig) marshal(b []byte) {
	for i, v := range [...]uint32{a.PacketInMask[0], a.PacketInMask[1], a.PortStatusMask[0], a.PortStatusMask[1], a.FlowRemovedMask[0], a.FlowRemovedMask[1]} {
		be.PutUint32(b[4*i:], v)
	}
}

func (a *AsyncConfig) unmarshal(d *decoder) {
	for _, p := range [...]*uint32{&a.PacketInMask[0], &a.PacketInMask[1], &a.PortStatusMask[0], &a.PortStatusMask[1], &a.FlowRemovedMask[0], &a.FlowRemovedMask[1]} {
		*p = d.u32("mask")
	}
}

// GetAsyncReply reports the asynchronous configuration.
type GetAsyncReply struct {
	Header
	AsyncConfig
}

func (m *GetAsyncReply) Type() Type               { return TypeGetAsyncReply }
func (m *GetAsyncReply) Len() int                 { return HeaderLen + 24 }
func (m *GetAsyncReply) marshalBody(b []byte)     { m.AsyncConfig.marshal(b) }
func (m *GetAsyncReply) unmarshalBody(d *decoder) { m.AsyncConfig.unmarshal(d) }

// SetAsync sets the asynchronous configuration.
type SetAsync struct {
	Header
	AsyncConfig
}

func (m *SetAsync) Type() Type               { return TypeSetAsync }
func (m *SetAsync) Len() int                 { return HeaderLen + 24 }
func (m *SetAsync) marshalBody(b []byte)     { m.AsyncConfig.marshal(b) }
func (m *SetAsync) unmarshalBody(d *decoder) { m.AsyncConfig.unmarshal(d) }
