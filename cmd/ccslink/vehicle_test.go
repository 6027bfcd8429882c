package main

import (
	"testing"

	"github.com/ccslink/ccslink/record"
)

func TestVehicleWords(t *testing.T) {
	for _, tc := range []struct {
		v    *record.Vehicle
		want string
	}{
		{nil, ""},
		{&record.Vehicle{Name: "ID.3", ID: "007dfa083117", Confidence: 0.83, By: record.ByFingerprint}, ", the ID.3 (007dfa083117) by its fingerprint, confidence 0.83"},
		{&record.Vehicle{Name: "Volkswagen", ID: "007dfa083117", By: record.ByNew}, ", a new Volkswagen (007dfa083117), remembered"},
		{&record.Vehicle{Name: "Ioniq", ID: "ioniq", Confidence: 1, By: record.ByConfig}, ", the Ioniq (ioniq) of the cars list"},
		{&record.Vehicle{ID: "00e04c68001d", Confidence: 1, By: record.ByMAC}, ", the car (00e04c68001d) by its MAC"},
	} {
		if got := vehicleWords(tc.v); got != tc.want {
			t.Errorf("vehicleWords(%+v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}
