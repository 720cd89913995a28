package ofp

import "fmt"

// MultipartType identifies the body of a multipart message
// (ofp_multipart_type).
type MultipartType uint16

// Multipart types of OpenFlow 1.3.
const (
	MultipartDesc          MultipartType = 0
	MultipartFlow          MultipartType = 1
	MultipartAggregate     MultipartType = 2
	MultipartTable         MultipartType = 3
	MultipartPortStats     MultipartType = 4
	MultipartQueue         MultipartType = 5
	MultipartGroup         MultipartType = 6
	MultipartGroupDesc     MultipartType = 7
	MultipartGroupFeatures MultipartType = 8
	MultipartMeter         MultipartType = 9
	MultipartMeterConfig   MultipartType = 10
	MultipartMeterFeatures MultipartType = 11
	MultipartTableFeatures MultipartType = 12
	MultipartPortDesc      MultipartType = 13
	MultipartExperimenter  MultipartType = 0xffff
)

var multipartNames = map[MultipartType]string{
	MultipartDesc: "DESC", MultipartFlow: "FLOW", MultipartAggregate: "AGGREGATE",
	MultipartTable: "TABLE", MultipartPortStats: "PORT_STATS", MultipartQueue: "QUEUE",
	MultipartGroup: "GROUP", MultipartGroupDesc: "GROUP_DESC",
	MultipartGroupFeatures: "GROUP_FEATURES", MultipartMeter: "METER",
	MultipartMeterConfig: "METER_CONFIG", MultipartMeterFeatures: "METER_FEATURES",
	MultipartTableFeatures: "TABLE_FEATURES", MultipartPortDesc: "PORT_DESC",
	MultipartExperimenter: "EXPERIMENTER",
}

func (t MultipartType) String() string {
	if s, ok := multipartNames[t]; ok {
		return s
	}
	return fmt.Sprintf("MULTIPART_%d", uint16(t))
}

// MultipartMore is the flag (REQ_MORE, REPLY_MORE) that says more messages
// of the same xid follow.
const MultipartMore = 1

// MultipartBody is the body of a multipart request or reply.
type MultipartBody interface {
	Len() int
	marshal(b []byte)
}

// MultipartRequest asks for statistics or descriptions.
type MultipartRequest struct {
	Header
	MPType MultipartType
	Flags  uint16
	// Body is nil for the types whose request has no body (DESC, TABLE,
	// PORT_DESC, GROUP_DESC, GROUP_FEATURES, METER_FEATURES).
	Body MultipartBody
}

// MultipartReply carries statistics or descriptions; a reply may be split
// over several messages with MultipartMore set on all but the last.
type MultipartReply struct {
	Header
	MPType MultipartType
	Flags  uint16
	Body   MultipartBody
}

// More reports whether another reply with the same xid follows.
func (m *MultipartReply) More() bool { return m.Flags&MultipartMore != 0 }

func bodyLen(b MultipartBody) int {
	if b == nil {
		return 0
	}
	return b.Len()
}

func (m *MultipartRequest) Type() Type { return TypeMultipartRequest }
func (m *MultipartRequest) Len() int   { return HeaderLen + 8 + bodyLen(m.Body) }
func (m *MultipartRequest) marshalBody(b []byte) {
	be.PutUint16(b, uint16(m.MPType))
	be.PutUint16(b[2:], m.Flags)
	if m.Body != nil {
		m.Body.marshal(b[8:])
	}
}

func (m *MultipartRequest) unmarshalBody(d *decoder) {
	m.MPType = MultipartType(d.u16("type"))
	m.Flags = d.u16("flags")
	d.pad(4)
	if d.failed() {
		return
	}
	m.Body = unmarshalRequestBody(m.MPType, d)
}

func (m *MultipartReply) Type() Type { return TypeMultipartReply }
func (m *MultipartReply) Len() int   { return HeaderLen + 8 + bodyLen(m.Body) }
func (m *MultipartReply) marshalBody(b []byte) {
	be.PutUint16(b, uint16(m.MPType))
	be.PutUint16(b[2:], m.Flags)
	if m.Body != nil {
		m.Body.marshal(b[8:])
	}
}

func (m *MultipartReply) unmarshalBody(d *decoder) {
	m.MPType = MultipartType(d.u16("type"))
	m.Flags = d.u16("flags")
	d.pad(4)
	if d.failed() {
		return
	}
	m.Body = unmarshalReplyBody(m.MPType, d)
}

