package httpapi

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ccslink/ccslink/record"
)

// TestEstimateLate: the SoC estimated while the car charges on AC, after
// its plug-in ended, shows in /api/state as soc_estimated with its basis
// and in words, beside the soc the car sent, and reaches the event
// stream's clients as a soc_estimated event; the car leaving clears it.
func TestEstimateLate(t *testing.T) {
	s, hs, subscribed := newHTTP(t, Config{Keep: 5})
	p := &player{s: s}
	p.play(ioniq()[0])
	p.rec.PlugIn = 7
	p.plugIn(ioniq()[1:])
	events := subscribe(t, hs.URL, subscribed)
	if e := next(t, events); e.kind != "state" || strings.Contains(e.raw, `"soc_estimated`) {
		t.Fatalf("first state: %s", e.raw)
	}
	est := &record.Estimate{SoC: 96.5, MeasuredSoC: 93, MeasuredAt: ms(5000), EnergySinceWh: 1100, CapacityWh: 28000,
		CapacityFrom: "ChargeParameterDiscoveryReq", Efficiency: 0.9, At: ms(20000)}
	e := record.Event{Kind: record.KindEstimate, At: est.At, PlugIn: 7, Estimate: est}
	amended := p.rec.Clone()
	amended.Apply(e)
	within(t, "Late", func() { s.Late(e, amended) })

	const want = `{"soc":96.5,"measured_soc":93,"measured_at":"2026-05-24T10:00:05Z","energy_since_wh":1100,"capacity_wh":28000,"capacity_from":"ChargeParameterDiscoveryReq","efficiency":0.9,"at":"2026-05-24T10:00:20Z"}`
	ev := next(t, events)
	if ev.kind != "soc_estimated" || !strings.Contains(ev.raw, `{"kind":"soc_estimated","at":"2026-05-24T10:00:20Z","soc_estimated":`+want+`,`) ||
		!strings.Contains(ev.raw, `"soc_estimated":`+want+`,"soc_estimated_words":"≈ 97 % (estimated)"`) {
		t.Fatalf("soc_estimated event: %s", ev.raw)
	}
	code, b := get(t, s.Handler(), "/api/state")
	var st struct {
		SoC          *int            `json:"soc"`
		SoCEstimated json.RawMessage `json:"soc_estimated"`
		Words        string          `json:"soc_estimated_words"`
		Session      struct {
			SoCEstimated json.RawMessage `json:"soc_estimated"`
		} `json:"session"`
	}
	if err := json.Unmarshal(b, &st); code != 200 || err != nil || st.SoC == nil || *st.SoC != 93 || string(st.SoCEstimated) != want ||
		st.Words != "≈ 97 % (estimated)" || string(st.Session.SoCEstimated) != want {
		t.Fatalf("/api/state %d: %s", code, b)
	}

	// The car leaves: no estimate any more; the SoC read stays.
	clear := record.Event{Kind: record.KindEstimate, At: ms(60000), PlugIn: 7}
	amended.Apply(clear)
	within(t, "Late", func() { s.Late(clear, amended) })
	if ev := next(t, events); ev.kind != "soc_estimated" || strings.Contains(ev.raw, `"soc_estimated":{`) || strings.Contains(ev.raw, "soc_estimated_words") {
		t.Fatalf("clearing event: %s", ev.raw)
	}
	_, b = get(t, s.Handler(), "/api/state")
	if strings.Contains(string(b), `"soc_estimated`) || !strings.Contains(string(b), `"soc":93,`) {
		t.Fatalf("/api/state after the car left: %s", b)
	}
}
