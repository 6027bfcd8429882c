package slac_test

import (
	"errors"
	"testing"
	"time"

	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/slac"
)

// runPresence ticks p at its deadlines up to end and returns whether it ended.
func runPresence(p *slac.Presence, end time.Time) bool {
	for {
		if _, _, gone := p.Ended(); gone {
			return true
		}
		dl, ok := p.Deadline()
		if !ok || dl.After(end) {
			return false
		}
		p.Tick(dl)
	}
}

func wantEnded(t *testing.T, p *slac.Presence, r slac.Reason, at time.Time) {
	t.Helper()
	got, when, ok := p.Ended()
	if !ok || got != r || !when.Equal(at) {
		t.Fatalf("ended %v: %v at %v, want %v at %v", ok, got, when.Sub(t0), r, at.Sub(t0))
	}
}

func wantPresent(t *testing.T, p *slac.Presence) {
	t.Helper()
	if r, at, ok := p.Ended(); ok {
		t.Fatalf("ended: %v at %v", r, at.Sub(t0))
	}
}

// TestPresenceTalkingCar: a modem that never reports the link does not end
// the plug-in of a car that talks; the car's silence does, DefaultQuiet
// after its last message, to the nanosecond.
func TestPresenceTalkingCar(t *testing.T) {
	p := slac.NewPresence(slac.PresenceConfig{}, t0)
	for i := range 60 {
		now := t0.Add(time.Duration(i) * time.Second)
		p.LinkStatus(now, false)
		if i%2 == 0 {
			p.Heard(now.Add(10 * time.Millisecond))
		}
		if runPresence(p, now.Add(999*time.Millisecond)) {
			r, at, _ := p.Ended()
			t.Fatalf("ended at %v (%v) while the car talks", at.Sub(t0), r)
		}
	}
	last := t0.Add(58*time.Second + 10*time.Millisecond)
	if !p.ModemDown() || p.Fallback() {
		t.Fatalf("modem down %v, fallback %v", p.ModemDown(), p.Fallback())
	}
	if !runPresence(p, last.Add(time.Hour)) {
		t.Fatal("a silent car with no link never ends")
	}
	wantEnded(t, p, slac.ReasonLinkLost, last.Add(slac.DefaultQuiet))
	if p.Flaps() != 0 {
		t.Fatalf("%d flaps", p.Flaps())
	}
}

// TestPresenceClosed: the car's V2G connection closed and the modem
// reporting no link end the plug-in at once, whichever comes last.
func TestPresenceClosed(t *testing.T) {
	p := slac.NewPresence(slac.PresenceConfig{}, t0)
	p.Connection(t0.Add(time.Second), true)
	p.LinkStatus(t0.Add(2*time.Second), false)
	p.LinkStatus(t0.Add(2250*time.Millisecond), false) // confirmed, but the car talks
	p.Heard(t0.Add(3 * time.Second))
	wantPresent(t, p)
	p.Connection(t0.Add(4*time.Second), false)
	wantEnded(t, p, slac.ReasonClosedNoLink, t0.Add(4*time.Second))

	// Closed first, with the link up: the car charges on; the modem's
	// confirmed "no link" ends it.
	p = slac.NewPresence(slac.PresenceConfig{}, t0)
	p.LinkStatus(t0, true)
	p.Connection(t0.Add(time.Second), true)
	p.Connection(t0.Add(2*time.Second), false)
	if runPresence(p, t0.Add(time.Hour)) {
		t.Fatal("ended with the link up")
	}
	p.LinkStatus(t0.Add(time.Hour), false)
	wantPresent(t, p) // one "no link" may be a flap
	p.LinkStatus(t0.Add(time.Hour+slac.ConfirmPoll), false)
	wantEnded(t, p, slac.ReasonClosedNoLink, t0.Add(time.Hour+slac.ConfirmPoll))
	if p.Flaps() != 0 {
		t.Fatalf("%d flaps", p.Flaps())
	}

	// A new connection after a closed one: the car is back.
	p = slac.NewPresence(slac.PresenceConfig{}, t0)
	p.Connection(t0, false)
	p.Connection(t0.Add(time.Second), true)
	p.LinkStatus(t0.Add(2*time.Second), false)
	p.LinkStatus(t0.Add(3*time.Second), false)
	wantPresent(t, p)
}

