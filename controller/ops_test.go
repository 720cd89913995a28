package controller_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sixgate/sixgate/controller"
	"github.com/sixgate/sixgate/controller/controllertest"
	"github.com/sixgate/sixgate/controller/ofp"
	"github.com/sixgate/sixgate/controller/ofptest"
)

// flowApp declares flows and may be told to declare others.
type flowApp struct {
	mu    sync.Mutex
	flows []controller.Flow
}

func (a *flowApp) Name() string    { return "fixed" }
func (a *flowApp) CookieID() uint8 { return 7 }
func (a *flowApp) Flows(sw *controller.Switch) []controller.Flow {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.flows
}

// dynamicApp owns a cookie id but declares no flows.
type dynamicApp struct{}

func (dynamicApp) Name() string    { return "dynamic" }
func (dynamicApp) CookieID() uint8 { return 9 }

func apply(as ...ofp.Action) []ofp.Instruction {
	return []ofp.Instruction{ofp.ApplyActions(as...)}
}

func testPorts() []ofp.Port {
	return []ofp.Port{
		{PortNo: 1, Name: "eth1", HWAddr: net.HardwareAddr{0, 0, 0, 0, 0, 1}},
		{PortNo: 2, Name: "eth2", HWAddr: net.HardwareAddr{0, 0, 0, 0, 0, 2}, State: ofp.PortStateLinkDown},
	}
}

// connect dials sw to the controller until the returned cancel, and waits
// until its first sync is done.
func connect(t *testing.T, c *controller.Controller, addr string, sw *ofptest.Switch) context.CancelFunc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		sw.Dial(ctx, addr)
	}()
	t.Cleanup(func() { cancel(); <-done })
	ofptest.WaitFor(t, "the switch's first sync", func() bool {
		s, ok := c.Switch(sw.DPID)
		return ok && s.Counters().Flows >= 0
	})
	return func() { cancel(); <-done }
}

func TestSwitchAndPortMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	app := &flowApp{flows: []controller.Flow{{Priority: 0, Instructions: apply(ofp.Output(ofp.PortController))}}}
	c, addr, _ := controllertest.StartConfig(t, controller.Config{
		Apps: []controller.App{app}, Registerer: reg, StatsInterval: 50 * time.Millisecond,
		PacketInRate: 1, PacketInBurst: 1,
	})
	c.SetDeclared([]uint64{0xa1, 0xa2})
	sw := &ofptest.Switch{DPID: 0xa1, NTables: 1, Ports: testPorts()}
	sw.SetPortStats(ofp.PortStats{PortNo: 1, RxPackets: 10, TxPackets: 20, RxBytes: 1000, TxBytes: 2000, RxDropped: 1, TxDropped: 2, RxErrors: 3, TxErrors: 4})
	disconnect := connect(t, c, addr, sw)

	s, _ := c.Switch(0xa1)
	// The fake switch refuses the packet-in meter: that is one error.
	baseErrors := s.Counters().Errors
	// Three packet-ins: one passes the rate of 1/s with its burst of 1,
	// two are dropped for the rate. One error no request waits for.
	for i := 0; i < 3; i++ {
		if err := sw.SendMessage(&ofp.PacketIn{BufferID: ofp.NoBufferID, Reason: 1, Data: []byte{1, 2, 3}}); err != nil {
			t.Fatal(err)
		}
	}
	e := &ofp.ErrorMsg{ErrType: ofp.ErrBadRequest, Code: ofp.BadRequestBadMultipart}
	e.SetXID(0xdead)
	if err := sw.SendMessage(e); err != nil {
		t.Fatal(err)
	}
	ofptest.WaitFor(t, "counters", func() bool {
		n := s.Counters()
		return n.PacketIns == 3 && n.Errors == baseErrors+1
	})
	if n := s.Counters(); n.RateDrops != 2 {
		t.Errorf("counters %+v, want 2 packet-ins dropped for the rate", n)
	}
	ofptest.WaitFor(t, "port stats", func() bool { _, at := s.PortStats(); return !at.IsZero() })

	want := `
# HELP sixgate_port_rx_packets_total Packets received on the port (PORT_STATS).
# TYPE sixgate_port_rx_packets_total counter
sixgate_port_rx_packets_total{dpid="00000000000000a1",port="1"} 10
# HELP sixgate_port_tx_errors_total Send errors (PORT_STATS).
# TYPE sixgate_port_tx_errors_total counter
sixgate_port_tx_errors_total{dpid="00000000000000a1",port="1"} 4
# HELP sixgate_port_up 1 when the port is administratively up with a link, else 0.
# TYPE sixgate_port_up gauge
sixgate_port_up{dpid="00000000000000a1",port="1"} 1
sixgate_port_up{dpid="00000000000000a1",port="2"} 0
# HELP sixgate_port_info The port's name and MAC address (always 1).
# TYPE sixgate_port_info gauge
sixgate_port_info{dpid="00000000000000a1",hw_addr="00:00:00:00:00:01",name="eth1",port="1"} 1
sixgate_port_info{dpid="00000000000000a1",hw_addr="00:00:00:00:00:02",name="eth2",port="2"} 1
# HELP sixgate_switch_connected 1 while the switch is connected; 0 for a declared switch that is not.
# TYPE sixgate_switch_connected gauge
sixgate_switch_connected{dpid="00000000000000a1"} 1
sixgate_switch_connected{dpid="00000000000000a2"} 0
# HELP sixgate_switch_errors_total ERROR messages received from the switch in this session.
# TYPE sixgate_switch_errors_total counter
sixgate_switch_errors_total{dpid="00000000000000a1"} ERRORS
# HELP sixgate_switch_flows Flows the apps hold on the switch, as of the last successful sync.
# TYPE sixgate_switch_flows gauge
sixgate_switch_flows{dpid="00000000000000a1"} 1
# HELP sixgate_switch_packet_in_drops_total Packet-ins from the switch dropped by the controller: queue-full (event queue full) or rate (above packet_in_rate).
# TYPE sixgate_switch_packet_in_drops_total counter
sixgate_switch_packet_in_drops_total{dpid="00000000000000a1",reason="queue-full"} 0
sixgate_switch_packet_in_drops_total{dpid="00000000000000a1",reason="rate"} 2
# HELP sixgate_switch_packet_ins_total Packet-ins received from the switch in this session.
# TYPE sixgate_switch_packet_ins_total counter
sixgate_switch_packet_ins_total{dpid="00000000000000a1"} 3
`
	names := []string{"sixgate_port_rx_packets_total", "sixgate_port_tx_errors_total", "sixgate_port_up", "sixgate_port_info",
		"sixgate_switch_connected", "sixgate_switch_errors_total", "sixgate_switch_flows",
		"sixgate_switch_packet_in_drops_total", "sixgate_switch_packet_ins_total"}
	want = strings.Replace(want, "ERRORS", fmt.Sprint(baseErrors+1), 1)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}

	// The next poll brings new counters.
	sw.SetPortStats(ofp.PortStats{PortNo: 1, RxPackets: 15})
	ofptest.WaitFor(t, "the next poll", func() bool { st, _ := s.PortStats(); return st[1].RxPackets == 15 })

	// A declared switch that leaves stays as connected 0; its other series go.
	disconnect()
	ofptest.WaitFor(t, "the switch to leave", func() bool { _, ok := c.Switch(0xa1); return !ok })
	want = `
# HELP sixgate_switch_connected 1 while the switch is connected; 0 for a declared switch that is not.
# TYPE sixgate_switch_connected gauge
sixgate_switch_connected{dpid="00000000000000a1"} 0
sixgate_switch_connected{dpid="00000000000000a2"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	if got := c.Missing(); len(got) != 2 {
		t.Errorf("missing %x, want both declared switches", got)
	}

	// An undeclared switch that leaves leaves nothing behind.
	c.SetDeclared(nil)
	sw3 := &ofptest.Switch{DPID: 0xa3, NTables: 1, Ports: testPorts()}
	disconnect = connect(t, c, addr, sw3)
	if n, err := testutil.GatherAndCount(reg, "sixgate_port_up"); err != nil || n != 2 {
		t.Errorf("port_up series while connected: %d, %v", n, err)
	}
	disconnect()
	ofptest.WaitFor(t, "the switch to leave", func() bool { _, ok := c.Switch(0xa3); return !ok })
	if n, err := testutil.GatherAndCount(reg, names...); err != nil || n != 0 {
		t.Errorf("%d series left after an undeclared switch left (%v)", n, err)
	}
}

func TestStatsPollingOff(t *testing.T) {
	c, addr, _ := controllertest.StartConfig(t, controller.Config{})
	sw := &ofptest.Switch{DPID: 0xb1, NTables: 1, Ports: testPorts()}
	connect(t, c, addr, sw)
	time.Sleep(200 * time.Millisecond)
	for _, m := range sw.Received() {
		if mp, ok := m.(*ofp.MultipartRequest); ok && mp.MPType == ofp.MultipartPortStats {
			t.Fatal("PORT_STATS requested with StatsInterval 0")
		}
	}
	s, _ := c.Switch(0xb1)
	if _, at := s.PortStats(); !at.IsZero() {
		t.Error("port stats read with polling off")
	}
}

func echoRequests(sw *ofptest.Switch) int {
	n := 0
	for _, m := range sw.Received() {
		if _, ok := m.(*ofp.EchoRequest); ok {
			n++
		}
	}
	return n
}

// A switch that keeps talking is never probed; a quiet one is.
func TestEchoOnlyWhenIdle(t *testing.T) {
	c, addr, _ := controllertest.StartConfig(t, controller.Config{EchoInterval: 100 * time.Millisecond, EchoTimeout: time.Second})
	busy := &ofptest.Switch{DPID: 0xc1, NTables: 1}
	quiet := &ofptest.Switch{DPID: 0xc2, NTables: 1}
	connect(t, c, addr, busy)
	connect(t, c, addr, quiet)

	stop := make(chan struct{})
	talked := make(chan struct{})
	go func() {
		defer close(talked)
		for i := uint32(1); ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			m := &ofp.EchoRequest{Data: []byte("busy")}
			m.SetXID(i)
			if busy.SendMessage(m) != nil {
				return
			}
		}
	}()
	time.Sleep(800 * time.Millisecond)
	close(stop)
	<-talked
	if n := echoRequests(busy); n != 0 {
		t.Errorf("a switch sending a message every 20ms got %d ECHO_REQUESTs with echo_interval 100ms", n)
	}
	if n := echoRequests(quiet); n < 3 {
		t.Errorf("an idle switch got %d ECHO_REQUESTs in 800ms with echo_interval 100ms, want several", n)
	}
	if _, ok := c.Switch(0xc1); !ok {
		t.Error("the busy switch was disconnected")
	}
}

func TestFlowReport(t *testing.T) {
	mac := net.HardwareAddr{0, 0, 0xa, 0, 0, 1}
	declared := []controller.Flow{
		{Priority: 0, Instructions: apply(ofp.Output(ofp.PortController))},
		{Priority: 100, Match: ofp.NewMatch(ofp.EthType(0x0806)), Cookie: 1, Instructions: apply(ofp.Output(ofp.PortController))},
		{Priority: 200, Match: ofp.NewMatch(ofp.InPort(1), ofp.EthDst(mac)), Cookie: 2, Instructions: apply(ofp.Output(2))},
	}
	app := &flowApp{flows: declared}
	c, addr, ctx := controllertest.StartConfig(t, controller.Config{Apps: []controller.App{app, dynamicApp{}}})
	sw := &ofptest.Switch{DPID: 0xd1, NTables: 1}
	connect(t, c, addr, sw)
	s, _ := c.Switch(0xd1)
	report, err := s.FlowReport(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(report) != 3 {
		t.Fatalf("report after sync: %+v", report)
	}
	for _, e := range report {
		if e.State != controller.FlowOK || e.App != "fixed" {
			t.Errorf("after sync: %+v, want ok and owned by fixed", e)
		}
	}

	// Change the table behind the controller's back: the ARP flow's
	// action, the unicast flow gone, one flow of the app's that it does
	// not declare, one of an app that installs flows itself, one of nobody.
	cookie := func(id uint8, low uint64) uint64 { return controller.AppCookie(id, low) }
	toStats := func(f controller.Flow) ofp.FlowStats {
		return ofp.FlowStats{TableID: f.Table, Priority: f.Priority, Cookie: cookie(7, f.Cookie), Match: f.Match, Instructions: f.Instructions}
	}
	arp := toStats(declared[1])
	arp.Instructions = apply(ofp.Output(3))
	arp.PacketCount, arp.ByteCount = 5, 300
	sw.SetFlows(
		toStats(declared[0]), arp,
		ofp.FlowStats{Priority: 50, Cookie: cookie(7, 9), Match: ofp.NewMatch(ofp.InPort(4)), Instructions: apply()},
		ofp.FlowStats{Priority: 60, Cookie: cookie(9, 1), Match: ofp.NewMatch(ofp.InPort(5)), Instructions: apply(ofp.Output(1))},
		ofp.FlowStats{Priority: 70, Cookie: 0x42, Match: ofp.NewMatch(ofp.InPort(6)), Instructions: apply(ofp.Output(1))},
	)
	report, err = s.FlowReport(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range report {
		got = append(got, strings.Join([]string{e.App, e.State, e.Match, e.Instructions, e.Want}, "|"))
	}
	want := []string{
		"fixed|missing|in_port=1,eth_dst=00:00:0a:00:00:01|output:2|",
		"fixed|differs|eth_type=0x806|output:3|CONTROLLER:65535",
		"|unmanaged|in_port=6|output:1|",
		"dynamic|dynamic|in_port=5|output:1|",
		"fixed|extra|in_port=4|drop|",
		"fixed|ok|any|CONTROLLER:65535|",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("report:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if report[1].Packets != 5 || report[1].Bytes != 300 {
		t.Errorf("counters of the ARP flow: %+v", report[1])
	}

	// A switch that does not answer in time: the caller's deadline holds.
	dctx, cancel := context.WithTimeout(ctx, time.Nanosecond)
	defer cancel()
	time.Sleep(time.Millisecond)
	if _, err := s.FlowReport(dctx); err == nil {
		t.Error("FlowReport past its deadline returned no error")
	}
}
