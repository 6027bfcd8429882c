package smartevse

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ccslink/ccslink/clock"
	"github.com/ccslink/ccslink/proto/v2g/message"
	"github.com/ccslink/ccslink/record"
)

// watchdog bounds every wait, so a broken sender fails a test instead of hanging it.
const watchdog = 10 * time.Second

// evse is a SmartEVSE on loopback: it records each POST's query and answers
// with the statuses given, in turn (200 when they run out), after an
// optional hold.
type evse struct {
	srv     *httptest.Server
	arrived chan string // each request's query, as it arrives
	hold    chan struct{}

	mu       sync.Mutex
	queries  []string
	bodies   []string
	statuses []int
}

// newEVSE starts a server; a non-nil hold keeps each request until it is
// closed or the client gives up.
func newEVSE(t *testing.T, hold chan struct{}, statuses ...int) *evse {
	e := &evse{arrived: make(chan string, 64), hold: hold, statuses: statuses}
	e.srv = httptest.NewServer(http.HandlerFunc(e.serve))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *evse) serve(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	e.queries = append(e.queries, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
	body, _ := io.ReadAll(io.LimitReader(r.Body, 4<<10))
	e.bodies = append(e.bodies, string(body))
	status := http.StatusOK
	if len(e.statuses) > 0 {
		status, e.statuses = e.statuses[0], e.statuses[1:]
	}
	e.mu.Unlock()
	e.arrived <- r.URL.RawQuery
	if e.hold != nil {
		select {
		case <-e.hold:
		case <-r.Context().Done():
			return
		}
	}
	if status == http.StatusFound {
		http.Redirect(w, r, "/elsewhere", status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, `{"current_soc":93,"full_soc":94,"energy_capacity":28000,"energy_request":-1,"evccid":"0465650064c3"}`)
}

func (e *evse) seen() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.queries...)
}

// t0 is when the tests' clocks start.
var t0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// waits is a fake clock whose timers fire as they are made: time jumps by
// each backoff at once, and the backoffs asked for are recorded. tick, if
// set, is called with the new time after each jump. A manual waits leaves
// its timers to the test until resume.
type waits struct {
	*clock.Fake
	tick   func(now time.Time)
	mu     sync.Mutex
	manual bool
	d      []time.Duration
}

func newWaits() *waits { return &waits{Fake: clock.NewFake(t0)} }

func manualWaits() *waits { return &waits{Fake: clock.NewFake(t0), manual: true} }

func (w *waits) NewTimer(d time.Duration) clock.Timer {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.d = append(w.d, d)
	t := w.Fake.NewTimer(d)
	if !w.manual {
		w.jumpLocked(d)
	}
	return t
}

func (w *waits) jumpLocked(d time.Duration) {
	w.Fake.Advance(d)
	if w.tick != nil {
		w.tick(w.Now())
	}
}

// resume fires the timer pending, if any, and every later one as it is made.
func (w *waits) resume() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.manual = false
	if next, ok := w.Next(); ok {
		w.jumpLocked(next.Sub(w.Now()))
	}
}

func (w *waits) got() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.d...)
}

// start makes a Sender whose outcomes arrive on the returned channel;
// cfg.Clock defaults to w (or a fresh waits), cfg.Log to nothing.
func start(t *testing.T, cfg Config, w *waits) (*Sender, chan Delivery) {
	t.Helper()
	results := make(chan Delivery, 16)
	cfg.OnResult = func(d Delivery) { results <- d }
	if cfg.Clock == nil {
		if w == nil {
			w = newWaits()
		}
		cfg.Clock = w
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, results
}

func next[T any](t *testing.T, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(watchdog):
		t.Fatalf("no %s within %v", what, watchdog)
		panic("unreachable")
	}
}

func (s *Sender) handedCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.handed
}

const ioniqQuery = "current_soc=93&full_soc=94&energy_capacity=28000&energy_request=-1&evccid=0465650064c3"

func TestSenderDelivers(t *testing.T) {
	e := newEVSE(t, nil)
	var logs bytes.Buffer
	s, results := start(t, Config{URL: e.srv.URL, Log: slog.New(slog.NewJSONHandler(&logs, nil))}, newWaits())
	s.Update(State{SoC: -1, FullSoC: -1, EnergyCapacity: -1, EnergyRequest: -1, EVCCID: "0465650064C3"})
	s.Update(State{SoC: 93, FullSoC: 94, EnergyCapacity: 28000, EnergyRequest: -1})
	d := next(t, results, "delivery")
	if d.Err != nil || d.Status != 200 || d.Attempts != 1 || d.Query != ioniqQuery || d.State != ioniq || d.URL != e.srv.URL+"/ev_state" || d.Latency != 0 {
		t.Fatalf("delivery %+v", d)
	}
	if got := e.seen(); len(got) != 1 || got[0] != "POST /ev_state?"+ioniqQuery {
		t.Fatalf("SmartEVSE saw %q", got)
	}
	var rec struct {
		Level, Msg, URL, Query string
		Status, Attempts       int
		Latency                time.Duration
	}
	if err := json.Unmarshal(logs.Bytes(), &rec); err != nil {
		t.Fatalf("log %q: %v", logs.String(), err)
	}
	if rec.Level != "INFO" || rec.Msg != "smartevse: delivered" || rec.URL != d.URL || rec.Query != ioniqQuery || rec.Status != 200 || rec.Attempts != 1 || rec.Latency != d.Latency {
		t.Fatalf("log record %+v from %s", rec, logs.String())
	}
}

