package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/api"
	"github.com/sixgate/sixgate/controller"
	"github.com/sixgate/sixgate/controller/controllertest"
	"github.com/sixgate/sixgate/controller/ofp"
	"github.com/sixgate/sixgate/controller/ofptest"
)

type app struct{}

func (app) Name() string    { return "tablemiss" }
func (app) CookieID() uint8 { return 1 }
func (app) Flows(*controller.Switch) []controller.Flow {
	return []controller.Flow{{Priority: 0, Instructions: []ofp.Instruction{ofp.ApplyActions(ofp.Output(ofp.PortController))}}}
}

func get(t *testing.T, srv *httptest.Server, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func getJSON(t *testing.T, srv *httptest.Server, path string, v any) {
	t.Helper()
	code, body := get(t, srv, path)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, code, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, body)
	}
}

func dial(t *testing.T, addr string, sw *ofptest.Switch) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		sw.Dial(ctx, addr)
	}()
	t.Cleanup(func() { cancel(); <-done })
}

func TestAPI(t *testing.T) {
	ctl, addr, _ := controllertest.StartConfig(t, controller.Config{Apps: []controller.App{app{}}, StatsInterval: 50 * time.Millisecond})
	ctl.SetDeclared([]uint64{0xb1, 0xb2})
	loaded := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	s := &api.Server{Controller: ctl, Config: func() api.Config {
		return api.Config{Hash: "0123456789ab", SHA256: "0123456789ab" + strings.Repeat("0", 52), File: "/etc/sixgate.yaml",
			Loaded: loaded, ReloadsSuccess: 2, ReloadsFailure: 1, Names: map[uint64]string{0xb1: "s1", 0xb2: "s2"}}
	}}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	if code, body := get(t, srv, api.PathHealthz); code != http.StatusServiceUnavailable || body != "missing switches: 00000000000000b1,00000000000000b2\n" {
		t.Errorf("healthz with no switch: %d %q", code, body)
	}

	s1 := &ofptest.Switch{DPID: 0xb1, NTables: 1, Ports: []ofp.Port{
		{PortNo: 1, Name: "s1-eth1", HWAddr: net.HardwareAddr{2, 0, 0, 0, 0, 1}},
		{PortNo: ofp.PortLocal, Name: "s1", HWAddr: net.HardwareAddr{2, 0, 0, 0, 0, 0xfe}, Config: ofp.PortConfigDown},
	}}
	s1.SetPortStats(ofp.PortStats{PortNo: 1, RxPackets: 7, TxBytes: 900})
	dial(t, addr, s1)
	ofptest.WaitFor(t, "s1's port stats", func() bool {
		sw, ok := ctl.Switch(0xb1)
		if !ok {
			return false
		}
		_, at := sw.PortStats()
		return !at.IsZero() && sw.Counters().Flows >= 0
	})
	if code, body := get(t, srv, api.PathHealthz); code != http.StatusServiceUnavailable || body != "missing switches: 00000000000000b2\n" {
		t.Errorf("healthz with s2 missing: %d %q", code, body)
	}

	var st api.Status
	getJSON(t, srv, api.PathStatus, &st)
	if st.Role != "master" || st.Config.Hash != "0123456789ab" || st.Config.ReloadsFailure != 1 || len(st.Switches) != 2 ||
		strings.Join(st.Missing, ",") != "00000000000000b2" {
		t.Fatalf("status: %+v", st)
	}
	sw1, sw2 := st.Switches[0], st.Switches[1]
	if sw1.DPID != "00000000000000b1" || sw1.Name != "s1" || !sw1.Connected || sw1.Since == nil || sw1.Flows == nil || *sw1.Flows != 1 ||
		!strings.HasPrefix(sw1.Remote, "127.0.0.1:") || sw1.StatsAt == nil || len(sw1.Ports) != 2 {
		t.Errorf("s1: %+v", sw1)
	}
	if p := sw1.Ports[0]; p.Port != "1" || p.Name != "s1-eth1" || p.State != "up" || p.Stats == nil || p.Stats.RxPackets != 7 || p.Stats.TxBytes != 900 {
		t.Errorf("s1 port 1: %+v", p)
	}
	if p := sw1.Ports[1]; p.Port != "LOCAL" || p.State != "disabled" || p.Stats != nil {
		t.Errorf("s1 LOCAL: %+v", p)
	}
	if sw2.DPID != "00000000000000b2" || sw2.Name != "s2" || sw2.Connected || sw2.Since != nil {
		t.Errorf("s2: %+v", sw2)
	}

	var sws []api.Switch
	getJSON(t, srv, api.PathSwitches, &sws)
	if len(sws) != 2 || sws[0].DPID != "00000000000000b1" {
		t.Errorf("switches: %+v", sws)
	}
	var cfg api.Config
	getJSON(t, srv, api.PathConfig, &cfg)
	if cfg.Hash != "0123456789ab" || cfg.File != "/etc/sixgate.yaml" || !cfg.Loaded.Equal(loaded) || cfg.ReloadsSuccess != 2 {
		t.Errorf("config: %+v", cfg)
	}
	var role api.Role
	getJSON(t, srv, api.PathRole, &role)
	if role.Role != "master" || role.HA {
		t.Errorf("role: %+v", role)
	}

	s2 := &ofptest.Switch{DPID: 0xb2, NTables: 1}
	dial(t, addr, s2)
	ofptest.WaitFor(t, "s2", func() bool { _, ok := ctl.Switch(0xb2); return ok })
	if code, body := get(t, srv, api.PathHealthz); code != http.StatusOK || body != "ok: 2 switches connected\n" {
		t.Errorf("healthz with both: %d %q", code, body)
	}

	// Flows: one switch by name, by hex with or without 0x, or all.
	s2.AddFlow(ofp.FlowStats{Priority: 9, Cookie: 0x77, Match: ofp.NewMatch(ofp.InPort(3))})
	for _, q := range []string{"s2", "b2", "0xB2", "00000000000000b2"} {
		var fl api.Flows
		getJSON(t, srv, api.PathFlows+"?dpid="+q, &fl)
		if len(fl.Switches) != 1 || fl.Switches[0].DPID != "00000000000000b2" || len(fl.Switches[0].Flows) != 2 {
			t.Fatalf("flows of %s: %+v", q, fl)
		}
		f := fl.Switches[0].Flows
		if f[0].State != controller.FlowUnmanaged || f[1].State != controller.FlowOK || f[1].App != "tablemiss" {
			t.Errorf("flows of %s: %+v", q, f)
		}
	}
	var all api.Flows
	getJSON(t, srv, api.PathFlows, &all)
	if len(all.Switches) != 2 || all.Switches[0].Name != "s1" || all.Switches[1].Name != "s2" || all.Switches[0].Error != "" {
		t.Errorf("all flows: %+v", all)
	}
	if code, _ := get(t, srv, api.PathFlows+"?dpid=c3"); code != http.StatusNotFound {
		t.Errorf("flows of an absent switch: %d", code)
	}
	if code, _ := get(t, srv, api.PathFlows+"?dpid=nonsense"); code != http.StatusBadRequest {
		t.Errorf("flows of a bad dpid: %d", code)
	}
	resp, err := http.Post(srv.URL+api.PathStatus, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST status: %d", resp.StatusCode)
	}
}

