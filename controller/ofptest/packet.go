package ofptest

import (
	"encoding/binary"
	"fmt"
	"net"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/sixgate/sixgate/controller/ofp"
)

// packet is a frame under lookup: its decoded headers, which set-field
// rewrites in place, and the pipeline fields that are not in the frame.
// It is decoded once with gopacket; speed does not matter in tests.
type packet struct {
	inPort   uint32
	metadata uint64

	data     []byte // as received, until a set-field changes a header
	modified bool
	layers   []gopacket.Layer

	eth   *layers.Ethernet
	vlan  *layers.Dot1Q
	arp   *layers.ARP
	ip4   *layers.IPv4
	ip6   *layers.IPv6
	tcp   *layers.TCP
	udp   *layers.UDP
	sctp  *layers.SCTP
	icmp4 *layers.ICMPv4
	icmp6 *layers.ICMPv6
	ns    *layers.ICMPv6NeighborSolicitation
	na    *layers.ICMPv6NeighborAdvertisement
	// proto is the IP protocol after any IPv6 extension headers, as
	// ip_proto matches it.
	proto uint8
}

// decodePacket parses an Ethernet frame received on inPort, as far as
// the headers OpenFlow matches: what follows them (DNS in a UDP datagram,
// say) is kept as an opaque payload, so that its decoding cannot fail a
// lookup and a rewritten frame carries it unchanged.
func decodePacket(data []byte, inPort uint32) (*packet, error) {
	data = append([]byte(nil), data...)
	pkt := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
	p := &packet{inPort: inPort, data: data}
	done := false
	for _, l := range pkt.Layers() {
		if done {
			break
		}
		p.layers = append(p.layers, l)
		p.keep(l)
		done = endsHeaders(l)
	}
	if !done {
		if el := pkt.ErrorLayer(); el != nil {
			return nil, fmt.Errorf("frame does not decode: %v", el.Error())
		}
	} else if rest := p.layers[len(p.layers)-1].LayerPayload(); len(rest) > 0 {
		p.layers = append(p.layers, gopacket.Payload(rest))
	}
	if p.eth == nil {
		return nil, fmt.Errorf("not an Ethernet frame")
	}
	return p, nil
}

// endsHeaders reports whether l is the last header OpenFlow looks into.
func endsHeaders(l gopacket.Layer) bool {
	switch l := l.(type) {
	case *layers.ARP, *layers.TCP, *layers.UDP, *layers.SCTP, *layers.ICMPv4,
		*layers.ICMPv6NeighborSolicitation, *layers.ICMPv6NeighborAdvertisement:
		return true
	case *layers.ICMPv6:
		// Neighbor Discovery's target and options are matched too.
		t := l.TypeCode.Type()
		return t != layers.ICMPv6TypeNeighborSolicitation && t != layers.ICMPv6TypeNeighborAdvertisement
	}
	return false
}

// keep notes l if it is a header the pipeline reads or rewrites.
func (p *packet) keep(l gopacket.Layer) {
	switch l := l.(type) {
	case *layers.Ethernet:
		p.eth = l
	case *layers.Dot1Q:
		if p.vlan == nil { // the outer tag is the one vlan_vid matches
			p.vlan = l
		}
	case *layers.ARP:
		p.arp = l
	case *layers.IPv4:
		p.ip4, p.proto = l, uint8(l.Protocol)
	case *layers.IPv6:
		p.ip6, p.proto = l, uint8(l.NextHeader)
	case *layers.IPv6HopByHop:
		p.proto = uint8(l.NextHeader)
	case *layers.IPv6Routing:
		p.proto = uint8(l.NextHeader)
	case *layers.IPv6Fragment:
		p.proto = uint8(l.NextHeader)
	case *layers.IPv6Destination:
		p.proto = uint8(l.NextHeader)
	case *layers.TCP:
		p.tcp = l
	case *layers.UDP:
		p.udp = l
	case *layers.SCTP:
		p.sctp = l
	case *layers.ICMPv4:
		p.icmp4 = l
	case *layers.ICMPv6:
		p.icmp6 = l
	case *layers.ICMPv6NeighborSolicitation:
		p.ns = l
	case *layers.ICMPv6NeighborAdvertisement:
		p.na = l
	}
}

// clone returns an independent copy, as a group bucket gets.
func (p *packet) clone() (*packet, error) {
	b, err := p.bytes()
	if err != nil {
		return nil, err
	}
	c, err := decodePacket(b, p.inPort)
	if err != nil {
		return nil, err
	}
	c.metadata = p.metadata
	return c, nil
}