func TestSenderSendsOnlyImprovements(t *testing.T) {
	e := newEVSE(t, nil)
	w := newWaits()
	s, results := start(t, Config{URL: e.srv.URL}, w)
	s.Update(ioniq)
	if d := next(t, results, "first delivery"); d.Err != nil || d.Query != ioniqQuery {
		t.Fatalf("first delivery %+v", d)
	}
	// Handing on is synchronous in Update, so the count proves what was queued.
	s.Update(ioniq)
	s.Update(Unknown())
	s.Update(State{SoC: -1, FullSoC: 0, EnergyCapacity: 0, EnergyRequest: -1})
	s.Update(State{SoC: -1, FullSoC: 90, EnergyCapacity: 20000, EnergyRequest: -1})
	s.Flush()
	if n := s.handedCount(); n != 1 {
		t.Fatalf("%d states handed on, want 1: only the first changed what the SmartEVSE holds", n)
	}
	s.Update(State{SoC: -1, FullSoC: -1, EnergyCapacity: -1, EnergyRequest: 14000})
	want := "current_soc=93&full_soc=94&energy_capacity=28000&energy_request=14000&evccid=0465650064c3"
	if d := next(t, results, "second delivery"); d.Err != nil || d.Query != want {
		t.Fatalf("second delivery %+v, want query %s", d, want)
	}
	if got := e.seen(); len(got) != 2 || got[1] != "POST /ev_state?"+want {
		t.Fatalf("SmartEVSE saw %q", got)
	}
	// The second is a later change: it waited for UpdateInterval (the
	// clock jumps it at once), counted from the first POST.
	if got := w.got(); !slices.Equal(got, []time.Duration{DefaultUpdateInterval}) {
		t.Fatalf("waits %v, want the update interval alone", got)
	}

	// The next car's equal SoC is news again.
	s.NewPlugIn(0)
	s.Update(State{SoC: 93, FullSoC: -1, EnergyCapacity: -1, EnergyRequest: -1})
	want = "current_soc=93&full_soc=-1&energy_capacity=-1&energy_request=-1"
	if d := next(t, results, "delivery after NewPlugIn"); d.Err != nil || d.Query != want {
		t.Fatalf("delivery after NewPlugIn %+v, want query %s", d, want)
	}
}

func TestSenderFlushDeliversEVCCIDWithoutSoC(t *testing.T) {
	e := newEVSE(t, nil)
	s, results := start(t, Config{URL: e.srv.URL}, newWaits())
	s.Update(State{SoC: -1, FullSoC: -1, EnergyCapacity: -1, EnergyRequest: -1, EVCCID: "0465650064c3"})
	s.Update(State{SoC: -1, FullSoC: -1, EnergyCapacity: 28000, EnergyRequest: -1})
	if n := s.handedCount(); n != 0 {
		t.Fatalf("%d states handed on before Flush, want 0 (no SoC)", n)
	}
	s.Flush()
	want := "current_soc=-1&full_soc=-1&energy_capacity=28000&energy_request=-1&evccid=0465650064c3"
	if d := next(t, results, "delivery"); d.Err != nil || d.Query != want {
		t.Fatalf("delivery %+v, want query %s", d, want)
	}
	s.Flush()
	if n := s.handedCount(); n != 1 {
		t.Fatalf("%d states handed on after a second Flush, want 1", n)
	}
}

// TestSenderUpdateNeverBlocks holds the SmartEVSE's answer and updates
// meanwhile: Update returns, and only the newest of the waiting states is
// posted next.
func TestSenderUpdateNeverBlocks(t *testing.T) {
	hold := make(chan struct{})
	e := newEVSE(t, hold)
	w := newWaits()
	s, results := start(t, Config{URL: e.srv.URL, Timeout: time.Hour}, w)
	s.Update(State{SoC: 50, FullSoC: -1, EnergyCapacity: -1, EnergyRequest: -1})
	first := next(t, e.arrived, "first request")

	returned := make(chan struct{})
	go func() {
		s.Update(State{SoC: 51, FullSoC: -1, EnergyCapacity: -1, EnergyRequest: -1})
		s.Update(State{SoC: 52, FullSoC: -1, EnergyCapacity: -1, EnergyRequest: -1})
		s.Update(State{SoC: 53, FullSoC: 95, EnergyCapacity: -1, EnergyRequest: -1, EVCCID: "0465650064c3"})
		close(returned)
	}()
	next(t, returned, "return from Update while the SmartEVSE holds its answer")
	if n := s.handedCount(); n != 4 {
		t.Fatalf("%d states handed on, want 4", n)
	}
	close(hold)
	if d := next(t, results, "first delivery"); d.Err != nil || d.Query != first {
		t.Fatalf("first delivery %+v", d)
	}
	want := "current_soc=53&full_soc=95&energy_capacity=-1&energy_request=-1&evccid=0465650064c3"
	if d := next(t, results, "second delivery"); d.Err != nil || d.Query != want {
		t.Fatalf("second delivery %+v, want %s", d, want)
	}
	got := e.seen()
	if len(got) != 2 || got[0] != "POST /ev_state?current_soc=50&full_soc=-1&energy_capacity=-1&energy_request=-1" || got[1] != "POST /ev_state?"+want {
		t.Fatalf("SmartEVSE saw %q, want the first and the newest state only", got)
	}
	// The newest waited for UpdateInterval from the first POST (the clock
	// jumps it at once).
	if got := w.got(); !slices.Equal(got, []time.Duration{DefaultUpdateInterval}) {
		t.Fatalf("waits %v, want the update interval alone", got)
	}
}

