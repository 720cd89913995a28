package dhcp4

import (
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/topo"
)

// The fabric of these tests: h1 with a declared address, h2 and h3
// without (pool), all on s1; the gateway 192.0.2.1 is the router.
const testTopo = `
switches: [{name: s1, dpid: "0x1"}]
hosts:
  - {name: h1, switch: s1, port: 1, mac: "00:00:0c:00:00:01", ipv4: ["192.0.2.10/24"]}
  - {name: h2, switch: s1, port: 2, mac: "00:00:0c:00:00:02"}
  - {name: h3, switch: s1, port: 3, mac: "00:00:0c:00:00:03"}
gateways:
  - {name: gw, mac: "00:00:0c:00:00:fe", ipv4: ["192.0.2.1/24"]}
dhcp4:
  lease_file: LEASES
  PREF64
  subnets:
    - prefix: "192.0.2.0/24"
      pool: "192.0.2.100-192.0.2.102"
      router: "192.0.2.1"
      dns: ["192.0.2.53"]
      domain: example.net
      lease: 10m
      V6ONLY
`

var (
	h1MAC = mustMAC("00:00:0c:00:00:01")
	h2MAC = mustMAC("00:00:0c:00:00:02")
	h3MAC = mustMAC("00:00:0c:00:00:03")
	gwMAC = mustMAC("00:00:0c:00:00:fe")
)

func mustMAC(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

type fakeLeaser struct {
	mu sync.Mutex // for the apps whose Start runs; tests read m alone
	m  map[netip.Addr]net.HardwareAddr
}

func (f *fakeLeaser) SetLeases(owner string, m map[netip.Addr]net.HardwareAddr) {
	if owner != "dhcp4" {
		panic(owner)
	}
	f.mu.Lock()
	f.m = m
	f.mu.Unlock()
}

func (f *fakeLeaser) registered(addr string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.m[netip.MustParseAddr(addr)]
	return ok
}

type fixture struct {
	t      *testing.T
	app    *App
	leaser *fakeLeaser
	file   string
	now    time.Time
}

func loadTestTopo(t *testing.T, file string, pref64, v6only bool) *topo.Topology {
	t.Helper()
	src := strings.Replace(testTopo, "LEASES", file, 1)
	src = strings.Replace(src, "PREF64", map[bool]string{true: `pref64: "64:ff9b::/96"`, false: ""}[pref64], 1)
	src = strings.Replace(src, "V6ONLY", map[bool]string{true: "ipv6_only_preferred: 600s", false: ""}[v6only], 1)
	top, err := topo.Parse("dhcp4.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return top
}

func quiet() *logrus.Entry {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return logrus.NewEntry(l)
}

func newFixture(t *testing.T, pref64, v6only bool) *fixture {
	t.Helper()
	f := &fixture{t: t, leaser: &fakeLeaser{}, file: filepath.Join(t.TempDir(), "leases"), now: time.Unix(1_800_000_000, 0)}
	f.start(loadTestTopo(t, f.file, pref64, v6only))
	return f
}

// start makes a new app, as a restart would, on the same lease file.
func (f *fixture) start(top *topo.Topology) {
	f.t.Helper()
	a, err := New(top, f.leaser, quiet())
	if err != nil {
		f.t.Fatal(err)
	}
	a.srv.now = func() time.Time { return f.now }
	f.app = a
}

// send runs one client message through the app as a packet-in from port
// and returns the decoded reply (nil if none) and the verdict.
func (f *fixture) send(port uint32, m *dhcpv4.DHCPv4, dstMAC net.HardwareAddr, src, dst string) (*dhcpv4.DHCPv4, *layers.IPv4, *layers.Ethernet, verdict) {
	f.t.Helper()
	frame := clientFrame(f.t, m, dstMAC, src, dst)
	before := f.app.Stats()
	out := f.app.handle(frame, 1, port)
	v := outcome(f.t, before, f.app.Stats())
	if out == nil {
		return nil, nil, nil, v
	}
	pkt := gopacket.NewPacket(out, layers.LayerTypeEthernet, gopacket.Default)
	if el := pkt.ErrorLayer(); el != nil {
		f.t.Fatalf("reply does not decode: %v", el.Error())
	}
	ip := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	udp := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP)
	udp.SetNetworkLayerForChecksum(ip)
	if err, bad := pkt.VerifyChecksums(); err != nil || len(bad) > 0 {
		f.t.Fatalf("reply checksums: %v %v", err, bad)
	}
	if udp.SrcPort != 67 || udp.DstPort != 68 {
		f.t.Errorf("reply ports %d -> %d", udp.SrcPort, udp.DstPort)
	}
	r, err := dhcpv4.FromBytes(udp.Payload)
	if err != nil {
		f.t.Fatal(err)
	}
	if r.TransactionID != m.TransactionID || r.OpCode != dhcpv4.OpcodeBootReply {
		f.t.Errorf("reply xid %v op %v", r.TransactionID, r.OpCode)
	}
	return r, ip, pkt.Layer(layers.LayerTypeEthernet).(*layers.Ethernet), v
}

// outcome is the verdict whose counter went up between two snapshots.
func outcome(t *testing.T, before, after Stats) verdict {
	t.Helper()
	for v, name := range verdictNames {
		if after.Handled[name] == before.Handled[name]+1 {
			return verdict(v)
		}
	}
	t.Fatalf("no outcome counted: %v -> %v", before.Handled, after.Handled)
	return 0
}

func clientFrame(t testing.TB, m *dhcpv4.DHCPv4, dstMAC net.HardwareAddr, src, dst string) []byte {
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.ParseIP(src).To4(), DstIP: net.ParseIP(dst).To4()}
	udp := &layers.UDP{SrcPort: 68, DstPort: 67}
	udp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		&layers.Ethernet{SrcMAC: m.ClientHWAddr, DstMAC: dstMAC, EthernetType: layers.EthernetTypeIPv4}, ip, udp, gopacket.Payload(m.ToBytes()))
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var bcast = mustMAC("ff:ff:ff:ff:ff:ff")

