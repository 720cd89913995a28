package ofptest

import (
	"fmt"
	"strings"

	"github.com/sixgate/sixgate/controller/ofp"
)

// Result is where a packet went through a pipeline and where it left it.
type Result struct {
	// Tables are the tables visited, in order; the last one either ended
	// the pipeline or had no matching flow.
	Tables []TableHit
	// Outputs are the copies of the packet sent out of ports, in order.
	Outputs []Output
	// PacketIns are the copies sent to the controller.
	PacketIns []PacketIn
	// Groups are the groups the packet went through, in order.
	Groups []GroupHit
	// ActionSet is the action set executed at the end of the pipeline, in
	// execution order; empty when a table had no match.
	ActionSet []ofp.Action
	// Trace is the walk step by step, for failure messages.
	Trace []string
}

// TableHit is one table visited.
type TableHit struct {
	Table uint8
	// Matched is false when no flow matched: the packet was dropped there.
	Matched  bool
	Priority uint16
	Cookie   uint64
	Match    ofp.Match
	// Applied are the actions of the flow's Apply-Actions.
	Applied []ofp.Action
	// Written are the actions of its Write-Actions; Cleared says it had
	// Clear-Actions.
	Written []ofp.Action
	Cleared bool
}

// Output is one copy of the packet sent out of a port.
type Output struct {
	Port uint32
	// Frame is the packet as it leaves, set-fields applied.
	Frame []byte
	// Alternative is set when the copy is one of the possible choices of a
	// SELECT group that the pipeline had no chooser for: of the outputs
	// with the same Group, the switch sends only one bucket's.
	Alternative bool
	Group       uint32
	Bucket      int
}

// PacketIn is one copy of the packet sent to the controller.
type PacketIn struct {
	Table uint8
	// Cookie is the cookie of the flow that sent it: the controller
	// dispatches it to an app by that cookie.
	Cookie uint64
	// Reason is ofp.PacketInNoMatch for a table-miss flow, else
	// ofp.PacketInAction.
	Reason uint8
	Frame  []byte
}

// GroupHit is one group the packet went through.
type GroupHit struct {
	GroupID uint32
	Type    uint8
	// Live are the indices of the buckets that could take the packet;
	// Taken those that did (every live one for a SELECT group without a
	// chooser).
	Live  []int
	Taken []int
}

// OutputPorts returns the ports of the outputs, in order.
func (r *Result) OutputPorts() []uint32 {
	var ps []uint32
	for _, o := range r.Outputs {
		ps = append(ps, o.Port)
	}
	return ps
}

// ToController reports whether a copy of the packet went to the
// controller.
func (r *Result) ToController() bool { return len(r.PacketIns) > 0 }

// Dropped reports whether the packet left the switch nowhere.
func (r *Result) Dropped() bool { return len(r.Outputs) == 0 && len(r.PacketIns) == 0 }

// Last is the last table visited: the one whose flow decided, or the one
// that had none.
func (r *Result) Last() TableHit { return r.Tables[len(r.Tables)-1] }

// Table returns the visit of a table, if the packet went there.
func (r *Result) Table(id uint8) (TableHit, bool) {
	for _, h := range r.Tables {
		if h.Table == id {
			return h, true
		}
	}
	return TableHit{}, false
}

// String is the trace, one step a line.
func (r *Result) String() string { return strings.Join(r.Trace, "\n") }

func (r *Result) tracef(format string, args ...any) {
	r.Trace = append(r.Trace, fmt.Sprintf(format, args...))
}
