package test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mdlayher/ndp"
	"github.com/miekg/dns"
	"golang.org/x/sys/unix"

	"github.com/sixgate/sixgate/clat"
	"github.com/sixgate/sixgate/test/ovs"
)

// The CLAT test's addresses: an IPv6-only link between the host and the
// router, an IPv4-only one between the router and the server, and two
// NAT64 prefixes, each served by a TAYGA in the router.
var (
	clatPrefixA = netip.MustParsePrefix("2001:db8:64::/96")
	clatPrefixB = netip.MustParsePrefix("2001:db8:6464::/96")
)

const (
	clatHostMAC   = "02:00:00:00:c1:10"
	clatRouterMAC = "02:00:00:00:c1:01"
	clatServer4   = "198.51.100.2"
)

// clatNetns makes an empty namespace, removed with everything running
// in it when t ends.
func clatNetns(t *testing.T, name string) *ovs.Netns {
	t.Helper()
	exec.Command("ip", "netns", "del", name).Run()
	ovs.Run(t, "ip", "netns", "add", name)
	t.Cleanup(func() {
		out, _ := exec.Command("ip", "netns", "pids", name).Output()
		for _, pid := range strings.Fields(string(out)) {
			if p, err := strconv.Atoi(pid); err == nil {
				syscall.Kill(p, syscall.SIGKILL)
			}
		}
		exec.Command("ip", "netns", "del", name).Run()
	})
	n := &ovs.Netns{Name: name}
	n.Run(t, "ip", "link", "set", "lo", "up")
	return n
}

// inNetns runs fn on a thread moved into namespace name; sockets fn opens
// stay in that namespace.
func inNetns(t *testing.T, name string, fn func()) {
	t.Helper()
	runtime.LockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	target, err := os.Open("/var/run/netns/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		t.Fatalf("setns %s: %v", name, err)
	}
	defer func() {
		// A thread that cannot go back stays locked and dies with
		// the goroutine.
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err == nil {
			runtime.UnlockOSThread()
		}
	}()
	fn()
}

// raSender sends router advertisements from the router's eth0.
type raSender struct {
	ns  string
	c   *ndp.Conn
	mac net.HardwareAddr
}

func newRASender(t *testing.T, ns string) *raSender {
	t.Helper()
	var s raSender
	inNetns(t, ns, func() {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			t.Fatal(err)
		}
		c, _, err := ndp.Listen(ifi, ndp.LinkLocal)
		if err != nil {
			t.Fatalf("ndp.Listen in %s: %v", ns, err)
		}
		s = raSender{ns: ns, c: c, mac: ifi.HardwareAddr}
	})
	t.Cleanup(func() { s.c.Close() })
	return &s
}

// send advertises the router as a default router with the given PREF64
// options.
func (s *raSender) send(t *testing.T, prefs ...*ndp.PREF64) {
	t.Helper()
	ra := &ndp.RouterAdvertisement{
		CurrentHopLimit: 64,
		RouterLifetime:  30 * time.Minute,
		Options:         []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Source, Addr: s.mac}},
	}
	for _, p := range prefs {
		ra.Options = append(ra.Options, p)
	}
	// In the router's namespace: the zone of the destination names
	// the interface there.
	var err error
	inNetns(t, s.ns, func() { err = s.c.WriteTo(ra, nil, netip.IPv6LinkLocalAllNodes()) })
	if err != nil {
		t.Fatalf("send router advertisement: %v", err)
	}
}

