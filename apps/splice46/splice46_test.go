package splice46

import (
	"context"
	"io"
	"net"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/controller"
	"github.com/sixgate/sixgate/controller/controllertest"
	"github.com/sixgate/sixgate/controller/ofp"
	"github.com/sixgate/sixgate/controller/ofptest"
	"github.com/sixgate/sixgate/proxy46"
	"github.com/sixgate/sixgate/topo"
)

// rig is the seed topology's switch, faked, under a real controller
// running the app.
type rig struct {
	t   *testing.T
	top *topo.Topology
	app *App
	sw  *ofptest.Switch
	ctx context.Context
}

func newRig(t *testing.T) *rig {
	t.Helper()
	top, err := topo.Load("../../topo/examples/seed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	app, err := New(top, logrus.NewEntry(log))
	if err != nil {
		t.Fatal(err)
	}
	_, addr, ctx := controllertest.Start(t, app)
	sw := &ofptest.Switch{DPID: 1, NTables: 254}
	go sw.Dial(ctx, addr)
	r := &rig{t: t, top: top, app: app, sw: sw, ctx: ctx}
	ofptest.WaitFor(r.t, "flows installed", func() bool { return len(sw.Flows()) == len(app.Flows(nil)) })
	return r
}

var (
	h3MAC     = net.HardwareAddr{0, 0, 0x0a, 0, 0, 3}
	spliceMAC = net.HardwareAddr{0, 0, 0x0a, 0, 0, 0x42}
	h3        = net.IP{10, 0, 0, 3}
	vip       = net.IP{10, 0, 0, 42}
)

// packetIn sends the frame built from ls to the controller as if the
// switch's flow with the given cookie had punted it from port 3.
func (r *rig) packetIn(ls ...gopacket.SerializableLayer) {
	r.t.Helper()
	buf := gopacket.NewSerializeBuffer()
	eth := &layers.Ethernet{SrcMAC: h3MAC, DstMAC: spliceMAC, EthernetType: layers.EthernetTypeIPv4}
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		append([]gopacket.SerializableLayer{eth}, ls...)...); err != nil {
		r.t.Fatal(err)
	}
	pi := &ofp.PacketIn{BufferID: ofp.NoBufferID, Cookie: controller.AppCookie(CookieID, 1),
		Match: ofp.NewMatch(ofp.InPort(3)), Data: buf.Bytes()}
	if err := r.sw.SendMessage(pi); err != nil {
		r.t.Fatal(err)
	}
}

// nextPacketOut waits for the n-th packet-out and decodes its frame,
// checking its output port and that every checksum in it is right.
func (r *rig) nextPacketOut(n int, port uint32) gopacket.Packet {
	r.t.Helper()
	ofptest.WaitFor(r.t, "packet-out", func() bool { return len(r.sw.PacketOuts()) >= n })
	po := r.sw.PacketOuts()[n-1]
	if len(po.Actions) != 1 || po.Actions[0].(*ofp.ActionOutput).Port != port {
		r.t.Fatalf("packet-out actions %v, want output:%d", po.Actions, port)
	}
	pkt := gopacket.NewPacket(po.Data, layers.LayerTypeEthernet, gopacket.Default)
	if el := pkt.ErrorLayer(); el != nil {
		r.t.Fatalf("packet-out does not decode: %v", el.Error())
	}
	eth := pkt.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	if eth.SrcMAC.String() != spliceMAC.String() {
		r.t.Errorf("frame from %v, want the splice46 MAC %v", eth.SrcMAC, spliceMAC)
	}
	verifyChecksums(r.t, pkt)
	return pkt
}

