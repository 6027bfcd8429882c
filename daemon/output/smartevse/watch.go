package smartevse

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/ccslink/ccslink/clock"
	"github.com/ccslink/ccslink/daemon/mdns"
	"github.com/ccslink/ccslink/record"
)

// Defaults of a WatchConfig's zero values.
const (
	// DefaultWatch bounds a watch: after the SoC the firmware cuts CP for
	// 5 s, then offers nominal PWM, and the car takes a few seconds more
	// to draw current; a minute leaves room for a slow car.
	DefaultWatch = time.Minute
	// DefaultPoll is the wait between two GET /settings: the ESP32 serves
	// one page at a time, and a second is plenty to see C.
	DefaultPoll = time.Second
)

// ModemWait is the firmware's longest wait for a SoC at 5 % PWM
// (MODEM_WAIT). A car whose values hold no SoC (the handover strategies
// no-negotiation and identify-only) is offered AC only once it is over,
// so a watch's bound counts from the end of that wait.
const ModemWait = 60 * time.Second

// SettingsPath is the firmware's read-only page of its state.
const SettingsPath = "/settings"

// maxSettings bounds the GET /settings answer read; the firmware's is about 3 KiB.
const maxSettings = 64 << 10

// State IDs of the firmware (evse.state_id) that a watch acts on.
const (
	StateA           = 0  // no car, or CP off
	StateB           = 1  // a car connected, not charging
	StateC           = 2  // charging
	StateModemWait   = 12 // 5 % PWM: a car was plugged in, the 60 s wait for its SoC
	StateModemDone   = 13 // the SoC came: CP off for 5 s, the virtual re-plug
	StateModemDenied = 14 // the car's EVCCID is not the one required
)

// stateNames are the firmware's states by evse.state_id.
var stateNames = [...]string{"A", "B", "C", "D", "COMM_B", "COMM_B_OK", "COMM_C", "COMM_C_OK", "ACTSTART", "B1", "C1",
	"MODEM_REQUEST", "MODEM_WAIT", "MODEM_DONE", "MODEM_DENIED"}

// StateName names a firmware state ID, e.g. 13 -> "MODEM_DONE".
func StateName(id int) string {
	if id >= 0 && id < len(stateNames) {
		return stateNames[id]
	}
	return "state " + strconv.Itoa(id)
}

// ErrNotSmartEVSE means the URL posts to a receiver of its own path, not a
// SmartEVSE's /ev_state: there is no GET /settings to watch.
var ErrNotSmartEVSE = errors.New("smartevse: the URL is not a SmartEVSE's " + DefaultPath)

// SettingsURL returns the GET /settings of the SmartEVSE that raw (as
// Endpoint takes it) posts to; ErrNotSmartEVSE for a URL with another
// path than /ev_state.
func SettingsURL(raw string) (*url.URL, error) {
	target, err := Endpoint(raw)
	if err != nil {
		return nil, err
	}
	if target.Path != DefaultPath {
		return nil, ErrNotSmartEVSE
	}
	return &url.URL{Scheme: target.Scheme, User: target.User, Host: target.Host, Path: SettingsPath}, nil
}

// WatchConfig configures a Watcher; URL and OnResult are required.
type WatchConfig struct {
	// URL is the SmartEVSE's URL, as Endpoint takes it.
	URL string
	// Bound is how long a watch waits for C; zero means DefaultWatch.
	Bound time.Duration
	// Poll is the wait between two GET /settings; zero means DefaultPoll.
	Poll time.Duration
	// Timeout bounds each GET; zero means DefaultTimeout.
	Timeout time.Duration
	// Strategy names the handover watched; "" means record.StrategyDeliverNow.
	Strategy string
	// Clock times the polls and the bound; nil means clock.Real.
	Clock clock.Clock
	// Client asks; nil means one over NewTransport(Resolver) that follows
	// no redirects.
	Client   *http.Client
	Resolver *mdns.Resolver
	// Log receives the line that says the SmartEVSE cannot be watched;
	// nil means slog.Default().
	Log *slog.Logger
	// OnResult receives each watch's outcome, a record.KindHandover event
	// naming its plug-in; it is called on the watch's goroutine and should
	// return quickly.
	OnResult func(record.Event)
	// OnPlugged, if set, makes the Watcher follow the SmartEVSE all the
	// time, not only after a delivery: it hears true when the firmware
	// begins MODEM_WAIT (its 5 % PWM: a car was plugged in) and false when
	// it goes to A (the car left), with the time of the reading.
	OnPlugged func(plugged bool, at time.Time)
	// OnReading, if set, makes the Watcher follow the SmartEVSE all the
	// time too, and hears every reading of its state and EV meter.
	OnReading func(Reading)
	// MaxBackoff bounds the wait between two GET /settings while the
	// SmartEVSE does not answer; zero means DefaultMaxBackoff.
	MaxBackoff time.Duration
}

