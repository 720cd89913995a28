package splice46

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/sixgate/sixgate/topo"
)

// TestTopoRefusesWhatTheEngineRefuses holds topo's checks of the limits and
// backends to the engine's: for each case, the file is refused by topo
// exactly when the same values, handed to the engine past topo, are refused
// by it. `sixgate check` stops at topo's verdict for such files, with the
// offending line.
func TestTopoRefusesWhatTheEngineRefuses(t *testing.T) {
	cases := []struct {
		limits   topo.Limits
		backends int
	}{
		{topo.Limits{}, 1},
		{topo.Limits{}, 63},
		{topo.Limits{}, 64},
		{topo.Limits{}, 200},
		{topo.Limits{MaxEmbryonic: 300, SynCookieThreshold: 300}, 1},
		{topo.Limits{MaxEmbryonic: 300, SynCookieThreshold: 301}, 1},
		{topo.Limits{MaxConnections: 500, SynCookieThreshold: 501}, 1},
		{topo.Limits{MaxConnections: 500, SynCookieThreshold: 500}, 1},
		{topo.Limits{MaxConnections: 500, MaxEmbryonic: 800, SynCookieThreshold: 700}, 1},
		{topo.Limits{SynCookieThreshold: 65536}, 1},
		{topo.Limits{SynCookieThreshold: 65537}, 1},
		{topo.Limits{MaxConnections: 100}, 1},
		{topo.Limits{MaxEmbryonic: 100}, 1},
		{topo.Limits{MaxHeldBytes: 4096, MaxHeldBytesGlobal: 4096}, 1},
		{topo.Limits{MaxHeldBytes: 4096, MaxHeldBytesGlobal: 4095}, 1},
		{topo.Limits{MaxHeldBytesGlobal: 16384}, 1},
		{topo.Limits{MaxHeldBytesGlobal: 16383}, 1},
		{topo.Limits{MaxHeldBytes: 1000}, 1},
	}
	for _, c := range cases {
		name := fmt.Sprintf("%+v/%d", c.limits, c.backends)
		t.Run(name, func(t *testing.T) {
			_, topoErr := topo.Parse("t.yaml", []byte(limitsFile(c.limits, c.backends)))

			// The engine's verdict on the same values: a valid file
			// with them put in after topo.
			base, err := topo.Parse("t.yaml", []byte(limitsFile(topo.Limits{}, 1)))
			if err != nil {
				t.Fatal(err)
			}
			base.Splice46.Limits = c.limits
			svc := base.Splice46.Services[0]
			for len(svc.Backends) < c.backends {
				b := *svc.Backends[0]
				b.Address = backendN(len(svc.Backends))
				svc.Backends = append(svc.Backends, &b)
			}
			_, engineErr := newEngine(base)

			if (topoErr == nil) != (engineErr == nil) {
				t.Errorf("topo says %v, the engine says %v", topoErr, engineErr)
			}
			if engineErr != nil && !strings.HasPrefix(engineErr.Error(), "t.yaml:3: splice46: ") {
				t.Errorf("engine error %q does not name the file and line of the section", engineErr)
			}
		})
	}
}

// limitsFile is a one-service topology with the given limits (the nonzero
// ones written out) and n backends.
func limitsFile(l topo.Limits, n int) string {
	var lim []string
	for _, f := range []struct {
		key string
		v   int
	}{
		{"max_connections", l.MaxConnections}, {"max_embryonic", l.MaxEmbryonic},
		{"syn_cookie_threshold", l.SynCookieThreshold}, {"max_held_bytes", l.MaxHeldBytes},
		{"max_held_bytes_global", l.MaxHeldBytesGlobal}, {"challenge_ack_limit", l.ChallengeACKLimit},
	} {
		if f.v != 0 {
			lim = append(lim, fmt.Sprintf("%s: %d", f.key, f.v))
		}
	}
	var backends []string
	for i := range n {
		backends = append(backends, fmt.Sprintf(`{address: "%s"}`, backendN(i)))
	}
	return fmt.Sprintf(`
switches: [{name: s1, dpid: "0x1"}]
splice46:
  mac: "00:00:0a:00:00:42"
  pool6: "2001:db8:ffff::/96"
  services: [{vip: "10.0.0.42", port: 80, backends: [%s]}]
  limits: {%s}
`, strings.Join(backends, ", "), strings.Join(lim, ", "))
}

func backendN(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i + 1)}), 80)
}
