package secc

import (
	"bytes"
	"context"
	"errors"
	"net"
	"slices"
	"testing"

	"github.com/ccslink/ccslink/proto/evcc"
	"github.com/ccslink/ccslink/proto/v2g/apphand"
	"github.com/ccslink/ccslink/proto/v2g/iso20"
	"github.com/ccslink/ccslink/proto/v2g/iso20/dc"
	"github.com/ccslink/ccslink/proto/v2g/message"
	"github.com/ccslink/ccslink/proto/v2gtp"
	"github.com/ccslink/ccslink/record"
)

// iso20DCCar is an ISO-20 DC car's requests from SessionSetup to
// SessionStop: two cable checks, three precharges towards 400 V, loops
// DC_ChargeLoopReqs at 400 V whose PresentSOC rises from 30 %, then
// PowerDelivery(Stop), DC_WeldingDetection and SessionStop.
func iso20DCCar(sid []byte, loops int) []iso20Req {
	c := func(d iso20.Document) iso20Req { return iso20Req{typ: v2gtp.TypeISO20CommonMessages, common: &d} }
	d := func(x dc.Document) iso20Req { return iso20Req{typ: v2gtp.TypeISO20DC, dc: &x} }
	zero := make([]byte, 8)
	pre := func(present int16) iso20Req {
		return d(dc.Document{DC_PreChargeReq: &dc.DC_PreChargeReqType{Header: hdr(sid), EVProcessing: iso20.ProcessingOngoing, EVPresentVoltage: rat(present, 0), EVTargetVoltage: rat(400, 0)}})
	}
	q := []iso20Req{
		c(iso20.Document{SessionSetupReq: &iso20.SessionSetupReqType{Header: hdr(zero), EVCCID: "007DFA0790AF"}}),
		c(iso20.Document{AuthorizationSetupReq: &iso20.AuthorizationSetupReqType{Header: hdr(sid)}}),
		c(iso20.Document{AuthorizationReq: &iso20.AuthorizationReqType{Header: hdr(sid), SelectedAuthorizationService: iso20.AuthorizationEIM, EIM_AReqAuthorizationMode: &iso20.EIM_AReqAuthorizationModeType{}}}),
		c(iso20.Document{ServiceDiscoveryReq: &iso20.ServiceDiscoveryReqType{Header: hdr(sid)}}),
		c(iso20.Document{ServiceDetailReq: &iso20.ServiceDetailReqType{Header: hdr(sid), ServiceID: 2}}),
		c(iso20.Document{ServiceSelectionReq: &iso20.ServiceSelectionReqType{Header: hdr(sid), SelectedEnergyTransferService: iso20.SelectedServiceType{ServiceID: 2, ParameterSetID: 1}}}),
		d(dc.Document{DC_ChargeParameterDiscoveryReq: &dc.DC_ChargeParameterDiscoveryReqType{Header: hdr(sid),
			DC_CPDReqEnergyTransferMode: &dc.DC_CPDReqEnergyTransferModeType{EVMaximumChargePower: rat(100, 3), EVMinimumChargePower: rat(0, 0),
				EVMaximumChargeCurrent: rat(250, 0), EVMinimumChargeCurrent: rat(0, 0), EVMaximumVoltage: rat(450, 0), EVMinimumVoltage: rat(200, 0), TargetSOC: i8(80)}}}),
		c(iso20.Document{ScheduleExchangeReq: &iso20.ScheduleExchangeReqType{Header: hdr(sid), MaximumSupportingPoints: 1024,
			Dynamic_SEReqControlMode: &iso20.Dynamic_SEReqControlModeType{DepartureTime: 7200, TargetSOC: i8(80), EVTargetEnergyRequest: rat(40, 3), EVMaximumEnergyRequest: rat(60, 3), EVMinimumEnergyRequest: rat(0, 0)}}}),
		d(dc.Document{DC_CableCheckReq: &dc.DC_CableCheckReqType{Header: hdr(sid)}}),
		d(dc.Document{DC_CableCheckReq: &dc.DC_CableCheckReqType{Header: hdr(sid)}}),
		pre(0), pre(150), pre(300),
		c(iso20.Document{PowerDeliveryReq: &iso20.PowerDeliveryReqType{Header: hdr(sid), ChargeProgress: iso20.ChargeProgressStart}}),
	}
	for i := range loops {
		q = append(q, d(dc.Document{DC_ChargeLoopReq: &dc.DC_ChargeLoopReqType{Header: hdr(sid),
			DisplayParameters: &iso20.DisplayParametersType{PresentSOC: i8(int8(30 + i)), TargetSOC: i8(80), BatteryEnergyCapacity: &iso20.RationalNumberType{Value: 77, Exponent: 3}},
			EVPresentVoltage:  rat(400, 0),
			Dynamic_DC_CLReqControlMode: &dc.Dynamic_DC_CLReqControlModeType{EVTargetEnergyRequest: rat(40, 3), EVMaximumEnergyRequest: rat(60, 3), EVMinimumEnergyRequest: rat(0, 0),
				EVMaximumChargePower: rat(100, 3), EVMinimumChargePower: rat(0, 0), EVMaximumChargeCurrent: rat(250, 0), EVMaximumVoltage: rat(450, 0), EVMinimumVoltage: rat(200, 0)}}}))
	}
	return append(q,
		c(iso20.Document{PowerDeliveryReq: &iso20.PowerDeliveryReqType{Header: hdr(sid), ChargeProgress: iso20.ChargeProgressStop}}),
		d(dc.Document{DC_WeldingDetectionReq: &dc.DC_WeldingDetectionReqType{Header: hdr(sid), EVProcessing: iso20.ProcessingFinished}}),
		c(iso20.Document{SessionStopReq: &iso20.SessionStopReqType{Header: hdr(sid), ChargingSession: iso20.ChargingSessionTerminate}}))
}

