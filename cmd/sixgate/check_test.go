package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/sixgate/sixgate/controller"
	"github.com/sixgate/sixgate/controller/ofp"
	"github.com/sixgate/sixgate/topo"
)

// spliceFile is a valid topology but for what limits and backends add.
func spliceFile(limits string, backends int) string {
	var bs []string
	for i := range backends {
		bs = append(bs, fmt.Sprintf(`{address: "[2001:db8::%x]:80"}`, i+1))
	}
	return fmt.Sprintf(`controller: {listen: "tcp:127.0.0.1:6653"}
switches: [{name: s1, dpid: "0x1"}]
splice46:
  mac: "00:00:0a:00:00:42"
  pool6: "2001:db8:ffff::/96"
  services: [{vip: "10.0.0.42", port: 80, backends: [%s]}]
  limits: {%s}
`, strings.Join(bs, ", "), limits)
}

// TestCheckRefusesWhatStartRefuses runs files that the daemon refuses to
// start with through check, which must fail on each with FILE:LINE.
func TestCheckRefusesWhatStartRefuses(t *testing.T) {
	cases := []struct {
		name, file, want string
	}{
		{"SYN cookies above the embryonic cap", spliceFile("max_embryonic: 100, syn_cookie_threshold: 200", 1),
			`:7: splice46.limits.syn_cookie_threshold: 200 is above max_embryonic (100)`},
		{"SYN cookies above the connections cap", spliceFile("max_connections: 100, syn_cookie_threshold: 200", 1),
			`:7: splice46.limits.syn_cookie_threshold: 200 is above max_connections`},
		{"SYN cookies above the default cap", spliceFile("syn_cookie_threshold: 70000", 1),
			`:7: splice46.limits.syn_cookie_threshold: 70000 is above the default max_embryonic (65536)`},
		{"global held bytes below per connection", spliceFile("max_held_bytes: 4096, max_held_bytes_global: 1024", 1),
			`:7: splice46.limits.max_held_bytes_global: 1024 is below max_held_bytes (4096)`},
		{"global held bytes below the default", spliceFile("max_held_bytes_global: 1024", 1),
			`:7: splice46.limits.max_held_bytes_global: 1024 is below the default max_held_bytes (16384)`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "t.yaml")
			if err := os.WriteFile(path, []byte(tc.file), 0o644); err != nil {
				t.Fatal(err)
			}
			// The daemon refuses it (a canceled context stops one that
			// wrongly starts).
			log := logrus.New()
			log.SetOutput(io.Discard)
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if err := serve(ctx, path, "", logrus.NewEntry(log)); err == nil {
				t.Fatal("serve returned nil")
			}
			var stdout, stderr bytes.Buffer
			if code := check([]string{"-config", path}, &stdout, &stderr); code != 1 {
				t.Fatalf("check exit %d, want 1; stdout %q", code, stdout.String())
			}
			if !strings.Contains(stderr.String(), path+tc.want) {
				t.Errorf("check said:\n%s\nwant a line containing %q", stderr.String(), path+tc.want)
			}
			if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(path) + `:\d+: `).MatchString(stderr.String()) {
				t.Errorf("check said %q, with no FILE:LINE", stderr.String())
			}
		})
	}
}

func TestCheckAcceptsTheExamples(t *testing.T) {
	files, err := filepath.Glob("../../topo/examples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatal(files, err)
	}
	for _, f := range files {
		var stdout, stderr bytes.Buffer
		if code := check([]string{"-config", f}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), ": ok: ") {
			t.Errorf("check %s: exit %d, stdout %q, stderr %q", f, code, stdout.String(), stderr.String())
		}
	}
}

