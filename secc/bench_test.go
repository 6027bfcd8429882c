package secc

import (
	"testing"

	"github.com/ccslink/ccslink/v2g/apphand"
	"github.com/ccslink/ccslink/v2g/din"
	"github.com/ccslink/ccslink/v2gtp"
)

// BenchmarkDINSoCSession measures the charger's work for one whole soc
// session (SAP, SessionSetup, ServiceDiscovery, ServicePaymentSelection,
// ContractAuthentication, two ChargeParameterDiscovery, SessionStop): decode,
// decide and encode, without I/O. ns/op divided by 8 is the time per answer.
func BenchmarkDINSoCSession(b *testing.B) {
	sapB, _ := apphand.Marshal(&apphand.Document{SupportedAppProtocolReq: &apphand.SupportedAppProtocolReq{AppProtocol: []apphand.AppProtocolType{offerDIN}}})
	d := func(sid []byte, body din.BodyType) []byte {
		p, err := din.Marshal(&din.Document{V2G_Message: &din.V2G_Message{Header: din.MessageHeaderType{SessionID: sid}, Body: body}})
		if err != nil {
			b.Fatal(err)
		}
		return p
	}
	reqs := [][]byte{
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
	cfg := Config{NewSessionID: func() [8]byte { return testSID }}
	out := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		s := NewSession(cfg, t0, nil)
		for _, r := range reqs {
			var err error
			out, _, err = s.Handle(t0, v2gtp.Header{Type: v2gtp.TypeEXI, Length: uint32(len(r))}, r, out[:0])
			if err != nil || len(out) == 0 {
				b.Fatalf("%x: %v", r, err)
			}
		}
		if !s.Done() {
			b.Fatal("session not done")
		}
	}
}
