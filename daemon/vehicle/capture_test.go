package vehicle_test

import (
	"context"
	"testing"

	"github.com/ccslink/ccslink/daemon/vehicle"
	"github.com/ccslink/ccslink/internal/shared"
	"github.com/ccslink/ccslink/record"
	"github.com/ccslink/ccslink/tools/replay"
)

// realCars are captures of real cars, by a short name: the car, then the
// session (EVerest's logfiles and pyPLC's results, in ../shared/captures).
var realCars = map[string]string{
	"id3-din-dc":          "everest/vw-id3_din-dc.pcap",
	"id3-iso2-dc":         "everest/vw-id3_iso2-dc.pcap",
	"id3-iso2-ac":         "everest/vw-id3_iso2-ac.pcap",
	"enyaq-iso2-ac":       "everest/skoda-enyaq_iso2-ac.pcap",
	"ev6-din-dc":          "everest/kia-ev6_din-dc.pcap",
	"ev6-iso2-dc":         "everest/kia-ev6_iso2-dc.pcap",
	"ix-din-dc":           "everest/bmw-ix_din-dc.pcap",
	"ix-iso2-dc":          "everest/bmw-ix_iso2-dc.pcap",
	"eqe-din-dc":          "everest/mercedes-eqe_din-dc.pcap",
	"eqe-iso2-dc":         "everest/mercedes-eqe_iso2-dc.pcap",
	"eqe-iso2-ac":         "everest/mercedes-eqe_iso2-ac.pcap",
	"polestar-ac":         "everest/polestar2_iso2-ac.pcap",
	"model3":              "everest/tesla-model3_din-dc.pcap",
	"modely":              "pyplc/2024-04-20_ModelY_pyPLC_stop_in_precharge.pcapng",
	"polestar-2024-06-11": "pyplc/2024-06-11_Griffigroen_polestar2_stop_in_precharge.pcapng",
	"polestar-2024-06-18": "pyplc/2024-06-18_Griffigroen_pyPLC_polestar2_discharging_with_additional_prechargeCircuit.pcapng",
	"ioniq-2023-05-24":    "pyplc/2023-05-24_pyPlc_with_Ioniq93prcSoc.pcapng",
	"ioniq-2024-04-03":    "pyplc/spi_ioniq_alpiHYC150_makerspace_landsberg_left_small_2024-04-03_ok.csv.pcap",
}

// plugIn replays a capture through the charger's own session (soc policy)
// and returns the record at the car's first ChargeParameterDiscoveryReq,
// with the EVCCID as its MAC.
func plugIn(t *testing.T, name string) *record.Session {
	t.Helper()
	path := shared.Path(t, "captures", realCars[name])
	r, err := replay.File(context.Background(), path, replay.Config{})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	m := r.Main()
	if m == nil || m.Captured.EVCCID == nil {
		t.Fatalf("%s: no session with an EVCCID", name)
	}
	s := m.Record.Clone()
	return s
}

func fingerprint(t *testing.T, name string) vehicle.Fingerprint {
	s := plugIn(t, name)
	mac, ok := vehicle.ParseMAC(s.EVCCIDHex())
	return vehicle.Of(s, mac, ok)
}

// The same car matches itself on another day or in another session, with
// its MAC drawn anew (ID.3) or not; no two different cars match. Pairs
// not listed have similarity 0 (they offer differently or share too little).
func TestFingerprintCaptures(t *testing.T) {
	fps := map[string]vehicle.Fingerprint{}
	for n := range realCars {
		fps[n] = fingerprint(t, n)
	}
	want := map[[2]string]float64{
		// The same Polestar 2 (the same MAC) a week apart: all but the power it did not send.
		{"polestar-2024-06-11", "polestar-2024-06-18"}: 0.95,
		// Two Hyundai Ioniq 28 kWh, 2023 and 2024, different MACs: the model.
		{"ioniq-2023-05-24", "ioniq-2024-04-03"}: 0.95,
		// One VW ID.3, two sessions, two random MACs in 00:7d:fa: it tells little
		// (no power, capacity or SoC settings), so less than 1.
		{"id3-din-dc", "id3-iso2-dc"}: 0.83,
		// The same cars under DIN and under ISO 15118-2 (EVerest's choice; ccslink
		// chooses alike each time): the protocol differs, and DIN has no capacity.
		{"eqe-din-dc", "eqe-iso2-dc"}: 0.87,
		{"ev6-din-dc", "ev6-iso2-dc"}: 0.82,
		{"ix-din-dc", "ix-iso2-dc"}:   0.80,
		// Two Teslas (Model 3 and Y): the same offer and current, not the same car.
		{"model3", "modely"}: 0.64,
		// The same car in AC (its AC limits) and in DC never match: ccslink asks
		// a car alike every time (the configured policy).
	}
	for a := range realCars {
		for b := range realCars {
			if a >= b {
				continue
			}
			got := vehicle.Similarity(fps[a], fps[b])
			if got != vehicle.Similarity(fps[b], fps[a]) {
				t.Errorf("%s, %s: not symmetric", a, b)
			}
			w := want[[2]string{a, b}]
			if got != w {
				t.Errorf("Similarity(%s, %s) = %.2f, want %.2f", a, b, got, w)
			}
		}
		// A car with itself: its own fingerprint, discounted for how little it tells.
		if got := vehicle.Similarity(fps[a], fps[a]); got < vehicle.Threshold {
			t.Errorf("%s with itself: %.2f", a, got)
		}
	}
}
