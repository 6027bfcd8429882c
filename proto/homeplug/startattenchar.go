package homeplug

const startAttenCharIndLen = 19

// StartAttenCharInd is CM_START_ATTEN_CHAR.IND: the EV announces its sounds, usually three times.
type StartAttenCharInd struct {
	ApplicationType uint8
	SecurityType    uint8
	NumSounds       uint8 // NUM_SOUNDS the EV will send
	TimeOut         uint8 // Time_Out in 100 ms units
	RespType        uint8 // RESP_TYPE
	ForwardingSTA   MAC   // FORWARDING_STA: the EV's MAC
	RunID           RunID
}

// MMType returns CMStartAttenCharInd.
func (m *StartAttenCharInd) MMType() MMType { return CMStartAttenCharInd }

// DecodePayload decodes a CM_START_ATTEN_CHAR.IND payload.
func (m *StartAttenCharInd) DecodePayload(p []byte) error {
	if len(p) < startAttenCharIndLen {
		return short(CMStartAttenCharInd, len(p), startAttenCharIndLen)
	}
	m.ApplicationType = p[0]
	m.SecurityType = p[1]
	m.NumSounds = p[2]
	m.TimeOut = p[3]
	m.RespType = p[4]
	m.ForwardingSTA = getMAC(p, 5)
	copy(m.RunID[:], p[11:19])
	return nil
}

// AppendPayload appends a CM_START_ATTEN_CHAR.IND payload to b.
func (m *StartAttenCharInd) AppendPayload(b []byte) ([]byte, error) {
	b = append(b, m.ApplicationType, m.SecurityType, m.NumSounds, m.TimeOut, m.RespType)
	b = append(b, m.ForwardingSTA[:]...)
	return append(b, m.RunID[:]...), nil
}