// bytes returns the frame as it would leave the switch: as received, or
// re-serialized with fixed lengths and checksums after a set-field.
func (p *packet) bytes() ([]byte, error) {
	if !p.modified {
		return append([]byte(nil), p.data...), nil
	}
	var nl gopacket.NetworkLayer
	if p.ip4 != nil {
		nl = p.ip4
	} else if p.ip6 != nil {
		nl = p.ip6
	}
	ls := make([]gopacket.SerializableLayer, 0, len(p.layers))
	for _, l := range p.layers {
		if c, ok := l.(interface {
			SetNetworkLayerForChecksum(gopacket.NetworkLayer) error
		}); ok && nl != nil {
			if err := c.SetNetworkLayerForChecksum(nl); err != nil {
				return nil, err
			}
		}
		s, ok := l.(gopacket.SerializableLayer)
		if !ok {
			return nil, fmt.Errorf("cannot rebuild the frame after a set-field: %v layer", l.LayerType())
		}
		ls = append(ls, s)
	}
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
		return nil, fmt.Errorf("rebuilding the frame after a set-field: %w", err)
	}
	return buf.Bytes(), nil
}

func u8(v uint8) []byte { return []byte{v} }
func u16(v uint16) []byte {
	return binary.BigEndian.AppendUint16(nil, v)
}
func u32(v uint32) []byte {
	return binary.BigEndian.AppendUint32(nil, v)
}
func u64(v uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, v)
}

// ethType is eth_type as OpenFlow defines it: the type after the VLAN tag,
// and 0x05ff for an 802.3 frame, which has a length there.
func (p *packet) ethType() uint16 {
	t := uint16(p.eth.EthernetType)
	if p.vlan != nil {
		t = uint16(p.vlan.Type)
	}
	if t < 0x0600 {
		return 0x05ff
	}
	return t
}

// ipv4ARP reports whether the ARP header is one OpenFlow's arp_ fields
// describe: Ethernet hardware, IPv4 protocol addresses.
func (p *packet) ipv4ARP() bool {
	a := p.arp
	return a != nil && a.AddrType == layers.LinkTypeEthernet && a.Protocol == layers.EthernetTypeIPv4 &&
		a.HwAddressSize == 6 && a.ProtAddressSize == 4
}

// ndOption returns the link-layer address option of type t, or zeros as
// Open vSwitch reports a missing one.
func ndOption(opts layers.ICMPv6Options, t layers.ICMPv6Opt) []byte {
	for _, o := range opts {
		if o.Type == t && len(o.Data) == 6 {
			return o.Data
		}
	}
	return make([]byte, 6)
}

// errUnsupported is returned for a field this pipeline does not model:
// matching it silently would make tests pass for the wrong reason.
func errUnsupported(o ofp.OXM) error {
	return fmt.Errorf("field %s is not supported by the ofptest pipeline", o.Name())
}

// field returns the packet's value of a match field, and whether the
// packet has the header that field belongs to.
func (p *packet) field(o ofp.OXM) ([]byte, bool, error) {
	if o.Class != ofp.OXMClassOpenFlow {
		return nil, false, errUnsupported(o)
	}
	switch o.Field {
	case ofp.FieldInPort, ofp.FieldInPhyPort:
		return u32(p.inPort), true, nil
	case ofp.FieldMetadata:
		return u64(p.metadata), true, nil
	case ofp.FieldTunnelID:
		return u64(0), true, nil // the fake switch has no tunnels
	case ofp.FieldEthDst:
		return p.eth.DstMAC, true, nil
	case ofp.FieldEthSrc:
		return p.eth.SrcMAC, true, nil
	case ofp.FieldEthType:
		return u16(p.ethType()), true, nil
	case ofp.FieldVlanVID:
		if p.vlan == nil {
			return u16(0), true, nil // OFPVID_NONE
		}
		return u16(p.vlan.VLANIdentifier | ofp.VlanPresent), true, nil
	case ofp.FieldVlanPCP:
		if p.vlan == nil {
			return nil, false, nil
		}
		return u8(p.vlan.Priority), true, nil
	}
	if v, ok, known := p.ipField(o.Field); known {
		return v, ok, nil
	}
	if v, ok, known := p.transportField(o.Field); known {
		return v, ok, nil
	}
	if v, ok, known := p.arpField(o.Field); known {
		return v, ok, nil
	}
	if v, ok, known := p.icmpField(o.Field); known {
		return v, ok, nil
	}
	return nil, false, errUnsupported(o)
}

