// Package ratelog bounds how often a warning repeats in the log: at most one
// line per key (a peer's address) per interval; the lines held back are
// counted and reported with the next one. Its memory is bounded whatever
// the number of keys, so a flood from many sources cannot grow it.
package ratelog

import (
	"sync"
	"time"
)

// DefaultMaxKeys is the number of keys a Limiter tracks when none is given.
const DefaultMaxKeys = 4096

// Others is the key that stands for every key beyond the limit.
const Others = "(other peers)"

// Limiter decides which lines are logged. It is safe for concurrent use.
type Limiter struct {
	interval time.Duration
	maxKeys  int
	now      func() time.Time

	mu        sync.Mutex
	keys      map[string]*entry
	lastSweep time.Time
}

type entry struct {
	last time.Time // when a line was last let through
	held int       // lines held back since then
}

// New returns a Limiter that lets one line per key through per interval,
// tracking at most maxKeys keys (0 means DefaultMaxKeys); now tells the
// time (nil means time.Now).
func New(interval time.Duration, maxKeys int, now func() time.Time) *Limiter {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	if now == nil {
		now = time.Now
	}
	return &Limiter{interval: interval, maxKeys: maxKeys, now: now, keys: make(map[string]*entry)}
}

// Allow reports whether a line for key may be logged now and, if so, how
// many lines for it were held back before this one. Beyond maxKeys keys,
// new keys share the one entry of Others.
func (l *Limiter) Allow(key string) (ok bool, held int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	e := l.keys[key]
	if e == nil {
		if len(l.keys) >= l.maxKeys {
			l.sweep(now)
		}
		if len(l.keys) >= l.maxKeys {
			key = Others
			e = l.keys[key]
		}
		if e == nil {
			l.keys[key] = &entry{last: now}
			return true, 0
		}
	}
	if now.Sub(e.last) < l.interval {
		e.held++
		return false, 0
	}
	held = e.held
	e.last, e.held = now, 0
	return true, held
}

// sweep forgets the keys quiet for an interval, at most once an interval
// (so a flood of new keys costs no scan each); the lines they held back
// are counted under Others, which sweep keeps.
func (l *Limiter) sweep(now time.Time) {
	if !l.lastSweep.IsZero() && now.Sub(l.lastSweep) < l.interval {
		return
	}
	l.lastSweep = now
	lost := 0
	for k, e := range l.keys {
		if k != Others && now.Sub(e.last) >= l.interval {
			lost += e.held
			delete(l.keys, k)
		}
	}
	if lost > 0 {
		o := l.keys[Others]
		if o == nil {
			// Others' first line is due at once, carrying the count.
			o = &entry{last: now.Add(-l.interval)}
			l.keys[Others] = o
		}
		o.held += lost
	}
}

// Len returns the number of keys tracked.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keys)
}
