package neighbor

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ndp"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/sixgate/sixgate/packet"
	"github.com/sixgate/sixgate/topo"
)

// verdict says what became of one ARP or NDP packet; each has a counter.
type verdict uint8

const (
	answered      verdict = iota // an answer was built
	malformed                    // not a valid ARP or NDP message (RFC 826, RFC 4861 section 6.1 and 7.1)
	notQuestion                  // an ARP reply, an NA, a gratuitous ARP: nothing to answer
	dadProbe                     // a duplicate address detection probe left unanswered: the asker may take the address
	unknownTarget                // nobody in the model owns the address
	selfQuery                    // the owner asking about its own address
	noRouter                     // an RS while no gateway advertises
	notND                        // neither ARP nor NDP
)

func (v verdict) String() string {
	switch v {
	case answered:
		return "answered"
	case malformed:
		return "malformed"
	case notQuestion:
		return "not_a_question"
	case dadProbe:
		return "dad_probe"
	case unknownTarget:
		return "unknown_target"
	case selfQuery:
		return "self_query"
	case noRouter:
		return "no_router"
	case notND:
		return "not_arp_or_ndp"
	}
	return "unknown"
}

// ndHopLimit is the hop limit every Neighbor Discovery message is sent and
// received with, proof that it was not forwarded (RFC 4861 section 6.1.1).
const ndHopLimit = 255

// NA flags (RFC 4861 section 4.4).
const (
	naRouter    = 0x80
	naSolicited = 0x40
	naOverride  = 0x20
)

