package smartevse

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccslink/ccslink/record"
)

// meterStep is the SmartEVSE's state and EV meter from a time on; body, if
// set, replaces the firmware's JSON.
type meterStep struct {
	from    time.Duration
	st      firmwareState
	charged float64 // ev_meter.charged_kwh; -1: the firmware's fixture (charged_wh, no charged_kwh)
	kW      float64
	status  int // an HTTP status in place of the answer
}

// withMeter is the firmware's GET /settings of st with an EV meter that
// has counted charged kWh (the firmware's one decimal) at kW.
func withMeter(st firmwareState, charged, kW float64) string {
	return strings.Replace(st.json(), `"import_active_power":0,"total_wh":5670100,"charged_wh":0`,
		fmt.Sprintf(`"import_active_power":%.1f,"total_kwh":5670.1,"charged_kwh":%.1f`, kW, charged), 1)
}

// followStub is a SmartEVSE whose answers follow a script over the fake
// clock's time since t0.
type followStub struct {
	srv    *httptest.Server
	w      *waits
	script []meterStep
	mu     sync.Mutex
	got    []time.Duration // when each GET came
}

func newFollowStub(t *testing.T, w *waits, script ...meterStep) *followStub {
	s := &followStub{w: w, script: script}
	s.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		since := w.Now().Sub(t0)
		s.mu.Lock()
		s.got = append(s.got, since)
		s.mu.Unlock()
		if r.Method != http.MethodGet || r.URL.Path != SettingsPath {
			http.NotFound(rw, r)
			return
		}
		x := s.script[0]
		for _, y := range s.script {
			if since >= y.from {
				x = y
			}
		}
		if x.status != 0 {
			http.Error(rw, "busy", x.status)
			return
		}
		body := x.st.json()
		if x.charged >= 0 {
			body = withMeter(x.st, x.charged, x.kW)
		}
		rw.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(rw, body)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *followStub) requests() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got)
}

// plugCall is one call of OnPlugged.
type plugCall struct {
	plugged bool
	at      time.Duration // since t0
}

// follower starts a Watcher that follows the stub on the manual clock w;
// its calls of OnPlugged and OnReading are recorded.
type follower struct {
	wt       *Watcher
	results  chan record.Event
	mu       sync.Mutex
	plugs    []plugCall
	readings []Reading
}

func startFollower(t *testing.T, cfg WatchConfig, w *waits) *follower {
	t.Helper()
	f := &follower{results: make(chan record.Event, 16)}
	cfg.OnResult = func(e record.Event) { f.results <- e }
	cfg.OnPlugged = func(p bool, at time.Time) {
		f.mu.Lock()
		f.plugs = append(f.plugs, plugCall{p, at.Sub(t0)})
		f.mu.Unlock()
	}
	cfg.OnReading = func(r Reading) {
		f.mu.Lock()
		f.readings = append(f.readings, r)
		f.mu.Unlock()
	}
	cfg.Clock = w
	if cfg.Log == nil {
		cfg.Log, _ = quietLog()
	}
	wt, err := NewWatcher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wt.Close() })
	f.wt = wt
	return f
}

// polls lets the follower's poller ask n more times: each time it waits,
// the clock moves to its timer. It returns after the poller waits again.
func polls(w *waits, n int) {
	for range n {
		w.WaitCreated(w.Created()-1, nil) // the poller waits
		next, ok := w.Next()
		if !ok {
			panic("the poller waits on no timer")
		}
		c := w.Created()
		w.Advance(next.Sub(w.Now()))
		w.WaitCreated(c, nil) // it asked and waits again
	}
}

