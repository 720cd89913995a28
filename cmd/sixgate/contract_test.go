package main

import (
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/apps/dhcp4"
	appnat64 "github.com/sixgate/sixgate/apps/nat64"
	"github.com/sixgate/sixgate/apps/neighbor"
	"github.com/sixgate/sixgate/apps/siit"
	"github.com/sixgate/sixgate/apps/splice46"
	"github.com/sixgate/sixgate/apps/tablemiss"
	"github.com/sixgate/sixgate/controller"
	"github.com/sixgate/sixgate/controller/controllertest"
	"github.com/sixgate/sixgate/controller/ofp"
	"github.com/sixgate/sixgate/controller/ofptest"
	"github.com/sixgate/sixgate/topo"
)

// The priority contract between the apps: the apps the binary runs
// together (newApps) install their flows on one fake switch, and each
// kind of packet must land where the design says, by the flow of the app
// that owns it. The owner matters as much as the port: packet-ins are
// dispatched to apps by the top byte of the cookie.
//
// A new app (SIIT and NAT64 are coming) adds its rows here: the packets it
// must take, and those it must leave to the others.

// Addresses of topo/examples/seed.yaml: one switch, backends h1 and h2
// (IPv6 only) on ports 1 and 2, the client h3 (IPv4 only) on port 3.
var (
	h1MAC     = net.HardwareAddr{0, 0, 0x0a, 0, 0, 1}
	h2MAC     = net.HardwareAddr{0, 0, 0x0a, 0, 0, 2}
	h3MAC     = net.HardwareAddr{0, 0, 0x0a, 0, 0, 3}
	spliceMAC = net.HardwareAddr{0, 0, 0x0a, 0, 0, 0x42}
	broadcast = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
)

const (
	h1   = "2001:db8::1"
	h2   = "2001:db8::2"
	h3   = "10.0.0.3"
	vip  = "10.0.0.42"
	h3v6 = "2001:db8:ffff::a00:3" // h3 as the backends see it, in pool6
)

// enginePort is the engine's port in port mode.
const enginePort = 10

// landing is where a packet must end and which app's flow sends it
// there: out of ports, to the controller, or dropped.
type landing struct {
	app        uint8
	ports      []uint32
	controller bool
}

func controllerBy(app uint8) landing           { return landing{app: app, controller: true} }
func outBy(app uint8, ports ...uint32) landing { return landing{app: app, ports: ports} }
func droppedBy(app uint8) landing              { return landing{app: app} }
func (l landing) check(t *testing.T, res *ofptest.Result) {
	t.Helper()
	last := res.Last()
	owner := uint8(last.Cookie >> controller.CookieShift)
	switch {
	case !last.Matched:
		t.Errorf("no flow matched in table %d: want app %#x's\n%s", last.Table, l.app, res)
	case l.controller:
		if len(res.PacketIns) != 1 || len(res.Outputs) != 0 || uint8(res.PacketIns[0].Cookie>>controller.CookieShift) != l.app {
			t.Errorf("want the controller by app %#x's flow, got\n%s", l.app, res)
		}
	case len(l.ports) > 0:
		if !slices.Equal(res.OutputPorts(), l.ports) || res.ToController() || owner != l.app {
			t.Errorf("want out of ports %v by app %#x's flow, got\n%s", l.ports, l.app, res)
		}
	default:
		if !res.Dropped() || owner != l.app {
			t.Errorf("want dropped by app %#x's flow, got\n%s", l.app, res)
		}
	}
}

// contractRow is one kind of packet and where it lands.
type contractRow struct {
	name   string
	inPort uint32
	frame  []byte
	want   landing
}

