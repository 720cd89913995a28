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

func testState(t *testing.T, tail string) *state {
	t.Helper()
	top, err := topo.Parse("t.yaml", []byte(twoSwitches+tail))
	if err != nil {
		t.Fatal(err)
	}
	st, err := newState(top)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// steering lists, for each steering flow (service and pool6), where its
// action sends the packet: "port:N", "group:N" or "controller".
func steering(t *testing.T, flows []controller.Flow) (out []string, guards int) {
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
			st := testState(t, tc.tail)
			flows := st.flowsFor(tc.dpid)
			got, guards := steering(t, flows)
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
			groups := st.groupsFor(tc.dpid)
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
	a := testState(t, "  mode: port\n  ports: [{interface: eng0, switch: s2, port: 10}]\n").topo.Splice46
	b := testState(t, "  mode: port\n  ports: [{interface: eng1, switch: s2, port: 10}]\n").topo.Splice46
	c := testState(t, "").topo.Splice46
	if err := sameDataPath(a, a); err != nil {
		t.Error(err)
	}
	if sameDataPath(a, b) == nil || sameDataPath(a, c) == nil {
		t.Error("a change of ports or mode was accepted on reload")
	}
}

// ringPortMode is a ring with the engine port on s2.
const ringPortMode = `
switches: [{name: s1, dpid: "0x1"}, {name: s2, dpid: "0x2"}, {name: s3, dpid: "0x3"}]
links: [{a: "s1:9", b: "s2:9"}, {a: "s2:8", b: "s3:8"}, {a: "s3:7", b: "s1:7"}]
hosts:
  - {name: h1, switch: s1, port: 1, mac: "00:00:0a:00:00:01", ipv6: ["2001:db8::1"]}
  - {name: h3, switch: s1, port: 3, mac: "00:00:0a:00:00:03", ipv4: ["10.0.0.3"]}
splice46:
  mac: "00:00:0a:00:00:42"
  pool6: "2001:db8:ffff::/96"
  mode: port
  ports: [{interface: eng0, switch: s2, port: 10}]
  services:
    - {vip: "10.0.0.42", port: 80, backends: [{address: "[2001:db8::1]:80"}]}
`

// In a ring, a switch steers towards the engine's switch over the shortest
// path that is up: cutting that link moves the steering to the long way.
func TestSteeringFollowsLinkState(t *testing.T) {
	top, err := topo.Parse("t.yaml", []byte(ringPortMode))
	if err != nil {
		t.Fatal(err)
	}
	app, err := New(top, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	steersTo := func() string {
		got, _ := steering(t, app.state.Load().flowsFor(1))
		return strings.Join(got, " ")
	}
	if got := steersTo(); got != "port:9 port:9 port:9" {
		t.Fatalf("s1 steers %q with every link up, want port 9 (towards s2)", got)
	}
	if !app.followLinks(1, 9, true) {
		t.Fatal("s1:9 going down changed nothing")
	}
	if got := steersTo(); got != "port:7 port:7 port:7" {
		t.Errorf("s1 steers %q with s1:9 down, want port 7 (round by s3)", got)
	}
	if app.followLinks(1, 9, true) {
		t.Error("a second down for the same port reported a change")
	}
	if !app.followLinks(1, 9, false) || steersTo() != "port:9 port:9 port:9" {
		t.Errorf("s1:9 back up: steering %q", steersTo())
	}
}

func quietLog() *logrus.Entry {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return logrus.NewEntry(l)
}

// A link already down when its switch connects is taken into account: the
// switch reports port 9 down and does not report port 7 at all; the first
// goes round by s3, the second (s1's other link) then leaves s1 cut off.
func TestSteeringReadsPortsOnConnect(t *testing.T) {
	top, err := topo.Parse("t.yaml", []byte(ringPortMode))
	if err != nil {
		t.Fatal(err)
	}
	app, err := New(top, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	ports := map[uint32]ofp.Port{7: {PortNo: 7}, 9: {PortNo: 9, State: ofp.PortStateLinkDown}}
	lookup := func(no uint32) (ofp.Port, bool) { p, ok := ports[no]; return p, ok }
	if !app.applyPorts(1, lookup) {
		t.Fatal("a down port on connect changed nothing")
	}
	if got, _ := steering(t, app.state.Load().flowsFor(1)); strings.Join(got, " ") != "port:7 port:7 port:7" {
		t.Errorf("s1 steers %v with s1:9 down, want port 7", got)
	}
	delete(ports, 7)
	app.applyPorts(1, lookup)
	if got, _ := steering(t, app.state.Load().flowsFor(1)); strings.Join(got, " ") != "controller controller controller" {
		t.Errorf("s1 steers %v with both links down, want the controller", got)
	}
}