func discover(t *testing.T, mac net.HardwareAddr, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	m, err := dhcpv4.NewDiscovery(mac, mods...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func clientMsg(t *testing.T, mac net.HardwareAddr, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	m, err := dhcpv4.New(append([]dhcpv4.Modifier{dhcpv4.WithHwAddr(mac), dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest)}, mods...)...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func withRequested(a string) dhcpv4.Modifier {
	return dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.ParseIP(a)))
}

func withServer(a string) dhcpv4.Modifier {
	return dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.ParseIP(a)))
}

func yi(r *dhcpv4.DHCPv4) string { return r.YourIPAddr.String() }

// obtain runs DISCOVER, OFFER, REQUEST, ACK and returns the address.
func (f *fixture) obtain(port uint32, mac net.HardwareAddr, mods ...dhcpv4.Modifier) string {
	f.t.Helper()
	offer, _, _, v := f.send(port, discover(f.t, mac, mods...), bcast, "0.0.0.0", "255.255.255.255")
	if v != replied || offer.MessageType() != dhcpv4.MessageTypeOffer {
		f.t.Fatalf("DISCOVER from %s: %v %v", mac, v, offer)
	}
	ack, _, _, v := f.send(port, clientMsg(f.t, mac, append(mods, withRequested(yi(offer)), withServer("192.0.2.1"))...), bcast, "0.0.0.0", "255.255.255.255")
	if v != replied || ack.MessageType() != dhcpv4.MessageTypeAck || yi(ack) != yi(offer) {
		f.t.Fatalf("REQUEST from %s: %v %v", mac, v, ack)
	}
	return yi(ack)
}

