package datapath

import (
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/controller/ofp"
	"github.com/sixgate/sixgate/packet"
	"github.com/sixgate/sixgate/topo"
)

// ringTopology is a ring with the engine port on s2.
const ringTopology = `
switches: [{name: s1, dpid: "0x1"}, {name: s2, dpid: "0x2"}, {name: s3, dpid: "0x3"}]
links: [{a: "s1:9", b: "s2:9"}, {a: "s2:8", b: "s3:8"}, {a: "s3:7", b: "s1:7"}]
hosts:
  - {name: h1, switch: s1, port: 1, mac: "00:00:0a:00:00:01", ipv6: ["2001:db8::1"]}
`

type nopEngine struct{}

func (nopEngine) Handle([]byte, *packet.Batch) packet.Verdict { return packet.Pass }
func (nopEngine) Expire(*packet.Batch)                        {}

func ringPath(t *testing.T) *Path {
	t.Helper()
	top, err := topo.Parse("ring.yaml", []byte(ringTopology))
	if err != nil {
		t.Fatal(err)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	p, err := New(Config{Name: "test", CookieID: 0x7e, Log: logrus.NewEntry(log), Mode: topo.DataPathPort,
		Ports: []*topo.EnginePort{{Interface: "eng0", Switch: "s2", DPID: 2, Port: 10}}},
		State{Topology: top, Engine: nopEngine{}, MAC: []byte{0, 0, 0x0a, 0, 0, 0x42},
			Steer: []Steer{{Priority: 100, Match: ofp.NewMatch(ofp.EthType(packet.EtherTypeIPv6))}}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// steersTo says where switch dpid's steering flow sends packets.
func steersTo(p *Path, dpid uint64) string {
	var out []string
	for _, f := range p.FlowsFor(dpid) {
		a := f.Instructions[0].(*ofp.InstructionActions).Actions[0].(*ofp.ActionOutput)
		if a.Port == ofp.PortController {
			out = append(out, "controller")
		} else {
			out = append(out, "port:"+strconv.FormatUint(uint64(a.Port), 10))
		}
	}
	return strings.Join(out, " ")
}

// In a ring, a switch steers towards the engine's switch over the shortest
// path that is up: cutting that link moves the steering to the long way.
func TestSteeringFollowsLinkState(t *testing.T) {
	p := ringPath(t)
	if got := steersTo(p, 1); got != "port:9" {
		t.Fatalf("s1 steers %q with every link up, want port 9 (towards s2)", got)
	}
	if !p.followLinks(1, 9, true) {
		t.Fatal("s1:9 going down changed nothing")
	}
	if got := steersTo(p, 1); got != "port:7" {
		t.Errorf("s1 steers %q with s1:9 down, want port 7 (round by s3)", got)
	}
	if p.followLinks(1, 9, true) {
		t.Error("a second down for the same port reported a change")
	}
	if !p.followLinks(1, 9, false) || steersTo(p, 1) != "port:9" {
		t.Errorf("s1:9 back up: steering %q", steersTo(p, 1))
	}
}

// A link already down when its switch connects is taken into account: the
// switch reports port 9 down and does not report port 7 at all; the first
// goes round by s3, the second (s1's other link) then leaves s1 cut off.
func TestSteeringReadsPortsOnConnect(t *testing.T) {
	p := ringPath(t)
	ports := map[uint32]ofp.Port{7: {PortNo: 7}, 9: {PortNo: 9, State: ofp.PortStateLinkDown}}
	lookup := func(no uint32) (ofp.Port, bool) { pt, ok := ports[no]; return pt, ok }
	if !p.applyPorts(1, lookup) {
		t.Fatal("a down port on connect changed nothing")
	}
	if got := steersTo(p, 1); got != "port:7" {
		t.Errorf("s1 steers %v with s1:9 down, want port 7", got)
	}
	delete(ports, 7)
	p.applyPorts(1, lookup)
	if got := steersTo(p, 1); got != "controller" {
		t.Errorf("s1 steers %v with both links down, want the controller", got)
	}
}

// A reload may not change the mode or the engine ports.
func TestSameLayout(t *testing.T) {
	p := ringPath(t)
	same := []*topo.EnginePort{{Interface: "eng0", Switch: "s2", DPID: 2, Port: 10}}
	if err := p.SameLayout(topo.DataPathPort, same); err != nil {
		t.Error(err)
	}
	if p.SameLayout(topo.DataPathPort, []*topo.EnginePort{{Interface: "eng1", Switch: "s2", DPID: 2, Port: 10}}) == nil ||
		p.SameLayout(topo.DataPathController, nil) == nil {
		t.Error("a change of ports or mode was accepted")
	}
}
