package sim

import (
	"context"
	"testing"
	"time"

	"github.com/ccslink/ccslink/daemon/config"
	"github.com/ccslink/ccslink/daemon/vehicle"
	"github.com/ccslink/ccslink/proto/evcc"
	"github.com/ccslink/ccslink/proto/secc"
	"github.com/ccslink/ccslink/record"
)

// TestVehicleID3TwoPlugIns: the ID.3 draws a new EVCCID per plug-in; its
// second plug-in is the car of the first by its fingerprint, and with
// smartevse.vehicle_id the SmartEVSE gets the same evccid both times.
func TestVehicleID3TwoPlugIns(t *testing.T) {
	car, err := evcc.Lookup("id3")
	if err != nil {
		t.Fatal(err)
	}
	cars := vehicle.New(nil, nil)
	dc := config.Default()
	dc.StateDir, dc.SmartEVSE.VehicleID = "", true
	var res [2]Result
	for i := range res {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		res[i], err = Run(ctx, Config{Car: car, Policy: secc.PolicySoC, SkipDelays: true, Daemon: &dc, Vehicles: cars})
		cancel()
		if err != nil || !res[i].OK {
			t.Fatalf("plug-in %d: %v %+v", i+1, err, res[i])
		}
	}
	if res[0].EVCCID == res[1].EVCCID {
		t.Fatalf("one EVCCID for both plug-ins: %s", res[0].EVCCID)
	}
	id := res[0].EVCCID
	want := [2]record.Vehicle{
		{Name: "Volkswagen", ID: id, Confidence: 0, By: record.ByNew},
		{Name: "Volkswagen", ID: id, Confidence: 0.83, By: record.ByFingerprint},
	}
	for i, r := range res {
		if r.Vehicle == nil || *r.Vehicle != want[i] {
			t.Errorf("plug-in %d (EVCCID %s): vehicle %+v, want %+v", i+1, r.EVCCID, r.Vehicle, want[i])
		}
		if q := "current_soc=74&full_soc=-1&energy_capacity=-1&energy_request=5300&evccid=" + id; r.SmartEVSEQuery != q {
			t.Errorf("plug-in %d: the SmartEVSE got %s, want %s", i+1, r.SmartEVSEQuery, q)
		}
	}
}
