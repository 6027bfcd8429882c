package smartevse

import (
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ccslink/ccslink/clock"
	"github.com/ccslink/ccslink/proto/v2g/message"
	"github.com/ccslink/ccslink/record"
)

// socState is a state with a SoC and the Ioniq's EVCCID.
func socState(soc int) State {
	return State{SoC: soc, FullSoC: -1, EnergyCapacity: -1, EnergyRequest: -1, EVCCID: "0465650064c3"}
}

func socQuery(soc int) string {
	return fmt.Sprintf("current_soc=%d&full_soc=-1&energy_capacity=-1&energy_request=-1&evccid=0465650064c3", soc)
}

// awaitTimer waits until c has made more than n timers, within the watchdog.
func awaitTimer(t *testing.T, c *clock.Fake, n int) {
	t.Helper()
	gaveUp := make(chan struct{})
	stop := time.AfterFunc(watchdog, func() { close(gaveUp) })
	defer stop.Stop()
	c.WaitCreated(n, gaveUp)
	if c.Created() <= n {
		t.Fatalf("no timer after %d within %v: the sender does not wait for the update interval", n, watchdog)
	}
}

// settled reports whether the sender posts nothing and holds nothing due.
func (s *Sender) settled() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running == nil && (s.pending == nil || s.pending.due.After(s.clk.Now()))
}

// awaitSettled waits until the sender has posted what is due, within the watchdog.
func awaitSettled(t *testing.T, s *Sender) {
	t.Helper()
	deadline := time.Now().Add(watchdog)
	for !s.settled() {
		if time.Now().After(deadline) {
			t.Fatalf("the sender did not settle within %v", watchdog)
		}
		runtime.Gosched()
	}
}

// awaitIdle waits, within the watchdog, until the sender is idle: it
// clears its delivery just after the delivery's result is out.
func awaitIdle(t *testing.T, s *Sender) bool {
	t.Helper()
	deadline := time.Now().Add(watchdog)
	for !s.idle() {
		if time.Now().After(deadline) {
			return false
		}
		runtime.Gosched()
	}
	return true
}

// idle reports whether the sender holds nothing to post and posts nothing.
func (s *Sender) idle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pending == nil && s.running == nil
}

// TestSenderUpdateIntervalFlipping: a car whose SoC flips 40/41 a thousand
// times within one interval makes the first POST at once and one more, with
// the newest state, when the interval has passed: two POSTs, not a thousand.
func TestSenderUpdateIntervalFlipping(t *testing.T) {
	e := newEVSE(t, nil)
	c := clock.NewFake(t0)
	s, results := start(t, Config{URL: e.srv.URL, Clock: c, UpdateInterval: 5 * time.Second}, nil)
	s.Update(socState(40))
	if d := next(t, results, "first delivery"); d.Err != nil || d.Query != socQuery(40) {
		t.Fatalf("first delivery %+v, want it at once", d)
	}
	for i := range 1000 {
		s.Update(socState(41 - i%2)) // 41, 40, 41, ..., 40
	}
	s.Update(socState(41))
	if n := s.handedCount(); n != 1002 {
		t.Fatalf("%d states handed on, want 1002: each flip is news", n)
	}
	awaitTimer(t, c, 0)
	if next, ok := c.Next(); !ok || !next.Equal(t0.Add(5*time.Second)) {
		t.Fatalf("the sender waits until %v (%v), want the first POST plus 5 s", next, ok)
	}
	c.Advance(5*time.Second - time.Millisecond)
	if c.Pending() != 1 || s.idle() {
		t.Fatalf("%d timers pending, sender idle %v: the newest went before the interval passed", c.Pending(), s.idle())
	}
	c.Advance(time.Millisecond)
	if d := next(t, results, "second delivery"); d.Err != nil || d.Query != socQuery(41) || d.Attempts != 1 {
		t.Fatalf("second delivery %+v, want the newest state after the interval", d)
	}
	if !awaitIdle(t, s) {
		t.Fatal("the sender still holds a state after posting the newest")
	}
	if got := e.seen(); !slices.Equal(got, []string{"POST /ev_state?" + socQuery(40), "POST /ev_state?" + socQuery(41)}) {
		t.Fatalf("SmartEVSE saw %q, want the first and the newest", got)
	}

	// A change a whole interval after the last POST goes at once.
	c.Advance(5 * time.Second)
	s.Update(socState(42))
	if d := next(t, results, "third delivery"); d.Err != nil || d.Query != socQuery(42) {
		t.Fatalf("third delivery %+v", d)
	}
	if c.Created() != 1 {
		t.Fatalf("%d timers made, want 1: the third was due", c.Created())
	}
}

