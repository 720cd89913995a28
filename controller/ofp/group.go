package ofp

// Group-mod commands (ofp_group_mod_command).
const (
	GroupAdd    = 0
	GroupModify = 1
	GroupDelete = 2
)

// Group types (ofp_group_type).
const (
	GroupTypeAll          = 0
	GroupTypeSelect       = 1
	GroupTypeIndirect     = 2
	GroupTypeFastFailover = 3
)

// GroupMax is the largest group number a controller may allocate.
const GroupMax = 0xffffff00

// Bucket is one action bucket of a group (ofp_bucket).
type Bucket struct {
	// Weight is the bucket's share of traffic in a select group.
	Weight uint16
	// WatchPort and WatchGroup decide liveness in a fast-failover group;
	// PortAny and GroupAny when unused.
	WatchPort  uint32
	WatchGroup uint32
	Actions    []Action
}

// Len is the encoded length of the bucket.
func (bk *Bucket) Len() int { return 16 + actionsLen(bk.Actions) }

func (bk *Bucket) marshal(b []byte) int {
	n := bk.Len()
	be.PutUint16(b, uint16(n))
	be.PutUint16(b[2:], bk.Weight)
	be.PutUint32(b[4:], bk.WatchPort)
	be.PutUint32(b[8:], bk.WatchGroup)
	marshalActions(b[16:], bk.Actions)
	return n
}

func (bk *Bucket) unmarshal(d *decoder) {
	n := d.tlvLen(0, 16, 8, "bucket")
	if d.failed() {
		return
	}
	e := d.sub(n, "bucket")
	e.u16("len")
	bk.Weight = e.u16("weight")
	bk.WatchPort = e.u32("watch_port")
	bk.WatchGroup = e.u32("watch_group")
	e.pad(4)
	bk.Actions = unmarshalActions(e)
}

func bucketsLen(bs []Bucket) int {
	n := 0
	for i := range bs {
		n += bs[i].Len()
	}
	return n
}

func marshalBuckets(b []byte, bs []Bucket) {
	for i := range bs {
		b = b[bs[i].marshal(b):]
	}
}

func unmarshalBuckets(d *decoder) []Bucket {
	var bs []Bucket
	for d.len() > 0 && !d.failed() {
		var bk Bucket
		bk.unmarshal(d)
		bs = append(bs, bk)
	}
	return bs
}

// GroupMod adds, modifies or deletes a group.
type GroupMod struct {
	Header
	Command   uint16
	GroupType uint8
	GroupID   uint32
	Buckets   []Bucket
}

func (m *GroupMod) Type() Type { return TypeGroupMod }
func (m *GroupMod) Len() int   { return HeaderLen + 8 + bucketsLen(m.Buckets) }

func (m *GroupMod) marshalBody(b []byte) {
	be.PutUint16(b, m.Command)
	b[2] = m.GroupType
	be.PutUint32(b[4:], m.GroupID)
	marshalBuckets(b[8:], m.Buckets)
}

func (m *GroupMod) unmarshalBody(d *decoder) {
	m.Command = d.u16("command")
	m.GroupType = d.u8("type")
	d.pad(1)
	m.GroupID = d.u32("group_id")
	m.Buckets = unmarshalBuckets(d)
}

// GroupStatsRequest selects a group (GroupAll for every group) in a GROUP
// multipart request.
type GroupStatsRequest struct{ GroupID uint32 }

func (r *GroupStatsRequest) Len() int         { return 8 }
func (r *GroupStatsRequest) marshal(b []byte) { be.PutUint32(b, r.GroupID) }

func (r *GroupStatsRequest) unmarshal(d *decoder) {
	r.GroupID = d.u32("group_id")
	d.pad(4)
}

// BucketCounter counts the traffic one bucket handled.
type BucketCounter struct {
	PacketCount uint64
	ByteCount   uint64
}

// GroupStats counts the traffic of one group (ofp_group_stats).
type GroupStats struct {
	GroupID      uint32
	RefCount     uint32
	PacketCount  uint64
	ByteCount    uint64
	DurationSec  uint32
	DurationNsec uint32
	BucketStats  []BucketCounter
}

// Len is the encoded length of the entry.
func (s *GroupStats) Len() int { return 40 + 16*len(s.BucketStats) }

func (s *GroupStats) marshal(b []byte) int {
	be.PutUint16(b, uint16(s.Len()))
	be.PutUint32(b[4:], s.GroupID)
	be.PutUint32(b[8:], s.RefCount)
	be.PutUint64(b[16:], s.PacketCount)
	be.PutUint64(b[24:], s.ByteCount)
	be.PutUint32(b[32:], s.DurationSec)
	be.PutUint32(b[36:], s.DurationNsec)
	for i, c := range s.BucketStats {
		be.PutUint64(b[40+16*i:], c.PacketCount)
		be.PutUint64(b[48+16*i:], c.ByteCount)
	}
	return s.Len()
}

