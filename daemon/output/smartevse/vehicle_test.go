package smartevse

import (
	"slices"
	"testing"
	"time"

	"github.com/ccslink/ccslink/proto/v2g/message"
	"github.com/ccslink/ccslink/record"
)

// With VehicleID the SmartEVSE is told the recognised car's stable ID,
// not the EVCCID the car drew for this plug-in; without, the EVCCID.
func TestPlugInsVehicleID(t *testing.T) {
	for _, tc := range []struct {
		vehicleID bool
		evccid    string
	}{{true, "id3"}, {false, "027dfa083117"}} {
		e := newEVSE(t, nil)
		rec := &record.Session{PlugIn: 3}
		s, results := start(t, Config{URL: e.srv.URL}, newWaits())
		p := PlugIns{Sender: s, VehicleID: tc.vehicleID}
		apply := func(ev record.Event) {
			rec.Apply(ev)
			p.Event(ev, rec)
		}
		soc := 74
		apply(record.Event{Kind: record.KindSLACStarted, At: t0})
		apply(record.Event{Kind: record.KindSessionSetup, At: t0, EVCCID: []byte{0x02, 0x7d, 0xfa, 0x08, 0x31, 0x17}})
		// The charger applies the car recognised at the harvest, before the subscribers hear of it.
		rec.Apply(record.Event{Kind: record.KindVehicle, At: t0.Add(time.Second), Vehicle: &record.Vehicle{Name: "ID.3", ID: "id3", Confidence: 1, By: record.ByConfig}})
		apply(record.Event{Kind: record.KindValues, At: t0.Add(time.Second), Message: message.ChargeParameterDiscoveryReq, Values: record.Values{SoC: &soc}})
		want := "current_soc=74&full_soc=-1&energy_capacity=-1&energy_request=-1&evccid=" + tc.evccid
		if d := next(t, results, "delivery"); d.Err != nil || d.Query != want {
			t.Fatalf("vehicle_id %v: delivery %+v, want %s", tc.vehicleID, d, want)
		}
		if got := e.seen(); !slices.Equal(got, []string{"POST /ev_state?" + want}) {
			t.Fatalf("vehicle_id %v: SmartEVSE saw %q", tc.vehicleID, got)
		}
	}
}
