package datapath_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/sixgate/sixgate/controller/ofptest"
	"github.com/sixgate/sixgate/datapath"
	"github.com/sixgate/sixgate/packet"
	"github.com/sixgate/sixgate/topo"
)

// offloadEcho is the echo engine taking super-packets whole: it echoes
// them as super-packets, their checksum left partial.
type offloadEcho struct{ *echoEngine }

func (e offloadEcho) HandleOffload(pkt []byte, gso int, out *packet.Batch) (packet.Verdict, bool) {
	v := e.Handle(pkt, out)
	if v != packet.Consumed {
		return v, true
	}
	o := &out.Packets[out.Len()-1]
	ip := packet.IPv4(o.Data)
	hl := ip.HeaderLength()
	packet.TCP(o.Data[hl:]).SetChecksum(ip.PseudoHeaderSum(packet.ProtoTCP, len(o.Data)-hl))
	o.GSOSize = uint16(gso)
	return v, true
}

// superFrame is h1's TCP segment of n payload bytes to the echo address,
// as a socket with PACKET_VNET_HDR hands over a GRO super-packet of gso
// bytes per segment: header, Ethernet, IPv4, TCP with a partial checksum.
func superFrame(t *testing.T, n, gso int, typ uint8) []byte {
	t.Helper()
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: h1v4.AsSlice(), DstIP: echo4.AsSlice()}
	tcp := &layers.TCP{SrcPort: 40000, DstPort: 80, Seq: 1000, ACK: true, Window: 100}
	tcp.SetNetworkLayerForChecksum(ip)
	payload := bytes.Repeat([]byte("0123456789"), n/10)
	buf := gopacket.NewSerializeBuffer()
	err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		&layers.Ethernet{SrcMAC: h1MAC, DstMAC: echoMAC, EthernetType: layers.EthernetTypeIPv4}, ip, tcp, gopacket.Payload(payload))
	if err != nil {
		t.Fatal(err)
	}
	frame := bytes.Clone(buf.Bytes())
	pkt := frame[packet.EthernetHeaderLen:]
	packet.TCP(pkt[packet.IPv4MinLen:]).SetChecksum(packet.IPv4(pkt).PseudoHeaderSum(packet.ProtoTCP, len(pkt)-packet.IPv4MinLen))
	h := packet.VirtioNetHdr{Flags: packet.VirtioNeedsCsum, GSOType: typ, GSOSize: uint16(gso),
		HdrLen: packet.EthernetHeaderLen + 40, CsumStart: packet.EthernetHeaderLen + packet.IPv4MinLen, CsumOffset: 16}
	head := make([]byte, packet.VirtioNetHdrLen)
	h.Put(head)
	return append(head, frame...)
}

// echoedSegment checks a frame the path sent after its virtio_net_hdr:
// to h1, TCP with a valid checksum; it returns the header and payload.
func echoedSegment(t *testing.T, f []byte) (packet.VirtioNetHdr, []byte) {
	t.Helper()
	h, err := packet.DecodeVirtioNetHdr(f)
	if err != nil {
		t.Fatal(err)
	}
	f = f[packet.VirtioNetHdrLen:]
	if !bytes.Equal(f[:6], h1MAC) {
		t.Fatalf("frame to %x, want h1", f[:6])
	}
	pkt := f[packet.EthernetHeaderLen:]
	ip := packet.IPv4(pkt)
	tcp := pkt[ip.HeaderLength():]
	if h.GSOType == packet.VirtioGSONone && !packet.ChecksumOK(ip.PseudoHeaderSum(packet.ProtoTCP, len(tcp)), tcp) {
		t.Fatalf("segment with a bad TCP checksum")
	}
	return h, tcp[packet.TCP(tcp).DataOffset():]
}

func offloadPath(t *testing.T, eng datapath.Engine, vnet bool) (*memPort, *datapath.Path) {
	t.Helper()
	port := newMemPort()
	port.receiver.vnet = vnet
	if eng == nil {
		eng = &echoEngine{addr4: echo4, addr6: echo6}
	}
	app := newEchoWith(t, datapath.Config{
		Mode:     topo.DataPathPort,
		Ports:    []*topo.EnginePort{{Interface: "mem0", Switch: "s1", DPID: 1, Port: 10, Offload: vnet}},
		OpenPort: func(*topo.EnginePort) (datapath.PortIO, error) { return port, nil },
	}, eng)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := app.Start(ctx, nil); err != nil {
		t.Fatal(err)
	}
	return port, app.Path
}

