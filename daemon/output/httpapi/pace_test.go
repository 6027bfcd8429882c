package httpapi

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ccslink/ccslink/clock"
	"github.com/ccslink/ccslink/proto/v2g/message"
	"github.com/ccslink/ccslink/record"
)

// loopValues is an ISO 15118-20 AC loop's values: its SoC.
func loopValues(at time.Time, soc int) record.Event {
	return record.Event{Kind: record.KindValues, At: at, Message: message.AC_ChargeLoopReq,
		Values: record.Values{SoC: ptr(soc), Display: record.DisplayLoop | record.DisplayPresentSOC}}
}

func loopRequest(at time.Time) record.Event {
	return record.Event{Kind: record.KindRequest, At: at, Message: message.AC_ChargeLoopReq, Code: "OK", Took: 40 * time.Microsecond}
}

// iso20Start is an ISO 15118-20 AC car up to its charge loop.
func iso20Start() []record.Event {
	return []record.Event{
		{Kind: record.KindSLACStarted, At: t0},
		{Kind: record.KindMatched, At: ms(1500), EVMAC: "02:00:00:00:20:01"},
		{Kind: record.KindConnected, At: ms(3000)},
		{Kind: record.KindHandshake, At: ms(3100), Protocol: "iso20-ac"},
		{Kind: record.KindSessionSetup, At: ms(3200), EVCCID: []byte{2, 0, 0, 0, 0x20, 1}},
	}
}

// kinds reads n events and returns their kinds, joined.
func kinds(t *testing.T, c <-chan sse, n int) ([]sse, string) {
	t.Helper()
	var got []sse
	var names []string
	for range n {
		e := next(t, c)
		got = append(got, e)
		names = append(names, e.kind)
	}
	return got, strings.Join(names, " ")
}

// TestEventsPaceLoop: a car whose loop flips its SoC 40/41 a thousand times
// within one interval makes its first values and request go at once and
// one of each, the newest, when the interval has passed; the end of the
// session is never held back, and takes what is held with it.
func TestEventsPaceLoop(t *testing.T) {
	c := clock.NewFake(t0)
	s, hs, subscribed := newHTTP(t, Config{Clock: c, UpdateInterval: time.Second})
	cl := subscribe(t, hs.URL, subscribed)
	next(t, cl) // the state
	p := &player{s: s}
	p.play(iso20Start()...)
	if _, got := kinds(t, cl, 5); got != "slac_started matched connected handshake session_setup" {
		t.Fatalf("events %s", got)
	}
	for i := range 1000 {
		at := ms(4000 + float64(i))
		p.play(loopValues(at, 40+i%2), loopRequest(at))
	}
	got, names := kinds(t, cl, 2)
	if names != "values request" || !is(got[0].data.Values.SoC, 40) || got[0].data.Coalesced != 0 || got[1].data.Message != message.AC_ChargeLoopReq {
		t.Fatalf("at once: %s: %s %s", names, got[0].raw, got[1].raw)
	}
	c.Advance(time.Second - time.Millisecond)
	if c.Pending() != 1 {
		t.Fatalf("%d timers pending, want the one that sends what is held", c.Pending())
	}
	c.Advance(time.Millisecond)
	got, names = kinds(t, cl, 2)
	if v := got[0].data; names != "values request" || !is(v.Values.SoC, 41) || v.Coalesced != 999 || !is(v.State.SoC, 41) || !v.At.Equal(ms(4999)) {
		t.Fatalf("after the interval: %s: %s", names, got[0].raw)
	}
	if r := got[1].data; r.Coalesced != 999 || r.Code != "OK" || !r.At.Equal(ms(4999)) {
		t.Fatalf("request after the interval: %s", got[1].raw)
	}

	// Within the next interval: a new SoC, held; the session's end sends it
	// at once, before itself.
	p.play(loopValues(ms(6000), 42))
	p.play(record.Event{Kind: record.KindEnded, At: ms(6100), End: record.EndSessionStop})
	got, names = kinds(t, cl, 2)
	if names != "values ended" || !is(got[0].data.Values.SoC, 42) || got[0].data.Coalesced != 0 || got[1].data.State.State != record.StateDone || !is(got[1].data.State.SoC, 42) {
		t.Fatalf("at the end: %s: %s %s", names, got[0].raw, got[1].raw)
	}
	if !c.Now().Equal(t0.Add(time.Second)) {
		t.Fatalf("clock at %v: the end waited", c.Now())
	}
}

