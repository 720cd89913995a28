package splice46

import (
	"encoding/binary"
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// answerVIP answers IPv4 packets to a VIP that the engine does not take:
// ICMP echo requests, TCP to a port without a service, UDP. It reports
// whether it handled the packet; TCP to a service is left to the engine.
// This is the slow path, so gopacket builds the answers.
func (a *App) answerVIP(st *state, ip []byte) bool {
	if len(ip) < 20 || ip[0]>>4 != 4 {
		return false
	}
	ihl := int(ip[0]&0x0f) * 4
	dst := netip.AddrFrom4([4]byte(ip[16:20]))
	if ihl < 20 || len(ip) < ihl || !isVIP(st, dst) {
		return false
	}
	if binary.BigEndian.Uint16(ip[6:8])&0x3fff != 0 {
		return false // a fragment: the engine counts and drops it
	}
	proto := ip[9]
	l4 := ip[ihl:]
	switch proto {
	case 6:
		if len(l4) < 20 {
			return false
		}
		if _, ok := st.topo.Splice46.ServiceFor(dst, binary.BigEndian.Uint16(l4[2:4])); ok {
			return false
		}
		a.stats.closedPort.Add(1)
		a.reply(st, ip, resetFor)
		return true
	case 1:
		if len(l4) >= 8 && l4[0] == 8 {
			a.stats.echoReplies.Add(1)
			a.reply(st, ip, echoReply)
		}
		return true
	case 17:
		a.stats.closedPort.Add(1)
		a.reply(st, ip, portUnreachable)
		return true
	}
	return true
}

func isVIP(st *state, a netip.Addr) bool {
	for _, svc := range st.topo.Splice46.Services {
		if svc.VIP == a {
			return true
		}
	}
	return false
}

// answerFunc builds the answer to a packet as layers after the IPv4
// header, or nil for none.
type answerFunc func(in *layers.IPv4, pkt gopacket.Packet) []gopacket.SerializableLayer

// reply decodes ip, builds the answer from the VIP back to the sender and
// sends it.
func (a *App) reply(st *state, ip []byte, build answerFunc) {
	pkt := gopacket.NewPacket(ip, layers.LayerTypeIPv4, gopacket.Default)
	in, ok := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	if !ok {
		return
	}
	body := build(in, pkt)
	if body == nil {
		return
	}
	out := &layers.IPv4{Version: 4, TTL: 64, Protocol: in.Protocol, SrcIP: in.DstIP, DstIP: in.SrcIP, Flags: layers.IPv4DontFragment}
	if _, isICMP := body[0].(*layers.ICMPv4); isICMP {
		out.Protocol = layers.IPProtocolICMPv4
	}
	if tcp, ok := body[0].(*layers.TCP); ok {
		tcp.SetNetworkLayerForChecksum(out)
	}
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, append([]gopacket.SerializableLayer{out}, body...)...); err != nil {
		a.log.WithError(err).Debug("building an answer from a VIP")
		return
	}
	dst, _ := netip.AddrFromSlice(in.SrcIP.To4())
	a.output(st, false, dst, buf.Bytes())
}

// echoReply answers an ICMP echo request with its identifier, sequence
// number and data.
func echoReply(_ *layers.IPv4, pkt gopacket.Packet) []gopacket.SerializableLayer {
	req, ok := pkt.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
	if !ok {
		return nil
	}
	return []gopacket.SerializableLayer{
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoReply, 0), Id: req.Id, Seq: req.Seq},
		gopacket.Payload(req.Payload),
	}
}

// resetFor answers a segment to a closed port as RFC 9293 section 3.10.7.1
// says: a reset, acknowledging it unless it carried an ACK itself.
func resetFor(_ *layers.IPv4, pkt gopacket.Packet) []gopacket.SerializableLayer {
	in, ok := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
	if !ok || in.RST {
		return nil
	}
	out := &layers.TCP{SrcPort: in.DstPort, DstPort: in.SrcPort, RST: true, Window: 0}
	if in.ACK {
		out.Seq = in.Ack
	} else {
		out.ACK = true
		out.Ack = in.Seq + uint32(len(in.Payload))
		if in.SYN {
			out.Ack++
		}
		if in.FIN {
			out.Ack++
		}
	}
	return []gopacket.SerializableLayer{out}
}

// portUnreachable answers a UDP datagram with ICMP destination unreachable,
// quoting its IP header and first 8 bytes of payload (RFC 792).
func portUnreachable(in *layers.IPv4, pkt gopacket.Packet) []gopacket.SerializableLayer {
	quote := append(append([]byte(nil), in.Contents...), in.Payload...)
	if n := len(in.Contents) + 8; len(quote) > n {
		quote = quote[:n]
	}
	return []gopacket.SerializableLayer{
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeDestinationUnreachable, layers.ICMPv4CodePort)},
		gopacket.Payload(quote),
	}
}
