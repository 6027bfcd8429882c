package evsetwin

import (
	"context"
	"sync"
	"time"

	"github.com/ccslink/ccslink/clock"
	"github.com/ccslink/ccslink/proto/cp"
)

// The firmware's timers, in ticks of 1 s.
const (
	// ModemRequestTicks: ToModemWaitStateTimer, 0 in the 2026 firmware
	// (CP off until the next tick; older firmware held a steady CP for 5).
	ModemRequestTicks = 0
	// ModemWaitTicks: ToModemDoneStateTimer, the wait for a SoC at 5 %.
	ModemWaitTicks = 60
	// ModemDoneTicks: LeaveModemDoneStateTimer, the CP off of the
	// "virtual re-plug".
	ModemDoneTicks = 5
	// ModemDeniedTicks: LeaveModemDeniedStateTimer.
	ModemDeniedTicks = 60
	// DisconnectTicks: after this long without a car, the firmware's
	// DisconnectEvent forgets the car's values and EVCCID.
	DisconnectTicks = 60
)

// Tick is the firmware's timer tick.
const Tick = time.Second

// Config configures a Twin; the zero value is a SmartEVSE with modem
// support on the real clock offering 16 A.
type Config struct {
	// Clock ticks the firmware's timers; nil means clock.Real.
	Clock clock.Clock
	// Line is the control pilot the twin drives; nil means a new cp.Wire
	// on Clock.
	Line cp.Line
	// RequiredEVCCID, if not empty, is Autocharge's allowed EVCCID
	// (settings.required_evccid; compared case-sensitively).
	RequiredEVCCID string
	// NoModem is a SmartEVSE without the modem stage: plug-in goes to B.
	NoModem bool
	// ChargeCurrent is the current offered at nominal PWM, in deciamps;
	// zero means 160 (16 A).
	ChargeCurrent int
	// ModemWaitTicks replaces the firmware's 60 s wait for a SoC when not
	// zero (a simulation that shortens it says so).
	ModemWaitTicks int
	// Version is settings' "version"; "" means "ccslink-twin".
	Version string
	// EVMeter gives the twin an EV meter (three phases, 230 V): GET
	// /settings then has ev_meter, whose charged_kwh counts the energy the
	// car draws in C, from 0 at each plug-in, and import_active_power.
	EVMeter bool
	// TimeFactor, if above 1, makes the meter count that many seconds of
	// charging in each of its seconds, so that a simulation shows a charge
	// in moments (the SoC estimate rising); the state machine's timers keep
	// their real length.
	TimeFactor float64
	// OnState, if set, is told of every state change, in order, from the
	// twin's goroutine; it must not block.
	OnState func(Transition)
}

// Transition is one state change of the twin.
type Transition struct {
	At       time.Time
	From, To State
	Pilot    cp.Pilot // what the twin drives in To
	// Why is the cause in a few words: "car plugged in", "SoC received",
	// "60 s without a SoC", "EVCCID denied", ...
	Why string
}

// EVState is the car's values as the firmware holds them (ev_state in GET
// /settings); -1 is unknown.
type EVState struct {
	InitialSoC, RemainingSoC, FullSoC, ComputedSoC int
	EnergyCapacity, EnergyRequest                  int // Wh
	EVCCID                                         string
	TimeUntilFull                                  int // s
}

// Twin is an emulated SmartEVSE. Its state machine runs on one goroutine
// (Run); HTTP requests and the car's moves reach it in the order they came.
type Twin struct {
	cfg  Config
	clk  clock.Clock
	line cp.Line

	mu      sync.Mutex
	inbox   []func()
	wake    chan struct{}
	running bool

	// Owned by the Run goroutine (and read under mu for snapshots).
	state        State
	modemStage   int // 1: the modem stage is skipped until the car is gone
	timer        int // the timer of the current modem state
	disconnected int // ticks in A; -1 when counting is off
	pwm          int
	ev           EVState
	posts        []Post
	required     string // settings.required_evccid
	// override is POST /settings' override_pwm while it holds (the
	// firmware's CPDutyOverride); released, 10 % PWM until the next tick
	// brings the state's pilot back.
	overridden bool
	override   int
	released   bool
	// The EV meter: the energy of this charge and of all time, in Wh.
	chargedWh, totalWh float64
}

// Post is one POST /ev_state as the twin took it.
type Post struct {
	At    time.Time
	Query string // the raw query
	Reply string // the body answered
	// Valid: current_soc was 0..100, and moved the modem stage to MODEM_DONE
	// if it was running.
	Valid bool
}

