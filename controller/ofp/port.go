package ofp

import (
	"net"
)

// Reserved port numbers (ofp_port_no).
const (
	PortMax        = 0xffffff00
	PortInPort     = 0xfffffff8
	PortTable      = 0xfffffff9
	PortNormal     = 0xfffffffa
	PortFlood      = 0xfffffffb
	PortAll        = 0xfffffffc
	PortController = 0xfffffffd
	PortLocal      = 0xfffffffe
	PortAny        = 0xffffffff
)

// Port config bits (ofp_port_config).
const (
	PortConfigDown       = 1 << 0
	PortConfigNoRecv     = 1 << 2
	PortConfigNoFwd      = 1 << 5
	PortConfigNoPacketIn = 1 << 6
)

// Port state bits (ofp_port_state).
const (
	PortStateLinkDown = 1 << 0
	PortStateBlocked  = 1 << 1
	PortStateLive     = 1 << 2
)

const portLen = 64

// Port describes a switch port (ofp_port).
type Port struct {
	PortNo     uint32
	HWAddr     net.HardwareAddr
	Name       string
	Config     uint32
	State      uint32
	Curr       uint32
	Advertised uint32
	Supported  uint32
	Peer       uint32
	CurrSpeed  uint32
	MaxSpeed   uint32
}

// Up reports whether the port is administratively up and has a link.
func (p *Port) Up() bool {
	return p.Config&PortConfigDown == 0 && p.State&PortStateLinkDown == 0
}

func (p *Port) marshal(b []byte) {
	be.PutUint32(b, p.PortNo)
	copy(b[8:14], p.HWAddr)
	putStr(b[16:32], p.Name)
	for i, v := range [...]uint32{p.Config, p.State, p.Curr, p.Advertised, p.Supported, p.Peer, p.CurrSpeed, p.MaxSpeed} {
		be.PutUint32(b[32+4*i:], v)
	}
}

func (p *Port) unmarshal(d *decoder) {
	p.PortNo = d.u32("port_no")
	d.pad(4)
	p.HWAddr = net.HardwareAddr(d.bytes(6, "hw_addr"))
	d.pad(2)
	p.Name = d.str(16, "name")
	for _, f := range [...]*uint32{&p.Config, &p.State, &p.Curr, &p.Advertised, &p.Supported, &p.Peer, &p.CurrSpeed, &p.MaxSpeed} {
		*f = d.u32("port field")
	}
}

// Port status reasons (ofp_port_reason).
const (
	PortReasonAdd    = 0
	PortReasonDelete = 1
	PortReasonModify = 2
)

// PortStatus reports a port added, removed or changed.
type PortStatus struct {
	Header
	Reason uint8
	Port   Port
}

func (m *PortStatus) Type() Type { return TypePortStatus }
func (m *PortStatus) Len() int   { return HeaderLen + 8 + portLen }

func (m *PortStatus) marshalBody(b []byte) {
	b[0] = m.Reason
	m.Port.marshal(b[8:])
}

func (m *PortStatus) unmarshalBody(d *decoder) {
	m.Reason = d.u8("reason")
	d.pad(7)
	m.Port.unmarshal(d)
}

// PortMod changes a port's configuration.
type PortMod struct {
	Header
	PortNo    uint32
	HWAddr    net.HardwareAddr
	Config    uint32
	Mask      uint32
	Advertise uint32
}

func (m *PortMod) Type() Type { return TypePortMod }
func (m *PortMod) Len() int   { return HeaderLen + 32 }

func (m *PortMod) marshalBody(b []byte) {
	be.PutUint32(b, m.PortNo)
	copy(b[8:14], m.HWAddr)
	be.PutUint32(b[16:], m.Config)
	be.PutUint32(b[20:], m.Mask)
	be.PutUint32(b[24:], m.Advertise)
}

func (m *PortMod) unmarshalBody(d *decoder) {
	m.PortNo = d.u32("port_no")
	d.pad(4)
	m.HWAddr = net.HardwareAddr(d.bytes(6, "hw_addr"))
	d.pad(2)
	m.Config = d.u32("config")
	m.Mask = d.u32("mask")
	m.Advertise = d.u32("advertise")
	d.pad(4)
}

// TableMod configures a flow table.
type TableMod struct {
	Header
	TableID uint8
	Config  uint32
}

func (m *TableMod) Type() Type { return TypeTableMod }
func (m *TableMod) Len() int   { return HeaderLen + 8 }

func (m *TableMod) marshalBody(b []byte) {
	b[0] = m.TableID
	be.PutUint32(b[4:], m.Config)
}

func (m *TableMod) unmarshalBody(d *decoder) {
	m.TableID = d.u8("table_id")
	d.pad(3)
	m.Config = d.u32("config")
}
