package packet

import "testing"

// FuzzTransport walks the extension headers of arbitrary IPv6 packets:
// the walk must never panic, and what it reports must lie inside the
// payload.
func FuzzTransport(f *testing.F) {
	f.Add([]byte(chain(ProtoTCP)))                                    // no extension header
	f.Add([]byte(chain(ProtoTCP, hbh, dest, rt, frag, ah, dest)))     // every kind
	f.Add([]byte(chain(ProtoTCP, frag, frag)))                        // two fragment headers
	f.Add([]byte(chain(ProtoTCP, dest, hbh)))                         // hop-by-hop not first
	f.Add([]byte(overrun(chain(ProtoTCP, ah), IPv6HeaderLen+1, 200))) // AH overruns
	f.Fuzz(func(t *testing.T, b []byte) {
		v := IPv6(b)
		if !v.IsValid() {
			return
		}
		u, ok := v.Transport()
		if !ok {
			return
		}
		end := IPv6HeaderLen + int(v.PayloadLength())
		if u.Offset < IPv6HeaderLen || u.Offset > end {
			t.Fatalf("upper layer at %d, outside [40, %d]", u.Offset, end)
		}
		if u.Fragment != 0 && (u.Fragment < IPv6HeaderLen || u.Fragment+IPv6FragmentLen > u.Offset) {
			t.Fatalf("fragment header at %d, upper layer at %d", u.Fragment, u.Offset)
		}
		if u.Fragment != 0 {
			_ = IPv6Fragment(v[u.Fragment:]).Offset()
		}
	})
}

// FuzzTCPOptions walks arbitrary option bytes: every option reported must
// lie inside them, after the previous one, and TCPOptionsOK must agree
// with the walk.
func FuzzTCPOptions(f *testing.F) {
	f.Add([]byte{TCPOptMSS, 4, 5, 0xb4, TCPOptSACKPermitted, 2, TCPOptTimestamps, 10, 0, 0, 0, 1, 0, 0, 0, 0, TCPOptNOP, TCPOptWindowScale, 3, 7}) // Linux SYN
	f.Add([]byte{TCPOptNOP, TCPOptNOP, TCPOptTimestamps, 10, 0, 0, 0, 1, 0, 0, 0, 2})                                                              // data segment
	f.Add([]byte{TCPOptMSS, 0})                                                                                                                    // length 0
	f.Add([]byte{TCPOptNOP, TCPOptSACK})                                                                                                           // no length byte
	f.Add([]byte{TCPOptEnd, TCPOptMSS, 99})                                                                                                        // garbage after End
	f.Fuzz(func(t *testing.T, opts []byte) {
		it := NewTCPOptions(opts)
		prevEnd := 0
		for it.Next() {
			off, n := it.Offset(), it.Len()
			if off < prevEnd || n < 2 || off+n > len(opts) || len(it.Data()) != n-2 {
				t.Fatalf("option %d at %d, length %d, previous ended at %d, %d bytes", it.Kind(), off, n, prevEnd, len(opts))
			}
			if k := it.Kind(); k == TCPOptEnd || k == TCPOptNOP || k != opts[off] {
				t.Fatalf("kind %d reported at %d", k, off)
			}
			prevEnd = off + n
		}
		if TCPOptionsOK(opts) == it.Malformed() {
			t.Fatalf("TCPOptionsOK = %v, walk malformed = %v", !it.Malformed(), it.Malformed())
		}
	})
}

// FuzzViews reads arbitrary bytes through every view: whatever IsValid
// accepts, no accessor may panic.
func FuzzViews(f *testing.F) {
	ip4 := make(IPv4, 40)
	ip4.Encode(&IPv4Fields{TotalLen: 40, TTL: 64, Protocol: ProtoTCP})
	TCP(ip4[20:]).Encode(&TCPFields{})
	f.Add([]byte(ip4))                  // IPv4 and TCP
	f.Add([]byte(chain(ProtoUDP, hbh))) // IPv6 with a hop-by-hop header
	f.Add([]byte{0x4f, 0, 0, 20})       // IHL past the total length
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		readEthernet(Ethernet(b))
		readIPv4(IPv4(b))
		readIPv6(IPv6(b))
		readTCP(TCP(b))
		readUDP(UDP(b))
		readICMP(ICMP(b))
	})
}

func readEthernet(v Ethernet) {
	if v.IsValid() {
		_, _, _, _ = v.Dst(), v.Src(), v.Type(), v.Payload()
	}
	_ = EtherTypeOf(v)
}

func readIPv4(v IPv4) {
	if !v.IsValid() {
		return
	}
	_, _, _, _, _ = v.HeaderLength(), v.TOS(), v.TotalLength(), v.ID(), v.Flags()
	_, _, _, _ = v.FragmentOffset(), v.TTL(), v.Protocol(), v.Checksum()
	_, _, _, _ = v.Src(), v.Dst(), v.SrcAddr(), v.DstAddr()
	_, _, _ = v.DontFragment(), v.MoreFragments(), v.IsFragment()
	_, _, _ = v.Options(), v.Payload(), v.HeaderChecksumOK()
	_ = v.PseudoHeaderSum(ProtoTCP, len(v.Payload()))
	readTCP(TCP(v.Payload()))
	readUDP(UDP(v.Payload()))
	readICMP(ICMP(v.Payload()))
}

func readIPv6(v IPv6) {
	if !v.IsValid() {
		return
	}
	_, _, _, _, _ = v.TrafficClass(), v.FlowLabel(), v.PayloadLength(), v.NextHeader(), v.HopLimit()
	_, _, _, _, _, _ = v.Src(), v.Dst(), v.SrcPtr(), v.DstPtr(), v.SrcAddr(), v.DstAddr()
	_, _ = v.Payload(), v.PseudoHeaderSum(ProtoTCP, len(v.Payload()))
	u, ok := v.Transport()
	if !ok {
		return
	}
	if u.Fragment != 0 {
		fr := IPv6Fragment(v[u.Fragment:])
		_, _, _, _ = fr.NextHeader(), fr.Offset(), fr.More(), fr.ID()
	}
	upper := v[u.Offset : IPv6HeaderLen+int(v.PayloadLength())]
	readTCP(TCP(upper))
	readUDP(UDP(upper))
	readICMP(ICMP(upper))
}

func readTCP(v TCP) {
	if !v.IsValid() {
		return
	}
	_, _, _, _, _ = v.SrcPort(), v.DstPort(), v.Seq(), v.Ack(), v.DataOffset()
	_, _, _, _ = v.Flags(), v.Window(), v.Checksum(), v.SequenceLength()
	_, _ = v.Has(TCPFlagSYN), v.HasAny(TCPFlagFIN|TCPFlagRST)
	_ = v.Payload()
	it := NewTCPOptions(v.Options())
	for it.Next() {
		_ = it.Data()
	}
}

func readUDP(v UDP) {
	if v.IsValid() {
		_, _, _, _, _ = v.SrcPort(), v.DstPort(), v.Length(), v.Checksum(), v.Payload()
	}
}

func readICMP(v ICMP) {
	if v.IsValid() {
		_, _, _, _, _, _, _ = v.Type(), v.Code(), v.Checksum(), v.Rest(), v.ID(), v.Seq(), v.Body()
		_, _ = IsICMPv4Error(v.Type()), IsICMPv6Error(v.Type())
	}
}
