package smartevse

import (
	"cmp"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/ccslink/ccslink/clock"
	"github.com/ccslink/ccslink/daemon/mdns"
)

// Defaults of a Config's zero values.
const (
	DefaultTimeout = 2 * time.Second
	// DefaultWindow is how long a delivery keeps trying: the SmartEVSE
	// waits 60 s at 5 % PWM for the SoC, then carries on without it.
	DefaultWindow = 60 * time.Second
	// DefaultUpdateInterval is how often a plug-in's later changes are
	// posted at most. The SoC of an AC charge moves 1 % in minutes, so 5 s
	// loses nothing a display or a charge limit needs, while the ESP32,
	// which serves one request at a time and polls its own meters and
	// Wi-Fi meanwhile, is never kept busy by a car whose loop runs as fast
	// as TCP allows.
	DefaultUpdateInterval = 5 * time.Second
)

// defaultBackoff is the wait before the first, second, ... retry, the last
// repeating: quick while a Wi-Fi hiccup passes, then every 5 s, so a
// SmartEVSE that comes back is served within seconds.
var defaultBackoff = []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 5 * time.Second}

// Config configures a Sender; only URL is required.
type Config struct {
	// URL is the SmartEVSE's base URL or the full POST URL, as Endpoint takes it.
	URL string
	// Timeout bounds each attempt; zero means DefaultTimeout.
	Timeout time.Duration
	// Window is how long a delivery keeps trying, from the plug-in's first
	// state handed on (the car's first ChargeParameterDiscoveryReq); zero
	// means DefaultWindow. A 404 or another 4xx answer ends it at once.
	Window time.Duration
	// Backoff is the wait before each retry, the last repeating; nil means
	// 250 ms, 500 ms, 1 s, 2 s, then 5 s.
	Backoff []time.Duration
	// UpdateInterval bounds how often a plug-in's later changes are
	// posted: at most one POST per interval, the newest state then (see
	// the package doc). Zero means DefaultUpdateInterval; a negative one
	// means no bound, every change posted as soon as the last is done.
	UpdateInterval time.Duration
	// Clock times the backoff and the window; nil means clock.Real.
	Clock clock.Clock
	// Client posts; nil means a client that does not follow redirects, so
	// that a redirect is reported rather than turned into a GET, over
	// NewTransport(Resolver).
	Client *http.Client
	// Resolver resolves a .local host name when Client is nil; nil means
	// multicast DNS on every interface.
	Resolver *mdns.Resolver
	// Log receives each failed attempt and one record per delivery; nil
	// means slog.Default().
	Log *slog.Logger
	// OnResult, if set, is called on the sender's goroutine after every
	// series of attempts, with its outcome; it should return quickly.
	OnResult func(Delivery)
	// OnAttempt, if set, is called on the sender's goroutine after every
	// attempt, before any retry's wait, with the series so far (Err is that
	// attempt's); it should return quickly.
	OnAttempt func(Delivery)
}

// Delivery is the outcome of one series of attempts to post a state.
type Delivery struct {
	URL      string        // the POST target, without the query
	State    State         // what the last attempt sent
	Query    string        // Query(State)
	Status   int           // the last answer's HTTP status; 0 when none came
	Attempts int           // attempts made, retries included
	Latency  time.Duration // from the first attempt to the outcome, backoff included
	Err      error         // nil when delivered, else a *DeliveryError
	PlugIn   uint64        // the plug-in whose values these are, as NewPlugIn named it
}

// Words says what happened, e.g. "delivered after 3 attempts in 21 s" or
// "not delivered: connection refused by 10.0.0.1:80 (6 attempts in 60 s)".
func (d Delivery) Words() string {
	if d.Err == nil {
		if d.Attempts <= 1 {
			return "delivered"
		}
		return "delivered after " + d.tally()
	}
	cause := d.Err.Error()
	var de *DeliveryError
	if errors.As(d.Err, &de) {
		cause = de.Short()
	}
	return "not delivered: " + cause + " (" + d.tally() + ")"
}

// tally is "6 attempts in 60 s".
func (d Delivery) tally() string {
	n := strconv.Itoa(d.Attempts) + " attempts"
	if d.Attempts == 1 {
		n = "1 attempt"
	}
	if d.Latency < time.Second {
		return n + " in " + strconv.FormatInt(d.Latency.Milliseconds(), 10) + " ms"
	}
	return n + " in " + strconv.FormatInt(int64(d.Latency.Round(time.Second)/time.Second), 10) + " s"
}

