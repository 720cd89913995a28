package ofp

import "fmt"

// QueueAll selects every queue in a QUEUE multipart request.
const QueueAll = 0xffffffff

// QueuePropType identifies a queue property (ofp_queue_properties).
type QueuePropType uint16

// Queue property types of OpenFlow 1.3.
const (
	QueuePropMinRate      QueuePropType = 1
	QueuePropMaxRate      QueuePropType = 2
	QueuePropExperimenter QueuePropType = 0xffff
)

func (t QueuePropType) String() string {
	switch t {
	case QueuePropMinRate:
		return "min_rate"
	case QueuePropMaxRate:
		return "max_rate"
	case QueuePropExperimenter:
		return "experimenter"
	}
	return fmt.Sprintf("prop_%d", uint16(t))
}

// QueueProp is one property of a queue.
type QueueProp interface {
	PropType() QueuePropType
	// Len is the encoded length of the property.
	Len() int
	marshal(b []byte)
}

var (
	_ QueueProp = &QueuePropRate{}
	_ QueueProp = &QueuePropExperimenterData{}
	_ QueueProp = &QueuePropUnknown{}
)

func putQueuePropHeader(b []byte, t QueuePropType, n int) {
	be.PutUint16(b, uint16(t))
	be.PutUint16(b[2:], uint16(n))
}

// QueuePropRate is a minimum or maximum rate (Kind is QueuePropMinRate or
// QueuePropMaxRate) in 1/10 of a percent of the port speed; above 1000
// means disabled.
type QueuePropRate struct {
	Kind QueuePropType
	Rate uint16
}

func (p *QueuePropRate) PropType() QueuePropType { return p.Kind }
func (p *QueuePropRate) Len() int                { return 16 }
func (p *QueuePropRate) marshal(b []byte) {
	putQueuePropHeader(b, p.Kind, 16)
	be.PutUint16(b[8:], p.Rate)
}

// QueuePropExperimenterData is a vendor queue property.
type QueuePropExperimenterData struct {
	Experimenter uint32
	Data         []byte
}

func (p *QueuePropExperimenterData) PropType() QueuePropType { return QueuePropExperimenter }
func (p *QueuePropExperimenterData) Len() int                { return 16 + len(p.Data) }
func (p *QueuePropExperimenterData) marshal(b []byte) {
	putQueuePropHeader(b, QueuePropExperimenter, p.Len())
	be.PutUint32(b[8:], p.Experimenter)
	copy(b[16:], p.Data)
}

// QueuePropUnknown is a property of a type the codec does not know; Data
// follows the 8-byte property header.
type QueuePropUnknown struct {
	Kind QueuePropType
	Data []byte
}

func (p *QueuePropUnknown) PropType() QueuePropType { return p.Kind }
func (p *QueuePropUnknown) Len() int                { return 8 + len(p.Data) }
func (p *QueuePropUnknown) marshal(b []byte) {
	putQueuePropHeader(b, p.Kind, p.Len())
	copy(b[8:], p.Data)
}

// PacketQueue describes one queue of a port (ofp_packet_queue).
type PacketQueue struct {
	QueueID    uint32
	Port       uint32
	Properties []QueueProp
}

// Len is the encoded length of the queue.
func (q *PacketQueue) Len() int {
	n := 16
	for _, p := range q.Properties {
		n += p.Len()
	}
	return n
}

func (q *PacketQueue) marshal(b []byte) int {
	be.PutUint32(b, q.QueueID)
	be.PutUint32(b[4:], q.Port)
	be.PutUint16(b[8:], uint16(q.Len()))
	n := 16
	for _, p := range q.Properties {
		p.marshal(b[n:])
		n += p.Len()
	}
	return n
}