// TestPresenceFlaps: a "no link" between two "up"s is counted, never
// fatal, even with the car silent; so is a confirmed one while the car talks.
func TestPresenceFlaps(t *testing.T) {
	p := slac.NewPresence(slac.PresenceConfig{}, t0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	p.LinkStatus(at(1), true)
	p.LinkStatus(at(10), false) // the car silent for 10 s
	wantPresent(t, p)
	p.LinkStatus(at(10).Add(slac.ConfirmPoll), true)
	p.Heard(at(20))
	p.LinkStatus(at(21), false)
	p.LinkStatus(at(22), false)
	p.LinkStatus(at(23), false)
	p.LinkStatus(at(24), true)
	if runPresence(p, at(1000)) {
		r, when, _ := p.Ended()
		t.Fatalf("ended: %v at %v", r, when.Sub(t0))
	}
	if p.Flaps() != 2 {
		t.Fatalf("%d flaps, want 2", p.Flaps())
	}
	// A "no link" before the first "up" is no flap.
	p = slac.NewPresence(slac.PresenceConfig{}, t0)
	p.LinkStatus(at(1), false)
	p.LinkStatus(at(2), true)
	if p.Flaps() != 0 {
		t.Fatalf("%d flaps before any up", p.Flaps())
	}
}

// TestPresenceFallback: a modem that stops answering, or answers oddly, no
// longer counts; the car's traffic alone decides, and a silence of
// DefaultSilence ends the plug-in. A proper answer makes it count again.
func TestPresenceFallback(t *testing.T) {
	p := slac.NewPresence(slac.PresenceConfig{}, t0)
	p.LinkStatus(t0, false)
	p.LinkStatus(t0.Add(250*time.Millisecond), false)
	for i := 1; i <= 3; i++ {
		p.Unanswered(t0.Add(time.Duration(i) * time.Second))
		p.Heard(t0.Add(time.Duration(i) * time.Second))
	}
	if !p.Fallback() || p.ModemDown() {
		t.Fatalf("fallback %v, modem down %v after 3 unanswered polls", p.Fallback(), p.ModemDown())
	}
	heard := t0.Add(30 * time.Second)
	p.Heard(heard)
	if runPresence(p, heard.Add(slac.DefaultSilence-time.Nanosecond)) {
		t.Fatal("ended before DefaultSilence")
	}
	p.Tick(heard.Add(slac.DefaultSilence))
	wantEnded(t, p, slac.ReasonSilent, heard.Add(slac.DefaultSilence))

	// Odd answers, then a proper "no link" twice: the modem counts again.
	p = slac.NewPresence(slac.PresenceConfig{Quiet: 2 * time.Second, Silence: 20 * time.Second}, t0)
	p.OddAnswer(t0.Add(time.Second))
	if !p.Fallback() {
		t.Fatal("an odd answer leaves the modem's word counting")
	}
	p.LinkStatus(t0.Add(2*time.Second), false)
	p.LinkStatus(t0.Add(3*time.Second), false)
	if p.Fallback() || !p.ModemDown() {
		t.Fatalf("fallback %v, modem down %v after proper answers", p.Fallback(), p.ModemDown())
	}
	wantEnded(t, p, slac.ReasonLinkLost, t0.Add(3*time.Second)) // silent since t0, Quiet 2 s

	// "No link", an odd answer, "no link": not two in a row, so no end yet.
	p = slac.NewPresence(slac.PresenceConfig{Quiet: 2 * time.Second, Silence: 20 * time.Second}, t0)
	p.LinkStatus(t0.Add(time.Second), false)
	p.OddAnswer(t0.Add(2 * time.Second))
	p.LinkStatus(t0.Add(3*time.Second), false)
	if !p.Unconfirmed() || p.ModemDown() {
		t.Fatalf("unconfirmed %v, modem down %v after no link, odd, no link", p.Unconfirmed(), p.ModemDown())
	}
	if _, _, gone := p.Ended(); gone {
		t.Fatal("ended on an unconfirmed no link")
	}
	p.LinkStatus(t0.Add(3250*time.Millisecond), false)
	wantEnded(t, p, slac.ReasonLinkLost, t0.Add(3250*time.Millisecond))

	// With the link up, a silent car stays: it charges on, or sleeps.
	p = slac.NewPresence(slac.PresenceConfig{}, t0)
	p.LinkStatus(t0, true)
	if _, ok := p.Deadline(); ok || runPresence(p, t0.Add(24*time.Hour)) {
		t.Fatal("a silent car with the link up is gone")
	}
}

// TestWatcherEndsAtQuietDeadline: with the modem's "no link" confirmed and
// the car silent and the modem answering every poll, the watch ends at the
// tick of Quiet's deadline, not at its next poll or frame.
func TestWatcherEndsAtQuietDeadline(t *testing.T) {
	at, frames := matchingFrames(carA, evseMAC)
	m := keyed(slac.NewMatcher(slac.Config{MAC: evseMAC, LinkPoll: -1}, t0), t0)
	for i, fr := range frames {
		m.Handle(t0.Add(at[i]), fr)
	}
	start := t0.Add(2 * time.Second)
	w := slac.NewWatcher(m, carA.mac, time.Second, start)
	w.Tick(start) // the first poll
	down := encode(evseMAC, modemMAC, &homeplug.PlLnkStatusCnf{LinkStatus: homeplug.LinkDown})
	w.Handle(start.Add(10*time.Millisecond), down)
	w.Tick(start.Add(260 * time.Millisecond)) // the confirming poll
	w.Handle(start.Add(270*time.Millisecond), down)
	quiet := start.Add(slac.DefaultQuiet)
	if dl, ok := w.Deadline(); !ok || !dl.Before(quiet) {
		t.Fatalf("deadline %v, %v: the next poll is due before Quiet's", dl.Sub(start), ok)
	}
	for !w.Done() {
		dl, ok := w.Deadline()
		if !ok || dl.After(quiet) {
			t.Fatalf("not done at %v; next deadline %v", quiet.Sub(start), dl.Sub(start))
		}
		for _, out := range w.Tick(dl) {
			if fr, err := homeplug.Decode(out); err == nil && fr.MMType == homeplug.VSPlLnkStatusReq {
				w.Handle(dl.Add(10*time.Millisecond), down) // the modem answers every poll
			}
		}
	}
	var fe *slac.FailureError
	if !errors.As(w.Err(), &fe) || fe.Reason != slac.ReasonLinkLost || !fe.At.Equal(quiet) {
		t.Fatalf("ended with %v", w.Err())
	}
}