func serialize(ls ...gopacket.SerializableLayer) ([]byte, error) {
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func addr4(b []byte) (netip.Addr, bool) {
	if len(b) != 4 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4([4]byte(b)), true
}

func addr16(b net.IP) (netip.Addr, bool) {
	if len(b) != 16 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom16([16]byte(b)), true
}

// answerARP answers an ARP request for an address the view knows with a
// reply to the asker (RFC 826).
func (v *view) answerARP(eth *layers.Ethernet, req *layers.ARP) ([]byte, verdict) {
	if req.AddrType != layers.LinkTypeEthernet || req.Protocol != layers.EthernetTypeIPv4 ||
		req.HwAddressSize != 6 || req.ProtAddressSize != 4 {
		return nil, malformed
	}
	if req.Operation != layers.ARPRequest {
		return nil, notQuestion
	}
	target, ok1 := addr4(req.DstProtAddress)
	sender, ok2 := addr4(req.SourceProtAddress)
	if !ok1 || !ok2 {
		return nil, malformed
	}
	if target == sender {
		// A gratuitous ARP announces; it asks nothing.
		return nil, notQuestion
	}
	ans, ok := v.lookup(target)
	if !ok {
		return nil, unknownTarget
	}
	if string(ans.mac) == string(req.SourceHwAddress) {
		// RFC 5227 probes and announcements by the owner itself.
		return nil, selfQuery
	}
	frame, err := arpFrame(eth.SrcMAC, arp.OperationReply, ans.mac, target, net.HardwareAddr(req.SourceHwAddress), sender)
	if err != nil {
		return nil, malformed
	}
	return frame, answered
}

// solicitedNode returns the solicited-node multicast address of a
// (RFC 4291 section 2.7.1).
func solicitedNode(a netip.Addr) netip.Addr {
	b := a.As16()
	return netip.AddrFrom16([16]byte{0xff, 0x02, 10: 0, 11: 1, 12: 0xff, 13: b[13], 14: b[14], 15: b[15]})
}

// multicastMAC returns the Ethernet address an IPv6 multicast address maps
// to (RFC 2464 section 7).
func multicastMAC(a netip.Addr) net.HardwareAddr {
	b := a.As16()
	return net.HardwareAddr{0x33, 0x33, b[12], b[13], b[14], b[15]}
}

// linkLayerOption returns the source or target link-layer address option.
func linkLayerOption(typ layers.ICMPv6Opt, mac net.HardwareAddr) layers.ICMPv6Option {
	return layers.ICMPv6Option{Type: typ, Data: append([]byte(nil), mac...)}
}

// sourceLinkLayer returns the source link-layer address option of opts.
func sourceLinkLayer(opts layers.ICMPv6Options) (net.HardwareAddr, bool) {
	for _, o := range opts {
		if o.Type == layers.ICMPv6OptSourceAddress && len(o.Data) == 6 {
			return net.HardwareAddr(o.Data), true
		}
	}
	return nil, false
}

// validND applies the checks RFC 4861 (sections 6.1 and 7.1) asks of every
// received Neighbor Discovery message that the switch could not: hop limit
// 255 (it was not forwarded), code 0, and a correct ICMPv6 checksum.
func validND(ip *layers.IPv6, icmp *layers.ICMPv6) bool {
	return ip.HopLimit == ndHopLimit && icmp.TypeCode.Code() == 0 && icmp6ChecksumOK(ip, icmp)
}

// icmp6ChecksumOK checks the message's checksum over the IPv6
// pseudo-header (RFC 4443 section 2.3).
func icmp6ChecksumOK(ip *layers.IPv6, icmp *layers.ICMPv6) bool {
	src, dst := ip.SrcIP.To16(), ip.DstIP.To16()
	if src == nil || dst == nil {
		return false
	}
	pseudo := packet.PseudoHeaderSum(src, dst, packet.ProtoICMPv6, len(icmp.Contents)+len(icmp.Payload))
	// Contents is the 4-byte header, of even length, so it sums apart
	// from the rest of the message.
	return packet.ChecksumOK(packet.Add(pseudo, packet.Sum(icmp.Contents)), icmp.Payload)
}

// answerNS answers a Neighbor Solicitation for an address the view knows
// with a solicited Neighbor Advertisement to the asker (RFC 4861 section
// 7.2.4). DAD probes, from the unspecified address, go to defend: a host
// probing its own declared address (or an address nobody owns) gets
// nothing, while an address only the controller answers for is defended
// with an advertisement to all nodes.
func (v *view) answerNS(eth *layers.Ethernet, ip *layers.IPv6, icmp *layers.ICMPv6, ns *layers.ICMPv6NeighborSolicitation) ([]byte, verdict) {
	target, ok := addr16(ns.TargetAddress)
	src, ok2 := addr16(ip.SrcIP)
	dst, ok3 := addr16(ip.DstIP)
	if !ok || !ok2 || !ok3 || !validND(ip, icmp) || target.IsMulticast() {
		return nil, malformed
	}
	sll, hasSLL := sourceLinkLayer(ns.Options)
	if src.IsUnspecified() {
		if dst != solicitedNode(target) || hasSLL {
			return nil, malformed
		}
		return v.defend(eth, target)
	}
	if dst.IsMulticast() && dst != solicitedNode(target) {
		return nil, malformed
	}
	ans, ok := v.lookup(target)
	if !ok {
		return nil, unknownTarget
	}
	if string(ans.mac) == string(eth.SrcMAC) {
		return nil, selfQuery
	}
	to := eth.SrcMAC
	if hasSLL {
		to = sll
	}
	flags := uint8(naSolicited | naOverride)
	if ans.router {
		flags |= naRouter
	}
	out := &layers.IPv6{Version: 6, NextHeader: layers.IPProtocolICMPv6, HopLimit: ndHopLimit, SrcIP: target.AsSlice(), DstIP: src.AsSlice()}
	frame, err := v.ndFrame(ans.mac, to, out, layers.ICMPv6TypeNeighborAdvertisement, &layers.ICMPv6NeighborAdvertisement{
		Flags: flags, TargetAddress: target.AsSlice(),
		Options: layers.ICMPv6Options{linkLayerOption(layers.ICMPv6OptTargetAddress, ans.mac)},
	})
	if err != nil {
		return nil, malformed
	}
	return frame, answered
}

// ndFrame builds an Ethernet frame holding one ICMPv6 message, with the
// checksum over the IPv6 pseudo-header.
func (v *view) ndFrame(from, to net.HardwareAddr, ip *layers.IPv6, typ uint8, msg gopacket.SerializableLayer) ([]byte, error) {
	icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(typ, 0)}
	if err := icmp.SetNetworkLayerForChecksum(ip); err != nil {
		return nil, err
	}
	return serialize(&layers.Ethernet{SrcMAC: from, DstMAC: to, EthernetType: layers.EthernetTypeIPv6}, ip, icmp, msg)
}

