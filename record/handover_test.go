package record

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// TestApplyHandover: the handover amends the record, a copy of its own,
// and is written in JSON with its times in milliseconds.
func TestApplyHandover(t *testing.T) {
	var s Session
	h := &Handover{Strategy: StrategyDeliverNow, ACStarted: true, ACAfter: 9 * time.Second, Observed: true,
		Seen: []string{"B", "MODEM_DONE", "A", "C"}, Watched: time.Minute, At: sec(20)}
	if s.Apply(Event{Kind: KindHandover, At: sec(20), PlugIn: 3, Handover: h}) {
		t.Fatal("a handover reported as a change of the car's values")
	}
	h.Seen[0] = "X" // the record keeps its own copy
	want := Handover{Strategy: "deliver-now", ACStarted: true, ACAfter: 9 * time.Second, Observed: true,
		Seen: []string{"B", "MODEM_DONE", "A", "C"}, Watched: time.Minute, At: sec(20)}
	if s.Handover == nil || !reflect.DeepEqual(*s.Handover, want) {
		t.Fatalf("handover %+v", s.Handover)
	}
	c := s.Clone()
	c.Handover.Seen[1] = "Y"
	if s.Handover.Seen[1] != "MODEM_DONE" {
		t.Fatal("Clone shares the handover's states")
	}
	b, err := json.Marshal(struct {
		H *Handover `json:"handover"`
	}{s.Handover})
	if err != nil {
		t.Fatal(err)
	}
	const js = `{"handover":{"strategy":"deliver-now","ac_started":true,"ac_after_ms":9000,"outcome":"ac_started","observed":true,"seen":["B","MODEM_DONE","A","C"],"watched_ms":60000,"at":"2026-12-01T12:00:20Z"}}`
	if string(b) != js {
		t.Fatalf("JSON\n got %s\nwant %s", b, js)
	}
	var back Session
	if err := json.Unmarshal([]byte(`{"handover":`+js[len(`{"handover":`):len(js)-1]+`}`), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*back.Handover, want) {
		t.Fatalf("read back %+v", *back.Handover)
	}
}

// TestHandoverWords: each outcome in words and by name; ac_after_ms only
// when AC started.
func TestHandoverWords(t *testing.T) {
	for _, c := range []struct {
		h              Handover
		outcome, words string
		json           string
	}{
		{Handover{Strategy: StrategyDeliverNow, ACStarted: true, ACAfter: 9400 * time.Millisecond, Observed: true, Watched: time.Minute},
			OutcomeACStarted, "charging on AC 9 s later",
			`{"strategy":"deliver-now","ac_started":true,"ac_after_ms":9400,"outcome":"ac_started","observed":true,"watched_ms":60000}`},
		{Handover{Strategy: StrategyDeliverNow, ACStarted: true, ACAfter: 0, Observed: true, Watched: time.Minute},
			OutcomeACStarted, "charging on AC 0 ms later",
			`{"strategy":"deliver-now","ac_started":true,"ac_after_ms":0,"outcome":"ac_started","observed":true,"watched_ms":60000}`},
		{Handover{Strategy: StrategyDeliverNow, Observed: true, Seen: []string{"MODEM_DONE", "A", "B"}, Watched: time.Minute},
			OutcomeNoAC, "no AC charging within 60 s (seen: MODEM_DONE, A, B)",
			`{"strategy":"deliver-now","ac_started":false,"outcome":"no_ac","observed":true,"seen":["MODEM_DONE","A","B"],"watched_ms":60000}`},
		{Handover{Strategy: StrategyDeliverNow, Why: "10.0.0.1:80 has no GET /settings (HTTP 404)", Watched: time.Minute},
			OutcomeNotObserved, "AC charging not observed: 10.0.0.1:80 has no GET /settings (HTTP 404)",
			`{"strategy":"deliver-now","ac_started":false,"outcome":"not_observed","observed":false,"why":"10.0.0.1:80 has no GET /settings (HTTP 404)","watched_ms":60000}`},
	} {
		if got := c.h.Outcome(); got != c.outcome {
			t.Errorf("%+v: outcome %q, want %q", c.h, got, c.outcome)
		}
		if got := c.h.Words(); got != c.words {
			t.Errorf("%+v: words %q, want %q", c.h, got, c.words)
		}
		if b, _ := json.Marshal(c.h); string(b) != c.json {
			t.Errorf("JSON\n got %s\nwant %s", b, c.json)
		}
	}
}
