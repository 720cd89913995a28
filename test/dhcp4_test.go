package test

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/sixgate/sixgate/api"
	"github.com/sixgate/sixgate/ha/etcdtest"
	"github.com/sixgate/sixgate/test/ovs"
)

// dhcp4Fabric: one switch; "six" runs dhcpcd asking for option 108,
// "four" the same dhcpcd without it, "legacy" busybox udhcpc, and
// "pinger" has the address the model gives it.
const dhcp4Fabric = `
controller:
  listen: "tcp:127.0.0.1:PORT"
  http: "off"
switches: [{name: s1, dpid: "0x1"}]
hosts:
  - {name: six, switch: s1, port: 1, mac: "00:00:0e:00:00:01"}
  - {name: four, switch: s1, port: 2, mac: "00:00:0e:00:00:02"}
  - {name: legacy, switch: s1, port: 3, mac: "00:00:0e:00:00:03"}
  - {name: pinger, switch: s1, port: 4, mac: "00:00:0e:00:00:04", ipv4: ["192.0.2.10/24"]}
gateways:
  - {name: gw, mac: "00:00:0e:00:00:fe", ipv4: ["192.0.2.1/24"]}
dhcp4:
  lease_file: LEASES
  pref64: "64:ff9b::/96"
  subnets:
    - prefix: "192.0.2.0/24"
      pool: "192.0.2.100-192.0.2.199"
      router: "192.0.2.1"
      dns: ["192.0.2.53"]
      lease: 10m
      ipv6_only_preferred: 300s
`

// dhcpcdConf is dhcpcd's configuration without hooks: it only takes an
// address. EXTRA is where the test adds ipv6_only_preferred.
const dhcpcdConf = `
# Only what the test needs: no hooks, no host name, no resolv.conf.
option subnet_mask, routers, domain_name_servers
EXTRA
`

// privateDirs runs a command with dhcpcd's state directories on empty
// tmpfs mounts of its own, so that clients in several namespaces (all on
// an interface named eth0) share no pid or lease file with each other,
// with an earlier run, or with the machine.
func privateDirs(cmd string) []string {
	return []string{"unshare", "-m", "--propagation", "private", "sh", "-c",
		"mkdir -p /run/dhcpcd && mount -t tmpfs none /run/dhcpcd && mount -t tmpfs none /var/lib/dhcpcd && exec " + cmd}
}

// killNetnsProcesses sends SIGKILL to every process in namespace name.
func killNetnsProcesses(name string) {
	out, _ := exec.Command("ip", "netns", "pids", name).Output()
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// ipv4Of returns the IPv4 addresses on a namespace's eth0.
func ipv4Of(t *testing.T, n *ovs.Netns) []string {
	out := n.Run(t, "ip", "-4", "-o", "addr", "show", "dev", "eth0")
	var addrs []string
	for _, m := range regexp.MustCompile(`inet (\d+\.\d+\.\d+\.\d+)/`).FindAllStringSubmatch(out, -1) {
		addrs = append(addrs, m[1])
	}
	return addrs
}

// udhcpcLease runs busybox udhcpc once on a namespace's eth0, with a
// script that takes the address and nothing else (no route, no
// resolv.conf), and returns the one IPv4 address eth0 then has.
func udhcpcLease(t *testing.T, n *ovs.Netns) (string, error) {
	t.Helper()
	script := ovs.WriteFile(t, "udhcpc.sh", `#!/bin/sh
# Takes the address and nothing else.
[ "$1" = bound ] && ip addr add "$ip/$mask" dev "$interface"
exit 0
`)
	if err := os.Chmod(script, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := n.Output(20*time.Second, "", "udhcpc", "-f", "-q", "-n", "-t", "5", "-T", "1", "-i", "eth0", "-s", script); err != nil {
		return "", fmt.Errorf("udhcpc in %s: %v\n%s", n.Name, err, out)
	}
	a := ipv4Of(t, n)
	if len(a) != 1 {
		return "", fmt.Errorf("udhcpc in %s: addresses %v, want one", n.Name, a)
	}
	return a[0], nil
}

// capture runs tcpdump on a namespace's eth0 for DHCP.
func capture(t *testing.T, n *ovs.Netns) (*ovs.Daemon, string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), n.Name+".pcap")
	d := n.Start(t, "tcpdump", "-i", "eth0", "-U", "-n", "-w", file, "udp port 67 or udp port 68")
	if !ovs.Wait(5*time.Second, func() bool { return strings.Contains(d.Logs(), "listening on") }) {
		t.Fatalf("tcpdump did not start: %s", d.Logs())
	}
	return d, file
}

