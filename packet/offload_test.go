package packet

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

func TestVirtioNetHdrRoundTrip(t *testing.T) {
	h := VirtioNetHdr{Flags: VirtioNeedsCsum, GSOType: VirtioGSOTCPv6, HdrLen: 86, GSOSize: 1428, CsumStart: 54, CsumOffset: 16}
	b := make([]byte, VirtioNetHdrLen)
	h.Put(b)
	got, err := DecodeVirtioNetHdr(b)
	if err != nil || got != h {
		t.Fatalf("decoded %+v, %v; want %+v", got, err, h)
	}
	if _, err := DecodeVirtioNetHdr(b[:9]); err == nil {
		t.Fatal("a 9-byte header decoded")
	}
}

// superTCP builds an IPv4 or IPv6 TCP packet with n payload bytes and
// the given flags with gopacket, as GRO would merge it.
func superTCP(t testing.TB, v6 bool, n int, mod func(*layers.TCP)) []byte {
	t.Helper()
	tcp := &layers.TCP{SrcPort: 40000, DstPort: 80, Seq: 0xfffff000, Ack: 77, ACK: true, PSH: true, Window: 500,
		Options: []layers.TCPOption{{OptionType: layers.TCPOptionKindNop}, {OptionType: layers.TCPOptionKindNop},
			{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: make([]byte, 8)}}}
	if mod != nil {
		mod(tcp)
	}
	payload := make([]byte, n)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	var ip gopacket.SerializableLayer
	if v6 {
		l := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP,
			SrcIP: net.ParseIP("2001:db8::1"), DstIP: net.ParseIP("2001:db8::2")}
		tcp.SetNetworkLayerForChecksum(l)
		ip = l
	} else {
		l := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, Flags: layers.IPv4DontFragment, Id: 0xfffe,
			SrcIP: net.ParseIP("198.51.100.1").To4(), DstIP: net.ParseIP("198.51.100.2").To4()}
		tcp.SetNetworkLayerForChecksum(l)
		ip = l
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ip, tcp, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(buf.Bytes())
}

// SegmentTCP's segments are what gopacket reads as valid TCP with correct
// checksums, covering the payload in order, with the flags and urgent
// pointer where RFC 9293 and the kernel's segmentation put them.
func TestSegmentTCP(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		const mss = 1000
		super := superTCP(t, v6, 2500, func(l *layers.TCP) { l.FIN, l.CWR, l.URG, l.Urgent = true, true, true, 1500 })
		fam, first := IPv4Family, layers.LayerTypeIPv4
		if v6 {
			fam, first = IPv6Family, layers.LayerTypeIPv6
		}
		// A partial checksum in the super-packet must not matter.
		hl := len(super) - 2500 - 32
		TCP(super[hl:]).SetChecksum(0x1234)
		var out Batch
		if n := SegmentTCP(append(super, 0, 0, 0), mss, &out, fam, netip.Addr{}); n != 3 {
			t.Fatalf("v6 %v: %d segments", v6, n)
		}
		var stream []byte
		for i, o := range out.Packets {
			p := gopacket.NewPacket(o.Data, first, gopacket.Default)
			tcp, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
			if !ok || p.ErrorLayer() != nil {
				t.Fatalf("v6 %v segment %d: %v", v6, i, p.ErrorLayer())
			}
			var pseudo uint16
			if v6 {
				pseudo = IPv6(o.Data).PseudoHeaderSum(ProtoTCP, len(o.Data)-hl)
			} else {
				ip := IPv4(o.Data)
				pseudo = ip.PseudoHeaderSum(ProtoTCP, len(o.Data)-hl)
				if !ip.HeaderChecksumOK() || ip.ID() != uint16(0xfffe+i) {
					t.Errorf("segment %d: IPv4 header checksum ok %v, id %#x", i, ip.HeaderChecksumOK(), ip.ID())
				}
			}
			if !ChecksumOK(pseudo, o.Data[hl:]) {
				t.Errorf("v6 %v segment %d: bad TCP checksum", v6, i)
			}
			if tcp.Seq != 0xfffff000+uint32(i*mss) {
				t.Errorf("segment %d: seq %#x", i, tcp.Seq)
			}
			last := i == 2
			if tcp.FIN != last || tcp.PSH != last || tcp.CWR != (i == 0) || tcp.URG != (i < 2) {
				t.Errorf("segment %d: FIN %v PSH %v CWR %v URG %v", i, tcp.FIN, tcp.PSH, tcp.CWR, tcp.URG)
			}
			if tcp.URG && int(tcp.Urgent) != 1500-i*mss {
				t.Errorf("segment %d: urgent pointer %d", i, tcp.Urgent)
			}
			stream = append(stream, tcp.Payload...)
		}
		if !bytes.Equal(stream, super[hl+32:]) {
			t.Errorf("v6 %v: payload not carried in order", v6)
		}
	}
}

