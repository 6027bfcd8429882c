package mqtt

import (
	"testing"

	"github.com/ccslink/ccslink/record"
)

// The recognised car is its stable ID alone (for evcc's identification)
// and as JSON; both empty until the car is recognised.
func TestValuesVehicle(t *testing.T) {
	s := &record.Session{EVMAC: "00:7d:fa:07:90:af"}
	if v := values(s); v["vehicle_id"] != "" || v["vehicle"] != "" {
		t.Fatalf("before: %q %q", v["vehicle_id"], v["vehicle"])
	}
	s.Apply(record.Event{Kind: record.KindVehicle, Vehicle: &record.Vehicle{Name: "ID.3", ID: "007dfa083117", Confidence: 0.83, By: record.ByFingerprint}})
	v := values(s)
	if v["vehicle_id"] != "007dfa083117" || v["vehicle"] != `{"name":"ID.3","id":"007dfa083117","confidence":0.83,"by":"fingerprint"}` {
		t.Fatalf("after: %q %q", v["vehicle_id"], v["vehicle"])
	}
}
