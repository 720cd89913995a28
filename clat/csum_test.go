package clat

import (
	"encoding/binary"
	"testing"
	"unsafe"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/sys/unix"
)

// segment6 builds an IPv6 packet carrying a TCP or UDP segment with a
// correct checksum, serialized by gopacket.
func segment6(t testing.TB, proto layers.IPProtocol, payload int) []byte {
	t.Helper()
	ip := &layers.IPv6{Version: 6, NextHeader: proto, HopLimit: 64,
		SrcIP: []byte{0x20, 0x01, 0x0d, 0xb8, 0, 0x64, 0, 0, 0, 0, 0, 0, 198, 51, 100, 2},
		DstIP: []byte{0x20, 0x01, 0x0d, 0xb8, 0xc1, 0xa7, 0, 0, 0x81, 0x25, 0x19, 0x26, 0xeb, 0x10, 0xca, 0x18}}
	data := make([]byte, payload)
	for i := range data {
		data[i] = byte(i*7 + 3)
	}
	var l4 gopacket.SerializableLayer
	switch proto {
	case layers.IPProtocolTCP:
		tcp := &layers.TCP{SrcPort: 8080, DstPort: 40000, Seq: 1, Ack: 2, ACK: true, Window: 512}
		tcp.SetNetworkLayerForChecksum(ip)
		l4 = tcp
	default:
		udp := &layers.UDP{SrcPort: 9999, DstPort: 40000}
		udp.SetNetworkLayerForChecksum(ip)
		l4 = udp
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ip, l4, gopacket.Payload(data)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func checksumOK(t *testing.T, pkt []byte) bool {
	t.Helper()
	p := gopacket.NewPacket(pkt, layers.LayerTypeIPv6, gopacket.Default)
	if p.ErrorLayer() != nil {
		t.Fatalf("decode: %v", p.ErrorLayer().Error())
	}
	switch l := p.TransportLayer().(type) {
	case *layers.TCP:
		l.SetNetworkLayerForChecksum(p.NetworkLayer())
		err, res := l.VerifyChecksum()
		return err == nil && res.Valid
	case *layers.UDP:
		l.SetNetworkLayerForChecksum(p.NetworkLayer())
		err, res := l.VerifyChecksum()
		return err == nil && res.Valid
	}
	t.Fatal("no transport layer")
	return false
}

func TestCompleteChecksum(t *testing.T) {
	for _, c := range []struct {
		name  string
		proto layers.IPProtocol
		field int
		n     int
	}{
		{"TCP, a GRO-sized segment", layers.IPProtocolTCP, 40 + 16, 60000},
		{"TCP, odd length", layers.IPProtocolTCP, 40 + 16, 1001},
		{"UDP", layers.IPProtocolUDP, 40 + 6, 1200},
	} {
		pkt := segment6(t, c.proto, c.n)
		want := binary.BigEndian.Uint16(pkt[c.field:])
		// What GRO leaves: the pseudo-header sum, not complemented.
		binary.BigEndian.PutUint16(pkt[c.field:], 0x1234)
		if checksumOK(t, pkt) {
			t.Fatalf("%s: the broken checksum passes", c.name)
		}
		if !completeChecksum(pkt) {
			t.Fatalf("%s: not completed", c.name)
		}
		if got := binary.BigEndian.Uint16(pkt[c.field:]); got != want || !checksumOK(t, pkt) {
			t.Errorf("%s: checksum %#04x, want %#04x", c.name, got, want)
		}
	}
	// Left alone: IPv4, ICMPv6, truncated.
	icmp := segment6(t, layers.IPProtocolTCP, 10)
	icmp[6] = 58
	for name, b := range map[string][]byte{
		"IPv4":      {0x45, 0, 0, 20, 0, 0, 0, 0, 64, 6, 0, 0, 192, 0, 0, 1, 192, 0, 0, 2},
		"ICMPv6":    icmp,
		"truncated": segment6(t, layers.IPProtocolTCP, 100)[:60],
		"empty":     nil,
	} {
		before := string(b)
		if completeChecksum(b) || string(b) != before {
			t.Errorf("%s: changed", name)
		}
	}
}

func TestCompleteChecksumAllocs(t *testing.T) {
	pkt := segment6(t, layers.IPProtocolTCP, 1200)
	if n := testing.AllocsPerRun(100, func() { completeChecksum(pkt) }); n != 0 {
		t.Errorf("%v allocations per packet", n)
	}
}

// cmsg builds one control message as the kernel lays it out on this
// platform (the header's length field is as wide as a pointer).
func cmsg(level, typ int32, data []byte) []byte {
	b := make([]byte, unix.CmsgSpace(len(data)))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = level, typ
	h.SetLen(unix.CmsgLen(len(data)))
	copy(b[unix.SizeofCmsghdr:], data)
	return b
}

func TestAuxStatus(t *testing.T) {
	aux := make([]byte, 20) // struct tpacket_auxdata
	binary.NativeEndian.PutUint32(aux, unix.TP_STATUS_USER|unix.TP_STATUS_CSUMNOTREADY)
	other := cmsg(unix.SOL_SOCKET, unix.SCM_TIMESTAMP, make([]byte, 16))
	for name, c := range map[string]struct {
		oob  []byte
		want uint32
	}{
		"auxdata":             {cmsg(unix.SOL_PACKET, unix.PACKET_AUXDATA, aux), unix.TP_STATUS_USER | unix.TP_STATUS_CSUMNOTREADY},
		"after another":       {append(other, cmsg(unix.SOL_PACKET, unix.PACKET_AUXDATA, aux)...), unix.TP_STATUS_USER | unix.TP_STATUS_CSUMNOTREADY},
		"none":                {other, 0},
		"empty":               {nil, 0},
		"length beyond":       {cmsg(unix.SOL_PACKET, unix.PACKET_AUXDATA, aux)[:24], 0},
		"length below header": {append([]byte{8, 0, 0, 0, 0, 0, 0, 0}, make([]byte, 8)...), 0},
	} {
		if got := auxStatus(c.oob); got != c.want {
			t.Errorf("%s: %#x, want %#x", name, got, c.want)
		}
	}
}

// FuzzAuxStatus: any control message buffer gives a status or 0, never
// a panic or an endless walk.
func FuzzAuxStatus(f *testing.F) {
	aux := make([]byte, 20)
	binary.NativeEndian.PutUint32(aux, unix.TP_STATUS_CSUMNOTREADY)
	f.Add(cmsg(unix.SOL_PACKET, unix.PACKET_AUXDATA, aux))
	f.Add([]byte{})
	f.Add(make([]byte, 17))
	f.Fuzz(func(t *testing.T, b []byte) { auxStatus(b) })
}

// FuzzCompleteChecksum: any bytes are completed or left alone, never a
// panic; a completed packet passes the receiver's check.
func FuzzCompleteChecksum(f *testing.F) {
	f.Add(segment6(f, layers.IPProtocolTCP, 100))
	f.Add(segment6(f, layers.IPProtocolUDP, 3))
	f.Fuzz(func(t *testing.T, b []byte) {
		completeChecksum(b)
	})
}
