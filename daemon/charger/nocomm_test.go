package charger

import (
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/ccslink/ccslink/clock"
	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/slac"
	"github.com/ccslink/ccslink/record"
)

// quietSLAC is a cable that a car may be plugged into which never talks:
// each Match ends with ErrNoCar when the test closes its window, or
// matches the car the test plugs in. LastRequest is what the test set, and
// each call of it is told on asked.
type quietSLAC struct {
	matches chan struct{} // one for every Match begun
	window  chan struct{} // ends the Match in progress: no car
	plug    chan homeplug.MAC
	last    time.Time
	asked   chan struct{}
}

func (q *quietSLAC) Match(ctx context.Context) (slac.Result, error) {
	q.matches <- struct{}{}
	select {
	case <-q.window:
		return slac.Result{}, &slac.FailureError{Reason: slac.ReasonNoCar}
	case mac := <-q.plug:
		return slac.Result{EVMAC: mac, LinkUp: true}, nil
	case <-ctx.Done():
		return slac.Result{}, ctx.Err()
	}
}

func (q *quietSLAC) Watch(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
func (q *quietSLAC) LinkEvidence()                   {}
func (q *quietSLAC) V2GConnection(bool)              {}
func (q *quietSLAC) LastRequest() time.Time {
	q.asked <- struct{}{}
	return q.last
}

// events is a subscriber that hands on every event and every record ended.
type events struct {
	ch    chan record.Event
	ended chan *record.Session
}

func (e *events) Event(ev record.Event, _ *record.Session) { e.ch <- ev }
func (e *events) PlugInEnded(s *record.Session)            { e.ended <- s.Clone() }

var noCommT0 = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

// quietRig runs a charger over a quietSLAC on a fake clock.
func quietRig(t *testing.T, after time.Duration, last time.Time) (*Charger, *quietSLAC, *clock.Fake, *events) {
	t.Helper()
	sdpConn, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	q := &quietSLAC{matches: make(chan struct{}, 4), window: make(chan struct{}), plug: make(chan homeplug.MAC), last: last, asked: make(chan struct{}, 4)}
	fake := clock.NewFake(noCommT0)
	ch, err := New(Config{SLAC: q, SDP: sdpConn, V2G: ln, Clock: fake, NoCommAfter: after,
		Announce: netip.AddrPortFrom(netip.IPv6Loopback(), uint16(ln.Addr().(*net.TCPAddr).Port))})
	if err != nil {
		t.Fatal(err)
	}
	ev := &events{ch: make(chan record.Event, 16), ended: make(chan *record.Session, 4)}
	ch.Subscribe(ev)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ch.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		sdpConn.Close()
	})
	return ch, q, fake, ev
}

func nextEvent(t *testing.T, ev *events) record.Event {
	t.Helper()
	select {
	case e := <-ev.ch:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10 s")
	}
	return record.Event{}
}

