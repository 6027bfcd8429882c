// Package httpapi serves the charger's plug-ins over HTTP on the local
// network, and is the charger's subscriber that feeds them:
//
//   - GET /api/state: the plug-in in progress, or the last one while the
//     charger waits: the charger's state (a record.State: waiting, slac,
//     session, reading, done, no-car, error or no-communication, as the
//     MQTT state topic says it), words that say it to people in more detail (such as "the
//     car is charging"), the car's values (null until the car sent them),
//     EVCCID, protocol, EV MAC, phase times, soc_age_s and the whole record.
//   - GET /api/sessions: the last Config.Keep plug-ins with a car, newest
//     first, from Config.History (the session history kept across restarts).
//   - GET /api/events: server-sent events: first "state" (with the whole
//     record), then one per record.Event named by its kind, and
//     "plugin_ended"; each carries the state and the summary line. What a
//     charge loop repeats (a request of one message, the car's values from
//     it) goes out at most once per Config.UpdateInterval (1 s): the newest,
//     with "coalesced" saying how many it stands for; any other event goes
//     out at once, what is held before it.
//   - GET /metrics: Config.Metrics, when set.
//   - GET /: a live page, embedded; open it with ?token= when a token is set.
//
// With a token, every request needs "Authorization: Bearer <token>"; only
// the page and /api/events take it in the query string, for a browser. It
// is never logged: refused requests are, with the client's address and
// rate-limited, and the query string is not.
package httpapi

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/ccslink/ccslink/clock"
	"github.com/ccslink/ccslink/record"
)

// DefaultMaxEventClients is Config.MaxEventClients when 0: a few pages open
// on phones and tablets, and a home automation following the events.
const DefaultMaxEventClients = 16

// DefaultKeep is the number of plug-ins /api/sessions keeps when Config.Keep is 0.
const DefaultKeep = 50

// Config configures a Server; the zero value serves nothing but Handler.
type Config struct {
	// Listen is the address Serve listens on, e.g. 127.0.0.1:8080.
	Listen string
	// Token, when set, is required of every request, as
	// "Authorization: Bearer <token>"; the page and /api/events also take
	// "?token=<token>", for a browser.
	Token string
	// History, when set, is the session history /api/sessions shows (a
	// history.History, subscribed to the charger before this server);
	// nil keeps the plug-ins seen since the start, in memory.
	History History
	// Keep is how many plug-ins /api/sessions returns (DefaultKeep when 0).
	Keep int
	// MaxEventClients bounds the clients of /api/events at once
	// (DefaultMaxEventClients when 0); one more is refused with 503.
	MaxEventClients int
	// Metrics, when set, is served at /metrics.
	Metrics http.Handler
	// UpdateInterval bounds how often /api/events sends the events a
	// charge loop repeats (a request of one message, or the car's values
	// from it): at most one per interval, the newest then, with the values
	// of those it stands for; every other event goes out at once, what is
	// held before it. Zero means DefaultUpdateInterval; a negative one
	// means no bound.
	UpdateInterval time.Duration
	// Clock times UpdateInterval; nil means clock.Real.
	Clock clock.Clock
	// Log receives what goes wrong (nil discards).
	Log *slog.Logger
}

// History is the session history as the API reads it.
type History interface {
	// Sessions returns the plug-ins with a car kept, oldest first.
	Sessions() []*record.Session
}

// ErrExposed is what ExposedError matches with errors.Is.
var ErrExposed = errors.New("httpapi: the API would be open to the network without a token")

// ExposedError refuses an address other than loopback without a token.
type ExposedError struct{ Listen string }

// Error says what to do: set a token or listen on loopback.
func (e *ExposedError) Error() string {
	return fmt.Sprintf("--http %s exposes the API to the network: set a token (http.token) or listen on 127.0.0.1", e.Listen)
}

// Is reports whether target is ErrExposed.
func (e *ExposedError) Is(target error) bool { return target == ErrExposed }

// AddressError reports a listen address that is not host:port, or one that cannot be listened on.
type AddressError struct {
	Listen string
	Err    error
}

// Error names the address and why it cannot be used.
func (e *AddressError) Error() string {
	return fmt.Sprintf("--http %s: cannot listen there (want host:port, e.g. 127.0.0.1:8080; is the port free?): %v", e.Listen, e.Err)
}

// Unwrap returns the parse or listen error.
func (e *AddressError) Unwrap() error { return e.Err }

// Server is the HTTP API and page, and the charger's subscriber that feeds
// them. Its Event and PlugInEnded never block: events go to the clients'
// bounded buffers.
type Server struct {
	cfg Config
	log *slog.Logger
	mux *http.ServeMux

	// Seams for tests.
	now         func() time.Time
	heartbeat   func() (<-chan time.Time, func())
	onSubscribe func()
	onLeave     func() // a client of /api/events is gone

	mu       sync.Mutex
	st       record.State      // stepped on every event and plug-in end, as MQTT's
	cur      *record.Session   // the plug-in in progress, nil before the first
	ended    bool              // cur's plug-in is over
	last     *record.Session   // the last finished plug-in with a car
	sessions []*record.Session // without a History
	clients  map[*client]struct{}

	// The pace of /api/events: UpdateInterval (0: none), the events held.
	interval time.Duration
	clk      clock.Clock
	paced    map[paceKey]*paced
	seq      uint64 // events held so far
	armed    bool   // a timer will release what is held

	authLog, fullLog limiter // the warnings a client can cause, rate-limited
}

