package config

import (
	"errors"
	"reflect"
	"testing"
)

func TestCars(t *testing.T) {
	const in = `cars:
  - name: Ioniq
    id: ioniq
    mac: "04:65:65:00:64:C3"
    capacity_wh: 28000
    strategy: deliver-now
  - name: ID.3
    id: id3
    mac: ["00:7d:fa:xx:xx:xx", "0a-xx-xx-xx-xx-x2"]
    strategy: x1-then-pwm
  - name: Zoe
    id: zoe
    mac: "00:11:22:33:44:55"
    strategy: identify-only
  - name: Kona
    id: kona
    mac: "00:11:22:33:44:56"
    strategy: no-negotiation
smartevse:
  vehicle_id: true
  write_pwm: true
`
	c, err := Parse("f.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Car{
		{Name: "Ioniq", ID: "ioniq", MACs: []string{"04:65:65:00:64:c3"}, CapacityWh: 28000, Strategy: "deliver-now"},
		{Name: "ID.3", ID: "id3", MACs: []string{"00:7d:fa:xx:xx:xx", "0a-xx-xx-xx-xx-x2"}, Strategy: "x1-then-pwm"},
		{Name: "Zoe", ID: "zoe", MACs: []string{"00:11:22:33:44:55"}, Strategy: "identify-only"},
		{Name: "Kona", ID: "kona", MACs: []string{"00:11:22:33:44:56"}, Strategy: "no-negotiation"},
	}
	if !reflect.DeepEqual(c.Cars, want) || !c.SmartEVSE.VehicleID || !c.SmartEVSE.WritePWM {
		t.Fatalf("got %+v, vehicle_id %v", c.Cars, c.SmartEVSE.VehicleID)
	}
	back, err := Parse("back.yaml", c.YAML())
	if err != nil || !reflect.DeepEqual(back, c) {
		t.Fatalf("round trip: %v\n%+v", err, back.Cars)
	}
	if car, ok := c.CarByID("id3"); !ok || car.Name != "ID.3" {
		t.Fatalf("CarByID(id3) = %+v, %v", car, ok)
	}
}

func TestCarsErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		kind     error
		want     string
	}{
		{"bad pattern", "cars:\n  - {name: a, id: a, mac: \"00:7d:fa:xx:xx\"}\n", ErrValue,
			`f.yaml:2:27: cars[0].mac: "00:7d:fa:xx:xx" is not a MAC pattern: six pairs of hex digits joined by ':', x for any digit, e.g. "00:7d:fa:xx:xx:xx"`},
		{"bad pattern in list", "cars:\n  - name: a\n    id: a\n    mac:\n      - \"00:7d:fa:xx:xx:xx\"\n      - \"zz:7d:fa:xx:xx:xx\"\n", ErrValue,
			`f.yaml:6:9: cars[0].mac[1]: "zz:7d:fa:xx:xx:xx" is not a MAC pattern: six pairs of hex digits joined by ':', x for any digit, e.g. "00:7d:fa:xx:xx:xx"`},
		{"missing id", "cars:\n  - name: a\n    mac: \"00:7d:fa:xx:xx:xx\"\n", ErrValue,
			`f.yaml:2:5: cars[0].id: missing: every car needs a name, an id (its stable ID) and a mac pattern such as "04:65:65:xx:xx:xx"`},
		{"upper-case id", "cars:\n  - {name: a, id: ID3, mac: \"00:7d:fa:xx:xx:xx\"}\n", ErrValue,
			`f.yaml:2:19: cars[0].id: "ID3" is not a car's ID: 1 to 31 lower-case letters, digits, '-', '_' and '.' (the SmartEVSE keeps 31), e.g. ioniq`},
		{"same id", "cars:\n  - {name: a, id: x, mac: \"00:7d:fa:xx:xx:xx\"}\n  - {name: b, id: x, mac: \"04:65:65:xx:xx:xx\"}\n", ErrValue,
			`f.yaml:3:19: cars[1].id: "x" is already the ID of cars[0]: each car needs its own`},
		{"capacity in kWh", "cars:\n  - {name: a, id: a, mac: \"00:7d:fa:xx:xx:xx\", capacity_wh: 58}\n", ErrValue,
			`f.yaml:2:61: cars[0].capacity_wh: 58 Wh is not a battery capacity: give it in Wh, from 1000 to 500000 (28 kWh is 28000)`},
		{"bad strategy", "cars:\n  - {name: a, id: a, mac: \"00:7d:fa:xx:xx:xx\", strategy: Deliver Now}\n", ErrValue,
			`f.yaml:2:58: cars[0].strategy: "Deliver Now" is not a strategy name: lower-case letters, digits and '-', e.g. deliver-now`},
		{"unknown strategy", "cars:\n  - {name: a, id: a, mac: \"00:7d:fa:xx:xx:xx\", strategy: cp-off}\n", ErrValue,
			`f.yaml:2:58: cars[0].strategy: "cp-off" is not a handover strategy: use one of deliver-now, end-then-deliver, x1-then-pwm, no-negotiation, identify-only`},
		{"x1 not allowed", "cars:\n  - {name: a, id: a, mac: \"00:7d:fa:xx:xx:xx\", strategy: x1-then-pwm}\n", ErrValue,
			`f.yaml:2:58: cars[0].strategy: x1-then-pwm writes override_pwm to the SmartEVSE: allow it with smartevse.write_pwm: true, or pin another strategy`},
		{"unknown key", "cars:\n  - {name: a, id: a, mac: \"00:7d:fa:xx:xx:xx\", capacity: 1}\n", ErrUnknownKey,
			`f.yaml:2:48: cars[0].capacity: unknown key (did you mean cars.capacity_wh?)`},
		{"not a list", "cars: ioniq\n", ErrType,
			`f.yaml:1:7: cars: must be a list of cars such as "- {name: Ioniq, id: ioniq, mac: \"04:65:65:xx:xx:xx\"}", not the text "ioniq"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("f.yaml", []byte(tc.in))
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, tc.kind) {
				t.Errorf("error %v is not %v", err, tc.kind)
			}
			var l Errors
			if !errors.As(err, &l) || l[0].Error() != tc.want {
				t.Fatalf("error\n got %v\nwant %s", err, tc.want)
			}
		})
	}
}

func TestMACPattern(t *testing.T) {
	for _, tc := range []struct {
		in          string
		value, mask [6]byte
		ok          bool
	}{
		{"00:7d:fa:xx:xx:xx", [6]byte{0x00, 0x7d, 0xfa}, [6]byte{0xff, 0xff, 0xff}, true},
		{"04-65-65-00-64-C3", [6]byte{0x04, 0x65, 0x65, 0x00, 0x64, 0xc3}, [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, true},
		{"x2:xx:xx:xx:xx:xx", [6]byte{0x02}, [6]byte{0x0f}, true},
		{"00:7d:fa:xx:xx", [6]byte{}, [6]byte{}, false},
		{"00:7d:fa:xx:xx:xg", [6]byte{}, [6]byte{}, false},
		{"00:7d:fa.xx:xx:xx", [6]byte{}, [6]byte{}, false},
	} {
		v, m, ok := MACPattern(tc.in)
		if ok != tc.ok || ok && (v != tc.value || m != tc.mask) {
			t.Errorf("MACPattern(%q) = %x, %x, %v; want %x, %x, %v", tc.in, v, m, ok, tc.value, tc.mask, tc.ok)
		}
	}
}

// FuzzMACPattern: any text gives a pattern whose value lies inside its
// mask, or none; a pattern written back the same way reads the same.
func FuzzMACPattern(f *testing.F) {
	// Seeds: the MACs of real cars in the captures (VW ID.3, Hyundai Ioniq, Tesla).
	for _, s := range []string{"00:7d:fa:xx:xx:xx", "00:7d:fa:08:31:17", "04:65:65:00:64:c3", "dc-44-27-1d-cd-45", "x2:xx:xx:xx:xx:xx", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, m, ok := MACPattern(s)
		if !ok {
			return
		}
		for i := range v {
			if v[i]&^m[i] != 0 {
				t.Fatalf("%q: value %x outside mask %x", s, v, m)
			}
		}
		if len(s) != 17 {
			t.Fatalf("%q accepted at length %d", s, len(s))
		}
	})
}
