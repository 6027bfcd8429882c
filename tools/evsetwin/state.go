package evsetwin

import "github.com/ccslink/ccslink/proto/cp"

// State is the firmware's State, as GET /settings reports it in evse.state_id.
type State int

// The states a twin takes (the firmware's numbers).
const (
	StateA            State = 0  // no car
	StateB            State = 1  // car connected, not charging
	StateC            State = 2  // charging
	StateB1           State = 9  // connected, no PWM
	StateC1           State = 10 // stopping, no PWM
	StateModemRequest State = 11 // CP off: the modem stage starts
	StateModemWait    State = 12 // 5 % PWM: waiting up to 60 s for a SoC
	StateModemDone    State = 13 // SoC received or 60 s over: CP off 5 s
	StateModemDenied  State = 14 // the required EVCCID did not match: 60 s
)

// webNames are the firmware's StrStateNameWeb, evse.state in GET /settings.
var webNames = [15]string{"Ready to Charge", "Connected to EV", "Charging", "D", "Request State B", "State B OK",
	"Request State C", "State C OK", "Activate", "Charging Stopped", "Stop Charging", "Modem Setup", "Modem Request",
	"Modem Done", "Modem Denied"}

// WebName returns the state's name as GET /settings gives it in evse.state.
func (s State) WebName() string {
	if s < 0 || int(s) >= len(webNames) {
		return "Unknown"
	}
	return webNames[s]
}

// IEC61851 returns the state's letter as the firmware maps it
// (evse_state_to_iec61851, without errors): the modem stages are B, a
// denial is E.
func (s State) IEC61851() string {
	switch s {
	case StateA:
		return "A"
	case StateB, StateB1, 4, 5, 8, StateModemRequest, StateModemWait, StateModemDone:
		return "B"
	case StateC, StateC1, 6, 7:
		return "C"
	case 3:
		return "D"
	case StateModemDenied:
		return "E"
	default:
		return "F"
	}
}

// Charging reports what evse.charging_enabled says: C or C1.
func (s State) Charging() bool { return s == StateC || s == StateC1 }

// String names the state as the firmware's code does, with its number.
func (s State) String() string {
	switch s {
	case StateModemRequest:
		return "MODEM_REQUEST (11)"
	case StateModemWait:
		return "MODEM_WAIT (12)"
	case StateModemDone:
		return "MODEM_DONE (13)"
	case StateModemDenied:
		return "MODEM_DENIED (14)"
	}
	return s.IEC61851() + " (" + itoa(int(s)) + ")"
}

func itoa(i int) string {
	if i < 0 {
		return "-" + itoa(-i)
	}
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + itoa(i%10)
}

// PWM values in the firmware's units (1024 = 100 %), evse.pwm.
const (
	pwmSteady  = 1024
	pwmDigital = 50 // SetCPDuty(50) in MODEM_WAIT
)

// nominalPWM is the firmware's duty for deciamps (SetCurrent: A×10×1024/600).
func nominalPWM(deciamps int) int { return deciamps * 1024 / 600 }

// pilotOf is what the firmware drives on CP in state s.
func (t *Twin) pilotOf(s State) cp.Pilot {
	switch s {
	case StateModemRequest, StateModemDone, StateModemDenied:
		return cp.PilotOff
	case StateModemWait:
		return cp.PilotDigital
	case StateB, StateC:
		return cp.Nominal(float64(t.cfg.ChargeCurrent) / 10)
	default:
		return cp.PilotSteady
	}
}