func TestStaticLease(t *testing.T) {
	f := newFixture(t, false, false)
	offer, ip, eth, v := f.send(1, discover(t, h1MAC), bcast, "0.0.0.0", "255.255.255.255")
	if v != replied || yi(offer) != "192.0.2.10" {
		t.Fatalf("offer %v %v", v, offer)
	}
	if eth.SrcMAC.String() != gwMAC.String() || ip.SrcIP.String() != "192.0.2.1" {
		t.Errorf("offer from %v %v", eth.SrcMAC, ip.SrcIP)
	}
	if got := offer.Router(); len(got) != 1 || got[0].String() != "192.0.2.1" {
		t.Errorf("router %v", got)
	}
	if got := offer.DNS(); len(got) != 1 || got[0].String() != "192.0.2.53" {
		t.Errorf("dns %v", got)
	}
	if offer.DomainName() != "example.net" || offer.IPAddressLeaseTime(0) != 10*time.Minute || net.IP(offer.SubnetMask()).String() != "255.255.255.0" {
		t.Errorf("domain %q lease %v mask %v", offer.DomainName(), offer.IPAddressLeaseTime(0), offer.SubnetMask())
	}
	if got := offer.ServerIdentifier(); got.String() != "192.0.2.1" {
		t.Errorf("server id %v", got)
	}
	if f.obtain(1, h1MAC) != "192.0.2.10" {
		t.Error("static lease not acknowledged")
	}
	if len(f.leaser.m) != 0 {
		t.Errorf("a static lease was registered: %v", f.leaser.m)
	}
	// INIT-REBOOT with another address: NAK, broadcast.
	nak, ip, eth, _ := f.send(1, clientMsg(t, h1MAC, withRequested("192.0.2.11")), bcast, "0.0.0.0", "255.255.255.255")
	if nak == nil || nak.MessageType() != dhcpv4.MessageTypeNak || ip.DstIP.String() != "255.255.255.255" || eth.DstMAC.String() != bcast.String() {
		t.Errorf("INIT-REBOOT with a wrong address: %v", nak)
	}
}

func TestDynamicLeaseStates(t *testing.T) {
	f := newFixture(t, false, false)
	a := f.obtain(2, h2MAC)
	if !strings.HasPrefix(a, "192.0.2.10") {
		t.Fatalf("pool address %s", a)
	}
	addr := netip.MustParseAddr(a)
	if f.leaser.m[addr].String() != h2MAC.String() {
		t.Fatalf("lease not registered: %v", f.leaser.m)
	}
	// RENEWING: unicast from the leased address, answered to it.
	ack, ip, eth, _ := f.send(2, clientMsg(t, h2MAC, dhcpv4.WithClientIP(net.ParseIP(a))), gwMAC, a, "192.0.2.1")
	if ack == nil || ack.MessageType() != dhcpv4.MessageTypeAck || ip.DstIP.String() != a || eth.DstMAC.String() != h2MAC.String() {
		t.Errorf("RENEWING: %v to %v", ack, ip)
	}
	// REBINDING: the same, broadcast.
	if ack, _, _, _ := f.send(2, clientMsg(t, h2MAC, dhcpv4.WithClientIP(net.ParseIP(a))), bcast, a, "255.255.255.255"); ack == nil || ack.MessageType() != dhcpv4.MessageTypeAck {
		t.Errorf("REBINDING: %v", ack)
	}
	// INIT-REBOOT with the right address: ACK; with another: NAK.
	if ack, _, _, _ := f.send(2, clientMsg(t, h2MAC, withRequested(a)), bcast, "0.0.0.0", "255.255.255.255"); ack == nil || ack.MessageType() != dhcpv4.MessageTypeAck {
		t.Errorf("INIT-REBOOT: %v", ack)
	}
	if nak, _, _, _ := f.send(2, clientMsg(t, h2MAC, withRequested("192.0.2.150")), bcast, "0.0.0.0", "255.255.255.255"); nak == nil || nak.MessageType() != dhcpv4.MessageTypeNak {
		t.Errorf("INIT-REBOOT, wrong address: %v", nak)
	}
	// INIT-REBOOT on the wrong network: NAK; without a record: silence.
	if nak, _, _, _ := f.send(3, clientMsg(t, h3MAC, withRequested("198.51.100.7")), bcast, "0.0.0.0", "255.255.255.255"); nak == nil || nak.MessageType() != dhcpv4.MessageTypeNak {
		t.Errorf("INIT-REBOOT, wrong network: %v", nak)
	}
	free := "192.0.2.100"
	if a == free {
		free = "192.0.2.101"
	}
	if r, _, _, v := f.send(3, clientMsg(t, h3MAC, withRequested(free)), bcast, "0.0.0.0", "255.255.255.255"); r != nil || v != silent {
		t.Errorf("INIT-REBOOT without a record: %v %v", r, v)
	}
	// SELECTING with an address not offered: NAK.
	if nak, _, _, _ := f.send(3, clientMsg(t, h3MAC, withRequested(a), withServer("192.0.2.1")), bcast, "0.0.0.0", "255.255.255.255"); nak == nil || nak.MessageType() != dhcpv4.MessageTypeNak {
		t.Errorf("SELECTING another's address: %v", nak)
	}
	// RENEWING someone else's address: NAK.
	if nak, _, _, _ := f.send(3, clientMsg(t, h3MAC, dhcpv4.WithClientIP(net.ParseIP(a))), gwMAC, a, "192.0.2.1"); nak == nil || nak.MessageType() != dhcpv4.MessageTypeNak {
		t.Errorf("RENEWING another's address: %v", nak)
	}
	// SELECTING another server: the offer is let go, nothing sent.
	offer, _, _, _ := f.send(3, discover(t, h3MAC), bcast, "0.0.0.0", "255.255.255.255")
	if r, _, _, v := f.send(3, clientMsg(t, h3MAC, withRequested(yi(offer)), withServer("192.0.2.2")), bcast, "0.0.0.0", "255.255.255.255"); r != nil || v != noReply {
		t.Errorf("another server chosen: %v %v", r, v)
	}
	// RELEASE: the lease and its registration go.
	rel := clientMsg(t, h2MAC, dhcpv4.WithMessageType(dhcpv4.MessageTypeRelease), dhcpv4.WithClientIP(net.ParseIP(a)), withServer("192.0.2.1"))
	if r, _, _, _ := f.send(2, rel, gwMAC, a, "192.0.2.1"); r != nil {
		t.Errorf("RELEASE answered: %v", r)
	}
	if len(f.leaser.m) != 0 || len(f.app.Leases()) != 0 {
		t.Errorf("after RELEASE: registered %v, leases %v", f.leaser.m, f.app.Leases())
	}
}

