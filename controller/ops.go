package controller

import (
	"context"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sixgate/sixgate/controller/ofp"
)

// switchOps is what operators read about one session: counters kept by
// the reader, the last PORT_STATS, and the flows the apps declared at the
// last sync. The metrics collector and the read API read it; nothing on
// the packet path takes a lock for it.
type switchOps struct {
	since    time.Time    // when the connection was accepted
	lastRecv atomic.Int64 // unix nanoseconds of the last message received

	packetIns  atomic.Uint64
	queueDrops atomic.Uint64 // packet-ins dropped: event queue full
	rateDrops  atomic.Uint64 // packet-ins dropped: above packet_in_rate
	errors     atomic.Uint64 // ERROR messages received
	flows      atomic.Int64  // flows the apps hold on the switch after the last sync; -1 before

	mu        sync.Mutex
	portStats map[uint32]ofp.PortStats
	statsAt   time.Time // when portStats was read; zero before the first poll
	// desired is what the apps declared at the last sync, cookies with
	// their app id; nil before the first sync.
	desired map[flowKey]Flow
}

func (o *switchOps) init(now time.Time) {
	o.since = now
	o.lastRecv.Store(now.UnixNano())
	o.flows.Store(-1)
}

// received notes that a message arrived now.
func (o *switchOps) received(now time.Time) { o.lastRecv.Store(now.UnixNano()) }

// controllerOps is the controller-wide part: which switches the topology
// declares, and whether Serve is accepting.
type controllerOps struct {
	serving  atomic.Bool
	mu       sync.Mutex
	declared []uint64 // sorted
}

// SwitchCounters are one session's counters; they start at zero when a
// switch connects.
type SwitchCounters struct {
	PacketIns uint64
	// QueueDrops are packet-ins dropped because the switch's event queue
	// was full, RateDrops those above packet_in_rate.
	QueueDrops uint64
	RateDrops  uint64
	// Errors counts the ERROR messages the switch sent.
	Errors uint64
	// Flows is the number of flows the apps hold on the switch as of the
	// last successful sync; -1 before it.
	Flows int64
}

// ConnectedSince is when the switch's connection was accepted.
func (s *Switch) ConnectedSince() time.Time { return s.ops.since }

// RemoteAddr is the switch's address.
func (s *Switch) RemoteAddr() string { return s.conn.RemoteAddr().String() }

// Counters returns the session's counters.
func (s *Switch) Counters() SwitchCounters {
	return SwitchCounters{
		PacketIns:  s.ops.packetIns.Load(),
		QueueDrops: s.ops.queueDrops.Load(),
		RateDrops:  s.ops.rateDrops.Load(),
		Errors:     s.ops.errors.Load(),
		Flows:      s.ops.flows.Load(),
	}
}

// PortStats returns the port counters of the last PORT_STATS poll, by port
// number, and when they were read (zero when never: stats_interval is 0 or
// the first poll has not answered yet).
func (s *Switch) PortStats() (map[uint32]ofp.PortStats, time.Time) {
	s.ops.mu.Lock()
	defer s.ops.mu.Unlock()
	out := make(map[uint32]ofp.PortStats, len(s.ops.portStats))
	for k, v := range s.ops.portStats {
		out[k] = v
	}
	return out, s.ops.statsAt
}

// SetDeclared tells the controller which datapath ids the topology
// declares: Healthy wants them all connected, and the metrics keep
// reporting them (as disconnected) while they are away.
func (c *Controller) SetDeclared(dpids []uint64) {
	d := slices.Clone(dpids)
	slices.Sort(d)
	d = slices.Compact(d)
	c.ops.mu.Lock()
	c.ops.declared = d
	c.ops.mu.Unlock()
}

// Declared returns the datapath ids given to SetDeclared, sorted.
func (c *Controller) Declared() []uint64 {
	c.ops.mu.Lock()
	defer c.ops.mu.Unlock()
	return slices.Clone(c.ops.declared)
}

// Serving reports whether Serve is accepting switches.
func (c *Controller) Serving() bool { return c.ops.serving.Load() }

// Missing returns the declared datapath ids with no connected switch.
func (c *Controller) Missing() []uint64 {
	var missing []uint64
	for _, d := range c.Declared() {
		if _, ok := c.Switch(d); !ok {
			missing = append(missing, d)
		}
	}
	return missing
}

