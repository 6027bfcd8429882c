package secc

import (
	"errors"
	"testing"
	"time"

	"github.com/ccslink/ccslink/proto/v2g/apphand"
	"github.com/ccslink/ccslink/proto/v2g/din"
	"github.com/ccslink/ccslink/proto/v2g/iso2"
	"github.com/ccslink/ccslink/proto/v2g/message"
	"github.com/ccslink/ccslink/proto/v2gtp"
	"github.com/ccslink/ccslink/record"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

var testSID = [8]byte{0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88}

// harness drives a Session as a car would, one framed message at a time.
type harness struct {
	t      testing.TB
	s      *Session
	events []record.Event
	now    time.Time
	sid    []byte
}

func newHarness(t testing.TB, cfg Config) *harness {
	h := &harness{t: t, now: t0}
	if cfg.NewSessionID == nil {
		cfg.NewSessionID = func() [8]byte { return testSID }
	}
	h.s = NewSession(cfg, t0, func(e record.Event) { h.events = append(h.events, e) })
	return h
}

func (h *harness) send(payload []byte) ([]byte, Step, error) {
	h.t.Helper()
	h.now = h.now.Add(50 * time.Millisecond)
	out, step, err := h.s.Handle(h.now, v2gtp.Header{Type: v2gtp.TypeEXI, Length: uint32(len(payload))}, payload, nil)
	if len(out) == 0 {
		return nil, step, err
	}
	hd, p, rest, serr := v2gtp.Split(out)
	if serr != nil || len(rest) != 0 || hd.Type != v2gtp.TypeEXI {
		h.t.Fatalf("answer is not one V2GTP EXI message: %x (%v)", out, serr)
	}
	return p, step, err
}

func (h *harness) sap(offers ...apphand.AppProtocolType) *apphand.SupportedAppProtocolRes {
	h.t.Helper()
	b, err := apphand.Marshal(&apphand.Document{SupportedAppProtocolReq: &apphand.SupportedAppProtocolReq{AppProtocol: offers}})
	if err != nil {
		h.t.Fatal(err)
	}
	p, _, _ := h.send(b)
	var doc apphand.Document
	if _, err := apphand.Unmarshal(p, &doc); err != nil || doc.SupportedAppProtocolRes == nil {
		h.t.Fatalf("SAP answer %x: %v", p, err)
	}
	return doc.SupportedAppProtocolRes
}

func (h *harness) din(body din.BodyType) (*din.BodyType, error) {
	h.t.Helper()
	b, err := din.Marshal(&din.Document{V2G_Message: &din.V2G_Message{Header: din.MessageHeaderType{SessionID: h.sidOr()}, Body: body}})
	if err != nil {
		h.t.Fatal(err)
	}
	p, _, herr := h.send(b)
	if p == nil {
		return nil, herr
	}
	var doc din.Document
	if _, err := din.Unmarshal(p, &doc); err != nil || doc.V2G_Message == nil {
		h.t.Fatalf("DIN answer %x: %v", p, err)
	}
	if r := doc.V2G_Message.Body.SessionSetupRes; r != nil {
		h.sid = doc.V2G_Message.Header.SessionID
	}
	return &doc.V2G_Message.Body, herr
}

func (h *harness) iso2(body iso2.BodyType) (*iso2.BodyType, error) {
	h.t.Helper()
	b, err := iso2.Marshal(&iso2.Document{V2G_Message: &iso2.V2G_Message{Header: iso2.MessageHeaderType{SessionID: h.sidOr()}, Body: body}})
	if err != nil {
		h.t.Fatal(err)
	}
	p, _, herr := h.send(b)
	if p == nil {
		return nil, herr
	}
	var doc iso2.Document
	if _, err := iso2.Unmarshal(p, &doc); err != nil || doc.V2G_Message == nil {
		h.t.Fatalf("ISO-2 answer %x: %v", p, err)
	}
	if doc.V2G_Message.Body.SessionSetupRes != nil {
		h.sid = doc.V2G_Message.Header.SessionID
	}
	return &doc.V2G_Message.Body, herr
}

func (h *harness) sidOr() []byte {
	if h.sid == nil {
		return []byte{0}
	}
	return h.sid
}

var (
	offerDIN   = apphand.AppProtocolType{ProtocolNamespace: NamespaceDIN, VersionNumberMajor: 2, SchemaID: 1, Priority: 1}
	offerISO2  = apphand.AppProtocolType{ProtocolNamespace: NamespaceISO2, VersionNumberMajor: 2, SchemaID: 2, Priority: 2}
	offerTesla = apphand.AppProtocolType{ProtocolNamespace: NamespaceTesla, VersionNumberMajor: 2, SchemaID: 2, Priority: 1}
)

func TestNegotiate(t *testing.T) {
	din1 := offerDIN
	iso1 := offerISO2
	iso1.Priority = 1
	tests := []struct {
		name   string
		offers []apphand.AppProtocolType
		pref   []Protocol
		want   Offer
		ok     bool
	}{
		{"DIN preferred", []apphand.AppProtocolType{offerISO2, offerDIN}, nil, Offer{ProtocolDIN, NamespaceDIN, 1, false}, true},
		{"ISO-2 preferred", []apphand.AppProtocolType{offerISO2, offerDIN}, []Protocol{ProtocolISO2, ProtocolDIN}, Offer{ProtocolISO2, NamespaceISO2, 2, false}, true},
		{"Tesla and DIN at one priority", []apphand.AppProtocolType{offerTesla, din1}, nil, Offer{ProtocolDIN, NamespaceDIN, 1, false}, true},
		// A Model Y's offer (pyPLC capture): Tesla's namespace 0.7 at a higher priority than DIN.
		{"Model Y", []apphand.AppProtocolType{
			{ProtocolNamespace: NamespaceDIN, VersionNumberMajor: 2, SchemaID: 1, Priority: 2},
			{ProtocolNamespace: NamespaceTesla, VersionNumberMinor: 7, SchemaID: 2, Priority: 1}}, nil, Offer{ProtocolDIN, NamespaceDIN, 1, false}, true},
		{"Tesla alone", []apphand.AppProtocolType{offerTesla}, nil, Offer{ProtocolDIN, NamespaceTesla, 2, false}, true},
		{"ISO-2 only", []apphand.AppProtocolType{iso1}, nil, Offer{ProtocolISO2, NamespaceISO2, 2, false}, true},
		{"minor deviation", []apphand.AppProtocolType{{ProtocolNamespace: NamespaceISO2, VersionNumberMajor: 2, VersionNumberMinor: 1, SchemaID: 0, Priority: 1}}, nil, Offer{ProtocolISO2, NamespaceISO2, 0, true}, true},
		{"ISO-20 only", []apphand.AppProtocolType{{ProtocolNamespace: "urn:iso:std:iso:15118:-20:DC", VersionNumberMajor: 1, SchemaID: 1, Priority: 1}}, nil, Offer{}, false},
		{"old ISO-2 draft", []apphand.AppProtocolType{{ProtocolNamespace: "urn:iso:15118:2:2010:MsgDef", VersionNumberMajor: 1, SchemaID: 1, Priority: 1}}, nil, Offer{}, false},
		{"DIN under an ISO-2-only preference", []apphand.AppProtocolType{offerDIN}, []Protocol{ProtocolISO2}, Offer{}, false},
		{"DIN and ISO-2 under the ac policy", []apphand.AppProtocolType{offerDIN, offerISO2}, Config{Policy: PolicyAC}.withDefaults().Preference, Offer{ProtocolISO2, NamespaceISO2, 2, false}, true},
	}
	for _, tc := range tests {
		got, ok := Negotiate(&apphand.SupportedAppProtocolReq{AppProtocol: tc.offers}, tc.pref)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: got %+v %v, want %+v %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestNoNegotiation(t *testing.T) {
	h := newHarness(t, Config{})
	b, _ := apphand.Marshal(&apphand.Document{SupportedAppProtocolReq: &apphand.SupportedAppProtocolReq{AppProtocol: []apphand.AppProtocolType{
		{ProtocolNamespace: "urn:iso:std:iso:15118:-20:DC", VersionNumberMajor: 1, SchemaID: 1, Priority: 1}}}})
	p, _, err := h.send(b)
	if !errors.Is(err, ErrNoProtocol) {
		t.Fatalf("err = %v, want ErrNoProtocol", err)
	}
	var doc apphand.Document
	if _, derr := apphand.Unmarshal(p, &doc); derr != nil || doc.SupportedAppProtocolRes.ResponseCode != apphand.ResponseCodeFailed_NoNegotiation || doc.SupportedAppProtocolRes.SchemaID != nil {
		t.Fatalf("answer %+v (%v)", doc.SupportedAppProtocolRes, derr)
	}
	if !h.s.Done() {
		t.Error("session goes on after Failed_NoNegotiation")
	}
}

func pvDIN(v int16, mul int8, u din.UnitSymbolType) din.PhysicalValueType {
	return din.PhysicalValueType{Value: v, Multiplier: mul, Unit: &u}
}

// ioniqCPD is the Ioniq's ChargeParameterDiscoveryReq of the pyPLC capture:
// SoC 93, capacity 28000 Wh, request 4128 Wh (Value 4128, m-1 as 412.8? no: m0).
func ioniqCPD() din.BodyType {
	full, bulk := int8(94), int8(83)
	cap := pvDIN(28000, 0, din.UnitSymbolWh)
	req := pvDIN(4128, -1, din.UnitSymbolWh)
	pmax := pvDIN(9800, 1, din.UnitSymbolW)
	return din.BodyType{ChargeParameterDiscoveryReq: &din.ChargeParameterDiscoveryReqType{
		EVRequestedEnergyTransferType: din.EVRequestedEnergyTransferDC_extended,
		DC_EVChargeParameter: &din.DC_EVChargeParameterType{
			DC_EVStatus:           din.DC_EVStatusType{EVReady: true, EVRESSSOC: 93},
			EVMaximumCurrentLimit: pvDIN(125, 0, din.UnitSymbolA),
			EVMaximumPowerLimit:   &pmax,
			EVMaximumVoltageLimit: pvDIN(399, 0, din.UnitSymbolV),
			EVEnergyCapacity:      &cap,
			EVEnergyRequest:       &req,
			FullSOC:               &full,
			BulkSOC:               &bulk,
		},
	}}
}

// dinSetup runs a DIN session up to ChargeParameterDiscovery.
func dinSetup(t *testing.T, h *harness) {
	t.Helper()
	if r := h.sap(offerDIN); r.ResponseCode != apphand.ResponseCodeOK_SuccessfulNegotiation || *r.SchemaID != 1 {
		t.Fatalf("SAP: %+v", r)
	}
	res, err := h.din(din.BodyType{SessionSetupReq: &din.SessionSetupReqType{EVCCID: []byte{0x04, 0x65, 0x65, 0x00, 0x64, 0xc3}}})
	if err != nil || res.SessionSetupRes.ResponseCode != din.ResponseCodeOK_NewSessionEstablished || string(h.sid) != string(testSID[:]) {
		t.Fatalf("SessionSetup: %+v sid %x (%v)", res.SessionSetupRes, h.sid, err)
	}
	res, err = h.din(din.BodyType{ServiceDiscoveryReq: &din.ServiceDiscoveryReqType{}})
	if err != nil || res.ServiceDiscoveryRes.ChargeService.EnergyTransferType != din.EVSESupportedEnergyTransferDC_extended ||
		!res.ServiceDiscoveryRes.ChargeService.FreeService || res.ServiceDiscoveryRes.PaymentOptions.PaymentOption[0] != din.PaymentOptionExternalPayment {
		t.Fatalf("ServiceDiscovery: %+v (%v)", res.ServiceDiscoveryRes, err)
	}
	res, err = h.din(din.BodyType{ServicePaymentSelectionReq: &din.ServicePaymentSelectionReqType{SelectedPaymentOption: din.PaymentOptionExternalPayment,
		SelectedServiceList: din.SelectedServiceListType{SelectedService: []din.SelectedServiceType{{ServiceID: 1}}}}})
	if err != nil || res.ServicePaymentSelectionRes.ResponseCode != din.ResponseCodeOK {
		t.Fatalf("ServicePaymentSelection: %+v (%v)", res.ServicePaymentSelectionRes, err)
	}
	res, err = h.din(din.BodyType{ContractAuthenticationReq: &din.ContractAuthenticationReqType{}})
	if err != nil || res.ContractAuthenticationRes.EVSEProcessing != din.EVSEProcessingFinished {
		t.Fatalf("ContractAuthentication: %+v (%v)", res.ContractAuthenticationRes, err)
	}
}

func TestDINSoCPolicy(t *testing.T) {
	h := newHarness(t, Config{})
	dinSetup(t, h)
	var rec record.Session
	for _, e := range h.events {
		rec.Apply(e)
	}
	if rec.EVCCIDHex() != "0465650064c3" || rec.Protocol != "din" || rec.Namespace != NamespaceDIN {
		t.Fatalf("record after setup: %+v", rec)
	}
	n := len(h.events)
	res, err := h.din(ioniqCPD())
	if err != nil {
		t.Fatal(err)
	}
	cpd := res.ChargeParameterDiscoveryRes
	if cpd.ResponseCode != din.ResponseCodeOK || cpd.EVSEProcessing != din.EVSEProcessingOngoing ||
		cpd.DC_EVSEChargeParameter.DC_EVSEStatus.EVSEStatusCode != din.DC_EVSEStatusCodeEVSE_Ready || cpd.SAScheduleList == nil {
		t.Fatalf("first CPD answer: %+v", cpd)
	}
	// The values were out before the answer.
	if len(h.events) != n+1 || h.events[n].Kind != record.KindValues || h.events[n].Message != message.ChargeParameterDiscoveryReq {
		t.Fatalf("events after CPD: %+v", h.events[n:])
	}
	for _, e := range h.events[n:] {
		rec.Apply(e)
	}
	if rec.SoC.Value != 93 || rec.FullSOC.Value != 94 || rec.BulkSOC.Value != 83 || rec.EnergyCapacityWh.Value != 28000 ||
		rec.EnergyRequestWh.Value != 412.8 || rec.MaxVoltageV.Value != 399 || rec.MaxPowerW.Value != 98000 || rec.MaxCurrentA.Value != 125 {
		t.Fatalf("record: %+v", rec)
	}
	res, err = h.din(ioniqCPD())
	if err != nil || res.ChargeParameterDiscoveryRes.EVSEProcessing != din.EVSEProcessingOngoing ||
		res.ChargeParameterDiscoveryRes.DC_EVSEChargeParameter.DC_EVSEStatus.EVSEStatusCode != din.DC_EVSEStatusCodeEVSE_Shutdown {
		t.Fatalf("second CPD answer: %+v (%v)", res.ChargeParameterDiscoveryRes, err)
	}
	res, err = h.din(din.BodyType{SessionStopReq: &din.SessionStopType{}})
	if err != nil || res.SessionStopRes.ResponseCode != din.ResponseCodeOK || !h.s.Done() {
		t.Fatalf("SessionStop: %+v (%v) done %v", res.SessionStopRes, err, h.s.Done())
	}
	if _, _, err := h.send([]byte{0x80, 0x9a}); !errors.Is(err, ErrEnded) {
		t.Fatalf("request after the end: %v", err)
	}
}

func TestDINSoCCarMovesOn(t *testing.T) {
	for _, next := range []din.BodyType{
		{CableCheckReq: &din.CableCheckReqType{DC_EVStatus: din.DC_EVStatusType{EVReady: true, EVRESSSOC: 93}}},
		{PreChargeReq: &din.PreChargeReqType{DC_EVStatus: din.DC_EVStatusType{EVRESSSOC: 93}, EVTargetVoltage: pvDIN(380, 0, din.UnitSymbolV), EVTargetCurrent: pvDIN(1, 0, din.UnitSymbolA)}},
		{PowerDeliveryReq: &din.PowerDeliveryReqType{ReadyToChargeState: true}},
	} {
		h := newHarness(t, Config{})
		dinSetup(t, h)
		h.din(ioniqCPD())
		res, err := h.din(next)
		if err != nil || responseCode(res) != din.ResponseCodeFAILED || !h.s.Done() {
			t.Errorf("%v: answer %v (%v), done %v", next.Kind(), responseCode(res), err, h.s.Done())
		}
	}
}

func TestDINPlugInHybridStop(t *testing.T) {
	h := newHarness(t, Config{})
	dinSetup(t, h)
	h.din(ioniqCPD())
	res, err := h.din(din.BodyType{PowerDeliveryReq: &din.PowerDeliveryReqType{ReadyToChargeState: false}})
	if err != nil || res.PowerDeliveryRes.ResponseCode != din.ResponseCodeOK {
		t.Fatalf("PowerDelivery(stop): %+v (%v)", res.PowerDeliveryRes, err)
	}
	res, err = h.din(din.BodyType{SessionStopReq: &din.SessionStopType{}})
	if err != nil || res.SessionStopRes.ResponseCode != din.ResponseCodeOK || !h.s.Done() {
		t.Fatalf("SessionStop: %+v (%v)", res.SessionStopRes, err)
	}
}

func TestDINIgnoresShutdown(t *testing.T) {
	h := newHarness(t, Config{MaxOngoing: 3})
	dinSetup(t, h)
	h.din(ioniqCPD()) // values, Ongoing
	for i := 0; i < 3; i++ {
		res, _ := h.din(ioniqCPD())
		if r := res.ChargeParameterDiscoveryRes; r.ResponseCode != din.ResponseCodeOK || r.EVSEProcessing != din.EVSEProcessingOngoing {
			t.Fatalf("round %d: %+v", i, r)
		}
	}
	res, _ := h.din(ioniqCPD())
	if r := res.ChargeParameterDiscoveryRes; r.ResponseCode != din.ResponseCodeFAILED || r.EVSEProcessing != din.EVSEProcessingFinished || !h.s.Done() {
		t.Fatalf("after the bound: %+v", r)
	}
}

func TestDINSessionRules(t *testing.T) {
	h := newHarness(t, Config{})
	dinSetup(t, h)
	h.sid = []byte{1, 2, 3, 4, 5, 6, 7, 8}
	res, err := h.din(ioniqCPD())
	if res == nil {
		t.Fatalf("no answer: %v", err)
	}
	if !errors.Is(err, ErrUnknownSession) || res.ChargeParameterDiscoveryRes.ResponseCode != din.ResponseCodeFAILED_UnknownSession || !h.s.Done() {
		t.Fatalf("wrong SessionID: %v, %v", responseCode(res), err)
	}

	h = newHarness(t, Config{})
	dinSetup(t, h)
	res, err = h.din(din.BodyType{CurrentDemandReq: &din.CurrentDemandReqType{EVTargetCurrent: pvDIN(10, 0, din.UnitSymbolA), EVTargetVoltage: pvDIN(380, 0, din.UnitSymbolV)}})
	if !errors.Is(err, ErrSequence) || res.CurrentDemandRes.ResponseCode != din.ResponseCodeFAILED_SequenceError || !h.s.Done() {
		t.Fatalf("out of order: %v, %v", responseCode(res), err)
	}

	// A repeated request is answered again (cars repeat ContractAuthentication while Ongoing).
	h = newHarness(t, Config{})
	dinSetup(t, h)
	res, err = h.din(din.BodyType{ContractAuthenticationReq: &din.ContractAuthenticationReqType{}})
	if err != nil || res.ContractAuthenticationRes.ResponseCode != din.ResponseCodeOK {
		t.Fatalf("repeated ContractAuthentication: %v, %v", responseCode(res), err)
	}
}

func TestDINUndecodable(t *testing.T) {
	h := newHarness(t, Config{})
	dinSetup(t, h)
	good, _ := din.Marshal(&din.Document{V2G_Message: &din.V2G_Message{Header: din.MessageHeaderType{SessionID: h.sid}, Body: ioniqCPD()}})
	// Cut inside the ChargeParameterDiscoveryReq: the kind is known.
	p, _, err := h.send(good[:len(good)-6])
	var re *RequestError
	if !errors.Is(err, ErrUndecodable) || !errors.As(err, &re) || re.Hex == "" || re.Message != message.ChargeParameterDiscoveryReq {
		t.Fatalf("err = %v", err)
	}
	var doc din.Document
	if _, derr := din.Unmarshal(p, &doc); derr != nil || doc.V2G_Message.Body.ChargeParameterDiscoveryRes.ResponseCode != din.ResponseCodeFAILED {
		t.Fatalf("answer %x (%v)", p, derr)
	}
	// Garbage: no kind, no answer.
	h = newHarness(t, Config{})
	dinSetup(t, h)
	if p, _, err := h.send([]byte{0x80, 0x9a, 0xff, 0xff}); p != nil || !errors.Is(err, ErrUndecodable) {
		t.Fatalf("garbage: %x %v", p, err)
	}
}

func TestDINDCPolicy(t *testing.T) {
	h := newHarness(t, Config{Policy: PolicyDC})
	dinSetup(t, h)
	res, _ := h.din(ioniqCPD())
	if r := res.ChargeParameterDiscoveryRes; r.EVSEProcessing != din.EVSEProcessingFinished || r.ResponseCode != din.ResponseCodeOK {
		t.Fatalf("CPD: %+v", r)
	}
	st := din.DC_EVStatusType{EVReady: true, EVRESSSOC: 60}
	res, _ = h.din(din.BodyType{CableCheckReq: &din.CableCheckReqType{DC_EVStatus: st}})
	if res.CableCheckRes.EVSEProcessing != din.EVSEProcessingOngoing {
		t.Fatalf("first CableCheck: %+v", res.CableCheckRes)
	}
	res, _ = h.din(din.BodyType{CableCheckReq: &din.CableCheckReqType{DC_EVStatus: st}})
	if res.CableCheckRes.EVSEProcessing != din.EVSEProcessingFinished || *res.CableCheckRes.DC_EVSEStatus.EVSEIsolationStatus != din.IsolationLevelValid {
		t.Fatalf("second CableCheck: %+v", res.CableCheckRes)
	}
	var volts []float64
	for i := 0; i < 5; i++ {
		res, _ = h.din(din.BodyType{PreChargeReq: &din.PreChargeReqType{DC_EVStatus: st, EVTargetVoltage: pvDIN(380, 0, din.UnitSymbolV), EVTargetCurrent: pvDIN(2, 0, din.UnitSymbolA)}})
		volts = append(volts, dinValue(res.PreChargeRes.EVSEPresentVoltage))
	}
	if volts[0] != 150 || volts[1] != 300 || volts[2] != 380 || volts[4] != 380 {
		t.Fatalf("PreCharge voltages %v", volts)
	}
	res, _ = h.din(din.BodyType{PowerDeliveryReq: &din.PowerDeliveryReqType{ReadyToChargeState: true}})
	if res.PowerDeliveryRes.ResponseCode != din.ResponseCodeOK {
		t.Fatalf("PowerDelivery: %+v", res.PowerDeliveryRes)
	}
	res, _ = h.din(din.BodyType{CurrentDemandReq: &din.CurrentDemandReqType{DC_EVStatus: st, EVTargetCurrent: pvDIN(200, 0, din.UnitSymbolA), EVTargetVoltage: pvDIN(390, 0, din.UnitSymbolV)}})
	cd := res.CurrentDemandRes
	if cd.ResponseCode != din.ResponseCodeOK || dinValue(cd.EVSEPresentVoltage) != 390 || dinValue(cd.EVSEPresentCurrent) != 125 || !cd.EVSECurrentLimitAchieved {
		t.Fatalf("CurrentDemand: %+v", cd)
	}
	res, _ = h.din(din.BodyType{PowerDeliveryReq: &din.PowerDeliveryReqType{ReadyToChargeState: false}})
	if res.PowerDeliveryRes.ResponseCode != din.ResponseCodeOK {
		t.Fatalf("PowerDelivery (stop): %+v", res.PowerDeliveryRes)
	}
	res, _ = h.din(din.BodyType{WeldingDetectionReq: &din.WeldingDetectionReqType{DC_EVStatus: st}})
	if res.WeldingDetectionRes.ResponseCode != din.ResponseCodeOK || dinValue(res.WeldingDetectionRes.EVSEPresentVoltage) != 0 {
		t.Fatalf("WeldingDetection: %+v", res.WeldingDetectionRes)
	}
	res, _ = h.din(din.BodyType{SessionStopReq: &din.SessionStopType{}})
	if res.SessionStopRes.ResponseCode != din.ResponseCodeOK || !h.s.Done() {
		t.Fatal("SessionStop")
	}
}

func pvISO(v int16, mul int8, u iso2.UnitSymbolType) iso2.PhysicalValueType {
	return iso2.PhysicalValueType{Value: v, Multiplier: mul, Unit: u}
}

func iso2Setup(t *testing.T, h *harness) {
	t.Helper()
	if r := h.sap(offerISO2); r.ResponseCode != apphand.ResponseCodeOK_SuccessfulNegotiation || *r.SchemaID != 2 {
		t.Fatalf("SAP: %+v", r)
	}
	res, err := h.iso2(iso2.BodyType{SessionSetupReq: &iso2.SessionSetupReqType{EVCCID: []byte{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}}})
	if err != nil || res.SessionSetupRes.ResponseCode != iso2.ResponseCodeOK_NewSessionEstablished || res.SessionSetupRes.EVSEID != "ZZ00000" {
		t.Fatalf("SessionSetup: %+v (%v)", res.SessionSetupRes, err)
	}
	res, err = h.iso2(iso2.BodyType{ServiceDiscoveryReq: &iso2.ServiceDiscoveryReqType{}})
	if err != nil || res.ServiceDiscoveryRes.ResponseCode != iso2.ResponseCodeOK {
		t.Fatalf("ServiceDiscovery: %+v (%v)", res.ServiceDiscoveryRes, err)
	}
	h.iso2(iso2.BodyType{PaymentServiceSelectionReq: &iso2.PaymentServiceSelectionReqType{SelectedPaymentOption: iso2.PaymentOptionExternalPayment,
		SelectedServiceList: iso2.SelectedServiceListType{SelectedService: []iso2.SelectedServiceType{{ServiceID: 1}}}}})
	res, err = h.iso2(iso2.BodyType{AuthorizationReq: &iso2.AuthorizationReqType{}})
	if err != nil || res.AuthorizationRes.EVSEProcessing != iso2.EVSEProcessingFinished {
		t.Fatalf("Authorization: %+v (%v)", res.AuthorizationRes, err)
	}
}

func TestISO2SoCPolicy(t *testing.T) {
	h := newHarness(t, Config{})
	iso2Setup(t, h)
	cpd := iso2DCCPD()
	res, err := h.iso2(cpd)
	if err != nil || res.ChargeParameterDiscoveryRes.EVSEProcessing != iso2.EVSEProcessingOngoing {
		t.Fatalf("first CPD: %+v (%v)", res.ChargeParameterDiscoveryRes, err)
	}
	res, _ = h.iso2(cpd)
	if res.ChargeParameterDiscoveryRes.DC_EVSEChargeParameter.DC_EVSEStatus.EVSEStatusCode != iso2.DC_EVSEStatusCodeEVSE_Shutdown {
		t.Fatalf("second CPD: %+v", res.ChargeParameterDiscoveryRes)
	}
	res, _ = h.iso2(iso2.BodyType{SessionStopReq: &iso2.SessionStopReqType{}})
	if res.SessionStopRes.ResponseCode != iso2.ResponseCodeOK || !h.s.Done() {
		t.Fatal("SessionStop")
	}
	var rec record.Session
	for _, e := range h.events {
		rec.Apply(e)
	}
	if rec.SoC.Value != 54 || rec.EnergyCapacityWh.Value != 77000 || rec.EVCCIDHex() != "021122334455" || !rec.EVCCID.Random || rec.Protocol != "iso2" {
		t.Fatalf("record: %+v", rec)
	}
}

func TestISO2ACUnderSoCPolicy(t *testing.T) {
	h := newHarness(t, Config{})
	iso2Setup(t, h)
	res, _ := h.iso2(iso2.BodyType{ChargeParameterDiscoveryReq: &iso2.ChargeParameterDiscoveryReqType{
		RequestedEnergyTransferMode: iso2.EnergyTransferModeAC_three_phase_core,
		AC_EVChargeParameter: &iso2.AC_EVChargeParameterType{EAmount: pvISO(20000, 0, iso2.UnitSymbolWh), EVMaxVoltage: pvISO(400, 0, iso2.UnitSymbolV),
			EVMaxCurrent: pvISO(16, 0, iso2.UnitSymbolA), EVMinCurrent: pvISO(6, 0, iso2.UnitSymbolA)},
	}})
	if res.ChargeParameterDiscoveryRes.ResponseCode != iso2.ResponseCodeFAILED_WrongEnergyTransferMode || !h.s.Done() {
		t.Fatalf("AC CPD under soc: %+v", res.ChargeParameterDiscoveryRes)
	}
}

func TestISO2ACPolicy(t *testing.T) {
	h := newHarness(t, Config{Policy: PolicyAC})
	iso2Setup(t, h)
	res, _ := h.iso2(iso2.BodyType{ChargeParameterDiscoveryReq: &iso2.ChargeParameterDiscoveryReqType{
		RequestedEnergyTransferMode: iso2.EnergyTransferModeAC_three_phase_core,
		AC_EVChargeParameter: &iso2.AC_EVChargeParameterType{EAmount: pvISO(20000, 0, iso2.UnitSymbolWh), EVMaxVoltage: pvISO(400, 0, iso2.UnitSymbolV),
			EVMaxCurrent: pvISO(16, 0, iso2.UnitSymbolA), EVMinCurrent: pvISO(6, 0, iso2.UnitSymbolA)},
	}})
	if r := res.ChargeParameterDiscoveryRes; r.ResponseCode != iso2.ResponseCodeOK || r.AC_EVSEChargeParameter == nil || r.SAScheduleList == nil {
		t.Fatalf("AC CPD: %+v", r)
	}
	res, _ = h.iso2(iso2.BodyType{PowerDeliveryReq: &iso2.PowerDeliveryReqType{ChargeProgress: iso2.ChargeProgressStart, SAScheduleTupleID: 1}})
	if res.PowerDeliveryRes.ResponseCode != iso2.ResponseCodeOK || res.PowerDeliveryRes.AC_EVSEStatus == nil {
		t.Fatalf("PowerDelivery: %+v", res.PowerDeliveryRes)
	}
	for i := 0; i < 3; i++ {
		res, _ = h.iso2(iso2.BodyType{ChargingStatusReq: &iso2.ChargingStatusReqType{}})
		if res.ChargingStatusRes.ResponseCode != iso2.ResponseCodeOK {
			t.Fatalf("ChargingStatus: %+v", res.ChargingStatusRes)
		}
	}
	h.iso2(iso2.BodyType{PowerDeliveryReq: &iso2.PowerDeliveryReqType{ChargeProgress: iso2.ChargeProgressStop, SAScheduleTupleID: 1}})
	res, _ = h.iso2(iso2.BodyType{SessionStopReq: &iso2.SessionStopReqType{}})
	if res.SessionStopRes.ResponseCode != iso2.ResponseCodeOK || !h.s.Done() {
		t.Fatal("SessionStop")
	}
}

func TestFailedAnswersEncode(t *testing.T) {
	for k := din.MessageKind(0); k < din.NumMessageKinds; k++ {
		if b := dinFailed(k, din.ResponseCodeFAILED); b != nil {
			if _, err := din.Marshal(&din.Document{V2G_Message: &din.V2G_Message{Header: din.MessageHeaderType{SessionID: testSID[:]}, Body: *b}}); err != nil {
				t.Errorf("DIN FAILED answer to %v: %v", k, err)
			}
		} else if isDINRequest(k) && k != din.KindCertificateUpdateReq && k != din.KindCertificateInstallationReq {
			t.Errorf("DIN request %v has no FAILED answer", k)
		}
	}
	for k := iso2.MessageKind(0); k < iso2.NumMessageKinds; k++ {
		if b := iso2Failed(k, iso2.ResponseCodeFAILED, ""); b != nil {
			if _, err := iso2.Marshal(&iso2.Document{V2G_Message: &iso2.V2G_Message{Header: iso2.MessageHeaderType{SessionID: testSID[:]}, Body: *b}}); err != nil {
				t.Errorf("ISO-2 FAILED answer to %v: %v", k, err)
			}
		} else if iso2IsRequest(k) && k != iso2.KindCertificateUpdateReq && k != iso2.KindCertificateInstallationReq {
			t.Errorf("ISO-2 request %v has no FAILED answer", k)
		}
	}
}

// iso2DCCPD is an ISO-2 DC car's ChargeParameterDiscoveryReq (SoC 54 %).
func iso2DCCPD() iso2.BodyType {
	cap := pvISO(7700, 1, iso2.UnitSymbolWh)
	return iso2.BodyType{ChargeParameterDiscoveryReq: &iso2.ChargeParameterDiscoveryReqType{
		RequestedEnergyTransferMode: iso2.EnergyTransferModeDC_extended,
		DC_EVChargeParameter: &iso2.DC_EVChargeParameterType{DC_EVStatus: iso2.DC_EVStatusType{EVReady: true, EVRESSSOC: 54},
			EVMaximumCurrentLimit: pvISO(350, 0, iso2.UnitSymbolA), EVMaximumVoltageLimit: pvISO(460, 0, iso2.UnitSymbolV), EVEnergyCapacity: &cap},
	}}
}

// Under the soc policy a car that goes on past ChargeParameterDiscovery
// gets FAILED, as under DIN.
func TestISO2SoCCarMovesOn(t *testing.T) {
	for _, next := range []iso2.BodyType{
		{CableCheckReq: &iso2.CableCheckReqType{DC_EVStatus: iso2.DC_EVStatusType{EVReady: true, EVRESSSOC: 54}}},
		{PreChargeReq: &iso2.PreChargeReqType{DC_EVStatus: iso2.DC_EVStatusType{EVRESSSOC: 54}, EVTargetVoltage: pvISO(380, 0, iso2.UnitSymbolV), EVTargetCurrent: pvISO(1, 0, iso2.UnitSymbolA)}},
		{PowerDeliveryReq: &iso2.PowerDeliveryReqType{ChargeProgress: iso2.ChargeProgressStart, SAScheduleTupleID: 1}},
	} {
		h := newHarness(t, Config{})
		iso2Setup(t, h)
		h.iso2(iso2DCCPD())
		res, err := h.iso2(next)
		if err != nil || responseCode(res) != iso2.ResponseCodeFAILED || !h.s.Done() {
			t.Errorf("%v: answer %v (%v), done %v", next.Kind(), responseCode(res), err, h.s.Done())
		}
	}
}

// A car that stops after the values (PowerDelivery Stop, SessionStop) ends
// the session normally, as under DIN.
func TestISO2PlugInHybridStop(t *testing.T) {
	h := newHarness(t, Config{})
	iso2Setup(t, h)
	h.iso2(iso2DCCPD())
	res, err := h.iso2(iso2.BodyType{PowerDeliveryReq: &iso2.PowerDeliveryReqType{ChargeProgress: iso2.ChargeProgressStop, SAScheduleTupleID: 1}})
	if err != nil || res.PowerDeliveryRes.ResponseCode != iso2.ResponseCodeOK {
		t.Fatalf("PowerDelivery(stop): %+v (%v)", res.PowerDeliveryRes, err)
	}
	res, err = h.iso2(iso2.BodyType{SessionStopReq: &iso2.SessionStopReqType{}})
	if err != nil || res.SessionStopRes.ResponseCode != iso2.ResponseCodeOK || !h.s.Done() {
		t.Fatalf("SessionStop: %+v (%v)", res.SessionStopRes, err)
	}
}

// A car that ignores EVSE_Shutdown is answered Ongoing MaxOngoing times,
// then FAILED, as under DIN.
func TestISO2IgnoresShutdown(t *testing.T) {
	h := newHarness(t, Config{MaxOngoing: 3})
	iso2Setup(t, h)
	h.iso2(iso2DCCPD()) // values, Ongoing
	for i := 0; i < 3; i++ {
		res, _ := h.iso2(iso2DCCPD())
		if r := res.ChargeParameterDiscoveryRes; r.ResponseCode != iso2.ResponseCodeOK || r.EVSEProcessing != iso2.EVSEProcessingOngoing {
			t.Fatalf("round %d: %+v", i, r)
		}
	}
	res, _ := h.iso2(iso2DCCPD())
	if r := res.ChargeParameterDiscoveryRes; r.ResponseCode != iso2.ResponseCodeFAILED || r.EVSEProcessing != iso2.EVSEProcessingFinished || !h.s.Done() {
		t.Fatalf("after the bound: %+v", r)
	}
}

// A wrong SessionID and a request out of order end the session with their
// own codes; a repeated request is answered again, as under DIN.
func TestISO2SessionRules(t *testing.T) {
	h := newHarness(t, Config{})
	iso2Setup(t, h)
	h.sid = []byte{1, 2, 3, 4, 5, 6, 7, 8}
	res, err := h.iso2(iso2DCCPD())
	if res == nil {
		t.Fatalf("no answer: %v", err)
	}
	if !errors.Is(err, ErrUnknownSession) || res.ChargeParameterDiscoveryRes.ResponseCode != iso2.ResponseCodeFAILED_UnknownSession || !h.s.Done() {
		t.Fatalf("wrong SessionID: %v, %v", responseCode(res), err)
	}

	h = newHarness(t, Config{})
	iso2Setup(t, h)
	res, err = h.iso2(iso2.BodyType{CurrentDemandReq: &iso2.CurrentDemandReqType{EVTargetCurrent: pvISO(10, 0, iso2.UnitSymbolA), EVTargetVoltage: pvISO(380, 0, iso2.UnitSymbolV)}})
	if !errors.Is(err, ErrSequence) || res.CurrentDemandRes.ResponseCode != iso2.ResponseCodeFAILED_SequenceError || !h.s.Done() {
		t.Fatalf("out of order: %v, %v", responseCode(res), err)
	}

	// Cars repeat Authorization while the charger answers Ongoing.
	h = newHarness(t, Config{})
	iso2Setup(t, h)
	res, err = h.iso2(iso2.BodyType{AuthorizationReq: &iso2.AuthorizationReqType{}})
	if err != nil || res.AuthorizationRes.ResponseCode != iso2.ResponseCodeOK {
		t.Fatalf("repeated Authorization: %v, %v", responseCode(res), err)
	}
}
