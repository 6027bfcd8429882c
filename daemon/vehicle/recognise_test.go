package vehicle_test

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ccslink/ccslink/daemon/vehicle"
	"github.com/ccslink/ccslink/record"
)

var day = time.Date(2026, 12, 7, 18, 0, 0, 0, time.UTC)

func open(t *testing.T, path string) *vehicle.Recogniser {
	t.Helper()
	m, err := vehicle.OpenMemory(path)
	if err != nil {
		t.Fatal(err)
	}
	return vehicle.New(nil, m)
}

func recognise(t *testing.T, r *vehicle.Recogniser, s *record.Session, at time.Time) record.Vehicle {
	t.Helper()
	v, ok, err := r.Recognise(s, at)
	if !ok || err != nil {
		t.Fatalf("Recognise: %v, %v", ok, err)
	}
	return v
}

// The VW ID.3 draws a new MAC per plug-in: its second plug-in, after a
// restart of the daemon, is the car of the first by its fingerprint.
func TestRecogniseRandomMAC(t *testing.T) {
	path := filepath.Join(t.TempDir(), vehicle.MemoryFile)
	r := open(t, path)
	first, second := plugIn(t, "id3-din-dc"), plugIn(t, "id3-iso2-dc")
	if first.EVCCIDHex() == second.EVCCIDHex() {
		t.Fatal("the captures have one EVCCID")
	}
	if v, want := recognise(t, r, first, day), (record.Vehicle{Name: "Volkswagen", ID: "007dfa083117", Confidence: 0, By: record.ByNew}); v != want {
		t.Fatalf("first plug-in: %+v, want %+v", v, want)
	}
	r = open(t, path) // a restart
	if v, want := recognise(t, r, second, day.Add(time.Hour)), (record.Vehicle{Name: "Volkswagen", ID: "007dfa083117", Confidence: 0.83, By: record.ByFingerprint}); v != want {
		t.Fatalf("second plug-in: %+v, want %+v", v, want)
	}
	// Another car of the same maker with its own offer is another car.
	if v, want := recognise(t, r, plugIn(t, "enyaq-iso2-ac"), day.Add(2*time.Hour)), (record.Vehicle{Name: "Volkswagen", ID: "007dfa09f9b2", Confidence: 0, By: record.ByNew}); v != want {
		t.Fatalf("Enyaq: %+v, want %+v", v, want)
	}
	cars := open(t, path).Memory().Cars()
	if len(cars) != 2 {
		t.Fatalf("%d cars remembered", len(cars))
	}
	id3 := cars[0]
	if id3.ID != "007dfa083117" || id3.PlugIns != 2 || !id3.Random || strings.Join(id3.MACs, " ") != "00:7d:fa:08:31:17 00:7d:fa:07:90:af" ||
		!id3.FirstSeen.Equal(day) || !id3.LastSeen.Equal(day.Add(time.Hour)) {
		t.Fatalf("the ID.3 remembered: %+v", id3)
	}
}

// A car with a fixed MAC is known by it, whatever its fingerprint: two
// Ioniqs of one model are two cars.
func TestRecogniseFixedMAC(t *testing.T) {
	r := open(t, filepath.Join(t.TempDir(), vehicle.MemoryFile))
	for _, tc := range []struct {
		capture string
		want    record.Vehicle
	}{
		{"ev6-din-dc", record.Vehicle{Name: "car with a We Corporation charger", ID: "04e77e00f398", Confidence: 1, By: record.ByMAC}},
		{"ev6-iso2-dc", record.Vehicle{Name: "car with a We Corporation charger", ID: "04e77e00f398", Confidence: 1, By: record.ByMAC}},
		{"ioniq-2023-05-24", record.Vehicle{Name: "car with a Testop charger", ID: "0465650064c3", Confidence: 1, By: record.ByMAC}},
		{"ioniq-2024-04-03", record.Vehicle{Name: "car with a We Corporation charger", ID: "e00ee1ffd3e2", Confidence: 1, By: record.ByMAC}},
		{"model3", record.Vehicle{Name: "Tesla", ID: "dc44271dcd45", Confidence: 1, By: record.ByMAC}},
	} {
		if v := recognise(t, r, plugIn(t, tc.capture), day); v != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.capture, v, tc.want)
		}
	}
}