// seedRows are the contract on the seed topology, in controller mode or
// in port mode (engine on port 10).
func seedRows(t *testing.T, portMode bool) []contractRow {
	const nb, sp = neighbor.CookieID, splice46.CookieID
	steered := controllerBy(sp)
	if portMode {
		steered = outBy(sp, enginePort)
	}
	return []contractRow{
		// Address resolution belongs to the neighbor app, for virtual
		// addresses (VIP, pool6) as for hosts.
		{"ARP for the VIP", 3, arpRequest(t, h3MAC, broadcast, h3, vip), controllerBy(nb)},
		{"ARP refresh to the VIP's MAC", 3, arpRequest(t, h3MAC, spliceMAC, h3, vip), controllerBy(nb)},
		{"NS for a pool6 address", 1, neighborSolicitation(t, h1MAC, solicitedNodeMAC(h3v6), h1, solicitedNode(h3v6), h3v6), controllerBy(nb)},
		{"NUD of a pool6 address to splice46's MAC", 1, neighborSolicitation(t, h1MAC, spliceMAC, h1, h3v6, h3v6), controllerBy(nb)},
		{"NS for a host", 1, neighborSolicitation(t, h1MAC, solicitedNodeMAC(h2), h1, solicitedNode(h2), h2), controllerBy(nb)},

		// What the engine splices belongs to splice46, whatever the MAC.
		{"TCP to the VIP's service", 3, tcp4(t, h3MAC, spliceMAC, h3, vip, 80), steered},
		{"TCP to the VIP's service, to a host's MAC", 3, tcp4(t, h3MAC, h1MAC, h3, vip, 443), steered},
		{"a backend's TCP to pool6", 1, tcp6(t, h1MAC, spliceMAC, h1, h3v6, 40000), steered},
		{"Packet Too Big to pool6", 2, packetTooBig(t, h2MAC, spliceMAC, h2, h3v6), steered},
		// The rest to the VIP is answered by splice46 on the controller
		// path in both modes.
		{"ICMP echo to the VIP", 3, ping4(t, h3MAC, spliceMAC, h3, vip), controllerBy(sp)},
		{"UDP to the VIP", 3, udp4(t, h3MAC, spliceMAC, h3, vip), controllerBy(sp)},
		{"TCP to a closed port of the VIP", 3, tcp4(t, h3MAC, spliceMAC, h3, vip, 22), controllerBy(sp)},

		// Host to host is the neighbor app's forwarding.
		{"IPv6 from h1 to h2", 1, tcp6(t, h1MAC, h2MAC, h1, h2, 80), outBy(nb, 2)},
		{"IPv4 from h3 to h1's MAC", 3, udp4(t, h3MAC, h1MAC, h3, "10.0.0.1"), outBy(nb, 1)},
		{"IPv6 from h1 to pool6 other than TCP", 1, udp6(t, h1MAC, spliceMAC, h1, h3v6), droppedBy(nb)},

		// Unknown traffic is dropped by the neighbor app's counted flows.
		{"IPv4 to splice46's MAC, not to the VIP", 3, udp4(t, h3MAC, spliceMAC, h3, "10.0.0.99"), droppedBy(nb)},
		{"unknown unicast", 3, udp4(t, h3MAC, net.HardwareAddr{0, 0, 0x0a, 0, 0, 0x99}, h3, "10.0.0.99"), droppedBy(nb)},
		{"IPv4 broadcast", 3, udp4(t, h3MAC, broadcast, "0.0.0.0", "255.255.255.255"), droppedBy(nb)},
	}
}

// ftpTail adds an FTP service on a VIP of its own to the seed.
const ftpTail = `    - {vip: "10.0.0.43", port: 21, alg: ftp, backends: [{address: "[2001:db8::1]:21"}]}
`

// ftpRows are the contract of an FTP service's VIP: all its TCP goes to
// the engine (the data connections come to lent ports, and the client
// answers an active-mode server at the server's port), its other traffic
// stays on the controller path, and the other VIP keeps its closed ports
// there.
func ftpRows(t *testing.T, portMode bool) []contractRow {
	const sp = splice46.CookieID
	steered := controllerBy(sp)
	if portMode {
		steered = outBy(sp, enginePort)
	}
	return []contractRow{
		{"TCP to the FTP service", 3, tcp4(t, h3MAC, spliceMAC, h3, "10.0.0.43", 21), steered},
		{"TCP to a passive port of the FTP VIP", 3, tcp4(t, h3MAC, spliceMAC, h3, "10.0.0.43", 50123), steered},
		{"TCP to port 20 of the FTP VIP", 3, tcp4(t, h3MAC, spliceMAC, h3, "10.0.0.43", 20), steered},
		{"ICMP echo to the FTP VIP", 3, ping4(t, h3MAC, spliceMAC, h3, "10.0.0.43"), controllerBy(sp)},
		{"TCP to a closed port of the other VIP", 3, tcp4(t, h3MAC, spliceMAC, h3, vip, 22), controllerBy(sp)},
	}
}

// enginePortRows are the port-mode rows for what comes in from the
// engine's port: its output is forwarded like any host's, and what would
// loop back to it is dropped.
func enginePortRows(t *testing.T) []contractRow {
	const nb, sp = neighbor.CookieID, splice46.CookieID
	return []contractRow{
		{"the engine's SYN-ACK to the client", enginePort, tcp4(t, spliceMAC, h3MAC, vip, h3, 40000), outBy(nb, 3)},
		{"the engine's SYN to a backend", enginePort, tcp6(t, spliceMAC, h1MAC, h3v6, h1, 80), outBy(nb, 1)},
		{"TCP to the VIP from the engine port", enginePort, tcp4(t, h3MAC, spliceMAC, h3, vip, 80), droppedBy(sp)},
		{"TCP to pool6 from the engine port", enginePort, tcp6(t, h1MAC, spliceMAC, h1, h3v6, 40000), droppedBy(sp)},
	}
}

