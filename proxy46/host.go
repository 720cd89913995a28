package proxy46

import (
	"net/netip"
	"time"

	"github.com/sixgate/sixgate/packet"
)

// The engine answers for its VIPs the IPv4 traffic no service takes, the
// way a host answers for its addresses: an echo reply to a ping, a reset
// for TCP to a port without a service (closedPort), ICMP port unreachable
// for UDP. It never answers a RST, an ICMP error or other ICMP message, a
// fragment (handle4 drops those first), or a packet whose source is not a
// single host (RFC 1122 §3.2.2); VIPs are unicast addresses (Config
// checks). Answers leave with TTL 64 and DF set. These are slow paths:
// checksums are verified and computed in full.

// ecnMask is the ECN field of the TOS byte (RFC 3168): an answer copies a
// request's DSCP but does not claim ECN capability.
const ecnMask = 0x03

// icmpErrorTOS is the TOS of the ICMP errors the engine originates:
// precedence internetwork control (RFC 1812 §4.3.2.5), as Linux sends.
const icmpErrorTOS = 0xc0

// icmpErrorBurst is how many ICMP errors may leave back to back after a
// quiet spell (Linux's icmp_msgs_burst).
const icmpErrorBurst = 50

// hostAddr4 reports whether a can be the address of a single host: not
// "this network" (0/8), loopback (127/8), multicast (224/4) or class E
// (240/4, which holds the limited broadcast). A packet from anything else
// is not answered (RFC 1122 §3.2.1.3, §3.2.2, §4.2.3.10).
func hostAddr4(a [4]byte) bool {
	return a[0] != 0 && a[0] != 127 && a[0] < 224
}

// answerICMP answers an ICMP echo request to a VIP with an echo reply
// carrying its identifier, sequence number and data (RFC 792) and its
// DSCP, and consumes it. An ICMP error about a spliced segment goes to
// the backend, translated (icmp.go); other ICMP is dropped unanswered, and
// no error answers an error.
func (e *Engine) answerICMP(pkt []byte, ihl int, out *packet.Batch) packet.Verdict {
	ip := packet.IPv4(pkt)
	icmp := packet.ICMP(pkt[ihl:])
	if !icmp.IsValid() {
		return e.drop(DropMalformed)
	}
	if !packet.ChecksumOK(0, icmp) {
		return e.drop(DropICMPChecksum)
	}
	if packet.IsICMPv4Error(icmp.Type()) {
		return e.icmpFromClientPath(pkt, ihl, out) // icmp.go
	}
	if icmp.Type() != packet.ICMPv4EchoRequest {
		return e.drop(DropICMPUnhandled)
	}
	n := packet.IPv4MinLen + len(icmp)
	b := out.Next(n, packet.IPv4Family, ip.SrcAddr())
	packet.IPv4(b).Encode(&packet.IPv4Fields{
		TOS: ip.TOS() &^ ecnMask, TotalLen: uint16(n), Flags: packet.IPv4FlagDF, TTL: defaultTTL,
		Protocol: packet.ProtoICMPv4, Src: ip.Dst(), Dst: ip.Src(),
	})
	reply := packet.ICMP(b[packet.IPv4MinLen:])
	copy(reply, icmp) // identifier, sequence number and data
	reply[packet.ICMPType], reply[packet.ICMPCode] = packet.ICMPv4EchoReply, 0
	reply.SetChecksum(0)
	reply.SetChecksum(packet.Checksum(0, reply))
	e.stats.Packets4Out++
	e.stats.EchoReplies++
	return packet.Consumed
}

// answerUDP answers a UDP datagram to a VIP, which has no UDP service,
// with ICMP port unreachable, as a host without a socket on the port
// does. A datagram whose checksum is wrong is dropped unanswered, as
// Linux does.
func (e *Engine) answerUDP(pkt []byte, ihl int, out *packet.Batch) packet.Verdict {
	ip := packet.IPv4(pkt)
	udp := packet.UDP(pkt[ihl:])
	if !udp.IsValid() {
		return e.drop(DropMalformed)
	}
	udp = udp[:udp.Length()]
	// A zero checksum means the sender computed none (RFC 768).
	if udp.Checksum() != 0 && !packet.ChecksumOK(ip.PseudoHeaderSum(packet.ProtoUDP, len(udp)), udp) {
		return e.drop(DropUDPChecksum)
	}
	e.clock()
	e.portUnreachable(pkt, ihl, out)
	return e.drop(DropNoService)
}

// closedPort answers a TCP segment to a VIP port without a service with
// the reset RFC 9293 §3.10.7.1 prescribes (none for a RST). Resets are not
// rate limited: one is never larger than the segment it answers.
func (e *Engine) closedPort(k key4, tcp packet.TCP, out *packet.Batch) packet.Verdict {
	n := out.Len()
	e.resetStray4(k, tcp, out)
	if out.Len() > n {
		e.stats.ClosedPortResets++
	}
	return e.drop(DropNoService)
}

