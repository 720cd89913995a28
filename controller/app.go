package controller

import (
	"context"

	"github.com/sixgate/sixgate/controller/ofp"
)

// CookieShift places an app's id in the top byte of the cookie of every flow
// it owns, so apps (and other controllers) never delete each other's flows.
const CookieShift = 56

// CookieMask selects the app id of a cookie.
const CookieMask = uint64(0xff) << CookieShift

// AppCookie returns the cookie value of app id with the app's own low bits.
func AppCookie(id uint8, low uint64) uint64 {
	return uint64(id)<<CookieShift | low&^CookieMask
}

// App is a controller application. Every app has a unique non-zero cookie id
// (the top byte of its flows' cookies); it then implements any of the
// handler interfaces below.
type App interface {
	Name() string
	CookieID() uint8
}

// Starter is implemented by apps that need the controller, for example to
// send packet-outs or ask for a resync from their own goroutines. Start is
// called once before the controller accepts switches.
type Starter interface {
	Start(ctx context.Context, c *Controller) error
}

// FlowApp declares the flows an app wants on a switch. Flows is called from
// the switch's event goroutine on every (re)connect and every resync; it
// must be fast and must not block on the switch.
type FlowApp interface {
	App
	Flows(sw *Switch) []Flow
}

// GroupApp declares the groups an app wants on a switch, like FlowApp
// does for flows. Group ids carry the app's cookie id in their top byte,
// as cookies do; the core sets it.
type GroupApp interface {
	App
	Groups(sw *Switch) []Group
}

// Group is a group an app wants on a switch. ID holds the app's own low 24
// bits; the core owns the top byte.
type Group struct {
	ID      uint32
	Type    uint8
	Buckets []ofp.Bucket
}

// GroupIDShift places an app's cookie id in the top byte of its group ids.
const GroupIDShift = 24

// AppGroupID returns the group id of app id's group number low.
func AppGroupID(id uint8, low uint32) uint32 {
	return uint32(id)<<GroupIDShift | low&(1<<GroupIDShift-1)
}

// MeterApp declares the meters an app wants on a switch, like GroupApp
// does for groups. Meter ids carry the app's cookie id in their top byte;
// the core sets it.
type MeterApp interface {
	App
	Meters(sw *Switch) []Meter
}

// Meter is a meter an app wants on a switch. ID holds the app's own low 24
// bits (not all zero: meter 0 does not exist); the core owns the top byte.
type Meter struct {
	ID    uint32
	Flags uint16
	Bands []ofp.MeterBand
}

// MeterIDShift places an app's cookie id in the top byte of its meter ids.
// Cookie ids stop at 0xfe, so app meter ids stay below OFPM_MAX.
const MeterIDShift = 24

// AppMeterID returns the meter id of app id's meter number low.
func AppMeterID(id uint8, low uint32) uint32 {
	return uint32(id)<<MeterIDShift | low&(1<<MeterIDShift-1)
}

// SwitchHandler is told when a switch has finished its handshake and its
// flows are synced, and when it goes away.
type SwitchHandler interface {
	SwitchUp(sw *Switch)
	SwitchDown(sw *Switch)
}

// PacketInHandler receives the packet-ins sent by the app's own flows (by
// cookie), and those of flows no app owns.
type PacketInHandler interface {
	PacketIn(sw *Switch, pi *ofp.PacketIn)
}

// PortStatusHandler is told of ports added, removed or changed.
type PortStatusHandler interface {
	PortStatus(sw *Switch, ps *ofp.PortStatus)
}

// FlowRemovedHandler is told of the app's flows that left a table.
type FlowRemovedHandler interface {
	FlowRemoved(sw *Switch, fr *ofp.FlowRemoved)
}

// Flow is a flow entry an app wants on a switch. Table, Priority and Match
// identify it; the core owns the top byte of Cookie.
type Flow struct {
	Table        uint8
	Priority     uint16
	Match        ofp.Match
	Instructions []ofp.Instruction
	Cookie       uint64
	IdleTimeout  uint16
	HardTimeout  uint16
	Flags        uint16
}
