package smartevse

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccslink/ccslink/internal/testlog"
	"github.com/ccslink/ccslink/record"
)

// firmwareSettings is the firmware's GET /settings (MODEM=1, v3 as of
// 2026) with evse.state, state_id, iec61851_state and charging_enabled
// left to fill in.
const firmwareSettings = `{"version":"v3.7.2","serialnr":51446,"mode":"NORMAL","mode_id":1,"car_connected":true,"wifi":{"status":"WL_CONNECTED","ssid":"home","rssi":-61,"bssid":"28:87:BA:D6:B9:DE"},` +
	`"evse":{"temp":21,"temp_max":65,"connected":true,"access":1,"mode":1,"loadbl":0,"pwm":%d,"custombutton":false,"solar_stop_timer":0,"state":%q,"state_id":%d,"error":"None","error_id":0,"rfidreader":"Disabled","nrofphases":3,"rfid":"Not Installed","iec61851_state":%q,"charging_enabled":%t},` +
	`"settings":{"charge_current":160,"override_current":0,"current_min":6,"current_max":16,"current_main":25,"current_max_circuit":16,"current_max_sum_mains":600,"max_sum_mains_time":0,"solar_max_import":0,"solar_start_current":4,"solar_stop_time":10,"enable_C2":"Always On","mains_meter":"Sensorbox","starttime":0,"stoptime":0,"repeat":0,"lcdlock":0,"lock":0,"cablelock":0,"required_evccid":"","modem":"Experiment"},` +
	`"ev_state":{"initial_soc":93,"remaining_soc":-1,"full_soc":94,"energy_capacity":28000,"energy_request":1820,"computed_soc":93,"evccid":"0465650064c3","time_until_full":-1},` +
	`"home_battery":{"current":0,"last_update":0},"ev_meter":{"description":"Eastron3P","address":11,"import_active_power":0,"total_wh":5670100,"charged_wh":0,"currents":{"TOTAL":1,"L1":0,"L2":0,"L3":1},"import_active_energy":5670100,"export_active_energy":0},` +
	`"backlight":{"timer":0,"status":"OFF"}}`

// firmwareState is a state as the firmware shows it: its web name, the
// IEC 61851 letter and the duty cycle (of 1024).
type firmwareState struct {
	id   int
	name string
	iec  string
	pwm  int
}

var (
	fwB          = firmwareState{StateB, "Connected to EV", "B", 266}
	fwC          = firmwareState{StateC, "Charging", "C", 266}
	fwModemDone  = firmwareState{StateModemDone, "Modem Done", "B", 1024}
	fwModemWait  = firmwareState{12, "Modem Wait", "B", 51}
	fwModemCPOff = firmwareState{StateA, "Ready to Charge", "A", 0}
)

func (f firmwareState) json() string {
	return fmt.Sprintf(firmwareSettings, f.pwm, f.name, f.id, f.iec, f.id == StateC)
}

// step is the SmartEVSE's state from a time on.
type step struct {
	from time.Duration
	st   firmwareState
}

// settingsStub is a SmartEVSE's GET /settings on loopback whose state
// follows a script over the fake clock's time since t0; it records every
// request. hold, while it has room, keeps a request until the client
// gives up (a slow ESP32).
type settingsStub struct {
	srv    *httptest.Server
	w      *waits
	script []step
	answer func(http.ResponseWriter) // in place of the script, if set
	hold   chan struct{}

	mu  sync.Mutex
	got []string
}

func newSettingsStub(t *testing.T, w *waits, script ...step) *settingsStub {
	s := &settingsStub{w: w, script: script}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *settingsStub) serve(rw http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.got = append(s.got, r.Method+" "+r.URL.RequestURI())
	s.mu.Unlock()
	if s.hold != nil {
		select {
		case s.hold <- struct{}{}:
			<-r.Context().Done() // the client gave up
			return
		default:
		}
	}
	if s.answer != nil {
		s.answer(rw)
		return
	}
	if r.Method != http.MethodGet || r.URL.Path != SettingsPath {
		http.NotFound(rw, r)
		return
	}
	since := s.w.Now().Sub(t0)
	s.mu.Lock()
	script := s.script
	s.mu.Unlock()
	st := script[0].st
	for _, x := range script {
		if since >= x.from {
			st = x.st
		}
	}
	rw.Header().Set("Content-Type", "application/json")
	io.WriteString(rw, st.json()+"\n")
}

