package test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sixgate/sixgate/test/ovs"
)

// The translator in the fabric (docs/siit.md, "In the fabric"), on a real
// bridge in each data path, with topo/examples/siit.yaml:
//
//	h6      2001:db8:6::6/64, link MTU 1280 (the IPv6 side), default via the translator;
//	        seen from IPv4 as 203.0.113.6 (an EAM entry)
//	h4      192.0.2.4/24 (reached through pool6 as 64:ff9b:1::c000:204) and
//	        192.0.2.44/24 (reached through the EAM address 2001:db8:6::44),
//	        default via the translator
//	legacy  192.0.2.30/24, IPv4-only, in the CLAT role as 2001:db8:6::c1a7,
//	        default via the translator
//	r       2001:db8:6::64/64, the IPv6 gateway: TAYGA with 2001:db8:64::/96 and
//	        nftables masquerade out of its eth1, 198.51.100.1/24
//	s       198.51.100.80/24, behind r, not on the bridge
//
// The hosts know nothing but their addresses and default routes; every
// neighbor is resolved through the neighbor app.
const (
	h4Pool6   = "64:ff9b:1::c000:204" // 192.0.2.4 through pool6
	h4EAM6    = "2001:db8:6::44"      // 192.0.2.44 through its EAM entry
	h6EAM4    = "203.0.113.6"         // h6 as IPv4 hosts see it
	serverV4  = "198.51.100.80"
	siitIface = "sgx-eng0"
	siitPort  = 10
)

// siitLab is the topology above, running.
type siitLab struct {
	mode              dataPath
	metrics           string
	br                *ovs.Bridge
	h6, h4, legacy, r *ovs.Netns
	server            *ovs.Netns
	sixgate           *ovs.Daemon
	dir               string
	// config is sixgate's file and text its content.
	config, text string
}

