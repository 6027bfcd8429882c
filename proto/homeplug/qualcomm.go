package homeplug

import "fmt"

// Qualcomm vendor messages (MMV 1.0, OUI 00:B0:52) between a host and its
// QCA7000/QCA7420 modem. Their payloads here start after the OUI.

// MStatus value of a Qualcomm confirmation that succeeded.
const MStatusSuccess = 0x00

// Link status values of VS_PL_LNK_STATUS.CNF.
const (
	LinkDown = 0x00 // no powerline link
	LinkUp   = 0x01 // a powerline link exists
)

// SwVerReq is VS_SW_VER.REQ: ask a modem for its firmware version; sent to
// LocalModemMAC it also finds the modems on the host's link.
type SwVerReq struct{}

func (*SwVerReq) qualcomm() {}

// MMType returns VSSwVerReq.
func (m *SwVerReq) MMType() MMType { return VSSwVerReq }

// DecodePayload accepts any payload: the request has no fields.
func (m *SwVerReq) DecodePayload(p []byte) error { return nil }

// AppendPayload appends nothing: the request has no fields.
func (m *SwVerReq) AppendPayload(b []byte) ([]byte, error) { return b, nil }

const swVerCnfMin = 3

// SwVerCnf is VS_SW_VER.CNF: the modem's firmware version.
type SwVerCnf struct {
	MStatus  uint8 // MStatusSuccess
	DeviceID uint8 // chip, e.g. 0x20 on a QCA7420
	// Version is the firmware version string without its terminating NUL,
	// e.g. "MAC-QCA7000-1.1.0.730-04-20140815-CS".
	Version string
	// Extra holds the bytes after the version string as the modem sent them
	// (the rest of its fixed-size version field, upgrade flag, cookie).
	// It aliases the decoded frame and is appended back unchanged.
	Extra []byte

	noNUL bool // the decoded version field had no NUL: encode it back without
}

func (*SwVerCnf) qualcomm() {}

// MMType returns VSSwVerCnf.
func (m *SwVerCnf) MMType() MMType { return VSSwVerCnf }

// DecodePayload decodes a VS_SW_VER.CNF payload.
func (m *SwVerCnf) DecodePayload(p []byte) error {
	if len(p) < swVerCnfMin {
		return short(VSSwVerCnf, len(p), swVerCnfMin)
	}
	n := int(p[2])
	if len(p) < swVerCnfMin+n {
		return short(VSSwVerCnf, len(p), swVerCnfMin+n)
	}
	m.MStatus = p[0]
	m.DeviceID = p[1]
	v := p[3 : 3+n]
	m.noNUL = len(v) == 0 || v[len(v)-1] != 0
	if !m.noNUL {
		v = v[:len(v)-1]
	}
	m.Version = string(v)
	m.Extra = p[3+n : len(p) : len(p)]
	return nil
}

// AppendPayload appends a VS_SW_VER.CNF payload to b. The version gets its
// NUL back unless it fills the 255-byte field or came without one.
func (m *SwVerCnf) AppendPayload(b []byte) ([]byte, error) {
	n := len(m.Version)
	if n > 255 {
		return b, fmt.Errorf("homeplug: %v: version string is %d bytes, max 255", VSSwVerCnf, n)
	}
	nul := n < 255 && !m.noNUL
	if nul {
		n++
	}
	b = append(b, m.MStatus, m.DeviceID, uint8(n))
	b = append(b, m.Version...)
	if nul {
		b = append(b, 0)
	}
	return append(b, m.Extra...), nil
}

// PlLnkStatusReq is VS_PL_LNK_STATUS.REQ: ask the modem whether it has a powerline link.
type PlLnkStatusReq struct{}

func (*PlLnkStatusReq) qualcomm() {}

// MMType returns VSPlLnkStatusReq.
func (m *PlLnkStatusReq) MMType() MMType { return VSPlLnkStatusReq }

// DecodePayload accepts any payload: the request has no fields.
func (m *PlLnkStatusReq) DecodePayload(p []byte) error { return nil }

// AppendPayload appends nothing: the request has no fields.
func (m *PlLnkStatusReq) AppendPayload(b []byte) ([]byte, error) { return b, nil }

const plLnkStatusCnfLen = 2

// PlLnkStatusCnf is VS_PL_LNK_STATUS.CNF: the modem's powerline link status.
type PlLnkStatusCnf struct {
	MStatus    uint8 // MStatusSuccess
	LinkStatus uint8 // LinkUp or LinkDown
}

func (*PlLnkStatusCnf) qualcomm() {}

// MMType returns VSPlLnkStatusCnf.
func (m *PlLnkStatusCnf) MMType() MMType { return VSPlLnkStatusCnf }

// DecodePayload decodes a VS_PL_LNK_STATUS.CNF payload.
func (m *PlLnkStatusCnf) DecodePayload(p []byte) error {
	if len(p) < plLnkStatusCnfLen {
		return short(VSPlLnkStatusCnf, len(p), plLnkStatusCnfLen)
	}
	m.MStatus, m.LinkStatus = p[0], p[1]
	return nil
}

// AppendPayload appends a VS_PL_LNK_STATUS.CNF payload to b.
func (m *PlLnkStatusCnf) AppendPayload(b []byte) ([]byte, error) {
	return append(b, m.MStatus, m.LinkStatus), nil
}

// RsDevReq is VS_RS_DEV.REQ: reset the modem.
type RsDevReq struct{}

func (*RsDevReq) qualcomm() {}

// MMType returns VSRsDevReq.
func (m *RsDevReq) MMType() MMType { return VSRsDevReq }

// DecodePayload accepts any payload: the request has no fields.
func (m *RsDevReq) DecodePayload(p []byte) error { return nil }

// AppendPayload appends nothing: the request has no fields.
func (m *RsDevReq) AppendPayload(b []byte) ([]byte, error) { return b, nil }

const rsDevCnfLen = 1

// RsDevCnf is VS_RS_DEV.CNF: the modem accepted (MStatusSuccess) the reset.
type RsDevCnf struct {
	MStatus uint8
}

func (*RsDevCnf) qualcomm() {}

// MMType returns VSRsDevCnf.
func (m *RsDevCnf) MMType() MMType { return VSRsDevCnf }

// DecodePayload decodes a VS_RS_DEV.CNF payload.
func (m *RsDevCnf) DecodePayload(p []byte) error {
	if len(p) < rsDevCnfLen {
		return short(VSRsDevCnf, len(p), rsDevCnfLen)
	}
	m.MStatus = p[0]
	return nil
}

// AppendPayload appends a VS_RS_DEV.CNF payload to b.
func (m *RsDevCnf) AppendPayload(b []byte) ([]byte, error) { return append(b, m.MStatus), nil }
