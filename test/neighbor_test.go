package test

import (
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sixgate/sixgate/apps/neighbor"
	"github.com/sixgate/sixgate/controller"
	"github.com/sixgate/sixgate/test/ovs"
	"github.com/sixgate/sixgate/topo"
)

// ring is topo/examples/fabric.yaml built for real: a bridge per switch, a
// veth cable per link, a namespace per host, and the sixgate binary.
type ring struct {
	top    *topo.Topology
	bin    string
	config string
	br     map[string]*ovs.Bridge // by switch name
	hosts  map[string]*ovs.Netns  // by host name
	links  []*ovs.Link            // in file order
}

func newRing(t *testing.T) *ring {
	t.Helper()
	ovs.Require(t)
	src, err := os.ReadFile("../topo/examples/fabric.yaml")
	if err != nil {
		t.Fatal(err)
	}
	port, metrics := freePort(t), freePort(t)
	cfg := strings.Replace(string(src), `listen: "tcp:0.0.0.0:6653"`, fmt.Sprintf(`listen: "tcp:127.0.0.1:%d"`, port), 1)
	cfg = strings.Replace(cfg, `http: "127.0.0.1:9464"`, fmt.Sprintf(`http: "127.0.0.1:%d"`, metrics), 1)
	r := &ring{bin: ovs.BuildSixgate(t), config: ovs.WriteFile(t, "fabric.yaml", cfg),
		br: map[string]*ovs.Bridge{}, hosts: map[string]*ovs.Netns{}}
	if r.top, err = topo.Load(r.config); err != nil {
		t.Fatal(err)
	}
	target := fmt.Sprintf("tcp:127.0.0.1:%d", port)
	for _, s := range r.top.Switches {
		r.br[s.Name] = ovs.NewBridge(t, "sgn"+s.Name, s.DPID, target)
	}
	for i, l := range r.top.Links {
		r.links = append(r.links, ovs.AddLink(t, fmt.Sprintf("sgnl%d", i), r.br[l.A.Switch], int(l.A.Port), r.br[l.B.Switch], int(l.B.Port)))
	}
	for _, h := range r.top.Hosts {
		var addrs []string
		for _, a := range h.Addrs() {
			p, _ := r.top.SubnetOf(a)
			addrs = append(addrs, netip.PrefixFrom(a, p.Bits()).String())
		}
		n := ovs.AddNetns(t, r.br[h.Switch], "sgn-"+h.Name, int(h.Port), h.MAC.String(), addrs...)
		// Take the gateway's Router Advertisements, which sixgate sends
		// when a switch connects.
		n.Run(t, "sysctl", "-qw", "net.ipv6.conf.eth0.accept_ra=1")
		r.hosts[h.Name] = n
	}
	return r
}

// start runs sixgate and waits until every bridge holds its flows: the
// fixed ones, a route per host, and the gateway MAC's.
func (r *ring) start(t *testing.T) *ovs.Daemon {
	t.Helper()
	d := ovs.StartSixgate(t, r.bin, "-config", r.config)
	want := 7 + len(r.top.Hosts) + 5
	for _, b := range r.br {
		if !ovs.Wait(30*time.Second, func() bool { return len(b.DumpFlows(t)) == want }) {
			t.Fatalf("%s has %d flows, want %d:\n%s", b.Name, len(b.DumpFlows(t)), want, join(b.DumpFlows(t)))
		}
	}
	return d
}

// dumps returns every bridge's flows.
func (r *ring) dumps(t *testing.T) map[string][]string {
	out := map[string][]string{}
	for name, b := range r.br {
		out[name] = b.DumpFlows(t)
	}
	return out
}

// pingAll has every host ping every address of every other host.
func (r *ring) pingAll(t *testing.T) {
	t.Helper()
	for _, src := range r.top.Hosts {
		for _, dst := range r.top.Hosts {
			if src == dst {
				continue
			}
			for _, a := range dst.Addrs() {
				// The first echo waits for address resolution, which the
				// controller answers; a few tries absorb a slow start.
				if _, _, err := r.hosts[src.Name].PingUntil(a.String(), time.Second, 5*time.Second); err != nil {
					t.Fatalf("%s -> %s (%s): %v", src.Name, dst.Name, a, err)
				}
			}
		}
	}
}