func unmarshalRequestBody(t MultipartType, d *decoder) MultipartBody {
	var b interface {
		MultipartBody
		unmarshal(d *decoder)
	}
	switch t {
	case MultipartDesc, MultipartTable, MultipartPortDesc, MultipartGroupDesc,
		MultipartGroupFeatures, MultipartMeterFeatures:
		if d.len() != 0 {
			// The specification gives these requests no body; whatever a
			// peer sent survives a round trip.
			return unmarshalRaw(d)
		}
		return nil
	case MultipartFlow, MultipartAggregate:
		b = &FlowStatsRequest{}
	case MultipartPortStats:
		b = &PortStatsRequest{}
	case MultipartQueue:
		b = &QueueStatsRequest{}
	case MultipartGroup:
		b = &GroupStatsRequest{}
	case MultipartMeter, MultipartMeterConfig:
		b = &MeterStatsRequest{}
	case MultipartTableFeatures:
		b = &TableFeaturesBody{}
	case MultipartExperimenter:
		b = &MultipartExperimenterBody{}
	default:
		return unmarshalRaw(d)
	}
	b.unmarshal(d)
	return b
}

func unmarshalReplyBody(t MultipartType, d *decoder) MultipartBody {
	var b interface {
		MultipartBody
		unmarshal(d *decoder)
	}
	switch t {
	case MultipartDesc:
		b = &DescReply{}
	case MultipartFlow:
		b = &FlowStatsReply{}
	case MultipartAggregate:
		b = &AggregateStatsReply{}
	case MultipartTable:
		b = &TableStatsReply{}
	case MultipartPortStats:
		b = &PortStatsReply{}
	case MultipartPortDesc:
		b = &PortDescReply{}
	case MultipartQueue:
		b = &QueueStatsReply{}
	case MultipartGroup:
		b = &GroupStatsReply{}
	case MultipartGroupDesc:
		b = &GroupDescReply{}
	case MultipartGroupFeatures:
		b = &GroupFeaturesReply{}
	case MultipartMeter:
		b = &MeterStatsReply{}
	case MultipartMeterConfig:
		b = &MeterConfigReply{}
	case MultipartMeterFeatures:
		b = &MeterFeaturesReply{}
	case MultipartTableFeatures:
		b = &TableFeaturesBody{}
	case MultipartExperimenter:
		b = &MultipartExperimenterBody{}
	default:
		return unmarshalRaw(d)
	}
	b.unmarshal(d)
	return b
}

// MultipartRaw is a multipart body the codec keeps as bytes: that of a
// multipart type it does not know, or a body where the specification
// gives none.
type MultipartRaw struct{ Data []byte }

func (r *MultipartRaw) Len() int         { return len(r.Data) }
func (r *MultipartRaw) marshal(b []byte) { copy(b, r.Data) }

func unmarshalRaw(d *decoder) MultipartBody { return &MultipartRaw{Data: d.rest()} }

// MultipartExperimenterBody is the body of an EXPERIMENTER multipart
// request or reply (ofp_experimenter_multipart_header and what follows).
type MultipartExperimenterBody struct {
	Experimenter uint32
	ExpType      uint32
	Data         []byte
}

func (r *MultipartExperimenterBody) Len() int { return 8 + len(r.Data) }
func (r *MultipartExperimenterBody) marshal(b []byte) {
	be.PutUint32(b, r.Experimenter)
	be.PutUint32(b[4:], r.ExpType)
	copy(b[8:], r.Data)
}

func (r *MultipartExperimenterBody) unmarshal(d *decoder) {
	r.Experimenter = d.u32("experimenter")
	r.ExpType = d.u32("exp_type")
	r.Data = d.rest()
}

// DescReply describes the switch (ofp_desc).
type DescReply struct {
	MfrDesc   string
	HWDesc    string
	SWDesc    string
	SerialNum string
	DPDesc    string
}

func (r *DescReply) Len() int { return 1056 }
func (r *DescReply) marshal(b []byte) {
	putStr(b[0:256], r.MfrDesc)
	putStr(b[256:512], r.HWDesc)
	putStr(b[512:768], r.SWDesc)
	putStr(b[768:800], r.SerialNum)
	putStr(b[800:1056], r.DPDesc)
}

func (r *DescReply) unmarshal(d *decoder) {
	r.MfrDesc = d.str(256, "mfr_desc")
	r.HWDesc = d.str(256, "hw_desc")
	r.SWDesc = d.str(256, "sw_desc")
	r.SerialNum = d.str(32, "serial_num")
	r.DPDesc = d.str(256, "dp_desc")
}

