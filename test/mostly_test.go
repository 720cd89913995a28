package test

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/ndp"
	"github.com/miekg/dns"

	"github.com/sixgate/sixgate/test/ovs"
)

// The IPv6-mostly scene (docs/ipv6-mostly.md) on one bridge, one sixgate
// daemon serving every piece of the hosts' configuration:
//
//	mostly   2001:db8:6::1, dhcpcd asking for option 108; default route,
//	         PREF64, RDNSS and DNSSL from the RA; sixgate clat at
//	         2001:db8:6::c1a7
//	legacy   busybox udhcpc: an IPv4-only host with no address in the
//	         model, leased one from the pool (198.51.100.100-199)
//	v4web    198.51.100.80, an IPv4-only web server, on the hosts' subnet
//	web1/2   2001:db8:6::a and ::b, IPv6-only web servers behind the VIP
//	         198.51.100.42:8080 (splice46, chosen by the Host header)
//	resolver 2001:db8:6::53, an Open vSwitch internal port: sixgate's DNS64,
//	         forwarding to an unbound on loopback that knows only the A
//	         record of v4only.mostly.test
//
// The root-namespace ends of the hosts' veth pairs answer ARP for the
// machine's own addresses, so the scene's IPv4 subnet must be none of
// the machine's (192.0.2.0/24 is one on some test machines).
//
// The NAT64's pool6 is a network-specific prefix, 2001:db8:64::/96: the
// fabric's IPv4 addresses are documentation addresses, which RFC 6052 3.1
// keeps out of the well-known prefix. PREF64, RDNSS, the DNS64 prefix and
// option 108 all follow from the nat64 and dns64 sections.
const (
	mostlyPool6    = "2001:db8:64::/96"
	mostlyV4Web    = "198.51.100.80"
	mostlyV4Web6   = "2001:db8:64::c633:6450" // v4web under pool6
	mostlyVIP      = "198.51.100.42"
	mostlyHostMAC  = "00:00:0f:00:00:01"
	mostlyHostAddr = "2001:db8:6::1"
	mostlyCLAT     = "2001:db8:6::c1a7"
	mostlyResolver = "2001:db8:6::53"
	mostlyNAT64    = "2001:db8:6::64" // the NAT64's IPv6 address
	mostlyPool4    = "198.51.100.2"   // the NAT64's IPv4 address, shared by the IPv6 hosts
	mostlyName     = "v4only.mostly.test"
)

const mostlyTopology = `controller:
  listen: "tcp:127.0.0.1:PORT"
  http: "127.0.0.1:HTTP"
subnets: ["198.51.100.0/24", "2001:db8:6::/64"]
switches: [{name: s1, dpid: "0x6"}]
hosts:
  - {name: mostly, switch: s1, port: 1, mac: "` + mostlyHostMAC + `", ipv6: ["` + mostlyHostAddr + `", "` + mostlyCLAT + `"]}
  - {name: legacy, switch: s1, port: 2, mac: "00:00:0f:00:00:02"}
  - {name: v4web, switch: s1, port: 3, mac: "00:00:0f:00:00:03", ipv4: ["` + mostlyV4Web + `"]}
  - {name: web1, switch: s1, port: 4, mac: "00:00:0f:00:00:04", ipv6: ["2001:db8:6::a"]}
  - {name: web2, switch: s1, port: 5, mac: "00:00:0f:00:00:05", ipv6: ["2001:db8:6::b"]}
  - {name: resolver, switch: s1, port: 6, mac: "00:00:0f:00:00:35", ipv6: ["` + mostlyResolver + `"]}
gateways:
  - name: gw
    mac: "00:00:0f:00:00:fe"
    ipv4: ["198.51.100.1"]
    ipv6: ["2001:db8:6::fe"]
    router_advertisements: true
    ra: {interval: 10s, dnssl: [mostly.test]}
dhcp4:
  lease_file: LEASES
  subnets:
    - prefix: "198.51.100.0/24"
      pool: "198.51.100.100-198.51.100.199"
      router: "198.51.100.1"
      lease: 10m
      ipv6_only_preferred: 300s
dns64:
  listen: ["[` + mostlyResolver + `]:53"]
  upstream: ["127.0.0.1:UPSTREAM"]
nat64:
  mac: "00:00:0f:00:00:64"
  pool6: "` + mostlyPool6 + `"
  pool4: [{address: "` + mostlyPool4 + `"}]
  ipv4: {address: "` + mostlyPool4 + `/24"}
  ipv6: {address: "` + mostlyNAT64 + `/64"}
splice46:
  mac: "00:00:0f:00:00:42"
  pool6: "2001:db8:ffff::/96"
  services:
    - vip: "` + mostlyVIP + `"
      port: 8080
      select: http-host
      backends:
        - {address: "[2001:db8:6::a]:8080", match: ["a.example"], default: true}
        - {address: "[2001:db8:6::b]:8080", match: ["b.example"]}
`