func (s *settingsStub) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got)
}

// quietLog is a logger at debug level without times, and its buffer.
func quietLog() (*slog.Logger, *testlog.Buffer) {
	b := &testlog.Buffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}})), b
}

// startWatcher makes a Watcher of the stub whose results arrive on the
// returned channel.
func startWatcher(t *testing.T, cfg WatchConfig, w *waits) (*Watcher, chan record.Event) {
	t.Helper()
	results := make(chan record.Event, 16)
	cfg.OnResult = func(e record.Event) { results <- e }
	if cfg.Clock == nil {
		cfg.Clock = w
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	wt, err := NewWatcher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wt.Close() })
	return wt, results
}

func repeat(s string, n int) []string {
	l := make([]string, n)
	for i := range l {
		l[i] = s
	}
	return l
}

func durations(d time.Duration, n int) []time.Duration {
	l := make([]time.Duration, n)
	for i := range l {
		l[i] = d
	}
	return l
}

// TestWatchSeesACCharging: after the SoC the firmware goes MODEM_DONE,
// cuts CP (A), then the car draws current (C) 9 s after the delivery; the
// watch asks GET /settings once a second and nothing else, and stops at C.
func TestWatchSeesACCharging(t *testing.T) {
	w := newWaits()
	stub := newSettingsStub(t, w, step{0, fwB}, step{time.Second, fwModemDone}, step{2 * time.Second, fwModemCPOff}, step{9 * time.Second, fwC})
	wt, results := startWatcher(t, WatchConfig{URL: stub.srv.URL}, w)
	wt.Watch(7)
	e := next(t, results, "handover")
	want := record.Event{Kind: record.KindHandover, At: t0.Add(9 * time.Second), PlugIn: 7, Handover: &record.Handover{
		Strategy: "deliver-now", ACStarted: true, ACAfter: 9 * time.Second, Observed: true,
		Seen: []string{"B", "MODEM_DONE", "A", "C"}, Watched: time.Minute, At: t0.Add(9 * time.Second)}}
	if !reflect.DeepEqual(e, want) {
		t.Fatalf("event\n got %+v %+v\nwant %+v %+v", e, e.Handover, want, want.Handover)
	}
	if got := stub.requests(); !slices.Equal(got, repeat("GET /settings", 10)) {
		t.Fatalf("requests %q, want 10 GET /settings, one a second from 0 to 9 s", got)
	}
	if got := w.got(); !slices.Equal(got, durations(time.Second, 9)) {
		t.Fatalf("waits %v", got)
	}
	if got := record.Event(e).Handover.Words(); got != "charging on AC 9 s later" {
		t.Fatalf("words %q", got)
	}
}

// TestWatchNeverC: a car that stays in B after the virtual re-plug is
// watched for the whole bound, every state it passed through recorded.
func TestWatchNeverC(t *testing.T) {
	w := newWaits()
	stub := newSettingsStub(t, w, step{0, fwModemWait}, step{time.Second, fwModemDone}, step{2 * time.Second, fwModemCPOff}, step{7 * time.Second, fwB})
	wt, results := startWatcher(t, WatchConfig{URL: stub.srv.URL, Bound: 30 * time.Second}, w)
	wt.Watch(1)
	e := next(t, results, "handover")
	want := &record.Handover{Strategy: "deliver-now", Observed: true, Seen: []string{"MODEM_WAIT", "MODEM_DONE", "A", "B"},
		Watched: 30 * time.Second, At: t0.Add(30 * time.Second)}
	if e.PlugIn != 1 || e.At != want.At || !reflect.DeepEqual(e.Handover, want) {
		t.Fatalf("handover %+v", e.Handover)
	}
	if got := stub.requests(); len(got) != 31 {
		t.Fatalf("%d requests, want 31 (0 to 30 s)", len(got))
	}
	if e.Handover.Outcome() != "no_ac" || e.Handover.Words() != "no AC charging within 30 s (seen: MODEM_WAIT, MODEM_DONE, A, B)" {
		t.Fatalf("outcome %s, words %q", e.Handover.Outcome(), e.Handover.Words())
	}
}

