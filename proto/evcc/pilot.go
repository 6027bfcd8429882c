package evcc

import (
	"sync"
	"time"

	"github.com/ccslink/ccslink/proto/cp"
)

// AfterSoC is how a car behaves on the control pilot once its DC attempt
// is over: whether it draws current when the charger offers a nominal PWM.
// Each is modelled from a public report (cars.md, "After the SoC").
type AfterSoC int

// The behaviours after the SoC.
const (
	// ChargesAfterCPOff: basic AC charging at nominal PWM after the
	// charger's CP-off ("Most cars").
	ChargesAfterCPOff AfterSoC = iota
	// NeedsX1: after a V2G session a PWM is ignored unless the pilot was
	// steady at 100 % (X1) for X1Hold just before it (VW MEB, from
	// Tinkerforge WARP's firmware, 2026-08).
	NeedsX1
	// NeedsToggle: after a V2G session no AC until the pilot was switched
	// off and on again, a re-plug real or virtual (Hyundai Ioniq 28 kWh:
	// the reason for SmartEVSE's virtual re-plug, SmartEVSE-3 #25, 2023-06).
	NeedsToggle
	// RefusesUntilUnplug: no basic AC after any V2G session until the car
	// is unplugged (cars left unnamed by WARP, 2026-07).
	RefusesUntilUnplug
	// StopsAtDigital: a 5 % PWM stops the car: it never starts SLAC and
	// does not charge until unplugged (Hyundai Ioniq plug-in hybrid, from
	// EVerest's logfiles).
	StopsAtDigital
	// NeverSLAC: the car never starts SLAC, and charges on AC at nominal
	// PWM (Renault Zoe R/Q with its AC-only charger).
	NeverSLAC
)

// X1Hold is how long a NeedsX1 car wants the steady pilot before a PWM.
const X1Hold = 2 * time.Second

// Talks reports whether a car with this behaviour starts SLAC on 5 % PWM.
func (a AfterSoC) Talks() bool { return a != StopsAtDigital && a != NeverSLAC }

// String names the behaviour for --json and logs.
func (a AfterSoC) String() string {
	switch a {
	case ChargesAfterCPOff:
		return "charges-after-cp-off"
	case NeedsX1:
		return "needs-x1-before-pwm"
	case NeedsToggle:
		return "needs-cp-toggle"
	case RefusesUntilUnplug:
		return "refuses-ac-until-unplug"
	case StopsAtDigital:
		return "stops-at-5-percent"
	case NeverSLAC:
		return "never-slac"
	}
	return "unknown"
}

// PilotCar is a car's side of the control pilot: plugged in (B), it
// watches what the charger drives and draws current (C) or not, as its
// profile's AfterSoC says.
type PilotCar struct {
	p      Profile
	line   cp.Line
	cancel func()

	mu       sync.Mutex
	session  bool // a V2G session was held since the plug-in
	toggled  bool // the pilot went off after the session
	stopped  bool // stopped by 5 % PWM until unplugged
	last     cp.Pilot
	since    time.Time
	digital  chan struct{}
	digiOnce sync.Once
	why      string
}

// PlugIn plugs the car into line: it presents B and follows the pilot
// until Unplug.
func PlugIn(p Profile, line cp.Line) *PilotCar {
	c := &PilotCar{p: p, line: line, digital: make(chan struct{}), last: line.Pilot()}
	c.cancel = line.Watch(c.watch)
	line.SetCar(cp.CarB)
	return c
}

// Unplug presents A and stops following the pilot.
func (c *PilotCar) Unplug() {
	c.cancel()
	c.line.SetCar(cp.CarA)
}

// Digital is closed when the car sees 5 % PWM and, as its profile has it,
// starts SLAC; it is never closed for a car that does not talk.
func (c *PilotCar) Digital() <-chan struct{} { return c.digital }

// SessionHeld tells the car it has held a V2G session with the charger
// (Config.Negotiated), which decides how it answers a later PWM. A car
// whose protocols were declined, or that never got its
// CM_SLAC_MATCH.CNF, has held none: it draws current at a nominal PWM
// whatever its AfterSoC, as a car without digital communication does.
func (c *PilotCar) SessionHeld() {
	c.mu.Lock()
	c.session, c.toggled = true, false
	c.mu.Unlock()
}

// Why says in plain words why the car last did or did not draw current;
// "" before a nominal PWM was offered.
func (c *PilotCar) Why() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.why
}

func (c *PilotCar) watch(ch cp.Change) {
	if ch.ByCar {
		return
	}
	c.mu.Lock()
	prev, prevSince := c.last, c.since
	c.last, c.since = ch.Pilot, ch.At
	var draw, stop bool
	switch p := ch.Pilot; {
	case p.Off:
		if c.session {
			c.toggled = true
		}
		stop = true
	case p.Digital():
		stop = true
		switch c.p.AfterSoC {
		case StopsAtDigital:
			c.stopped = true
			c.why = "5 % PWM stopped it; it does not charge until unplugged"
		case NeverSLAC:
		default:
			c.digiOnce.Do(func() { close(c.digital) })
		}
	case p.Amps() > 0:
		draw = c.decide(ch.At, prev, prevSince)
		stop = !draw
	default:
		stop = true
	}
	c.mu.Unlock()
	switch {
	case draw:
		c.line.SetCar(cp.CarC)
	case stop && ch.Car == cp.CarC:
		c.line.SetCar(cp.CarB)
	}
}

// decide is the car's answer to a nominal PWM; under mu.
func (c *PilotCar) decide(at time.Time, prev cp.Pilot, prevSince time.Time) bool {
	switch c.p.AfterSoC {
	case StopsAtDigital:
		if c.stopped {
			c.why = "5 % PWM stopped it earlier; it does not charge until unplugged"
			return false
		}
	case NeedsToggle:
		if c.session && !c.toggled {
			c.why = "after a DC session it wants the CP switched off and on first"
			return false
		}
	case RefusesUntilUnplug:
		if c.session {
			c.why = "it refuses basic AC after a V2G session until it is unplugged"
			return false
		}
	case NeedsX1:
		if c.session && !(prev.Steady() && at.Sub(prevSince) >= X1Hold) {
			c.why = "after a V2G session it ignores a PWM not preceded by a steady CP (100 %) for 2 s"
			return false
		}
	}
	c.why = "it draws current at the nominal PWM"
	return true
}
