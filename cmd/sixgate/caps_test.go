package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sixgate/sixgate/topo"
)

const capsBase = `controller:
  listen: "tcp:127.0.0.1:%d"
  http: "%s"
switches:
  - {name: s1, dpid: "0x1"}
links: []
hosts:
  - {name: h1, switch: s1, port: 1, mac: "00:00:0a:00:00:01", ipv6: ["2001:db8::1"]}
`

const capsPortMode = `splice46:
  mac: "00:00:0a:00:00:42"
  pool6: "2001:db8:ffff::/96"
  mode: port
  ports:
    - {interface: "sgcap0", switch: s1, port: 10}
  services:
    - vip: "10.0.0.42"
      port: 80
      select: prefix
      backends:
        - {address: "[2001:db8::1]:80", match: ["A"]}
`

func capsFile(t *testing.T, listen int, http string, portMode bool) (string, *topo.Topology) {
	t.Helper()
	s := fmt.Sprintf(capsBase, listen, http)
	if portMode {
		s += capsPortMode
	}
	path := filepath.Join(t.TempDir(), "sixgate.yaml")
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	tp, err := topo.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, tp
}

func TestMissingCaps(t *testing.T) {
	const raw, bind = 1 << capNetRawBit, 1 << capNetBindServiceBit
	for _, c := range []struct {
		name       string
		listen     int
		http       string
		port       bool
		effective  uint64
		unprivFrom int
		want       []string // one line each, after FILE[:LINE]: ; none: nil error
	}{
		{"controller mode needs nothing", 6653, "127.0.0.1:9464", false, 0, 1024, nil},
		{"engine ports need CAP_NET_RAW", 6653, "off", true, 0, 1024,
			[]string{":14: splice46.ports: engine ports need CAP_NET_RAW, which this process does not hold"}},
		{"engine ports with CAP_NET_RAW", 6653, "off", true, raw, 1024, nil},
		{"privileged ports", 643, "127.0.0.1:80", false, raw, 1024, []string{
			": controller.listen: port 643, below net.ipv4.ip_unprivileged_port_start (1024), needs CAP_NET_BIND_SERVICE, which this process does not hold",
			": controller.http: port 80, below net.ipv4.ip_unprivileged_port_start (1024), needs CAP_NET_BIND_SERVICE, which this process does not hold"}},
		{"privileged ports with CAP_NET_BIND_SERVICE", 643, "127.0.0.1:80", false, bind, 1024, nil},
		{"ports the sysctl made unprivileged", 643, "127.0.0.1:80", false, 0, 0, nil},
		{"both missing", 643, "off", true, 0, 1024, []string{
			": controller.listen: port 643, below net.ipv4.ip_unprivileged_port_start (1024), needs CAP_NET_BIND_SERVICE",
			":14: splice46.ports: engine ports need CAP_NET_RAW"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			path, tp := capsFile(t, c.listen, c.http, c.port)
			err := missingCaps(tp, c.effective, c.unprivFrom)
			if c.want == nil {
				if err != nil {
					t.Fatalf("unexpected: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(c.want) {
				t.Fatalf("got %q, want %d lines", err, len(c.want))
			}
			for i, w := range c.want {
				if !strings.HasPrefix(lines[i], path+w) {
					t.Errorf("line %d: %q, want it to start with %q", i, lines[i], path+w)
				}
			}
		})
	}
}

// As root, the process holds every capability; the test reads its own set
// as the daemon does.
func TestEffectiveCaps(t *testing.T) {
	eff, err := effectiveCaps()
	if err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 && eff&(1<<capNetRawBit) == 0 {
		t.Errorf("root without CAP_NET_RAW: effective %#x", eff)
	}
	t.Logf("effective capabilities %#x", eff)
}

// sixgate check notes a missing capability and still succeeds: it may run
// on another machine than the daemon.
func TestCheckNotesMissingCaps(t *testing.T) {
	path, tp := capsFile(t, 6653, "off", true)
	eff, err := effectiveCaps()
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := check([]string{"-config", path}, &stdout, &stderr); code != 0 {
		t.Fatalf("check exit %d: %s", code, stderr.String())
	}
	if missingCaps(tp, eff, unprivilegedPortStart()) == nil {
		if stderr.Len() != 0 {
			t.Errorf("check said %q with every capability held", stderr.String())
		}
		return
	}
	if !strings.Contains(stderr.String(), "note: "+path+":14: splice46.ports: engine ports need CAP_NET_RAW") {
		t.Errorf("check said %q", stderr.String())
	}
}

// The translator's engine ports need CAP_NET_RAW as splice46's do.
func TestMissingCapsSIIT(t *testing.T) {
	s := fmt.Sprintf(capsBase, 6653, "off") + `siit:
  mac: "00:00:0a:00:00:99"
  pool6: "64:ff9b:1::/96"
  mode: port
  ports:
    - {interface: "sgcap1", switch: s1, port: 11}
  ipv4: {address: "192.0.2.1/24"}
  ipv6: {address: "2001:db8::99/64"}
`
	path := filepath.Join(t.TempDir(), "sixgate.yaml")
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	tp, err := topo.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	err = missingCaps(tp, 0, 1024)
	if want := path + ":14: siit.ports: engine ports need CAP_NET_RAW"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("got %v, want %q", err, want)
	}
	if err := missingCaps(tp, 1<<capNetRawBit, 1024); err != nil {
		t.Errorf("with CAP_NET_RAW: %v", err)
	}
}