// verifyChecksums re-serializes the IPv4 and transport layers with
// gopacket computing checksums and compares with what was sent.
func verifyChecksums(t *testing.T, pkt gopacket.Packet) {
	t.Helper()
	ip, ok := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	if !ok {
		return
	}
	sent := ip.Checksum
	buf := gopacket.NewSerializeBuffer()
	ip2 := *ip
	if err := ip2.SerializeTo(buf, gopacket.SerializeOptions{ComputeChecksums: true}); err != nil {
		t.Fatal(err)
	}
	if got := uint16(buf.Bytes()[10])<<8 | uint16(buf.Bytes()[11]); got != sent {
		t.Errorf("IPv4 checksum %#04x, want %#04x", sent, got)
	}
	if tcp, ok := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP); ok {
		want := tcp.Checksum
		tcp.SetNetworkLayerForChecksum(ip)
		b := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(b, gopacket.SerializeOptions{ComputeChecksums: true}, tcp, gopacket.Payload(tcp.Payload)); err != nil {
			t.Fatal(err)
		}
		if got := uint16(b.Bytes()[16])<<8 | uint16(b.Bytes()[17]); got != want {
			t.Errorf("TCP checksum %#04x, want %#04x", want, got)
		}
	}
	if icmp, ok := pkt.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4); ok {
		want := icmp.Checksum
		b := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(b, gopacket.SerializeOptions{ComputeChecksums: true}, icmp, gopacket.Payload(icmp.Payload)); err != nil {
			t.Fatal(err)
		}
		if got := uint16(b.Bytes()[2])<<8 | uint16(b.Bytes()[3]); got != want {
			t.Errorf("ICMP checksum %#04x, want %#04x", want, got)
		}
	}
}

func TestFlowsSteerVIPAndPool6(t *testing.T) {
	r := newRig(t)
	var tcp80, pool6 bool
	for _, f := range r.sw.Flows() {
		if f.Cookie>>controller.CookieShift != CookieID {
			t.Errorf("flow with foreign cookie %#x", f.Cookie)
		}
		m := f.Match
		if o, ok := m.Field(ofp.FieldTCPDst); ok && o.Uint() == 80 {
			d, _ := m.Field(ofp.FieldIPv4Dst)
			tcp80 = d.ValueString() == "10.0.0.42"
		}
		if o, ok := m.Field(ofp.FieldIPv6Dst); ok && o.ValueString() == "2001:db8:ffff::" && o.MaskString() == "ffff:ffff:ffff:ffff:ffff:ffff::" {
			if p, ok := m.Field(ofp.FieldIPProto); ok && p.Uint() == 6 {
				pool6 = true
			}
		}
	}
	if !tcp80 || !pool6 {
		t.Errorf("flows %v: VIP:80 steered %v, pool6 TCP steered %v", r.sw.Flows(), tcp80, pool6)
	}
}

