package secc

import (
	"testing"

	"github.com/ccslink/ccslink/proto/v2g/apphand"
	"github.com/ccslink/ccslink/proto/v2g/din"
	"github.com/ccslink/ccslink/proto/v2g/iso2"
	"github.com/ccslink/ccslink/proto/v2gtp"
	"github.com/ccslink/ccslink/record"
)

// BenchmarkDINSoCSession measures the charger's work for one whole soc
// session (SAP, SessionSetup, ServiceDiscovery, ServicePaymentSelection,
// ContractAuthentication, two ChargeParameterDiscovery, SessionStop): decode,
// decide and encode, without I/O. ns/op divided by 8 is the time per answer.
func BenchmarkDINSoCSession(b *testing.B) {
	reqs := dinSoCRequests(b)
	out := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		out = playSession(b, reqs, out)
	}
}

// A session hands its adapter on when it ends, and the next one takes it
// with its decoder's and answers' memory: a whole DIN soc session then
// allocates only its Session, engine and policy, the handshake's decoding,
// the car's offer that the handshake event hands out (its fingerprint) and
// the blocks of the car's values that its two events hand out.
func TestSessionReusesAdapter(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop what it is given")
	}
	reqs := dinSoCRequests(t)
	out := make([]byte, 0, 1024)
	out = playSession(t, reqs, out) // an adapter for the next sessions
	got := testing.AllocsPerRun(50, func() { out = playSession(t, reqs, out) })
	if got != 17 {
		t.Errorf("a DIN soc session after another allocates %v times, want 17", got)
	}
}

// dinSoCRequests are a DIN soc session's requests: SAP, SessionSetup,
// ServiceDiscovery, ServicePaymentSelection, ContractAuthentication, two
// ChargeParameterDiscovery and SessionStop.
func dinSoCRequests(tb testing.TB) [][]byte {
	sapB, _ := apphand.Marshal(&apphand.Document{SupportedAppProtocolReq: &apphand.SupportedAppProtocolReq{AppProtocol: []apphand.AppProtocolType{offerDIN}}})
	d := func(sid []byte, body din.BodyType) []byte {
		p, err := din.Marshal(&din.Document{V2G_Message: &din.V2G_Message{Header: din.MessageHeaderType{SessionID: sid}, Body: body}})
		if err != nil {
			tb.Fatal(err)
		}
		return p
	}
	return [][]byte{
		sapB,
		d([]byte{0}, din.BodyType{SessionSetupReq: &din.SessionSetupReqType{EVCCID: []byte{4, 0x65, 0x65, 0, 0x64, 0xc3}}}),
		d(testSID[:], din.BodyType{ServiceDiscoveryReq: &din.ServiceDiscoveryReqType{}}),
		d(testSID[:], din.BodyType{ServicePaymentSelectionReq: &din.ServicePaymentSelectionReqType{SelectedPaymentOption: din.PaymentOptionExternalPayment,
			SelectedServiceList: din.SelectedServiceListType{SelectedService: []din.SelectedServiceType{{ServiceID: 1}}}}}),
		d(testSID[:], din.BodyType{ContractAuthenticationReq: &din.ContractAuthenticationReqType{}}),
		d(testSID[:], ioniqCPD()),
		d(testSID[:], ioniqCPD()),
		d(testSID[:], din.BodyType{SessionStopReq: &din.SessionStopType{}}),
	}
}

// playSession plays reqs through a new session, which must answer each and end.
func playSession(tb testing.TB, reqs [][]byte, out []byte) []byte {
	s := NewSession(Config{NewSessionID: func() [8]byte { return testSID }}, t0, nil)
	for _, r := range reqs {
		var err error
		out, _, err = s.Handle(t0, v2gtp.Header{Type: v2gtp.TypeEXI, Length: uint32(len(r))}, r, out[:0])
		if err != nil || len(out) == 0 {
			tb.Fatalf("%x: %v", r, err)
		}
	}
	if !s.Done() {
		tb.Fatal("session not done")
	}
	return out
}

