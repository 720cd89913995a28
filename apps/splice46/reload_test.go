package splice46

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/sixgate/sixgate/packet"
	"github.com/sixgate/sixgate/topo"
)

// synTo is a client SYN from h3 to the VIP's port.
func synTo(t *testing.T, sport, dport uint16) []byte {
	t.Helper()
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.IP{10, 0, 0, 3}, DstIP: net.IP{10, 0, 0, 42}}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), Seq: 1000, SYN: true, Window: 64240}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	return frame(t, ip, tcp)
}

// TestReloadKeepsEngine: whatever a reload changes in the splice46
// section (services, MAC, MTU, window scale, limits, timeouts, drain),
// the engine stays and so do its connections; the new limits and
// timeouts are the engine's at once.
func TestReloadKeepsEngine(t *testing.T) {
	a := testApp(t, "")
	e := a.Engine()
	out := packet.NewBatch(0, 0)
	if e.Handle(synTo(t, 40000, 80), out) != packet.Consumed || e.Len() != 1 {
		t.Fatalf("no connection from the SYN (%d in the table)", e.Len())
	}
	svc443 := `    - {vip: "10.0.0.42", port: 443, select: sni, backends: [{address: "[2001:db8::1]:443", match: [a.example]}]}` + "\n"
	for _, tail := range []string{
		svc443,
		strings.Replace(svc443, "a.example", "b.example", 1),
		"  mtu6: 1400\n",
		"  mtu6: 1400\n  window_scale: 0\n",
		"  window_scale: 9\n",
		"  limits: {max_connections: 1}\n",
		"  timeouts: {idle: 1h, drain: 30s}\n",
		"  limits: {max_connections: 100, max_embryonic: 10, syn_cookie_threshold: 5}\n  timeouts: {embryonic: 3s}\n",
	} {
		file := strings.Replace(twoSwitches+tail, `mac: "00:00:0a:00:00:42"`, `mac: "00:00:0a:00:00:43"`, len(tail)%2)
		top, err := topo.Parse("t.yaml", []byte(file))
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Reload(top); err != nil {
			t.Fatalf("reload refused: %v\n%s", err, tail)
		}
		if a.Engine() != e {
			t.Fatalf("a new engine after:\n%s", tail)
		}
		if e.Len() != 1 {
			t.Fatalf("%d connections after:\n%s", e.Len(), tail)
		}
	}
	st := e.Stats()
	if st.Limits.MaxConnections != 100 || st.Limits.MaxEmbryonic != 10 || st.Limits.SynCookieThreshold != 5 {
		t.Errorf("limits after the last reload: %+v", st.Limits)
	}
	if n := len(a.FlowsFor(1)); n == 0 {
		t.Error("no flows after the reloads")
	}
}

// TestReloadRefusesWhatNeedsARestart: a change of mode, engine ports or
// pool6 is refused naming the file, the key's line and the key, and the
// running section stays.
func TestReloadRefusesWhatNeedsARestart(t *testing.T) {
	a := testApp(t, "")
	before := a.topo.Load()
	for _, tc := range []struct{ from, to, key string }{
		{"  services:\n", "  mode: port\n  ports: [{interface: eng0, switch: s2, port: 10}]\n  services:\n", "splice46.mode"},
		{`pool6: "2001:db8:ffff::/96"`, `pool6: "2001:db8:fffe::/96"`, "splice46.pool6"},
	} {
		file := strings.Replace(twoSwitches, tc.from, tc.to, 1)
		top, err := topo.Parse("t.yaml", []byte(file))
		if err != nil {
			t.Fatal(err)
		}
		err = a.Reload(top)
		var te *topo.Error
		if !errors.As(err, &te) || te.Field != tc.key || te.Line == 0 || !strings.Contains(err.Error(), "restart sixgate") {
			t.Errorf("reload changing %s: %v, want a topo error on its line", tc.key, err)
			continue
		}
		if want := lineOf(file, lastKey(tc.key)); te.Line != want {
			t.Errorf("%s: line %d, want %d", err, te.Line, want)
		}
	}
	if a.topo.Load() != before {
		t.Error("a refused reload replaced the running section")
	}
}

func lastKey(path string) string { return path[strings.LastIndexByte(path, '.')+1:] }

// lineOf is the 1-based line of the first "key:" in file.
func lineOf(file, key string) int {
	for i, l := range strings.Split(file, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), key+":") {
			return i + 1
		}
	}
	return 0
}

// TestReloadDrainsRemovedService: a service removed by a reload keeps
// its steering flow while a connection to it drains, and loses it once
// the drain has reset the connection.
func TestReloadDrainsRemovedService(t *testing.T) {
	extra := `    - {vip: "10.0.0.42", port: 8080, backends: [{address: "[2001:db8::1]:8080"}]}` + "\n"
	a := testApp(t, extra+"  timeouts: {drain: 1ms}\n")
	e := a.Engine()
	if e.Handle(synTo(t, 40000, 8080), packet.NewBatch(0, 0)) != packet.Consumed || e.Len() != 1 {
		t.Fatal("no connection from the SYN")
	}
	top, err := topo.Parse("t.yaml", []byte(twoSwitches+"  timeouts: {drain: 1ms}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Reload(top); err != nil {
		t.Fatal(err)
	}
	steered := func() bool {
		cookie := serviceCookie(netip.MustParseAddrPort("10.0.0.42:8080"))
		for _, f := range a.FlowsFor(1) {
			if f.Cookie == cookie {
				return true
			}
		}
		return false
	}
	if !steered() {
		t.Fatal("the removed service's steering flow left while a connection drains")
	}
	if draining, _ := e.Drains(); draining != 1 {
		t.Fatalf("%d draining", draining)
	}
	time.Sleep(2 * time.Millisecond) // the drain timeout, on the engine's real clock
	out := packet.NewBatch(0, 0)
	e.Expire(out)
	if _, drained := e.Drains(); drained != 1 || e.Len() != 0 || out.Len() != 1 {
		t.Fatalf("drained %d, %d connections left, %d packets (want the client's reset)", drained, e.Len(), out.Len())
	}
	pkt := gopacket.NewPacket(out.Packets[0].Data, layers.LayerTypeIPv4, gopacket.Default)
	if tcp, ok := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP); !ok || !tcp.RST || tcp.DstPort != 40000 {
		t.Fatalf("drain sent %v, want a RST to the client", pkt)
	}
	a.refreshOrphans()
	if steered() {
		t.Error("the removed service's steering flow stayed after its drain")
	}
}
