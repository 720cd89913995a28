package test

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/sixgate/sixgate/nat64"
	"github.com/sixgate/sixgate/test/ovs"
)

// The NAT64 in the fabric (docs/nat64.md), on a real bridge in each data
// path:
//
//	a6, b6  2001:db8:7::6/64 and ::7/64, IPv6-only, default via the NAT64
//	gw      100.64.0.5/24, the IPv4 gateway: it routes to 198.51.100.0/24
//	        out of its eth1 (no NAT of its own)
//	s       198.51.100.80/24, the IPv4-only server behind gw, not on the
//	        bridge: an HTTP file server, unbound, a TCP echo of the peer
//
// pool4 is 100.64.0.2 (also the NAT64's own IPv4 address), ports 1-3000 for
// UDP and ICMP and 20000-30000 for TCP; the UDP session timeout is 3 s.
const (
	nat64MAC    = "00:00:0d:00:00:64"
	nat64Pool4  = "100.64.0.2"
	nat64Server = "198.51.100.80"
	nat64Srv6   = "64:ff9b::c633:6450" // the server through pool6
	nat64Gw6    = "64:ff9b::6440:5"    // the gateway through pool6
	nat64Iface  = "sgn-eng0"
	nat64Port   = 10
)

const nat64Topology = `controller:
  listen: "tcp:127.0.0.1:%d"
  http: "127.0.0.1:%d"
switches:
  - {name: s1, dpid: "0x1"}
hosts:
  - {name: a6, switch: s1, port: 1, mac: "00:00:0d:00:00:06", ipv6: ["2001:db8:7::6"]}
  - {name: b6, switch: s1, port: 2, mac: "00:00:0d:00:00:07", ipv6: ["2001:db8:7::7"]}
  - {name: gw, switch: s1, port: 3, mac: "00:00:0d:00:00:05", ipv4: ["100.64.0.5"]}
nat64:
  mac: "` + nat64MAC + `"
%s  pool6: "64:ff9b::/96"
  pool4:
    - {address: "` + nat64Pool4 + `", ports: "1-3000", protocols: [udp, icmp]}
    - {address: "` + nat64Pool4 + `", ports: "20000-30000", protocols: [tcp]}
  timeouts: {udp: %s}
  ipv4: {address: "` + nat64Pool4 + `/24", gateway: "100.64.0.5"}
  ipv6: {address: "2001:db8:7::1/64"}
`

type nat64Lab struct {
	mode       dataPath
	http       string
	bin, dir   string
	config     string
	a6, b6, gw *ovs.Netns
	server     *ovs.Netns
	sixgate    *ovs.Daemon
}

func newNAT64Lab(t *testing.T, mode dataPath) *nat64Lab {
	t.Helper()
	return newNAT64LabUDP(t, mode, "3s")
}

// newNAT64LabUDP is the lab with the UDP session timeout udp.
func newNAT64LabUDP(t *testing.T, mode dataPath, udp string) *nat64Lab {
	t.Helper()
	ovs.Require(t)
	requireTools(t, "traceroute", "socat", "curl")
	unbound := requireUnbound(t)
	port, httpPort := freePort(t), freePort(t)
	section := ""
	if mode.onPort() {
		section = fmt.Sprintf("  mode: port\n  ports: [{interface: %q, switch: s1, port: %d}]\n", nat64Iface, nat64Port)
	}
	cfg := ovs.WriteFile(t, "nat64.yaml", fmt.Sprintf(nat64Topology, port, httpPort, section, udp))
	bin := ovs.BuildSixgate(t)
	out, err := exec.Command(bin, "check", "-config", cfg).CombinedOutput()
	if err != nil {
		t.Fatalf("test configuration invalid: %s", out)
	}
	if !strings.Contains(string(out), "below the RFC 6146 minimum") {
		t.Errorf("sixgate check does not warn of the short UDP timeout: %s", out)
	}
	l := &nat64Lab{mode: mode, http: fmt.Sprintf("127.0.0.1:%d", httpPort), bin: bin, dir: t.TempDir(), config: cfg}
	br := ovs.NewBridge(t, "sgn1", 0x1, fmt.Sprintf("tcp:127.0.0.1:%d", port))
	ovs.Run(t, "ovs-vsctl", "set", "controller", br.Name, "controller_queue_size=512")
	if mode.onPort() {
		ovs.AddEnginePort(t, br, nat64Iface, nat64Port)
	}
	l.a6 = ovs.AddNetns(t, br, "sgn-a6", 1, "00:00:0d:00:00:06", "2001:db8:7::6/64")
	l.b6 = ovs.AddNetns(t, br, "sgn-b6", 2, "00:00:0d:00:00:07", "2001:db8:7::7/64")
	l.gw = ovs.AddNetns(t, br, "sgn-gw", 3, "00:00:0d:00:00:05", "100.64.0.5/24")
	for _, h := range []*ovs.Netns{l.a6, l.b6} {
		h.Run(t, "ip", "-6", "route", "add", "default", "via", "2001:db8:7::1", "dev", "eth0")
	}
	l.server = l.serverBehind(t, unbound)
	l.sixgate = ovs.StartSixgate(t, bin, "-config", cfg)
	if !ovs.Wait(20*time.Second, func() bool { return strings.Contains(l.sixgate.Logs(), "flows synced") }) {
		t.Fatalf("sixgate did not sync the bridge:\n%s", l.sixgate.Logs())
	}
	return l
}

