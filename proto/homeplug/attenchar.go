package homeplug

const (
	attenCharIndMin = 52
	attenCharRspLen = 51
)

// AttenCharInd is CM_ATTEN_CHAR.IND: the EVSE tells the EV the attenuation
// it measured, averaged over the sounds it received.
type AttenCharInd struct {
	ApplicationType uint8
	SecurityType    uint8
	SourceAddress   MAC // SOURCE_ADDRESS: the EV's MAC
	RunID           RunID
	SourceID        [17]byte // SOURCE_ID: zeros
	RespID          [17]byte // RESP_ID: zeros
	NumSounds       uint8    // NUM_SOUNDS received
	// AAG holds the average attenuation per carrier group in dB (ATTEN_PROFILE);
	// NumGroups on the wire is len(AAG), usually 58. It aliases the decoded frame.
	AAG []byte
}

// MMType returns CMAttenCharInd.
func (m *AttenCharInd) MMType() MMType { return CMAttenCharInd }

// DecodePayload decodes a CM_ATTEN_CHAR.IND payload.
func (m *AttenCharInd) DecodePayload(p []byte) error {
	if len(p) < attenCharIndMin {
		return short(CMAttenCharInd, len(p), attenCharIndMin)
	}
	n := int(p[51])
	if len(p) < attenCharIndMin+n {
		return short(CMAttenCharInd, len(p), attenCharIndMin+n)
	}
	m.ApplicationType = p[0]
	m.SecurityType = p[1]
	m.SourceAddress = getMAC(p, 2)
	copy(m.RunID[:], p[8:16])
	copy(m.SourceID[:], p[16:33])
	copy(m.RespID[:], p[33:50])
	m.NumSounds = p[50]
	m.AAG = p[52 : 52+n : 52+n]
	return nil
}

// AppendPayload appends a CM_ATTEN_CHAR.IND payload to b.
func (m *AttenCharInd) AppendPayload(b []byte) ([]byte, error) {
	if err := checkGroups(CMAttenCharInd, m.AAG); err != nil {
		return b, err
	}
	b = append(b, m.ApplicationType, m.SecurityType)
	b = append(b, m.SourceAddress[:]...)
	b = append(b, m.RunID[:]...)
	b = append(b, m.SourceID[:]...)
	b = append(b, m.RespID[:]...)
	b = append(b, m.NumSounds, uint8(len(m.AAG)))
	return append(b, m.AAG...), nil
}

// AttenCharRsp is CM_ATTEN_CHAR.RSP: the EV acknowledges CM_ATTEN_CHAR.IND.
type AttenCharRsp struct {
	ApplicationType uint8
	SecurityType    uint8
	SourceAddress   MAC // SOURCE_ADDRESS: the EV's MAC
	RunID           RunID
	SourceID        [17]byte
	RespID          [17]byte
	Result          uint8 // 0 = success
}

// MMType returns CMAttenCharRsp.
func (m *AttenCharRsp) MMType() MMType { return CMAttenCharRsp }

// DecodePayload decodes a CM_ATTEN_CHAR.RSP payload.
func (m *AttenCharRsp) DecodePayload(p []byte) error {
	if len(p) < attenCharRspLen {
		return short(CMAttenCharRsp, len(p), attenCharRspLen)
	}
	m.ApplicationType = p[0]
	m.SecurityType = p[1]
	m.SourceAddress = getMAC(p, 2)
	copy(m.RunID[:], p[8:16])
	copy(m.SourceID[:], p[16:33])
	copy(m.RespID[:], p[33:50])
	m.Result = p[50]
	return nil
}

// AppendPayload appends a CM_ATTEN_CHAR.RSP payload to b.
func (m *AttenCharRsp) AppendPayload(b []byte) ([]byte, error) {
	b = append(b, m.ApplicationType, m.SecurityType)
	b = append(b, m.SourceAddress[:]...)
	b = append(b, m.RunID[:]...)
	b = append(b, m.SourceID[:]...)
	b = append(b, m.RespID[:]...)
	return append(b, m.Result), nil
}