// TestWatchAfterModemWait: values without a SoC leave the firmware in
// MODEM_WAIT until its wait is over (here 40 s after the delivery): the
// bound counts from there, and the car charging after the CP-off is seen.
func TestWatchAfterModemWait(t *testing.T) {
	w := newWaits()
	stub := newSettingsStub(t, w, step{0, fwModemWait}, step{40 * time.Second, fwModemDone}, step{41 * time.Second, fwModemCPOff}, step{46 * time.Second, fwC})
	wt, results := startWatcher(t, WatchConfig{URL: stub.srv.URL, Bound: 20 * time.Second}, w)
	wt.Watch(2)
	e := next(t, results, "handover")
	want := &record.Handover{Strategy: "deliver-now", ACStarted: true, ACAfter: 46 * time.Second, Observed: true, Seen: []string{"MODEM_WAIT", "MODEM_DONE", "A", "C"},
		Watched: 20 * time.Second, At: t0.Add(46 * time.Second)}
	if !reflect.DeepEqual(e.Handover, want) {
		t.Fatalf("handover %+v", e.Handover)
	}
}

// TestWatchModemWaitBounded: a SmartEVSE that never leaves MODEM_WAIT is
// watched the firmware's wait and the bound, no longer.
func TestWatchModemWaitBounded(t *testing.T) {
	w := newWaits()
	stub := newSettingsStub(t, w, step{0, fwModemWait})
	wt, results := startWatcher(t, WatchConfig{URL: stub.srv.URL, Bound: 20 * time.Second}, w)
	wt.Watch(3)
	e := next(t, results, "handover")
	if e.At != t0.Add(ModemWait+20*time.Second) || e.Handover.ACStarted || e.Handover.Outcome() != "no_ac" {
		t.Fatalf("handover at %v: %+v", e.At.Sub(t0), e.Handover)
	}
	if got := stub.requests(); len(got) != 81 {
		t.Fatalf("%d requests, want 81 (0 to 80 s)", len(got))
	}
}

// TestWatch404: a SmartEVSE without GET /settings (or another server) ends
// the watch at its first answer, said in one Warn line; the next plug-in
// asks again, and its 404 is only a debug line.
func TestWatch404(t *testing.T) {
	w := newWaits()
	stub := newSettingsStub(t, w, step{0, fwB})
	stub.answer = func(rw http.ResponseWriter) { http.Error(rw, "Not Found", http.StatusNotFound) }
	log, buf := quietLog()
	wt, results := startWatcher(t, WatchConfig{URL: stub.srv.URL + "/ev_state", Log: log}, w)
	host := strings.TrimPrefix(stub.srv.URL, "http://")
	wt.Watch(1)
	e := next(t, results, "handover")
	want := &record.Handover{Strategy: "deliver-now", Why: host + " has no GET /settings (HTTP 404)", Watched: time.Minute, At: t0}
	if e.PlugIn != 1 || !reflect.DeepEqual(e.Handover, want) {
		t.Fatalf("handover %+v", e.Handover)
	}
	wt.Watch(2)
	if e := next(t, results, "handover"); e.PlugIn != 2 || !reflect.DeepEqual(e.Handover, want) {
		t.Fatalf("second handover %+v", e.Handover)
	}
	line := `msg="smartevse: not watching for AC charging after the SoC: ` + host + ` has no GET /settings (HTTP 404); set smartevse.watch to 0s for a charger without the SmartEVSE's API" url=` + stub.srv.URL + "/settings\n"
	if got, want := buf.String(), "level=WARN "+line+"level=DEBUG "+line; got != want {
		t.Fatalf("log\n got %s\nwant %s", got, want)
	}
	if got := stub.requests(); !slices.Equal(got, repeat("GET /settings", 2)) {
		t.Fatalf("requests %q", got)
	}
	if len(w.got()) != 0 {
		t.Fatalf("waits %v after a 404", w.got())
	}
}