// A switch that never answers flow stats: the API answers within its
// deadline with the error.
func TestFlowsDeadline(t *testing.T) {
	ctl, addr, _ := controllertest.StartConfig(t, controller.Config{Apps: []controller.App{app{}}})
	s := &api.Server{Controller: ctl, FlowTimeout: 200 * time.Millisecond}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	var stuck atomic.Bool
	sw := &ofptest.Switch{DPID: 0xe1, NTables: 1, Ignore: func(m ofp.Message) bool {
		mp, ok := m.(*ofp.MultipartRequest)
		return ok && mp.MPType == ofp.MultipartFlow && stuck.Load()
	}}
	dial(t, addr, sw)
	ofptest.WaitFor(t, "the switch's sync", func() bool {
		s, ok := ctl.Switch(0xe1)
		return ok && s.Counters().Flows >= 0
	})
	stuck.Store(true)
	start := time.Now()
	var fl api.Flows
	getJSON(t, srv, api.PathFlows, &fl)
	if took := time.Since(start); len(fl.Switches) != 1 || !strings.Contains(fl.Switches[0].Error, "deadline") || took > 2*time.Second {
		t.Errorf("flows of a stuck switch: %+v after %v", fl, took)
	}
}

func TestHealthzNotServing(t *testing.T) {
	log := logrus.New()
	log.SetOutput(io.Discard)
	ctl, err := controller.New(controller.Config{Log: logrus.NewEntry(log)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer((&api.Server{Controller: ctl}).Handler())
	defer srv.Close()
	if code, body := get(t, srv, api.PathHealthz); code != http.StatusServiceUnavailable || !strings.HasPrefix(body, "not serving") {
		t.Errorf("healthz before Serve: %d %q", code, body)
	}
}

func TestHealthzMasterFollowsTheRole(t *testing.T) {
	ctl, _, _ := controllertest.StartConfig(t, controller.Config{})
	var role atomic.Pointer[api.Role]
	role.Store(&api.Role{Role: api.RoleSlave, HA: true, Name: "b", Master: "a", Generation: 7, Lease: true})
	srv := httptest.NewServer((&api.Server{Controller: ctl, Role: func() api.Role { return *role.Load() }}).Handler())
	defer srv.Close()
	ofptest.WaitFor(t, "serving", ctl.Serving)
	if code, body := get(t, srv, api.PathHealthzMaster); code != http.StatusServiceUnavailable || body != "slave: the master is a (generation 7)\n" {
		t.Errorf("healthz/master on a slave: %d %q", code, body)
	}
	if code, _ := get(t, srv, api.PathHealthz); code != http.StatusOK {
		t.Errorf("healthz on a serving slave: %d", code)
	}
	var st api.Status
	getJSON(t, srv, api.PathStatus, &st)
	if st.Role != "slave" || st.HA.Master != "a" || st.HA.Generation != 7 || st.HA.Name != "b" {
		t.Errorf("status role: %+v", st)
	}
	role.Store(&api.Role{Role: api.RoleMaster, HA: true, Name: "b", Master: "b", Generation: 9, Lease: true})
	if code, body := get(t, srv, api.PathHealthzMaster); code != http.StatusOK || body != "master (generation 9)\n" {
		t.Errorf("healthz/master on the master: %d %q", code, body)
	}
}
