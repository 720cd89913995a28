package ofp

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
)

// OXM classes (ofp_oxm_class).
const (
	OXMClassNXM0         = 0x0000
	OXMClassNXM1         = 0x0001
	OXMClassOpenFlow     = 0x8000
	OXMClassExperimenter = 0xffff
)

// OpenFlow basic match fields (oxm_ofb_match_fields).
const (
	FieldInPort       = 0
	FieldInPhyPort    = 1
	FieldMetadata     = 2
	FieldEthDst       = 3
	FieldEthSrc       = 4
	FieldEthType      = 5
	FieldVlanVID      = 6
	FieldVlanPCP      = 7
	FieldIPDSCP       = 8
	FieldIPECN        = 9
	FieldIPProto      = 10
	FieldIPv4Src      = 11
	FieldIPv4Dst      = 12
	FieldTCPSrc       = 13
	FieldTCPDst       = 14
	FieldUDPSrc       = 15
	FieldUDPDst       = 16
	FieldSCTPSrc      = 17
	FieldSCTPDst      = 18
	FieldICMPv4Type   = 19
	FieldICMPv4Code   = 20
	FieldARPOp        = 21
	FieldARPSPA       = 22
	FieldARPTPA       = 23
	FieldARPSHA       = 24
	FieldARPTHA       = 25
	FieldIPv6Src      = 26
	FieldIPv6Dst      = 27
	FieldIPv6FLabel   = 28
	FieldICMPv6Type   = 29
	FieldICMPv6Code   = 30
	FieldIPv6NDTarget = 31
	FieldIPv6NDSLL    = 32
	FieldIPv6NDTLL    = 33
	FieldMPLSLabel    = 34
	FieldMPLSTC       = 35
	FieldMPLSBoS      = 36
	FieldPBBISID      = 37
	FieldTunnelID     = 38
	FieldIPv6ExtHdr   = 39
	FieldPBBUCA       = 41
)

// VlanPresent is OFPVID_PRESENT, or-ed into vlan_vid to match tagged frames.
const VlanPresent = 0x1000

// fieldKind says how a field's value reads and prints.
type fieldKind uint8

const (
	kindInt fieldKind = iota
	kindMAC
	kindIPv4
	kindIPv6
)

type fieldInfo struct {
	name string
	size int
	kind fieldKind
}

var basicFields = map[uint8]fieldInfo{
	FieldInPort: {"in_port", 4, kindInt}, FieldInPhyPort: {"in_phy_port", 4, kindInt},
	FieldMetadata: {"metadata", 8, kindInt}, FieldEthDst: {"eth_dst", 6, kindMAC},
	FieldEthSrc: {"eth_src", 6, kindMAC}, FieldEthType: {"eth_type", 2, kindInt},
	FieldVlanVID: {"vlan_vid", 2, kindInt}, FieldVlanPCP: {"vlan_pcp", 1, kindInt},
	FieldIPDSCP: {"ip_dscp", 1, kindInt}, FieldIPECN: {"ip_ecn", 1, kindInt},
	FieldIPProto: {"ip_proto", 1, kindInt}, FieldIPv4Src: {"ipv4_src", 4, kindIPv4},
	FieldIPv4Dst: {"ipv4_dst", 4, kindIPv4}, FieldTCPSrc: {"tcp_src", 2, kindInt},
	FieldTCPDst: {"tcp_dst", 2, kindInt}, FieldUDPSrc: {"udp_src", 2, kindInt},
	FieldUDPDst: {"udp_dst", 2, kindInt}, FieldSCTPSrc: {"sctp_src", 2, kindInt},
	FieldSCTPDst: {"sctp_dst", 2, kindInt}, FieldICMPv4Type: {"icmpv4_type", 1, kindInt},
	FieldICMPv4Code: {"icmpv4_code", 1, kindInt}, FieldARPOp: {"arp_op", 2, kindInt},
	FieldARPSPA: {"arp_spa", 4, kindIPv4}, FieldARPTPA: {"arp_tpa", 4, kindIPv4},
	FieldARPSHA: {"arp_sha", 6, kindMAC}, FieldARPTHA: {"arp_tha", 6, kindMAC},
	FieldIPv6Src: {"ipv6_src", 16, kindIPv6}, FieldIPv6Dst: {"ipv6_dst", 16, kindIPv6},
	FieldIPv6FLabel: {"ipv6_flabel", 4, kindInt}, FieldICMPv6Type: {"icmpv6_type", 1, kindInt},
	FieldICMPv6Code: {"icmpv6_code", 1, kindInt}, FieldIPv6NDTarget: {"ipv6_nd_target", 16, kindIPv6},
	FieldIPv6NDSLL: {"ipv6_nd_sll", 6, kindMAC}, FieldIPv6NDTLL: {"ipv6_nd_tll", 6, kindMAC},
	FieldMPLSLabel: {"mpls_label", 4, kindInt}, FieldMPLSTC: {"mpls_tc", 1, kindInt},
	FieldMPLSBoS: {"mpls_bos", 1, kindInt}, FieldPBBISID: {"pbb_isid", 3, kindInt},
	FieldTunnelID: {"tunnel_id", 8, kindInt}, FieldIPv6ExtHdr: {"ipv6_exthdr", 2, kindInt},
	FieldPBBUCA: {"pbb_uca", 1, kindInt},
}