func newSIITLab(t *testing.T, mode dataPath) *siitLab {
	t.Helper()
	ovs.Require(t)
	requireTools(t, "tayga", "nft", "traceroute", "socat")
	port, metrics := freePort(t), freePort(t)
	section := ""
	if mode.onPort() {
		section = fmt.Sprintf("  mode: port\n  ports: [{interface: %q, switch: s1, port: %d}]\n", siitIface, siitPort)
	}
	example, err := os.ReadFile("../topo/examples/siit.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(example), `listen: "tcp:0.0.0.0:6653"`, fmt.Sprintf(`listen: "tcp:127.0.0.1:%d"`, port), 1)
	text = strings.Replace(text, `http: "127.0.0.1:9464"`, fmt.Sprintf(`http: "127.0.0.1:%d"`, metrics), 1)
	text = strings.Replace(text, "  pool6:", section+"  pool6:", 1)
	cfg := ovs.WriteFile(t, "siit.yaml", text)
	bin := ovs.BuildSixgate(t)
	if out, err := exec.Command(bin, "check", "-config", cfg).CombinedOutput(); err != nil {
		t.Fatalf("test configuration invalid: %s", out)
	}
	l := &siitLab{mode: mode, metrics: fmt.Sprintf("127.0.0.1:%d", metrics), dir: t.TempDir(), config: cfg, text: text}
	l.br = ovs.NewBridge(t, "sgx1", 0x1, fmt.Sprintf("tcp:127.0.0.1:%d", port))
	ovs.Run(t, "ovs-vsctl", "set", "controller", l.br.Name, "controller_queue_size=512")
	if mode.onPort() {
		ovs.AddEnginePort(t, l.br, siitIface, siitPort)
	}
	l.h6 = ovs.AddNetns(t, l.br, "sgx-h6", 1, "00:00:0b:00:00:06", "2001:db8:6::6/64")
	l.h4 = ovs.AddNetns(t, l.br, "sgx-h4", 2, "00:00:0b:00:00:04", "192.0.2.4/24", "192.0.2.44/24")
	l.legacy = ovs.AddNetns(t, l.br, "sgx-leg", 3, "00:00:0b:00:00:30", "192.0.2.30/24")
	l.r = ovs.AddNetns(t, l.br, "sgx-r", 4, "00:00:0b:00:00:64", "2001:db8:6::64/64")
	// The IPv6 side's link is 1280 bytes, the minimum IPv6 allows.
	ovs.Run(t, "ip", "link", "set", l.h6.Peer, "mtu", "1280")
	l.h6.Run(t, "ip", "link", "set", "eth0", "mtu", "1280")
	l.h6.Run(t, "ip", "-6", "route", "add", "default", "via", "2001:db8:6::1", "dev", "eth0")
	for _, h := range []*ovs.Netns{l.h4, l.legacy} {
		h.Run(t, "ip", "route", "add", "default", "via", "192.0.2.1", "dev", "eth0")
	}
	l.server = l.nat64(t)
	l.sixgate = ovs.StartSixgate(t, bin, "-config", cfg)
	if !ovs.Wait(20*time.Second, func() bool { return strings.Contains(l.sixgate.Logs(), "flows synced") }) {
		t.Fatalf("sixgate did not sync the bridge:\n%s", l.sixgate.Logs())
	}
	return l
}

// nat64 makes r a NAT64 (TAYGA, with its dynamic pool masqueraded by
// nftables out of eth1) in front of the server namespace s, and returns s.
func (l *siitLab) nat64(t *testing.T) *ovs.Netns {
	t.Helper()
	s := &ovs.Netns{Name: "sgx-s"}
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
	ovs.Run(t, "ip", "-n", l.r.Name, "link", "add", "eth1", "type", "veth", "peer", "name", "eth0", "netns", s.Name)
	l.r.Run(t, "ip", "addr", "add", "198.51.100.1/24", "dev", "eth1")
	l.r.Run(t, "ip", "link", "set", "eth1", "up")
	s.Run(t, "ip", "link", "set", "lo", "up")
	s.Run(t, "ip", "addr", "add", serverV4+"/24", "dev", "eth0")
	s.Run(t, "ip", "link", "set", "eth0", "up")
	s.Run(t, "ip", "route", "add", "default", "via", "198.51.100.1")
	l.r.Run(t, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1")

	conf := ovs.WriteFile(t, "tayga.conf", fmt.Sprintf(`tun-device nat64
ipv4-addr 192.168.255.1
prefix 2001:db8:64::/96
dynamic-pool 192.168.255.0/24
data-dir %s
`, l.dir))
	l.r.Run(t, "tayga", "-c", conf, "--mktun")
	l.r.Run(t, "ip", "link", "set", "nat64", "up")
	l.r.Run(t, "ip", "route", "add", "192.168.255.0/24", "dev", "nat64")
	l.r.Run(t, "ip", "-6", "route", "add", "2001:db8:64::/96", "dev", "nat64")
	d := l.r.Start(t, "tayga", "-c", conf, "-n")
	// tayga -n prints nothing; it only has to stay up
	// (the tunnel exists already, so it has nothing else to wait for).
	if code := d.Wait(300 * time.Millisecond); code != -1 {
		t.Fatalf("tayga exited with %d: %s", code, d.Logs())
	}
	rules := ovs.WriteFile(t, "nat64.nft", `table ip sgx_nat64 {
	chain post {
		type nat hook postrouting priority srcnat;
		oifname "eth1" masquerade
	}
}
`)
	l.r.Run(t, "nft", "-f", rules)
	return s
}

// metric returns the value of one sample of sixgate's metrics, 0 when
// absent.
func (l *siitLab) metric(t *testing.T, series string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + l.metrics + "/metrics")
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindSubmatch(body)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

func TestSIITFabric(t *testing.T) {
	for _, mode := range dataPaths {
		t.Run(string(mode), func(t *testing.T) {
			start := time.Now()
			l := newSIITLab(t, mode)
			t.Logf("lab up in %v", time.Since(start).Round(time.Millisecond))
			// Path MTU first: h4 learns the IPv6 side's MTU for h6 here,
			// which the larger transfers below then rely on.
			t.Run("path MTU", l.testPMTU)
			for _, to := range []struct{ name, v6, v4 string }{
				{"pool6", h4Pool6, "192.0.2.4"},
				{"EAM", h4EAM6, "192.0.2.44"},
			} {
				t.Run(to.name, func(t *testing.T) { l.testReach(t, to.v6, to.v4) })
			}
			t.Run("CLAT", l.testCLAT)
			t.Run("reload", l.testReload)
			l.checkDataPath(t)
			t.Logf("%s mode: %v", mode, time.Since(start).Round(time.Millisecond))
		})
	}
}

// testReach has h6 reach h4 at v6 (h4's address v4 as IPv6 hosts see it),
// and h4 reach h6 back at its EAM address, with ping, traceroute, TCP and
// UDP.
func (l *siitLab) testReach(t *testing.T, v6, v4 string) {
	lap := newLaps(t)
	defer lap.log()
	if _, n, err := l.h6.PingUntil(v6, 2*time.Second, 10*time.Second); err != nil {
		t.Fatalf("h6 -> %s: %v", v6, err)
	} else if n > 2 {
		t.Logf("h6 -> %s answered after %d echo requests", v6, n)
	}
	if err := l.h4.Ping(h6EAM4, 3*time.Second); err != nil {
		t.Errorf("h4 -> h6: %v", err)
	}
	// Every hop answers: the translator from its own address, then the
	// destination, with its address as seen from the source's side.
	lap.done("ping")
	l.traceroute(t, l.h6, "-6", v6, "2001:db8:6::1")
	l.traceroute(t, l.h4, "-4", h6EAM4, "192.0.2.1")
	lap.done("traceroute")

	// TCP: 20 MB from h6 to h4, the server's own sha256 of what it got.
	data := filepath.Join(l.dir, "data")
	if _, err := os.Stat(data); err != nil {
		b := make([]byte, 20<<20)
		rand.Read(b)
		if err := os.WriteFile(data, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := fileSHA256(t, data)
	srv := l.h4.Start(t, "sh", "-c", fmt.Sprintf("socat -u TCP4-LISTEN:5001,bind=%s,reuseaddr STDOUT | sha256sum", v4))
	waitListening(t, l.h4, v4, "5001")
	start := time.Now()
	if out, err := l.h6.Output(60*time.Second, "", "socat", "-u", "OPEN:"+data, fmt.Sprintf("TCP6:[%s]:5001", v6)); err != nil {
		t.Fatalf("TCP to %s: %v: %s", v6, err, out)
	}
	if !ovs.Wait(30*time.Second, func() bool { return strings.Contains(srv.Logs(), " -") }) {
		t.Fatalf("TCP server did not finish: %s", srv.Logs())
	}
	if got := strings.Fields(srv.Logs())[0]; got != want {
		t.Errorf("TCP to %s: the server's sha256 is %s, sent %s", v6, got, want)
	}
	t.Logf("20 MB over TCP to %s in %v", v6, time.Since(start).Round(time.Millisecond))
	lap.done("tcp")

	// UDP: an echo server on h4's address, answering from it.
	l.h4.Start(t, "socat", "-T", "1", fmt.Sprintf("UDP4-LISTEN:5002,bind=%s,reuseaddr,fork", v4), "EXEC:cat")
	waitListeningUDP(t, l.h4, v4, "5002")
	out, err := l.h6.Output(10*time.Second, "hello over udp\n", "socat", "-t", "1", "-", fmt.Sprintf("UDP6:[%s]:5002", v6))
	if err != nil || !strings.Contains(out, "hello over udp") {
		t.Errorf("UDP echo through %s: %q (%v)", v6, out, err)
	}
	lap.done("udp")
}

// laps times the steps of a test, for its log.
type laps struct {
	t     *testing.T
	last  time.Time
	steps []string
}

func newLaps(t *testing.T) *laps { return &laps{t: t, last: time.Now()} }

func (l *laps) done(step string) {
	l.steps = append(l.steps, fmt.Sprintf("%s %v", step, time.Since(l.last).Round(10*time.Millisecond)))
	l.last = time.Now()
}

func (l *laps) log() { l.t.Logf("steps: %s", strings.Join(l.steps, ", ")) }

// traceroute runs traceroute from h to dst and checks that every hop
// answered, the first from the translator's address hop1 and the last
// from dst.
func (l *siitLab) traceroute(t *testing.T, h *ovs.Netns, family, dst, hop1 string) {
	t.Helper()
	out, err := h.Output(30*time.Second, "", "traceroute", family, "-n", "-q", "1", "-w", "2", "-m", "4", dst)
	if err != nil {
		t.Errorf("traceroute %s: %v: %s", dst, err, out)
		return
	}
	var hops []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		hops = append(hops, f[1])
	}
	if len(hops) != 2 || hops[0] != hop1 || hops[1] != dst {
		t.Errorf("traceroute %s: hops %v, want [%s %s]:\n%s", dst, hops, hop1, dst, out)
	}
}

// testPMTU: the IPv6 side's link is 1280 bytes. A 1328-byte IPv4 ping
// with DF from h4 to h6 is answered by the translator with Fragmentation
// Needed and an MTU of 1260 (1280 less the 20 bytes the IPv6 header adds),
// which h4 then uses: a 1260-byte ping with DF goes through. Then a
// 3000-byte UDP datagram goes from h6 to h4 and back in fragments, made
// by h6 at its 1280-byte link and by h4 at the path MTU it learnt, each
// translated on its own. (Fragmented ICMP echoes cannot be: their
// checksum covers the whole message, and ICMPv6's a pseudo-header too.)
func (l *siitLab) testPMTU(t *testing.T) {
	if _, _, err := l.h4.PingUntil(h6EAM4, 2*time.Second, 10*time.Second); err != nil {
		t.Fatalf("h4 -> h6: %v", err)
	}
	out, _ := l.h4.Output(10*time.Second, "", "ping", "-n", "-c", "1", "-W", "2", "-M", "do", "-s", "1300", h6EAM4)
	if !strings.Contains(out, "mtu = 1260") && !strings.Contains(out, "mtu=1260") {
		t.Errorf("h4's DF ping of 1328 bytes: want Fragmentation Needed with mtu 1260, got:\n%s", out)
	}
	route := l.h4.Run(t, "ip", "route", "get", h6EAM4)
	if !strings.Contains(route, "mtu 1260") {
		t.Errorf("h4 did not learn the path MTU to %s: %s", h6EAM4, route)
	}
	if out, err := l.h4.Output(10*time.Second, "", "ping", "-n", "-c", "2", "-i", "0.2", "-W", "2", "-M", "do", "-s", "1232", h6EAM4); err != nil {
		t.Errorf("h4's DF ping of 1260 bytes: %v:\n%s", err, out)
	}
	l.h4.Start(t, "socat", "-T", "1", "UDP4-LISTEN:5003,bind=192.0.2.4,reuseaddr,fork", "EXEC:cat")
	waitListeningUDP(t, l.h4, "192.0.2.4", "5003")
	big := strings.Repeat("0123456789", 300)[:2999] + "\n"
	out, err := l.h6.Output(10*time.Second, big, "socat", "-t", "1", "-b", "65536", "-", fmt.Sprintf("UDP6:[%s]:5003", h4Pool6))
	if err != nil || out != big {
		t.Errorf("3000 bytes of UDP echoed in fragments: got %d bytes (%v), want the 3000 sent", len(out), err)
	}
}

// testCLAT: the IPv4-only host legacy reaches the IPv4 server s, behind
// TAYGA, through the translator in the CLAT role.
func (l *siitLab) testCLAT(t *testing.T) {
	if _, _, err := l.legacy.PingUntil(serverV4, 2*time.Second, 10*time.Second); err != nil {
		t.Fatalf("legacy -> s: %v", err)
	}
	script := filepath.Join(l.dir, "answer")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nread line\necho \"s got $line from $SOCAT_PEERADDR\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	l.server.Start(t, "socat", "TCP4-LISTEN:8080,bind="+serverV4+",reuseaddr,fork", "EXEC:"+script)
	waitListening(t, l.server, serverV4, "8080")
	out, err := l.legacy.Output(10*time.Second, "hello\n", "socat", "-t", "3", "-", "TCP4:"+serverV4+":8080")
	// TAYGA's pool address, masqueraded to r's.
	if err != nil || !strings.Contains(out, "s got hello from 198.51.100.1") {
		t.Errorf("legacy -> s over TCP: %q (%v)", out, err)
	}
}

// testReload moves h6's EAM address from 203.0.113.6 to 203.0.113.16 by
// SIGHUP: the new address is answered, steered and translated, the old
// one no longer.
func (l *siitLab) testReload(t *testing.T) {
	const moved = "203.0.113.16"
	text := strings.Replace(l.text, `{ipv4: "`+h6EAM4+`/32"`, `{ipv4: "`+moved+`/32"`, 1)
	if text == l.text {
		t.Fatal("the example no longer maps h6 as expected")
	}
	if err := os.WriteFile(l.config, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	reloads := strings.Count(l.sixgate.Logs(), "configuration reloaded")
	if err := l.sixgate.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if !ovs.Wait(10*time.Second, func() bool { return strings.Count(l.sixgate.Logs(), "configuration reloaded") > reloads }) {
		t.Fatalf("no reload:\n%s", l.sixgate.Logs())
	}
	if _, _, err := l.h4.PingUntil(moved, time.Second, 10*time.Second); err != nil {
		t.Errorf("h4 -> h6 at its new address: %v", err)
	}
	if err := l.h4.Ping(h6EAM4, time.Second); err == nil {
		t.Errorf("h4 -> h6 at its old address %s still answered", h6EAM4)
	}
}

// checkDataPath checks that the translated packets took the lab's data
// path: packet-ins in controller mode, frames on the engine port in port
// mode.
func (l *siitLab) checkDataPath(t *testing.T) {
	t.Helper()
	packetIns := l.metric(t, `sixgate_siit_packets_total{event="packet_in"}`)
	frames := l.metric(t, fmt.Sprintf(`sixgate_siit_port_frames_total{event="received",interface=%q}`, siitIface))
	t.Logf("%s mode: %v packet-ins, %v frames on the engine port", l.mode, packetIns, frames)
	switch {
	case l.mode.onPort() && (frames < 1000 || packetIns > 0):
		t.Errorf("port mode: %v frames on the engine port and %v packet-ins", frames, packetIns)
	case !l.mode.onPort() && (packetIns < 1000 || frames > 0):
		t.Errorf("controller mode: %v packet-ins and %v frames on the engine port", packetIns, frames)
	}
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// waitListening waits until a TCP socket listens on addr and port in h.
func waitListening(t *testing.T, h *ovs.Netns, addr, port string) {
	t.Helper()
	if !ovs.Wait(5*time.Second, func() bool {
		out, _ := h.Output(2*time.Second, "", "ss", "-Htln", "src "+addr+":"+port)
		return strings.TrimSpace(out) != ""
	}) {
		t.Fatalf("%s: nothing listens on TCP port %s", h.Name, port)
	}
}

// waitListeningUDP waits until a UDP socket is bound to addr and port in h.
func waitListeningUDP(t *testing.T, h *ovs.Netns, addr, port string) {
	t.Helper()
	if !ovs.Wait(5*time.Second, func() bool {
		out, _ := h.Output(2*time.Second, "", "ss", "-Huln", "src "+addr+":"+port)
		return strings.TrimSpace(out) != ""
	}) {
		t.Fatalf("%s: nothing bound to UDP port %s", h.Name, port)
	}
}
