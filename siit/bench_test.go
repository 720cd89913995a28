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

// TestZeroAllocs holds the established path to no allocation.
func TestZeroAllocs(t *testing.T) {
	tr := newTest(t, bigTable(1000))
	out := packet.NewBatch(4, packet.DefaultBufSize)
	for _, pkt := range [][]byte{tcp6(t, 1400), tcp4(t, 1400), tcp6(t, 0), tcp4(t, 64)} {
		n := testing.AllocsPerRun(100, func() {
			out.Reset()
			if tr.Handle(pkt, out) != packet.Consumed {
				t.Fatal("not translated")
			}
		})
		if n != 0 {
			t.Fatalf("%v allocations per packet", n)
		}
	}
}
