package controller

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	"github.com/sixgate/sixgate/controller/ofp"
)

// SyncStats counts what a sync changed.
type SyncStats struct {
	Added   int
	Deleted int
	Kept    int
	// Groups counts group-mods (adds, modifications, deletions).
	Groups int
	// Meters counts meter-mods (adds, modifications, deletions).
	Meters int
	// ReadOnly is set when the controller may not write to the switch
	// (Config.HA, not its master): the table was read and compared, and
	// the counts say what a master would change; nothing was sent.
	ReadOnly bool
}

// flowKey identifies a flow entry the way a switch does: table, priority
// and match, with the match normalised (see normField) and its fields in a
// canonical order because a switch may report them in another order than
// they were sent.
type flowKey struct {
	table    uint8
	priority uint16
	match    string
}

func keyOf(table uint8, priority uint16, m ofp.Match) flowKey {
	fields := normMatch(m).Fields
	sort.SliceStable(fields, func(i, j int) bool {
		if fields[i].Class != fields[j].Class {
			return fields[i].Class < fields[j].Class
		}
		return fields[i].Field < fields[j].Field
	})
	var b bytes.Buffer
	for _, f := range fields {
		fmt.Fprintf(&b, "%04x:%02x:%x/%x;", f.Class, f.Field, f.Value, f.Mask)
	}
	return flowKey{table, priority, b.String()}
}

// normMatch returns m as Open vSwitch holds it, its fields normalised by
// normField, in their order. It is also what the core sends: Open vSwitch
// refuses a value with bits outside its mask (OFPBMC_BAD_WILDCARDS).
func normMatch(m ofp.Match) ofp.Match {
	fields := make([]ofp.OXM, 0, len(m.Fields))
	for _, f := range m.Fields {
		if f, ok := normField(f); ok {
			fields = append(fields, f)
		}
	}
	return ofp.Match{Fields: fields}
}

// fieldBits are the widths of the maskable OpenFlow fields whose value
// does not fill its bytes: a mask that covers all of them is an exact
// match.
var fieldBits = map[uint8]int{
	ofp.FieldVlanVID:    13,
	ofp.FieldIPv6FLabel: 20,
	ofp.FieldIPv6ExtHdr: 9,
}

// normField returns a match field the way Open vSwitch reports it back: a
// field whose mask selects nothing is not there (ok is false), a mask that
// selects every bit of the field is an exact match, and a masked value
// keeps only the bits of its mask.
func normField(f ofp.OXM) (_ ofp.OXM, ok bool) {
	if f.Mask == nil || len(f.Mask) != len(f.Value) {
		return f, true
	}
	full := make([]byte, len(f.Mask))
	for i := range full {
		full[i] = 0xff
	}
	if bits, ok := fieldBits[f.Field]; ok && f.Class == ofp.OXMClassOpenFlow && bits < 8*len(full) {
		for i := range full {
			// Bits above the field's width are not part of it.
			from := 8 * (len(full) - 1 - i)
			switch {
			case from >= bits:
				full[i] = 0
			case from+8 > bits:
				full[i] = byte(1<<(bits-from) - 1)
			}
		}
	}
	zero, all := true, true
	value := make([]byte, len(f.Value))
	for i := range f.Mask {
		value[i] = f.Value[i] & f.Mask[i]
		zero = zero && f.Mask[i]&full[i] == 0
		all = all && f.Mask[i]&full[i] == full[i]
	}
	switch {
	case zero:
		return f, false
	case all:
		for i := range value {
			value[i] = f.Value[i] & full[i]
		}
		f.Mask = nil
	default:
		f.Mask = bytes.Clone(f.Mask)
		for i := range f.Mask {
			f.Mask[i] &= full[i]
			value[i] &= full[i]
		}
	}
	f.Value = value
	return f, true
}

// flowBody is what must also be equal for an installed flow to be kept.
type flowBody struct {
	cookie       uint64
	instructions string
	idle, hard   uint16
	flags        uint16
}

// body returns what of flow f must also be equal for an installed flow to
// be kept. Instructions that cannot be encoded are an error: they could
// neither be installed nor compared.
func body(cookie uint64, is []ofp.Instruction, idle, hard, flags uint16) (flowBody, error) {
	b, err := ofp.MarshalInstructions(is)
	if err != nil {
		return flowBody{}, err
	}
	return flowBody{cookie, string(b), idle, hard, flags}, nil
}

// flowName names a flow in errors the way ovs-ofctl prints it.
func flowName(table uint8, priority uint16, m ofp.Match) string {
	return fmt.Sprintf("flow table=%d priority=%d %v", table, priority, &m)
}