// answerRS answers a Router Solicitation with one Router Advertisement per
// gateway that advertises: to the asker if it gave its address, else to
// all nodes (RFC 4861 section 6.2.6).
func (v *view) answerRS(eth *layers.Ethernet, ip *layers.IPv6, icmp *layers.ICMPv6, rs *layers.ICMPv6RouterSolicitation) ([][]byte, verdict) {
	src, ok := addr16(ip.SrcIP)
	if !ok || !validND(ip, icmp) {
		return nil, malformed
	}
	sll, hasSLL := sourceLinkLayer(rs.Options)
	if src.IsUnspecified() && hasSLL {
		return nil, malformed
	}
	dst, to := allNodes(), multicastMAC(allNodes())
	if !src.IsUnspecified() {
		dst, to = src, eth.SrcMAC
		if hasSLL {
			to = sll
		}
	}
	frames := v.routerAdvertisements(dst, to)
	if len(frames) == 0 {
		return nil, noRouter
	}
	return frames, answered
}

// allNodes is ff02::1.
func allNodes() netip.Addr { return netip.AddrFrom16([16]byte{0: 0xff, 1: 0x02, 15: 1}) }

// routerAdvertisements builds the RA of every advertising gateway, sent
// from its link-local address to dst at MAC to.
func (v *view) routerAdvertisements(dst netip.Addr, to net.HardwareAddr) [][]byte {
	var frames [][]byte
	now := time.Now()
	for _, g := range v.topo.Gateways {
		if g.RA == nil || !g.LinkLocal.IsValid() {
			continue
		}
		frame, err := raFrame(g, v.withdrawn[g.Name].live(now), dst, to)
		if err == nil {
			frames = append(frames, frame)
		}
	}
	return frames
}

// raMessage is the RA of gateway g (RFC 4861 section 4.2), with its
// host configuration (RFC 8781 PREF64, RFC 8106 RDNSS and DNSSL) and, with
// lifetime 0, what a reload withdrew.
func raMessage(g *topo.Gateway, w withdrawal) *ndp.RouterAdvertisement {
	ra := g.RA
	msg := &ndp.RouterAdvertisement{
		CurrentHopLimit:      ra.HopLimit,
		ManagedConfiguration: ra.Managed,
		OtherConfiguration:   ra.Other,
		RouterLifetime:       min(ra.RouterLifetime, 0xffff*time.Second).Truncate(time.Second),
		Options:              []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Source, Addr: g.MAC}},
	}
	if ra.MTU != 0 {
		msg.Options = append(msg.Options, ndp.NewMTU(ra.MTU))
	}
	for _, p := range ra.Prefixes {
		// On-link only, without the autonomous flag: the fabric
		// forwards to the addresses the model declares, so an
		// address a host made up for itself would be unreachable.
		msg.Options = append(msg.Options, &ndp.PrefixInformation{
			PrefixLength:      uint8(p.Bits()),
			OnLink:            true,
			ValidLifetime:     lifetime32(ra.ValidLifetime),
			PreferredLifetime: lifetime32(ra.PreferredLifetime),
			Prefix:            p.Masked().Addr(),
		})
	}
	if ra.PREF64.IsValid() {
		msg.Options = append(msg.Options, &ndp.PREF64{Lifetime: ra.PREF64Lifetime(), Prefix: ra.PREF64})
	}
	for _, p := range w.pref64 {
		msg.Options = append(msg.Options, &ndp.PREF64{Prefix: p})
	}
	if len(ra.RDNSS) > 0 {
		msg.Options = append(msg.Options, &ndp.RecursiveDNSServer{Lifetime: ra.DNSLifetime(), Servers: ra.RDNSS})
	}
	if len(w.rdnss) > 0 {
		msg.Options = append(msg.Options, &ndp.RecursiveDNSServer{Servers: w.rdnss})
	}
	if len(ra.DNSSL) > 0 {
		msg.Options = append(msg.Options, &ndp.DNSSearchList{Lifetime: ra.DNSLifetime(), DomainNames: ra.DNSSL})
	}
	if len(w.dnssl) > 0 {
		msg.Options = append(msg.Options, &ndp.DNSSearchList{DomainNames: w.dnssl})
	}
	return msg
}

