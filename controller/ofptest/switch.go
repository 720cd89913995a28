// Package ofptest is an in-process OpenFlow 1.3 switch for tests: it speaks
// the protocol over any net.Conn, keeps a flow table that flow-mods change,
// answers requests, and can misbehave on purpose. Tests look packets up in
// what it was given (Switch.Lookup, Pipeline) to assert where traffic goes.
package ofptest

import (
	"bufio"
	"context"
	"errors"
	"maps"
	"net"
	"sort"
	"sync"

	"github.com/sixgate/sixgate/controller/ofp"
)

// Switch is a fake datapath.
type Switch struct {
	DPID  uint64
	Ports []ofp.Port
	// NTables is the number of tables; flow-mods to others fail with
	// BAD_TABLE_ID as Open vSwitch's do.
	NTables uint8
	// PartSize is the most flow entries per multipart reply part, to
	// exercise REPLY_MORE.
	PartSize int
	// Meters makes the switch support meters as Open vSwitch's userspace
	// datapath does: it answers METER_FEATURES (pktps and kbps drop bands,
	// bursts) and METER_CONFIG, and applies METER_MODs. Without it, both
	// requests fail with BAD_MULTIPART and METER_MODs are ignored.
	Meters bool
	// IgnoreEchoes makes the switch never answer ECHO_REQUEST.
	IgnoreEchoes bool
	// HelloVersion, if set, replaces the version of the switch's HELLO
	// and drops its version bitmap.
	HelloVersion uint8
	// HangUp, if set, is asked about every message received; when it
	// says so the switch closes the connection instead of answering.
	HangUp func(ofp.Message) bool
	// Ignore, if set, is asked about every message received; the switch
	// does not answer those it says (the test may, by hand).
	Ignore func(ofp.Message) bool
	// Around, if set, is asked about every message received; it returns
	// messages to send before and after the switch's own answer. All of
	// them leave in one write, so the controller reads them back to back.
	Around func(ofp.Message) (before, after []ofp.Message)

	mu     sync.Mutex
	groups map[uint32]ofp.GroupDesc
	meters map[uint32]ofp.MeterConfig
	flows  []*ofp.FlowStats
	// byKey finds a flow by table, priority and match, so that large
	// tables take flow-mods in constant time.
	byKey    map[flowKey]*ofp.FlowStats
	flowMods int
	// portStats answers PORT_STATS; set with SetPortStats.
	portStats []ofp.PortStats
	received  []ofp.Message
	conn      net.Conn

	// Roles, as Open vSwitch keeps them: one per connection (equal until
	// asked), and one generation id for the switch, undefined until a
	// master or slave request sets it.
	roles       map[net.Conn]uint32
	generation  uint64
	genDefined  bool
	slaveWrites int
}

// Roles returns the role of every connection being served (ofp.RoleEqual,
// RoleMaster or RoleSlave), as `ovs-vsctl list controller` shows them.
func (s *Switch) Roles() []uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]uint32, 0, len(s.roles))
	for _, r := range s.roles {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Generation returns the switch's generation id and whether one was set.
func (s *Switch) Generation() (uint64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.generation, s.genDefined
}

// SlaveWrites counts the writes refused with OFPBRC_IS_SLAVE.
func (s *Switch) SlaveWrites() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.slaveWrites
}