// Sync makes the switch's meters, groups and flow table equal, for every
// app's id range, to the meters, groups and flows the apps declare, and
// its OFPM_CONTROLLER meter to the packet-in meter the controller wants
// (none without Config.PacketInRate): it reads what is installed, deletes
// what is not declared, adds what is missing or different, and waits for
// a barrier. Meters and groups are added before the flows that may point
// to them and deleted after the flows that did. Meters, groups and flows
// of ids no app owns are left alone.
func (s *Switch) Sync(ctx context.Context) (SyncStats, error) {
	var st SyncStats
	groupAdds, groupDels, err := s.groupMods(ctx)
	if err != nil {
		return st, err
	}
	st.Groups = len(groupAdds) + len(groupDels)
	meterAdds, meterDels, err := s.meterMods(ctx)
	if err != nil {
		return st, err
	}
	st.Meters = len(meterAdds) + len(meterDels)
	mods := append(meterAdds, groupAdds...)
	decl, conflicts := declaredFlows(s.ctl.cfg.Apps, s)
	for _, c := range conflicts {
		s.ctl.flowConflict(s, c)
	}
	for _, d := range decl {
		a, want, order := d.app, d.want, d.order
		id := a.CookieID()
		req := ofp.NewFlowStatsRequest()
		req.Cookie = AppCookie(id, 0)
		req.CookieMask = CookieMask
		parts, err := s.Multipart(ctx, &ofp.MultipartRequest{MPType: ofp.MultipartFlow, Body: req})
		if err != nil {
			return st, fmt.Errorf("app %s: dump flows: %w", a.Name(), err)
		}
		have := map[flowKey]flowBody{}
		for _, p := range parts {
			fs, ok := p.Body.(*ofp.FlowStatsReply)
			if !ok {
				continue
			}
			for _, f := range fs.Stats {
				k := keyOf(f.TableID, f.Priority, f.Match)
				hb, err := body(f.Cookie, f.Instructions, f.IdleTimeout, f.HardTimeout, f.Flags)
				if err != nil {
					return st, fmt.Errorf("app %s: installed %s: %w", a.Name(), flowName(f.TableID, f.Priority, f.Match), err)
				}
				have[k] = hb
				if _, wanted := want[k]; !wanted {
					mods = append(mods, &ofp.FlowMod{
						Cookie: f.Cookie, CookieMask: ^uint64(0), TableID: f.TableID,
						Command: ofp.FlowDeleteStrict, Priority: f.Priority,
						BufferID: ofp.NoBufferID, OutPort: ofp.PortAny, OutGroup: ofp.GroupAny,
						Match: f.Match,
					})
					st.Deleted++
				}
			}
		}
		for _, k := range order {
			f := want[k]
			wb, err := body(f.Cookie, f.Instructions, f.IdleTimeout, f.HardTimeout, f.Flags)
			if err != nil {
				return st, fmt.Errorf("app %s: %s: %w", a.Name(), flowName(f.Table, f.Priority, f.Match), err)
			}
			if h, ok := have[k]; ok && h == wb {
				st.Kept++
				continue
			}
			fm := ofp.NewFlowAdd(f.Table, f.Priority, f.Cookie, normMatch(f.Match), f.Instructions...)
			fm.IdleTimeout, fm.HardTimeout, fm.Flags = f.IdleTimeout, f.HardTimeout, f.Flags
			mods = append(mods, fm)
			st.Added++
		}
	}
	mods = append(mods, groupDels...)
	mods = append(mods, meterDels...)
	if len(mods) == 0 {
		return st, nil
	}
	if !s.MayWrite() {
		st.ReadOnly = true
		return st, nil
	}
	if err := s.Apply(ctx, mods...); err != nil {
		return st, err
	}
	s.ctl.metrics.flowMods.Add(float64(st.Added + st.Deleted))
	return st, nil
}

// appFlows is what one app declares on a switch, by key, less the flows an
// earlier app declared first.
type appFlows struct {
	app   App
	want  map[flowKey]Flow
	order []flowKey
}

// FlowConflict is a flow (table, priority and match, once normalised) that
// two apps declare on the same switch. The first, in the order of
// Config.Apps, keeps it; the second is refused it.
type FlowConflict struct {
	First, Second string
	Table         uint8
	Priority      uint16
	Match         ofp.Match
}

func (c *FlowConflict) Error() string {
	return fmt.Sprintf("apps %s and %s both declare %s", c.First, c.Second, flowName(c.Table, c.Priority, c.Match))
}

