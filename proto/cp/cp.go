// Package cp is the control pilot of IEC 61851-1 between a charger and a
// car, as the simulator carries it: what the charger drives on the wire
// (off, a steady level, a PWM duty) and the state the car presents (A, B,
// C). A charger twin, the simulated modems and the simulated car meet on one
// Line, each setting its own side and watching the other's.
package cp

import (
	"fmt"
	"sync"
	"time"
)

// Pilot is what the charger drives on the control pilot.
type Pilot struct {
	// Off: the pilot is disconnected; the car sees no charger at all, as
	// when unplugged (SmartEVSE's "virtual re-plug", ISO 15118-3's E/F).
	Off bool
	// Duty is the PWM duty cycle in per mille; 1000 is a steady level
	// without PWM (X1: connected, no current offered).
	Duty int
}

// The pilots a charger drives besides a nominal PWM.
var (
	PilotOff     = Pilot{Off: true}
	PilotSteady  = Pilot{Duty: 1000} // X1: 100 %, no PWM
	PilotDigital = Pilot{Duty: 50}   // 5 %: digital communication required (ISO 15118-3)
)

// Nominal returns the PWM that offers amps (IEC 61851-1 Table A.8: duty =
// amps / 0.6 % from 6 to 51 A).
func Nominal(amps float64) Pilot { return Pilot{Duty: int(amps/0.6*10 + 0.5)} }

// Digital reports whether the pilot asks for digital communication: a PWM
// of 3 to 7 %.
func (p Pilot) Digital() bool { return !p.Off && p.Duty >= 30 && p.Duty <= 70 }

// Steady reports whether the pilot is on without PWM (X1).
func (p Pilot) Steady() bool { return !p.Off && p.Duty >= 1000 }

// Amps returns the current a PWM offers, 0 for anything but a nominal PWM
// (8 to 97 %).
func (p Pilot) Amps() float64 {
	if p.Off || p.Duty < 80 || p.Duty > 970 {
		return 0
	}
	return float64(p.Duty) * 0.06
}

// String says what the pilot is in a few words.
func (p Pilot) String() string {
	switch {
	case p.Off:
		return "CP off"
	case p.Steady():
		return "steady CP (100 %, no PWM)"
	case p.Digital():
		return fmt.Sprintf("%s PWM (digital communication)", permille(p.Duty))
	case p.Amps() > 0:
		return fmt.Sprintf("%s PWM (%.0f A)", permille(p.Duty), p.Amps())
	default:
		return fmt.Sprintf("%s PWM", permille(p.Duty))
	}
}

func permille(d int) string {
	if d%10 == 0 {
		return fmt.Sprintf("%d %%", d/10)
	}
	return fmt.Sprintf("%.1f %%", float64(d)/10)
}

// Car is the state the car presents on the pilot (IEC 61851-1).
type Car byte

// The car's states.
const (
	CarA Car = 'A' // not connected
	CarB Car = 'B' // connected, not drawing current
	CarC Car = 'C' // drawing current
)

// String returns the state's letter.
func (c Car) String() string {
	if c == 0 {
		return "A"
	}
	return string(rune(c))
}

// Change is one side of the line changing.
type Change struct {
	At    time.Time
	Pilot Pilot // the pilot after the change
	Car   Car   // the car's state after the change
	// ByCar: the car changed its state; otherwise the charger its pilot.
	ByCar bool
}

// Line is the control pilot both sides share. Watchers are told of every
// change in the order the changes were made, never while a Set call of
// theirs is in progress on the same goroutine.
type Line interface {
	Pilot() Pilot
	Car() Car
	SetPilot(Pilot)
	SetCar(Car)
	// Watch calls f for each change from now on, until cancel. f may set
	// either side.
	Watch(f func(Change)) (cancel func())
}

// Wire is a Line in memory. The zero value is not usable; use NewWire.
type Wire struct {
	now func() time.Time

	mu          sync.Mutex
	pilot       Pilot
	car         Car
	watchers    map[int]func(Change)
	next        int
	queue       []Change
	dispatching bool
}

// NewWire returns a line with the pilot steady and no car, whose changes
// carry the times now gives (time.Now if nil).
func NewWire(now func() time.Time) *Wire {
	if now == nil {
		now = time.Now
	}
	return &Wire{now: now, pilot: PilotSteady, car: CarA, watchers: map[int]func(Change){}}
}

// Pilot returns what the charger drives now.
func (w *Wire) Pilot() Pilot {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pilot
}

// Car returns the car's state now.
func (w *Wire) Car() Car {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.car
}

// SetPilot drives p; watchers hear of it only if it differs.
func (w *Wire) SetPilot(p Pilot) {
	w.set(func() bool {
		if w.pilot == p {
			return false
		}
		w.pilot = p
		return true
	}, false)
}

// SetCar presents c; watchers hear of it only if it differs.
func (w *Wire) SetCar(c Car) {
	w.set(func() bool {
		if w.car == c {
			return false
		}
		w.car = c
		return true
	}, true)
}

// set applies f and tells the watchers. Changes made while watchers run
// (a watcher answering one) are queued and told in order by the goroutine
// already telling, so no watcher is ever entered twice at once.
func (w *Wire) set(f func() bool, byCar bool) {
	w.mu.Lock()
	if !f() {
		w.mu.Unlock()
		return
	}
	w.queue = append(w.queue, Change{At: w.now(), Pilot: w.pilot, Car: w.car, ByCar: byCar})
	if w.dispatching {
		w.mu.Unlock()
		return
	}
	w.dispatching = true
	for len(w.queue) > 0 {
		c := w.queue[0]
		w.queue = w.queue[1:]
		fs := make([]func(Change), 0, len(w.watchers))
		for i := 0; i < w.next; i++ {
			if f, ok := w.watchers[i]; ok {
				fs = append(fs, f)
			}
		}
		w.mu.Unlock()
		for _, f := range fs {
			f(c)
		}
		w.mu.Lock()
	}
	w.dispatching = false
	w.mu.Unlock()
}

// Watch calls f for every change from now on until cancel is called.
func (w *Wire) Watch(f func(Change)) (cancel func()) {
	w.mu.Lock()
	id := w.next
	w.next++
	w.watchers[id] = f
	w.mu.Unlock()
	return func() {
		w.mu.Lock()
		delete(w.watchers, id)
		w.mu.Unlock()
	}
}
