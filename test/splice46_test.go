package test

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sixgate/sixgate/test/ovs"
)

// dataPath is how the lab's spliced packets reach the engine; every
// splice46 test runs once for each (docs/splice46.md, "Data paths").
type dataPath string

const (
	// controllerMode: packet-ins and packet-outs.
	controllerMode dataPath = "controller"
	// portMode: the engine reads and writes engineIface, one end of a
	// veth pair whose other end is port enginePort of the bridge.
	portMode dataPath = "port"
	// portRingMode: port mode with the TPACKET_V3 receive ring.
	portRingMode dataPath = "port-ring"
	// portPairMode: port mode on two engine ports, engineIface and
	// engineIface2 (ports 10 and 11) behind the switch's select group.
	portPairMode dataPath = "port-pair"
	// portOffloadMode: port mode with segment offload, GRO on the
	// engine's end of the veth pair.
	portOffloadMode dataPath = "port-offload"
)

var dataPaths = []dataPath{controllerMode, portMode}

// onPort says whether the engine runs on the engine port.
func (m dataPath) onPort() bool {
	return m == portMode || m == portRingMode || m == portPairMode || m == portOffloadMode
}

const (
	engineIface  = "sgs-eng0"
	enginePort   = 10
	engineIface2 = "sgs-eng1"
	enginePort2  = 11
)

// inEachMode runs fn as a subtest per data path, each on a lab of its own.
func inEachMode(t *testing.T, fn func(t *testing.T, l *seedLab)) { inModes(t, dataPaths, fn) }

// inModes runs fn as a subtest for each of the given data paths.
func inModes(t *testing.T, modes []dataPath, fn func(t *testing.T, l *seedLab)) {
	for _, mode := range modes {
		t.Run(string(mode), func(t *testing.T) { fn(t, newSeedLabIn(t, mode)) })
	}
}

// seedLab is the seed demo's topology on a real bridge: h1 and h2 IPv6-only
// servers running test/demoserver, h3 an IPv4-only client, sixgate in
// between, and nothing configured on the hosts but their addresses (and a
// route to pool6 on the servers).
type seedLab struct {
	mode        dataPath
	bin, config string
	metrics     string // sixgate's metrics address
	br          *ovs.Bridge
	h1, h2, h3  *ovs.Netns
	sixgate     *ovs.Daemon
	servers     map[string]*ovs.Daemon
	// launcher, when set, is the command line that starts sixgate.
	launcher []string
}

// extraServices is appended to the seed file's services: port 81 has a
// dead backend and a live one for the same name (failover), port 82 only a
// dead one.
const extraServices = `
    - vip: "10.0.0.42"
      port: 81
      select: prefix
      backends:
        - {address: "[2001:db8::1]:9", match: ["A"]}
        - {address: "[2001:db8::2]:80", match: ["A"]}
    - vip: "10.0.0.42"
      port: 82
      select: prefix
      backends:
        - {address: "[2001:db8::1]:9", match: ["A"]}
`

// portSection puts the engine on the lab's engine port.
const portSection = `  mode: port
  ports:
    - {interface: "` + engineIface + `", switch: s1, port: 10}
`

// newSeedLab builds the lab in controller mode.
func newSeedLab(t *testing.T) *seedLab { t.Helper(); return newSeedLabIn(t, controllerMode) }

// newSeedLabIn builds the lab with the given data path.
func newSeedLabIn(t *testing.T, mode dataPath) *seedLab {
	t.Helper()
	return newSeedLabAs(t, mode, nil)
}

// newSeedLabAs builds the lab with sixgate started through launcher (a
// command and its arguments, to which sixgate's own are appended), when
// not nil.
func newSeedLabAs(t *testing.T, mode dataPath, launcher func(t *testing.T, bin, config string) []string) *seedLab {
	t.Helper()
	return buildSeedLab(t, mode, launcher, true)
}

