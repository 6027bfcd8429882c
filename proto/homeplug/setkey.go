package homeplug

import "encoding/binary"

// CM_SET_KEY field values a host uses to key its local modem with an NMK.
const (
	KeyTypeNMK = 0x01 // KeyType: the key is an NMK (AES-128)
	PIDHLE     = 0x04 // PID: protocol run by the host layer entity
	NewEKSNMK  = 0x01 // NewEKS: the new key is the NMK
	CCoCapNone = 0x00 // CCoCapability: level-0 CCo capable
)

const (
	setKeyReqLen = 38
	setKeyCnfLen = 14
)

// SetKeyReq is CM_SET_KEY.REQ: the host gives its local modem a new NMK and NID.
type SetKeyReq struct {
	KeyType       uint8
	MyNonce       uint32
	YourNonce     uint32
	PID           uint8
	PRN           uint16
	PMN           uint8
	CCoCapability uint8
	NID           NID
	NewEKS        uint8
	NewKey        NMK
}

// NewSetKeyReq returns the CM_SET_KEY.REQ that installs nmk, and the NID derived from it, in the local modem.
func NewSetKeyReq(nmk NMK) SetKeyReq {
	return SetKeyReq{KeyType: KeyTypeNMK, PID: PIDHLE, CCoCapability: CCoCapNone, NID: nmk.NID(), NewEKS: NewEKSNMK, NewKey: nmk}
}

// MMType returns CMSetKeyReq.
func (m *SetKeyReq) MMType() MMType { return CMSetKeyReq }

// DecodePayload decodes a CM_SET_KEY.REQ payload.
func (m *SetKeyReq) DecodePayload(p []byte) error {
	if len(p) < setKeyReqLen {
		return short(CMSetKeyReq, len(p), setKeyReqLen)
	}
	m.KeyType = p[0]
	m.MyNonce = binary.LittleEndian.Uint32(p[1:])
	m.YourNonce = binary.LittleEndian.Uint32(p[5:])
	m.PID = p[9]
	m.PRN = binary.LittleEndian.Uint16(p[10:])
	m.PMN = p[12]
	m.CCoCapability = p[13]
	copy(m.NID[:], p[14:21])
	m.NewEKS = p[21]
	copy(m.NewKey[:], p[22:38])
	return nil
}

// AppendPayload appends a CM_SET_KEY.REQ payload to b.
func (m *SetKeyReq) AppendPayload(b []byte) ([]byte, error) {
	b = append(b, m.KeyType)
	b = binary.LittleEndian.AppendUint32(b, m.MyNonce)
	b = binary.LittleEndian.AppendUint32(b, m.YourNonce)
	b = append(b, m.PID)
	b = binary.LittleEndian.AppendUint16(b, m.PRN)
	b = append(b, m.PMN, m.CCoCapability)
	b = append(b, m.NID[:]...)
	b = append(b, m.NewEKS)
	b = append(b, m.NewKey[:]...)
	return b, nil
}

// SetKeyCnf is CM_SET_KEY.CNF, the modem's answer to CM_SET_KEY.REQ.
type SetKeyCnf struct {
	// Result is 0x00 for success in the standard, but QCA firmware answers
	// 0x01 when the key was applied: treat both as success.
	Result        uint8
	MyNonce       uint32
	YourNonce     uint32
	PID           uint8
	PRN           uint16
	PMN           uint8
	CCoCapability uint8
}

// MMType returns CMSetKeyCnf.
func (m *SetKeyCnf) MMType() MMType { return CMSetKeyCnf }

// DecodePayload decodes a CM_SET_KEY.CNF payload.
func (m *SetKeyCnf) DecodePayload(p []byte) error {
	if len(p) < setKeyCnfLen {
		return short(CMSetKeyCnf, len(p), setKeyCnfLen)
	}
	m.Result = p[0]
	m.MyNonce = binary.LittleEndian.Uint32(p[1:])
	m.YourNonce = binary.LittleEndian.Uint32(p[5:])
	m.PID = p[9]
	m.PRN = binary.LittleEndian.Uint16(p[10:])
	m.PMN = p[12]
	m.CCoCapability = p[13]
	return nil
}

// AppendPayload appends a CM_SET_KEY.CNF payload to b.
func (m *SetKeyCnf) AppendPayload(b []byte) ([]byte, error) {
	b = append(b, m.Result)
	b = binary.LittleEndian.AppendUint32(b, m.MyNonce)
	b = binary.LittleEndian.AppendUint32(b, m.YourNonce)
	b = append(b, m.PID)
	b = binary.LittleEndian.AppendUint16(b, m.PRN)
	b = append(b, m.PMN, m.CCoCapability)
	return b, nil
}
