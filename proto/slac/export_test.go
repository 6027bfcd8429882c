package slac

import (
	"time"

	"github.com/ccslink/ccslink/proto/homeplug"
)

// SetIdle makes e call f whenever its loop waits, with the number of frames
// and evidence signals it has handled and when it wakes next: tests on a
// fake clock learn from it that the EVSE has caught up.
func SetIdle(e *EVSE, f func(handled, evidenced uint64, next time.Time, ok bool)) { e.hooks.idle = f }

// Watcher is the Machine of EVSE.Watch, for tests.
type Watcher = watcher

// NewWatcher returns the Machine of EVSE.Watch for car ev matched by m.
func NewWatcher(m *Matcher, ev homeplug.MAC, poll time.Duration, now time.Time) *Watcher {
	w := new(watcher)
	w.reset(m, ev, poll, now)
	return w
}

// Err returns why the watch ended, or nil.
func (w *watcher) Err() error { return w.err }

// ConfirmPoll is how soon after a first "no link" the watch asks again.
const ConfirmPoll = confirmPoll