// wantISO20DC is the answers the charger owes iso20DCCar under the dc
// policy (soc: the loops' answers tell the car to terminate and deliver
// nothing), with DefaultLimits, built by hand through the codec.
func wantISO20DC(sid []byte, loops int, soc bool) []iso20Req {
	c := func(d iso20.Document) iso20Req { return iso20Req{typ: v2gtp.TypeISO20CommonMessages, common: &d} }
	d := func(x dc.Document) iso20Req { return iso20Req{typ: v2gtp.TypeISO20DC, dc: &x} }
	h := hdr(sid)
	ok := iso20.ResponseCodeOK
	i32 := func(v int32) *int32 { return &v }
	pre := func(v int16) iso20Req {
		return d(dc.Document{DC_PreChargeRes: &dc.DC_PreChargeResType{Header: h, ResponseCode: ok, EVSEPresentVoltage: rat(v, 0)}})
	}
	limits := dc.Dynamic_DC_CLResControlModeType{EVSEMaximumChargePower: rat(5000, 1), EVSEMinimumChargePower: rat(0, 0), EVSEMaximumChargeCurrent: rat(125, 0), EVSEMaximumVoltage: rat(500, 0)}
	q := []iso20Req{
		c(iso20.Document{SessionSetupRes: &iso20.SessionSetupResType{Header: h, ResponseCode: iso20.ResponseCodeOK_NewSessionEstablished, EVSEID: "DE*CCS*E1"}}),
		c(iso20.Document{AuthorizationSetupRes: &iso20.AuthorizationSetupResType{Header: h, ResponseCode: ok,
			AuthorizationServices: []iso20.AuthorizationType{iso20.AuthorizationEIM}, EIM_ASResAuthorizationMode: &iso20.EIM_ASResAuthorizationModeType{}}}),
		c(iso20.Document{AuthorizationRes: &iso20.AuthorizationResType{Header: h, ResponseCode: ok, EVSEProcessing: iso20.ProcessingFinished}}),
		c(iso20.Document{ServiceDiscoveryRes: &iso20.ServiceDiscoveryResType{Header: h, ResponseCode: ok,
			EnergyTransferServiceList: iso20.ServiceListType{Service: []iso20.ServiceType{{ServiceID: 2, FreeService: true}}}}}),
		c(iso20.Document{ServiceDetailRes: &iso20.ServiceDetailResType{Header: h, ResponseCode: ok, ServiceID: 2,
			ServiceParameterList: iso20.ServiceParameterListType{ParameterSet: []iso20.ParameterSetType{{ParameterSetID: 1, Parameter: []iso20.ParameterType{
				{Name: "Connector", IntValue: i32(1)}, {Name: "ControlMode", IntValue: i32(2)},
				{Name: "MobilityNeedsMode", IntValue: i32(1)}, {Name: "Pricing", IntValue: i32(0)}}},
				// Scheduled mode (ControlMode 1), offered beside dynamic.
				{ParameterSetID: 2, Parameter: []iso20.ParameterType{
					{Name: "Connector", IntValue: i32(1)}, {Name: "ControlMode", IntValue: i32(1)},
					{Name: "MobilityNeedsMode", IntValue: i32(1)}, {Name: "Pricing", IntValue: i32(0)}}}}}}}),
		c(iso20.Document{ServiceSelectionRes: &iso20.ServiceSelectionResType{Header: h, ResponseCode: ok}}),
		d(dc.Document{DC_ChargeParameterDiscoveryRes: &dc.DC_ChargeParameterDiscoveryResType{Header: h, ResponseCode: ok,
			DC_CPDResEnergyTransferMode: &dc.DC_CPDResEnergyTransferModeType{EVSEMaximumChargePower: rat(5000, 1), EVSEMinimumChargePower: rat(0, 0),
				EVSEMaximumChargeCurrent: rat(125, 0), EVSEMinimumChargeCurrent: rat(0, 0), EVSEMaximumVoltage: rat(500, 0), EVSEMinimumVoltage: rat(150, 0)}}}),
		c(iso20.Document{ScheduleExchangeRes: &iso20.ScheduleExchangeResType{Header: h, ResponseCode: ok, EVSEProcessing: iso20.ProcessingFinished,
			Dynamic_SEResControlMode: &iso20.Dynamic_SEResControlModeType{}}}),
		d(dc.Document{DC_CableCheckRes: &dc.DC_CableCheckResType{Header: h, ResponseCode: ok, EVSEProcessing: iso20.ProcessingOngoing}}),
		d(dc.Document{DC_CableCheckRes: &dc.DC_CableCheckResType{Header: h, ResponseCode: ok, EVSEProcessing: iso20.ProcessingFinished}}),
		pre(150), pre(300), pre(400),
		c(iso20.Document{PowerDeliveryRes: &iso20.PowerDeliveryResType{Header: h, ResponseCode: ok}}),
	}
	for range loops {
		// 250 A asked (100 kW at 400 V), 125 A the charger's limit.
		l := &dc.DC_ChargeLoopResType{Header: h, ResponseCode: ok, EVSEPresentCurrent: rat(125, 0), EVSEPresentVoltage: rat(400, 0),
			EVSECurrentLimitAchieved: true, Dynamic_DC_CLResControlMode: &limits}
		if soc {
			l.EVSEPresentCurrent, l.EVSEPresentVoltage, l.EVSECurrentLimitAchieved = rat(0, 0), rat(0, 0), false
			l.EVSEStatus = &iso20.EVSEStatusType{EVSENotification: iso20.EvseNotificationTerminate}
		}
		q = append(q, d(dc.Document{DC_ChargeLoopRes: l}))
	}
	return append(q,
		c(iso20.Document{PowerDeliveryRes: &iso20.PowerDeliveryResType{Header: h, ResponseCode: ok}}),
		d(dc.Document{DC_WeldingDetectionRes: &dc.DC_WeldingDetectionResType{Header: h, ResponseCode: ok, EVSEPresentVoltage: rat(0, 0)}}),
		c(iso20.Document{SessionStopRes: &iso20.SessionStopResType{Header: h, ResponseCode: ok}}))
}