func TestNeighborRingEndToEnd(t *testing.T) {
	r := newRing(t)
	d := r.start(t)

	// Every host reaches every other over IPv4 and IPv6, with nothing
	// configured but its own addresses.
	start := time.Now()
	r.pingAll(t)
	t.Logf("all %d pairs answered over IPv4 and IPv6 in %v", len(r.top.Hosts)*(len(r.top.Hosts)-1), time.Since(start).Round(time.Millisecond))

	// The gateway's address resolves to its MAC; the echo itself goes to
	// the hand-off table, which no app fills here, and is dropped and
	// counted there.
	h1 := r.hosts["h1"]
	for _, gw := range []string{"10.0.0.254", "2001:db8::fe"} {
		if err := h1.Ping(gw, 300*time.Millisecond); err == nil {
			t.Errorf("the gateway answered a ping to %s, but no app routes for it", gw)
		}
	}
	if n := r.br["s1"].PacketCount(t, controller.AppCookie(neighbor.CookieID, neighbor.CookieDropHandoff)); n == 0 {
		t.Error("hand-off drop flow counted nothing after a ping to the gateway")
	}
	// A broadcast that is neither ARP nor NDP goes nowhere, and counts.
	h1.Output(3*time.Second, "", "ping", "-b", "-n", "-q", "-c", "1", "-W", "0.2", "10.0.0.255")
	if n := r.br["s1"].PacketCount(t, controller.AppCookie(neighbor.CookieID, neighbor.CookieDropMulticast)); n == 0 {
		t.Error("multicast drop flow counted nothing after a broadcast ping")
	}
	// The RA sent when the switch connected gave hosts a default route
	// through the gateway's link-local address.
	if !ovs.Wait(10*time.Second, func() bool {
		return strings.Contains(h1.Run(t, "ip", "-6", "route", "show", "default"), "via fe80::200:aff:fe00:fe")
	}) {
		t.Errorf("h1 has no default route from the gateway's RA: %s", h1.Run(t, "ip", "-6", "route"))
	}

	// Every neighbor entry a host learnt carries the MAC the model
	// declares, and none was added by hand.
	for _, h := range r.top.Hosts {
		entries := r.hosts[h.Name].NeighborEntries(t)
		learnt := map[string]string{}
		for _, e := range entries {
			if e.Permanent() {
				t.Errorf("%s has a static neighbor entry %+v", h.Name, e)
			}
			if e.LLAddr == "" {
				continue
			}
			learnt[e.Dst] = e.LLAddr
			mac, ok := r.top.MACFor(netip.MustParseAddr(e.Dst))
			if !ok || mac.String() != e.LLAddr {
				t.Errorf("%s: %s is at %s, but the model says %v", h.Name, e.Dst, e.LLAddr, mac)
			}
		}
		for _, o := range r.top.Hosts {
			for _, a := range o.Addrs() {
				if o != h && learnt[a.String()] != o.MAC.String() {
					t.Errorf("%s: no entry for %s (%s) at %s after pinging it: %+v", h.Name, o.Name, a, o.MAC, entries)
				}
			}
		}
	}
	if t.Failed() {
		return
	}

	d = r.killAndRestart(t, d)
	r.cutRingLink(t)
	r.reloadGatewayMAC(t, d)
}