// AppName names the app owning a cookie (its top byte), "" when none does.
func (c *Controller) AppName(cookie uint64) string {
	if a, ok := c.byID[uint8(cookie>>CookieShift)]; ok {
		return a.Name()
	}
	return ""
}

// statsLoop polls PORT_STATS at once and then every StatsInterval until
// the session ends.
func (s *Switch) statsLoop() {
	iv := s.ctl.cfg.StatsInterval
	if iv <= 0 {
		return
	}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		if err := s.pollPortStats(); err != nil {
			s.ctl.metrics.statsPollFailures.Inc()
			select {
			case <-s.done:
				return
			default:
			}
			s.log.WithError(err).Warn("port stats poll failed")
		}
		t.Reset(iv)
	}
}

func (s *Switch) pollPortStats() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.ctl.cfg.RequestTimeout)
	defer cancel()
	parts, err := s.Multipart(ctx, &ofp.MultipartRequest{MPType: ofp.MultipartPortStats, Body: &ofp.PortStatsRequest{PortNo: ofp.PortAny}})
	if err != nil {
		return err
	}
	stats := map[uint32]ofp.PortStats{}
	for _, p := range parts {
		if r, ok := p.Body.(*ofp.PortStatsReply); ok {
			for _, st := range r.Stats {
				stats[st.PortNo] = st
			}
		}
	}
	s.ops.mu.Lock()
	s.ops.portStats, s.ops.statsAt = stats, time.Now()
	s.ops.mu.Unlock()
	return nil
}

// recordDesired keeps what the apps declare now, for comparison with what
// is installed. It runs in the event goroutine, where Flows may be called.
func (s *Switch) recordDesired() {
	want := map[flowKey]Flow{}
	for _, a := range s.ctl.cfg.Apps {
		fa, ok := a.(FlowApp)
		if !ok {
			continue
		}
		for _, f := range fa.Flows(s) {
			f.Cookie = AppCookie(a.CookieID(), f.Cookie)
			want[keyOf(f.Table, f.Priority, f.Match)] = f
		}
	}
	s.ops.mu.Lock()
	s.ops.desired = want
	s.ops.mu.Unlock()
}

// States of a flow in FlowReport.
const (
	// FlowOK: installed as its app declares it.
	FlowOK = "ok"
	// FlowDiffers: its app declares this table, priority and match with
	// other instructions, cookie, timeouts or flags; the next sync
	// replaces it.
	FlowDiffers = "differs"
	// FlowExtra: in a syncing app's cookie range but not declared; the
	// next sync deletes it.
	FlowExtra = "extra"
	// FlowMissing: declared but not installed; the next sync adds it.
	FlowMissing = "missing"
	// FlowDynamic: installed by an app that does not declare its flows
	// (it adds them as traffic comes); never synced.
	FlowDynamic = "dynamic"
	// FlowUnmanaged: the cookie is no app's; sixgate leaves it alone.
	FlowUnmanaged = "unmanaged"
	// FlowUnknown: the apps' flows have not been computed yet (the switch
	// has just connected).
	FlowUnknown = "unknown"
)

// FlowEntry is one flow of a FlowReport: installed (with its counters), or
// declared and missing.
type FlowEntry struct {
	Table        uint8         `json:"table"`
	Priority     uint16        `json:"priority"`
	Cookie       uint64        `json:"cookie"`
	Match        string        `json:"match"`
	Instructions string        `json:"actions"`
	IdleTimeout  uint16        `json:"idle_timeout,omitempty"`
	HardTimeout  uint16        `json:"hard_timeout,omitempty"`
	Packets      uint64        `json:"packets"`
	Bytes        uint64        `json:"bytes"`
	Duration     time.Duration `json:"duration_ns"`
	// App names the owner by cookie; empty when no app owns it.
	App   string `json:"app"`
	State string `json:"state"`
	// Want is the declared instructions when State is FlowDiffers and
	// they are what differs.
	Want string `json:"want,omitempty"`
}

