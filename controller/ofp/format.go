package ofp

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"strings"
)

// Format renders m on one line in the manner of ovs-ofctl ofp-print:
//
//	OFPT_FLOW_MOD (OF1.3) (xid=0x1): ADD table:1 priority=123 cookie=0x0 eth_dst=f2:0b:a4:7d:f8:ea actions=output:6
//
// Multipart messages are named as Open vSwitch names them
// ("OFPST_FLOW reply"). The output is for people and logs; it is not
// meant to be parsed.
func Format(m Message) string {
	var b strings.Builder
	h := m.header()
	name := "OFPT_" + m.Type().String()
	switch m := m.(type) {
	case *MultipartRequest:
		name = "OFPST_" + m.MPType.String() + " request"
	case *MultipartReply:
		name = "OFPST_" + m.MPType.String() + " reply"
	}
	fmt.Fprintf(&b, "%s (%s) (xid=0x%x):", name, versionName(h.Version), h.Xid)
	w := &fmtWriter{b: &b}
	formatBody(w, m)
	return b.String()
}

func versionName(v uint8) string {
	if v == 0 {
		v = Version
	}
	if v >= 1 && v <= 6 {
		return fmt.Sprintf("OF1.%d", v-1)
	}
	return fmt.Sprintf("OF0x%02x", v)
}

// fmtWriter writes space-separated items.
type fmtWriter struct{ b *strings.Builder }

func (w *fmtWriter) item(format string, args ...any) {
	w.b.WriteByte(' ')
	fmt.Fprintf(w.b, format, args...)
}

var portNames = map[uint32]string{
	PortInPort: "IN_PORT", PortTable: "TABLE", PortNormal: "NORMAL", PortFlood: "FLOOD",
	PortAll: "ALL", PortController: "CONTROLLER", PortLocal: "LOCAL", PortAny: "ANY",
}

// PortName names a port number as Open vSwitch does: the reserved ports
// by name, the others in decimal.
func PortName(p uint32) string {
	if s, ok := portNames[p]; ok {
		return s
	}
	return fmt.Sprint(p)
}

func tableName(t uint8) string {
	if t == TableAll {
		return "ALL"
	}
	return fmt.Sprint(t)
}

func groupName(g uint32) string {
	switch g {
	case GroupAll:
		return "ALL"
	case GroupAny:
		return "ANY"
	}
	return fmt.Sprint(g)
}

// String renders the field as name=value or name=value/mask.
func (o *OXM) String() string {
	v := o.fieldString(o.Value)
	if o.Mask == nil {
		return o.Name() + "=" + v
	}
	if fi, ok := o.info(); ok && fi.kind != kindInt && len(o.Mask) == fi.size && (fi.kind == kindIPv4 || fi.kind == kindIPv6) {
		if n, ok := prefixLen(o.Mask); ok {
			return fmt.Sprintf("%s=%s/%d", o.Name(), v, n)
		}
	}
	return o.Name() + "=" + v + "/" + o.fieldString(o.Mask)
}

// fieldString formats a value as Open vSwitch would: addresses in their
// notation, Ethernet types and wide integers in hex, the rest in decimal.
func (o *OXM) fieldString(v []byte) string {
	fi, ok := o.info()
	if ok && fi.kind == kindInt && len(v) == fi.size &&
		(fi.size >= 8 || (o.Class == OXMClassOpenFlow && o.Field == FieldEthType) || o.Mask != nil) {
		return fmt.Sprintf("0x%x", beUint(v))
	}
	return o.format(v)
}

// prefixLen returns n if mask is n one bits followed by zeros.
func prefixLen(mask []byte) (int, bool) {
	n := 0
	for i, c := range mask {
		if c == 0xff {
			n += 8
			continue
		}
		ones := bits.LeadingZeros8(^c)
		if c<<ones != 0 {
			return 0, false
		}
		n += ones
		for _, rest := range mask[i+1:] {
			if rest != 0 {
				return 0, false
			}
		}
		break
	}
	return n, true
}

