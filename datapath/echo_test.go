package datapath_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/afpacket"
	"github.com/sixgate/sixgate/controller"
	"github.com/sixgate/sixgate/controller/controllertest"
	"github.com/sixgate/sixgate/controller/ofp"
	"github.com/sixgate/sixgate/controller/ofptest"
	"github.com/sixgate/sixgate/datapath"
	"github.com/sixgate/sixgate/packet"
	"github.com/sixgate/sixgate/topo"
)

// These tests run a second engine, one that echoes packets back to their
// sender, on the shared data path in both modes, through the package's
// exported interface only: what any new engine gets.

// echoEngine reflects every IPv4 or IPv6 packet to one address back to its
// sender, addresses and ports swapped (which leaves every checksum right).
// Each Expire sends one UDP datagram from the echo address to beacon, so
// the timer's path is seen too.
type echoEngine struct {
	addr4, addr6 netip.Addr
	beacon       atomic.Pointer[netip.Addr]
}

func (e *echoEngine) Handle(pkt []byte, out *packet.Batch) packet.Verdict {
	switch packet.EtherTypeOf(pkt) {
	case packet.EtherTypeIPv4:
		ip := packet.IPv4(pkt)
		if !ip.IsValid() || ip.DstAddr() != e.addr4 {
			return packet.Pass
		}
		b := out.Next(int(ip.TotalLength()), packet.IPv4Family, ip.SrcAddr())
		copy(b, pkt)
		copy(b[packet.IPv4Src:], pkt[packet.IPv4Dst:packet.IPv4Dst+4])
		copy(b[packet.IPv4Dst:], pkt[packet.IPv4Src:packet.IPv4Src+4])
		swapPorts(ip.Protocol(), b[ip.HeaderLength():])
	case packet.EtherTypeIPv6:
		ip := packet.IPv6(pkt)
		if !ip.IsValid() || ip.DstAddr() != e.addr6 {
			return packet.Pass
		}
		b := out.Next(packet.IPv6HeaderLen+int(ip.PayloadLength()), packet.IPv6Family, ip.SrcAddr())
		copy(b, pkt)
		copy(b[packet.IPv6Src:], pkt[packet.IPv6Dst:packet.IPv6Dst+16])
		copy(b[packet.IPv6Dst:], pkt[packet.IPv6Src:packet.IPv6Src+16])
		swapPorts(ip.NextHeader(), b[packet.IPv6HeaderLen:])
	default:
		return packet.Pass
	}
	return packet.Consumed
}

func swapPorts(proto uint8, l4 []byte) {
	if (proto == packet.ProtoUDP || proto == packet.ProtoTCP) && len(l4) >= 4 {
		l4[0], l4[1], l4[2], l4[3] = l4[2], l4[3], l4[0], l4[1]
	}
}

func (e *echoEngine) Expire(out *packet.Batch) {
	dst := e.beacon.Load()
	if dst == nil {
		return
	}
	b := out.Next(packet.IPv4MinLen+packet.UDPLen, packet.IPv4Family, *dst)
	packet.IPv4(b).Encode(&packet.IPv4Fields{TotalLen: uint16(len(b)), TTL: 64, Protocol: packet.ProtoUDP,
		Src: e.addr4.As4(), Dst: dst.As4()})
	u := packet.UDP(b[packet.IPv4MinLen:])
	u.SetSrcPort(7)
	u.SetDstPort(7)
	b[packet.IPv4MinLen+packet.UDPLength+1] = packet.UDPLen
	u.SetChecksum(0)
	u.SetChecksum(packet.Checksum(packet.IPv4(b).PseudoHeaderSum(packet.ProtoUDP, packet.UDPLen), u))
}

// echoApp is an app made of a data path and the echo engine.
type echoApp struct {
	*datapath.Path
}

func (echoApp) Name() string    { return "echo" }
func (echoApp) CookieID() uint8 { return 0x7e }

const echoTopology = `
switches: [{name: s1, dpid: "0x1"}, {name: s2, dpid: "0x2"}]
links: [{a: "s1:9", b: "s2:9"}]
hosts:
  - {name: h1, switch: s1, port: 1, mac: "00:00:0a:00:00:01", ipv4: ["10.0.0.1"], ipv6: ["2001:db8::1"]}
  - {name: h2, switch: s1, port: 2, mac: "00:00:0a:00:00:02", ipv4: ["10.0.0.2"]}
`

