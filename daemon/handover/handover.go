// Package handover remembers, per car, how each handover strategy ended
// (did the charger go on to charge on AC?) and chooses the strategy of the
// car's next plug-in from it: a strategy pinned in the configuration, else
// the one that led to charging, else the next not yet tried in the car's
// order (For: VW group cars try x1-then-pwm next, the others
// no-negotiation); a strategy that failed twice in a row is demoted.
// no-negotiation and identify-only act before the car's V2G session
// (BeforeV2G), so they are chosen when the car matches, by its MAC: a car
// known only by its fingerprint (a random MAC) is known too late for them.
package handover

import (
	"slices"
	"time"

	"github.com/ccslink/ccslink/record"
)

// Order is every strategy a car tries by itself, in the order of a car of
// the VW group (For gives each car its own): the one of today first, then
// the cheapest change (100 % for 2 s needs nothing of the DC session),
// then no V2G session at all (the fallback reported to work), then a
// clean end of the DC attempt (no report yet of a car it helps).
var Order = []string{record.StrategyDeliverNow, record.StrategyX1ThenPWM, record.StrategyNoNegotiation, record.StrategyEndThenDeliver}

// Known reports whether s names a strategy: one of Order, or
// identify-only, which only a pin chooses.
func Known(s string) bool { return slices.Contains(Order, s) || s == record.StrategyIdentifyOnly }

// BeforeV2G reports whether strategy s acts before the car's V2G session
// (at its CM_SLAC_MATCH.REQ or its handshake): it must be chosen when the
// car matches, by its MAC, and cannot be taken up once the session runs.
func BeforeV2G(s string) bool {
	return s == record.StrategyNoNegotiation || s == record.StrategyIdentifyOnly
}

// For returns the strategies of available in the order the car tries them.
// Every car starts with deliver-now: the SoC, and AC after the CP-off, for
// most cars. Then it depends on the maker (vwGroup: its MAC's block is
// VW group's, e.g. 00:7d:fa): VW MEB cars want a steady pilot before the
// PWM, so x1-then-pwm comes next, then no-negotiation (also what an MEB
// car needs when the charger may not write its pilot), then
// end-then-deliver. Any other car whose first handover failed is one that
// refuses basic AC after any ISO 15118 session (cars.md; WARP's fallback
// is Failed_NoNegotiation): no-negotiation comes next, then
// x1-then-pwm, then end-then-deliver. So on its second plug-in every car
// that can charge at all charges. identify-only is never in the list: it
// gives up the SoC, so only a pin chooses it.
func For(vwGroup bool, available []string) []string {
	order := []string{record.StrategyDeliverNow, record.StrategyNoNegotiation, record.StrategyX1ThenPWM, record.StrategyEndThenDeliver}
	if vwGroup {
		order = Order
	}
	out := make([]string, 0, len(available))
	for _, s := range order {
		if slices.Contains(available, s) {
			out = append(out, s)
		}
	}
	return out
}

// SoCOnly returns the strategies of available that act after the car's
// V2G session began (not BeforeV2G), in their order.
func SoCOnly(available []string) []string {
	out := make([]string, 0, len(available))
	for _, s := range available {
		if !BeforeV2G(s) {
			out = append(out, s)
		}
	}
	return out
}

// Bounds of the memory: the cars remembered (the least recently plugged in
// go first) and the outcomes kept per strategy of a car.
const (
	MaxCars     = 100
	MaxOutcomes = 8
	maxIDLen    = 64
)

// Tried is one strategy's outcomes with one car.
type Tried struct {
	Strategy string `json:"strategy"`
	// Outcomes are record.Outcome* values, the newest last, at most MaxOutcomes.
	Outcomes []string  `json:"outcomes"`
	Last     time.Time `json:"last"`
}

// Car is what is remembered of one car.
type Car struct {
	ID    string  `json:"id"`
	Tried []Tried `json:"tried"` // in the order first tried
	// WithoutSoC counts the car's plug-ins in a row under a strategy that
	// gives no SoC (BeforeV2G); any other strategy resets it.
	WithoutSoC int `json:"without_soc,omitempty"`
}

// RetryAfter is how many plug-ins in a row without a SoC a car that
// charges only under such a strategy has before it tries, once, a strategy
// that gives the SoC and has not failed twice: what charged is not given
// up for good, and a strategy that fails twice is not tried again.
const RetryAfter = 10

