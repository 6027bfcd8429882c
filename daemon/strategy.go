package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/ccslink/ccslink/clock"
	"github.com/ccslink/ccslink/daemon/charger"
	"github.com/ccslink/ccslink/daemon/handover"
	"github.com/ccslink/ccslink/daemon/vehicle"
	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/secc"
	"github.com/ccslink/ccslink/record"
)

// Timings of the handover strategies.
const (
	// EndThenDeliverBound is the longest end-then-deliver holds the car's
	// values back from its harvest, waiting for the car to end its session:
	// the SmartEVSE waits 60 s from its 5 % PWM, and SLAC, SDP and the
	// session's start take 10-20 s of them.
	EndThenDeliverBound = 20 * time.Second
	// X1Delay is how long after a delivery x1-then-pwm puts CP at 100 %:
	// past the SmartEVSE's MODEM_DONE (at its next 1 s tick) and its 5 s
	// CP-off, so that the steady pilot comes just before its nominal PWM.
	X1Delay = 7 * time.Second
	// X1Hold is how long the pilot stays at 100 % before it is released
	// to the SmartEVSE's own PWM (VW MEB cars want 2 s).
	X1Hold = 2 * time.Second
	// keepPlugs is how many plug-ins' strategies are kept for their
	// handover, which comes up to a minute after the plug-in's values.
	keepPlugs = 8
)

// Override values of POST /settings' override_pwm: a duty of 1024 is a
// steady pilot (100 %), -1 gives the pilot back to the SmartEVSE.
const (
	pwmSteady  = 1024
	pwmRelease = -1
)

// strategies chooses each plug-in's handover strategy and learns from
// its outcome, through the per-car memory; safe for concurrent use (the
// charger chooses, the SmartEVSE's watcher notes).
type strategies struct {
	mu        sync.Mutex
	mem       *handover.Memory
	available []string
	pin       func(id string) string // the configuration's pin of a recognised car
	log       *slog.Logger
}

// choose picks the strategy of the plug-in s at its harvest; key is the
// memory's key of the car ("" when it has no ID at all). The strategies
// that act before V2G are too late by then: a car whose turn they are
// (known only by its fingerprint, its MAC random) gets the next of the
// others, and the log says how to have them.
func (st *strategies) choose(s *record.Session) (key, strategy, why string) {
	key = handover.Key(s)
	pin := ""
	if s.Vehicle != nil && st.pin != nil {
		pin = st.pin(s.Vehicle.ID)
	}
	mac, _ := vehicle.ParseMAC(s.EVMAC)
	available := handover.For(vehicle.VWGroup(mac), st.available)
	st.mu.Lock()
	defer st.mu.Unlock()
	pick := func(pin string, available []string) (string, string) {
		if key == "" {
			return handover.Choose(pin, nil, available)
		}
		return st.mem.Choose(key, pin, available)
	}
	strategy, why = pick(pin, available)
	if handover.BeforeV2G(strategy) {
		late := strategy
		if handover.BeforeV2G(pin) {
			pin = ""
		}
		strategy, why = pick(pin, handover.SoCOnly(available))
		st.log.Info("the car's turn is "+late+", which acts before its V2G session, but the car is known only once its session runs (by its fingerprint; its MAC is random): pin it with a MAC pattern in the cars list", "car", key, "instead", strategy)
	}
	return key, strategy, why
}

// chooseBefore picks, at the car's CM_SLAC_MATCH.REQ, the strategy of the
// car with SLAC MAC mac when it is one that acts before V2G
// (handover.BeforeV2G); "" leaves the choice to the harvest. known is
// false for a random MAC that no pattern of the cars list matches.
func (st *strategies) chooseBefore(mac vehicle.MAC, cars *vehicle.Recogniser) (key, strategy, why string, known bool) {
	b, ok := cars.OfMAC(mac)
	if !ok {
		return "", "", "", false
	}
	pin := ""
	if b.Known != nil {
		pin = b.Known.Strategy
	}
	available := handover.For(b.VWGroup, st.available)
	st.mu.Lock()
	strategy, why = st.mem.Choose(b.ID, pin, available)
	st.mu.Unlock()
	if !handover.BeforeV2G(strategy) {
		return b.ID, "", "", true
	}
	return b.ID, strategy, why, true
}

// preV2G is the strategy decided for the car that matches now, at its
// CM_SLAC_MATCH.REQ (slac.Config.IdentifyOnly), which the charger's
// handshake (secc.Config.Decline) and its record (charger.Config.BeforeV2G)
// follow. The hooks run on SLAC's, the connection's and the charger's
// goroutines.
type preV2G struct {
	st   *strategies
	cars *vehicle.Recogniser
	hand *handing
	log  *slog.Logger

	mu                 sync.Mutex
	mac                homeplug.MAC
	key, strategy, why string
}