// hostlessRows are the contract without hosts, where the binary runs the
// table-miss app instead of the neighbor app: splice46 keeps its traffic
// and everything else reaches the controller by the table-miss flow.
func hostlessRows(t *testing.T) []contractRow {
	const tm, sp = tablemiss.CookieID, splice46.CookieID
	return []contractRow{
		{"TCP to the VIP's service", 3, tcp4(t, h3MAC, spliceMAC, h3, vip, 80), controllerBy(sp)},
		{"ICMP echo to the VIP", 3, ping4(t, h3MAC, spliceMAC, h3, vip), controllerBy(sp)},
		{"a backend's TCP to pool6", 1, tcp6(t, h1MAC, spliceMAC, h1, h3v6, 40000), controllerBy(sp)},
		{"ARP for the VIP", 3, arpRequest(t, h3MAC, broadcast, h3, vip), controllerBy(tm)},
		{"unknown unicast", 3, udp4(t, h3MAC, net.HardwareAddr{0, 0, 0x0a, 0, 0, 0x99}, h3, "10.0.0.99"), controllerBy(tm)},
	}
}

func TestAppsPriorityContract(t *testing.T) {
	for _, c := range []struct {
		name string
		top  *topo.Topology
		rows func(*testing.T) []contractRow
	}{
		{"seed, controller mode", seed(t, ""), func(t *testing.T) []contractRow { return seedRows(t, false) }},
		{"seed, port mode", seed(t, "  mode: port\n  ports: [{interface: eng0, switch: s1, port: 10}]\n"),
			func(t *testing.T) []contractRow { return append(seedRows(t, true), enginePortRows(t)...) }},
		{"seed without hosts", withoutHosts(t), hostlessRows},
		{"seed with FTP, controller mode", seed(t, ftpTail), func(t *testing.T) []contractRow { return ftpRows(t, false) }},
		{"seed with FTP, port mode", seed(t, ftpTail+"  mode: port\n  ports: [{interface: eng0, switch: s1, port: 10}]\n"),
			func(t *testing.T) []contractRow { return ftpRows(t, true) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			sw := installApps(t, c.top)
			for _, r := range c.rows(t) {
				t.Run(r.name, func(t *testing.T) { r.want.check(t, sw.Lookup(t, r.frame, r.inPort)) })
			}
		})
	}
}

// siitSource is a fabric with the translator: h6 (IPv6-only, port 1,
// 203.0.113.6 through its EAM entry), h4 (IPv4-only, port 2, 192.0.2.44
// also reached as 2001:db8:6::44), legacy (IPv4-only in the CLAT role as
// 2001:db8:6::c1a7, port 3), r (the IPv6 gateway, port 4).
const siitSource = `
switches: [{name: s1, dpid: "0x1"}]
hosts:
  - {name: h6, switch: s1, port: 1, mac: "00:00:0b:00:00:06", ipv6: ["2001:db8:6::6"]}
  - {name: h4, switch: s1, port: 2, mac: "00:00:0b:00:00:04", ipv4: ["192.0.2.4", "192.0.2.44"]}
  - {name: legacy, switch: s1, port: 3, mac: "00:00:0b:00:00:30", ipv4: ["192.0.2.30"]}
  - {name: r, switch: s1, port: 4, mac: "00:00:0b:00:00:64", ipv6: ["2001:db8:6::64"]}
siit:
  mac: "00:00:0b:00:00:99"
  pool6: "64:ff9b:1::/96"
  eam:
    - {ipv4: "203.0.113.6", ipv6: "2001:db8:6::6"}
    - {ipv4: "192.0.2.44", ipv6: "2001:db8:6::44"}
  ipv4: {address: "192.0.2.1/24"}
  ipv6: {address: "2001:db8:6::1/64", gateway: "2001:db8:6::64"}
  clat: [{host: legacy, ipv6: "2001:db8:6::c1a7"}]
  clat_pref64: "2001:db8:64::/96"
`

var (
	xh6MAC   = net.HardwareAddr{0, 0, 0x0b, 0, 0, 6}
	xh4MAC   = net.HardwareAddr{0, 0, 0x0b, 0, 0, 4}
	xlegMAC  = net.HardwareAddr{0, 0, 0x0b, 0, 0, 0x30}
	xrMAC    = net.HardwareAddr{0, 0, 0x0b, 0, 0, 0x64}
	siitMAC  = net.HardwareAddr{0, 0, 0x0b, 0, 0, 0x99}
	xh4Pool6 = "64:ff9b:1::c000:204"
)