// New returns a twin with no car; call Run to start its firmware.
func New(cfg Config) *Twin {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.ChargeCurrent == 0 {
		cfg.ChargeCurrent = 160
	}
	if cfg.Version == "" {
		cfg.Version = "ccslink-twin"
	}
	if len(cfg.RequiredEVCCID) > 31 {
		cfg.RequiredEVCCID = cfg.RequiredEVCCID[:31] // a 32-byte C string
	}
	t := &Twin{cfg: cfg, clk: cfg.Clock, line: cfg.Line, wake: make(chan struct{}, 1), disconnected: -1, pwm: pwmSteady,
		ev: EVState{-1, -1, -1, -1, -1, -1, "", -1}, required: cfg.RequiredEVCCID}
	if t.line == nil {
		t.line = cp.NewWire(cfg.Clock.Now)
	}
	return t
}

// Line returns the control pilot the twin drives.
func (t *Twin) Line() cp.Line { return t.line }

// Run runs the firmware until ctx ends: the 1 s tick, the car's moves on
// the pilot, the HTTP requests.
func (t *Twin) Run(ctx context.Context) error {
	cancel := t.line.Watch(func(c cp.Change) {
		if c.ByCar {
			car := c.Car
			t.post(func() { t.carMoved(car) })
		}
	})
	defer cancel()
	t.mu.Lock()
	t.running = true
	t.mu.Unlock()
	t.post(func() {
		t.drive()
		if t.line.Car() != cp.CarA {
			t.carMoved(t.line.Car())
		}
	})
	tick := t.clk.NewTimer(Tick)
	defer func() { tick.Stop() }()
	for {
		t.drain()
		select {
		case <-ctx.Done():
			t.mu.Lock()
			t.running = false
			t.mu.Unlock()
			t.drain()
			return ctx.Err()
		case <-t.wake:
		case <-tick.C():
			t.drain()
			t.tick()
			tick = t.clk.NewTimer(Tick)
		}
	}
}

