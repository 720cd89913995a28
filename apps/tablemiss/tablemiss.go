// Package tablemiss is the smallest useful app: it gives every switch an
// explicit table-miss flow (OpenFlow 1.3 drops misses by default) that sends
// unmatched packets to the controller, counts the packet-ins that flow
// brings, and logs each switch's ports when it connects.
package tablemiss

import (
	"sync/atomic"

	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/controller"
	"github.com/sixgate/sixgate/controller/ofp"
)

// CookieID is the top byte of the cookies of this app's flows.
const CookieID = 0x01

// App installs the table-miss flow.
type App struct {
	log    *logrus.Entry
	misses atomic.Uint64
}

// New returns the app, logging to log.
func New(log *logrus.Entry) *App { return &App{log: log.WithField("app", "tablemiss")} }

var (
	_ controller.FlowApp         = (*App)(nil)
	_ controller.SwitchHandler   = (*App)(nil)
	_ controller.PacketInHandler = (*App)(nil)
)

func (a *App) Name() string    { return "tablemiss" }
func (a *App) CookieID() uint8 { return CookieID }

// Flows declares one flow: priority 0 in table 0, matching everything,
// sending whole packets to the controller.
func (a *App) Flows(*controller.Switch) []controller.Flow {
	return []controller.Flow{{
		Table:        0,
		Priority:     0,
		Instructions: []ofp.Instruction{ofp.ApplyActions(ofp.Output(ofp.PortController))},
	}}
}

// SwitchUp logs the switch's ports, as PORT_DESC reported them.
func (a *App) SwitchUp(sw *controller.Switch) {
	for _, p := range sw.Ports() {
		a.log.WithFields(logrus.Fields{
			"dpid": sw.String(), "port": p.PortNo, "name": p.Name, "hw_addr": p.HWAddr.String(), "up": p.Up(),
		}).Info("port")
	}
}

func (a *App) SwitchDown(*controller.Switch) {}

// PacketIn counts table misses; each is logged at debug level only.
func (a *App) PacketIn(sw *controller.Switch, pi *ofp.PacketIn) {
	a.misses.Add(1)
	if a.log.Logger.IsLevelEnabled(logrus.DebugLevel) {
		port, _ := pi.InPort()
		a.log.WithFields(logrus.Fields{"dpid": sw.String(), "in_port": port, "len": len(pi.Data)}).Debug("table miss")
	}
}

// Misses is the number of packet-ins the table-miss flow brought.
func (a *App) Misses() uint64 { return a.misses.Load() }