// serverBehind makes the server namespace behind gw with its services.
func (l *nat64Lab) serverBehind(t *testing.T, unbound string) *ovs.Netns {
	t.Helper()
	s := &ovs.Netns{Name: "sgn-s"}
	exec.Command("ip", "netns", "del", s.Name).Run()
	ovs.Run(t, "ip", "netns", "add", s.Name)
	t.Cleanup(func() {
		if out, _ := exec.Command("ip", "netns", "pids", s.Name).Output(); len(out) > 0 {
			for _, pid := range strings.Fields(string(out)) {
				exec.Command("kill", "-9", pid).Run()
			}
		}
		exec.Command("ip", "netns", "del", s.Name).Run()
	})
	ovs.Run(t, "ip", "-n", l.gw.Name, "link", "add", "eth1", "type", "veth", "peer", "name", "eth0", "netns", s.Name)
	l.gw.Run(t, "ip", "addr", "add", "198.51.100.1/24", "dev", "eth1")
	l.gw.Run(t, "ip", "link", "set", "eth1", "up")
	l.gw.Run(t, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	s.Run(t, "ip", "link", "set", "lo", "up")
	s.Run(t, "ip", "addr", "add", nat64Server+"/24", "dev", "eth0")
	s.Run(t, "ethtool", "-K", "eth0", "tx", "off")
	s.Run(t, "ip", "link", "set", "eth0", "up")
	s.Run(t, "ip", "route", "add", "default", "via", "198.51.100.1")

	// HTTP: a 20 MB file.
	data := filepath.Join(l.dir, "data")
	b := make([]byte, 20<<20)
	rand.Read(b)
	if err := os.WriteFile(data, b, 0o644); err != nil {
		t.Fatal(err)
	}
	s.Start(t, "socat", "TCP4-LISTEN:8000,bind="+nat64Server+",reuseaddr,fork",
		fmt.Sprintf("SYSTEM:'printf \"HTTP/1.0 200 OK\\r\\nContent-Length: %d\\r\\n\\r\\n\"; cat %s'", len(b), data))
	waitListening(t, s, nat64Server, "8000")
	// TCP and UDP: who the server sees.
	s.Start(t, "socat", "TCP4-LISTEN:8001,bind="+nat64Server+",reuseaddr,fork", "SYSTEM:'echo $SOCAT_PEERADDR:$SOCAT_PEERPORT'")
	waitListening(t, s, nat64Server, "8001")
	s.Start(t, "socat", "UDP4-RECVFROM:8002,bind="+nat64Server+",fork", "SYSTEM:'echo $SOCAT_PEERADDR:$SOCAT_PEERPORT'")
	waitListeningUDP(t, s, nat64Server, "8002")
	// DNS: unbound on the server's address.
	dir := t.TempDir()
	conf := filepath.Join(dir, "unbound.conf")
	cfg := fmt.Sprintf(`server:
  interface: %s
  port: 53
  do-daemonize: no
  username: ""
  chroot: ""
  directory: %q
  pidfile: ""
  use-syslog: no
  logfile: ""
  do-ip6: no
  access-control: 0.0.0.0/0 allow
  module-config: "iterator"
  local-zone: "%s." static
  local-data: "www.%s. A 198.51.100.80"
remote-control:
  control-enable: no
`, nat64Server, dir, dnsZone, dnsZone)
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	s.Start(t, unbound, "-d", "-c", conf)
	waitListeningUDP(t, s, nat64Server, "53")
	return s
}

func TestNAT64Fabric(t *testing.T) {
	for _, mode := range dataPaths {
		t.Run(string(mode), func(t *testing.T) {
			start := time.Now()
			l := newNAT64Lab(t, mode)
			t.Logf("lab up in %v", time.Since(start).Round(time.Millisecond))
			t.Run("ping and traceroute", l.testPing)
			t.Run("http", l.testHTTP)
			t.Run("dns", l.testDNS)
			t.Run("shared pool4", l.testShared)
			t.Run("udp timeout", l.testExpiry)
			t.Logf("%s mode: %v", mode, time.Since(start).Round(time.Millisecond))
		})
	}
}

func (l *nat64Lab) testPing(t *testing.T) {
	if _, n, err := l.a6.PingUntil(nat64Srv6, 2*time.Second, 10*time.Second); err != nil {
		t.Fatalf("a6 -> s: %v\n%s", err, l.diagnose(t))
	} else if n > 2 {
		t.Logf("a6 -> s answered after %d echo requests", n)
	}
	// The NAT64 answers the first hop from its own address, the gateway
	// the second (its error translated through the session), the server
	// the last.
	out, err := l.a6.Output(30*time.Second, "", "traceroute", "-6", "-n", "-q", "1", "-w", "2", "-m", "5", nat64Srv6)
	if err != nil {
		t.Fatalf("traceroute: %v: %s", err, out)
	}
	var hops []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		if f := strings.Fields(line); len(f) >= 2 {
			hops = append(hops, f[1])
		}
	}
	want := []string{"2001:db8:7::1", nat64Gw6, nat64Srv6}
	if strings.Join(hops, " ") != strings.Join(want, " ") {
		t.Errorf("traceroute hops %v, want %v:\n%s", hops, want, out)
	}
}