// declaredFlows collects the flows the apps declare on sw (nil: no
// switch in particular), with their cookies' app id set, and the
// conflicts between apps: a flow declared by two apps goes to the first
// one only. An app that declares one flow twice keeps the last.
func declaredFlows(apps []App, sw *Switch) ([]appFlows, []FlowConflict) {
	var out []appFlows
	var conflicts []FlowConflict
	owner := map[flowKey]App{}
	for _, a := range apps {
		fa, ok := a.(FlowApp)
		if !ok {
			continue
		}
		d := appFlows{app: a, want: map[flowKey]Flow{}}
		for _, f := range fa.Flows(sw) {
			f.Cookie = AppCookie(a.CookieID(), f.Cookie)
			k := keyOf(f.Table, f.Priority, f.Match)
			if o, taken := owner[k]; taken && o != a {
				conflicts = append(conflicts, FlowConflict{First: o.Name(), Second: a.Name(),
					Table: f.Table, Priority: f.Priority, Match: normMatch(f.Match)})
				continue
			}
			owner[k] = a
			if _, dup := d.want[k]; !dup {
				d.order = append(d.order, k)
			}
			d.want[k] = f
		}
		out = append(out, d)
	}
	return out, conflicts
}

// CheckFlows computes every app's flows for each of the datapath ids (a
// switch that is not connected: apps must not make requests from Flows),
// or for no switch in particular if there are none, and returns an
// error naming both apps and the flow for each flow two apps declare.
func CheckFlows(apps []App, dpids []uint64) error {
	var sws []*Switch
	for _, id := range dpids {
		sws = append(sws, detachedSwitch(id))
	}
	if len(sws) == 0 {
		sws = append(sws, nil)
	}
	var errs []error
	seen := map[string]bool{}
	for _, sw := range sws {
		_, conflicts := declaredFlows(apps, sw)
		for i := range conflicts {
			msg := conflicts[i].Error()
			if seen[msg] {
				continue
			}
			seen[msg] = true
			if sw != nil {
				errs = append(errs, fmt.Errorf("switch %s: %w", sw, &conflicts[i]))
			} else {
				errs = append(errs, &conflicts[i])
			}
		}
	}
	return errors.Join(errs...)
}

// detachedSwitch is a switch of datapath id dpid with no session: its
// requests fail with ErrSwitchClosed.
func detachedSwitch(dpid uint64) *Switch {
	done := make(chan struct{})
	close(done)
	return &Switch{dpid: dpid, ports: map[uint32]ofp.Port{}, done: done, closeErr: ErrSwitchClosed}
}

// groupMods returns the group-mods that make the switch's groups equal to
// the apps' declared ones: adds and modifications, then deletions.
func (s *Switch) groupMods(ctx context.Context) (adds, dels []ofp.Message, err error) {
	want := map[uint32]Group{}
	wantBody := map[uint32]string{}
	var order []uint32
	owned := map[uint8]bool{}
	for _, a := range s.ctl.cfg.Apps {
		ga, ok := a.(GroupApp)
		if !ok {
			continue
		}
		owned[a.CookieID()] = true
		for _, g := range ga.Groups(s) {
			g.ID = AppGroupID(a.CookieID(), g.ID)
			b, err := groupBody(g.Type, g.Buckets)
			if err != nil {
				return nil, nil, fmt.Errorf("app %s: group %#x: %w", a.Name(), g.ID, err)
			}
			if _, dup := want[g.ID]; !dup {
				order = append(order, g.ID)
			}
			want[g.ID] = g
			wantBody[g.ID] = b
		}
	}
	if len(owned) == 0 {
		return nil, nil, nil
	}
	parts, err := s.Multipart(ctx, &ofp.MultipartRequest{MPType: ofp.MultipartGroupDesc})
	if err != nil {
		return nil, nil, fmt.Errorf("dump groups: %w", err)
	}
	have := map[uint32]string{}
	for _, p := range parts {
		gd, ok := p.Body.(*ofp.GroupDescReply)
		if !ok {
			continue
		}
		for _, g := range gd.Groups {
			if !owned[uint8(g.GroupID>>GroupIDShift)] {
				continue
			}
			b, err := groupBody(g.GroupType, g.Buckets)
			if err != nil {
				return nil, nil, fmt.Errorf("installed group %#x: %w", g.GroupID, err)
			}
			have[g.GroupID] = b
			if _, wanted := want[g.GroupID]; !wanted {
				dels = append(dels, &ofp.GroupMod{Command: ofp.GroupDelete, GroupType: g.GroupType, GroupID: g.GroupID})
			}
		}
	}
	for _, id := range order {
		g := want[id]
		body, installed := have[id]
		if installed && body == wantBody[id] {
			continue
		}
		cmd := uint16(ofp.GroupAdd)
		if installed {
			cmd = ofp.GroupModify
		}
		adds = append(adds, &ofp.GroupMod{Command: cmd, GroupType: g.Type, GroupID: g.ID, Buckets: g.Buckets})
	}
	return adds, dels, nil
}

