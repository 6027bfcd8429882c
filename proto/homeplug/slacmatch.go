package homeplug

import "encoding/binary"

// MVFLength values: the length of the match variable field that follows it.
const (
	SlacMatchReqMVFLength = 0x3E
	SlacMatchCnfMVFLength = 0x56
)

const (
	slacMatchReqLen = 4 + SlacMatchReqMVFLength
	slacMatchCnfLen = 4 + SlacMatchCnfMVFLength
)

// SlacMatchReq is CM_SLAC_MATCH.REQ: the EV asks the EVSE it chose to join its network.
type SlacMatchReq struct {
	ApplicationType uint8
	SecurityType    uint8
	PEVID           [17]byte // PEV ID
	PEVMAC          MAC      // PEV MAC
	EVSEID          [17]byte // EVSE ID
	EVSEMAC         MAC      // EVSE MAC
	RunID           RunID
	Reserved        [8]byte
}

// MMType returns CMSlacMatchReq.
func (m *SlacMatchReq) MMType() MMType { return CMSlacMatchReq }

// DecodePayload decodes a CM_SLAC_MATCH.REQ payload. MVFLength is not
// checked against the standard value; AppendPayload always writes it.
func (m *SlacMatchReq) DecodePayload(p []byte) error {
	if len(p) < slacMatchReqLen {
		return short(CMSlacMatchReq, len(p), slacMatchReqLen)
	}
	m.ApplicationType = p[0]
	m.SecurityType = p[1]
	decodeMatchVars(p[4:], &m.PEVID, &m.PEVMAC, &m.EVSEID, &m.EVSEMAC, &m.RunID, &m.Reserved)
	return nil
}

// AppendPayload appends a CM_SLAC_MATCH.REQ payload to b.
func (m *SlacMatchReq) AppendPayload(b []byte) ([]byte, error) {
	b = append(b, m.ApplicationType, m.SecurityType)
	b = binary.LittleEndian.AppendUint16(b, SlacMatchReqMVFLength)
	return appendMatchVars(b, &m.PEVID, m.PEVMAC, &m.EVSEID, m.EVSEMAC, m.RunID, &m.Reserved), nil
}

// SlacMatchCnf is CM_SLAC_MATCH.CNF: the EVSE hands the EV the NMK and NID of its network.
type SlacMatchCnf struct {
	ApplicationType uint8
	SecurityType    uint8
	PEVID           [17]byte
	PEVMAC          MAC
	EVSEID          [17]byte
	EVSEMAC         MAC
	RunID           RunID
	Reserved        [8]byte
	NID             NID
	Reserved2       uint8
	NMK             NMK
}

// MMType returns CMSlacMatchCnf.
func (m *SlacMatchCnf) MMType() MMType { return CMSlacMatchCnf }

// DecodePayload decodes a CM_SLAC_MATCH.CNF payload; MVFLength is handled as in SlacMatchReq.
func (m *SlacMatchCnf) DecodePayload(p []byte) error {
	if len(p) < slacMatchCnfLen {
		return short(CMSlacMatchCnf, len(p), slacMatchCnfLen)
	}
	m.ApplicationType = p[0]
	m.SecurityType = p[1]
	decodeMatchVars(p[4:], &m.PEVID, &m.PEVMAC, &m.EVSEID, &m.EVSEMAC, &m.RunID, &m.Reserved)
	copy(m.NID[:], p[66:73])
	m.Reserved2 = p[73]
	copy(m.NMK[:], p[74:90])
	return nil
}

// AppendPayload appends a CM_SLAC_MATCH.CNF payload to b.
func (m *SlacMatchCnf) AppendPayload(b []byte) ([]byte, error) {
	b = append(b, m.ApplicationType, m.SecurityType)
	b = binary.LittleEndian.AppendUint16(b, SlacMatchCnfMVFLength)
	b = appendMatchVars(b, &m.PEVID, m.PEVMAC, &m.EVSEID, m.EVSEMAC, m.RunID, &m.Reserved)
	b = append(b, m.NID[:]...)
	b = append(b, m.Reserved2)
	return append(b, m.NMK[:]...), nil
}

// decodeMatchVars decodes the 62 bytes both match messages share.
func decodeMatchVars(p []byte, pevID *[17]byte, pevMAC *MAC, evseID *[17]byte, evseMAC *MAC, runID *RunID, rsvd *[8]byte) {
	copy(pevID[:], p[0:17])
	*pevMAC = getMAC(p, 17)
	copy(evseID[:], p[23:40])
	*evseMAC = getMAC(p, 40)
	copy(runID[:], p[46:54])
	copy(rsvd[:], p[54:62])
}

// appendMatchVars is the mirror of decodeMatchVars.
func appendMatchVars(b []byte, pevID *[17]byte, pevMAC MAC, evseID *[17]byte, evseMAC MAC, runID RunID, rsvd *[8]byte) []byte {
	b = append(b, pevID[:]...)
	b = append(b, pevMAC[:]...)
	b = append(b, evseID[:]...)
	b = append(b, evseMAC[:]...)
	b = append(b, runID[:]...)
	return append(b, rsvd[:]...)
}