// siitRows are the translator's contract: what hosts send to its MAC for
// the addresses it stands for is steered to it (by the controller or to
// the engine port); the neighbor app answers for those addresses and
// forwards everything else as before.
func siitRows(t *testing.T, portMode bool) []contractRow {
	const nb, x = neighbor.CookieID, siit.CookieID
	steered := controllerBy(x)
	if portMode {
		steered = outBy(x, enginePort)
	}
	return []contractRow{
		{"ARP for the translator's address", 2, arpRequest(t, xh4MAC, broadcast, "192.0.2.4", "192.0.2.1"), controllerBy(nb)},
		{"NS for the translator's address", 1, neighborSolicitation(t, xh6MAC, solicitedNodeMAC("2001:db8:6::1"), "2001:db8:6::6", solicitedNode("2001:db8:6::1"), "2001:db8:6::1"), controllerBy(nb)},
		{"NS for an EAM address", 1, neighborSolicitation(t, xh6MAC, solicitedNodeMAC("2001:db8:6::44"), "2001:db8:6::6", solicitedNode("2001:db8:6::44"), "2001:db8:6::44"), controllerBy(nb)},
		{"NS for a CLAT address", 4, neighborSolicitation(t, xrMAC, solicitedNodeMAC("2001:db8:6::c1a7"), "2001:db8:6::64", solicitedNode("2001:db8:6::c1a7"), "2001:db8:6::c1a7"), controllerBy(nb)},

		{"IPv6 to pool6", 1, tcp6(t, xh6MAC, siitMAC, "2001:db8:6::6", xh4Pool6, 80), steered},
		{"IPv6 to an EAM address", 1, udp6(t, xh6MAC, siitMAC, "2001:db8:6::6", "2001:db8:6::44"), steered},
		{"IPv4 to an EAM address", 2, udp4(t, xh4MAC, siitMAC, "192.0.2.4", "203.0.113.6"), steered},
		{"ICMP echo to an EAM address", 2, ping4(t, xh4MAC, siitMAC, "192.0.2.4", "203.0.113.6"), steered},
		{"the CLAT host's IPv4 to anywhere", 3, udp4(t, xlegMAC, siitMAC, "192.0.2.30", "198.51.100.80"), steered},
		{"the NAT64's answer to the CLAT address", 4, tcp6(t, xrMAC, siitMAC, "2001:db8:64::c633:6450", "2001:db8:6::c1a7", 40000), steered},

		{"IPv4 to the translator's MAC for nothing it stands for", 2, udp4(t, xh4MAC, siitMAC, "192.0.2.4", "198.51.100.80"), droppedBy(nb)},
		{"IPv6 to an EAM address sent to the host's own MAC", 2, udp6(t, xh4MAC, xh6MAC, "2001:db8:6::99", "2001:db8:6::6"), outBy(nb, 1)},
		{"IPv4 between hosts", 3, udp4(t, xlegMAC, xh4MAC, "192.0.2.30", "192.0.2.4"), outBy(nb, 2)},
	}
}

// siitEngineRows: the engine's output leaves by the neighbor app's
// forwarding; what comes back in to the translator's MAC is dropped.
func siitEngineRows(t *testing.T) []contractRow {
	const nb, x = neighbor.CookieID, siit.CookieID
	return []contractRow{
		{"the translated packet to h6", enginePort, tcp6(t, siitMAC, xh6MAC, xh4Pool6, "2001:db8:6::6", 40000), outBy(nb, 1)},
		{"the translated packet to h4", enginePort, udp4(t, siitMAC, xh4MAC, "203.0.113.6", "192.0.2.4"), outBy(nb, 2)},
		{"the CLAT host's packet to the gateway", enginePort, udp6(t, siitMAC, xrMAC, "2001:db8:6::c1a7", "2001:db8:64::c633:6450"), outBy(nb, 4)},
		{"to the translator's MAC from the engine port", enginePort, udp6(t, xh6MAC, siitMAC, "2001:db8:6::6", xh4Pool6), droppedBy(x)},
	}
}

func TestSIITPriorityContract(t *testing.T) {
	for _, c := range []struct {
		name string
		tail string
		rows func(*testing.T) []contractRow
	}{
		{"controller mode", "", func(t *testing.T) []contractRow { return siitRows(t, false) }},
		{"port mode", "  mode: port\n  ports: [{interface: eng0, switch: s1, port: 10}]\n",
			func(t *testing.T) []contractRow { return append(siitRows(t, true), siitEngineRows(t)...) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			sw := installApps(t, parseSeed(t, siitSource+c.tail))
			for _, r := range c.rows(t) {
				t.Run(r.name, func(t *testing.T) { r.want.check(t, sw.Lookup(t, r.frame, r.inPort)) })
			}
		})
	}
}

// dhcp4Tail adds a gateway and the DHCPv4 server to the seed example.
const dhcp4Tail = `
gateways:
  - {name: gw, mac: "00:00:0a:00:00:fe", ipv4: ["10.0.0.254/24"]}
dhcp4:
  lease_file: /nonexistent/dhcp4.leases
  subnets:
    - {prefix: "10.0.0.0/24", pool: "10.0.0.100-10.0.0.199", router: "10.0.0.254"}
`

var gwMAC = net.HardwareAddr{0, 0, 0x0a, 0, 0, 0xfe}

// dhcpRequest is a client's DHCP message: UDP 68 to 67.
func dhcpRequest(t *testing.T, from, to net.HardwareAddr, src, dst string) []byte {
	ip := ipv4(src, dst, layers.IPProtocolUDP)
	udp := &layers.UDP{SrcPort: 68, DstPort: 67}
	udp.SetNetworkLayerForChecksum(ip)
	return build(t, eth(from, to, layers.EthernetTypeIPv4), ip, udp, gopacket.Payload(make([]byte, 300)))
}

