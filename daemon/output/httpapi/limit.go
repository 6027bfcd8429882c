package httpapi

import (
	"bytes"
	"log"
	"log/slog"
	"regexp"
	"sync"
	"time"
)

// Lines of the same kind (a refused token, a refused client of /api/events)
// are logged at most logBurst times per logWindow: a client that retries in
// a loop cannot fill the disk. The first line after a quiet spell says how
// many were left out.
const (
	logBurst  = 5
	logWindow = time.Minute
)

// limiter counts the lines of one kind within the current window.
type limiter struct {
	mu         sync.Mutex
	start      time.Time
	n          int
	suppressed int
}

// allow reports whether a line may be logged at now, and how many lines were
// left out since the last one logged (to say in it).
func (l *limiter) allow(now time.Time) (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.start) >= logWindow || now.Before(l.start) {
		l.start, l.n = now, 0
	}
	if l.n >= logBurst {
		l.suppressed++
		return false, 0
	}
	l.n++
	suppressed, l.suppressed = l.suppressed, 0
	return true, suppressed
}

// warn logs msg at most as often as l allows, with the count of the lines
// left out before it.
func (s *Server) warn(l *limiter, msg string, args ...any) {
	ok, suppressed := l.allow(s.now())
	if !ok {
		return
	}
	if suppressed > 0 {
		args = append(args, "suppressed", suppressed)
	}
	s.log.Warn(msg, args...)
}

// tokenInText finds a token given in a query string, wherever a URL may be
// printed.
var tokenInText = regexp.MustCompile(`(?i)(token=)[^&\s"']*`)

// redact hides the value of every token= in b.
func redact(b []byte) []byte {
	return tokenInText.ReplaceAll(b, []byte("${1}REDACTED"))
}

// errorLog is the http.Server's own log (at debug level), with any token
// hidden: the standard library prints a panicking handler's value and
// other text a URL may be part of.
func errorLog(h slog.Handler) *log.Logger {
	return log.New(&redacting{slog.NewLogLogger(h, slog.LevelDebug)}, "", 0)
}

type redacting struct{ l *log.Logger }

func (r *redacting) Write(p []byte) (int, error) {
	r.l.Print(string(bytes.TrimRight(redact(p), "\n")))
	return len(p), nil
}
