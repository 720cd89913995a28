package test

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sixgate/sixgate/test/ovs"
)

// TestSpliceEnginePortFailover runs the engine on two engine ports behind
// the switch's select group: connections spread over both; one port's link
// is cut while long-lived connections are exchanging requests; those
// connections go on over the other port without reconnecting (the engine's
// table is one for both ports), and every new connection is served by the
// port left. When the link comes back, the port takes connections again.
func TestSpliceEnginePortFailover(t *testing.T) {
	l := newSeedLabIn(t, portPairMode)
	received := func(iface string) float64 {
		return l.metric(t, fmt.Sprintf(`sixgate_splice46_port_frames_total{event="received",interface=%q}`, iface))
	}

	// Long-lived connections: each curl makes its requests one after the
	// other on one kept-alive connection, five a second, and prints the
	// client port the server saw and whether it had to connect again.
	const conns, requests = 8, 25
	url := "http://10.0.0.42:8080/"
	args := []string{"netns", "exec", l.h3.Name, "curl", "-sS", "--max-time", "40", "--rate", "5/s",
		"-H", "Host: a.example", "-w", "\nconnects=%{num_connects} code=%{http_code}\n"}
	for range requests {
		args = append(args, url)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	outs := make([]string, conns)
	errs := make([]error, conns)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
			outs[i], errs[i] = string(out), err
		}()
	}

	// Both ports carry some of them before the cut.
	if !ovs.Wait(15*time.Second, func() bool {
		return l.metric(t, `sixgate_proxy46_connections{state="established"}`) >= conns &&
			received(engineIface) > 0 && received(engineIface2) > 0
	}) {
		t.Fatalf("before the cut: %v connections established, %v frames on %s and %v on %s; want %d connections over both ports",
			l.metric(t, `sixgate_proxy46_connections{state="established"}`), received(engineIface), engineIface,
			received(engineIface2), engineIface2, conns)
	}
	t.Logf("before the cut: %v frames on %s, %v on %s", received(engineIface), engineIface, received(engineIface2), engineIface2)

	// Cut the first port's link: the engine's end goes down, and with it
	// the switch's end (a veth pair), so the select group skips its bucket.
	ovs.Run(t, "ip", "link", "set", engineIface, "down")
	cut := time.Now()
	linkState := func() string {
		return strings.TrimSpace(ovs.Run(t, "ovs-vsctl", "get", "interface", engineIface+"p", "link_state"))
	}
	if !ovs.Wait(10*time.Second, func() bool { return linkState() == "down" }) {
		t.Fatalf("the switch still sees port %d %s", enginePort, linkState())
	}
	before, cutAt := received(engineIface2), received(engineIface)

	// New connections: every one is answered, through the port left.
	const fresh = 20
	for i := range fresh {
		out, err := l.client(20*time.Second, "", "curl", "-sS", "--max-time", "15", "-H", "Host: a.example", url)
		if err != nil || !strings.Contains(out, "h1: Host a.example from [2001:db8:ffff::a00:3]") {
			t.Errorf("new connection %d after the cut: %q (%v)", i, out, err)
		}
	}
	if after := received(engineIface2); after-before < fresh*4 {
		t.Errorf("%s received %v frames for %d new connections, want at least %d", engineIface2, after-before, fresh, fresh*4)
	}
	if got := received(engineIface); got != cutAt {
		t.Errorf("%s received %v frames while its link was down", engineIface, got-cutAt)
	}

	// The long-lived connections finish their requests on the connection
	// they started with.
	wg.Wait()
	port := regexp.MustCompile(`from \[2001:db8:ffff::a00:3\]:(\d+) `)
	for i := range conns {
		if errs[i] != nil {
			t.Errorf("long-lived connection %d: %v: %s", i, errs[i], outs[i])
			continue
		}
		ports := map[string]bool{}
		for _, m := range port.FindAllStringSubmatch(outs[i], -1) {
			ports[m[1]] = true
		}
		if n := strings.Count(outs[i], "code=200"); n != requests {
			t.Errorf("long-lived connection %d: %d of %d requests answered:\n%s", i, n, requests, outs[i])
		}
		if strings.Count(outs[i], "connects=1") != 1 || len(ports) != 1 {
			t.Errorf("long-lived connection %d connected %d times from ports %v, want once", i, strings.Count(outs[i], "connects=1"), ports)
		}
	}
	t.Logf("%d long-lived connections kept and %d new ones served within %v of the cut; %v frames on %s in all",
		conns, fresh, time.Since(cut).Round(time.Millisecond), received(engineIface2), engineIface2)

	// The link comes back: the switch uses the port again, and its
	// workers, whose socket reported the link going down, receive again.
	ovs.Run(t, "ip", "link", "set", engineIface, "up")
	if !ovs.Wait(10*time.Second, func() bool { return linkState() == "up" }) {
		t.Fatalf("the switch still sees port %d %s", enginePort, linkState())
	}
	for i := 0; i < fresh && received(engineIface) == cutAt; i++ {
		if out, err := l.client(20*time.Second, "", "curl", "-sS", "--max-time", "15", "-H", "Host: a.example", url); err != nil ||
			!strings.Contains(out, "h1: Host a.example") {
			t.Errorf("connection %d after the link came back: %q (%v)", i, out, err)
		}
	}
	if received(engineIface) == cutAt {
		t.Errorf("%s received nothing after its link came back", engineIface)
	}
}
