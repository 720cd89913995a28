package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/sixgate/sixgate/api"
	"github.com/sixgate/sixgate/controller"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -update rewrites it):\n--- got\n%s--- want\n%s", name, got, want)
	}
}

func sampleStatus() *api.Status {
	since := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	flows := int64(12)
	return &api.Status{
		Role: "master",
		Config: api.Config{Hash: "3f2a9c1d0b7e", SHA256: "3f2a9c1d0b7e" + strings.Repeat("0", 52), File: "/etc/sixgate/sixgate.yaml",
			Loaded: since, ReloadsSuccess: 2, ReloadsFailure: 1},
		Switches: []api.Switch{
			{DPID: "00000000000000b1", Name: "s1", Connected: true, Remote: "127.0.0.1:40312", Since: &since,
				PacketIns: 1234, PacketInDrops: 5, Errors: 1, Flows: &flows, StatsAt: &since,
				Ports: []api.Port{
					{No: 1, Port: "1", Name: "s1-eth1", HWAddr: "02:00:00:00:00:01", State: "up",
						Stats: &api.PortCounters{RxPackets: 1000, TxPackets: 2000, RxBytes: 150000, TxBytes: 3000000, RxDropped: 1}},
					{No: 2, Port: "2", Name: "s1-eth2", State: "down",
						Stats: &api.PortCounters{TxErrors: 3}},
					{No: 0xfffffffe, Port: "LOCAL", Name: "s1", State: "disabled"},
				}},
			{DPID: "00000000000000b2", Name: "s2", Ports: []api.Port{}},
		},
		Missing: []string{"00000000000000b2"},
	}
}

func sampleFlows() *api.Flows {
	return &api.Flows{Switches: []api.SwitchFlows{
		{DPID: "00000000000000b1", Name: "s1", Flows: []controller.FlowEntry{
			{Table: 0, Priority: 200, App: "neighbor", State: controller.FlowMissing, Match: "in_port=1,eth_dst=00:00:0a:00:00:01", Instructions: "output:2"},
			{Table: 0, Priority: 100, App: "neighbor", State: controller.FlowDiffers, Match: "eth_type=0x806", Instructions: "output:3", Want: "CONTROLLER:65535", Packets: 5, Bytes: 300},
			{Table: 0, Priority: 70, State: controller.FlowUnmanaged, Match: "in_port=6", Instructions: "output:1"},
			{Table: 0, Priority: 0, App: "neighbor", State: controller.FlowOK, Match: "any", Instructions: "drop", Packets: 17, Bytes: 1020},
		}},
		{DPID: "00000000000000b2", Flows: []controller.FlowEntry{
			{Table: 0, Priority: 0, App: "tablemiss", State: controller.FlowOK, Match: "any", Instructions: "CONTROLLER:65535"},
		}},
		{DPID: "00000000000000b3", Error: "switch 00000000000000b3: multipart FLOW: context deadline exceeded", Flows: []controller.FlowEntry{}},
	}}
}

func TestStatusOutput(t *testing.T) {
	var b bytes.Buffer
	writeStatus(&b, sampleStatus(), time.Date(2026, 12, 1, 15, 2, 3, 500, time.UTC))
	golden(t, "status.txt", b.String())
}

func TestFlowsOutput(t *testing.T) {
	var b bytes.Buffer
	if writeFlows(&b, sampleFlows()) {
		t.Error("a switch whose flows were not read did not fail the command")
	}
	golden(t, "flows.txt", b.String())
}

