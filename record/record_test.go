package record

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/ccslink/ccslink/proto/v2g/message"
)

func TestParseEVCCID(t *testing.T) {
	tests := []struct {
		raw    []byte
		hex    string
		random bool
	}{
		{[]byte{0x04, 0x65, 0x65, 0x00, 0x64, 0xc3}, "0465650064c3", false},       // Ioniq, a vendor MAC
		{[]byte{0x02, 0x00, 0x00, 0x00, 0xca, 0x01}, "02000000ca01", true},        // locally administered
		{[]byte{0, 0, 0x04, 0x65, 0x65, 0x00, 0x64, 0xc3}, "0465650064c3", false}, // DIN's 8-byte form
		{[]byte{0, 0x04, 0x65, 0x65, 0x00, 0x64, 0xc3}, "0465650064c3", false},    // 7 bytes
		{[]byte{1, 2, 3}, "010203", false},                                        // not MAC-shaped: all of it
		{[]byte{1, 2, 3, 4, 5, 6, 7, 8}, "0102030405060708", false},
	}
	for _, tc := range tests {
		id := ParseEVCCID(tc.raw)
		if id.Hex != tc.hex || id.Random != tc.random || !reflect.DeepEqual(id.Raw, tc.raw) {
			t.Errorf("%x: %+v, want %s random=%v", tc.raw, id, tc.hex, tc.random)
		}
	}
}

func TestApplyKeepsRealValues(t *testing.T) {
	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	i := func(v int) *int { return &v }
	f := func(v float64) *float64 { return &v }
	var s Session
	if !s.Apply(Event{Kind: KindValues, At: at, Message: message.ChargeParameterDiscoveryReq, Values: Values{SoC: i(93), EnergyCapacityWh: f(28000)}}) {
		t.Fatal("first values not reported as a change")
	}
	// A later zero is no better than a real value; an out-of-range SoC is no value.
	if s.Apply(Event{Kind: KindValues, At: at.Add(time.Second), Message: message.CurrentDemandReq, Values: Values{SoC: i(0), EnergyCapacityWh: f(0)}}) {
		t.Error("zeros reported as a change")
	}
	if s.Apply(Event{Kind: KindValues, At: at.Add(time.Second), Message: message.CurrentDemandReq, Values: Values{SoC: i(101)}}) {
		t.Error("SoC 101 taken")
	}
	if s.SoC != (Int{93, true, "ChargeParameterDiscoveryReq", at}) || s.EnergyCapacityWh.Value != 28000 {
		t.Fatalf("record: %+v", s)
	}
	// A newer real value replaces it.
	s.Apply(Event{Kind: KindValues, At: at.Add(2 * time.Second), Message: message.CurrentDemandReq, Values: Values{SoC: i(94)}})
	if s.SoC.Value != 94 || s.SoC.From != "CurrentDemandReq" || s.Phases.FirstCPD != at {
		t.Fatalf("record: %+v", s)
	}
	if s.FullSOC.OrMinus() != -1 || s.SoC.OrMinus() != 94 {
		t.Fatal("OrMinus")
	}
}

