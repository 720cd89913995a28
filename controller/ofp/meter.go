package ofp

import "fmt"

// Meter-mod commands (ofp_meter_mod_command).
const (
	MeterAdd    = 0
	MeterModify = 1
	MeterDelete = 2
)

// Meter flags (ofp_meter_flags).
const (
	MeterFlagKbps  = 1 << 0
	MeterFlagPktps = 1 << 1
	MeterFlagBurst = 1 << 2
	MeterFlagStats = 1 << 3
)

// Reserved meter ids (ofp_meter).
const (
	MeterMax        = 0xffff0000
	MeterSlowpath   = 0xfffffffd
	MeterController = 0xfffffffe
	MeterAll        = 0xffffffff
)

// MeterBandType identifies a meter band (ofp_meter_band_type).
type MeterBandType uint16

// Meter band types of OpenFlow 1.3.
const (
	MeterBandTypeDrop         MeterBandType = 1
	MeterBandTypeDSCPRemark   MeterBandType = 2
	MeterBandTypeExperimenter MeterBandType = 0xffff
)

func (t MeterBandType) String() string {
	switch t {
	case MeterBandTypeDrop:
		return "drop"
	case MeterBandTypeDSCPRemark:
		return "dscp_remark"
	case MeterBandTypeExperimenter:
		return "experimenter"
	}
	return fmt.Sprintf("band_%d", uint16(t))
}

// MeterBand is one band of a meter: what happens to packets above Rate.
// All bands start with the same header, so the common fields are here and
// the type-specific ones in the band's own struct.
type MeterBand interface {
	BandType() MeterBandType
	// Len is the encoded length of the band.
	Len() int
	marshal(b []byte)
}

var (
	_ MeterBand = &MeterBandDrop{}
	_ MeterBand = &MeterBandDSCPRemark{}
	_ MeterBand = &MeterBandExperimenter{}
	_ MeterBand = &MeterBandUnknown{}
)

func putBandHeader(b []byte, t MeterBandType, n int, rate, burst uint32) {
	be.PutUint16(b, uint16(t))
	be.PutUint16(b[2:], uint16(n))
	be.PutUint32(b[4:], rate)
	be.PutUint32(b[8:], burst)
}

// MeterBandDrop drops packets above the rate.
type MeterBandDrop struct {
	Rate      uint32
	BurstSize uint32
}

func (m *MeterBandDrop) BandType() MeterBandType { return MeterBandTypeDrop }
func (m *MeterBandDrop) Len() int                { return 16 }
func (m *MeterBandDrop) marshal(b []byte) {
	putBandHeader(b, MeterBandTypeDrop, 16, m.Rate, m.BurstSize)
}

// MeterBandDSCPRemark raises the drop precedence of packets above the rate.
type MeterBandDSCPRemark struct {
	Rate      uint32
	BurstSize uint32
	PrecLevel uint8
}

func (m *MeterBandDSCPRemark) BandType() MeterBandType { return MeterBandTypeDSCPRemark }
func (m *MeterBandDSCPRemark) Len() int                { return 16 }
func (m *MeterBandDSCPRemark) marshal(b []byte) {
	putBandHeader(b, MeterBandTypeDSCPRemark, 16, m.Rate, m.BurstSize)
	b[12] = m.PrecLevel
}

// MeterBandExperimenter is a vendor band; Data is what follows the
// experimenter id.
type MeterBandExperimenter struct {
	Rate         uint32
	BurstSize    uint32
	Experimenter uint32
	Data         []byte
}

func (m *MeterBandExperimenter) BandType() MeterBandType { return MeterBandTypeExperimenter }
func (m *MeterBandExperimenter) Len() int                { return 16 + len(m.Data) }
func (m *MeterBandExperimenter) marshal(b []byte) {
	putBandHeader(b, MeterBandTypeExperimenter, m.Len(), m.Rate, m.BurstSize)
	be.PutUint32(b[12:], m.Experimenter)
	copy(b[16:], m.Data)
}

// MeterBandUnknown is a band of a type the codec does not know; Data is
// what follows the rate and burst size.
type MeterBandUnknown struct {
	Kind      MeterBandType
	Rate      uint32
	BurstSize uint32
	Data      []byte
}

func (m *MeterBandUnknown) BandType() MeterBandType { return m.Kind }
func (m *MeterBandUnknown) Len() int                { return 12 + len(m.Data) }
func (m *MeterBandUnknown) marshal(b []byte) {
	putBandHeader(b, m.Kind, m.Len(), m.Rate, m.BurstSize)
	copy(b[12:], m.Data)
}