// The DHCPv4 server takes what clients send to port 67, broadcast or to
// the gateway's MAC, on the seed fabric (splice46 included); the rest
// stays where it was.
func TestDHCP4PriorityContract(t *testing.T) {
	const nb, sp, d = neighbor.CookieID, splice46.CookieID, dhcp4.CookieID
	sw := installApps(t, seed(t, dhcp4Tail))
	for _, r := range []contractRow{
		{"DISCOVER, broadcast", 3, dhcpRequest(t, h3MAC, broadcast, "0.0.0.0", "255.255.255.255"), controllerBy(d)},
		{"REQUEST while rebinding, broadcast", 1, dhcpRequest(t, h1MAC, broadcast, "10.0.0.100", "255.255.255.255"), controllerBy(d)},
		{"REQUEST while renewing, to the gateway", 3, dhcpRequest(t, h3MAC, gwMAC, "10.0.0.3", "10.0.0.254"), controllerBy(d)},
		{"UDP between hosts", 3, udp4(t, h3MAC, h1MAC, "10.0.0.3", "10.0.0.1"), outBy(nb, 1)},
		{"other UDP broadcast", 3, udp4(t, h3MAC, broadcast, "0.0.0.0", "255.255.255.255"), droppedBy(nb)},
		{"ARP for the gateway", 3, arpRequest(t, h3MAC, broadcast, h3, "10.0.0.254"), controllerBy(nb)},
		{"TCP to the VIP's service", 3, tcp4(t, h3MAC, spliceMAC, h3, vip, 80), controllerBy(sp)},
	} {
		t.Run(r.name, func(t *testing.T) { r.want.check(t, sw.Lookup(t, r.frame, r.inPort)) })
	}
}

// fabricSIITSection adds the translator in port mode to the fabric example's
// ring, its engine on s2's port 10.
const fabricSIITSection = `
siit:
  mac: "00:00:0a:00:00:99"
  mode: port
  ports: [{interface: eng0, switch: s2, port: 10}]
  pool6: "64:ff9b:1::/96"
  eam: [{ipv4: "198.51.100.0/24", ipv6: "2001:db8::c600/120"}]
  ipv4: {address: "10.0.0.250/24"}
  ipv6: {address: "2001:db8::250/64"}
`

// Across the ring, every switch steers what is sent to the translator's
// MAC towards the engine's switch (s2), and the translated packets go home
// by the neighbor app's forwarding.
func TestSIITPriorityContractAcrossSwitches(t *testing.T) {
	const nb, x = neighbor.CookieID, siit.CookieID
	h5MAC := net.HardwareAddr{0, 0, 0x0a, 0, 0, 5}
	xMAC := net.HardwareAddr{0, 0, 0x0a, 0, 0, 0x99}
	top := parseSeed(t, fabricSource(t)+fabricSIITSection)
	sws := map[uint64]*ofptest.Switch{}
	for dpid := uint64(1); dpid <= 3; dpid++ {
		sws[dpid] = installAppsOn(t, top, dpid)
	}
	for _, h := range []hop{
		{1, contractRow{"h1 to pool6 leaves s1 towards s2", 1, udp6(t, h1MAC, xMAC, "2001:db8::1", "64:ff9b:1::c633:6407"), outBy(x, 3)}},
		{3, contractRow{"h5 to an EAM IPv4 address leaves s3 towards s2", 1, udp4(t, h5MAC, xMAC, "10.0.0.5", "198.51.100.7"), outBy(x, 4)}},
		{2, contractRow{"h1's packet enters s2 and goes to the engine", 4, udp6(t, h1MAC, xMAC, "2001:db8::1", "64:ff9b:1::c633:6407"), outBy(x, enginePort)}},
		{2, contractRow{"the translated packet to h5 leaves s2 towards s3", enginePort, udp6(t, xMAC, h5MAC, "2001:db8::c607", "2001:db8::5"), outBy(nb, 3)}},
		{3, contractRow{"the translated packet reaches h5", 4, udp6(t, xMAC, h5MAC, "2001:db8::c607", "2001:db8::5"), outBy(nb, 1)}},
		{2, contractRow{"to the translator's MAC from the engine port is dropped", enginePort, udp6(t, h1MAC, xMAC, "2001:db8::1", "64:ff9b:1::c633:6407"), droppedBy(x)}},
	} {
		t.Run(h.name, func(t *testing.T) { h.want.check(t, sws[h.dpid].Lookup(t, h.frame, h.inPort)) })
	}
}

// fabricSplice46 adds splice46 in port mode to the fabric example's ring,
// its engine on s2's port 10, the backend h3 on s2.
const fabricSplice46 = `
splice46:
  mac: "00:00:0a:00:00:42"
  pool6: "2001:db8:ffff::/96"
  mode: port
  ports: [{interface: eng0, switch: s2, port: 10}]
  services:
    - {vip: "10.0.0.42", port: 80, backends: [{address: "[2001:db8::3]:80"}]}
`

// hop is one switch's part of a packet's way across the fabric.
type hop struct {
	dpid uint64
	contractRow
}

