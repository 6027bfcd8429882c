package secc

import (
	"bytes"
	"testing"
	"time"

	"github.com/ccslink/ccslink/proto/v2g/apphand"
	"github.com/ccslink/ccslink/proto/v2g/iso20"
	"github.com/ccslink/ccslink/proto/v2g/iso20/ac"
	"github.com/ccslink/ccslink/proto/v2g/iso20/dc"
	"github.com/ccslink/ccslink/proto/v2gtp"
)

// FuzzISO20Session feeds a hostile ISO-20 car's stream to a session that
// serves -20: no panic, and every answer is one V2GTP message in the
// request's payload type that decodes in its schema as a response. Seeded
// with a whole AC session and a whole DC one, in dynamic and in scheduled
// mode, scheduled cars that break their mode and, after the handshake,
// every request kind of both.
func FuzzISO20Session(f *testing.F) {
	sapB, _ := apphand.Marshal(&apphand.Document{SupportedAppProtocolReq: &apphand.SupportedAppProtocolReq{AppProtocol: []apphand.AppProtocolType{offerISO20}}})
	sap := v2gtp.AppendMessage(nil, v2gtp.TypeEXI, sapB)
	reqs := iso20Car(testSID[:], 2)
	var run bytes.Buffer
	run.Write(sap)
	for _, q := range reqs {
		run.Write(v2gtp.AppendMessage(nil, q.typ, q.marshal(f)))
	}
	dcSapB, _ := apphand.Marshal(&apphand.Document{SupportedAppProtocolReq: &apphand.SupportedAppProtocolReq{AppProtocol: []apphand.AppProtocolType{offerISO20DC}}})
	dcSap := v2gtp.AppendMessage(nil, v2gtp.TypeEXI, dcSapB)
	dcReqs := iso20DCCar(testSID[:], 2)
	var dcRun bytes.Buffer
	dcRun.Write(dcSap)
	for _, q := range dcReqs {
		dcRun.Write(v2gtp.AppendMessage(nil, q.typ, q.marshal(f)))
	}
	// The same cars in scheduled mode.
	stream := func(sap []byte, reqs []iso20Req) []byte {
		b := append([]byte(nil), sap...)
		for _, q := range reqs {
			b = v2gtp.AppendMessage(b, q.typ, q.marshal(f))
		}
		return b
	}
	schedReqs, schedDCReqs := iso20ScheduledCar(testSID[:], 2), iso20ScheduledDCCar(testSID[:], 2)
	for pol := range uint8(3) {
		f.Add(run.Bytes(), pol)
		f.Add(dcRun.Bytes(), pol)
		f.Add(stream(sap, schedReqs), pol)
		f.Add(stream(dcSap, schedDCReqs), pol)
	}
	// A scheduled car that breaks its mode: a dynamic loop, a tuple never
	// offered.
	mixed := append(append([]iso20Req(nil), schedReqs[:iACLoop]...), reqs[iACLoop])
	f.Add(stream(sap, mixed), uint8(2))
	badTuple := iso20ScheduledCar(testSID[:], 1)
	badTuple[iACStart].common.PowerDeliveryReq.EVPowerProfile.Scheduled_EVPPTControlMode.SelectedScheduleTupleID = 9
	f.Add(stream(sap, badTuple), uint8(2))
	// Every request kind alone after the handshake and SessionSetup, and
	// the requests the charger never serves.
	others := []iso20Req{
		{typ: v2gtp.TypeISO20CommonMessages, common: &iso20.Document{MeteringConfirmationReq: &iso20.MeteringConfirmationReqType{Header: hdr(testSID[:])}}},
		{typ: v2gtp.TypeISO20CommonMessages, common: &iso20.Document{VehicleCheckInReq: &iso20.VehicleCheckInReqType{Header: hdr(testSID[:])}}},
		{typ: v2gtp.TypeISO20CommonMessages, common: &iso20.Document{SessionSetupRes: &iso20.SessionSetupResType{Header: hdr(testSID[:]), EVSEID: "ZZ00000"}}},
		{typ: v2gtp.TypeISO20AC, ac: &ac.Document{AC_ChargeLoopRes: &ac.AC_ChargeLoopResType{Header: hdr(testSID[:]), CLResControlMode: &iso20.CLResControlModeType{}}}},
	}
	others = append(others, schedReqs[iSchedule], schedReqs[iACStart], schedReqs[iACLoop])
	for _, q := range append(reqs[1:], others...) {
		b, err := q.tryMarshal()
		if err != nil {
			continue // a document the codec refuses to write is no seed
		}
		var one bytes.Buffer
		one.Write(sap)
		one.Write(v2gtp.AppendMessage(nil, reqs[0].typ, reqs[0].marshal(f)))
		one.Write(v2gtp.AppendMessage(nil, q.typ, b))
		f.Add(one.Bytes(), uint8(0))
	}
	dcOthers := []iso20Req{
		{typ: v2gtp.TypeISO20DC, dc: &dc.Document{DC_ChargeLoopReq: &dc.DC_ChargeLoopReqType{Header: hdr(testSID[:]), EVPresentVoltage: rat(400, 0),
			Scheduled_DC_CLReqControlMode: &dc.Scheduled_DC_CLReqControlModeType{EVTargetCurrent: rat(100, 0), EVTargetVoltage: rat(400, 0)}}}},
		{typ: v2gtp.TypeISO20DC, dc: &dc.Document{DC_ChargeParameterDiscoveryReq: &dc.DC_ChargeParameterDiscoveryReqType{Header: hdr(testSID[:])}}},
		{typ: v2gtp.TypeISO20DC, dc: &dc.Document{DC_CableCheckRes: &dc.DC_CableCheckResType{Header: hdr(testSID[:])}}},
	}
	dcOthers = append(dcOthers, schedDCReqs[iSchedule], schedDCReqs[iDCStart])
	for _, q := range append(dcReqs[1:], dcOthers...) {
		b, err := q.tryMarshal()
		if err != nil {
			continue
		}
		for pol := range uint8(3) {
			var one bytes.Buffer
			one.Write(dcSap)
			one.Write(v2gtp.AppendMessage(nil, dcReqs[0].typ, dcReqs[0].marshal(f)))
			one.Write(v2gtp.AppendMessage(nil, q.typ, b))
			f.Add(one.Bytes(), pol)
		}
	}
	f.Fuzz(func(t *testing.T, stream []byte, policy uint8) {
		pol := PolicyName(policy % 3)
		s := NewSession(Config{Policy: pol, Preference: PreferenceISO20(pol, true), NewSessionID: func() [8]byte { return testSID }}, t0, nil)
		r := v2gtp.NewReader(bytes.NewReader(stream))
		var out []byte
		for n := 0; n < 64; n++ {
			h, p, err := r.Next()
			if err != nil {
				return
			}
			before := s.Protocol()
			out, _, _ = s.Handle(t0.Add(time.Duration(n)*time.Second), h, p, out[:0])
			if len(out) == 0 {
				continue
			}
			ah, payload, rest, err := v2gtp.Split(out)
			if err != nil || len(rest) != 0 || ah.Type != h.Type {
				t.Fatalf("answer is not one V2GTP message of type %v: %x", h.Type, out)
			}
			switch {
			case before == ProtocolNone:
				var doc apphand.Document
				if _, err := apphand.Unmarshal(payload, &doc); err != nil || doc.SupportedAppProtocolRes == nil {
					t.Fatalf("SAP answer %x: %v", payload, err)
				}
			case before == ProtocolISO20 && h.Type == v2gtp.TypeISO20AC:
				var doc ac.Document
				if _, err := ac.Unmarshal(payload, &doc); err != nil || !doc.Message().IsResponse() {
					t.Fatalf("AC answer %x: %v", payload, err)
				}
			case before == ProtocolISO20 && h.Type == v2gtp.TypeISO20DC:
				var doc dc.Document
				if _, err := dc.Unmarshal(payload, &doc); err != nil || !doc.Message().IsResponse() {
					t.Fatalf("DC answer %x: %v", payload, err)
				}
			case before == ProtocolISO20:
				var doc iso20.Document
				if _, err := iso20.Unmarshal(payload, &doc); err != nil || !doc.Message().IsResponse() {
					t.Fatalf("CommonMessages answer %x: %v", payload, err)
				}
			}
		}
	})
}

func (q iso20Req) tryMarshal() ([]byte, error) {
	switch q.typ {
	case v2gtp.TypeISO20AC:
		return ac.Marshal(q.ac)
	case v2gtp.TypeISO20DC:
		return dc.Marshal(q.dc)
	}
	return iso20.Marshal(q.common)
}