// Answering allocates nothing of its own: an answer is built and encoded in
// the session's memory, and the one allocation left is the block of the
// car's values that an event hands to its subscribers.
func TestAnswerAllocs(t *testing.T) {
	st := din.DC_EVStatusType{EVReady: true, EVRESSSOC: 60}
	stISO := iso2.DC_EVStatusType{EVReady: true, EVRESSSOC: 60}
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, h *harness)
		req   func(sid []byte) []byte
		want  float64
	}{
		{"DIN ServiceDiscoveryReq", func(t *testing.T, h *harness) {
			dinSetupTo(t, h, 2)
		}, func(sid []byte) []byte {
			return marshalDIN(t, sid, din.BodyType{ServiceDiscoveryReq: &din.ServiceDiscoveryReqType{}})
		}, 0},
		{"DIN CurrentDemandReq", dinChargeLoop, func(sid []byte) []byte {
			return marshalDIN(t, sid, din.BodyType{CurrentDemandReq: &din.CurrentDemandReqType{DC_EVStatus: st, EVTargetCurrent: pvDIN(200, 0, din.UnitSymbolA), EVTargetVoltage: pvDIN(390, 0, din.UnitSymbolV)}})
		}, 1},
		{"ISO-2 ServiceDiscoveryReq", func(t *testing.T, h *harness) {
			h.sap(offerISO2)
			h.iso2(iso2.BodyType{SessionSetupReq: &iso2.SessionSetupReqType{EVCCID: []byte{2, 1, 2, 3, 4, 5}}})
			h.iso2(iso2.BodyType{ServiceDiscoveryReq: &iso2.ServiceDiscoveryReqType{}})
		}, func(sid []byte) []byte {
			return marshalISO2(t, sid, iso2.BodyType{ServiceDiscoveryReq: &iso2.ServiceDiscoveryReqType{}})
		}, 0},
		{"ISO-2 CurrentDemandReq", iso2ChargeLoop, func(sid []byte) []byte {
			return marshalISO2(t, sid, iso2.BodyType{CurrentDemandReq: &iso2.CurrentDemandReqType{DC_EVStatus: stISO, EVTargetCurrent: pvISO(200, 0, iso2.UnitSymbolA), EVTargetVoltage: pvISO(390, 0, iso2.UnitSymbolV)}})
		}, 1},
	} {
		h := newHarness(t, Config{Policy: PolicyDC})
		h.s.emit = func(record.Event) {}
		tc.setup(t, h)
		req := tc.req(h.sid)
		hd := v2gtp.Header{Type: v2gtp.TypeEXI, Length: uint32(len(req))}
		out := make([]byte, 0, 1024)
		var err error
		got := testing.AllocsPerRun(100, func() {
			out, _, err = h.s.Handle(t0, hd, req, out[:0])
		})
		if err != nil || len(out) == 0 || h.s.Done() {
			t.Fatalf("%s: %x (%v)", tc.name, out, err)
		}
		if got != tc.want {
			t.Errorf("%s: %v allocations per answer, want %v", tc.name, got, tc.want)
		}
	}
}

// dinSetupTo runs the first n requests of dinSetup's session (n >= 1).
func dinSetupTo(t *testing.T, h *harness, n int) {
	t.Helper()
	h.sap(offerDIN)
	bodies := []din.BodyType{
		{SessionSetupReq: &din.SessionSetupReqType{EVCCID: []byte{4, 0x65, 0x65, 0, 0x64, 0xc3}}},
		{ServiceDiscoveryReq: &din.ServiceDiscoveryReqType{}},
	}
	for _, b := range bodies[:n] {
		if _, err := h.din(b); err != nil {
			t.Fatal(err)
		}
	}
}

// dinChargeLoop runs a dc-policy DIN session into CurrentDemand.
func dinChargeLoop(t *testing.T, h *harness) {
	t.Helper()
	dinSetup(t, h)
	st := din.DC_EVStatusType{EVReady: true, EVRESSSOC: 60}
	h.din(ioniqCPD())
	h.din(din.BodyType{CableCheckReq: &din.CableCheckReqType{DC_EVStatus: st}})
	h.din(din.BodyType{CableCheckReq: &din.CableCheckReqType{DC_EVStatus: st}})
	h.din(din.BodyType{PreChargeReq: &din.PreChargeReqType{DC_EVStatus: st, EVTargetVoltage: pvDIN(100, 0, din.UnitSymbolV), EVTargetCurrent: pvDIN(2, 0, din.UnitSymbolA)}})
	if res, err := h.din(din.BodyType{PowerDeliveryReq: &din.PowerDeliveryReqType{ReadyToChargeState: true}}); err != nil || res.PowerDeliveryRes.ResponseCode != din.ResponseCodeOK {
		t.Fatalf("PowerDelivery: %v", err)
	}
}