func (p *packet) ipField(f uint8) (v []byte, ok, known bool) {
	switch f {
	case ofp.FieldIPDSCP, ofp.FieldIPECN, ofp.FieldIPProto:
		var tos uint8
		switch {
		case p.ip4 != nil:
			tos = p.ip4.TOS
		case p.ip6 != nil:
			tos = p.ip6.TrafficClass
		default:
			return nil, false, true
		}
		switch f {
		case ofp.FieldIPDSCP:
			return u8(tos >> 2), true, true
		case ofp.FieldIPECN:
			return u8(tos & 3), true, true
		}
		return u8(p.proto), true, true
	case ofp.FieldIPv4Src, ofp.FieldIPv4Dst:
		if p.ip4 == nil {
			return nil, false, true
		}
		if f == ofp.FieldIPv4Src {
			return p.ip4.SrcIP.To4(), true, true
		}
		return p.ip4.DstIP.To4(), true, true
	case ofp.FieldIPv6Src, ofp.FieldIPv6Dst, ofp.FieldIPv6FLabel:
		if p.ip6 == nil {
			return nil, false, true
		}
		switch f {
		case ofp.FieldIPv6Src:
			return p.ip6.SrcIP.To16(), true, true
		case ofp.FieldIPv6Dst:
			return p.ip6.DstIP.To16(), true, true
		}
		return u32(p.ip6.FlowLabel), true, true
	}
	return nil, false, false
}

func (p *packet) transportField(f uint8) (v []byte, ok, known bool) {
	switch f {
	case ofp.FieldTCPSrc, ofp.FieldTCPDst:
		if p.tcp == nil {
			return nil, false, true
		}
		if f == ofp.FieldTCPSrc {
			return u16(uint16(p.tcp.SrcPort)), true, true
		}
		return u16(uint16(p.tcp.DstPort)), true, true
	case ofp.FieldUDPSrc, ofp.FieldUDPDst:
		if p.udp == nil {
			return nil, false, true
		}
		if f == ofp.FieldUDPSrc {
			return u16(uint16(p.udp.SrcPort)), true, true
		}
		return u16(uint16(p.udp.DstPort)), true, true
	case ofp.FieldSCTPSrc, ofp.FieldSCTPDst:
		if p.sctp == nil {
			return nil, false, true
		}
		if f == ofp.FieldSCTPSrc {
			return u16(uint16(p.sctp.SrcPort)), true, true
		}
		return u16(uint16(p.sctp.DstPort)), true, true
	}
	return nil, false, false
}

func (p *packet) arpField(f uint8) (v []byte, ok, known bool) {
	switch f {
	case ofp.FieldARPOp, ofp.FieldARPSPA, ofp.FieldARPTPA, ofp.FieldARPSHA, ofp.FieldARPTHA:
	default:
		return nil, false, false
	}
	if !p.ipv4ARP() {
		return nil, false, true
	}
	switch f {
	case ofp.FieldARPOp:
		return u16(p.arp.Operation), true, true
	case ofp.FieldARPSPA:
		return p.arp.SourceProtAddress, true, true
	case ofp.FieldARPTPA:
		return p.arp.DstProtAddress, true, true
	case ofp.FieldARPSHA:
		return p.arp.SourceHwAddress, true, true
	}
	return p.arp.DstHwAddress, true, true
}

func (p *packet) icmpField(f uint8) (v []byte, ok, known bool) {
	switch f {
	case ofp.FieldICMPv4Type, ofp.FieldICMPv4Code:
		if p.icmp4 == nil {
			return nil, false, true
		}
		if f == ofp.FieldICMPv4Type {
			return u8(p.icmp4.TypeCode.Type()), true, true
		}
		return u8(p.icmp4.TypeCode.Code()), true, true
	case ofp.FieldICMPv6Type, ofp.FieldICMPv6Code:
		if p.icmp6 == nil {
			return nil, false, true
		}
		if f == ofp.FieldICMPv6Type {
			return u8(p.icmp6.TypeCode.Type()), true, true
		}
		return u8(p.icmp6.TypeCode.Code()), true, true
	case ofp.FieldIPv6NDTarget:
		switch {
		case p.ns != nil:
			return p.ns.TargetAddress.To16(), true, true
		case p.na != nil:
			return p.na.TargetAddress.To16(), true, true
		}
		return nil, false, true
	case ofp.FieldIPv6NDSLL:
		if p.ns == nil {
			return nil, false, true
		}
		return ndOption(p.ns.Options, layers.ICMPv6OptSourceAddress), true, true
	case ofp.FieldIPv6NDTLL:
		if p.na == nil {
			return nil, false, true
		}
		return ndOption(p.na.Options, layers.ICMPv6OptTargetAddress), true, true
	}
	return nil, false, false
}