// The owner's cars list comes first: a pattern of the maker's block, or the MAC itself.
func TestRecogniseKnown(t *testing.T) {
	m, _ := vehicle.OpenMemory(filepath.Join(t.TempDir(), vehicle.MemoryFile))
	vw, _ := vehicle.ParseMAC("00:7d:fa:00:00:00")
	ioniq, _ := vehicle.ParseMAC("04:65:65:00:64:c3")
	r := vehicle.New([]vehicle.Known{
		{Name: "Ioniq", ID: "ioniq", Patterns: []vehicle.Pattern{{Value: ioniq, Mask: vehicle.MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}}, CapacityWh: 28000},
		{Name: "ID.3", ID: "id3", Patterns: []vehicle.Pattern{{Value: vw, Mask: vehicle.MAC{0xff, 0xff, 0xff}}}},
	}, m)
	for _, tc := range []struct {
		capture string
		want    record.Vehicle
	}{
		{"id3-din-dc", record.Vehicle{Name: "ID.3", ID: "id3", Confidence: 1, By: record.ByConfig}},
		{"id3-iso2-dc", record.Vehicle{Name: "ID.3", ID: "id3", Confidence: 1, By: record.ByConfig}},
		{"ioniq-2023-05-24", record.Vehicle{Name: "Ioniq", ID: "ioniq", Confidence: 1, By: record.ByConfig}},
		{"ioniq-2024-04-03", record.Vehicle{Name: "car with a We Corporation charger", ID: "e00ee1ffd3e2", Confidence: 1, By: record.ByMAC}},
	} {
		if v := recognise(t, r, plugIn(t, tc.capture), day); v != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.capture, v, tc.want)
		}
	}
	if k, ok := r.Known("ioniq"); !ok || k.CapacityWh != 28000 {
		t.Fatalf("Known(ioniq) = %+v, %v", k, ok)
	}
	// A car without any MAC is not recognised.
	if v, ok, err := r.Recognise(&record.Session{}, day); ok || err != nil || v != (record.Vehicle{}) {
		t.Fatalf("no MAC: %+v, %v, %v", v, ok, err)
	}
}

// A damaged file is moved aside with a clear error; the memory starts
// afresh and its next save is a good file.
func TestMemoryCorrupt(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, vehicle.MemoryFile)
	for _, bad := range []string{"{\"version\":1,\"cars\":[{\"id\":", "{\"version\":2,\"cars\":[]}", "{\"version\":1,\"cars\":[{\"id\":\"\"}]}"} {
		if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		m, err := vehicle.OpenMemory(path)
		var ce *vehicle.CorruptError
		if !errors.As(err, &ce) || !errors.Is(err, vehicle.ErrFormat) || ce.Aside != path+".corrupt" || m == nil || len(m.Cars()) != 0 {
			t.Fatalf("%q: %v (%T), %v", bad, err, err, m)
		}
		if !strings.HasPrefix(err.Error(), "the remembered cars in "+path+" are damaged (not a file of remembered cars: ") ||
			!strings.HasSuffix(err.Error(), "): kept as "+path+".corrupt, starting afresh; the cars will be learnt again") {
			t.Fatalf("error: %v", err)
		}
		if kept, _ := os.ReadFile(path + ".corrupt"); string(kept) != bad {
			t.Fatalf("kept %q", kept)
		}
		r := vehicle.New(nil, m)
		recognise(t, r, plugIn(t, "model3"), day)
		if m2, err := vehicle.OpenMemory(path); err != nil || len(m2.Cars()) != 1 {
			t.Fatalf("the fresh file: %v, %v", m2, err)
		}
	}
}

