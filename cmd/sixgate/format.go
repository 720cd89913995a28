package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sixgate/sixgate/api"
	"github.com/sixgate/sixgate/controller"
)

func table(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
}

// row writes one tab-separated row.
func row(tw io.Writer, cols ...any) {
	for i, c := range cols {
		if i > 0 {
			fmt.Fprint(tw, "\t")
		}
		fmt.Fprint(tw, c)
	}
	fmt.Fprintln(tw)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// label names a switch by its topology name, else its datapath id.
func label(name, dpid string) string {
	if name != "" {
		return name
	}
	return dpid
}

// writeStatus prints what `sixgate status` shows; now gives the ages.
func writeStatus(w io.Writer, st *api.Status, now time.Time) {
	tw := table(w)
	role := st.Role
	if st.HA.HA {
		role = fmt.Sprintf("%s (instance %s; master %s, generation %d, lease %s)", st.Role, st.HA.Name, orDash(st.HA.Master), st.HA.Generation, map[bool]string{true: "held", false: "none"}[st.HA.Lease])
	}
	row(tw, "role", role)
	c := st.Config
	row(tw, "config", fmt.Sprintf("%s  %s  loaded %s  reloads: %d ok, %d failed",
		orDash(c.Hash), orDash(c.File), c.Loaded.UTC().Format(time.RFC3339), c.ReloadsSuccess, c.ReloadsFailure))
	connected := 0
	for _, s := range st.Switches {
		if s.Connected {
			connected++
		}
	}
	health := "all declared switches connected"
	if len(st.Missing) > 0 {
		health = "missing " + strings.Join(st.Missing, ", ")
	}
	row(tw, "switches", fmt.Sprintf("%d connected; %s", connected, health))
	tw.Flush()

	fmt.Fprintln(w)
	tw = table(w)
	// With ha, a last column: the role each switch confirmed to this
	// instance.
	roleCol := func(cells []any, role string) []any {
		if st.HA.HA {
			return append(cells, orDash(role))
		}
		return cells
	}
	row(tw, roleCol([]any{"SWITCH", "DPID", "STATE", "REMOTE", "UP", "PACKET-INS", "DROPS", "ERRORS", "FLOWS"}, "ROLE")...)
	for _, s := range st.Switches {
		if !s.Connected {
			row(tw, roleCol([]any{orDash(s.Name), s.DPID, "disconnected", "-", "-", "-", "-", "-", "-"}, "")...)
			continue
		}
		up, flows := "-", "-"
		if s.Since != nil {
			up = now.Sub(*s.Since).Truncate(time.Second).String()
		}
		if s.Flows != nil {
			flows = fmt.Sprint(*s.Flows)
		}
		row(tw, roleCol([]any{orDash(s.Name), s.DPID, "connected", s.Remote, up, s.PacketIns, s.PacketInDrops, s.Errors, flows}, s.Role)...)
	}
	tw.Flush()

	fmt.Fprintln(w)
	tw = table(w)
	row(tw, "SWITCH", "PORT", "NAME", "STATE", "RX PACKETS", "TX PACKETS", "RX BYTES", "TX BYTES", "RX DROPPED", "TX DROPPED", "RX ERRORS", "TX ERRORS")
	unpolled := false
	for _, s := range st.Switches {
		for _, p := range s.Ports {
			if p.Stats == nil {
				unpolled = true
				row(tw, label(s.Name, s.DPID), p.Port, p.Name, p.State, "-", "-", "-", "-", "-", "-", "-", "-")
				continue
			}
			n := p.Stats
			row(tw, label(s.Name, s.DPID), p.Port, p.Name, p.State,
				n.RxPackets, n.TxPackets, n.RxBytes, n.TxBytes, n.RxDropped, n.TxDropped, n.RxErrors, n.TxErrors)
		}
	}
	tw.Flush()
	if unpolled {
		fmt.Fprintln(w, "\n- : no PORT_STATS yet (controller.stats_interval is 0, or the first poll has not been answered)")
	}
}

// marked are the flow states that differ from the desired state.
var marked = map[string]bool{controller.FlowDiffers: true, controller.FlowMissing: true, controller.FlowExtra: true}

// writeFlows prints what `sixgate flows` shows, and reports whether every
// switch's table could be read.
func writeFlows(w io.Writer, f *api.Flows) bool {
	ok := true
	anyMarked := false
	for i, s := range f.Switches {
		if i > 0 {
			fmt.Fprintln(w)
		}
		name := s.DPID
		if s.Name != "" {
			name = s.Name + " (" + s.DPID + ")"
		}
		if s.Error != "" {
			fmt.Fprintf(w, "%s: flows not read: %s\n", name, s.Error)
			ok = false
			continue
		}
		installed, off := 0, 0
		for _, e := range s.Flows {
			if e.State != controller.FlowMissing {
				installed++
			}
			if marked[e.State] {
				off++
			}
		}
		summary := "as desired"
		if off > 0 {
			summary = fmt.Sprintf("%d differ from the desired state", off)
			anyMarked = true
		}
		fmt.Fprintf(w, "%s: %d flows installed, %s\n", name, installed, summary)
		if len(s.Flows) == 0 {
			continue
		}
		tw := table(w)
		row(tw, " ", "TABLE", "PRIORITY", "APP", "STATE", "PACKETS", "BYTES", "MATCH", "ACTIONS")
		for _, e := range s.Flows {
			mark := " "
			if marked[e.State] {
				mark = "!"
			}
			packets, bytes := fmt.Sprint(e.Packets), fmt.Sprint(e.Bytes)
			if e.State == controller.FlowMissing {
				packets, bytes = "-", "-"
			}
			actions := e.Instructions
			if e.Want != "" {
				actions += " (want " + e.Want + ")"
			}
			row(tw, mark, e.Table, e.Priority, orDash(e.App), e.State, packets, bytes, e.Match, actions)
		}
		tw.Flush()
	}
	if anyMarked {
		fmt.Fprintln(w, "\n! differs from the desired state: the next sync (on reconnect, reload or app change) corrects it")
	}
	return ok
}
