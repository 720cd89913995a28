package splice46

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/controller"
	"github.com/sixgate/sixgate/controller/ofp"
	"github.com/sixgate/sixgate/controller/ofptest"
	"github.com/sixgate/sixgate/datapath"
	"github.com/sixgate/sixgate/topo"
)

// twoSwitches has the engine ports on s2; h1 (a backend) and h3 (the
// client) are on s1, behind link s1:9 - s2:9.
const twoSwitches = `
switches: [{name: s1, dpid: "0x1"}, {name: s2, dpid: "0x2"}, {name: s3, dpid: "0x3"}]
links: [{a: "s1:9", b: "s2:9"}]
hosts:
  - {name: h1, switch: s1, port: 1, mac: "00:00:0a:00:00:01", ipv6: ["2001:db8::1"]}
  - {name: h3, switch: s1, port: 3, mac: "00:00:0a:00:00:03", ipv4: ["10.0.0.3"]}
splice46:
  mac: "00:00:0a:00:00:42"
  pool6: "2001:db8:ffff::/96"
  services:
    - {vip: "10.0.0.42", port: 80, backends: [{address: "[2001:db8::1]:80"}]}
`

func testApp(t *testing.T, tail string) *App {
	t.Helper()
	top, err := topo.Parse("t.yaml", []byte(twoSwitches+tail))
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(top, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// pipelineOf is switch dpid's table as the app declares it, cookies and
// group ids completed as the controller core completes them.
func pipelineOf(a *App, dpid uint64) *ofptest.Pipeline {
	p := &ofptest.Pipeline{Groups: map[uint32]ofp.GroupDesc{}}
	for _, f := range a.FlowsFor(dpid) {
		p.Flows = append(p.Flows, ofp.FlowStats{TableID: f.Table, Priority: f.Priority,
			Cookie: controller.AppCookie(CookieID, f.Cookie), Match: f.Match, Instructions: f.Instructions})
	}
	for _, g := range a.GroupsFor(dpid) {
		id := controller.AppGroupID(CookieID, g.ID)
		p.Groups[id] = ofp.GroupDesc{GroupID: id, GroupType: g.Type, Buckets: g.Buckets}
	}
	return p
}

// frame serializes an Ethernet frame from ls with lengths and checksums.
func frame(t *testing.T, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// landing says where a packet goes: "controller", "drop", or the output
// ports ("10", "10|11" for the choices of a select group).
func landing(t *testing.T, p *ofptest.Pipeline, f []byte, inPort uint32) string {
	t.Helper()
	r := p.Lookup(t, f, inPort)
	switch {
	case r.ToController():
		return "controller"
	case r.Dropped():
		return "drop"
	}
	var out []string
	for _, port := range r.OutputPorts() {
		out = append(out, itoa(port))
	}
	return strings.Join(out, "|")
}

func itoa(v uint32) string { return strconv.FormatUint(uint64(v), 10) }

// TestSteeringByMode looks up, on each switch of twoSwitches, where a
// client's SYN to the service, a backend's segment to pool6, a Packet Too
// Big to pool6 and a ping to the VIP go, and what an engine port sends
// back in towards a VIP.
func TestSteeringByMode(t *testing.T) {
	h3MAC, h1MAC := net.HardwareAddr{0, 0, 0x0a, 0, 0, 3}, net.HardwareAddr{0, 0, 0x0a, 0, 0, 1}
	v4 := func(proto layers.IPProtocol) *layers.IPv4 {
		return &layers.IPv4{Version: 4, TTL: 64, Protocol: proto, SrcIP: net.IP{10, 0, 0, 3}, DstIP: net.IP{10, 0, 0, 42}}
	}
	v6 := func(next layers.IPProtocol) *layers.IPv6 {
		return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: next, SrcIP: net.ParseIP("2001:db8::1"), DstIP: net.ParseIP("2001:db8:ffff::a00:3")}
	}
	eth4 := &layers.Ethernet{SrcMAC: h3MAC, DstMAC: spliceMAC, EthernetType: layers.EthernetTypeIPv4}
	eth6 := &layers.Ethernet{SrcMAC: h1MAC, DstMAC: spliceMAC, EthernetType: layers.EthernetTypeIPv6}
	syn := &layers.TCP{SrcPort: 40000, DstPort: 80, SYN: true}
	syn.SetNetworkLayerForChecksum(v4(layers.IPProtocolTCP))
	back := &layers.TCP{SrcPort: 80, DstPort: 40000, SYN: true, ACK: true}
	back.SetNetworkLayerForChecksum(v6(layers.IPProtocolTCP))
	ptb := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypePacketTooBig, 0)}
	ptb.SetNetworkLayerForChecksum(v6(layers.IPProtocolICMPv6))
	packets := []struct {
		name   string
		frame  []byte
		inPort uint32
	}{
		{"SYN to the service", frame(t, eth4, v4(layers.IPProtocolTCP), syn), 3},
		{"backend to pool6", frame(t, eth6, v6(layers.IPProtocolTCP), back), 1},
		{"Packet Too Big to pool6", frame(t, eth6, v6(layers.IPProtocolICMPv6), ptb, gopacket.Payload(make([]byte, 48))), 1},
	}
	ping := frame(t, eth4, v4(layers.IPProtocolICMPv4),
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0)})

	for _, tc := range []struct {
		name, tail string
		dpid       uint64
		want       string // where the three steered packets go
		guarded    []uint32
	}{
		{"controller mode", "", 1, "controller", nil},
		{"one port, its switch", "  mode: port\n  ports: [{interface: eng0, switch: s2, port: 10}]\n", 2, "10", []uint32{10}},
		{"one port, another switch", "  mode: port\n  ports: [{interface: eng0, switch: s2, port: 10}]\n", 1, "9", nil},
		{"cut off from the engine switch", "  mode: port\n  ports: [{interface: eng0, switch: s2, port: 10}]\n", 3, "controller", nil},
		{"two ports, their switch", "  mode: port\n  ports: [{interface: eng0, switch: s2, port: 10}, {interface: eng1, switch: s2, port: 11}]\n",
			2, "10|11", []uint32{10, 11}},
		{"two ports, another switch", "  mode: port\n  ports: [{interface: eng0, switch: s2, port: 10}, {interface: eng1, switch: s2, port: 11}]\n",
			1, "9", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := pipelineOf(testApp(t, tc.tail), tc.dpid)
			for _, pk := range packets {
				if got := landing(t, p, pk.frame, pk.inPort); got != tc.want {
					t.Errorf("%s goes to %s, want %s", pk.name, got, tc.want)
				}
			}
			// Pings and closed ports stay with the controller in every mode.
			if got := landing(t, p, ping, 3); got != "controller" {
				t.Errorf("ping to the VIP goes to %s, want the controller", got)
			}
			// What an engine port sends back in towards a VIP or pool6
			// is dropped, not steered out again.
			for _, port := range tc.guarded {
				for _, f := range [][]byte{packets[0].frame, packets[1].frame, ping} {
					if got := landing(t, p, f, port); got != "drop" {
						t.Errorf("from engine port %d: %s, want drop", port, got)
					}
				}
			}
		})
	}
}

