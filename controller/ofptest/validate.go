package ofptest

import (
	"fmt"
	"slices"

	"github.com/sixgate/sixgate/controller/ofp"
)

// prerequisite is what a match must also hold for a field to be valid
// (OpenFlow 1.3.5 section 7.2.3.8, table 12): field exactly, with one of
// values (any value when values is empty).
type prerequisite struct {
	field  uint8
	values []uint64
}

// prerequisiteOf returns the prerequisite of a basic field, if it has one.
func prerequisiteOf(f uint8) (prerequisite, bool) {
	const ipv4, arp, ipv6 = 0x0800, 0x0806, 0x86dd
	switch f {
	case ofp.FieldInPhyPort:
		return prerequisite{ofp.FieldInPort, nil}, true
	case ofp.FieldIPDSCP, ofp.FieldIPECN, ofp.FieldIPProto:
		return prerequisite{ofp.FieldEthType, []uint64{ipv4, ipv6}}, true
	case ofp.FieldIPv4Src, ofp.FieldIPv4Dst:
		return prerequisite{ofp.FieldEthType, []uint64{ipv4}}, true
	case ofp.FieldTCPSrc, ofp.FieldTCPDst:
		return prerequisite{ofp.FieldIPProto, []uint64{6}}, true
	case ofp.FieldUDPSrc, ofp.FieldUDPDst:
		return prerequisite{ofp.FieldIPProto, []uint64{17}}, true
	case ofp.FieldSCTPSrc, ofp.FieldSCTPDst:
		return prerequisite{ofp.FieldIPProto, []uint64{132}}, true
	case ofp.FieldICMPv4Type, ofp.FieldICMPv4Code:
		return prerequisite{ofp.FieldIPProto, []uint64{1}}, true
	case ofp.FieldARPOp, ofp.FieldARPSPA, ofp.FieldARPTPA, ofp.FieldARPSHA, ofp.FieldARPTHA:
		return prerequisite{ofp.FieldEthType, []uint64{arp}}, true
	case ofp.FieldIPv6Src, ofp.FieldIPv6Dst, ofp.FieldIPv6FLabel:
		return prerequisite{ofp.FieldEthType, []uint64{ipv6}}, true
	case ofp.FieldICMPv6Type, ofp.FieldICMPv6Code:
		return prerequisite{ofp.FieldIPProto, []uint64{58}}, true
	case ofp.FieldIPv6NDTarget:
		return prerequisite{ofp.FieldICMPv6Type, []uint64{135, 136}}, true
	case ofp.FieldIPv6NDSLL:
		return prerequisite{ofp.FieldICMPv6Type, []uint64{135}}, true
	case ofp.FieldIPv6NDTLL:
		return prerequisite{ofp.FieldICMPv6Type, []uint64{136}}, true
	}
	return prerequisite{}, false
}

// fieldSize is the value size of the basic fields the pipeline models;
// zero for the others.
func fieldSize(f uint8) int {
	switch f {
	case ofp.FieldVlanPCP, ofp.FieldIPDSCP, ofp.FieldIPECN, ofp.FieldIPProto,
		ofp.FieldICMPv4Type, ofp.FieldICMPv4Code, ofp.FieldICMPv6Type, ofp.FieldICMPv6Code:
		return 1
	case ofp.FieldEthType, ofp.FieldVlanVID, ofp.FieldTCPSrc, ofp.FieldTCPDst, ofp.FieldUDPSrc,
		ofp.FieldUDPDst, ofp.FieldSCTPSrc, ofp.FieldSCTPDst, ofp.FieldARPOp:
		return 2
	case ofp.FieldInPort, ofp.FieldInPhyPort, ofp.FieldIPv4Src, ofp.FieldIPv4Dst,
		ofp.FieldARPSPA, ofp.FieldARPTPA, ofp.FieldIPv6FLabel:
		return 4
	case ofp.FieldEthDst, ofp.FieldEthSrc, ofp.FieldARPSHA, ofp.FieldARPTHA,
		ofp.FieldIPv6NDSLL, ofp.FieldIPv6NDTLL:
		return 6
	case ofp.FieldMetadata, ofp.FieldTunnelID:
		return 8
	case ofp.FieldIPv6Src, ofp.FieldIPv6Dst, ofp.FieldIPv6NDTarget:
		return 16
	}
	return 0
}

// checkMatch fails on what a switch would refuse with a BAD_MATCH error,
// and on fields the pipeline cannot evaluate.
func checkMatch(m ofp.Match) error {
	seen := map[uint8]ofp.OXM{}
	for _, o := range m.Fields {
		if o.Class != ofp.OXMClassOpenFlow || fieldSize(o.Field) == 0 {
			return errUnsupported(o)
		}
		if _, dup := seen[o.Field]; dup {
			return fmt.Errorf("%s twice in one match (OFPBMC_DUP_FIELD)", o.Name())
		}
		seen[o.Field] = o
		if len(o.Value) != fieldSize(o.Field) || (o.Mask != nil && len(o.Mask) != len(o.Value)) {
			return fmt.Errorf("%s: %d value bytes, %d mask bytes, want %d (OFPBMC_BAD_LEN)", o.Name(), len(o.Value), len(o.Mask), fieldSize(o.Field))
		}
		for i := range o.Mask {
			if o.Value[i]&^o.Mask[i] != 0 {
				return fmt.Errorf("%s: value %s has bits outside mask %s (OFPBMC_BAD_WILDCARDS)", o.Name(), o.ValueString(), o.MaskString())
			}
		}
	}
	for _, o := range m.Fields {
		if err := checkPrerequisites(o, seen); err != nil {
			return err
		}
	}
	return nil
}

