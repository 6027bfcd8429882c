package slac

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/ccslink/ccslink/clock"
	"github.com/ccslink/ccslink/proto/homeplug"
)

// DefaultWatchPoll is the interval of VS_PL_LNK_STATUS.REQ while Watch runs.
const DefaultWatchPoll = time.Second

// watchMisses is how many polls in a row the modem may leave unanswered
// before Watch stops taking its word and goes by the car's traffic alone:
// other firmware, or a modified adapter, may not know VS_PL_LNK_STATUS.
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
	conn     atomic.Int32 // the car's V2G connection: connNone, connOpen or connClosed
	asked    atomic.Int64 // the clock's time of the latest CM_SLAC_PARM.REQ answered, in Unix ns; 0: none
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
	e.hooks.gone = e.gone
	e.w.fallbackTold = new(bool)
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
	e.conn.Store(connNone)
	e.matched = false
	now := e.clock.Now()
	if e.m == nil {
		e.m = NewMatcher(e.cfg, now)
		e.m.asked = func(now time.Time) { e.asked.Store(now.UnixNano()) }
	} else {
		e.m.Reset(now)
	}
	e.hooks.evidence = e.evidence
	e.hooks.onEvidence = func(now time.Time) { e.m.LinkUp(now) }
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

// Watch, after a successful Match, blocks until the car is gone and says
// why in a *FailureError wrapping ErrLinkLost (see Presence: the modem
// reports no link and the car fell silent, its V2G connection closed and
// the modem reports no link, or a long silence) or ErrCarGone (CarGone was
// called), with the link's flaps counted. It polls the modem's link status
// every Config.WatchPoll and takes the car's traffic as evidence: its
// HomePlug frames, and LinkEvidence and V2GConnection meanwhile. It
// returns ctx.Err() when ctx ends, and a *PortError when the interface
// fails. Without a matched car it returns ErrLinkLost at once.
func (e *EVSE) Watch(ctx context.Context) error {
	now := e.clock.Now()
	if !e.matched {
		return &FailureError{Reason: ReasonLinkLost, At: now}
	}
	e.w.reset(e.m, e.res.EVMAC, e.cfg.WatchPoll, now)
	// The car's traffic so far (a connection opened while Match ran).
	e.w.evidence(now, e.conn.Load())
	e.hooks.evidence = e.evidence
	e.hooks.onEvidence = func(now time.Time) { e.w.evidence(now, e.conn.Load()) }
	err := drive(ctx, e.port, e.clock, &e.w, &e.hooks)
	switch {
	case err == errGone:
		err = &FailureError{Reason: ReasonCarGone, EV: e.res.EVMAC, At: e.clock.Now(), Flaps: e.w.p.Flaps()}
	case err == nil:
		err = e.w.err
	}
	if ctx.Err() == nil || err != ctx.Err() {
		e.matched = false
	}
	return err
}

// LinkEvidence tells the EVSE that the car is talking, by evidence the
// modem does not give, such as its SDP request or a V2G message: a running
// Match then counts a matched car as joined, and Watch as present.
func (e *EVSE) LinkEvidence() { signal(e.evidence) }

// States of the car's V2G connection, as V2GConnection reports them.
const (
	connNone int32 = iota
	connOpen
	connClosed
)

// V2GConnection tells the EVSE that the car opened a V2G connection
// (open), or that its last one closed; either is the car talking
// (LinkEvidence). A closed connection and a modem reporting no link end
// Watch at once.
func (e *EVSE) V2GConnection(open bool) {
	if open {
		e.conn.Store(connOpen)
	} else {
		e.conn.Store(connClosed)
	}
	signal(e.evidence)
}