// logLine is one JSON log record, as the tests check it.
type logLine struct {
	Level, Msg, Err   string
	Attempt, Attempts int
	Latency           time.Duration
}

func logLines(t *testing.T, b *bytes.Buffer) []logLine {
	t.Helper()
	var out []logLine
	for line := range bytes.Lines(b.Bytes()) {
		var l logLine
		if err := json.Unmarshal(line, &l); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, l)
	}
	return out
}

// flaky is a SmartEVSE at a fixed address that is off (its port refuses
// connections) until up is called.
type flaky struct {
	*evse
	addr string
	on   bool
}

func newFlaky(t *testing.T, statuses ...int) *flaky {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &flaky{evse: &evse{arrived: make(chan string, 64), statuses: statuses}, addr: ln.Addr().String()}
	ln.Close()
	return f
}

func (f *flaky) url() string { return "http://" + f.addr }

func (f *flaky) up(t *testing.T) {
	if f.on {
		return
	}
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		t.Fatalf("the SmartEVSE's port %s cannot be taken again: %v", f.addr, err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(f.serve)}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	f.on = true
}

// TestSenderSmartEVSEDown20s: the SmartEVSE refuses connections for 10 s,
// then answers 500 while it starts, then takes the values: they arrive,
// exactly, and every attempt's cause is logged.
func TestSenderSmartEVSEDown20s(t *testing.T) {
	f := newFlaky(t, 500, 500)
	w := newWaits()
	w.tick = func(now time.Time) {
		if now.Sub(t0) >= 10*time.Second {
			f.up(t)
		}
	}
	var logs bytes.Buffer
	s, results := start(t, Config{URL: f.url(), Log: slog.New(slog.NewJSONHandler(&logs, nil))}, w)
	s.Update(ioniq)
	d := next(t, results, "delivery")
	if d.Err != nil || d.Status != 200 || d.Attempts != 9 || d.Query != ioniqQuery || d.State != ioniq || d.Latency != 23750*time.Millisecond {
		t.Fatalf("delivery %+v, want delivered on the 9th attempt after 23.75 s", d)
	}
	if got := f.seen(); len(got) != 3 || got[0] != "POST /ev_state?"+ioniqQuery || got[1] != got[0] || got[2] != got[0] {
		t.Fatalf("SmartEVSE saw %q, want the values 3 times (500, 500, 200)", got)
	}
	if got := fmt.Sprint(w.got()); got != "[250ms 500ms 1s 2s 5s 5s 5s 5s]" {
		t.Fatalf("backoffs %s", got)
	}
	refused := "smartevse: attempt failed, retrying: connection refused by " + f.addr
	status := "smartevse: attempt failed, retrying: HTTP 500 Internal Server Error from " + f.addr
	want := []logLine{
		{Level: "WARN", Msg: refused, Attempt: 1}, {Level: "WARN", Msg: refused, Attempt: 2},
		{Level: "WARN", Msg: refused, Attempt: 3}, {Level: "WARN", Msg: refused, Attempt: 4},
		{Level: "WARN", Msg: refused, Attempt: 5}, {Level: "WARN", Msg: refused, Attempt: 6},
		{Level: "WARN", Msg: status, Attempt: 7}, {Level: "WARN", Msg: status, Attempt: 8},
		{Level: "INFO", Msg: "smartevse: delivered after 9 attempts in 24 s", Attempts: 9, Latency: 23750 * time.Millisecond},
	}
	got := logLines(t, &logs)
	for i := range got {
		if i < 6 && !strings.Contains(got[i].Err, "connection refused") || i >= 6 && i < 8 && !strings.Contains(got[i].Err, "HTTP 500") {
			t.Errorf("line %d's err %q lacks the cause", i, got[i].Err)
		}
		got[i].Err = ""
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("log\n got %+v\nwant %+v", got, want)
	}
	if r := Record(d).Delivery; !r.OK || r.Result != "HTTP 200 after 9 attempts in 24 s" || r.What != ioniqQuery || r.Took != d.Latency {
		t.Fatalf("record %+v", r)
	}
}

