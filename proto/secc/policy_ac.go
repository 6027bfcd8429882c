package secc

// acPolicy runs a complete ISO 15118-2 AC session: the car's EVCCID and
// its AC values, no SoC (ISO-2 has it in DC messages only); under ISO
// 15118-20 AC the same session, with the SoC of every charge loop's
// DisplayParameters published as it comes. DIN has no AC: a DIN car
// gets the soc policy, so that its EVCCID and SoC still reach the
// charger; so does a car that chose ISO 15118-20 DC, from its
// DC_ChargeParameterDiscoveryReq on.
type acPolicy struct {
	soc  socPolicy
	dc20 bool // the -20 session is a DC one
}

func (a *acPolicy) Decide(p *Progress, r *Request) Decision {
	if p.Protocol == ProtocolISO20 && r.Phase == PhaseChargeParameterDiscovery && r.Energy == EnergyDC {
		a.dc20 = true
	}
	if p.Protocol == ProtocolDIN || a.dc20 {
		return a.soc.Decide(p, r)
	}
	switch r.Phase {
	case PhaseServiceDiscovery:
		return Decision{Offer: EnergyAC}
	case PhaseChargeParameterDiscovery:
		if r.Energy != EnergyAC {
			return Decision{Outcome: WrongEnergy}
		}
	case PhaseCableCheck, PhasePreCharge:
		return Decision{Outcome: Fail}
	case PhasePowerDelivery:
		if r.ReadyToCharge && !p.AC {
			return Decision{Outcome: Fail}
		}
	case PhaseChargeLoop:
		if r.Energy != EnergyAC || !p.AC {
			return Decision{Outcome: Fail}
		}
	}
	return Decision{}
}