// killAndRestart kills sixgate as a crash would: traffic keeps flowing on
// the flows left in the switches (fail mode secure), and a new process
// reconciles to the same tables without reinstalling anything.
func (r *ring) killAndRestart(t *testing.T, d *ovs.Daemon) *ovs.Daemon {
	before := r.dumps(t)
	durations := r.br["s1"].FlowDurations(t)
	d.Kill()
	killed := time.Now()
	for _, p := range [][2]string{{"h1", "10.0.0.6"}, {"h1", "2001:db8::6"}, {"h3", "2001:db8::5"}, {"h4", "10.0.0.2"}} {
		if err := r.hosts[p[0]].Ping(p[1], time.Second); err != nil {
			t.Errorf("with sixgate killed: %v", err)
		}
	}

	d2 := ovs.StartSixgate(t, r.bin, "-config", r.config)
	if !ovs.Wait(30*time.Second, func() bool { return strings.Count(d2.Logs(), `msg="flows synced"`) >= len(r.br) }) {
		t.Fatalf("restarted sixgate did not sync every bridge:\n%s", d2.Logs())
	}
	for _, l := range strings.Split(d2.Logs(), "\n") {
		if strings.Contains(l, `msg="flows synced"`) && !strings.Contains(l, "added=0") {
			t.Errorf("restart changed flows: %s", l)
		}
	}
	if after := r.dumps(t); !mapsEqual(before, after) {
		for name := range before {
			if !slices.Equal(before[name], after[name]) {
				t.Errorf("%s flows changed across the restart:\nbefore:\n%safter:\n%s", name, join(before[name]), join(after[name]))
			}
		}
	}
	gap := time.Since(killed)
	for flow, age := range r.br["s1"].FlowDurations(t) {
		if _, ok := durations[flow]; !ok || age < gap {
			t.Errorf("flow %q is %v old, younger than the %v since the kill: it was reinstalled", flow, age, gap)
		}
	}
	r.pingAll(t)
	return d2
}

