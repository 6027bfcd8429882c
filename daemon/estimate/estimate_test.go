package estimate

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/ccslink/ccslink/record"
)

var t0 = time.Date(2026, 12, 7, 18, 0, 0, 0, time.UTC)

// TestSoC: the arithmetic, rounded to one decimal, capped at 100.
func TestSoC(t *testing.T) {
	for _, c := range []struct {
		measured int
		wh       int64
		cap, eff float64
		want     float64
	}{
		{55, 0, 58000, 0.9, 55},
		{55, 5400, 58000, 0.9, 63.4},   // 55 + 8.379
		{55, 5400, 58000, 1, 64.3},     // 55 + 9.310
		{20, 100, 28000, 0.9, 20.3},    // 20 + 0.321
		{20, 150, 28000, 0.9, 20.5},    // 20 + 0.482: rounded up
		{93, 1820, 28000, 0.9, 98.9},   // 93 + 5.85
		{93, 5000, 28000, 0.9, 100},    // 109.07: capped
		{100, 1, 28000, 0.9, 100},      // already full
		{0, 77000, 77000, 0.9, 90},     // a whole capacity, 90 % of it arrived
		{50, 1, 1_000_000, 0.9, 50},    // below a tenth: unchanged
		{50, 1111, 10000, 0.9, 60},     // 59.999 -> 60.0
		{50, 1110, 10000, 0.9, 60},     // 59.99 -> 60.0
		{50, 1105, 10000, 0.9, 59.9},   // 59.945 -> 59.9
		{12, 32100, 64000, 0.85, 54.6}, // 12 + 42.633
	} {
		if got := SoC(c.measured, c.wh, c.cap, c.eff); got != c.want {
			t.Errorf("SoC(%d, %d Wh, %g Wh, %g) = %v, want %v", c.measured, c.wh, c.cap, c.eff, got, c.want)
		}
	}
}

// TestMeterResets: the first reading is the base, increases are summed,
// a decrease is the register's reset and counts in full.
func TestMeterResets(t *testing.T) {
	var m Meter
	for i, c := range []struct {
		kWh  float64
		want int64
	}{
		{5.2, 0},    // the last charge's total: the base
		{5.2, 0},    // nothing yet
		{0.0, 0},    // the new charge reset the register
		{0.1, 100},  // one decimal: 100 Wh steps
		{1.3, 1300}, //
		{1.3, 1300}, //
		{0.4, 1700}, // reset again (a second charge): 0.4 counts in full
		{2.0, 3300}, //
		{0.3, 3600}, // floats such as 0.30000000000000004 are whole Wh
	} {
		if got := m.Add(c.kWh); got != c.want {
			t.Fatalf("reading %d (%g kWh): %d Wh, want %d", i, c.kWh, got, c.want)
		}
	}
}

// TestTrackerPublishes: the first estimate goes out once energy was
// counted, then on a change of 1 % or after a minute, each with its basis.
func TestTrackerPublishes(t *testing.T) {
	tr, err := New(Basis{SoC: 55, At: t0, CapacityWh: 58000, CapacityFrom: "ChargeParameterDiscoveryReq"})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Published() {
		t.Fatal("published before any reading")
	}
	type step struct {
		after   time.Duration
		kWh     float64
		soc     float64
		publish bool
	}
	for i, s := range []step{
		{1 * time.Second, 7.5, 55, false},    // the base, from the last charge
		{2 * time.Second, 0, 55, false},      // reset at the new charge: no energy yet
		{3 * time.Second, 0.1, 55.2, true},   // the first energy: published
		{4 * time.Second, 0.6, 55.9, false},  // +0.7 %
		{5 * time.Second, 0.7, 56.1, false},  // +0.9 %
		{6 * time.Second, 0.8, 56.2, true},   // +1.0 %
		{7 * time.Second, 0.9, 56.4, false},  // +0.2 %
		{66 * time.Second, 0.9, 56.4, true},  // a minute after the last published
		{67 * time.Second, 1.4, 57.2, false}, // +0.8 %
		{68 * time.Second, 1.5, 57.3, false}, // +0.9 %
		{69 * time.Second, 1.6, 57.5, true},  // +1.1 %
	} {
		e, publish := tr.Reading(t0.Add(s.after), s.kWh)
		want := record.Estimate{SoC: s.soc, MeasuredSoC: 55, MeasuredAt: t0, EnergySinceWh: int64(s.kWh*1000 + 0.5),
			CapacityWh: 58000, CapacityFrom: "ChargeParameterDiscoveryReq", Efficiency: 0.9, At: t0.Add(s.after)}
		if i == 0 {
			want.EnergySinceWh = 0
		}
		if !reflect.DeepEqual(e, want) || publish != s.publish {
			t.Fatalf("step %d: %+v publish %t\nwant %+v publish %t", i, e, publish, want, s.publish)
		}
	}
	if !tr.Published() {
		t.Fatal("not published")
	}
}

// TestTrackerCapped: a car that keeps drawing past the estimate's 100 %
// stays at 100: published when it gets there, then only after a minute.
func TestTrackerCapped(t *testing.T) {
	tr, err := New(Basis{SoC: 98, At: t0, CapacityWh: 28000, CapacityFrom: "config", Efficiency: 1})
	if err != nil {
		t.Fatal(err)
	}
	var got []float64
	for i, kWh := range []float64{0, 0.3, 0.6, 0.9, 1.2} {
		if e, publish := tr.Reading(t0.Add(time.Duration(i)*time.Second), kWh); publish {
			got = append(got, e.SoC)
		}
	}
	if !reflect.DeepEqual(got, []float64{99.1, 100}) {
		t.Fatalf("published %v", got)
	}
	if e, publish := tr.Reading(t0.Add(time.Minute+4*time.Second), 1.5); !publish || e.SoC != 100 || e.EnergySinceWh != 1500 {
		t.Fatalf("a minute later: %+v %t", e, publish)
	}
}

// TestNewRefuses: no capacity, or an efficiency that is not a share.
func TestNewRefuses(t *testing.T) {
	for _, c := range []float64{0, -1, 1 / zero()} {
		if _, err := New(Basis{SoC: 50, CapacityWh: c}); !errors.Is(err, ErrNoCapacity) {
			t.Errorf("capacity %g: %v", c, err)
		}
	}
	for _, e := range []float64{-0.1, 1.01, 0 / zero()} {
		_, err := New(Basis{SoC: 50, CapacityWh: 58000, Efficiency: e})
		var ee *EfficiencyError
		if !errors.As(err, &ee) {
			t.Errorf("efficiency %g: %v", e, err)
		}
	}
	if _, err := New(Basis{SoC: 50, CapacityWh: 58000, Efficiency: -0.1}); err.Error() != "the charging efficiency -0.1 is not a share between 0 and 1 (the default is 0.9)" {
		t.Fatalf("words: %v", err)
	}
	tr, err := New(Basis{SoC: 50, CapacityWh: 58000})
	if err != nil || tr.Basis().Efficiency != DefaultEfficiency {
		t.Fatalf("default efficiency: %v %+v", err, tr.Basis())
	}
}

func zero() float64 { return 0 }
