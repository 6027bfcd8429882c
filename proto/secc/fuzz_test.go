package secc

import (
	"bytes"
	"testing"

	"github.com/ccslink/ccslink/proto/v2g/apphand"
	"github.com/ccslink/ccslink/proto/v2g/din"
	"github.com/ccslink/ccslink/proto/v2g/iso2"
	"github.com/ccslink/ccslink/proto/v2gtp"
)

// FuzzSession feeds a hostile car's stream of V2GTP messages to a session:
// no panic, and every answer is one V2GTP message that decodes.
func FuzzSession(f *testing.F) {
	sap := func(ns string) []byte {
		b, _ := apphand.Marshal(&apphand.Document{SupportedAppProtocolReq: &apphand.SupportedAppProtocolReq{AppProtocol: []apphand.AppProtocolType{
			{ProtocolNamespace: ns, VersionNumberMajor: 2, SchemaID: 1, Priority: 1}}}})
		return v2gtp.AppendMessage(nil, v2gtp.TypeEXI, b)
	}
	d := func(sid []byte, body din.BodyType) []byte {
		b, _ := din.Marshal(&din.Document{V2G_Message: &din.V2G_Message{Header: din.MessageHeaderType{SessionID: sid}, Body: body}})
		return v2gtp.AppendMessage(nil, v2gtp.TypeEXI, b)
	}
	i := func(sid []byte, body iso2.BodyType) []byte {
		b, _ := iso2.Marshal(&iso2.Document{V2G_Message: &iso2.V2G_Message{Header: iso2.MessageHeaderType{SessionID: sid}, Body: body}})
		return v2gtp.AppendMessage(nil, v2gtp.TypeEXI, b)
	}
	var dinRun bytes.Buffer
	dinRun.Write(sap(NamespaceDIN))
	dinRun.Write(d([]byte{0}, din.BodyType{SessionSetupReq: &din.SessionSetupReqType{EVCCID: []byte{4, 0x65, 0x65, 0, 0x64, 0xc3}}}))
	dinRun.Write(d(testSID[:], din.BodyType{ServiceDiscoveryReq: &din.ServiceDiscoveryReqType{}}))
	dinRun.Write(d(testSID[:], ioniqCPD()))
	dinRun.Write(d(testSID[:], ioniqCPD()))
	dinRun.Write(d(testSID[:], din.BodyType{SessionStopReq: &din.SessionStopType{}}))
	f.Add(dinRun.Bytes(), uint8(0))
	f.Add(dinRun.Bytes(), uint8(1))
	var isoRun bytes.Buffer
	isoRun.Write(sap(NamespaceISO2))
	isoRun.Write(i([]byte{0}, iso2.BodyType{SessionSetupReq: &iso2.SessionSetupReqType{EVCCID: []byte{2, 1, 2, 3, 4, 5}}}))
	isoRun.Write(i(testSID[:], iso2.BodyType{ServiceDiscoveryReq: &iso2.ServiceDiscoveryReqType{}}))
	isoRun.Write(i(testSID[:], iso2.BodyType{SessionStopReq: &iso2.SessionStopReqType{}}))
	f.Add(isoRun.Bytes(), uint8(2))
	f.Fuzz(func(t *testing.T, stream []byte, policy uint8) {
		s := NewSession(Config{Policy: PolicyName(policy % 3), NewSessionID: func() [8]byte { return testSID }}, t0, nil)
		r := v2gtp.NewReader(bytes.NewReader(stream))
		var out []byte
		for n := 0; n < 64; n++ {
			h, p, err := r.Next()
			if err != nil {
				return
			}
			before := s.Protocol()
			out, _, _ = s.Handle(t0, h, p, out[:0])
			if len(out) == 0 {
				continue
			}
			_, payload, rest, err := v2gtp.Split(out)
			if err != nil || len(rest) != 0 {
				t.Fatalf("answer is not one V2GTP message: %x", out)
			}
			switch before {
			case ProtocolNone:
				var doc apphand.Document
				if _, err := apphand.Unmarshal(payload, &doc); err != nil || doc.SupportedAppProtocolRes == nil {
					t.Fatalf("SAP answer %x: %v", payload, err)
				}
			case ProtocolDIN:
				var doc din.Document
				if _, err := din.Unmarshal(payload, &doc); err != nil || doc.V2G_Message == nil {
					t.Fatalf("DIN answer %x: %v", payload, err)
				}
			case ProtocolISO2:
				var doc iso2.Document
				if _, err := iso2.Unmarshal(payload, &doc); err != nil || doc.V2G_Message == nil {
					t.Fatalf("ISO-2 answer %x: %v", payload, err)
				}
			}
		}
	})
}
