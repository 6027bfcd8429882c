package handover

import (
	"testing"
	"time"
)

// FuzzParse: whatever the file holds, parse gives cars within the bounds
// or an error, and the cars it gives choose and note without a panic.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"version":1,"cars":[{"id":"id3","tried":[{"strategy":"deliver-now","outcomes":["no_ac","ac_started"]}]}]}`))
	f.Add([]byte(`{"version":1,"cars":[]}`))
	f.Add([]byte(`{"version":1,"cars":[{"id":"a","tried":[{"strategy":"x1-then-pwm","outcomes":[]},{"strategy":"end-then-deliver","outcomes":["not_observed"]}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cars, err := parse(data)
		if err != nil {
			return
		}
		if len(cars) > MaxCars {
			t.Fatalf("%d cars", len(cars))
		}
		m := &Memory{cars: cars}
		for _, c := range cars {
			if s, _ := m.Choose(c.ID, "", Order); !Known(s) {
				t.Fatalf("chose %q", s)
			}
			m.Note(c.ID, Order[0], "no_ac", time.Time{})
		}
	})
}
