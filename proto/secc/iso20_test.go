package secc

import (
	"bytes"
	"context"
	"errors"
	"net"
	"slices"
	"testing"

	"github.com/ccslink/ccslink/proto/evcc"
	"github.com/ccslink/ccslink/proto/exi"
	"github.com/ccslink/ccslink/proto/v2g/apphand"
	"github.com/ccslink/ccslink/proto/v2g/iso20"
	"github.com/ccslink/ccslink/proto/v2g/iso20/ac"
	"github.com/ccslink/ccslink/proto/v2g/iso20/dc"
	"github.com/ccslink/ccslink/proto/v2g/message"
	"github.com/ccslink/ccslink/proto/v2gtp"
	"github.com/ccslink/ccslink/record"
)

var offerISO20 = apphand.AppProtocolType{ProtocolNamespace: NamespaceISO20AC, VersionNumberMajor: 1, SchemaID: 3, Priority: 1}

var offerISO20DC = apphand.AppProtocolType{ProtocolNamespace: NamespaceISO20DC, VersionNumberMajor: 1, SchemaID: 4, Priority: 2}

// iso20Req is one request of a car in ISO-20: its payload type and document.
type iso20Req struct {
	typ    v2gtp.PayloadType
	common *iso20.Document
	ac     *ac.Document
	dc     *dc.Document
}