// New checks cfg and returns a server; /api/state shows the last plug-in
// of cfg.History until a car comes.
func New(cfg Config) (*Server, error) {
	if cfg.Listen != "" {
		loop, err := loopback(cfg.Listen)
		if err != nil {
			return nil, &AddressError{Listen: cfg.Listen, Err: err}
		}
		if !loop && cfg.Token == "" {
			return nil, &ExposedError{Listen: cfg.Listen}
		}
	}
	if cfg.Keep <= 0 {
		cfg.Keep = DefaultKeep
	}
	if cfg.MaxEventClients <= 0 {
		cfg.MaxEventClients = DefaultMaxEventClients
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg: cfg, log: cfg.Log, now: time.Now, clients: map[*client]struct{}{}, st: record.StateWaiting,
		interval: cfg.UpdateInterval, clk: cfg.Clock, paced: map[paceKey]*paced{},
		heartbeat: func() (<-chan time.Time, func()) {
			t := time.NewTicker(HeartbeatInterval)
			return t.C, t.Stop
		},
	}
	switch {
	case s.interval == 0:
		s.interval = DefaultUpdateInterval
	case s.interval < 0:
		s.interval = 0
	}
	if s.clk == nil {
		s.clk = clock.Real{}
	}
	if cfg.History != nil {
		if l := cfg.History.Sessions(); len(l) > 0 {
			s.last = l[len(l)-1]
		}
	}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET /api/state", s.serveState)
	s.mux.HandleFunc("GET /api/sessions", s.serveSessions)
	s.mux.HandleFunc("GET /api/events", s.serveEvents)
	if cfg.Metrics != nil {
		s.mux.Handle("GET /metrics", cfg.Metrics)
	}
	s.mux.HandleFunc("GET /{$}", servePage)
	return s, nil
}

// loopback reports whether addr (host:port) listens on loopback only.
func loopback(addr string) (bool, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return false, err
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return false, err
	}
	if host == "localhost" {
		return true, nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		// A name other than localhost may resolve to anything, and an
		// empty host listens on every interface.
		return false, nil
	}
	return ip.IsLoopback(), nil
}

// Handler returns the API and the page, with the token check.
func (s *Server) Handler() http.Handler {
	if s.cfg.Token == "" {
		return s.mux
	}
	want := []byte(s.cfg.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		got, why := "", "without the token"
		switch h := r.Header.Get("Authorization"); {
		case h != "":
			if t, ok := bearer(h); ok {
				got, why = t, "with a wrong token"
			} else {
				why = `whose Authorization header is not "Bearer <token>"`
			}
		case !q.Has("token"):
		case queryToken(r.URL.Path):
			got, why = q.Get("token"), "with a wrong token"
		default:
			why = "with the token in its address, which only the page and /api/events take (send it as Authorization: Bearer <token>)"
		}
		if got == "" || subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			s.warn(&s.authLog, "refused an API request "+why, "client", r.RemoteAddr, "path", logPath(r.URL.Path))
			w.Header().Set("WWW-Authenticate", `Bearer realm="ccslink"`)
			http.Error(w, "this ccslink API needs its token: send Authorization: Bearer <token> (the page and /api/events also take ?token=<token> in the address)", http.StatusUnauthorized)
			return
		}
		if q.Has("token") {
			// Past the check, nothing below sees the token: no handler or
			// log line can print it.
			q.Del("token")
			r2 := *r
			u := *r.URL
			u.RawQuery = q.Encode()
			r2.URL, r2.RequestURI = &u, u.RequestURI()
			r = &r2
		}
		s.mux.ServeHTTP(w, r)
	})
}

// logPath is a request's path as a log line shows it: a client chooses it,
// so its length is bounded.
func logPath(p string) string {
	const n = 64
	if len(p) > n {
		return strings.ToValidUTF8(p[:n], "") + "…"
	}
	return p
}

// queryToken reports whether path takes the token in its query string: the
// page, opened from a bookmark, and its event stream, since a browser's
// EventSource cannot send a header. The page's other requests send it as
// a header, as any other client must.
func queryToken(path string) bool { return path == "/" || path == "/api/events" }

// bearer returns the token of an Authorization header of the Bearer scheme,
// whose name is case-insensitive (RFC 9110 11.1).
func bearer(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(tok), true
}

// Serve listens on cfg.Listen and serves until ctx ends, then shuts down
// gracefully.
func (s *Server) Serve(ctx context.Context) error {
	if s.cfg.Listen == "" {
		return &AddressError{Listen: s.cfg.Listen, Err: errors.New("no address given")}
	}
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return &AddressError{Listen: s.cfg.Listen, Err: err}
	}
	return s.ServeListener(ctx, ln)
}

// ShutdownTimeout bounds the wait for requests in progress when Serve stops.
const ShutdownTimeout = 5 * time.Second

// ServeListener serves on ln until ctx ends; it closes ln. Without a token
// it refuses a listener that is not on loopback.
func (s *Server) ServeListener(ctx context.Context, ln net.Listener) error {
	if s.cfg.Token == "" {
		if a, ok := ln.Addr().(*net.TCPAddr); ok && !a.IP.IsLoopback() {
			ln.Close()
			return &ExposedError{Listen: a.String()}
		}
	}
	base, stop := context.WithCancel(context.Background())
	defer stop()
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       time.Minute,
		BaseContext:       func(net.Listener) context.Context { return base },
		ErrorLog:          errorLog(s.log.Handler()),
	}
	failed := make(chan error, 1)
	go func() { failed <- srv.Serve(ln) }()
	select {
	case err := <-failed:
		return fmt.Errorf("the HTTP API stopped: %w", err)
	case <-ctx.Done():
	}
	stop() // ends the event streams, which would hold Shutdown forever
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	<-failed
	return nil
}