// serverReplies reads the DHCP replies in a capture, each decoded by
// gopacket (checksums checked) and dhcpv4.
func serverReplies(t *testing.T, file string) []*dhcpv4.DHCPv4 {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out []*dhcpv4.DHCPv4
	for i := 0; i < 1000; i++ {
		data, _, err := r.ReadPacketData()
		if err != nil {
			break
		}
		pkt := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
		ip, _ := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		udp, _ := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if ip == nil || udp == nil || udp.SrcPort != 67 {
			continue
		}
		udp.SetNetworkLayerForChecksum(ip)
		if err, bad := pkt.VerifyChecksums(); err != nil || len(bad) > 0 {
			t.Errorf("reply with a bad checksum: %v %v", err, bad)
		}
		m, err := dhcpv4.FromBytes(udp.Payload)
		if err != nil {
			t.Errorf("reply does not decode: %v", err)
			continue
		}
		out = append(out, m)
	}
	return out
}

// TestDHCP4RealClients: dhcpcd asking for option 108 hears it and takes
// no IPv4 address; dhcpcd without it and busybox udhcpc get leases from
// the pool; the pinger reaches udhcpc's leased address (the neighbor app
// answers ARP for it); captures show option 108 never went to the clients
// that did not ask.
func TestDHCP4RealClients(t *testing.T) {
	ovs.Require(t)
	requireTools(t, "dhcpcd", "udhcpc", "tcpdump", "unshare")
	start := time.Now()
	bin := ovs.BuildSixgate(t)
	port := freePort(t)
	leases := filepath.Join(t.TempDir(), "dhcp4.leases")
	cfg := strings.NewReplacer("PORT", fmt.Sprint(port), "LEASES", leases).Replace(dhcp4Fabric)
	config := ovs.WriteFile(t, "dhcp4.yaml", cfg)
	br := ovs.NewBridge(t, "sgdh", 1, fmt.Sprintf("tcp:127.0.0.1:%d", port))
	six := ovs.AddNetns(t, br, "sgdh-six", 1, "00:00:0e:00:00:01")
	four := ovs.AddNetns(t, br, "sgdh-four", 2, "00:00:0e:00:00:02")
	legacy := ovs.AddNetns(t, br, "sgdh-leg", 3, "00:00:0e:00:00:03")
	pinger := ovs.AddNetns(t, br, "sgdh-ping", 4, "00:00:0e:00:00:04", "192.0.2.10/24")
	d := ovs.StartSixgate(t, bin, "-config", config)
	if !ovs.Wait(20*time.Second, func() bool { return strings.Contains(strings.Join(br.DumpFlows(t), "\n"), "tp_dst=67") }) {
		t.Fatalf("no DHCP flow:\n%s\n%s", join(br.DumpFlows(t)), d.Logs())
	}
	t.Logf("sixgate ready after %v", time.Since(start).Round(time.Millisecond))

	capFour, fileFour := capture(t, four)
	capLegacy, fileLegacy := capture(t, legacy)

	sixConf := ovs.WriteFile(t, "six.conf", strings.Replace(dhcpcdConf, "EXTRA", "option ipv6_only_preferred", 1))
	fourConf := ovs.WriteFile(t, "four.conf", strings.Replace(dhcpcdConf, "EXTRA", "", 1))
	dSix := six.Start(t, privateDirs("dhcpcd -4 -B -d -f "+sixConf+" -c /bin/true eth0")...)
	dFour := four.Start(t, privateDirs("dhcpcd -4 -B -d -f "+fourConf+" -c /bin/true eth0")...)
	// dhcpcd forks helpers (privilege separation) that keep its output
	// open and outlive a signal to the main process: end every process in
	// the two namespaces, by pid, before the daemons' own cleanups wait
	// for that output to close.
	t.Cleanup(func() {
		for _, n := range []*ovs.Netns{six, four} {
			killNetnsProcesses(n.Name)
		}
	})
	leased, err := udhcpcLease(t, legacy)
	if err != nil {
		t.Fatalf("%v\n%s", err, d.Logs())
	}
	if a := netip.MustParseAddr(leased); a.Compare(netip.MustParseAddr("192.0.2.100")) < 0 || a.Compare(netip.MustParseAddr("192.0.2.199")) > 0 {
		t.Fatalf("udhcpc leased %s, outside the pool", a)
	}
	t.Logf("udhcpc leased %s after %v", leased, time.Since(start).Round(time.Millisecond))
	if _, n, err := pinger.PingUntil(leased, time.Second, 10*time.Second); err != nil {
		t.Fatalf("pinger -> udhcpc at %s: %v", leased, err)
	} else {
		t.Logf("pinger reached %s with %d echo requests", leased, n)
	}

	if !ovs.Wait(20*time.Second, func() bool { return len(ipv4Of(t, four)) == 1 }) {
		t.Fatalf("dhcpcd without option 108 got no address:\n%s", dFour.Logs())
	}
	t.Logf("dhcpcd (no option 108) leased %v after %v", ipv4Of(t, four), time.Since(start).Round(time.Millisecond))

	if !ovs.Wait(20*time.Second, func() bool { return strings.Contains(dSix.Logs(), "IPv6-Only Preferred received") }) {
		t.Fatalf("dhcpcd with option 108 did not hear it:\n%s", dSix.Logs())
	}
	// It waits V6ONLY_WAIT without an address; the others have theirs,
	// so a second of quiet is enough to see it took none.
	time.Sleep(time.Second)
	if a := ipv4Of(t, six); len(a) != 0 {
		t.Errorf("dhcpcd with option 108 took %v", a)
	}
	if dSix.Wait(0) != -1 {
		t.Errorf("dhcpcd with option 108 exited instead of waiting:\n%s", dSix.Logs())
	}

	capFour.Stop()
	capLegacy.Stop()
	for name, file := range map[string]string{"dhcpcd without option 108": fileFour, "udhcpc": fileLegacy} {
		replies := serverReplies(t, file)
		acks := 0
		for _, r := range replies {
			if _, has := r.IPv6OnlyPreferred(); has {
				t.Errorf("%s was sent option 108: %v", name, r)
			}
			if r.MessageType() == dhcpv4.MessageTypeAck {
				acks++
			}
		}
		if acks == 0 {
			t.Errorf("no ACK captured for %s (%d replies)", name, len(replies))
		}
	}
	if data, err := os.ReadFile(leases); err != nil || !strings.Contains(string(data), leased) {
		t.Errorf("lease file: %v\n%s", err, data)
	}
	t.Logf("done in %v", time.Since(start).Round(time.Millisecond))
}