// Nicira extension fields (class NXM_1) that Open vSwitch uses in OpenFlow
// 1.3 matches and set-field actions, with their ovs-fields(7) names. Their
// sizes are checked like the basic fields', since a packet-in from Open
// vSwitch carries registers and conntrack state in its match.
var nxm1Fields = map[uint8]fieldInfo{
	0: {"reg0", 4, kindInt}, 1: {"reg1", 4, kindInt}, 2: {"reg2", 4, kindInt},
	3: {"reg3", 4, kindInt}, 4: {"reg4", 4, kindInt}, 5: {"reg5", 4, kindInt},
	6: {"reg6", 4, kindInt}, 7: {"reg7", 4, kindInt}, 8: {"reg8", 4, kindInt},
	9: {"reg9", 4, kindInt}, 10: {"reg10", 4, kindInt}, 11: {"reg11", 4, kindInt},
	12: {"reg12", 4, kindInt}, 13: {"reg13", 4, kindInt}, 14: {"reg14", 4, kindInt},
	15: {"reg15", 4, kindInt},
	16: {"tun_id", 8, kindInt},
	17: {"arp_sha", 6, kindMAC}, 18: {"arp_tha", 6, kindMAC},
	19: {"ipv6_src", 16, kindIPv6}, 20: {"ipv6_dst", 16, kindIPv6},
	21: {"icmpv6_type", 1, kindInt}, 22: {"icmpv6_code", 1, kindInt},
	23: {"nd_target", 16, kindIPv6}, 24: {"nd_sll", 6, kindMAC}, 25: {"nd_tll", 6, kindMAC},
	26: {"ip_frag", 1, kindInt}, 27: {"ipv6_label", 4, kindInt},
	28: {"nw_ecn", 1, kindInt}, 29: {"nw_ttl", 1, kindInt}, 30: {"mpls_ttl", 1, kindInt},
	31: {"tun_ipv4_src", 4, kindIPv4}, 32: {"tun_ipv4_dst", 4, kindIPv4},
	33: {"pkt_mark", 4, kindInt}, 34: {"tcp_flags", 2, kindInt},
	37: {"conj_id", 4, kindInt},
	38: {"tun_gbp_id", 2, kindInt}, 39: {"tun_gbp_flags", 1, kindInt},
	104: {"tun_flags", 2, kindInt},
	105: {"ct_state", 4, kindInt}, 106: {"ct_zone", 2, kindInt},
	107: {"ct_mark", 4, kindInt}, 108: {"ct_label", 16, kindInt},
	109: {"tun_ipv6_src", 16, kindIPv6}, 110: {"tun_ipv6_dst", 16, kindIPv6},
	119: {"ct_nw_proto", 1, kindInt}, 120: {"ct_nw_src", 4, kindIPv4},
	121: {"ct_nw_dst", 4, kindIPv4}, 122: {"ct_ipv6_src", 16, kindIPv6},
	123: {"ct_ipv6_dst", 16, kindIPv6}, 124: {"ct_tp_src", 2, kindInt},
	125: {"ct_tp_dst", 2, kindInt},
}

// Nicira NXM_0 fields: the OpenFlow 1.0 fields under their NXM names.
var nxm0Fields = map[uint8]fieldInfo{
	0: {"nxm_of_in_port", 2, kindInt}, 1: {"nxm_of_eth_dst", 6, kindMAC},
	2: {"nxm_of_eth_src", 6, kindMAC}, 3: {"nxm_of_eth_type", 2, kindInt},
	4: {"nxm_of_vlan_tci", 2, kindInt}, 5: {"nxm_of_ip_tos", 1, kindInt},
	6: {"nxm_of_ip_proto", 1, kindInt}, 7: {"nxm_of_ip_src", 4, kindIPv4},
	8: {"nxm_of_ip_dst", 4, kindIPv4}, 9: {"nxm_of_tcp_src", 2, kindInt},
	10: {"nxm_of_tcp_dst", 2, kindInt}, 11: {"nxm_of_udp_src", 2, kindInt},
	12: {"nxm_of_udp_dst", 2, kindInt}, 13: {"nxm_of_icmp_type", 1, kindInt},
	14: {"nxm_of_icmp_code", 1, kindInt}, 15: {"nxm_of_arp_op", 2, kindInt},
	16: {"nxm_of_arp_spa", 4, kindIPv4}, 17: {"nxm_of_arp_tpa", 4, kindIPv4},
}

