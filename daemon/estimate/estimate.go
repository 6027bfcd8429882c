// Package estimate is the arithmetic of a SoC estimated between two reads:
// the SoC the car last sent plus the energy a charger's meter counted
// since, after charging losses, over the battery's capacity. It does no
// I/O and keeps no time of its own, so every step is tested exactly.
package estimate

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/ccslink/ccslink/record"
)

// DefaultEfficiency is the share of the energy metered on AC that reaches
// the battery: an on-board charger and the battery's own heat lose about a
// tenth. A SoC estimated with it errs low rather than high.
const DefaultEfficiency = 0.9

// Publishing an estimate: on a change of at least MinStep percent, or
// every Every while the meter is read.
const (
	MinStep = 1.0
	Every   = time.Minute
)

// ErrNoCapacity means the car sent no battery capacity and the
// configuration has none for it: nothing to divide the energy by.
var ErrNoCapacity = errors.New("no SoC estimate: the car sent no battery capacity (EVEnergyCapacity); set capacity_fallback for it in the configuration")

// EfficiencyError is an efficiency outside (0, 1].
type EfficiencyError struct{ Efficiency float64 }

func (e *EfficiencyError) Error() string {
	return fmt.Sprintf("the charging efficiency %g is not a share between 0 and 1 (the default is %g)", e.Efficiency, DefaultEfficiency)
}

// Basis is what an estimate starts from: the SoC the car sent and when,
// the battery's capacity and where it came from, the efficiency.
type Basis struct {
	SoC          int
	At           time.Time
	CapacityWh   float64
	CapacityFrom string
	// Efficiency; zero means DefaultEfficiency.
	Efficiency float64
}

// SoC is measured + energyWh × efficiency / capacityWh × 100, rounded to
// one decimal, at most 100.
func SoC(measured int, energyWh int64, capacityWh, efficiency float64) float64 {
	x := float64(measured) + float64(energyWh)*efficiency/capacityWh*100
	return min(100, math.Round(x*10)/10)
}

// Meter sums the energy a charger counted from its "charged" register
// (a SmartEVSE's ev_meter.charged_kwh), which the charger sets back to
// zero when a new charge begins: a reading lower than the last is such a
// reset, and counts in full. The first reading is the base.
type Meter struct {
	last int64 // Wh
	seen bool
	wh   int64
}

// Add takes a reading of the register in kWh; it returns the energy
// counted since the first reading, in Wh. The register's tenths of a kWh
// are taken as whole Wh, so that sums stay exact.
func (m *Meter) Add(kWh float64) int64 {
	v := int64(math.Round(kWh * 1000))
	switch {
	case !m.seen:
		m.seen = true
	case v < m.last:
		m.wh += v
	default:
		m.wh += v - m.last
	}
	m.last = v
	return m.wh
}

// Tracker estimates the SoC of one plug-in from meter readings and says
// which estimates are worth publishing.
type Tracker struct {
	b     Basis
	meter Meter
	pub   *record.Estimate // the last published
}

// New starts estimating from b; ErrNoCapacity without a capacity, an
// *EfficiencyError for an efficiency that is not a share.
func New(b Basis) (*Tracker, error) {
	if b.Efficiency == 0 {
		b.Efficiency = DefaultEfficiency
	}
	if !(b.Efficiency > 0 && b.Efficiency <= 1) {
		return nil, &EfficiencyError{b.Efficiency}
	}
	if !(b.CapacityWh > 0) || math.IsInf(b.CapacityWh, 0) {
		return nil, ErrNoCapacity
	}
	return &Tracker{b: b}, nil
}

// Basis returns what the tracker estimates from.
func (t *Tracker) Basis() Basis { return t.b }

// Reading takes the meter's register (kWh) read at at and returns the
// estimate then, and whether to publish it: the first once energy was
// counted, then on a change of at least MinStep, on reaching 100, or
// Every after the last one published.
func (t *Tracker) Reading(at time.Time, chargedKWh float64) (e record.Estimate, publish bool) {
	wh := t.meter.Add(chargedKWh)
	e = record.Estimate{SoC: SoC(t.b.SoC, wh, t.b.CapacityWh, t.b.Efficiency), MeasuredSoC: t.b.SoC, MeasuredAt: t.b.At,
		EnergySinceWh: wh, CapacityWh: t.b.CapacityWh, CapacityFrom: t.b.CapacityFrom, Efficiency: t.b.Efficiency, At: at}
	switch {
	case t.pub == nil:
		publish = wh > 0
	default:
		// In tenths, so that 56.2 after 55.2 is the step it looks.
		step := math.Abs(math.Round((e.SoC - t.pub.SoC) * 10))
		publish = step >= MinStep*10 || at.Sub(t.pub.At) >= Every || e.SoC == 100 && t.pub.SoC < 100
	}
	if publish {
		t.pub = &e
	}
	return e, publish
}

// Published reports whether an estimate was published, so that its end
// is told too.
func (t *Tracker) Published() bool { return t.pub != nil }
