package splice46

import (
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/controller"
	"github.com/sixgate/sixgate/controller/ofp"
	"github.com/sixgate/sixgate/topo"
)

// twoSwitches has the engine ports on s2; h1 (a backend) and h3 (the
// client) are on s1, behind link s1:9 - s2:9.
const twoSwitches = `
switches: [{name: s1, dpid: "0x1"}, {name: s2, dpid: "0x2"}, {name: s3, dpid: "0x3"}]
links: [{a: "s1:9", b: "s2:9"}]
hosts:
  - {name: h1, switch: s1, port: 1, mac: "00:00:0a:00:00:01", ipv6: ["2001:db8::1"]}
  - {name: h3, switch: s1, port: 3, mac: "00:00:0a:00:00:03", ipv4: ["10.0.0.3"]}
splice46:
  mac: "00:00:0a:00:00:42"
  pool6: "2001:db8:ffff::/96"
  services:
    - {vip: "10.0.0.42", port: 80, backends: [{address: "[2001:db8::1]:80"}]}
`

func testApp(t *testing.T, tail string) *App {
	t.Helper()
	top, err := topo.Parse("t.yaml", []byte(twoSwitches+tail))
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(top, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// steering lists, for each steering flow (service and pool6), where its
// action sends the packet: "port:N", "group:N" or "controller".
func steeringOf(t *testing.T, flows []controller.Flow) (out []string, guards int) {
	t.Helper()
	for _, f := range flows {
		if f.Priority == prioGuard {
			if len(f.Instructions) != 0 {
				t.Errorf("guard flow %v does not drop", f.Match)
			}
			guards++
			continue
		}
		if f.Priority != prioService {
			continue
		}
		acts := f.Instructions[0].(*ofp.InstructionActions).Actions
		switch a := acts[0].(type) {
		case *ofp.ActionOutput:
			if a.Port == ofp.PortController {
				out = append(out, "controller")
			} else {
				out = append(out, "port:"+itoa(a.Port))
			}
		case *ofp.ActionGroup:
			out = append(out, "group:"+itoa(a.GroupID))
		}
	}
	return out, guards
}

func itoa(v uint32) string { return strconv.FormatUint(uint64(v), 10) }

func TestSteeringByMode(t *testing.T) {
	group := itoa(controller.AppGroupID(CookieID, engineGroupLow))
	for _, tc := range []struct {
		name, tail   string
		dpid         uint64
		want         string
		guards       int
		groupBuckets int
	}{
		{"controller mode", "", 1, "controller", 0, 0},
		{"one port, its switch", "  mode: port\n  ports: [{interface: eng0, switch: s2, port: 10}]\n", 2, "port:10", 2, 0},
		{"one port, another switch", "  mode: port\n  ports: [{interface: eng0, switch: s2, port: 10}]\n", 1, "port:9", 0, 0},
		{"cut off from the engine switch", "  mode: port\n  ports: [{interface: eng0, switch: s2, port: 10}]\n", 3, "controller", 0, 0},
		{"two ports, their switch", "  mode: port\n  ports: [{interface: eng0, switch: s2, port: 10}, {interface: eng1, switch: s2, port: 11}]\n",
			2, "group:" + group, 4, 2},
		{"two ports, another switch", "  mode: port\n  ports: [{interface: eng0, switch: s2, port: 10}, {interface: eng1, switch: s2, port: 11}]\n",
			1, "port:9", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := testApp(t, tc.tail)
			flows := a.FlowsFor(tc.dpid)
			got, guards := steeringOf(t, flows)
			// One service flow, pool6 TCP, pool6 Packet Too Big.
			if len(got) != 3 || strings.Count(strings.Join(got, " "), tc.want) != 3 {
				t.Errorf("steering to %v, want 3 times %s", got, tc.want)
			}
			if guards != tc.guards {
				t.Errorf("%d guard flows, want %d", guards, tc.guards)
			}
			// Pings and closed ports stay with the controller in every mode.
			vipFlows := 0
			for _, f := range flows {
				if f.Priority == prioVIP {
					vipFlows++
					if a := f.Instructions[0].(*ofp.InstructionActions).Actions[0].(*ofp.ActionOutput); a.Port != ofp.PortController {
						t.Errorf("VIP flow to port %d", a.Port)
					}
				}
			}
			if vipFlows != 1 {
				t.Errorf("%d VIP flows", vipFlows)
			}
			groups := a.GroupsFor(tc.dpid)
			if tc.groupBuckets == 0 {
				if len(groups) != 0 {
					t.Errorf("groups %+v, want none", groups)
				}
				return
			}
			if len(groups) != 1 || groups[0].Type != ofp.GroupTypeSelect || len(groups[0].Buckets) != tc.groupBuckets {
				t.Fatalf("groups %+v", groups)
			}
			for i, b := range groups[0].Buckets {
				port := uint32(10 + i)
				if b.Weight != 1 || b.WatchPort != port || b.Actions[0].(*ofp.ActionOutput).Port != port {
					t.Errorf("bucket %d: %+v", i, b)
				}
			}
		})
	}
}

func TestReloadRefusesNewPorts(t *testing.T) {
	port0 := "  mode: port\n  ports: [{interface: eng0, switch: s2, port: 10}]\n"
	a := testApp(t, port0)
	for _, tail := range []string{"  mode: port\n  ports: [{interface: eng1, switch: s2, port: 10}]\n", ""} {
		top, err := topo.Parse("t.yaml", []byte(twoSwitches+tail))
		if err != nil {
			t.Fatal(err)
		}
		if a.Reload(top) == nil {
			t.Errorf("a change of ports or mode was accepted on reload: %q", tail)
		}
	}
	top, err := topo.Parse("t.yaml", []byte(twoSwitches+port0))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Reload(top); err != nil {
		t.Errorf("same ports refused: %v", err)
	}
}

func quietLog() *logrus.Entry {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return logrus.NewEntry(l)
}
