package modemsim

import "time"

// Clock tells the time and makes timers, so tests can move the modems'
// delays (restart, attenuation profile) by hand. slac's FakeClock fits it
// through a one-line adapter.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// NewTimer returns a timer that sends the time on its channel once d has passed.
	NewTimer(d time.Duration) Timer
}

// Timer is a one-shot timer made by a Clock.
type Timer interface {
	// C returns the channel the timer sends the time on when it fires.
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it was still pending.
	Stop() bool
}

// RealClock is the Clock of package time.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// NewTimer returns a time.Timer.
func (RealClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (t realTimer) C() <-chan time.Time { return t.t.C }
func (t realTimer) Stop() bool          { return t.t.Stop() }

// job is one delayed action, such as a CM_ATTEN_PROFILE.IND due 1 ms after a sound.
type job struct {
	at  time.Time
	seq uint64
	fn  func(now time.Time)
}

// scheduler keeps the delayed actions of one event loop and a single timer
// for the earliest. Only the loop's goroutine touches it.
type scheduler struct {
	clock   Clock
	jobs    []job
	seq     uint64
	timer   Timer
	timerAt time.Time
}

// add schedules fn at at. The timer is armed before add returns, so a test
// that has seen the frame which caused the job can advance a fake clock.
func (s *scheduler) add(at time.Time, fn func(now time.Time)) {
	s.seq++
	j := job{at: at, seq: s.seq, fn: fn}
	i := len(s.jobs)
	for i > 0 && s.jobs[i-1].at.After(at) {
		i--
	}
	s.jobs = append(s.jobs, job{})
	copy(s.jobs[i+1:], s.jobs[i:])
	s.jobs[i] = j
	if s.timer == nil || at.Before(s.timerAt) {
		s.arm()
	}
}

func (s *scheduler) arm() {
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	if len(s.jobs) == 0 {
		return
	}
	s.timerAt = s.jobs[0].at
	s.timer = s.clock.NewTimer(s.timerAt.Sub(s.clock.Now()))
}

// C returns the channel of the pending timer, or nil (never ready) when idle.
func (s *scheduler) C() <-chan time.Time {
	if s.timer == nil {
		return nil
	}
	return s.timer.C()
}

// fire runs the jobs that are due and re-arms the timer for the rest.
func (s *scheduler) fire() {
	s.timer = nil
	now := s.clock.Now()
	for len(s.jobs) > 0 && !s.jobs[0].at.After(now) {
		j := s.jobs[0]
		s.jobs = s.jobs[1:]
		j.fn(now)
	}
	s.arm()
}

// stop drops the pending timer; jobs never run after it.
func (s *scheduler) stop() {
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	s.jobs = nil
}