// Across the fabric's ring (s1: h1 on 1, s2 on 3, s3 on 4; s2: h3 on 1,
// s3 on 3, s1 on 4, the engine on 10; s3: h5 on 1, s2 on 4, s1 on 3),
// every switch steers towards the engine's, and the engine's output goes
// home by the neighbor app's forwarding.
func TestAppsPriorityContractAcrossSwitches(t *testing.T) {
	const nb, sp = neighbor.CookieID, splice46.CookieID
	h5MAC := net.HardwareAddr{0, 0, 0x0a, 0, 0, 5}
	top := parseSeed(t, fabricSource(t)+fabricSplice46)
	sws := map[uint64]*ofptest.Switch{}
	for dpid := uint64(1); dpid <= 3; dpid++ {
		sws[dpid] = installAppsOn(t, top, dpid)
	}
	for _, h := range []hop{
		{1, contractRow{"h1's SYN to the VIP leaves s1 towards s2", 1, tcp4(t, h1MAC, spliceMAC, "10.0.0.1", vip, 80), outBy(sp, 3)}},
		{2, contractRow{"h1's SYN to the VIP enters s2 and goes to the engine", 4, tcp4(t, h1MAC, spliceMAC, "10.0.0.1", vip, 80), outBy(sp, enginePort)}},
		{3, contractRow{"h5's SYN to the VIP leaves s3 towards s2", 1, tcp4(t, h5MAC, spliceMAC, "10.0.0.5", vip, 80), outBy(sp, 4)}},
		{2, contractRow{"h5's SYN to the VIP enters s2 and goes to the engine", 3, tcp4(t, h5MAC, spliceMAC, "10.0.0.5", vip, 80), outBy(sp, enginePort)}},
		{2, contractRow{"the engine's SYN-ACK to h5 leaves s2 towards s3", enginePort, tcp4(t, spliceMAC, h5MAC, vip, "10.0.0.5", 40000), outBy(nb, 3)}},
		{3, contractRow{"the engine's SYN-ACK to h5 reaches h5", 4, tcp4(t, spliceMAC, h5MAC, vip, "10.0.0.5", 40000), outBy(nb, 1)}},
		{2, contractRow{"the engine's SYN to the backend h3", enginePort, tcp6(t, spliceMAC, h3MAC, "2001:db8:ffff::a00:5", "2001:db8::3", 80), outBy(nb, 1)}},
		{2, contractRow{"h3's answer to pool6 goes to the engine", 1, tcp6(t, h3MAC, spliceMAC, "2001:db8::3", "2001:db8:ffff::a00:5", 40000), outBy(sp, enginePort)}},
		{1, contractRow{"h1's TCP to pool6 leaves s1 towards s2", 1, tcp6(t, h1MAC, spliceMAC, h1, "2001:db8:ffff::a00:5", 40000), outBy(sp, 3)}},
		{1, contractRow{"a ping to the VIP on s1 goes to the controller", 1, ping4(t, h1MAC, spliceMAC, "10.0.0.1", vip), controllerBy(sp)}},
		{3, contractRow{"ARP for the VIP on s3 goes to the controller", 1, arpRequest(t, h5MAC, broadcast, "10.0.0.5", vip), controllerBy(nb)}},
		{2, contractRow{"TCP to the VIP from the engine port is dropped", enginePort, tcp4(t, h1MAC, spliceMAC, "10.0.0.1", vip, 80), droppedBy(sp)}},
	} {
		t.Run(h.name, func(t *testing.T) { h.want.check(t, sws[h.dpid].Lookup(t, h.frame, h.inPort)) })
	}
}

// declaredOnly stands for an app with only what it declares to switches:
// where packets land does not depend on the apps' side effects
// (announcements, the engine's ports), which a unit test cannot have.
type declaredOnly struct{ controller.App }

func (d declaredOnly) Flows(sw *controller.Switch) []controller.Flow {
	if fa, ok := d.App.(controller.FlowApp); ok {
		return fa.Flows(sw)
	}
	return nil
}

func (d declaredOnly) Groups(sw *controller.Switch) []controller.Group {
	if ga, ok := d.App.(controller.GroupApp); ok {
		return ga.Groups(sw)
	}
	return nil
}

// installApps puts the flows of the apps newApps chooses for top on a
// fake switch, through a controller.
func installApps(t *testing.T, top *topo.Topology) *ofptest.Switch {
	t.Helper()
	return installAppsOn(t, top, 1)
}

// installAppsOn does what installApps does for switch dpid.
func installAppsOn(t *testing.T, top *topo.Topology, dpid uint64) *ofptest.Switch {
	t.Helper()
	log := logrus.New()
	log.SetOutput(io.Discard)
	set, err := newApps(top, logrus.NewEntry(log))
	if err != nil {
		t.Fatal(err)
	}
	var apps []controller.App
	for _, a := range set.list {
		apps = append(apps, declaredOnly{a})
	}
	var ports []ofp.Port
	for _, no := range []uint32{1, 2, 3, 4, enginePort} {
		ports = append(ports, ofp.Port{PortNo: no})
	}
	sw := &ofptest.Switch{DPID: dpid, NTables: 254, Ports: ports}
	controllertest.StartWith(t, sw, apps...)
	return sw
}