// playISO20DC plays reqs against a charger under policy p and compares
// every answer, byte for byte, with want.
func playISO20DC(t *testing.T, p PolicyName, reqs, want []iso20Req) *harness {
	t.Helper()
	h := newHarness(t, iso20Config(p))
	if res := h.sap(offerISO2, offerISO20DC); res.ResponseCode != apphand.ResponseCodeOK_SuccessfulNegotiation || *res.SchemaID != 4 {
		t.Fatalf("handshake: %v", res)
	}
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
	return h
}

// TestISO20DCSession plays a whole -20 DC session under the dc policy:
// the cable check takes two requests, the precharge voltage rises to the
// car's target, the loop delivers within the charger's limits, and every
// loop's SoC reaches the record.
func TestISO20DCSession(t *testing.T) {
	const loops = 1 // within one second of the answers' TimeStamp
	h := playISO20DC(t, PolicyDC, iso20DCCar(testSID[:], loops), wantISO20DC(testSID[:], loops, false))
	var rec record.Session
	var socs []int
	for _, e := range h.events {
		rec.Apply(e)
		if e.Kind == record.KindValues && e.Message == message.DC_ChargeLoopReq {
			socs = append(socs, *e.Values.SoC)
		}
	}
	if len(socs) != loops || socs[0] != 30 {
		t.Fatalf("loop SoCs %v", socs)
	}
	d := rec.Display
	if d == nil || d.Loops != loops || d.WithParameters != loops || d.SoCUpdateCount != loops {
		t.Fatalf("display %+v", d)
	}
	if rec.SoC.Value != 30 || rec.EnergyCapacityWh.Value != 77000 || rec.MaxPowerW.Value != 100000 || rec.MaxCurrentA.Value != 250 ||
		rec.MaxVoltageV.Value != 450 || rec.Protocol != "iso20" || rec.EVCCID.Hex != "007dfa0790af" {
		t.Errorf("record %+v", rec)
	}
}

