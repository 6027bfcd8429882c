package secc

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/ccslink/ccslink/proto/v2g/din"
	"github.com/ccslink/ccslink/proto/v2g/iso2"
	"github.com/ccslink/ccslink/proto/v2g/message"
	"github.com/ccslink/ccslink/record"
)

// failAfterCPD is a policy written for these tests alone, in one file and
// without touching an adapter: the first ChargeParameterDiscoveryReq is
// answered OK (its values published), every request after it FAILED.
type failAfterCPD struct{ cpd bool }

func (f *failAfterCPD) Decide(p *Progress, r *Request) Decision {
	if f.cpd {
		return Decision{Outcome: Fail}
	}
	if r.Phase == PhaseChargeParameterDiscovery {
		f.cpd = true
	}
	return Decision{}
}

// chooseFailAfterCPD installs failAfterCPD through Config.ChoosePolicy and
// keeps what the chooser was told.
func chooseFailAfterCPD(cars *[]CarInfo) Config {
	return Config{ChoosePolicy: func(car CarInfo) Policy {
		*cars = append(*cars, car)
		return &failAfterCPD{}
	}}
}

// eventsOf returns the kinds and message names of events.
func eventsOf(evs []record.Event) []string {
	var s []string
	for _, e := range evs {
		s = append(s, e.Kind.String()+" "+e.Message.String())
	}
	return s
}

func TestNewPolicyDIN(t *testing.T) {
	var cars []CarInfo
	h := newHarness(t, chooseFailAfterCPD(&cars))
	dinSetup(t, h)
	if len(cars) != 1 || cars[0].Protocol != ProtocolDIN || !bytes.Equal(cars[0].EVCCID, []byte{0x04, 0x65, 0x65, 0x00, 0x64, 0xc3}) {
		t.Fatalf("the chooser was told %+v", cars)
	}
	n := len(h.events)
	res, err := h.din(ioniqCPD())
	if r := res.ChargeParameterDiscoveryRes; err != nil || r.ResponseCode != din.ResponseCodeOK || r.EVSEProcessing != din.EVSEProcessingFinished ||
		r.DC_EVSEChargeParameter.DC_EVSEStatus.EVSEStatusCode != din.DC_EVSEStatusCodeEVSE_Ready {
		t.Fatalf("CPD: %+v (%v)", r, err)
	}
	st := din.DC_EVStatusType{EVReady: true, EVRESSSOC: 93}
	p, step, err := h.send(marshalDIN(t, h.sid, din.BodyType{CableCheckReq: &din.CableCheckReqType{DC_EVStatus: st}}))
	iso := din.IsolationLevelInvalid
	want := marshalDIN(t, testSID[:], din.BodyType{CableCheckRes: &din.CableCheckResType{ResponseCode: din.ResponseCodeFAILED,
		DC_EVSEStatus:  din.DC_EVSEStatusType{EVSEIsolationStatus: &iso, EVSEStatusCode: din.DC_EVSEStatusCodeEVSE_Shutdown},
		EVSEProcessing: din.EVSEProcessingFinished}})
	if err != nil || !bytes.Equal(p, want) || step != (Step{Request: message.CableCheckReq, Code: "FAILED"}) || !h.s.Done() {
		t.Fatalf("CableCheck: %x %+v (%v), want %x FAILED", p, step, err, want)
	}
	if got, want := eventsOf(h.events[n:]), []string{"values ChargeParameterDiscoveryReq", "values CableCheckReq"}; !slices.Equal(got, want) {
		t.Fatalf("events %q, want %q", got, want)
	}
	if v := h.events[n].Values; *v.SoC != 93 || *v.MaxVoltageV != 399 || *h.events[n+1].Values.SoC != 93 {
		t.Fatalf("values %+v, %+v", v, h.events[n+1].Values)
	}

	// A car asking again gets the CPD's FAILED with the charger's shutdown.
	h = newHarness(t, chooseFailAfterCPD(&cars))
	dinSetup(t, h)
	h.din(ioniqCPD())
	res, err = h.din(ioniqCPD())
	if r := res.ChargeParameterDiscoveryRes; err != nil || r.ResponseCode != din.ResponseCodeFAILED || r.EVSEProcessing != din.EVSEProcessingFinished ||
		r.DC_EVSEChargeParameter.DC_EVSEStatus.EVSEStatusCode != din.DC_EVSEStatusCodeEVSE_Shutdown || !h.s.Done() {
		t.Fatalf("second CPD: %+v (%v)", r, err)
	}
}