func TestReloadRefusesNewPorts(t *testing.T) {
	port0 := "  mode: port\n  ports: [{interface: eng0, switch: s2, port: 10}]\n"
	a := testApp(t, port0)
	for _, tail := range []string{"  mode: port\n  ports: [{interface: eng1, switch: s2, port: 10}]\n", ""} {
		top, err := topo.Parse("t.yaml", []byte(twoSwitches+tail))
		if err != nil {
			t.Fatal(err)
		}
		if a.Reload(top) == nil {
			t.Errorf("a change of ports or mode was accepted on reload: %q", tail)
		}
	}
	top, err := topo.Parse("t.yaml", []byte(twoSwitches+port0))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Reload(top); err != nil {
		t.Errorf("same ports refused: %v", err)
	}
}

func quietLog() *logrus.Entry {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return logrus.NewEntry(l)
}

// TestServiceFlowsDoNotDependOnOrder: a service added in front leaves the
// other services' steering flows, cookies included, as they were, so a
// resync sends only the new one.
func TestServiceFlowsDoNotDependOnOrder(t *testing.T) {
	extra := `    - {vip: "10.0.0.43", port: 80, backends: [{address: "[2001:db8::1]:80"}]}` + "\n"
	before, err := topo.Parse("t.yaml", []byte(twoSwitches+extra))
	if err != nil {
		t.Fatal(err)
	}
	after, err := topo.Parse("t.yaml", []byte(strings.Replace(twoSwitches, "  services:\n",
		"  services:\n    - {vip: \"10.0.0.44\", port: 443, backends: [{address: \"[2001:db8::1]:443\"}]}\n", 1)+extra))
	if err != nil {
		t.Fatal(err)
	}
	key := func(s datapath.Steer) string { return fmt.Sprintf("%d %#x %v", s.Priority, s.Cookie, &s.Match) }
	had := map[string]bool{}
	for _, s := range steering(before.Splice46, nil) {
		had[key(s)] = true
	}
	added := 0
	for _, s := range steering(after.Splice46, nil) {
		if !had[key(s)] {
			added++
		}
	}
	// The new service's steering flow and its VIP's flow.
	if added != 2 {
		t.Errorf("%d steering entries differ after adding one service in front, want 2", added)
	}
}