func TestDeclineQuarantines(t *testing.T) {
	f := newFixture(t, false, false)
	a := f.obtain(2, h2MAC)
	dec := clientMsg(t, h2MAC, dhcpv4.WithMessageType(dhcpv4.MessageTypeDecline), withRequested(a), withServer("192.0.2.1"))
	if r, _, _, _ := f.send(2, dec, bcast, "0.0.0.0", "255.255.255.255"); r != nil {
		t.Fatalf("DECLINE answered: %v", r)
	}
	if len(f.leaser.m) != 0 {
		t.Errorf("declined address still registered: %v", f.leaser.m)
	}
	for _, c := range []struct {
		port uint32
		mac  net.HardwareAddr
	}{{2, h2MAC}, {3, h3MAC}} {
		if b := f.obtain(c.port, c.mac, withRequested(a)); b == a {
			t.Errorf("%s got the declined address %s", c.mac, a)
		}
	}
	// After the hold, the address comes back.
	f.now = f.now.Add(topo.DefaultDHCP4DeclineHold + time.Second)
	f.app.mu.Lock()
	f.app.srv.table.expire(f.now)
	_, held := f.app.srv.table.declined[netip.MustParseAddr(a)]
	f.app.mu.Unlock()
	if held {
		t.Errorf("%s still quarantined after the hold", a)
	}
}

func TestInform(t *testing.T) {
	f := newFixture(t, false, false)
	m := clientMsg(t, h1MAC, dhcpv4.WithMessageType(dhcpv4.MessageTypeInform), dhcpv4.WithClientIP(net.ParseIP("192.0.2.10")))
	ack, ip, _, _ := f.send(1, m, gwMAC, "192.0.2.10", "192.0.2.1")
	if ack == nil || ack.MessageType() != dhcpv4.MessageTypeAck || !ack.YourIPAddr.IsUnspecified() || ack.Options.Has(dhcpv4.OptionIPAddressLeaseTime) || ip.DstIP.String() != "192.0.2.10" {
		t.Fatalf("INFORM: %v to %v", ack, ip)
	}
	if len(ack.DNS()) != 1 || ack.DomainName() != "example.net" {
		t.Errorf("INFORM options: %v", ack)
	}
}

// Dynamic leases are keyed by the client identifier when there is one.
func TestClientIdentifierKeys(t *testing.T) {
	f := newFixture(t, false, false)
	id := dhcpv4.WithOption(dhcpv4.OptClientIdentifier([]byte{0xff, 1, 2, 3, 4}))
	a := f.obtain(2, h2MAC, id)
	f.app.mu.Lock()
	_, byID := f.app.srv.table.byKey["id:ff01020304"]
	f.app.mu.Unlock()
	if !byID {
		t.Errorf("lease not keyed by client identifier")
	}
	if b := f.obtain(2, h2MAC, id); b != a {
		t.Errorf("same identifier, new address %s (had %s)", b, a)
	}
}