// checkPrerequisites follows the chain of prerequisites of o (tcp_dst
// needs ip_proto=6, which needs eth_type IPv4 or IPv6).
func checkPrerequisites(o ofp.OXM, seen map[uint8]ofp.OXM) error {
	if o.Field == ofp.FieldVlanPCP {
		vid, ok := seen[ofp.FieldVlanVID]
		if !ok || vid.Uint()&ofp.VlanPresent == 0 {
			return fmt.Errorf("vlan_pcp without a vlan_vid that requires a tag (OFPBMC_BAD_PREREQ)")
		}
		return nil
	}
	for f := o.Field; ; {
		pre, ok := prerequisiteOf(f)
		if !ok {
			return nil
		}
		have, ok := seen[pre.field]
		if !ok || have.Mask != nil || (len(pre.values) > 0 && !slices.Contains(pre.values, have.Uint())) {
			return fmt.Errorf("%s without its prerequisite %s in %v (OFPBMC_BAD_PREREQ)",
				o.Name(), prerequisiteName(pre), pre.values)
		}
		f = pre.field
	}
}

func prerequisiteName(p prerequisite) string {
	o := ofp.OXM{Class: ofp.OXMClassOpenFlow, Field: p.field}
	return o.Name()
}

// instructionOrder is the order OpenFlow executes a flow's instructions in,
// whatever their order in the list (section 5.9).
func instructionOrder(t ofp.InstructionType) int {
	switch t {
	case ofp.InstructionTypeMeter:
		return 0
	case ofp.InstructionTypeApplyActions:
		return 1
	case ofp.InstructionTypeClearActions:
		return 2
	case ofp.InstructionTypeWriteActions:
		return 3
	case ofp.InstructionTypeWriteMetadata:
		return 4
	case ofp.InstructionTypeGotoTable:
		return 5
	}
	return -1
}

// checkFlow fails on a flow a switch would refuse, or that the pipeline
// cannot run: unknown fields, instructions or actions, a goto backwards.
func checkFlow(f *ofp.FlowStats) error {
	if err := checkMatch(f.Match); err != nil {
		return err
	}
	seen := map[ofp.InstructionType]bool{}
	for _, in := range f.Instructions {
		t := in.InstructionType()
		if instructionOrder(t) < 0 {
			return fmt.Errorf("instruction %v is not supported by the ofptest pipeline", t)
		}
		if seen[t] {
			return fmt.Errorf("instruction %v twice (OFPBIC_DUP_INST)", t)
		}
		seen[t] = true
		switch in := in.(type) {
		case *ofp.InstructionGotoTable:
			if in.TableID <= f.TableID {
				return fmt.Errorf("goto table %d from table %d: only forward (OFPBRC_BAD_TABLE_ID)", in.TableID, f.TableID)
			}
		case *ofp.InstructionActions:
			if err := checkActions(in.Actions); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkActions fails on actions the pipeline cannot run.
func checkActions(as []ofp.Action) error {
	for _, a := range as {
		switch a := a.(type) {
		case *ofp.ActionOutput:
			if a.Port == ofp.PortAny || a.Port == ofp.PortTable {
				return fmt.Errorf("output to %s is not valid in a flow", ofp.PortName(a.Port))
			}
		case *ofp.ActionGroup, *ofp.ActionSetQueue:
		case *ofp.ActionSetField:
			if a.Field.Class != ofp.OXMClassOpenFlow || fieldSize(a.Field.Field) == 0 {
				return errUnsupported(a.Field)
			}
		case *ofp.ActionNoArg:
			if a.Kind != ofp.ActionTypeDecNwTTL {
				return fmt.Errorf("action %v is not supported by the ofptest pipeline", a.Kind)
			}
		default:
			return fmt.Errorf("action %v is not supported by the ofptest pipeline", a.ActionType())
		}
	}
	return nil
}

// checkGroup fails on a group the pipeline cannot run.
func checkGroup(g ofp.GroupDesc) error {
	switch g.GroupType {
	case ofp.GroupTypeAll, ofp.GroupTypeSelect, ofp.GroupTypeFastFailover:
	case ofp.GroupTypeIndirect:
		if len(g.Buckets) != 1 {
			return fmt.Errorf("indirect group %d with %d buckets, want 1 (OFPGMFC_INVALID_GROUP)", g.GroupID, len(g.Buckets))
		}
	default:
		return fmt.Errorf("group %d of unknown type %d", g.GroupID, g.GroupType)
	}
	for _, b := range g.Buckets {
		if err := checkActions(b.Actions); err != nil {
			return fmt.Errorf("group %d: %w", g.GroupID, err)
		}
	}
	return nil
}
