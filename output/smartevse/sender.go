package smartevse

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"syscall"
	"time"
)

// Defaults of a Config's zero values.
const (
	DefaultTimeout = 2 * time.Second
	DefaultRetries = 3
	MaxRetries     = 10
)

// defaultBackoff is the wait before the first, second and every later retry.
// With the other defaults a series ends within 4 x 2 s + 1.75 s, well inside
// the firmware's 60 s wait for a SoC.
var defaultBackoff = []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second}

// Config configures a Sender; only URL is required.
type Config struct {
	// URL is the SmartEVSE's base URL or the full POST URL, as Endpoint takes it.
	URL string
	// Timeout bounds each attempt; zero means DefaultTimeout.
	Timeout time.Duration
	// Retries is how often a failed attempt is repeated: zero means
	// DefaultRetries, negative none, at most MaxRetries. A 404 or another
	// 4xx answer is final.
	Retries int
	// Backoff is the wait before each retry, the last repeating; nil means
	// 250 ms, 500 ms, then 1 s.
	Backoff []time.Duration
	// After waits for a backoff; nil means time.After.
	After func(time.Duration) <-chan time.Time
	// Client posts; nil means a client that does not follow redirects, so
	// that a redirect is reported rather than turned into a GET.
	Client *http.Client
	// Log receives one record per delivery; nil means slog.Default().
	Log *slog.Logger
	// OnResult, if set, is called on the sender's goroutine after every
	// series of attempts, with its outcome; it should return quickly.
	OnResult func(Delivery)
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
}

// A Sender posts the plugged-in car's state to a SmartEVSE on its own goroutine.
type Sender struct {
	target   *url.URL
	timeout  time.Duration
	retries  int
	backoff  []time.Duration
	after    func(time.Duration) <-chan time.Time
	client   *http.Client
	log      *slog.Logger
	onResult func(Delivery)

	ctx    context.Context // cancelled by Close
	stop   context.CancelCauseFunc
	wake   chan struct{}
	exited chan struct{}

	mu      sync.Mutex
	closed  bool
	mem     memory
	plug    context.Context // cancelled by the next NewPlugIn
	endPlug context.CancelCauseFunc
	pending *job
	handed  int // states handed to the goroutine, for tests
}

// job is a state to post, for the plug-in it belongs to.
type job struct {
	st   State
	plug context.Context
}

// New checks cfg and starts a Sender's goroutine; Close stops it.
func New(cfg Config) (*Sender, error) {
	target, err := Endpoint(cfg.URL)
	if err != nil {
		return nil, err
	}
	s := &Sender{
		target:   target,
		timeout:  cfg.Timeout,
		retries:  cfg.Retries,
		backoff:  cfg.Backoff,
		after:    cfg.After,
		client:   cfg.Client,
		log:      cfg.Log,
		onResult: cfg.OnResult,
		wake:     make(chan struct{}, 1),
		exited:   make(chan struct{}),
		mem:      newMemory(),
	}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	switch {
	case s.retries == 0:
		s.retries = DefaultRetries
	case s.retries < 0:
		s.retries = 0
	case s.retries > MaxRetries:
		s.retries = MaxRetries
	}
	if len(s.backoff) == 0 {
		s.backoff = defaultBackoff
	}
	if s.after == nil {
		s.after = time.After
	}
	if s.client == nil {
		s.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.ctx, s.stop = context.WithCancelCause(context.Background())
	s.plug, s.endPlug = context.WithCancelCause(s.ctx)
	go s.run()
	return s, nil
}

// URL returns the POST target, without the query.
func (s *Sender) URL() string { return s.target.String() }

// Update hands the sender the car's current state. It never blocks: the
// state is merged into what is known of the car, and when that improved and
// the SoC is known, the sender's goroutine posts it (replacing any state
// still waiting to be posted).
func (s *Sender) Update(st State) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed && s.mem.update(st) {
		s.handLocked()
	}
}

// Flush posts what Update held back for want of a SoC, such as the EVCCID
// of a car that gave none; call it when the car's session ends. It never
// blocks, and does nothing when everything known was handed on already.
func (s *Sender) Flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed && s.mem.flush() {
		s.handLocked()
	}
}

