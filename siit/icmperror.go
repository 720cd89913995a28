package siit

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"time"

	"github.com/sixgate/sixgate/packet"
)

// Answerable4 reports whether a router may answer the IPv4 packet ip with
// an ICMP error: not about an ICMP error, not about a fragment other than
// the first, not to a source that is not a single host (RFC 1812
// §4.3.2.7).
func Answerable4(ip packet.IPv4) bool {
	if ip.FragmentOffset() != 0 || icmpError4(ip) {
		return false
	}
	src := ip.SrcAddr()
	return !src.IsUnspecified() && !src.IsMulticast() && !src.IsLoopback() && src != netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

// Answerable6 is Answerable4 for IPv6 (RFC 4443 §2.4 (e)); u is ip's
// extension header walk.
func Answerable6(ip packet.IPv6, u packet.Upper) bool {
	if icmpError6(ip, u) {
		return false
	}
	src := ip.SrcAddr()
	return !src.IsUnspecified() && !src.IsMulticast() && !src.IsLoopback()
}

// AppendICMPv4Error appends an ICMPv4 error about ip from the address
// from, as a router sends it: TTL 64, DF clear, TOS of Internet control
// precedence, as much of ip quoted as fits in 576 bytes (RFC 1812
// §4.3.2.3). The caller has checked Answerable4.
func AppendICMPv4Error(out *packet.Batch, from [4]byte, ip packet.IPv4, typ, code uint8, rest uint32, id uint16) {
	q := ip[:min(int(ip.TotalLength()), packet.ICMPv4ErrorMax-packet.ICMPHeaderLen)]
	n := packet.IPv4MinLen + packet.ICMPHeaderLen + len(q)
	b := out.Next(n, packet.IPv4Family, ip.SrcAddr())
	m := packet.ICMP(b[packet.IPv4MinLen:])
	m[packet.ICMPType], m[packet.ICMPCode] = typ, code
	binary.BigEndian.PutUint32(m[packet.ICMPRest:], rest)
	copy(m[packet.ICMPHeaderLen:], q)
	m.SetChecksum(0)
	m.SetChecksum(packet.Checksum(0, m))
	packet.IPv4(b).Encode(&packet.IPv4Fields{
		TOS: 0xc0 | ip.TOS()&0x1c, TotalLen: uint16(n), ID: id, TTL: 64,
		Protocol: packet.ProtoICMPv4, Src: from, Dst: ip.Src(),
	})
}

// AppendICMPv6Error appends an ICMPv6 error about ip from the address
// from: hop limit 64, traffic class and flow label 0, within 1280 bytes
// (RFC 4443 §2.4 (c)). The caller has checked Answerable6.
func AppendICMPv6Error(out *packet.Batch, from [16]byte, ip packet.IPv6, typ, code uint8, rest uint32) {
	q := ip[:min(packet.IPv6HeaderLen+int(ip.PayloadLength()), packet.ICMPv6ErrorMax-packet.ICMPHeaderLen)]
	n := packet.IPv6HeaderLen + packet.ICMPHeaderLen + len(q)
	b := out.Next(n, packet.IPv6Family, ip.SrcAddr())
	m := packet.ICMP(b[packet.IPv6HeaderLen:])
	m[packet.ICMPType], m[packet.ICMPCode] = typ, code
	binary.BigEndian.PutUint32(m[packet.ICMPRest:], rest)
	copy(m[packet.ICMPHeaderLen:], q)
	dst := ip.Src()
	m.SetChecksum(0)
	m.SetChecksum(packet.Checksum(packet.PseudoHeaderSum(from[:], dst[:], packet.ProtoICMPv6, len(m)), m))
	packet.IPv6(b).Encode(&packet.IPv6Fields{
		PayloadLen: uint16(len(m)), NextHeader: packet.ProtoICMPv6, HopLimit: 64, Src: from, Dst: dst,
	})
}

// Linux's per-destination limit on the ICMP errors a host sends
// (icmp_ratelimit, 1000 ms a token, XRLIM_BURST_FACTOR 6), kept in a
// fixed table of buckets indexed by a hash of the destination so that it
// costs no allocation; two destinations that share a bucket share a limit.
const (
	peerBuckets  = 1024
	peerInterval = time.Second
	peerBurst    = 6
)

type peerBucket struct {
	tokens float64
	last   time.Time
}

// ErrorLimiter limits the ICMP errors a translator originates as Linux
// limits its own: one token bucket for all (icmp_msgs_per_sec,
// icmp_msgs_burst) and one per destination, which the errors of path MTU
// discovery are exempt from. The zero value allows nothing until SetRate;
// it is safe for concurrent use.
type ErrorLimiter struct {
	mu     sync.Mutex
	rate   int // a negative rate: no limit
	burst  float64
	tokens float64
	refill time.Time
	peers  [peerBuckets]peerBucket
}

// SetRate sets the overall rate (errors a second, negative for none) and
// burst; buckets keep their tokens, up to the new burst.
func (l *ErrorLimiter) SetRate(rate, burst int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.refill.IsZero() {
		l.tokens = float64(burst)
	}
	l.rate, l.burst = rate, float64(burst)
	l.tokens = min(l.tokens, l.burst)
}

// Allow takes a token at time now for an error to the destination whose
// hash is peer; pmtu exempts it from the per-destination limit.
func (l *ErrorLimiter) Allow(now time.Time, peer uint64, pmtu bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rate < 0 {
		return true
	}
	if !l.refill.IsZero() {
		if d := now.Sub(l.refill); d > 0 {
			l.tokens = min(l.burst, l.tokens+d.Seconds()*float64(l.rate))
		}
	}
	l.refill = now
	if l.tokens < 1 {
		return false
	}
	if !pmtu {
		b := &l.peers[peer%peerBuckets]
		if b.last.IsZero() {
			b.tokens = peerBurst
		} else if d := now.Sub(b.last); d > 0 {
			b.tokens = min(peerBurst, b.tokens+float64(d)/float64(peerInterval))
		}
		b.last = now
		if b.tokens < 1 {
			return false
		}
		b.tokens--
	}
	l.tokens--
	return true
}