// TestSenderWindowEnds: a SmartEVSE that never comes back is tried until
// the window ends, and the last line says so in words.
func TestSenderWindowEnds(t *testing.T) {
	for _, tc := range []struct {
		window   time.Duration
		attempts int
		words    string
	}{
		{0, 17, "17 attempts in 60 s"},
		{10 * time.Second, 7, "7 attempts in 10 s"},
	} {
		f := newFlaky(t)
		w := newWaits()
		var logs bytes.Buffer
		s, results := start(t, Config{URL: f.url(), Window: tc.window, Log: slog.New(slog.NewJSONHandler(&logs, nil))}, w)
		s.Update(ioniq)
		d := next(t, results, "delivery")
		window := cmp.Or(tc.window, DefaultWindow)
		if !errors.Is(d.Err, ErrRefused) || !errors.Is(d.Err, syscall.ECONNREFUSED) || d.Attempts != tc.attempts || d.Latency != window || d.Status != 0 {
			t.Fatalf("window %v: delivery %+v, want %d refused attempts in %v", window, d, tc.attempts, window)
		}
		words := "not delivered: connection refused by " + f.addr + " (" + tc.words + ")"
		if d.Words() != words {
			t.Fatalf("words\n got %s\nwant %s", d.Words(), words)
		}
		lines := logLines(t, &logs)
		last := lines[len(lines)-1]
		wantErr := "smartevse: POST " + f.url() + "/ev_state: connection refused: nothing listens there; check that the SmartEVSE is on and its address and port are right"
		if len(lines) != tc.attempts || last != (logLine{Level: "WARN", Msg: "smartevse: " + words, Err: wantErr, Attempts: tc.attempts, Latency: window}) {
			t.Fatalf("%d log lines, the last %+v", len(lines), last)
		}
		if r := Record(d).Delivery; r.OK || r.Result != "connection refused by "+f.addr+" ("+tc.words+")" {
			t.Fatalf("record %+v", r)
		}
	}
	w := newWaits()
	f := newFlaky(t)
	s, results := start(t, Config{URL: f.url()}, w)
	s.Update(ioniq)
	next(t, results, "delivery")
	if got := fmt.Sprint(w.got()); got != "[250ms 500ms 1s 2s 5s 5s 5s 5s 5s 5s 5s 5s 5s 5s 5s 1.25s]" {
		// 17 attempts: 0 s, 0.25 s, 0.75 s, 1.75 s, 3.75 s, every 5 s to 58.75 s, and 60 s.
		t.Fatalf("backoffs %s: the last is cut at the window's end", got)
	}
}

// TestSenderNextCarReplaces: a new plug-in alone (the link gone, SLAC
// started again) does not end a delivery; the next car's values do, and
// they are what the SmartEVSE gets.
func TestSenderNextCarReplaces(t *testing.T) {
	f := newFlaky(t)
	w := manualWaits()
	s, results := start(t, Config{URL: f.url()}, w)
	s.Update(ioniq)
	w.WaitCreated(0, nil) // the first attempt was refused
	s.NewPlugIn(0)
	w.Advance(250 * time.Millisecond)
	w.WaitCreated(1, nil) // and the second, after the new plug-in began
	select {
	case d := <-results:
		t.Fatalf("delivery ended by a new plug-in without a car: %+v", d)
	default:
	}
	f.up(t)
	second := State{SoC: 40, FullSoC: -1, EnergyCapacity: 77000, EnergyRequest: -1, EVCCID: "020000abcdef"}
	s.Update(second)
	d := next(t, results, "first car's delivery")
	if !errors.Is(d.Err, ErrNewPlugIn) || d.Attempts != 2 || d.Query != ioniqQuery || d.Latency != 250*time.Millisecond {
		t.Fatalf("first car's delivery %+v, want replaced after 2 attempts", d)
	}
	if want := "not delivered: the next car's values replaced these (2 attempts in 250 ms)"; d.Words() != want {
		t.Fatalf("words\n got %s\nwant %s", d.Words(), want)
	}
	want := "current_soc=40&full_soc=-1&energy_capacity=77000&energy_request=-1&evccid=020000abcdef"
	if d := next(t, results, "second car's delivery"); d.Err != nil || d.Query != want || d.Attempts != 1 {
		t.Fatalf("second car's delivery %+v, want %s", d, want)
	}
	if got := f.seen(); len(got) != 1 || got[0] != "POST /ev_state?"+want {
		t.Fatalf("SmartEVSE saw %q, want the second car's values only", got)
	}
}