// OXM is one match field TLV. Fields of classes and types the codec does not
// know keep their bytes and survive a round trip.
type OXM struct {
	Class uint16
	Field uint8
	// Experimenter is the experimenter id of an OXMClassExperimenter field.
	Experimenter uint32
	Value        []byte
	// Mask is nil for an exact match.
	Mask []byte
}

func (o *OXM) info() (fieldInfo, bool) {
	switch o.Class {
	case OXMClassOpenFlow:
		fi, ok := basicFields[o.Field]
		return fi, ok
	case OXMClassNXM0:
		fi, ok := nxm0Fields[o.Field]
		return fi, ok
	case OXMClassNXM1:
		fi, ok := nxm1Fields[o.Field]
		return fi, ok
	}
	return fieldInfo{}, false
}

// ONFExperimenter is the experimenter id of the Open Networking
// Foundation, whose extensions to 1.3 (EXT-256: pbb_uca) are experimenter
// OXMs with a 16-bit exp_type ahead of the value.
const ONFExperimenter = 0x4f4e4600

// onfPBBUCA is the exp_type of the ONF's pbb_uca field.
const onfPBBUCA = 2560

// onfField returns the name of an ONF experimenter field the codec knows.
// Its Value starts with the exp_type.
func (o *OXM) onfField() (string, bool) {
	if o.Class != OXMClassExperimenter || o.Experimenter != ONFExperimenter || len(o.Value) != 3 {
		return "", false
	}
	if binary.BigEndian.Uint16(o.Value) == onfPBBUCA {
		return "pbb_uca", true
	}
	return "", false
}

// Name is the field's name as Ryu and Open vSwitch's OXM names spell it
// ("eth_dst"), or a numeric form for fields the codec does not know.
func (o *OXM) Name() string {
	if fi, ok := o.info(); ok {
		return fi.name
	}
	if name, ok := o.onfField(); ok {
		return name
	}
	if o.Class == OXMClassExperimenter {
		return fmt.Sprintf("oxm(experimenter=0x%08x,field=%d)", o.Experimenter, o.Field)
	}
	return fmt.Sprintf("oxm(class=0x%04x,field=%d)", o.Class, o.Field)
}

func (o *OXM) payloadLen() int {
	n := len(o.Value) + len(o.Mask)
	if o.Class == OXMClassExperimenter {
		n += 4
	}
	return n
}

// Len is the encoded length of the TLV.
func (o *OXM) Len() int { return 4 + o.payloadLen() }

func (o *OXM) marshal(b []byte) int {
	be.PutUint16(b, o.Class)
	f := o.Field << 1
	if o.Mask != nil {
		f |= 1
	}
	b[2] = f
	b[3] = uint8(o.payloadLen())
	n := 4
	if o.Class == OXMClassExperimenter {
		be.PutUint32(b[4:], o.Experimenter)
		n += 4
	}
	n += copy(b[n:], o.Value)
	n += copy(b[n:], o.Mask)
	return n
}

func (o *OXM) unmarshal(d *decoder) {
	o.Class = d.u16("oxm_class")
	f := d.u8("oxm_field")
	o.Field = f >> 1
	hasMask := f&1 != 0
	n := int(d.u8("oxm_length"))
	p := d.sub(n, "oxm payload")
	if d.failed() {
		return
	}
	if o.Class == OXMClassExperimenter {
		o.Experimenter = p.u32("oxm experimenter")
		n -= 4
		if p.failed() {
			return
		}
	}
	if hasMask {
		if n%2 != 0 {
			p.fail("masked %s: odd payload length %d", o.Name(), n)
			return
		}
		n /= 2
	}
	if fi, ok := o.info(); ok && fi.size != n {
		p.fail("%s: value length %d, want %d", fi.name, n, fi.size)
		return
	}
	o.Value = p.bytes(n, "oxm value")
	if hasMask {
		o.Mask = p.bytes(n, "oxm mask")
	}
}

