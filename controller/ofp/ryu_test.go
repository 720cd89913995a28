package ofp

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net"
	"reflect"
	"sort"
	"strings"
)

// This file renders a decoded message into the generic JSON shape Ryu's
// ofproto parser prints (class name -> fields), so that the Ryu test data
// can serve as an independent oracle: Ryu's JSON and ours are compared as
// trees in roundtrip_test.go.
//
// What is deliberately not rendered, and so not compared:
//   - Nicira actions Ryu decodes into their own classes (NXActionLearn,
//     NXActionConjunction): the codec keeps them as experimenter bytes, so
//     only type, len, experimenter and subtype are compared (pruneNX).
//   - A packet-out whose data Ryu decoded as a packet (ethernet, ipv4,
//     icmp): only the Ethernet header is compared (the rest is payload to
//     the codec).
//   - Bits Ryu does not print: the reserved word of FEATURES_REPLY and
//     padding everywhere; the round trip to the same bytes covers them.

type obj = map[string]any

func cls(name string, fields obj) obj { return obj{name: fields} }

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func ryuOXMValue(o *OXM, v []byte) any {
	if v == nil {
		return nil
	}
	if _, ok := o.onfField(); ok {
		return beUint(v[2:])
	}
	fi, ok := o.info()
	if !ok {
		return b64(v)
	}
	switch fi.kind {
	case kindMAC, kindIPv4, kindIPv6:
		return o.format(v)
	}
	return beUint(v)
}

func ryuOXM(o *OXM) obj {
	return cls("OXMTlv", obj{
		"field": o.Name(),
		"value": ryuOXMValue(o, o.Value),
		"mask":  ryuOXMValue(o, o.Mask),
	})
}

func ryuMatch(m *Match) obj {
	fields := []any{}
	for i := range m.Fields {
		fields = append(fields, ryuOXM(&m.Fields[i]))
	}
	return cls("OFPMatch", obj{"type": MatchTypeOXM, "length": m.Length(), "oxm_fields": fields})
}

var ryuActionNames = map[ActionType]string{
	ActionTypeCopyTTLOut: "OFPActionCopyTtlOut", ActionTypeCopyTTLIn: "OFPActionCopyTtlIn",
	ActionTypeDecMPLSTTL: "OFPActionDecMplsTtl", ActionTypePopVlan: "OFPActionPopVlan",
	ActionTypeDecNwTTL: "OFPActionDecNwTtl", ActionTypePopPBB: "OFPActionPopPbb",
	ActionTypePushVlan: "OFPActionPushVlan", ActionTypePushMPLS: "OFPActionPushMpls",
	ActionTypePushPBB: "OFPActionPushPbb",
}

// nxExperimenter is Nicira's experimenter id, whose actions Ryu names
// NX*.
const nxExperimenter = 0x00002320

func ryuAction(a Action) obj {
	f := obj{"type": uint16(a.ActionType()), "len": a.Len()}
	switch a := a.(type) {
	case *ActionOutput:
		f["port"], f["max_len"] = a.Port, a.MaxLen
		return cls("OFPActionOutput", f)
	case *ActionGroup:
		f["group_id"] = a.GroupID
		return cls("OFPActionGroup", f)
	case *ActionSetQueue:
		f["queue_id"] = a.QueueID
		return cls("OFPActionSetQueue", f)
	case *ActionSetField:
		f["field"] = ryuOXM(&a.Field)
		return cls("OFPActionSetField", f)
	case *ActionPush:
		f["ethertype"] = a.EtherType
		return cls(ryuActionNames[a.Kind], f)
	case *ActionPopMPLS:
		f["ethertype"] = a.EtherType
		return cls("OFPActionPopMpls", f)
	case *ActionTTL:
		if a.Kind == ActionTypeSetMPLSTTL {
			f["mpls_ttl"] = a.TTL
			return cls("OFPActionSetMplsTtl", f)
		}
		f["nw_ttl"] = a.TTL
		return cls("OFPActionSetNwTtl", f)
	case *ActionNoArg:
		return cls(ryuActionNames[a.Kind], f)
	case *ActionExperimenter:
		f["experimenter"] = a.Experimenter
		if a.Experimenter == nxExperimenter && len(a.Data) >= 2 {
			// Every Nicira action starts with a 16-bit subtype.
			f["subtype"] = binary.BigEndian.Uint16(a.Data)
			f["data"] = b64(a.Data[2:])
			return cls("NXAction", f)
		}
		f["data"] = b64(a.Data)
		return cls("OFPActionExperimenterUnknown", f)
	case *ActionUnknown:
		f["data"] = b64(a.Data)
		return cls("OFPActionUnknown", f)
	}
	panic(fmt.Sprintf("unrendered action %T", a))
}