// iso2ChargeLoop runs a dc-policy ISO-2 session into CurrentDemand.
func iso2ChargeLoop(t *testing.T, h *harness) {
	t.Helper()
	iso2Setup(t, h)
	st := iso2.DC_EVStatusType{EVReady: true, EVRESSSOC: 60}
	h.iso2(iso2DCCPD())
	h.iso2(iso2.BodyType{CableCheckReq: &iso2.CableCheckReqType{DC_EVStatus: st}})
	h.iso2(iso2.BodyType{CableCheckReq: &iso2.CableCheckReqType{DC_EVStatus: st}})
	h.iso2(iso2.BodyType{PreChargeReq: &iso2.PreChargeReqType{DC_EVStatus: st, EVTargetVoltage: pvISO(100, 0, iso2.UnitSymbolV), EVTargetCurrent: pvISO(2, 0, iso2.UnitSymbolA)}})
	if res, err := h.iso2(iso2.BodyType{PowerDeliveryReq: &iso2.PowerDeliveryReqType{ChargeProgress: iso2.ChargeProgressStart, SAScheduleTupleID: 1}}); err != nil || res.PowerDeliveryRes.ResponseCode != iso2.ResponseCodeOK {
		t.Fatalf("PowerDelivery: %v", err)
	}
}

// A session that takes an ended one's adapter answers with its own
// configuration: its EVSEID and the PMax of its schedule.
func TestReusedAdapterTakesItsConfig(t *testing.T) {
	for _, c := range []struct {
		evseID string
		maxW   float64
		pmax   int16 // kW
	}{{"DE*CCS*E1", 50000, 50}, {"DE*CCS*E2", 11000, 11}, {"DE*CCS*E2", 11000, 11}} {
		h := newHarness(t, Config{EVSEID: c.evseID, Limits: Limits{MaxPowerW: c.maxW}})
		h.sap(offerDIN)
		res, err := h.din(din.BodyType{SessionSetupReq: &din.SessionSetupReqType{EVCCID: []byte{4, 0x65, 0x65, 0, 0x64, 0xc3}}})
		if err != nil || string(res.SessionSetupRes.EVSEID) != c.evseID {
			t.Fatalf("%s: SessionSetupRes EVSEID %q (%v)", c.evseID, res.SessionSetupRes.EVSEID, err)
		}
		h.din(din.BodyType{ServiceDiscoveryReq: &din.ServiceDiscoveryReqType{}})
		h.din(din.BodyType{ServicePaymentSelectionReq: &din.ServicePaymentSelectionReqType{SelectedPaymentOption: din.PaymentOptionExternalPayment,
			SelectedServiceList: din.SelectedServiceListType{SelectedService: []din.SelectedServiceType{{ServiceID: 1}}}}})
		h.din(din.BodyType{ContractAuthenticationReq: &din.ContractAuthenticationReqType{}})
		res, err = h.din(ioniqCPD())
		if err != nil {
			t.Fatal(err)
		}
		if got := res.ChargeParameterDiscoveryRes.SAScheduleList.SAScheduleTuple[0].PMaxSchedule.PMaxScheduleEntry[0].PMax; got != c.pmax {
			t.Errorf("%s: PMax %d kW, want %d", c.evseID, got, c.pmax)
		}
		if _, err := h.din(din.BodyType{SessionStopReq: &din.SessionStopType{}}); err != nil || !h.s.Done() {
			t.Fatalf("%s: SessionStop: %v, done %v", c.evseID, err, h.s.Done())
		}
	}
}

