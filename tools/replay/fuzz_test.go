package replay

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/ccslink/ccslink/internal/shared"
	"github.com/ccslink/ccslink/proto/v2g/apphand"
	"github.com/ccslink/ccslink/proto/v2g/din"
	"github.com/ccslink/ccslink/proto/v2gtp"
	"github.com/ccslink/ccslink/tools/capture"
)

var (
	fuzzCar     = netip.MustParseAddrPort("[fe80::1]:50000")
	fuzzCharger = netip.MustParseAddrPort("[fe80::2]:15118")
)

// carStream cuts b into a car's messages to a charger: each is a 2-byte
// big-endian length and that many payload bytes, sent as an EXI message
// (or, with the length's top bit set, as ISO-20 CommonMessages).
func carStream(b []byte) []capture.Message {
	var msgs []capture.Message
	t0 := time.Unix(1700000000, 0)
	for i := 0; len(b) >= 2; i++ {
		n, typ := int(b[0]&0x7f)<<8|int(b[1]), v2gtp.TypeEXI
		if b[0]&0x80 != 0 {
			typ = v2gtp.TypeISO20CommonMessages
		}
		b = b[2:]
		n = min(n, len(b))
		msgs = append(msgs, capture.Message{Time: t0.Add(time.Duration(i) * time.Millisecond), Frame: i,
			Src: fuzzCar, Dst: fuzzCharger, Transport: "tcp", Header: v2gtp.Header{Type: typ, Length: uint32(n)}, Payload: b[:n:n]})
		b = b[n:]
	}
	return msgs
}

// chunk appends p to b as carStream reads it.
func chunk(b []byte, typ v2gtp.PayloadType, p []byte) []byte {
	n := len(p)
	if typ != v2gtp.TypeEXI {
		n |= 0x8000
	}
	return append(append(b, byte(n>>8), byte(n)), p...)
}

// FuzzRun replays hostile car requests: whatever the car sends, the replay
// ends with a result or an error, never a panic, and sends each request once at most.
func FuzzRun(f *testing.F) {
	addSeeds(f)
	f.Fuzz(fuzzRun)
}

// addSeeds adds a handshake built here and the car's side of real captures.
func addSeeds(f *testing.F) {
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
	f.Add(chunk(chunk(nil, v2gtp.TypeEXI, sap), v2gtp.TypeEXI, setup))
	// The car's requests of real captures, when the shared material is there.
	if dir, ok := shared.SharedDir(); ok {
		for _, name := range []string{"pyplc/2023-05-24_pyPlc_with_Ioniq93prcSoc.pcapng", "everest/mercedes-eqe_iso2-dc.pcap", "dsv2gshark/ISO-20_BPT_AC_DS5366_Josev.pcapng"} {
			c, err := capture.Open(dir + "/captures/" + name)
			if err != nil {
				f.Fatal(err)
			}
			msgs, _ := capture.V2GTP(c.Frames())
			conns := split(msgs)
			var seed []byte
			for _, m := range conns[0].car2 {
				seed = chunk(seed, m.Header.Type, m.Payload)
			}
			f.Add(seed)
		}
	}
}

func fuzzRun(t *testing.T, b []byte) {
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
}
