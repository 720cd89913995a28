package ofp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// hexBytes decodes hex written with spaces, newlines and "|" between
// fields for readability.
func hexBytes(t testing.TB, s string) []byte {
	t.Helper()
	s = strings.NewReplacer(" ", "", "\n", "", "\t", "", "|", "").Replace(s)
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex in test: %v", err)
	}
	return b
}

var mac1 = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}

// goldenMessages pairs messages with their encoding, written by hand from
// the OpenFlow 1.3.5 specification (section 7 and the structures in its
// appendix A). Each hex string starts with the 8-byte header.
var goldenMessages = []struct {
	name string
	msg  Message
	hex  string
}{
	{"hello bitmap", &Hello{Header: Header{Version: 4, Xid: 1}, Elements: []HelloElem{{Type: 1, Bitmaps: []uint32{0x12}}}},
		"04 00 0010 00000001 | 0001 0008 00000012"},
	{"hello unknown element", &Hello{Header: Header{Version: 4, Xid: 1}, Elements: []HelloElem{{Type: 9, Data: []byte{1, 2, 3}}}},
		"04 00 0010 00000001 | 0009 0007 010203 00"},
	{"hello from 1.0", &Hello{Header: Header{Version: 1, Xid: 2}}, "01 00 0008 00000002"},
	{"error", &ErrorMsg{Header: Header{Version: 4, Xid: 3}, ErrType: ErrBadAction, Code: 4, Data: []byte{0xaa}},
		"04 01 000d 00000003 | 0002 0004 aa"},
	{"error experimenter", &ErrorMsg{Header: Header{Version: 4, Xid: 3}, ErrType: ErrExperimenter, Code: 7, Experimenter: 0x2320},
		"04 01 0010 00000003 | ffff 0007 00002320"},
	{"echo request", &EchoRequest{Header: Header{Version: 4, Xid: 4}, Data: []byte("hi")}, "04 02 000a 00000004 6869"},
	{"echo reply", &EchoReply{Header: Header{Version: 4, Xid: 4}}, "04 03 0008 00000004"},
	{"experimenter", &Experimenter{Header: Header{Version: 4, Xid: 5}, Experimenter: 0x2320, ExpType: 9, Data: []byte{1}},
		"04 04 0011 00000005 | 00002320 00000009 01"},
	{"features request", &FeaturesRequest{emptyBody{Header{Version: 4, Xid: 6}}}, "04 05 0008 00000006"},
	{"features reply", &FeaturesReply{Header: Header{Version: 4, Xid: 6}, DatapathID: 0x0102030405060708, NBuffers: 256,
		NTables: 254, AuxiliaryID: 1, Capabilities: CapFlowStats | CapPortStats},
		"04 06 0020 00000006 | 0102030405060708 | 00000100 | fe 01 0000 | 00000005 | 00000000"},
	{"get config request", &GetConfigRequest{emptyBody{Header{Version: 4, Xid: 7}}}, "04 07 0008 00000007"},
	{"get config reply", &GetConfigReply{Header: Header{Version: 4, Xid: 7}, SwitchConfig: SwitchConfig{Flags: ConfigFragDrop, MissSendLen: 128}},
		"04 08 000c 00000007 | 0001 0080"},
	{"set config", &SetConfig{Header: Header{Version: 4, Xid: 8}, SwitchConfig: SwitchConfig{MissSendLen: MaxLenNoBuffer}},
		"04 09 000c 00000008 | 0000 ffff"},
	{"packet in", &PacketIn{Header: Header{Version: 4}, BufferID: NoBufferID, TotalLen: 3, Reason: PacketInAction,
		TableID: 2, Cookie: 0xc0, Match: NewMatch(InPort(5)), Data: []byte{1, 2, 3}},
		"04 0a 002d 00000000 | ffffffff 0003 01 02 | 00000000000000c0 |" +
			" 0001 000c 80000004 00000005 00000000 | 0000 | 010203"},
	{"flow removed", &FlowRemoved{Header: Header{Version: 4}, Cookie: 1, Priority: 10, Reason: FlowRemovedDelete, TableID: 3,
		DurationSec: 4, DurationNsec: 5, IdleTimeout: 6, HardTimeout: 7, PacketCount: 8, ByteCount: 9},
		"04 0b 0038 00000000 | 0000000000000001 | 000a 02 03 | 00000004 00000005 | 0006 0007 |" +
			" 0000000000000008 | 0000000000000009 | 0001 0004 00000000"},
	{"port status", &PortStatus{Header: Header{Version: 4}, Reason: PortReasonModify, Port: Port{PortNo: 1, HWAddr: mac1,
		Name: "eth0", Config: PortConfigDown, State: PortStateLive, Curr: 0x2008, Advertised: 0x2808,
		Supported: 0x2808, Peer: 0, CurrSpeed: 10000000, MaxSpeed: 10000000}},
		"04 0c 0050 00000000 | 02 00000000000000 |" +
			" 00000001 00000000 020000000001 0000 | 65746830000000000000000000000000 |" +
			" 00000001 00000004 00002008 00002808 00002808 00000000 00989680 00989680"},
	{"packet out", &PacketOut{Header: Header{Version: 4, Xid: 9}, BufferID: NoBufferID, InPort: PortController,
		Actions: []Action{Output(1)}, Data: []byte{0xde, 0xad}},
		"04 0d 002a 00000009 | ffffffff fffffffd 0010 000000000000 |" +
			" 0000 0010 00000001 0000 000000000000 | dead"},
	{"flow mod masked", &FlowMod{Header: Header{Version: 4, Xid: 10}, Cookie: 0x11, CookieMask: 0xff, TableID: 1,
		Command: FlowModifyStrict, IdleTimeout: 30, HardTimeout: 60, Priority: 100, BufferID: NoBufferID,
		OutPort: PortAny, OutGroup: GroupAny, Flags: FlowFlagSendFlowRem,
		Match: NewMatch(EthType(0x0800), IPv4Src(netip.MustParsePrefix("10.0.0.0/8")),
			EthDstMasked(mac1, net.HardwareAddr{0xff, 0xff, 0xff, 0, 0, 0}), Metadata(0x10, 0xf0)),
		Instructions: []Instruction{
			&InstructionWriteMetadata{Metadata: 1, Mask: 1},
			ApplyActions(SetField(IPDSCP(46)), DecNwTTL()),
			GotoTable(2),
		}},
		"04 0e 00b0 0000000a | 0000000000000011 | 00000000000000ff | 01 02 001e 003c 0064 |" +
			" ffffffff ffffffff ffffffff 0001 0000 |" +
			" 0001 003a | 8000 0a 02 0800 | 8000 17 08 0a000000 ff000000 |" +
			" 8000 07 0c 020000000001 ffffff000000 | 8000 05 10 0000000000000010 00000000000000f0 | 000000000000 |" +
			" 0002 0018 00000000 0000000000000001 0000000000000001 |" +
			" 0004 0020 00000000 | 0019 0010 8000 10 01 2e 00000000000000 | 0018 0008 00000000 |" +
			" 0001 0008 02 000000"},
	{"flow mod nicira", &FlowMod{Header: Header{Version: 4, Xid: 11}, Command: FlowDelete, TableID: TableAll,
		BufferID: NoBufferID, OutPort: PortAny, OutGroup: GroupAny,
		Match: NewMatch(
			OXM{Class: OXMClassNXM1, Field: 105, Value: []byte{0, 0, 0, 0x21}, Mask: []byte{0, 0, 0, 0x21}},
			OXM{Class: OXMClassNXM1, Field: 0, Value: []byte{0, 0, 0, 7}},
			OXM{Class: 0x8001, Field: 3, Value: []byte{9}},
		),
		Instructions: []Instruction{
			ApplyActions(&ActionExperimenter{Experimenter: 0x2320, Data: []byte{0x00, 0x22, 0x00, 0x02, 0x00, 0x00, 0x00, 0x05}}),
			&InstructionMeter{MeterID: 3},
		}},
		"04 0e 0070 0000000b | 0000000000000000 | 0000000000000000 | ff 03 0000 0000 0000 |" +
			" ffffffff ffffffff ffffffff 0000 0000 |" +
			" 0001 001d | 0001 d3 08 00000021 00000021 | 0001 00 04 00000007 | 8001 06 01 09 | 000000 |" +
			" 0004 0018 00000000 | ffff 0010 00002320 0022 0002 00000005 |" +
			" 0006 0008 00000003"},
	{"group mod", &GroupMod{Header: Header{Version: 4, Xid: 12}, Command: GroupAdd, GroupType: GroupTypeSelect, GroupID: 5,
		Buckets: []Bucket{
			{Weight: 10, WatchPort: PortAny, WatchGroup: GroupAny, Actions: []Action{Output(1)}},
			{Weight: 20, WatchPort: 2, WatchGroup: 3},
		}},
		"04 0f 0040 0000000c | 0000 01 00 00000005 |" +
			" 0020 000a ffffffff ffffffff 00000000 | 0000 0010 00000001 0000 000000000000 |" +
			" 0010 0014 00000002 00000003 00000000"},
	{"port mod", &PortMod{Header: Header{Version: 4, Xid: 13}, PortNo: 3, HWAddr: mac1, Config: PortConfigNoFwd,
		Mask: PortConfigNoFwd, Advertise: 0x20},
		"04 10 0028 0000000d | 00000003 00000000 020000000001 0000 | 00000020 00000020 00000020 00000000"},
	{"table mod", &TableMod{Header: Header{Version: 4, Xid: 14}, TableID: 3, Config: 3},
		"04 11 0010 0000000e | 03 000000 00000003"},
	{"multipart desc request", &MultipartRequest{Header: Header{Version: 4, Xid: 15}, MPType: MultipartDesc},
		"04 12 0010 0000000f | 0000 0000 00000000"},
	{"multipart port desc reply more", &MultipartReply{Header: Header{Version: 4, Xid: 15}, MPType: MultipartPortDesc,
		Flags: MultipartMore, Body: &PortDescReply{Ports: []Port{{PortNo: PortLocal, HWAddr: mac1, Name: "br0"}}}},
		"04 13 0050 0000000f | 000d 0001 00000000 |" +
			" fffffffe 00000000 020000000001 0000 | 62723000000000000000000000000000 |" +
			" 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000"},
	{"multipart flow request", &MultipartRequest{Header: Header{Version: 4, Xid: 16}, MPType: MultipartFlow,
		Body: &FlowStatsRequest{TableID: TableAll, OutPort: PortAny, OutGroup: GroupAny, Cookie: 0x100, CookieMask: 0xf00,
			Match: NewMatch(TCPDst(443))}},
		"04 12 0040 00000010 | 0001 0000 00000000 |" +
			" ff 000000 ffffffff ffffffff 00000000 | 0000000000000100 | 0000000000000f00 |" +
			" 0001 000a 80001c02 01bb 000000000000"},
	{"multipart group desc reply", &MultipartReply{Header: Header{Version: 4, Xid: 17}, MPType: MultipartGroupDesc,
		Body: &GroupDescReply{Groups: []GroupDesc{{GroupType: GroupTypeFastFailover, GroupID: 7,
			Buckets: []Bucket{{WatchPort: 4, WatchGroup: GroupAny, Actions: []Action{&ActionGroup{GroupID: 8}}}}}}}},
		"04 13 0030 00000011 | 0007 0000 00000000 |" +
			" 0020 03 00 00000007 | 0018 0000 00000004 ffffffff 00000000 | 0016 0008 00000008"},
	{"multipart meter config reply", &MultipartReply{Header: Header{Version: 4, Xid: 18}, MPType: MultipartMeterConfig,
		Body: &MeterConfigReply{Configs: []MeterConfig{{Flags: MeterFlagKbps, MeterID: 1,
			Bands: []MeterBand{&MeterBandDrop{Rate: 1000, BurstSize: 100}}}}}},
		"04 13 0028 00000012 | 000a 0000 00000000 |" +
			" 0018 0001 00000001 | 0001 0010 000003e8 00000064 00000000"},
	{"multipart queue stats request", &MultipartRequest{Header: Header{Version: 4, Xid: 19}, MPType: MultipartQueue,
		Body: &QueueStatsRequest{PortNo: PortAny, QueueID: QueueAll}},
		"04 12 0018 00000013 | 0005 0000 00000000 | ffffffff ffffffff"},
	{"multipart table features reply", &MultipartReply{Header: Header{Version: 4, Xid: 20}, MPType: MultipartTableFeatures,
		Body: &TableFeaturesBody{Tables: []TableFeatures{{TableID: 0, Name: "t0", MetadataMatch: 0xff,
			MetadataWrite: 0xff, MaxEntries: 1000, Properties: []TableFeatureProp{
				&TFPropInstructions{Kind: TFPInstructions, IDs: []InstructionID{{Type: InstructionTypeGotoTable}}},
				&TFPropNextTables{Kind: TFPNextTablesMiss, TableIDs: []uint8{1, 2, 3}},
				&TFPropActions{Kind: TFPApplyActions, IDs: []ActionID{{Type: ActionTypeOutput}, {Type: ActionTypeExperimenter, Data: []byte{0, 0, 0x23, 0x20}}}},
				&TFPropOXM{Kind: TFPMatch, IDs: []OXMID{{Class: OXMClassOpenFlow, Field: FieldEthDst, HasMask: true, PayloadLen: 12}}},
				&TFPropExperimenter{Kind: TFPExperimenter, Experimenter: 0x2320, ExpType: 1, Data: []byte{0, 0, 0, 9}},
			}}}}},
		"04 13 0088 00000014 | 000c 0000 00000000 |" +
			" 0078 00 0000000000 | 74300000000000000000000000000000 00000000000000000000000000000000 |" +
			" 00000000000000ff 00000000000000ff 00000000 000003e8 |" +
			" 0000 0008 0001 0004 |" +
			" 0003 0007 010203 00 |" +
			" 0006 0010 0000 0004 ffff 0008 00002320 |" +
			" 0008 0008 8000 07 0c |" +
			" fffe 0010 00002320 00000001 00000009"},
	{"multipart experimenter reply", &MultipartReply{Header: Header{Version: 4, Xid: 21}, MPType: MultipartExperimenter,
		Body: &MultipartExperimenterBody{Experimenter: 0x2320, ExpType: 2, Data: []byte{7}}},
		"04 13 0019 00000015 | ffff 0000 00000000 | 00002320 00000002 07"},
	{"multipart unknown type", &MultipartReply{Header: Header{Version: 4, Xid: 22}, MPType: 99, Body: &MultipartRaw{Data: []byte{1, 2}}},
		"04 13 0012 00000016 | 0063 0000 00000000 | 0102"},
	{"barrier request", &BarrierRequest{emptyBody{Header{Version: 4, Xid: 23}}}, "04 14 0008 00000017"},
	{"barrier reply", &BarrierReply{emptyBody{Header{Version: 4, Xid: 23}}}, "04 15 0008 00000017"},
	{"queue get config request", &QueueGetConfigRequest{Header: Header{Version: 4, Xid: 24}, Port: 1},
		"04 16 0010 00000018 | 00000001 00000000"},
	{"queue get config reply", &QueueGetConfigReply{Header: Header{Version: 4, Xid: 24}, Port: 1, Queues: []PacketQueue{{
		QueueID: 2, Port: 1, Properties: []QueueProp{
			&QueuePropRate{Kind: QueuePropMinRate, Rate: 100},
			&QueuePropRate{Kind: QueuePropMaxRate, Rate: 1001},
			&QueuePropExperimenterData{Experimenter: 0x2320, Data: []byte{5}},
		}}}},
		"04 17 0051 00000018 | 00000001 00000000 |" +
			" 00000002 00000001 0041 000000000000 |" +
			" 0001 0010 00000000 0064 000000000000 |" +
			" 0002 0010 00000000 03e9 000000000000 |" +
			" ffff 0011 00000000 00002320 00000000 05"},
	{"role request", &RoleRequest{Header: Header{Version: 4, Xid: 25}, RoleBody: RoleBody{Role: RoleMaster, GenerationID: 9}},
		"04 18 0018 00000019 | 00000002 00000000 0000000000000009"},
	{"role reply", &RoleReply{Header: Header{Version: 4, Xid: 25}, RoleBody: RoleBody{Role: RoleEqual}},
		"04 19 0018 00000019 | 00000001 00000000 0000000000000000"},
	{"get async request", &GetAsyncRequest{emptyBody{Header{Version: 4, Xid: 26}}}, "04 1a 0008 0000001a"},
	{"get async reply", &GetAsyncReply{Header: Header{Version: 4, Xid: 26}, AsyncConfig: AsyncConfig{
		PacketInMask: [2]uint32{1, 2}, PortStatusMask: [2]uint32{3, 4}, FlowRemovedMask: [2]uint32{5, 6}}},
		"04 1b 0020 0000001a | 00000001 00000002 00000003 00000004 00000005 00000006"},
	{"set async", &SetAsync{Header: Header{Version: 4, Xid: 27}, AsyncConfig: AsyncConfig{PacketInMask: [2]uint32{7, 0}}},
		"04 1c 0020 0000001b | 00000007 00000000 00000000 00000000 00000000 00000000"},
	{"meter mod", &MeterMod{Header: Header{Version: 4, Xid: 28}, Command: MeterModify, Flags: MeterFlagPktps | MeterFlagBurst,
		MeterID: 4, Bands: []MeterBand{
			&MeterBandDSCPRemark{Rate: 10, BurstSize: 20, PrecLevel: 2},
			&MeterBandExperimenter{Rate: 1, BurstSize: 2, Experimenter: 0x2320},
		}},
		"04 1d 0030 0000001c | 0001 0006 00000004 |" +
			" 0002 0010 0000000a 00000014 02 000000 |" +
			" ffff 0010 00000001 00000002 00002320"},
	{"unknown type", &Unknown{Header: Header{Version: 4, Xid: 29}, MsgType: 200, Body: []byte{1, 2, 3}},
		"04 c8 000b 0000001d 010203"},
}

