package siit

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/apps/neighbor"
	"github.com/sixgate/sixgate/controller"
	"github.com/sixgate/sixgate/packet"
	"github.com/sixgate/sixgate/topo"
)

const fabric = `
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

// registrar records what the app registers, as the neighbor app would
// take it.
type registrar struct{ prefixes map[string][]string }

func (r *registrar) RegisterSet(owner string, ps []netip.Prefix, mac net.HardwareAddr) error {
	if r.prefixes == nil {
		r.prefixes = map[string][]string{}
	}
	r.prefixes[owner] = nil
	for _, p := range ps {
		r.prefixes[owner] = append(r.prefixes[owner], p.String()+" "+mac.String())
	}
	return nil
}

func parse(t *testing.T, src string) *topo.Topology {
	t.Helper()
	top, err := topo.Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return top
}

func newApp(t *testing.T, src string) (*App, *registrar) {
	t.Helper()
	log := logrus.New()
	log.SetOutput(io.Discard)
	reg := &registrar{}
	a, err := New(parse(t, src), reg, logrus.NewEntry(log))
	if err != nil {
		t.Fatal(err)
	}
	return a, reg
}

// The neighbor app answers for the translator's own addresses and every
// address it stands for, with its MAC.
func TestRegistrations(t *testing.T) {
	_, reg := newApp(t, fabric)
	want := []string{"192.0.2.1/32", "2001:db8:6::1/128", "203.0.113.6/32", "192.0.2.44/32",
		"64:ff9b:1::/96", "2001:db8:6::6/128", "2001:db8:6::44/128", "2001:db8:6::c1a7/128"}
	var got []string
	for _, r := range reg.prefixes[owner] {
		p, mac, _ := strings.Cut(r, " ")
		if mac != "00:00:0b:00:00:99" {
			t.Errorf("%s registered with %s", p, mac)
		}
		got = append(got, p)
	}
	if !slices.Equal(got, want) {
		t.Errorf("registered %v, want %v", got, want)
	}
}

// The steering flows sit in the handoff table. The destination ones match
// no MAC, so that what a host sends to a gateway (its default route)
// reaches the translator too; the CLAT host's flow, by source, matches
// the translator's MAC and is above the rest.
func TestSteeringFlows(t *testing.T) {
	a, _ := newApp(t, fabric)
	flows := a.Flows(nil)
	if len(flows) != 7 {
		t.Fatalf("%d flows, want 7: %v", len(flows), flows)
	}
	cookies := map[uint64]bool{}
	for _, f := range flows {
		if f.Table != neighbor.HandoffTable {
			t.Errorf("flow %v in table %d", f.Match, f.Table)
		}
		clat := strings.Contains(f.Match.String(), "ipv4_src=192.0.2.30")
		if byMAC := strings.Contains(f.Match.String(), "eth_dst=00:00:0b:00:00:99"); byMAC != clat {
			t.Errorf("flow %v: matches the translator's MAC %v, want %v", f.Match, byMAC, clat)
		}
		if cookies[f.Cookie] {
			t.Errorf("cookie %#x twice", f.Cookie)
		}
		cookies[f.Cookie] = true
		if clat != (f.Priority == prioCLAT) {
			t.Errorf("flow %v at priority %d", f.Match, f.Priority)
		}
	}
}

// Adding an EAM entry keeps the cookies of the other flows, so that a
// reload re-sends only the new one.
func TestReloadKeepsFlows(t *testing.T) {
	a, reg := newApp(t, fabric)
	before := a.Flows(nil)
	b := packet.NewBatch(4, packet.DefaultBufSize)
	a.cur.Load().engine.Handle(ip6packet(t, "2001:db8:6::6", "64:ff9b:1::c000:204"), b)
	more := strings.Replace(fabric, "  eam:\n", "  eam:\n    - {ipv4: \"198.51.100.0/24\", ipv6: \"2001:db8:7::/120\"}\n", 1)
	if err := a.Reload(parse(t, more)); err != nil {
		t.Fatal(err)
	}
	after := a.Flows(nil)
	if len(after) != len(before)+2 {
		t.Fatalf("%d flows after adding an EAM entry, had %d", len(after), len(before))
	}
	for _, f := range before {
		if !slices.ContainsFunc(after, func(g controller.Flow) bool { return g.Cookie == f.Cookie && g.Match.String() == f.Match.String() }) {
			t.Errorf("flow %v (cookie %#x) changed", f.Match, f.Cookie)
		}
	}
	if n := len(reg.prefixes[owner]); n != 10 {
		t.Errorf("%d registrations after the reload, want 10", n)
	}
	if n := a.Stats()["siit"].Translated6to4; n != 1 {
		t.Errorf("%d packets translated 6 to 4 after the reload, want the one before it", n)
	}
	b.Reset()
	if a.cur.Load().engine.Handle(ip4packet(t, "198.51.100.7", "203.0.113.6"), b); b.Len() != 1 {
		t.Error("the new EAM entry does not translate")
	}
	port := strings.Replace(more, "  pool6:", "  mode: port\n  ports: [{interface: eng0, switch: s1, port: 10}]\n  pool6:", 1)
	if err := a.Reload(parse(t, port)); err == nil || !strings.Contains(err.Error(), "restart") {
		t.Errorf("a change of mode reloaded: %v", err)
	}
	if err := a.CheckReload(parse(t, port)); err == nil || !strings.Contains(err.Error(), ": siit.mode: changed from controller to port: restart sixgate") {
		t.Errorf("CheckReload of a change of mode: %v, want it refused naming siit.mode", err)
	}
	if err := a.CheckReload(parse(t, more)); err != nil {
		t.Errorf("CheckReload refused a file that keeps the mode: %v", err)
	}
}

func ip4packet(t *testing.T, src, dst string) []byte {
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP,
		SrcIP: netip.MustParseAddr(src).AsSlice(), DstIP: netip.MustParseAddr(dst).AsSlice()}
	udp := &layers.UDP{SrcPort: 5000, DstPort: 53}
	udp.SetNetworkLayerForChecksum(ip)
	return serialize(t, ip, udp, gopacket.Payload("hello"))
}

func ip6packet(t *testing.T, src, dst string) []byte {
	ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolUDP,
		SrcIP: netip.MustParseAddr(src).AsSlice(), DstIP: netip.MustParseAddr(dst).AsSlice()}
	udp := &layers.UDP{SrcPort: 53, DstPort: 5000}
	udp.SetNetworkLayerForChecksum(ip)
	return serialize(t, ip, udp, gopacket.Payload("hello"))
}

func serialize(t *testing.T, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// The CLAT host's traffic goes through the CLAT translator (its address
// one to one, the rest through clat_pref64), everything else through the
// section's.
func TestDispatch(t *testing.T) {
	a, _ := newApp(t, fabric)
	e := a.cur.Load().engine
	for _, tc := range []struct {
		name     string
		pkt      []byte
		src, dst string
	}{
		{"IPv6 host to pool6", ip6packet(t, "2001:db8:6::6", "64:ff9b:1::c000:204"), "203.0.113.6", "192.0.2.4"},
		{"IPv6 host to an EAM address", ip6packet(t, "2001:db8:6::6", "2001:db8:6::44"), "203.0.113.6", "192.0.2.44"},
		{"IPv4 host to an EAM address", ip4packet(t, "192.0.2.44", "203.0.113.6"), "2001:db8:6::44", "2001:db8:6::6"},
		{"CLAT host out", ip4packet(t, "192.0.2.30", "198.51.100.80"), "2001:db8:6::c1a7", "2001:db8:64::c633:6450"},
		{"CLAT host's answer", ip6packet(t, "2001:db8:64::c633:6450", "2001:db8:6::c1a7"), "198.51.100.80", "192.0.2.30"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := packet.NewBatch(4, packet.DefaultBufSize)
			if v := e.Handle(tc.pkt, b); v != packet.Consumed || b.Len() != 1 {
				t.Fatalf("verdict %v, %d packets", v, b.Len())
			}
			out := b.Packets[0]
			first := layers.LayerTypeIPv4
			if out.Family == packet.IPv6Family {
				first = layers.LayerTypeIPv6
			}
			p := gopacket.NewPacket(out.Data, first, gopacket.Default)
			var src, dst string
			switch ip := p.NetworkLayer().(type) {
			case *layers.IPv4:
				src, dst = ip.SrcIP.String(), ip.DstIP.String()
			case *layers.IPv6:
				src, dst = ip.SrcIP.String(), ip.DstIP.String()
			}
			if src != tc.src || dst != tc.dst || out.Dst.String() != tc.dst {
				t.Errorf("out %s -> %s (batch dst %v), want %s -> %s", src, dst, out.Dst, tc.src, tc.dst)
			}
		})
	}
}

func TestDispatchAllocatesNothing(t *testing.T) {
	a, _ := newApp(t, fabric)
	e := a.cur.Load().engine
	pkts := [][]byte{ip4packet(t, "192.0.2.30", "198.51.100.80"), ip6packet(t, "2001:db8:6::6", "64:ff9b:1::c000:204")}
	b := packet.NewBatch(4, packet.DefaultBufSize)
	for _, pkt := range pkts {
		if n := testing.AllocsPerRun(100, func() { b.Reset(); e.Handle(pkt, b) }); n != 0 {
			t.Errorf("%v allocations per packet", n)
		}
	}
}

// A large EAM table is steered by one flow per family, not one per entry.
func TestLargeEAMTable(t *testing.T) {
	var b strings.Builder
	b.WriteString("  eam:\n")
	for i := range 2000 {
		fmt.Fprintf(&b, "    - {ipv4: \"10.%d.%d.0/24\", ipv6: \"2001:db8:%x:%x::/120\"}\n", 10+i/256, i%256, 0x100+i/256, i%256)
	}
	src := strings.Replace(fabric, "  eam:\n", b.String(), 1)
	a, reg := newApp(t, src)
	flows := a.Flows(nil)
	var matches []string
	for _, f := range flows {
		matches = append(matches, f.Match.String())
	}
	// The CLAT host's flow, and one flow per family.
	if len(flows) != 3 {
		t.Fatalf("%d flows, want 3: %v", len(flows), matches)
	}
	if n := len(reg.prefixes[owner]); n < 4000 {
		t.Errorf("%d registrations, want every EAM prefix", n)
	}
	e := a.cur.Load().engine
	pkt := ip4packet(t, "10.10.5.7", "203.0.113.6")
	out := packet.NewBatch(4, packet.DefaultBufSize)
	if e.Handle(pkt, out); out.Len() != 1 {
		t.Error("an entry of the large table does not translate")
	}
}