// TestISO20DCSoCPolicy: under the soc policy the DC car tells its limits
// in DC_ChargeParameterDiscovery and its SoC in the first loop, whose
// answer tells it to terminate and delivers nothing; it then stops. The
// ac policy, which serves no DC, answers the same.
func TestISO20DCSoCPolicy(t *testing.T) {
	playISO20DC(t, PolicyAC, iso20DCCar(testSID[:], 1), wantISO20DC(testSID[:], 1, true))
	h := playISO20DC(t, PolicySoC, iso20DCCar(testSID[:], 1), wantISO20DC(testSID[:], 1, true))
	var rec record.Session
	var cpd *record.Values
	for _, e := range h.events {
		rec.Apply(e)
		if e.Kind == record.KindValues && e.Message == message.DC_ChargeParameterDiscoveryReq {
			cpd = &e.Values
		}
	}
	if cpd == nil || *cpd.MaxPowerW != 100000 || *cpd.MaxCurrentA != 250 || *cpd.MaxVoltageV != 450 || *cpd.TargetSOC != 80 || cpd.SoC != nil {
		t.Fatalf("DC_ChargeParameterDiscoveryReq's values %+v", cpd)
	}
	if rec.SoC.Value != 30 || rec.Display.SoCUpdateCount != 1 {
		t.Fatalf("record SoC %+v display %+v", rec.SoC, rec.Display)
	}

	// A car that loops on after Terminate gets FAILED, its SoC recorded.
	reqs := iso20DCCar(testSID[:], 2)
	h2 := newHarness(t, iso20Config(PolicySoC))
	h2.sap(offerISO20DC)
	for i, q := range reqs[:15] {
		if _, _, step, err := h2.send20(q.typ, q.marshal(t)); err != nil || step.Code[:2] != "OK" {
			t.Fatalf("request %d: %q %v", i, step.Code, err)
		}
	}
	_, ans, step, err := h2.send20(reqs[15].typ, reqs[15].marshal(t))
	if err != nil || step.Code != "FAILED" || !h2.s.Done() {
		t.Fatalf("second loop: %q %v done=%v", step.Code, err, h2.s.Done())
	}
	want := iso20Req{typ: v2gtp.TypeISO20DC, dc: &dc.Document{DC_ChargeLoopRes: &dc.DC_ChargeLoopResType{Header: hdr(testSID[:]), ResponseCode: iso20.ResponseCodeFAILED,
		EVSEStatus:         &iso20.EVSEStatusType{EVSENotification: iso20.EvseNotificationTerminate},
		EVSEPresentCurrent: rat(0, 0), EVSEPresentVoltage: rat(0, 0),
		Dynamic_DC_CLResControlMode: &dc.Dynamic_DC_CLResControlModeType{EVSEMaximumChargePower: rat(0, 0), EVSEMinimumChargePower: rat(0, 0),
			EVSEMaximumChargeCurrent: rat(0, 0), EVSEMaximumVoltage: rat(0, 0)}}}}
	if w := want.marshal(t); !bytes.Equal(ans, w) {
		t.Fatalf("second loop's answer\n%x\nwant\n%x", ans, w)
	}
	if e := h2.events[len(h2.events)-1]; e.Kind != record.KindValues || *e.Values.SoC != 31 {
		t.Fatalf("last event %+v", e)
	}
}