func (l *nat64Lab) testHTTP(t *testing.T) {
	want := fileSHA256(t, filepath.Join(l.dir, "data"))
	start := time.Now()
	out, err := l.a6.Output(90*time.Second, "", "sh", "-c", fmt.Sprintf("curl -sS -g --max-time 80 http://[%s]:8000/data | sha256sum", nat64Srv6))
	if err != nil {
		t.Fatalf("curl: %v: %s", err, out)
	}
	if got := strings.Fields(out)[0]; got != want {
		t.Errorf("curl of 20 MB: sha256 %s, want %s", got, want)
	}
	t.Logf("20 MB over HTTP in %v", time.Since(start).Round(time.Millisecond))
}

func (l *nat64Lab) testDNS(t *testing.T) {
	m := new(dns.Msg)
	m.SetQuestion("www."+dnsZone+".", dns.TypeA)
	q, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	out, err := l.a6.Output(10*time.Second, string(q), "socat", "-t", "2", "-", fmt.Sprintf("UDP6:[%s]:53", nat64Srv6))
	if err != nil {
		t.Fatalf("DNS query: %v", err)
	}
	r := new(dns.Msg)
	if err := r.Unpack([]byte(out)); err != nil {
		t.Fatalf("DNS answer: %v (%d bytes)", err, len(out))
	}
	if len(r.Answer) != 1 || !strings.Contains(r.Answer[0].String(), nat64Server) {
		t.Errorf("DNS answer %v, want www.%s A %s", r.Answer, dnsZone, nat64Server)
	}
}