// DefaultMaxBackoff is the longest wait between two GET /settings of a
// SmartEVSE that does not answer, or has no such page: the charger may come
// back (a power cut, a firmware update), and a minute's lateness in seeing
// a car is what the no-communication timeout allows anyway.
const DefaultMaxBackoff = 30 * time.Second

// Reading is one GET /settings as a Watcher that follows the SmartEVSE
// reads it.
type Reading struct {
	At    time.Time
	State int // evse.state_id
	// Meter is set when the SmartEVSE reports an EV meter: ev_meter with
	// charged_kwh, and a description other than "Disabled".
	Meter bool
	// ChargedKWh is ev_meter.charged_kwh: the energy of the charge so far,
	// kWh with one decimal; the firmware sets it back to 0 at a new charge.
	ChargedKWh float64
	// PowerKW is ev_meter.import_active_power, kW with one decimal.
	PowerKW float64
}

// A Watcher watches a SmartEVSE after a delivery: did it go on to charge
// the car on AC? It only ever reads (GET /settings), once a second, until
// the state is C or the bound passes, and reports one record.Handover per
// plug-in. A SmartEVSE without GET /settings (404) or that answers with
// something other than its JSON ends the watch at once, said in one log
// line, not again until a SmartEVSE's answer came in between.
//
// With OnPlugged or OnReading it follows the SmartEVSE all the time, on one
// goroutine that asks once a Poll (a watch's readings are the same ones:
// the ESP32 serves one page at a time), and more rarely, up to MaxBackoff,
// while the SmartEVSE does not answer; that is said once, and so is its
// return.
type Watcher struct {
	settings string // the GET URL
	shown    string // the GET URL for the log, without a password
	host     string
	bound    time.Duration
	poll     time.Duration
	timeout  time.Duration
	strategy string
	clk      clock.Clock
	client   *http.Client
	resolver *mdns.Resolver
	log      *slog.Logger
	onResult func(record.Event)
	// Following the SmartEVSE all the time (steady): the callbacks, the
	// longest wait, and the watch in progress, which the poller feeds.
	onPlugged  func(bool, time.Time)
	onReading  func(Reading)
	maxBackoff time.Duration
	steady     bool
	kick       chan struct{} // a watch began: ask now
	active     *watching     // under mu

	ctx  context.Context // cancelled by Close
	stop context.CancelFunc
	wg   sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	last    uint64             // the plug-in watched last
	cancel  context.CancelFunc // the watch in progress; nil when none
	noAPI   bool               // the "cannot be watched" line was logged
	watches int                // watches started, for tests
}