func seedSource(t *testing.T) string { return example(t, "seed.yaml") }

func fabricSource(t *testing.T) string { return example(t, "fabric.yaml") }

func example(t *testing.T, name string) string {
	t.Helper()
	src, err := os.ReadFile("../../topo/examples/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(src)
}

// seed is the seed example with tail appended to its splice46 section.
func seed(t *testing.T, tail string) *topo.Topology {
	t.Helper()
	return parseSeed(t, seedSource(t)+tail)
}

// withoutHosts is the seed example with its hosts taken out.
func withoutHosts(t *testing.T) *topo.Topology {
	t.Helper()
	var kept []string
	for _, l := range strings.Split(seedSource(t), "\n") {
		if !strings.HasPrefix(l, "  - {name: h") {
			kept = append(kept, l)
		}
	}
	return parseSeed(t, strings.Replace(strings.Join(kept, "\n"), "\nhosts:\n", "\nhosts: []\n", 1))
}

func parseSeed(t *testing.T, src string) *topo.Topology {
	t.Helper()
	top, err := topo.Parse("seed.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return top
}

// Frames.

func build(t *testing.T, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func addr(s string) []byte { return netip.MustParseAddr(s).AsSlice() }

func eth(from, to net.HardwareAddr, typ layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: from, DstMAC: to, EthernetType: typ}
}

func ipv4(src, dst string, p layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, TTL: 64, Protocol: p, SrcIP: addr(src), DstIP: addr(dst)}
}

func ipv6(src, dst string, p layers.IPProtocol, hops uint8) *layers.IPv6 {
	return &layers.IPv6{Version: 6, HopLimit: hops, NextHeader: p, SrcIP: addr(src), DstIP: addr(dst)}
}

func tcp4(t *testing.T, from, to net.HardwareAddr, src, dst string, port uint16) []byte {
	ip := ipv4(src, dst, layers.IPProtocolTCP)
	tcp := &layers.TCP{SrcPort: 40000, DstPort: layers.TCPPort(port), SYN: true, Window: 64240}
	tcp.SetNetworkLayerForChecksum(ip)
	return build(t, eth(from, to, layers.EthernetTypeIPv4), ip, tcp)
}

func tcp6(t *testing.T, from, to net.HardwareAddr, src, dst string, port uint16) []byte {
	ip := ipv6(src, dst, layers.IPProtocolTCP, 64)
	tcp := &layers.TCP{SrcPort: 80, DstPort: layers.TCPPort(port), SYN: true, ACK: true, Window: 64240}
	tcp.SetNetworkLayerForChecksum(ip)
	return build(t, eth(from, to, layers.EthernetTypeIPv6), ip, tcp)
}

func udp4(t *testing.T, from, to net.HardwareAddr, src, dst string) []byte {
	ip := ipv4(src, dst, layers.IPProtocolUDP)
	udp := &layers.UDP{SrcPort: 5000, DstPort: 5001}
	udp.SetNetworkLayerForChecksum(ip)
	return build(t, eth(from, to, layers.EthernetTypeIPv4), ip, udp, gopacket.Payload("x"))
}

func udp6(t *testing.T, from, to net.HardwareAddr, src, dst string) []byte {
	ip := ipv6(src, dst, layers.IPProtocolUDP, 64)
	udp := &layers.UDP{SrcPort: 5000, DstPort: 5001}
	udp.SetNetworkLayerForChecksum(ip)
	return build(t, eth(from, to, layers.EthernetTypeIPv6), ip, udp, gopacket.Payload("x"))
}

func ping4(t *testing.T, from, to net.HardwareAddr, src, dst string) []byte {
	return build(t, eth(from, to, layers.EthernetTypeIPv4), ipv4(src, dst, layers.IPProtocolICMPv4),
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 1, Seq: 1})
}

func arpRequest(t *testing.T, from, to net.HardwareAddr, sender, target string) []byte {
	return build(t, eth(from, to, layers.EthernetTypeARP), &layers.ARP{AddrType: layers.LinkTypeEthernet,
		Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4, Operation: layers.ARPRequest,
		SourceHwAddress: from, SourceProtAddress: addr(sender), DstHwAddress: make([]byte, 6), DstProtAddress: addr(target)})
}

func icmp6(t *testing.T, from, to net.HardwareAddr, src, dst string, typ uint8, msg gopacket.SerializableLayer) []byte {
	ip := ipv6(src, dst, layers.IPProtocolICMPv6, 255)
	ic := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(typ, 0)}
	ic.SetNetworkLayerForChecksum(ip)
	return build(t, eth(from, to, layers.EthernetTypeIPv6), ip, ic, msg)
}