func ryuActions(as []Action) []any {
	out := []any{}
	for _, a := range as {
		out = append(out, ryuAction(a))
	}
	return out
}

func ryuInstruction(in Instruction) obj {
	f := obj{"type": uint16(in.InstructionType()), "len": in.Len()}
	switch in := in.(type) {
	case *InstructionGotoTable:
		f["table_id"] = in.TableID
		return cls("OFPInstructionGotoTable", f)
	case *InstructionWriteMetadata:
		f["metadata"], f["metadata_mask"] = in.Metadata, in.Mask
		return cls("OFPInstructionWriteMetadata", f)
	case *InstructionActions:
		f["actions"] = ryuActions(in.Actions)
		return cls("OFPInstructionActions", f)
	case *InstructionMeter:
		f["meter_id"] = in.MeterID
		return cls("OFPInstructionMeter", f)
	case *InstructionExperimenter:
		f["experimenter"], f["data"] = in.Experimenter, b64(in.Data)
		return cls("OFPInstructionExperimenter", f)
	case *InstructionUnknown:
		f["data"] = b64(in.Data)
		return cls("OFPInstructionUnknown", f)
	}
	panic(fmt.Sprintf("unrendered instruction %T", in))
}

func ryuInstructions(is []Instruction) []any {
	out := []any{}
	for _, in := range is {
		out = append(out, ryuInstruction(in))
	}
	return out
}

func ryuPort(p *Port) obj {
	return cls("OFPPort", obj{
		"port_no": p.PortNo, "hw_addr": p.HWAddr.String(), "name": p.Name,
		"config": p.Config, "state": p.State, "curr": p.Curr, "advertised": p.Advertised,
		"supported": p.Supported, "peer": p.Peer, "curr_speed": p.CurrSpeed,
		"max_speed": p.MaxSpeed,
	})
}

func ryuBuckets(bs []Bucket) []any {
	out := []any{}
	for i := range bs {
		b := &bs[i]
		out = append(out, cls("OFPBucket", obj{
			"len": b.Len(), "weight": b.Weight, "watch_port": b.WatchPort,
			"watch_group": b.WatchGroup, "actions": ryuActions(b.Actions),
		}))
	}
	return out
}

func ryuBands(bs []MeterBand) []any {
	out := []any{}
	for _, b := range bs {
		f := obj{"type": uint16(b.BandType()), "len": b.Len()}
		switch b := b.(type) {
		case *MeterBandDrop:
			f["rate"], f["burst_size"] = b.Rate, b.BurstSize
			out = append(out, cls("OFPMeterBandDrop", f))
		case *MeterBandDSCPRemark:
			f["rate"], f["burst_size"], f["prec_level"] = b.Rate, b.BurstSize, b.PrecLevel
			out = append(out, cls("OFPMeterBandDscpRemark", f))
		case *MeterBandExperimenter:
			f["rate"], f["burst_size"], f["experimenter"] = b.Rate, b.BurstSize, b.Experimenter
			out = append(out, cls("OFPMeterBandExperimenter", f))
		case *MeterBandUnknown:
			f["rate"], f["burst_size"], f["data"] = b.Rate, b.BurstSize, b64(b.Data)
			out = append(out, cls("OFPMeterBandUnknown", f))
		}
	}
	return out
}