// roleRequest answers a ROLE_REQUEST from connection c as Open vSwitch
// does: a master or slave request whose generation id is older than the
// switch's (compared as a signed difference, so ids may wrap) fails with
// STALE; otherwise it becomes the switch's generation id. A new master
// turns the previous one into a slave.
func (s *Switch) roleRequest(c net.Conn, m *ofp.RoleRequest) ofp.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch m.Role {
	case ofp.RoleNoChange:
	case ofp.RoleEqual:
		s.roles[c] = m.Role
	case ofp.RoleMaster, ofp.RoleSlave:
		if s.genDefined && int64(m.GenerationID-s.generation) < 0 {
			return s.errorFor(m, ofp.ErrRoleRequestFailed, ofp.RoleRequestFailedStale)
		}
		s.generation, s.genDefined = m.GenerationID, true
		if m.Role == ofp.RoleMaster {
			for o, r := range s.roles {
				if r == ofp.RoleMaster {
					s.roles[o] = ofp.RoleSlave
				}
			}
		}
		s.roles[c] = m.Role
	default:
		return s.errorFor(m, ofp.ErrRoleRequestFailed, ofp.RoleRequestFailedBadRole)
	}
	var gen uint64
	if s.genDefined {
		gen = s.generation
	}
	return reply(m, &ofp.RoleReply{RoleBody: ofp.RoleBody{Role: s.roles[c], GenerationID: gen}})
}

// slaveRefuses tells whether connection c is a slave and m a write a
// slave may not make; it counts the refusal.
func (s *Switch) slaveRefuses(c net.Conn, m ofp.Message) bool {
	switch m.Type() {
	case ofp.TypeFlowMod, ofp.TypeGroupMod, ofp.TypeMeterMod, ofp.TypePacketOut, ofp.TypePortMod, ofp.TypeTableMod:
	default:
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.roles[c] != ofp.RoleSlave {
		return false
	}
	s.slaveWrites++
	return true
}

// Flows returns a copy of the flow table, sorted by table, priority, cookie.
func (s *Switch) Flows() []ofp.FlowStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ofp.FlowStats, len(s.flows))
	for i, f := range s.flows {
		out[i] = *f
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.TableID != b.TableID {
			return a.TableID < b.TableID
		}
		if a.Priority != b.Priority {
			return a.Priority > b.Priority
		}
		return a.Cookie < b.Cookie
	})
	return out
}

// Groups returns a copy of the group table.
func (s *Switch) Groups() map[uint32]ofp.GroupDesc {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.groups)
}

// SetGroup installs a group directly, as another controller would have.
func (s *Switch) SetGroup(g ofp.GroupDesc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.groups == nil {
		s.groups = map[uint32]ofp.GroupDesc{}
	}
	s.groups[g.GroupID] = g
}

// MeterConfigs returns a copy of the meter table.
func (s *Switch) MeterConfigs() map[uint32]ofp.MeterConfig {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.meters)
}

// SetMeter installs a meter directly, as an earlier run or another
// controller would have.
func (s *Switch) SetMeter(m ofp.MeterConfig) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.meters == nil {
		s.meters = map[uint32]ofp.MeterConfig{}
	}
	s.meters[m.MeterID] = m
}

// AddFlow installs a flow directly, as another controller would have.
func (s *Switch) AddFlow(f ofp.FlowStats) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flows = append(s.flows, &f)
	s.byKey = nil
}

// SetFlows replaces the whole flow table, as another controller or an
// operator with ovs-ofctl would.
func (s *Switch) SetFlows(fs ...ofp.FlowStats) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flows = nil
	for i := range fs {
		f := fs[i]
		s.flows = append(s.flows, &f)
	}
}

// SetPortStats sets the counters PORT_STATS requests are answered with.
func (s *Switch) SetPortStats(stats ...ofp.PortStats) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.portStats = append([]ofp.PortStats(nil), stats...)
}

// FlowMods counts the flow-mods received.
func (s *Switch) FlowMods() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.flowMods
}

// Received returns every message received so far.
func (s *Switch) Received() []ofp.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ofp.Message(nil), s.received...)
}

// Send writes raw bytes to the controller, for malformed input.
func (s *Switch) Send(b []byte) error {
	s.mu.Lock()
	c := s.conn
	s.mu.Unlock()
	if c == nil {
		return errors.New("not connected")
	}
	_, err := c.Write(b)
	return err
}

// SendMessage writes one message to the controller.
func (s *Switch) SendMessage(m ofp.Message) error {
	b, err := ofp.Marshal(m)
	if err != nil {
		return err
	}
	return s.Send(b)
}

