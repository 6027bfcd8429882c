package smartevse

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"syscall"
	"testing"
	"time"
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

// waits records the backoffs asked for and lets each pass at once.
type waits struct {
	mu sync.Mutex
	d  []time.Duration
}

func (w *waits) after(d time.Duration) <-chan time.Time {
	w.mu.Lock()
	w.d = append(w.d, d)
	w.mu.Unlock()
	c := make(chan time.Time, 1)
	c <- time.Time{}
	return c
}

func (w *waits) got() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.d...)
}

// start makes a Sender whose outcomes arrive on the returned channel; cfg.After
// defaults to w (backoffs pass at once), cfg.Log to nothing.
func start(t *testing.T, cfg Config, w *waits) (*Sender, chan Delivery) {
	t.Helper()
	results := make(chan Delivery, 16)
	cfg.OnResult = func(d Delivery) { results <- d }
	if cfg.After == nil {
		cfg.After = w.after
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
	s, results := start(t, Config{URL: e.srv.URL, Log: slog.New(slog.NewJSONHandler(&logs, nil))}, &waits{})
	s.Update(State{SoC: -1, FullSoC: -1, EnergyCapacity: -1, EnergyRequest: -1, EVCCID: "0465650064C3"})
	s.Update(State{SoC: 93, FullSoC: 94, EnergyCapacity: 28000, EnergyRequest: -1})
	d := next(t, results, "delivery")
	if d.Err != nil || d.Status != 200 || d.Attempts != 1 || d.Query != ioniqQuery || d.State != ioniq || d.URL != e.srv.URL+"/ev_state" || d.Latency <= 0 {
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
	s, results := start(t, Config{URL: e.srv.URL}, &waits{})
	s.Update(ioniq)
	if d := next(t, results, "first delivery"); d.Err != nil || d.Query != ioniqQuery {
		t.Fatalf("first delivery %+v", d)
	}
	// Handing on is synchronous in Update, so the count proves what was queued.
	s.Update(ioniq)
	s.Update(Unknown())
	s.Update(State{SoC: 0, FullSoC: 0, EnergyCapacity: 0, EnergyRequest: -1})
	s.Update(State{SoC: -1, FullSoC: 90, EnergyCapacity: 20000, EnergyRequest: -1})
	s.Flush()
	if n := s.handedCount(); n != 1 {
		t.Fatalf("%d states handed on, want 1: only the first was an improvement", n)
	}
	s.Update(State{SoC: -1, FullSoC: -1, EnergyCapacity: -1, EnergyRequest: 14000})
	want := "current_soc=93&full_soc=94&energy_capacity=28000&energy_request=14000&evccid=0465650064c3"
	if d := next(t, results, "second delivery"); d.Err != nil || d.Query != want {
		t.Fatalf("second delivery %+v, want query %s", d, want)
	}
	if got := e.seen(); len(got) != 2 || got[1] != "POST /ev_state?"+want {
		t.Fatalf("SmartEVSE saw %q", got)
	}

	// The next car's equal SoC is news again.
	s.NewPlugIn()
	s.Update(State{SoC: 93, FullSoC: -1, EnergyCapacity: -1, EnergyRequest: -1})
	want = "current_soc=93&full_soc=-1&energy_capacity=-1&energy_request=-1"
	if d := next(t, results, "delivery after NewPlugIn"); d.Err != nil || d.Query != want {
		t.Fatalf("delivery after NewPlugIn %+v, want query %s", d, want)
	}
}

func TestSenderFlushDeliversEVCCIDWithoutSoC(t *testing.T) {
	e := newEVSE(t, nil)
	s, results := start(t, Config{URL: e.srv.URL}, &waits{})
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
	s, results := start(t, Config{URL: e.srv.URL, Timeout: time.Hour}, &waits{})
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
}

func TestSenderTimeout(t *testing.T) {
	e := newEVSE(t, make(chan struct{})) // never answers
	s, results := start(t, Config{URL: e.srv.URL, Timeout: 50 * time.Millisecond, Retries: -1}, &waits{})
	s.Update(ioniq)
	d := next(t, results, "delivery")
	var de *DeliveryError
	if !errors.Is(d.Err, ErrTimeout) || !errors.As(d.Err, &de) || d.Attempts != 1 || d.Status != 0 || d.Latency < 50*time.Millisecond {
		t.Fatalf("delivery %+v, want one attempt timed out after 50ms", d)
	}
	want := "smartevse: POST " + e.srv.URL + "/ev_state: no answer within 50ms: the SmartEVSE is off, out of reach or busy"
	if d.Err.Error() != want {
		t.Fatalf("error\n got %s\nwant %s", d.Err, want)
	}
}

func TestSenderRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close()
	w := &waits{}
	s, results := start(t, Config{URL: url}, w)
	s.Update(ioniq)
	d := next(t, results, "delivery")
	if !errors.Is(d.Err, ErrRefused) || !errors.Is(d.Err, syscall.ECONNREFUSED) || d.Attempts != 1+DefaultRetries || d.Status != 0 {
		t.Fatalf("delivery %+v, want %d refused attempts", d, 1+DefaultRetries)
	}
	want := "smartevse: POST " + url + "/ev_state: connection refused: nothing listens there; check that the SmartEVSE is on and its address and port are right"
	if d.Err.Error() != want {
		t.Fatalf("error\n got %s\nwant %s", d.Err, want)
	}
	if got := fmt.Sprint(w.got()); got != "[250ms 500ms 1s]" {
		t.Fatalf("backoffs %s, want [250ms 500ms 1s]", got)
	}
}

func TestSenderRetriesAfter500(t *testing.T) {
	e := newEVSE(t, nil, http.StatusInternalServerError, http.StatusOK)
	w := &waits{}
	s, results := start(t, Config{URL: e.srv.URL}, w)
	s.Update(ioniq)
	d := next(t, results, "delivery")
	if d.Err != nil || d.Status != 200 || d.Attempts != 2 || d.Query != ioniqQuery {
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
	s, results := start(t, Config{URL: e.srv.URL, Retries: 1, Backoff: []time.Duration{time.Second}}, &waits{})
	s.Update(ioniq)
	d := next(t, results, "delivery")
	if !errors.Is(d.Err, ErrStatus) || d.Status != 500 || d.Attempts != 2 {
		t.Fatalf("delivery %+v, want two attempts answered 500", d)
	}
	want := "smartevse: POST " + e.srv.URL + "/ev_state: the SmartEVSE answered HTTP 500 Internal Server Error"
	if d.Err.Error() != want {
		t.Fatalf("error\n got %s\nwant %s", d.Err, want)
	}
}

func TestSender404MeansNoModemSupport(t *testing.T) {
	e := newEVSE(t, nil, http.StatusNotFound, http.StatusNotFound)
	w := &waits{}
	s, results := start(t, Config{URL: e.srv.URL}, w)
	s.Update(ioniq)
	d := next(t, results, "delivery")
	var de *DeliveryError
	if !errors.Is(d.Err, ErrNoModemSupport) || !errors.As(d.Err, &de) || de.Status != 404 || d.Status != 404 || d.Attempts != 1 {
		t.Fatalf("delivery %+v, want one attempt and ErrNoModemSupport", d)
	}
	want := "smartevse: POST " + e.srv.URL + "/ev_state: HTTP 404: the SmartEVSE firmware was built without modem support (MODEM=1): POST /ev_state does not exist; flash a build with MODEM=1"
	if d.Err.Error() != want {
		t.Fatalf("error\n got %s\nwant %s", d.Err, want)
	}
	if len(w.got()) != 0 {
		t.Fatalf("backoffs %v: a 404 is final", w.got())
	}

	// With a path of the user's own, the path may be what is wrong.
	s2, results2 := start(t, Config{URL: e.srv.URL + "/api/ev"}, w)
	s2.Update(ioniq)
	d = next(t, results2, "delivery")
	want = "smartevse: POST " + e.srv.URL + "/api/ev: HTTP 404: the SmartEVSE firmware was built without modem support (MODEM=1): POST /ev_state does not exist; flash a build with MODEM=1, or check the URL's path"
	if d.Err == nil || d.Err.Error() != want {
		t.Fatalf("error\n got %v\nwant %s", d.Err, want)
	}
}

func TestSenderReportsRedirect(t *testing.T) {
	e := newEVSE(t, nil, http.StatusFound)
	s, results := start(t, Config{URL: e.srv.URL}, &waits{})
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

// gate is a backoff the test releases by hand.
type gate struct {
	asked chan time.Duration
	open  chan time.Time
}

func newGate() *gate { return &gate{asked: make(chan time.Duration, 8), open: make(chan time.Time)} }

func (g *gate) after(d time.Duration) <-chan time.Time {
	g.asked <- d
	return g.open
}

func TestSenderRetrySendsNewestState(t *testing.T) {
	e := newEVSE(t, nil, http.StatusInternalServerError)
	g := newGate()
	s, results := start(t, Config{URL: e.srv.URL, After: g.after}, nil)
	s.Update(State{SoC: 93, FullSoC: -1, EnergyCapacity: -1, EnergyRequest: -1})
	next(t, g.asked, "backoff after the 500")
	s.Update(State{SoC: -1, FullSoC: 94, EnergyCapacity: 28000, EnergyRequest: -1})
	close(g.open)
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
	s, results := start(t, Config{URL: e.srv.URL, Timeout: time.Hour, Log: log}, &waits{})
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
	wantLog := "level=WARN msg=\"smartevse: not delivered\" url=" + d.URL + " query=\"" + ioniqQuery + "\" status=0 attempts=1 latency=" + d.Latency.String() + " err=\"" + d.Err.Error() + "\"\n" +
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
	g := newGate() // never opens
	s, results := start(t, Config{URL: e.srv.URL, After: g.after}, nil)
	s.Update(ioniq)
	next(t, g.asked, "backoff")
	closed := make(chan error)
	go func() { closed <- s.Close() }()
	next(t, closed, "return from Close")
	if d := next(t, results, "delivery"); !errors.Is(d.Err, ErrClosed) || d.Attempts != 1 || d.Status != 503 {
		t.Fatalf("delivery %+v, want abandoned by Close after one 503", d)
	}
}

func TestSenderNewPlugInAbandonsPreviousCar(t *testing.T) {
	hold := make(chan struct{})
	e := newEVSE(t, hold)
	s, results := start(t, Config{URL: e.srv.URL, Timeout: time.Hour}, &waits{})
	s.Update(ioniq)
	next(t, e.arrived, "request for the first car")
	s.NewPlugIn()
	if d := next(t, results, "first car's delivery"); !errors.Is(d.Err, ErrNewPlugIn) || d.Query != ioniqQuery {
		t.Fatalf("first car's delivery %+v, want abandoned for the next plug-in", d)
	}
	close(hold)
	s.Update(State{SoC: 40, FullSoC: -1, EnergyCapacity: 77000, EnergyRequest: -1, EVCCID: "020000abcdef"})
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
	s, results := start(t, Config{URL: url, Retries: 2 * MaxRetries, Log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{ReplaceAttr: noTime}))}, &waits{})
	s.Update(ioniq)
	d := next(t, results, "delivery")
	if !errors.Is(d.Err, ErrUnreachable) || !errors.Is(d.Err, io.EOF) || d.Attempts != 1+MaxRetries {
		t.Fatalf("delivery %+v, want %d attempts ending in EOF", d, 1+MaxRetries)
	}
	want := "smartevse: POST " + url + "/ev_state: cannot reach the SmartEVSE: EOF"
	if d.Err.Error() != want {
		t.Fatalf("error\n got %s\nwant %s", d.Err, want)
	}
	wantLog := fmt.Sprintf("level=WARN msg=\"smartevse: not delivered\" url=%s/ev_state query=\"%s\" status=0 attempts=%d latency=%v err=\"%s\"\n", url, ioniqQuery, 1+MaxRetries, d.Latency, want)
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
	s, results := start(t, Config{URL: e.srv.URL, Retries: -1, Client: &http.Client{Timeout: 30 * time.Millisecond}}, &waits{})
	s.Update(ioniq)
	d := next(t, results, "delivery")
	want := "smartevse: POST " + e.srv.URL + "/ev_state: no answer within 30ms: the SmartEVSE is off, out of reach or busy"
	if !errors.Is(d.Err, ErrTimeout) || d.Err.Error() != want {
		t.Fatalf("delivery %+v, want %s", d, want)
	}
}