// FlowStatsRequest selects flows for FLOW and AGGREGATE requests.
type FlowStatsRequest struct {
	TableID    uint8
	OutPort    uint32
	OutGroup   uint32
	Cookie     uint64
	CookieMask uint64
	Match      Match
}

// NewFlowStatsRequest selects every flow of every table.
func NewFlowStatsRequest() *FlowStatsRequest {
	return &FlowStatsRequest{TableID: TableAll, OutPort: PortAny, OutGroup: GroupAny}
}

func (r *FlowStatsRequest) Len() int { return 32 + r.Match.Len() }
func (r *FlowStatsRequest) marshal(b []byte) {
	b[0] = r.TableID
	be.PutUint32(b[4:], r.OutPort)
	be.PutUint32(b[8:], r.OutGroup)
	be.PutUint64(b[16:], r.Cookie)
	be.PutUint64(b[24:], r.CookieMask)
	r.Match.marshal(b[32:])
}

func (r *FlowStatsRequest) unmarshal(d *decoder) {
	r.TableID = d.u8("table_id")
	d.pad(3)
	r.OutPort = d.u32("out_port")
	r.OutGroup = d.u32("out_group")
	d.pad(4)
	r.Cookie = d.u64("cookie")
	r.CookieMask = d.u64("cookie_mask")
	r.Match.unmarshal(d)
}

// FlowStats describes one flow entry (ofp_flow_stats).
type FlowStats struct {
	TableID      uint8
	DurationSec  uint32
	DurationNsec uint32
	Priority     uint16
	IdleTimeout  uint16
	HardTimeout  uint16
	Flags        uint16
	Cookie       uint64
	PacketCount  uint64
	ByteCount    uint64
	Match        Match
	Instructions []Instruction
}

func (s *FlowStats) Len() int { return 48 + s.Match.Len() + instructionsLen(s.Instructions) }

func (s *FlowStats) marshal(b []byte) {
	be.PutUint16(b, uint16(s.Len()))
	b[2] = s.TableID
	be.PutUint32(b[4:], s.DurationSec)
	be.PutUint32(b[8:], s.DurationNsec)
	be.PutUint16(b[12:], s.Priority)
	be.PutUint16(b[14:], s.IdleTimeout)
	be.PutUint16(b[16:], s.HardTimeout)
	be.PutUint16(b[18:], s.Flags)
	be.PutUint64(b[24:], s.Cookie)
	be.PutUint64(b[32:], s.PacketCount)
	be.PutUint64(b[40:], s.ByteCount)
	n := 48 + s.Match.marshal(b[48:])
	marshalInstructions(b[n:], s.Instructions)
}

func (s *FlowStats) unmarshal(d *decoder) {
	n := d.tlvLen(0, 56, 8, "flow stats")
	if d.failed() {
		return
	}
	e := d.sub(n, "flow stats")
	e.u16("length")
	s.TableID = e.u8("table_id")
	e.pad(1)
	s.DurationSec = e.u32("duration_sec")
	s.DurationNsec = e.u32("duration_nsec")
	s.Priority = e.u16("priority")
	s.IdleTimeout = e.u16("idle_timeout")
	s.HardTimeout = e.u16("hard_timeout")
	s.Flags = e.u16("flags")
	e.pad(4)
	s.Cookie = e.u64("cookie")
	s.PacketCount = e.u64("packet_count")
	s.ByteCount = e.u64("byte_count")
	s.Match.unmarshal(e)
	s.Instructions = unmarshalInstructions(e)
}

// FlowStatsReply lists flow entries.
type FlowStatsReply struct{ Stats []FlowStats }

func (r *FlowStatsReply) Len() int {
	n := 0
	for i := range r.Stats {
		n += r.Stats[i].Len()
	}
	return n
}

func (r *FlowStatsReply) unmarshal(d *decoder) {
	for d.len() > 0 && !d.failed() {
		var s FlowStats
		s.unmarshal(d)
		r.Stats = append(r.Stats, s)
	}
}

func (r *FlowStatsReply) marshal(b []byte) {
	for i := range r.Stats {
		r.Stats[i].marshal(b)
		b = b[r.Stats[i].Len():]
	}
}

// AggregateStatsReply sums the flows an AGGREGATE request selected.
type AggregateStatsReply struct {
	PacketCount uint64
	ByteCount   uint64
	FlowCount   uint32
}

