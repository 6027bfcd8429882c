package replay

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/ccslink/ccslink/capture"
	"github.com/ccslink/ccslink/internal/shared"
	"github.com/ccslink/ccslink/v2g/apphand"
	"github.com/ccslink/ccslink/v2g/din"
	"github.com/ccslink/ccslink/v2gtp"
)

var (
	fuzzCar     = netip.MustParseAddrPort("[fe80::1]:50000")
	fuzzCharger = netip.MustParseAddrPort("[fe80::2]:15118")
)

// carStream cuts b into V2GTP messages from a car to a charger; it stops
// at the first bytes that are not a whole message.
func carStream(b []byte) []capture.Message {
	var msgs []capture.Message
	t0 := time.Unix(1700000000, 0)
	for i := 0; len(b) > 0; i++ {
		h, p, rest, err := v2gtp.Split(b)
		if err != nil {
			break
		}
		msgs = append(msgs, capture.Message{Time: t0.Add(time.Duration(i) * time.Millisecond), Frame: i,
			Src: fuzzCar, Dst: fuzzCharger, Transport: "tcp", Header: h, Payload: p})
		b = rest
	}
	return msgs
}

// FuzzRun replays hostile car requests: whatever the car sends, the replay
// ends with a result or an error, never a panic, and sends each request once at most.
func FuzzRun(f *testing.F) {
	// A handshake and a SessionSetupReq built here.
	sap, err := apphand.Append(nil, &apphand.Document{SupportedAppProtocolReq: &apphand.SupportedAppProtocolReq{
		AppProtocol: []apphand.AppProtocolType{{ProtocolNamespace: "urn:din:70121:2012:MsgDef", VersionNumberMajor: 2, SchemaID: 1, Priority: 1}}}})
	if err != nil {
		f.Fatal(err)
	}
	setup, err := din.Append(nil, &din.Document{V2G_Message: &din.V2G_Message{
		Header: din.MessageHeaderType{SessionID: make([]byte, 8)},
		Body:   din.BodyType{SessionSetupReq: &din.SessionSetupReqType{EVCCID: []byte{2, 0, 0, 0, 0, 1}}}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(v2gtp.AppendMessage(v2gtp.AppendMessage(nil, v2gtp.TypeEXI, sap), v2gtp.TypeEXI, setup))
	// The car's requests of real captures, when the shared material is there.
	if dir, ok := shared.SharedDir(); ok {
		for _, name := range []string{"pyplc/2023-05-24_pyPlc_with_Ioniq93prcSoc.pcapng", "everest/mercedes-eqe_iso2-dc.pcap"} {
			c, err := capture.Open(dir + "/captures/" + name)
			if err != nil {
				f.Fatal(err)
			}
			msgs, _ := capture.V2GTP(c.Frames())
			conns := split(msgs)
			var seed []byte
			for _, m := range conns[0].car2 {
				seed = v2gtp.AppendMessage(seed, m.Header.Type, m.Payload)
			}
			f.Add(seed)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		msgs := carStream(b)
		r, err := Run(context.Background(), msgs, Config{})
		if err == nil && len(r.Sessions) == 0 {
			t.Fatal("no error and no session")
		}
		sent := 0
		for _, s := range r.Sessions {
			if len(s.Steps) > s.Captured.Requests || s.Unsent > s.Captured.Requests || s.Record.End == 0 {
				t.Fatalf("session %+v", s)
			}
			sent += s.Captured.Requests
		}
		if sent > len(msgs) {
			t.Fatalf("%d requests of %d messages", sent, len(msgs))
		}
	})
}
