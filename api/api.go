// Package api is sixgate's read API for operators, served next to /metrics:
// the switches with their ports and counters, each switch's flows as
// installed compared with the apps' desired state, the live configuration
// and the instance's role, and /healthz. The types are the JSON the server
// writes and the sixgate command reads.
package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sixgate/sixgate/controller"
	"github.com/sixgate/sixgate/controller/ofp"
)

// Paths served by Handler.
const (
	PathStatus   = "/api/v1/status"
	PathSwitches = "/api/v1/switches"
	PathFlows    = "/api/v1/flows"
	PathConfig   = "/api/v1/config"
	PathRole     = "/api/v1/role"
	PathHealthz  = "/healthz"
	// PathHealthzMaster answers 200 on the master instance only.
	PathHealthzMaster = "/healthz/master"
	// The NAT64's tables, served when the nat64 app runs.
	PathNAT64BIB      = "/api/v1/nat64/bib"
	PathNAT64Sessions = "/api/v1/nat64/sessions"
)

// Roles of an instance. Without an ha section an instance runs alone and
// is always master.
const (
	RoleMaster = "master"
	RoleSlave  = "slave"
)

// Role is the instance's place among several controllers (docs/ha.md).
type Role struct {
	Role string `json:"role"`
	// HA tells whether the instance is one of several; the fields below
	// are set only then.
	HA   bool   `json:"ha"`
	Name string `json:"name,omitempty"`
	// Master is the current master's name as last seen in etcd.
	Master     string `json:"master,omitempty"`
	Generation uint64 `json:"generation_id,omitempty"`
	// Lease tells whether the instance holds a live lease in etcd.
	Lease bool `json:"lease,omitempty"`
}

// Config is which configuration is live.
type Config struct {
	// Hash is the first 12 hex digits of SHA256, as the metrics show it.
	Hash   string    `json:"hash"`
	SHA256 string    `json:"sha256"`
	File   string    `json:"file"`
	Loaded time.Time `json:"loaded"`
	// Reloads count SIGHUP reloads applied and refused since the start.
	ReloadsSuccess uint64 `json:"reloads_success"`
	ReloadsFailure uint64 `json:"reloads_failure"`
	// Names are the topology's switch names by datapath id; not sent.
	Names map[uint64]string `json:"-"`
}

// PortCounters are a port's PORT_STATS counters.
type PortCounters struct {
	RxPackets uint64 `json:"rx_packets"`
	TxPackets uint64 `json:"tx_packets"`
	RxBytes   uint64 `json:"rx_bytes"`
	TxBytes   uint64 `json:"tx_bytes"`
	RxDropped uint64 `json:"rx_dropped"`
	TxDropped uint64 `json:"tx_dropped"`
	RxErrors  uint64 `json:"rx_errors"`
	TxErrors  uint64 `json:"tx_errors"`
}

// Port is one port of a switch.
type Port struct {
	No     uint32 `json:"port_no"`
	Port   string `json:"port"` // the number, or LOCAL, as Open vSwitch names it
	Name   string `json:"name"`
	HWAddr string `json:"hw_addr"`
	// State is "up", "down" (no link) or "disabled" (administratively down).
	State string `json:"state"`
	// Stats is nil when PORT_STATS has not been read (polling off, or
	// not yet answered).
	Stats *PortCounters `json:"stats,omitempty"`
}

// Switch is one switch: connected, or declared by the topology and absent.
type Switch struct {
	DPID      string     `json:"dpid"`
	Name      string     `json:"name,omitempty"`
	Connected bool       `json:"connected"`
	Remote    string     `json:"remote,omitempty"`
	Since     *time.Time `json:"connected_since,omitempty"`
	PacketIns uint64     `json:"packet_ins"`
	// PacketInDrops are packet-ins the controller dropped (queue full or
	// above packet_in_rate).
	PacketInDrops uint64 `json:"packet_in_drops"`
	Errors        uint64 `json:"errors"`
	// Flows the apps hold on the switch as of the last sync; nil before.
	Flows *int64 `json:"flows,omitempty"`
	// Role is this controller's role as the switch last confirmed it
	// (master, slave, or equal without ha).
	Role    string     `json:"role,omitempty"`
	StatsAt *time.Time `json:"stats_at,omitempty"`
	Ports   []Port     `json:"ports"`
}