// String renders the match as comma-separated fields, "any" when empty.
func (m *Match) String() string {
	if len(m.Fields) == 0 {
		return "any"
	}
	parts := make([]string, len(m.Fields))
	for i := range m.Fields {
		parts[i] = m.Fields[i].String()
	}
	return strings.Join(parts, ",")
}

// FormatAction renders an action as ovs-ofctl writes it.
func FormatAction(a Action) string {
	switch a := a.(type) {
	case *ActionOutput:
		if a.Port == PortController {
			return fmt.Sprintf("CONTROLLER:%d", a.MaxLen)
		}
		if _, ok := portNames[a.Port]; ok {
			return PortName(a.Port)
		}
		return fmt.Sprintf("output:%d", a.Port)
	case *ActionGroup:
		return fmt.Sprintf("group:%d", a.GroupID)
	case *ActionSetQueue:
		return fmt.Sprintf("set_queue:%d", a.QueueID)
	case *ActionSetField:
		return fmt.Sprintf("set_field:%s->%s", a.Field.fieldString(a.Field.Value), a.Field.Name())
	case *ActionPush:
		names := map[ActionType]string{ActionTypePushVlan: "push_vlan", ActionTypePushMPLS: "push_mpls", ActionTypePushPBB: "push_pbb"}
		return fmt.Sprintf("%s:0x%04x", names[a.Kind], a.EtherType)
	case *ActionPopMPLS:
		return fmt.Sprintf("pop_mpls:0x%04x", a.EtherType)
	case *ActionTTL:
		if a.Kind == ActionTypeSetMPLSTTL {
			return fmt.Sprintf("set_mpls_ttl(%d)", a.TTL)
		}
		return fmt.Sprintf("mod_nw_ttl:%d", a.TTL)
	case *ActionNoArg:
		switch a.Kind {
		case ActionTypeDecNwTTL:
			return "dec_ttl"
		case ActionTypeDecMPLSTTL:
			return "dec_mpls_ttl"
		}
		return strings.ToLower(a.Kind.String())
	case *ActionExperimenter:
		return formatExperimenterAction(a)
	case *ActionUnknown:
		return fmt.Sprintf("action(type=%d,data=%x)", uint16(a.Kind), a.Data)
	}
	return fmt.Sprintf("%T", a)
}

// Nicira action subtypes the printer decodes.
const (
	nxSubtypeConjunction = 34
	nxSubtypeLearn       = 16
)

func formatExperimenterAction(a *ActionExperimenter) string {
	if a.Experimenter == 0x2320 && len(a.Data) >= 2 {
		sub := binary.BigEndian.Uint16(a.Data)
		switch {
		case sub == nxSubtypeConjunction && len(a.Data) >= 8:
			// clause is 0-based on the wire and 1-based in ovs-ofctl.
			return fmt.Sprintf("conjunction(%d,%d/%d)", binary.BigEndian.Uint32(a.Data[4:]), a.Data[2]+1, a.Data[3])
		case sub == nxSubtypeLearn:
			return "learn(...)"
		}
		return fmt.Sprintf("nx(subtype=%d,data=%x)", sub, a.Data[2:])
	}
	return fmt.Sprintf("experimenter(0x%x,data=%x)", a.Experimenter, a.Data)
}

// FormatActions renders an action list, "drop" when empty.
func FormatActions(as []Action) string {
	if len(as) == 0 {
		return "drop"
	}
	parts := make([]string, len(as))
	for i, a := range as {
		parts[i] = FormatAction(a)
	}
	return strings.Join(parts, ",")
}