// TestPlugInsLowerSoCAfterHigher is a car whose SoC and battery figures
// go down from its ChargeParameterDiscoveryReq to its PreChargeReq: the
// record keeps the newest of each, the SmartEVSE is told the newest SoC but
// the highest FullSOC and capacity (the firmware stores no lower one), and
// the record says what was posted beside its own values.
func TestPlugInsLowerSoCAfterHigher(t *testing.T) {
	e := newEVSE(t, nil)
	rec := &record.Session{PlugIn: 7}
	w := newWaits()
	s, results := start(t, Config{URL: e.srv.URL}, w)
	p := PlugIns{Sender: s}
	apply := func(ev record.Event) {
		rec.Apply(ev)
		p.Event(ev, rec)
	}
	delivered := func(what string) Delivery {
		d := next(t, results, what)
		rec.Apply(Record(d))
		return d
	}
	i := func(v int) *int { return &v }
	f := func(v float64) *float64 { return &v }
	at := t0
	apply(record.Event{Kind: record.KindSLACStarted, At: at})
	apply(record.Event{Kind: record.KindSessionSetup, At: at, EVCCID: []byte{0x04, 0x65, 0x65, 0x00, 0x64, 0xc3}})
	apply(record.Event{Kind: record.KindValues, At: at.Add(time.Second), Message: message.ChargeParameterDiscoveryReq,
		Values: record.Values{SoC: i(80), FullSOC: i(95), EnergyCapacityWh: f(77000), EnergyRequestWh: f(12000)}})
	first := "current_soc=80&full_soc=95&energy_capacity=77000&energy_request=12000&evccid=0465650064c3"
	if d := delivered("first delivery"); d.Err != nil || d.Query != first || d.PlugIn != 7 {
		t.Fatalf("first delivery %+v, want query %s", d, first)
	}
	apply(record.Event{Kind: record.KindValues, At: at.Add(2 * time.Second), Message: message.PreChargeReq,
		Values: record.Values{SoC: i(78), FullSOC: i(90), EnergyCapacityWh: f(76500), EnergyRequestWh: f(12500)}})
	second := "current_soc=78&full_soc=95&energy_capacity=77000&energy_request=12500&evccid=0465650064c3"
	if d := delivered("second delivery"); d.Err != nil || d.Query != second {
		t.Fatalf("second delivery %+v, want query %s", d, second)
	}
	// A lower FullSOC alone changes nothing the SmartEVSE holds: no POST.
	apply(record.Event{Kind: record.KindValues, At: at.Add(3 * time.Second), Message: message.CurrentDemandReq, Values: record.Values{FullSOC: i(85)}})
	if n := s.handedCount(); n != 2 {
		t.Fatalf("%d states handed on, want 2", n)
	}
	// The second waited for UpdateInterval (the clock jumps it at once).
	if got := w.got(); !slices.Equal(got, []time.Duration{DefaultUpdateInterval}) {
		t.Fatalf("waits %v, want the update interval alone", got)
	}

	// What the record says.
	if rec.SoC != (record.Int{Value: 78, Known: true, From: "PreChargeReq", At: at.Add(2 * time.Second)}) ||
		rec.FullSOC != (record.Int{Value: 85, Known: true, From: "CurrentDemandReq", At: at.Add(3 * time.Second)}) ||
		rec.EnergyCapacityWh != (record.Num{Value: 76500, Known: true, From: "PreChargeReq", At: at.Add(2 * time.Second)}) ||
		rec.EnergyRequestWh != (record.Num{Value: 12500, Known: true, From: "PreChargeReq", At: at.Add(2 * time.Second)}) {
		t.Fatalf("record: SoC %+v, FullSOC %+v, capacity %+v, request %+v", rec.SoC, rec.FullSOC, rec.EnergyCapacityWh, rec.EnergyRequestWh)
	}
	// What the SmartEVSE was sent: the queries, and no body.
	if got := e.seen(); !slices.Equal(got, []string{"POST /ev_state?" + first, "POST /ev_state?" + second}) {
		t.Fatalf("SmartEVSE saw %q", got)
	}
	e.mu.Lock()
	bodies := slices.Clone(e.bodies)
	e.mu.Unlock()
	if !slices.Equal(bodies, []string{"", ""}) {
		t.Fatalf("bodies %q, want none", bodies)
	}
	// What the record says was sent.
	want := []record.Sent{
		{SoC: i(80), FullSOC: i(95), EnergyCapacityWh: i(77000), EnergyRequestWh: i(12000), EVCCID: "0465650064c3"},
		{SoC: i(78), FullSOC: i(95), EnergyCapacityWh: i(77000), EnergyRequestWh: i(12500), EVCCID: "0465650064c3"},
	}
	if len(rec.Deliveries) != 2 {
		t.Fatalf("%d deliveries recorded, want 2", len(rec.Deliveries))
	}
	for n, d := range rec.Deliveries {
		if d.Sent == nil || !reflect.DeepEqual(*d.Sent, want[n]) || !d.OK || d.Result != "HTTP 200" || d.Output != "smartevse" || d.What != []string{first, second}[n] {
			t.Fatalf("delivery %d recorded as %+v, sent %+v; want sent %+v", n, d, d.Sent, want[n])
		}
	}
}

// TestRecordSentUnknown: a delivery of an EVCCID alone records its
// unknown numbers as nil; one that posted nothing records no Sent.
func TestRecordSentUnknown(t *testing.T) {
	st := State{SoC: -1, FullSoC: -1, EnergyCapacity: 28000, EnergyRequest: -1, EVCCID: "0465650064C3"}
	ev := Record(Delivery{State: st, Query: Query(st), Status: 200, Attempts: 1, PlugIn: 3})
	capWh := 28000
	if ev.Kind != record.KindDelivered || ev.PlugIn != 3 || ev.Delivery.Sent == nil ||
		!reflect.DeepEqual(*ev.Delivery.Sent, record.Sent{EnergyCapacityWh: &capWh, EVCCID: "0465650064c3"}) {
		t.Fatalf("event %+v, sent %+v", ev, ev.Delivery.Sent)
	}
	if ev := Record(Delivery{Err: &DeliveryError{Err: ErrClosed}}); ev.Delivery.Sent != nil {
		t.Fatalf("nothing posted, sent %+v", ev.Delivery.Sent)
	}
}