// NewPlugIn forgets the car: the next one's first SoC is sent even if equal,
// and what was still being posted for the previous car is abandoned (it
// would tell the SmartEVSE a wrong SoC).
func (s *Sender) NewPlugIn() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.endPlug(ErrNewPlugIn)
	s.plug, s.endPlug = context.WithCancelCause(s.ctx)
	s.mem = newMemory()
	s.pending = nil
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
	s.pending = &job{st: s.mem.best, plug: s.plug}
	s.handed++
	select {
	case s.wake <- struct{}{}:
	default: // the goroutine is awake already and takes pending next
	}
}

// take returns the state waiting to be posted; with a plug-in given, only one of that plug-in.
func (s *Sender) take(plug context.Context) (job, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.pending
	if j == nil || plug != nil && j.plug != plug {
		return job{}, false
	}
	s.pending = nil
	return *j, true
}

func (s *Sender) run() {
	defer close(s.exited)
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.wake:
		}
		for {
			j, ok := s.take(nil)
			if !ok {
				break
			}
			s.deliver(j)
		}
	}
}

// deliver posts j, retrying; a retry sends the newest state of the same plug-in.
func (s *Sender) deliver(j job) {
	d := Delivery{URL: s.URL()}
	start := time.Now()
attempts:
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			select {
			case <-s.after(s.backoff[min(attempt-1, len(s.backoff)-1)]):
			case <-j.plug.Done():
				d.Err = s.abandoned(j.plug)
				break attempts
			}
			if newer, ok := s.take(j.plug); ok {
				j.st = newer.st
			}
		}
		d.Attempts++
		d.State, d.Query = j.st, Query(j.st)
		var err *DeliveryError
		d.Status, err = s.post(j.plug, d.Query)
		if err == nil {
			d.Err = nil
			break
		}
		d.Err = err
		if !err.retry() || attempt >= s.retries {
			break
		}
		s.log.Debug("smartevse: attempt failed, retrying", "url", d.URL, "query", d.Query, "attempt", d.Attempts, "err", err)
	}
	d.Latency = time.Since(start)
	if d.Err == nil {
		s.log.Info("smartevse: delivered", "url", d.URL, "query", d.Query, "status", d.Status, "attempts", d.Attempts, "latency", d.Latency)
	} else {
		s.log.Warn("smartevse: not delivered", "url", d.URL, "query", d.Query, "status", d.Status, "attempts", d.Attempts, "latency", d.Latency, "err", d.Err)
	}
	if s.onResult != nil {
		s.onResult(d)
	}
}

func (s *Sender) abandoned(plug context.Context) *DeliveryError {
	reason := context.Cause(plug)
	if !errors.Is(reason, ErrNewPlugIn) {
		reason = ErrClosed
	}
	return &DeliveryError{URL: s.URL(), Err: reason}
}

// post makes one attempt, bounded by the timeout and by plug.
func (s *Sender) post(plug context.Context, query string) (int, *DeliveryError) {
	ctx, cancel := context.WithTimeout(plug, s.timeout)
	defer cancel()
	u := *s.target
	u.RawQuery = query
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), nil)
	if err != nil { // the target was checked by Endpoint
		return 0, &DeliveryError{URL: s.URL(), Err: ErrUnreachable, Cause: err}
	}
	req.Header.Set("User-Agent", "ccslink")
	resp, err := s.client.Do(req)
	if err != nil {
		if plug.Err() != nil {
			return 0, s.abandoned(plug)
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL and its query, which the message has already
		}
		e := &DeliveryError{URL: s.URL(), Err: ErrUnreachable, Cause: err}
		var ne net.Error
		switch {
		case ctx.Err() != nil || errors.As(err, &ne) && ne.Timeout():
			e.Err, e.Timeout, e.Cause = ErrTimeout, s.timeout, nil
			if t := s.client.Timeout; t > 0 && t < s.timeout {
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
		return resp.StatusCode, &DeliveryError{URL: s.URL(), Err: ErrNoModemSupport, Status: resp.StatusCode}
	}
	return resp.StatusCode, &DeliveryError{URL: s.URL(), Err: ErrStatus, Status: resp.StatusCode, Location: resp.Header.Get("Location")}
}
