package secc

import (
	"errors"
	"math"

	"github.com/ccslink/ccslink/record"
)

// Errors of the session rules, inside a *RequestError.
var (
	// ErrUnknownSession: the request carries another SessionID than the session's.
	ErrUnknownSession = errors.New("unknown SessionID")
	// ErrSequence: the request is not allowed in the session's state.
	ErrSequence = errors.New("request out of sequence")
)

// opt is an optional value of the car's, its multiplier applied.
type opt struct {
	v  float64
	ok bool
}

// into stores o in slot and returns slot, or nil when o is absent.
func (o opt) into(slot *float64) *float64 {
	if !o.ok {
		return nil
	}
	*slot = o.v
	return slot
}

// valueBlock holds the values of one event: one allocation where each
// value would take its own. An event's values are the subscribers' to keep.
type valueBlock struct {
	soc, full, bulk                                       int
	maxV, maxI, maxP, capacity, request, targetV, targetI float64
	// ISO-20's DisplayParameters
	minSoC, targetSoC, maxSoC, toMin, toTarget, toMax int
	complete                                          bool
}

// percent stores p in slot and returns slot, nil when p is.
func (b *valueBlock) percent(slot *int, p *int8) *int {
	if p == nil {
		return nil
	}
	*slot = int(*p)
	return slot
}

// seconds stores s in slot and returns slot, nil when s is.
func (b *valueBlock) seconds(slot *int, s *uint32) *int {
	if s == nil {
		return nil
	}
	*slot = int(min(*s, 1<<31-1))
	return slot
}

// dcValues are what a DC ChargeParameterDiscoveryReq tells: the battery's
// state and the car's limits.
func dcValues(soc int, maxV, maxI float64, maxP, capacity, request opt, full, bulk *int8) record.Values {
	b := &valueBlock{soc: soc, maxV: maxV, maxI: maxI}
	v := record.Values{SoC: &b.soc, MaxVoltageV: &b.maxV, MaxCurrentA: &b.maxI,
		MaxPowerW: maxP.into(&b.maxP), EnergyCapacityWh: capacity.into(&b.capacity), EnergyRequestWh: request.into(&b.request)}
	if full != nil {
		b.full, v.FullSOC = int(*full), &b.full
	}
	if bulk != nil {
		b.bulk, v.BulkSOC = int(*bulk), &b.bulk
	}
	return v
}

// acValues are what an AC ChargeParameterDiscoveryReq tells: the energy
// the car asks for and its limits (an AC car sends no SoC).
func acValues(energy, maxV, maxI opt) record.Values {
	b := &valueBlock{}
	return record.Values{EnergyRequestWh: energy.into(&b.request), MaxVoltageV: maxV.into(&b.maxV), MaxCurrentA: maxI.into(&b.maxI)}
}

// statusValues are what a DC request of the charging phases tells: the
// SoC, and the targets of PreCharge and CurrentDemand.
func statusValues(soc int, targetV, targetI opt) record.Values {
	b := &valueBlock{soc: soc}
	return record.Values{SoC: &b.soc, TargetVoltageV: targetV.into(&b.targetV), TargetCurrentA: targetI.into(&b.targetI)}
}

// optOf is the value of the optional p as value reads it, absent when p is nil.
func optOf[V any](p *V, value func(V) float64) opt {
	if p == nil {
		return opt{}
	}
	return opt{value(*p), true}
}

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
