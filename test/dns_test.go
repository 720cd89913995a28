package test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/sixgate/sixgate/test/ovs"
)

// The DNS lab: h1 is an IPv6-only host with an address inside the allowed
// prefix (2001:db8::5:1) and one outside it (2001:db8::6:1); an unbound
// on loopback serves the zone sites.test, which sixgate asks about the
// names the clients on h3 send. A second resolver address is a UDP socket
// that never answers.
const dnsZone = "sites.test"

// requireUnbound fails with CI=true, skips otherwise, when unbound is
// missing.
func requireUnbound(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("unbound")
	if err != nil {
		for _, p := range []string{"/usr/sbin/unbound", "/usr/local/sbin/unbound"} {
			if _, serr := os.Stat(p); serr == nil {
				return p
			}
		}
		if os.Getenv("CI") == "true" {
			t.Fatalf("unbound not installed (scripts/install-deps.sh installs it): %v", err)
		}
		t.Skipf("unbound not installed (scripts/install-deps.sh; set CI=true to fail instead): %v", err)
	}
	return bin
}

// freeUDPPort returns a loopback UDP port nothing listens on right now.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// startUnbound runs unbound on 127.0.0.1:port in the foreground with a
// configuration of its own, serving local-data only, and waits until it
// answers. It is stopped when the test ends.
func startUnbound(t *testing.T, bin string, port int, data []string) {
	t.Helper()
	dir := t.TempDir()
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "server:\n  interface: 127.0.0.1\n  port: %d\n  do-daemonize: no\n  username: \"\"\n  chroot: \"\"\n", port)
	fmt.Fprintf(&cfg, "  directory: %q\n  pidfile: \"\"\n  use-syslog: no\n  logfile: \"\"\n  verbosity: 1\n", dir)
	cfg.WriteString("  do-ip6: no\n  access-control: 127.0.0.0/8 allow\n  module-config: \"iterator\"\n")
	fmt.Fprintf(&cfg, "  local-zone: \"%s.\" static\n", dnsZone)
	for _, d := range data {
		fmt.Fprintf(&cfg, "  local-data: %q\n", d)
	}
	m := new(dns.Msg)
	m.SetQuestion("a."+dnsZone+".", dns.TypeAAAA)
	runUnbound(t, bin, dir, port, cfg.String(), m, func(in *dns.Msg) bool { return len(in.Answer) == 1 })
}

// runUnbound writes an unbound configuration (server: options in
// serverConf, remote control off) into dir, checks it with
// unbound-checkconf, runs unbound in the foreground on 127.0.0.1:port
// and waits until probe gets an answer that ready accepts. It is stopped
// when the test ends.
func runUnbound(t *testing.T, bin, dir string, port int, serverConf string, probe *dns.Msg, ready func(*dns.Msg) bool) *ovs.Daemon {
	t.Helper()
	conf := filepath.Join(dir, "unbound.conf")
	if err := os.WriteFile(conf, []byte(serverConf+"remote-control:\n  control-enable: no\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(filepath.Join(filepath.Dir(bin), "unbound-checkconf"), conf).CombinedOutput(); err != nil {
		t.Fatalf("unbound-checkconf: %v: %s", err, out)
	}
	d := ovs.StartSixgate(t, bin, "-d", "-c", conf)
	c := &dns.Client{Timeout: 500 * time.Millisecond}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if !ovs.Wait(10*time.Second, func() bool {
		in, _, err := c.Exchange(probe, addr)
		return err == nil && ready(in)
	}) {
		t.Fatalf("unbound does not answer on %s:\n%s", addr, d.Logs())
	}
	return d
}

// silentResolver binds a loopback UDP port, reads what comes and never
// answers, until the test ends.
func silentResolver(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for ctx.Err() == nil {
			_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			_, _, _ = c.ReadFrom(buf)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		c.Close()
	})
	return c.LocalAddr().String()
}

func TestSpliceBackendsFromDNS(t *testing.T) {
	for _, mode := range dataPaths {
		t.Run(string(mode), func(t *testing.T) { testBackendsFromDNS(t, mode) })
	}
}