func (s *GroupStats) unmarshal(d *decoder) {
	n := d.tlvLen(0, 40, 8, "group stats")
	if d.failed() {
		return
	}
	if (n-40)%16 != 0 {
		d.fail("group stats: length %d leaves a partial bucket counter", n)
		return
	}
	e := d.sub(n, "group stats")
	e.u16("length")
	e.pad(2)
	s.GroupID = e.u32("group_id")
	s.RefCount = e.u32("ref_count")
	e.pad(4)
	s.PacketCount = e.u64("packet_count")
	s.ByteCount = e.u64("byte_count")
	s.DurationSec = e.u32("duration_sec")
	s.DurationNsec = e.u32("duration_nsec")
	for e.len() > 0 && !e.failed() {
		s.BucketStats = append(s.BucketStats, BucketCounter{
			PacketCount: e.u64("packet_count"),
			ByteCount:   e.u64("byte_count"),
		})
	}
}

// GroupStatsReply lists group statistics.
type GroupStatsReply struct{ Stats []GroupStats }

func (r *GroupStatsReply) Len() int {
	n := 0
	for i := range r.Stats {
		n += r.Stats[i].Len()
	}
	return n
}

func (r *GroupStatsReply) marshal(b []byte) {
	for i := range r.Stats {
		b = b[r.Stats[i].marshal(b):]
	}
}

func (r *GroupStatsReply) unmarshal(d *decoder) {
	for d.len() > 0 && !d.failed() {
		var s GroupStats
		s.unmarshal(d)
		r.Stats = append(r.Stats, s)
	}
}

// GroupDesc describes one group (ofp_group_desc).
type GroupDesc struct {
	GroupType uint8
	GroupID   uint32
	Buckets   []Bucket
}

// Len is the encoded length of the entry.
func (g *GroupDesc) Len() int { return 8 + bucketsLen(g.Buckets) }

func (g *GroupDesc) marshal(b []byte) int {
	be.PutUint16(b, uint16(g.Len()))
	b[2] = g.GroupType
	be.PutUint32(b[4:], g.GroupID)
	marshalBuckets(b[8:], g.Buckets)
	return g.Len()
}

func (g *GroupDesc) unmarshal(d *decoder) {
	n := d.tlvLen(0, 8, 8, "group desc")
	if d.failed() {
		return
	}
	e := d.sub(n, "group desc")
	e.u16("length")
	g.GroupType = e.u8("type")
	e.pad(1)
	g.GroupID = e.u32("group_id")
	g.Buckets = unmarshalBuckets(e)
}

// GroupDescReply lists the groups of the switch.
type GroupDescReply struct{ Groups []GroupDesc }

func (r *GroupDescReply) Len() int {
	n := 0
	for i := range r.Groups {
		n += r.Groups[i].Len()
	}
	return n
}

func (r *GroupDescReply) marshal(b []byte) {
	for i := range r.Groups {
		b = b[r.Groups[i].marshal(b):]
	}
}

func (r *GroupDescReply) unmarshal(d *decoder) {
	for d.len() > 0 && !d.failed() {
		var g GroupDesc
		g.unmarshal(d)
		r.Groups = append(r.Groups, g)
	}
}

// GroupFeaturesReply tells which group types and actions the switch
// supports (ofp_group_features). The arrays are indexed by group type.
type GroupFeaturesReply struct {
	// Types is a bitmap of supported group types, 1<<GroupTypeAll etc.
	Types        uint32
	Capabilities uint32
	MaxGroups    [4]uint32
	// Actions holds, per group type, a bitmap of supported action types.
	Actions [4]uint32
}

func (r *GroupFeaturesReply) Len() int { return 40 }

func (r *GroupFeaturesReply) marshal(b []byte) {
	be.PutUint32(b, r.Types)
	be.PutUint32(b[4:], r.Capabilities)
	for i := range 4 {
		be.PutUint32(b[8+4*i:], r.MaxGroups[i])
		be.PutUint32(b[24+4*i:], r.Actions[i])
	}
}

func (r *GroupFeaturesReply) unmarshal(d *decoder) {
	r.Types = d.u32("types")
	r.Capabilities = d.u32("capabilities")
	for i := range r.MaxGroups {
		r.MaxGroups[i] = d.u32("max_groups")
	}
	for i := range r.Actions {
		r.Actions[i] = d.u32("actions")
	}
}
