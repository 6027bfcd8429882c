package homeplug

// Field values of the SLAC messages (ISO 15118-3).
const (
	ApplicationTypePEVEVSE = 0x00 // APPLICATION_TYPE: PEV-EVSE association
	SecurityTypeNone       = 0x00 // SECURITY_TYPE: no security
	RespTypeOtherGP        = 0x01 // RESP_TYPE: sounds are answered by another Green PHY station
	DefaultNumSounds       = 10   // C_EV_match_MNBC, the usual NUM_SOUNDS
	DefaultTimeOut         = 6    // TT_EVSE_match_MNBC in 100 ms units, the usual Time_Out
	NumAttenGroups         = 58   // NumGroups: OFDM carrier groups of an attenuation profile
)

const (
	slacParmReqLen = 10
	slacParmCnfLen = 25
)

// SlacParmReq is CM_SLAC_PARM.REQ: the EV broadcasts it to start matching.
type SlacParmReq struct {
	ApplicationType uint8
	SecurityType    uint8
	RunID           RunID
}

// MMType returns CMSlacParmReq.
func (m *SlacParmReq) MMType() MMType { return CMSlacParmReq }

// DecodePayload decodes a CM_SLAC_PARM.REQ payload. Cipher suites (SecurityType 1) are not decoded.
func (m *SlacParmReq) DecodePayload(p []byte) error {
	if len(p) < slacParmReqLen {
		return short(CMSlacParmReq, len(p), slacParmReqLen)
	}
	m.ApplicationType = p[0]
	m.SecurityType = p[1]
	copy(m.RunID[:], p[2:10])
	return nil
}

// AppendPayload appends a CM_SLAC_PARM.REQ payload to b.
func (m *SlacParmReq) AppendPayload(b []byte) ([]byte, error) {
	b = append(b, m.ApplicationType, m.SecurityType)
	return append(b, m.RunID[:]...), nil
}

// SlacParmCnf is CM_SLAC_PARM.CNF: the EVSE's answer, echoing the EV's RunID.
type SlacParmCnf struct {
	MSoundTarget    MAC   // M-SOUND_TARGET: broadcast
	NumSounds       uint8 // NUM_SOUNDS the EV shall send
	TimeOut         uint8 // Time_Out in 100 ms units
	RespType        uint8 // RESP_TYPE
	ForwardingSTA   MAC   // FORWARDING_STA: the EV's MAC
	ApplicationType uint8
	SecurityType    uint8
	RunID           RunID
}

// MMType returns CMSlacParmCnf.
func (m *SlacParmCnf) MMType() MMType { return CMSlacParmCnf }

// DecodePayload decodes a CM_SLAC_PARM.CNF payload.
func (m *SlacParmCnf) DecodePayload(p []byte) error {
	if len(p) < slacParmCnfLen {
		return short(CMSlacParmCnf, len(p), slacParmCnfLen)
	}
	m.MSoundTarget = getMAC(p, 0)
	m.NumSounds = p[6]
	m.TimeOut = p[7]
	m.RespType = p[8]
	m.ForwardingSTA = getMAC(p, 9)
	m.ApplicationType = p[15]
	m.SecurityType = p[16]
	copy(m.RunID[:], p[17:25])
	return nil
}

// AppendPayload appends a CM_SLAC_PARM.CNF payload to b.
func (m *SlacParmCnf) AppendPayload(b []byte) ([]byte, error) {
	b = append(b, m.MSoundTarget[:]...)
	b = append(b, m.NumSounds, m.TimeOut, m.RespType)
	b = append(b, m.ForwardingSTA[:]...)
	b = append(b, m.ApplicationType, m.SecurityType)
	return append(b, m.RunID[:]...), nil
}