// TestPlugInsDeliverAfterLinkLost is the plug-in of a car whose link went
// while the SmartEVSE was off: the charger ends the plug-in and starts
// the next (no car comes), and the values still arrive when it is back.
func TestPlugInsDeliverAfterLinkLost(t *testing.T) {
	f := newFlaky(t)
	w := manualWaits()
	w.tick = func(now time.Time) {
		if now.Sub(t0) >= 20*time.Second {
			f.up(t)
		}
	}
	s, results := start(t, Config{URL: f.url()}, w)
	p := PlugIns{Sender: s}
	rec := &record.Session{}
	apply := func(e record.Event) {
		rec.Apply(e)
		p.Event(e, rec)
	}
	soc, full, capWh := 93, 94, 28000.0
	apply(record.Event{Kind: record.KindSLACStarted, At: t0})
	apply(record.Event{Kind: record.KindSessionSetup, At: t0, EVCCID: []byte{0x04, 0x65, 0x65, 0x00, 0x64, 0xc3}})
	apply(record.Event{Kind: record.KindValues, At: t0, Message: message.ChargeParameterDiscoveryReq, Values: record.Values{SoC: &soc, FullSOC: &full, EnergyCapacityWh: &capWh}})
	w.WaitCreated(0, nil)
	apply(record.Event{Kind: record.KindEnded, At: t0, End: record.EndLinkLost})
	p.PlugInEnded(rec)
	noCar := &record.Session{}
	ev := record.Event{Kind: record.KindSLACStarted, At: t0}
	noCar.Apply(ev)
	p.Event(ev, noCar)
	p.PlugInEnded(noCar)
	w.resume()
	d := next(t, results, "delivery")
	if d.Err != nil || d.Query != ioniqQuery || d.Attempts != 9 || d.Latency != 23750*time.Millisecond {
		t.Fatalf("delivery %+v, want the car's values on the 9th attempt", d)
	}
	if got := f.seen(); len(got) != 1 || got[0] != "POST /ev_state?"+ioniqQuery {
		t.Fatalf("SmartEVSE saw %q", got)
	}
}

func TestSenderTimeout(t *testing.T) {
	e := newEVSE(t, make(chan struct{})) // never answers
	s, results := start(t, Config{URL: e.srv.URL, Timeout: 50 * time.Millisecond, Window: time.Second}, nil)
	s.Update(ioniq)
	d := next(t, results, "delivery")
	var de *DeliveryError
	if !errors.Is(d.Err, ErrTimeout) || !errors.As(d.Err, &de) || d.Attempts != 4 || d.Status != 0 || d.Latency != time.Second {
		t.Fatalf("delivery %+v, want four attempts timed out after 50ms in the 1 s window", d)
	}
	want := "smartevse: POST " + e.srv.URL + "/ev_state: no answer within 50ms: the SmartEVSE is off, out of reach or busy"
	if d.Err.Error() != want {
		t.Fatalf("error\n got %s\nwant %s", d.Err, want)
	}
	host := strings.TrimPrefix(e.srv.URL, "http://")
	if want := "not delivered: no answer from " + host + " within 50ms (4 attempts in 1 s)"; d.Words() != want {
		t.Fatalf("words\n got %s\nwant %s", d.Words(), want)
	}
}

func TestSenderRetriesAfter500(t *testing.T) {
	e := newEVSE(t, nil, http.StatusInternalServerError, http.StatusOK)
	w := newWaits()
	s, results := start(t, Config{URL: e.srv.URL}, w)
	s.Update(ioniq)
	d := next(t, results, "delivery")
	if d.Err != nil || d.Status != 200 || d.Attempts != 2 || d.Query != ioniqQuery || d.Latency != 250*time.Millisecond {
		t.Fatalf("delivery %+v, want success on the second attempt", d)
	}
	if got := e.seen(); len(got) != 2 || got[0] != got[1] {
		t.Fatalf("SmartEVSE saw %q", got)
	}
	if got := fmt.Sprint(w.got()); got != "[250ms]" {
		t.Fatalf("backoffs %s, want [250ms]", got)
	}
}

func TestSenderGivesUpOn500(t *testing.T) {
	e := newEVSE(t, nil, 500, 500, 500)
	var attempts []string
	onAttempt := func(d Delivery) {
		attempts = append(attempts, fmt.Sprintf("%d %d %v %v", d.Attempts, d.Status, errors.Is(d.Err, ErrStatus), d.Latency))
	}
	s, results := start(t, Config{URL: e.srv.URL, Window: 1500 * time.Millisecond, Backoff: []time.Duration{time.Second}, OnAttempt: onAttempt}, nil)
	s.Update(ioniq)
	d := next(t, results, "delivery")
	if !errors.Is(d.Err, ErrStatus) || d.Status != 500 || d.Attempts != 3 {
		t.Fatalf("delivery %+v, want three attempts answered 500: at 0 s, 1 s and the window's end", d)
	}
	// Each attempt was reported as it ended, before the next wait (OnResult comes after the last).
	if want := []string{"1 500 true 0s", "2 500 true 1s", "3 500 true 1.5s"}; !slices.Equal(attempts, want) {
		t.Fatalf("attempts %q, want %q", attempts, want)
	}
	want := "smartevse: POST " + e.srv.URL + "/ev_state: the SmartEVSE answered HTTP 500 Internal Server Error"
	if d.Err.Error() != want {
		t.Fatalf("error\n got %s\nwant %s", d.Err, want)
	}
	host := strings.TrimPrefix(e.srv.URL, "http://")
	if want := "not delivered: HTTP 500 Internal Server Error from " + host + " (3 attempts in 2 s)"; d.Words() != want {
		t.Fatalf("words\n got %s\nwant %s", d.Words(), want)
	}
}

