package main

import (
	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/apps/tablemiss"
	"github.com/sixgate/sixgate/controller"
	"github.com/sixgate/sixgate/topo"
)

// appSet is the one place that lists the apps the binary runs, in the order
// they see events.
type appSet struct {
	list []controller.App
}

func newApps(t *topo.Topology, log *logrus.Entry) (*appSet, error) {
	s := &appSet{}
	s.list = append(s.list, tablemiss.New(log))
	return s, nil
}

// reload hands a new configuration to the apps that take one.
func (s *appSet) reload(t *topo.Topology) error {
	return nil
}
