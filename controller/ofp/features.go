package ofp

// Capabilities of a datapath (ofp_capabilities).
const (
	CapFlowStats   = 1 << 0
	CapTableStats  = 1 << 1
	CapPortStats   = 1 << 2
	CapGroupStats  = 1 << 3
	CapIPReasm     = 1 << 5
	CapQueueStats  = 1 << 6
	CapPortBlocked = 1 << 8
)

// FeaturesReply identifies the datapath.
type FeaturesReply struct {
	Header
	DatapathID   uint64
	NBuffers     uint32
	NTables      uint8
	AuxiliaryID  uint8
	Capabilities uint32
	Reserved     uint32
}

func (m *FeaturesReply) Type() Type { return TypeFeaturesReply }
func (m *FeaturesReply) Len() int   { return HeaderLen + 24 }

func (m *FeaturesReply) marshalBody(b []byte) {
	be.PutUint64(b, m.DatapathID)
	be.PutUint32(b[8:], m.NBuffers)
	b[12] = m.NTables
	b[13] = m.AuxiliaryID
	be.PutUint32(b[16:], m.Capabilities)
	be.PutUint32(b[20:], m.Reserved)
}

func (m *FeaturesReply) unmarshalBody(d *decoder) {
	m.DatapathID = d.u64("datapath_id")
	m.NBuffers = d.u32("n_buffers")
	m.NTables = d.u8("n_tables")
	m.AuxiliaryID = d.u8("auxiliary_id")
	d.pad(2)
	m.Capabilities = d.u32("capabilities")
	m.Reserved = d.u32("reserved")
}