// TestSenderUpdateIntervalNone: a negative UpdateInterval posts each change
// as soon as the last POST is done, as before the bound.
func TestSenderUpdateIntervalNone(t *testing.T) {
	e := newEVSE(t, nil)
	c := clock.NewFake(t0)
	s, results := start(t, Config{URL: e.srv.URL, Clock: c, UpdateInterval: -1}, nil)
	for soc := 40; soc <= 42; soc++ {
		s.Update(socState(soc))
		if d := next(t, results, "delivery"); d.Err != nil || d.Query != socQuery(soc) {
			t.Fatalf("delivery %+v, want SoC %d at once", d, soc)
		}
	}
	if c.Created() != 0 || !c.Now().Equal(t0) {
		t.Fatalf("%d timers, clock at %v: nothing waited", c.Created(), c.Now())
	}
}

// TestSenderUpdateIntervalSessionEnd: the values of the session's end are
// not lost. The first end (Flush) posts the state waiting at once; a second
// session of the same plug-in, ended too, and the next plug-in begun, still
// get their newest posted when the interval passes.
func TestSenderUpdateIntervalSessionEnd(t *testing.T) {
	e := newEVSE(t, nil)
	c := clock.NewFake(t0)
	s, results := start(t, Config{URL: e.srv.URL, Clock: c, UpdateInterval: 5 * time.Second}, nil)
	rec := &record.Session{PlugIn: 9}
	p := PlugIns{Sender: s}
	apply := func(ev record.Event) {
		rec.Apply(ev)
		p.Event(ev, rec)
	}
	soc := func(conn uint64, v int) record.Event {
		return record.Event{Kind: record.KindValues, At: c.Now(), Conn: conn, Message: message.AC_ChargeLoopReq,
			Values: record.Values{SoC: &v, Display: record.DisplayLoop | record.DisplayPresentSOC}}
	}
	apply(record.Event{Kind: record.KindSLACStarted, At: t0})
	apply(record.Event{Kind: record.KindSessionSetup, At: t0, Conn: 1, EVCCID: []byte{0x04, 0x65, 0x65, 0x00, 0x64, 0xc3}})
	apply(soc(1, 40))
	if d := next(t, results, "first delivery"); d.Query != socQuery(40) || d.PlugIn != 9 {
		t.Fatalf("first delivery %+v", d)
	}
	c.Advance(time.Second)
	apply(soc(1, 41))
	apply(soc(1, 42))
	awaitTimer(t, c, 0)
	if got := e.seen(); len(got) != 1 {
		t.Fatalf("SmartEVSE saw %q within the interval", got)
	}
	apply(record.Event{Kind: record.KindEnded, At: c.Now(), Conn: 1, End: record.EndSessionStop})
	if d := next(t, results, "delivery at the session's end"); d.Query != socQuery(42) || d.PlugIn != 9 {
		t.Fatalf("delivery at the session's end %+v, want the newest at once", d)
	}
	if !c.Now().Equal(t0.Add(time.Second)) {
		t.Fatalf("clock at %v: the end's values waited", c.Now())
	}

	// The car comes back on a new connection and ends it again: the bound
	// holds now, from the end's POST, and the next plug-in begins before it
	// passes. The newest is still posted, for plug-in 9.
	apply(record.Event{Kind: record.KindSessionSetup, At: c.Now(), Conn: 2, EVCCID: []byte{0x04, 0x65, 0x65, 0x00, 0x64, 0xc3}})
	apply(soc(2, 43))
	apply(record.Event{Kind: record.KindEnded, At: c.Now(), Conn: 2, End: record.EndSessionStop})
	p.PlugInEnded(rec)
	awaitTimer(t, c, 1)
	p.Event(record.Event{Kind: record.KindSLACStarted, At: c.Now()}, &record.Session{PlugIn: 10})
	c.Advance(5*time.Second - time.Millisecond)
	if s.idle() {
		t.Fatal("the second end's values went before the interval")
	}
	c.Advance(time.Millisecond)
	if d := next(t, results, "delivery after the interval"); d.Query != socQuery(43) || d.PlugIn != 9 || d.Err != nil {
		t.Fatalf("delivery after the interval %+v, want plug-in 9's newest", d)
	}
	want := []string{"POST /ev_state?" + socQuery(40), "POST /ev_state?" + socQuery(42), "POST /ev_state?" + socQuery(43)}
	if got := e.seen(); !slices.Equal(got, want) || !awaitIdle(t, s) {
		t.Fatalf("SmartEVSE saw %q, want %q", got, want)
	}
}