// Two instances with ha on one bridge: udhcpc takes a lease from the
// master, the master is killed, and the new master renews the same
// address (SIGUSR1 makes udhcpc renew at once, unicast with ciaddr) and
// refuses it to another client that asks for it: the lease came from
// etcd, not from the new master's own table.
func TestHADHCP4RenewAcrossFailover(t *testing.T) {
	ovs.Require(t)
	requireTools(t, "udhcpc")
	begin := time.Now()
	srv := etcdtest.Start(t)
	bin := ovs.BuildSixgate(t)
	leasesDir := t.TempDir()
	var ins []*haInstance
	var targets []string
	for _, name := range []string{"a", "b"} {
		port, httpAddr := freePort(t), fmt.Sprintf("127.0.0.1:%d", freePort(t))
		cfg := strings.NewReplacer("PORT", fmt.Sprint(port), "LEASES", filepath.Join(leasesDir, name+".leases"),
			`http: "off"`, fmt.Sprintf("http: %q", httpAddr)).Replace(dhcp4Fabric)
		cfg += fmt.Sprintf("ha:\n  etcd: [%q]\n  lease: %v\n  name: %s\n  prefix: /sixgate/dhcp4ha\n", srv.Endpoint(), haLease, name)
		ins = append(ins, &haInstance{name: name, config: ovs.WriteFile(t, name+".yaml", cfg), http: httpAddr, bin: bin})
		targets = append(targets, fmt.Sprintf("tcp:127.0.0.1:%d", port))
	}
	a, b := ins[0], ins[1]
	br := ovs.NewBridge(t, "sgdha", 1, targets[0])
	ovs.Run(t, "ovs-vsctl", append([]string{"set-controller", br.Name}, targets...)...)
	legacy := ovs.AddNetns(t, br, "sgdha-leg", 3, "00:00:0e:00:00:03")
	other := ovs.AddNetns(t, br, "sgdha-four", 2, "00:00:0e:00:00:02")
	a.start(t)
	if !ovs.Wait(20*time.Second, func() bool { return a.healthz(api.PathHealthzMaster) == 200 && a.switchRole() == "master" }) {
		t.Fatalf("a did not become master:\n%s", a.d.Logs())
	}
	b.start(t)
	if !ovs.Wait(20*time.Second, func() bool { return b.switchRole() == "slave" }) {
		t.Fatalf("b not a slave on the bridge:\n%s", b.d.Logs())
	}
	if !ovs.Wait(20*time.Second, func() bool { return strings.Contains(join(br.DumpFlows(t)), "tp_dst=67") }) {
		t.Fatalf("no DHCP flow:\n%s", join(br.DumpFlows(t)))
	}

	events := filepath.Join(t.TempDir(), "events")
	script := ovs.WriteFile(t, "udhcpc-ha.sh", `#!/bin/sh
# Records each event and takes the address, nothing else.
echo "$1 $ip" >> `+events+`
[ "$1" = bound ] && ip addr add "$ip/$mask" dev "$interface"
exit 0
`)
	if err := os.Chmod(script, 0o755); err != nil {
		t.Fatal(err)
	}
	client := legacy.Start(t, "udhcpc", "-f", "-t", "5", "-T", "1", "-i", "eth0", "-s", script)
	eventLines := func() string { b, _ := os.ReadFile(events); return string(b) }
	if !ovs.Wait(15*time.Second, func() bool { return len(ipv4Of(t, legacy)) == 1 }) {
		t.Fatalf("udhcpc got no lease: %q\n%s\n%s", eventLines(), client.Logs(), a.d.Logs())
	}
	leased := ipv4Of(t, legacy)[0]
	t.Logf("udhcpc leased %s from a", leased)

	a.d.Kill()
	killed := time.Now()
	if !ovs.Wait(haLease+haOutageBound, func() bool { return b.healthz(api.PathHealthzMaster) == 200 && b.switchRole() == "master" }) {
		t.Fatalf("b not master %v after a's death:\n%s", haLease+haOutageBound, b.d.Logs())
	}
	t.Logf("b master %v after a's death", time.Since(killed).Round(time.Millisecond))

	// Another client asking for that address gets another one.
	if out, err := other.Output(20*time.Second, "", "udhcpc", "-f", "-q", "-n", "-t", "5", "-T", "1", "-i", "eth0", "-r", leased, "-s", "/bin/true"); err != nil {
		t.Fatalf("second client: %v\n%s\n%s", err, out, b.d.Logs())
	} else if !strings.Contains(out, "lease of ") || strings.Contains(out, "lease of "+leased+" ") {
		t.Fatalf("second client, asking for %s held by the first:\n%s", leased, out)
	}

	renewed := time.Now()
	if err := client.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	if !ovs.Wait(10*time.Second, func() bool { return strings.Contains(eventLines(), "renew "+leased) }) {
		t.Fatalf("no renewal of %s from b: %q\n%s\n%s", leased, eventLines(), client.Logs(), b.d.Logs())
	}
	t.Logf("renewed %s from b in %v; test took %v", leased, time.Since(renewed).Round(time.Millisecond), time.Since(begin).Round(time.Millisecond))
	if n := strings.Count(eventLines(), "bound "); n != 1 {
		t.Errorf("udhcpc bound %d times, want once: %q", n, eventLines())
	}
}