// FlowReport reads the switch's flow table (one FLOW_STATS multipart,
// bounded by ctx) and compares it with what the apps declared at the last
// sync. The result is sorted by table, priority (highest first) and match,
// with missing flows among the installed ones.
func (s *Switch) FlowReport(ctx context.Context) ([]FlowEntry, error) {
	parts, err := s.Multipart(ctx, &ofp.MultipartRequest{MPType: ofp.MultipartFlow, Body: ofp.NewFlowStatsRequest()})
	if err != nil {
		return nil, err
	}
	s.ops.mu.Lock()
	desired := s.ops.desired
	s.ops.mu.Unlock()
	syncing := map[uint8]bool{}
	for _, a := range s.ctl.cfg.Apps {
		if _, ok := a.(FlowApp); ok {
			syncing[a.CookieID()] = true
		}
	}
	seen := map[flowKey]bool{}
	var out []FlowEntry
	for _, p := range parts {
		fs, ok := p.Body.(*ofp.FlowStatsReply)
		if !ok {
			continue
		}
		for _, f := range fs.Stats {
			e := FlowEntry{
				Table: f.TableID, Priority: f.Priority, Cookie: f.Cookie,
				Match: f.Match.String(), Instructions: ofp.FormatInstructions(f.Instructions),
				IdleTimeout: f.IdleTimeout, HardTimeout: f.HardTimeout,
				Packets: f.PacketCount, Bytes: f.ByteCount,
				Duration: time.Duration(f.DurationSec)*time.Second + time.Duration(f.DurationNsec),
				App:      s.ctl.AppName(f.Cookie),
			}
			id := uint8(f.Cookie >> CookieShift)
			k := keyOf(f.TableID, f.Priority, f.Match)
			switch {
			case e.App == "":
				e.State = FlowUnmanaged
			case !syncing[id]:
				e.State = FlowDynamic
			case desired == nil:
				e.State = FlowUnknown
			default:
				w, wanted := desired[k]
				switch {
				case !wanted || uint8(w.Cookie>>CookieShift) != id:
					e.State = FlowExtra
				case sameBody(w, f):
					e.State = FlowOK
					seen[k] = true
				default:
					e.State = FlowDiffers
					seen[k] = true
					if want := ofp.FormatInstructions(w.Instructions); want != e.Instructions {
						e.Want = want
					}
				}
			}
			out = append(out, e)
		}
	}
	for k, w := range desired {
		if seen[k] {
			continue
		}
		out = append(out, FlowEntry{
			Table: w.Table, Priority: w.Priority, Cookie: w.Cookie,
			Match: w.Match.String(), Instructions: ofp.FormatInstructions(w.Instructions),
			IdleTimeout: w.IdleTimeout, HardTimeout: w.HardTimeout,
			App: s.ctl.AppName(w.Cookie), State: FlowMissing,
		})
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Table != b.Table {
			return a.Table < b.Table
		}
		if a.Priority != b.Priority {
			return a.Priority > b.Priority
		}
		if a.Match != b.Match {
			return a.Match < b.Match
		}
		return a.Cookie < b.Cookie
	})
	return out, nil
}

// idleEcho is the echo loop's decision: with the last message received at
// last, whether to send an ECHO_REQUEST now, and otherwise how long to wait
// before asking again. Open vSwitch probes the same way: only a connection
// idle for the whole interval is probed.
func idleEcho(now, last time.Time, interval time.Duration) (send bool, wait time.Duration) {
	idle := now.Sub(last)
	if idle >= interval {
		return true, interval
	}
	return false, interval - idle
}

// FormatDPIDs formats datapath ids for messages, comma-separated.
func FormatDPIDs(dpids []uint64) string {
	s := ""
	for i, d := range dpids {
		if i > 0 {
			s += ","
		}
		s += FormatDPID(d)
	}
	return s
}

// sameBody reports whether installed flow f is as w declares it; a body
// that cannot be encoded is never the same.
func sameBody(w Flow, f ofp.FlowStats) bool {
	wb, werr := body(w.Cookie, w.Instructions, w.IdleTimeout, w.HardTimeout, w.Flags)
	fb, ferr := body(f.Cookie, f.Instructions, f.IdleTimeout, f.HardTimeout, f.Flags)
	return werr == nil && ferr == nil && wb == fb
}