func byteList(b []byte) []any {
	out := []any{}
	for _, c := range b {
		out = append(out, c)
	}
	return out
}

func ryuQueue(q *PacketQueue) obj {
	props := []any{}
	for _, p := range q.Properties {
		f := obj{"property": uint16(p.PropType()), "len": p.Len()}
		switch p := p.(type) {
		case *QueuePropRate:
			f["rate"] = p.Rate
			name := "OFPQueuePropMinRate"
			if p.Kind == QueuePropMaxRate {
				name = "OFPQueuePropMaxRate"
			}
			props = append(props, cls(name, f))
		case *QueuePropExperimenterData:
			f["experimenter"], f["data"] = p.Experimenter, byteList(p.Data)
			props = append(props, cls("OFPQueuePropExperimenter", f))
		case *QueuePropUnknown:
			f["data"] = byteList(p.Data)
			props = append(props, cls("OFPQueuePropUnknown", f))
		}
	}
	return cls("OFPPacketQueue", obj{"queue_id": q.QueueID, "port": q.Port, "len": q.Len(), "properties": props})
}

func ryuTableFeatures(tf *TableFeatures) obj {
	props := []any{}
	for _, p := range tf.Properties {
		f := obj{"type": uint16(p.PropType()), "length": p.Len()}
		switch p := p.(type) {
		case *TFPropInstructions:
			ids := []any{}
			for _, id := range p.IDs {
				ids = append(ids, cls("OFPInstructionId", obj{"type": uint16(id.Type), "len": 4 + len(id.Data)}))
			}
			f["instruction_ids"] = ids
			props = append(props, cls("OFPTableFeaturePropInstructions", f))
		case *TFPropActions:
			ids := []any{}
			for _, id := range p.IDs {
				ids = append(ids, cls("OFPActionId", obj{"type": uint16(id.Type), "len": 4 + len(id.Data)}))
			}
			f["action_ids"] = ids
			props = append(props, cls("OFPTableFeaturePropActions", f))
		case *TFPropNextTables:
			f["table_ids"] = byteList(p.TableIDs)
			props = append(props, cls("OFPTableFeaturePropNextTables", f))
		case *TFPropOXM:
			ids := []any{}
			for i := range p.IDs {
				id := &p.IDs[i]
				hasMask := 0
				if id.HasMask {
					hasMask = 1
				}
				ids = append(ids, cls("OFPOxmId", obj{"type": id.Name(), "hasmask": hasMask, "length": id.PayloadLen}))
			}
			f["oxm_ids"] = ids
			props = append(props, cls("OFPTableFeaturePropOxm", f))
		case *TFPropExperimenter:
			words := []any{}
			for i := 0; i+4 <= len(p.Data); i += 4 {
				words = append(words, binary.BigEndian.Uint32(p.Data[i:]))
			}
			f["experimenter"], f["exp_type"], f["data"] = p.Experimenter, p.ExpType, words
			props = append(props, cls("OFPTableFeaturePropExperimenter", f))
		case *TFPropUnknown:
			f["data"] = b64(p.Data)
			props = append(props, cls("OFPTableFeaturePropUnknown", f))
		}
	}
	return cls("OFPTableFeaturesStats", obj{
		"length": tf.Len(), "table_id": tf.TableID, "name": tf.Name,
		"metadata_match": tf.MetadataMatch, "metadata_write": tf.MetadataWrite,
		"config": tf.Config, "max_entries": tf.MaxEntries, "properties": props,
	})
}