var (
	echoMAC = net.HardwareAddr{0, 0, 0x0a, 0, 0, 0x99}
	h1MAC   = net.HardwareAddr{0, 0, 0x0a, 0, 0, 1}
	h1v4    = netip.MustParseAddr("10.0.0.1")
	h1v6    = netip.MustParseAddr("2001:db8::1")
	echo4   = netip.MustParseAddr("10.0.0.99")
	echo6   = netip.MustParseAddr("2001:db8::99")
)

func newEcho(t *testing.T, cfg datapath.Config) (echoApp, *echoEngine) {
	t.Helper()
	e := &echoEngine{addr4: echo4, addr6: echo6}
	return newEchoWith(t, cfg, e), e
}

// newEchoWith is newEcho with the engine given (a variant of the echo).
func newEchoWith(t *testing.T, cfg datapath.Config, e datapath.Engine) echoApp {
	t.Helper()
	top, err := topo.Parse("echo.yaml", []byte(echoTopology))
	if err != nil {
		t.Fatal(err)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	cfg.Name, cfg.CookieID, cfg.Log = "echo", 0x7e, logrus.NewEntry(log)
	cfg.Tick = 20 * time.Millisecond
	cfg.GuardPriority, cfg.GuardCookie, cfg.GroupID = 3000, 0x300, 1
	p, err := datapath.New(cfg, datapath.State{Topology: top, Engine: e, MAC: echoMAC,
		Steer: []datapath.Steer{
			{Priority: 2500, Cookie: 1, Match: ofp.NewMatch(ofp.EthType(packet.EtherTypeIPv4), ofp.IPv4Dst(netip.PrefixFrom(echo4, 32)))},
			{Priority: 2500, Cookie: 2, Match: ofp.NewMatch(ofp.EthType(packet.EtherTypeIPv6), ofp.IPv6Dst(netip.PrefixFrom(echo6, 128)))},
		},
		Guard: []ofp.Match{ofp.NewMatch(ofp.EthType(packet.EtherTypeIPv4), ofp.IPv4Dst(netip.PrefixFrom(echo4, 32)))},
	})
	if err != nil {
		t.Fatal(err)
	}
	return echoApp{p}
}

// frameFromH1 is a UDP datagram from h1 (port 5000) to dst (port 7).
func frameFromH1(t *testing.T, dst netip.Addr, payload string) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: h1MAC, DstMAC: echoMAC}
	udp := &layers.UDP{SrcPort: 5000, DstPort: 7}
	var ipl gopacket.SerializableLayer
	if dst.Is4() {
		eth.EthernetType = layers.EthernetTypeIPv4
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: h1v4.AsSlice(), DstIP: dst.AsSlice()}
		udp.SetNetworkLayerForChecksum(ip)
		ipl = ip
	} else {
		eth.EthernetType = layers.EthernetTypeIPv6
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolUDP, SrcIP: h1v6.AsSlice(), DstIP: dst.AsSlice()}
		udp.SetNetworkLayerForChecksum(ip)
		ipl = ip
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ipl, udp, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// checkEchoed checks that frame is the echo of a datagram from h1 with
// payload: to h1's MAC from the path's, addresses and ports swapped, the
// UDP checksum right.
func checkEchoed(t *testing.T, frame []byte, from netip.Addr, payload string) {
	t.Helper()
	pkt := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
	eth, ok := pkt.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	if !ok || !bytes.Equal(eth.DstMAC, h1MAC) || !bytes.Equal(eth.SrcMAC, echoMAC) {
		t.Fatalf("frame %x: want %v -> %v", frame, echoMAC, h1MAC)
	}
	var src, dst net.IP
	switch ip := pkt.NetworkLayer().(type) {
	case *layers.IPv4:
		src, dst = ip.SrcIP, ip.DstIP
	case *layers.IPv6:
		src, dst = ip.SrcIP, ip.DstIP
	default:
		t.Fatalf("no IP layer in %x", frame)
	}
	want := h1v4
	if from.Is6() {
		want = h1v6
	}
	if !src.Equal(from.AsSlice()) || !dst.Equal(want.AsSlice()) {
		t.Errorf("echo %v -> %v, want %v -> %v", src, dst, from, want)
	}
	udp, ok := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP)
	if !ok || udp.SrcPort != 7 || udp.DstPort != 5000 || string(udp.Payload) != payload {
		t.Fatalf("echo's UDP %+v", udp)
	}
	sum := udp.Checksum
	if err := udp.SetNetworkLayerForChecksum(pkt.NetworkLayer()); err != nil {
		t.Fatal(err)
	}
	b := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(b, gopacket.SerializeOptions{ComputeChecksums: true}, udp, gopacket.Payload(udp.Payload)); err != nil {
		t.Fatal(err)
	}
	if got := uint16(b.Bytes()[6])<<8 | uint16(b.Bytes()[7]); got != sum {
		t.Errorf("UDP checksum %#04x, want %#04x", sum, got)
	}
}

