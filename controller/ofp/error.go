package ofp

import "fmt"

// ErrorType is the type of an ERROR message (ofp_error_type).
type ErrorType uint16

// Error types of OpenFlow 1.3.
const (
	ErrHelloFailed         ErrorType = 0
	ErrBadRequest          ErrorType = 1
	ErrBadAction           ErrorType = 2
	ErrBadInstruction      ErrorType = 3
	ErrBadMatch            ErrorType = 4
	ErrFlowModFailed       ErrorType = 5
	ErrGroupModFailed      ErrorType = 6
	ErrPortModFailed       ErrorType = 7
	ErrTableModFailed      ErrorType = 8
	ErrQueueOpFailed       ErrorType = 9
	ErrSwitchConfigFailed  ErrorType = 10
	ErrRoleRequestFailed   ErrorType = 11
	ErrMeterModFailed      ErrorType = 12
	ErrTableFeaturesFailed ErrorType = 13
	ErrExperimenter        ErrorType = 0xffff
)

// Codes used by the controller itself.
const (
	HelloFailedIncompatible   = 0
	BadRequestBadVersion      = 0
	BadRequestBadType         = 1
	BadRequestBadMultipart    = 2
	BadRequestBadExperimenter = 3
	BadRequestBadLen          = 6
	BadRequestIsSlave         = 10
	FlowModBadTableID         = 2

	// ROLE_REQUEST_FAILED codes (ofp_role_request_failed_code).
	RoleRequestFailedStale   = 0
	RoleRequestFailedUnsup   = 1
	RoleRequestFailedBadRole = 2
)

type errorNames struct {
	name  string
	codes []string
}

var errorTable = [...]errorNames{
	ErrHelloFailed: {"HELLO_FAILED", []string{"INCOMPATIBLE", "EPERM"}},
	ErrBadRequest: {"BAD_REQUEST", []string{"BAD_VERSION", "BAD_TYPE", "BAD_MULTIPART",
		"BAD_EXPERIMENTER", "BAD_EXP_TYPE", "EPERM", "BAD_LEN", "BUFFER_EMPTY",
		"BUFFER_UNKNOWN", "BAD_TABLE_ID", "IS_SLAVE", "BAD_PORT", "BAD_PACKET",
		"MULTIPART_BUFFER_OVERFLOW"}},
	ErrBadAction: {"BAD_ACTION", []string{"BAD_TYPE", "BAD_LEN", "BAD_EXPERIMENTER",
		"BAD_EXP_TYPE", "BAD_OUT_PORT", "BAD_ARGUMENT", "EPERM", "TOO_MANY", "BAD_QUEUE",
		"BAD_OUT_GROUP", "MATCH_INCONSISTENT", "UNSUPPORTED_ORDER", "BAD_TAG",
		"BAD_SET_TYPE", "BAD_SET_LEN", "BAD_SET_ARGUMENT"}},
	ErrBadInstruction: {"BAD_INSTRUCTION", []string{"UNKNOWN_INST", "UNSUP_INST",
		"BAD_TABLE_ID", "UNSUP_METADATA", "UNSUP_METADATA_MASK", "BAD_EXPERIMENTER",
		"BAD_EXP_TYPE", "BAD_LEN", "EPERM"}},
	ErrBadMatch: {"BAD_MATCH", []string{"BAD_TYPE", "BAD_LEN", "BAD_TAG",
		"BAD_DL_ADDR_MASK", "BAD_NW_ADDR_MASK", "BAD_WILDCARDS", "BAD_FIELD", "BAD_VALUE",
		"BAD_MASK", "BAD_PREREQ", "DUP_FIELD", "EPERM"}},
	ErrFlowModFailed: {"FLOW_MOD_FAILED", []string{"UNKNOWN", "TABLE_FULL", "BAD_TABLE_ID",
		"OVERLAP", "EPERM", "BAD_TIMEOUT", "BAD_COMMAND", "BAD_FLAGS"}},
	ErrGroupModFailed: {"GROUP_MOD_FAILED", []string{"GROUP_EXISTS", "INVALID_GROUP",
		"WEIGHT_UNSUPPORTED", "OUT_OF_GROUPS", "OUT_OF_BUCKETS", "CHAINING_UNSUPPORTED",
		"WATCH_UNSUPPORTED", "LOOP", "UNKNOWN_GROUP", "CHAINED_GROUP", "BAD_TYPE",
		"BAD_COMMAND", "BAD_BUCKET", "BAD_WATCH", "EPERM"}},
	ErrPortModFailed: {"PORT_MOD_FAILED", []string{"BAD_PORT", "BAD_HW_ADDR", "BAD_CONFIG",
		"BAD_ADVERTISE", "EPERM"}},
	ErrTableModFailed:     {"TABLE_MOD_FAILED", []string{"BAD_TABLE", "BAD_CONFIG", "EPERM"}},
	ErrQueueOpFailed:      {"QUEUE_OP_FAILED", []string{"BAD_PORT", "BAD_QUEUE", "EPERM"}},
	ErrSwitchConfigFailed: {"SWITCH_CONFIG_FAILED", []string{"BAD_FLAGS", "BAD_LEN", "EPERM"}},
	ErrRoleRequestFailed:  {"ROLE_REQUEST_FAILED", []string{"STALE", "UNSUP", "BAD_ROLE"}},
	ErrMeterModFailed: {"METER_MOD_FAILED", []string{"UNKNOWN", "METER_EXISTS",
		"INVALID_METER", "UNKNOWN_METER", "BAD_COMMAND", "BAD_FLAGS", "BAD_RATE",
		"BAD_BURST", "BAD_BAND", "BAD_BAND_VALUE", "OUT_OF_METERS", "OUT_OF_BANDS"}},
	ErrTableFeaturesFailed: {"TABLE_FEATURES_FAILED", []string{"BAD_TABLE", "BAD_METADATA",
		"BAD_TYPE", "BAD_LEN", "BAD_ARGUMENT", "EPERM"}},
}

