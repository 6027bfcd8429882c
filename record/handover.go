package record

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// StrategyDeliverNow is the handover of today: the car's values go out at
// its first ChargeParameterDiscoveryReq and the charger (a SmartEVSE) cuts
// CP for a virtual re-plug, after which the car should charge on AC.
const StrategyDeliverNow = "deliver-now"

// The other handover strategies: EndThenDeliver ends the DC attempt
// cleanly before the values go out; X1ThenPWM has the charger show 100 %
// for 2 s after the delivery before its nominal PWM (VW MEB);
// NoNegotiation answers the handshake Failed_NoNegotiation, so the car
// charges on basic AC without a DC session (its SLAC MAC its EVCCID, no
// SoC).
const (
	StrategyEndThenDeliver = "end-then-deliver"
	StrategyX1ThenPWM      = "x1-then-pwm"
	StrategyNoNegotiation  = "no-negotiation"
	// StrategyIdentifyOnly leaves the car's CM_SLAC_MATCH.REQ unanswered:
	// its SLAC MAC is its identity (EVCCID), no V2G, no SoC, and the car
	// charges on basic AC. Only a pin in the configuration chooses it.
	StrategyIdentifyOnly = "identify-only"
)

// MaxSeen bounds the charger's states a Handover keeps.
const MaxSeen = 32

// Outcomes of a handover, as Handover.Outcome names them.
const (
	OutcomeACStarted   = "ac_started"   // the charger went to C (charging) within the bound
	OutcomeNoAC        = "no_ac"        // it was watched to the bound and never charged
	OutcomeNotObserved = "not_observed" // its state could not be read (no API, an HTTP error)
)

// Handover is what became of the car after its values were delivered: did
// the charger go on to charge it on AC? The charger's state is watched (a
// SmartEVSE's GET /settings) from the delivery until it charges or a bound
// passes. It comes after the car's V2G session, usually after the plug-in's
// record was handed on, so it amends that record (Event.PlugIn).
type Handover struct {
	// Strategy names how the car was handed over, e.g. StrategyDeliverNow.
	Strategy string
	// ACStarted is set when the charger went to C (charging), ACAfter
	// after the delivery.
	ACStarted bool
	ACAfter   time.Duration
	// Observed is false when the charger's state could not be read at all;
	// Why says why.
	Observed bool
	Why      string
	// Seen is the charger's states in the order seen, a repeat left out
	// (e.g. "MODEM_DONE", "A", "B", "C"), at most MaxSeen.
	Seen []string
	// Watched is how long the charger was watched at most.
	Watched time.Duration
	// At is when the outcome was known.
	At time.Time
}

// Outcome names the handover's outcome: OutcomeACStarted, OutcomeNoAC or
// OutcomeNotObserved.
func (h *Handover) Outcome() string {
	switch {
	case h.ACStarted:
		return OutcomeACStarted
	case h.Observed:
		return OutcomeNoAC
	}
	return OutcomeNotObserved
}

// Words says the outcome in plain words, e.g. "charging on AC 9 s later",
// "no AC charging within 60 s (seen: MODEM_DONE, A, B)" or "AC charging
// not observed: no answer from 10.0.0.1:80".
func (h *Handover) Words() string {
	switch {
	case h.ACStarted:
		return "charging on AC " + span(h.ACAfter) + " later"
	case h.Observed:
		w := "no AC charging within " + span(h.Watched)
		if len(h.Seen) > 0 {
			w += " (seen: " + strings.Join(h.Seen, ", ") + ")"
		}
		return w
	}
	if h.Why == "" {
		return "AC charging not observed"
	}
	return "AC charging not observed: " + h.Why
}

// span is "350 ms" under a second, else whole seconds: "9 s".
func span(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%d ms", d.Milliseconds())
	}
	return fmt.Sprintf("%d s", int64(d.Round(time.Second)/time.Second))
}

// handoverJSON is a Handover in JSON, durations in milliseconds; ac_after_ms
// only when AC started.
type handoverJSON struct {
	Strategy  string    `json:"strategy"`
	ACStarted bool      `json:"ac_started"`
	ACAfterMS *int64    `json:"ac_after_ms,omitempty"`
	Outcome   string    `json:"outcome"`
	Observed  bool      `json:"observed"`
	Why       string    `json:"why,omitempty"`
	Seen      []string  `json:"seen,omitempty"`
	WatchedMS int64     `json:"watched_ms"`
	At        time.Time `json:"at,omitzero"`
}

// MarshalJSON writes the handover with its durations in milliseconds.
func (h Handover) MarshalJSON() ([]byte, error) {
	j := handoverJSON{Strategy: h.Strategy, ACStarted: h.ACStarted, Outcome: h.Outcome(), Observed: h.Observed, Why: h.Why,
		Seen: h.Seen, WatchedMS: h.Watched.Milliseconds(), At: h.At}
	if h.ACStarted {
		ms := h.ACAfter.Milliseconds()
		j.ACAfterMS = &ms
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (h *Handover) UnmarshalJSON(b []byte) error {
	var j handoverJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*h = Handover{Strategy: j.Strategy, ACStarted: j.ACStarted, Observed: j.Observed, Why: j.Why, Seen: j.Seen,
		Watched: time.Duration(j.WatchedMS) * time.Millisecond, At: j.At}
	if j.ACAfterMS != nil {
		h.ACAfter = time.Duration(*j.ACAfterMS) * time.Millisecond
	}
	return nil
}

func (h *Handover) clone() *Handover {
	c := *h
	c.Seen = append([]string(nil), h.Seen...)
	if len(c.Seen) > MaxSeen {
		c.Seen = c.Seen[:MaxSeen]
	}
	return &c
}