// outputs lists where each steering flow sends its packets.
func outputs(flows []controller.Flow, prio uint16) []string {
	var out []string
	for _, f := range flows {
		if f.Priority != prio {
			continue
		}
		if len(f.Instructions) == 0 {
			out = append(out, "drop")
			continue
		}
		switch a := f.Instructions[0].(*ofp.InstructionActions).Actions[0].(type) {
		case *ofp.ActionOutput:
			if a.Port == ofp.PortController {
				out = append(out, "controller")
			} else {
				out = append(out, "port")
			}
		case *ofp.ActionGroup:
			out = append(out, "group")
		}
	}
	return out
}

func TestEchoEngineControllerMode(t *testing.T) {
	app, eng := newEcho(t, datapath.Config{})
	_, addr, ctx := controllertest.Start(t, app)
	sw := &ofptest.Switch{DPID: 1, NTables: 254}
	go sw.Dial(ctx, addr)
	ofptest.WaitFor(t, "flows installed", func() bool { return len(sw.Flows()) == 2 })
	if got := outputs(app.FlowsFor(1), 2500); len(got) != 2 || got[0] != "controller" || got[1] != "controller" {
		t.Fatalf("steering %v, want the controller twice", got)
	}

	for i, dst := range []netip.Addr{echo4, echo6} {
		payload := "ping " + dst.String()
		pi := &ofp.PacketIn{BufferID: ofp.NoBufferID, Cookie: controller.AppCookie(0x7e, 1),
			Match: ofp.NewMatch(ofp.InPort(1)), Data: frameFromH1(t, dst, payload)}
		if err := sw.SendMessage(pi); err != nil {
			t.Fatal(err)
		}
		ofptest.WaitFor(t, "echo packet-out", func() bool { return len(sw.PacketOuts()) > i })
		po := sw.PacketOuts()[i]
		if out, ok := po.Actions[0].(*ofp.ActionOutput); len(po.Actions) != 1 || !ok || out.Port != 1 {
			t.Fatalf("packet-out actions %v, want output:1 (h1's port)", po.Actions)
		}
		checkEchoed(t, po.Data, dst, payload)
	}

	// The timer's output leaves as packet-outs too, for h2's port.
	h2 := netip.MustParseAddr("10.0.0.2")
	eng.beacon.Store(&h2)
	ofptest.WaitFor(t, "timer packet-out to h2", func() bool {
		for _, po := range sw.PacketOuts() {
			if out, ok := po.Actions[0].(*ofp.ActionOutput); ok && out.Port == 2 {
				return true
			}
		}
		return false
	})
	if s := app.Counters(); s.PacketIns.Load() != 2 || s.NoRoute.Load() != 0 {
		t.Errorf("packet-ins %d, no-route %d", s.PacketIns.Load(), s.NoRoute.Load())
	}
}

