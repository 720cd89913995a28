package ovs

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Netns is a host: a network namespace whose eth0 is one end of a veth
// pair, the other end plugged into a bridge port.
type Netns struct {
	Name string // namespace name
	Peer string // the bridge end of the veth pair
}

// AddNetns makes namespace name with eth0 on port ofport of b, the given
// MAC and addresses (with prefix length), and nothing else: no static
// neighbor entries, IPv6 duplicate address detection and router
// advertisements off, TX checksum offload off (the userspace datapath
// does not complete offloaded checksums). It is removed when t ends.
func AddNetns(t testing.TB, b *Bridge, name string, ofport int, mac string, addrs ...string) *Netns {
	t.Helper()
	n := &Netns{Name: name, Peer: "v-" + name}
	if len(n.Peer) > 15 {
		t.Fatalf("namespace name %q too long for an interface name", name)
	}
	exec.Command("ip", "netns", "del", name).Run()
	exec.Command("ip", "link", "del", n.Peer).Run()
	Run(t, "ip", "netns", "add", name)
	t.Cleanup(func() {
		n.killAll()
		exec.Command("ip", "netns", "del", name).Run()
		exec.Command("ip", "link", "del", n.Peer).Run()
	})
	Run(t, "ip", "link", "add", n.Peer, "type", "veth", "peer", "name", "eth0", "netns", name)
	Run(t, "ip", "link", "set", n.Peer, "up")
	n.Run(t, "ip", "link", "set", "lo", "up")
	n.Run(t, "ip", "link", "set", "eth0", "address", mac)
	n.Run(t, "sysctl", "-qw", "net.ipv6.conf.eth0.accept_dad=0", "net.ipv6.conf.eth0.accept_ra=0")
	n.Run(t, "ethtool", "-K", "eth0", "tx", "off")
	n.Run(t, "ip", "link", "set", "eth0", "up")
	for _, a := range addrs {
		args := []string{"ip", "addr", "add", a, "dev", "eth0"}
		if strings.Contains(a, ":") {
			args = append(args, "nodad")
		}
		n.Run(t, args...)
	}
	Run(t, "ovs-vsctl", "add-port", b.Name, n.Peer, "--", "set", "interface", n.Peer, fmt.Sprintf("ofport_request=%d", ofport))
	return n
}

// Run runs a command in the namespace and returns its output; it fails t
// with the command's own error output if it fails.
func (n *Netns) Run(t testing.TB, args ...string) string {
	t.Helper()
	return Run(t, "ip", append([]string{"netns", "exec", n.Name}, args...)...)
}

// Output runs a command in the namespace with a deadline and returns its
// combined output and error, for commands whose failure is a result.
func (n *Netns) Output(timeout time.Duration, stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.Name}, args...)...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Start runs a long-lived command in the namespace; it is killed when t
// ends. Its output goes to the returned buffer.
func (n *Netns) Start(t testing.TB, args ...string) *Daemon {
	t.Helper()
	return StartSixgate(t, "ip", append([]string{"netns", "exec", n.Name}, args...)...)
}

func (n *Netns) killAll() {
	out, _ := exec.Command("ip", "netns", "pids", n.Name).Output()
	for _, pid := range strings.Fields(string(out)) {
		exec.Command("kill", "-9", pid).Run()
	}
}

// Neighbors returns the namespace's neighbor table as `ip neigh` prints it.
func (n *Netns) Neighbors(t testing.TB) string {
	t.Helper()
	return n.Run(t, "ip", "neigh", "show")
}

// AddEnginePort cables an interface for sixgate's port mode to the bridge:
// a veth pair in the root namespace, where sixgate runs, iface on sixgate's
// side and iface+"p" on port ofport of b. Every offload is off on both ends
// (the userspace datapath and the engine want whole frames with their
// checksums) and IPv6 is off on iface, whose kernel would otherwise send
// its own solicitations into the switch. The pair is removed when t ends.
func AddEnginePort(t testing.TB, b *Bridge, iface string, ofport int) {
	t.Helper()
	peer := iface + "p"
	exec.Command("ip", "link", "del", iface).Run()
	Run(t, "ip", "link", "add", iface, "type", "veth", "peer", "name", peer)
	t.Cleanup(func() { exec.Command("ip", "link", "del", iface).Run() })
	Run(t, "sysctl", "-qw", "net.ipv6.conf."+iface+".disable_ipv6=1")
	for _, dev := range []string{iface, peer} {
		Run(t, "ethtool", "-K", dev, "tx", "off", "rx", "off", "gro", "off", "gso", "off", "tso", "off")
		Run(t, "ip", "link", "set", dev, "up")
	}
	Run(t, "ovs-vsctl", "add-port", b.Name, peer, "--", "set", "interface", peer, fmt.Sprintf("ofport_request=%d", ofport))
}

// AddInternalPort gives the machine itself (the root namespace, where
// sixgate runs) an address on the fabric: an Open vSwitch internal port
// iface on port ofport of b, with the given MAC and addresses, IPv6
// duplicate address detection and router advertisements off, TX checksum
// offload off. The topology declares it as a host. It is removed when t
// ends.
func AddInternalPort(t testing.TB, b *Bridge, iface string, ofport int, mac string, addrs ...string) {
	t.Helper()
	exec.Command("ip", "link", "del", iface).Run()
	Run(t, "ovs-vsctl", "add-port", b.Name, iface, "--", "set", "interface", iface, "type=internal", fmt.Sprintf("ofport_request=%d", ofport))
	t.Cleanup(func() { exec.Command("ovs-vsctl", "--timeout=5", "--if-exists", "del-port", iface).Run() })
	Run(t, "ip", "link", "set", iface, "address", mac)
	Run(t, "sysctl", "-qw", "net.ipv6.conf."+iface+".accept_dad=0", "net.ipv6.conf."+iface+".accept_ra=0")
	Run(t, "ethtool", "-K", iface, "tx", "off")
	Run(t, "ip", "link", "set", iface, "up")
	for _, a := range addrs {
		args := []string{"addr", "add", a, "dev", iface}
		if strings.Contains(a, ":") {
			args = append(args, "nodad")
		}
		Run(t, "ip", args...)
	}
}