func TestNewPolicyISO2(t *testing.T) {
	var cars []CarInfo
	h := newHarness(t, chooseFailAfterCPD(&cars))
	iso2Setup(t, h)
	if len(cars) != 1 || cars[0].Protocol != ProtocolISO2 || !bytes.Equal(cars[0].EVCCID, []byte{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}) {
		t.Fatalf("the chooser was told %+v", cars)
	}
	n := len(h.events)
	res, err := h.iso2(iso2DCCPD())
	if r := res.ChargeParameterDiscoveryRes; err != nil || r.ResponseCode != iso2.ResponseCodeOK || r.EVSEProcessing != iso2.EVSEProcessingFinished || r.SAScheduleList == nil {
		t.Fatalf("CPD: %+v (%v)", r, err)
	}
	st := iso2.DC_EVStatusType{EVReady: true, EVRESSSOC: 54}
	p, step, err := h.send(marshalISO2(t, h.sid, iso2.BodyType{CableCheckReq: &iso2.CableCheckReqType{DC_EVStatus: st}}))
	iso := iso2.IsolationLevelInvalid
	want := marshalISO2(t, testSID[:], iso2.BodyType{CableCheckRes: &iso2.CableCheckResType{ResponseCode: iso2.ResponseCodeFAILED,
		DC_EVSEStatus:  iso2.DC_EVSEStatusType{EVSEIsolationStatus: &iso, EVSEStatusCode: iso2.DC_EVSEStatusCodeEVSE_Shutdown},
		EVSEProcessing: iso2.EVSEProcessingFinished}})
	if err != nil || !bytes.Equal(p, want) || step != (Step{Request: message.CableCheckReq, Code: "FAILED"}) || !h.s.Done() {
		t.Fatalf("CableCheck: %x %+v (%v), want %x FAILED", p, step, err, want)
	}
	if got, want := eventsOf(h.events[n:]), []string{"values ChargeParameterDiscoveryReq", "values CableCheckReq"}; !slices.Equal(got, want) {
		t.Fatalf("events %q, want %q", got, want)
	}
	if v := h.events[n].Values; *v.SoC != 54 || *v.EnergyCapacityWh != 77000 || *h.events[n+1].Values.SoC != 54 {
		t.Fatalf("values %+v, %+v", v, h.events[n+1].Values)
	}

	h = newHarness(t, chooseFailAfterCPD(&cars))
	iso2Setup(t, h)
	h.iso2(iso2DCCPD())
	res, err = h.iso2(iso2DCCPD())
	if r := res.ChargeParameterDiscoveryRes; err != nil || r.ResponseCode != iso2.ResponseCodeFAILED || r.EVSEProcessing != iso2.EVSEProcessingFinished ||
		r.DC_EVSEChargeParameter.DC_EVSEStatus.EVSEStatusCode != iso2.DC_EVSEStatusCodeEVSE_Shutdown || !h.s.Done() {
		t.Fatalf("second CPD: %+v (%v)", r, err)
	}
}

// ChoosePolicy picks each car's policy from its EVCCID; nil leaves the
// configured one, and the chooser's copy of the EVCCID is its own.
func TestChoosePolicy(t *testing.T) {
	known := []byte{0x04, 0x65, 0x65, 0x00, 0x64, 0xc3} // dinSetup's car
	var told []CarInfo
	cfg := Config{ChoosePolicy: func(car CarInfo) Policy {
		told = append(told, car)
		if bytes.Equal(car.EVCCID, known) {
			return NewPolicy(PolicyDC)
		}
		return nil
	}}
	// The known car gets the dc policy: CPD Finished, CableCheck served.
	h := newHarness(t, cfg)
	dinSetup(t, h)
	if res, _ := h.din(ioniqCPD()); res.ChargeParameterDiscoveryRes.EVSEProcessing != din.EVSEProcessingFinished {
		t.Fatalf("known car's CPD: %+v", res.ChargeParameterDiscoveryRes)
	}
	res, err := h.din(din.BodyType{CableCheckReq: &din.CableCheckReqType{DC_EVStatus: din.DC_EVStatusType{EVRESSSOC: 93}}})
	if err != nil || res.CableCheckRes.ResponseCode != din.ResponseCodeOK || res.CableCheckRes.EVSEProcessing != din.EVSEProcessingOngoing {
		t.Fatalf("known car's CableCheck: %+v (%v)", res.CableCheckRes, err)
	}
	told[0].EVCCID[0] = 0xff // the chooser's copy, not the session's
	var rec record.Session
	for _, e := range h.events {
		rec.Apply(e)
	}
	if rec.EVCCIDHex() != "0465650064c3" {
		t.Fatalf("EVCCID %s", rec.EVCCIDHex())
	}

	// Another car (ISO-2) keeps the configured soc policy.
	h = newHarness(t, cfg)
	iso2Setup(t, h)
	if c := told[len(told)-1]; c.Protocol != ProtocolISO2 || !bytes.Equal(c.EVCCID, []byte{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}) {
		t.Fatalf("chooser told %+v", c)
	}
	ires, _ := h.iso2(iso2DCCPD())
	if ires.ChargeParameterDiscoveryRes.EVSEProcessing != iso2.EVSEProcessingOngoing {
		t.Fatalf("other car's CPD: %+v", ires.ChargeParameterDiscoveryRes)
	}
	if len(told) != 2 {
		t.Fatalf("chooser called %d times, want 2", len(told))
	}
}