func TestEchoEnginePortMode(t *testing.T) {
	port := newMemPort()
	app, eng := newEcho(t, datapath.Config{
		Mode:     topo.DataPathPort,
		Ports:    []*topo.EnginePort{{Interface: "mem0", Switch: "s1", DPID: 1, Port: 10}},
		OpenPort: func(*topo.EnginePort) (datapath.PortIO, error) { return port, nil },
	})
	// Steering: to the engine port on its switch, towards it (s2:9) on
	// the other; the guard drops the echo address coming back in.
	if got := outputs(app.FlowsFor(1), 2500); len(got) != 2 || got[0] != "port" || got[1] != "port" {
		t.Errorf("s1 steering %v, want the engine port", got)
	}
	if got := outputs(app.FlowsFor(1), 3000); len(got) != 1 || got[0] != "drop" {
		t.Errorf("s1 guard %v, want one drop", got)
	}
	if got := outputs(app.FlowsFor(2), 2500); len(got) != 2 || got[0] != "port" {
		t.Errorf("s2 steering %v, want towards s1", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := app.Start(ctx, nil); err != nil {
		t.Fatal(err)
	}
	for _, dst := range []netip.Addr{echo4, echo6} {
		payload := "ping " + dst.String()
		port.rx <- frameFromH1(t, dst, payload)
		checkEchoed(t, port.receiver.next(t), dst, payload)
	}
	// Not for the engine: passed, nothing sent.
	port.rx <- frameFromH1(t, netip.MustParseAddr("10.0.0.2"), "not for the echo")
	ofptest.WaitFor(t, "pass counted", func() bool {
		ps := app.PortStats()
		return len(ps) == 1 && ps[0].Pass == 1
	})
	// The timer's output leaves by the sender socket.
	h1 := h1v4
	eng.beacon.Store(&h1)
	f := port.sender.next(t)
	if pkt := gopacket.NewPacket(f, layers.LayerTypeEthernet, gopacket.Default); pkt.Layer(layers.LayerTypeUDP) == nil ||
		!bytes.Equal(f[:6], h1MAC) {
		t.Errorf("timer frame %x", f)
	}
}

// The timer's output leaves by the first engine port whose socket takes
// it: with the first port's link down, by the second.
func TestTimerOutputAvoidsDownPort(t *testing.T) {
	ports := map[string]*memPort{"mem0": newMemPort(), "mem1": newMemPort()}
	app, eng := newEcho(t, datapath.Config{
		Mode: topo.DataPathPort,
		Ports: []*topo.EnginePort{{Interface: "mem0", Switch: "s1", DPID: 1, Port: 10},
			{Interface: "mem1", Switch: "s1", DPID: 1, Port: 11}},
		OpenPort: func(ep *topo.EnginePort) (datapath.PortIO, error) { return ports[ep.Interface], nil },
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := app.Start(ctx, nil); err != nil {
		t.Fatal(err)
	}
	h1 := h1v4
	eng.beacon.Store(&h1)
	if f := ports["mem0"].sender.next(t); !bytes.Equal(f[:6], h1MAC) {
		t.Errorf("timer frame %x by the first port", f)
	}
	ports["mem0"].sender.down.Store(true)
	if f := ports["mem1"].sender.next(t); !bytes.Equal(f[:6], h1MAC) {
		t.Errorf("timer frame %x by the second port", f)
	}
}

// memPort is an engine port in memory: frames written to rx are received
// by its one receiver; what the path sends is kept per socket.
type memPort struct {
	rx       chan []byte
	receiver *memSocket
	sender   *memSocket
}

func newMemPort() *memPort {
	rx := make(chan []byte, 16)
	return &memPort{rx: rx, receiver: &memSocket{rx: rx, sent: make(chan []byte, 64)},
		sender: &memSocket{sent: make(chan []byte, 64)}}
}

func (m *memPort) Receivers() []datapath.Socket { return []datapath.Socket{m.receiver} }
func (m *memPort) Sender() datapath.Socket      { return m.sender }
func (m *memPort) Kind() string                 { return "memory" }
func (m *memPort) Index() int                   { return 0 }
func (m *memPort) Close() error                 { return nil }

type memSocket struct {
	rx     chan []byte
	mu     sync.Mutex
	queued [][]byte
	sent   chan []byte
	// down makes Flush refuse every frame, as a socket on an interface
	// whose link is down does.
	down atomic.Bool
	// vnet: frames in and out start with a virtio_net_hdr.
	vnet bool
}

func (s *memSocket) Serve(timeout time.Duration, frame func([]byte), batch func()) (int, error) {
	if s.rx == nil {
		return 0, errors.New("send-only socket")
	}
	n := 0
	deadline := time.After(timeout)
	for {
		select {
		case f := <-s.rx:
			frame(f)
			batch()
			n++
		case <-deadline:
			return n, nil
		}
	}
}

func (s *memSocket) Queue(head, body []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queued = append(s.queued, append(append([]byte(nil), head...), body...))
	return true
}

func (s *memSocket) Queued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queued)
}

func (s *memSocket) Flush() (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down.Load() {
		s.queued = nil
		return 0, errors.New("network is down")
	}
	n := len(s.queued)
	for _, f := range s.queued {
		select {
		case s.sent <- f:
		default: // nobody reads any more: dropped, as a full link would
		}
	}
	s.queued = nil
	return n, nil
}

func (s *memSocket) Stats() afpacket.Stats { return afpacket.Stats{} }
func (s *memSocket) VnetHdr() bool         { return s.vnet }

// next waits for the next frame the path sent on s.
func (s *memSocket) next(t *testing.T) []byte {
	t.Helper()
	select {
	case f := <-s.sent:
		return f
	case <-time.After(5 * time.Second):
		t.Fatal("no frame sent within 5 s")
		return nil
	}
}