// identifyOnly decides the strategy of the car ev and reports whether it
// is identify-only (slac.Config.IdentifyOnly).
func (p *preV2G) identifyOnly(ev homeplug.MAC) bool {
	key, strategy, why, known := p.st.chooseBefore(vehicle.MAC(ev), p.cars)
	if !known {
		p.log.Debug("the car's MAC is random: it is known only by its fingerprint once its session runs, too late for no-negotiation or identify-only; pin it with a MAC pattern in the cars list to have them", "ev", ev)
	}
	p.mu.Lock()
	p.mac, p.key, p.strategy, p.why = ev, key, strategy, why
	p.mu.Unlock()
	return strategy == record.StrategyIdentifyOnly
}

// decline reports whether the car matched last is to be answered
// Failed_NoNegotiation (secc.Config.Decline).
func (p *preV2G) decline(secc.ConnInfo) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.strategy == record.StrategyNoNegotiation
}

// beforeV2G names the strategy decided for the plug-in s, whose car just
// matched, and keeps it for its handover (charger.Config.BeforeV2G).
func (p *preV2G) beforeV2G(s *record.Session) string {
	p.mu.Lock()
	mac, key, strategy, why := p.mac, p.key, p.strategy, p.why
	p.mu.Unlock()
	if strategy == "" || s.EVMAC != mac.String() {
		return ""
	}
	p.log.Info("handover strategy chosen before V2G", "strategy", strategy, "why", why, "car", key)
	p.hand.fix(s.PlugIn, key, strategy)
	return strategy
}

// note remembers the outcome of the car key's handover and saves the memory.
func (st *strategies) note(key string, h *record.Handover) {
	outcome := h.Outcome()
	if slices.Contains(h.Seen, "MODEM_DENIED") {
		// The SmartEVSE denied the car (not its required EVCCID): that
		// says nothing of the strategy.
		outcome = record.OutcomeNotObserved
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.mem.Note(key, h.Strategy, outcome, h.At) {
		return
	}
	if err := st.mem.Save(); err != nil {
		st.log.Warn("the handover's outcome is not remembered for the car's next plug-in", "car", key, "err", err)
	}
}

// handing is the SmartEVSE's subscriber with the plug-in's handover
// strategy around it: it chooses the strategy at the harvest, holds the
// values back for end-then-deliver until the car ended its session (or
// EndThenDeliverBound passed), and names the strategy in the handover.
type handing struct {
	inner charger.Subscriber
	st    *strategies
	clk   clock.Clock
	log   *slog.Logger

	mu    sync.Mutex
	plugs []*plug // the latest plug-ins, the newest last
}

// plug is one plug-in's strategy.
type plug struct {
	id       uint64
	key      string
	strategy string
	held     *record.Session // end-then-deliver: the record whose values wait
	stop     chan struct{}   // closed when the held values went out
	before   bool            // chosen before V2G (preV2G)
}

func newHanding(inner charger.Subscriber, st *strategies, clk clock.Clock, log *slog.Logger) *handing {
	return &handing{inner: inner, st: st, clk: clk, log: log}
}

// fix keeps the strategy chosen before V2G for the plug-in id: its
// harvest, if any, chooses nothing.
func (h *handing) fix(id uint64, key, strategy string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.findLocked(id) != nil {
		return
	}
	h.addLocked(&plug{id: id, key: key, strategy: strategy, before: true})
}

// addLocked keeps p, the newest plug-in; h.mu is held.
func (h *handing) addLocked(p *plug) {
	h.plugs = append(h.plugs, p)
	if len(h.plugs) > keepPlugs {
		h.releaseLocked(h.plugs[0])
		h.plugs = h.plugs[1:]
	}
}

// find returns the plug-in id's strategy; h.mu is held.
func (h *handing) findLocked(id uint64) *plug {
	for _, p := range h.plugs {
		if p.id == id {
			return p
		}
	}
	return nil
}

// Strategy returns the strategy chosen for the plug-in id and the car's
// key in the memory; "" when none was chosen (no harvest, or long ago).
func (h *handing) Strategy(id uint64) (strategy, key string) {
	if h == nil {
		return "", ""
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if p := h.findLocked(id); p != nil {
		return p.strategy, p.key
	}
	return "", ""
}

// latest returns the strategy of the newest plug-in chosen; "" for none.
func (h *handing) latest() string {
	if h == nil {
		return ""
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.plugs) == 0 {
		return ""
	}
	return h.plugs[len(h.plugs)-1].strategy
}

// Event chooses the strategy at the harvest and hands the event on, or
// holds the values of an end-then-deliver plug-in.
func (h *handing) Event(e record.Event, s *record.Session) {
	if e.Kind == record.KindValues && s.Harvest(e) && !h.fixed(s.PlugIn) {
		key, strategy, why := h.st.choose(s)
		lvl := slog.LevelInfo
		if why == handover.ByNew {
			lvl = slog.LevelDebug // today's handover, nothing learnt yet
		}
		h.log.Log(context.Background(), lvl, "handover strategy chosen", "strategy", strategy, "why", why, "car", key)
		p := &plug{id: s.PlugIn, key: key, strategy: strategy}
		h.mu.Lock()
		if old := h.findLocked(s.PlugIn); old != nil {
			h.releaseLocked(old)
		}
		h.addLocked(p)
		if strategy == record.StrategyEndThenDeliver {
			p.held, p.stop = s.Clone(), make(chan struct{})
			go h.bound(p, h.clk.NewTimer(EndThenDeliverBound))
		}
		h.mu.Unlock()
	}
	h.mu.Lock()
	p := h.findLocked(s.PlugIn)
	if p != nil && p.held != nil {
		switch e.Kind {
		case record.KindValues, record.KindSessionSetup:
			p.held = s.Clone()
			h.mu.Unlock()
			return
		case record.KindEnded:
			// The car ended its session: the values go out now.
			p.held = nil
			close(p.stop)
		}
	}
	h.mu.Unlock()
	h.inner.Event(e, s)
}

// fixed reports whether the plug-in id's strategy was chosen before V2G.
func (h *handing) fixed(id uint64) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.findLocked(id)
	return p != nil && p.before
}

// bound sends the held values of p when EndThenDeliverBound passed
// before the car ended its session.
func (h *handing) bound(p *plug, t clock.Timer) {
	select {
	case <-p.stop:
		t.Stop()
		return
	case <-t.C():
	}
	h.mu.Lock()
	s := p.held
	if s != nil {
		p.held = nil
		close(p.stop)
	}
	h.mu.Unlock()
	if s != nil {
		h.log.Info("end-then-deliver: the car did not end its session in time; its values go out now", "after", EndThenDeliverBound)
		h.inner.PlugInEnded(s)
	}
}

// releaseLocked sends what p still holds (a plug-in pushed out, or a new
// harvest of the same plug-in); h.mu is held.
func (h *handing) releaseLocked(p *plug) {
	if p.held != nil {
		s := p.held
		p.held = nil
		close(p.stop)
		go h.inner.PlugInEnded(s)
	}
}

// PlugInEnded sends what is still held back: the plug-in is over.
func (h *handing) PlugInEnded(s *record.Session) {
	h.mu.Lock()
	if p := h.findLocked(s.PlugIn); p != nil && p.held != nil {
		p.held = nil
		close(p.stop)
	}
	h.mu.Unlock()
	h.inner.PlugInEnded(s)
}

// handover names the plug-in's strategy in its handover and remembers
// the outcome for the car's next plug-in.
func (h *handing) handover(e record.Event) record.Event {
	if h == nil || e.Kind != record.KindHandover || e.Handover == nil {
		return e
	}
	strategy, key := h.Strategy(e.PlugIn)
	if strategy == "" {
		return e
	}
	ho := *e.Handover
	ho.Strategy = strategy
	e.Handover = &ho
	if key != "" {
		h.st.note(key, &ho)
	}
	return e
}

// x1ThenPWM puts the pilot at 100 % X1Delay after the delivery, for
// X1Hold, then gives it back to the SmartEVSE (override_pwm): a VW MEB
// car takes the PWM after a steady pilot. It stops early when ctx ends.
func x1ThenPWM(ctx context.Context, clk clock.Clock, post func(ctx context.Context, pwm int) error) error {
	wait := func(d time.Duration) error {
		t := clk.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C():
			return nil
		}
	}
	if err := wait(X1Delay); err != nil {
		return err
	}
	if err := post(ctx, pwmSteady); err != nil {
		return err
	}
	// Released even when the hold was cut short: never leave CP overridden.
	herr := wait(X1Hold)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := post(rctx, pwmRelease); err != nil {
		return err
	}
	return herr
}