// A Sender posts the plugged-in car's state to a SmartEVSE on its own goroutine.
type Sender struct {
	target    *url.URL
	host      string // host:port, for the log's words
	timeout   time.Duration
	window    time.Duration
	backoff   []time.Duration
	interval  time.Duration // 0: no bound
	clk       clock.Clock
	client    *http.Client
	resolver  *mdns.Resolver // the client's, for a .local host; nil with a caller's client
	log       *slog.Logger
	onResult  func(Delivery)
	onAttempt func(Delivery)

	ctx    context.Context // cancelled by Close
	stop   context.CancelCauseFunc
	wake   chan struct{}
	exited chan struct{}

	mu      sync.Mutex
	closed  bool
	mem     memory
	plug    uint64    // the current plug-in; NewPlugIn counts up
	id      uint64    // the current plug-in's name, from NewPlugIn
	start   time.Time // when the current plug-in's first state was handed on
	pace    pace      // the current plug-in's POSTs, for UpdateInterval
	pending *job
	running *running // the delivery in progress, nil when idle
	handed  int      // states handed to the goroutine, for tests
}

// job is a state to post, for the plug-in it belongs to.
type job struct {
	st    State
	plug  uint64
	id    uint64
	start time.Time // the plug-in's window starts here
	due   time.Time // not posted before: the plug-in's last POST plus UpdateInterval
}

// pace is what the bound of a plug-in's POSTs needs to know: when the last
// began, and whether the two that go at once have gone (the first with a
// SoC, which the firmware waits for, and the session end's Flush).
type pace struct {
	last    time.Time // the last attempt began; zero: none yet
	soc     bool      // a state with a SoC was taken for posting
	flushed bool      // a Flush released a held state at once
}

// running is the delivery in progress: the next car's values end it.
type running struct {
	plug   uint64
	cancel context.CancelCauseFunc
}

// New checks cfg and starts a Sender's goroutine; Close stops it.
func New(cfg Config) (*Sender, error) {
	target, err := Endpoint(cfg.URL)
	if err != nil {
		return nil, err
	}
	s := &Sender{
		target:    target,
		host:      hostPort(target),
		timeout:   cfg.Timeout,
		window:    cfg.Window,
		backoff:   slices.Clone(cfg.Backoff),
		clk:       cfg.Clock,
		client:    cfg.Client,
		log:       cfg.Log,
		onResult:  cfg.OnResult,
		onAttempt: cfg.OnAttempt,
		wake:      make(chan struct{}, 1),
		exited:    make(chan struct{}),
		mem:       newMemory(),
	}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	if s.window <= 0 {
		s.window = DefaultWindow
	}
	if len(s.backoff) == 0 {
		s.backoff = defaultBackoff
	}
	switch {
	case cfg.UpdateInterval == 0:
		s.interval = DefaultUpdateInterval
	case cfg.UpdateInterval > 0:
		s.interval = cfg.UpdateInterval
	}
	if s.clk == nil {
		s.clk = clock.Real{}
	}
	if s.client == nil {
		s.resolver = cmp.Or(cfg.Resolver, localNames)
		s.client = &http.Client{Transport: NewTransport(s.resolver), CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.ctx, s.stop = context.WithCancelCause(context.Background())
	go s.run()
	return s, nil
}

// localNames resolves .local names for every transport not given a
// resolver of its own, so its cache is shared.
var localNames = &mdns.Resolver{}

// NewTransport returns the transport a SmartEVSE is reached by: a host
// name ending in .local is resolved by r (nil: multicast DNS on every
// interface), as the system's resolver may not; no proxy, as the
// SmartEVSE is on the local network.
func NewTransport(r *mdns.Resolver) *http.Transport {
	if r == nil {
		r = localNames
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.DialContext = r.DialContext(&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second})
	return t
}

// hostPort is the target's host with its port, the default one spelt out.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	port := "80"
	if u.Scheme == "https" {
		port = "443"
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// URL returns the POST target, without the query.
func (s *Sender) URL() string { return s.target.String() }

// Update hands the sender the car's current state, as the record's rule
// has it (FromRecord). It never blocks: the state is merged into what the
// SmartEVSE holds by the firmware's contract (see the package doc), and when
// that changed and the SoC is known, the sender's goroutine posts it
// (replacing any state still waiting to be posted): the plug-in's first
// with a SoC at once, a later one no sooner than UpdateInterval after the
// plug-in's last POST began.
func (s *Sender) Update(st State) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed && s.mem.update(st) {
		s.handLocked()
	}
}

// Flush posts what Update held back for want of a SoC, such as the EVCCID
// of a car that gave none; call it when the car's session ends. The first
// Flush of a plug-in also posts at once a state that waits for
// UpdateInterval, so that the session's last values are not late; a later
// one leaves it to its time. It never blocks, and does nothing when
// everything known was handed on already.
func (s *Sender) Flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	if s.mem.flush() {
		s.handLocked()
	}
	if j := s.pending; j != nil && j.plug == s.plug && !s.pace.flushed && j.due.After(s.clk.Now()) {
		s.pace.flushed = true
		j.due = time.Time{}
		s.wakeLocked()
	}
}

// NewPlugIn forgets the car: the next one's first SoC is sent even if
// equal; id names the new plug-in in its Delivery (record.Session.PlugIn). What is still being posted for the previous car goes on until it
// is delivered, its window ends, or the next car's values replace it: the
// link going and a new SLAC round alone say nothing about the SmartEVSE.
func (s *Sender) NewPlugIn(id uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.plug++
	s.id = id
	s.start = time.Time{}
	s.pace = pace{}
	s.mem = newMemory()
}

// Close stops the sender's goroutine: an attempt in flight is abandoned at
// once and a state not yet posted is dropped. Close returns when the
// goroutine has ended; later calls do nothing. It returns nil.
func (s *Sender) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	dropped := s.pending
	s.pending = nil
	s.mu.Unlock()
	s.stop(ErrClosed)
	<-s.exited
	if dropped != nil {
		s.log.Warn("smartevse: not delivered, sender closed", "url", s.URL(), "query", Query(dropped.st))
	}
	return nil
}

