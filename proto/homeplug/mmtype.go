package homeplug

import "fmt"

// MMType is a management message type. Its two low bits say whether the
// message is a request, confirmation, indication or response.
type MMType uint16

// Variants of a message type, in the two low bits of MMType.
const (
	Req MMType = 0x0 // request
	Cnf MMType = 0x1 // confirmation, the answer to a request
	Ind MMType = 0x2 // indication, unsolicited
	Rsp MMType = 0x3 // response, the answer to an indication
)

// Message types this package models, named as the standards name them
// (CM_SLAC_PARM.REQ is CMSlacParmReq). The message structs drop the prefix.
const (
	CMSetKeyReq         MMType = 0x6008
	CMSetKeyCnf         MMType = 0x6009
	CMSlacParmReq       MMType = 0x6064
	CMSlacParmCnf       MMType = 0x6065
	CMStartAttenCharInd MMType = 0x606A
	CMAttenCharInd      MMType = 0x606E
	CMAttenCharRsp      MMType = 0x606F
	CMMnbcSoundInd      MMType = 0x6076
	CMValidateReq       MMType = 0x6078
	CMValidateCnf       MMType = 0x6079
	CMSlacMatchReq      MMType = 0x607C
	CMSlacMatchCnf      MMType = 0x607D
	CMAttenProfileInd   MMType = 0x6086

	VSSwVerReq       MMType = 0xA000
	VSSwVerCnf       MMType = 0xA001
	VSRsDevReq       MMType = 0xA01C
	VSRsDevCnf       MMType = 0xA01D
	VSPlLnkStatusReq MMType = 0xA0B8
	VSPlLnkStatusCnf MMType = 0xA0B9
)

// Base returns t without its variant bits.
func (t MMType) Base() MMType { return t &^ 3 }

// Variant returns the variant bits of t: Req, Cnf, Ind or Rsp.
func (t MMType) Variant() MMType { return t & 3 }

// IsVendor reports whether t is vendor-specific (0xA000-0xBFFF); such messages start with an OUI.
func (t MMType) IsVendor() bool { return t&0xE000 == 0xA000 }

// baseNames names the message families, including some seen in real
// captures that this package keeps as RawMessage. Vendor names are Qualcomm's.
var baseNames = map[MMType]string{
	0x0014: "CC_DISCOVER_LIST",
	0x6008: "CM_SET_KEY",
	0x600C: "CM_GET_KEY",
	0x6020: "CM_BRG_INFO",
	0x6038: "CM_NW_INFO",
	0x6064: "CM_SLAC_PARM",
	0x6068: "CM_START_ATTEN_CHAR",
	0x606C: "CM_ATTEN_CHAR",
	0x6074: "CM_MNBC_SOUND",
	0x6078: "CM_VALIDATE",
	0x607C: "CM_SLAC_MATCH",
	0x6084: "CM_ATTEN_PROFILE",
	0xA000: "VS_SW_VER",
	0xA01C: "VS_RS_DEV",
	0xA038: "VS_NW_INFO",
	0xA068: "VS_OP_ATTRIBUTES",
	0xA0B0: "VS_MODULE_OPERATION",
	0xA0B8: "VS_PL_LNK_STATUS",
}

var variantNames = [4]string{"REQ", "CNF", "IND", "RSP"}

// String returns the standard name, such as "CM_SLAC_PARM.REQ", or the hex
// value, such as "0xA14E", for other types. Vendor names are Qualcomm's and
// may mean something else in another vendor's message.
func (t MMType) String() string {
	if name, ok := baseNames[t.Base()]; ok {
		return name + "." + variantNames[t.Variant()]
	}
	return fmt.Sprintf("0x%04X", uint16(t))
}