// PWMError says that writing override_pwm to the SmartEVSE failed.
type PWMError struct {
	URL    string
	PWM    int
	Status int // the HTTP status; 0: no answer
	Err    error
}

func (e *PWMError) Error() string {
	what := "CP at 100 %"
	if e.PWM == pwmRelease {
		what = "the release of CP"
	}
	if e.Status != 0 {
		return fmt.Sprintf("the SmartEVSE at %s refused %s (override_pwm=%d): HTTP %d; is its firmware recent enough for override_pwm?", e.URL, what, e.PWM, e.Status)
	}
	return fmt.Sprintf("the SmartEVSE at %s did not take %s (override_pwm=%d): %v", e.URL, what, e.PWM, e.Err)
}

func (e *PWMError) Unwrap() error { return e.Err }

// postPWM returns the writer of override_pwm to settings (the
// SmartEVSE's /settings URL), each attempt bounded by timeout.
func postPWM(settings *url.URL, timeout time.Duration) func(ctx context.Context, pwm int) error {
	client := &http.Client{Timeout: timeout}
	shown := settings.Redacted()
	return func(ctx context.Context, pwm int) error {
		u := *settings
		u.RawQuery = "override_pwm=" + strconv.Itoa(pwm)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), nil)
		if err != nil {
			return &PWMError{URL: shown, PWM: pwm, Err: err}
		}
		res, err := client.Do(req)
		if err != nil {
			return &PWMError{URL: shown, PWM: pwm, Err: err}
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return &PWMError{URL: shown, PWM: pwm, Status: res.StatusCode}
		}
		return nil
	}
}
