package main

import (
	"fmt"

	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/apps/learning"
	"github.com/sixgate/sixgate/controller"
)

// soloApps is the app set of `sixgate -app NAME`: one app run alone in
// place of the configured ones, so that the controller can be measured
// doing what other controllers' reference apps do. Only the configuration
// file's controller section is used then.
func soloApps(name string, log *logrus.Entry) (*appSet, error) {
	switch name {
	case "learning":
		return &appSet{list: []controller.App{learning.New(log)}}, nil
	}
	return nil, fmt.Errorf("-app %q: unknown app (known: learning)", name)
}
