package httpapi

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ccslink/ccslink/record"
)

// TestHandoverLate: a handover that comes after its plug-in ended amends
// the record /api/state shows and /api/sessions keeps, and reaches the
// event stream's clients with the state it made; one of an older plug-in
// than the one shown changes nothing.
func TestHandoverLate(t *testing.T) {
	s, hs, subscribed := newHTTP(t, Config{Keep: 5})
	p := &player{s: s}
	p.play(ioniq()[0])
	p.rec.PlugIn = 7
	p.plugIn(ioniq()[1:])
	events := subscribe(t, hs.URL, subscribed)
	if e := next(t, events); e.kind != "state" || e.data.State.Handover != nil || strings.Contains(e.raw, `"handover"`) {
		t.Fatalf("first state: %s", e.raw)
	}

	h := &record.Handover{Strategy: record.StrategyDeliverNow, ACStarted: true, ACAfter: 9 * time.Second, Observed: true,
		Seen: []string{"MODEM_DONE", "A", "C"}, Watched: time.Minute, At: ms(15000)}
	old := &record.Session{PlugIn: 6, Handover: &record.Handover{Strategy: record.StrategyDeliverNow, Why: "no answer"}}
	within(t, "Late", func() {
		s.Late(record.Event{Kind: record.KindHandover, At: ms(14000), PlugIn: 6, Handover: old.Handover}, old)
	})
	e := record.Event{Kind: record.KindHandover, At: h.At, PlugIn: 7, Handover: h}
	amended := p.rec.Clone()
	amended.Apply(e)
	within(t, "Late", func() { s.Late(e, amended) })

	const want = `{"strategy":"deliver-now","ac_started":true,"ac_after_ms":9000,"outcome":"ac_started","observed":true,"seen":["MODEM_DONE","A","C"],"watched_ms":60000,"at":"2026-05-24T10:00:15Z"}`
	// The older plug-in's handover went to the clients too (it is news
	// of that plug-in), but the state still has none.
	ev := next(t, events)
	if ev.kind != "handover" || ev.data.State.Handover != nil || ev.data.Handover == nil || ev.data.Handover.Why != "no answer" {
		t.Fatalf("the older plug-in's handover event: %s", ev.raw)
	}
	ev = next(t, events)
	if ev.kind != "handover" || !strings.Contains(ev.raw, `"handover":`+want) ||
		!strings.Contains(ev.raw, `"handover":`+want+`,"handover_words":"charging on AC 9 s later"`) {
		t.Fatalf("handover event: %s", ev.raw)
	}

	code, b := get(t, s.Handler(), "/api/state")
	var st struct {
		Handover      json.RawMessage `json:"handover"`
		HandoverWords string          `json:"handover_words"`
		Session       struct {
			Handover json.RawMessage `json:"handover"`
		} `json:"session"`
	}
	if err := json.Unmarshal(b, &st); code != 200 || err != nil || string(st.Handover) != want || string(st.Session.Handover) != want ||
		st.HandoverWords != "charging on AC 9 s later" {
		t.Fatalf("/api/state %d: %s", code, b)
	}
	code, b = get(t, s.Handler(), "/api/sessions")
	var list []struct {
		Handover json.RawMessage `json:"handover"`
	}
	if err := json.Unmarshal(b, &list); code != 200 || err != nil || len(list) != 1 || string(list[0].Handover) != want {
		t.Fatalf("/api/sessions %d: %s", code, b)
	}

	// A handover while the plug-in runs is applied as any event.
	p.play(car(mac(3), 40, ms(30000))...)
	e2 := record.Event{Kind: record.KindHandover, At: ms(40000), Handover: &record.Handover{Strategy: record.StrategyDeliverNow, Observed: true, Seen: []string{"B"}, Watched: time.Minute}}
	p.play(e2)
	_, b = get(t, s.Handler(), "/api/state")
	if !strings.Contains(string(b), `"handover_words":"no AC charging within 60 s (seen: B)"`) {
		t.Fatalf("/api/state during the plug-in: %s", b)
	}
}
