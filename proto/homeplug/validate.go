package homeplug

const validateLen = 3

// CM_VALIDATE Result values (ISO 15118-3).
const (
	ValidateNotReady    = 0x00
	ValidateReady       = 0x01
	ValidateSuccess     = 0x02
	ValidateFailure     = 0x03
	ValidateNotRequired = 0x04
)

// ValidateReq is CM_VALIDATE.REQ: the optional validation by CP toggling.
type ValidateReq struct {
	SignalType uint8 // 0x00: the PEV toggles S2 on the control pilot
	Timer      uint8 // VRVarField Timer: toggle window, 0 = 100 ms ...
	Result     uint8 // VRVarField Result
}

// MMType returns CMValidateReq.
func (m *ValidateReq) MMType() MMType { return CMValidateReq }

// DecodePayload decodes a CM_VALIDATE.REQ payload.
func (m *ValidateReq) DecodePayload(p []byte) error {
	if len(p) < validateLen {
		return short(CMValidateReq, len(p), validateLen)
	}
	m.SignalType, m.Timer, m.Result = p[0], p[1], p[2]
	return nil
}

// AppendPayload appends a CM_VALIDATE.REQ payload to b.
func (m *ValidateReq) AppendPayload(b []byte) ([]byte, error) {
	return append(b, m.SignalType, m.Timer, m.Result), nil
}

// ValidateCnf is CM_VALIDATE.CNF; an EVSE that does not validate answers ValidateNotRequired.
type ValidateCnf struct {
	SignalType uint8
	ToggleNum  uint8 // VCVarField ToggleNum: toggles the EVSE saw
	Result     uint8 // VCVarField Result
}

// MMType returns CMValidateCnf.
func (m *ValidateCnf) MMType() MMType { return CMValidateCnf }

// DecodePayload decodes a CM_VALIDATE.CNF payload.
func (m *ValidateCnf) DecodePayload(p []byte) error {
	if len(p) < validateLen {
		return short(CMValidateCnf, len(p), validateLen)
	}
	m.SignalType, m.ToggleNum, m.Result = p[0], p[1], p[2]
	return nil
}

// AppendPayload appends a CM_VALIDATE.CNF payload to b.
func (m *ValidateCnf) AppendPayload(b []byte) ([]byte, error) {
	return append(b, m.SignalType, m.ToggleNum, m.Result), nil
}