// portUnreachable appends ICMP destination unreachable, port unreachable,
// quoting the IP header and the first 8 bytes of pkt's payload (RFC 792),
// unless the ICMP error limit says otherwise.
func (e *Engine) portUnreachable(pkt []byte, ihl int, out *packet.Batch) {
	if !e.icmpErrorAllowed() {
		return
	}
	ip := packet.IPv4(pkt)
	quote := pkt[:min(len(pkt), ihl+8)]
	n := packet.IPv4MinLen + packet.ICMPHeaderLen + len(quote)
	b := out.Next(n, packet.IPv4Family, ip.SrcAddr())
	packet.IPv4(b).Encode(&packet.IPv4Fields{
		TOS: icmpErrorTOS, TotalLen: uint16(n), Flags: packet.IPv4FlagDF, TTL: defaultTTL,
		Protocol: packet.ProtoICMPv4, Src: ip.Dst(), Dst: ip.Src(),
	})
	icmp := packet.ICMP(b[packet.IPv4MinLen:])
	clear(icmp[:packet.ICMPHeaderLen]) // checksum and the unused word
	icmp[packet.ICMPType], icmp[packet.ICMPCode] = packet.ICMPv4DestUnreachable, packet.ICMPv4CodePortUnreachable
	copy(icmp.Body(), quote)
	icmp.SetChecksum(packet.Checksum(0, icmp))
	e.stats.Packets4Out++
	e.stats.PortUnreachables++
}

// icmpBucket is the token bucket that bounds the ICMP errors the engine
// originates, like Linux's icmp_msgs_per_sec and icmp_msgs_burst, so that
// a flood to a VIP cannot be turned into a larger flood of errors. Its
// credit is in nanoseconds of the engine clock: each error costs a second
// divided by ICMPErrorLimit.
type icmpBucket struct {
	credit int64
	last   int64
	primed bool
}

// icmpErrorAllowed takes a token for one ICMP error, counting the error as
// limited when there is none. The caller has refreshed the engine clock.
func (e *Engine) icmpErrorAllowed() bool {
	limit := e.cfg.ICMPErrorLimit
	if limit < 0 {
		e.stats.ICMPErrorsLimited++
		return false
	}
	cost := max(int64(time.Second)/int64(limit), 1)
	burst := cost * int64(min(icmpErrorBurst, limit))
	b := &e.icmpLimit
	if !b.primed {
		b.credit, b.last, b.primed = burst, e.now, true
	}
	if d := e.now - b.last; d > 0 {
		b.credit, b.last = min(burst, b.credit+d), e.now
	}
	if b.credit < cost {
		e.stats.ICMPErrorsLimited++
		return false
	}
	b.credit -= cost
	return true
}

// timeExceeded4 answers a client segment whose TTL would reach zero here:
// the engine decrements TTLs like a router, so it reports the expiry as
// one does (RFC 792, RFC 1812 §5.3.1), from the VIP the segment was
// addressed to, quoting as much of it as fits in 576 bytes, within
// ICMPErrorLimit.
func (e *Engine) timeExceeded4(pkt []byte, out *packet.Batch) {
	e.clock()
	if !e.icmpErrorAllowed() {
		return
	}
	ip := packet.IPv4(pkt)
	quote := pkt[:min(len(pkt), 576-packet.IPv4MinLen-packet.ICMPHeaderLen)]
	n := packet.IPv4MinLen + packet.ICMPHeaderLen + len(quote)
	b := out.Next(n, packet.IPv4Family, ip.SrcAddr())
	packet.IPv4(b).Encode(&packet.IPv4Fields{
		TOS: icmpErrorTOS, TotalLen: uint16(n), Flags: packet.IPv4FlagDF, TTL: defaultTTL,
		Protocol: packet.ProtoICMPv4, Src: ip.Dst(), Dst: ip.Src(),
	})
	icmp := packet.ICMP(b[packet.IPv4MinLen:])
	clear(icmp[:packet.ICMPHeaderLen])
	icmp[packet.ICMPType], icmp[packet.ICMPCode] = packet.ICMPv4TimeExceeded, 0 // TTL exceeded in transit
	copy(icmp.Body(), quote)
	icmp.SetChecksum(packet.Checksum(0, icmp))
	e.stats.Packets4Out++
	e.stats.TimeExceeded++
}

// timeExceeded6 answers a backend segment whose hop limit would reach zero
// here with ICMPv6 Time Exceeded (RFC 4443 §3.3) from the pool6 address it
// was addressed to, quoting as much of it as fits in the IPv6 minimum MTU,
// within ICMPErrorLimit.
func (e *Engine) timeExceeded6(pkt []byte, out *packet.Batch) {
	e.clock()
	if !e.icmpErrorAllowed() {
		return
	}
	ip := packet.IPv6(pkt)
	quote := pkt[:min(len(pkt), packet.IPv6MinMTU-packet.IPv6HeaderLen-packet.ICMPHeaderLen)]
	n := packet.IPv6HeaderLen + packet.ICMPHeaderLen + len(quote)
	src, dst := ip.Dst(), ip.Src()
	b := out.Next(n, packet.IPv6Family, netip.AddrFrom16(dst))
	packet.IPv6(b).Encode(&packet.IPv6Fields{
		TrafficClass: icmpErrorTOS, PayloadLen: uint16(n - packet.IPv6HeaderLen), NextHeader: packet.ProtoICMPv6,
		HopLimit: defaultTTL, Src: src, Dst: dst,
	})
	icmp := packet.ICMP(b[packet.IPv6HeaderLen:])
	clear(icmp[:packet.ICMPHeaderLen])
	icmp[packet.ICMPType], icmp[packet.ICMPCode] = packet.ICMPv6TimeExceeded, 0 // hop limit exceeded in transit
	copy(icmp.Body(), quote)
	icmp.SetChecksum(packet.Checksum(packet.IPv6(b).PseudoHeaderSum(packet.ProtoICMPv6, len(icmp)), icmp))
	e.stats.Packets6Out++
	e.stats.TimeExceeded++
}