// TestEventsPaceMerges: values held are merged: the newest of each value
// the loop sent, not only the last event's.
func TestEventsPaceMerges(t *testing.T) {
	c := clock.NewFake(t0)
	s, hs, subscribed := newHTTP(t, Config{Clock: c})
	cl := subscribe(t, hs.URL, subscribed)
	next(t, cl)
	p := &player{s: s}
	p.play(iso20Start()...)
	kinds(t, cl, 5)
	p.play(loopValues(ms(4000), 40))
	next(t, cl)
	capacity := loopValues(ms(4100), 40)
	capacity.Values = record.Values{EnergyCapacityWh: ptr(77000.0), Display: record.DisplayLoop | record.DisplayBatteryEnergyCapacity}
	p.play(capacity, loopValues(ms(4200), 41))
	c.Advance(DefaultUpdateInterval)
	e := next(t, cl)
	if v := e.data.Values; e.kind != "values" || v == nil || !is(v.SoC, 41) || v.EnergyCapacityWh == nil || *v.EnergyCapacityWh != 77000 || e.data.Coalesced != 2 {
		t.Fatalf("merged values: %s", e.raw)
	}
}

// TestEventsPaceSetup: a session's requests of different messages are never
// held back, however fast they come: only a request that repeats is.
func TestEventsPaceSetup(t *testing.T) {
	c := clock.NewFake(t0)
	s, hs, subscribed := newHTTP(t, Config{Clock: c})
	cl := subscribe(t, hs.URL, subscribed)
	next(t, cl)
	p := &player{s: s}
	p.plugIn(ioniq())
	want := "slac_started matched link_up sdp connected handshake request session_setup request values request delivered ended ended plugin_ended"
	if _, got := kinds(t, cl, 15); got != want {
		t.Fatalf("events %s\nwant %s", got, want)
	}
	if c.Created() != 0 {
		t.Fatalf("%d timers: an event was held", c.Created())
	}
}

// TestEventsPaceFlood: 100 000 loop values in bursts over 10 s of the clock
// keep the server's memory flat and reach a client as at most
// ceil(duration/interval)+1 events, the last with the newest SoC; the client
// keeps up and is not dropped.
func TestEventsPaceFlood(t *testing.T) {
	const (
		updates  = 100_000
		step     = 100
		tick     = 10 * time.Millisecond
		interval = time.Second
	)
	c := clock.NewFake(t0)
	s, hs, subscribed := newHTTP(t, Config{Clock: c, UpdateInterval: interval})
	cl := subscribe(t, hs.URL, subscribed)
	next(t, cl)
	p := &player{s: s}
	p.play(iso20Start()...)
	kinds(t, cl, 5)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 1; i <= updates; i++ {
		p.play(loopValues(c.Now(), i%101))
		if i%step == 0 {
			c.Advance(tick)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 4<<20 {
		t.Errorf("the heap grew by %d bytes over %d events", grew, updates)
	}
	c.Advance(interval)
	p.play(record.Event{Kind: record.KindEnded, At: c.Now(), End: record.EndSessionStop})
	var socs []int
	for {
		e := next(t, cl)
		if e.kind == "ended" {
			break
		}
		if e.kind != "values" || e.data.Values == nil || e.data.Values.SoC == nil {
			t.Fatalf("event %s: %s", e.kind, e.raw)
		}
		socs = append(socs, *e.data.Values.SoC)
	}
	span := time.Duration(updates/step)*tick + interval
	bound := int((span+interval-1)/interval) + 1
	if len(socs) > bound || socs[len(socs)-1] != updates%101 {
		t.Fatalf("%d values events over %v, want at most %d, the last SoC %d: %v", len(socs), span, bound, updates%101, socs)
	}
	s.mu.Lock()
	clients := len(s.clients)
	s.mu.Unlock()
	if clients != 1 {
		t.Fatalf("%d clients: the reading one was dropped", clients)
	}
	t.Logf("%d values over %v: %d events, heap %+d bytes", updates, span, len(socs), int64(after.HeapAlloc)-int64(before.HeapAlloc))
}
