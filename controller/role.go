package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/controller/ofp"
)

// ErrNotMaster is returned for a write (flow-mod, group-mod, meter-mod,
// packet-out, port-mod, table-mod) to a switch on which this controller is
// not the confirmed master, when Config.HA is set.
var ErrNotMaster = errors.New("not the master controller of this switch")

// Role is what the controller wants to be towards every switch: the
// OpenFlow role (ofp.RoleMaster or ofp.RoleSlave) and the generation id
// that goes with a master request.
type Role struct {
	Role       uint32
	Generation uint64
}

// IsMaster tells whether r is the master role.
func (r Role) IsMaster() bool { return r.Role == ofp.RoleMaster }

// RoleName names an OpenFlow role as Open vSwitch's documents do.
func RoleName(role uint32) string {
	switch role {
	case ofp.RoleNoChange:
		return "nochange"
	case ofp.RoleEqual:
		return "equal"
	case ofp.RoleMaster:
		return "master"
	case ofp.RoleSlave:
		return "slave"
	}
	return fmt.Sprintf("role(%d)", role)
}

// roleRetry is how long a role request that failed for want of an
// answer (not refused) waits before it is tried again.
const roleRetry = time.Second

// SetRole makes the controller master (with a generation id that must be
// higher than any used before) or slave towards every switch. Without
// Config.HA it changes nothing. A demotion takes effect at once, before any
// message leaves: from this call on, no write is sent. A promotion takes
// effect switch by switch, once each switch has confirmed it with a
// ROLE_REPLY; the switch's flows are then synced.
func (c *Controller) SetRole(r Role) {
	if !c.cfg.HA {
		return
	}
	old := c.role.Swap(&r)
	if !r.IsMaster() {
		for _, s := range c.Switches() {
			s.master.Store(false)
		}
	}
	if old != nil && *old == r {
		// Told again (an election retried while etcd is away): the
		// switches have it already or are being told.
		return
	}
	c.log.WithFields(logrus.Fields{"role": RoleName(r.Role), "generation_id": r.Generation}).Info("controller role changed")
	for _, s := range c.Switches() {
		s.kickRole()
	}
}

// Role returns the role the controller wants; without Config.HA it is
// master with generation 0.
func (c *Controller) Role() Role {
	if !c.cfg.HA {
		return Role{Role: ofp.RoleMaster}
	}
	return *c.role.Load()
}

// HA tells whether the controller runs as one of several (Config.HA).
func (c *Controller) HA() bool { return c.cfg.HA }

// MayWrite tells whether writes to the switch are allowed now: always
// without Config.HA; with it, only while the controller wants to be master
// and the switch has confirmed it.
func (s *Switch) MayWrite() bool {
	if !s.ctl.cfg.HA {
		return true
	}
	return s.master.Load() && s.ctl.role.Load().IsMaster()
}

// Role is the role the switch last confirmed for this controller
// (ofp.RoleEqual, the switch's default, until one was confirmed) and its
// generation id.
func (s *Switch) Role() Role {
	return Role{Role: s.confirmed.Load(), Generation: s.confirmedGen.Load()}
}

// isWrite tells the messages that change a switch's state, which only a
// master may send.
func isWrite(m ofp.Message) bool { return isWriteType(m.Type()) }

func isWriteType(t ofp.Type) bool {
	switch t {
	case ofp.TypeFlowMod, ofp.TypeGroupMod, ofp.TypeMeterMod, ofp.TypePacketOut, ofp.TypePortMod, ofp.TypeTableMod:
		return true
	}
	return false
}

// gate refuses a write when the controller may not write to the switch.
func (s *Switch) gate(m ofp.Message) error {
	if !isWrite(m) || s.MayWrite() {
		return nil
	}
	s.ctl.metrics.writesGated.WithLabelValues(m.Type().String()).Inc()
	return fmt.Errorf("switch %s: %s: %w", s, m.Type(), ErrNotMaster)
}

func (s *Switch) kickRole() {
	select {
	case s.roleKick <- struct{}{}:
	default:
	}
}