// TestSender404SaysNothingAtThePath: a 404 is final, and its words name
// the path and the host, and both causes: the URL, or a firmware without
// modem support.
func TestSender404SaysNothingAtThePath(t *testing.T) {
	e := newEVSE(t, nil, http.StatusNotFound, http.StatusNotFound)
	w := newWaits()
	s, results := start(t, Config{URL: e.srv.URL}, w)
	s.Update(ioniq)
	d := next(t, results, "delivery")
	var de *DeliveryError
	if !errors.Is(d.Err, ErrNotFound) || !errors.As(d.Err, &de) || de.Status != 404 || d.Status != 404 || d.Attempts != 1 || de.Path != "/ev_state" {
		t.Fatalf("delivery %+v, want one attempt and ErrNotFound for /ev_state", d)
	}
	host := strings.TrimPrefix(e.srv.URL, "http://")
	want := "smartevse: POST " + e.srv.URL + "/ev_state: HTTP 404: nothing at /ev_state on " + host +
		": check the URL, or the firmware's modem option (a SmartEVSE serves POST /ev_state only when built with MODEM=1)"
	if d.Err.Error() != want {
		t.Fatalf("error\n got %s\nwant %s", d.Err, want)
	}
	if want := "not delivered: nothing at /ev_state on " + host + " (HTTP 404) (1 attempt in "; !strings.HasPrefix(d.Words(), want) {
		t.Fatalf("words\n got %s\nwant %s...", d.Words(), want)
	}
	if len(w.got()) != 0 {
		t.Fatalf("backoffs %v: a 404 is final", w.got())
	}

	// A path of the user's own, given with a trailing slash: posted without it, and named.
	s2, results2 := start(t, Config{URL: e.srv.URL + "/api/ev/"}, w)
	s2.Update(ioniq)
	d = next(t, results2, "delivery")
	want = "smartevse: POST " + e.srv.URL + "/api/ev: HTTP 404: nothing at /api/ev on " + host +
		": check the URL, or the firmware's modem option (a SmartEVSE serves POST /ev_state only when built with MODEM=1)"
	if d.Err == nil || d.Err.Error() != want {
		t.Fatalf("error\n got %v\nwant %s", d.Err, want)
	}
	if got := e.seen(); len(got) != 2 || !strings.HasPrefix(got[1], "POST /api/ev?") {
		t.Fatalf("SmartEVSE saw %q, want the second POST at /api/ev", got)
	}
}

func TestSenderReportsRedirect(t *testing.T) {
	e := newEVSE(t, nil, http.StatusFound)
	s, results := start(t, Config{URL: e.srv.URL}, newWaits())
	s.Update(ioniq)
	d := next(t, results, "delivery")
	if !errors.Is(d.Err, ErrStatus) || d.Status != 302 || d.Attempts != 1 {
		t.Fatalf("delivery %+v, want one attempt answered 302", d)
	}
	want := "smartevse: POST " + e.srv.URL + "/ev_state: the SmartEVSE answered HTTP 302 Found: it redirects to /elsewhere; configure that URL instead"
	if d.Err.Error() != want {
		t.Fatalf("error\n got %s\nwant %s", d.Err, want)
	}
	if got := e.seen(); len(got) != 1 {
		t.Fatalf("SmartEVSE saw %q: the redirect must not be followed", got)
	}
}

func TestSenderRetrySendsNewestState(t *testing.T) {
	e := newEVSE(t, nil, http.StatusInternalServerError)
	w := manualWaits()
	s, results := start(t, Config{URL: e.srv.URL}, w)
	s.Update(State{SoC: 93, FullSoC: -1, EnergyCapacity: -1, EnergyRequest: -1})
	w.WaitCreated(0, nil) // the backoff after the 500
	s.Update(State{SoC: -1, FullSoC: 94, EnergyCapacity: 28000, EnergyRequest: -1})
	w.Advance(250 * time.Millisecond)
	d := next(t, results, "delivery")
	want := "current_soc=93&full_soc=94&energy_capacity=28000&energy_request=-1"
	if d.Err != nil || d.Attempts != 2 || d.Query != want {
		t.Fatalf("delivery %+v, want the retry to send %s", d, want)
	}
	if got := e.seen(); len(got) != 2 || got[1] != "POST /ev_state?"+want {
		t.Fatalf("SmartEVSE saw %q, want the retry with the newest state and nothing after", got)
	}
}

