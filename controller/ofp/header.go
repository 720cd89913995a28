package ofp

import (
	"encoding/binary"
	"fmt"
)

// Version is the wire protocol version of OpenFlow 1.3.
const Version = 0x04

// HeaderLen is the length of the header every OpenFlow message starts with.
const HeaderLen = 8

// MaxMessageLen is the largest message the 16-bit length field can describe.
const MaxMessageLen = 0xffff

// Type is the message type carried in the OpenFlow header (ofp_type).
type Type uint8

// Message types of OpenFlow 1.3 (section 7.1).
const (
	TypeHello                 Type = 0
	TypeError                 Type = 1
	TypeEchoRequest           Type = 2
	TypeEchoReply             Type = 3
	TypeExperimenter          Type = 4
	TypeFeaturesRequest       Type = 5
	TypeFeaturesReply         Type = 6
	TypeGetConfigRequest      Type = 7
	TypeGetConfigReply        Type = 8
	TypeSetConfig             Type = 9
	TypePacketIn              Type = 10
	TypeFlowRemoved           Type = 11
	TypePortStatus            Type = 12
	TypePacketOut             Type = 13
	TypeFlowMod               Type = 14
	TypeGroupMod              Type = 15
	TypePortMod               Type = 16
	TypeTableMod              Type = 17
	TypeMultipartRequest      Type = 18
	TypeMultipartReply        Type = 19
	TypeBarrierRequest        Type = 20
	TypeBarrierReply          Type = 21
	TypeQueueGetConfigRequest Type = 22
	TypeQueueGetConfigReply   Type = 23
	TypeRoleRequest           Type = 24
	TypeRoleReply             Type = 25
	TypeGetAsyncRequest       Type = 26
	TypeGetAsyncReply         Type = 27
	TypeSetAsync              Type = 28
	TypeMeterMod              Type = 29
)

var typeNames = [...]string{
	"HELLO", "ERROR", "ECHO_REQUEST", "ECHO_REPLY", "EXPERIMENTER",
	"FEATURES_REQUEST", "FEATURES_REPLY", "GET_CONFIG_REQUEST", "GET_CONFIG_REPLY",
	"SET_CONFIG", "PACKET_IN", "FLOW_REMOVED", "PORT_STATUS", "PACKET_OUT",
	"FLOW_MOD", "GROUP_MOD", "PORT_MOD", "TABLE_MOD", "MULTIPART_REQUEST",
	"MULTIPART_REPLY", "BARRIER_REQUEST", "BARRIER_REPLY", "QUEUE_GET_CONFIG_REQUEST",
	"QUEUE_GET_CONFIG_REPLY", "ROLE_REQUEST", "ROLE_REPLY", "GET_ASYNC_REQUEST",
	"GET_ASYNC_REPLY", "SET_ASYNC", "METER_MOD",
}

func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("TYPE_%d", uint8(t))
}

// Header is the common part of every message that is not derived from its
// contents: the version and the transaction id. The type comes from the Go
// type of the message and the length from its encoding.
type Header struct {
	// Version is the wire version; zero means [Version] when encoding.
	Version uint8
	// Xid is the transaction id that pairs replies with requests.
	Xid uint32
}

// XID returns the transaction id.
func (h *Header) XID() uint32 { return h.Xid }

// SetXID sets the transaction id.
func (h *Header) SetXID(xid uint32) { h.Xid = xid }

func (h *Header) header() *Header { return h }

// Message is an OpenFlow message.
type Message interface {
	// Type is the ofp_type the message is sent with.
	Type() Type
	// XID returns the transaction id.
	XID() uint32
	// SetXID sets the transaction id.
	SetXID(uint32)
	// Len is the encoded length of the whole message, header included.
	Len() int
	// marshalBody writes the body (everything after the header) into b,
	// which is exactly Len()-HeaderLen bytes long and zeroed.
	marshalBody(b []byte)
	// unmarshalBody decodes the body from d, recording errors in d.
	unmarshalBody(d *decoder)
	header() *Header
}

// Marshal encodes m with its header.
func Marshal(m Message) ([]byte, error) {
	b := make([]byte, m.Len())
	if _, err := MarshalTo(b, m); err != nil {
		return nil, err
	}
	return b, nil
}

// MarshalTo encodes m into b and returns the number of bytes written. b must
// hold at least m.Len() bytes.
func MarshalTo(b []byte, m Message) (int, error) {
	n := m.Len()
	if n > MaxMessageLen {
		return 0, fmt.Errorf("ofp: %s: encoded length %d exceeds %d", m.Type(), n, MaxMessageLen)
	}
	if len(b) < n {
		return 0, fmt.Errorf("ofp: %s: buffer of %d bytes for a %d-byte message", m.Type(), len(b), n)
	}
	h := m.header()
	v := h.Version
	if v == 0 {
		v = Version
	}
	b[0] = v
	b[1] = byte(m.Type())
	binary.BigEndian.PutUint16(b[2:], uint16(n))
	binary.BigEndian.PutUint32(b[4:], h.Xid)
	body := b[HeaderLen:n]
	clear(body)
	m.marshalBody(body)
	return n, nil
}