// testShared: a6 and b6 connect from the same source port; the server
// sees both from 100.64.0.2, on different ports.
func (l *nat64Lab) testShared(t *testing.T) {
	seen := map[string]bool{}
	for _, h := range []*ovs.Netns{l.a6, l.b6} {
		out, err := h.Output(10*time.Second, "", "socat", "-t", "2", "-", fmt.Sprintf("TCP6:[%s]:8001,sourceport=24000,reuseaddr", nat64Srv6))
		if err != nil {
			t.Fatalf("%s: %v: %s", h.Name, err, out)
		}
		peer := strings.TrimSpace(out)
		if !strings.HasPrefix(peer, nat64Pool4+":") {
			t.Errorf("%s seen as %q, want %s", h.Name, peer, nat64Pool4)
		}
		if seen[peer] {
			t.Errorf("%s seen as %s, as the other host was", h.Name, peer)
		}
		seen[peer] = true
	}
	var bib []nat64.BindingInfo
	l.api(t, "bib", &bib)
	n := 0
	for _, b := range bib {
		if b.Protocol == "tcp" && b.IPv6.Port() == 24000 {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d TCP bindings of port 24000, want 2: %+v", n, bib)
	}
}

// testExpiry: a UDP session goes 3 s after its last packet.
func (l *nat64Lab) testExpiry(t *testing.T) {
	if out, err := l.a6.Output(5*time.Second, "x", "socat", "-u", "-", fmt.Sprintf("UDP6:[%s]:9,sourceport=2500", nat64Srv6)); err != nil {
		t.Fatalf("UDP: %v: %s", err, out)
	}
	has := func() bool {
		var ss []nat64.SessionInfo
		l.api(t, "sessions", &ss)
		for _, s := range ss {
			if s.Protocol == "udp" && s.IPv6Local.Port() == 2500 {
				return true
			}
		}
		return false
	}
	sent := time.Now()
	// In controller mode the datagram reaches sixgate as a packet-in
	// after socat has exited: wait for its session.
	if !ovs.Wait(2*time.Second, has) {
		t.Fatal("no session for the datagram")
	}
	if !ovs.Wait(10*time.Second, func() bool { return !has() }) {
		t.Fatal("the session outlived its 3 s timer by 7 s")
	}
	if took := time.Since(sent); took < 2*time.Second {
		t.Errorf("the session went after %v, before its 3 s timer", took)
	}
}

// diagnose is what explains a failure: the NAT64's metrics, the
// bridge's flows, the neighbors of the hosts.
func (l *nat64Lab) diagnose(t *testing.T) string {
	var b strings.Builder
	if out, err := exec.Command("curl", "-s", "http://"+l.http+"/metrics").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(line, "sixgate_nat64") || strings.HasPrefix(line, "sixgate_neighbor") {
				b.WriteString(line + "\n")
			}
		}
	}
	for _, f := range ovs.Run(t, "ovs-ofctl", "-O", "OpenFlow13", "dump-flows", "sgn1") {
		b.WriteRune(f)
	}
	for _, n := range []*ovs.Netns{l.gw, l.server, l.a6} {
		out, _ := n.Output(5*time.Second, "", "ip", "-br", "link")
		b.WriteString(n.Name + ": " + out)
	}
	b.WriteString(l.gw.Neighbors(t))
	b.WriteString(l.a6.Neighbors(t))
	return b.String()
}

// api reads one of the NAT64's tables through sixgate nat64 -json.
func (l *nat64Lab) api(t *testing.T, table string, v any) {
	t.Helper()
	out, err := exec.Command(l.bin, "nat64", table, "-json", "-http", l.http).Output()
	if err != nil {
		t.Fatalf("sixgate nat64 %s: %v", table, err)
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("sixgate nat64 %s: %v: %s", table, err, out)
	}
}

// 464XLAT with both translators sixgate's: legacy, an IPv4-only host,
// goes through the siit app in the CLAT role toward 64:ff9b::/96; r, an
// IPv6 router, forwards that to the nat64 app (the PLAT), which reaches
// the IPv4 server s behind gw from its pool4 address. Replies come back
// the same way: the NAT64's IPv6 gateway is r, r's neighbor for the CLAT
// address is the siit app.
const clatNAT64Topology = `controller:
  listen: "tcp:127.0.0.1:%d"
  http: "127.0.0.1:%d"
switches:
  - {name: s1, dpid: "0x1"}
hosts:
  - {name: legacy, switch: s1, port: 1, mac: "00:00:0e:00:00:30", ipv4: ["10.77.0.30"]}
  - {name: r, switch: s1, port: 2, mac: "00:00:0e:00:00:64", ipv6: ["2001:db8:8::64"]}
  - {name: gw, switch: s1, port: 3, mac: "00:00:0e:00:00:05", ipv4: ["100.64.2.5"]}
siit:
  mac: "00:00:0e:00:00:99"
  pool6: "64:ff9b:1::/96"
  ipv4: {address: "10.77.0.1/24"}
  ipv6: {address: "2001:db8:8::2/64", gateway: "2001:db8:8::64"}
  clat: [{host: legacy, ipv6: "2001:db8:8::c1a7"}]
  clat_pref64: "64:ff9b::/96"
nat64:
  mac: "00:00:0e:00:00:46"
  pool6: "64:ff9b::/96"
  pool4: [{address: "100.64.2.2", ports: "1-3000"}]
  ipv4: {address: "100.64.2.2/24", gateway: "100.64.2.5"}
  ipv6: {address: "2001:db8:8::1/64", gateway: "2001:db8:8::64"}
`

