package neighbor

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/mdlayher/ndp"

	"github.com/sixgate/sixgate/packet"
	"github.com/sixgate/sixgate/topo"
)

// hostcfgTopo is one switch, one host and an advertising gateway with
// the given ra keys.
func hostcfgTopo(t *testing.T, ra string) *topo.Topology {
	t.Helper()
	src := `
switches: [{name: s1, dpid: "0x1"}]
hosts: [{name: h1, switch: s1, port: 1, mac: "00:00:0a:00:00:01", ipv6: ["2001:db8::1"]}]
gateways:
  - name: gw
    mac: "00:00:0a:00:00:fe"
    ipv6: ["2001:db8::fe/64"]
    router_advertisements: true
    ra: {` + ra + `}
`
	top, err := topo.Parse("hostcfg.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return top
}

// parseRA checks the frame's ICMPv6 checksum with the packet toolkit and
// decodes the RA with ndp.
func parseRA(t *testing.T, frame []byte) *ndp.RouterAdvertisement {
	t.Helper()
	decode(t, frame) // gopacket: layers and checksums
	ip := packet.IPv6(frame[packet.EthernetHeaderLen:])
	if !ip.IsValid() || !packet.ChecksumOK(ip.PseudoHeaderSum(packet.ProtoICMPv6, len(ip.Payload())), ip.Payload()) {
		t.Fatal("RA checksum wrong")
	}
	m, err := ndp.ParseMessage(ip.Payload())
	if err != nil {
		t.Fatal(err)
	}
	return m.(*ndp.RouterAdvertisement)
}

func options[T ndp.Option](ra *ndp.RouterAdvertisement) []T {
	var out []T
	for _, o := range ra.Options {
		if v, ok := o.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

func oneRA(t *testing.T, v *view) *ndp.RouterAdvertisement {
	t.Helper()
	frames := v.routerAdvertisements(allNodes(), multicastMAC(allNodes()))
	if len(frames) != 1 {
		t.Fatalf("%d RAs", len(frames))
	}
	return parseRA(t, frames[0])
}

// Every RFC 6052 length goes out with its prefix, and the lifetime is
// three intervals rounded up to 8-second units.
func TestRAPREF64EveryLength(t *testing.T) {
	for _, c := range []struct {
		prefix   string
		interval string
		lifetime time.Duration
	}{
		{"64:ff9b::/96", "600s", 1800 * time.Second},
		{"2001:db8:64::/64", "7s", 24 * time.Second}, // 21 s rounds up to 24
		{"2001:db8:64::/56", "4s", 16 * time.Second}, // 12 s rounds up to 16
		{"2001:db8:64::/48", "1800s", 5400 * time.Second},
		{"2001:db8:6400::/40", "10s", 32 * time.Second},
		{"2001:db8::/32", "9s", 32 * time.Second}, // 27 s rounds up to 32
	} {
		t.Run(c.prefix, func(t *testing.T) {
			top := hostcfgTopo(t, fmt.Sprintf("interval: %s, pref64: %q", c.interval, c.prefix))
			ra := oneRA(t, New(top, quietLog()).view.Load())
			got := options[*ndp.PREF64](ra)
			if len(got) != 1 || got[0].Prefix.String() != c.prefix || got[0].Lifetime != c.lifetime {
				t.Fatalf("PREF64 %+v, want %s lifetime %v", got, c.prefix, c.lifetime)
			}
			if got[0].Lifetime < 3*top.Gateways[0].RA.Interval {
				t.Errorf("lifetime %v below three intervals", got[0].Lifetime)
			}
		})
	}
}

func TestRANothingNAT64WithoutPrefix(t *testing.T) {
	ra := oneRA(t, New(hostcfgTopo(t, "interval: 10s"), quietLog()).view.Load())
	if p := options[*ndp.PREF64](ra); len(p) != 0 {
		t.Errorf("PREF64 without a NAT64 prefix: %+v", p)
	}
	if r := options[*ndp.RecursiveDNSServer](ra); len(r) != 0 {
		t.Errorf("RDNSS without servers: %+v", r)
	}
	if p := options[*ndp.PrefixInformation](ra); len(p) != 1 || p[0].Prefix.String() != "2001:db8::" || !p[0].OnLink || p[0].AutonomousAddressConfiguration {
		t.Errorf("prefix information %+v", p)
	}
}

func TestRARDNSSAndDNSSL(t *testing.T) {
	top := hostcfgTopo(t, `interval: 10s, rdnss: ["2001:db8::53", "2001:db8:1::53"], dnssl: ["example.net", "Lab.Example.ORG."]`)
	ra := oneRA(t, New(top, quietLog()).view.Load())
	r := options[*ndp.RecursiveDNSServer](ra)
	if len(r) != 1 || r[0].Lifetime != 30*time.Second || !slices.Equal(r[0].Servers, []netip.Addr{netip.MustParseAddr("2001:db8::53"), netip.MustParseAddr("2001:db8:1::53")}) {
		t.Errorf("RDNSS %+v", r)
	}
	d := options[*ndp.DNSSearchList](ra)
	if len(d) != 1 || d[0].Lifetime != 30*time.Second || !slices.Equal(d[0].DomainNames, []string{"example.net", "lab.example.org"}) {
		t.Errorf("DNSSL %+v", d)
	}
}

// The defaults come from the NAT64 prefix and the DNS64 addresses on the
// gateway's prefix; explicit keys and "off" win.
func TestRAHostConfigDefaults(t *testing.T) {
	src := topo.HostConfigSources{
		NAT64: netip.MustParsePrefix("64:ff9b::/96"),
		DNS64: []netip.Addr{netip.MustParseAddr("2001:db8::53"), netip.MustParseAddr("2001:db8:99::53"), netip.MustParseAddr("192.0.2.53")},
	}
	top := hostcfgTopo(t, "interval: 10s")
	topo.ResolveHostConfig(top, src)
	ra := top.Gateways[0].RA
	if ra.PREF64 != src.NAT64 || !slices.Equal(ra.RDNSS, src.DNS64[:1]) {
		t.Errorf("defaults: PREF64 %v RDNSS %v", ra.PREF64, ra.RDNSS)
	}
	top = hostcfgTopo(t, `interval: 10s, pref64: "off", rdnss: []`)
	topo.ResolveHostConfig(top, src)
	if ra := top.Gateways[0].RA; ra.PREF64.IsValid() || len(ra.RDNSS) != 0 {
		t.Errorf("off: PREF64 %v RDNSS %v", ra.PREF64, ra.RDNSS)
	}
}

// A reload that removes the prefix and a server advertises them with
// lifetime 0; what stays keeps its lifetime.
func TestRAWithdrawnByReload(t *testing.T) {
	a := New(hostcfgTopo(t, `interval: 10s, pref64: "64:ff9b::/96", rdnss: ["2001:db8::53", "2001:db8::54"], dnssl: [a.example]`), quietLog())
	if err := a.Reload(hostcfgTopo(t, `interval: 10s, rdnss: ["2001:db8::54"]`)); err != nil {
		t.Fatal(err)
	}
	ra := oneRA(t, a.view.Load())
	p := options[*ndp.PREF64](ra)
	if len(p) != 1 || p[0].Prefix.String() != "64:ff9b::/96" || p[0].Lifetime != 0 {
		t.Errorf("PREF64 after withdrawal %+v", p)
	}
	r := options[*ndp.RecursiveDNSServer](ra)
	var kept, gone bool
	for _, o := range r {
		kept = kept || (o.Lifetime == 30*time.Second && slices.Equal(o.Servers, []netip.Addr{netip.MustParseAddr("2001:db8::54")}))
		gone = gone || (o.Lifetime == 0 && slices.Equal(o.Servers, []netip.Addr{netip.MustParseAddr("2001:db8::53")}))
	}
	if !kept || !gone || len(r) != 2 {
		t.Errorf("RDNSS after withdrawal %+v", r)
	}
	if d := options[*ndp.DNSSearchList](ra); len(d) != 1 || d[0].Lifetime != 0 || d[0].DomainNames[0] != "a.example" {
		t.Errorf("DNSSL after withdrawal %+v", d)
	}
	// Advertised again: no longer withdrawn.
	if err := a.Reload(hostcfgTopo(t, `interval: 10s, pref64: "64:ff9b::/96"`)); err != nil {
		t.Fatal(err)
	}
	ra = oneRA(t, a.view.Load())
	if p := options[*ndp.PREF64](ra); len(p) != 1 || p[0].Lifetime == 0 {
		t.Errorf("PREF64 advertised again %+v", p)
	}
	// Withdrawals end when the old lifetime has passed.
	w := withdrawals(hostcfgTopo(t, `interval: 10s, pref64: "64:ff9b::/96"`), hostcfgTopo(t, `interval: 10s`), nil, time.Now())
	if got := w["gw"].live(time.Now().Add(33 * time.Second)); len(got.pref64) != 0 {
		t.Errorf("withdrawal still advertised after the lifetime: %+v", got)
	}
}

// A leased address is answered with its host's MAC, except to the host
// itself probing it (RFC 5227), and forgotten when the lease goes.
func TestLeasedAddresses(t *testing.T) {
	a := New(loadTopo(t, "fabric.yaml"), quietLog())
	leased := netip.MustParseAddr("10.0.0.150")
	a.SetLeases("dhcp4", map[netip.Addr]net.HardwareAddr{
		leased:                            mac(h3MAC),
		netip.MustParseAddr("10.0.0.1"):   mac(h3MAC),               // h1's in the model: h1 keeps it
		netip.MustParseAddr("10.0.0.151"): mac("00:00:0a:00:00:99"), // no host's MAC: ignored
	})
	v := a.view.Load()
	frames, _, vd := v.handle(arpRequest(t, mac(h1MAC), "10.0.0.1", "10.0.0.150"))
	pkt := decode(t, one(t, frames, vd))
	if got := net.HardwareAddr(pkt.Layer(layers.LayerTypeARP).(*layers.ARP).SourceHwAddress); got.String() != h3MAC {
		t.Errorf("leased address answered with %v", got)
	}
	if _, _, vd := v.handle(arpRequest(t, mac(h3MAC), "0.0.0.0", "10.0.0.150")); vd != selfQuery {
		t.Errorf("the host's own probe: %v", vd)
	}
	frames, _, vd = v.handle(arpRequest(t, mac(h3MAC), "10.0.0.3", "10.0.0.1"))
	if got := net.HardwareAddr(decode(t, one(t, frames, vd)).Layer(layers.LayerTypeARP).(*layers.ARP).SourceHwAddress); got.String() != h1MAC {
		t.Errorf("a model address taken by a lease: %v", got)
	}
	if _, _, vd := v.handle(arpRequest(t, mac(h1MAC), "10.0.0.1", "10.0.0.151")); vd != unknownTarget {
		t.Errorf("lease to no host: %v", vd)
	}
	// The engines' output finds the host by the same leases.
	if h, ok := a.LeaseHolder(leased); !ok || h.MAC.String() != h3MAC {
		t.Errorf("LeaseHolder(%v) = %v %v, want the host of %s", leased, h, ok, h3MAC)
	}
	if h, ok := a.LeaseHolder(netip.MustParseAddr("10.0.0.151")); ok {
		t.Errorf("LeaseHolder of a lease to no host = %v", h)
	}
	a.SetLeases("dhcp4", nil)
	if _, ok := a.LeaseHolder(leased); ok {
		t.Error("LeaseHolder after the lease went")
	}
	if _, _, vd := a.view.Load().handle(arpRequest(t, mac(h1MAC), "10.0.0.1", "10.0.0.150")); vd != unknownTarget {
		t.Errorf("after the lease went: %v", vd)
	}
}
