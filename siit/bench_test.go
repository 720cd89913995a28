package siit

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/sixgate/sixgate/packet"
)

// bigTable returns a configuration with n EAM entries: single addresses
// 10.x.y.z <-> 2001:db8:e::x:y:z, and the test network's entry.
func bigTable(n int) Config {
	c := testConfig()
	for i := 1; len(c.EAM) < n; i++ {
		var a4 [4]byte
		binary.BigEndian.PutUint32(a4[:], 10<<24|uint32(i))
		a6 := netip.MustParseAddr("2001:db8:e::").As16()
		binary.BigEndian.PutUint32(a6[12:], uint32(i))
		c.EAM = append(c.EAM, EAM{IPv4: netip.PrefixFrom(netip.AddrFrom4(a4), 32), IPv6: netip.PrefixFrom(netip.AddrFrom16(a6), 128)})
	}
	return c
}

func tcp6(t testing.TB, payload int) []byte {
	return serialize(t, v6(host6, host4v6, layers.IPProtocolTCP),
		&layers.TCP{SrcPort: 40000, DstPort: 80, Seq: 1, Ack: 2, ACK: true, Window: 1000},
		gopacket.Payload(bytes.Repeat([]byte{'a'}, payload)))
}

func tcp4(t testing.TB, payload int) []byte {
	return serialize(t, v4(host4, host6v4, layers.IPProtocolTCP),
		&layers.TCP{SrcPort: 80, DstPort: 40000, Seq: 1, Ack: 2, ACK: true, Window: 1000},
		gopacket.Payload(bytes.Repeat([]byte{'a'}, payload)))
}

func BenchmarkHandle(b *testing.B) {
	for _, entries := range []int{10, 100000} {
		tr := newTest(b, bigTable(entries))
		for _, size := range []int{64, 1400} {
			for _, dir := range []struct {
				name string
				pkt  []byte
			}{{"6to4", tcp6(b, size)}, {"4to6", tcp4(b, size)}} {
				b.Run(fmt.Sprintf("%s/payload=%d/eam=%d", dir.name, size, entries), func(b *testing.B) {
					out := packet.NewBatch(4, packet.DefaultBufSize)
					b.ReportAllocs()
					b.SetBytes(int64(len(dir.pkt)))
					for b.Loop() {
						out.Reset()
						if tr.Handle(dir.pkt, out) != packet.Consumed {
							b.Fatal("not translated")
						}
					}
				})
			}
		}
	}
}

// BenchmarkHandleSpread sends to 4096 different EAM addresses of a table
// of 100,000, so that lookups miss the caches as real traffic does.
func BenchmarkHandleSpread(b *testing.B) {
	tr := newTest(b, bigTable(100000))
	var pkts [][]byte
	for i := range 4096 {
		n := uint32(i*24 + 1) // spread over the table
		dst := netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)})
		pkts = append(pkts, serialize(b, v4(host4, dst, layers.IPProtocolTCP),
			&layers.TCP{SrcPort: 80, DstPort: 40000, Seq: 1, Ack: 2, ACK: true, Window: 1000},
			gopacket.Payload(make([]byte, 64))))
	}
	out := packet.NewBatch(4, packet.DefaultBufSize)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		out.Reset()
		if tr.Handle(pkts[i&4095], out) != packet.Consumed {
			b.Fatal("not translated")
		}
		i++
	}
}

// BenchmarkCopy is the floor the translation is measured against in the
// same run: the same packets only copied into the output batch.
func BenchmarkCopy(b *testing.B) {
	for _, size := range []int{64, 1400} {
		pkt := tcp6(b, size)
		b.Run(fmt.Sprintf("payload=%d", size), func(b *testing.B) {
			out := packet.NewBatch(4, packet.DefaultBufSize)
			b.ReportAllocs()
			b.SetBytes(int64(len(pkt)))
			for b.Loop() {
				out.Reset()
				copy(out.Next(len(pkt), packet.IPv6Family, host4), pkt)
			}
		})
	}
}

// TestZeroAllocs holds the per-packet paths to no allocation: the
// established path both ways, fragmentation, echo, ICMP error translation,
// the errors the translator sends, hairpinning.
func TestZeroAllocs(t *testing.T) {
	tr := newTest(t, bigTable(1000))
	out := packet.NewBatch(8, packet.DefaultBufSize)
	noDF := v4(host4, host6v4, layers.IPProtocolUDP)
	noDF.Flags = 0
	expiring := v4(host4, host6v4, layers.IPProtocolUDP)
	expiring.TTL = 1
	other := netip.AddrFrom16(tr.Mapper().embed([4]byte{192, 0, 2, 9}))
	pkts := map[string][]byte{
		"tcp 6to4 1400":   tcp6(t, 1400),
		"tcp 4to6 1400":   tcp4(t, 1400),
		"tcp 6to4 0":      tcp6(t, 0),
		"tcp 4to6 64":     tcp4(t, 64),
		"fragments 4to6":  udp4(t, noDF, 1472),
		"echo 6to4":       serialize(t, v6(host6, host4v6, layers.IPProtocolICMPv6), &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(128, 0)}, &layers.ICMPv6Echo{Identifier: 1}, gopacket.Payload(make([]byte, 56))),
		"error 4to6":      icmp4(t, router4, host6v4, 3, 4, 1400, udp4(t, v4(host6v4, host4, layers.IPProtocolUDP), 100)),
		"time exceeded 4": udp4(t, expiring, 10),
		"hairpin":         udp6(t, v6(host6, other, layers.IPProtocolUDP), 100),
	}
	c := bigTable(1000)
	c.ICMPErrorRate = -1
	if err := tr.SetConfig(c); err != nil {
		t.Fatal(err)
	}
	for name, pkt := range pkts {
		n := testing.AllocsPerRun(100, func() {
			out.Reset()
			tr.Handle(pkt, out)
			if out.Len() == 0 {
				t.Fatalf("%s: nothing out", name)
			}
		})
		if n != 0 {
			t.Errorf("%s: %v allocations per packet", name, n)
		}
	}
}