// TestNoComm: a car plugged in that sends no CM_SLAC_PARM.REQ is published
// at slac.init_timeout from its 5 % PWM (a report that comes late counts
// from when the PWM began), as no_digital_communication with the words the
// owner reads; its plug-in outlasts SLAC's windows and ends when the pilot
// goes back to state A; the next plug-in is an idle one again.
func TestNoComm(t *testing.T) {
	for _, c := range []struct {
		after time.Duration
		words string
	}{
		{10 * time.Second, "the car did not start digital communication within 10 s: it will charge on AC without SoC"},
		{0, "the car did not start digital communication within 50 s: it will charge on AC without SoC"},
	} {
		ch, q, fake, ev := quietRig(t, c.after, time.Time{})
		<-q.matches
		if e := nextEvent(t, ev); e.Kind != record.KindSLACStarted || !e.At.Equal(noCommT0) {
			t.Fatalf("first event %v at %v", e.Kind, e.At)
		}
		bound := c.after
		if bound == 0 {
			bound = slac.TTEVSESLACInit
		}
		// The SmartEVSE's MODEM_WAIT, seen 2 s after it began.
		fake.Advance(2 * time.Second)
		n := fake.Created()
		ch.Plugged(true, noCommT0)
		fake.WaitCreated(n, nil)
		ch.Plugged(true, noCommT0) // the same plug-in again: nothing
		fake.Advance(bound - 2*time.Second - time.Millisecond)
		fake.Advance(time.Millisecond)
		<-q.asked
		e := nextEvent(t, ev)
		if e.Kind != record.KindEnded || e.End != record.EndNoComm || !e.At.Equal(noCommT0.Add(bound)) || e.Detail != c.words || e.Gone != "" {
			t.Fatalf("%v: event %+v", c.after, e)
		}
		if st := record.StateSLAC.Next(e); st != record.StateNoComm {
			t.Fatalf("state %q", st)
		}
		// SLAC's window passes: the plug-in goes on with a new Match.
		q.window <- struct{}{}
		<-q.matches
		fake.Advance(30 * time.Second)
		ch.Plugged(false, fake.Now())
		e = nextEvent(t, ev)
		if e.Kind != record.KindEnded || e.End != record.EndNoComm || e.Gone != "the control pilot went back to state A" || !e.At.Equal(noCommT0.Add(bound+30*time.Second)) {
			t.Fatalf("%v: end %+v", c.after, e)
		}
		rec := <-ev.ended
		b, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		want := `{"soc":{"value":0,"known":false},"full_soc":{"value":0,"known":false},"bulk_soc":{"value":0,"known":false},` +
			`"energy_capacity_wh":{"value":0,"known":false},"energy_request_wh":{"value":0,"known":false},"ev_max_voltage_v":{"value":0,"known":false},` +
			`"ev_max_current_a":{"value":0,"known":false},"ev_max_power_w":{"value":0,"known":false},` +
			`"phases":{"slac_start":"2026-12-07T12:00:00Z","ended":"` + noCommT0.Add(bound+30*time.Second).Format(time.RFC3339) + `"},` +
			`"end":"no_digital_communication","end_detail":"` + c.words + `","gone":"the control pilot went back to state A"}`
		if string(b) != want || rec.PlugIn != 1 || rec.Summary() != c.words {
			t.Fatalf("%v: plug-in %d, record\n got %s\nwant %s", c.after, rec.PlugIn, b, want)
		}
		if st := record.StateNoComm.AfterPlugIn(rec); st != record.StateWaiting {
			t.Fatalf("after the car left: %q", st)
		}
		<-q.matches
		if e := nextEvent(t, ev); e.Kind != record.KindSLACStarted {
			t.Fatalf("the next plug-in begins with %v", e.Kind)
		}
	}
}

// TestNoCommCarTalks: a car that asked within the bound (even a second
// before the report of its PWM) is no car that does not talk; neither is
// one that matched, whose bound stops.
func TestNoCommCarTalks(t *testing.T) {
	ch, q, fake, ev := quietRig(t, 10*time.Second, noCommT0.Add(4*time.Second))
	<-q.matches
	nextEvent(t, ev) // slac_started
	fake.Advance(6 * time.Second)
	n := fake.Created()
	ch.Plugged(true, noCommT0.Add(5*time.Second))
	fake.WaitCreated(n, nil)
	fake.Advance(9 * time.Second)
	<-q.asked
	q.window <- struct{}{} // the car's attempt ended in nothing
	if e := nextEvent(t, ev); e.Kind != record.KindEnded || e.End != record.EndNoCar {
		t.Fatalf("event %+v", e)
	}
	if rec := <-ev.ended; rec.End != record.EndNoCar {
		t.Fatalf("end %v", rec.End)
	}

	// A new plug-in, matched within its bound.
	<-q.matches
	nextEvent(t, ev) // slac_started
	n = fake.Created()
	ch.Plugged(false, fake.Now())
	ch.Plugged(true, fake.Now())
	fake.WaitCreated(n, nil)
	q.plug <- homeplug.MAC{0x04, 0x65, 0x65, 0x00, 0x64, 0xc3}
	if e := nextEvent(t, ev); e.Kind != record.KindMatched {
		t.Fatalf("event %v", e.Kind)
	}
	// The setup timer is the only one left running.
	fake.WaitCreated(n+1, nil)
	if p := fake.Pending(); p != 1 {
		t.Fatalf("%d timers running after the match, want the setup timer alone", p)
	}
}
