package homeplug

const mnbcSoundIndLen = 52

// MnbcSoundInd is CM_MNBC_SOUND.IND: one of the EV's sounds, from which
// every modem that hears it measures the attenuation.
type MnbcSoundInd struct {
	ApplicationType uint8
	SecurityType    uint8
	SenderID        [17]byte // SenderID: the PEV ID, often zeros
	Cnt             uint8    // sounds remaining after this one
	RunID           RunID
	Reserved        [8]byte
	Rnd             [16]byte // random value
}

// MMType returns CMMnbcSoundInd.
func (m *MnbcSoundInd) MMType() MMType { return CMMnbcSoundInd }

// DecodePayload decodes a CM_MNBC_SOUND.IND payload.
func (m *MnbcSoundInd) DecodePayload(p []byte) error {
	if len(p) < mnbcSoundIndLen {
		return short(CMMnbcSoundInd, len(p), mnbcSoundIndLen)
	}
	m.ApplicationType = p[0]
	m.SecurityType = p[1]
	copy(m.SenderID[:], p[2:19])
	m.Cnt = p[19]
	copy(m.RunID[:], p[20:28])
	copy(m.Reserved[:], p[28:36])
	copy(m.Rnd[:], p[36:52])
	return nil
}

// AppendPayload appends a CM_MNBC_SOUND.IND payload to b.
func (m *MnbcSoundInd) AppendPayload(b []byte) ([]byte, error) {
	b = append(b, m.ApplicationType, m.SecurityType)
	b = append(b, m.SenderID[:]...)
	b = append(b, m.Cnt)
	b = append(b, m.RunID[:]...)
	b = append(b, m.Reserved[:]...)
	return append(b, m.Rnd[:]...), nil
}