func TestApplyEnds(t *testing.T) {
	var s Session
	s.Apply(Event{Kind: KindEnded, End: EndCarClosed})
	s.Apply(Event{Kind: KindEnded, End: EndSessionStop}) // the car reconnected, then stopped
	s.Apply(Event{Kind: KindEnded, End: EndLinkLost})    // then unplugged
	if s.End != EndSessionStop {
		t.Fatalf("end %v, want the V2G session's", s.End)
	}
	var n Session
	n.Apply(Event{Kind: KindEnded, End: EndLinkLost})
	if n.End != EndLinkLost {
		t.Fatalf("end %v", n.End)
	}
	// The interface went away mid-session: the connection closed by the
	// stop reports it first, the plug-in's end says why.
	var g Session
	g.Apply(Event{Kind: KindEnded, End: EndStopped, Detail: "the charger stopped"})
	g.Apply(Event{Kind: KindEnded, End: EndIfaceLost, Detail: "evse0 disappeared"})
	if g.End != EndIfaceLost || g.Detail != "evse0 disappeared" {
		t.Fatalf("end %v %q", g.End, g.Detail)
	}
	b, _ := EndIfaceLost.MarshalText()
	var back End
	if err := back.UnmarshalText(b); err != nil || back != EndIfaceLost || string(b) != "interface_lost" ||
		back.Words() != "the charger's network interface went away (modem driver reset?)" {
		t.Fatalf("%q %v %v %q", b, back, err, back.Words())
	}
	// Once the car ended its session, a lost interface changes nothing.
	var d Session
	d.Apply(Event{Kind: KindEnded, End: EndSessionStop})
	d.Apply(Event{Kind: KindEnded, End: EndIfaceLost})
	if d.End != EndSessionStop {
		t.Fatalf("end %v", d.End)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	var s Session
	soc := 93
	for _, e := range []Event{
		{Kind: KindMatched, At: at, EVMAC: "04:65:65:00:64:c3"},
		{Kind: KindHandshake, At: at, Protocol: "din", Namespace: "urn:din:70121:2012:MsgDef"},
		{Kind: KindSessionSetup, At: at, EVCCID: []byte{4, 0x65, 0x65, 0, 0x64, 0xc3}},
		{Kind: KindValues, At: at, Message: message.ChargeParameterDiscoveryReq, Values: Values{SoC: &soc}},
		{Kind: KindRequest, At: at, Message: message.SessionStopReq, Code: "OK", Took: 20 * time.Microsecond},
		{Kind: KindDelivered, Delivery: &Delivery{Output: "smartevse", What: "current_soc=93", OK: true, Result: "HTTP 200", At: at, Sent: &Sent{SoC: &soc, EVCCID: "0465650064c3"}}},
		{Kind: KindEnded, At: at, End: EndSessionStop},
	} {
		s.Apply(e)
	}
	b, err := json.Marshal(&s)
	if err != nil {
		t.Fatal(err)
	}
	var back Session
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, &s) {
		t.Fatalf("round trip:\n%+v\n%+v", back, s)
	}
	if got := s.Summary(); got != "car 04:65:65:00:64:c3 (DIN 70121): SoC 93 %, EVCCID 0465650064c3" {
		t.Errorf("summary %q", got)
	}
}

// TestEVCCIDOfTheValues: the plug-in's EVCCID is that of the connection
// that supplied its values; before any values, the newest connection's.
func TestEVCCIDOfTheValues(t *testing.T) {
	a, b, c := []byte{2, 0, 0, 0, 0, 0xa}, []byte{2, 0, 0, 0, 0, 0xb}, []byte{2, 0, 0, 0, 0, 0xc}
	soc := func(v int) Values { return Values{SoC: &v} }
	var s Session
	steps := []struct {
		e       Event
		id      string
		changed bool
	}{
		{Event{Kind: KindSessionSetup, EVCCID: a, Conn: 1}, "02000000000a", true},
		// A second connection before any values: its ID stands.
		{Event{Kind: KindSessionSetup, EVCCID: b, Conn: 2}, "02000000000b", true},
		{Event{Kind: KindValues, Message: message.ChargeParameterDiscoveryReq, Values: soc(93), Conn: 2}, "02000000000b", true},
		// A third connection's ID waits for its values...
		{Event{Kind: KindSessionSetup, EVCCID: c, Conn: 3}, "02000000000b", false},
		// ...values of the second connection keep the second's ID...
		{Event{Kind: KindValues, Message: message.ChargeParameterDiscoveryReq, Values: soc(94), Conn: 2}, "02000000000b", true},
		// ...and the third's values bring its ID with them.
		{Event{Kind: KindValues, Message: message.ChargeParameterDiscoveryReq, Values: soc(95), Conn: 3}, "02000000000c", true},
		// The same ID again changes nothing.
		{Event{Kind: KindSessionSetup, EVCCID: c, Conn: 3}, "02000000000c", false},
	}
	for i, st := range steps {
		if changed := s.Apply(st.e); changed != st.changed || s.EVCCIDHex() != st.id {
			t.Fatalf("step %d: EVCCID %q, changed %v; want %q, %v", i, s.EVCCIDHex(), changed, st.id, st.changed)
		}
	}
	if s.SoC.Value != 95 {
		t.Fatalf("SoC %d", s.SoC.Value)
	}
	cl := s.Clone()
	if cl.EVCCIDHex() != "02000000000c" || !reflect.DeepEqual(cl, &s) {
		t.Fatalf("clone %+v", cl)
	}
}

