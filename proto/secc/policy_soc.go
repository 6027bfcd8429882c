package secc

// socPolicy answers as a DC charger until the car has sent its battery
// values, then ends the DC attempt so that the car accepts AC charging: the
// first ChargeParameterDiscoveryReq (its values already published) is
// answered Ongoing, the next ones EVSE_Shutdown (the car answers with
// SessionStopReq), and a car that ignores the shutdown gets FAILED after
// Config.MaxOngoing of them. A car moving on towards charging gets FAILED.
type socPolicy struct {
	cpd       int // ChargeParameterDiscoveryReq seen
	shutdowns int // EVSE_Shutdown answers
	dc        dcPolicy
}

func (s *socPolicy) Decide(p *Progress, r *Request) Decision {
	if p.Protocol == ProtocolISO20 {
		return s.iso20(p, r)
	}
	switch r.Phase {
	case PhaseChargeParameterDiscovery:
		if r.Energy != EnergyDC {
			// No SoC to be had; the car falls back to basic AC.
			return Decision{Outcome: WrongEnergy}
		}
		s.cpd++
		switch {
		case s.cpd == 1:
			// The values are out; keep the car waiting.
			return Decision{Outcome: Ongoing, Closing: true}
		case s.shutdowns < p.Config.MaxOngoing:
			s.shutdowns++
			return Decision{Outcome: Shutdown}
		}
		return Decision{Outcome: Fail}
	case PhaseCableCheck, PhasePreCharge, PhaseChargeLoop:
		return Decision{Outcome: Fail}
	case PhasePowerDelivery:
		if r.ReadyToCharge {
			return Decision{Outcome: Fail}
		}
	}
	return Decision{}
}

// iso20 is the soc policy of an ISO 15118-20 session, where the present
// SoC comes in the charge loop's DisplayParameters only: the session runs
// to the first AC_ or DC_ChargeLoopReq (its values published, or their
// absence recorded), whose answer tells the car to terminate; a car that
// loops on gets FAILED. Under DC the isolation check and the precharge
// are the dc policy's emulation: a charger without a DC output reports the
// car's target voltage there, and a car measuring its inlet itself stops
// at the precharge, having told its limits and its SoC goals.
func (s *socPolicy) iso20(p *Progress, r *Request) Decision {
	switch r.Phase {
	case PhaseChargeParameterDiscovery:
		if r.Energy == EnergyNone {
			return Decision{Outcome: WrongEnergy}
		}
	case PhaseCableCheck, PhasePreCharge:
		return s.dc.Decide(p, r)
	case PhaseChargeLoop:
		return Decision{Outcome: Shutdown, Closing: true}
	}
	return Decision{}
}