func testBackendsFromDNS(t *testing.T, mode dataPath) {
	ovs.Require(t)
	unbound := requireUnbound(t)
	bin := ovs.BuildSixgate(t)
	port, httpPort, dnsPort := freePort(t), freePort(t), freeUDPPort(t)
	startUnbound(t, unbound, dnsPort, []string{
		dnsZone + ". 300 IN SOA ns." + dnsZone + ". host." + dnsZone + ". 1 3600 600 86400 30",
		"a." + dnsZone + ". 60 IN AAAA 2001:db8::5:1",
		"tls." + dnsZone + ". 60 IN AAAA 2001:db8::5:1",
		"www.b." + dnsZone + ". 60 IN CNAME a." + dnsZone + ".",
		"outside." + dnsZone + ". 60 IN AAAA 2001:db8::6:1",
		"v4only." + dnsZone + ". 60 IN A 192.0.2.1",
	})
	silent := silentResolver(t)

	const embryonic = 4 * time.Second
	dir := t.TempDir()
	config := filepath.Join(dir, "dns.yaml")
	section := ""
	if mode.onPort() {
		section = portSection
	}
	cfg := fmt.Sprintf(`controller: {listen: "tcp:127.0.0.1:%d", http: "127.0.0.1:%d"}
switches: [{name: s1, dpid: "0xd5"}]
hosts:
  - {name: h1, switch: s1, port: 1, mac: "00:00:0a:00:00:01", ipv6: ["2001:db8::5:1/64", "2001:db8::6:1/64"]}
  - {name: h3, switch: s1, port: 3, mac: "00:00:0a:00:00:03", ipv4: ["10.0.0.3/24"]}
splice46:
  mac: "00:00:0a:00:00:42"
  pool6: "2001:db8:ffff::/96"
`+section+`  timeouts: {embryonic: %ds}
  services:
    - vip: "10.0.0.42"
      port: 80
      select: http-host
      backends_from_dns: {resolvers: ["127.0.0.1:%d"], prefixes: ["2001:db8::5:0/112"], port: 80}
    - vip: "10.0.0.42"
      port: 443
      select: sni
      backends_from_dns: {resolvers: ["127.0.0.1:%d"], prefixes: ["2001:db8::5:0/112"], port: 443}
    - vip: "10.0.0.42"
      port: 8080
      select: http-host
      backends_from_dns: {resolvers: ["%s"], prefixes: ["2001:db8::5:0/112"], port: 80, timeout: 1s}
    - vip: "10.0.0.42"
      port: 8081
      select: http-host
      backends_from_dns: {resolvers: ["%s"], prefixes: ["2001:db8::5:0/112"], port: 80, timeout: 3500ms}
`, port, httpPort, int(embryonic/time.Second), dnsPort, dnsPort, silent, silent)
	if err := os.WriteFile(config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "check", "-config", config).CombinedOutput(); err != nil ||
		!strings.Contains(string(out), "4 with backends from DNS") {
		t.Fatalf("test configuration: %v: %s", err, out)
	}
	server := filepath.Join(t.TempDir(), "demoserver")
	if out, err := exec.Command("go", "build", "-o", server, "./demoserver").CombinedOutput(); err != nil {
		t.Fatalf("build demoserver: %v: %s", err, out)
	}

	br := ovs.NewBridge(t, "sgdns", 0xd5, fmt.Sprintf("tcp:127.0.0.1:%d", port))
	if mode.onPort() {
		ovs.AddEnginePort(t, br, engineIface, enginePort)
	}
	h1 := ovs.AddNetns(t, br, "sgd-h1", 1, "00:00:0a:00:00:01", "2001:db8::5:1/64", "2001:db8::6:1/64")
	h3 := ovs.AddNetns(t, br, "sgd-h3", 3, "00:00:0a:00:00:03", "10.0.0.3/24")
	h1.Run(t, "ip", "-6", "route", "add", "2001:db8:ffff::/96", "dev", "eth0")

	d := ovs.StartSixgate(t, bin, "-config", config)
	if !ovs.Wait(20*time.Second, func() bool { return strings.Contains(d.Logs(), "flows synced") }) {
		t.Fatalf("sixgate did not sync the bridge:\n%s", d.Logs())
	}
	srv := h1.Start(t, server, "-name", "h1", "-line", "", "-http", "[::]:80", "-https", "[::]:443")
	if !ovs.Wait(10*time.Second, func() bool { return strings.Contains(srv.Logs(), "serving") }) {
		t.Fatalf("server did not start: %s", srv.Logs())
	}
	metrics := fmt.Sprintf("http://127.0.0.1:%d/metrics", httpPort)

	// Names that resolve inside the prefix are spliced to their address,
	// by Host header (also through a CNAME) and by SNI, twice each: the
	// second answer comes from the cache.
	for range 2 {
		for _, c := range []struct {
			what string
			args []string
			at   string
		}{
			{"Host", []string{"-H", "Host: a." + dnsZone, "http://10.0.0.42/"}, "[2001:db8::5:1]:80"},
			{"Host via CNAME", []string{"-H", "Host: www.b." + dnsZone, "http://10.0.0.42/"}, "[2001:db8::5:1]:80"},
			{"SNI", []string{"-k", "--resolve", "tls." + dnsZone + ":443:10.0.0.42", "https://tls." + dnsZone + "/"}, "[2001:db8::5:1]:443"},
		} {
			out, err := h3.Output(20*time.Second, "", append([]string{"curl", "-sS", "--max-time", "10"}, c.args...)...)
			if err != nil || !strings.Contains(out, "from [2001:db8:ffff::a00:3]:") || !strings.HasSuffix(strings.TrimSpace(out), " at "+c.at) {
				t.Errorf("%s: %q (%v), want an answer at %s", c.what, out, err, c.at)
			}
		}
	}
	m, err := scrape(metrics)
	if err != nil {
		t.Fatal(err)
	}
	if v := m[`sixgate_proxy46_dns_connections_total{outcome="resolved"}`]; v != 6 {
		t.Errorf("resolved connections: %v, want 6", v)
	}
	if v := m[`sixgate_splice46_dns_queries_total{service="10.0.0.42:80"}`]; v != 2 {
		t.Errorf("queries for port 80: %v, want 2 (the second round is cached)", v)
	}
	if v := m[`sixgate_splice46_dns_cache_hits_total{kind="positive",service="10.0.0.42:80"}`]; v < 2 {
		t.Errorf("cache hits for port 80: %v", v)
	}

	// Names that do not lead to a backend end in a reset, each with its
	// counter, and within the embryonic timeout.
	for _, c := range []struct {
		what, url, host, outcome, resolverMetric string
	}{
		{"outside the prefix", "http://10.0.0.42/", "outside." + dnsZone, "outside_prefix",
			`sixgate_splice46_dns_query_results_total{result="outside_prefix",service="10.0.0.42:80"}`},
		{"NXDOMAIN", "http://10.0.0.42/", "none." + dnsZone, "not_found",
			`sixgate_splice46_dns_query_results_total{result="not_found",service="10.0.0.42:80"}`},
		{"NODATA", "http://10.0.0.42/", "v4only." + dnsZone, "not_found",
			`sixgate_splice46_dns_query_results_total{result="not_found",service="10.0.0.42:80"}`},
		{"silent resolver", "http://10.0.0.42:8080/", "a." + dnsZone, "failed",
			`sixgate_splice46_dns_query_results_total{result="timeout",service="10.0.0.42:8080"}`},
	} {
		before, err := scrape(metrics)
		if err != nil {
			t.Fatal(err)
		}
		outcome := fmt.Sprintf(`sixgate_proxy46_dns_connections_total{outcome=%q}`, c.outcome)
		start := time.Now()
		out, err := h3.Output(20*time.Second, "", "curl", "-sS", "--max-time", "15", "-H", "Host: "+c.host, c.url)
		took := time.Since(start)
		if err == nil || !strings.Contains(out, "reset") {
			t.Errorf("%s: %q (%v), want the connection reset", c.what, out, err)
		}
		if took >= embryonic {
			t.Errorf("%s: reset after %v, past the embryonic timeout %v", c.what, took, embryonic)
		}
		after, err := scrape(metrics)
		if err != nil {
			t.Fatal(err)
		}
		if after[outcome] != before[outcome]+1 {
			t.Errorf("%s: %s %v -> %v", c.what, outcome, before[outcome], after[outcome])
		}
		if after[c.resolverMetric] <= before[c.resolverMetric] {
			t.Errorf("%s: %s %v -> %v", c.what, c.resolverMetric, before[c.resolverMetric], after[c.resolverMetric])
		}
		t.Logf("%s: reset after %v", c.what, took.Round(time.Millisecond))
	}
	// A second try of the name outside the prefix is answered from the
	// cache, with a reset all the same.
	if out, err := h3.Output(20*time.Second, "", "curl", "-sS", "--max-time", "10", "-H", "Host: outside."+dnsZone, "http://10.0.0.42/"); err == nil {
		t.Errorf("outside the prefix, cached: %q", out)
	}

	// A request that comes late, to a resolver that does not answer, is
	// still waiting for its lookup when the embryonic timeout runs out:
	// the client is reset then, not when the lookup gives up.
	before, err := scrape(metrics)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	out, err := h3.Output(20*time.Second, "", "python3", "-c", `
import socket, time
s = socket.create_connection(("10.0.0.42", 8081), timeout=15)
time.sleep(0.8)
s.sendall(b"GET / HTTP/1.1\r\nHost: a.`+dnsZone+`\r\n\r\n")
try:
    print("read", s.recv(100))
except ConnectionResetError:
    print("connection reset")
`)
	took := time.Since(start)
	if !strings.Contains(out, "reset") || took < embryonic-500*time.Millisecond || took > embryonic+1500*time.Millisecond {
		t.Errorf("late request: %q (%v) after %v, want a reset at the embryonic timeout %v", out, err, took, embryonic)
	}
	after, err := scrape(metrics)
	if err != nil {
		t.Fatal(err)
	}
	if o := `sixgate_proxy46_dns_connections_total{outcome="timeout"}`; after[o] != before[o]+1 {
		t.Errorf("late request: %s %v -> %v", o, before[o], after[o])
		for k, v := range after {
			if before[k] != v && strings.Contains(k, "proxy46") {
				t.Logf("%s %v -> %v", k, before[k], v)
			}
		}
	}
	t.Logf("late request: reset after %v", took.Round(time.Millisecond))

	// Nothing is left holding: every connection was spliced or reset.
	if !ovs.Wait(2*embryonic, func() bool {
		m, err := scrape(metrics)
		return err == nil && m["sixgate_proxy46_embryonic_connections"] == 0 && m["sixgate_proxy46_held_bytes"] == 0
	}) {
		m, _ := scrape(metrics)
		t.Errorf("connections still held: embryonic %v, held bytes %v", m["sixgate_proxy46_embryonic_connections"], m["sixgate_proxy46_held_bytes"])
	}
}
