package topo

import (
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"
)

// fabric writes a topology file with switches s1..sN (dpid N), the given
// links, and one host hN on port 1 of each switch.
func fabric(t *testing.T, switches int, links ...string) *Topology {
	t.Helper()
	var b strings.Builder
	b.WriteString("switches:\n")
	for i := 1; i <= switches; i++ {
		fmt.Fprintf(&b, "  - {name: s%d, dpid: %d}\n", i, i)
	}
	b.WriteString("links:\n")
	for _, l := range links {
		a, z, _ := strings.Cut(l, " ")
		fmt.Fprintf(&b, "  - {a: %q, b: %q}\n", a, z)
	}
	b.WriteString("hosts:\n")
	for i := 1; i <= switches; i++ {
		fmt.Fprintf(&b, "  - {name: h%d, switch: s%d, port: 1, mac: \"00:00:0a:00:00:%02x\"}\n", i, i, i)
	}
	topo, err := Parse("fabric.yaml", []byte(b.String()))
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	return topo
}

func host(t *testing.T, topo *Topology, name string) *Host {
	t.Helper()
	h, ok := topo.HostByName(name)
	if !ok {
		t.Fatalf("no host %s", name)
	}
	return h
}

// pathString renders a path as "1:2 2:3 3:1" (dpid:port per hop).
func pathString(f *Forwarding, from uint64, h *Host) string {
	path, ok := f.Path(from, h)
	if !ok {
		return "unreachable"
	}
	var parts []string
	for _, hop := range path {
		parts = append(parts, fmt.Sprintf("%d:%d", hop.DPID, hop.Port))
	}
	return strings.Join(parts, " ")
}

func TestForwardingLine(t *testing.T) {
	topo := fabric(t, 3, "s1:2 s2:2", "s2:3 s3:2")
	f := topo.Forwarding(nil)
	tests := []struct {
		from uint64
		to   string
		want string
	}{
		{1, "h1", "1:1"},
		{1, "h3", "1:2 2:3 3:1"},
		{3, "h1", "3:2 2:2 1:1"},
		{2, "h3", "2:3 3:1"},
	}
	for _, tc := range tests {
		if got := pathString(f, tc.from, host(t, topo, tc.to)); got != tc.want {
			t.Errorf("path from %d to %s = %s, want %s", tc.from, tc.to, got, tc.want)
		}
	}
	routes := f.Routes(2)
	var got []string
	for _, r := range routes {
		got = append(got, fmt.Sprintf("%s:%d", r.Host.Name, r.Port))
	}
	if want := "h1:2 h2:1 h3:3"; strings.Join(got, " ") != want {
		t.Errorf("routes of s2 = %v, want %s", got, want)
	}
	if _, ok := f.NextHop(1, []byte{0, 0, 0x0a, 0, 0, 0x99}); ok {
		t.Error("NextHop found a route to an unknown MAC")
	}
	if got := topo.InterSwitchPorts(2); !slices.Equal(got, []uint32{2, 3}) {
		t.Errorf("inter-switch ports of s2 = %v", got)
	}
	if !topo.IsInterSwitchPort(3, 2) || topo.IsInterSwitchPort(3, 1) {
		t.Error("IsInterSwitchPort is wrong on s3")
	}
}