// Uint returns the value of an integer field (up to 8 bytes).
func (o *OXM) Uint() uint64 { return beUint(o.Value) }

// MaskUint returns the mask of an integer field.
func (o *OXM) MaskUint() uint64 { return beUint(o.Mask) }

func beUint(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

func putUint(size int, v uint64) []byte {
	b := make([]byte, size)
	for i := size - 1; i >= 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
	return b
}

// ValueString formats the value as Ryu does: decimal for integers,
// colon-hex for MACs, dotted or colon notation for addresses.
func (o *OXM) ValueString() string { return o.format(o.Value) }

// MaskString formats the mask like ValueString; empty when unmasked.
func (o *OXM) MaskString() string {
	if o.Mask == nil {
		return ""
	}
	return o.format(o.Mask)
}

func (o *OXM) format(v []byte) string {
	if _, ok := o.onfField(); ok && len(v) == 3 {
		return fmt.Sprint(v[2])
	}
	fi, ok := o.info()
	if !ok || len(v) != fi.size {
		// A field built by hand may have the wrong size; it still prints.
		return fmt.Sprintf("0x%x", v)
	}
	switch fi.kind {
	case kindMAC:
		return net.HardwareAddr(v).String()
	case kindIPv4:
		return netip.AddrFrom4([4]byte(v)).String()
	case kindIPv6:
		return netip.AddrFrom16([16]byte(v)).String()
	}
	return fmt.Sprint(beUint(v))
}

func basic(field uint8, v uint64) OXM {
	return OXM{Class: OXMClassOpenFlow, Field: field, Value: putUint(basicFields[field].size, v)}
}

func basicMasked(field uint8, v, mask uint64) OXM {
	o := basic(field, v)
	o.Mask = putUint(len(o.Value), mask)
	return o
}

func basicBytes(field uint8, v []byte) OXM {
	return OXM{Class: OXMClassOpenFlow, Field: field, Value: append([]byte(nil), v...)}
}

func prefixMask(bits, size int) []byte {
	m := make([]byte, size)
	for i := 0; i < bits; i++ {
		m[i/8] |= 0x80 >> (i % 8)
	}
	return m
}

// Constructors for the match fields the controller uses.

func InPort(p uint32) OXM              { return basic(FieldInPort, uint64(p)) }
func EthType(t uint16) OXM             { return basic(FieldEthType, uint64(t)) }
func EthDst(a net.HardwareAddr) OXM    { return basicBytes(FieldEthDst, a) }
func EthSrc(a net.HardwareAddr) OXM    { return basicBytes(FieldEthSrc, a) }
func VlanVID(v uint16) OXM             { return basic(FieldVlanVID, uint64(v)) }
func VlanPCP(v uint8) OXM              { return basic(FieldVlanPCP, uint64(v)) }
func IPDSCP(v uint8) OXM               { return basic(FieldIPDSCP, uint64(v)) }
func IPECN(v uint8) OXM                { return basic(FieldIPECN, uint64(v)) }
func IPProto(p uint8) OXM              { return basic(FieldIPProto, uint64(p)) }
func TCPSrc(p uint16) OXM              { return basic(FieldTCPSrc, uint64(p)) }
func TCPDst(p uint16) OXM              { return basic(FieldTCPDst, uint64(p)) }
func UDPSrc(p uint16) OXM              { return basic(FieldUDPSrc, uint64(p)) }
func UDPDst(p uint16) OXM              { return basic(FieldUDPDst, uint64(p)) }
func ICMPv4Type(t uint8) OXM           { return basic(FieldICMPv4Type, uint64(t)) }
func ICMPv4Code(c uint8) OXM           { return basic(FieldICMPv4Code, uint64(c)) }
func ARPOp(op uint16) OXM              { return basic(FieldARPOp, uint64(op)) }
func ARPSHA(a net.HardwareAddr) OXM    { return basicBytes(FieldARPSHA, a) }
func ARPTHA(a net.HardwareAddr) OXM    { return basicBytes(FieldARPTHA, a) }
func IPv6FLabel(l uint32) OXM          { return basic(FieldIPv6FLabel, uint64(l)) }
func ICMPv6Type(t uint8) OXM           { return basic(FieldICMPv6Type, uint64(t)) }
func ICMPv6Code(c uint8) OXM           { return basic(FieldICMPv6Code, uint64(c)) }
func IPv6NDSLL(a net.HardwareAddr) OXM { return basicBytes(FieldIPv6NDSLL, a) }
func IPv6NDTLL(a net.HardwareAddr) OXM { return basicBytes(FieldIPv6NDTLL, a) }
func TunnelID(id uint64) OXM           { return basic(FieldTunnelID, id) }

// EthDstMasked matches the destination MAC under mask.
func EthDstMasked(a, mask net.HardwareAddr) OXM {
	o := EthDst(a)
	o.Mask = append([]byte(nil), mask...)
	return o
}

// Metadata matches the metadata register under mask (all ones: exact).
func Metadata(v, mask uint64) OXM {
	if mask == ^uint64(0) {
		return basic(FieldMetadata, v)
	}
	return basicMasked(FieldMetadata, v, mask)
}

func addrField(field4, field6 uint8, p netip.Prefix) OXM {
	a := p.Addr()
	var o OXM
	if a.Is4() {
		b := a.As4()
		o = basicBytes(field4, b[:])
	} else {
		b := a.As16()
		o = basicBytes(field6, b[:])
	}
	if p.Bits() >= 0 && p.Bits() < a.BitLen() {
		o.Mask = prefixMask(p.Bits(), len(o.Value))
		for i := range o.Value {
			o.Value[i] &= o.Mask[i]
		}
	}
	return o
}

// IPv4Src matches the IPv4 source against a prefix (a /32 is exact).
func IPv4Src(p netip.Prefix) OXM { return addrField(FieldIPv4Src, FieldIPv4Src, p) }

// IPv4Dst matches the IPv4 destination against a prefix.
func IPv4Dst(p netip.Prefix) OXM { return addrField(FieldIPv4Dst, FieldIPv4Dst, p) }

// IPv6Src matches the IPv6 source against a prefix.
func IPv6Src(p netip.Prefix) OXM { return addrField(FieldIPv6Src, FieldIPv6Src, p) }

// IPv6Dst matches the IPv6 destination against a prefix.
func IPv6Dst(p netip.Prefix) OXM { return addrField(FieldIPv6Dst, FieldIPv6Dst, p) }

// ARPSPA matches the ARP sender protocol address.
func ARPSPA(a netip.Addr) OXM { return addrField(FieldARPSPA, FieldARPSPA, netip.PrefixFrom(a, 32)) }

// ARPTPA matches the ARP target protocol address.
func ARPTPA(a netip.Addr) OXM { return addrField(FieldARPTPA, FieldARPTPA, netip.PrefixFrom(a, 32)) }

// IPv6NDTarget matches the target of a neighbor solicitation/advertisement.
func IPv6NDTarget(a netip.Addr) OXM {
	b := a.As16()
	return basicBytes(FieldIPv6NDTarget, b[:])
}

// Match types (ofp_match_type).
const (
	MatchTypeStandard = 0
	MatchTypeOXM      = 1
)

// Match is an OXM match (ofp_match): a list of fields, all of which must
// match. The zero Match matches everything.
type Match struct {
	Fields []OXM
}

// NewMatch returns a match on the given fields.
func NewMatch(fields ...OXM) Match { return Match{Fields: fields} }

// Field returns the first field of the OpenFlow basic class with that id.
func (m *Match) Field(field uint8) (OXM, bool) {
	for _, o := range m.Fields {
		if o.Class == OXMClassOpenFlow && o.Field == field {
			return o, true
		}
	}
	return OXM{}, false
}

// Length is the value of the match's length field: without padding.
func (m *Match) Length() int {
	n := 4
	for i := range m.Fields {
		n += m.Fields[i].Len()
	}
	return n
}

// Len is the encoded length, padding included.
func (m *Match) Len() int { return align8(m.Length()) }

func (m *Match) marshal(b []byte) int {
	be.PutUint16(b, MatchTypeOXM)
	be.PutUint16(b[2:], uint16(m.Length()))
	n := 4
	for i := range m.Fields {
		n += m.Fields[i].marshal(b[n:])
	}
	return align8(n)
}

func (m *Match) unmarshal(d *decoder) {
	if d.failed() {
		return
	}
	if d.len() >= 2 {
		if t := binary.BigEndian.Uint16(d.b); t != MatchTypeOXM {
			d.fail("match type %d, want OXM (1)", t)
			return
		}
	}
	n := d.tlvLen(2, 4, 1, "match")
	if d.failed() {
		return
	}
	padded := align8(n)
	if padded > d.len() {
		d.fail("match padding: need %d bytes, have %d", padded, d.len())
		return
	}
	md := d.sub(padded, "match")
	md.pad(4)
	fields := md.sub(n-4, "oxm fields")
	for fields.len() > 0 && !fields.failed() {
		var o OXM
		o.unmarshal(fields)
		if !fields.failed() {
			m.Fields = append(m.Fields, o)
		}
	}
}
