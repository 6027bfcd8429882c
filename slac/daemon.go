package slac

import (
	"context"
	"log/slog"
	"time"

	"github.com/ccslink/ccslink/clock"
	"github.com/ccslink/ccslink/homeplug"
)

// DefaultWatchPoll is the interval of VS_PL_LNK_STATUS.REQ while Watch runs.
const DefaultWatchPoll = time.Second

// watchMisses is how many polls in a row the modem may leave unanswered
// before Watch gives the link up: a modem that stopped answering carries
// no car either.
const watchMisses = 3

// EVSE is the charger's SLAC on one interface, reused for plug-in after
// plug-in by a long-running process: Match, then Watch, then Match again.
// Match and Watch run one at a time; LinkEvidence and CarGone may be called
// from any goroutine meanwhile. Neither leaves a goroutine behind when it
// returns.
type EVSE struct {
	port     Port
	clock    clock.Clock
	cfg      Config
	m        *Matcher
	w        watcher
	evidence chan struct{}
	gone     chan struct{}
	hooks    loopHooks
	matched  bool
	res      Result
}

// NewEVSE returns the charger's SLAC on p. Config.LinkPoll negative makes
// Match return at CM_SLAC_MATCH.CNF, without waiting for the link.
func NewEVSE(p Port, c clock.Clock, cfg Config) *EVSE {
	if cfg.WatchPoll <= 0 {
		cfg.WatchPoll = DefaultWatchPoll
	}
	e := &EVSE{port: p, clock: c, cfg: cfg, evidence: make(chan struct{}, 1), gone: make(chan struct{}, 1)}
	e.hooks.onEvidence = func(now time.Time) { e.m.LinkUp(now) }
	e.hooks.gone = e.gone
	return e
}

// Match keys the modem with a fresh NMK, waits for a car and returns once a
// car matched and its link is up. It fails with a *FailureError: no car
// within TT_EVSE_SLAC_init (ErrNoCar), no link within TT_match_join
// (ErrLinkTimeout, with the Result), CarGone (ErrCarGone), or ctx's end
// (the last failed attempt, or ErrNoCar, with ctx.Err() as Err); and with a
// *PortError when the interface fails. Signals of earlier plug-ins are
// forgotten when Match starts.
func (e *EVSE) Match(ctx context.Context) (Result, error) {
	drain(e.evidence)
	drain(e.gone)
	e.matched = false
	now := e.clock.Now()
	if e.m == nil {
		e.m = NewMatcher(e.cfg, now)
	} else {
		e.m.Reset(now)
	}
	e.hooks.evidence = e.evidence
	err := drive(ctx, e.port, e.clock, e.m, &e.hooks)
	r, ok := e.m.Result()
	switch {
	case err == errGone:
		return r, &FailureError{Reason: ReasonCarGone, EV: r.EVMAC, At: e.clock.Now()}
	case err != nil:
		if _, port := err.(*PortError); port {
			return r, err
		}
		return r, e.m.interrupted(e.clock.Now(), err)
	case e.m.Err() != nil:
		return r, e.m.Err()
	case !ok:
		return r, &FailureError{Reason: ReasonNoCar, At: e.clock.Now()} // unreachable: a done matcher matched or failed
	}
	e.matched, e.res = true, r
	return r, nil
}

// Watch, after a successful Match, blocks until the car's link is lost and
// says why in a *FailureError: the modem reports no link, or stopped
// answering (ErrLinkLost), or CarGone was called (ErrCarGone). It polls the
// modem's link status every Config.WatchPoll, returns ctx.Err() when ctx
// ends, and a *PortError when the interface fails. Without a matched car it
// returns ErrLinkLost at once.
func (e *EVSE) Watch(ctx context.Context) error {
	now := e.clock.Now()
	if !e.matched {
		return &FailureError{Reason: ReasonLinkLost, At: now}
	}
	e.w.reset(e.m, e.res.EVMAC, e.cfg.WatchPoll, now)
	e.hooks.evidence = nil
	err := drive(ctx, e.port, e.clock, &e.w, &e.hooks)
	switch {
	case err == errGone:
		err = &FailureError{Reason: ReasonCarGone, EV: e.res.EVMAC, At: e.clock.Now()}
	case err == nil:
		err = e.w.err
	}
	if ctx.Err() == nil || err != ctx.Err() {
		e.matched = false
	}
	return err
}