// TestFollowPlugged: a Watcher that follows the SmartEVSE asks GET
// /settings once a second, and says a car plugged in when MODEM_WAIT
// begins and gone when the state goes to A, at the time of the reading.
func TestFollowPlugged(t *testing.T) {
	w := manualWaits()
	fwModemRequest := firmwareState{11, "Modem Request", "B", 0}
	stub := newFollowStub(t, w,
		meterStep{0, fwModemCPOff, -1, 0, 0}, meterStep{time.Second, fwModemRequest, -1, 0, 0}, meterStep{2 * time.Second, fwModemWait, -1, 0, 0},
		meterStep{5 * time.Second, fwModemDone, -1, 0, 0}, meterStep{10 * time.Second, fwB, -1, 0, 0}, meterStep{12 * time.Second, fwC, -1, 0, 0},
		meterStep{20 * time.Second, fwModemCPOff, -1, 0, 0}, meterStep{23 * time.Second, fwModemRequest, -1, 0, 0}, meterStep{24 * time.Second, fwModemWait, -1, 0, 0})
	f := startFollower(t, WatchConfig{URL: stub.srv.URL}, w)
	w.WaitCreated(0, nil) // the first GET, at once
	polls(w, 25)
	f.wt.Close()
	f.mu.Lock()
	defer f.mu.Unlock()
	want := []plugCall{{false, 0}, {true, 2 * time.Second}, {false, 20 * time.Second}, {true, 24 * time.Second}}
	if !reflect.DeepEqual(f.plugs, want) {
		t.Fatalf("OnPlugged %v, want %v", f.plugs, want)
	}
	var at []time.Duration
	for i := range 26 {
		at = append(at, time.Duration(i)*time.Second)
	}
	if got := stub.requests(); !slices.Equal(got, at) {
		t.Fatalf("GET /settings at %v, want once a second from 0 to 25 s", got)
	}
	if got := w.got(); !slices.Equal(got, durations(time.Second, 26)) {
		t.Fatalf("waits %v", got)
	}
	if len(f.readings) != 26 || f.readings[12].State != StateC || f.readings[12].At != t0.Add(12*time.Second) || f.readings[12].Meter {
		t.Fatalf("readings %+v", f.readings)
	}
}

// TestFollowMeter: the EV meter's charged_kwh and import_active_power are
// read as the firmware prints them; a meter the firmware calls "Disabled",
// or a page without charged_kwh, is no meter.
func TestFollowMeter(t *testing.T) {
	w := manualWaits()
	disabled := strings.Replace(withMeter(fwC, 0, 0), `"description":"Eastron3P"`, `"description":"Disabled"`, 1)
	stub := newFollowStub(t, w, meterStep{0, fwC, 0, 0, 0}, meterStep{time.Second, fwC, 1.3, 11, 0}, meterStep{2 * time.Second, fwC, -1, 0, 0})
	f := startFollower(t, WatchConfig{URL: stub.srv.URL}, w)
	w.WaitCreated(0, nil)
	polls(w, 2)
	stub.mu.Lock()
	stub.script = nil
	stub.mu.Unlock()
	stub.srv.Config.Handler = http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { fmt.Fprintln(rw, disabled) })
	polls(w, 1)
	f.wt.Close()
	want := []Reading{
		{At: t0, State: StateC, Meter: true},
		{At: t0.Add(time.Second), State: StateC, Meter: true, ChargedKWh: 1.3, PowerKW: 11},
		{At: t0.Add(2 * time.Second), State: StateC},
		{At: t0.Add(3 * time.Second), State: StateC},
	}
	if !reflect.DeepEqual(f.readings, want) {
		t.Fatalf("readings\n got %+v\nwant %+v", f.readings, want)
	}
}

// TestFollowOddMeter: an ev_meter the Watcher cannot believe (text for a
// number, a negative or absurd charged_kwh, not an object) is no meter;
// the state is read all the same.
func TestFollowOddMeter(t *testing.T) {
	for _, meter := range []string{`"charged_kwh":"1.3"`, `"charged_kwh":-0.1`, `"charged_kwh":1e300`, `"charged_kwh":null`} {
		body := strings.Replace(withMeter(fwC, 0, 0), `"charged_kwh":0.0`, meter, 1)
		body = strings.Replace(body, `"charged_kwh":0`, meter, 1)
		for _, b := range []string{body, strings.Replace(fwC.json(), `"ev_meter":{`, `"ev_meter":[1],"x":{`, 1)} {
			w := manualWaits()
			stub := newFollowStub(t, w, meterStep{0, fwC, -1, 0, 0})
			stub.srv.Config.Handler = http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { fmt.Fprintln(rw, b) })
			f := startFollower(t, WatchConfig{URL: stub.srv.URL}, w)
			w.WaitCreated(0, nil)
			f.wt.Close()
			f.mu.Lock()
			got := f.readings
			f.mu.Unlock()
			if want := []Reading{{At: t0, State: StateC}}; !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: readings %+v", b, got)
			}
		}
	}
}

