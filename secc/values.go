package secc

import (
	"errors"
	"math"
	"time"
)

// Errors of the session rules, inside a *RequestError.
var (
	// ErrUnknownSession: the request carries another SessionID than the session's.
	ErrUnknownSession = errors.New("unknown SessionID")
	// ErrSequence: the request is not allowed in the session's state.
	ErrSequence = errors.New("request out of sequence")
)

func ptr[T any](v T) *T { return &v }

// scaled returns value x 10^mul.
func scaled(value, mul int) float64 { return float64(value) * math.Pow10(mul) }

// physical splits v into the Value and Multiplier of a PhysicalValue: the
// smallest multiplier >= 0 whose value fits an int16.
func physical(v float64) (int16, int8) {
	var mul int8
	for math.Abs(v) > math.MaxInt16 && mul < 3 {
		v /= 10
		mul++
	}
	v = math.Round(v)
	v = math.Max(math.Min(v, math.MaxInt16), math.MinInt16)
	return int16(v), mul
}

// rampTo is the emulated output voltage one PreCharge step later: a real
// charger takes a few steps to reach the car's target.
func rampTo(now, target float64) float64 {
	const step = 150 // V per request
	if target-now <= step {
		return target
	}
	return now + step
}

// dcTimes holds when the dc policy's cable check and pre-charge started,
// for Config.CableCheckTime and PreChargeTime.
type dcTimes struct {
	cable     int // CableCheckReq seen
	cableFrom time.Time
	preFrom   time.Time
}

// cableDone counts a CableCheckReq and reports whether the isolation check is over.
func (d *dcTimes) cableDone(cfg *Config, now time.Time) bool {
	d.cable++
	if d.cable == 1 {
		d.cableFrom = now
	}
	if cfg.CableCheckTime > 0 {
		return now.Sub(d.cableFrom) >= cfg.CableCheckTime
	}
	return d.cable > 1
}

// preCharge is the output voltage answered to a PreChargeReq, from the last one (v).
func (d *dcTimes) preCharge(cfg *Config, now time.Time, v, target float64) float64 {
	if cfg.PreChargeTime <= 0 {
		return rampTo(v, target)
	}
	if d.preFrom.IsZero() {
		d.preFrom = now
	}
	el := now.Sub(d.preFrom)
	if el >= cfg.PreChargeTime {
		return target
	}
	return target * float64(el) / float64(cfg.PreChargeTime)
}
