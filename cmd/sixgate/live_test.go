package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/api"
	"github.com/sixgate/sixgate/controller"
	"github.com/sixgate/sixgate/topo"
)

func parse(t *testing.T, text string) *topo.Topology {
	t.Helper()
	tp, err := topo.Parse("t.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

func TestLiveConfigMetrics(t *testing.T) {
	t1 := parse(t, "switches: [{name: s1, dpid: \"0x1\"}]\n")
	t2 := parse(t, "switches: [{name: s1, dpid: \"0x1\"}, {name: s2, dpid: \"0x2\"}]\n")
	live := newLiveConfig(t1)
	reg := prometheus.NewRegistry()
	if err := live.register(reg); err != nil {
		t.Fatal(err)
	}
	check := func(hash string, ok, ko int) {
		t.Helper()
		want := `
# HELP sixgate_config_hash_info The configuration in force: the first 12 hex digits of the SHA-256 of its file (always 1).
# TYPE sixgate_config_hash_info gauge
sixgate_config_hash_info{hash="` + hash + `"} 1
# HELP sixgate_config_reloads_total Configuration reloads (SIGHUP), by result: success or failure (the running configuration was kept).
# TYPE sixgate_config_reloads_total counter
sixgate_config_reloads_total{result="failure"} ` + string(rune('0'+ko)) + `
sixgate_config_reloads_total{result="success"} ` + string(rune('0'+ok)) + `
`
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "sixgate_config_hash_info", "sixgate_config_reloads_total"); err != nil {
			t.Error(err)
		}
		info := live.info()
		if info.Hash != hash || info.ReloadsSuccess != uint64(ok) || info.ReloadsFailure != uint64(ko) {
			t.Errorf("info %+v", info)
		}
	}
	check(t1.ShortHash(), 0, 0)
	live.failed()
	check(t1.ShortHash(), 0, 1)
	live.loaded(t2)
	check(t2.ShortHash(), 1, 1)
	if n := live.info().Names; n[2] != "s2" {
		t.Errorf("names %v", n)
	}
	if n, err := testutil.GatherAndCount(reg, "sixgate_build_info"); n != 1 || err != nil {
		t.Errorf("build info: %d series, %v", n, err)
	}
}

// The HTTP server puts /metrics, the API, /healthz and the apps' pages
// side by side.
func TestServeHTTP(t *testing.T) {
	log := logrus.New()
	log.SetOutput(io.Discard)
	reg := prometheus.NewRegistry()
	ctl, err := controller.New(controller.Config{Log: logrus.NewEntry(log), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	live := newLiveConfig(parse(t, "switches: [{name: s1, dpid: \"0x1\"}]\n"))
	pages := map[string]http.Handler{"/connections": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "conns\n") })}
	srv, addr, err := serveHTTPOn("127.0.0.1:0", reg, pages, &api.Server{Controller: ctl, Config: live.info}, logrus.NewEntry(log))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for path, want := range map[string]struct {
		code int
		body string
	}{
		"/healthz":       {503, "not serving"},
		"/metrics":       {200, "sixgate_of_switches 0"},
		"/api/v1/role":   {200, `"role": "master"`},
		"/api/v1/config": {200, `"hash": "` + live.info().Hash + `"`},
		"/connections":   {200, "conns"},
		"/nothing":       {404, ""},
	} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want.code || !strings.Contains(string(b), want.body) {
			t.Errorf("GET %s: %d %q, want %d with %q", path, resp.StatusCode, b, want.code, want.body)
		}
	}
}
