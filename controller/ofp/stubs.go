package ofp

// The messages below are kept as raw bodies for now.

// GroupMod adds, modifies or deletes a group.
type GroupMod struct{ rawBody }

func (*GroupMod) Type() Type { return TypeGroupMod }

// MeterMod adds, modifies or deletes a meter.
type MeterMod struct{ rawBody }

func (*MeterMod) Type() Type { return TypeMeterMod }

// QueueGetConfigRequest asks for a port's queues.
type QueueGetConfigRequest struct{ rawBody }

func (*QueueGetConfigRequest) Type() Type { return TypeQueueGetConfigRequest }

// QueueGetConfigReply lists a port's queues.
type QueueGetConfigReply struct{ rawBody }

func (*QueueGetConfigReply) Type() Type { return TypeQueueGetConfigReply }

type rawBody struct {
	Header
	Body []byte
}

func (m *rawBody) Len() int                 { return HeaderLen + len(m.Body) }
func (m *rawBody) marshalBody(b []byte)     { copy(b, m.Body) }
func (m *rawBody) unmarshalBody(d *decoder) { m.Body = d.rest() }