// BenchmarkISO20ACSession measures the charger's work for one whole ISO-20
// AC session under the ac policy (SAP, SessionSetup, AuthorizationSetup,
// Authorization, ServiceDiscovery, ServiceDetail, ServiceSelection,
// AC_ChargeParameterDiscovery, ScheduleExchange, PowerDelivery, five
// AC_ChargeLoop, PowerDelivery, SessionStop): decode, decide and encode,
// without I/O; ns/request is the mean answer time.
func BenchmarkISO20ACSession(b *testing.B) {
	sapB, _ := apphand.Marshal(&apphand.Document{SupportedAppProtocolReq: &apphand.SupportedAppProtocolReq{AppProtocol: []apphand.AppProtocolType{offerISO20}}})
	reqs := iso20Car(testSID[:], 5)
	payloads := [][]byte{sapB}
	types := []v2gtp.PayloadType{v2gtp.TypeEXI}
	for _, q := range reqs {
		payloads, types = append(payloads, q.marshal(b)), append(types, q.typ)
	}
	cfg := iso20Config(PolicyAC)
	cfg.NewSessionID = func() [8]byte { return testSID }
	out := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		s := NewSession(cfg, t0, nil)
		for i, p := range payloads {
			var err error
			out, _, err = s.Handle(t0, v2gtp.Header{Type: types[i], Length: uint32(len(p))}, p, out[:0])
			if err != nil || len(out) == 0 {
				b.Fatalf("request %d: %v", i, err)
			}
		}
		if !s.Done() {
			b.Fatal("session not done")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(payloads)), "ns/request")
}

// BenchmarkISO20ChargeLoop measures the answer to one AC_ChargeLoopReq
// with DisplayParameters in a running session: the request a -20 AC
// session repeats for hours, its values published each time.
func BenchmarkISO20ChargeLoop(b *testing.B) {
	sapB, _ := apphand.Marshal(&apphand.Document{SupportedAppProtocolReq: &apphand.SupportedAppProtocolReq{AppProtocol: []apphand.AppProtocolType{offerISO20}}})
	cfg := iso20Config(PolicyAC)
	cfg.NewSessionID = func() [8]byte { return testSID }
	s := NewSession(cfg, t0, nil)
	out, _, err := s.Handle(t0, v2gtp.Header{Type: v2gtp.TypeEXI, Length: uint32(len(sapB))}, sapB, nil)
	if err != nil {
		b.Fatal(err)
	}
	reqs := iso20Car(testSID[:], 1)
	for _, q := range reqs[:9] {
		p := q.marshal(b)
		if out, _, err = s.Handle(t0, v2gtp.Header{Type: q.typ, Length: uint32(len(p))}, p, out[:0]); err != nil {
			b.Fatal(err)
		}
	}
	loop := reqs[9].marshal(b)
	hd := v2gtp.Header{Type: v2gtp.TypeISO20AC, Length: uint32(len(loop))}
	b.ReportAllocs()
	for b.Loop() {
		out, _, err = s.Handle(t0, hd, loop, out[:0])
		if err != nil || len(out) == 0 {
			b.Fatal(err)
		}
	}
}

// BenchmarkISO20DCChargeLoop measures the answer to one DC_ChargeLoopReq
// with DisplayParameters in a running -20 DC session under the dc policy:
// the output decided within the charger's limits, the values published.
func BenchmarkISO20DCChargeLoop(b *testing.B) {
	sapB, _ := apphand.Marshal(&apphand.Document{SupportedAppProtocolReq: &apphand.SupportedAppProtocolReq{AppProtocol: []apphand.AppProtocolType{offerISO20DC}}})
	cfg := iso20Config(PolicyDC)
	cfg.NewSessionID = func() [8]byte { return testSID }
	s := NewSession(cfg, t0, nil)
	out, _, err := s.Handle(t0, v2gtp.Header{Type: v2gtp.TypeEXI, Length: uint32(len(sapB))}, sapB, nil)
	if err != nil {
		b.Fatal(err)
	}
	reqs := iso20DCCar(testSID[:], 1)
	for _, q := range reqs[:14] {
		p := q.marshal(b)
		if out, _, err = s.Handle(t0, v2gtp.Header{Type: q.typ, Length: uint32(len(p))}, p, out[:0]); err != nil {
			b.Fatal(err)
		}
	}
	loop := reqs[14].marshal(b)
	hd := v2gtp.Header{Type: v2gtp.TypeISO20DC, Length: uint32(len(loop))}
	b.ReportAllocs()
	for b.Loop() {
		out, _, err = s.Handle(t0, hd, loop, out[:0])
		if err != nil || len(out) == 0 {
			b.Fatal(err)
		}
	}
}
