package modemsim

import (
	"time"

	"github.com/ccslink/ccslink/clock"
)

// job is one delayed action, such as a CM_ATTEN_PROFILE.IND due 1 ms after a sound.
type job struct {
	at  time.Time
	seq uint64
	fn  func(now time.Time)
}

// scheduler keeps the delayed actions of one event loop and a single timer
// for the earliest. Only the loop's goroutine touches it.
type scheduler struct {
	clock   clock.Clock
	jobs    []job
	seq     uint64
	timer   clock.Timer
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