func bandsLen(bs []MeterBand) int {
	n := 0
	for _, b := range bs {
		n += b.Len()
	}
	return n
}

func marshalBands(b []byte, bs []MeterBand) {
	for _, band := range bs {
		band.marshal(b)
		b = b[band.Len():]
	}
}

func unmarshalBands(d *decoder) []MeterBand {
	var bs []MeterBand
	for d.len() > 0 && !d.failed() {
		// The bands of 1.3 are 16 bytes; the length is not required to be
		// a multiple of 8, so an experimenter band may be any size.
		n := d.tlvLen(2, 12, 1, "meter band")
		if d.failed() {
			return bs
		}
		e := d.sub(n, "meter band")
		t := MeterBandType(e.u16("type"))
		e.u16("len")
		rate, burst := e.u32("rate"), e.u32("burst_size")
		var band MeterBand
		switch t {
		case MeterBandTypeDrop:
			e.pad(4)
			band = &MeterBandDrop{Rate: rate, BurstSize: burst}
		case MeterBandTypeDSCPRemark:
			band = &MeterBandDSCPRemark{Rate: rate, BurstSize: burst, PrecLevel: e.u8("prec_level")}
			e.pad(3)
		case MeterBandTypeExperimenter:
			band = &MeterBandExperimenter{Rate: rate, BurstSize: burst,
				Experimenter: e.u32("experimenter"), Data: e.rest()}
		default:
			band = &MeterBandUnknown{Kind: t, Rate: rate, BurstSize: burst, Data: e.rest()}
		}
		if e.len() != 0 && !e.failed() {
			e.fail("%s band: length %d, want 16", t, n)
		}
		if e.failed() {
			return bs
		}
		bs = append(bs, band)
	}
	return bs
}

// MeterMod adds, modifies or deletes a meter.
type MeterMod struct {
	Header
	Command uint16
	Flags   uint16
	MeterID uint32
	Bands   []MeterBand
}

func (m *MeterMod) Type() Type { return TypeMeterMod }
func (m *MeterMod) Len() int   { return HeaderLen + 8 + bandsLen(m.Bands) }

func (m *MeterMod) marshalBody(b []byte) {
	be.PutUint16(b, m.Command)
	be.PutUint16(b[2:], m.Flags)
	be.PutUint32(b[4:], m.MeterID)
	marshalBands(b[8:], m.Bands)
}

func (m *MeterMod) unmarshalBody(d *decoder) {
	m.Command = d.u16("command")
	m.Flags = d.u16("flags")
	m.MeterID = d.u32("meter_id")
	m.Bands = unmarshalBands(d)
}

// MeterStatsRequest selects a meter (MeterAll for every meter) in METER and
// METER_CONFIG multipart requests.
type MeterStatsRequest struct{ MeterID uint32 }

func (r *MeterStatsRequest) Len() int         { return 8 }
func (r *MeterStatsRequest) marshal(b []byte) { be.PutUint32(b, r.MeterID) }

func (r *MeterStatsRequest) unmarshal(d *decoder) {
	r.MeterID = d.u32("meter_id")
	d.pad(4)
}

// MeterBandStats counts the traffic one band acted on.
type MeterBandStats struct {
	PacketBandCount uint64
	ByteBandCount   uint64
}

// MeterStats counts the traffic of one meter (ofp_meter_stats).
type MeterStats struct {
	MeterID       uint32
	FlowCount     uint32
	PacketInCount uint64
	ByteInCount   uint64
	DurationSec   uint32
	DurationNsec  uint32
	BandStats     []MeterBandStats
}

// Len is the encoded length of the entry.
func (s *MeterStats) Len() int { return 40 + 16*len(s.BandStats) }

func (s *MeterStats) marshal(b []byte) int {
	be.PutUint32(b, s.MeterID)
	be.PutUint16(b[4:], uint16(s.Len()))
	be.PutUint32(b[12:], s.FlowCount)
	be.PutUint64(b[16:], s.PacketInCount)
	be.PutUint64(b[24:], s.ByteInCount)
	be.PutUint32(b[32:], s.DurationSec)
	be.PutUint32(b[36:], s.DurationNsec)
	for i, c := range s.BandStats {
		be.PutUint64(b[40+16*i:], c.PacketBandCount)
		be.PutUint64(b[48+16*i:], c.ByteBandCount)
	}
	return s.Len()
}

