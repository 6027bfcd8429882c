package clock_test

import (
	"testing"
	"time"

	"github.com/ccslink/ccslink/clock"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// TestFake: timers fire in order during Advance, stopped ones never.
func TestFake(t *testing.T) {
	c := clock.NewFake(t0)
	a := c.NewTimer(300 * time.Millisecond)
	b := c.NewTimer(100 * time.Millisecond)
	s := c.NewTimer(200 * time.Millisecond)
	if !s.Stop() || s.Stop() {
		t.Fatal("Stop reports wrongly")
	}
	if next, ok := c.Next(); !ok || !next.Equal(t0.Add(100*time.Millisecond)) {
		t.Fatalf("next %v %v", next, ok)
	}
	c.Advance(150 * time.Millisecond)
	select {
	case at := <-b.C():
		if !at.Equal(t0.Add(100 * time.Millisecond)) {
			t.Fatalf("fired at %v", at)
		}
	default:
		t.Fatal("due timer did not fire")
	}
	if b.Stop() {
		t.Fatal("Stop of a fired timer reports it pending")
	}
	select {
	case <-a.C():
		t.Fatal("timer fired early")
	default:
	}
	c.Set(t0) // never backwards
	if !c.Now().Equal(t0.Add(150 * time.Millisecond)) {
		t.Fatalf("Set moved the clock back to %v", c.Now())
	}
	c.Set(t0.Add(time.Second))
	if at := <-a.C(); !at.Equal(t0.Add(300 * time.Millisecond)) {
		t.Fatalf("fired at %v", at)
	}
	select {
	case <-s.C():
		t.Fatal("stopped timer fired")
	default:
	}
	if _, ok := c.Next(); ok || c.Pending() != 0 || c.Created() != 3 || !c.Now().Equal(t0.Add(time.Second)) {
		t.Fatalf("pending %d created %d now %v", c.Pending(), c.Created(), c.Now())
	}
}

// TestFakeImmediate: a timer of no duration has fired when it is made.
func TestFakeImmediate(t *testing.T) {
	c := clock.NewFake(t0)
	select {
	case at := <-c.NewTimer(0).C():
		if !at.Equal(t0) {
			t.Fatalf("fired at %v", at)
		}
	default:
		t.Fatal("zero timer did not fire")
	}
	if c.Pending() != 0 || c.Created() != 1 {
		t.Fatalf("pending %d created %d", c.Pending(), c.Created())
	}
}

// TestFakeWaitCreated: WaitCreated returns once another goroutine made a
// timer, or when done is closed.
func TestFakeWaitCreated(t *testing.T) {
	c := clock.NewFake(t0)
	made := make(chan struct{})
	go func() {
		c.NewTimer(time.Second)
		close(made)
	}()
	c.WaitCreated(0, nil)
	if c.Created() != 1 {
		t.Fatalf("created %d", c.Created())
	}
	<-made
	done := make(chan struct{})
	close(done)
	c.WaitCreated(5, done) // returns although no timer comes
	if c.Created() != 1 {
		t.Fatalf("created %d", c.Created())
	}
}

// TestReal: the real clock's timers fire and stop like time.Timer's.
func TestReal(t *testing.T) {
	var c clock.Clock = clock.Real{}
	before := time.Now()
	if now := c.Now(); now.Before(before) {
		t.Fatalf("Now %v before %v", now, before)
	}
	if at := <-c.NewTimer(time.Millisecond).C(); at.Before(before) {
		t.Fatalf("fired at %v", at)
	}
	if tm := c.NewTimer(time.Hour); !tm.Stop() {
		t.Fatal("Stop of a pending timer reports false")
	}
}