func TestNotServed(t *testing.T) {
	f := newFixture(t, false, false)
	stranger := mustMAC("00:00:0c:00:00:99")
	if r, _, _, v := f.send(2, discover(t, stranger), bcast, "0.0.0.0", "255.255.255.255"); r != nil || v != unknownHost {
		t.Errorf("a MAC not in the model: %v %v", r, v)
	}
	if r, _, _, v := f.send(3, discover(t, h2MAC), bcast, "0.0.0.0", "255.255.255.255"); r != nil || v != unknownHost {
		t.Errorf("a host's MAC on another host's port: %v %v", r, v)
	}
	relay := discover(t, h2MAC, dhcpv4.WithRelay(net.ParseIP("192.0.2.7")))
	if r, _, _, v := f.send(2, relay, bcast, "0.0.0.0", "255.255.255.255"); r != nil || v != relayed {
		t.Errorf("relayed: %v %v", r, v)
	}
}

func TestPoolExhausted(t *testing.T) {
	f := newFixture(t, false, false)
	f.obtain(2, h2MAC)
	f.obtain(3, h3MAC)
	// Quarantine the whole pool and forget the leases.
	f.app.mu.Lock()
	f.app.srv.table.declined[netip.MustParseAddr("192.0.2.100")] = f.now.Add(time.Hour)
	f.app.srv.table.declined[netip.MustParseAddr("192.0.2.101")] = f.now.Add(time.Hour)
	f.app.srv.table.declined[netip.MustParseAddr("192.0.2.102")] = f.now.Add(time.Hour)
	for _, l := range f.app.srv.table.byKey {
		f.app.srv.table.remove(l)
	}
	f.app.mu.Unlock()
	if r, _, _, v := f.send(3, discover(t, h3MAC), bcast, "0.0.0.0", "255.255.255.255"); r != nil || v != poolExhausted {
		t.Errorf("exhausted pool: %v %v", r, v)
	}
}

// Option 108 only to a client that asked, with the subnet's V6ONLY_WAIT,
// and only when the subnet sets it and a NAT64 prefix is known.
func TestOption108(t *testing.T) {
	asks := dhcpv4.WithRequestedOptions(dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter, dhcpv4.OptionIPv6OnlyPreferred)
	plain := dhcpv4.WithRequestedOptions(dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter)
	for _, c := range []struct {
		name           string
		pref64, v6only bool
		mod            dhcpv4.Modifier
		want           bool
	}{
		{"asked, configured", true, true, asks, true},
		{"not asked", true, true, plain, false},
		{"no NAT64 prefix", false, true, asks, false},
		{"subnet without ipv6_only_preferred", true, false, asks, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, c.pref64, c.v6only)
			offer, _, _, _ := f.send(2, discover(t, h2MAC, c.mod), bcast, "0.0.0.0", "255.255.255.255")
			wait, got := offer.IPv6OnlyPreferred()
			if got != c.want || (got && wait != 600*time.Second) {
				t.Errorf("OFFER: option 108 %v (%v), want %v", got, wait, c.want)
			}
			ack, _, _, _ := f.send(2, clientMsg(t, h2MAC, c.mod, withRequested(yi(offer)), withServer("192.0.2.1")), bcast, "0.0.0.0", "255.255.255.255")
			if _, got := ack.IPv6OnlyPreferred(); got != c.want {
				t.Errorf("ACK: option 108 %v, want %v", got, c.want)
			}
		})
	}
}