func TestCheckWarnsOnceOfTheOldHeldBytesKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.yaml")
	if err := os.WriteFile(path, []byte(spliceFile("max_held_bytes_total: 1048576", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := check([]string{"-config", path}, &stdout, &stderr); code != 0 {
		t.Fatalf("check exit %d: %s", code, stderr.String())
	}
	want := "warning: " + path + ":7: splice46.limits.max_held_bytes_total: deprecated: rename it max_held_bytes_global (same meaning)\n"
	if stderr.String() != want {
		t.Errorf("check said:\n%q\nwant:\n%q", stderr.String(), want)
	}

	// Both names at once: an error.
	if err := os.WriteFile(path, []byte(spliceFile("max_held_bytes_total: 1048576, max_held_bytes_global: 1048576", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	stderr.Reset()
	if code := check([]string{"-config", path}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), path+":7: splice46.limits.max_held_bytes_total: ") {
		t.Errorf("check with both keys: exit %d, %q", code, stderr.String())
	}
}

// rivalApp declares the table-miss app's flow: the same table, priority
// and match.
type rivalApp struct{}

func (rivalApp) Name() string    { return "rival" }
func (rivalApp) CookieID() uint8 { return 0x7e }
func (rivalApp) Flows(*controller.Switch) []controller.Flow {
	return []controller.Flow{{Table: 0, Priority: 0, Instructions: []ofp.Instruction{ofp.ApplyActions(ofp.Output(1))}}}
}

// TestStartAndCheckRefuseConflictingFlows: two apps that declare the same
// flow on a declared switch are refused at start and by check, which name
// both apps and the flow.
func TestStartAndCheckRefuseConflictingFlows(t *testing.T) {
	withRival := func(tp *topo.Topology, log *logrus.Entry) (*appSet, error) {
		s, err := newApps(tp, log)
		if err == nil {
			s.list = append(s.list, rivalApp{})
		}
		return s, err
	}
	path := filepath.Join(t.TempDir(), "t.yaml")
	file := "controller: {listen: \"tcp:127.0.0.1:6653\"}\nswitches: [{name: s1, dpid: \"0x1\"}]\n"
	if err := os.WriteFile(path, []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	// serve and check both refuse what prepare refuses
	// (TestCheckRefusesWhatStartRefuses); prepare is given the rival.
	_, err := prepareWith(path, "", logrus.NewEntry(log), withRival)
	if err == nil {
		t.Fatal("prepare accepted two apps declaring one flow")
	}
	for _, w := range []string{"switch 0000000000000001", "apps tablemiss and rival both declare flow table=0 priority=0"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("prepare: %v\nwant it to say %q", err, w)
		}
	}
	// Without the rival the same file is fine.
	if _, err := prepareWith(path, "", logrus.NewEntry(log), newApps); err != nil {
		t.Errorf("without the rival: %v", err)
	}
}

// TestCheckReadsMapFiles: check reads a service's map file, relative to
// the configuration's directory, and reports its problems as FILE:LINE.
func TestCheckReadsMapFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "t.yaml")
	file := `
switches: [{name: s1, dpid: "0x1"}]
splice46:
  mac: "00:00:0a:00:00:42"
  pool6: "2001:db8:ffff::/96"
  services:
    - {vip: "10.0.0.42", port: 443, select: sni, backends_file: maps/sites.map}
`
	if err := os.WriteFile(path, []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "maps"), 0o755); err != nil {
		t.Fatal(err)
	}
	mapPath := filepath.Join(dir, "maps", "sites.map")
	write := func(s string) {
		if err := os.WriteFile(mapPath, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.example [2001:db8::1]:443\n*.b.example [2001:db8::2]:443 [2001:db8::1]:443\n")
	var stdout, stderr bytes.Buffer
	if code := check([]string{"-config", path}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "1 services, 2 match values and names") {
		t.Fatalf("check exit %d: %q %q", code, stdout.String(), stderr.String())
	}
	write("a.example [2001:db8::1]:443\na.example [2001:db8::2]:443\n")
	stdout.Reset()
	stderr.Reset()
	if code := check([]string{"-config", path}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), mapPath+":2: duplicate name a.example (also line 1)") {
		t.Fatalf("check exit %d: %q", code, stderr.String())
	}
}

// TestCheckDNSBackends: check counts the services with backends from DNS
// and reports their problems as FILE:LINE.
func TestCheckDNSBackends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.yaml")
	write := func(dns string) {
		file := `
switches: [{name: s1, dpid: "0x1"}]
splice46:
  mac: "00:00:0a:00:00:42"
  pool6: "2001:db8:ffff::/96"
  services:
    - vip: "10.0.0.42"
      port: 443
      select: sni
      backends_from_dns: ` + dns + "\n"
		if err := os.WriteFile(path, []byte(file), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`{resolvers: ["::1"], prefixes: ["2001:db8:5::/48"], port: 443}`)
	var stdout, stderr bytes.Buffer
	if code := check([]string{"-config", path}, &stdout, &stderr); code != 0 ||
		!strings.Contains(stdout.String(), "1 services, 0 match values and names, 1 with backends from DNS") {
		t.Fatalf("check exit %d: %q %q", code, stdout.String(), stderr.String())
	}
	write(`{resolvers: ["::1"], prefixes: ["::/0"], port: 443}`)
	stdout.Reset()
	stderr.Reset()
	if code := check([]string{"-config", path}, &stdout, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), path+":10: splice46.services[0].backends_from_dns.prefixes[0]: ::/0 is too wide") {
		t.Fatalf("check exit %d: %q", code, stderr.String())
	}
}

// A siit section without hosts is for sixgate translate: check accepts it
// quietly, and with switches says that the translator will not run in
// the fabric.
func TestCheckSIITWithoutHosts(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := check([]string{"-config", "testdata/translate-siit.yaml"}, &stdout, &stderr); code != 0 || stderr.Len() != 0 {
		t.Errorf("translate-only file: exit %d, stderr %q", code, stderr.String())
	}
	src, err := os.ReadFile("testdata/translate-siit.yaml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "s.yaml")
	if err := os.WriteFile(path, append([]byte("switches: [{name: s1, dpid: \"0x1\"}]\n"), src...), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	stderr.Reset()
	if code := check([]string{"-config", path}, &stdout, &stderr); code != 0 || !strings.Contains(stderr.String(), "siit: switches but no hosts are declared") {
		t.Errorf("switches without hosts: exit %d, stderr %q", code, stderr.String())
	}
}
