package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
)

const reloadBase = `controller:
  listen: "tcp:127.0.0.1:16653"
  http: "off"
  echo_interval: 5s
switches: [{name: s1, dpid: "0x1"}]
hosts:
  - {name: h1, switch: s1, port: 1, mac: "00:00:0a:00:00:01", ipv6: ["2001:db8::1"]}
  - {name: h3, switch: s1, port: 3, mac: "00:00:0a:00:00:03", ipv4: ["10.0.0.3"]}
splice46:
  mac: "00:00:0a:00:00:42"
  pool6: "2001:db8:ffff::/96"
  services:
    - {vip: "10.0.0.42", port: 80, backends: [{address: "[2001:db8::1]:80"}]}
`

// TestReloadRefusesWhatNeedsARestart: a reload that changes what only a
// restart applies (a controller setting, the data path's mode, pool6, the
// ha section) is
// refused with FILE:LINE: key: message, counted as a failure, and leaves
// the running configuration in force; one that adds a service is taken.
func TestReloadRefusesWhatNeedsARestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.yaml")
	if err := os.WriteFile(path, []byte(reloadBase), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	l := logrus.New()
	l.SetOutput(&logs)
	log := logrus.NewEntry(l)
	p, err := prepare(path, "", log)
	if err != nil {
		t.Fatal(err)
	}
	first := p.live.topology()
	for _, tc := range []struct{ from, to, want string }{
		{"echo_interval: 5s", "echo_interval: 3s", path + ":4: controller.echo_interval: changed from 5s to 3s: restart sixgate to apply it"},
		{`http: "off"`, `http: "127.0.0.1:9999"`, path + ":3: controller.http: changed from off to 127.0.0.1:9999: restart sixgate"},
		{"  services:\n", "  mode: port\n  ports: [{interface: eng0, switch: s1, port: 10}]\n  services:\n",
			path + ":12: splice46.mode: changed from controller to port: restart sixgate to apply it"},
		{`pool6: "2001:db8:ffff::/96"`, `pool6: "2001:db8:fffe::/96"`, path + ":11: splice46.pool6: changed from 2001:db8:ffff::/96 to 2001:db8:fffe::/96"},
		{"switches:", "ha: {etcd: [\"http://127.0.0.1:2379\"], name: a}\nswitches:", path + ":5: ha: changed: restart sixgate to apply it"},
	} {
		logs.Reset()
		if err := os.WriteFile(path, []byte(strings.Replace(reloadBase, tc.from, tc.to, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		if reload(path, p.live, p.apps, p.ctl, p.dns, log) {
			t.Errorf("reload changing %q taken", tc.to)
		}
		if !strings.Contains(logs.String(), tc.want) {
			t.Errorf("reload changing %q logged:\n%s\nwant %q", tc.to, logs.String(), tc.want)
		}
		if p.live.topology() != first {
			t.Errorf("reload changing %q replaced the running configuration", tc.to)
		}
	}
	// Every problem at once, whichever section it is in.
	logs.Reset()
	both := strings.Replace(strings.Replace(reloadBase, "echo_interval: 5s", "echo_interval: 3s", 1),
		`pool6: "2001:db8:ffff::/96"`, `pool6: "2001:db8:fffe::/96"`, 1)
	if err := os.WriteFile(path, []byte(both), 0o644); err != nil {
		t.Fatal(err)
	}
	if reload(path, p.live, p.apps, p.ctl, p.dns, log) || !strings.Contains(logs.String(), "controller.echo_interval") || !strings.Contains(logs.String(), "splice46.pool6") {
		t.Errorf("two changes that need a restart: logged\n%s", logs.String())
	}
	added := reloadBase + `    - {vip: "10.0.0.42", port: 443, backends: [{address: "[2001:db8::1]:443"}]}` + "\n"
	if err := os.WriteFile(path, []byte(added), 0o644); err != nil {
		t.Fatal(err)
	}
	if !reload(path, p.live, p.apps, p.ctl, p.dns, log) {
		t.Fatalf("adding a service refused:\n%s", logs.String())
	}
	if info := p.live.info(); info.ReloadsFailure != 6 || info.ReloadsSuccess != 1 {
		t.Errorf("reloads: %d ok, %d failed; want 1 and 6", info.ReloadsSuccess, info.ReloadsFailure)
	}
}
