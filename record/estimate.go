package record

import (
	"fmt"
	"math"
	"time"
)

// Estimate is the car's SoC estimated between two reads: the SoC the car
// last sent plus the energy a charger's meter counted since, over the
// battery's capacity, after charging losses. It is a guess beside the
// measured SoC, never in its place, and carries its basis so that a reader
// can tell the two apart and check the arithmetic.
type Estimate struct {
	// SoC is the estimate in percent, one decimal, at most 100.
	SoC float64 `json:"soc"`
	// MeasuredSoC is the SoC the car sent, at MeasuredAt.
	MeasuredSoC int       `json:"measured_soc"`
	MeasuredAt  time.Time `json:"measured_at"`
	// EnergySinceWh is what the charger's meter counted since, in Wh.
	EnergySinceWh int64 `json:"energy_since_wh"`
	// CapacityWh is the battery's capacity used, and CapacityFrom where it
	// came from: the car's message (e.g. "ChargeParameterDiscoveryReq") or
	// "config" (the capacity fallback).
	CapacityWh   float64 `json:"capacity_wh"`
	CapacityFrom string  `json:"capacity_from"`
	// Efficiency is the share of the metered energy taken to reach the
	// battery (AC charging loses about a tenth in the on-board charger).
	Efficiency float64 `json:"efficiency"`
	// At is the time of the meter reading the estimate is of.
	At time.Time `json:"at"`
}

// Words says the estimate as a reader should take it: "≈ 63 % (estimated)".
func (e *Estimate) Words() string {
	return fmt.Sprintf("≈ %d %% (estimated)", int(math.Round(e.SoC)))
}
