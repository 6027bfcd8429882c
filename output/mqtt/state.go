package mqtt

import (
	"strconv"
	"time"

	"github.com/ccslink/ccslink/record"
)

// States published on the state topic.
const (
	StateWaiting = "waiting" // no car: the daemon started, or the car left
	StateSLAC    = "slac"    // the charger keyed its modem for the next car and matches whoever comes
	StateSession = "session" // a car matched and talks to the charger
	StateReading = "reading" // the car sent its values
	StateDone    = "done"    // the car's V2G session ended normally; it may still be plugged in
	StateNoCar   = "no-car"  // no car came within a whole SLAC window
	StateError   = "error"   // the car failed to match, went silent or broke the protocol
)

// nextState returns the state after e. A SLAC window that passes without a
// car changes slac to no-car and nothing else, so that an idle charger
// does not flap between two states every window; an error stays until the
// next car matches.
func nextState(state string, e record.Event) string {
	switch e.Kind {
	case record.KindSLACStarted:
		if state == StateWaiting {
			return StateSLAC
		}
	case record.KindMatched, record.KindLinkUp, record.KindSDP, record.KindConnected,
		record.KindHandshake, record.KindSessionSetup:
		return StateSession
	case record.KindValues:
		return StateReading
	case record.KindEnded:
		switch e.End {
		case record.EndSessionStop, record.EndCarClosed:
			return StateDone
		case record.EndTimeout, record.EndError, record.EndSLACFailed, record.EndNoSession:
			return StateError
		case record.EndNoCar:
			if state == StateSLAC {
				return StateNoCar
			}
		}
	}
	return state
}

// stateAfter returns the state once a plug-in has ended: waiting when its
// car left, unchanged when no car came or the car failed to match (it may
// still be plugged in and try again).
func stateAfter(state string, s *record.Session) string {
	switch s.End {
	case record.EndNoCar, record.EndSLACFailed:
		return state
	}
	return StateWaiting
}

// hadCar reports whether the plug-in's record is of a car, so that an
// empty plug-in does not wipe the last car's values.
func hadCar(s *record.Session) bool {
	p := s.Phases
	return s.EVMAC != "" || !p.SDP.IsZero() || !p.TCP.IsZero() || s.Protocol != "" || s.EVCCID != nil
}

// valueTopics are the single-value topics, in the order they are published.
var valueTopics = []string{"soc", "full_soc", "energy_capacity", "energy_request", "evccid", "protocol", "soc_timestamp"}

// values returns the payload of each single-value topic. A value the car
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
	return map[string]string{
		"soc":             num(s.SoC.Known, s.SoC.OrMinus()),
		"full_soc":        num(s.FullSOC.Known, s.FullSOC.OrMinus()),
		"energy_capacity": num(s.EnergyCapacityWh.Known, s.EnergyCapacityWh.OrMinus()),
		"energy_request":  num(s.EnergyRequestWh.Known, s.EnergyRequestWh.OrMinus()),
		"evccid":          s.EVCCIDHex(),
		"protocol":        s.Protocol,
		"soc_timestamp":   ts,
	}
}
