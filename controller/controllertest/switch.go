package controllertest

import (
	"fmt"
	"testing"

	"github.com/sixgate/sixgate/controller"
	"github.com/sixgate/sixgate/controller/ofptest"
)

// StartWith runs a controller with apps, as Start does, connects the fake
// switch sw to it, and returns once sw holds every flow and group the apps
// declare for it: packets can then be looked up in sw's tables.
func StartWith(t testing.TB, sw *ofptest.Switch, apps ...controller.App) *controller.Controller {
	t.Helper()
	c, addr, ctx := Start(t, apps...)
	go sw.Dial(ctx, addr)
	ofptest.WaitFor(t, fmt.Sprintf("switch %#x to hold the apps' flows and groups", sw.DPID), func() bool {
		csw, ok := c.Switch(sw.DPID)
		if !ok {
			return false
		}
		flows, groups := declared(csw, apps)
		return len(sw.Flows()) == flows && len(sw.Groups()) == groups
	})
	return c
}

// declared counts the flows and groups apps want on sw.
func declared(sw *controller.Switch, apps []controller.App) (flows, groups int) {
	for _, a := range apps {
		if fa, ok := a.(controller.FlowApp); ok {
			flows += len(fa.Flows(sw))
		}
		if ga, ok := a.(controller.GroupApp); ok {
			groups += len(ga.Groups(sw))
		}
	}
	return flows, groups
}