// NewWatcher checks cfg; a URL that is not a SmartEVSE's /ev_state is
// ErrNotSmartEVSE.
func NewWatcher(cfg WatchConfig) (*Watcher, error) {
	u, err := SettingsURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	if cfg.OnResult == nil {
		return nil, errors.New("smartevse: a Watcher needs OnResult")
	}
	w := &Watcher{
		settings:   u.String(),
		shown:      u.Redacted(),
		host:       hostPort(u),
		bound:      cmp.Or(cfg.Bound, DefaultWatch),
		poll:       cmp.Or(cfg.Poll, DefaultPoll),
		timeout:    cmp.Or(cfg.Timeout, DefaultTimeout),
		strategy:   cmp.Or(cfg.Strategy, record.StrategyDeliverNow),
		clk:        cfg.Clock,
		client:     cfg.Client,
		log:        cfg.Log,
		onResult:   cfg.OnResult,
		onPlugged:  cfg.OnPlugged,
		onReading:  cfg.OnReading,
		maxBackoff: cmp.Or(cfg.MaxBackoff, DefaultMaxBackoff),
		steady:     cfg.OnPlugged != nil || cfg.OnReading != nil,
		kick:       make(chan struct{}, 1),
	}
	if w.clk == nil {
		w.clk = clock.Real{}
	}
	if w.client == nil {
		w.resolver = cmp.Or(cfg.Resolver, localNames)
		w.client = &http.Client{Transport: NewTransport(w.resolver), CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}
	}
	if w.log == nil {
		w.log = slog.Default()
	}
	w.ctx, w.stop = context.WithCancel(context.Background())
	if w.steady {
		w.wg.Add(1)
		go w.follow()
	}
	return w, nil
}

// Watch starts watching for the plug-in plugIn from now, the moment its
// values were delivered. A plug-in is watched once: a later delivery of
// the same car (a newer SoC) does not start it again. A watch of an
// earlier plug-in still running ends now: the SmartEVSE serves one car, and
// the next one's values came.
func (w *Watcher) Watch(plugIn uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || plugIn == w.last && w.watches > 0 {
		return
	}
	if w.steady {
		w.watchSteadyLocked(plugIn)
		return
	}
	if w.cancel != nil {
		w.cancel()
	}
	ctx, cancel := context.WithCancel(w.ctx)
	w.last, w.cancel = plugIn, cancel
	w.watches++
	start := w.clk.Now()
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer cancel()
		h, ok := w.watch(ctx, start)
		if ok {
			w.onResult(record.Event{Kind: record.KindHandover, At: h.At, PlugIn: plugIn, Handover: &h})
		}
	}()
}

// Close ends every watch without a result (the daemon is stopping) and
// waits for their goroutines.
func (w *Watcher) Close() error {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	w.stop()
	w.wg.Wait()
	return nil
}

// watchError is a GET /settings that told nothing of the state.
type watchError struct {
	words string // for the record, e.g. "no answer from 10.0.0.1:80 within 2s"
	noAPI bool   // 404, or not a SmartEVSE's JSON: the watch ends
}

// watching is one watch in progress: its plug-in, its bound, and what it
// has seen.
type watching struct {
	plugIn   uint64
	start    time.Time
	deadline time.Time
	h        record.Handover
	last     *watchError
}

func (w *Watcher) newWatching(plugIn uint64, start time.Time) *watching {
	return &watching{plugIn: plugIn, start: start, deadline: start.Add(w.bound), h: record.Handover{Strategy: w.strategy, Watched: w.bound}}
}

// see takes one GET /settings of the watch x at now; it reports whether the
// watch has its outcome. w.mu is held.
func (w *Watcher) seeLocked(x *watching, now time.Time, id int, err *watchError) bool {
	switch {
	case err != nil && err.noAPI:
		quiet := w.noAPI
		w.noAPI = true
		msg := "smartevse: not watching for AC charging after the SoC: " + err.words + "; set smartevse.watch to 0s for a charger without the SmartEVSE's API"
		if quiet {
			w.log.Debug(msg, "url", w.shown)
		} else {
			w.log.Warn(msg, "url", w.shown)
		}
		x.h.Why, x.h.At = err.words, now
		return true
	case err != nil:
		x.last = err
	default:
		w.noAPI = false
		if name := StateName(id); len(x.h.Seen) < record.MaxSeen && (len(x.h.Seen) == 0 || x.h.Seen[len(x.h.Seen)-1] != name) {
			x.h.Seen = append(x.h.Seen, name)
		}
		x.h.Observed = true
		if id == StateModemWait {
			// Still waiting for a SoC that will not come: the bound
			// counts from the end of that wait (ModemWait at most).
			if d := now.Add(w.bound); d.After(x.deadline) {
				x.deadline = d
			}
			if last := x.start.Add(ModemWait + w.bound); x.deadline.After(last) {
				x.deadline = last
			}
		}
		if id == StateC {
			x.h.ACStarted, x.h.ACAfter, x.h.At = true, now.Sub(x.start), now
			return true
		}
	}
	if !now.Before(x.deadline) {
		x.h.At = now
		if !x.h.Observed && x.last != nil {
			x.h.Why = x.last.words
		}
		return true
	}
	return false
}

