package ovs

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Link is a cable between two bridges: a veth pair whose ends are bridge
// ports. A veth end that goes down takes its peer's carrier with it, as
// pulling a real cable would, so both switches report the link down.
type Link struct {
	A, B string // interface names of the two ends
}

// AddLink connects port aPort of a to port bPort of b with a veth pair
// named name+"a" and name+"b" (name at most 14 bytes). Patch ports would be
// simpler but do not join bridges of the userspace datapath the way a
// cable does; a veth pair does. It is deleted when t ends.
func AddLink(t testing.TB, name string, a *Bridge, aPort int, b *Bridge, bPort int) *Link {
	t.Helper()
	l := &Link{A: name + "a", B: name + "b"}
	if len(l.A) > 15 {
		t.Fatalf("link name %q too long for an interface name", name)
	}
	exec.Command("ip", "link", "del", l.A).Run()
	Run(t, "ip", "link", "add", l.A, "type", "veth", "peer", "name", l.B)
	t.Cleanup(func() { exec.Command("ip", "link", "del", l.A).Run() })
	for _, end := range []struct {
		br   *Bridge
		dev  string
		port int
	}{{a, l.A, aPort}, {b, l.B, bPort}} {
		// The bridge sends whole frames itself; offloads would leave
		// checksums for a NIC that is not there.
		exec.Command("ethtool", "-K", end.dev, "tx", "off").Run()
		Run(t, "ip", "link", "set", end.dev, "up")
		Run(t, "ovs-vsctl", "add-port", end.br.Name, end.dev, "--", "set", "interface", end.dev, fmt.Sprintf("ofport_request=%d", end.port))
	}
	return l
}

// Down takes the A end of the link down, cutting it.
func (l *Link) Down(t testing.TB) { t.Helper(); Run(t, "ip", "link", "set", l.A, "down") }

// Up brings the A end back.
func (l *Link) Up(t testing.TB) { t.Helper(); Run(t, "ip", "link", "set", l.A, "up") }

// Ping sends one echo request to addr (IPv4 or IPv6) and waits up to
// timeout for the reply; the error carries ping's output.
func (n *Netns) Ping(addr string, timeout time.Duration) error {
	w := strconv.FormatFloat(timeout.Seconds(), 'f', 3, 64)
	out, err := n.Output(timeout+2*time.Second, "", "ping", "-n", "-q", "-c", "1", "-W", w, addr)
	if err != nil {
		return fmt.Errorf("%s: ping %s: %v: %s", n.Name, addr, err, strings.TrimSpace(out))
	}
	return nil
}

// PingUntil pings addr until a reply comes or within passes, with a
// per-attempt timeout of every; it returns how long that took and how many
// echo requests it sent.
func (n *Netns) PingUntil(addr string, every, within time.Duration) (time.Duration, int, error) {
	start := time.Now()
	var err error
	attempt := 0
	for attempt < 1000 && time.Since(start) < within {
		attempt++
		if err = n.Ping(addr, every); err == nil {
			return time.Since(start), attempt, nil
		}
	}
	return time.Since(start), attempt, fmt.Errorf("no reply within %v after %d echo requests: %w", within, attempt, err)
}

// NeighborEntry is one entry of a namespace's neighbor table.
type NeighborEntry struct {
	Dst    string   `json:"dst"`
	LLAddr string   `json:"lladdr"`
	State  []string `json:"state"`
}

// Permanent reports whether the entry was added by hand (ip neigh add).
func (e NeighborEntry) Permanent() bool { return slices.Contains(e.State, "PERMANENT") }

// NeighborEntries returns the neighbor table of eth0, IPv4 and IPv6.
func (n *Netns) NeighborEntries(t testing.TB) []NeighborEntry {
	t.Helper()
	var es []NeighborEntry
	if err := json.Unmarshal([]byte(n.Run(t, "ip", "-j", "neigh", "show", "dev", "eth0")), &es); err != nil {
		t.Fatalf("%s: ip -j neigh: %v", n.Name, err)
	}
	return es
}

// PacketCount sums the packet counters of the bridge's flows with exactly
// this cookie.
func (b *Bridge) PacketCount(t testing.TB, cookie uint64) uint64 {
	t.Helper()
	out := Run(t, "ovs-ofctl", "-O", "OpenFlow13", "dump-flows", b.Name, fmt.Sprintf("cookie=%#x/-1", cookie))
	var sum uint64
	for _, m := range regexp.MustCompile(`n_packets=(\d+)`).FindAllStringSubmatch(out, -1) {
		n, _ := strconv.ParseUint(m[1], 10, 64)
		sum += n
	}
	return sum
}
