package v2g

import (
	"testing"

	"github.com/ccslink/ccslink/proto/v2g/din"
	"github.com/ccslink/ccslink/proto/v2g/iso2"
)

// TestBodyAccessors checks that each accessor reads the field of the
// message the body holds, pointer or value, and says so when it has none.
func TestBodyAccessors(t *testing.T) {
	dinEVSE := din.DC_EVSEStatusType{EVSEStatusCode: din.DC_EVSEStatusCodeEVSE_Shutdown}
	dinCC := din.BodyType{CableCheckRes: &din.CableCheckResType{ResponseCode: din.ResponseCodeFAILED_SequenceError,
		DC_EVSEStatus: dinEVSE, EVSEProcessing: din.EVSEProcessingOngoing}}
	if c, ok := dinCC.ResponseCode(); !ok || c != din.ResponseCodeFAILED_SequenceError {
		t.Errorf("DIN CableCheckRes ResponseCode = %v, %v", c, ok)
	}
	if p, ok := dinCC.EVSEProcessing(); !ok || p != din.EVSEProcessingOngoing {
		t.Errorf("DIN CableCheckRes EVSEProcessing = %v, %v", p, ok)
	}
	if st := dinCC.DC_EVSEStatus(); st != &dinCC.CableCheckRes.DC_EVSEStatus {
		t.Errorf("DIN CableCheckRes DC_EVSEStatus = %p, want its own field", st)
	}
	if st := dinCC.DC_EVStatus(); st != nil {
		t.Errorf("DIN CableCheckRes DC_EVStatus = %v, want nil (a response)", st)
	}
	// A PowerDeliveryRes's status is optional: the accessor returns the pointer itself.
	dinPD := din.BodyType{PowerDeliveryRes: &din.PowerDeliveryResType{ResponseCode: din.ResponseCodeOK}}
	if st := dinPD.DC_EVSEStatus(); st != nil {
		t.Errorf("DIN PowerDeliveryRes without a status: DC_EVSEStatus = %v, want nil", st)
	}
	dinPD.PowerDeliveryRes.DC_EVSEStatus = &dinEVSE
	if st := dinPD.DC_EVSEStatus(); st != &dinEVSE {
		t.Errorf("DIN PowerDeliveryRes DC_EVSEStatus = %p, want %p", st, &dinEVSE)
	}
	if _, ok := dinPD.EVSEProcessing(); ok {
		t.Error("DIN PowerDeliveryRes has an EVSEProcessing")
	}
	dinReq := din.BodyType{CurrentDemandReq: &din.CurrentDemandReqType{DC_EVStatus: din.DC_EVStatusType{EVRESSSOC: 57}}}
	if st := dinReq.DC_EVStatus(); st == nil || st.EVRESSSOC != 57 {
		t.Errorf("DIN CurrentDemandReq DC_EVStatus = %v, want SoC 57", st)
	}
	if c, ok := dinReq.ResponseCode(); ok {
		t.Errorf("DIN CurrentDemandReq has ResponseCode %v", c)
	}
	dinPC := din.BodyType{PreChargeReq: &din.PreChargeReqType{EVTargetVoltage: din.PhysicalValueType{Value: 380}, EVTargetCurrent: din.PhysicalValueType{Value: 2}}}
	if v, i := dinPC.EVTargetVoltage(), dinPC.EVTargetCurrent(); v == nil || v.Value != 380 || i == nil || i.Value != 2 {
		t.Errorf("DIN PreChargeReq targets %v %v, want 380 and 2", v, i)
	}
	if dinReq.EVTargetVoltage() != &dinReq.CurrentDemandReq.EVTargetVoltage || dinCC.EVTargetCurrent() != nil {
		t.Error("DIN targets: CurrentDemandReq's are not its own fields, or a CableCheckRes has one")
	}
	var empty din.BodyType
	if _, ok := empty.ResponseCode(); ok || empty.DC_EVStatus() != nil || empty.DC_EVSEStatus() != nil {
		t.Error("an empty DIN body has a field")
	}

	isoAuth := iso2.BodyType{AuthorizationRes: &iso2.AuthorizationResType{ResponseCode: iso2.ResponseCodeOK, EVSEProcessing: iso2.EVSEProcessingOngoing}}
	if p, ok := isoAuth.EVSEProcessing(); !ok || p != iso2.EVSEProcessingOngoing {
		t.Errorf("ISO-2 AuthorizationRes EVSEProcessing = %v, %v", p, ok)
	}
	isoCS := iso2.BodyType{ChargingStatusRes: &iso2.ChargingStatusResType{ResponseCode: iso2.ResponseCodeFAILED_ContractCanceled}}
	if c, ok := isoCS.ResponseCode(); !ok || c != iso2.ResponseCodeFAILED_ContractCanceled {
		t.Errorf("ISO-2 ChargingStatusRes ResponseCode = %v, %v", c, ok)
	}
	if st := isoCS.DC_EVSEStatus(); st != nil {
		t.Errorf("ISO-2 ChargingStatusRes (AC) DC_EVSEStatus = %v, want nil", st)
	}
	isoWD := iso2.BodyType{WeldingDetectionReq: &iso2.WeldingDetectionReqType{DC_EVStatus: iso2.DC_EVStatusType{EVRESSSOC: 93}}}
	if st := isoWD.DC_EVStatus(); st != &isoWD.WeldingDetectionReq.DC_EVStatus || st.EVRESSSOC != 93 {
		t.Errorf("ISO-2 WeldingDetectionReq DC_EVStatus = %v, want its own field with SoC 93", st)
	}

	isoPC := iso2.BodyType{PreChargeRes: &iso2.PreChargeResType{EVSEPresentVoltage: iso2.PhysicalValueType{Value: 398, Unit: iso2.UnitSymbolV}}}
	if v := isoPC.EVSEPresentVoltage(); v != &isoPC.PreChargeRes.EVSEPresentVoltage {
		t.Errorf("ISO-2 PreChargeRes EVSEPresentVoltage = %v, want its own field", v)
	}
	if v := isoCS.EVSEPresentVoltage(); v != nil {
		t.Errorf("ISO-2 ChargingStatusRes EVSEPresentVoltage = %v, want nil", v)
	}
	var none iso2.Document
	if none.Body() != nil || none.SessionID() != nil {
		t.Error("a document without a V2G_Message has a body or a SessionID")
	}
	doc := din.Document{V2G_Message: &din.V2G_Message{Header: din.MessageHeaderType{SessionID: []byte{1, 2}}, Body: dinCC}}
	if doc.Body() != &doc.V2G_Message.Body || string(doc.SessionID()) != "\x01\x02" {
		t.Errorf("DIN document: Body %p, SessionID %x", doc.Body(), doc.SessionID())
	}
}