// FormatInstructions renders instructions in ovs-ofctl's actions= syntax.
func FormatInstructions(is []Instruction) string {
	if len(is) == 0 {
		return "drop"
	}
	parts := make([]string, 0, len(is))
	for _, in := range is {
		switch in := in.(type) {
		case *InstructionActions:
			switch in.Kind {
			case InstructionTypeApplyActions:
				parts = append(parts, FormatActions(in.Actions))
			case InstructionTypeWriteActions:
				parts = append(parts, "write_actions("+FormatActions(in.Actions)+")")
			default:
				parts = append(parts, "clear_actions")
			}
		case *InstructionGotoTable:
			parts = append(parts, fmt.Sprintf("goto_table:%d", in.TableID))
		case *InstructionWriteMetadata:
			parts = append(parts, fmt.Sprintf("write_metadata:0x%x/0x%x", in.Metadata, in.Mask))
		case *InstructionMeter:
			parts = append(parts, fmt.Sprintf("meter:%d", in.MeterID))
		case *InstructionExperimenter:
			parts = append(parts, fmt.Sprintf("experimenter(0x%x,data=%x)", in.Experimenter, in.Data))
		case *InstructionUnknown:
			parts = append(parts, fmt.Sprintf("instruction(type=%d,data=%x)", uint16(in.Kind), in.Data))
		}
	}
	return strings.Join(parts, ",")
}

var flowCommands = [...]string{"ADD", "MOD", "MOD_STRICT", "DEL", "DEL_STRICT"}

