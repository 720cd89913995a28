package controller

import (
	"bytes"
	"context"
	"fmt"
	"sort"

	"github.com/sixgate/sixgate/controller/ofp"
)

// SyncStats counts what a flow sync changed.
type SyncStats struct {
	Added   int
	Deleted int
	Kept    int
}

// flowKey identifies a flow entry the way a switch does: table, priority
// and match, with the match's fields in a canonical order because a switch
// may report them in another order than they were sent.
type flowKey struct {
	table    uint8
	priority uint16
	match    string
}

func keyOf(table uint8, priority uint16, m ofp.Match) flowKey {
	fields := append([]ofp.OXM(nil), m.Fields...)
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

// flowBody is what must also be equal for an installed flow to be kept.
type flowBody struct {
	cookie       uint64
	instructions string
	idle, hard   uint16
	flags        uint16
}

func instructionBytes(is []ofp.Instruction) string {
	fm := &ofp.FlowMod{Instructions: is}
	b, err := ofp.Marshal(fm)
	if err != nil {
		return ""
	}
	return string(b[ofp.HeaderLen+40+fm.Match.Len():])
}

// SyncFlows makes the switch's flow table equal, for every app's cookie
// range, to the flows the apps declare: it reads the app's installed flows,
// deletes those not declared, adds those missing or different, and waits
// for a barrier. Flows of cookies no app owns are left alone.
func (s *Switch) SyncFlows(ctx context.Context) (SyncStats, error) {
	var st SyncStats
	var mods []ofp.Message
	for _, a := range s.ctl.cfg.Apps {
		fa, ok := a.(FlowApp)
		if !ok {
			continue
		}
		id := a.CookieID()
		want := map[flowKey]Flow{}
		var order []flowKey
		for _, f := range fa.Flows(s) {
			f.Cookie = AppCookie(id, f.Cookie)
			k := keyOf(f.Table, f.Priority, f.Match)
			if _, dup := want[k]; !dup {
				order = append(order, k)
			}
			want[k] = f
		}
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
				have[k] = flowBody{f.Cookie, instructionBytes(f.Instructions), f.IdleTimeout, f.HardTimeout, f.Flags}
				if _, wanted := want[k]; !wanted {
					mods = append(mods, &ofp.FlowMod{
						Cookie: f.Cookie, CookieMask: ^uint64(0), TableID: f.TableID,
						Command: ofp.FlowDeleteStrict, Priority: f.Priority,
						BufferID: ofp.NoBuffer32, OutPort: ofp.PortAny, OutGroup: ofp.GroupAny,
						Match: f.Match,
					})
					st.Deleted++
				}
			}
		}
		for _, k := range order {
			f := want[k]
			body := flowBody{f.Cookie, instructionBytes(f.Instructions), f.IdleTimeout, f.HardTimeout, f.Flags}
			if h, ok := have[k]; ok && h == body {
				st.Kept++
				continue
			}
			fm := ofp.NewFlowAdd(f.Table, f.Priority, f.Cookie, f.Match, f.Instructions...)
			fm.IdleTimeout, fm.HardTimeout, fm.Flags = f.IdleTimeout, f.HardTimeout, f.Flags
			mods = append(mods, fm)
			st.Added++
		}
	}
	if len(mods) == 0 {
		return st, nil
	}
	if err := s.Apply(ctx, mods...); err != nil {
		return st, err
	}
	s.ctl.metrics.flowMods.Add(float64(len(mods)))
	return st, nil
}