// groupBody is a group's type and buckets in wire form, for comparison.
func groupBody(t uint8, bs []ofp.Bucket) (string, error) {
	b, err := ofp.MarshalBuckets(bs)
	if err != nil {
		return "", err
	}
	return string(append([]byte{t}, b...)), nil
}

// meterMods returns the meter-mods that make the switch's meters equal to
// the desired ones: adds and modifications, then deletions. The core owns
// OFPM_CONTROLLER (the packet-in meter, which it alone sets) and, like
// group ids, the meter ids whose top byte is the cookie id of a MeterApp;
// every other meter is left alone. A switch that cannot list its meters
// has none to remove; that is an error only if some meter is wanted.
func (s *Switch) meterMods(ctx context.Context) (adds, dels []ofp.Message, err error) {
	want := map[uint32]Meter{}
	wantBody := map[uint32]string{}
	var order []uint32
	add := func(m Meter) error {
		b, err := meterBody(m.Flags, m.Bands)
		if err != nil {
			return err
		}
		if _, dup := want[m.ID]; !dup {
			order = append(order, m.ID)
		}
		want[m.ID] = m
		wantBody[m.ID] = b
		return nil
	}
	if pm := s.packetInMeter.Load(); pm != nil {
		if err := add(*pm); err != nil {
			return nil, nil, fmt.Errorf("packet-in meter: %w", err)
		}
	}
	owned := map[uint8]bool{}
	for _, a := range s.ctl.cfg.Apps {
		ma, ok := a.(MeterApp)
		if !ok {
			continue
		}
		owned[a.CookieID()] = true
		for _, m := range ma.Meters(s) {
			m.ID = AppMeterID(a.CookieID(), m.ID)
			if err := add(m); err != nil {
				return nil, nil, fmt.Errorf("app %s: meter %#x: %w", a.Name(), m.ID, err)
			}
		}
	}
	parts, err := s.Multipart(ctx, &ofp.MultipartRequest{MPType: ofp.MultipartMeterConfig, Body: &ofp.MeterStatsRequest{MeterID: ofp.MeterAll}})
	var em *ofp.ErrorMsg
	if errors.As(err, &em) && len(want) == 0 {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("dump meters: %w", err)
	}
	have := map[uint32]string{}
	for _, p := range parts {
		mc, ok := p.Body.(*ofp.MeterConfigReply)
		if !ok {
			continue
		}
		for _, m := range mc.Configs {
			ours := m.MeterID == ofp.MeterController ||
				m.MeterID <= ofp.MeterMax && owned[uint8(m.MeterID>>MeterIDShift)]
			if !ours {
				continue
			}
			b, err := meterBody(m.Flags, m.Bands)
			if err != nil {
				return nil, nil, fmt.Errorf("installed meter %#x: %w", m.MeterID, err)
			}
			have[m.MeterID] = b
			if _, wanted := want[m.MeterID]; !wanted {
				dels = append(dels, &ofp.MeterMod{Command: ofp.MeterDelete, MeterID: m.MeterID})
			}
		}
	}
	for _, id := range order {
		m := want[id]
		body, installed := have[id]
		if installed && body == wantBody[id] {
			continue
		}
		cmd := uint16(ofp.MeterAdd)
		if installed {
			cmd = ofp.MeterModify
		}
		adds = append(adds, &ofp.MeterMod{Command: cmd, Flags: m.Flags, MeterID: m.ID, Bands: m.Bands})
	}
	return adds, dels, nil
}

// meterBody is a meter's flags and bands in wire form, for comparison.
// Without OFPMF_BURST a band's burst size means nothing and is left out:
// Open vSwitch reports it equal to the rate then.
func meterBody(flags uint16, bands []ofp.MeterBand) (string, error) {
	b, err := ofp.Marshal(&ofp.MeterMod{Flags: flags, Bands: bands})
	if err != nil {
		return "", err
	}
	b = b[ofp.HeaderLen:]
	if flags&ofp.MeterFlagBurst == 0 {
		// Every band starts with type, length, rate and burst size.
		for rest := b[8:]; len(rest) >= 12; {
			clear(rest[8:12])
			n := int(binary.BigEndian.Uint16(rest[2:]))
			if n < 12 || n > len(rest) {
				break
			}
			rest = rest[n:]
		}
	}
	return string(b), nil
}
