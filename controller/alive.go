package controller

import (
	"context"
	"errors"
	"fmt"
)

// Listening is closed once Serve has started the apps and accepts
// switches: the daemon is ready then.
func (c *Controller) Listening() <-chan struct{} { return c.listening }

// Alive proves that the controller serves: Serve is accepting, and the
// event loop of every connected switch runs a probe queued behind its
// pending control events before ctx is done. A service manager's watchdog
// is fed only when it returns nil, so a wedged event loop (an app stuck in
// a callback) stops the feeding and gets the daemon restarted.
func (c *Controller) Alive(ctx context.Context) error {
	if !c.Serving() {
		return errors.New("not accepting switches")
	}
	type probe struct {
		s    *Switch
		done chan struct{}
	}
	var probes []probe
	for _, s := range c.Switches() {
		p := probe{s, make(chan struct{})}
		select {
		case s.control <- event{kind: eventAlive, alive: p.done}:
			probes = append(probes, p)
		case <-s.done:
		default:
			return fmt.Errorf("switch %s: %d control events wait for its event loop", FormatDPID(s.dpid), controlQueue)
		}
	}
	for _, p := range probes {
		select {
		case <-p.done:
		case <-p.s.done:
		case <-ctx.Done():
			return fmt.Errorf("switch %s: event loop busy: %w", FormatDPID(p.s.dpid), ctx.Err())
		}
	}
	return nil
}
