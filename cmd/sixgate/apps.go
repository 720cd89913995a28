package main

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/apps/neighbor"
	"github.com/sixgate/sixgate/apps/splice46"
	"github.com/sixgate/sixgate/apps/tablemiss"
	"github.com/sixgate/sixgate/controller"
	"github.com/sixgate/sixgate/ha"
	"github.com/sixgate/sixgate/topo"
)

// appSet is the one place that lists the apps the binary runs, in the order
// they see events, with what they add to the metrics server.
type appSet struct {
	list     []controller.App
	neighbor *neighbor.App // nil when the topology declares no hosts
	splice46 bool          // the splice46 app runs
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
	if s.fromTopology && (t.Splice46 != nil) != s.splice46 {
		return &topo.Error{File: t.File, Line: t.KeyLine("splice46"), Field: "splice46",
			Msg: "the section was added or removed, which changes the set of apps: restart sixgate to apply it"}
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
