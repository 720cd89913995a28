package main

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/api"
	"github.com/sixgate/sixgate/apps/dhcp4"
	"github.com/sixgate/sixgate/apps/nat64"
	"github.com/sixgate/sixgate/apps/neighbor"
	"github.com/sixgate/sixgate/apps/siit"
	"github.com/sixgate/sixgate/apps/splice46"
	"github.com/sixgate/sixgate/apps/tablemiss"
	"github.com/sixgate/sixgate/controller"
	"github.com/sixgate/sixgate/datapath"
	"github.com/sixgate/sixgate/ha"
	"github.com/sixgate/sixgate/topo"
)

// appSet is the one place that lists the apps the binary runs, in the order
// they see events, with what they add to the metrics server.
type appSet struct {
	list     []controller.App
	neighbor *neighbor.App // nil when the topology declares no hosts
	splice46 bool          // the splice46 app runs
	siit     *siit.App     // nil without a siit section
	dhcp4    *dhcp4.App    // nil without a dhcp4 section
	nat64    *nat64.App    // nil without a nat64 section
	// fromTopology is set when the topology chose the apps (newApps), so
	// that a reload which would choose others can say it needs a restart.
	fromTopology bool
	collectors   []prometheus.Collector
	handlers     map[string]http.Handler
}

// stateUser is an app whose state must survive a failover (with an ha
// section): it writes it to the Store, as master only, before it
// acknowledges what the state records, and reads it back as the new master
// (docs/ha.md, "State that survives a failover"). It is handed the Store
// before the controller starts; without an ha section, never.
type stateUser interface {
	UseState(ha.Store)
}

// useState hands the Store to the apps that keep state in it.
func (s *appSet) useState(st ha.Store) {
	for _, a := range s.list {
		if u, ok := a.(stateUser); ok {
			u.UseState(st)
		}
	}
}

// fabricSIIT reports whether t runs the translator in the fabric: a siit
// section and hosts, whose addresses the neighbor app answers for.
func fabricSIIT(t *topo.Topology) bool { return t.SIIT != nil && len(t.Hosts) > 0 }

// reloader is an app that takes a new configuration on SIGHUP.
type reloader interface {
	Reload(*topo.Topology) error
}

// reloadChecker is an app that can say, before any app takes a new
// configuration, what of it needs a restart.
type reloadChecker interface {
	CheckReload(*topo.Topology) error
}

func newApps(t *topo.Topology, log *logrus.Entry) (*appSet, error) {
	s := &appSet{handlers: map[string]http.Handler{}, fromTopology: true}
	// With hosts declared, the neighbor app knows every address and owns
	// table 0 down to its miss flow (drop); without, the table-miss app
	// sends everything to the controller.
	if len(t.Hosts) > 0 {
		s.neighbor = neighbor.New(t, log)
		s.list = append(s.list, s.neighbor)
		s.collectors = append(s.collectors, s.neighbor.Collectors()...)
	} else {
		s.list = append(s.list, tablemiss.New(log))
	}
	if t.Splice46 != nil {
		sp, err := splice46.New(t, log)
		if err != nil {
			return nil, err
		}
		s.list = append(s.list, sp)
		s.splice46 = true
		s.collectors = append(s.collectors, sp.Collectors()...)
		s.handlers["/connections"] = sp.StatusHandler()
	}
	switch {
	case fabricSIIT(t):
		// The translator answers for its addresses through the
		// neighbor app.
		x, err := siit.New(t, s.neighbor, log)
		if err != nil {
			return nil, err
		}
		s.siit = x
		s.list = append(s.list, x)
		s.collectors = append(s.collectors, x.Collectors()...)
	case t.SIIT != nil && len(t.Switches) > 0:
		log.Warnf("%s:%d: siit: switches but no hosts are declared, so the translator does not run in the fabric", t.File, t.SIIT.Line)
	}
	if t.NAT64 != nil {
		var reg nat64.Registrar
		if s.neighbor != nil {
			reg = s.neighbor
		}
		x, err := nat64.New(t, reg, log)
		if err != nil {
			return nil, err
		}
		s.nat64 = x
		s.list = append(s.list, x)
		s.collectors = append(s.collectors, x.Collectors()...)
		s.handlers[api.PathNAT64BIB] = x.BIBHandler()
		s.handlers[api.PathNAT64Sessions] = x.SessionsHandler()
	}
	if t.DHCP4 != nil && s.neighbor != nil {
		// The engines reach hosts at their leased addresses too.
		for _, a := range s.list {
			if u, ok := a.(interface{ UseLeases(datapath.LeaseHolder) }); ok {
				u.UseLeases(s.neighbor)
			}
		}
	}
	if t.DHCP4 != nil {
		// Dynamic leases are answered for by the neighbor app.
		var leaser dhcp4.Leaser
		if s.neighbor != nil {
			leaser = s.neighbor
		}
		d, err := dhcp4.New(t, leaser, log)
		if err != nil {
			return nil, err
		}
		s.dhcp4 = d
		s.list = append(s.list, d)
		s.collectors = append(s.collectors, d.Collectors()...)
	}
	return s, nil
}

// reload hands a new configuration to the apps that take one. Apps that
// cannot follow a change of shape (a section added or removed) need a
// restart, which reload reports as an error.
func (s *appSet) reload(t *topo.Topology) error {
	if err := s.checkReload(t); err != nil {
		return err
	}
	var errs []error
	for _, a := range s.list {
		if r, ok := a.(reloader); ok {
			if err := r.Reload(t); err != nil {
				errs = append(errs, fmt.Errorf("app %s: %w", a.Name(), err))
			}
		}
	}
	return errors.Join(errs...)
}

// checkReload refuses, before any app has taken it, a configuration that
// needs a restart: one that changes the set of apps, or that an app says
// it cannot take while it runs.
func (s *appSet) checkReload(t *topo.Topology) error {
	if s.fromTopology && (len(t.Hosts) > 0) != (s.neighbor != nil) {
		return &topo.Error{File: t.File, Field: "hosts", Msg: "hosts were added or removed altogether, which changes the set of apps: restart sixgate to apply it"}
	}
	if s.fromTopology {
		for _, sec := range []struct {
			key        string
			now, start bool
		}{
			{"splice46", t.Splice46 != nil, s.splice46},
			{"siit", fabricSIIT(t), s.siit != nil},
			{"nat64", t.NAT64 != nil, s.nat64 != nil},
			{"dhcp4", t.DHCP4 != nil, s.dhcp4 != nil},
		} {
			if sec.now != sec.start {
				return &topo.Error{File: t.File, Line: t.KeyLine(sec.key), Field: sec.key,
					Msg: "the section was added or removed, which changes the set of apps: restart sixgate to apply it"}
			}
		}
	}
	var errs []error
	for _, a := range s.list {
		if c, ok := a.(reloadChecker); ok {
			if err := c.CheckReload(t); err != nil {
				errs = append(errs, err) // FILE:LINE: key: message, as the file's own errors
			}
		}
	}
	return errors.Join(errs...)
}
