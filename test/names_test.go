package test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sixgate/sixgate/test/ovs"
)

// The names lab: one VIP fronting 10,000 names, in map files, over 100
// backend addresses of one IPv6-only host (h1), which answers on all of
// them and says which one each connection reached.
const (
	labNames    = 10_000
	labBackends = 100
	labSample   = 200
)

// backendOf is the backend address index of name i.
func backendOf(i int) int { return (i * 37) % labBackends }

func backendAddr(j int) string { return fmt.Sprintf("2001:db8::1:%x", j) }

// writeNamesConfig writes the configuration and its two map files (HTTP
// on port 80, TLS on 443) into dir.
func writeNamesConfig(t *testing.T, dir string, mode dataPath, port int) string {
	t.Helper()
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "controller: {listen: \"tcp:127.0.0.1:%d\"}\n", port)
	cfg.WriteString("switches: [{name: s1, dpid: \"0x1\"}]\nhosts:\n  - {name: h1, switch: s1, port: 1, mac: \"00:00:0a:00:00:01\", ipv6: [")
	for j := range labBackends {
		if j > 0 {
			cfg.WriteString(", ")
		}
		fmt.Fprintf(&cfg, "%q", backendAddr(j)+"/64")
	}
	cfg.WriteString("]}\n  - {name: h3, switch: s1, port: 3, mac: \"00:00:0a:00:00:03\", ipv4: [\"10.0.0.3/24\"]}\n")
	cfg.WriteString("splice46:\n  mac: \"00:00:0a:00:00:42\"\n  pool6: \"2001:db8:ffff::/96\"\n")
	if mode.onPort() {
		cfg.WriteString(portSection)
	}
	cfg.WriteString("  services:\n")
	cfg.WriteString("    - {vip: \"10.0.0.42\", port: 80, select: http-host, backends_file: http.map}\n")
	cfg.WriteString("    - {vip: \"10.0.0.42\", port: 443, select: sni, backends_file: tls.map}\n")
	for _, m := range []struct {
		file string
		port int
	}{{"http.map", 80}, {"tls.map", 443}} {
		var b strings.Builder
		fmt.Fprintf(&b, "# %d names over %d addresses of h1\n", labNames, labBackends)
		for i := range labNames {
			fmt.Fprintf(&b, "site%d.example [%s]:%d\n", i, backendAddr(backendOf(i)), m.port)
		}
		// A wildcard, and a name on two backends of which the first
		// refuses (nothing listens on port 81).
		fmt.Fprintf(&b, "*.wild.example [%s]:%d  # any name under wild.example\n", backendAddr(63), m.port)
		fmt.Fprintf(&b, "shared.example [%s]:81 [%s]:%d\n", backendAddr(7), backendAddr(8), m.port)
		if err := os.WriteFile(filepath.Join(dir, m.file), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "names.yaml")
	if err := os.WriteFile(path, []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSpliceManyNames(t *testing.T) {
	for _, mode := range dataPaths {
		t.Run(string(mode), func(t *testing.T) { testManyNames(t, mode) })
	}
}

func testManyNames(t *testing.T, mode dataPath) {
	ovs.Require(t)
	bin := ovs.BuildSixgate(t)
	port := freePort(t)
	dir := t.TempDir()
	config := writeNamesConfig(t, dir, mode, port)
	if out, err := exec.Command(bin, "check", "-config", config).CombinedOutput(); err != nil {
		t.Fatalf("test configuration invalid: %s", out)
	}
	server := filepath.Join(t.TempDir(), "demoserver")
	if out, err := exec.Command("go", "build", "-o", server, "./demoserver").CombinedOutput(); err != nil {
		t.Fatalf("build demoserver: %v: %s", err, out)
	}

	br := ovs.NewBridge(t, "sgn1", 0x1, fmt.Sprintf("tcp:127.0.0.1:%d", port))
	ovs.Run(t, "ovs-vsctl", "set", "controller", br.Name, "controller_queue_size=512")
	if mode.onPort() {
		ovs.AddEnginePort(t, br, engineIface, enginePort)
	}
	addrs := make([]string, labBackends)
	for j := range addrs {
		addrs[j] = backendAddr(j) + "/64"
	}
	h1 := ovs.AddNetns(t, br, "sgn-h1", 1, "00:00:0a:00:00:01", addrs...)
	h3 := ovs.AddNetns(t, br, "sgn-h3", 3, "00:00:0a:00:00:03", "10.0.0.3/24")
	h1.Run(t, "ip", "-6", "route", "add", "2001:db8:ffff::/96", "dev", "eth0")

	d := ovs.StartSixgate(t, bin, "-config", config)
	if !ovs.Wait(20*time.Second, func() bool { return strings.Contains(d.Logs(), "flows synced") }) {
		t.Fatalf("sixgate did not sync the bridge:\n%s", d.Logs())
	}
	srv := h1.Start(t, server, "-name", "h1", "-line", "", "-http", "[::]:80", "-https", "[::]:443")
	if !ovs.Wait(10*time.Second, func() bool { return strings.Contains(srv.Logs(), "serving") }) {
		t.Fatalf("server did not start: %s", srv.Logs())
	}

	seed := uint64(time.Now().UnixNano())
	t.Logf("names drawn with seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	picked := rng.Perm(labNames)[:labSample]

	// One curl for all the HTTP requests and one for all the TLS ones,
	// each request on its own connection (--next starts over, and the
	// server closes each connection after its answer).
	var httpArgs, tlsArgs []string
	for k, i := range picked {
		name := fmt.Sprintf("site%d.example", i)
		if k > 0 {
			httpArgs = append(httpArgs, "--next")
			tlsArgs = append(tlsArgs, "--next")
		}
		httpArgs = append(httpArgs, "-sS", "--max-time", "10", "-H", "Connection: close", "-H", "Host: "+name, "http://10.0.0.42/")
		tlsArgs = append(tlsArgs, "-sSk", "--max-time", "10", "-H", "Connection: close", "--resolve", name+":443:10.0.0.42", "https://"+name+"/")
	}
	for _, c := range []struct {
		what string
		args []string
		port int
	}{{"HTTP Host", httpArgs, 80}, {"TLS SNI", tlsArgs, 443}} {
		start := time.Now()
		out, err := h3.Output(3*time.Minute, "", append([]string{"curl"}, c.args...)...)
		if err != nil {
			t.Errorf("%s: curl: %v: %s", c.what, err, lastLines(out, 5))
			continue
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != len(picked) {
			t.Errorf("%s: %d answers for %d requests: %s", c.what, len(lines), len(picked), lastLines(out, 5))
			continue
		}
		ports := map[string]bool{}
		for k, i := range picked {
			if f := strings.Fields(lines[k]); len(f) >= 5 {
				ports[f[4]] = true
			}
			want := fmt.Sprintf("h1: Host site%d.example from [2001:db8:ffff::a00:3]:", i)
			at := fmt.Sprintf(" at [%s]:%d", backendAddr(backendOf(i)), c.port)
			if !strings.HasPrefix(lines[k], want) || !strings.HasSuffix(lines[k], at) {
				t.Errorf("%s: site%d.example answered %q, want it from [%s]:%d", c.what, i, lines[k], backendAddr(backendOf(i)), c.port)
			}
		}
		if len(ports) != len(picked) {
			t.Errorf("%s: %d connections for %d requests", c.what, len(ports), len(picked))
		}
		t.Logf("%s: %d names among %d, each on its own connection, in %v", c.what, len(picked), labNames, time.Since(start).Round(time.Millisecond))
	}

	// The most specific match: a wildcard; then failover from a refusing
	// backend to the next one listed for the same name.
	for _, c := range []struct {
		what, host, at string
	}{
		{"wildcard", "deep.x.wild.example", fmt.Sprintf("[%s]:80", backendAddr(63))},
		{"failover", "shared.example", fmt.Sprintf("[%s]:80", backendAddr(8))},
	} {
		out, err := h3.Output(20*time.Second, "", "curl", "-sS", "--max-time", "10", "-H", "Host: "+c.host, "http://10.0.0.42/")
		if err != nil || !strings.Contains(out, "Host "+c.host+" from [2001:db8:ffff::a00:3]:") || !strings.HasSuffix(strings.TrimSpace(out), " at "+c.at) {
			t.Errorf("%s: %q (%v), want an answer at %s", c.what, out, err, c.at)
		}
	}
	out, err := h3.Output(20*time.Second, "", "curl", "-sSk", "--max-time", "10", "--resolve", "shared.example:443:10.0.0.42", "https://shared.example/")
	if err != nil || !strings.HasSuffix(strings.TrimSpace(out), fmt.Sprintf(" at [%s]:443", backendAddr(8))) {
		t.Errorf("TLS failover: %q (%v)", out, err)
	}
	testReloadMovesOneName(t, br, h3, d, dir)

	// openssl's client too sends the name in its ClientHello.
	out, err = h3.Output(20*time.Second, "GET / HTTP/1.0\r\nHost: site1.example\r\n\r\n", "openssl", "s_client", "-quiet",
		"-connect", "10.0.0.42:443", "-servername", "site1.example")
	if !strings.Contains(out, fmt.Sprintf(" at [%s]:443", backendAddr(backendOf(1)))) {
		t.Errorf("openssl s_client: %q (%v)", out, err)
	}
}

// testReloadMovesOneName moves site0.example to another address in the
// map file while a download from a spliced connection is under way, and
// reloads: the download completes, the name goes to its new address, and
// no flow is reinstalled (a name is not in any flow).
func testReloadMovesOneName(t *testing.T, br *ovs.Bridge, h3 *ovs.Netns, d *ovs.Daemon, dir string) {
	t.Helper()
	const size = 400_000
	dl := h3.Start(t, "curl", "-sS", "--max-time", "30", "--limit-rate", "100k", "-o", "/dev/null", "-w", "downloaded %{size_download}\n",
		"-H", "Host: site1.example", fmt.Sprintf("http://10.0.0.42/bytes?n=%d", size))
	time.Sleep(500 * time.Millisecond) // spliced and streaming

	mapFile := filepath.Join(dir, "http.map")
	b, err := os.ReadFile(mapFile)
	if err != nil {
		t.Fatal(err)
	}
	from := fmt.Sprintf("site0.example [%s]:80\n", backendAddr(backendOf(0)))
	to := fmt.Sprintf("site0.example [%s]:80\n", backendAddr(99))
	if !strings.Contains(string(b), from) {
		t.Fatalf("no line %q in the map file", from)
	}
	if err := os.WriteFile(mapFile, []byte(strings.Replace(string(b), from, to, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	before := br.FlowDurations(t)
	signalled := time.Now()
	if err := d.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if !ovs.Wait(20*time.Second, func() bool {
		logs := d.Logs()
		i := strings.Index(logs, "configuration reloaded")
		return i >= 0 && strings.Contains(logs[i:], "flows synced")
	}) {
		t.Fatalf("no resync after the reload:\n%s", lastLines(d.Logs(), 10))
	}
	t.Logf("reload with one name moved: resynced %v after SIGHUP", time.Since(signalled).Round(time.Millisecond))
	if logs := d.Logs(); !strings.Contains(logs, `msg="splice46 reconfigured"`) || strings.Contains(logs, "connections_draining") {
		t.Errorf("the reload did not keep the download's connection:\n%s", lastLines(logs, 10))
	}
	gap := time.Since(signalled)
	for flow, age := range br.FlowDurations(t) {
		if _, ok := before[flow]; !ok || age < gap {
			t.Errorf("flow %q (age %v) was installed by the reload %v ago", flow, age, gap)
		}
	}
	out, err := h3.Output(20*time.Second, "", "curl", "-sS", "--max-time", "10", "-H", "Host: site0.example", "http://10.0.0.42/")
	if err != nil || !strings.HasSuffix(strings.TrimSpace(out), fmt.Sprintf(" at [%s]:80", backendAddr(99))) {
		t.Errorf("site0.example after the reload: %q (%v), want its new address %s", out, err, backendAddr(99))
	}
	if code := dl.Wait(30 * time.Second); code != 0 || !strings.Contains(dl.Logs(), fmt.Sprintf("downloaded %d", size)) {
		t.Errorf("the download across the reload: exit %d, %q", code, dl.Logs())
	}
}

func lastLines(s string, n int) string {
	ls := strings.Split(strings.TrimSpace(s), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, "\n")
}