func (t ErrorType) String() string {
	if int(t) < len(errorTable) {
		return "OFPET_" + errorTable[t].name
	}
	if t == ErrExperimenter {
		return "OFPET_EXPERIMENTER"
	}
	return fmt.Sprintf("OFPET_%d", uint16(t))
}

// CodeName names code as a code of error type t, e.g. "OFPBAC_BAD_OUT_PORT".
func (t ErrorType) CodeName(code uint16) string {
	prefixes := [...]string{"OFPHFC_", "OFPBRC_", "OFPBAC_", "OFPBIC_", "OFPBMC_",
		"OFPFMFC_", "OFPGMFC_", "OFPPMFC_", "OFPTMFC_", "OFPQOFC_", "OFPSCFC_",
		"OFPRRFC_", "OFPMMFC_", "OFPTFFC_"}
	if int(t) < len(errorTable) && int(code) < len(errorTable[t].codes) {
		return prefixes[t] + errorTable[t].codes[code]
	}
	return fmt.Sprintf("code %d", code)
}

// ErrorMsg is an ERROR message. It is also a Go error, so a switch's
// refusal can be returned to the caller whose request caused it.
type ErrorMsg struct {
	Header
	ErrType ErrorType
	// Code is the error code; for ErrExperimenter it is the exp_type.
	Code uint16
	// Experimenter is set for ErrExperimenter only.
	Experimenter uint32
	// Data is, for most types, at least the first 64 bytes of the request
	// that failed.
	Data []byte
}

func (m *ErrorMsg) Type() Type { return TypeError }

func (m *ErrorMsg) Len() int {
	if m.ErrType == ErrExperimenter {
		return HeaderLen + 8 + len(m.Data)
	}
	return HeaderLen + 4 + len(m.Data)
}

func (m *ErrorMsg) marshalBody(b []byte) {
	be.PutUint16(b, uint16(m.ErrType))
	be.PutUint16(b[2:], m.Code)
	if m.ErrType == ErrExperimenter {
		be.PutUint32(b[4:], m.Experimenter)
		b = b[4:]
	}
	copy(b[4:], m.Data)
}

func (m *ErrorMsg) unmarshalBody(d *decoder) {
	m.ErrType = ErrorType(d.u16("type"))
	m.Code = d.u16("code")
	if m.ErrType == ErrExperimenter {
		m.Experimenter = d.u32("experimenter")
	}
	m.Data = d.rest()
}

func (m *ErrorMsg) Error() string {
	if m.ErrType == ErrExperimenter {
		return fmt.Sprintf("OFPET_EXPERIMENTER experimenter 0x%x exp_type %d", m.Experimenter, m.Code)
	}
	return m.ErrType.String() + " " + m.ErrType.CodeName(m.Code)
}

// Is lets errors.Is match an ErrorMsg against another by type and code.
func (m *ErrorMsg) Is(target error) bool {
	t, ok := target.(*ErrorMsg)
	return ok && t.ErrType == m.ErrType && t.Code == m.Code
}
