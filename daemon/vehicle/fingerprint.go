package vehicle

import (
	"math"
	"slices"

	"github.com/ccslink/ccslink/record"
)

// Fingerprint is what a car shows of itself by its first
// ChargeParameterDiscoveryReq (the harvest), whatever its MAC: what it
// offers in SupportedAppProtocolReq (namespaces, versions, schema IDs and
// priorities, in its order), the protocol it got, its limits, capacity and
// SoC settings, and its MAC's maker block when the car keeps one. A nil
// value was not sent. Its timing is left out: the captures show it to
// follow the charger (how fast it answers, the modem) more than the car.
type Fingerprint struct {
	Offered     []record.AppProtocol `json:"offered,omitempty"`
	Protocol    string               `json:"protocol,omitempty"`
	MaxVoltageV *float64             `json:"max_voltage_v,omitempty"`
	MaxCurrentA *float64             `json:"max_current_a,omitempty"`
	MaxPowerW   *float64             `json:"max_power_w,omitempty"`
	CapacityWh  *float64             `json:"capacity_wh,omitempty"`
	FullSOC     *int                 `json:"full_soc,omitempty"`
	BulkSOC     *int                 `json:"bulk_soc,omitempty"`
	// OUI is the MAC's first three bytes when they are the maker's
	// (globally administered), e.g. "00:7d:fa"; "" for a made-up MAC.
	OUI string `json:"oui,omitempty"`
}

// The weights of a fingerprint's parts: what the car offers says most
// (its firmware), its limits and capacity next (its battery); FullSOC and
// BulkSOC the least, since an owner may change the charge limit.
const (
	wOffered  = 0.30
	wProtocol = 0.05
	wVoltage  = 0.15
	wCurrent  = 0.10
	wPower    = 0.10
	wCapacity = 0.15
	wFullSOC  = 0.05
	wBulkSOC  = 0.05
	wOUI      = 0.05
)

// MinCompared is the least weight two fingerprints must both have parts
// of to be compared at all: the offer and the protocol alone are not a car.
const MinCompared = 0.5

// Threshold is the least similarity at which a new MAC is a car remembered.
const Threshold = 0.8

// Of returns the fingerprint of the plug-in s at its harvest; mac is the
// car's MAC (from SLAC, else its EVCCID).
func Of(s *record.Session, mac MAC, macOK bool) Fingerprint {
	f := Fingerprint{Offered: slices.Clone(s.Offered), Protocol: s.Protocol}
	num := func(n record.Num) *float64 {
		if !n.Known || n.From == "config" {
			return nil
		}
		v := n.Value
		return &v
	}
	f.MaxVoltageV, f.MaxCurrentA, f.MaxPowerW = num(s.MaxVoltageV), num(s.MaxCurrentA), num(s.MaxPowerW)
	f.CapacityWh = num(s.EnergyCapacityWh)
	if s.FullSOC.Known {
		v := s.FullSOC.Value
		f.FullSOC = &v
	}
	if s.BulkSOC.Known {
		v := s.BulkSOC.Value
		f.BulkSOC = &v
	}
	if macOK && !mac.Local() {
		f.OUI = mac.String()[:8]
	}
	return f
}

// Similarity compares two fingerprints: the weight of the parts that are
// the same over the weight of the parts either has, discounted for how
// little the cars told (a pair with half of the weight between them counts
// three quarters), rounded to hundredths; 0 when they offer differently or
// share less than MinCompared of weight.
func Similarity(a, b Fingerprint) float64 {
	var same, compared float64
	part := func(w float64, aHas, bHas, equal bool) {
		if !aHas && !bHas {
			return
		}
		compared += w
		if aHas && bHas && equal {
			same += w
		}
	}
	offerSame := slices.Equal(a.Offered, b.Offered)
	part(wOffered, len(a.Offered) > 0, len(b.Offered) > 0, offerSame)
	part(wProtocol, a.Protocol != "", b.Protocol != "", a.Protocol == b.Protocol)
	part(wVoltage, a.MaxVoltageV != nil, b.MaxVoltageV != nil, near(a.MaxVoltageV, b.MaxVoltageV))
	part(wCurrent, a.MaxCurrentA != nil, b.MaxCurrentA != nil, near(a.MaxCurrentA, b.MaxCurrentA))
	part(wPower, a.MaxPowerW != nil, b.MaxPowerW != nil, near(a.MaxPowerW, b.MaxPowerW))
	part(wCapacity, a.CapacityWh != nil, b.CapacityWh != nil, near(a.CapacityWh, b.CapacityWh))
	part(wFullSOC, a.FullSOC != nil, b.FullSOC != nil, a.FullSOC != nil && b.FullSOC != nil && *a.FullSOC == *b.FullSOC)
	part(wBulkSOC, a.BulkSOC != nil, b.BulkSOC != nil, a.BulkSOC != nil && b.BulkSOC != nil && *a.BulkSOC == *b.BulkSOC)
	part(wOUI, a.OUI != "", b.OUI != "", a.OUI == b.OUI)
	if !offerSame || same < MinCompared {
		return 0
	}
	return math.Round(same/compared*(0.5+0.5*compared)*100) / 100
}

// near reports two values within 1 % of each other (a car's limit in
// another unit multiplier rounds differently).
func near(a, b *float64) bool {
	if a == nil || b == nil {
		return false
	}
	d := math.Abs(*a - *b)
	return d <= 0.01*math.Max(math.Abs(*a), math.Abs(*b))
}