// setField rewrites one header field, as a set-field action does. The
// packet must have the header (OFPBAC_MATCH_INCONSISTENT otherwise).
func (p *packet) setField(o ofp.OXM) error {
	if o.Mask != nil {
		return fmt.Errorf("set-field %s with a mask", o.Name())
	}
	cur, ok, err := p.field(o)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("set-field %s on a packet without that header", o.Name())
	}
	if len(o.Value) != len(cur) {
		return fmt.Errorf("set-field %s: %d bytes, want %d", o.Name(), len(o.Value), len(cur))
	}
	v := append([]byte(nil), o.Value...)
	if err := p.store(o, v); err != nil {
		return err
	}
	p.modified = true
	return nil
}

// store writes v, already checked for size, into the field's header.
func (p *packet) store(o ofp.OXM, v []byte) error {
	be := binary.BigEndian
	switch o.Field {
	case ofp.FieldEthDst:
		p.eth.DstMAC = net.HardwareAddr(v)
	case ofp.FieldEthSrc:
		p.eth.SrcMAC = net.HardwareAddr(v)
	case ofp.FieldVlanVID:
		if p.vlan == nil {
			return fmt.Errorf("set-field vlan_vid on an untagged frame")
		}
		p.vlan.VLANIdentifier = be.Uint16(v) &^ ofp.VlanPresent
	case ofp.FieldVlanPCP:
		p.vlan.Priority = v[0]
	case ofp.FieldIPv4Src:
		p.ip4.SrcIP = net.IP(v)
	case ofp.FieldIPv4Dst:
		p.ip4.DstIP = net.IP(v)
	case ofp.FieldIPv6Src:
		p.ip6.SrcIP = net.IP(v)
	case ofp.FieldIPv6Dst:
		p.ip6.DstIP = net.IP(v)
	case ofp.FieldIPv6FLabel:
		p.ip6.FlowLabel = be.Uint32(v)
	case ofp.FieldTCPSrc:
		p.tcp.SrcPort = layers.TCPPort(be.Uint16(v))
	case ofp.FieldTCPDst:
		p.tcp.DstPort = layers.TCPPort(be.Uint16(v))
	case ofp.FieldUDPSrc:
		p.udp.SrcPort = layers.UDPPort(be.Uint16(v))
	case ofp.FieldUDPDst:
		p.udp.DstPort = layers.UDPPort(be.Uint16(v))
	case ofp.FieldARPOp:
		p.arp.Operation = be.Uint16(v)
	case ofp.FieldARPSPA:
		p.arp.SourceProtAddress = v
	case ofp.FieldARPTPA:
		p.arp.DstProtAddress = v
	case ofp.FieldARPSHA:
		p.arp.SourceHwAddress = v
	case ofp.FieldARPTHA:
		p.arp.DstHwAddress = v
	case ofp.FieldIPv6NDTarget:
		if p.ns != nil {
			p.ns.TargetAddress = net.IP(v)
		} else {
			p.na.TargetAddress = net.IP(v)
		}
	default:
		// The rest (eth_type, ip_proto, in_port and so on) cannot be
		// set, or not by this pipeline.
		return fmt.Errorf("set-field %s is not supported by the ofptest pipeline", o.Name())
	}
	return nil
}

// decTTL decrements the IP TTL or hop limit; it reports false when the
// packet must be dropped for it (Open vSwitch sends no packet-in unless
// asked to, and the fake switch is never asked).
func (p *packet) decTTL() (bool, error) {
	var ttl *uint8
	switch {
	case p.ip4 != nil:
		ttl = &p.ip4.TTL
	case p.ip6 != nil:
		ttl = &p.ip6.HopLimit
	default:
		return false, fmt.Errorf("dec_nw_ttl on a packet that is not IP")
	}
	if *ttl <= 1 {
		return false, nil
	}
	*ttl--
	p.modified = true
	return true, nil
}
