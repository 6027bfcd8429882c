package mqtt

import (
	"encoding/json"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/ccslink/ccslink/clock"
	v2gmsg "github.com/ccslink/ccslink/proto/v2g/message"
	"github.com/ccslink/ccslink/record"
)

// iso20Car is an ISO 15118-20 AC car up to its charge loop.
func iso20Car(at time.Time) []record.Event {
	return []record.Event{
		{Kind: record.KindSLACStarted, At: at},
		{Kind: record.KindMatched, At: at.Add(time.Second), EVMAC: "02:00:00:00:20:01"},
		{Kind: record.KindHandshake, At: at.Add(2 * time.Second), Protocol: "iso20-ac"},
		{Kind: record.KindSessionSetup, At: at.Add(2 * time.Second), EVCCID: []byte{2, 0, 0, 0, 0x20, 1}},
	}
}

func loopSoC(at time.Time, soc int) record.Event {
	return record.Event{Kind: record.KindValues, At: at, Message: v2gmsg.AC_ChargeLoopReq,
		Values: record.Values{SoC: &soc, Display: record.DisplayLoop | record.DisplayPresentSOC}}
}

// payloads returns what topic got, in order.
func (s *subscriber) payloads(topic string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, m := range s.msgs {
		if m.topic == topic {
			out = append(out, m.payload)
		}
	}
	return out
}

// waitSession waits for a record on topic (a session topic) for which ok
// holds, and returns it: everything published before it has arrived.
func (s *subscriber) waitSession(t *testing.T, topic string, ok func(r record.Session) bool) record.Session {
	t.Helper()
	deadline := time.NewTimer(bound)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		more := s.more
		s.mu.Unlock()
		for _, p := range s.payloads(topic) {
			var r record.Session
			if json.Unmarshal([]byte(p), &r) == nil && ok(r) {
				return r
			}
		}
		select {
		case <-more:
		case <-deadline.C:
			t.Fatalf("no such record on %s within %v; last: %s", topic, bound, s.last(topic))
		}
	}
}

func hasSoC(soc int) func(record.Session) bool {
	return func(r record.Session) bool { return r.SoC.Known && r.SoC.Value == soc }
}

// TestPaceLoop: a car whose loop flips its SoC 40/41 a thousand times
// within one interval gets its first SoC published at once and one more,
// the newest, when the interval has passed; the session's end is never
// held back, and publishes at once the SoC held.
func TestPaceLoop(t *testing.T) {
	const p = "ccslink/eth1/"
	b := startBroker(t, "127.0.0.1:0")
	sub := subscribe(t, b, p+"#")
	c := clock.NewFake(t0)
	o := newOutput(t, Config{Broker: b.url(), Clock: c, UpdateInterval: time.Second})
	rec := &record.Session{}
	play := func(e record.Event) {
		rec.Apply(e)
		o.Event(e, rec)
	}
	for _, e := range iso20Car(t0) {
		play(e)
	}
	sub.waitSession(t, p+"session", func(r record.Session) bool { return r.EVCCIDHex() == "020000002001" })
	play(loopSoC(t0.Add(3*time.Second), 40))
	sub.waitSession(t, p+"session", hasSoC(40)) // the last of that change
	for i := 1; i <= 1001; i++ {
		play(loopSoC(t0.Add(3*time.Second+time.Duration(i)*time.Millisecond), 40+i%2))
	}
	gaveUp := make(chan struct{})
	defer time.AfterFunc(bound, func() { close(gaveUp) }).Stop()
	c.WaitCreated(0, gaveUp)
	if next, ok := c.Next(); !ok || !next.Equal(t0.Add(time.Second)) {
		t.Fatalf("the output waits until %v (%v), want a second after the first SoC", next, ok)
	}
	c.Advance(time.Second - time.Millisecond)
	if c.Pending() != 1 {
		t.Fatalf("%d timers pending: the newest went before the interval", c.Pending())
	}
	c.Advance(time.Millisecond)
	sub.waitSession(t, p+"session", hasSoC(41))

	// Within the next interval: 42, held; the session's end publishes it.
	play(loopSoC(t0.Add(5*time.Second), 42))
	play(record.Event{Kind: record.KindEnded, At: t0.Add(6 * time.Second), End: record.EndSessionStop})
	r := sub.waitSession(t, p+"session", func(r record.Session) bool { return r.End == record.EndSessionStop })
	if got := sub.payloads(p + "soc"); !slices.Equal(got, []string{"", "40", "41", "42"}) {
		t.Fatalf("soc got %q, want cleared at the match, the first, the newest after the interval, the end's", got)
	}
	want := []string{"", "2023-05-24T10:00:03Z", "2023-05-24T10:00:04.001Z", "2023-05-24T10:00:05Z"}
	if got := sub.payloads(p + "soc_timestamp"); !slices.Equal(got, want) {
		t.Fatalf("soc_timestamp got %q, want %q", got, want)
	}
	if r.SoC.Value != 42 || r.Display == nil || r.Display.SoCUpdateCount != 1003 {
		t.Fatalf("the record at the end: SoC %+v, display %+v", r.SoC, r.Display)
	}
	if !c.Now().Equal(t0.Add(time.Second)) {
		t.Fatalf("clock at %v: the end waited", c.Now())
	}
	// The record went out with each of those SoCs once, never in between.
	var withSoC []int
	for _, m := range sub.payloads(p + "session") {
		var s record.Session
		if json.Unmarshal([]byte(m), &s) == nil && s.SoC.Known {
			withSoC = append(withSoC, s.SoC.Value)
		}
	}
	if !slices.Equal(withSoC, []int{40, 41, 42}) {
		t.Fatalf("records with a SoC: %v, want 40 at once, 41 after the interval, 42 at the end", withSoC)
	}
	// The state: reading once the loop began, done at its end, at once.
	// (Before the match, waiting and slac may have given way to session.)
	got := sub.payloads(p + "state")
	if i := slices.Index(got, "session"); i < 0 || !slices.Equal(got[i:], []string{"session", "reading", "done"}) {
		t.Fatalf("state got %q", got)
	}
}

