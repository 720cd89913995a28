package nat64

import (
	"fmt"

	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/handover"
	engine "github.com/sixgate/sixgate/nat64"
)

// Sections of a hand-over (an upgrade to a new process) that this app
// sends and takes: the NAT64's bindings and sessions, and in port mode the
// engine ports' sockets.
const (
	SectionEngine = "nat64.engine"
	SectionPorts  = "nat64.ports"
)

// Quiesce and Resume come from the data path: they stop the engine's
// workers, timer and packet-ins for a hand-over, and start them again if
// it fails.

// HandoverSections exports the NAT64's tables and, in port mode, the
// engine ports' sockets. Call it while the app is quiesced.
func (a *App) HandoverSections() ([]handover.Section, error) {
	st := a.engine.Export()
	data, err := st.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("nat64: export: %w", err)
	}
	secs := []handover.Section{{Name: SectionEngine, Data: data}}
	ports, files, err := a.HandoverPorts()
	if err != nil {
		return nil, fmt.Errorf("nat64: %w", err)
	}
	if ports != nil {
		secs = append(secs, handover.Section{Name: SectionPorts, Data: ports, Files: files})
	}
	a.log.WithFields(logrus.Fields{"bindings": st.Bindings(), "sessions": st.Sessions()}).Info("nat64 tables exported for a hand-over")
	return secs, nil
}

// AdoptSections takes what a previous process handed over, before Start:
// its bindings and sessions go into the NAT64, which keeps its own
// configuration (those whose pool4 address and port it no longer has are
// dropped, and counted, as a reload does), and its engine ports' sockets
// are used instead of new ones. A missing section leaves the app as a
// cold start would.
func (a *App) AdoptSections(secs map[string]handover.Section) error {
	if s, ok := secs[SectionEngine]; ok {
		var st engine.HandoverState
		if err := st.UnmarshalBinary(s.Data); err != nil {
			return fmt.Errorf("nat64: %w", err)
		}
		rep, err := a.engine.Import(&st)
		if err != nil {
			return fmt.Errorf("nat64: %w", err)
		}
		l := a.log.WithFields(logrus.Fields{"bindings": rep.Bindings, "sessions": rep.Sessions,
			"sessions_dropped": rep.Dropped, "bindings_dropped": rep.DroppedBindings,
			"ftp_control": rep.FTP, "ftp_control_dropped": rep.DroppedFTP})
		if rep.Dropped > 0 || rep.DroppedBindings > 0 || rep.DroppedFTP > 0 {
			l.Warn("nat64 tables taken over; what the configuration no longer allows was dropped")
		} else {
			l.Info("nat64 tables taken over")
		}
	}
	if s, ok := secs[SectionPorts]; ok {
		if err := a.AdoptPorts(s.Data, s.Files); err != nil {
			return fmt.Errorf("nat64: %w", err)
		}
	}
	return nil
}