// The ac policy chosen for a DIN car gives it the soc flow: DIN has no AC.
func TestChooseACForDINCar(t *testing.T) {
	h := newHarness(t, Config{ChoosePolicy: func(CarInfo) Policy { return NewPolicy(PolicyAC) }})
	dinSetup(t, h)
	res, _ := h.din(ioniqCPD())
	if r := res.ChargeParameterDiscoveryRes; r.EVSEProcessing != din.EVSEProcessingOngoing || r.DC_EVSEChargeParameter.DC_EVSEStatus.EVSEStatusCode != din.DC_EVSEStatusCodeEVSE_Ready {
		t.Fatalf("first CPD: %+v", r)
	}
	res, _ = h.din(ioniqCPD())
	if r := res.ChargeParameterDiscoveryRes; r.EVSEProcessing != din.EVSEProcessingOngoing || r.DC_EVSEChargeParameter.DC_EVSEStatus.EVSEStatusCode != din.DC_EVSEStatusCodeEVSE_Shutdown {
		t.Fatalf("second CPD: %+v", r)
	}
}

// A policy sees only requests the sequence allows: one out of order is
// answered FAILED_SequenceError before the policy is asked.
func TestPolicyAskedInSequenceOnly(t *testing.T) {
	var asked []Phase
	h := newHarness(t, Config{ChoosePolicy: func(CarInfo) Policy {
		return policyFunc(func(p *Progress, r *Request) Decision {
			asked = append(asked, r.Phase)
			return Decision{}
		})
	}})
	dinSetup(t, h)
	res, err := h.din(din.BodyType{WeldingDetectionReq: &din.WeldingDetectionReqType{}})
	if !errors.Is(err, ErrSequence) || res.WeldingDetectionRes.ResponseCode != din.ResponseCodeFAILED_SequenceError {
		t.Fatalf("out of order: %v (%v)", responseCode(res), err)
	}
	if want := []Phase{PhaseSessionSetup, PhaseServiceDiscovery, PhasePaymentSelection, PhaseAuthorization}; !slices.Equal(asked, want) {
		t.Fatalf("asked %v, want %v", asked, want)
	}
}

type policyFunc func(p *Progress, r *Request) Decision

func (f policyFunc) Decide(p *Progress, r *Request) Decision { return f(p, r) }

func marshalDIN(t *testing.T, sid []byte, body din.BodyType) []byte {
	t.Helper()
	b, err := din.Marshal(&din.Document{V2G_Message: &din.V2G_Message{Header: din.MessageHeaderType{SessionID: sid}, Body: body}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func marshalISO2(t *testing.T, sid []byte, body iso2.BodyType) []byte {
	t.Helper()
	b, err := iso2.Marshal(&iso2.Document{V2G_Message: &iso2.V2G_Message{Header: iso2.MessageHeaderType{SessionID: sid}, Body: body}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A car moving on after the soc policy's harvest gets FAILED, and the SoC
// it still reports is recorded (its targets are not: the charger never
// served them); a PowerDelivery start records an empty set.
func TestSoCCarMovingOnRecordsSoC(t *testing.T) {
	h := newHarness(t, Config{})
	dinSetup(t, h)
	h.din(ioniqCPD())
	n := len(h.events)
	res, err := h.din(din.BodyType{PreChargeReq: &din.PreChargeReqType{DC_EVStatus: din.DC_EVStatusType{EVRESSSOC: 94},
		EVTargetVoltage: pvDIN(380, 0, din.UnitSymbolV), EVTargetCurrent: pvDIN(1, 0, din.UnitSymbolA)}})
	if err != nil || res.PreChargeRes.ResponseCode != din.ResponseCodeFAILED {
		t.Fatalf("PreCharge: %+v (%v)", res.PreChargeRes, err)
	}
	if got := h.events[n:]; len(got) != 1 || got[0].Message != message.PreChargeReq || *got[0].Values.SoC != 94 || got[0].Values.TargetVoltageV != nil {
		t.Fatalf("events %+v", got)
	}

	h = newHarness(t, Config{})
	iso2Setup(t, h)
	h.iso2(iso2DCCPD())
	n = len(h.events)
	ires, err := h.iso2(iso2.BodyType{PowerDeliveryReq: &iso2.PowerDeliveryReqType{ChargeProgress: iso2.ChargeProgressStart, SAScheduleTupleID: 1}})
	if err != nil || ires.PowerDeliveryRes.ResponseCode != iso2.ResponseCodeFAILED {
		t.Fatalf("PowerDelivery: %+v (%v)", ires.PowerDeliveryRes, err)
	}
	if got := h.events[n:]; len(got) != 1 || got[0].Kind != record.KindValues || got[0].Message != message.PowerDeliveryReq || got[0].Values != (record.Values{}) {
		t.Fatalf("events %+v", got)
	}
}