func TestVIPAnswersLikeAHost(t *testing.T) {
	r := newRig(t)
	ip := func(p layers.IPProtocol) *layers.IPv4 {
		return &layers.IPv4{Version: 4, TTL: 64, Protocol: p, SrcIP: h3, DstIP: vip}
	}

	// The engine answers for the VIP. A ping from a multicast source is
	// not answered: the first packet-out is the reply to the next ping.
	multicast := ip(layers.IPProtocolICMPv4)
	multicast.SrcIP = net.IP{224, 0, 0, 1}
	r.packetIn(multicast,
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 7, Seq: 8},
		gopacket.Payload("ping!"))

	// Ping: an echo reply with the same id, sequence and data.
	r.packetIn(ip(layers.IPProtocolICMPv4),
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 7, Seq: 9},
		gopacket.Payload("ping!"))
	pkt := r.nextPacketOut(1, 3)
	icmp := pkt.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
	if icmp.TypeCode.Type() != layers.ICMPv4TypeEchoReply || icmp.Id != 7 || icmp.Seq != 9 || string(icmp.Payload) != "ping!" {
		t.Errorf("echo reply %v payload %q", icmp, icmp.Payload)
	}
	if got := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4); !got.SrcIP.Equal(vip) || !got.DstIP.Equal(h3) {
		t.Errorf("echo reply %v -> %v", got.SrcIP, got.DstIP)
	}

	// TCP to a port without a service: a reset acknowledging the SYN.
	r.packetIn(ip(layers.IPProtocolTCP), withIP(&layers.TCP{SrcPort: 40000, DstPort: 22, SYN: true, Seq: 1000, Window: 100}))
	tcp := r.nextPacketOut(2, 3).Layer(layers.LayerTypeTCP).(*layers.TCP)
	if !tcp.RST || !tcp.ACK || tcp.Ack != 1001 || tcp.SrcPort != 22 || tcp.DstPort != 40000 {
		t.Errorf("closed port answered %+v", tcp)
	}

	// UDP: port unreachable quoting the datagram.
	r.packetIn(ip(layers.IPProtocolUDP), withIP(&layers.UDP{SrcPort: 5353, DstPort: 53}), gopacket.Payload("query"))
	icmp = r.nextPacketOut(3, 3).Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
	if icmp.TypeCode != layers.CreateICMPv4TypeCode(layers.ICMPv4TypeDestinationUnreachable, layers.ICMPv4CodePort) || len(icmp.Payload) != 28 {
		t.Errorf("UDP answered %v with %d quoted bytes, want port unreachable quoting 28", icmp.TypeCode, len(icmp.Payload))
	}

	// A SYN to a service goes to the engine, which answers for the VIP
	// with an MSS that leaves room for the IPv6 header.
	r.packetIn(ip(layers.IPProtocolTCP), withIP(&layers.TCP{SrcPort: 40001, DstPort: 80, SYN: true, Seq: 5000, Window: 64240,
		Options: []layers.TCPOption{{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}}}}))
	tcp = r.nextPacketOut(4, 3).Layer(layers.LayerTypeTCP).(*layers.TCP)
	if !tcp.SYN || !tcp.ACK || tcp.Ack != 5001 {
		t.Fatalf("SYN to VIP:80 answered %+v", tcp)
	}
	for _, o := range tcp.Options {
		if o.OptionType == layers.TCPOptionKindMSS {
			if mss := int(o.OptionData[0])<<8 | int(o.OptionData[1]); mss > 1500-60 {
				t.Errorf("MSS %d offered to the client, want at most %d", mss, 1500-60)
			}
		}
	}
	conns := r.app.Engine().Connections()
	if len(conns) != 1 || conns[0].Client != netip.MustParseAddrPort("10.0.0.3:40001") {
		t.Errorf("engine connections %+v", conns)
	}

	// The answers are counted by the engine, and exported both as its
	// events and, for the dashboards that read them, as the app's.
	s := r.app.Stats()
	if s.EchoReplies != 1 || s.ClosedPortResets != 1 || s.PortUnreachables != 1 || s.Drops[proxy46.DropBadSource] != 1 {
		t.Errorf("engine counted %d echo replies, %d closed-port resets, %d port unreachables, %d bad sources; want 1 each",
			s.EchoReplies, s.ClosedPortResets, s.PortUnreachables, s.Drops[proxy46.DropBadSource])
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(r.app.Collectors()...)
	for _, c := range []struct {
		name, event string
		want        float64
	}{
		{"sixgate_splice46_packets_total", "echo_reply", 1},
		{"sixgate_splice46_packets_total", "closed_port", 2},
		{"sixgate_proxy46_events_total", "echo_reply", 1},
		{"sixgate_proxy46_events_total", "closed_port_reset", 1},
		{"sixgate_proxy46_events_total", "port_unreachable", 1},
	} {
		if v := value(t, reg, c.name, "event", c.event); v != c.want {
			t.Errorf("%s{event=%q} = %v, want %v", c.name, c.event, v, c.want)
		}
	}
}

// withIP marks a transport layer for checksumming over the rig's IPv4
// pseudo-header.
func withIP[T interface {
	gopacket.SerializableLayer
	SetNetworkLayerForChecksum(gopacket.NetworkLayer) error
}](l T) T {
	l.SetNetworkLayerForChecksum(&layers.IPv4{Version: 4, Protocol: layers.IPProtocolTCP, SrcIP: h3, DstIP: vip})
	return l
}

func TestLimitsAndTimeoutsReachTheEngine(t *testing.T) {
	top, err := topo.Parse("t.yaml", []byte(`
switches: [{name: s1, dpid: "0x1"}]
hosts: [{name: h1, switch: s1, port: 1, mac: "00:00:0a:00:00:01", ipv6: ["2001:db8::1"]}]
splice46:
  mac: "00:00:0a:00:00:42"
  pool6: "2001:db8:ffff::/96"
  services: [{vip: "10.0.0.42", port: 80, backends: [{address: "[2001:db8::1]:80"}]}]
  limits: {max_connections: 5000, max_embryonic: 300, syn_cookie_threshold: 100, max_held_bytes: 4096, max_held_bytes_global: 1048576, challenge_ack_limit: 50, icmp_error_limit: 20}
  timeouts: {idle: 10m}
`))
	if err != nil {
		t.Fatal(err)
	}
	app, err := New(top, logrus.NewEntry(logrus.New()))
	if err != nil {
		t.Fatal(err)
	}
	got := app.Engine().Stats().Limits
	want := proxy46.Limits{MaxConnections: 5000, MaxEmbryonic: 300, SynCookieThreshold: 100, MaxHeldBytes: 4096,
		MaxHeldBytesTotal: 1 << 20, ChallengeACKLimit: 50, ICMPErrorLimit: 20}
	if got != want {
		t.Errorf("engine limits %+v, want %+v", got, want)
	}
}