func (s *Sender) handLocked() {
	now := s.clk.Now()
	if s.start.IsZero() {
		s.start = now
	}
	j := &job{st: s.mem.best, plug: s.plug, id: s.id, start: s.start}
	// The first SoC goes at once: the firmware waits for it. Later news
	// waits for the interval; the newest of it is posted then.
	if first := j.st.SoC >= 0 && !s.pace.soc; s.interval > 0 && !s.pace.last.IsZero() && !first {
		j.due = s.pace.last.Add(s.interval)
	}
	s.pending = j
	s.handed++
	if s.running != nil && s.running.plug != s.plug {
		s.running.cancel(ErrNewPlugIn) // newest wins: the next car's values replace the last car's
	}
	s.wakeLocked()
}

func (s *Sender) wakeLocked() {
	select {
	case s.wake <- struct{}{}:
	default: // the goroutine is awake already and takes pending next
	}
}

// take returns the state waiting to be posted and marks it running; with
// a plug-in given (a retry), only one of that plug-in, whenever it is due.
// Without, a state not yet due is left waiting: take returns when it is.
func (s *Sender) take(plug *uint64, cancel context.CancelCauseFunc) (j job, due time.Time, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clk.Now()
	p := s.pending
	if p == nil || plug != nil && p.plug != *plug {
		return job{}, time.Time{}, false
	}
	if plug == nil && p.due.After(now) {
		return job{}, p.due, false
	}
	s.pending = nil
	if p.plug == s.plug {
		s.pace.last = now
		s.pace.soc = s.pace.soc || p.st.SoC >= 0
	}
	if cancel != nil {
		s.running = &running{plug: p.plug, cancel: cancel}
	}
	return *p, time.Time{}, true
}

func (s *Sender) run() {
	defer close(s.exited)
	var (
		timer clock.Timer // fires when the state waiting is due
		at    time.Time   // when timer fires
		fire  <-chan time.Time
	)
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.wake:
		case <-fire:
			timer, at, fire = nil, time.Time{}, nil
		}
		for {
			ctx, cancel := context.WithCancelCause(s.ctx)
			j, due, ok := s.take(nil, cancel)
			if !ok {
				cancel(nil)
				if !due.Equal(at) {
					// A state waits for its time: a timer for it alone, so
					// that a flood of updates makes no flood of timers.
					if timer != nil {
						timer.Stop()
					}
					timer, at, fire = nil, due, nil
					if !due.IsZero() {
						timer = s.clk.NewTimer(due.Sub(s.clk.Now()))
						fire = timer.C()
					}
				}
				break
			}
			s.deliver(ctx, j)
			s.mu.Lock()
			s.running = nil
			s.mu.Unlock()
			cancel(nil)
		}
	}
}