// post queues f for the Run goroutine; it never blocks, so a watcher of
// the line may call it from inside the twin's own pilot change.
func (t *Twin) post(f func()) {
	t.mu.Lock()
	t.inbox = append(t.inbox, f)
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// do runs f on the Run goroutine and waits for it; ok is false when the
// twin is not running.
func (t *Twin) do(ctx context.Context, f func()) bool {
	t.mu.Lock()
	running := t.running
	t.mu.Unlock()
	if !running {
		return false
	}
	done := make(chan struct{})
	t.post(func() { f(); close(done) })
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}

func (t *Twin) drain() {
	for {
		t.mu.Lock()
		if len(t.inbox) == 0 {
			t.mu.Unlock()
			return
		}
		f := t.inbox[0]
		t.inbox = t.inbox[1:]
		t.mu.Unlock()
		f()
	}
}

// setState is the firmware's setState: the state's pilot and timer.
func (t *Twin) setState(s State, why string) {
	from := t.state
	t.mu.Lock()
	t.state = s
	switch s {
	case StateA:
		t.modemStage = 0
		t.pwm = pwmSteady
		if t.disconnected == -1 {
			t.disconnected = 0
		}
	case StateModemRequest:
		t.timer = ModemRequestTicks
		t.disconnected = -1
		t.pwm = pwmSteady
	case StateModemWait:
		t.timer = ModemWaitTicks
		if t.cfg.ModemWaitTicks > 0 {
			t.timer = t.cfg.ModemWaitTicks
		}
		t.pwm = pwmDigital
	case StateModemDone:
		t.timer = ModemDoneTicks
		t.disconnected = -1
	case StateModemDenied:
		t.timer = ModemDeniedTicks
		t.pwm = pwmSteady
	case StateB, StateC:
		t.disconnected = -1
		t.pwm = nominalPWM(t.cfg.ChargeCurrent)
	}
	t.mu.Unlock()
	p := t.pilotOf(s)
	if t.cfg.OnState != nil && from != s {
		t.cfg.OnState(Transition{At: t.clk.Now(), From: from, To: s, Pilot: p, Why: why})
	}
	t.drive()
}

// drive puts on CP what the firmware drives now: the override while it
// holds, else the state's pilot.
func (t *Twin) drive() {
	t.mu.Lock()
	over, duty, released := t.overridden, t.override, t.released
	t.mu.Unlock()
	switch {
	case over && duty == 0:
		t.line.SetPilot(cp.PilotOff)
	case over:
		t.line.SetPilot(cp.Pilot{Duty: min(duty, 1024) * 1000 / 1024})
	case released:
		t.line.SetPilot(cp.Pilot{Duty: 100 * 1000 / 1024})
	default:
		t.line.SetPilot(t.pilotOf(t.state))
	}
}

// carMoved is the firmware's reading of the pilot voltage (its 10 ms
// loop): a car at 9 V in A starts the modem stage (or B), a car drawing
// current at nominal PWM is C. While the modem stage runs the firmware
// does not look.
func (t *Twin) carMoved(car cp.Car) {
	switch {
	case car == cp.CarA && t.state != StateA:
		t.setState(StateA, "car unplugged")
	case t.state == StateA && car != cp.CarA:
		t.mu.Lock()
		t.chargedWh = 0 // a new charge
		t.mu.Unlock()
		if !t.cfg.NoModem && t.modemStage == 0 {
			t.setState(StateModemRequest, "car plugged in")
		} else {
			t.setState(StateB, "car plugged in")
		}
		if car == cp.CarC && t.state == StateB {
			t.setState(StateC, "the car draws current")
		}
	case t.state == StateB && car == cp.CarC:
		t.setState(StateC, "the car draws current")
	case t.state == StateC && car == cp.CarB:
		t.setState(StateB, "the car stopped drawing current")
	}
}

// tick is the firmware's Timer1S for the modem stage and the disconnect
// counter: a timer above zero counts down, at zero the state moves on.
// States are checked in the firmware's order within one tick.
func (t *Twin) tick() {
	t.mu.Lock()
	released := t.released
	t.released = false
	t.mu.Unlock()
	if released {
		t.drive() // the 10 % of the release lasted until this loop
	}
	if !t.cfg.NoModem {
		if t.state == StateModemRequest {
			if t.timer > 0 {
				t.timer--
			} else {
				t.setState(StateModemWait, "CP back on at 5 %")
			}
		}
		if t.state == StateModemWait {
			if t.timer > 0 {
				t.timer--
			} else {
				t.setState(StateModemDone, "no SoC within the wait")
			}
		}
		if t.state == StateModemDone {
			if t.timer > 0 {
				t.timer--
			} else if t.required == "" || t.required == t.ev.EVCCID {
				t.mu.Lock()
				t.modemStage = 1
				t.mu.Unlock()
				t.setState(StateB, "CP back on at nominal PWM")
			} else {
				t.mu.Lock()
				t.modemStage = 0
				t.mu.Unlock()
				t.setState(StateModemDenied, "the EVCCID is not the required one")
			}
		}
		if t.state == StateModemDenied {
			if t.timer > 0 {
				t.timer--
			} else {
				t.setState(StateA, "the denial is over")
				if t.line.Car() != cp.CarA {
					t.carMoved(t.line.Car()) // the car is still there: the modem stage again
				}
			}
		}
	}
	if t.state == StateC && t.cfg.EVMeter {
		wh := t.power() * max(1, t.cfg.TimeFactor) * Tick.Hours()
		t.mu.Lock()
		t.chargedWh += wh
		t.totalWh += wh
		t.mu.Unlock()
	}
	if t.state == StateA && t.disconnected >= 0 {
		t.disconnected++
		if t.disconnected > DisconnectTicks {
			t.mu.Lock()
			t.disconnected = -1
			t.ev = EVState{-1, -1, -1, -1, -1, -1, "", -1}
			t.mu.Unlock()
		}
	}
}

// Volts is the twin's mains voltage per phase, and Phases the phases it charges on.
const (
	Volts  = 230
	Phases = 3
)

// power is what the car draws in W: the current offered on three phases
// in C, else nothing.
func (t *Twin) power() float64 {
	if t.state != StateC {
		return 0
	}
	return float64(Volts*Phases*t.cfg.ChargeCurrent) / 10
}

// Snapshot is the twin's state at one moment.
type Snapshot struct {
	State State
	PWM   int // evse.pwm (1024 = 100 %)
	EV    EVState
	Car   cp.Car
	// ChargedWh is the EV meter's energy of this charge.
	ChargedWh float64
}

// Snapshot returns the state now.
func (t *Twin) Snapshot() Snapshot {
	t.mu.Lock()
	defer t.mu.Unlock()
	return Snapshot{State: t.state, PWM: t.pwm, EV: t.ev, Car: t.line.Car(), ChargedWh: t.chargedWh}
}

// Posts returns the POST /ev_state requests taken so far.
func (t *Twin) Posts() []Post {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Post(nil), t.posts...)
}