// PeekHeader reads the version, type, length and xid from the first
// HeaderLen bytes of b without decoding the body.
func PeekHeader(b []byte) (version uint8, typ Type, length uint16, xid uint32, err error) {
	if len(b) < HeaderLen {
		return 0, 0, 0, 0, &DecodeError{Msg: "header", Offset: len(b), Err: errShort}
	}
	return b[0], Type(b[1]), binary.BigEndian.Uint16(b[2:]), binary.BigEndian.Uint32(b[4:]), nil
}

// Decode decodes exactly one message from b. The length in the header must
// equal len(b). A message of another version than 1.3 is decoded only if it
// is a HELLO (version negotiation needs to read it); anything else is an
// error. The returned message does not alias b.
func Decode(b []byte) (Message, error) {
	version, typ, length, xid, err := PeekHeader(b)
	if err != nil {
		return nil, err
	}
	if int(length) < HeaderLen {
		return nil, &DecodeError{Msg: typ.String(), Offset: 2, Err: fmt.Errorf("length %d shorter than the header", length)}
	}
	if int(length) != len(b) {
		return nil, &DecodeError{Msg: typ.String(), Offset: 2, Err: fmt.Errorf("length field %d but %d bytes", length, len(b))}
	}
	if version != Version && typ != TypeHello {
		return nil, &DecodeError{Msg: typ.String(), Offset: 0, Err: fmt.Errorf("%w: 0x%02x", ErrVersion, version)}
	}
	m := newMessage(typ)
	h := m.header()
	h.Version = version
	h.Xid = xid
	d := newDecoder(b[HeaderLen:], HeaderLen, typ.String())
	m.unmarshalBody(d)
	if d.len() != 0 && !d.failed() {
		d.fail("%d trailing bytes", d.len())
	}
	if err := d.error(); err != nil {
		return nil, err
	}
	return m, nil
}

func newMessage(t Type) Message {
	switch t {
	case TypeHello:
		return &Hello{}
	case TypeError:
		return &ErrorMsg{}
	case TypeEchoRequest:
		return &EchoRequest{}
	case TypeEchoReply:
		return &EchoReply{}
	case TypeExperimenter:
		return &Experimenter{}
	case TypeFeaturesRequest:
		return &FeaturesRequest{}
	case TypeFeaturesReply:
		return &FeaturesReply{}
	case TypeGetConfigRequest:
		return &GetConfigRequest{}
	case TypeGetConfigReply:
		return &GetConfigReply{}
	case TypeSetConfig:
		return &SetConfig{}
	case TypePacketIn:
		return &PacketIn{}
	case TypeFlowRemoved:
		return &FlowRemoved{}
	case TypePortStatus:
		return &PortStatus{}
	case TypePacketOut:
		return &PacketOut{}
	case TypeFlowMod:
		return &FlowMod{}
	case TypeGroupMod:
		return &GroupMod{}
	case TypePortMod:
		return &PortMod{}
	case TypeTableMod:
		return &TableMod{}
	case TypeMultipartRequest:
		return &MultipartRequest{}
	case TypeMultipartReply:
		return &MultipartReply{}
	case TypeBarrierRequest:
		return &BarrierRequest{}
	case TypeBarrierReply:
		return &BarrierReply{}
	case TypeQueueGetConfigRequest:
		return &QueueGetConfigRequest{}
	case TypeQueueGetConfigReply:
		return &QueueGetConfigReply{}
	case TypeRoleRequest:
		return &RoleRequest{}
	case TypeRoleReply:
		return &RoleReply{}
	case TypeGetAsyncRequest:
		return &GetAsyncRequest{}
	case TypeGetAsyncReply:
		return &GetAsyncReply{}
	case TypeSetAsync:
		return &SetAsync{}
	case TypeMeterMod:
		return &MeterMod{}
	}
	return &Unknown{MsgType: t}
}

// Unknown is a message of a type this codec does not know; its body is kept
// as raw bytes.
type Unknown struct {
	Header
	MsgType Type
	Body    []byte
}

func (m *Unknown) Type() Type               { return m.MsgType }
func (m *Unknown) Len() int                 { return HeaderLen + len(m.Body) }
func (m *Unknown) marshalBody(b []byte)     { copy(b, m.Body) }
func (m *Unknown) unmarshalBody(d *decoder) { m.Body = d.rest() }