// deliver posts j until it is delivered, the window ends or ctx ends; a
// retry sends the newest state of the same plug-in. The last backoff is cut
// short so that the last attempt is made as the window ends.
func (s *Sender) deliver(ctx context.Context, j job) {
	d := Delivery{URL: s.URL(), PlugIn: j.id}
	start := s.clk.Now()
	deadline := j.start.Add(s.window)
attempts:
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			wait := min(s.backoff[min(attempt-1, len(s.backoff)-1)], deadline.Sub(s.clk.Now()))
			t := s.clk.NewTimer(wait)
			select {
			case <-t.C():
			case <-ctx.Done():
				t.Stop()
				d.Err = s.abandoned(ctx)
				break attempts
			}
			if newer, _, ok := s.take(&j.plug, nil); ok {
				j.st = newer.st
			}
		}
		if attempt > 0 && s.clk.Now().After(deadline) {
			break // the window is over; d.Err is the last attempt's
		}
		if attempt > 0 {
			s.retrying(j.plug)
		}
		d.Attempts++
		d.State, d.Query = j.st, Query(j.st)
		var err *DeliveryError
		d.Status, err = s.post(ctx, d.Query, s.timeout)
		d.Err = nil
		if err != nil {
			d.Err = err
		}
		if err == nil || !err.retry() || !s.clk.Now().Before(deadline) {
			s.attempted(d, start)
			break
		}
		s.log.Warn("smartevse: attempt failed, retrying: "+err.Short(), "url", d.URL, "query", d.Query, "attempt", d.Attempts, "err", err)
		s.attempted(d, start)
	}
	d.Latency = s.clk.Now().Sub(start)
	if d.Err == nil {
		s.log.Info("smartevse: "+d.Words(), "url", d.URL, "query", d.Query, "status", d.Status, "attempts", d.Attempts, "latency", d.Latency)
	} else {
		s.log.Warn("smartevse: "+d.Words(), "url", d.URL, "query", d.Query, "status", d.Status, "attempts", d.Attempts, "latency", d.Latency, "err", d.Err)
	}
	if s.onResult != nil {
		s.onResult(d)
	}
}

// retrying notes a retry's POST: the next change waits for the interval
// from it.
func (s *Sender) retrying(plug uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if plug == s.plug {
		s.pace.last = s.clk.Now()
	}
}

// attempted hands the series so far to OnAttempt.
func (s *Sender) attempted(d Delivery, start time.Time) {
	if s.onAttempt != nil {
		d.Latency = s.clk.Now().Sub(start)
		s.onAttempt(d)
	}
}

func (s *Sender) abandoned(ctx context.Context) *DeliveryError {
	reason := context.Cause(ctx)
	if !errors.Is(reason, ErrNewPlugIn) {
		reason = ErrClosed
	}
	return &DeliveryError{URL: s.URL(), Host: s.host, Err: reason}
}

// post makes one attempt, bounded by timeout and by ctx.
func (s *Sender) post(plug context.Context, query string, timeout time.Duration) (int, *DeliveryError) {
	ctx, cancel := context.WithTimeout(plug, timeout)
	defer cancel()
	u := *s.target
	u.RawQuery = query
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), nil)
	if err != nil { // the target was checked by Endpoint
		return 0, &DeliveryError{URL: s.URL(), Host: s.host, Err: ErrUnreachable, Cause: err}
	}
	req.Header.Set("User-Agent", "ccslink")
	// A .local name is looked up within the attempt's time, so that no
	// answer is said as such, not as the attempt's timeout.
	if host := s.target.Hostname(); s.resolver != nil && mdns.IsLocal(host) {
		if _, err := s.resolver.Lookup(ctx, host); err != nil {
			if plug.Err() != nil {
				return 0, s.abandoned(plug)
			}
			return 0, &DeliveryError{URL: s.URL(), Host: s.host, Err: ErrUnreachable, Cause: err}
		}
	}
	resp, err := s.client.Do(req)
	if err != nil {
		if plug.Err() != nil {
			return 0, s.abandoned(plug)
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL and its query, which the message has already
		}
		e := &DeliveryError{URL: s.URL(), Host: s.host, Err: ErrUnreachable, Cause: err}
		var ne net.Error
		var na *mdns.NoAnswerError
		switch {
		case errors.As(err, &na):
			e.Cause = na // its words say what to do; the dial's add nothing
		case ctx.Err() != nil || errors.As(err, &ne) && ne.Timeout():
			e.Err, e.Timeout, e.Cause = ErrTimeout, timeout, nil
			if t := s.client.Timeout; t > 0 && t < timeout {
				e.Timeout = t // the caller's client gave up first
			}
		case errors.Is(err, syscall.ECONNREFUSED):
			e.Err = ErrRefused
		}
		return 0, e
	}
	// The reply only echoes the values; draining a little keeps the connection reusable.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return resp.StatusCode, nil
	case resp.StatusCode == http.StatusNotFound:
		return resp.StatusCode, &DeliveryError{URL: s.URL(), Host: s.host, Path: s.target.EscapedPath(), Err: ErrNotFound, Status: resp.StatusCode}
	}
	return resp.StatusCode, &DeliveryError{URL: s.URL(), Host: s.host, Err: ErrStatus, Status: resp.StatusCode, Location: resp.Header.Get("Location")}
}
