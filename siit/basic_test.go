package siit

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/sixgate/sixgate/packet"
)

func TestTestAddresses(t *testing.T) {
	tr := newTest(t, testConfig())
	if a, ok := tr.Mapper().To6(host4); !ok || a != host4v6 {
		t.Fatalf("To6(%v) = %v, %v; want %v", host4, a, ok, host4v6)
	}
	if a, ok := tr.Mapper().To4(host6); !ok || a != host6v4 {
		t.Fatalf("To4(%v) = %v, %v; want %v", host6, a, ok, host6v4)
	}
}

func TestTCP6to4(t *testing.T) {
	tr := newTest(t, testConfig())
	payload := bytes.Repeat([]byte("x"), 100)
	in := serialize(t, v6(host6, host4v6, layers.IPProtocolTCP),
		&layers.TCP{SrcPort: 40000, DstPort: 80, Seq: 1, Ack: 2, ACK: true, PSH: true, Window: 1000},
		gopacket.Payload(payload))
	p := one(t, tr, in)
	ip4 := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	if !ip4.SrcIP.Equal(ip(host6v4)) || !ip4.DstIP.Equal(ip(host4)) {
		t.Fatalf("addresses %v -> %v", ip4.SrcIP, ip4.DstIP)
	}
	if ip4.TTL != 63 || ip4.TOS != 0x28 || ip4.Protocol != layers.IPProtocolTCP || ip4.Flags&layers.IPv4DontFragment != 0 {
		t.Fatalf("header %+v", ip4)
	}
	tcp := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
	if tcp.SrcPort != 40000 || !bytes.Equal(tcp.Payload, payload) {
		t.Fatalf("tcp %+v", tcp)
	}
	if s := tr.Stats(); s.Translated6to4 != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestUDP4to6(t *testing.T) {
	tr := newTest(t, testConfig())
	payload := bytes.Repeat([]byte("y"), 33)
	in := serialize(t, v4(host4, host6v4, layers.IPProtocolUDP), &layers.UDP{SrcPort: 5353, DstPort: 40000}, gopacket.Payload(payload))
	p := one(t, tr, in)
	ip6 := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
	if !ip6.SrcIP.Equal(ip(host4v6)) || !ip6.DstIP.Equal(ip(host6)) || ip6.HopLimit != 63 || ip6.TrafficClass != 0x28 || ip6.FlowLabel != 0 {
		t.Fatalf("header %+v", ip6)
	}
	u := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
	if !bytes.Equal(u.Payload, payload) {
		t.Fatal("payload")
	}
}

func TestEcho(t *testing.T) {
	tr := newTest(t, testConfig())
	data := []byte("0123456789abcdef")
	in := serialize(t, v6(host6, host4v6, layers.IPProtocolICMPv6),
		&layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeEchoRequest, 0)},
		&layers.ICMPv6Echo{Identifier: 7, SeqNumber: 9}, gopacket.Payload(data))
	p := one(t, tr, in)
	ic := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
	if ic.TypeCode.Type() != layers.ICMPv4TypeEchoRequest || ic.Id != 7 || ic.Seq != 9 || !bytes.Equal(ic.Payload, data) {
		t.Fatalf("icmp %+v", ic)
	}
	back := serialize(t, v4(host4, host6v4, layers.IPProtocolICMPv4),
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoReply, 0), Id: 7, Seq: 9}, gopacket.Payload(data))
	p = one(t, tr, back)
	ic6 := p.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
	if ic6.TypeCode.Type() != layers.ICMPv6TypeEchoReply {
		t.Fatalf("icmpv6 %+v", ic6)
	}
}

func TestPassNotOurs(t *testing.T) {
	tr := newTest(t, testConfig())
	in := serialize(t, v6(host6, own6, layers.IPProtocolUDP), &layers.UDP{SrcPort: 1, DstPort: 2})
	if v, _ := run(t, tr, in); v != packet.Pass {
		t.Fatalf("verdict %v", v)
	}
	for _, dst := range []string{own4.String(), "224.0.0.251", "255.255.255.255"} {
		in = serialize(t, v4(host4, netip.MustParseAddr(dst), layers.IPProtocolUDP), &layers.UDP{SrcPort: 1, DstPort: 2})
		if v, _ := run(t, tr, in); v != packet.Pass {
			t.Fatalf("to %s: verdict %v", dst, v)
		}
	}
	in = serialize(t, v6(host6, netip.MustParseAddr("2001:db9::1"), layers.IPProtocolUDP), &layers.UDP{SrcPort: 1, DstPort: 2})
	if v, _ := run(t, tr, in); v != packet.Pass {
		t.Fatalf("outside pool6: verdict %v", v)
	}
}

// TestConcurrent translates from several goroutines while the
// configuration is replaced; run with -race.
func TestConcurrent(t *testing.T) {
	tr := newTest(t, testConfig())
	pkts := [][]byte{tcp6(t, 100), tcp4(t, 100)}
	h := v4(host4, host6v4, layers.IPProtocolUDP)
	h.TTL = 1
	pkts = append(pkts, serialize(t, h, &layers.UDP{SrcPort: 1, DstPort: 2}))
	done := make(chan struct{})
	for g := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			out := packet.NewBatch(4, packet.DefaultBufSize)
			for i := range 2000 {
				out.Reset()
				tr.Handle(pkts[(g+i)%len(pkts)], out)
			}
		}()
	}
	for range 50 {
		if err := tr.SetConfig(testConfig()); err != nil {
			t.Error(err)
		}
	}
	for range 4 {
		<-done
	}
	if s := tr.Stats(); s.Translated4to6+s.Translated6to4 == 0 {
		t.Fatalf("stats %+v", s)
	}
}
