package nat64

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

	"github.com/sixgate/sixgate/handover"
	"github.com/sixgate/sixgate/packet"
	"github.com/sixgate/sixgate/topo"
)

const fabric = `
switches: [{name: s1, dpid: "0x1"}]
hosts:
  - {name: a6, switch: s1, port: 1, mac: "00:00:0d:00:00:06", ipv6: ["2001:db8:7::6"]}
  - {name: gw, switch: s1, port: 2, mac: "00:00:0d:00:00:05", ipv4: ["100.64.0.5"]}
nat64:
  mac: "00:00:0d:00:00:64"
  pool6: "64:ff9b::/96"
  pool4:
    - {address: "100.64.0.2", ports: "1-3000"}
    - {address: "100.64.0.3", ports: "1-3000"}
  ipv4: {address: "100.64.0.2/24", gateway: "100.64.0.5"}
  ipv6: {address: "2001:db8:7::1/64"}
`

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

// The neighbor app answers for pool4, the NAT64's addresses and pool6.
func TestRegistrations(t *testing.T) {
	_, reg := newApp(t, fabric)
	got := reg.prefixes["nat64"]
	for _, w := range []string{"100.64.0.2/32", "100.64.0.3/32", "2001:db8:7::1/128", "64:ff9b::/96"} {
		if !slices.Contains(got, w+" 00:00:0d:00:00:64") {
			t.Errorf("%s not registered: %v", w, got)
		}
	}
}

// The engine's output goes to the gateway for the IPv4 Internet and to
// the host for IPv6; a reload keeps the sessions whose pool4 address
// remains, and drops the others.
func TestFramesAndReload(t *testing.T) {
	a, _ := newApp(t, fabric)
	send := func(src string, port uint16) []byte {
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolUDP,
			SrcIP: net.ParseIP(src), DstIP: net.ParseIP("64:ff9b::cb00:7109")}
		u := &layers.UDP{SrcPort: layers.UDPPort(port), DstPort: 5300}
		u.SetNetworkLayerForChecksum(ip)
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{0, 0, 0x0d, 0, 0, 6}, DstMAC: net.HardwareAddr{0, 0, 0x0d, 0, 0, 0x64}, EthernetType: layers.EthernetTypeIPv6}
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, u, gopacket.Payload("x")); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	fs := a.Process(send("2001:db8:7::6", 100))
	if len(fs) != 1 || fs[0].Port != 2 || !strings.HasPrefix(net.HardwareAddr(fs[0].Data[:6]).String(), "00:00:0d:00:00:05") {
		t.Fatalf("frames %+v, want one to the gateway on port 2", fs)
	}
	if ip := packet.IPv4(fs[0].Data[14:]); ip.SrcAddr().String() != "100.64.0.2" && ip.SrcAddr().String() != "100.64.0.3" {
		t.Fatalf("source %v not in pool4", ip.SrcAddr())
	}
	// Make sessions until both pool4 addresses have some.
	for p := uint16(101); p < 200; p++ {
		a.Process(send(fmt.Sprintf("2001:db8:7::%x", 0x100+p%20), p))
	}
	before := a.Engine().Sessions()
	kept := 0
	for _, s := range before {
		if s.IPv4Local.Addr().String() == "100.64.0.2" {
			kept++
		}
	}
	if kept == 0 || kept == len(before) {
		t.Fatalf("sessions on both addresses wanted, got %d of %d on 100.64.0.2", kept, len(before))
	}
	if err := a.Reload(parse(t, strings.Replace(fabric, `    - {address: "100.64.0.3", ports: "1-3000"}`+"\n", "", 1))); err != nil {
		t.Fatal(err)
	}
	if after := a.Engine().Sessions(); len(after) != kept {
		t.Fatalf("%d sessions after the reload, want the %d on 100.64.0.2", len(after), kept)
	}
}

// A hand-over moves the NAT64's sessions to the new process's app, which
// keeps its own configuration: those on a pool4 address it dropped are
// dropped, the others translate through the same pool4 address and port.
func TestHandoverSections(t *testing.T) {
	a, _ := newApp(t, fabric)
	for p := uint16(100); p < 200; p++ {
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolUDP,
			SrcIP: net.ParseIP(fmt.Sprintf("2001:db8:7::%x", 0x100+p%20)), DstIP: net.ParseIP("64:ff9b::cb00:7109")}
		u := &layers.UDP{SrcPort: layers.UDPPort(p), DstPort: 5300}
		u.SetNetworkLayerForChecksum(ip)
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{0, 0, 0x0d, 0, 0, 6}, DstMAC: net.HardwareAddr{0, 0, 0x0d, 0, 0, 0x64}, EthernetType: layers.EthernetTypeIPv6}
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, u, gopacket.Payload("x")); err != nil {
			t.Fatal(err)
		}
		a.Process(buf.Bytes())
	}
	a.Quiesce()
	secs, err := a.HandoverSections()
	if err != nil {
		t.Fatal(err)
	}
	if len(secs) != 1 || secs[0].Name != SectionEngine {
		t.Fatalf("sections %+v, want the engine's alone in controller mode", secs)
	}
	var want []string
	for _, s := range a.Engine().Sessions() {
		if s.IPv4Local.Addr().String() == "100.64.0.2" {
			want = append(want, s.IPv6Local.String()+" "+s.IPv4Local.String()+" "+s.IPv4Remote.String())
		}
	}
	n, _ := newApp(t, strings.Replace(fabric, `    - {address: "100.64.0.3", ports: "1-3000"}`+"\n", "", 1))
	if err := n.AdoptSections(map[string]handover.Section{SectionEngine: secs[0]}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range n.Engine().Sessions() {
		got = append(got, s.IPv6Local.String()+" "+s.IPv4Local.String()+" "+s.IPv4Remote.String())
	}
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Fatalf("sessions after the hand-over %q, want %q", got, want)
	}
	bad := handover.Section{Name: SectionEngine, Data: secs[0].Data[:10]}
	if err := newAppOnly(t).AdoptSections(map[string]handover.Section{SectionEngine: bad}); err == nil {
		t.Fatal("a truncated state adopted")
	}
}

func newAppOnly(t *testing.T) *App {
	a, _ := newApp(t, fabric)
	return a
}