// Dial connects to a controller at addr and serves the connection until
// ctx is done or the controller closes it.
func (s *Switch) Dial(ctx context.Context, addr string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(ctx, c)
}

// Serve speaks OpenFlow on c until ctx is done or c fails; it returns the
// error that ended it (io.EOF when the controller hung up).
func (s *Switch) Serve(ctx context.Context, c net.Conn) error {
	s.mu.Lock()
	s.conn = c
	if s.roles == nil {
		s.roles = map[net.Conn]uint32{}
	}
	s.roles[c] = ofp.RoleEqual
	s.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	defer c.Close()
	defer func() {
		s.mu.Lock()
		delete(s.roles, c)
		s.mu.Unlock()
	}()

	hello := ofp.NewHello()
	if s.HelloVersion != 0 {
		hello = &ofp.Hello{}
		hello.Version = s.HelloVersion
	}
	if b, err := ofp.Marshal(hello); err != nil {
		return err
	} else if _, err := c.Write(b); err != nil {
		return err
	}
	r := ofp.NewReader(bufio.NewReader(c))
	for {
		m, err := r.ReadMessage()
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.received = append(s.received, m)
		s.mu.Unlock()
		if s.HangUp != nil && s.HangUp(m) {
			return errors.New("hung up on purpose")
		}
		var out []ofp.Message
		switch {
		case s.Ignore != nil && s.Ignore(m):
		case s.slaveRefuses(c, m):
			out = []ofp.Message{s.errorFor(m, ofp.ErrBadRequest, ofp.BadRequestIsSlave)}
		default:
			if rr, ok := m.(*ofp.RoleRequest); ok {
				out = []ofp.Message{s.roleRequest(c, rr)}
			} else {
				out = s.answer(m)
			}
		}
		if s.Around != nil {
			before, after := s.Around(m)
			out = append(append(before, out...), after...)
		}
		var b []byte
		for _, rep := range out {
			mb, err := ofp.Marshal(rep)
			if err != nil {
				return err
			}
			b = append(b, mb...)
		}
		if len(b) > 0 {
			if _, err := c.Write(b); err != nil {
				return err
			}
		}
	}
}

func reply[T ofp.Message](req ofp.Message, m T) T {
	m.SetXID(req.XID())
	return m
}

func (s *Switch) errorFor(req ofp.Message, t ofp.ErrorType, code uint16) *ofp.ErrorMsg {
	b, _ := ofp.Marshal(req)
	if len(b) > 64 {
		b = b[:64]
	}
	return reply(req, &ofp.ErrorMsg{ErrType: t, Code: code, Data: b})
}

func (s *Switch) answer(m ofp.Message) []ofp.Message {
	switch m := m.(type) {
	case *ofp.EchoRequest:
		if s.IgnoreEchoes {
			return nil
		}
		return []ofp.Message{reply(m, &ofp.EchoReply{Data: m.Data})}
	case *ofp.FeaturesRequest:
		return []ofp.Message{reply(m, &ofp.FeaturesReply{DatapathID: s.DPID, NTables: s.NTables, Capabilities: ofp.CapFlowStats})}
	case *ofp.BarrierRequest:
		return []ofp.Message{reply(m, &ofp.BarrierReply{})}
	case *ofp.FlowMod:
		if m.TableID >= s.NTables && m.TableID != ofp.TableAll {
			return []ofp.Message{s.errorFor(m, ofp.ErrFlowModFailed, ofp.FlowModBadTableID)}
		}
		s.applyFlowMod(m)
	case *ofp.GroupMod:
		if e := s.applyGroupMod(m); e != nil {
			return []ofp.Message{e}
		}
	case *ofp.MeterMod:
		if e := s.applyMeterMod(m); e != nil {
			return []ofp.Message{e}
		}
	case *ofp.MultipartRequest:
		return s.multipart(m)
	}
	return nil
}