// TestSenderUpdateIntervalNextCar: the next car's first SoC goes at once,
// whatever the last car's interval says.
func TestSenderUpdateIntervalNextCar(t *testing.T) {
	e := newEVSE(t, nil)
	c := clock.NewFake(t0)
	s, results := start(t, Config{URL: e.srv.URL, Clock: c, UpdateInterval: time.Minute}, nil)
	s.Update(socState(40))
	next(t, results, "first car's delivery")
	s.Update(socState(41)) // waits a minute
	awaitTimer(t, c, 0)
	s.NewPlugIn(2)
	s.Update(socState(70))
	if d := next(t, results, "next car's delivery"); d.Query != socQuery(70) || d.PlugIn != 2 {
		t.Fatalf("next car's delivery %+v, want it at once", d)
	}
	if got := e.seen(); !slices.Equal(got, []string{"POST /ev_state?" + socQuery(40), "POST /ev_state?" + socQuery(70)}) || !c.Now().Equal(t0) {
		t.Fatalf("SmartEVSE saw %q by %v", got, c.Now())
	}
}

// TestSenderUpdateIntervalFlood: 100 000 updates in bursts, spread over
// 10 s of the clock, hold one state at a time (memory does not grow with
// them) and make at most ceil(duration/interval)+1 POSTs, the last the
// newest state. Every 100 ms the sender is given the time to post what is
// due, as a SmartEVSE that answers at once would have it: without the
// bound, that would be a hundred POSTs.
func TestSenderUpdateIntervalFlood(t *testing.T) {
	const (
		updates  = 100_000
		step     = 100 // updates per clock step
		tick     = 10 * time.Millisecond
		interval = time.Second
	)
	drained := make(chan struct{})
	t.Cleanup(func() { close(drained) }) // after the server's Close: cleanups run last first
	e := newEVSE(t, nil)
	go func() { // the server's handler must never wait for the test, however many POSTs come
		for {
			select {
			case <-e.arrived:
			case <-drained:
				return
			}
		}
	}()
	c := clock.NewFake(t0)
	var (
		mu    sync.Mutex
		posts []string
	)
	newest := make(chan struct{}, 1)
	last := socQuery(updates % 101)
	cfg := Config{URL: e.srv.URL, Clock: c, UpdateInterval: interval, Log: slog.New(slog.DiscardHandler),
		OnResult: func(d Delivery) {
			mu.Lock()
			posts = append(posts, d.Query)
			mu.Unlock()
			if d.Query == last {
				select {
				case newest <- struct{}{}:
				default:
				}
			}
		}}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 1; i <= updates; i++ {
		s.Update(socState(i % 101))
		if i%step == 0 {
			c.Advance(tick)
		}
		if i%(10*step) == 0 {
			awaitSettled(t, s)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 4<<20 {
		t.Errorf("the heap grew by %d bytes over %d updates: states are kept, not replaced", grew, updates)
	}
	c.Advance(interval) // the newest's time has come
	select {
	case <-newest:
	case <-time.After(watchdog):
		t.Fatalf("the newest state was not posted within %v", watchdog)
	}
	mu.Lock()
	got := slices.Clone(posts)
	mu.Unlock()
	span := time.Duration(updates/step)*tick + interval
	bound := int((span+interval-1)/interval) + 1
	if len(got) > bound || got[len(got)-1] != last || !awaitIdle(t, s) {
		t.Fatalf("%d POSTs over %v, want at most %d, the last %s: %q", len(got), span, bound, last, got)
	}
	if n := c.Created(); n > len(got) {
		t.Fatalf("%d timers for %d POSTs: one wait per POST at most", n, len(got))
	}
	t.Logf("%d updates over %v: %d POSTs, %d timers, heap %+d bytes", updates, span, len(got), c.Created(), int64(after.HeapAlloc)-int64(before.HeapAlloc))
}
