package record

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/ccslink/ccslink/proto/v2g/message"
)

var a0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func sec(n int) time.Time { return a0.Add(time.Duration(n) * time.Second) }

func ip(v int) *int { return &v }

func fp(v float64) *float64 { return &v }

func TestApplyPhases(t *testing.T) {
	var s Session
	for _, e := range []Event{
		{Kind: KindSLACStarted, At: sec(1)},
		{Kind: KindMatched, At: sec(2), EVMAC: "04:65:65:00:64:c3"},
		{Kind: KindLinkUp, At: sec(3)},
		{Kind: KindSDP, At: sec(4)},
		{Kind: KindSDP, At: sec(5)}, // a repeated request: the first counts
		{Kind: KindConnected, At: sec(6)},
		{Kind: KindConnected, At: sec(7)}, // a reconnection: the first counts
		{Kind: KindHandshake, At: sec(8), Protocol: "iso2", Namespace: "urn:iso:15118:2:2013:MsgDef"},
	} {
		if s.Apply(e) {
			t.Fatalf("%v reported as a change of the car's values", e.Kind)
		}
	}
	want := Phases{SLACStart: sec(1), Matched: sec(2), LinkUp: sec(3), SDP: sec(4), TCP: sec(6), Handshake: sec(8)}
	if s.Phases != want || s.EVMAC != "04:65:65:00:64:c3" || s.Protocol != "iso2" || s.Namespace != "urn:iso:15118:2:2013:MsgDef" {
		t.Fatalf("record %+v", s)
	}
}

func TestApplySessionSetup(t *testing.T) {
	var s Session
	if s.Apply(Event{Kind: KindSessionSetup, At: sec(1)}) || s.EVCCID != nil || s.Phases.SessionSetup != sec(1) {
		t.Fatalf("no EVCCID: %+v", s)
	}
	raw := []byte{0, 0, 4, 0x65, 0x65, 0, 0x64, 0xc3}
	if !s.Apply(Event{Kind: KindSessionSetup, At: sec(2), EVCCID: raw, Conn: 1}) {
		t.Fatal("first EVCCID not reported as a change")
	}
	want := EVCCID{Raw: raw, Hex: "0465650064c3", Random: false}
	if !reflect.DeepEqual(*s.EVCCID, want) || s.Phases.SessionSetup != sec(1) {
		t.Fatalf("EVCCID %+v, session setup at %v", *s.EVCCID, s.Phases.SessionSetup)
	}
	raw[7] = 0 // the record keeps its own copy
	if s.EVCCIDHex() != "0465650064c3" || s.EVCCID.Raw[7] != 0xc3 {
		t.Fatalf("EVCCID %+v", *s.EVCCID)
	}
}

func TestApplyRequest(t *testing.T) {
	var s Session
	s.Apply(Event{Kind: KindRequest, At: sec(1), Message: message.SessionSetupReq, Code: "OK_NewSessionEstablished", Took: 41 * time.Microsecond})
	s.Apply(Event{Kind: KindRequest, At: sec(2), Message: message.CableCheckReq, Code: "FAILED", Took: 17 * time.Microsecond, Detail: "out of order"})
	want := []Answer{
		{Message: message.SessionSetupReq, Code: "OK_NewSessionEstablished", At: sec(1), Took: 41 * time.Microsecond},
		{Message: message.CableCheckReq, Code: "FAILED", At: sec(2), Took: 17 * time.Microsecond},
	}
	if !reflect.DeepEqual(s.Answers, want) {
		t.Fatalf("answers %+v", s.Answers)
	}
	for i := range MaxAnswers {
		s.Apply(Event{Kind: KindRequest, At: sec(3 + i), Message: message.CurrentDemandReq, Code: "OK"})
	}
	if len(s.Answers) != MaxAnswers || s.Answers[MaxAnswers-1].At != sec(MaxAnswers) {
		t.Fatalf("%d answers kept, the last at %v; want %d, the last at %v", len(s.Answers), s.Answers[len(s.Answers)-1].At, MaxAnswers, sec(MaxAnswers))
	}
}