// The memory keeps the MaxRemembered cars seen last and MaxMACs MACs of each.
func TestMemoryBounds(t *testing.T) {
	path := filepath.Join(t.TempDir(), vehicle.MemoryFile)
	r := open(t, path)
	s := plugIn(t, "id3-din-dc")
	for i := range vehicle.MaxRemembered + 5 {
		c := s.Clone()
		raw := []byte{0x02, 0, 0, 0, byte(i >> 8), byte(i)} // a new random MAC each time
		c.EVCCID = &record.EVCCID{Raw: raw, Hex: hexOf(raw), Random: true}
		c.MaxVoltageV.Value = 100 * math.Pow(1.05, float64(i)) // and another car each time
		recognise(t, r, c, day.Add(time.Duration(i)*time.Minute))
	}
	cars := open(t, path).Memory().Cars()
	if len(cars) != vehicle.MaxRemembered || cars[0].ID != "020000000005" || cars[len(cars)-1].ID != "020000000068" {
		t.Fatalf("%d cars, from %s to %s", len(cars), cars[0].ID, cars[len(cars)-1].ID)
	}
	// One car with ever new MACs keeps the last MaxMACs.
	r = open(t, filepath.Join(t.TempDir(), vehicle.MemoryFile))
	for i := range vehicle.MaxMACs + 3 {
		c := s.Clone()
		raw := []byte{0x00, 0x7d, 0xfa, 0, 0, byte(i)}
		c.EVCCID = &record.EVCCID{Raw: raw, Hex: hexOf(raw)}
		want := record.ByFingerprint
		if i == 0 {
			want = record.ByNew
		}
		if v := recognise(t, r, c, day); v.By != want || v.ID != "007dfa000000" {
			t.Fatalf("plug-in %d: %+v", i, v)
		}
	}
	car := r.Memory().Cars()[0]
	if len(car.MACs) != vehicle.MaxMACs || car.MACs[0] != "00:7d:fa:00:00:03" || car.PlugIns != vehicle.MaxMACs+3 {
		t.Fatalf("MACs %v, plug-ins %d", car.MACs, car.PlugIns)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() > 256<<10 {
		t.Fatalf("the file: %v, %v", fi, err)
	}
}

func hexOf(b []byte) string {
	const d = "0123456789abcdef"
	var s []byte
	for _, x := range b {
		s = append(s, d[x>>4], d[x&15])
	}
	return string(s)
}

// A car with a random MAC that never reached its harvest is new and not
// remembered: too little to know it by; one with a fixed MAC is known by it.
func TestRecogniseWithoutHarvest(t *testing.T) {
	path := filepath.Join(t.TempDir(), vehicle.MemoryFile)
	r := open(t, path)
	s := plugIn(t, "id3-iso2-dc")
	s.Phases.FirstCPD = time.Time{}
	if v, want := recognise(t, r, s, day), (record.Vehicle{Name: "Volkswagen", ID: "007dfa0790af", Confidence: 0, By: record.ByNew}); v != want {
		t.Fatalf("%+v, want %+v", v, want)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the memory was written: %v", err)
	}
	k := plugIn(t, "ev6-din-dc")
	k.Phases.FirstCPD = time.Time{}
	if v, want := recognise(t, r, k, day), (record.Vehicle{Name: "car with a We Corporation charger", ID: "04e77e00f398", Confidence: 1, By: record.ByMAC}); v != want {
		t.Fatalf("%+v, want %+v", v, want)
	}
}

// Saved in the background, the memory is on disk once stop returns; a
// write that fails is reported, and the car recognised all the same.
func TestSaveInBackground(t *testing.T) {
	path := filepath.Join(t.TempDir(), vehicle.MemoryFile)
	r := open(t, path)
	errs := make(chan error, 4)
	stop := r.SaveInBackground(func(err error) { errs <- err })
	recognise(t, r, plugIn(t, "id3-din-dc"), day)
	recognise(t, r, plugIn(t, "model3"), day)
	stop()
	stop() // twice is harmless
	if cars := open(t, path).Memory().Cars(); len(cars) != 2 || cars[0].ID != "007dfa083117" || cars[1].ID != "dc44271dcd45" {
		t.Fatalf("on disk: %+v", cars)
	}
	// After stop, a car is written at once.
	recognise(t, r, plugIn(t, "ev6-din-dc"), day)
	if cars := open(t, path).Memory().Cars(); len(cars) != 3 {
		t.Fatalf("after stop: %d cars", len(cars))
	}
	select {
	case err := <-errs:
		t.Fatalf("error %v", err)
	default:
	}

	gone := filepath.Join(t.TempDir(), "gone", vehicle.MemoryFile) // a directory that is not there
	r = open(t, gone)
	stop = r.SaveInBackground(func(err error) { errs <- err })
	if v := recognise(t, r, plugIn(t, "model3"), day); v.ID != "dc44271dcd45" {
		t.Fatalf("vehicle %+v", v)
	}
	stop()
	select {
	case err := <-errs:
		if !strings.HasPrefix(err.Error(), "cannot save the remembered cars: open "+filepath.Dir(gone)) {
			t.Fatalf("error %v", err)
		}
	default:
		t.Fatal("no error reported")
	}
}
