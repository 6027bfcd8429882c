package record

// State is what the charger is doing, in one word, for machines: the MQTT
// state topic, Home Assistant's State sensor and the HTTP API's "state"
// all say these names, stepped by Next on every event and by AfterPlugIn
// at the end of every plug-in. A daemon starts in StateWaiting.
type State string

// The states.
const (
	// StateWaiting: no car; the daemon has just started, or the car left.
	StateWaiting State = "waiting"
	// StateSLAC: the charger keyed its modem for a new car and matches
	// whoever plugs in.
	StateSLAC State = "slac"
	// StateSession: a car matched and talks to the charger (SDP, TCP,
	// SessionSetup).
	StateSession State = "session"
	// StateReading: the car sent its values (SoC and so on).
	StateReading State = "reading"
	// StateDone: the car's V2G session ended normally; it may still be
	// plugged in and charge on AC.
	StateDone State = "done"
	// StateNoCar: a whole SLAC window passed without a car; the charger is
	// idle and keys its modem afresh.
	StateNoCar State = "no-car"
	// StateNoComm: a car is plugged in (the control pilot or the charger
	// said so) but did not start digital communication (SLAC) within
	// slac.init_timeout: it charges on AC, if at all, without SoC. It
	// stays until the car leaves or starts SLAC after all.
	StateNoComm State = "no-communication"
	// StateError: the car failed to match, went silent or broke the
	// protocol; it stays until the next car matches.
	StateError State = "error"
)

// States returns every state, as Home Assistant's enum sensor lists them.
func States() []State {
	return []State{StateWaiting, StateSLAC, StateSession, StateReading, StateDone, StateNoCar, StateError, StateNoComm}
}

// Next returns the state after e. A SLAC window that passes without a car
// changes slac to no-car and nothing else, so that an idle charger does
// not flap between two states every window; an error stays until the next
// car matches.
func (s State) Next(e Event) State {
	switch e.Kind {
	case KindSLACStarted:
		if s == StateWaiting {
			return StateSLAC
		}
	case KindMatched, KindLinkUp, KindSDP, KindConnected, KindHandshake, KindSessionSetup:
		return StateSession
	case KindValues:
		return StateReading
	case KindEnded:
		switch e.End {
		case EndSessionStop, EndCarClosed, EndNoNegotiation, EndIdentified:
			return StateDone
		case EndTimeout, EndError, EndSLACFailed, EndNoSession:
			return StateError
		case EndNoComm:
			return StateNoComm
		case EndNoCar:
			if s == StateSLAC {
				return StateNoCar
			}
		}
	}
	return s
}

// AfterPlugIn returns the state once the plug-in whose record is rec has
// ended: waiting when its car left, unchanged when no car came, the car
// failed to match (it may still be plugged in and try again) or was
// identified by its MAC alone (it stays, charging on AC).
func (s State) AfterPlugIn(rec *Session) State {
	switch rec.End {
	case EndNoCar, EndSLACFailed, EndIdentified:
		return s
	}
	return StateWaiting
}