func flowFlags(f uint16) string {
	names := []string{"send_flow_rem", "check_overlap", "reset_counts", "no_packet_counts", "no_byte_counts"}
	var out []string
	for i, n := range names {
		if f&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	if rest := f &^ (1<<len(names) - 1); rest != 0 {
		out = append(out, fmt.Sprintf("0x%x", rest))
	}
	return strings.Join(out, ",")
}

func bitNames(v uint32, names map[uint32]string) string {
	var out []string
	for bit := uint32(1); bit != 0; bit <<= 1 {
		if v&bit == 0 {
			continue
		}
		if n, ok := names[bit]; ok {
			out = append(out, n)
		} else {
			out = append(out, fmt.Sprintf("0x%x", bit))
		}
	}
	if len(out) == 0 {
		return "0"
	}
	return strings.Join(out, ",")
}

var capNames = map[uint32]string{
	CapFlowStats: "FLOW_STATS", CapTableStats: "TABLE_STATS", CapPortStats: "PORT_STATS",
	CapGroupStats: "GROUP_STATS", CapIPReasm: "IP_REASM", CapQueueStats: "QUEUE_STATS",
	CapPortBlocked: "PORT_BLOCKED",
}

var portStateNames = map[uint32]string{
	PortStateLinkDown: "LINK_DOWN", PortStateBlocked: "BLOCKED", PortStateLive: "LIVE",
}

var portConfigNames = map[uint32]string{
	PortConfigDown: "PORT_DOWN", PortConfigNoRecv: "NO_RECV", PortConfigNoFwd: "NO_FWD",
	PortConfigNoPacketIn: "NO_PACKET_IN",
}

func formatPort(w *fmtWriter, p *Port) {
	w.item("%s(%s): addr:%s config:%s state:%s speed:%d/%dkbps", PortName(p.PortNo), p.Name,
		p.HWAddr, bitNames(p.Config, portConfigNames), bitNames(p.State, portStateNames),
		p.CurrSpeed, p.MaxSpeed)
}

var groupTypes = [...]string{"all", "select", "indirect", "ff"}

func formatBuckets(w *fmtWriter, bs []Bucket) {
	for _, bk := range bs {
		s := fmt.Sprintf("bucket=weight:%d", bk.Weight)
		if bk.WatchPort != PortAny {
			s += ",watch_port:" + PortName(bk.WatchPort)
		}
		if bk.WatchGroup != GroupAny {
			s += ",watch_group:" + groupName(bk.WatchGroup)
		}
		w.item("%s,actions=%s", s, FormatActions(bk.Actions))
	}
}

func formatBands(w *fmtWriter, bs []MeterBand) {
	for _, band := range bs {
		switch band := band.(type) {
		case *MeterBandDrop:
			w.item("band=type=drop,rate=%d,burst_size=%d", band.Rate, band.BurstSize)
		case *MeterBandDSCPRemark:
			w.item("band=type=dscp_remark,rate=%d,burst_size=%d,prec_level=%d", band.Rate, band.BurstSize, band.PrecLevel)
		case *MeterBandExperimenter:
			w.item("band=type=experimenter,rate=%d,burst_size=%d,experimenter=0x%x", band.Rate, band.BurstSize, band.Experimenter)
		case *MeterBandUnknown:
			w.item("band=type=%d,rate=%d,burst_size=%d", uint16(band.Kind), band.Rate, band.BurstSize)
		}
	}
}

func meterFlags(f uint16) string {
	var out []string
	for i, n := range []string{"kbps", "pktps", "burst", "stats"} {
		if f&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return strings.Join(out, ",")
}

func formatBody(w *fmtWriter, m Message) {
	switch m := m.(type) {
	case *Hello:
		for _, e := range m.Elements {
			if e.Type != HelloElemVersionBitmap {
				w.item("element(type=%d,len=%d)", e.Type, len(e.Data))
				continue
			}
			var vs []string
			for i, word := range e.Bitmaps {
				for bit := range 32 {
					if word&(1<<bit) != 0 {
						vs = append(vs, fmt.Sprintf("0x%02x", 32*i+bit))
					}
				}
			}
			w.item("version bitmap: %s", strings.Join(vs, ", "))
		}
	case *ErrorMsg:
		if m.ErrType == ErrExperimenter {
			w.item("OFPET_EXPERIMENTER experimenter=0x%x exp_type=%d", m.Experimenter, m.Code)
		} else {
			w.item("%s", m.ErrType.CodeName(m.Code))
			if m.ErrType.CodeName(m.Code) == fmt.Sprintf("code %d", m.Code) {
				w.item("(type %s)", m.ErrType)
			}
		}
		w.item("data_len=%d", len(m.Data))
	case *EchoRequest:
		w.item("data_len=%d", len(m.Data))
	case *EchoReply:
		w.item("data_len=%d", len(m.Data))
	case *Experimenter:
		w.item("experimenter=0x%x exp_type=%d data_len=%d", m.Experimenter, m.ExpType, len(m.Data))
	case *FeaturesReply:
		w.item("dpid:%016x n_tables:%d n_buffers:%d auxiliary_id:%d capabilities:%s",
			m.DatapathID, m.NTables, m.NBuffers, m.AuxiliaryID, bitNames(m.Capabilities, capNames))
	case *GetConfigReply:
		formatConfig(w, &m.SwitchConfig)
	case *SetConfig:
		formatConfig(w, &m.SwitchConfig)
	case *PacketIn:
		reasons := [...]string{"no_match", "action", "invalid_ttl"}
		reason := fmt.Sprint(m.Reason)
		if int(m.Reason) < len(reasons) {
			reason = reasons[m.Reason]
		}
		w.item("table_id=%d cookie=0x%x total_len=%d %s reason=%s data_len=%d", m.TableID,
			m.Cookie, m.TotalLen, m.Match.String(), reason, len(m.Data))
		if m.BufferID != NoBufferID {
			w.item("buffer=0x%08x", m.BufferID)
		}
	case *FlowRemoved:
		reasons := [...]string{"idle", "hard", "delete", "group_delete", "meter_delete"}
		reason := fmt.Sprint(m.Reason)
		if int(m.Reason) < len(reasons) {
			reason = reasons[m.Reason]
		}
		w.item("priority=%d %s reason=%s table_id=%d cookie=0x%x duration=%d.%09ds idle_timeout=%d hard_timeout=%d n_packets=%d n_bytes=%d",
			m.Priority, m.Match.String(), reason, m.TableID, m.Cookie, m.DurationSec,
			m.DurationNsec, m.IdleTimeout, m.HardTimeout, m.PacketCount, m.ByteCount)
	case *PortStatus:
		reasons := [...]string{"ADD", "DEL", "MOD"}
		reason := fmt.Sprint(m.Reason)
		if int(m.Reason) < len(reasons) {
			reason = reasons[m.Reason]
		}
		w.item("%s:", reason)
		formatPort(w, &m.Port)
	case *PacketOut:
		w.item("in_port=%s actions=%s data_len=%d", PortName(m.InPort), FormatActions(m.Actions), len(m.Data))
		if m.BufferID != NoBufferID {
			w.item("buffer=0x%08x", m.BufferID)
		}
	case *FlowMod:
		cmd := fmt.Sprintf("cmd(%d)", m.Command)
		if int(m.Command) < len(flowCommands) {
			cmd = flowCommands[m.Command]
		}
		w.item("%s table:%s priority=%d cookie=0x%x", cmd, tableName(m.TableID), m.Priority, m.Cookie)
		if m.CookieMask != 0 {
			w.item("cookie_mask=0x%x", m.CookieMask)
		}
		if m.IdleTimeout != 0 {
			w.item("idle_timeout=%d", m.IdleTimeout)
		}
		if m.HardTimeout != 0 {
			w.item("hard_timeout=%d", m.HardTimeout)
		}
		if m.BufferID != NoBufferID {
			w.item("buffer=0x%x", m.BufferID)
		}
		if m.OutPort != PortAny {
			w.item("out_port=%s", PortName(m.OutPort))
		}
		if m.OutGroup != GroupAny {
			w.item("out_group=%s", groupName(m.OutGroup))
		}
		if m.Flags != 0 {
			w.item("flags=%s", flowFlags(m.Flags))
		}
		if len(m.Match.Fields) > 0 {
			w.item("%s", m.Match.String())
		}
		w.item("actions=%s", FormatInstructions(m.Instructions))
	case *GroupMod:
		cmds := [...]string{"ADD", "MOD", "DEL"}
		cmd := fmt.Sprintf("cmd(%d)", m.Command)
		if int(m.Command) < len(cmds) {
			cmd = cmds[m.Command]
		}
		typ := fmt.Sprint(m.GroupType)
		if int(m.GroupType) < len(groupTypes) {
			typ = groupTypes[m.GroupType]
		}
		w.item("%s group_id=%s,type=%s", cmd, groupName(m.GroupID), typ)
		formatBuckets(w, m.Buckets)
	case *PortMod:
		w.item("port:%s addr:%s config:0x%x mask:0x%x advertise:0x%x", PortName(m.PortNo), m.HWAddr, m.Config, m.Mask, m.Advertise)
	case *TableMod:
		w.item("table_id=%s config=0x%x", tableName(m.TableID), m.Config)
	case *MultipartRequest:
		if m.Flags != 0 {
			w.item("flags=%s", mpFlags(m.Flags))
		}
		formatMultipartBody(w, m.Body)
	case *MultipartReply:
		if m.Flags != 0 {
			w.item("flags=%s", mpFlags(m.Flags))
		}
		formatMultipartBody(w, m.Body)
	case *QueueGetConfigRequest:
		w.item("port=%s", PortName(m.Port))
	case *QueueGetConfigReply:
		w.item("port=%s", PortName(m.Port))
		for _, q := range m.Queues {
			w.item("queue=%d(port=%s", q.QueueID, PortName(q.Port))
			for _, p := range q.Properties {
				switch p := p.(type) {
				case *QueuePropRate:
					w.b.WriteString("," + p.Kind.String() + "=" + fmt.Sprint(p.Rate))
				case *QueuePropExperimenterData:
					fmt.Fprintf(w.b, ",experimenter=0x%x", p.Experimenter)
				case *QueuePropUnknown:
					fmt.Fprintf(w.b, ",prop(%d)", uint16(p.Kind))
				}
			}
			w.b.WriteString(")")
		}
	case *RoleRequest:
		formatRole(w, &m.RoleBody)
	case *RoleReply:
		formatRole(w, &m.RoleBody)
	case *GetAsyncReply:
		formatAsync(w, &m.AsyncConfig)
	case *SetAsync:
		formatAsync(w, &m.AsyncConfig)
	case *MeterMod:
		cmds := [...]string{"ADD", "MOD", "DEL"}
		cmd := fmt.Sprintf("cmd(%d)", m.Command)
		if int(m.Command) < len(cmds) {
			cmd = cmds[m.Command]
		}
		w.item("%s meter=%d", cmd, m.MeterID)
		if f := meterFlags(m.Flags); f != "" {
			w.item("%s", f)
		}
		formatBands(w, m.Bands)
	case *Unknown:
		w.item("type=%d body_len=%d", uint8(m.MsgType), len(m.Body))
	}
}

func formatConfig(w *fmtWriter, c *SwitchConfig) {
	frags := [...]string{"normal", "drop", "reassemble"}
	f := fmt.Sprintf("0x%x", c.Flags)
	if int(c.Flags) < len(frags) {
		f = frags[c.Flags]
	}
	w.item("frags=%s miss_send_len=%d", f, c.MissSendLen)
}

func formatRole(w *fmtWriter, r *RoleBody) {
	roles := [...]string{"nochange", "equal", "master", "slave"}
	role := fmt.Sprint(r.Role)
	if int(r.Role) < len(roles) {
		role = roles[r.Role]
	}
	w.item("role=%s generation_id=%d", role, r.GenerationID)
}

func formatAsync(w *fmtWriter, a *AsyncConfig) {
	w.item("packet_in_mask=0x%x/0x%x port_status_mask=0x%x/0x%x flow_removed_mask=0x%x/0x%x",
		a.PacketInMask[0], a.PacketInMask[1], a.PortStatusMask[0], a.PortStatusMask[1],
		a.FlowRemovedMask[0], a.FlowRemovedMask[1])
}

func mpFlags(f uint16) string {
	if f == MultipartMore {
		return "more"
	}
	return fmt.Sprintf("0x%x", f)
}

func formatMultipartBody(w *fmtWriter, body MultipartBody) {
	switch b := body.(type) {
	case nil:
	case *DescReply:
		w.item("mfr_desc=%q hw_desc=%q sw_desc=%q serial_num=%q dp_desc=%q", b.MfrDesc, b.HWDesc, b.SWDesc, b.SerialNum, b.DPDesc)
	case *FlowStatsRequest:
		w.item("table_id=%s out_port=%s out_group=%s cookie=0x%x/0x%x %s", tableName(b.TableID),
			PortName(b.OutPort), groupName(b.OutGroup), b.Cookie, b.CookieMask, b.Match.String())
	case *FlowStatsReply:
		for i := range b.Stats {
			s := &b.Stats[i]
			sep := ";"
			if i == len(b.Stats)-1 {
				sep = ""
			}
			w.item("cookie=0x%x, duration=%d.%09ds, table=%d, n_packets=%d, n_bytes=%d, priority=%d %s actions=%s%s",
				s.Cookie, s.DurationSec, s.DurationNsec, s.TableID, s.PacketCount, s.ByteCount,
				s.Priority, s.Match.String(), FormatInstructions(s.Instructions), sep)
		}
	case *AggregateStatsReply:
		w.item("packet_count=%d byte_count=%d flow_count=%d", b.PacketCount, b.ByteCount, b.FlowCount)
	case *TableStatsReply:
		for _, s := range b.Stats {
			w.item("table=%d(active=%d,lookup=%d,matched=%d)", s.TableID, s.ActiveCount, s.LookupCount, s.MatchedCount)
		}
	case *PortStatsRequest:
		w.item("port_no=%s", PortName(b.PortNo))
	case *PortStatsReply:
		for _, s := range b.Stats {
			w.item("port=%s(rx_pkts=%d,rx_bytes=%d,rx_drop=%d,rx_errs=%d,tx_pkts=%d,tx_bytes=%d,tx_drop=%d,tx_errs=%d)",
				PortName(s.PortNo), s.RxPackets, s.RxBytes, s.RxDropped, s.RxErrors,
				s.TxPackets, s.TxBytes, s.TxDropped, s.TxErrors)
		}
	case *PortDescReply:
		for i := range b.Ports {
			formatPort(w, &b.Ports[i])
		}
	case *QueueStatsRequest:
		w.item("port=%s queue=%s", PortName(b.PortNo), queueName(b.QueueID))
	case *QueueStatsReply:
		for _, s := range b.Stats {
			w.item("port=%s,queue=%d(tx_bytes=%d,tx_pkts=%d,tx_errors=%d)", PortName(s.PortNo), s.QueueID, s.TxBytes, s.TxPackets, s.TxErrors)
		}
	case *GroupStatsRequest:
		w.item("group_id=%s", groupName(b.GroupID))
	case *GroupStatsReply:
		for _, s := range b.Stats {
			w.item("group_id=%d(ref_count=%d,packet_count=%d,byte_count=%d,buckets=%d)", s.GroupID, s.RefCount, s.PacketCount, s.ByteCount, len(s.BucketStats))
		}
	case *GroupDescReply:
		for i := range b.Groups {
			g := &b.Groups[i]
			typ := fmt.Sprint(g.GroupType)
			if int(g.GroupType) < len(groupTypes) {
				typ = groupTypes[g.GroupType]
			}
			w.item("group_id=%d,type=%s", g.GroupID, typ)
			formatBuckets(w, g.Buckets)
		}
	case *GroupFeaturesReply:
		w.item("types=0x%x capabilities=0x%x max_groups=%v actions=%#x", b.Types, b.Capabilities, b.MaxGroups, b.Actions)
	case *MeterStatsRequest:
		w.item("meter=%s", meterName(b.MeterID))
	case *MeterStatsReply:
		for _, s := range b.Stats {
			w.item("meter:%d flow_count:%d packet_in_count:%d byte_in_count:%d bands:%d", s.MeterID, s.FlowCount, s.PacketInCount, s.ByteInCount, len(s.BandStats))
		}
	case *MeterConfigReply:
		for i := range b.Configs {
			c := &b.Configs[i]
			w.item("meter=%d %s", c.MeterID, meterFlags(c.Flags))
			formatBands(w, c.Bands)
		}
	case *MeterFeaturesReply:
		w.item("max_meter:%d band_types:0x%x capabilities:0x%x max_bands:%d max_color:%d", b.MaxMeter, b.BandTypes, b.Capabilities, b.MaxBands, b.MaxColor)
	case *TableFeaturesBody:
		for _, t := range b.Tables {
			w.item("table %d (%q): max_entries=%d metadata_match=0x%x metadata_write=0x%x config=0x%x properties=%d",
				t.TableID, t.Name, t.MaxEntries, t.MetadataMatch, t.MetadataWrite, t.Config, len(t.Properties))
		}
	case *MultipartExperimenterBody:
		w.item("experimenter=0x%x exp_type=%d data_len=%d", b.Experimenter, b.ExpType, len(b.Data))
	case *MultipartRaw:
		w.item("body_len=%d", len(b.Data))
	}
}

func queueName(q uint32) string {
	if q == QueueAll {
		return "ALL"
	}
	return fmt.Sprint(q)
}

func meterName(m uint32) string {
	if m == MeterAll {
		return "ALL"
	}
	return fmt.Sprint(m)
}