func mapsEqual(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// cutRingLink takes the s1-s2 link down: h1 (on s1) reaches h3 (on s2)
// the other way round the ring, through s3, once sixgate has rerouted.
// How long that takes is measured and logged; so is the way back.
func (r *ring) cutRingLink(t *testing.T) {
	l := r.top.Links[0]
	if l.A.Switch != "s1" || l.B.Switch != "s2" {
		t.Fatalf("fabric.yaml's first link is %v-%v, want s1-s2", l.A, l.B)
	}
	original := r.dumps(t)
	h1 := r.hosts["h1"]
	for _, a := range []string{"10.0.0.3", "2001:db8::3"} {
		if err := h1.Ping(a, time.Second); err != nil {
			t.Fatalf("before the cut: %v", err)
		}
	}

	// A steady stream of echo requests, one every 10 ms, runs across the
	// cut: the replies it misses measure the outage. Meanwhile another
	// goroutine watches s1's table and a fresh ping waits for a reply, to
	// tell the controller's reaction from ping's own latency.
	const streamCount, streamEvery = 400, 10 * time.Millisecond
	stream := h1.Start(t, "ping", "-n", "-i", "0.01", "-c", fmt.Sprint(streamCount), "-W", "1", "10.0.0.3")
	if !ovs.Wait(10*time.Second, func() bool { return strings.Contains(stream.Logs(), "icmp_seq=50 ") }) {
		t.Fatalf("echo stream h1 -> h3 did not get going:\n%s", stream.Logs())
	}
	rerouted := make(chan time.Duration, 1)
	cut := time.Now()
	r.links[0].Down(t)
	go func() {
		defer close(rerouted)
		if ovs.Wait(15*time.Second, func() bool { return !slices.Equal(r.br["s1"].DumpFlows(t), original["s1"]) }) {
			rerouted <- time.Since(cut)
		}
	}()
	took, attempts, err := h1.PingUntil("10.0.0.3", 100*time.Millisecond, 15*time.Second)
	if err != nil {
		t.Fatalf("h1 -> h3 after cutting s1-s2: %v", err)
	}
	flowsAt, ok := <-rerouted
	if !ok {
		t.Fatal("s1's flows never changed after the cut")
	}
	t.Logf("link s1:3-s2:4 down: s1's flows rerouted %v after the cut; first IPv4 echo reply h1 -> h3 after %v (%d echo requests)",
		flowsAt.Round(time.Millisecond), took.Round(time.Millisecond), attempts)
	took6, _, err := h1.PingUntil("2001:db8::3", 100*time.Millisecond, 5*time.Second)
	if err != nil {
		t.Fatalf("h1 -> h3 over IPv6 after cutting s1-s2: %v", err)
	}
	t.Logf("link s1:3-s2:4 down: IPv6 echo reply %v after that (%v since the cut)", took6.Round(time.Millisecond), time.Since(cut).Round(time.Millisecond))
	if stream.Wait(15*time.Second) < 0 {
		t.Fatalf("echo stream did not end:\n%s", stream.Logs())
	}
	var sent, received int
	for _, l := range strings.Split(stream.Logs(), "\n") {
		if strings.Contains(l, "packets transmitted") {
			fmt.Sscanf(l, "%d packets transmitted, %d received", &sent, &received)
		}
	}
	if sent != streamCount || received == 0 {
		t.Fatalf("echo stream: %d sent, %d received:\n%s", sent, received, stream.Logs())
	}
	t.Logf("link s1:3-s2:4 down: a 10 ms echo stream lost %d of %d replies, an outage of about %v",
		sent-received, sent, time.Duration(sent-received)*streamEvery)
	// The new path is the long way round: s1 sends to s3 (port 4), s2
	// answers through s3 (port 3).
	for sw, flow := range map[string]string{"s1": "dl_dst=00:00:0a:00:00:03 actions=output:4", "s2": "dl_dst=00:00:0a:00:00:01 actions=output:3"} {
		if !slices.ContainsFunc(r.br[sw].DumpFlows(t), func(f string) bool { return strings.HasSuffix(f, flow) }) {
			t.Errorf("%s does not route round the ring (%s):\n%s", sw, flow, join(r.br[sw].DumpFlows(t)))
		}
	}
	if t.Failed() {
		return
	}

	restored := time.Now()
	r.links[0].Up(t)
	if !ovs.Wait(15*time.Second, func() bool { return mapsEqual(r.dumps(t), original) }) {
		t.Fatalf("flows did not return to the short paths after the link came back:\n%s", join(r.br["s1"].DumpFlows(t)))
	}
	back := time.Since(restored)
	if _, _, err := h1.PingUntil("10.0.0.3", 100*time.Millisecond, 5*time.Second); err != nil {
		t.Fatalf("h1 -> h3 after the link came back: %v", err)
	}
	t.Logf("link s1:3-s2:4 up: flow tables back to the short paths after %v, echo reply after %v", back.Round(time.Millisecond), time.Since(restored).Round(time.Millisecond))
	r.pingAll(t)
}

// reloadGatewayMAC gives the gateway a new MAC and sends SIGHUP: the flows
// follow, and the announcements sixgate sends on reload move the hosts'
// cache entries for the gateway to the new MAC.
func (r *ring) reloadGatewayMAC(t *testing.T, d *ovs.Daemon) {
	const oldMAC, newMAC = "00:00:0a:00:00:fe", "00:00:0a:00:00:fd"
	src, err := os.ReadFile(r.config)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(src), `mac: "`+oldMAC+`"`) {
		t.Fatalf("no gateway MAC %s in %s", oldMAC, r.config)
	}
	if err := os.WriteFile(r.config, []byte(strings.Replace(string(src), oldMAC, newMAC, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := d.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for name, b := range r.br {
		if !ovs.Wait(10*time.Second, func() bool {
			fs := strings.Join(b.DumpFlows(t), "\n")
			return strings.Contains(fs, "dl_dst="+newMAC) && !strings.Contains(fs, "dl_dst="+oldMAC)
		}) {
			t.Errorf("%s flows after reload:\n%s", name, join(b.DumpFlows(t)))
		}
	}
	h1 := r.hosts["h1"]
	var entries []ovs.NeighborEntry
	if !ovs.Wait(10*time.Second, func() bool {
		entries = h1.NeighborEntries(t)
		moved := 0
		for _, e := range entries {
			if (e.Dst == "10.0.0.254" || e.Dst == "2001:db8::fe") && e.LLAddr == newMAC {
				moved++
			}
		}
		return moved == 2
	}) {
		t.Errorf("h1's entries for the gateway did not move to %s: %+v", newMAC, entries)
	}
	r.pingAll(t)
}