// LinkEvidence tells a running Match that the car's link is up by evidence
// the modem does not give, such as the car's first IPv6 frame or SDP
// request: a matched car then counts as joined.
func (e *EVSE) LinkEvidence() { signal(e.evidence) }

// CarGone tells the EVSE that the control pilot went back to state A: the
// current Match or Watch, or the next Watch, ends with ErrCarGone.
func (e *EVSE) CarGone() { signal(e.gone) }

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func drain(c chan struct{}) {
	select {
	case <-c:
	default:
	}
}

// watcher is the Machine of Watch: it polls the modem's link status and
// answers the matched car's repeated CM_SLAC_MATCH.REQ through the matcher.
type watcher struct {
	m          *Matcher
	mac, modem homeplug.MAC
	ev         homeplug.MAC
	poll       time.Duration
	pollAt     time.Time
	unanswered int
	// up is set once the modem has reported the link up. Match may have
	// ended on the car's SDP request before the modem's own status caught
	// up, and a link not yet up cannot be lost: until then a "no link"
	// counts as a miss, so it ends the watch only after watchMisses polls.
	up      bool
	down    int // "no link" reports before up
	done    bool
	err     error
	out     outbox
	linkReq homeplug.PlLnkStatusReq
	linkCnf homeplug.PlLnkStatusCnf
}

// reset starts watching the link of car ev, matched by m, at now.
func (w *watcher) reset(m *Matcher, ev homeplug.MAC, poll time.Duration, now time.Time) {
	w.m, w.mac, w.modem, w.ev, w.poll = m, m.cfg.MAC, m.modem, ev, poll
	w.pollAt, w.unanswered, w.up, w.down, w.done, w.err = now, 0, false, 0, false, nil
}

func (w *watcher) Done() bool { return w.done }

func (w *watcher) Deadline() (time.Time, bool) { return w.pollAt, !w.done }

func (w *watcher) Tick(now time.Time) [][]byte {
	w.out.reset()
	w.tick(now)
	return w.out.result()
}

func (w *watcher) tick(now time.Time) {
	if w.done || now.Before(w.pollAt) {
		return
	}
	if w.unanswered >= watchMisses {
		w.fail(now, "the modem stopped answering VS_PL_LNK_STATUS.REQ")
		return
	}
	w.out.add(w.modem, w.mac, &w.linkReq)
	w.unanswered++
	w.pollAt = now.Add(w.poll)
}

func (w *watcher) Handle(now time.Time, frame []byte) [][]byte {
	w.out.reset()
	w.tick(now)
	if w.done {
		return w.out.result()
	}
	h, p, err := homeplug.DecodeHeader(frame)
	if err == nil && h.FMI == 0 && h.MMType == homeplug.VSPlLnkStatusCnf && h.OUI == homeplug.QualcommOUI &&
		h.Dst == w.mac && w.linkCnf.DecodePayload(p) == nil {
		w.unanswered = 0
		switch {
		case w.linkCnf.LinkStatus == homeplug.LinkUp:
			w.up = true
		case w.up:
			w.fail(now, "the modem reports no powerline link")
		default:
			if w.down++; w.down >= watchMisses {
				w.fail(now, "the modem never reported the car's link up")
			}
		}
		return w.out.result()
	}
	// The car may still repeat its MATCH.REQ; the matcher answers it.
	for _, f := range w.m.Handle(now, frame) {
		w.out.addRaw(f)
	}
	return w.out.result()
}

func (w *watcher) fail(now time.Time, why string) {
	w.done = true
	w.err = &FailureError{Reason: ReasonLinkLost, EV: w.ev, At: now}
	if w.m.cfg.Log != nil {
		w.m.logf(slog.LevelInfo, "link lost", "ev", w.ev, "why", why)
	}
}