// Meter-mod failure codes (ofp_meter_mod_failed_code).
const (
	meterExists  = 1
	unknownMeter = 3
)

// applyMeterMod changes the meter table, failing as the specification
// says for an add of an existing meter or a change of a missing one.
func (s *Switch) applyMeterMod(m *ofp.MeterMod) *ofp.ErrorMsg {
	if !s.Meters {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.meters == nil {
		s.meters = map[uint32]ofp.MeterConfig{}
	}
	_, exists := s.meters[m.MeterID]
	switch m.Command {
	case ofp.MeterAdd:
		if exists {
			return s.errorFor(m, ofp.ErrMeterModFailed, meterExists)
		}
	case ofp.MeterModify:
		if !exists {
			return s.errorFor(m, ofp.ErrMeterModFailed, unknownMeter)
		}
	case ofp.MeterDelete:
		if m.MeterID == ofp.MeterAll {
			clear(s.meters)
		}
		delete(s.meters, m.MeterID)
		return nil
	}
	s.meters[m.MeterID] = ofp.MeterConfig{Flags: m.Flags, MeterID: m.MeterID, Bands: m.Bands}
	return nil
}

// applyGroupMod changes the group table, failing as the specification
// says for an add of an existing group or a change of a missing one.
func (s *Switch) applyGroupMod(m *ofp.GroupMod) *ofp.ErrorMsg {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.groups == nil {
		s.groups = map[uint32]ofp.GroupDesc{}
	}
	_, exists := s.groups[m.GroupID]
	switch m.Command {
	case ofp.GroupAdd:
		if exists {
			return s.errorFor(m, ofp.ErrGroupModFailed, 0) // GROUP_EXISTS
		}
	case ofp.GroupModify:
		if !exists {
			return s.errorFor(m, ofp.ErrGroupModFailed, 8) // UNKNOWN_GROUP
		}
	case ofp.GroupDelete:
		delete(s.groups, m.GroupID)
		return nil
	}
	s.groups[m.GroupID] = ofp.GroupDesc{GroupType: m.GroupType, GroupID: m.GroupID, Buckets: m.Buckets}
	return nil
}

type flowKey struct {
	table    uint8
	priority uint16
	match    string
}

func keyOf(table uint8, priority uint16, m ofp.Match) flowKey {
	b, _ := ofp.Marshal(&ofp.FlowMod{Match: m})
	return flowKey{table, priority, string(b)}
}

func sameMatch(a, b ofp.Match) bool {
	x, _ := ofp.Marshal(&ofp.FlowMod{Match: a})
	y, _ := ofp.Marshal(&ofp.FlowMod{Match: b})
	return string(x) == string(y)
}

func (s *Switch) applyFlowMod(m *ofp.FlowMod) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flowMods++
	switch m.Command {
	case ofp.FlowAdd:
		s.index()
		k := keyOf(m.TableID, m.Priority, m.Match)
		if f := s.byKey[k]; f != nil {
			f.Cookie, f.Instructions = m.Cookie, m.Instructions
			f.IdleTimeout, f.HardTimeout, f.Flags = m.IdleTimeout, m.HardTimeout, m.Flags
			return
		}
		f := &ofp.FlowStats{TableID: m.TableID, Priority: m.Priority, Cookie: m.Cookie,
			Match: m.Match, Instructions: m.Instructions, IdleTimeout: m.IdleTimeout, HardTimeout: m.HardTimeout, Flags: m.Flags}
		s.flows = append(s.flows, f)
		s.byKey[k] = f
	case ofp.FlowDeleteStrict, ofp.FlowDelete:
		kept := s.flows[:0]
		for _, f := range s.flows {
			hit := f.Cookie&m.CookieMask == m.Cookie&m.CookieMask &&
				(m.TableID == ofp.TableAll || f.TableID == m.TableID)
			if m.Command == ofp.FlowDeleteStrict {
				hit = hit && f.Priority == m.Priority && sameMatch(f.Match, m.Match)
			} else {
				hit = hit && len(m.Match.Fields) == 0
			}
			if !hit {
				kept = append(kept, f)
			}
		}
		clear(kept[len(kept):len(s.flows)])
		s.flows = kept
		s.byKey = nil // rebuilt on the next add
	}
}