// cut ends the watch x at now: the next car's values came, and what was
// seen of this one stands.
func (x *watching) cut(now time.Time) {
	x.h.Observed, x.h.At = len(x.h.Seen) > 0, now
	if !x.h.Observed {
		x.h.Why = "the next car came first"
	}
}

func (x *watching) event() record.Event {
	h := x.h
	return record.Event{Kind: record.KindHandover, At: h.At, PlugIn: x.plugIn, Handover: &h}
}

// watch polls until C, the bound or ctx; ok is false when the Watcher was
// closed.
func (w *Watcher) watch(ctx context.Context, start time.Time) (h record.Handover, ok bool) {
	x := w.newWatching(0, start)
	for {
		s, err := w.get(ctx)
		now := w.clk.Now()
		if ctx.Err() != nil {
			if w.ctx.Err() != nil {
				return x.h, false
			}
			x.cut(now)
			return x.h, true
		}
		w.mu.Lock()
		done := w.seeLocked(x, now, s.state, err)
		w.mu.Unlock()
		if done {
			return x.h, true
		}
		t := w.clk.NewTimer(min(w.poll, x.deadline.Sub(now)))
		select {
		case <-t.C():
		case <-ctx.Done():
			t.Stop()
		}
	}
}

// watchSteadyLocked hands the watch of plugIn to the poller that follows
// the SmartEVSE, ending the one in progress; w.mu is held.
func (w *Watcher) watchSteadyLocked(plugIn uint64) {
	now := w.clk.Now()
	if old := w.active; old != nil {
		old.cut(now)
		e := old.event()
		// On a goroutine of its own: the caller holds w.mu.
		w.wg.Add(1)
		go func() { defer w.wg.Done(); w.onResult(e) }()
	}
	w.last = plugIn
	w.watches++
	w.active = w.newWatching(plugIn, now)
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// follow is the poller of a Watcher that follows the SmartEVSE: GET
// /settings once a Poll, a watch's outcome from the same readings, the
// plug-in and the meter to the callbacks.
func (w *Watcher) follow() {
	defer w.wg.Done()
	prev := -1 // the state last read; -1 none yet
	backoff := time.Duration(0)
	var down *watchError // the failure said in the log, until an answer
	for {
		s, err := w.get(w.ctx)
		now := w.clk.Now()
		if w.ctx.Err() != nil {
			return
		}
		w.mu.Lock()
		var result *record.Event
		if x := w.active; x != nil && w.seeLocked(x, now, s.state, err) {
			e := x.event()
			result, w.active = &e, nil
		}
		watching := w.active
		w.mu.Unlock()
		if result != nil {
			w.onResult(*result)
		}
		switch {
		case err == nil:
			w.mu.Lock()
			w.noAPI = false
			w.mu.Unlock()
			if down != nil {
				w.log.Info("smartevse: the SmartEVSE answers again; following its state", "url", w.shown)
				down = nil
			}
			backoff = 0
			w.reading(s, now, prev)
			prev = s.state
		default:
			if down == nil {
				down = err
				what := "the SmartEVSE's state cannot be read (" + err.words + "): a car plugged in is not seen from it, and no SoC is estimated; asking again less often until it answers"
				if err.noAPI {
					what += "; set smartevse.watch to 0s for a charger without the SmartEVSE's API"
				}
				w.log.Warn("smartevse: "+what, "url", w.shown)
			}
			backoff = min(max(2*backoff, 2*w.poll), w.maxBackoff)
		}
		wait := w.poll
		if backoff > 0 {
			wait = backoff
		}
		if watching != nil {
			wait = min(w.poll, watching.deadline.Sub(now))
		}
		t := w.clk.NewTimer(wait)
		select {
		case <-t.C():
		case <-w.kick:
			t.Stop()
		case <-w.ctx.Done():
			t.Stop()
			return
		}
	}
}

// reading hands one answer of the SmartEVSE to the callbacks: the plug-in
// as its state changed from prev, then the reading.
func (w *Watcher) reading(s settings, at time.Time, prev int) {
	if w.onPlugged != nil && s.state != prev {
		switch s.state {
		case StateModemWait:
			w.onPlugged(true, at)
		case StateA:
			w.onPlugged(false, at)
		}
	}
	if w.onReading != nil {
		w.onReading(Reading{At: at, State: s.state, Meter: s.meter, ChargedKWh: s.chargedKWh, PowerKW: s.powerKW})
	}
}

// settingsJSON is the part of the firmware's GET /settings a watch reads.
type settingsJSON struct {
	EVSE *struct {
		StateID *int `json:"state_id"`
	} `json:"evse"`
	// Read on its own: an odd meter is no meter, never a page that is
	// not a SmartEVSE's.
	EVMeter json.RawMessage `json:"ev_meter"`
}

// evMeterJSON is the part of ev_meter a Watcher that follows reads.
type evMeterJSON struct {
	Description *string  `json:"description"`
	ChargedKWh  *float64 `json:"charged_kwh"`
	PowerKW     *float64 `json:"import_active_power"`
}

// maxChargedKWh bounds a believable charged_kwh: more than any battery
// takes in one charge, far less than a float's whole-Wh range.
const maxChargedKWh = 100000

// settings is what one GET /settings told.
type settings struct {
	state      int
	meter      bool
	chargedKWh float64
	powerKW    float64
}

// get asks GET /settings once.
func (w *Watcher) get(parent context.Context) (settings, *watchError) {
	ctx, cancel := context.WithTimeout(parent, w.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.settings, nil)
	if err != nil { // the URL was checked by Endpoint
		return settings{}, &watchError{words: "cannot ask " + w.host + ": " + err.Error(), noAPI: true}
	}
	req.Header.Set("User-Agent", "ccslink")
	resp, err := w.client.Do(req)
	if err != nil {
		if parent.Err() != nil {
			return settings{}, &watchError{words: "stopped"}
		}
		if ctx.Err() != nil {
			return settings{}, &watchError{words: "no answer from " + w.host + " within " + w.timeout.String()}
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return settings{}, &watchError{words: "cannot reach " + w.host + ": " + err.Error()}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxSettings))
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return settings{}, &watchError{words: w.host + " has no GET " + SettingsPath + " (HTTP 404)", noAPI: true}
	case resp.StatusCode != http.StatusOK:
		return settings{}, &watchError{words: "GET " + SettingsPath + " answered HTTP " + strconv.Itoa(resp.StatusCode) + " by " + w.host}
	case err != nil:
		if ctx.Err() != nil {
			return settings{}, &watchError{words: "no answer from " + w.host + " within " + w.timeout.String()}
		}
		return settings{}, &watchError{words: "GET " + SettingsPath + " from " + w.host + " broke off: " + err.Error()}
	}
	var s settingsJSON
	if err := json.Unmarshal(body, &s); err != nil || s.EVSE == nil || s.EVSE.StateID == nil {
		return settings{}, &watchError{words: w.host + " answered GET " + SettingsPath + " with something other than a SmartEVSE's state", noAPI: true}
	}
	r := settings{state: *s.EVSE.StateID}
	var m evMeterJSON
	if len(s.EVMeter) > 0 && json.Unmarshal(s.EVMeter, &m) == nil && m.ChargedKWh != nil &&
		*m.ChargedKWh >= 0 && *m.ChargedKWh <= maxChargedKWh && (m.Description == nil || *m.Description != "Disabled") {
		r.meter, r.chargedKWh = true, *m.ChargedKWh
		if m.PowerKW != nil {
			r.powerKW = *m.PowerKW
		}
	}
	return r, nil
}