// TestPaceNone: a negative UpdateInterval publishes every change as it comes.
func TestPaceNone(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	sub := subscribe(t, b, "ccslink/eth1/soc")
	c := clock.NewFake(t0)
	o := newOutput(t, Config{Broker: b.url(), Clock: c, UpdateInterval: -1})
	rec := &record.Session{}
	for _, e := range iso20Car(t0) {
		rec.Apply(e)
		o.Event(e, rec)
	}
	for soc := 40; soc <= 42; soc++ {
		e := loopSoC(t0.Add(time.Duration(soc)*time.Millisecond), soc)
		rec.Apply(e)
		o.Event(e, rec)
		sub.wait(t, "ccslink/eth1/soc", strconv.Itoa(soc))
	}
	if c.Created() != 0 {
		t.Fatalf("%d timers: a change waited", c.Created())
	}
}

// TestPaceFlood: 100 000 loop values in bursts over 10 s of the clock keep
// the output's memory flat and make at most ceil(duration/interval)+1
// publications of the SoC, the last the newest.
func TestPaceFlood(t *testing.T) {
	const (
		updates  = 100_000
		step     = 100
		tick     = 10 * time.Millisecond
		interval = time.Second
	)
	b := startBroker(t, "127.0.0.1:0")
	sub := subscribe(t, b, "ccslink/eth1/soc")
	c := clock.NewFake(t0)
	o := newOutput(t, Config{Broker: b.url(), Clock: c, UpdateInterval: interval})
	rec := &record.Session{}
	for _, e := range iso20Car(t0) {
		rec.Apply(e)
		o.Event(e, rec)
	}
	sub.wait(t, "ccslink/eth1/soc", "")

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 1; i <= updates; i++ {
		e := loopSoC(c.Now(), i%101)
		rec.Apply(e)
		o.Event(e, rec)
		if i%step == 0 {
			c.Advance(tick)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 4<<20 {
		t.Errorf("the heap grew by %d bytes over %d updates", grew, updates)
	}
	c.Advance(interval)
	newest := strconv.Itoa(updates % 101)
	sub.wait(t, "ccslink/eth1/soc", newest)
	var socs []string
	for _, topic := range b.pubs.of("ccslink-eth1") {
		if topic == "ccslink/eth1/soc" {
			socs = append(socs, topic)
		}
	}
	socs = socs[1:] // the clearing at the match
	span := time.Duration(updates/step)*tick + interval
	bound := int((span+interval-1)/interval) + 1
	if len(socs) > bound {
		t.Fatalf("%d publications of the SoC over %v, want at most %d", len(socs), span, bound)
	}
	if n := c.Created(); n > len(socs) {
		t.Fatalf("%d timers for %d publications: one wait per publication at most", n, len(socs))
	}
	t.Logf("%d updates over %v: %d publications of the SoC, %d timers, heap %+d bytes", updates, span, len(socs), c.Created(), int64(after.HeapAlloc)-int64(before.HeapAlloc))
}