func neighborSolicitation(t *testing.T, from, to net.HardwareAddr, src, dst, target string) []byte {
	return icmp6(t, from, to, src, dst, layers.ICMPv6TypeNeighborSolicitation, &layers.ICMPv6NeighborSolicitation{
		TargetAddress: addr(target), Options: layers.ICMPv6Options{{Type: layers.ICMPv6OptSourceAddress, Data: from}}})
}

func packetTooBig(t *testing.T, from, to net.HardwareAddr, src, dst string) []byte {
	return icmp6(t, from, to, src, dst, layers.ICMPv6TypePacketTooBig, gopacket.Payload(make([]byte, 4+48)))
}

// solicitedNode is the solicited-node multicast address of a (RFC 4291).
func solicitedNode(a string) string {
	b := netip.MustParseAddr(a).As16()
	sn := [16]byte{0: 0xff, 1: 0x02, 11: 0x01, 12: 0xff, 13: b[13], 14: b[14], 15: b[15]}
	return netip.AddrFrom16(sn).String()
}

func solicitedNodeMAC(a string) net.HardwareAddr {
	b := netip.MustParseAddr(a).As16()
	return net.HardwareAddr{0x33, 0x33, 0xff, b[13], b[14], b[15]}
}

// nat64Source is a fabric with the NAT64: n6 (IPv6-only, port 1), gw
// (the IPv4 gateway toward the Internet, port 2).
const nat64Source = `
switches: [{name: s1, dpid: "0x1"}]
hosts:
  - {name: n6, switch: s1, port: 1, mac: "00:00:0c:00:00:06", ipv6: ["2001:db8:7::6"]}
  - {name: gw, switch: s1, port: 2, mac: "00:00:0c:00:00:05", ipv4: ["192.0.2.5"]}
nat64:
  mac: "00:00:0c:00:00:64"
  pool6: "64:ff9b::/96"
  pool4: [{address: "192.0.2.2", ports: "1-3000"}]
  ipv4: {address: "192.0.2.2/24", gateway: "192.0.2.5"}
  ipv6: {address: "2001:db8:7::1/64"}
`

var (
	n6MAC    = net.HardwareAddr{0, 0, 0x0c, 0, 0, 6}
	ngwMAC   = net.HardwareAddr{0, 0, 0x0c, 0, 0, 5}
	nat64MAC = net.HardwareAddr{0, 0, 0x0c, 0, 0, 0x64}
)

// nat64Rows are the NAT64's contract: what hosts send to its MAC for pool6
// and pool4 is steered to it; the neighbor app answers for its addresses.
func nat64Rows(t *testing.T, portMode bool) []contractRow {
	const nb, x = neighbor.CookieID, appnat64.CookieID
	steered := controllerBy(x)
	if portMode {
		steered = outBy(x, enginePort)
	}
	return []contractRow{
		{"ARP for the pool4 address", 2, arpRequest(t, ngwMAC, broadcast, "192.0.2.5", "192.0.2.2"), controllerBy(nb)},
		{"NS for the NAT64's address", 1, neighborSolicitation(t, n6MAC, solicitedNodeMAC("2001:db8:7::1"), "2001:db8:7::6", solicitedNode("2001:db8:7::1"), "2001:db8:7::1"), controllerBy(nb)},
		{"IPv6 to pool6", 1, tcp6(t, n6MAC, nat64MAC, "2001:db8:7::6", "64:ff9b::cb00:7109", 80), steered},
		{"IPv4 to pool4", 2, udp4(t, ngwMAC, nat64MAC, "203.0.113.9", "192.0.2.2"), steered},
		{"IPv4 to the NAT64's MAC for nothing it stands for", 2, udp4(t, ngwMAC, nat64MAC, "203.0.113.9", "192.0.2.77"), droppedBy(nb)},
	}
}

func TestNAT64PriorityContract(t *testing.T) {
	for _, c := range []struct {
		name string
		tail string
		rows func(*testing.T) []contractRow
	}{
		{"controller mode", "", func(t *testing.T) []contractRow { return nat64Rows(t, false) }},
		{"port mode", "  mode: port\n  ports: [{interface: eng0, switch: s1, port: 10}]\n",
			func(t *testing.T) []contractRow {
				const nb, x = neighbor.CookieID, appnat64.CookieID
				return append(nat64Rows(t, true),
					contractRow{"the translated packet to the gateway", enginePort, udp4(t, nat64MAC, ngwMAC, "192.0.2.2", "203.0.113.9"), outBy(nb, 2)},
					contractRow{"the translated packet to n6", enginePort, tcp6(t, nat64MAC, n6MAC, "64:ff9b::cb00:7109", "2001:db8:7::6", 40000), outBy(nb, 1)},
					contractRow{"to the NAT64's MAC from the engine port", enginePort, udp4(t, ngwMAC, nat64MAC, "203.0.113.9", "192.0.2.2"), droppedBy(x)})
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			sw := installApps(t, parseSeed(t, nat64Source+c.tail))
			for _, r := range c.rows(t) {
				t.Run(r.name, func(t *testing.T) { r.want.check(t, sw.Lookup(t, r.frame, r.inPort)) })
			}
		})
	}
}