// raFrame frames gateway g's RA from its link-local address to dst at
// MAC to, with the ICMPv6 checksum over the IPv6 pseudo-header (ndp
// leaves it to the caller).
func raFrame(g *topo.Gateway, w withdrawal, dst netip.Addr, to net.HardwareAddr) ([]byte, error) {
	icmp, err := ndp.MarshalMessage(raMessage(g, w))
	if err != nil {
		return nil, fmt.Errorf("neighbor: RA of %s: %w", g.Name, err)
	}
	const ipOff = packet.EthernetHeaderLen
	const icmpOff = ipOff + packet.IPv6HeaderLen
	frame := make([]byte, icmpOff+len(icmp))
	packet.Ethernet(frame).Encode(to, g.MAC, packet.EtherTypeIPv6)
	packet.IPv6(frame[ipOff:]).Encode(&packet.IPv6Fields{
		PayloadLen: uint16(len(icmp)), NextHeader: packet.ProtoICMPv6, HopLimit: ndHopLimit,
		Src: g.LinkLocal.As16(), Dst: dst.As16(),
	})
	copy(frame[icmpOff:], icmp)
	msg := frame[icmpOff:]
	msg[2], msg[3] = 0, 0
	binary.BigEndian.PutUint16(msg[2:], packet.Checksum(packet.IPv6(frame[ipOff:]).PseudoHeaderSum(packet.ProtoICMPv6, len(msg)), msg))
	return frame, nil
}

// lifetime32 caps d at what a 32-bit count of seconds holds; the all-ones
// value means infinity (RFC 4861 section 4.6.2).
func lifetime32(d time.Duration) time.Duration {
	return min(d, 0xffffffff*time.Second).Truncate(time.Second)
}

// gratuitousARP announces that addr is at mac: an ARP request for addr
// from addr, broadcast (RFC 5227 section 3), which makes hosts that have an
// entry for addr update it.
func gratuitousARP(addr netip.Addr, mac net.HardwareAddr) ([]byte, error) {
	bcast := net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	return arpFrame(bcast, arp.OperationRequest, mac, addr, make(net.HardwareAddr, 6), addr)
}

// minFrame is the shortest Ethernet frame, FCS excluded.
const minFrame = 60

// arpFrame builds an ARP message (RFC 826) with mdlayher/arp and frames
// it for dst from the sender's MAC.
func arpFrame(dst net.HardwareAddr, op arp.Operation, senderMAC net.HardwareAddr, sender netip.Addr, targetMAC net.HardwareAddr, target netip.Addr) ([]byte, error) {
	p, err := arp.NewPacket(op, senderMAC, sender, targetMAC, target)
	if err != nil {
		return nil, fmt.Errorf("neighbor: ARP: %w", err)
	}
	body, err := p.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("neighbor: ARP: %w", err)
	}
	// Padded to the 60 bytes of a minimal Ethernet frame without its
	// FCS, as a NIC would send it.
	frame := make([]byte, max(minFrame, packet.EthernetHeaderLen+len(body)))
	packet.Ethernet(frame).Encode(dst, senderMAC, packet.EtherTypeARP)
	copy(frame[packet.EthernetHeaderLen:], body)
	return frame, nil
}

// defend answers a duplicate address detection probe. A host checking its
// own declared address is left alone: any answer would make it give the
// address up. An address only the controller answers for (a gateway, a
// VIP, pool6) is defended as its owner would (RFC 4861 section 7.2.4: an
// advertisement to all nodes, not solicited), so a misconfigured host does
// not take it.
func (v *view) defend(eth *layers.Ethernet, target netip.Addr) ([]byte, verdict) {
	ans, ok := v.lookup(target)
	if _, isHost := v.topo.HostByAddr(target); !ok || isHost || string(ans.mac) == string(eth.SrcMAC) {
		return nil, dadProbe
	}
	f, err := v.unsolicitedNA(target, ans)
	if err != nil {
		return nil, malformed
	}
	return f, answered
}

// unsolicitedNA announces that addr is at mac to all nodes, with the
// Override flag so that existing cache entries take the MAC (RFC 4861
// section 7.2.6).
func (v *view) unsolicitedNA(addr netip.Addr, ans answer) ([]byte, error) {
	flags := uint8(naOverride)
	if ans.router {
		flags |= naRouter
	}
	ip := &layers.IPv6{Version: 6, NextHeader: layers.IPProtocolICMPv6, HopLimit: ndHopLimit, SrcIP: addr.AsSlice(), DstIP: allNodes().AsSlice()}
	return v.ndFrame(ans.mac, multicastMAC(allNodes()), ip, layers.ICMPv6TypeNeighborAdvertisement, &layers.ICMPv6NeighborAdvertisement{
		Flags: flags, TargetAddress: addr.AsSlice(),
		Options: layers.ICMPv6Options{linkLayerOption(layers.ICMPv6OptTargetAddress, ans.mac)},
	})
}