// An engine that does not take super-packets gets the segments one by
// one; one that does gets the super-packet and its output leaves with a
// GSO header; a frame with a partial checksum has it finished; a GSO
// type the path does not know is counted and dropped.
func TestOffloadWorker(t *testing.T) {
	const n, gso = 1200, 500
	frame := superFrame(t, n, gso, packet.VirtioGSOTCPv4)
	want := frame[len(frame)-n:]

	t.Run("cut for an engine without offload", func(t *testing.T) {
		port, path := offloadPath(t, nil, true)
		port.rx <- frame
		var got []byte
		for i := 0; i < 3; i++ {
			h, payload := echoedSegment(t, port.receiver.next(t))
			if h != (packet.VirtioNetHdr{}) || len(payload) > gso {
				t.Fatalf("segment %d: header %+v, %d bytes", i, h, len(payload))
			}
			got = append(got, payload...)
		}
		if !bytes.Equal(got, want) {
			t.Fatal("payload not echoed in order")
		}
		ofptest.WaitFor(t, "cut counted", func() bool { ps := path.PortStats(); return ps[0].OffloadCut == 1 && ps[0].Offload == 0 })
	})

	t.Run("whole for an offload engine", func(t *testing.T) {
		eng := offloadEcho{&echoEngine{addr4: echo4, addr6: echo6}}
		port, path := offloadPath(t, eng, true)
		port.rx <- frame
		h, payload := echoedSegment(t, port.receiver.next(t))
		wantH := packet.VirtioNetHdr{Flags: packet.VirtioNeedsCsum, GSOType: packet.VirtioGSOTCPv4, GSOSize: gso,
			HdrLen: packet.EthernetHeaderLen + 40, CsumStart: packet.EthernetHeaderLen + packet.IPv4MinLen, CsumOffset: 16}
		if h != wantH || !bytes.Equal(payload, want) {
			t.Fatalf("header %+v, want %+v; payload equal %v", h, wantH, bytes.Equal(payload, want))
		}
		ofptest.WaitFor(t, "offload counted", func() bool { return path.PortStats()[0].Offload == 1 })
	})

	t.Run("partial checksum finished", func(t *testing.T) {
		port, _ := offloadPath(t, nil, true)
		single := superFrame(t, 300, gso, packet.VirtioGSONone)
		port.rx <- single
		if h, payload := echoedSegment(t, port.receiver.next(t)); h != (packet.VirtioNetHdr{}) || len(payload) != 300 {
			t.Fatalf("header %+v, %d bytes", h, len(payload))
		}
	})

	t.Run("unknown GSO type", func(t *testing.T) {
		port, path := offloadPath(t, nil, true)
		port.rx <- superFrame(t, n, gso, packet.VirtioGSOUDP)
		ofptest.WaitFor(t, "bad counted", func() bool { return path.PortStats()[0].OffloadBad == 1 })
	})

	t.Run("super-packet output cut for a socket without offload", func(t *testing.T) {
		eng := superOut{&echoEngine{addr4: echo4, addr6: echo6}, gso}
		port, _ := offloadPath(t, eng, false)
		port.rx <- frame[packet.VirtioNetHdrLen:]
		var got []byte
		for i := 0; i < 3; i++ {
			f := port.receiver.next(t)
			_, payload := echoedSegment(t, append(make([]byte, packet.VirtioNetHdrLen), f...))
			got = append(got, payload...)
		}
		if !bytes.Equal(got, want) {
			t.Fatal("payload not echoed in order")
		}
	})
}

// superOut echoes every packet as a super-packet of gso bytes per
// segment, which a socket without offload cannot send.
type superOut struct {
	*echoEngine
	gso int
}

func (e superOut) Handle(pkt []byte, out *packet.Batch) packet.Verdict {
	v, _ := offloadEcho{e.echoEngine}.HandleOffload(pkt, e.gso, out)
	return v
}