// TestNoComm: a car that never started SLAC has a record of its own: its
// end in JSON and in words, a summary line that says what the owner must
// know, and the pilot's state A as the evidence of its leaving; a car that
// starts SLAC late is a car like any other.
func TestNoComm(t *testing.T) {
	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	const detail = "the car did not start digital communication within 10 s: it will charge on AC without SoC"
	var s Session
	s.Apply(Event{Kind: KindSLACStarted, At: at})
	s.Apply(Event{Kind: KindEnded, At: at.Add(10 * time.Second), End: EndNoComm, Detail: detail})
	s.Apply(Event{Kind: KindEnded, At: at.Add(40 * time.Second), End: EndNoComm, Detail: detail, Gone: "the control pilot went back to state A"})
	s.Apply(Event{Kind: KindEnded, At: at.Add(41 * time.Second), End: EndStopped}) // a plug-in's end never overwrites it
	b, err := json.Marshal(&s)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"soc":{"value":0,"known":false},"full_soc":{"value":0,"known":false},"bulk_soc":{"value":0,"known":false},` +
		`"energy_capacity_wh":{"value":0,"known":false},"energy_request_wh":{"value":0,"known":false},"ev_max_voltage_v":{"value":0,"known":false},` +
		`"ev_max_current_a":{"value":0,"known":false},"ev_max_power_w":{"value":0,"known":false},` +
		`"phases":{"slac_start":"2026-12-07T12:00:00Z","ended":"2026-12-07T12:00:41Z"},"end":"no_digital_communication",` +
		`"end_detail":"` + detail + `","gone":"the control pilot went back to state A"}`
	if string(b) != want {
		t.Fatalf("JSON\n got %s\nwant %s", b, want)
	}
	var back Session
	if err := json.Unmarshal(b, &back); err != nil || back.End != EndNoComm {
		t.Fatalf("read back: end %v, %v", back.End, err)
	}
	if got := s.Summary(); got != detail {
		t.Errorf("summary %q", got)
	}
	if w := EndNoComm.Words(); w != "the car did not start digital communication: it charges on AC without SoC" {
		t.Errorf("words %q", w)
	}

	var late Session
	late.Apply(Event{Kind: KindSLACStarted, At: at})
	late.Apply(Event{Kind: KindEnded, At: at.Add(10 * time.Second), End: EndNoComm, Detail: detail})
	late.Apply(Event{Kind: KindMatched, At: at.Add(25 * time.Second), EVMAC: "04:65:65:00:64:c3"})
	if late.End != EndNone || late.Detail != "" {
		t.Fatalf("after a late match: end %v %q", late.End, late.Detail)
	}
	late.Apply(Event{Kind: KindEnded, At: at.Add(60 * time.Second), End: EndNoSession, Detail: "no V2G connection within 20s of link-up"})
	late.Apply(Event{Kind: KindEnded, At: at.Add(90 * time.Second), End: EndLinkLost})
	if late.End != EndNoSession || late.Summary() != "car 04:65:65:00:64:c3: no SoC" {
		t.Fatalf("late car: end %v, summary %q", late.End, late.Summary())
	}
}
