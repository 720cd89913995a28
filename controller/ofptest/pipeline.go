package ofptest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/sixgate/sixgate/controller/ofp"
)

// Pipeline is a simulated OpenFlow 1.3.5 pipeline: flow tables and a
// group table that packets are looked up in, so that tests assert where
// traffic goes rather than how flows are spelled. It follows the
// specification's semantics: the highest-priority matching flow wins, a
// table without a match drops the packet (a table-miss flow is just a
// flow), Apply-Actions run in order and Write-Actions build the action
// set, run at the end. What it cannot model (an unknown field, action or
// instruction) is an error, never a silent match.
type Pipeline struct {
	Flows  []ofp.FlowStats
	Groups map[uint32]ofp.GroupDesc
	// Ports are the switch's ports: FLOOD and ALL go out of them, and
	// their state decides whether a bucket's watch port is live. With
	// none, FLOOD and ALL are errors and every port is live.
	Ports []ofp.Port
	// Select chooses the bucket a SELECT group sends the packet to, among
	// the live ones (indices into g.Buckets). When nil, every live bucket
	// is taken, its outputs marked as alternatives.
	Select func(g ofp.GroupDesc, live []int) int
}

// Pipeline returns the switch's flow and group tables, as the controller
// left them, to look packets up in.
func (s *Switch) Pipeline() *Pipeline {
	return &Pipeline{Flows: s.Flows(), Groups: s.Groups(), Ports: s.Ports}
}

// Lookup runs a frame received on inPort through the switch's tables,
// failing t if the pipeline cannot.
func (s *Switch) Lookup(t testing.TB, frame []byte, inPort uint32) *Result {
	t.Helper()
	return s.Pipeline().Lookup(t, frame, inPort)
}

// Lookup runs a frame received on inPort through the pipeline, failing t
// if it cannot.
func (p *Pipeline) Lookup(t testing.TB, frame []byte, inPort uint32) *Result {
	t.Helper()
	r, err := p.Run(frame, inPort)
	if err != nil {
		t.Fatalf("pipeline lookup from port %d: %v", inPort, err)
	}
	return r
}

// maxGroupDepth bounds chains of groups, which a loop would make endless.
const maxGroupDepth = 16

// Run runs a frame received on inPort through the pipeline.
func (p *Pipeline) Run(frame []byte, inPort uint32) (*Result, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	pkt, err := decodePacket(frame, inPort)
	if err != nil {
		return nil, err
	}
	x := &run{p: p, r: &Result{}}
	if err := x.tables(pkt); err != nil {
		return nil, fmt.Errorf("%w\n%s", err, x.r)
	}
	return x.r, nil
}

// check validates every flow and group up front, so that a bad one fails
// the test even if this packet does not reach it.
func (p *Pipeline) check() error {
	for i := range p.Flows {
		f := &p.Flows[i]
		if err := checkFlow(f); err != nil {
			return fmt.Errorf("table %d priority %d cookie %#x %s: %w", f.TableID, f.Priority, f.Cookie, f.Match.String(), err)
		}
	}
	for _, g := range p.Groups {
		if err := checkGroup(g); err != nil {
			return err
		}
	}
	return nil
}

// run is one packet's walk through the pipeline.
type run struct {
	p *Pipeline
	r *Result
}

// origin is what an output or packet-in is attributed to: the flow whose
// actions sent it, and the select group choice it depends on, if any.
type origin struct {
	table  uint8
	cookie uint64
	reason uint8
	alt    *alternative
}

type alternative struct {
	group  uint32
	bucket int
}

// tables walks the flow tables from table 0.
func (x *run) tables(pkt *packet) error {
	var set actionSet
	table := uint8(0)
	for {
		f, err := x.lookup(table, pkt)
		if err != nil {
			return err
		}
		if f == nil {
			x.r.Tables = append(x.r.Tables, TableHit{Table: table})
			x.r.tracef("table %d: no match, dropped", table)
			return nil
		}
		hit := TableHit{Table: table, Matched: true, Priority: f.Priority, Cookie: f.Cookie, Match: f.Match}
		x.r.tracef("table %d: priority %d cookie %#x %s: %s", table, f.Priority, f.Cookie, f.Match.String(),
			ofp.FormatInstructions(f.Instructions))
		o := origin{table: table, cookie: f.Cookie, reason: reasonOf(f)}
		next, goOn, err := x.instructions(pkt, f, &hit, &set, o)
		x.r.Tables = append(x.r.Tables, hit)
		if err != nil || !goOn {
			return err
		}
		if next == nil {
			x.r.ActionSet = set.ordered()
			if len(x.r.ActionSet) > 0 {
				x.r.tracef("action set: %s", ofp.FormatActions(x.r.ActionSet))
			}
			return x.actionSet(pkt, x.r.ActionSet, o)
		}
		table = *next
	}
}

