package topo

import (
	"testing"
	"time"
)

// TestDrainTimeout: timeouts.drain is read as the other timeouts are (0
// or absent: the engine's default), and a bad value names its line.
func TestDrainTimeout(t *testing.T) {
	const base = `
switches: [{name: s1, dpid: "0x1"}]
splice46:
  mac: "00:00:0a:00:00:42"
  pool6: "2001:db8:ffff::/96"
  services: [{vip: "10.0.0.42", port: 80, backends: [{address: "[2001:db8::1]:80"}]}]
`
	for _, tc := range []struct {
		line string
		want time.Duration
		err  string
	}{
		{"", 0, ""},
		{"  timeouts: {drain: 30s}\n", 30 * time.Second, ""},
		{"  timeouts: {drain: 90}\n", 90 * time.Second, ""},
		{"  timeouts: {drain: soon}\n", 0, "t.yaml:7: splice46.timeouts.drain: "},
	} {
		top, err := Parse("t.yaml", []byte(base+tc.line))
		if tc.err != "" {
			if err == nil || len(err.Error()) < len(tc.err) || err.Error()[:len(tc.err)] != tc.err {
				t.Errorf("%q: error %v, want %s...", tc.line, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", tc.line, err)
		}
		if got := top.Splice46.Timeouts.Drain; got != tc.want {
			t.Errorf("%q: drain %v, want %v", tc.line, got, tc.want)
		}
	}
}

// TestKeyLine: the lines of the keys a reload cannot change are kept,
// with the nearest written parent for a key left out.
func TestKeyLine(t *testing.T) {
	top, err := Parse("t.yaml", []byte(`controller:
  listen: "tcp:0.0.0.0:6653"
switches: [{name: s1, dpid: "0x1"}]
splice46:
  mac: "00:00:0a:00:00:42"
  pool6: "2001:db8:ffff::/96"
  services: [{vip: "10.0.0.42", port: 80, backends: [{address: "[2001:db8::1]:80"}]}]
`))
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]int{
		"controller.listen": 2, "controller.echo_interval": 1, "splice46.pool6": 6, "splice46.mode": 4, "hosts": 0,
	} {
		if got := top.KeyLine(key); got != want {
			t.Errorf("KeyLine(%q) = %d, want %d", key, got, want)
		}
	}
}
