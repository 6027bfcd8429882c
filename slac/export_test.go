package slac

import "time"

// SetIdle makes e call f whenever its loop waits, with the number of frames
// it has handled and when it wakes next: tests on a fake clock learn from it
// that the EVSE has caught up.
func SetIdle(e *EVSE, f func(handled uint64, next time.Time, ok bool)) { e.hooks.idle = f }