// sceneReport prints each step of the scene the way the demo shows it,
// "ok: what it proves" or "FAILED: what went wrong", and fails t on the
// latter.
type sceneReport struct{ t *testing.T }

func (r sceneReport) section(format string, a ...any) {
	fmt.Printf("\n== "+format+"\n", a...)
}

func (r sceneReport) ok(format string, a ...any) {
	fmt.Printf("   ok: "+format+"\n", a...)
}

func (r sceneReport) fail(format string, a ...any) {
	r.t.Helper()
	msg := fmt.Sprintf(format, a...)
	fmt.Printf("   FAILED: %s\n", msg)
	r.t.Error(msg)
}

// TestIPv6Mostly is the IPv6-mostly scene (make demo-mostly prints it):
// an option-108 host goes IPv6-only and reaches an IPv4-only server by
// name through DNS64 and NAT64 and by IPv4 literal through its CLAT, a
// legacy host keeps its lease and reaches the same server over IPv4, and
// an IPv4-only client reaches the IPv6-only web servers through the
// splice, all on one fabric.
func TestIPv6Mostly(t *testing.T) {
	ovs.Require(t)
	requireTools(t, "dhcpcd", "udhcpc", "unshare", "curl", "getent")
	unbound := requireUnbound(t)
	start := time.Now()
	r := sceneReport{t}
	bin := ovs.BuildSixgate(t)
	server := filepath.Join(t.TempDir(), "demoserver")
	if out, err := exec.Command("go", "build", "-o", server, "./demoserver").CombinedOutput(); err != nil {
		t.Fatalf("build demoserver: %v: %s", err, out)
	}

	r.section("The upstream resolver: unbound on loopback, knowing only the A record of %s", mostlyName)
	upstream := freeUDPPort(t)
	dir := t.TempDir()
	probe := new(dns.Msg)
	probe.SetQuestion(mostlyName+".", dns.TypeA)
	runUnbound(t, unbound, dir, upstream, unboundServer(dir, upstream)+"  module-config: \"iterator\"\n"+
		"  local-zone: \"mostly.test.\" static\n  local-data: \""+mostlyName+". 300 IN A "+mostlyV4Web+"\"\n",
		probe, func(in *dns.Msg) bool { return len(in.Answer) == 1 })
	r.ok("unbound answers %s A %s on 127.0.0.1:%d, and no AAAA", mostlyName, mostlyV4Web, upstream)

	port, httpPort := freePort(t), freePort(t)
	cfg := strings.NewReplacer("PORT", fmt.Sprint(port), "HTTP", fmt.Sprint(httpPort), "UPSTREAM", fmt.Sprint(upstream),
		"LEASES", filepath.Join(t.TempDir(), "dhcp4.leases")).Replace(mostlyTopology)
	config := ovs.WriteFile(t, "mostly.yaml", cfg)
	if out, err := exec.Command(bin, "check", "-config", config).CombinedOutput(); err != nil {
		t.Fatalf("sixgate check: %v\n%s\n%s", err, out, cfg)
	}

	r.section("The fabric: one Open vSwitch bridge, six hosts, sixgate")
	br := ovs.NewBridge(t, "sgm", 6, fmt.Sprintf("tcp:127.0.0.1:%d", port))
	ovs.Run(t, "ovs-vsctl", "set", "controller", br.Name, "controller_queue_size=512")
	mostly := ovs.AddNetns(t, br, "sgm-mostly", 1, mostlyHostMAC, mostlyHostAddr+"/64")
	legacy := ovs.AddNetns(t, br, "sgm-legacy", 2, "00:00:0f:00:00:02")
	v4web := ovs.AddNetns(t, br, "sgm-v4web", 3, "00:00:0f:00:00:03", mostlyV4Web+"/24")
	web1 := ovs.AddNetns(t, br, "sgm-web1", 4, "00:00:0f:00:00:04", "2001:db8:6::a/64")
	web2 := ovs.AddNetns(t, br, "sgm-web2", 5, "00:00:0f:00:00:05", "2001:db8:6::b/64")
	ovs.AddInternalPort(t, br, "sgmdns", 6, "00:00:0f:00:00:35", mostlyResolver+"/64")
	// The mostly host configures IPv6 from the gateway's advertisements;
	// its kernel passes the options it does not act on itself up to
	// user space, read here as sixgate clat reads them.
	mostly.Run(t, "sysctl", "-qw", "net.ipv6.conf.eth0.accept_ra=1", "net.ipv6.conf.eth0.forwarding=0")
	kernel := listenKernelOpts(t, mostly.Name)
	// Spliced clients appear to the web servers as addresses under the
	// splice's pool6, on the link.
	for _, w := range []*ovs.Netns{web1, web2} {
		w.Run(t, "ip", "-6", "route", "add", "2001:db8:ffff::/96", "dev", "eth0")
	}
	for _, s := range []struct {
		ns   *ovs.Netns
		name string
		http string
	}{{v4web, "v4web", mostlyV4Web + ":8080"}, {web1, "web1", "[2001:db8:6::a]:8080"}, {web2, "web2", "[2001:db8:6::b]:8080"}} {
		d := s.ns.Start(t, server, "-name", s.name, "-line", "", "-http", s.http, "-https", "")
		if !ovs.Wait(5*time.Second, func() bool { return strings.Contains(d.Logs(), "serving") }) {
			t.Fatalf("%s did not start: %s", s.name, d.Logs())
		}
	}
	d := ovs.StartSixgate(t, bin, "-config", config)
	if !ovs.Wait(20*time.Second, func() bool { return strings.Contains(d.Logs(), "flows synced") }) {
		t.Fatalf("sixgate did not sync the bridge:\n%s", d.Logs())
	}
	r.ok("sixgate runs neighbor (RAs), dhcp4, dns64 on [%s]:53, nat64 (%s -> %s) and splice46 on one bridge (%v)",
		mostlyResolver, mostlyPool6, mostlyPool4, time.Since(start).Round(time.Millisecond))

	r.section("1. The IPv6-mostly host: dhcpcd with option ipv6_only_preferred")
	conf := ovs.WriteFile(t, "mostly-dhcpcd.conf", strings.Replace(dhcpcdConf, "EXTRA", "option ipv6_only_preferred", 1))
	dhcpcd := mostly.Start(t, privateDirs("dhcpcd -4 -B -d -f "+conf+" -c /bin/true eth0")...)
	// dhcpcd forks helpers that keep its output open: end every process
	// of the namespace, by pid, before the daemons' cleanups wait.
	t.Cleanup(func() { killNetnsProcesses(mostly.Name) })
	if !ovs.Wait(20*time.Second, func() bool { return strings.Contains(dhcpcd.Logs(), "IPv6-Only Preferred received") }) {
		r.fail("dhcpcd did not hear option 108:\n%s", dhcpcd.Logs())
	} else {
		// dhcpcd now waits V6ONLY_WAIT without sending the REQUEST:
		// a quiet second is enough to see it took no address.
		time.Sleep(time.Second)
		if a := ipv4Of(t, mostly); len(a) != 0 {
			r.fail("dhcpcd took an IPv4 lease after option 108: %v", a)
		} else if dhcpcd.Wait(0) != -1 {
			r.fail("dhcpcd exited instead of waiting V6ONLY_WAIT:\n%s", dhcpcd.Logs())
		} else {
			r.ok("dhcpcd got option 108 (IPv6-Only Preferred, V6ONLY_WAIT 300 s) and took no IPv4 lease")
		}
	}

	// What the kernel passed up from the gateway's advertisements.
	pref64 := netip.MustParsePrefix(mostlyPool6)
	var rdnss []netip.Addr
	var dnssl []string
	var sawPREF64 bool
	deadline := time.After(15 * time.Second)
	for !sawPREF64 || rdnss == nil || dnssl == nil {
		var raw []byte
		select {
		case raw = <-kernel.ch:
		case <-deadline:
			t.Fatalf("from the kernel within 15 s: PREF64 %v, RDNSS %v, DNSSL %v", sawPREF64, rdnss, dnssl)
		}
		for _, o := range ndOptions(t, raw) {
			switch o := o.(type) {
			case *ndp.PREF64:
				sawPREF64 = sawPREF64 || (o.Prefix == pref64 && o.Lifetime > 0)
			case *ndp.RecursiveDNSServer:
				if o.Lifetime > 0 {
					rdnss = o.Servers
				}
			case *ndp.DNSSearchList:
				if o.Lifetime > 0 {
					dnssl = o.DomainNames
				}
			}
		}
	}
	r.ok("the host's kernel passed up from the RA: PREF64 %s, RDNSS %v, DNSSL %v", pref64, rdnss, dnssl)
	var route string
	if !ovs.Wait(10*time.Second, func() bool {
		route, _ = mostly.Output(time.Second, "", "ip", "-6", "route", "show", "default")
		return strings.Contains(route, "via fe80::200:fff:fe00:fe dev eth0 proto ra")
	}) {
		r.fail("no default route from the RA: %q", route)
	} else {
		r.ok("the host's default route comes from the RA: %s", strings.TrimSpace(route))
	}
	// The resolver a host's network manager would write from RDNSS and
	// DNSSL; ip netns exec puts it in place of /etc/resolv.conf.
	etc := "/etc/netns/" + mostly.Name
	if err := os.MkdirAll(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(etc) })
	var rc strings.Builder
	for _, a := range rdnss {
		fmt.Fprintf(&rc, "nameserver %s\n", a)
	}
	fmt.Fprintf(&rc, "search %s\noptions timeout:1 attempts:2\n", strings.Join(dnssl, " "))
	if err := os.WriteFile(etc+"/resolv.conf", []byte(rc.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	// No route of the host's own toward pool6: the default route from the
	// RA leads to the gateway, and the NAT64 takes pool6 from there.
	clatd := mostly.Start(t, bin, "clat", "-uplink", "eth0", "-ipv6", mostlyCLAT, "-log-level", "debug")
	if !ovs.Wait(10*time.Second, func() bool {
		return strings.Contains(clatd.Logs(), `prefix="`+mostlyPool6+`" source=ra`)
	}) {
		r.fail("sixgate clat did not take PREF64 %s from the RA:\n%s", mostlyPool6, clatd.Logs())
	} else if !ovs.Wait(5*time.Second, func() bool {
		out, _ := mostly.Output(time.Second, "", "ip", "-4", "route", "show", "default")
		return strings.Contains(out, "dev clat")
	}) {
		r.fail("no IPv4 default route through the CLAT:\n%s", clatd.Logs())
	} else {
		r.ok("sixgate clat read PREF64 %s from the RA (source=ra), translates from %s, IPv4 default route via its TUN", mostlyPool6, mostlyCLAT)
	}

	out, err := mostly.Output(10*time.Second, "", "getent", "ahostsv6", "v4only")
	if err != nil || !strings.Contains(out, mostlyV4Web6) {
		r.fail("getent ahostsv6 v4only through the RDNSS resolver: %v: %q", err, out)
	} else {
		r.ok("v4only (search %s) resolved through the DNS64 at %v: synthesized AAAA %s", dnssl[0], rdnss[0], mostlyV4Web6)
	}

	// Both ways reach v4web from the NAT64's pool4 address.
	for _, f := range []struct{ what, family, url, host string }{
		{"by name over IPv6 through the NAT64", "-6", "http://v4only:8080/", "v4only:8080"},
		{"by IPv4 literal through the CLAT and the NAT64", "-4", "http://" + mostlyV4Web + ":8080/", mostlyV4Web + ":8080"},
	} {
		want := fmt.Sprintf("v4web: Host %s from %s:", f.host, mostlyPool4)
		out, err := mostly.Output(15*time.Second, "", "curl", f.family, "-sS", "--max-time", "10", f.url)
		if err != nil || !strings.HasPrefix(out, want) {
			r.fail("curl %s %s: %v: %q, want %q", f.family, f.url, err, out, want)
		} else {
			r.ok("fetched %s %s: %q", f.url, f.what, strings.TrimSpace(out))
		}
	}
	sessions, err := exec.Command(bin, "nat64", "sessions", "-http", fmt.Sprintf("127.0.0.1:%d", httpPort)).CombinedOutput()
	if err != nil || !strings.Contains(string(sessions), mostlyHostAddr) || !strings.Contains(string(sessions), mostlyCLAT) {
		r.fail("sixgate nat64 sessions lacks the host %s or its CLAT %s: %v\n%s", mostlyHostAddr, mostlyCLAT, err, sessions)
	} else {
		r.ok("sixgate nat64 sessions lists both, the host's own address and its CLAT's:")
		for _, l := range strings.Split(strings.TrimSpace(string(sessions)), "\n") {
			fmt.Printf("       %s\n", l)
		}
	}

	r.section("2. The legacy IPv4-only host: busybox udhcpc")
	legacyAddr, err := udhcpcLease(t, legacy)
	if err != nil {
		r.fail("no lease: %v", err)
		legacyAddr = ""
	} else {
		if a, err := netip.ParseAddr(legacyAddr); err != nil || !a.Is4() || a.Less(netip.MustParseAddr("198.51.100.100")) || netip.MustParseAddr("198.51.100.199").Less(a) {
			r.fail("udhcpc leased %s, want an address of the pool 198.51.100.100-198.51.100.199", legacyAddr)
		}
		r.ok("udhcpc, which does not ask for option 108, got its IPv4 lease: %s", legacyAddr)
		want := fmt.Sprintf("v4web: Host %s:8080 from %s:", mostlyV4Web, legacyAddr)
		if out, err := legacy.Output(10*time.Second, "", "curl", "-sS", "--max-time", "5", "http://"+mostlyV4Web+":8080/"); err != nil || !strings.HasPrefix(out, want) {
			r.fail("legacy -> v4web over IPv4: %v: %q", err, out)
		} else {
			r.ok("the legacy host fetched http://%s:8080/ over IPv4: %q", mostlyV4Web, strings.TrimSpace(out))
		}
	}

	r.section("3. An IPv4-only client reaches the IPv6-only web servers through the splice (VIP %s)", mostlyVIP)
	if legacyAddr != "" {
		a4 := netip.MustParseAddr(legacyAddr).As4()
		embedded := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 10: 0, 11: 0, 12: a4[0], 13: a4[1], 14: a4[2], 15: a4[3]}).String()
		for _, c := range []struct{ host, server string }{{"a.example", "web1"}, {"b.example", "web2"}} {
			want := fmt.Sprintf("%s: Host %s from [%s]:", c.server, c.host, embedded)
			out, err := legacy.Output(15*time.Second, "", "curl", "-sS", "--max-time", "10", "-H", "Host: "+c.host, "http://"+mostlyVIP+":8080/")
			if err != nil || !strings.HasPrefix(out, want) {
				r.fail("legacy -> VIP with Host %s: %v: %q, want %q", c.host, err, out, want)
			} else {
				r.ok("Host %s went to %s, which saw the client as %s: %q", c.host, c.server, embedded, strings.TrimSpace(out))
			}
		}
	}

	if t.Failed() {
		r.section("The IPv6-mostly scene FAILED (%v)", time.Since(start).Round(time.Millisecond))
		t.Logf("sixgate:\n%s\nsixgate clat:\n%s", d.Logs(), clatd.Logs())
		return
	}
	r.section("The IPv6-mostly scene passed in %v", time.Since(start).Round(time.Millisecond))
}
