package cp

import (
	"reflect"
	"testing"
	"time"
)

func TestPilotWords(t *testing.T) {
	for _, c := range []struct {
		p    Pilot
		want string
		amps float64
	}{
		{PilotOff, "CP off", 0},
		{PilotSteady, "steady CP (100 %, no PWM)", 0},
		{PilotDigital, "5 % PWM (digital communication)", 0},
		{Nominal(16), "26.7 % PWM (16 A)", 16.02},
		{Nominal(6), "10 % PWM (6 A)", 6},
	} {
		if got := c.p.String(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.p, got, c.want)
		}
		if got := c.p.Amps(); got < c.amps-0.01 || got > c.amps+0.01 {
			t.Errorf("%+v: %v A, want %v", c.p, got, c.amps)
		}
	}
	if Nominal(16).Duty != 267 {
		t.Errorf("16 A: duty %d per mille, want 267", Nominal(16).Duty)
	}
}

// TestWireOrder: a watcher that answers a change (the car drawing current
// on a nominal PWM) is heard after the change it answered, by every
// watcher, and no watcher is entered while it runs.
func TestWireOrder(t *testing.T) {
	t0 := time.Unix(1000, 0)
	w := NewWire(func() time.Time { return t0 })
	var seen []Change
	inside := false
	w.Watch(func(c Change) {
		if inside {
			t.Fatal("watcher entered twice")
		}
		inside = true
		defer func() { inside = false }()
		seen = append(seen, c)
		if !c.ByCar && c.Pilot.Amps() > 0 {
			w.SetCar(CarC)
		}
	})
	w.SetCar(CarB)
	w.SetCar(CarB) // no change: no one hears of it
	w.SetPilot(Nominal(16))
	want := []Change{
		{At: t0, Pilot: PilotSteady, Car: CarB, ByCar: true},
		{At: t0, Pilot: Nominal(16), Car: CarB},
		{At: t0, Pilot: Nominal(16), Car: CarC, ByCar: true},
	}
	if !reflect.DeepEqual(seen, want) {
		t.Fatalf("seen %+v\nwant %+v", seen, want)
	}
}