func (r *AggregateStatsReply) Len() int { return 24 }
func (r *AggregateStatsReply) unmarshal(d *decoder) {
	r.PacketCount = d.u64("packet_count")
	r.ByteCount = d.u64("byte_count")
	r.FlowCount = d.u32("flow_count")
	d.pad(4)
}
func (r *AggregateStatsReply) marshal(b []byte) {
	be.PutUint64(b, r.PacketCount)
	be.PutUint64(b[8:], r.ByteCount)
	be.PutUint32(b[16:], r.FlowCount)
}

// TableStats counts lookups in one table.
type TableStats struct {
	TableID      uint8
	ActiveCount  uint32
	LookupCount  uint64
	MatchedCount uint64
}

// TableStatsReply lists table statistics.
type TableStatsReply struct{ Stats []TableStats }

func (r *TableStatsReply) Len() int { return 24 * len(r.Stats) }
func (r *TableStatsReply) unmarshal(d *decoder) {
	for d.len() > 0 && !d.failed() {
		var s TableStats
		s.TableID = d.u8("table_id")
		d.pad(3)
		s.ActiveCount = d.u32("active_count")
		s.LookupCount = d.u64("lookup_count")
		s.MatchedCount = d.u64("matched_count")
		r.Stats = append(r.Stats, s)
	}
}
func (r *TableStatsReply) marshal(b []byte) {
	for i, s := range r.Stats {
		p := b[24*i:]
		p[0] = s.TableID
		be.PutUint32(p[4:], s.ActiveCount)
		be.PutUint64(p[8:], s.LookupCount)
		be.PutUint64(p[16:], s.MatchedCount)
	}
}

// PortStatsRequest selects a port (PortAny for all).
type PortStatsRequest struct{ PortNo uint32 }

func (r *PortStatsRequest) Len() int         { return 8 }
func (r *PortStatsRequest) marshal(b []byte) { be.PutUint32(b, r.PortNo) }
func (r *PortStatsRequest) unmarshal(d *decoder) {
	r.PortNo = d.u32("port_no")
	d.pad(4)
}

// PortStats counts traffic on one port (ofp_port_stats).
type PortStats struct {
	PortNo       uint32
	RxPackets    uint64
	TxPackets    uint64
	RxBytes      uint64
	TxBytes      uint64
	RxDropped    uint64
	TxDropped    uint64
	RxErrors     uint64
	TxErrors     uint64
	RxFrameErr   uint64
	RxOverErr    uint64
	RxCRCErr     uint64
	Collisions   uint64
	DurationSec  uint32
	DurationNsec uint32
}

func (s *PortStats) counters() [12]*uint64 {
	return [12]*uint64{&s.RxPackets, &s.TxPackets, &s.RxBytes, &s.TxBytes, &s.RxDropped,
		&s.TxDropped, &s.RxErrors, &s.TxErrors, &s.RxFrameErr, &s.RxOverErr, &s.RxCRCErr,
		&s.Collisions}
}

func (s *PortStats) unmarshal(d *decoder) {
	s.PortNo = d.u32("port_no")
	d.pad(4)
	for _, c := range s.counters() {
		*c = d.u64("counter")
	}
	s.DurationSec = d.u32("duration_sec")
	s.DurationNsec = d.u32("duration_nsec")
}

// PortStatsReply lists port statistics.
type PortStatsReply struct{ Stats []PortStats }

func (r *PortStatsReply) Len() int { return 112 * len(r.Stats) }
func (r *PortStatsReply) unmarshal(d *decoder) {
	for d.len() > 0 && !d.failed() {
		var s PortStats
		s.unmarshal(d)
		r.Stats = append(r.Stats, s)
	}
}
func (r *PortStatsReply) marshal(b []byte) {
	for i := range r.Stats {
		s := &r.Stats[i]
		p := b[112*i:]
		be.PutUint32(p, s.PortNo)
		for j, c := range s.counters() {
			be.PutUint64(p[8+8*j:], *c)
		}
		be.PutUint32(p[104:], s.DurationSec)
		be.PutUint32(p[108:], s.DurationNsec)
	}
}

// PortDescReply lists the switch's ports.
type PortDescReply struct{ Ports []Port }

func (r *PortDescReply) Len() int { return portLen * len(r.Ports) }
func (r *PortDescReply) unmarshal(d *decoder) {
	for d.len() > 0 && !d.failed() {
		var p Port
		p.unmarshal(d)
		r.Ports = append(r.Ports, p)
	}
}
func (r *PortDescReply) marshal(b []byte) {
	for i := range r.Ports {
		r.Ports[i].marshal(b[portLen*i:])
	}
}