// The commands against a server answering like sixgate's.
func TestClientCommands(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc(api.PathStatus, func(w http.ResponseWriter, r *http.Request) { json.NewEncoder(w).Encode(sampleStatus()) })
	mux.HandleFunc(api.PathFlows, func(w http.ResponseWriter, r *http.Request) {
		f := sampleFlows()
		if r.URL.Query().Get("dpid") == "s2" {
			f.Switches = f.Switches[1:2]
		}
		json.NewEncoder(w).Encode(f)
	})
	mux.HandleFunc("/connections", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("format") == "json" {
			w.Write([]byte("[]\n"))
			return
		}
		w.Write([]byte("sixgate: 0 spliced connections\n"))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	cases := []struct {
		cmd    func([]string, *bytes.Buffer, *bytes.Buffer) int
		args   []string
		code   int
		out    string // a line of the output
		errOut string
	}{
		{runStatus, []string{"-http", addr}, 0, "role      master", ""},
		{runStatus, []string{"-metrics", addr, "-json"}, 0, `"role":"master"`, ""},
		{runStatus, []string{"-http", addr, "-connections"}, 0, "sixgate: 0 spliced connections", "status -connections is deprecated; use sixgate connections"},
		{runConnections, []string{"-http", addr}, 0, "sixgate: 0 spliced connections", ""},
		{runConnections, []string{"-http", addr, "-json"}, 0, "[]", ""},
		{runFlows, []string{"-http", addr, "-dpid", "s2"}, 0, "00000000000000b2: 1 flows installed, as desired", ""},
		{runFlows, []string{"-http", addr}, 1, "s1 (00000000000000b1): 3 flows installed, 2 differ from the desired state", ""},
		{runFlows, []string{"-http", addr, "extra"}, 2, "", "usage: sixgate flows"},
		{runStatus, []string{"-h"}, 0, "", "usage: sixgate status"},
		{runFlows, []string{"-h"}, 0, "", "-dpid"},
		{runConnections, []string{"-h"}, 0, "", "usage: sixgate connections"},
		{runConnections, []string{"-bogus"}, 2, "", "flag provided but not defined"},
		{runConnections, []string{"-http", "127.0.0.1:1"}, 1, "", "is sixgate running"},
	}
	for _, c := range cases {
		var out, errOut bytes.Buffer
		code := c.cmd(c.args, &out, &errOut)
		if code != c.code || !strings.Contains(out.String(), c.out) || !strings.Contains(errOut.String(), c.errOut) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want %d, %q, %q", c.args, code, out.String(), errOut.String(), c.code, c.out, c.errOut)
		}
	}
}

func runStatus(a []string, o, e *bytes.Buffer) int      { return statusMain(a, o, e) }
func runFlows(a []string, o, e *bytes.Buffer) int       { return flowsMain(a, o, e) }
func runConnections(a []string, o, e *bytes.Buffer) int { return connectionsMain(a, o, e) }

func TestHelpListsCommands(t *testing.T) {
	var b bytes.Buffer
	fs, _ := daemonFlags(&b)
	writeHelp(&b, fs)
	for _, c := range commands {
		if !strings.Contains(b.String(), "\n  "+c.name+" ") {
			t.Errorf("help does not list %s:\n%s", c.name, b.String())
		}
	}
	for _, args := range [][]string{{"-h"}, {"check", "-h"}, {"ofp-print", "-h"}, {"status", "-h"}, {"flows", "-help"}, {"connections", "-h"}, {"-version"}} {
		if code := run(args); code != 0 {
			t.Errorf("sixgate %q: exit %d, want 0", args, code)
		}
	}
	for _, args := range [][]string{{"-bogus"}, {"check"}, {"check", "-bogus"}, {"ofp-print"}} {
		if code := run(args); code != 2 {
			t.Errorf("sixgate %q: exit %d, want 2", args, code)
		}
	}
}

func TestVersion(t *testing.T) {
	bi := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "26f1095230641697ba0be4e47784b23987e0bd36"}, {Key: "vcs.modified", Value: "true"}}}
	cases := []struct {
		bi      *debug.BuildInfo
		stamped string
		want    string
	}{
		{bi, "", "sixgate devel (26f109523064, modified) go1.26.3"},
		{bi, "v1.2.0", "sixgate v1.2.0 (26f109523064, modified) go1.26.3"},
		{&debug.BuildInfo{Main: debug.Module{Version: "v0.9.1"}}, "", "sixgate v0.9.1 (unknown) go1.26.3"},
		{nil, "", "sixgate devel (unknown) go1.26.3"},
	}
	for _, c := range cases {
		if got := formatVersion(c.bi, c.bi != nil, c.stamped, "go1.26.3"); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
	if v := versionString(); !strings.HasPrefix(v, "sixgate ") || !strings.Contains(v, " go1.") {
		t.Errorf("versionString() = %q", v)
	}
}

func TestStatusOutputWithHA(t *testing.T) {
	st := sampleStatus()
	st.Role = "slave"
	st.HA = api.Role{Role: "slave", HA: true, Name: "b", Master: "a", Generation: 42, Lease: true}
	st.Switches[0].Role = "slave"
	var b strings.Builder
	writeStatus(&b, st, time.Date(2026, 12, 1, 14, 5, 0, 0, time.UTC))
	out := b.String()
	for _, want := range []string{"slave (instance b; master a, generation 42, lease held)", "FLOWS  ROLE", "12     slave"} {
		if !strings.Contains(out, want) {
			t.Errorf("status with ha lacks %q:\n%s", want, out)
		}
	}
}