var ryuMultipartNames = map[MultipartType]string{
	MultipartDesc: "Desc", MultipartFlow: "Flow", MultipartAggregate: "Aggregate",
	MultipartTable: "Table", MultipartPortStats: "Port", MultipartQueue: "Queue",
	MultipartGroup: "Group", MultipartGroupDesc: "GroupDesc",
	MultipartGroupFeatures: "GroupFeatures", MultipartMeter: "Meter",
	MultipartMeterConfig: "MeterConfig", MultipartMeterFeatures: "MeterFeatures",
	MultipartTableFeatures: "TableFeatures", MultipartPortDesc: "PortDesc",
	MultipartExperimenter: "Experimenter",
}

// onfExperimenter is the ONF's experimenter id; exp_type 1870 is its flow
// monitor request, which Ryu decodes.
const (
	onfExperimenter   = 0x4f4e4600
	onfFlowMonitorReq = 1870
)

func ryuMultipartRequest(m *MultipartRequest) obj {
	f := obj{"type": uint16(m.MPType), "flags": m.Flags}
	switch b := m.Body.(type) {
	case nil:
	case *FlowStatsRequest:
		f["table_id"], f["out_port"], f["out_group"] = b.TableID, b.OutPort, b.OutGroup
		f["cookie"], f["cookie_mask"], f["match"] = b.Cookie, b.CookieMask, ryuMatch(&b.Match)
	case *PortStatsRequest:
		f["port_no"] = b.PortNo
	case *QueueStatsRequest:
		f["port_no"], f["queue_id"] = b.PortNo, b.QueueID
	case *GroupStatsRequest:
		f["group_id"] = b.GroupID
	case *MeterStatsRequest:
		f["meter_id"] = b.MeterID
	case *TableFeaturesBody:
		body := []any{}
		for i := range b.Tables {
			body = append(body, ryuTableFeatures(&b.Tables[i]))
		}
		f["body"] = body
	case *MultipartExperimenterBody:
		if b.Experimenter == onfExperimenter && b.ExpType == onfFlowMonitorReq {
			return cls("ONFFlowMonitorStatsRequest", obj{"type": uint16(m.MPType), "flags": m.Flags,
				"experimenter": b.Experimenter, "exp_type": b.ExpType, "body": ryuONFFlowMonitor(b.Data)})
		}
		f["experimenter"], f["exp_type"], f["data"] = b.Experimenter, b.ExpType, b64(b.Data)
	case *MultipartRaw:
		f["data"] = b64(b.Data)
	}
	return cls("OFP"+ryuMultipartNames[m.MPType]+"StatsRequest", f)
}

// ryuONFFlowMonitor decodes the ONF flow monitor requests Ryu renders; the
// codec keeps them as experimenter bytes, so the test decodes them here,
// with the codec's own match decoder for the fields.
func ryuONFFlowMonitor(data []byte) []any {
	out := []any{}
	for len(data) >= 16 {
		matchLen := int(binary.BigEndian.Uint16(data[6:]))
		end := 16 + align8(matchLen)
		if end > len(data) {
			break
		}
		mb := make([]byte, align8(4+matchLen))
		binary.BigEndian.PutUint16(mb, MatchTypeOXM)
		binary.BigEndian.PutUint16(mb[2:], uint16(4+matchLen))
		copy(mb[4:], data[16:16+matchLen])
		var m Match
		m.unmarshal(newDecoder(mb, 0, "onf flow monitor"))
		out = append(out, cls("ONFFlowMonitorRequest", obj{
			"id": binary.BigEndian.Uint32(data), "flags": binary.BigEndian.Uint16(data[4:]),
			"match_len": matchLen, "out_port": binary.BigEndian.Uint32(data[8:]),
			"table_id": data[12], "match": ryuMatch(&m),
		}))
		data = data[end:]
	}
	return out
}

