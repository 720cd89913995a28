package splice46_test

import (
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/apps/splice46"
	"github.com/sixgate/sixgate/controller"
	"github.com/sixgate/sixgate/controller/controllertest"
	"github.com/sixgate/sixgate/controller/ofp"
	"github.com/sixgate/sixgate/controller/ofptest"
	"github.com/sixgate/sixgate/topo"
)

// These tests look packets up in the flows and groups the app declares,
// as a switch would, through its exported behaviour only: New, Flows,
// Groups and the cookie id.

// Addresses of topo/examples/seed.yaml: one switch, backends h1 and h2
// (IPv6) on ports 1 and 2, the client h3 (IPv4) on port 3.
var (
	h1MAC     = net.HardwareAddr{0, 0, 0x0a, 0, 0, 1}
	h3MAC     = net.HardwareAddr{0, 0, 0x0a, 0, 0, 3}
	spliceMAC = net.HardwareAddr{0, 0, 0x0a, 0, 0, 0x42}
)

const (
	h1   = "2001:db8::1"
	h3   = "10.0.0.3"
	vip  = "10.0.0.42"
	h3v6 = "2001:db8:ffff::a00:3" // h3 as the backends see it, in pool6
)

// Port mode on the seed switch, with one or two engine ports.
const (
	onePort  = "  mode: port\n  ports: [{interface: eng0, switch: s1, port: 10}]\n"
	twoPorts = "  mode: port\n  ports: [{interface: eng0, switch: s1, port: 10}, {interface: eng1, switch: s1, port: 11}]\n"
)

// seed loads the seed example with tail appended to its splice46 section.
func seed(t *testing.T, tail string) *topo.Topology {
	t.Helper()
	src, err := os.ReadFile("../../topo/examples/seed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	top, err := topo.Parse("seed.yaml", append(src, tail...))
	if err != nil {
		t.Fatal(err)
	}
	return top
}

func quietLog() *logrus.Entry {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return logrus.NewEntry(l)
}

// declaredOnly is the app without its data path: in port mode Start opens
// the engine interfaces, which a unit test does not have.
type declaredOnly struct{ app *splice46.App }

func (d declaredOnly) Name() string                                    { return d.app.Name() }
func (d declaredOnly) CookieID() uint8                                 { return d.app.CookieID() }
func (d declaredOnly) Flows(sw *controller.Switch) []controller.Flow   { return d.app.Flows(sw) }
func (d declaredOnly) Groups(sw *controller.Switch) []controller.Group { return d.app.Groups(sw) }

// seedPorts are the seed switch's host ports and two engine ports.
func seedPorts() []ofp.Port {
	var ps []ofp.Port
	for _, no := range []uint32{1, 2, 3, 10, 11} {
		ps = append(ps, ofp.Port{PortNo: no})
	}
	return ps
}

// install puts the app's flows and groups for the seed topology with tail
// on a fake switch, through a controller.
func install(t *testing.T, tail string, ports []ofp.Port) *ofptest.Switch {
	t.Helper()
	app, err := splice46.New(seed(t, tail), quietLog())
	if err != nil {
		t.Fatal(err)
	}
	sw := &ofptest.Switch{DPID: 1, NTables: 254, Ports: ports}
	controllertest.StartWith(t, sw, declaredOnly{app})
	return sw
}

func build(t *testing.T, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func ipv4(src, dst string, p layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, TTL: 64, Protocol: p,
		SrcIP: netip.MustParseAddr(src).AsSlice(), DstIP: netip.MustParseAddr(dst).AsSlice()}
}

func ipv6(src, dst string, p layers.IPProtocol) *layers.IPv6 {
	return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: p,
		SrcIP: netip.MustParseAddr(src).AsSlice(), DstIP: netip.MustParseAddr(dst).AsSlice()}
}

// syn is a client's SYN from h3 to the VIP, sent to splice46's MAC.
func syn(t *testing.T, port uint16) []byte {
	ip := ipv4(h3, vip, layers.IPProtocolTCP)
	tcp := &layers.TCP{SrcPort: 40000, DstPort: layers.TCPPort(port), SYN: true, Seq: 1, Window: 64240}
	tcp.SetNetworkLayerForChecksum(ip)
	return build(t, &layers.Ethernet{SrcMAC: h3MAC, DstMAC: spliceMAC, EthernetType: layers.EthernetTypeIPv4}, ip, tcp)
}

func ping(t *testing.T) []byte {
	return build(t, &layers.Ethernet{SrcMAC: h3MAC, DstMAC: spliceMAC, EthernetType: layers.EthernetTypeIPv4},
		ipv4(h3, vip, layers.IPProtocolICMPv4),
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 1, Seq: 1})
}

// backendSYNACK is h1 answering the engine's SYN, to h3's pool6 address.
func backendSYNACK(t *testing.T) []byte {
	ip := ipv6(h1, h3v6, layers.IPProtocolTCP)
	tcp := &layers.TCP{SrcPort: 80, DstPort: 40000, SYN: true, ACK: true, Seq: 7, Ack: 2, Window: 64240}
	tcp.SetNetworkLayerForChecksum(ip)
	return build(t, &layers.Ethernet{SrcMAC: h1MAC, DstMAC: spliceMAC, EthernetType: layers.EthernetTypeIPv6}, ip, tcp)
}