// nftCounter reads a named counter's packets in the router.
func nftCounter(t *testing.T, r *ovs.Netns, name string) int {
	t.Helper()
	out := r.Run(t, "nft", "list", "counter", "ip6", "clattest", name)
	m := regexp.MustCompile(`packets (\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("counter %s: %s", name, out)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func sysctls(t *testing.T, n *ovs.Netns, keys ...string) string {
	t.Helper()
	var args []string
	for _, k := range keys {
		args = append(args, "net.ipv6.conf.eth0."+k)
	}
	return n.Run(t, append([]string{"sysctl"}, args...)...)
}

// waitFor polls cond every 50 ms until it holds or within passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	if !ovs.Wait(within, cond) {
		t.Fatalf("%s: not within %v", what, within)
	}
}

// TestCLAT runs `sixgate clat` on an IPv6-only host whose router is a
// NAT64 (TAYGA and nftables masquerade) toward an IPv4-only server: ping,
// curl and iperf3 reach the server over the configured prefix, over the
// one a router advertisement announces, and over the configured one
// again once the router withdraws its own; SIGTERM leaves the host as it
// was. A second run without a configured prefix stops translating when
// the router withdraws its prefix; a third takes its prefix from a DNS64
// (unbound) through the host's resolver (RFC 7050); a fourth reads the
// advertisements itself on an uplink with accept_ra=0.
func TestCLAT(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("the CLAT test needs root")
		}
		t.Skip("the CLAT test needs root (set CI=true to fail instead)")
	}
	requireTools(t, "ip", "ethtool", "tayga", "nft", "iperf3", "curl", "ping", "sysctl")
	start := time.Now()
	bin := ovs.BuildSixgate(t)
	server := filepath.Join(t.TempDir(), "demoserver")
	if out, err := exec.Command("go", "build", "-o", server, "./demoserver").CombinedOutput(); err != nil {
		t.Fatalf("build demoserver: %v: %s", err, out)
	}

	id := strconv.Itoa(os.Getpid() % 100000)
	h, r, s := clatNetns(t, "clh"+id), clatNetns(t, "clr"+id), clatNetns(t, "cls"+id)
	ovs.Run(t, "ip", "link", "add", "eth0", "netns", h.Name, "type", "veth", "peer", "name", "eth0", "netns", r.Name)
	ovs.Run(t, "ip", "link", "add", "eth1", "netns", r.Name, "type", "veth", "peer", "name", "eth0", "netns", s.Name)
	// The resolver of the host namespace: nothing listens there, so
	// RFC 7050 discovery fails at once.
	etc := "/etc/netns/" + h.Name
	if err := os.MkdirAll(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(etc) })
	if err := os.WriteFile(etc+"/resolv.conf", []byte("nameserver ::1\noptions timeout:1 attempts:1\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	h.Run(t, "sysctl", "-qw", "net.ipv6.conf.eth0.accept_dad=0", "net.ipv6.conf.eth0.accept_ra=1", "net.ipv6.conf.eth0.forwarding=0", "net.ipv6.conf.eth0.proxy_ndp=0")
	h.Run(t, "ip", "link", "set", "eth0", "address", clatHostMAC)
	h.Run(t, "ip", "addr", "add", "2001:db8:c1a7::10/64", "dev", "eth0", "nodad")
	r.Run(t, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1", "net.ipv4.ip_forward=1", "net.ipv6.conf.eth0.accept_dad=0")
	r.Run(t, "ip", "link", "set", "eth0", "address", clatRouterMAC)
	r.Run(t, "ip", "addr", "add", "2001:db8:c1a7::1/64", "dev", "eth0", "nodad")
	r.Run(t, "ip", "addr", "add", "198.51.100.1/24", "dev", "eth1")
	s.Run(t, "ip", "addr", "add", clatServer4+"/24", "dev", "eth0")
	for _, n := range []struct {
		ns   *ovs.Netns
		devs []string
	}{{h, []string{"eth0"}}, {r, []string{"eth0", "eth1"}}, {s, []string{"eth0"}}} {
		for _, d := range n.devs {
			// veth leaves checksums to the receiver otherwise, and the
			// translators read the packets before any stack would.
			n.ns.Run(t, "ethtool", "-K", d, "tx", "off")
			n.ns.Run(t, "ip", "link", "set", d, "up")
		}
	}
	s.Run(t, "ip", "route", "add", "default", "via", "198.51.100.1")

	// The NAT64: one TAYGA per prefix, each mapping IPv6 sources to a
	// pool of its own, then masquerade toward the server.
	var taygaA *ovs.Daemon
	for i, p := range []netip.Prefix{clatPrefixA, clatPrefixB} {
		dev := fmt.Sprintf("nat64%c", 'a'+i)
		dir := t.TempDir()
		conf := ovs.WriteFile(t, dev+".conf", fmt.Sprintf("tun-device %s\nipv4-addr 192.168.%d.1\nprefix %s\ndynamic-pool 192.168.%d.0/24\ndata-dir %s\n", dev, 64+i, p, 64+i, dir))
		tayga := r.Start(t, "tayga", "-n", "-c", conf)
		if i == 0 {
			taygaA = tayga
		}
		waitFor(t, 5*time.Second, "TAYGA's "+dev, func() bool {
			_, err := r.Output(time.Second, "", "ip", "link", "show", dev)
			return err == nil
		})
		r.Run(t, "ip", "link", "set", dev, "up")
		r.Run(t, "ip", "route", "add", fmt.Sprintf("192.168.%d.0/24", 64+i), "dev", dev)
		r.Run(t, "ip", "route", "add", p.String(), "dev", dev)
	}
	r.Run(t, "nft", "-f", ovs.WriteFile(t, "clat.nft", `
table ip clattest {
	chain post { type nat hook postrouting priority 100; oifname "eth1" masquerade; }
}
table ip6 clattest {
	counter a {}
	counter b {}
	chain forward_count {
		type filter hook forward priority 0;
		ip6 daddr `+clatPrefixA.String()+` counter name "a";
		ip6 daddr `+clatPrefixB.String()+` counter name "b";
	}
}
`))
	s.Start(t, server, "-name", "v4server", "-line", "", "-http", ":8080", "-https", "")
	s.Start(t, "iperf3", "-s", "-B", clatServer4)
	r.Start(t, "iperf3", "-s", "-B", "2001:db8:c1a7::1")

	waitFor(t, 5*time.Second, "the router's link-local address", func() bool {
		out, _ := r.Output(time.Second, "", "ip", "-6", "addr", "show", "dev", "eth0", "scope", "link")
		return strings.Contains(out, "fe80::") && !strings.Contains(out, "tentative")
	})
	ra := newRASender(t, r.Name)
	// The host learns its IPv6 default route from the advertisements,
	// before the CLAT starts and while it runs.
	ra.send(t)
	waitFor(t, 5*time.Second, "IPv6 default route from the router advertisement", func() bool {
		out, _ := h.Output(time.Second, "", "ip", "-6", "route", "show", "default")
		return strings.Contains(out, "dev eth0")
	})

	before := map[string]string{
		"sysctls": sysctls(t, h, "accept_ra", "forwarding", "proxy_ndp"),
		"links":   h.Run(t, "ip", "-o", "link", "show"),
		"routes":  h.Run(t, "ip", "-4", "route", "show", "table", "all"),
		"proxy":   h.Run(t, "ip", "-6", "neigh", "show", "proxy"),
		"addrs":   h.Run(t, "ip", "-o", "addr", "show"),
	}

	// Start with prefix B configured; no router advertisement yet.
	d := h.Start(t, bin, "clat", "-uplink", "eth0", "-tun", "clat0", "-pref64", clatPrefixB.String(), "-log-level", "debug")
	waitFor(t, 10*time.Second, "IPv4 default route through clat0", func() bool {
		out, _ := h.Output(time.Second, "", "ip", "-4", "route", "show", "default")
		return strings.Contains(out, "dev clat0") && strings.Contains(out, "mtu 1260")
	})
	if out := h.Run(t, "ip", "-4", "addr", "show", "dev", "clat0"); !strings.Contains(out, "inet 192.0.0.1/29") {
		t.Errorf("clat0 addresses:\n%s", out)
	}
	mac, _ := net.ParseMAC(clatHostMAC)
	clat6 := clat.DeriveAddress(netip.MustParsePrefix("2001:db8:c1a7::10/64"), mac, "eth0")
	if out := h.Run(t, "ip", "-6", "neigh", "show", "proxy"); !strings.Contains(out, clat6.String()+" dev eth0 proxy") {
		t.Errorf("no proxy entry for %s on eth0:\n%s", clat6, out)
	}
	if got, want := sysctls(t, h, "accept_ra", "forwarding", "proxy_ndp"), "net.ipv6.conf.eth0.accept_ra = 2\nnet.ipv6.conf.eth0.forwarding = 1\nnet.ipv6.conf.eth0.proxy_ndp = 1\n"; got != want {
		t.Errorf("uplink sysctls while running:\n%s\nwant\n%s", got, want)
	}

	// A second CLAT with the same TUN name fails at once and leaves the
	// first one's set-up alone.
	if out, err := h.Output(10*time.Second, "", bin, "clat", "-uplink", "eth0", "-tun", "clat0"); err == nil || !strings.Contains(out, "clat0") {
		t.Errorf("second CLAT on clat0: %v\n%s", err, out)
	} else if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Errorf("second CLAT on clat0: %v, want exit status 1", err)
	}
	if out := h.Run(t, "ip", "-6", "neigh", "show", "proxy"); !strings.Contains(out, clat6.String()+" dev eth0 proxy") {
		t.Errorf("the proxy entry gone after a second CLAT failed:\n%s", out)
	}
	if got := sysctls(t, h, "accept_ra", "forwarding", "proxy_ndp"); !strings.Contains(got, "forwarding = 1") {
		t.Errorf("uplink sysctls after a second CLAT failed:\n%s", got)
	}

	// Kept through the set-up: accept_ra=2 goes before forwarding=1,
	// which drops the default routes learnt where accept_ra is not 2.
	if out := h.Run(t, "ip", "-6", "route", "show", "default"); !strings.Contains(out, "dev eth0") {
		t.Errorf("the IPv6 default route learnt from the router is gone after the CLAT started: %q", out)
	}

	ping := func(step string) {
		t.Helper()
		if out, err := h.Output(10*time.Second, "", "ping", "-c", "3", "-i", "0.2", "-W", "2", clatServer4); err != nil {
			t.Fatalf("%s: ping %s: %v\n%s\nclat:\n%s", step, clatServer4, err, out, d.Logs())
		}
	}
	a0, b0 := nftCounter(t, r, "a"), nftCounter(t, r, "b")
	ping("configured prefix")
	if a, b := nftCounter(t, r, "a"), nftCounter(t, r, "b"); a != a0 || b < b0+3 {
		t.Errorf("configured prefix B: counters a %d->%d, b %d->%d", a0, a, b0, b)
	}

	// A router advertisement with PREF64 A: the CLAT moves to it.
	ra.send(t, &ndp.PREF64{Prefix: clatPrefixA, Lifetime: 10 * time.Minute})
	waitFor(t, 5*time.Second, "prefix A from the router advertisement", func() bool {
		return strings.Contains(d.Logs(), `prefix="`+clatPrefixA.String()+`" source=ra`)
	})
	a0, b0 = nftCounter(t, r, "a"), nftCounter(t, r, "b")
	ping("prefix from the router advertisement")
	if out, err := h.Output(10*time.Second, "", "curl", "-sS", "--max-time", "5", "http://"+clatServer4+":8080/"); err != nil || !strings.HasPrefix(out, "v4server: Host "+clatServer4+":8080 from 198.51.100.1") {
		t.Errorf("curl: %v: %q", err, out)
	}
	const n = 2_000_000
	if out, err := h.Output(10*time.Second, "", "curl", "-sS", "--max-time", "5", "-o", "/dev/null", "-w", "%{size_download}", fmt.Sprintf("http://%s:8080/bytes?n=%d", clatServer4, n)); err != nil || out != strconv.Itoa(n) {
		t.Errorf("curl of %d bytes: %v: %q", n, err, out)
	}
	cpu0, tcpu0 := cpuTime(t, d.PID()), cpuTime(t, taygaA.PID())
	// Errors come back translated: the router's ICMPv6 Time Exceeded
	// for a hop limit run out reaches ping as ICMPv4 (from the
	// translator's own address: the router's is not in the prefix).
	if out, _ := h.Output(10*time.Second, "", "ping", "-c", "1", "-W", "2", "-t", "2", clatServer4); !strings.Contains(out, "Time to live exceeded") {
		t.Errorf("ping with TTL 2: no Time Exceeded:\n%s", out)
	}
	clatBps := iperf(t, h, clatServer4)
	clatRBps := iperf(t, h, clatServer4, "-R")
	cpu, tcpu := cpuTime(t, d.PID())-cpu0, cpuTime(t, taygaA.PID())-tcpu0
	nativeBps := iperf(t, h, "2001:db8:c1a7::1")
	gb := (clatBps + clatRBps) * 2 / 8 / 1e9
	t.Logf("iperf3: %.0f Mbit/s up, %.0f down through the CLAT and TAYGA; %.0f Mbit/s native IPv6 to the router (ratio %.2f); CPU per GB: sixgate clat %.2f s, TAYGA %.2f s (ratio %.2f)",
		clatBps/1e6, clatRBps/1e6, nativeBps/1e6, clatBps/nativeBps, cpu.Seconds()/gb, tcpu.Seconds()/gb, cpu.Seconds()/tcpu.Seconds())
	if a, b := nftCounter(t, r, "a"), nftCounter(t, r, "b"); a < a0+3 || b != b0 {
		t.Errorf("prefix A: counters a %d->%d, b %d->%d", a0, a, b0, b)
	}

	// The router withdraws A: back to the configured B.
	ra.send(t, &ndp.PREF64{Prefix: clatPrefixA, Lifetime: 0})
	waitFor(t, 5*time.Second, "back to the configured prefix", func() bool {
		return strings.Count(d.Logs(), `prefix="`+clatPrefixB.String()+`" source=flag`) == 2
	})
	a0, b0 = nftCounter(t, r, "a"), nftCounter(t, r, "b")
	ping("configured prefix after the withdrawal")
	if a, b := nftCounter(t, r, "a"), nftCounter(t, r, "b"); a != a0 || b < b0+3 {
		t.Errorf("after withdrawal: counters a %d->%d, b %d->%d", a0, a, b0, b)
	}

	// The uplink set down and up again: the kernel drops the proxy
	// entry (and the host's addresses and routes) on the way down; the
	// CLAT puts its entry back.
	h.Run(t, "ip", "link", "set", "eth0", "down")
	h.Run(t, "ip", "link", "set", "eth0", "up")
	h.Run(t, "ip", "addr", "replace", "2001:db8:c1a7::10/64", "dev", "eth0", "nodad")
	waitFor(t, 5*time.Second, "the proxy entry back after the uplink flapped", func() bool {
		out, _ := h.Output(time.Second, "", "ip", "-6", "neigh", "show", "proxy")
		return strings.Contains(out, clat6.String()+" dev eth0 proxy")
	})
	// The router forgets the address too, so the next ping needs the
	// proxy entry's answer.
	r.Run(t, "ip", "-6", "neigh", "flush", "dev", "eth0")
	ra.send(t)
	waitFor(t, 5*time.Second, "IPv6 default route again", func() bool {
		out, _ := h.Output(time.Second, "", "ip", "-6", "route", "show", "default")
		return strings.Contains(out, "dev eth0")
	})
	ping("after the uplink flapped")

	if code := d.Stop(); code != 0 {
		t.Fatalf("sixgate clat exited %d on SIGTERM\n%s", code, d.Logs())
	}
	after := map[string]string{
		"sysctls": sysctls(t, h, "accept_ra", "forwarding", "proxy_ndp"),
		"links":   h.Run(t, "ip", "-o", "link", "show"),
		"routes":  h.Run(t, "ip", "-4", "route", "show", "table", "all"),
		"proxy":   h.Run(t, "ip", "-6", "neigh", "show", "proxy"),
		"addrs":   h.Run(t, "ip", "-o", "addr", "show"),
	}
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s after SIGTERM:\n%s\nbefore:\n%s", k, after[k], v)
		}
	}
	if !strings.Contains(d.Logs(), "CLAT stopped") {
		t.Errorf("no closing line with the counters:\n%s", d.Logs())
	}

	// Without a configured prefix, a withdrawal stops translation: the
	// IPv4 default route goes, and IPv4 is unreachable at once.
	d = h.Start(t, bin, "clat", "-uplink", "eth0", "-log-level", "debug")
	waitFor(t, 10*time.Second, "the CLAT up with the default TUN name", func() bool {
		return strings.Contains(d.Logs(), "CLAT up") && strings.Contains(d.Logs(), "tun=clat ")
	})
	if out := h.Run(t, "ip", "-4", "route", "show", "default"); out != "" {
		t.Errorf("an IPv4 default route without a NAT64 prefix: %s", out)
	}
	ra.send(t, &ndp.PREF64{Prefix: clatPrefixA, Lifetime: 10 * time.Minute})
	waitFor(t, 5*time.Second, "IPv4 default route for the advertised prefix", func() bool {
		out, _ := h.Output(time.Second, "", "ip", "-4", "route", "show", "default")
		return strings.Contains(out, "dev clat ")
	})
	ping("advertised prefix, nothing configured")
	ra.send(t, &ndp.PREF64{Prefix: clatPrefixA, Lifetime: 0})
	waitFor(t, 5*time.Second, "IPv4 default route gone after the withdrawal", func() bool {
		out, err := h.Output(time.Second, "", "ip", "-4", "route", "show", "default")
		return err == nil && out == ""
	})
	if out, err := h.Output(5*time.Second, "", "ping", "-c", "1", "-W", "1", clatServer4); err == nil || !strings.Contains(out, "unreachable") {
		t.Errorf("ping without a NAT64 prefix: %v: %s", err, out)
	}
	if code := d.Stop(); code != 0 {
		t.Fatalf("sixgate clat exited %d on SIGTERM\n%s", code, d.Logs())
	}
	if got := sysctls(t, h, "accept_ra", "forwarding", "proxy_ndp"); got != before["sysctls"] {
		t.Errorf("sysctls after the second run:\n%s", got)
	}
	if got := h.Run(t, "ip", "-o", "link", "show"); got != before["links"] {
		t.Errorf("links after the second run:\n%s", got)
	}

	// RFC 7050: with a DNS64 answering for ipv4only.arpa through the
	// host's resolver, and neither PREF64 nor -pref64, the CLAT takes
	// the prefix the synthesized addresses carry.
	startDNS64(t, r, "2001:db8:c1a7::1", clatPrefixB)
	if err := os.WriteFile(etc+"/resolv.conf", []byte("nameserver 2001:db8:c1a7::1\noptions timeout:1 attempts:2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d = h.Start(t, bin, "clat", "-uplink", "eth0", "-log-level", "debug")
	waitFor(t, 10*time.Second, "prefix B from ipv4only.arpa", func() bool {
		return strings.Contains(d.Logs(), `prefix="`+clatPrefixB.String()+`" source=dns`)
	})
	a0, b0 = nftCounter(t, r, "a"), nftCounter(t, r, "b")
	ping("prefix from DNS")
	if a, b := nftCounter(t, r, "a"), nftCounter(t, r, "b"); a != a0 || b < b0+3 {
		t.Errorf("prefix from DNS: counters a %d->%d, b %d->%d", a0, a, b0, b)
	}
	// SIGINT, as a Ctrl-C in a terminal, stops it as cleanly.
	d.Signal(syscall.SIGINT)
	if code := d.Wait(10 * time.Second); code != 0 {
		t.Fatalf("sixgate clat exited %d on SIGINT\n%s", code, d.Logs())
	}
	if got := sysctls(t, h, "accept_ra", "forwarding", "proxy_ndp"); got != before["sysctls"] {
		t.Errorf("sysctls after SIGINT:\n%s", got)
	}

	// An uplink whose kernel ignores router advertisements (accept_ra=0,
	// as under NetworkManager): the CLAT reads them itself, and PREF64
	// still wins over DNS.
	h.Run(t, "sysctl", "-qw", "net.ipv6.conf.eth0.accept_ra=0")
	d = h.Start(t, bin, "clat", "-uplink", "eth0", "-log-level", "debug")
	waitFor(t, 10*time.Second, "prefix B from DNS with accept_ra=0", func() bool {
		return strings.Contains(d.Logs(), `prefix="`+clatPrefixB.String()+`" source=dns`)
	})
	ra.send(t, &ndp.PREF64{Prefix: clatPrefixA, Lifetime: 10 * time.Minute})
	waitFor(t, 5*time.Second, "prefix A from a router advertisement read by the CLAT", func() bool {
		return strings.Contains(d.Logs(), `prefix="`+clatPrefixA.String()+`" source=ra`)
	})
	a0, b0 = nftCounter(t, r, "a"), nftCounter(t, r, "b")
	ping("accept_ra=0, prefix from the advertisement")
	if a, b := nftCounter(t, r, "a"), nftCounter(t, r, "b"); a < a0+3 || b != b0 {
		t.Errorf("accept_ra=0: counters a %d->%d, b %d->%d", a0, a, b0, b)
	}
	if code := d.Stop(); code != 0 {
		t.Fatalf("sixgate clat exited %d on SIGTERM\n%s", code, d.Logs())
	}
	if got := sysctls(t, h, "accept_ra", "forwarding", "proxy_ndp"); got != "net.ipv6.conf.eth0.accept_ra = 0\nnet.ipv6.conf.eth0.forwarding = 0\nnet.ipv6.conf.eth0.proxy_ndp = 0\n" {
		t.Errorf("sysctls after the accept_ra=0 run:\n%s", got)
	}
	t.Logf("took %v", time.Since(start).Round(100*time.Millisecond))
}

// iperf runs a 2-second iperf3 test from the host to server and returns
// the receiver's throughput in bit/s.
func iperf(t *testing.T, h *ovs.Netns, server string, flags ...string) float64 {
	t.Helper()
	out, err := h.Output(15*time.Second, "", append([]string{"iperf3", "-c", server, "-t", "2", "-J"}, flags...)...)
	if err != nil {
		t.Fatalf("iperf3 -c %s: %v\n%s", server, err, out)
	}
	var res struct {
		End struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.End.SumReceived.BitsPerSecond <= 0 {
		t.Fatalf("iperf3 -c %s: %v\n%s", server, err, out)
	}
	return res.End.SumReceived.BitsPerSecond
}

// cpuTime is the user and system time process pid has used
// (/proc/PID/stat, fields 14 and 15, in clock ticks of 1/100 s).
func cpuTime(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// The command name, in parentheses, may hold spaces: count fields
	// after its closing parenthesis.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	utime, _ := strconv.Atoi(f[11])
	stime, _ := strconv.Atoi(f[12])
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// startDNS64 runs unbound in namespace n on addr port 53, answering for
// ipv4only.arpa what a DNS64 with prefix pfx synthesizes (RFC 7050:
// 192.0.0.170 and 192.0.0.171 behind the prefix). It stops with the test.
func startDNS64(t *testing.T, n *ovs.Netns, addr string, pfx netip.Prefix) {
	t.Helper()
	bin := requireUnbound(t)
	dir := t.TempDir()
	p := pfx.Addr().As16()
	var data []string
	for _, last := range []byte{170, 171} {
		a := p
		copy(a[12:], []byte{192, 0, 0, last})
		data = append(data, fmt.Sprintf("ipv4only.arpa. AAAA %s", netip.AddrFrom16(a)))
	}
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "server:\n  interface: %s\n  port: 53\n  do-daemonize: no\n  username: \"\"\n  chroot: \"\"\n", addr)
	fmt.Fprintf(&cfg, "  directory: %q\n  pidfile: \"\"\n  use-syslog: no\n  logfile: \"\"\n  verbosity: 1\n", dir)
	cfg.WriteString("  do-ip4: no\n  access-control: ::/0 allow\n  module-config: \"iterator\"\n")
	cfg.WriteString("  local-zone: \"ipv4only.arpa.\" static\n")
	for _, d := range data {
		fmt.Fprintf(&cfg, "  local-data: %q\n", d)
	}
	cfg.WriteString("remote-control:\n  control-enable: no\n")
	conf := filepath.Join(dir, "unbound.conf")
	if err := os.WriteFile(conf, []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	d := n.Start(t, bin, "-d", "-c", conf)
	var conn net.Conn
	var err error
	inNetns(t, n.Name, func() { conn, err = net.Dial("udp6", net.JoinHostPort(addr, "53")) })
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	co := &dns.Conn{Conn: conn}
	m := new(dns.Msg)
	m.SetQuestion("ipv4only.arpa.", dns.TypeAAAA)
	if !ovs.Wait(10*time.Second, func() bool {
		co.SetDeadline(time.Now().Add(300 * time.Millisecond))
		if co.WriteMsg(m) != nil {
			return false
		}
		in, err := co.ReadMsg()
		return err == nil && len(in.Answer) == 2
	}) {
		t.Fatalf("unbound does not answer for ipv4only.arpa on %s:\n%s", addr, d.Logs())
	}
}