func ryuMultipartReply(m *MultipartReply) obj {
	f := obj{"type": uint16(m.MPType), "flags": m.Flags}
	list := func(n int, each func(i int) any) {
		body := []any{}
		for i := range n {
			body = append(body, each(i))
		}
		f["body"] = body
	}
	switch b := m.Body.(type) {
	case *DescReply:
		f["body"] = cls("OFPDescStats", obj{"mfr_desc": b.MfrDesc, "hw_desc": b.HWDesc,
			"sw_desc": b.SWDesc, "serial_num": b.SerialNum, "dp_desc": b.DPDesc})
	case *FlowStatsReply:
		list(len(b.Stats), func(i int) any {
			s := &b.Stats[i]
			return cls("OFPFlowStats", obj{
				"length": s.Len(), "table_id": s.TableID, "duration_sec": s.DurationSec,
				"duration_nsec": s.DurationNsec, "priority": s.Priority,
				"idle_timeout": s.IdleTimeout, "hard_timeout": s.HardTimeout, "flags": s.Flags,
				"cookie": s.Cookie, "packet_count": s.PacketCount, "byte_count": s.ByteCount,
				"match": ryuMatch(&s.Match), "instructions": ryuInstructions(s.Instructions),
			})
		})
	case *AggregateStatsReply:
		f["body"] = cls("OFPAggregateStats", obj{"packet_count": b.PacketCount,
			"byte_count": b.ByteCount, "flow_count": b.FlowCount})
	case *TableStatsReply:
		list(len(b.Stats), func(i int) any {
			s := b.Stats[i]
			return cls("OFPTableStats", obj{"table_id": s.TableID, "active_count": s.ActiveCount,
				"lookup_count": s.LookupCount, "matched_count": s.MatchedCount})
		})
	case *PortStatsReply:
		list(len(b.Stats), func(i int) any {
			s := &b.Stats[i]
			return cls("OFPPortStats", obj{
				"port_no": s.PortNo, "rx_packets": s.RxPackets, "tx_packets": s.TxPackets,
				"rx_bytes": s.RxBytes, "tx_bytes": s.TxBytes, "rx_dropped": s.RxDropped,
				"tx_dropped": s.TxDropped, "rx_errors": s.RxErrors, "tx_errors": s.TxErrors,
				"rx_frame_err": s.RxFrameErr, "rx_over_err": s.RxOverErr,
				"rx_crc_err": s.RxCRCErr, "collisions": s.Collisions,
				"duration_sec": s.DurationSec, "duration_nsec": s.DurationNsec,
			})
		})
	case *PortDescReply:
		list(len(b.Ports), func(i int) any { return ryuPort(&b.Ports[i]) })
	case *QueueStatsReply:
		list(len(b.Stats), func(i int) any {
			s := b.Stats[i]
			return cls("OFPQueueStats", obj{"port_no": s.PortNo, "queue_id": s.QueueID,
				"tx_bytes": s.TxBytes, "tx_packets": s.TxPackets, "tx_errors": s.TxErrors,
				"duration_sec": s.DurationSec, "duration_nsec": s.DurationNsec})
		})
	case *GroupStatsReply:
		list(len(b.Stats), func(i int) any {
			s := &b.Stats[i]
			counters := []any{}
			for _, c := range s.BucketStats {
				counters = append(counters, cls("OFPBucketCounter", obj{"packet_count": c.PacketCount, "byte_count": c.ByteCount}))
			}
			return cls("OFPGroupStats", obj{"length": s.Len(), "group_id": s.GroupID,
				"ref_count": s.RefCount, "packet_count": s.PacketCount, "byte_count": s.ByteCount,
				"duration_sec": s.DurationSec, "duration_nsec": s.DurationNsec,
				"bucket_stats": counters})
		})
	case *GroupDescReply:
		list(len(b.Groups), func(i int) any {
			g := &b.Groups[i]
			return cls("OFPGroupDescStats", obj{"length": g.Len(), "type": g.GroupType,
				"group_id": g.GroupID, "buckets": ryuBuckets(g.Buckets)})
		})
	case *GroupFeaturesReply:
		f["body"] = cls("OFPGroupFeaturesStats", obj{"types": b.Types,
			"capabilities": b.Capabilities, "max_groups": b.MaxGroups[:], "actions": b.Actions[:]})
	case *MeterStatsReply:
		list(len(b.Stats), func(i int) any {
			s := &b.Stats[i]
			bands := []any{}
			for _, c := range s.BandStats {
				bands = append(bands, cls("OFPMeterBandStats", obj{"packet_band_count": c.PacketBandCount, "byte_band_count": c.ByteBandCount}))
			}
			return cls("OFPMeterStats", obj{"meter_id": s.MeterID, "len": s.Len(),
				"flow_count": s.FlowCount, "packet_in_count": s.PacketInCount,
				"byte_in_count": s.ByteInCount, "duration_sec": s.DurationSec,
				"duration_nsec": s.DurationNsec, "band_stats": bands})
		})
	case *MeterConfigReply:
		list(len(b.Configs), func(i int) any {
			c := &b.Configs[i]
			return cls("OFPMeterConfigStats", obj{"length": c.Len(), "flags": c.Flags,
				"meter_id": c.MeterID, "bands": ryuBands(c.Bands)})
		})
	case *MeterFeaturesReply:
		// Ryu prints the single ofp_meter_features as a list.
		f["body"] = []any{cls("OFPMeterFeaturesStats", obj{"max_meter": b.MaxMeter,
			"band_types": b.BandTypes, "capabilities": b.Capabilities,
			"max_bands": b.MaxBands, "max_color": b.MaxColor})}
	case *TableFeaturesBody:
		list(len(b.Tables), func(i int) any { return ryuTableFeatures(&b.Tables[i]) })
	case *MultipartExperimenterBody:
		f["body"] = cls("OFPExperimenterMultipart", obj{"experimenter": b.Experimenter,
			"exp_type": b.ExpType, "data": b64(b.Data)})
	case *MultipartRaw:
		f["body"] = b64(b.Data)
	}
	return cls("OFP"+ryuMultipartNames[m.MPType]+"StatsReply", f)
}