func TestForwardingRingTieBreak(t *testing.T) {
	// s1 reaches s3 in two hops either way round a ring of four; the
	// neighbour with the lower name (s2) wins. s1-s2 has two parallel links;
	// the lower port wins.
	links := []string{"s1:3 s2:2", "s1:6 s2:5", "s2:3 s3:2", "s3:3 s4:2", "s4:3 s1:2"}
	topo := fabric(t, 4, links...)
	f := topo.Forwarding(nil)
	if got, want := pathString(f, 1, host(t, topo, "h3")), "1:3 2:3 3:1"; got != want {
		t.Errorf("s1 to h3 = %s, want %s", got, want)
	}
	if got, want := pathString(f, 3, host(t, topo, "h1")), "3:2 2:2 1:1"; got != want {
		t.Errorf("s3 to h1 = %s, want %s", got, want)
	}

	// The result must not depend on the order links are written in.
	rng := rand.New(rand.NewSource(1))
	for range 20 {
		shuffled := slices.Clone(links)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		other := fabric(t, 4, shuffled...)
		g := other.Forwarding(nil)
		for _, s := range topo.Switches {
			for _, h := range topo.Hosts {
				if a, b := pathString(f, s.DPID, h), pathString(g, s.DPID, host(t, other, h.Name)); a != b {
					t.Fatalf("links %v: s%d to %s = %s, want %s", shuffled, s.DPID, h.Name, b, a)
				}
			}
		}
	}
}

func TestForwardingLinkDownReroutes(t *testing.T) {
	topo := fabric(t, 3, "s1:2 s2:3", "s2:2 s3:3", "s3:2 s1:3")
	h2 := host(t, topo, "h2")
	state := topo.NewLinkState()
	before := state.Forwarding()
	if got := pathString(before, 1, h2); got != "1:2 2:1" {
		t.Fatalf("s1 to h2 = %s, want the direct link", got)
	}

	if !state.SetPortDown(2, 3) {
		t.Fatal("SetPortDown on a link port reported no change")
	}
	if state.SetPortDown(2, 3) {
		t.Error("SetPortDown twice reported a change")
	}
	if state.SetPortDown(2, 99) {
		t.Error("SetPortDown on a port the topology does not use reported a change")
	}
	after := state.Forwarding()
	if got := pathString(after, 1, h2); got != "1:3 3:3 2:1" {
		t.Errorf("with s1-s2 down, s1 to h2 = %s, want it round via s3", got)
	}
	if before.Equal(after) {
		t.Error("Equal says nothing changed after a reroute")
	}

	if !state.SetPortUp(2, 3) || state.SetPortUp(2, 3) {
		t.Error("SetPortUp should report a change once")
	}
	if !state.Forwarding().Equal(before) {
		t.Error("forwarding after the link came back differs from before")
	}
}

func TestForwardingPartition(t *testing.T) {
	topo := fabric(t, 3, "s1:2 s2:2", "s2:3 s3:2")
	h1, h3 := host(t, topo, "h1"), host(t, topo, "h3")
	state := topo.NewLinkState()
	state.SetPortDown(3, 2) // one end down takes the whole link down
	f := state.Forwarding()
	for _, from := range []uint64{1, 2} {
		if port, ok := f.NextHop(from, h3.MAC); ok {
			t.Errorf("s%d still reaches h3 by port %d across the cut", from, port)
		}
	}
	if f.Reachable(3, h1) {
		t.Error("s3 still reaches h1 across the cut")
	}
	if !f.Reachable(3, h3) || !f.Reachable(1, host(t, topo, "h2")) {
		t.Error("hosts on the same side of the cut became unreachable")
	}
	if got := len(f.Routes(1)); got != 2 {
		t.Errorf("s1 has %d routes, want 2 (h1, h2)", got)
	}

	// A host whose own port is down is absent everywhere, even on its switch.
	state = topo.NewLinkState()
	if !state.SetPortDown(1, 1) {
		t.Fatal("SetPortDown on a host port reported no change")
	}
	f = state.Forwarding()
	for _, s := range topo.Switches {
		if f.Reachable(s.DPID, h1) {
			t.Errorf("s%d reaches h1 whose port is down", s.DPID)
		}
	}
}

func TestForwardingIsolatedSwitch(t *testing.T) {
	topo := fabric(t, 2)
	f := topo.Forwarding(nil)
	if f.Reachable(1, host(t, topo, "h2")) || !f.Reachable(2, host(t, topo, "h2")) {
		t.Error("switches without links should only reach their own hosts")
	}
}
