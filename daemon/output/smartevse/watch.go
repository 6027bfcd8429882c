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
	StateModemWait   = 12 // 5 % PWM: the firmware waits for a SoC, ModemWait at most
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
}

// A Watcher watches a SmartEVSE after a delivery: did it go on to charge
// the car on AC? It only ever reads (GET /settings), once a second, until
// the state is C or the bound passes, and reports one record.Handover per
// plug-in. A SmartEVSE without GET /settings (404) or that answers with
// something other than its JSON ends the watch at once, said in one log
// line, not again until a SmartEVSE's answer came in between.
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
		settings: u.String(),
		shown:    u.Redacted(),
		host:     hostPort(u),
		bound:    cmp.Or(cfg.Bound, DefaultWatch),
		poll:     cmp.Or(cfg.Poll, DefaultPoll),
		timeout:  cmp.Or(cfg.Timeout, DefaultTimeout),
		strategy: cmp.Or(cfg.Strategy, record.StrategyDeliverNow),
		clk:      cfg.Clock,
		client:   cfg.Client,
		log:      cfg.Log,
		onResult: cfg.OnResult,
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

// watch polls until C, the bound or ctx; ok is false when the Watcher was
// closed.
func (w *Watcher) watch(ctx context.Context, start time.Time) (h record.Handover, ok bool) {
	h = record.Handover{Strategy: w.strategy, Watched: w.bound}
	deadline := start.Add(w.bound)
	var last *watchError
	for {
		id, err := w.get(ctx)
		now := w.clk.Now()
		switch {
		case ctx.Err() != nil:
			if w.ctx.Err() != nil {
				return h, false
			}
			// The next car's values came: what was seen of this one stands.
			h.Observed, h.At = len(h.Seen) > 0, now
			if !h.Observed {
				h.Why = "the next car came first"
			}
			return h, true
		case err != nil && err.noAPI:
			w.mu.Lock()
			quiet := w.noAPI
			w.noAPI = true
			w.mu.Unlock()
			msg := "smartevse: not watching for AC charging after the SoC: " + err.words + "; set smartevse.watch to 0s for a charger without the SmartEVSE's API"
			if quiet {
				w.log.Debug(msg, "url", w.shown)
			} else {
				w.log.Warn(msg, "url", w.shown)
			}
			h.Why, h.At = err.words, now
			return h, true
		case err != nil:
			last = err
		default:
			w.mu.Lock()
			w.noAPI = false
			w.mu.Unlock()
			if name := StateName(id); len(h.Seen) < record.MaxSeen && (len(h.Seen) == 0 || h.Seen[len(h.Seen)-1] != name) {
				h.Seen = append(h.Seen, name)
			}
			h.Observed = true
			if id == StateModemWait {
				// Still waiting for a SoC that will not come: the bound
				// counts from the end of that wait (ModemWait at most).
				if d := now.Add(w.bound); d.After(deadline) {
					deadline = d
				}
				if last := start.Add(ModemWait + w.bound); deadline.After(last) {
					deadline = last
				}
			}
			if id == StateC {
				h.ACStarted, h.ACAfter, h.At = true, now.Sub(start), now
				return h, true
			}
		}
		if !now.Before(deadline) {
			h.At = now
			if !h.Observed && last != nil {
				h.Why = last.words
			}
			return h, true
		}
		t := w.clk.NewTimer(min(w.poll, deadline.Sub(now)))
		select {
		case <-t.C():
		case <-ctx.Done():
			t.Stop()
		}
	}
}

// settingsJSON is the part of the firmware's GET /settings a watch reads.
type settingsJSON struct {
	EVSE *struct {
		StateID *int `json:"state_id"`
	} `json:"evse"`
}

// get asks GET /settings once and returns evse.state_id.
func (w *Watcher) get(parent context.Context) (int, *watchError) {
	ctx, cancel := context.WithTimeout(parent, w.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.settings, nil)
	if err != nil { // the URL was checked by Endpoint
		return 0, &watchError{words: "cannot ask " + w.host + ": " + err.Error(), noAPI: true}
	}
	req.Header.Set("User-Agent", "ccslink")
	resp, err := w.client.Do(req)
	if err != nil {
		if parent.Err() != nil {
			return 0, &watchError{words: "stopped"}
		}
		if ctx.Err() != nil {
			return 0, &watchError{words: "no answer from " + w.host + " within " + w.timeout.String()}
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, &watchError{words: "cannot reach " + w.host + ": " + err.Error()}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxSettings))
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return 0, &watchError{words: w.host + " has no GET " + SettingsPath + " (HTTP 404)", noAPI: true}
	case resp.StatusCode != http.StatusOK:
		return 0, &watchError{words: "GET " + SettingsPath + " answered HTTP " + strconv.Itoa(resp.StatusCode) + " by " + w.host}
	case err != nil:
		if ctx.Err() != nil {
			return 0, &watchError{words: "no answer from " + w.host + " within " + w.timeout.String()}
		}
		return 0, &watchError{words: "GET " + SettingsPath + " from " + w.host + " broke off: " + err.Error()}
	}
	var s settingsJSON
	if err := json.Unmarshal(body, &s); err != nil || s.EVSE == nil || s.EVSE.StateID == nil {
		return 0, &watchError{words: w.host + " answered GET " + SettingsPath + " with something other than a SmartEVSE's state", noAPI: true}
	}
	return *s.EVSE.StateID, nil
}