// LastRequest returns when the latest CM_SLAC_PARM.REQ was answered, by any
// car, in this EVSE's life; the zero time when none was. It tells a car
// that started SLAC from one that never talks, before any match. Safe from
// any goroutine.
func (e *EVSE) LastRequest() time.Time {
	if ns := e.asked.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

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

// confirmPoll is how soon after a first "no link" the watch asks again:
// the second answer tells a lost link from a flap.
const confirmPoll = 250 * time.Millisecond

// watcher is the Machine of Watch: it polls the modem's link status, feeds
// the answers and the car's own HomePlug frames to a Presence, and
// answers the matched car's repeated CM_SLAC_MATCH.REQ through the matcher.
type watcher struct {
	m          *Matcher
	mac, modem homeplug.MAC
	ev         homeplug.MAC
	poll       time.Duration
	pollAt     time.Time
	waiting    bool // the last poll is unanswered
	p          Presence
	// toldDown and toldFallback say whether this watch has logged that the
	// modem reports no link while the car talks, and that its word does not
	// count; fallbackTold (the EVSE's) whether the latter was ever logged
	// as a warning: once is enough for a modem that never answers.
	toldDown, toldFallback bool
	fallbackTold           *bool
	done                   bool
	err                    error
	out                    outbox
	linkReq                homeplug.PlLnkStatusReq
	linkCnf                homeplug.PlLnkStatusCnf
}

// reset starts watching the link of car ev, matched by m, at now.
func (w *watcher) reset(m *Matcher, ev homeplug.MAC, poll time.Duration, now time.Time) {
	w.m, w.mac, w.modem, w.ev, w.poll = m, m.cfg.MAC, m.modem, ev, poll
	w.pollAt, w.waiting, w.done, w.err = now, false, false, nil
	w.toldDown, w.toldFallback = false, false
	w.p.Reset(m.cfg.Presence, now)
	if w.fallbackTold == nil {
		w.fallbackTold = new(bool)
	}
}

func (w *watcher) Done() bool { return w.done }

func (w *watcher) Deadline() (time.Time, bool) {
	if w.done {
		return time.Time{}, false
	}
	t := w.pollAt
	if d, ok := w.p.Deadline(); ok && d.Before(t) {
		t = d
	}
	return t, true
}

func (w *watcher) Tick(now time.Time) [][]byte {
	w.out.reset()
	w.tick(now)
	return w.out.result()
}

func (w *watcher) tick(now time.Time) {
	if w.done {
		return
	}
	w.p.Tick(now)
	if w.check(now) || now.Before(w.pollAt) {
		return
	}
	if w.waiting {
		w.p.Unanswered(now)
		if w.check(now) {
			return
		}
	}
	w.out.add(w.modem, w.mac, &w.linkReq)
	w.waiting = true
	w.pollAt = now.Add(w.poll)
}

func (w *watcher) Handle(now time.Time, frame []byte) [][]byte {
	w.out.reset()
	w.tick(now)
	if w.done {
		return w.out.result()
	}
	h, p, err := homeplug.DecodeHeader(frame)
	if err == nil && h.FMI == 0 && h.MMType == homeplug.VSPlLnkStatusCnf && h.Dst == w.mac && h.Src != w.ev {
		w.waiting = false
		if h.OUI != homeplug.QualcommOUI || w.linkCnf.DecodePayload(p) != nil || w.linkCnf.MStatus != homeplug.MStatusSuccess ||
			w.linkCnf.LinkStatus > homeplug.LinkUp {
			w.p.OddAnswer(now)
		} else {
			w.p.LinkStatus(now, w.linkCnf.LinkStatus == homeplug.LinkUp)
			if w.p.Unconfirmed() {
				if t := now.Add(confirmPoll); t.Before(w.pollAt) {
					w.pollAt = t
				}
			}
		}
		w.check(now)
		return w.out.result()
	}
	if err == nil && h.Src == w.ev {
		w.p.Heard(now)
		if w.check(now) {
			return w.out.result()
		}
	}
	// The car may still repeat its MATCH.REQ; the matcher answers it.
	for _, f := range w.m.Handle(now, frame) {
		w.out.addRaw(f)
	}
	return w.out.result()
}

// evidence takes the car's traffic seen outside SLAC (LinkEvidence,
// V2GConnection) at now; conn is the state of its V2G connection.
func (w *watcher) evidence(now time.Time, conn int32) {
	if w.done {
		return
	}
	switch conn {
	case connOpen:
		w.p.Connection(now, true)
	case connClosed:
		w.p.Connection(now, false)
	default:
		w.p.Heard(now)
	}
	w.check(now)
}

// check ends the watch when the Presence decided the car is gone, and logs
// what the user should know; it reports whether the watch is done.
func (w *watcher) check(now time.Time) bool {
	if r, at, gone := w.p.Ended(); gone {
		w.done = true
		w.err = &FailureError{Reason: r, EV: w.ev, At: at, Flaps: w.p.Flaps()}
		if w.m.cfg.Log != nil {
			w.m.logf(slog.LevelInfo, "the car is gone", "ev", w.ev, "why", r.String(), "silent", now.Sub(w.p.heard), "flaps", w.p.Flaps())
		}
		return true
	}
	if w.m.cfg.Log == nil {
		return false
	}
	if w.p.Fallback() {
		if !w.toldFallback {
			w.toldFallback = true
			level := slog.LevelDebug
			if !*w.fallbackTold {
				*w.fallbackTold, level = true, slog.LevelWarn
			}
			why := "does not answer VS_PL_LNK_STATUS.REQ"
			if w.p.odd {
				why = "answers VS_PL_LNK_STATUS.REQ with nothing usable"
			}
			w.m.logf(level, "the modem "+why+": the car's presence follows its traffic alone", "ev", w.ev,
				"ends_after_silence", w.p.cfg.Silence)
		}
	} else if w.p.ModemDown() && !w.toldDown && now.Sub(w.p.heard) < w.p.cfg.Quiet {
		w.toldDown = true
		w.m.logf(slog.LevelInfo, "the modem reports no link, but the car is talking: the plug-in goes on", "ev", w.ev)
	}
	return false
}