// TestISO20DCSessionRules: a wrong SessionID, a precharge before the
// cable check, welding detection in the loop and the AC service in a DC
// session each get their FAILED answer and end the session; an AC request
// is not taken.
func TestISO20DCSessionRules(t *testing.T) {
	reqs := iso20DCCar(testSID[:], 1)
	start := func(p PolicyName, n int) *harness {
		h := newHarness(t, iso20Config(p))
		h.sap(offerISO20DC)
		for i, q := range reqs[:n] {
			if _, _, step, err := h.send20(q.typ, q.marshal(t)); err != nil {
				t.Fatalf("request %d (%v): %v", i, step.Request, err)
			}
		}
		return h
	}
	failedDC := func(x dc.Document) []byte { return iso20Req{typ: v2gtp.TypeISO20DC, dc: &x}.marshal(t) }
	zero := rat(0, 0)

	// Wrong SessionID in DC_CableCheckReq.
	h := start(PolicyDC, 8)
	bad := *reqs[8].dc.DC_CableCheckReq
	bad.Header.SessionID = []byte{1, 2, 3, 4, 5, 6, 7, 8}
	_, ans, step, err := h.send20(v2gtp.TypeISO20DC, iso20Req{typ: v2gtp.TypeISO20DC, dc: &dc.Document{DC_CableCheckReq: &bad}}.marshal(t))
	if !errors.Is(err, ErrUnknownSession) || step.Code != "FAILED_UnknownSession" || !h.s.Done() {
		t.Fatalf("wrong session: %q %v", step.Code, err)
	}
	if w := failedDC(dc.Document{DC_CableCheckRes: &dc.DC_CableCheckResType{Header: hdr(testSID[:]), ResponseCode: iso20.ResponseCodeFAILED_UnknownSession,
		EVSEProcessing: iso20.ProcessingFinished}}); !bytes.Equal(ans, w) {
		t.Fatalf("wrong session's answer\n%x\nwant\n%x", ans, w)
	}

	// DC_PreChargeReq before the cable check.
	h = start(PolicyDC, 8)
	_, ans, step, err = h.send20(v2gtp.TypeISO20DC, reqs[10].marshal(t))
	if !errors.Is(err, ErrSequence) || step.Code != "FAILED_SequenceError" || !h.s.Done() {
		t.Fatalf("out of sequence: %q %v", step.Code, err)
	}
	if w := failedDC(dc.Document{DC_PreChargeRes: &dc.DC_PreChargeResType{Header: hdr(testSID[:]), ResponseCode: iso20.ResponseCodeFAILED_SequenceError,
		EVSEPresentVoltage: zero}}); !bytes.Equal(ans, w) {
		t.Fatalf("out of sequence answer\n%x\nwant\n%x", ans, w)
	}
	if err.Error() == "" || !bytes.Contains([]byte(err.Error()), []byte("WaitForDC_CableCheckReq")) {
		t.Errorf("sequence error names no state: %v", err)
	}

	// DC_WeldingDetectionReq in the charge loop, before PowerDelivery(Stop).
	h = start(PolicyDC, 15)
	_, _, step, err = h.send20(v2gtp.TypeISO20DC, reqs[16].marshal(t))
	if !errors.Is(err, ErrSequence) || step.Code != "FAILED_SequenceError" {
		t.Fatalf("welding detection in the loop: %q %v", step.Code, err)
	}

	// An AC payload in a DC session is not taken.
	h = start(PolicyDC, 6)
	ac := iso20Car(testSID[:], 1)[6]
	if _, _, _, err = h.send20(v2gtp.TypeISO20AC, ac.marshal(t)); !errors.Is(err, ErrPayloadType) {
		t.Fatalf("AC request in a DC session: %v", err)
	}

	// ServiceSelection of the AC service in a DC session.
	h = start(PolicyDC, 5)
	sel := iso20.Document{ServiceSelectionReq: &iso20.ServiceSelectionReqType{Header: hdr(testSID[:]), SelectedEnergyTransferService: iso20.SelectedServiceType{ServiceID: 1, ParameterSetID: 1}}}
	_, _, step, err = h.send20(v2gtp.TypeISO20CommonMessages, iso20Req{typ: v2gtp.TypeISO20CommonMessages, common: &sel}.marshal(t))
	if err != nil || step.Code != "FAILED_ServiceSelectionInvalid" || !h.s.Done() {
		t.Fatalf("AC service in a DC session: %q %v", step.Code, err)
	}
}

