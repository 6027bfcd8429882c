package record

import (
	"encoding/json"
	"testing"
	"time"
)

// An estimate reaches the record and its JSON as soc_estimated, a copy of
// the event's; an estimate event without one clears it.
func TestApplyEstimate(t *testing.T) {
	at := time.Date(2026, 12, 7, 18, 0, 0, 0, time.UTC)
	var s Session
	e := &Estimate{SoC: 63.4, MeasuredSoC: 55, MeasuredAt: at, EnergySinceWh: 5400, CapacityWh: 58000, CapacityFrom: "ChargeParameterDiscoveryReq", Efficiency: 0.9, At: at.Add(time.Hour)}
	s.Apply(Event{Kind: KindEstimate, At: e.At, PlugIn: 3, Estimate: e})
	e.SoC = 99
	c := s.Clone()
	s.Estimate.SoC = 1
	b, err := json.Marshal(struct {
		E *Estimate `json:"soc_estimated"`
	}{c.Estimate})
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"soc_estimated":{"soc":63.4,"measured_soc":55,"measured_at":"2026-12-07T18:00:00Z","energy_since_wh":5400,"capacity_wh":58000,"capacity_from":"ChargeParameterDiscoveryReq","efficiency":0.9,"at":"2026-12-07T19:00:00Z"}}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	if got := c.Estimate.Words(); got != "≈ 63 % (estimated)" {
		t.Fatalf("words %q", got)
	}
	s.Apply(Event{Kind: KindEstimate, At: e.At})
	if s.Estimate != nil || c.Estimate == nil {
		t.Fatalf("cleared: %+v, clone %+v", s.Estimate, c.Estimate)
	}
	var k Kind
	if KindEstimate.String() != "soc_estimated" || k.UnmarshalText([]byte("soc_estimated")) != nil || k != KindEstimate {
		t.Fatalf("KindEstimate is %q", KindEstimate)
	}
}
