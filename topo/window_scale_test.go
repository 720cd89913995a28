package topo

import "testing"

// TestWindowScale: window_scale absent leaves the engine's default (nil),
// 0 is kept as 0, and a shift above 14 (RFC 7323) is refused.
func TestWindowScale(t *testing.T) {
	const base = `
switches: [{name: s1, dpid: "0x1"}]
splice46:
  mac: "00:00:0a:00:00:42"
  pool6: "2001:db8:ffff::/96"
  services: [{vip: "10.0.0.42", port: 80, backends: [{address: "[2001:db8::1]:80"}]}]
`
	for _, tc := range []struct {
		line string
		want int // -1: nil
		err  string
	}{
		{"", -1, ""},
		{"  window_scale: 0\n", 0, ""},
		{"  window_scale: 14\n", 14, ""},
		{"  window_scale: 15\n", 0, `t.yaml:7: splice46.window_scale: malformed number "15" (want 0 to 14)`},
	} {
		top, err := Parse("t.yaml", []byte(base+tc.line))
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%q: error %v, want %s", tc.line, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", tc.line, err)
		}
		ws := top.Splice46.WindowScale
		if tc.want < 0 && ws != nil || tc.want >= 0 && (ws == nil || int(*ws) != tc.want) {
			t.Errorf("%q: window scale %v, want %d", tc.line, ws, tc.want)
		}
	}
}
