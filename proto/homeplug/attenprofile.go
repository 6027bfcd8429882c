package homeplug

import "fmt"

const attenProfileIndMin = 8

// AttenProfileInd is CM_ATTEN_PROFILE.IND: the local modem tells its host the
// attenuation it measured for one sound. It carries no RunID: match it to a
// matching attempt by PEVMAC.
type AttenProfileInd struct {
	PEVMAC   MAC
	Reserved uint8
	// AAG holds the average attenuation per carrier group in dB; NumGroups on
	// the wire is len(AAG), usually 58. It aliases the decoded frame.
	AAG []byte
}

// MMType returns CMAttenProfileInd.
func (m *AttenProfileInd) MMType() MMType { return CMAttenProfileInd }

// DecodePayload decodes a CM_ATTEN_PROFILE.IND payload.
func (m *AttenProfileInd) DecodePayload(p []byte) error {
	if len(p) < attenProfileIndMin {
		return short(CMAttenProfileInd, len(p), attenProfileIndMin)
	}
	n := int(p[6])
	if len(p) < attenProfileIndMin+n {
		return short(CMAttenProfileInd, len(p), attenProfileIndMin+n)
	}
	m.PEVMAC = getMAC(p, 0)
	m.Reserved = p[7]
	m.AAG = p[8 : 8+n : 8+n]
	return nil
}

// AppendPayload appends a CM_ATTEN_PROFILE.IND payload to b.
func (m *AttenProfileInd) AppendPayload(b []byte) ([]byte, error) {
	if err := checkGroups(CMAttenProfileInd, m.AAG); err != nil {
		return b, err
	}
	b = append(b, m.PEVMAC[:]...)
	b = append(b, uint8(len(m.AAG)), m.Reserved)
	return append(b, m.AAG...), nil
}

// checkGroups checks that aag fits the one-byte NumGroups field.
func checkGroups(t MMType, aag []byte) error {
	if len(aag) > 255 {
		return fmt.Errorf("homeplug: %v: %d attenuation groups, max 255", t, len(aag))
	}
	return nil
}