// TestApplyValuesNewestCounts walks the rule of Values with a car whose
// SoC goes down: the newest real value counts, with its message and time.
func TestApplyValuesNewestCounts(t *testing.T) {
	var s Session
	steps := []struct {
		e       Event
		changed bool
		soc     Int
		full    Int
		cap     Num
	}{
		{Event{Kind: KindValues, At: sec(1), Message: message.ChargeParameterDiscoveryReq, Values: Values{SoC: ip(80), FullSOC: ip(95), EnergyCapacityWh: fp(77000)}}, true,
			Int{80, true, "ChargeParameterDiscoveryReq", sec(1)}, Int{95, true, "ChargeParameterDiscoveryReq", sec(1)}, Num{77000, true, "ChargeParameterDiscoveryReq", sec(1)}},
		// The same values again keep their first source.
		{Event{Kind: KindValues, At: sec(2), Message: message.CableCheckReq, Values: Values{SoC: ip(80)}}, false,
			Int{80, true, "ChargeParameterDiscoveryReq", sec(1)}, Int{95, true, "ChargeParameterDiscoveryReq", sec(1)}, Num{77000, true, "ChargeParameterDiscoveryReq", sec(1)}},
		// Lower after higher: the newest counts.
		{Event{Kind: KindValues, At: sec(3), Message: message.PreChargeReq, Values: Values{SoC: ip(78), FullSOC: ip(90), EnergyCapacityWh: fp(76500)}}, true,
			Int{78, true, "PreChargeReq", sec(3)}, Int{90, true, "PreChargeReq", sec(3)}, Num{76500, true, "PreChargeReq", sec(3)}},
		// A zero over a real value, a SoC out of range, a negative quantity: no value.
		{Event{Kind: KindValues, At: sec(4), Message: message.CurrentDemandReq, Values: Values{SoC: ip(0), FullSOC: ip(101), EnergyCapacityWh: fp(-1)}}, false,
			Int{78, true, "PreChargeReq", sec(3)}, Int{90, true, "PreChargeReq", sec(3)}, Num{76500, true, "PreChargeReq", sec(3)}},
		{Event{Kind: KindValues, At: sec(5), Message: message.CurrentDemandReq, Values: Values{SoC: ip(-3), EnergyCapacityWh: fp(0)}}, false,
			Int{78, true, "PreChargeReq", sec(3)}, Int{90, true, "PreChargeReq", sec(3)}, Num{76500, true, "PreChargeReq", sec(3)}},
		// Higher again.
		{Event{Kind: KindValues, At: sec(6), Message: message.CurrentDemandReq, Values: Values{SoC: ip(79)}}, true,
			Int{79, true, "CurrentDemandReq", sec(6)}, Int{90, true, "PreChargeReq", sec(3)}, Num{76500, true, "PreChargeReq", sec(3)}},
	}
	for i, st := range steps {
		changed := s.Apply(st.e)
		if changed != st.changed || s.SoC != st.soc || s.FullSOC != st.full || s.EnergyCapacityWh != st.cap {
			t.Fatalf("step %d: changed %v, SoC %+v, FullSOC %+v, capacity %+v; want %v, %+v, %+v, %+v",
				i, changed, s.SoC, s.FullSOC, s.EnergyCapacityWh, st.changed, st.soc, st.full, st.cap)
		}
	}
	if s.Phases.FirstCPD != sec(1) || s.SoC.OrMinus() != 79 || s.EnergyCapacityWh.OrMinus() != 76500 || s.EnergyRequestWh.OrMinus() != -1 {
		t.Fatalf("record %+v", s)
	}
}

// TestApplyValuesZeroFirst: a 0 % over nothing is a real value, and a
// later real value replaces it; the limits follow the same rule but are
// no change of the values outputs deliver.
func TestApplyValuesZeroFirst(t *testing.T) {
	var s Session
	if !s.Apply(Event{Kind: KindValues, At: sec(1), Message: message.ChargeParameterDiscoveryReq, Values: Values{SoC: ip(0), BulkSOC: ip(80), EnergyRequestWh: fp(0)}}) {
		t.Fatal("a first 0 % not reported as a change")
	}
	if !s.Apply(Event{Kind: KindValues, At: sec(2), Message: message.CurrentDemandReq, Values: Values{SoC: ip(1), EnergyRequestWh: fp(21000)}}) {
		t.Fatal("1 % over 0 % not reported as a change")
	}
	if s.Apply(Event{Kind: KindValues, At: sec(3), Message: message.CurrentDemandReq, Values: Values{MaxVoltageV: fp(410), MaxCurrentA: fp(125), MaxPowerW: fp(50000), TargetVoltageV: fp(400)}}) {
		t.Fatal("limits reported as a change of the delivered values")
	}
	if s.SoC != (Int{1, true, "CurrentDemandReq", sec(2)}) || s.BulkSOC != (Int{80, true, "ChargeParameterDiscoveryReq", sec(1)}) ||
		s.EnergyRequestWh != (Num{21000, true, "CurrentDemandReq", sec(2)}) ||
		s.MaxVoltageV != (Num{410, true, "CurrentDemandReq", sec(3)}) || s.MaxCurrentA != (Num{125, true, "CurrentDemandReq", sec(3)}) ||
		s.MaxPowerW != (Num{50000, true, "CurrentDemandReq", sec(3)}) {
		t.Fatalf("record %+v", s)
	}
}