// TestWatchNotSmartEVSE: an answer that is not the firmware's JSON (garbage,
// another receiver's JSON, JSON without evse.state_id) ends the watch at once.
func TestWatchNotSmartEVSE(t *testing.T) {
	for _, body := range []string{
		"<html>router login</html>",
		`{"evse":{"state_id":`,
		`{"current_soc":93,"full_soc":94}`,
		`{"evse":{"state":"Charging"}}`,
		`{"evse":{"state_id":"2"}}`,
		`[]`,
	} {
		w := newWaits()
		stub := newSettingsStub(t, w, step{0, fwB})
		stub.answer = func(rw http.ResponseWriter) { io.WriteString(rw, body) }
		wt, results := startWatcher(t, WatchConfig{URL: stub.srv.URL}, w)
		wt.Watch(4)
		e := next(t, results, "handover")
		host := strings.TrimPrefix(stub.srv.URL, "http://")
		want := &record.Handover{Strategy: "deliver-now", Why: host + " answered GET /settings with something other than a SmartEVSE's state", Watched: time.Minute, At: t0}
		if !reflect.DeepEqual(e.Handover, want) || len(stub.requests()) != 1 {
			t.Fatalf("%q: handover %+v after %d requests", body, e.Handover, len(stub.requests()))
		}
		if e.Handover.Outcome() != "not_observed" {
			t.Fatalf("%q: outcome %s", body, e.Handover.Outcome())
		}
	}
}

// TestWatchSlowSmartEVSE: polls that time out are retried at the next
// second; the outcome counts from the delivery by the clock, not by the
// polls that answered.
func TestWatchSlowSmartEVSE(t *testing.T) {
	w := newWaits()
	stub := newSettingsStub(t, w, step{0, fwModemDone}, step{time.Second, fwModemCPOff}, step{6 * time.Second, fwC})
	stub.hold = make(chan struct{}, 2) // the first two requests hang
	wt, results := startWatcher(t, WatchConfig{URL: stub.srv.URL, Timeout: 500 * time.Millisecond}, w)
	wt.Watch(3)
	e := next(t, results, "handover")
	want := &record.Handover{Strategy: "deliver-now", ACStarted: true, ACAfter: 6 * time.Second, Observed: true,
		Seen: []string{"A", "C"}, Watched: time.Minute, At: t0.Add(6 * time.Second)}
	if !reflect.DeepEqual(e.Handover, want) {
		t.Fatalf("handover %+v", e.Handover)
	}
	if n := len(stub.requests()); n != 7 {
		t.Fatalf("%d requests, want 7 (0 to 6 s)", n)
	}
}

// TestWatchUnreachable: a SmartEVSE that never answers within the bound is
// not observed, with the last poll's failure as the reason.
func TestWatchUnreachable(t *testing.T) {
	w := newWaits()
	stub := newSettingsStub(t, w, step{0, fwB})
	stub.hold = make(chan struct{}, 100)
	wt, results := startWatcher(t, WatchConfig{URL: stub.srv.URL, Timeout: 20 * time.Millisecond, Bound: 3 * time.Second}, w)
	wt.Watch(9)
	e := next(t, results, "handover")
	host := strings.TrimPrefix(stub.srv.URL, "http://")
	want := &record.Handover{Strategy: "deliver-now", Why: "no answer from " + host + " within 20ms", Watched: 3 * time.Second, At: t0.Add(3 * time.Second)}
	if !reflect.DeepEqual(e.Handover, want) || len(stub.requests()) != 4 {
		t.Fatalf("handover %+v after %d requests", e.Handover, len(stub.requests()))
	}
	if got := e.Handover.Words(); got != "AC charging not observed: no answer from "+host+" within 20ms" {
		t.Fatalf("words %q", got)
	}
}