// TestFollowBackoff: a SmartEVSE that does not answer is asked less and
// less often, up to MaxBackoff, said once in the log; its return is said
// once, and the polls go back to once a second.
func TestFollowBackoff(t *testing.T) {
	w := manualWaits()
	stub := newFollowStub(t, w, meterStep{0, fwB, -1, 0, 0}, meterStep{time.Second, fwB, -1, 0, 503}, meterStep{100 * time.Second, fwB, -1, 0, 0})
	log, buf := quietLog()
	f := startFollower(t, WatchConfig{URL: stub.srv.URL, Log: log}, w)
	w.WaitCreated(0, nil)
	polls(w, 9)
	f.wt.Close()
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second, 30 * time.Second, time.Second, time.Second}
	if got := w.got(); !slices.Equal(got, want) {
		t.Fatalf("waits %v, want %v", got, want)
	}
	at := []time.Duration{0, 1, 3, 7, 15, 31, 61, 91, 121, 122}
	for i := range at {
		at[i] *= time.Second
	}
	if got := stub.requests(); !slices.Equal(got, at) {
		t.Fatalf("GET at %v, want %v", got, at)
	}
	host := strings.TrimPrefix(stub.srv.URL, "http://")
	wantLog := `level=WARN msg="smartevse: the SmartEVSE's state cannot be read (GET /settings answered HTTP 503 by ` + host + `): a car plugged in is not seen from it, and no SoC is estimated; asking again less often until it answers" url=` + stub.srv.URL + "/settings\n" +
		`level=INFO msg="smartevse: the SmartEVSE answers again; following its state" url=` + stub.srv.URL + "/settings\n"
	if got := buf.String(); got != wantLog {
		t.Fatalf("log\n got %s\nwant %s", got, wantLog)
	}
}

// TestFollowWatch: a watch after a delivery takes the follower's readings:
// one GET at the delivery, then one a second, never two clients; the
// outcome is as without following.
func TestFollowWatch(t *testing.T) {
	w := manualWaits()
	stub := newFollowStub(t, w, meterStep{0, fwModemDone, -1, 0, 0}, meterStep{2 * time.Second, fwModemCPOff, -1, 0, 0}, meterStep{9 * time.Second, fwC, -1, 0, 0})
	f := startFollower(t, WatchConfig{URL: stub.srv.URL}, w)
	w.WaitCreated(0, nil)
	c := w.Created()
	f.wt.Watch(7)
	w.WaitCreated(c, nil) // asked at once for the watch
	polls(w, 9)
	e := next(t, f.results, "handover")
	want := record.Event{Kind: record.KindHandover, At: t0.Add(9 * time.Second), PlugIn: 7, Handover: &record.Handover{
		Strategy: "deliver-now", ACStarted: true, ACAfter: 9 * time.Second, Observed: true,
		Seen: []string{"MODEM_DONE", "A", "C"}, Watched: time.Minute, At: t0.Add(9 * time.Second)}}
	if !reflect.DeepEqual(e, want) {
		t.Fatalf("event\n got %+v %+v\nwant %+v %+v", e, e.Handover, want, want.Handover)
	}
	polls(w, 1)
	f.wt.Close()
	at := []time.Duration{0, 0}
	for i := 1; i <= 10; i++ {
		at = append(at, time.Duration(i)*time.Second)
	}
	if got := stub.requests(); !slices.Equal(got, at) {
		t.Fatalf("GET at %v, want %v", got, at)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if want := []plugCall{{false, 2 * time.Second}}; !reflect.DeepEqual(f.plugs, want) {
		t.Fatalf("OnPlugged %v, want %v", f.plugs, want)
	}
}

// TestFollowNextCar: a second plug-in's delivery ends the first one's watch
// with what it saw, at once.
func TestFollowNextCar(t *testing.T) {
	w := manualWaits()
	stub := newFollowStub(t, w, meterStep{0, fwModemDone, -1, 0, 0})
	f := startFollower(t, WatchConfig{URL: stub.srv.URL}, w)
	w.WaitCreated(0, nil)
	c := w.Created()
	f.wt.Watch(1)
	w.WaitCreated(c, nil)
	f.wt.Watch(1) // the same plug-in again: nothing
	f.wt.Watch(2)
	e := next(t, f.results, "first handover")
	want := &record.Handover{Strategy: "deliver-now", Observed: true, Seen: []string{"MODEM_DONE"}, Watched: time.Minute, At: t0}
	if e.PlugIn != 1 || !reflect.DeepEqual(e.Handover, want) {
		t.Fatalf("plug-in %d: %+v", e.PlugIn, e.Handover)
	}
	f.wt.Close()
}