// buildSeedLab builds the lab, starting sixgate when start is set (the
// HA tests start their instances themselves).
func buildSeedLab(t *testing.T, mode dataPath, launcher func(t *testing.T, bin, config string) []string, start bool) *seedLab {
	t.Helper()
	ovs.Require(t)
	seed, err := os.ReadFile("../topo/examples/seed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	port, metrics := freePort(t), freePort(t)
	cfg := strings.Replace(string(seed), `listen: "tcp:0.0.0.0:6653"`, fmt.Sprintf(`listen: "tcp:127.0.0.1:%d"`, port), 1)
	cfg = strings.Replace(cfg, `http: "127.0.0.1:9464"`, fmt.Sprintf(`http: "127.0.0.1:%d"`, metrics), 1)
	cfg = strings.TrimRight(cfg, "\n") + "\n" + extraServices
	if mode.onPort() {
		section := portSection
		switch mode {
		case portRingMode:
			section = strings.Replace(section, "port: 10}", "port: 10, ring: true}", 1)
		case portPairMode:
			section += fmt.Sprintf("    - {interface: %q, switch: s1, port: %d}\n", engineIface2, enginePort2)
		case portOffloadMode:
			section = strings.Replace(section, "port: 10}", "port: 10, offload: true}", 1)
		}
		cfg = strings.Replace(cfg, "  mtu6: 1500\n", "  mtu6: 1500\n"+section, 1)
	}
	l := &seedLab{mode: mode, bin: ovs.BuildSixgate(t), config: ovs.WriteFile(t, "seed.yaml", cfg), servers: map[string]*ovs.Daemon{},
		metrics: fmt.Sprintf("127.0.0.1:%d", metrics)}
	if launcher != nil {
		l.launcher = launcher(t, l.bin, l.config)
	}
	if out, err := exec.Command(l.bin, "check", "-config", l.config).CombinedOutput(); err != nil {
		t.Fatalf("test configuration invalid: %s", out)
	}
	server := filepath.Join(t.TempDir(), "demoserver")
	if out, err := exec.Command("go", "build", "-o", server, "./demoserver").CombinedOutput(); err != nil {
		t.Fatalf("build demoserver: %v: %s", err, out)
	}

	l.br = ovs.NewBridge(t, "sgs1", 0x1, fmt.Sprintf("tcp:127.0.0.1:%d", port))
	ovs.Run(t, "ovs-vsctl", "set", "controller", l.br.Name, "controller_queue_size=512")
	if mode.onPort() {
		ovs.AddEnginePort(t, l.br, engineIface, enginePort)
	}
	if mode == portOffloadMode {
		ovs.Run(t, "ethtool", "-K", engineIface, "gro", "on")
		if err := os.WriteFile("/sys/class/net/"+engineIface+"/gro_flush_timeout", []byte("20000"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if mode == portPairMode {
		ovs.AddEnginePort(t, l.br, engineIface2, enginePort2)
	}
	l.h1 = ovs.AddNetns(t, l.br, "sgs-h1", 1, "00:00:0a:00:00:01", "2001:db8::1/64")
	l.h2 = ovs.AddNetns(t, l.br, "sgs-h2", 2, "00:00:0a:00:00:02", "2001:db8::2/64")
	l.h3 = ovs.AddNetns(t, l.br, "sgs-h3", 3, "00:00:0a:00:00:03", "10.0.0.3/24")
	for _, h := range []*ovs.Netns{l.h1, l.h2} {
		h.Run(t, "ip", "-6", "route", "add", "2001:db8:ffff::/96", "dev", "eth0")
	}
	if start {
		l.start(t)
	}
	for name, h := range map[string]*ovs.Netns{"h1": l.h1, "h2": l.h2} {
		d := h.Start(t, server, "-name", name, "-line", "[::]:80", "-http", "[::]:8080", "-https", "[::]:443")
		if !ovs.Wait(10*time.Second, func() bool { return strings.Contains(d.Logs(), "serving") }) {
			t.Fatalf("%s server did not start: %s", name, d.Logs())
		}
		l.servers[name] = d
	}
	return l
}

// start runs sixgate and waits until it has synced the bridge.
func (l *seedLab) start(t *testing.T) {
	t.Helper()
	if l.launcher != nil {
		l.sixgate = ovs.StartSixgate(t, l.launcher[0], l.launcher[1:]...)
	} else {
		l.sixgate = ovs.StartSixgate(t, l.bin, "-config", l.config)
	}
	if !ovs.Wait(20*time.Second, func() bool { return strings.Contains(l.sixgate.Logs(), "flows synced") }) {
		t.Fatalf("sixgate did not sync the bridge:\n%s", l.sixgate.Logs())
	}
}

// client runs a command on h3 with a deadline.
func (l *seedLab) client(timeout time.Duration, stdin string, args ...string) (string, error) {
	return l.h3.Output(timeout, stdin, args...)
}

func (l *seedLab) expect(t *testing.T, what, want string, stdin string, args ...string) {
	t.Helper()
	out, err := l.client(20*time.Second, stdin, args...)
	if err != nil || !strings.Contains(out, want) {
		t.Errorf("%s: %q (%v), want it to contain %q", what, out, err, want)
	}
}

// The seed demo also runs over the receive ring, which the other tests
// leave to afpacket's own tests.
func TestSpliceSeedDemo(t *testing.T) {
	inModes(t, []dataPath{controllerMode, portMode, portRingMode}, testSeedDemo)
}

func testSeedDemo(t *testing.T, l *seedLab) {
	l.expect(t, "prefix A", `h1 got "A" from [2001:db8:ffff::a00:3]`, "A\n", "socat", "-t", "5", "-", "TCP:10.0.0.42:80")
	l.expect(t, "prefix B", `h2 got "B" from [2001:db8:ffff::a00:3]`, "B\n", "socat", "-t", "5", "-", "TCP:10.0.0.42:80")
	l.expect(t, "HTTP Host", "h2: Host b.example from [2001:db8:ffff::a00:3]", "",
		"curl", "-sS", "--max-time", "15", "-H", "Host: b.example", "http://10.0.0.42:8080/")
	l.expect(t, "TLS SNI", "h1: Host a.example from [2001:db8:ffff::a00:3]", "",
		"curl", "-sSk", "--max-time", "15", "--resolve", "a.example:443:10.0.0.42", "https://a.example/")
	l.expect(t, "ping the VIP", "1 received", "", "ping", "-c", "1", "-W", "5", "10.0.0.42")

	// The servers' own logs, not sixgate's, show the embedded client.
	for name, d := range l.servers {
		if !strings.Contains(d.Logs(), "from [2001:db8:ffff::a00:3]:") {
			t.Errorf("%s never saw the client's embedded address:\n%s", name, d.Logs())
		}
	}
	// And nobody has a static neighbor entry.
	for _, h := range []*ovs.Netns{l.h1, l.h2, l.h3} {
		if n := h.Run(t, "ip", "neigh", "show", "nud", "permanent"); strings.TrimSpace(n) != "" {
			t.Errorf("%s has static neighbor entries: %s", h.Name, n)
		}
	}
	// The command lists the engine's connections, read from the running
	// daemon (those above may have expired already).
	if out, err := exec.Command(l.bin, "connections", "-http", l.metrics).Output(); err != nil ||
		!strings.Contains(string(out), " spliced connections\n") {
		t.Errorf("sixgate connections: %v\n%s", err, out)
	}
	l.checkDataPath(t)
}

func TestSpliceConcurrentHTTP(t *testing.T) { inEachMode(t, testConcurrentHTTP) }

func testConcurrentHTTP(t *testing.T, l *seedLab) {
	// 100 requests in parallel, each on its own connection.
	out, err := l.client(90*time.Second, "", "curl", "-sS", "--max-time", "60", "--parallel", "--parallel-immediate",
		"--parallel-max", "100", "-H", "Host: a.example", "http://10.0.0.42:8080/?[1-100]")
	if err != nil {
		t.Fatalf("curl: %v: %s", err, out)
	}
	if n := strings.Count(out, "h1: Host a.example from [2001:db8:ffff::a00:3]"); n != 100 {
		t.Errorf("%d of 100 concurrent requests answered by h1:\n%s", n, out)
	}
}

// patternSum is the SHA-256 of the first n bytes of the demo server's
// pattern (byte i is i*7 mod 256).
func patternSum(n int) string {
	h := sha256.New()
	buf := make([]byte, 64<<10)
	for off := 0; off < n; off += len(buf) {
		m := min(len(buf), n-off)
		for i := range m {
			buf[i] = byte((off + i) * 7)
		}
		h.Write(buf[:m])
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

func TestSpliceBulkTransfers(t *testing.T) { inEachMode(t, testBulkTransfers) }

func testBulkTransfers(t *testing.T, l *seedLab) {
	const size = 50 << 20
	want := patternSum(size)

	start := time.Now()
	out, err := l.client(5*time.Minute, "", "sh", "-c",
		fmt.Sprintf("curl -sS --max-time ${SGTIMEOUT:-240} -H 'Host: a.example' 'http://10.0.0.42:8080/bytes?n=%d' | sha256sum", size))
	if err != nil || !strings.HasPrefix(out, want) {
		t.Fatalf("50 MB download: sha256 %q (%v), want %s", out, err, want)
	}
	t.Logf("50 MB download through the splice (%s mode): %v, %.1f MB/s", l.mode, time.Since(start).Round(time.Millisecond), size/1e6/time.Since(start).Seconds())

	upload := filepath.Join(t.TempDir(), "upload")
	f, err := os.Create(upload)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(f, &patternReader{}, size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	start = time.Now()
	out, err = l.client(5*time.Minute, "", "curl", "-sS", "--max-time", "240", "-H", "Host: b.example",
		"--data-binary", "@"+upload, "http://10.0.0.42:8080/sha256")
	if err != nil || strings.TrimSpace(out) != want {
		t.Fatalf("50 MB upload: server computed %q (%v), want %s", out, err, want)
	}
	t.Logf("50 MB upload through the splice (%s mode): %v, %.1f MB/s", l.mode, time.Since(start).Round(time.Millisecond), size/1e6/time.Since(start).Seconds())
}

type patternReader struct{ off int }

func (r *patternReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte((r.off + i) * 7)
	}
	r.off += len(p)
	return len(p), nil
}

func TestSpliceBackendFailures(t *testing.T) { inEachMode(t, testBackendFailures) }

func testBackendFailures(t *testing.T, l *seedLab) {
	// Data and FIN back to back, before any backend could answer: socat
	// shuts its sending side down as soon as stdin ends.
	l.expect(t, "data and FIN before the backend answers", `h1 got "A"`, "A\n", "socat", "-t", "5", "-", "TCP:10.0.0.42:80")

	// Two backends for "A" on port 81; the first refuses, the second serves.
	l.expect(t, "failover to the live backend", `h2 got "A"`, "A\n", "socat", "-t", "5", "-", "TCP:10.0.0.42:81")

	// Only a dead backend: the client's connection fails fast with a reset
	// (socat reports it as a warning, hence -d).
	start := time.Now()
	out, err := l.client(20*time.Second, "A\n", "socat", "-d", "-t", "5", "-", "TCP:10.0.0.42:82")
	took := time.Since(start)
	if !strings.Contains(out, "Connection reset by peer") {
		t.Errorf("dead backend: socat said %q (%v), want a connection reset", out, err)
	}
	if took > 5*time.Second {
		t.Errorf("dead backend: the client waited %v for its reset", took)
	}
	t.Logf("dead backend: client reset after %v", took.Round(time.Millisecond))
}

// In port mode the engine lives in the sixgate process too, so a kill
// takes it along; what must hold is the same: the flows stay, and a new
// connection works once sixgate is back.
func TestSpliceSurvivesControllerKill(t *testing.T) { inEachMode(t, testSurvivesControllerKill) }

func testSurvivesControllerKill(t *testing.T, l *seedLab) {
	l.expect(t, "before the kill", `h1 got "A"`, "A\n", "socat", "-t", "5", "-", "TCP:10.0.0.42:80")
	flows := l.br.DumpFlows(t)
	l.sixgate.Kill()
	killed := time.Now()
	l.start(t)
	l.expect(t, "after the restart", `h2 got "B"`, "B\n", "socat", "-t", "5", "-", "TCP:10.0.0.42:80")
	t.Logf("controller killed with SIGKILL and restarted: new connection served %v after the kill", time.Since(killed).Round(time.Millisecond))
	if after := l.br.DumpFlows(t); strings.Join(after, "\n") != strings.Join(flows, "\n") {
		t.Errorf("flow table changed across the restart:\nbefore:\n%s\nafter:\n%s", join(flows), join(after))
	}
	if code := l.sixgate.Stop(); code != 0 {
		t.Errorf("SIGTERM: exit %d", code)
	}
}