// packetTooBig is h1's router saying a segment to pool6 was too big.
func packetTooBig(t *testing.T) []byte {
	ip := ipv6(h1, h3v6, layers.IPProtocolICMPv6)
	ic := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypePacketTooBig, 0)}
	ic.SetNetworkLayerForChecksum(ip)
	return build(t, &layers.Ethernet{SrcMAC: h1MAC, DstMAC: spliceMAC, EthernetType: layers.EthernetTypeIPv6}, ip, ic,
		gopacket.Payload(make([]byte, 4+48)))
}

// wantController fails t unless the packet went to the controller alone,
// by one of the app's flows.
func wantController(t *testing.T, res *ofptest.Result) {
	t.Helper()
	if len(res.PacketIns) != 1 || len(res.Outputs) != 0 || res.PacketIns[0].Cookie>>controller.CookieShift != splice46.CookieID {
		t.Errorf("want the controller by a splice46 flow, got\n%s", res)
	}
}

func wantPorts(t *testing.T, res *ofptest.Result, ports ...uint32) {
	t.Helper()
	if got := res.OutputPorts(); !slices.Equal(got, ports) || res.ToController() {
		t.Errorf("want out of ports %v, got\n%s", ports, res)
	}
	for _, h := range res.Tables {
		if h.Matched && h.Cookie>>controller.CookieShift != splice46.CookieID {
			t.Errorf("table %d: matched a flow of cookie %#x, not splice46's", h.Table, h.Cookie)
		}
	}
}

func TestControllerModeLookups(t *testing.T) {
	sw := install(t, "", seedPorts())
	t.Run("a SYN to the VIP's service port goes to the controller", func(t *testing.T) {
		for _, port := range []uint16{80, 443, 8080} {
			wantController(t, sw.Lookup(t, syn(t, port), 3))
		}
	})
	t.Run("a SYN to a closed port of the VIP goes to the controller, which resets it", func(t *testing.T) {
		wantController(t, sw.Lookup(t, syn(t, 22), 3))
	})
	t.Run("a ping to the VIP goes to the controller", func(t *testing.T) {
		wantController(t, sw.Lookup(t, ping(t), 3))
	})
	t.Run("a backend's TCP to a pool6 address goes to the controller", func(t *testing.T) {
		wantController(t, sw.Lookup(t, backendSYNACK(t), 1))
	})
	t.Run("Packet Too Big to a pool6 address goes to the controller", func(t *testing.T) {
		wantController(t, sw.Lookup(t, packetTooBig(t), 1))
	})
}

func TestPortModeLookups(t *testing.T) {
	sw := install(t, onePort, seedPorts())
	t.Run("a SYN to the VIP's service port goes to engine port 10", func(t *testing.T) {
		wantPorts(t, sw.Lookup(t, syn(t, 80), 3), 10)
	})
	t.Run("a ping to the VIP still goes to the controller", func(t *testing.T) {
		wantController(t, sw.Lookup(t, ping(t), 3))
	})
	t.Run("a backend's TCP to a pool6 address is steered to port 10", func(t *testing.T) {
		wantPorts(t, sw.Lookup(t, backendSYNACK(t), 1), 10)
	})
	t.Run("Packet Too Big to a pool6 address is steered to port 10", func(t *testing.T) {
		wantPorts(t, sw.Lookup(t, packetTooBig(t), 1), 10)
	})
	t.Run("traffic coming back in from the engine port to a VIP or pool6 is dropped", func(t *testing.T) {
		for _, f := range [][]byte{syn(t, 80), ping(t), backendSYNACK(t)} {
			res := sw.Lookup(t, f, 10)
			if !res.Dropped() || !res.Last().Matched || res.Last().Cookie>>controller.CookieShift != splice46.CookieID {
				t.Errorf("want dropped by splice46's guard, got\n%s", res)
			}
		}
	})
}

func TestPortModeSelectGroup(t *testing.T) {
	sw := install(t, twoPorts, seedPorts())
	res := sw.Lookup(t, syn(t, 80), 3)
	wantPorts(t, res, 10, 11)
	if len(res.Groups) != 1 || res.Groups[0].Type != ofp.GroupTypeSelect ||
		res.Groups[0].GroupID>>controller.GroupIDShift != uint32(splice46.CookieID) {
		t.Fatalf("want one select group of splice46's, got %+v\n%s", res.Groups, res)
	}
	for _, o := range res.Outputs {
		if !o.Alternative {
			t.Errorf("output %d is not one choice of the select group", o.Port)
		}
	}

	// The switch picks one bucket per flow; whichever it is, the SYN
	// leaves by that one engine port only.
	p := sw.Pipeline()
	for _, want := range []uint32{10, 11} {
		p.Select = func(g ofp.GroupDesc, live []int) int {
			return slices.IndexFunc(g.Buckets, func(b ofp.Bucket) bool { return b.WatchPort == want })
		}
		wantPorts(t, p.Lookup(t, syn(t, 80), 3), want)
	}
}

// A select bucket whose engine port is down is skipped by the switch
// itself, before the controller hears of it.
func TestPortModeSelectSkipsDownPort(t *testing.T) {
	ports := seedPorts()
	for i := range ports {
		if ports[i].PortNo == 10 {
			ports[i].State = ofp.PortStateLinkDown
		}
	}
	sw := install(t, twoPorts, ports)
	wantPorts(t, sw.Lookup(t, syn(t, 80), 3), 11)
	wantPorts(t, sw.Lookup(t, backendSYNACK(t), 2), 11)
}