// TestISO20DCCarOverTCP: the simulator's iso20-dc car against the server
// on real sockets, under dc (cable check, precharge, every loop's SoC,
// welding detection) and soc (the first loop's SoC, then Terminate); a
// charger without -20 in its preference gets DIN from the same car.
func TestISO20DCCarOverTCP(t *testing.T) {
	p, err := evcc.Lookup("iso20-dc")
	if err != nil {
		t.Fatal(err)
	}
	dcSteps := []message.Kind{message.SupportedAppProtocolReq, message.SessionSetupReq, message.AuthorizationSetupReq, message.AuthorizationReq,
		message.ServiceDiscoveryReq, message.ServiceDetailReq, message.ServiceSelectionReq, message.DC_ChargeParameterDiscoveryReq,
		message.ScheduleExchangeReq, message.DC_CableCheckReq, message.DC_CableCheckReq, message.DC_PreChargeReq, message.DC_PreChargeReq,
		message.DC_PreChargeReq, message.PowerDeliveryReq}
	for _, c := range []struct {
		cfg   Config
		proto string
		end   evcc.End
		socs  []int
		tail  []message.Kind
	}{
		{iso20Config(PolicyDC), "iso20", evcc.EndComplete, []int{30, 31, 32, 33, 34}, []message.Kind{message.DC_ChargeLoopReq, message.DC_ChargeLoopReq,
			message.DC_ChargeLoopReq, message.DC_ChargeLoopReq, message.DC_ChargeLoopReq, message.PowerDeliveryReq, message.DC_WeldingDetectionReq, message.SessionStopReq}},
		{iso20Config(PolicySoC), "iso20", evcc.EndShutdown, []int{30}, []message.Kind{message.DC_ChargeLoopReq, message.PowerDeliveryReq, message.SessionStopReq}},
		{Config{Policy: PolicySoC}, "din", evcc.EndShutdown, []int{30, 30}, nil}, // Ongoing, then EVSE_Shutdown
		// The daemon's -20-first preference under soc takes the car's DIN:
		// its parameter discovery tells the SoC, with no precharge.
		{Config{Policy: PolicySoC, Preference: PreferenceISO20(PolicySoC, true)}, "din", evcc.EndShutdown, []int{30, 30}, nil},
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
		if c.tail != nil {
			var kinds []message.Kind
			for _, s := range res.Steps {
				kinds = append(kinds, s.Request)
				if s.Response[:2] != "OK" {
					t.Errorf("%v: %v answered %s", c.cfg.Policy, s.Request, s.Response)
				}
			}
			if want := append(slices.Clone(dcSteps), c.tail...); !slices.Equal(kinds, want) {
				t.Errorf("%v: steps\n%v\nwant\n%v", c.cfg.Policy, kinds, want)
			}
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