func TestSegmentTCPRefuses(t *testing.T) {
	good := superTCP(t, false, 100, nil)
	short := bytes.Clone(good)
	binary.BigEndian.PutUint16(short[IPv4TotalLength:], 30) // shorter than its headers
	long := bytes.Clone(good)
	binary.BigEndian.PutUint16(long[IPv4TotalLength:], uint16(len(good)+1))
	udp := bytes.Clone(good)
	udp[IPv4Protocol] = ProtoUDP
	for name, pkt := range map[string][]byte{"short": short, "beyond the buffer": long, "UDP": udp, "empty": nil} {
		var out Batch
		if n := SegmentTCP(pkt, 10, &out, IPv4Family, netip.Addr{}); n != 0 || out.Len() != 0 {
			t.Errorf("%s: %d segments", name, n)
		}
	}
	var out Batch
	if n := SegmentTCP(good, 10, &out, IPv6Family, netip.Addr{}); n != 0 {
		t.Errorf("IPv4 packet taken as IPv6: %d segments", n)
	}
}

func TestFinishChecksum(t *testing.T) {
	pkt := superTCP(t, true, 333, nil)
	want := TCP(pkt[IPv6HeaderLen:]).Checksum()
	TCP(pkt[IPv6HeaderLen:]).SetChecksum(IPv6(pkt).PseudoHeaderSum(ProtoTCP, len(pkt)-IPv6HeaderLen))
	if !FinishChecksum(pkt, IPv6HeaderLen, TCPChecksum) {
		t.Fatal("refused")
	}
	if got := TCP(pkt[IPv6HeaderLen:]).Checksum(); got != want && !(got == 0xffff && want == 0) {
		t.Fatalf("checksum %#x, want %#x", got, want)
	}
	if FinishChecksum(pkt, len(pkt)-1, 0) || FinishChecksum(pkt, -1, 0) {
		t.Fatal("a field outside the packet accepted")
	}
}

// FuzzSegmentTCP cuts whatever it is given: no panic, and every segment
// of a packet it accepts carries a valid TCP checksum and at most mss
// payload bytes.
func FuzzSegmentTCP(f *testing.F) {
	f.Add(superTCP(f, false, 3000, nil), uint16(1000), false)
	f.Add(superTCP(f, true, 3000, nil), uint16(1448), true)
	f.Add([]byte{0x45, 0, 0, 20}, uint16(1), false)
	f.Fuzz(func(t *testing.T, pkt []byte, mss uint16, v6 bool) {
		if len(pkt) > 8192 {
			return // larger ones only cut into more segments
		}
		DecodeVirtioNetHdr(pkt)
		fam := IPv4Family
		if v6 {
			fam = IPv6Family
		}
		var out Batch
		n := SegmentTCP(pkt, int(mss), &out, fam, netip.Addr{})
		if n != out.Len() {
			t.Fatalf("%d segments reported, %d appended", n, out.Len())
		}
		for _, o := range out.Packets {
			var hl int
			var pseudo uint16
			if v6 {
				hl, pseudo = IPv6HeaderLen, IPv6(o.Data).PseudoHeaderSum(ProtoTCP, len(o.Data)-IPv6HeaderLen)
			} else {
				hl = IPv4(o.Data).HeaderLength()
				pseudo = IPv4(o.Data).PseudoHeaderSum(ProtoTCP, len(o.Data)-hl)
			}
			if !ChecksumOK(pseudo, o.Data[hl:]) {
				t.Fatal("segment with a bad checksum")
			}
			if pl := len(o.Data) - hl - TCP(o.Data[hl:]).DataOffset(); pl > max(int(mss), 8) {
				t.Fatalf("segment of %d bytes for mss %d", pl, mss)
			}
		}
	})
}
