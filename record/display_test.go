package record

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ccslink/ccslink/proto/v2g/message"
)

// TestDisplaySoCUpdates: each SoC the record takes from an ISO-20 loop is
// kept with its time, the newest MaxSoCUpdates of them, and counted; a
// repeated SoC is no update; a Clone shares nothing.
func TestDisplaySoCUpdates(t *testing.T) {
	var s Session
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	n := MaxSoCUpdates + 4
	for i := range n {
		soc := i % 101
		v := Values{SoC: &soc, Display: DisplayLoop | DisplayPresentSOC}
		s.Apply(Event{Kind: KindValues, At: t0.Add(time.Duration(i) * time.Second), Message: message.AC_ChargeLoopReq, Values: v})
	}
	same := (n - 1) % 101
	s.Apply(Event{Kind: KindValues, At: t0.Add(time.Hour), Message: message.AC_ChargeLoopReq, Values: Values{SoC: &same, Display: DisplayLoop | DisplayPresentSOC}})
	d := s.Display
	// The SoC 0 after a real value is no value (record's rule): 2 of them in n.
	if d.Loops != n+1 || d.WithParameters != n+1 || d.SoCUpdateCount != n-2 || len(d.SoCUpdates) != MaxSoCUpdates {
		t.Fatalf("loops %d with %d count %d kept %d", d.Loops, d.WithParameters, d.SoCUpdateCount, len(d.SoCUpdates))
	}
	last := d.SoCUpdates[MaxSoCUpdates-1]
	if last.SoC != same || !last.At.Equal(t0.Add(time.Duration(n-1)*time.Second)) {
		t.Fatalf("newest %+v", last)
	}
	if got := d.Sent; len(got) != 1 || got[0] != "PresentSOC" || len(d.Missing) != 9 || d.Missing[8] != "InletHot" {
		t.Fatalf("sent %v missing %v", d.Sent, d.Missing)
	}
	b, err := json.Marshal(s.Display)
	if err != nil || !strings.HasPrefix(string(b), `{"loops":261,"with_parameters":261,"sent":["PresentSOC"],"missing":["MinimumSOC",`) ||
		!strings.HasSuffix(string(b), `,{"soc":57,"at":"2026-12-01T12:04:19Z"}],"soc_update_count":258}`) {
		t.Fatalf("JSON %s %v", b, err)
	}
	c := s.Clone()
	c.Display.SoCUpdates[0].SoC = -5
	if s.Display.SoCUpdates[0].SoC == -5 {
		t.Fatal("Clone shares the SoC updates")
	}
	// Values of other messages make no Display.
	var o Session
	soc := 50
	o.Apply(Event{Kind: KindValues, At: t0, Message: message.CurrentDemandReq, Values: Values{SoC: &soc}})
	if o.Display != nil {
		t.Fatalf("display of a DC session %+v", o.Display)
	}
}

// TestDisplayMode: the record says in which control mode the car looped;
// the mode's mark is no DisplayParameter.
func TestDisplayMode(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		display    DisplaySet
		mode, json string
		with       int
	}{
		{DisplayLoop, "dynamic", `{"loops":1,"with_parameters":0,"sent":[],"missing":["PresentSOC","MinimumSOC","TargetSOC","MaximumSOC","RemainingTimeToMinimumSOC","RemainingTimeToTargetSOC","RemainingTimeToMaximumSOC","ChargingComplete","BatteryEnergyCapacity","InletHot"],"mode":"dynamic","soc_update_count":0}`, 0},
		{DisplayLoop | DisplayScheduled, "scheduled", `{"loops":1,"with_parameters":0,"sent":[],"missing":["PresentSOC","MinimumSOC","TargetSOC","MaximumSOC","RemainingTimeToMinimumSOC","RemainingTimeToTargetSOC","RemainingTimeToMaximumSOC","ChargingComplete","BatteryEnergyCapacity","InletHot"],"mode":"scheduled","soc_update_count":0}`, 0},
		{DisplayLoop | DisplayScheduled | DisplayInletHot, "scheduled", `{"loops":1,"with_parameters":1,"sent":["InletHot"],"missing":["PresentSOC","MinimumSOC","TargetSOC","MaximumSOC","RemainingTimeToMinimumSOC","RemainingTimeToTargetSOC","RemainingTimeToMaximumSOC","ChargingComplete","BatteryEnergyCapacity"],"mode":"scheduled","soc_update_count":0}`, 1},
	} {
		var s Session
		s.Apply(Event{Kind: KindValues, At: t0, Message: message.AC_ChargeLoopReq, Values: Values{Display: c.display}})
		b, err := json.Marshal(s.Display)
		if err != nil || s.Display.Mode != c.mode || s.Display.WithParameters != c.with || string(b) != c.json {
			t.Errorf("%b: %s %v", c.display, b, err)
		}
	}
}