// reasonOf is the packet-in reason of a flow's output to the controller:
// NO_MATCH for the table-miss flow (priority 0, empty match).
func reasonOf(f *ofp.FlowStats) uint8 {
	if f.Priority == 0 && len(f.Match.Fields) == 0 {
		return ofp.PacketInNoMatch
	}
	return ofp.PacketInAction
}

// lookup returns the highest-priority flow of table that matches pkt, nil
// for none. Two matching flows of the same priority are an error: the
// specification leaves the choice undefined, so the design is wrong.
func (x *run) lookup(table uint8, pkt *packet) (*ofp.FlowStats, error) {
	var best *ofp.FlowStats
	for i := range x.p.Flows {
		f := &x.p.Flows[i]
		if f.TableID != table {
			continue
		}
		ok, err := matches(f.Match, pkt)
		if err != nil {
			return nil, err
		}
		switch {
		case !ok:
		case best == nil || f.Priority > best.Priority:
			best = f
		case f.Priority == best.Priority:
			return nil, fmt.Errorf("table %d: two flows of priority %d match, the switch may pick either: cookie %#x %s and cookie %#x %s",
				table, f.Priority, best.Cookie, best.Match.String(), f.Cookie, f.Match.String())
		}
	}
	return best, nil
}

// matches reports whether every field of m matches pkt under its mask. A
// field of a header the packet lacks does not match.
func matches(m ofp.Match, pkt *packet) (bool, error) {
	for _, o := range m.Fields {
		v, ok, err := pkt.field(o)
		if err != nil || !ok {
			return false, err
		}
		for i := range o.Value {
			mask := byte(0xff)
			if o.Mask != nil {
				mask = o.Mask[i]
			}
			if v[i]&mask != o.Value[i]&mask {
				return false, nil
			}
		}
	}
	return true, nil
}

// instructions runs a flow's instructions in the specification's order.
// It returns the next table, if any, and whether the packet goes on.
func (x *run) instructions(pkt *packet, f *ofp.FlowStats, hit *TableHit, set *actionSet, o origin) (*uint8, bool, error) {
	is := slices.Clone(f.Instructions)
	slices.SortStableFunc(is, func(a, b ofp.Instruction) int {
		return instructionOrder(a.InstructionType()) - instructionOrder(b.InstructionType())
	})
	var next *uint8
	for _, in := range is {
		switch in := in.(type) {
		case *ofp.InstructionActions:
			switch in.Kind {
			case ofp.InstructionTypeApplyActions:
				hit.Applied = in.Actions
				alive, err := x.actions(pkt, in.Actions, o)
				if err != nil || !alive {
					return nil, false, err
				}
			case ofp.InstructionTypeClearActions:
				hit.Cleared = true
				set.clear()
			case ofp.InstructionTypeWriteActions:
				hit.Written = in.Actions
				set.write(in.Actions)
			}
		case *ofp.InstructionWriteMetadata:
			pkt.metadata = pkt.metadata&^in.Mask | in.Metadata&in.Mask
		case *ofp.InstructionGotoTable:
			id := in.TableID
			next = &id
		case *ofp.InstructionMeter:
			// Meters limit rates; a single packet is never over one.
		}
	}
	return next, true, nil
}

// actions runs an action list in order on pkt. It reports false when an
// action dropped the packet (a TTL that ran out).
func (x *run) actions(pkt *packet, as []ofp.Action, o origin) (bool, error) {
	for _, a := range as {
		switch a := a.(type) {
		case *ofp.ActionOutput:
			if err := x.output(pkt, a.Port, o); err != nil {
				return false, err
			}
		case *ofp.ActionGroup:
			c, err := pkt.clone()
			if err != nil {
				return false, err
			}
			if err := x.group(c, a.GroupID, o, 1); err != nil {
				return false, err
			}
		case *ofp.ActionSetField:
			if err := pkt.setField(a.Field); err != nil {
				return false, err
			}
		case *ofp.ActionNoArg: // dec_nw_ttl, the only one checkActions lets through
			alive, err := pkt.decTTL()
			if err != nil || !alive {
				x.r.tracef("TTL ran out: dropped")
				return false, err
			}
		case *ofp.ActionSetQueue:
			// Queues shape traffic; they do not change where it goes.
		}
	}
	return true, nil
}