// Status is everything `sixgate status` shows.
type Status struct {
	Role string `json:"role"`
	// HA is the role in detail: the current master, the generation id.
	HA       Role     `json:"ha"`
	Config   Config   `json:"config"`
	Switches []Switch `json:"switches"`
	// Missing lists the declared switches that are not connected.
	Missing []string `json:"missing"`
}

// SwitchFlows is one switch's flow table as read from it.
type SwitchFlows struct {
	DPID  string                 `json:"dpid"`
	Name  string                 `json:"name,omitempty"`
	Error string                 `json:"error,omitempty"`
	Flows []controller.FlowEntry `json:"flows"`
}

// Flows is the answer of PathFlows.
type Flows struct {
	Switches []SwitchFlows `json:"switches"`
}

// Server answers the API from a running controller.
type Server struct {
	Controller *controller.Controller
	// Config returns the live configuration.
	Config func() Config
	// FlowTimeout bounds the flow-stats read of each switch (default 5s).
	FlowTimeout time.Duration
	// Role returns the instance's role; nil: alone, always master.
	Role func() Role
}

func (s *Server) role() Role {
	if s.Role == nil {
		return Role{Role: RoleMaster}
	}
	return s.Role()
}

// Handler serves the API paths and /healthz.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PathStatus, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, s.Status()) })
	mux.HandleFunc("GET "+PathSwitches, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, s.Status().Switches) })
	mux.HandleFunc("GET "+PathConfig, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, s.config()) })
	mux.HandleFunc("GET "+PathRole, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, s.role()) })
	mux.HandleFunc("GET "+PathFlows, s.serveFlows)
	mux.HandleFunc("GET "+PathHealthz, s.serveHealthz)
	mux.HandleFunc("GET "+PathHealthzMaster, s.serveHealthzMaster)
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func (s *Server) config() Config {
	if s.Config == nil {
		return Config{}
	}
	return s.Config()
}

// Status collects the role, the configuration and every switch, the
// declared absent ones included.
func (s *Server) Status() Status {
	cfg := s.config()
	role := s.role()
	st := Status{Role: role.Role, HA: role, Config: cfg, Switches: []Switch{}, Missing: []string{}}
	for _, d := range s.Controller.Missing() {
		st.Missing = append(st.Missing, controller.FormatDPID(d))
	}
	byDPID := map[uint64]Switch{}
	for _, sw := range s.Controller.Switches() {
		byDPID[sw.DPID()] = switchInfo(sw, cfg.Names[sw.DPID()])
	}
	for _, d := range s.Controller.Missing() {
		byDPID[d] = Switch{DPID: controller.FormatDPID(d), Name: cfg.Names[d], Ports: []Port{}}
	}
	for _, sw := range byDPID {
		st.Switches = append(st.Switches, sw)
	}
	sortSwitches(st.Switches)
	return st
}

func sortSwitches(ss []Switch) {
	sort.Slice(ss, func(i, j int) bool { return ss[i].DPID < ss[j].DPID })
}

// PortState names a port's state the way the API and the CLI show it.
func PortState(p ofp.Port) string {
	switch {
	case p.Config&ofp.PortConfigDown != 0:
		return "disabled"
	case p.State&ofp.PortStateLinkDown != 0:
		return "down"
	}
	return "up"
}

