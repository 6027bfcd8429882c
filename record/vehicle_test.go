package record

import (
	"encoding/json"
	"testing"
	"time"
)

// The car's offer and the car it was recognised as reach the record and its JSON.
func TestApplyVehicle(t *testing.T) {
	at := time.Date(2026, 12, 7, 18, 0, 0, 0, time.UTC)
	var s Session
	offer := []AppProtocol{{Namespace: "urn:din:70121:2012:MsgDef", Major: 2, Minor: 0, SchemaID: 1, Priority: 1}}
	s.Apply(Event{Kind: KindHandshake, At: at, Protocol: "din", Namespace: "urn:din:70121:2012:MsgDef", Offered: offer})
	offer[0].Priority = 9 // the event's slice is not the record's
	v := &Vehicle{Name: "Ioniq", ID: "ioniq", Confidence: 0.93, By: ByFingerprint}
	s.Apply(Event{Kind: KindVehicle, At: at, Vehicle: v})
	v.Name = "changed"
	c := s.Clone()
	s.Vehicle.ID, s.Offered[0].Major = "other", 7
	b, err := json.Marshal(struct {
		Offered []AppProtocol `json:"offered"`
		Vehicle *Vehicle      `json:"vehicle"`
	}{c.Offered, c.Vehicle})
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"offered":[{"namespace":"urn:din:70121:2012:MsgDef","major":2,"minor":0,"schema_id":1,"priority":1}],"vehicle":{"name":"Ioniq","id":"ioniq","confidence":0.93,"by":"fingerprint"}}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	if KindVehicle.String() != "vehicle" {
		t.Fatalf("KindVehicle is %q", KindVehicle)
	}
}