// actionSet runs the action set at the end of the pipeline: a group, if
// there is one, replaces the output.
func (x *run) actionSet(pkt *packet, as []ofp.Action, o origin) error {
	hasGroup := slices.ContainsFunc(as, func(a ofp.Action) bool { return a.ActionType() == ofp.ActionTypeGroup })
	for _, a := range as {
		if _, out := a.(*ofp.ActionOutput); out && hasGroup {
			continue
		}
		if g, ok := a.(*ofp.ActionGroup); ok {
			// The action set's group gets the packet itself, not a copy.
			if err := x.group(pkt, g.GroupID, o, 1); err != nil {
				return err
			}
			continue
		}
		if alive, err := x.actions(pkt, []ofp.Action{a}, o); err != nil || !alive {
			return err
		}
	}
	return nil
}

// output sends a copy of pkt to a port, reserved ports included.
func (x *run) output(pkt *packet, port uint32, o origin) error {
	frame, err := pkt.bytes()
	if err != nil {
		return err
	}
	switch port {
	case ofp.PortController:
		x.r.PacketIns = append(x.r.PacketIns, PacketIn{Table: o.table, Cookie: o.cookie, Reason: o.reason, Frame: frame})
		x.r.tracef("  to the controller (cookie %#x)", o.cookie)
		return nil
	case ofp.PortInPort:
		x.emit(pkt.inPort, frame, o)
		return nil
	case ofp.PortFlood, ofp.PortAll:
		if len(x.p.Ports) == 0 {
			return fmt.Errorf("output to %s on a pipeline without ports", ofp.PortName(port))
		}
		for _, p := range x.p.Ports {
			if p.PortNo == pkt.inPort || (port == ofp.PortFlood && p.Config&ofp.PortConfigNoFwd != 0) {
				continue
			}
			x.emit(p.PortNo, slices.Clone(frame), o)
		}
		return nil
	}
	if port == pkt.inPort {
		// A switch never sends a packet back out of its ingress port
		// unless told so with IN_PORT.
		x.r.tracef("  output:%d is the ingress port: not sent", port)
		return nil
	}
	x.emit(port, frame, o)
	return nil
}

func (x *run) emit(port uint32, frame []byte, o origin) {
	out := Output{Port: port, Frame: frame}
	if o.alt != nil {
		out.Alternative, out.Group, out.Bucket = true, o.alt.group, o.alt.bucket
	}
	x.r.Outputs = append(x.r.Outputs, out)
	if out.Alternative {
		x.r.tracef("  output:%s (bucket %d of select group %#x: one choice)", ofp.PortName(port), out.Bucket, out.Group)
		return
	}
	x.r.tracef("  output:%s", ofp.PortName(port))
}

func groupTypeName(t uint8) string {
	switch t {
	case ofp.GroupTypeAll:
		return "all"
	case ofp.GroupTypeSelect:
		return "select"
	case ofp.GroupTypeIndirect:
		return "indirect"
	case ofp.GroupTypeFastFailover:
		return "fast failover"
	}
	return fmt.Sprintf("type %d", t)
}

// group runs pkt, a copy of its own, through a group's buckets.
func (x *run) group(pkt *packet, id uint32, o origin, depth int) error {
	if depth > maxGroupDepth {
		return fmt.Errorf("group %d: chain of groups deeper than %d", id, maxGroupDepth)
	}
	g, ok := x.p.Groups[id]
	if !ok {
		return fmt.Errorf("group %d does not exist (OFPBAC_BAD_OUT_GROUP)", id)
	}
	hit := GroupHit{GroupID: id, Type: g.GroupType, Live: x.liveBuckets(g, depth)}
	switch g.GroupType {
	case ofp.GroupTypeAll:
		hit.Live = allBuckets(g)
		hit.Taken = hit.Live
	case ofp.GroupTypeIndirect:
		hit.Live, hit.Taken = []int{0}, []int{0}
	case ofp.GroupTypeFastFailover:
		hit.Live = hit.Live[:min(len(hit.Live), 1)]
		hit.Taken = hit.Live
	case ofp.GroupTypeSelect:
		hit.Taken = hit.Live
		if x.p.Select != nil && len(hit.Live) > 0 {
			choice := x.p.Select(g, slices.Clone(hit.Live))
			if !slices.Contains(hit.Live, choice) {
				return fmt.Errorf("select group %d: chooser picked bucket %d, not one of the live %v", id, choice, hit.Live)
			}
			hit.Taken = []int{choice}
		}
	}
	x.r.Groups = append(x.r.Groups, hit)
	x.r.tracef("  group %#x (%s): live buckets %v, taken %v", id, groupTypeName(g.GroupType), hit.Live, hit.Taken)
	if len(hit.Taken) == 0 {
		x.r.tracef("  no live bucket: dropped")
	}
	alternatives := g.GroupType == ofp.GroupTypeSelect && x.p.Select == nil && o.alt == nil
	for _, i := range hit.Taken {
		bo := o
		if alternatives {
			bo.alt = &alternative{group: id, bucket: i}
		}
		if err := x.bucket(pkt, g.Buckets[i], bo, depth); err != nil {
			return err
		}
	}
	return nil
}