// index builds byKey when a deletion or AddFlow left it stale.
func (s *Switch) index() {
	if s.byKey != nil {
		return
	}
	s.byKey = make(map[flowKey]*ofp.FlowStats, len(s.flows))
	for _, f := range s.flows {
		s.byKey[keyOf(f.TableID, f.Priority, f.Match)] = f
	}
}

func (s *Switch) multipart(m *ofp.MultipartRequest) []ofp.Message {
	switch m.MPType {
	case ofp.MultipartPortDesc:
		return []ofp.Message{reply(m, &ofp.MultipartReply{MPType: m.MPType, Body: &ofp.PortDescReply{Ports: s.Ports}})}
	case ofp.MultipartPortStats:
		s.mu.Lock()
		stats := append([]ofp.PortStats(nil), s.portStats...)
		s.mu.Unlock()
		return []ofp.Message{reply(m, &ofp.MultipartReply{MPType: m.MPType, Body: &ofp.PortStatsReply{Stats: stats}})}
	case ofp.MultipartGroupDesc:
		var gs []ofp.GroupDesc
		for _, g := range s.Groups() {
			gs = append(gs, g)
		}
		sort.Slice(gs, func(i, j int) bool { return gs[i].GroupID < gs[j].GroupID })
		return []ofp.Message{reply(m, &ofp.MultipartReply{MPType: m.MPType, Body: &ofp.GroupDescReply{Groups: gs}})}
	case ofp.MultipartMeterFeatures:
		if !s.Meters {
			break
		}
		return []ofp.Message{reply(m, &ofp.MultipartReply{MPType: m.MPType, Body: &ofp.MeterFeaturesReply{
			MaxMeter: 1 << 16, BandTypes: 1 << ofp.MeterBandTypeDrop,
			Capabilities: ofp.MeterFlagKbps | ofp.MeterFlagPktps | ofp.MeterFlagBurst | ofp.MeterFlagStats,
			MaxBands:     1, MaxColor: 0}})}
	case ofp.MultipartMeterConfig:
		if !s.Meters {
			break
		}
		req, _ := m.Body.(*ofp.MeterStatsRequest)
		var ms []ofp.MeterConfig
		for id, c := range s.MeterConfigs() {
			if req == nil || req.MeterID == ofp.MeterAll || req.MeterID == id {
				ms = append(ms, c)
			}
		}
		sort.Slice(ms, func(i, j int) bool { return ms[i].MeterID < ms[j].MeterID })
		return []ofp.Message{reply(m, &ofp.MultipartReply{MPType: m.MPType, Body: &ofp.MeterConfigReply{Configs: ms}})}
	case ofp.MultipartFlow:
		req, _ := m.Body.(*ofp.FlowStatsRequest)
		var sel []ofp.FlowStats
		for _, f := range s.Flows() {
			if req != nil && f.Cookie&req.CookieMask != req.Cookie&req.CookieMask {
				continue
			}
			sel = append(sel, f)
		}
		size := s.PartSize
		if size <= 0 {
			size = len(sel) + 1
		}
		var out []ofp.Message
		for len(sel) > size {
			out = append(out, reply(m, &ofp.MultipartReply{MPType: m.MPType, Flags: ofp.MultipartMore, Body: &ofp.FlowStatsReply{Stats: sel[:size]}}))
			sel = sel[size:]
		}
		return append(out, reply(m, &ofp.MultipartReply{MPType: m.MPType, Body: &ofp.FlowStatsReply{Stats: sel}}))
	}
	return []ofp.Message{s.errorFor(m, ofp.ErrBadRequest, ofp.BadRequestBadMultipart)}
}