func ryuAsync(a *AsyncConfig) obj {
	return obj{"packet_in_mask": a.PacketInMask[:], "port_status_mask": a.PortStatusMask[:],
		"flow_removed_mask": a.FlowRemovedMask[:]}
}

// ryuRender renders m as Ryu's to-JSON would.
func ryuRender(m Message) obj {
	switch m := m.(type) {
	case *Hello:
		els := []any{}
		for _, e := range m.Elements {
			if e.Type != HelloElemVersionBitmap {
				els = append(els, cls("OFPHelloElemUnknown", obj{"type": e.Type, "length": e.len(), "data": b64(e.Data)}))
				continue
			}
			versions := []any{}
			for w, bits := range e.Bitmaps {
				for i := range 32 {
					if bits&(1<<i) != 0 {
						versions = append(versions, 32*w+i)
					}
				}
			}
			els = append(els, cls("OFPHelloElemVersionBitmap", obj{"type": e.Type, "length": e.len(), "versions": versions}))
		}
		return cls("OFPHello", obj{"elements": els})
	case *ErrorMsg:
		if m.ErrType == ErrExperimenter {
			return cls("OFPErrorMsg", obj{"type": uint16(m.ErrType), "code": nil,
				"exp_type": m.Code, "experimenter": m.Experimenter, "data": b64(m.Data)})
		}
		return cls("OFPErrorMsg", obj{"type": uint16(m.ErrType), "code": m.Code, "data": b64(m.Data)})
	case *EchoRequest:
		return cls("OFPEchoRequest", obj{"data": b64(m.Data)})
	case *EchoReply:
		return cls("OFPEchoReply", obj{"data": b64(m.Data)})
	case *Experimenter:
		return cls("OFPExperimenter", obj{"experimenter": m.Experimenter, "exp_type": m.ExpType, "data": b64(m.Data)})
	case *FeaturesRequest:
		return cls("OFPFeaturesRequest", obj{})
	case *FeaturesReply:
		return cls("OFPSwitchFeatures", obj{"datapath_id": m.DatapathID, "n_buffers": m.NBuffers,
			"n_tables": m.NTables, "auxiliary_id": m.AuxiliaryID, "capabilities": m.Capabilities})
	case *GetConfigRequest:
		return cls("OFPGetConfigRequest", obj{})
	case *GetConfigReply:
		return cls("OFPGetConfigReply", obj{"flags": m.Flags, "miss_send_len": m.MissSendLen})
	case *SetConfig:
		return cls("OFPSetConfig", obj{"flags": m.Flags, "miss_send_len": m.MissSendLen})
	case *PacketIn:
		return cls("OFPPacketIn", obj{"buffer_id": m.BufferID, "total_len": m.TotalLen,
			"reason": m.Reason, "table_id": m.TableID, "cookie": m.Cookie,
			"match": ryuMatch(&m.Match), "data": b64(m.Data)})
	case *FlowRemoved:
		return cls("OFPFlowRemoved", obj{"cookie": m.Cookie, "priority": m.Priority,
			"reason": m.Reason, "table_id": m.TableID, "duration_sec": m.DurationSec,
			"duration_nsec": m.DurationNsec, "idle_timeout": m.IdleTimeout,
			"hard_timeout": m.HardTimeout, "packet_count": m.PacketCount,
			"byte_count": m.ByteCount, "match": ryuMatch(&m.Match)})
	case *PortStatus:
		return cls("OFPPortStatus", obj{"reason": m.Reason, "desc": ryuPort(&m.Port)})
	case *PacketOut:
		return cls("OFPPacketOut", obj{"buffer_id": m.BufferID, "in_port": m.InPort,
			"actions_len": actionsLen(m.Actions), "actions": ryuActions(m.Actions),
			"data": b64(m.Data)})
	case *FlowMod:
		return cls("OFPFlowMod", obj{"cookie": m.Cookie, "cookie_mask": m.CookieMask,
			"table_id": m.TableID, "command": m.Command, "idle_timeout": m.IdleTimeout,
			"hard_timeout": m.HardTimeout, "priority": m.Priority, "buffer_id": m.BufferID,
			"out_port": m.OutPort, "out_group": m.OutGroup, "flags": m.Flags,
			"match": ryuMatch(&m.Match), "instructions": ryuInstructions(m.Instructions)})
	case *GroupMod:
		return cls("OFPGroupMod", obj{"command": m.Command, "type": m.GroupType,
			"group_id": m.GroupID, "buckets": ryuBuckets(m.Buckets)})
	case *PortMod:
		return cls("OFPPortMod", obj{"port_no": m.PortNo, "hw_addr": m.HWAddr.String(),
			"config": m.Config, "mask": m.Mask, "advertise": m.Advertise})
	case *TableMod:
		return cls("OFPTableMod", obj{"table_id": m.TableID, "config": m.Config})
	case *MultipartRequest:
		return ryuMultipartRequest(m)
	case *MultipartReply:
		return ryuMultipartReply(m)
	case *BarrierRequest:
		return cls("OFPBarrierRequest", obj{})
	case *BarrierReply:
		return cls("OFPBarrierReply", obj{})
	case *QueueGetConfigRequest:
		return cls("OFPQueueGetConfigRequest", obj{"port": m.Port})
	case *QueueGetConfigReply:
		qs := []any{}
		for i := range m.Queues {
			qs = append(qs, ryuQueue(&m.Queues[i]))
		}
		return cls("OFPQueueGetConfigReply", obj{"port": m.Port, "queues": qs})
	case *RoleRequest:
		return cls("OFPRoleRequest", obj{"role": m.Role, "generation_id": m.GenerationID})
	case *RoleReply:
		return cls("OFPRoleReply", obj{"role": m.Role, "generation_id": m.GenerationID})
	case *GetAsyncRequest:
		return cls("OFPGetAsyncRequest", obj{})
	case *GetAsyncReply:
		return cls("OFPGetAsyncReply", ryuAsync(&m.AsyncConfig))
	case *SetAsync:
		return cls("OFPSetAsync", ryuAsync(&m.AsyncConfig))
	case *MeterMod:
		return cls("OFPMeterMod", obj{"command": m.Command, "flags": m.Flags,
			"meter_id": m.MeterID, "bands": ryuBands(m.Bands)})
	}
	return cls("Unknown", obj{"type": uint8(m.Type())})
}