func TestGolden(t *testing.T) {
	seen := map[Type]bool{}
	for _, tt := range goldenMessages {
		t.Run(tt.name, func(t *testing.T) {
			want := hexBytes(t, tt.hex)
			got, err := Marshal(tt.msg)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("marshal:\n got %x\nwant %x", got, want)
			}
			m, err := Decode(want)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !reflect.DeepEqual(m, tt.msg) {
				t.Fatalf("decode:\n got %#v\nwant %#v", m, tt.msg)
			}
			if s := Format(m); !strings.HasPrefix(s, "OFP") {
				t.Errorf("Format: %q", s)
			}
			seen[m.Type()] = true
		})
	}
	for typ := TypeHello; typ <= TypeMeterMod; typ++ {
		if !seen[typ] {
			t.Errorf("no golden message of type %s", typ)
		}
	}
}

// TestDecodeErrors checks that bad input is refused with an error naming
// the message and the offset of the fault.
func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name, hex string
		msg       string
		offset    int
	}{
		{"short header", "04 00 00", "header", 3},
		{"length below header", "04 00 0004 00000000", "HELLO", 2},
		{"length beyond input", "04 02 0010 00000000 00", "ECHO_REQUEST", 2},
		{"length short of input", "04 02 0008 00000000 00", "ECHO_REQUEST", 2},
		{"wrong version", "01 0e 0008 00000000", "FLOW_MOD", 0},
		{"fixed body short", "04 06 000c 00000000 01020304", "FEATURES_REPLY", 8},
		{"fixed body long", "04 14 0009 00000000 00", "BARRIER_REQUEST", 8},
		{"hello element overruns", "04 00 0010 00000000 0001 0010 00000000", "HELLO", 8},
		{"bitmap misaligned", "04 00 0010 00000000 0001 0006 0000 0000", "HELLO", 12},
		{"match overruns", "04 0e 0038 00000000" + strings.Repeat("00", 40) + "0001 0040 00000000", "FLOW_MOD", 48},
		{"match type standard", "04 0e 0038 00000000" + strings.Repeat("00", 40) + "0000 0004 00000000", "FLOW_MOD", 48},
		{"oxm overruns match", "04 0e 0038 00000000" + strings.Repeat("00", 40) + "0001 0008 80000004", "FLOW_MOD", 56},
		{"oxm wrong size", "04 0e 0040 00000000" + strings.Repeat("00", 40) + "0001 000b 80000a03 000000 0000000000", "FLOW_MOD", 56},
		{"masked oxm odd", "04 0e 0040 00000000" + strings.Repeat("00", 40) + "0001 000b 80000b03 000000 0000000000", "FLOW_MOD", 56},
		{"instruction misaligned", "04 0e 0040 00000000" + strings.Repeat("00", 40) + "0001 0004 00000000 | 0001 0007 00000000", "FLOW_MOD", 56},
		{"instruction too short", "04 0e 0040 00000000" + strings.Repeat("00", 40) + "0001 0004 00000000 | 0001 0000 00000000", "FLOW_MOD", 56},
		{"output action wrong length", "04 0d 0020 00000000 ffffffff fffffffd 0008 000000000000 | 0000 0008 00000001", "PACKET_OUT", 28},
		{"actions_len overruns", "04 0d 0018 00000000 ffffffff fffffffd 0010 000000000000", "PACKET_OUT", 24},
		{"action misaligned", "04 0d 0020 00000000 ffffffff fffffffd 0008 000000000000 | 0016 000c 00000001", "PACKET_OUT", 24},
		{"bucket short", "04 0f 0018 00000000 0000 00 00 00000001 | 0008 0000 00000000", "GROUP_MOD", 16},
		{"meter band dscp long", "04 1d 0028 00000000 0000 0000 00000001 | 0002 0018 00000000 00000000 00000000 0000000000000000", "METER_MOD", 32},
		{"queue shorter than header", "04 17 0020 00000000 00000001 00000000 | 00000001 00000001 0008 000000000000", "QUEUE_GET_CONFIG_REPLY", 16},
		{"flow stats overruns", "04 13 0018 00000000 0001 0000 00000000 | 0040 0000 00000000", "MULTIPART_REPLY", 16},
		{"group stats partial counter", "04 13 0040 00000000 0006 0000 00000000 | 0030" + strings.Repeat("00", 46), "MULTIPART_REPLY", 16},
		{"table features short", "04 13 0018 00000000 000c 0000 00000000 | 0008 0000 00000000", "MULTIPART_REPLY", 16},
		{"port desc partial", "04 13 0018 00000000 000d 0000 00000000 | 00000001 00000000", "MULTIPART_REPLY", 24},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Decode(hexBytes(t, tt.hex))
			if err == nil {
				t.Fatalf("decoded as %#v", m)
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %v is not a *DecodeError", err)
			}
			if de.Msg != tt.msg || de.Offset != tt.offset {
				t.Errorf("error %q: got message %q offset %d, want %q offset %d", err, de.Msg, de.Offset, tt.msg, tt.offset)
			}
		})
	}
}

// TestTruncations cuts every golden message at every length, with the
// header length rewritten to match, and checks that decoding either fails
// or yields a message that encodes back to the cut bytes: no panic, and no
// silent repair.
func TestTruncations(t *testing.T) {
	for _, tt := range goldenMessages {
		full := hexBytes(t, tt.hex)
		for n := 0; n < len(full); n++ {
			b := append([]byte(nil), full[:n]...)
			if n >= 4 {
				b[2], b[3] = byte(n>>8), byte(n)
			}
			m, err := Decode(b)
			if err != nil {
				continue
			}
			out, err := Marshal(m)
			if err != nil || !bytes.Equal(out, b) {
				t.Errorf("%s cut at %d: decoded as %T, re-encoded to %x, %v", tt.name, n, m, out, err)
			}
		}
	}
}