// TestWatchOncePerPlugIn: a second delivery of the same car starts no
// second watch; the next car's watch ends the last one's with what it saw.
func TestWatchOncePerPlugIn(t *testing.T) {
	w := manualWaits()
	stub := newSettingsStub(t, w, step{0, fwModemDone})
	wt, results := startWatcher(t, WatchConfig{URL: stub.srv.URL}, w)
	wt.Watch(5)
	w.WaitCreated(0, nil) // polled once, waiting for the next second
	wt.Watch(5)
	if len(stub.requests()) != 1 {
		t.Fatalf("requests %q", stub.requests())
	}
	stub.mu.Lock()
	stub.script = []step{{0, fwC}}
	stub.mu.Unlock()
	wt.Watch(6)
	e := next(t, results, "first car's handover")
	want := &record.Handover{Strategy: "deliver-now", Observed: true, Seen: []string{"MODEM_DONE"}, Watched: time.Minute, At: t0}
	if e.PlugIn != 5 || !reflect.DeepEqual(e.Handover, want) {
		t.Fatalf("plug-in %d: handover %+v", e.PlugIn, e.Handover)
	}
	e = next(t, results, "second car's handover")
	if e.PlugIn != 6 || !e.Handover.ACStarted || e.Handover.ACAfter != 0 {
		t.Fatalf("plug-in %d: handover %+v", e.PlugIn, e.Handover)
	}
}

// TestWatchClose: Close ends a watch without a result.
func TestWatchClose(t *testing.T) {
	w := manualWaits()
	stub := newSettingsStub(t, w, step{0, fwB})
	wt, results := startWatcher(t, WatchConfig{URL: stub.srv.URL}, w)
	wt.Watch(1)
	w.WaitCreated(0, nil)
	wt.Close()
	wt.Watch(2) // after Close: nothing
	select {
	case e := <-results:
		t.Fatalf("a result after Close: %+v", e)
	default:
	}
	if len(stub.requests()) != 1 {
		t.Fatalf("requests %q", stub.requests())
	}
}

// TestSettingsURL: the SmartEVSE's GET /settings is on the host posted to;
// a receiver of its own path has none.
func TestSettingsURL(t *testing.T) {
	for raw, want := range map[string]string{
		"http://10.0.0.1":                   "http://10.0.0.1/settings",
		"http://10.0.0.1/":                  "http://10.0.0.1/settings",
		"http://10.0.0.1/ev_state":          "http://10.0.0.1/settings",
		"http://smartevse-1234.local:8080/": "http://smartevse-1234.local:8080/settings",
	} {
		u, err := SettingsURL(raw)
		if err != nil || u.String() != want {
			t.Errorf("%s: %v, %v; want %s", raw, u, err, want)
		}
	}
	if _, err := SettingsURL("http://nodered:1880/soc"); !errors.Is(err, ErrNotSmartEVSE) {
		t.Fatalf("another receiver: %v", err)
	}
	if _, err := NewWatcher(WatchConfig{URL: "http://nodered:1880/soc", OnResult: func(record.Event) {}}); !errors.Is(err, ErrNotSmartEVSE) {
		t.Fatalf("NewWatcher: %v", err)
	}
	if _, err := SettingsURL("10.0.0.1"); !errors.Is(err, ErrNoScheme) {
		t.Fatalf("no scheme: %v", err)
	}
	if StateName(13) != "MODEM_DONE" || StateName(2) != "C" || StateName(99) != "state 99" || StateName(-1) != "state -1" {
		t.Fatal("state names")
	}
}