// pruneNX rewrites, in Ryu's tree, the Nicira actions Ryu decodes into
// their own classes to the fields the codec keeps for every Nicira action
// (type, len, experimenter, subtype) under the class name "NXAction"; an
// NXActionUnknown also keeps its data. Ryu's data for those is what
// follows the subtype, as ours.
func pruneNX(v any) any {
	switch v := v.(type) {
	case map[string]any:
		if len(v) == 1 {
			for k, inner := range v {
				f, ok := inner.(map[string]any)
				if ok && strings.HasPrefix(k, "NXAction") {
					keep := obj{}
					for _, name := range []string{"type", "len", "experimenter", "subtype", "data"} {
						if x, ok := f[name]; ok && (name != "data" || k == "NXActionUnknown") {
							keep[name] = x
						}
					}
					if k != "NXActionUnknown" {
						keep["data"] = notCompared
					}
					return obj{"NXAction": keep}
				}
			}
		}
		out := obj{}
		for k, x := range v {
			out[k] = pruneNX(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = pruneNX(x)
		}
		return out
	}
	return v
}

// notCompared stands, in Ryu's tree, for a value only the round trip to the
// same bytes checks.
const notCompared = "(not compared)"

// ethernetHeader renders the Ethernet header of a frame as Ryu's packet
// library does.
func ethernetHeader(b []byte) obj {
	if len(b) < 14 {
		return nil
	}
	return obj{"dst": net.HardwareAddr(b[0:6]).String(), "src": net.HardwareAddr(b[6:12]).String(),
		"ethertype": binary.BigEndian.Uint16(b[12:])}
}

// treeDiff lists the differences between two JSON trees, each as a path
// and the two values. Numbers are compared exactly, except that a number
// of Ryu's beyond 2^53 only has to match as a float64: Ryu's JSON was
// printed through doubles (18446744073709552000 for 2^64-1).
func treeDiff(path string, got, want any, out *[]string) {
	if want == notCompared {
		return
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			*out = append(*out, fmt.Sprintf("%s: got %v, want object", path, got))
			return
		}
		keys := map[string]bool{}
		for k := range w {
			keys[k] = true
		}
		for k := range g {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			gv, gok := g[k]
			wv, wok := w[k]
			switch {
			case !gok:
				*out = append(*out, fmt.Sprintf("%s.%s: missing, want %v", path, k, wv))
			case !wok:
				*out = append(*out, fmt.Sprintf("%s.%s: got %v, not in Ryu's", path, k, gv))
			default:
				treeDiff(path+"."+k, gv, wv, out)
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			*out = append(*out, fmt.Sprintf("%s: got %v, want %v", path, got, want))
			return
		}
		for i := range w {
			treeDiff(fmt.Sprintf("%s[%d]", path, i), g[i], w[i], out)
		}
	case jsonNumber:
		g, ok := got.(jsonNumber)
		if !ok || !numbersMatch(g, w) {
			*out = append(*out, fmt.Sprintf("%s: got %v, want %v", path, got, want))
		}
	default:
		if !reflect.DeepEqual(got, want) {
			*out = append(*out, fmt.Sprintf("%s: got %#v, want %#v", path, got, want))
		}
	}
}