func (s *MeterStats) unmarshal(d *decoder) {
	n := d.tlvLen(4, 40, 8, "meter stats")
	if d.failed() {
		return
	}
	if (n-40)%16 != 0 {
		d.fail("meter stats: length %d leaves a partial band counter", n)
		return
	}
	e := d.sub(n, "meter stats")
	s.MeterID = e.u32("meter_id")
	e.u16("len")
	e.pad(6)
	s.FlowCount = e.u32("flow_count")
	s.PacketInCount = e.u64("packet_in_count")
	s.ByteInCount = e.u64("byte_in_count")
	s.DurationSec = e.u32("duration_sec")
	s.DurationNsec = e.u32("duration_nsec")
	for e.len() > 0 && !e.failed() {
		s.BandStats = append(s.BandStats, MeterBandStats{
			PacketBandCount: e.u64("packet_band_count"),
			ByteBandCount:   e.u64("byte_band_count"),
		})
	}
}

// MeterStatsReply lists meter statistics.
type MeterStatsReply struct{ Stats []MeterStats }

func (r *MeterStatsReply) Len() int {
	n := 0
	for i := range r.Stats {
		n += r.Stats[i].Len()
	}
	return n
}

func (r *MeterStatsReply) marshal(b []byte) {
	for i := range r.Stats {
		b = b[r.Stats[i].marshal(b):]
	}
}

func (r *MeterStatsReply) unmarshal(d *decoder) {
	for d.len() > 0 && !d.failed() {
		var s MeterStats
		s.unmarshal(d)
		r.Stats = append(r.Stats, s)
	}
}

// MeterConfig is the configuration of one meter (ofp_meter_config).
type MeterConfig struct {
	Flags   uint16
	MeterID uint32
	Bands   []MeterBand
}

// Len is the encoded length of the entry.
func (c *MeterConfig) Len() int { return 8 + bandsLen(c.Bands) }

func (c *MeterConfig) marshal(b []byte) int {
	be.PutUint16(b, uint16(c.Len()))
	be.PutUint16(b[2:], c.Flags)
	be.PutUint32(b[4:], c.MeterID)
	marshalBands(b[8:], c.Bands)
	return c.Len()
}

func (c *MeterConfig) unmarshal(d *decoder) {
	n := d.tlvLen(0, 8, 1, "meter config")
	if d.failed() {
		return
	}
	e := d.sub(n, "meter config")
	e.u16("length")
	c.Flags = e.u16("flags")
	c.MeterID = e.u32("meter_id")
	c.Bands = unmarshalBands(e)
}

// MeterConfigReply lists meter configurations.
type MeterConfigReply struct{ Configs []MeterConfig }

func (r *MeterConfigReply) Len() int {
	n := 0
	for i := range r.Configs {
		n += r.Configs[i].Len()
	}
	return n
}

func (r *MeterConfigReply) marshal(b []byte) {
	for i := range r.Configs {
		b = b[r.Configs[i].marshal(b):]
	}
}

func (r *MeterConfigReply) unmarshal(d *decoder) {
	for d.len() > 0 && !d.failed() {
		var c MeterConfig
		c.unmarshal(d)
		r.Configs = append(r.Configs, c)
	}
}

// MeterFeaturesReply tells what meters the switch supports
// (ofp_meter_features).
type MeterFeaturesReply struct {
	MaxMeter uint32
	// BandTypes is a bitmap of supported band types, 1<<MeterBandTypeDrop
	// etc.
	BandTypes uint32
	// Capabilities is a bitmap of supported meter flags.
	Capabilities uint32
	MaxBands     uint8
	MaxColor     uint8
}

func (r *MeterFeaturesReply) Len() int { return 16 }

func (r *MeterFeaturesReply) marshal(b []byte) {
	be.PutUint32(b, r.MaxMeter)
	be.PutUint32(b[4:], r.BandTypes)
	be.PutUint32(b[8:], r.Capabilities)
	b[12] = r.MaxBands
	b[13] = r.MaxColor
}

func (r *MeterFeaturesReply) unmarshal(d *decoder) {
	r.MaxMeter = d.u32("max_meter")
	r.BandTypes = d.u32("band_types")
	r.Capabilities = d.u32("capabilities")
	r.MaxBands = d.u8("max_bands")
	r.MaxColor = d.u8("max_color")
	d.pad(2)
}