func TestHarvest(t *testing.T) {
	var s Session
	events := []Event{
		{Kind: KindValues, At: sec(1), Message: message.SessionSetupReq},
		{Kind: KindValues, At: sec(2), Message: message.ChargeParameterDiscoveryReq, Values: Values{SoC: ip(55)}},
		{Kind: KindValues, At: sec(3), Message: message.ChargeParameterDiscoveryReq, Values: Values{SoC: ip(55)}},
		{Kind: KindValues, At: sec(4), Message: message.CurrentDemandReq, Values: Values{SoC: ip(56)}},
		{Kind: KindRequest, At: sec(2), Message: message.ChargeParameterDiscoveryReq},
	}
	want := []bool{false, true, false, false, false}
	for i, e := range events {
		s.Apply(e)
		if got := s.Harvest(e); got != want[i] {
			t.Errorf("event %d (%s at %v): Harvest %v, want %v", i, e.Message, e.At, got, want[i])
		}
	}
	// The first ChargeParameterDiscoveryReq stays the harvest, asked later too.
	if !s.Harvest(events[1]) || s.Phases.FirstCPD != sec(2) {
		t.Fatalf("the first ChargeParameterDiscoveryReq asked later: not the harvest, FirstCPD %v", s.Phases.FirstCPD)
	}
}

// TestHarvestISO20: -20's parameter discovery tells no SoC; its first
// charge loop is the harvest.
func TestHarvestISO20(t *testing.T) {
	var s Session
	events := []Event{
		{Kind: KindValues, At: sec(1), Message: message.SessionSetupReq},
		{Kind: KindValues, At: sec(2), Message: message.AC_ChargeParameterDiscoveryReq, Values: Values{EnergyCapacityWh: fp(77000)}},
		{Kind: KindValues, At: sec(3), Message: message.AC_ChargeLoopReq, Values: Values{SoC: ip(40)}},
		{Kind: KindValues, At: sec(4), Message: message.AC_ChargeLoopReq, Values: Values{SoC: ip(41)}},
	}
	want := []bool{false, false, true, false}
	for i, e := range events {
		s.Apply(e)
		if got := s.Harvest(e); got != want[i] {
			t.Errorf("event %d (%s at %v): Harvest %v, want %v", i, e.Message, e.At, got, want[i])
		}
	}
	if s.Phases.FirstCPD != sec(3) || s.SoC.Value != 41 {
		t.Fatalf("FirstCPD %v, SoC %+v: want the first loop's time and the newest SoC 41", s.Phases.FirstCPD, s.SoC)
	}
}

func TestApplyDelivered(t *testing.T) {
	var s Session
	if s.Apply(Event{Kind: KindDelivered}) || s.Deliveries != nil {
		t.Fatalf("an event without a delivery: %+v", s.Deliveries)
	}
	failed := Delivery{Output: "smartevse", What: "current_soc=80&full_soc=-1&energy_capacity=-1&energy_request=-1", Result: "connection refused", At: sec(1), Took: time.Second}
	ok := Delivery{Output: "smartevse", What: "current_soc=78&full_soc=-1&energy_capacity=-1&energy_request=-1", OK: true, Result: "HTTP 200", At: sec(2), Took: 3 * time.Millisecond,
		Sent: &Sent{SoC: ip(78)}}
	again := ok
	again.At = sec(3)
	for _, d := range []Delivery{failed, ok, again} {
		if s.Apply(Event{Kind: KindDelivered, At: d.At, Delivery: &d}) {
			t.Fatal("a delivery reported as a change of the car's values")
		}
	}
	if !reflect.DeepEqual(s.Deliveries, []Delivery{failed, ok, again}) || s.Phases.Delivered != sec(2) {
		t.Fatalf("deliveries %+v, delivered at %v", s.Deliveries, s.Phases.Delivered)
	}
	c := s.Clone()
	*c.Deliveries[1].Sent.SoC = 1
	if *s.Deliveries[1].Sent.SoC != 78 {
		t.Fatal("the clone shares what was sent")
	}
	b, err := json.Marshal(s.Deliveries[1])
	if err != nil {
		t.Fatal(err)
	}
	const wantJSON = `{"output":"smartevse","what":"current_soc=78\u0026full_soc=-1\u0026energy_capacity=-1\u0026energy_request=-1","ok":true,"result":"HTTP 200","at":"2026-12-01T12:00:02Z","took_ns":3000000,` +
		`"sent":{"soc":78,"full_soc":null,"energy_capacity_wh":null,"energy_request_wh":null}}`
	if string(b) != wantJSON {
		t.Fatalf("JSON\n%s\nwant\n%s", b, wantJSON)
	}
}

func TestApplyEndedDetails(t *testing.T) {
	var s Session
	s.Apply(Event{Kind: KindEnded, At: sec(1), End: EndTimeout, Detail: "no request for 60 s", LinkFlaps: 2})
	s.Apply(Event{Kind: KindEnded, At: sec(9), End: EndLinkLost, Gone: "the modem reports no link and the car is silent", LinkFlaps: 1})
	if s.End != EndTimeout || s.Detail != "no request for 60 s" || s.Gone != "the modem reports no link and the car is silent" || s.LinkFlaps != 2 || s.Phases.Ended != sec(9) {
		t.Fatalf("record %+v", s)
	}
}