func (q *PacketQueue) unmarshal(d *decoder) {
	// Lengths of queues and properties need not be multiples of 8: the
	// experimenter property carries any number of bytes.
	n := d.tlvLen(8, 16, 1, "queue")
	if d.failed() {
		return
	}
	e := d.sub(n, "queue")
	q.QueueID = e.u32("queue_id")
	q.Port = e.u32("port")
	e.u16("len")
	e.pad(6)
	for e.len() > 0 && !e.failed() {
		pn := e.tlvLen(2, 8, 1, "queue property")
		if e.failed() {
			return
		}
		pd := e.sub(pn, "queue property")
		t := QueuePropType(pd.u16("property"))
		pd.u16("len")
		pd.pad(4)
		var p QueueProp
		switch t {
		case QueuePropMinRate, QueuePropMaxRate:
			p = &QueuePropRate{Kind: t, Rate: pd.u16("rate")}
			pd.pad(6)
			if pd.len() != 0 && !pd.failed() {
				pd.fail("%s property: length %d, want 16", t, pn)
			}
		case QueuePropExperimenter:
			p = &QueuePropExperimenterData{Experimenter: pd.u32("experimenter")}
			pd.pad(4)
			p.(*QueuePropExperimenterData).Data = pd.rest()
		default:
			p = &QueuePropUnknown{Kind: t, Data: pd.rest()}
		}
		if pd.failed() {
			return
		}
		q.Properties = append(q.Properties, p)
	}
}

// QueueGetConfigRequest asks for the queues of a port (PortAny for all).
type QueueGetConfigRequest struct {
	Header
	Port uint32
}

func (m *QueueGetConfigRequest) Type() Type { return TypeQueueGetConfigRequest }
func (m *QueueGetConfigRequest) Len() int   { return HeaderLen + 8 }

func (m *QueueGetConfigRequest) marshalBody(b []byte) { be.PutUint32(b, m.Port) }

func (m *QueueGetConfigRequest) unmarshalBody(d *decoder) {
	m.Port = d.u32("port")
	d.pad(4)
}

// QueueGetConfigReply lists the queues of a port.
type QueueGetConfigReply struct {
	Header
	Port   uint32
	Queues []PacketQueue
}

func (m *QueueGetConfigReply) Type() Type { return TypeQueueGetConfigReply }

func (m *QueueGetConfigReply) Len() int {
	n := HeaderLen + 8
	for i := range m.Queues {
		n += m.Queues[i].Len()
	}
	return n
}

func (m *QueueGetConfigReply) marshalBody(b []byte) {
	be.PutUint32(b, m.Port)
	b = b[8:]
	for i := range m.Queues {
		b = b[m.Queues[i].marshal(b):]
	}
}

func (m *QueueGetConfigReply) unmarshalBody(d *decoder) {
	m.Port = d.u32("port")
	d.pad(4)
	for d.len() > 0 && !d.failed() {
		var q PacketQueue
		q.unmarshal(d)
		m.Queues = append(m.Queues, q)
	}
}

// QueueStatsRequest selects queues in a QUEUE multipart request.
type QueueStatsRequest struct {
	PortNo  uint32
	QueueID uint32
}

func (r *QueueStatsRequest) Len() int { return 8 }
func (r *QueueStatsRequest) marshal(b []byte) {
	be.PutUint32(b, r.PortNo)
	be.PutUint32(b[4:], r.QueueID)
}

func (r *QueueStatsRequest) unmarshal(d *decoder) {
	r.PortNo = d.u32("port_no")
	r.QueueID = d.u32("queue_id")
}

// QueueStats counts the traffic of one queue (ofp_queue_stats).
type QueueStats struct {
	PortNo       uint32
	QueueID      uint32
	TxBytes      uint64
	TxPackets    uint64
	TxErrors     uint64
	DurationSec  uint32
	DurationNsec uint32
}

// QueueStatsReply lists queue statistics.
type QueueStatsReply struct{ Stats []QueueStats }

func (r *QueueStatsReply) Len() int { return 40 * len(r.Stats) }

func (r *QueueStatsReply) marshal(b []byte) {
	for i, s := range r.Stats {
		p := b[40*i:]
		be.PutUint32(p, s.PortNo)
		be.PutUint32(p[4:], s.QueueID)
		be.PutUint64(p[8:], s.TxBytes)
		be.PutUint64(p[16:], s.TxPackets)
		be.PutUint64(p[24:], s.TxErrors)
		be.PutUint32(p[32:], s.DurationSec)
		be.PutUint32(p[36:], s.DurationNsec)
	}
}

func (r *QueueStatsReply) unmarshal(d *decoder) {
	for d.len() > 0 && !d.failed() {
		r.Stats = append(r.Stats, QueueStats{
			PortNo:       d.u32("port_no"),
			QueueID:      d.u32("queue_id"),
			TxBytes:      d.u64("tx_bytes"),
			TxPackets:    d.u64("tx_packets"),
			TxErrors:     d.u64("tx_errors"),
			DurationSec:  d.u32("duration_sec"),
			DurationNsec: d.u32("duration_nsec"),
		})
	}
}
