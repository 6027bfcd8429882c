package secc

import (
	"encoding/hex"
	"io"
	"net/netip"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/ccslink/ccslink/proto/v2g/message"
	"github.com/ccslink/ccslink/proto/v2gtp"
	"github.com/ccslink/ccslink/record"
)

// TestDecline answers the handshake of a car the charger declines
// (Config.Decline) Failed_NoNegotiation, whatever it offers: the V2GTP
// header and the EXI of the captured answers' "80 40 00 40" with
// ResponseCode 2 (Failed_NoNegotiation) and no SchemaID.
func TestDecline(t *testing.T) {
	info := ConnInfo{Peer: netip.MustParseAddrPort("[fe80::1]:50000"), Local: netip.MustParseAddrPort("[fe80::2]:15118")}
	var asked []ConnInfo
	cfg := Config{Decline: func(i ConnInfo) bool { asked = append(asked, i); return true }}
	var evs []record.Event
	c := NewConn(cfg, t0, info, func(e record.Event) { evs = append(evs, e) })
	req := sapReq(t)
	at := t0.Add(time.Second)
	out, step, err := c.Handle(at, v2gtp.Header{Type: v2gtp.TypeEXI, Length: uint32(len(req))}, req, nil)
	if err != nil || step.Request != message.SupportedAppProtocolReq || step.Code != "Failed_NoNegotiation" {
		t.Fatalf("step %+v, err %v", step, err)
	}
	if got := hex.EncodeToString(out); got != "01fe800100000003804880" {
		t.Fatalf("answer %s, want 01fe800100000003804880", got)
	}
	if len(asked) != 1 || asked[0] != info {
		t.Errorf("Decline asked %+v", asked)
	}
	if !c.Session().Done() || !c.Session().Declined() || c.Session().Protocol() != ProtocolNone {
		t.Errorf("done %v declined %v protocol %v", c.Session().Done(), c.Session().Declined(), c.Session().Protocol())
	}
	c.Sent(time.Millisecond)
	// What the car offered is kept (its fingerprint); no protocol.
	hs := record.Event{Kind: record.KindHandshake, At: at, Offered: []record.AppProtocol{{Namespace: offerDIN.ProtocolNamespace, Major: 2, Minor: 0, SchemaID: offerDIN.SchemaID, Priority: offerDIN.Priority}}}
	want := []record.Event{
		{Kind: record.KindConnected, At: t0},
		hs,
		{Kind: record.KindRequest, At: at, Message: message.SupportedAppProtocolReq, Code: "Failed_NoNegotiation", Took: time.Millisecond},
	}
	if !reflect.DeepEqual(evs, want) {
		t.Fatalf("events\n%+v\nwant\n%+v", evs, want)
	}
	if c.Deadline() != at.Add(CloseWait) {
		t.Errorf("deadline %v", c.Deadline())
	}
	if end, detail := c.End(at.Add(time.Second), io.EOF); end != record.EndNoNegotiation || detail != "" {
		t.Errorf("end %v %q", end, detail)
	}
}

// TestDeclineKeptOpen: a declined car that does not close its connection.
func TestDeclineKeptOpen(t *testing.T) {
	c, _ := connUnder(t, Config{Decline: func(ConnInfo) bool { return true }}, sapReq(t))
	end, detail := c.End(t0.Add(time.Minute), os.ErrDeadlineExceeded)
	if end != record.EndNoNegotiation || detail != "the car kept the connection open "+CloseWait.String()+" after supportedAppProtocolReq answered Failed_NoNegotiation" {
		t.Errorf("end %v %q", end, detail)
	}
}

// TestDeclineNot: a car the hook lets through negotiates as always.
func TestDeclineNot(t *testing.T) {
	c, evs := connUnder(t, Config{Decline: func(ConnInfo) bool { return false }}, sapReq(t))
	if c.Session().Done() || c.Session().Declined() || c.Session().Protocol() != ProtocolDIN {
		t.Fatalf("done %v declined %v protocol %v", c.Session().Done(), c.Session().Declined(), c.Session().Protocol())
	}
	if e := (*evs)[len(*evs)-1]; e.Code != "OK_SuccessfulNegotiation" {
		t.Errorf("answered %q", e.Code)
	}
}