func (q iso20Req) marshal(t testing.TB) []byte {
	t.Helper()
	var b []byte
	var err error
	switch q.typ {
	case v2gtp.TypeISO20AC:
		b, err = ac.Marshal(q.ac)
	case v2gtp.TypeISO20DC:
		b, err = dc.Marshal(q.dc)
	default:
		b, err = iso20.Marshal(q.common)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// send20 sends one ISO-20 request and returns the answer's payload type and EXI.
func (h *harness) send20(typ v2gtp.PayloadType, payload []byte) (v2gtp.PayloadType, []byte, Step, error) {
	h.t.Helper()
	h.now = h.now.Add(50 * 1e6)
	out, step, err := h.s.Handle(h.now, v2gtp.Header{Type: typ, Length: uint32(len(payload))}, payload, nil)
	if len(out) == 0 {
		return 0, nil, step, err
	}
	hd, p, rest, serr := v2gtp.Split(out)
	if serr != nil || len(rest) != 0 {
		h.t.Fatalf("answer is not one V2GTP message: %x (%v)", out, serr)
	}
	return hd.Type, p, step, err
}

func hdr(sid []byte) iso20.MessageHeaderType {
	return iso20.MessageHeaderType{SessionID: sid, TimeStamp: uint64(t0.Unix())}
}

func rat(v int16, e int8) iso20.RationalNumberType {
	return iso20.RationalNumberType{Value: v, Exponent: e}
}

func i8(v int8) *int8 { return &v }

// iso20Car is an ISO-20 AC car's requests from SessionSetup to SessionStop,
// with loops AC_ChargeLoopReqs whose PresentSOC rises from 40 %.
func iso20Car(sid []byte, loops int) []iso20Req {
	c := func(d iso20.Document) iso20Req { return iso20Req{typ: v2gtp.TypeISO20CommonMessages, common: &d} }
	a := func(d ac.Document) iso20Req { return iso20Req{typ: v2gtp.TypeISO20AC, ac: &d} }
	zero := make([]byte, 8)
	q := []iso20Req{
		c(iso20.Document{SessionSetupReq: &iso20.SessionSetupReqType{Header: hdr(zero), EVCCID: "007DFA0790AF"}}),
		c(iso20.Document{AuthorizationSetupReq: &iso20.AuthorizationSetupReqType{Header: hdr(sid)}}),
		c(iso20.Document{AuthorizationReq: &iso20.AuthorizationReqType{Header: hdr(sid), SelectedAuthorizationService: iso20.AuthorizationEIM, EIM_AReqAuthorizationMode: &iso20.EIM_AReqAuthorizationModeType{}}}),
		c(iso20.Document{ServiceDiscoveryReq: &iso20.ServiceDiscoveryReqType{Header: hdr(sid)}}),
		c(iso20.Document{ServiceDetailReq: &iso20.ServiceDetailReqType{Header: hdr(sid), ServiceID: 1}}),
		c(iso20.Document{ServiceSelectionReq: &iso20.ServiceSelectionReqType{Header: hdr(sid), SelectedEnergyTransferService: iso20.SelectedServiceType{ServiceID: 1, ParameterSetID: 1}}}),
		a(ac.Document{AC_ChargeParameterDiscoveryReq: &ac.AC_ChargeParameterDiscoveryReqType{Header: hdr(sid),
			AC_CPDReqEnergyTransferMode: &ac.AC_CPDReqEnergyTransferModeType{EVMaximumChargePower: rat(11, 3), EVMinimumChargePower: rat(1380, 0)}}}),
		c(iso20.Document{ScheduleExchangeReq: &iso20.ScheduleExchangeReqType{Header: hdr(sid), MaximumSupportingPoints: 1024,
			Dynamic_SEReqControlMode: &iso20.Dynamic_SEReqControlModeType{DepartureTime: 7200, TargetSOC: i8(80), EVTargetEnergyRequest: rat(30, 3), EVMaximumEnergyRequest: rat(46, 3), EVMinimumEnergyRequest: rat(0, 0)}}}),
		c(iso20.Document{PowerDeliveryReq: &iso20.PowerDeliveryReqType{Header: hdr(sid), ChargeProgress: iso20.ChargeProgressStart}}),
	}
	for i := range loops {
		q = append(q, a(ac.Document{AC_ChargeLoopReq: &ac.AC_ChargeLoopReqType{Header: hdr(sid),
			DisplayParameters: &iso20.DisplayParametersType{PresentSOC: i8(int8(40 + i)), TargetSOC: i8(80), BatteryEnergyCapacity: &iso20.RationalNumberType{Value: 77, Exponent: 3}},
			Dynamic_AC_CLReqControlMode: &ac.Dynamic_AC_CLReqControlModeType{EVTargetEnergyRequest: rat(30, 3), EVMaximumEnergyRequest: rat(46, 3),
				EVMaximumChargePower: rat(11, 3), EVMinimumChargePower: rat(1380, 0), EVPresentActivePower: rat(11, 3)}}}))
	}
	return append(q,
		c(iso20.Document{PowerDeliveryReq: &iso20.PowerDeliveryReqType{Header: hdr(sid), ChargeProgress: iso20.ChargeProgressStop}}),
		c(iso20.Document{SessionStopReq: &iso20.SessionStopReqType{Header: hdr(sid), ChargingSession: iso20.ChargingSessionTerminate}}))
}

// wantISO20 is the answers the charger owes iso20Car under the ac
// policy, built by hand through the codec.
func wantISO20(sid []byte, loops int) []iso20Req {
	c := func(d iso20.Document) iso20Req { return iso20Req{typ: v2gtp.TypeISO20CommonMessages, common: &d} }
	a := func(d ac.Document) iso20Req { return iso20Req{typ: v2gtp.TypeISO20AC, ac: &d} }
	h := hdr(sid)
	ok := iso20.ResponseCodeOK
	i32 := func(v int32) *int32 { return &v }
	q := []iso20Req{
		c(iso20.Document{SessionSetupRes: &iso20.SessionSetupResType{Header: h, ResponseCode: iso20.ResponseCodeOK_NewSessionEstablished, EVSEID: "DE*CCS*E1"}}),
		c(iso20.Document{AuthorizationSetupRes: &iso20.AuthorizationSetupResType{Header: h, ResponseCode: ok,
			AuthorizationServices: []iso20.AuthorizationType{iso20.AuthorizationEIM}, EIM_ASResAuthorizationMode: &iso20.EIM_ASResAuthorizationModeType{}}}),
		c(iso20.Document{AuthorizationRes: &iso20.AuthorizationResType{Header: h, ResponseCode: ok, EVSEProcessing: iso20.ProcessingFinished}}),
		c(iso20.Document{ServiceDiscoveryRes: &iso20.ServiceDiscoveryResType{Header: h, ResponseCode: ok,
			EnergyTransferServiceList: iso20.ServiceListType{Service: []iso20.ServiceType{{ServiceID: 1, FreeService: true}}}}}),
		c(iso20.Document{ServiceDetailRes: &iso20.ServiceDetailResType{Header: h, ResponseCode: ok, ServiceID: 1,
			ServiceParameterList: iso20.ServiceParameterListType{ParameterSet: []iso20.ParameterSetType{{ParameterSetID: 1, Parameter: []iso20.ParameterType{
				{Name: "Connector", IntValue: i32(2)}, {Name: "ControlMode", IntValue: i32(2)}, {Name: "EVSENominalVoltage", IntValue: i32(230)},
				{Name: "MobilityNeedsMode", IntValue: i32(1)}, {Name: "Pricing", IntValue: i32(0)}}},
				// Scheduled mode (ControlMode 1), offered beside dynamic.
				{ParameterSetID: 2, Parameter: []iso20.ParameterType{
					{Name: "Connector", IntValue: i32(2)}, {Name: "ControlMode", IntValue: i32(1)}, {Name: "EVSENominalVoltage", IntValue: i32(230)},
					{Name: "MobilityNeedsMode", IntValue: i32(1)}, {Name: "Pricing", IntValue: i32(0)}}}}}}}),
		c(iso20.Document{ServiceSelectionRes: &iso20.ServiceSelectionResType{Header: h, ResponseCode: ok}}),
		a(ac.Document{AC_ChargeParameterDiscoveryRes: &ac.AC_ChargeParameterDiscoveryResType{Header: h, ResponseCode: ok,
			AC_CPDResEnergyTransferMode: &ac.AC_CPDResEnergyTransferModeType{EVSEMaximumChargePower: rat(22080, 0), EVSEMinimumChargePower: rat(4140, 0), EVSENominalFrequency: rat(50, 0)}}}),
		c(iso20.Document{ScheduleExchangeRes: &iso20.ScheduleExchangeResType{Header: h, ResponseCode: ok, EVSEProcessing: iso20.ProcessingFinished,
			Dynamic_SEResControlMode: &iso20.Dynamic_SEResControlModeType{}}}),
		c(iso20.Document{PowerDeliveryRes: &iso20.PowerDeliveryResType{Header: h, ResponseCode: ok}}),
	}
	for range loops {
		q = append(q, a(ac.Document{AC_ChargeLoopRes: &ac.AC_ChargeLoopResType{Header: h, ResponseCode: ok,
			Dynamic_AC_CLResControlMode: &ac.Dynamic_AC_CLResControlModeType{EVSETargetActivePower: rat(22080, 0)}}}))
	}
	return append(q,
		c(iso20.Document{PowerDeliveryRes: &iso20.PowerDeliveryResType{Header: h, ResponseCode: ok}}),
		c(iso20.Document{SessionStopRes: &iso20.SessionStopResType{Header: h, ResponseCode: ok}}))
}

// iso20Config serves -20 first, AC or DC as the car prefers, so that the
// tests reach every -20 session whatever else the car offers.
func iso20Config(p PolicyName) Config {
	return Config{Policy: p, EVSEID: "DE*CCS*E1", Preference: append([]Protocol{ProtocolISO20}, Config{Policy: p}.withDefaults().Preference...)}
}

func TestNegotiateISO20(t *testing.T) {
	iso2 := offerISO2
	iso2.Priority = 2
	for _, c := range []struct {
		name   string
		pref   []Protocol
		offers []apphand.AppProtocolType
		want   Protocol
		ok     bool
	}{
		{"default: not served", nil, []apphand.AppProtocolType{offerISO20}, ProtocolNone, false},
		{"default: ISO-2 beside it", nil, []apphand.AppProtocolType{offerISO20, iso2}, ProtocolISO2, true},
		{"enabled: below ISO-2", PreferenceISO20(PolicySoC, false), []apphand.AppProtocolType{offerISO20, iso2}, ProtocolISO2, true},
		{"enabled: alone", PreferenceISO20(PolicySoC, false), []apphand.AppProtocolType{offerISO20}, ProtocolISO20, true},
		{"enabled first", PreferenceISO20(PolicyAC, true), []apphand.AppProtocolType{iso2, offerISO20}, ProtocolISO20, true},
		{"DC namespace: default not served", nil, []apphand.AppProtocolType{offerISO20DC}, ProtocolNone, false},
		{"DC namespace: enabled", PreferenceISO20(PolicyDC, false), []apphand.AppProtocolType{offerISO20DC}, ProtocolISO20, true},
		{"version 2: not served", PreferenceISO20(PolicySoC, true), []apphand.AppProtocolType{{ProtocolNamespace: NamespaceISO20AC, VersionNumberMajor: 2, SchemaID: 4}}, ProtocolNone, false},
	} {
		o, ok := Negotiate(&apphand.SupportedAppProtocolReq{AppProtocol: c.offers}, c.pref)
		if o.Protocol != c.want || ok != c.ok {
			t.Errorf("%s: %v %v, want %v %v", c.name, o.Protocol, ok, c.want, c.ok)
		}
	}
	// Of -20 AC and DC, ProtocolISO20 takes the car's priority; the
	// charger's own preference takes AC, or DC under dc.
	acLow := offerISO20
	acLow.Priority = 3
	din := offerDIN
	din.Priority = 5
	for _, c := range []struct {
		pref   []Protocol
		offers []apphand.AppProtocolType
		ns     string
		id     uint8
	}{
		{[]Protocol{ProtocolISO20}, []apphand.AppProtocolType{offerISO20, offerISO20DC}, NamespaceISO20AC, 3},
		{[]Protocol{ProtocolISO20}, []apphand.AppProtocolType{acLow, offerISO20DC}, NamespaceISO20DC, 4},
		{PreferenceISO20(PolicySoC, true), []apphand.AppProtocolType{acLow, offerISO20DC}, NamespaceISO20AC, 3},
		{PreferenceISO20(PolicyAC, false), []apphand.AppProtocolType{acLow, offerISO20DC}, NamespaceISO20AC, 3},
		{PreferenceISO20(PolicyDC, true), []apphand.AppProtocolType{offerISO20, offerISO20DC}, NamespaceISO20DC, 4},
		// Under soc a -20 DC car that offers DIN too gets DIN.
		{PreferenceISO20(PolicySoC, true), []apphand.AppProtocolType{offerISO20DC, din}, NamespaceDIN, 1},
		{PreferenceISO20(PolicySoC, true), []apphand.AppProtocolType{offerISO20DC}, NamespaceISO20DC, 4},
		{PreferenceISO20(PolicyDC, true), []apphand.AppProtocolType{offerISO20DC, din}, NamespaceISO20DC, 4},
	} {
		o, ok := Negotiate(&apphand.SupportedAppProtocolReq{AppProtocol: c.offers}, c.pref)
		if !ok || o.Namespace != c.ns || o.SchemaID != c.id || (o.Protocol == ProtocolISO20) != (c.ns != NamespaceDIN) {
			t.Errorf("%v, offers %v: %+v %v, want %s schema %d", c.pref, c.offers, o, ok, c.ns, c.id)
		}
	}
	for _, c := range []struct {
		pol   PolicyName
		first bool
		want  []Protocol
	}{
		{PolicySoC, false, []Protocol{ProtocolDIN, ProtocolISO2, ProtocolISO20AC, ProtocolISO20DC}},
		{PolicySoC, true, []Protocol{ProtocolISO20AC, ProtocolDIN, ProtocolISO2, ProtocolISO20DC}},
		{PolicyAC, false, []Protocol{ProtocolISO2, ProtocolDIN, ProtocolISO20AC, ProtocolISO20DC}},
		{PolicyAC, true, []Protocol{ProtocolISO20AC, ProtocolISO2, ProtocolDIN, ProtocolISO20DC}},
		{PolicyDC, false, []Protocol{ProtocolDIN, ProtocolISO2, ProtocolISO20DC, ProtocolISO20AC}},
		{PolicyDC, true, []Protocol{ProtocolISO20DC, ProtocolDIN, ProtocolISO2, ProtocolISO20AC}},
	} {
		if got := PreferenceISO20(c.pol, c.first); !slices.Equal(got, c.want) {
			t.Errorf("%v first %v: preference %v, want %v", c.pol, c.first, got, c.want)
		}
	}
}

// TestISO20ACSession plays a whole -20 AC session under the ac policy and
// compares every answer, byte for byte, with one marshalled by hand.
func TestISO20ACSession(t *testing.T) {
	const loops = 5
	h := newHarness(t, iso20Config(PolicyAC))
	if res := h.sap(offerISO2, offerISO20); res.ResponseCode != apphand.ResponseCodeOK_SuccessfulNegotiation || *res.SchemaID != 3 {
		t.Fatalf("handshake: %v", res)
	}
	if h.s.Protocol() != ProtocolISO20 {
		t.Fatalf("protocol %v", h.s.Protocol())
	}
	reqs, want := iso20Car(testSID[:], loops), wantISO20(testSID[:], loops)
	for i, q := range reqs {
		typ, got, step, err := h.send20(q.typ, q.marshal(t))
		if err != nil {
			t.Fatalf("request %d (%v): %v", i, step.Request, err)
		}
		if typ != q.typ {
			t.Errorf("request %d: answered in payload type %v, want %v", i, typ, q.typ)
		}
		if w := want[i].marshal(t); !bytes.Equal(got, w) {
			t.Errorf("request %d (%v): answer\n%x\nwant\n%x", i, step.Request, got, w)
		}
	}
	if !h.s.Done() {
		t.Error("the session goes on after SessionStop")
	}
	// One values event per loop, each with its SoC, and the record keeps them.
	var rec record.Session
	var socs []int
	for _, e := range h.events {
		rec.Apply(e)
		if e.Kind == record.KindValues && e.Message == message.AC_ChargeLoopReq {
			socs = append(socs, *e.Values.SoC)
		}
	}
	if len(socs) != loops || socs[0] != 40 || socs[loops-1] != 40+loops-1 {
		t.Fatalf("loop SoCs %v", socs)
	}
	d := rec.Display
	if d == nil || d.Loops != loops || d.WithParameters != loops || d.SoCUpdateCount != loops || d.Mode != "dynamic" || len(d.SoCUpdates) != loops ||
		d.SoCUpdates[loops-1].SoC != 44 || !d.SoCUpdates[loops-1].At.Equal(h.now.Add(-100*1e6)) {
		t.Fatalf("display %+v", d)
	}
	if got := d.Sent; len(got) != 3 || got[0] != "PresentSOC" || got[1] != "TargetSOC" || got[2] != "BatteryEnergyCapacity" {
		t.Errorf("sent %v", got)
	}
	if len(d.Missing) != 7 || d.Missing[0] != "MinimumSOC" {
		t.Errorf("missing %v", d.Missing)
	}
	if rec.SoC.Value != 44 || rec.EnergyCapacityWh.Value != 77000 || rec.MaxPowerW.Value != 11000 || rec.EVCCID.Hex != "007dfa0790af" || rec.Protocol != "iso20" {
		t.Errorf("record %+v", rec)
	}
}

// TestISO20SoCPolicy: the soc policy reads the first loop's SoC and tells
// the car to terminate; a loop after that gets FAILED.
func TestISO20SoCPolicy(t *testing.T) {
	reqs := iso20Car(testSID[:], 2)
	var doc ac.Document
	// The first loop's answer: Terminate.
	h2 := newHarness(t, iso20Config(PolicySoC))
	h2.sap(offerISO20)
	var ans []byte
	for _, q := range reqs[:10] {
		_, ans, _, _ = h2.send20(q.typ, q.marshal(t))
	}
	if _, err := ac.Unmarshal(ans, &doc); err != nil || doc.AC_ChargeLoopRes == nil {
		t.Fatalf("loop answer %x: %v", ans, err)
	}
	if r := doc.AC_ChargeLoopRes; r.ResponseCode != iso20.ResponseCodeOK || r.EVSEStatus == nil || r.EVSEStatus.EVSENotification != iso20.EvseNotificationTerminate {
		t.Fatalf("first loop answer %+v", r)
	}
	// A second loop: FAILED, the session over.
	_, ans, step, err := h2.send20(reqs[10].typ, reqs[10].marshal(t))
	if err != nil || step.Code != "FAILED" || !h2.s.Done() {
		t.Fatalf("second loop: %q %v done=%v", step.Code, err, h2.s.Done())
	}
	doc = ac.Document{}
	if _, err := ac.Unmarshal(ans, &doc); err != nil || doc.AC_ChargeLoopRes == nil || doc.AC_ChargeLoopRes.ResponseCode != iso20.ResponseCodeFAILED ||
		doc.AC_ChargeLoopRes.EVSEStatus.EVSENotification != iso20.EvseNotificationTerminate {
		t.Fatalf("second loop answer %x: %v", ans, err)
	}
	// Its SoC is still recorded.
	if e := h2.events[len(h2.events)-1]; e.Kind != record.KindValues || *e.Values.SoC != 41 {
		t.Fatalf("last event %+v", e)
	}
	var rec2 record.Session
	for _, e := range h2.events {
		rec2.Apply(e)
	}
	if d := rec2.Display; d.Loops != 2 || d.SoCUpdateCount != 2 || rec2.SoC.Value != 41 {
		t.Fatalf("record of a car looping on: %+v", d)
	}
	// The car that stops instead: PowerDelivery(Stop), SessionStop.
	h3 := newHarness(t, iso20Config(PolicySoC))
	h3.sap(offerISO20)
	all := append(append([]iso20Req(nil), reqs[:10]...), reqs[len(reqs)-2:]...)
	for i, q := range all {
		if _, _, step, err := h3.send20(q.typ, q.marshal(t)); err != nil || step.Code[:2] != "OK" {
			t.Fatalf("request %d: %q %v", i, step.Code, err)
		}
	}
	if !h3.s.Done() {
		t.Fatal("not ended")
	}
	var rec record.Session
	for _, e := range h3.events {
		rec.Apply(e)
	}
	if rec.SoC.Value != 40 || rec.Display.SoCUpdateCount != 1 {
		t.Fatalf("record SoC %+v display %+v", rec.SoC, rec.Display)
	}
}

// TestISO20NoDisplayParameters: a car that sends no DisplayParameters is
// recorded as such.
func TestISO20NoDisplayParameters(t *testing.T) {
	h := newHarness(t, iso20Config(PolicySoC))
	h.sap(offerISO20)
	reqs := iso20Car(testSID[:], 1)
	reqs[9].ac.AC_ChargeLoopReq.DisplayParameters = nil
	for i, q := range reqs {
		if _, _, _, err := h.send20(q.typ, q.marshal(t)); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	var rec record.Session
	for _, e := range h.events {
		rec.Apply(e)
	}
	d := rec.Display
	if rec.SoC.Known || d == nil || d.Loops != 1 || d.WithParameters != 0 || len(d.Sent) != 0 || len(d.Missing) != 10 || d.SoCUpdateCount != 0 {
		t.Fatalf("soc %+v display %+v", rec.SoC, d)
	}
}

// TestISO20SessionRules: a wrong SessionID, a request out of sequence and
// the wrong payload type get their FAILED codes and end the session.
func TestISO20SessionRules(t *testing.T) {
	reqs := iso20Car(testSID[:], 1)
	start := func() *harness {
		h := newHarness(t, iso20Config(PolicyAC))
		h.sap(offerISO20)
		for _, q := range reqs[:3] {
			if _, _, _, err := h.send20(q.typ, q.marshal(t)); err != nil {
				t.Fatal(err)
			}
		}
		return h
	}
	code := func(p []byte) iso20.ResponseCodeType {
		var d iso20.Document
		if _, err := iso20.Unmarshal(p, &d); err != nil {
			t.Fatalf("%x: %v", p, err)
		}
		return responseCode(&d).(iso20.ResponseCodeType)
	}

	h := start()
	bad := iso20Car([]byte{1, 2, 3, 4, 5, 6, 7, 8}, 1)[3]
	_, p, _, err := h.send20(bad.typ, bad.marshal(t))
	if !errors.Is(err, ErrUnknownSession) || code(p) != iso20.ResponseCodeFAILED_UnknownSession || !h.s.Done() {
		t.Fatalf("wrong SessionID: %x %v", p, err)
	}
	// The FAILED answer carries the session's SessionID.
	var d iso20.Document
	iso20.Unmarshal(p, &d)
	if !bytes.Equal(d.ServiceDiscoveryRes.Header.SessionID, testSID[:]) {
		t.Errorf("FAILED answer's SessionID %x", d.ServiceDiscoveryRes.Header.SessionID)
	}

	h = start()
	_, p, _, err = h.send20(reqs[8].typ, reqs[8].marshal(t)) // PowerDelivery before the services
	if !errors.Is(err, ErrSequence) || code(p) != iso20.ResponseCodeFAILED_SequenceError || !h.s.Done() {
		t.Fatalf("out of sequence: %x %v", p, err)
	}

	h = start()
	_, p, _, err = h.send20(reqs[9].typ, reqs[9].marshal(t)) // a charge loop before the services
	var ad ac.Document
	if _, uerr := ac.Unmarshal(p, &ad); uerr != nil || ad.AC_ChargeLoopRes == nil || ad.AC_ChargeLoopRes.ResponseCode != iso20.ResponseCodeFAILED_SequenceError ||
		ad.AC_ChargeLoopRes.EVSEStatus.EVSENotification != iso20.EvseNotificationTerminate || !errors.Is(err, ErrSequence) {
		t.Fatalf("loop out of sequence: %+v %v", ad.AC_ChargeLoopRes, err)
	}

	// ISO-20's messages come in their own payload types, not 0x8001.
	h = start()
	_, _, _, err = h.send20(v2gtp.TypeEXI, reqs[3].marshal(t))
	if !errors.Is(err, ErrPayloadType) {
		t.Fatalf("0x8001 in an ISO-20 session: %v", err)
	}
	// A common message in the AC stream does not decode as AC: FAILED is not owed.
	h = start()
	_, p, _, err = h.send20(v2gtp.TypeISO20AC, reqs[3].marshal(t))
	if !errors.Is(err, ErrUndecodable) || p != nil || !h.s.Done() {
		t.Fatalf("a common message as AC: %x %v", p, err)
	}
	// A selection of a service not offered: FAILED_ServiceSelectionInvalid.
	h = start()
	for _, q := range reqs[3:5] {
		h.send20(q.typ, q.marshal(t))
	}
	sel := reqs[5]
	sel.common.ServiceSelectionReq.SelectedEnergyTransferService.ServiceID = 2
	_, p, _, _ = h.send20(sel.typ, sel.marshal(t))
	if code(p) != iso20.ResponseCodeFAILED_ServiceSelectionInvalid || !h.s.Done() {
		t.Fatalf("DC selected: %x", p)
	}

	// Details of a service not offered: FAILED_ServiceIDInvalid, the end.
	h = start()
	h.send20(reqs[3].typ, reqs[3].marshal(t))
	det := reqs[4]
	det.common.ServiceDetailReq.ServiceID = 2
	_, p, _, _ = h.send20(det.typ, det.marshal(t))
	if code(p) != iso20.ResponseCodeFAILED_ServiceIDInvalid || !h.s.Done() {
		t.Fatalf("details of DC: %x", p)
	}
	// Plug & Charge is not offered: a warning, and the car may choose EIM.
	h = newHarness(t, iso20Config(PolicyAC))
	h.sap(offerISO20)
	for _, q := range reqs[:2] {
		h.send20(q.typ, q.marshal(t))
	}
	pnc := iso20Req{typ: v2gtp.TypeISO20CommonMessages, common: &iso20.Document{AuthorizationReq: &iso20.AuthorizationReqType{Header: hdr(testSID[:]),
		SelectedAuthorizationService: iso20.AuthorizationPnC, PnC_AReqAuthorizationMode: &iso20.PnC_AReqAuthorizationModeType{Id: "id1", GenChallenge: make([]byte, 16),
			ContractCertificateChain: iso20.ContractCertificateChainType{Certificate: []byte{1}, SubCertificates: iso20.SubCertificatesType{Certificate: []exi.Bytes{{2}}}}}}}}
	_, p, _, err = h.send20(pnc.typ, pnc.marshal(t))
	if err != nil || code(p) != iso20.ResponseCodeWARNING_AuthorizationSelectionInvalid || h.s.Done() {
		t.Fatalf("PnC: %x %v", p, err)
	}
	if _, p, _, err = h.send20(reqs[2].typ, reqs[2].marshal(t)); err != nil || code(p) != iso20.ResponseCodeOK {
		t.Fatalf("EIM after PnC: %x %v", p, err)
	}
	if _, p, _, err = h.send20(reqs[3].typ, reqs[3].marshal(t)); err != nil || code(p) != iso20.ResponseCodeOK {
		t.Fatalf("ServiceDiscovery after EIM: %x %v", p, err)
	}

	// The car's next request is due within V2G_SECC_Sequence_Timeout.
	h = start()
	if got := h.s.Deadline(); !got.Equal(h.now.Add(V2G_SECC_Sequence_Timeout)) {
		t.Errorf("deadline %v, want %v", got, h.now.Add(V2G_SECC_Sequence_Timeout))
	}

	// The dc policy serves no AC: FAILED_WrongChargeParameter, the end.
	h = newHarness(t, iso20Config(PolicyDC))
	h.sap(offerISO20)
	fresh := iso20Car(testSID[:], 1) // the tests above changed some of reqs
	for _, q := range fresh[:6] {
		h.send20(q.typ, q.marshal(t))
	}
	_, p, _, err = h.send20(fresh[6].typ, fresh[6].marshal(t))
	ad = ac.Document{}
	if _, uerr := ac.Unmarshal(p, &ad); uerr != nil || err != nil || ad.AC_ChargeParameterDiscoveryRes == nil ||
		ad.AC_ChargeParameterDiscoveryRes.ResponseCode != iso20.ResponseCodeFAILED_WrongChargeParameter || !h.s.Done() {
		t.Fatalf("dc policy: %x %v", p, err)
	}

	// A DIN or ISO-2 session takes no ISO-20 payload type.
	h = newHarness(t, Config{})
	h.sap(offerDIN)
	if _, _, _, err := h.send20(v2gtp.TypeISO20CommonMessages, reqs[0].marshal(t)); !errors.Is(err, ErrPayloadType) {
		t.Fatalf("ISO-20 type in DIN: %v", err)
	}
}

// TestISO20Pause: SessionStop(Pause) ends the TCP session; the car that
// comes back with the SessionID rejoins it.
func TestISO20Pause(t *testing.T) {
	h := newHarness(t, iso20Config(PolicyAC))
	h.sap(offerISO20)
	reqs := iso20Car(testSID[:], 1)
	stop := reqs[len(reqs)-1]
	stop.common.SessionStopReq.ChargingSession = iso20.ChargingSessionPause
	for _, q := range append(reqs[:3], stop) {
		if _, _, _, err := h.send20(q.typ, q.marshal(t)); err != nil {
			t.Fatal(err)
		}
	}
	if !h.s.Done() {
		t.Fatal("pause did not end the session")
	}
	// The next connection of the plug-in shares the SessionIDs.
	s2 := NewSession(iso20Config(PolicyAC), h.now, nil)
	s2.ids = h.s.ids
	h.s = s2
	h.sap(offerISO20)
	setup := reqs[0]
	setup.common.SessionSetupReq.Header.SessionID = testSID[:]
	_, _, step, err := h.send20(setup.typ, setup.marshal(t))
	if err != nil || step.Code != "OK_OldSessionJoined" {
		t.Fatalf("rejoin: %q %v", step.Code, err)
	}
}

// TestISO20CarOverTCP: the simulator's iso20-ac car against the server on
// real sockets, under ac (the SoC of every loop published) and soc (the
// first loop's, then Terminate); a charger without -20 in its preference
// gets ISO-2 from the same car.
func TestISO20CarOverTCP(t *testing.T) {
	p, err := evcc.Lookup("iso20-ac")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		cfg   Config
		proto string
		end   evcc.End
		socs  []int
	}{
		{iso20Config(PolicyAC), "iso20", evcc.EndComplete, []int{40, 41, 42, 43, 44}},
		{iso20Config(PolicySoC), "iso20", evcc.EndShutdown, []int{40}},
		{Config{Policy: PolicyAC}, "iso2", evcc.EndComplete, nil},
	} {
		_, addr, ev := startServer(t, c.cfg)
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		res, err := evcc.Run(context.Background(), conn, evcc.Config{Profile: p})
		conn.Close()
		if err != nil || res.Protocol != c.proto || res.End != c.end {
			t.Fatalf("%v: %s %v %v (steps %+v)", c.cfg.Policy, res.Protocol, res.End, err, res.Steps)
		}
		<-ev.end
		ev.mu.Lock()
		var socs []int
		for _, e := range ev.all {
			if e.Kind == record.KindValues && e.Values.SoC != nil {
				socs = append(socs, *e.Values.SoC)
			}
		}
		ev.mu.Unlock()
		if !slices.Equal(socs, c.socs) {
			t.Errorf("%v %s: SoCs published %v, want %v", c.cfg.Policy, c.proto, socs, c.socs)
		}
	}
}
