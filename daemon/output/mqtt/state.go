package mqtt

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/ccslink/ccslink/record"
)

// hadCar reports whether the plug-in's record is of a car, so that an
// empty plug-in does not wipe the last car's values; a car that did not
// talk is a car, whose values are unknown.
func hadCar(s *record.Session) bool {
	p := s.Phases
	return s.EVMAC != "" || !p.SDP.IsZero() || !p.TCP.IsZero() || s.Protocol != "" || s.EVCCID != nil || s.End == record.EndNoComm
}

// valueTopics are the single-value topics, in the order they are published.
var valueTopics = []string{"soc", "full_soc", "energy_capacity", "energy_request", "evccid", "protocol", "handover", "soc_timestamp", "vehicle_id", "vehicle", "soc_estimated", "soc_estimated_basis"}

// values returns the payload of each single-value topic; handover is the
// JSON of what the charger did after the delivery (record.Handover),
// soc_estimated the SoC estimated since it was read (one decimal) and
// soc_estimated_basis that estimate with its basis (record.Estimate). A value the car
// did not send is empty: published retained, that deletes the last car's
// value from the broker, and a reader such as evcc never takes a stand-in
// number for the car's.
func values(s *record.Session) map[string]string {
	num := func(known bool, v int) string {
		if !known {
			return ""
		}
		return strconv.Itoa(v)
	}
	ts := ""
	if s.SoC.Known && !s.SoC.At.IsZero() {
		ts = s.SoC.At.UTC().Format(time.RFC3339Nano)
	}
	vid, veh := "", ""
	if v := s.Vehicle; v != nil {
		b, _ := json.Marshal(v) // strings and numbers: cannot fail
		vid, veh = v.ID, string(b)
	}
	handover := ""
	if s.Handover != nil {
		b, _ := json.Marshal(s.Handover) // strings, numbers and a time: it cannot fail
		handover = string(b)
	}
	est, basis := "", ""
	if e := s.Estimate; e != nil {
		b, _ := json.Marshal(e) // numbers, strings and times: it cannot fail
		est, basis = strconv.FormatFloat(e.SoC, 'f', 1, 64), string(b)
	}
	return map[string]string{
		"soc_estimated":       est,
		"soc_estimated_basis": basis,
		"soc":                 num(s.SoC.Known, s.SoC.OrMinus()),
		"full_soc":            num(s.FullSOC.Known, s.FullSOC.OrMinus()),
		"energy_capacity":     num(s.EnergyCapacityWh.Known, s.EnergyCapacityWh.OrMinus()),
		"energy_request":      num(s.EnergyRequestWh.Known, s.EnergyRequestWh.OrMinus()),
		"evccid":              s.EVCCIDHex(),
		"protocol":            s.Protocol,
		"soc_timestamp":       ts,
		"vehicle_id":          vid,
		"vehicle":             veh,
		"handover":            handover,
	}
}