// bucket runs one bucket's actions, as an action set, on a copy of pkt.
func (x *run) bucket(pkt *packet, b ofp.Bucket, o origin, depth int) error {
	c, err := pkt.clone()
	if err != nil {
		return err
	}
	var set actionSet
	set.write(b.Actions)
	for _, a := range set.ordered() {
		if g, ok := a.(*ofp.ActionGroup); ok {
			if err := x.group(c, g.GroupID, o, depth+1); err != nil {
				return err
			}
			continue
		}
		if alive, err := x.actions(c, []ofp.Action{a}, o); err != nil || !alive {
			return err
		}
	}
	return nil
}

func allBuckets(g ofp.GroupDesc) []int {
	var is []int
	for i := range g.Buckets {
		is = append(is, i)
	}
	return is
}

// liveBuckets returns the buckets whose watch port and watch group are
// live (or unset).
func (x *run) liveBuckets(g ofp.GroupDesc, depth int) []int {
	var is []int
	for i, b := range g.Buckets {
		if x.portLive(b.WatchPort) && x.groupLive(b.WatchGroup, depth) {
			is = append(is, i)
		}
	}
	return is
}

// portLive reports whether a watched port can forward: every port is when
// the pipeline has no port list.
func (x *run) portLive(no uint32) bool {
	if no == ofp.PortAny || no == 0 || len(x.p.Ports) == 0 {
		return true
	}
	for _, p := range x.p.Ports {
		if p.PortNo == no {
			return p.Up() && p.State&ofp.PortStateBlocked == 0
		}
	}
	return false
}

// groupLive reports whether a watched group has a live bucket.
func (x *run) groupLive(id uint32, depth int) bool {
	if id == ofp.GroupAny {
		return true
	}
	g, ok := x.p.Groups[id]
	if !ok || depth > maxGroupDepth {
		return false
	}
	return len(x.liveBuckets(g, depth+1)) > 0
}

// actionSet is the set Write-Actions builds: at most one action of each
// type, and one set-field per field.
type actionSet struct{ actions []ofp.Action }

func (s *actionSet) clear() { s.actions = nil }

// write adds actions, each replacing the one of its kind already there.
func (s *actionSet) write(as []ofp.Action) {
	for _, a := range as {
		s.actions = slices.DeleteFunc(s.actions, func(b ofp.Action) bool { return sameKind(a, b) })
		s.actions = append(s.actions, a)
	}
}

func sameKind(a, b ofp.Action) bool {
	if a.ActionType() != b.ActionType() {
		return false
	}
	sa, ok := a.(*ofp.ActionSetField)
	if !ok {
		return true
	}
	sb := b.(*ofp.ActionSetField)
	return sa.Field.Class == sb.Field.Class && sa.Field.Field == sb.Field.Field
}

// ordered returns the set in the order the specification executes it
// (section 5.10): TTL copies and pops and pushes first, then TTL changes,
// set-fields, queue, group, output.
func (s *actionSet) ordered() []ofp.Action {
	out := slices.Clone(s.actions)
	slices.SortStableFunc(out, func(a, b ofp.Action) int { return setRank(a.ActionType()) - setRank(b.ActionType()) })
	return out
}

func setRank(t ofp.ActionType) int {
	switch t {
	case ofp.ActionTypeCopyTTLIn:
		return 0
	case ofp.ActionTypePopVlan, ofp.ActionTypePopMPLS, ofp.ActionTypePopPBB:
		return 1
	case ofp.ActionTypePushMPLS:
		return 2
	case ofp.ActionTypePushPBB:
		return 3
	case ofp.ActionTypePushVlan:
		return 4
	case ofp.ActionTypeCopyTTLOut:
		return 5
	case ofp.ActionTypeDecMPLSTTL, ofp.ActionTypeDecNwTTL:
		return 6
	case ofp.ActionTypeSetMPLSTTL, ofp.ActionTypeSetNwTTL, ofp.ActionTypeSetField:
		return 7
	case ofp.ActionTypeSetQueue:
		return 8
	case ofp.ActionTypeGroup:
		return 9
	}
	return 10 // output
}