func TestSenderCloseWhileSmartEVSEHangs(t *testing.T) {
	e := newEVSE(t, make(chan struct{})) // never answers
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{ReplaceAttr: noTime, Level: slog.LevelWarn}))
	s, results := start(t, Config{URL: e.srv.URL, Timeout: time.Hour, Log: log}, nil)
	s.Update(ioniq)
	next(t, e.arrived, "request")
	s.Update(State{SoC: 94, FullSoC: -1, EnergyCapacity: -1, EnergyRequest: -1}) // waits behind the hanging one
	closed := make(chan error)
	go func() { closed <- s.Close() }()
	if err := next(t, closed, "return from Close"); err != nil {
		t.Fatalf("Close: %v", err)
	}
	d := next(t, results, "delivery")
	if !errors.Is(d.Err, ErrClosed) || d.Attempts != 1 {
		t.Fatalf("delivery %+v, want abandoned by Close", d)
	}
	if want := "smartevse: POST " + e.srv.URL + "/ev_state: abandoned: the sender was closed"; d.Err.Error() != want {
		t.Fatalf("error\n got %s\nwant %s", d.Err, want)
	}
	wantLog := "level=WARN msg=\"smartevse: not delivered: the daemon is stopping (1 attempt in 0 ms)\" url=" + d.URL + " query=\"" + ioniqQuery + "\" status=0 attempts=1 latency=0s err=\"" + d.Err.Error() + "\"\n" +
		"level=WARN msg=\"smartevse: not delivered, sender closed\" url=" + d.URL + " query=\"current_soc=94&full_soc=94&energy_capacity=28000&energy_request=-1&evccid=0465650064c3\"\n"
	if logs.String() != wantLog {
		t.Fatalf("log\n got %s\nwant %s", logs.String(), wantLog)
	}
	s.Update(State{SoC: 1, FullSoC: -1, EnergyCapacity: -1, EnergyRequest: -1})
	if n := s.handedCount(); n != 2 {
		t.Fatalf("%d states handed on after Close, want 2", n)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestSenderCloseDuringBackoff(t *testing.T) {
	e := newEVSE(t, nil, http.StatusServiceUnavailable)
	w := manualWaits() // its backoff never ends
	s, results := start(t, Config{URL: e.srv.URL}, w)
	s.Update(ioniq)
	w.WaitCreated(0, nil)
	closed := make(chan error)
	go func() { closed <- s.Close() }()
	next(t, closed, "return from Close")
	if d := next(t, results, "delivery"); !errors.Is(d.Err, ErrClosed) || d.Attempts != 1 || d.Status != 503 {
		t.Fatalf("delivery %+v, want abandoned by Close after one 503", d)
	}
}

// TestSenderNextCarWhileAttemptHangs: the next car's values end an attempt
// in flight for the last car at once.
func TestSenderNextCarWhileAttemptHangs(t *testing.T) {
	hold := make(chan struct{})
	e := newEVSE(t, hold)
	s, results := start(t, Config{URL: e.srv.URL, Timeout: time.Hour}, nil)
	s.Update(ioniq)
	next(t, e.arrived, "request for the first car")
	s.NewPlugIn(0)
	s.Update(State{SoC: 40, FullSoC: -1, EnergyCapacity: 77000, EnergyRequest: -1, EVCCID: "020000abcdef"})
	if d := next(t, results, "first car's delivery"); !errors.Is(d.Err, ErrNewPlugIn) || d.Query != ioniqQuery || d.Attempts != 1 {
		t.Fatalf("first car's delivery %+v, want replaced by the next car's values", d)
	}
	close(hold)
	want := "current_soc=40&full_soc=-1&energy_capacity=77000&energy_request=-1&evccid=020000abcdef"
	if d := next(t, results, "second car's delivery"); d.Err != nil || d.Query != want {
		t.Fatalf("second car's delivery %+v, want %s", d, want)
	}
}

func TestNewRefusesBadURL(t *testing.T) {
	s, err := New(Config{URL: "10.0.0.1"})
	var ee *EndpointError
	if s != nil || !errors.Is(err, ErrNoScheme) || !errors.As(err, &ee) || ee.URL != "10.0.0.1" {
		t.Fatalf("New = %v, %v; want an *EndpointError for ErrNoScheme", s, err)
	}
}

func TestSenderConnectionDropped(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			// Read the request whole, then hang up without an answer.
			http.ReadRequest(bufio.NewReader(c))
			c.Close()
		}
	}()
	url := "http://" + ln.Addr().String()
	var logs bytes.Buffer
	s, results := start(t, Config{URL: url, Window: 2 * time.Second, Log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{ReplaceAttr: noTime, Level: slog.LevelWarn}))}, nil)
	s.Update(ioniq)
	d := next(t, results, "delivery")
	if !errors.Is(d.Err, ErrUnreachable) || !errors.Is(d.Err, io.EOF) || d.Attempts != 5 {
		t.Fatalf("delivery %+v, want 5 attempts ending in EOF", d)
	}
	want := "smartevse: POST " + url + "/ev_state: cannot reach the SmartEVSE: EOF"
	if d.Err.Error() != want {
		t.Fatalf("error\n got %s\nwant %s", d.Err, want)
	}
	host := ln.Addr().String()
	var wantLog string
	for i := 1; i < 5; i++ {
		wantLog += fmt.Sprintf("level=WARN msg=\"smartevse: attempt failed, retrying: cannot reach %s: EOF\" url=%s/ev_state query=\"%s\" attempt=%d err=\"%s\"\n", host, url, ioniqQuery, i, want)
	}
	wantLog += fmt.Sprintf("level=WARN msg=\"smartevse: not delivered: cannot reach %s: EOF (5 attempts in 2 s)\" url=%s/ev_state query=\"%s\" status=0 attempts=5 latency=2s err=\"%s\"\n", host, url, ioniqQuery, want)
	if got := logs.String(); got != wantLog {
		t.Fatalf("log\n got %s\nwant %s", got, wantLog)
	}
}

func noTime(groups []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey && len(groups) == 0 {
		return slog.Attr{}
	}
	return a
}

func TestSenderTimeoutOfCallersClient(t *testing.T) {
	e := newEVSE(t, make(chan struct{})) // never answers
	s, results := start(t, Config{URL: e.srv.URL, Window: time.Millisecond, Client: &http.Client{Timeout: 30 * time.Millisecond}}, nil)
	s.Update(ioniq)
	d := next(t, results, "delivery")
	want := "smartevse: POST " + e.srv.URL + "/ev_state: no answer within 30ms: the SmartEVSE is off, out of reach or busy"
	if !errors.Is(d.Err, ErrTimeout) || d.Err.Error() != want || d.Attempts != 2 {
		t.Fatalf("delivery %+v, want %s", d, want)
	}
}