func TestNAT64WithCLAT(t *testing.T) {
	ovs.Require(t)
	requireTools(t, "socat")
	unbound := requireUnbound(t)
	port, httpPort := freePort(t), freePort(t)
	cfg := ovs.WriteFile(t, "clat-nat64.yaml", fmt.Sprintf(clatNAT64Topology, port, httpPort))
	bin := ovs.BuildSixgate(t)
	if out, err := exec.Command(bin, "check", "-config", cfg).CombinedOutput(); err != nil {
		t.Fatalf("test configuration invalid: %s", out)
	}
	l := &nat64Lab{mode: controllerMode, http: fmt.Sprintf("127.0.0.1:%d", httpPort), bin: bin, dir: t.TempDir()}
	br := ovs.NewBridge(t, "sgc1", 0x1, fmt.Sprintf("tcp:127.0.0.1:%d", port))
	ovs.Run(t, "ovs-vsctl", "set", "controller", br.Name, "controller_queue_size=512")
	legacy := ovs.AddNetns(t, br, "sgc-leg", 1, "00:00:0e:00:00:30", "10.77.0.30/24")
	r := ovs.AddNetns(t, br, "sgc-r", 2, "00:00:0e:00:00:64", "2001:db8:8::64/64")
	l.gw = ovs.AddNetns(t, br, "sgc-gw", 3, "00:00:0e:00:00:05", "100.64.2.5/24")
	legacy.Run(t, "ip", "route", "add", "default", "via", "10.77.0.1", "dev", "eth0")
	r.Run(t, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
	r.Run(t, "ip", "-6", "route", "add", "64:ff9b::/96", "via", "2001:db8:8::1", "dev", "eth0")
	l.server = l.serverBehind(t, unbound)
	l.sixgate = ovs.StartSixgate(t, bin, "-config", cfg)
	if !ovs.Wait(20*time.Second, func() bool { return strings.Contains(l.sixgate.Logs(), "flows synced") }) {
		t.Fatalf("sixgate did not sync the bridge:\n%s", l.sixgate.Logs())
	}
	if _, _, err := legacy.PingUntil(nat64Server, 2*time.Second, 10*time.Second); err != nil {
		t.Fatalf("legacy -> s: %v", err)
	}
	out, err := legacy.Output(10*time.Second, "", "socat", "-t", "2", "-", "TCP4:"+nat64Server+":8001")
	if err != nil || !strings.HasPrefix(strings.TrimSpace(out), "100.64.2.2:") {
		t.Errorf("legacy -> s over TCP: the server saw %q (%v), want the pool4 address", out, err)
	}
	out, err = legacy.Output(90*time.Second, "", "sh", "-c", "curl -sS --max-time 80 http://"+nat64Server+":8000/data | sha256sum")
	if want := fileSHA256(t, filepath.Join(l.dir, "data")); err != nil || strings.Fields(out)[0] != want {
		t.Errorf("legacy's curl of 20 MB through CLAT and NAT64: %q (%v), want sha256 %s", out, err, want)
	}
	var ss []nat64.SessionInfo
	l.api(t, "sessions", &ss)
	found := false
	for _, s := range ss {
		found = found || s.IPv6Local.Addr().String() == "2001:db8:8::c1a7"
	}
	if !found {
		t.Errorf("no NAT64 session of the CLAT address: %+v", ss)
	}
}

// TestNAT64Handover restarts sixgate through the hand-over (docs/operations.md)
// in each data path while a6 downloads 20 MB from the IPv4 server, rate
// limited so the hand-over falls in its middle: the download arrives
// intact (sha256), and a UDP session keeps its pool4 address and port (its
// source port is outside pool4's UDP range, so that a new binding would
// most likely get another port).
func TestNAT64Handover(t *testing.T) {
	for _, mode := range dataPaths {
		t.Run(string(mode), func(t *testing.T) {
			start := time.Now()
			l := newNAT64LabUDP(t, mode, "60s")
			l.testHandover(t)
			t.Logf("%s mode: %v", mode, time.Since(start).Round(time.Millisecond))
		})
	}
}

func (l *nat64Lab) testHandover(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "handover.sock")
	if code := l.sixgate.Stop(); code != 0 {
		t.Fatalf("SIGTERM: exit %d", code)
	}
	l.sixgate = ovs.StartSixgate(t, l.bin, "-config", l.config, "-handover", sock)
	if !ovs.Wait(20*time.Second, func() bool { return strings.Contains(l.sixgate.Logs(), "flows synced") }) {
		t.Fatalf("sixgate did not sync the bridge:\n%s", l.sixgate.Logs())
	}
	old := l.sixgate

	// The UDP session: who the server sees.
	// One datagram and its answer, tried three times: a datagram lost on
	// a busy machine is not what this test is about, the binding is.
	udpPeer := func() string {
		for range 3 {
			out, err := l.a6.Output(5*time.Second, "x", "socat", "-t", "2", "-", fmt.Sprintf("UDP6:[%s]:8002,sourceport=40000", nat64Srv6))
			if err != nil {
				t.Fatalf("UDP: %v: %s", err, out)
			}
			if out = strings.TrimSpace(out); out != "" {
				return out
			}
		}
		return ""
	}
	udpBefore := udpPeer()
	if !strings.HasPrefix(udpBefore, nat64Pool4+":") {
		t.Fatalf("UDP from a6 seen as %q, want %s", udpBefore, nat64Pool4)
	}

	want := fileSHA256(t, filepath.Join(l.dir, "data"))
	// A download the hand-over broke would hold the server's socat child
	// (and its output pipe) until TCP gives up: end it first.
	t.Cleanup(func() {
		out, _ := exec.Command("ip", "netns", "pids", l.server.Name).Output()
		for _, pid := range strings.Fields(string(out)) {
			exec.Command("kill", "-9", pid).Run()
		}
	})
	download := make(chan string, 1)
	go func() {
		out, err := l.a6.Output(60*time.Second, "", "sh", "-c",
			fmt.Sprintf("curl -sS -g --max-time 50 --limit-rate 4M http://[%s]:8000/data | sha256sum", nat64Srv6))
		if err != nil {
			out += err.Error()
		}
		download <- out
	}()
	// The download is under way once its session is established and a
	// second has passed.
	established := func() bool {
		var ss []nat64.SessionInfo
		if l.tryAPI("sessions", &ss) != nil {
			return false
		}
		for _, s := range ss {
			if s.Protocol == "tcp" && s.IPv4Remote.Port() == 8000 && s.State == "ESTABLISHED" {
				return true
			}
		}
		return false
	}
	if !ovs.Wait(10*time.Second, established) {
		t.Fatal("the download did not start")
	}
	time.Sleep(time.Second) // a few MB in: the hand-over falls in the middle

	started := time.Now()
	l.sixgate = ovs.StartSixgate(t, l.bin, "-config", l.config, "-handover", sock)
	if code := old.Wait(30 * time.Second); code != 0 {
		t.Fatalf("old process: exit %d after the hand-over, want 0:\n%s", code, old.Logs())
	}
	took := time.Since(started)
	select {
	case out := <-download:
		t.Fatalf("the download ended before the hand-over (%q): the rate limit is too high", out)
	default:
	}
	if !strings.Contains(l.sixgate.Logs(), "nat64 tables taken over") {
		t.Fatalf("new process took no NAT64 tables over:\n%s", l.sixgate.Logs())
	}
	// The new process has the UDP binding before a packet of it passes.
	var bib []nat64.BindingInfo
	if !ovs.Wait(10*time.Second, func() bool { return l.tryAPI("bib", &bib) == nil }) {
		t.Fatal("the new process's API does not answer")
	}
	found := ""
	for _, b := range bib {
		if b.Protocol == "udp" && b.IPv6.Port() == 40000 {
			found = b.IPv4.String()
		}
	}
	if found != udpBefore {
		t.Errorf("UDP binding in the new process %q, want %s: %+v", found, udpBefore, bib)
	}
	if after := udpPeer(); after != udpBefore {
		t.Errorf("UDP from a6 seen as %s after the hand-over, %s before", after, udpBefore)
	}
	got := <-download
	if !strings.HasPrefix(got, want) {
		t.Errorf("download across the hand-over: %q, want sha256 %s\n%s", got, want, l.diagnose(t))
	}
	t.Logf("%s mode: old process exited %v after the new one started; %s", l.mode, took.Round(time.Millisecond),
		matchingLines(old.Logs()+l.sixgate.Logs(), regexp.MustCompile(`engines_stopped_for|nat64 tables`)))
	if code := l.sixgate.Stop(); code != 0 {
		t.Errorf("new process: SIGTERM: exit %d", code)
	}
}

// tryAPI reads one of the NAT64's tables, or says why it cannot.
func (l *nat64Lab) tryAPI(table string, v any) error {
	out, err := exec.Command(l.bin, "nat64", table, "-json", "-http", l.http).Output()
	if err != nil {
		return err
	}
	return json.Unmarshal(out, v)
}
