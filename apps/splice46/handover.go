package splice46

import (
	"fmt"

	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/handover"
	"github.com/sixgate/sixgate/proxy46"
)

// Sections of a hand-over (an upgrade to a new process) that this app
// sends and takes: the engine's connections, and in port mode the engine
// ports' sockets.
const (
	SectionEngine = "splice46.engine"
	SectionPorts  = "splice46.ports"
)

// Quiesce (from the data path) stops the engine's workers, timer and
// packet-ins for a hand-over; Resume starts them again if it fails.

// HandoverSections exports the engine's state and, in port mode, the
// engine ports' sockets. Call it while the app is quiesced.
func (a *App) HandoverSections() ([]handover.Section, error) {
	st := a.Engine().Export()
	data, err := st.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("splice46: export: %w", err)
	}
	secs := []handover.Section{{Name: SectionEngine, Data: data}}
	ports, files, err := a.HandoverPorts()
	if err != nil {
		return nil, fmt.Errorf("splice46: %w", err)
	}
	if ports != nil {
		secs = append(secs, handover.Section{Name: SectionPorts, Data: ports, Files: files})
	}
	a.log.WithField("connections", st.Connections()).Info("engine state exported for a hand-over")
	return secs, nil
}

// AdoptSections takes what a previous process handed over, before Start:
// its connections go into the new engine, which keeps its own
// configuration (spliced ones whose service or backend it no longer has
// drain, as after a reload; those not yet spliced are dropped, and
// counted), and its engine ports' sockets are used instead of new ones. A missing section leaves the app as a cold start would.
func (a *App) AdoptSections(secs map[string]handover.Section) error {
	if s, ok := secs[SectionEngine]; ok {
		var st proxy46.HandoverState
		if err := st.UnmarshalBinary(s.Data); err != nil {
			return fmt.Errorf("splice46: %w", err)
		}
		rep, err := a.Engine().Import(&st)
		if err != nil {
			return fmt.Errorf("splice46: %w", err)
		}
		l := a.log.WithFields(logrus.Fields{"connections": rep.Imported, "dropped": rep.Dropped, "draining": rep.Draining,
			"ftp_expectations": rep.Expectations, "ftp_expectations_dropped": rep.ExpectationsDropped,
			"ftp_gateways_dropped": rep.GatewaysDropped})
		if rep.Dropped > 0 || rep.ExpectationsDropped > 0 || rep.GatewaysDropped > 0 {
			l.Warn("connections taken over; those not yet spliced towards a configured backend were dropped, and FTP state the configuration no longer allows")
		} else {
			l.Info("connections taken over")
		}
		if err := a.steerOrphans(); err != nil {
			return fmt.Errorf("splice46: %w", err)
		}
	}
	if s, ok := secs[SectionPorts]; ok {
		if err := a.AdoptPorts(s.Data, s.Files); err != nil {
			return fmt.Errorf("splice46: %w", err)
		}
	}
	return nil
}

// steerOrphans steers, besides the configured services, the removed ones
// that imported connections still drain in.
func (a *App) steerOrphans() error {
	a.swap.Lock()
	defer a.swap.Unlock()
	e := a.Engine()
	a.orphans = e.Orphans()
	if len(a.orphans) == 0 {
		return nil
	}
	return a.Update(dataPathState(a.topo.Load(), e, a.orphans))
}
