package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ccslink/ccslink/record"
)

// TestSoCEstimated: the gauge is -1 until an estimate comes, follows each
// one, live or after the plug-in ended, and is -1 again when the car
// left; the SoC the car told stays as it was.
func TestSoCEstimated(t *testing.T) {
	m := New()
	gauge := func(v string) string {
		return "# HELP ccslink_soc_estimated_percent The state of charge estimated from the energy metered since the car told its SoC (a guess, not the car's); -1 when there is none.\n" +
			"# TYPE ccslink_soc_estimated_percent gauge\nccslink_soc_estimated_percent " + v + "\n"
	}
	check := func(v string) {
		t.Helper()
		if err := testutil.GatherAndCompare(m.reg, strings.NewReader(gauge(v)), "ccslink_soc_estimated_percent"); err != nil {
			t.Fatal(err)
		}
	}
	check("-1")
	feed(m, ioniq())
	est := func(soc float64) *record.Estimate {
		return &record.Estimate{SoC: soc, MeasuredSoC: 93, EnergySinceWh: 1100, CapacityWh: 28000, Efficiency: 0.9}
	}
	m.Event(record.Event{Kind: record.KindEstimate, At: ms(20000), Estimate: est(94.2)}, &record.Session{})
	check("94.2")
	m.Late(record.Event{Kind: record.KindEstimate, At: ms(21000), PlugIn: 1, Estimate: est(96.5)}, &record.Session{})
	check("96.5")
	if got := testutil.ToFloat64(m.soc); got != 93 {
		t.Fatalf("ccslink_last_soc_percent %v beside the estimate, want 93", got)
	}
	m.Late(record.Event{Kind: record.KindEstimate, At: ms(60000), PlugIn: 1}, &record.Session{})
	check("-1")
}