// A restart reads the leases back: the same client keeps its address and
// no one else gets it.
func TestLeasesSurviveRestart(t *testing.T) {
	f := newFixture(t, false, false)
	a := f.obtain(2, h2MAC)
	f.leaser.m = nil
	f.start(loadTestTopo(t, f.file, false, false))
	if f.leaser.m[netip.MustParseAddr(a)].String() != h2MAC.String() {
		t.Errorf("after restart, registered %v", f.leaser.m)
	}
	if b := f.obtain(3, h3MAC, withRequested(a)); b == a {
		t.Errorf("%s handed out twice", a)
	}
	if b := f.obtain(2, h2MAC); b != a {
		t.Errorf("after restart h2 got %s, had %s", b, a)
	}
	// The file is JSON, written whole.
	data, err := os.ReadFile(f.file)
	if err != nil || !strings.Contains(string(data), a) {
		t.Errorf("lease file %q %v", data, err)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(f.file), ".dhcp4-leases-*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// Bad lease files: refused whole when unreadable, record by record when
// a record does not fit the configuration.
func TestLeaseFileValidation(t *testing.T) {
	top := loadTestTopo(t, "x", false, false)
	now := time.Unix(1_800_000_000, 0)
	future := now.Add(time.Hour).UTC().Format(time.RFC3339)
	for _, bad := range []string{"", "{", `{"version": 2, "leases": []}`, `{"version": 1, "leases": [], "extra": 1}`, `[]`} {
		if _, _, err := parseTable([]byte(bad), top, now); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	src := `{"version": 1, "leases": [
	  {"key": "mac:00:00:0c:00:00:02", "mac": "00:00:0c:00:00:02", "addr": "192.0.2.100", "expires": "` + future + `"},
	  {"key": "mac:00:00:0c:00:00:03", "mac": "00:00:0c:00:00:03", "addr": "192.0.2.100", "expires": "` + future + `"},
	  {"key": "mac:00:00:0c:00:00:99", "mac": "00:00:0c:00:00:99", "addr": "192.0.2.101", "expires": "` + future + `"},
	  {"key": "mac:00:00:0c:00:00:03", "mac": "00:00:0c:00:00:03", "addr": "192.0.2.50", "expires": "` + future + `"},
	  {"key": "mac:00:00:0c:00:00:03", "mac": "00:00:0c:00:00:03", "addr": "192.0.2.102", "expires": "2020-01-01T00:00:00Z"},
	  {"key": "", "mac": "nope", "addr": "x", "expires": "` + future + `"}
	]}`
	tab, skipped, err := parseTable([]byte(src), top, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(tab.byKey) != 1 || skipped != 5 {
		t.Errorf("kept %d, skipped %d; want 1 and 5", len(tab.byKey), skipped)
	}
}

func TestMalformedCounted(t *testing.T) {
	f := newFixture(t, false, false)
	good := clientFrame(t, discover(t, h2MAC), bcast, "0.0.0.0", "255.255.255.255")
	for i, frame := range [][]byte{
		good[:20],
		good[:14+20+8+100], // DHCP message cut short
		func() []byte { b := slices.Clone(good); b[14+20+8] = 2; return b }(),       // a BOOTREPLY
		func() []byte { b := slices.Clone(good); b[len(b)-10] ^= 0xff; return b }(), // bad UDP checksum
	} {
		f.app.mu.Lock()
		out, _, v := f.app.srv.handle(frame, 1, 2)
		f.app.mu.Unlock()
		if out != nil || v != malformed {
			t.Errorf("frame %d: %v", i, v)
		}
	}
}

// The collector exports the counters under sixgate_dhcp4_* names that
// pass the Prometheus linter.
func TestMetrics(t *testing.T) {
	f := newFixture(t, true, true)
	f.obtain(2, h2MAC, dhcpv4.WithRequestedOptions(dhcpv4.OptionIPv6OnlyPreferred))
	f.send(2, discover(t, mustMAC("00:00:0c:00:00:99")), bcast, "0.0.0.0", "255.255.255.255")
	s := f.app.Stats()
	if s.Received["discover"] != 2 || s.Received["request"] != 1 || s.Handled["replied"] != 2 || s.Handled["unknown_host"] != 1 || s.Leases != 1 || s.Option108 != 2 {
		t.Errorf("stats %+v", s)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(f.app.Collectors()...)
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
	if got := testutil.ToFloat64(prometheus.CollectorFunc(func(ch chan<- prometheus.Metric) {
		ms := make(chan prometheus.Metric, 64)
		f.app.Collectors()[0].Collect(ms)
		close(ms)
		for m := range ms {
			if strings.Contains(m.Desc().String(), "sixgate_dhcp4_leases") {
				ch <- m
			}
		}
	})); got != 1 {
		t.Errorf("sixgate_dhcp4_leases %v", got)
	}
}