// roleLoop applies the controller's role to the switch whenever it
// changes, retrying a request that got no answer.
func (s *Switch) roleLoop() {
	for {
		select {
		case <-s.done:
			return
		case <-s.roleKick:
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.ctl.cfg.RequestTimeout)
		err := s.applyRole(ctx, true)
		cancel()
		var em *ofp.ErrorMsg
		if err != nil && !errors.As(err, &em) && !errors.Is(err, ErrSwitchClosed) {
			s.log.WithError(err).WithField("retry_in", roleRetry).Warn("role request failed")
			time.AfterFunc(roleRetry, s.kickRole)
		}
	}
}

// applyRole asks the switch for the role the controller wants. A slave
// asks with the generation id the switch holds (read with a NOCHANGE
// request), so that its request is never stale and never raises the
// generation a master was given. A master asks with its own; the switch
// refuses it as STALE when a newer master has been there. Once a master
// request is answered (and the role is still wanted), writes are allowed
// and, with resync, the flows synced (the handshake syncs on its own).
func (s *Switch) applyRole(ctx context.Context, resync bool) error {
	want := s.ctl.role.Load()
	gen := want.Generation
	if !want.IsMaster() {
		s.master.Store(false)
		cur, err := s.roleRequest(ctx, ofp.RoleNoChange, 0)
		if err != nil {
			return err
		}
		gen = cur.GenerationID
	}
	rep, err := s.roleRequest(ctx, want.Role, gen)
	if err != nil {
		var em *ofp.ErrorMsg
		if errors.As(err, &em) && em.ErrType == ofp.ErrRoleRequestFailed {
			s.log.WithFields(logrus.Fields{"role": RoleName(want.Role), "generation_id": gen, "error": em.Error()}).
				Warn("switch refused the role: a controller with a newer generation id has been master")
		}
		return err
	}
	s.confirmed.Store(rep.Role)
	s.confirmedGen.Store(rep.GenerationID)
	if s.ctl.role.Load() != want {
		return nil // changed meanwhile: the next kick applies the new one
	}
	if want.IsMaster() && rep.Role == ofp.RoleMaster {
		was := s.master.Swap(true)
		if s.ctl.role.Load() != want {
			// Demoted between the check above and the swap: no writes.
			s.master.Store(false)
			return nil
		}
		// A role change always syncs (Sync sends only what differs): a
		// quick demotion and promotion may have left the flag set while
		// another master wrote.
		if resync {
			if !was {
				s.log.WithField("generation_id", gen).Info("master of the switch: syncing")
			}
			s.Resync()
		}
	} else {
		s.log.WithFields(logrus.Fields{"role": RoleName(rep.Role), "generation_id": rep.GenerationID}).Info("role confirmed by the switch")
	}
	return nil
}

// roleRequest sends one ROLE_REQUEST and counts its answer.
func (s *Switch) roleRequest(ctx context.Context, role uint32, gen uint64) (*ofp.RoleReply, error) {
	m, err := s.Request(ctx, &ofp.RoleRequest{RoleBody: ofp.RoleBody{Role: role, GenerationID: gen}})
	if err != nil {
		return nil, err
	}
	rep, ok := m.(*ofp.RoleReply)
	if !ok {
		return nil, fmt.Errorf("switch %s: ROLE_REQUEST answered by %s", s, m.Type())
	}
	s.ctl.metrics.roleReplies.WithLabelValues(RoleName(rep.Role)).Inc()
	return rep, nil
}

// noteRoleError counts the errors by which a switch refuses a role or a
// write from a slave. An IS_SLAVE error means another controller has
// become master of the switch: writes to it stop until the role is
// applied again.
func (s *Switch) noteRoleError(e *ofp.ErrorMsg) {
	switch {
	case e.ErrType == ofp.ErrRoleRequestFailed:
		s.ctl.metrics.roleErrors.WithLabelValues(e.ErrType.CodeName(e.Code)).Inc()
	case e.ErrType == ofp.ErrBadRequest && e.Code == ofp.BadRequestIsSlave:
		s.ctl.metrics.roleErrors.WithLabelValues(e.ErrType.CodeName(e.Code)).Inc()
		if s.master.Swap(false) {
			s.log.Warn("switch says this controller is a slave: another became master; writes stopped")
		}
	}
}
