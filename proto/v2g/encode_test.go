package v2g

import (
	"strings"
	"testing"

	"github.com/ccslink/ccslink/proto/v2g/apphand"
	"github.com/ccslink/ccslink/proto/v2g/din"
	"github.com/ccslink/ccslink/proto/v2g/iso2"
)

// TestAppendRefusesInvalid checks that the encoder enforces the schema:
// occurrence bounds, choices, facets and enumerations.
func TestAppendRefusesInvalid(t *testing.T) {
	hdr := din.MessageHeaderType{SessionID: []byte{1, 2, 3, 4, 5, 6, 7, 8}}
	unit := din.UnitSymbolWh
	cases := []struct {
		name string
		enc  func() error
		want string
	}{
		{"two messages in one body", func() error {
			_, err := din.Marshal(&din.Document{V2G_Message: &din.V2G_Message{Header: hdr, Body: din.BodyType{
				SessionSetupReq: &din.SessionSetupReqType{EVCCID: []byte{1}},
				SessionStopReq:  &din.SessionStopType{},
			}}})
			return err
		}, "not allowed here"},
		{"SessionID of 9 octets", func() error {
			h := din.MessageHeaderType{SessionID: make([]byte, 9)}
			_, err := din.Marshal(&din.Document{V2G_Message: &din.V2G_Message{Header: h, Body: din.BodyType{SessionStopReq: &din.SessionStopType{}}}})
			return err
		}, "9 octets, schema allows 8"},
		{"no root element", func() error {
			_, err := din.Marshal(&din.Document{})
			return err
		}, "exactly one root element, 0 are set"},
		{"21 app protocols", func() error {
			req := &apphand.SupportedAppProtocolReq{AppProtocol: make([]apphand.AppProtocolType, 21)}
			for i := range req.AppProtocol {
				req.AppProtocol[i].Priority = 1
			}
			_, err := apphand.Marshal(&apphand.Document{SupportedAppProtocolReq: req})
			return err
		}, "21 items, schema allows 20"},
		{"priority 0", func() error {
			req := &apphand.SupportedAppProtocolReq{AppProtocol: []apphand.AppProtocolType{{ProtocolNamespace: "urn:din:70121:2012:MsgDef"}}}
			_, err := apphand.Marshal(&apphand.Document{SupportedAppProtocolReq: req})
			return err
		}, "value 0 outside [1, 20]"},
		{"multiplier 4", func() error {
			pv := din.PhysicalValueType{Multiplier: 4, Unit: &unit, Value: 1}
			_, err := din.Marshal(&din.Document{V2G_Message: &din.V2G_Message{Header: hdr, Body: din.BodyType{
				PreChargeReq: &din.PreChargeReqType{EVTargetVoltage: pv, EVTargetCurrent: pv},
			}}})
			return err
		}, "value 4 outside [-3, 3]"},
		{"unknown response code", func() error {
			_, err := iso2.Marshal(&iso2.Document{V2G_Message: &iso2.V2G_Message{
				Header: iso2.MessageHeaderType{SessionID: []byte{1}},
				Body:   iso2.BodyType{SessionSetupRes: &iso2.SessionSetupResType{ResponseCode: 200, EVSEID: "DE*ABC*E1"}},
			}})
			return err
		}, "invalid ResponseCodeType value 200"},
		{"EVSEID of 38 characters", func() error {
			_, err := iso2.Marshal(&iso2.Document{V2G_Message: &iso2.V2G_Message{
				Header: iso2.MessageHeaderType{SessionID: []byte{1}},
				Body:   iso2.BodyType{SessionSetupRes: &iso2.SessionSetupResType{EVSEID: strings.Repeat("x", 38)}},
			}})
			return err
		}, "38 characters, schema allows 37"},
	}
	for _, c := range cases {
		err := c.enc()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
}

// TestEnumNames checks the generated enumerations: schema order, names.
func TestEnumNames(t *testing.T) {
	if din.UnitSymbolWh != 9 || din.UnitSymbolWh.String() != "Wh" || iso2.UnitSymbolWh != 6 {
		t.Errorf("unitSymbol: DIN Wh=%d %q, ISO-2 Wh=%d", din.UnitSymbolWh, din.UnitSymbolWh, iso2.UnitSymbolWh)
	}
	var v din.ResponseCodeType
	if err := v.UnmarshalText([]byte("FAILED_SequenceError")); err != nil || v.String() != "FAILED_SequenceError" {
		t.Errorf("UnmarshalText: %v %v", v, err)
	}
	if err := v.UnmarshalText([]byte("NOPE")); err == nil {
		t.Error("unknown name accepted")
	}
	if s := din.ResponseCodeType(99).String(); s != "ResponseCodeType(99)" {
		t.Errorf("out of range String() = %q", s)
	}
}