func switchInfo(sw *controller.Switch, name string) Switch {
	n := sw.Counters()
	since := sw.ConnectedSince().UTC()
	out := Switch{
		DPID: controller.FormatDPID(sw.DPID()), Name: name, Connected: true,
		Remote: sw.RemoteAddr(), Since: &since,
		PacketIns: n.PacketIns, PacketInDrops: n.QueueDrops + n.RateDrops, Errors: n.Errors,
		Ports: []Port{},
	}
	if n.Flows >= 0 {
		out.Flows = &n.Flows
	}
	out.Role = controller.RoleName(sw.Role().Role)
	stats, at := sw.PortStats()
	if !at.IsZero() {
		at = at.UTC()
		out.StatsAt = &at
	}
	for _, p := range sw.Ports() {
		port := Port{No: p.PortNo, Port: ofp.PortName(p.PortNo), Name: p.Name, HWAddr: p.HWAddr.String(), State: PortState(p)}
		if st, ok := stats[p.PortNo]; ok {
			port.Stats = &PortCounters{
				RxPackets: st.RxPackets, TxPackets: st.TxPackets, RxBytes: st.RxBytes, TxBytes: st.TxBytes,
				RxDropped: st.RxDropped, TxDropped: st.TxDropped, RxErrors: st.RxErrors, TxErrors: st.TxErrors,
			}
		}
		out.Ports = append(out.Ports, port)
	}
	return out
}

// ParseDPID reads a datapath id as written to the API and the CLI: hex with
// or without 0x ("b1", "0xb1", "00000000000000b1"), or a switch name the
// topology declares.
func ParseDPID(s string, names map[uint64]string) (uint64, error) {
	for d, n := range names {
		if n == s {
			return d, nil
		}
	}
	v, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(s), "0x"), 16, 64)
	if err != nil {
		return 0, fmt.Errorf("dpid %q: neither a switch name nor a hex datapath id", s)
	}
	return v, nil
}

// serveFlows reads the flow table of one switch (?dpid=) or of every
// connected switch, all at once, each bounded by FlowTimeout.
func (s *Server) serveFlows(w http.ResponseWriter, r *http.Request) {
	cfg := s.config()
	var switches []*controller.Switch
	if q := r.URL.Query().Get("dpid"); q != "" {
		d, err := ParseDPID(q, cfg.Names)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		sw, ok := s.Controller.Switch(d)
		if !ok {
			http.Error(w, fmt.Sprintf("switch %s is not connected", controller.FormatDPID(d)), http.StatusNotFound)
			return
		}
		switches = append(switches, sw)
	} else {
		switches = s.Controller.Switches()
	}
	timeout := s.FlowTimeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	out := Flows{Switches: make([]SwitchFlows, len(switches))}
	var wg sync.WaitGroup
	for i, sw := range switches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(r.Context(), timeout)
			defer cancel()
			sf := SwitchFlows{DPID: controller.FormatDPID(sw.DPID()), Name: cfg.Names[sw.DPID()], Flows: []controller.FlowEntry{}}
			flows, err := sw.FlowReport(ctx)
			if err != nil {
				sf.Error = err.Error()
			} else {
				sf.Flows = flows
			}
			out.Switches[i] = sf
		}()
	}
	wg.Wait()
	writeJSON(w, out)
}

// serveHealthz answers 200 when the controller accepts switches and every
// declared switch is connected, 503 naming what is wrong otherwise.
func (s *Server) serveHealthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if !s.Controller.Serving() {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "not serving: the controller is not accepting switches")
		return
	}
	if missing := s.Controller.Missing(); len(missing) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "missing switches: %s\n", controller.FormatDPIDs(missing))
		return
	}
	fmt.Fprintf(w, "ok: %d switches connected\n", len(s.Controller.Switches()))
}

// serveHealthzMaster answers 200 on the master instance while it serves,
// 503 on a slave (or a master not serving), so that a load balancer or
// an operator's check finds the master.
func (s *Server) serveHealthzMaster(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	role := s.role()
	switch {
	case !s.Controller.Serving():
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "not serving: the controller is not accepting switches")
	case role.Role != RoleMaster:
		w.WriteHeader(http.StatusServiceUnavailable)
		master := role.Master
		if master == "" {
			master = "unknown"
		}
		fmt.Fprintf(w, "%s: the master is %s (generation %d)\n", role.Role, master, role.Generation)
	default:
		fmt.Fprintf(w, "master (generation %d)\n", role.Generation)
	}
}
