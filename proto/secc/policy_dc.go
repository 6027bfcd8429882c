package secc

import (
	"math"
	"time"
)

// dcPolicy runs a complete emulated DC session, for tests and benches: the
// output follows the car's targets within the charger's limits, as fast as
// Config.CableCheckTime and PreChargeTime allow.
type dcPolicy struct {
	voltage   float64 // the emulated output voltage
	cable     int     // CableCheckReq seen
	cableFrom time.Time
	preFrom   time.Time
}

func (c *dcPolicy) Decide(p *Progress, r *Request) Decision {
	switch r.Phase {
	case PhaseChargeParameterDiscovery:
		if r.Energy != EnergyDC {
			return Decision{Outcome: WrongEnergy}
		}
	case PhaseCableCheck:
		if !c.cableDone(p.Config, p.Now) {
			return Decision{Outcome: Ongoing}
		}
	case PhasePreCharge:
		c.voltage = c.preCharge(p.Config, p.Now, r.TargetVoltageV)
		return Decision{PresentVoltageV: c.voltage}
	case PhasePowerDelivery:
		if r.ReadyToCharge && p.Expect == PhaseCableCheck {
			// Only a stop may come before the cable check.
			return Decision{Outcome: Fail}
		}
	case PhaseChargeLoop:
		if r.Energy != EnergyDC {
			return Decision{Outcome: Fail}
		}
		c.voltage = r.TargetVoltageV
		cur := math.Min(r.TargetCurrentA, p.Config.Limits.MaxCurrentA)
		return Decision{PresentVoltageV: c.voltage, PresentCurrentA: cur, CurrentLimitAchieved: cur < r.TargetCurrentA}
	case PhaseWeldingDetection:
		c.voltage = 0
	}
	return Decision{}
}

// cableDone counts a CableCheckReq and reports whether the isolation check
// is over: after Config.CableCheckTime, or else at the second request.
func (c *dcPolicy) cableDone(cfg *Config, now time.Time) bool {
	c.cable++
	if c.cable == 1 {
		c.cableFrom = now
	}
	if cfg.CableCheckTime > 0 {
		return now.Sub(c.cableFrom) >= cfg.CableCheckTime
	}
	return c.cable > 1
}

// preCharge is the output voltage answered to a PreChargeReq: linear from 0
// to the target over Config.PreChargeTime, or else 150 V more each time.
func (c *dcPolicy) preCharge(cfg *Config, now time.Time, target float64) float64 {
	if cfg.PreChargeTime <= 0 {
		return rampTo(c.voltage, target)
	}
	if c.preFrom.IsZero() {
		c.preFrom = now
	}
	el := now.Sub(c.preFrom)
	if el >= cfg.PreChargeTime {
		return target
	}
	return target * float64(el) / float64(cfg.PreChargeTime)
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