// failedTwice reports whether the strategy's last two outcomes are no AC:
// an outcome not observed says nothing either way and is skipped.
func (t Tried) failedTwice() bool {
	n := 0
	for i := len(t.Outcomes) - 1; i >= 0 && n < 2; i-- {
		switch t.Outcomes[i] {
		case record.OutcomeNoAC:
			n++
		case record.OutcomeACStarted:
			return false
		}
	}
	return n == 2
}

// failed reports whether the strategy's latest observed outcome is no AC.
func (t Tried) failed() bool {
	for i := len(t.Outcomes) - 1; i >= 0; i-- {
		if t.Outcomes[i] != record.OutcomeNotObserved {
			return t.Outcomes[i] == record.OutcomeNoAC
		}
	}
	return false
}

// charged reports whether the strategy ever led to charging, and when last.
func (t Tried) charged() bool { return slices.Contains(t.Outcomes, record.OutcomeACStarted) }

// Why a strategy was chosen.
const (
	ByPin       = "pinned"     // the configuration pins it for the car
	ByCharged   = "charged"    // it led to charging before
	ByNext      = "next"       // the next not yet tried, or not failed twice
	ByNew       = "new"        // a car not seen before
	ByStartOver = "start-over" // every strategy failed twice: from the first again
	ByRetry     = "retry"      // RetryAfter plug-ins without a SoC: one that gives it, again
)

// Choose picks the strategy of a car's next plug-in from what was tried
// with it (c nil: a new car), among available (in the car's order, For;
// a strategy the configuration does not allow is left out). A pin wins.
func Choose(pin string, c *Car, available []string) (strategy, why string) {
	if pin != "" {
		return pin, ByPin
	}
	if len(available) == 0 {
		return record.StrategyDeliverNow, ByNew
	}
	if c == nil || len(c.Tried) == 0 {
		return available[0], ByNew
	}
	tried := func(s string) (Tried, bool) {
		i := slices.IndexFunc(c.Tried, func(t Tried) bool { return t.Strategy == s })
		if i < 0 {
			return Tried{}, false
		}
		return c.Tried[i], true
	}
	// The one that led to charging most recently and has not failed twice since.
	best, bestAt := "", time.Time{}
	for _, s := range available {
		if t, ok := tried(s); ok && t.charged() && !t.failedTwice() && (best == "" || t.Last.After(bestAt)) {
			best, bestAt = s, t.Last
		}
	}
	if best != "" && BeforeV2G(best) && c.WithoutSoC >= RetryAfter {
		for _, s := range available {
			if t, _ := tried(s); !BeforeV2G(s) && !t.failedTwice() {
				return s, ByRetry
			}
		}
	}
	if best != "" {
		return best, ByCharged
	}
	// The first not tried, or tried and neither failed last nor twice.
	for _, s := range available {
		if t, ok := tried(s); !ok || !t.failed() {
			return s, ByNext
		}
	}
	// Every strategy failed last: the first that failed only once.
	for _, s := range available {
		if t, _ := tried(s); !t.failedTwice() {
			return s, ByNext
		}
	}
	return available[0], ByStartOver
}

// Note adds the outcome of strategy to the car c (nil: a new car with id)
// and returns the car as it is now; c is left alone.
func Note(c *Car, id, strategy, outcome string, at time.Time) Car {
	var n Car
	if c != nil {
		n = clone(*c)
	} else {
		n.ID = id
	}
	if BeforeV2G(strategy) {
		n.WithoutSoC = min(n.WithoutSoC+1, 1<<20)
	} else {
		n.WithoutSoC = 0
	}
	i := slices.IndexFunc(n.Tried, func(t Tried) bool { return t.Strategy == strategy })
	if i < 0 {
		n.Tried = append(n.Tried, Tried{Strategy: strategy})
		i = len(n.Tried) - 1
	}
	t := &n.Tried[i]
	t.Outcomes = append(t.Outcomes, outcome)
	if len(t.Outcomes) > MaxOutcomes {
		t.Outcomes = t.Outcomes[len(t.Outcomes)-MaxOutcomes:]
	}
	t.Last = at
	return n
}

// Key is the memory's key of a plug-in: the recognised car's ID, else the
// car's EVCCID (hex); "" when there is neither.
func Key(s *record.Session) string {
	if s.Vehicle != nil && s.Vehicle.ID != "" {
		return s.Vehicle.ID
	}
	return s.EVCCIDHex()
}

func knownOutcome(o string) bool {
	return o == record.OutcomeACStarted || o == record.OutcomeNoAC || o == record.OutcomeNotObserved
}
