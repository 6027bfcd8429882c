package daemon

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ccslink/ccslink/clock"
	"github.com/ccslink/ccslink/daemon/config"
	"github.com/ccslink/ccslink/daemon/handover"
	"github.com/ccslink/ccslink/proto/v2g/message"
	"github.com/ccslink/ccslink/record"
)

var t0 = time.Date(2026, 12, 7, 18, 0, 0, 0, time.UTC)

// recorder is the SmartEVSE's subscriber as handing sees it: what reached it.
type recorder struct {
	got   chan string
	ended chan *record.Session
}

func newRecorder() *recorder {
	return &recorder{got: make(chan string, 32), ended: make(chan *record.Session, 4)}
}

func (r *recorder) Event(e record.Event, s *record.Session) { r.got <- e.Kind.String() }
func (r *recorder) PlugInEnded(s *record.Session)           { r.ended <- s }

// drained returns the event kinds that reached r so far.
func (r *recorder) drained() []string {
	var out []string
	for {
		select {
		case k := <-r.got:
			out = append(out, k)
		default:
			return out
		}
	}
}

func memoryWith(t *testing.T, notes ...string) *handover.Memory {
	t.Helper()
	m, err := handover.Open("")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(notes); i += 3 {
		m.Note(notes[i], notes[i+1], notes[i+2], t0)
	}
	return m
}

// plugIn plays the events of a car id3 (recognised) up to its harvest
// and one more CPD through h; it returns the record.
func plugIn(h *handing, id uint64) *record.Session {
	s := &record.Session{PlugIn: id}
	h.Event(record.Event{Kind: record.KindSLACStarted, At: t0}, s)
	h.Event(record.Event{Kind: record.KindSessionSetup, At: t0}, s)
	s.Vehicle = &record.Vehicle{ID: "id3", Name: "ID.3"}
	h.Event(record.Event{Kind: record.KindVehicle, At: t0}, s)
	at := t0.Add(time.Second)
	s.Phases.FirstCPD = at
	h.Event(record.Event{Kind: record.KindValues, At: at, Message: message.ChargeParameterDiscoveryReq}, s)
	h.Event(record.Event{Kind: record.KindValues, At: at.Add(time.Second), Message: message.ChargeParameterDiscoveryReq}, s)
	return s
}

func newTestHanding(mem *handover.Memory, pin string, clk clock.Clock) (*handing, *recorder) {
	r := newRecorder()
	st := &strategies{mem: mem, available: []string{record.StrategyDeliverNow, record.StrategyEndThenDeliver}, log: slog.New(slog.DiscardHandler),
		pin: func(id string) string {
			if id == "id3" {
				return pin
			}
			return ""
		}}
	return newHanding(r, st, clk, slog.New(slog.DiscardHandler)), r
}

func TestHandingDeliverNowPassesEverything(t *testing.T) {
	h, r := newTestHanding(memoryWith(t), "", clock.NewFake(t0))
	plugIn(h, 1)
	want := []string{"slac_started", "session_setup", "vehicle", "values", "values"}
	if got := r.drained(); !reflect.DeepEqual(got, want) {
		t.Fatalf("reached the SmartEVSE: %v, want %v", got, want)
	}
	if s, key := h.Strategy(1); s != record.StrategyDeliverNow || key != "id3" {
		t.Fatalf("Strategy(1) = %q, %q", s, key)
	}
}

func TestHandingEndThenDeliverWaitsForTheEnd(t *testing.T) {
	clk := clock.NewFake(t0)
	h, r := newTestHanding(memoryWith(t, "id3", record.StrategyDeliverNow, record.OutcomeNoAC), "", clk)
	s := plugIn(h, 1)
	if got, want := r.drained(), []string{"slac_started", "session_setup", "vehicle"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("before the end: %v, want %v", got, want)
	}
	h.Event(record.Event{Kind: record.KindEnded, At: t0.Add(3 * time.Second)}, s)
	if got, want := r.drained(), []string{"ended"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("at the end: %v, want %v", got, want)
	}
	// The bound has nothing left to send.
	clk.Advance(EndThenDeliverBound)
	h.PlugInEnded(s)
	if e := <-r.ended; e != s {
		t.Fatal("PlugInEnded not handed on")
	}
	select {
	case e := <-r.ended:
		t.Fatalf("the bound sent %v after the end", e)
	default:
	}
}

func TestHandingEndThenDeliverBounded(t *testing.T) {
	clk := clock.NewFake(t0)
	h, r := newTestHanding(memoryWith(t), record.StrategyEndThenDeliver, clk)
	plugIn(h, 7)
	if got, want := r.drained(), []string{"slac_started", "session_setup", "vehicle"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("before the bound: %v, want %v", got, want)
	}
	clk.Advance(EndThenDeliverBound - time.Millisecond)
	select {
	case <-r.ended:
		t.Fatal("sent before the bound")
	default:
	}
	clk.Advance(time.Millisecond)
	s := <-r.ended
	if s.PlugIn != 7 || s.Phases.FirstCPD != t0.Add(time.Second) {
		t.Fatalf("sent %+v", s)
	}
	if st, _ := h.Strategy(7); st != record.StrategyEndThenDeliver {
		t.Fatalf("strategy %q", st)
	}
}

func TestHandingHandoverNamesAndRemembers(t *testing.T) {
	mem := memoryWith(t, "id3", record.StrategyDeliverNow, record.OutcomeNoAC)
	h, _ := newTestHanding(mem, "", clock.NewFake(t0))
	s := plugIn(h, 3)
	h.Event(record.Event{Kind: record.KindEnded, At: t0.Add(3 * time.Second)}, s)
	at := t0.Add(20 * time.Second)
	in := record.Event{Kind: record.KindHandover, PlugIn: 3, At: at,
		Handover: &record.Handover{Strategy: record.StrategyDeliverNow, ACStarted: true, Observed: true, ACAfter: 9 * time.Second, At: at}}
	out := h.handover(in)
	if out.Handover.Strategy != record.StrategyEndThenDeliver || in.Handover.Strategy != record.StrategyDeliverNow {
		t.Fatalf("out %q, in %q", out.Handover.Strategy, in.Handover.Strategy)
	}
	c, _ := mem.Car("id3")
	want := handover.Car{ID: "id3", Tried: []handover.Tried{
		{Strategy: record.StrategyDeliverNow, Outcomes: []string{record.OutcomeNoAC}, Last: t0},
		{Strategy: record.StrategyEndThenDeliver, Outcomes: []string{record.OutcomeACStarted}, Last: at},
	}}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("remembered %+v, want %+v", c, want)
	}
	// A handover of a plug-in with no strategy chosen is left as it is.
	other := h.handover(record.Event{Kind: record.KindHandover, PlugIn: 99, Handover: &record.Handover{Strategy: record.StrategyDeliverNow}})
	if other.Handover.Strategy != record.StrategyDeliverNow || len(mem.Cars()) != 1 {
		t.Fatalf("plug-in 99: %q, %d cars", other.Handover.Strategy, len(mem.Cars()))
	}
}

// TestHandingDenialIsNoFailure: the SmartEVSE denying the car (its
// required EVCCID) is remembered as not observed: the strategy stays.
func TestHandingDenialIsNoFailure(t *testing.T) {
	mem := memoryWith(t)
	h, _ := newTestHanding(mem, "", clock.NewFake(t0))
	plugIn(h, 4)
	h.handover(record.Event{Kind: record.KindHandover, PlugIn: 4, At: t0, Handover: &record.Handover{Strategy: record.StrategyDeliverNow, Observed: true, Seen: []string{"MODEM_DONE", "MODEM_DENIED", "A"}, At: t0}})
	c, _ := mem.Car("id3")
	want := handover.Car{ID: "id3", Tried: []handover.Tried{{Strategy: record.StrategyDeliverNow, Outcomes: []string{record.OutcomeNotObserved}, Last: t0}}}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("remembered %+v", c)
	}
	if _, s, _ := h.st.choose(&record.Session{Vehicle: &record.Vehicle{ID: "id3"}}); s != record.StrategyDeliverNow {
		t.Fatalf("next %q", s)
	}
}

type pwmPost struct {
	pwm int
	at  time.Time
}

func TestX1ThenPWM(t *testing.T) {
	clk := clock.NewFake(t0)
	posts := make(chan pwmPost, 4)
	post := func(_ context.Context, pwm int) error { posts <- pwmPost{pwm, clk.Now()}; return nil }
	done := make(chan error, 1)
	go func() { done <- x1ThenPWM(context.Background(), clk, post) }()
	clk.WaitCreated(0, nil)
	clk.Advance(X1Delay)
	if p := <-posts; p != (pwmPost{1024, t0.Add(7 * time.Second)}) {
		t.Fatalf("first post %+v", p)
	}
	clk.WaitCreated(1, nil)
	clk.Advance(X1Hold)
	if p := <-posts; p != (pwmPost{-1, t0.Add(9 * time.Second)}) {
		t.Fatalf("second post %+v", p)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestX1ThenPWMReleasesWhenStopped(t *testing.T) {
	clk := clock.NewFake(t0)
	ctx, cancel := context.WithCancel(context.Background())
	posts := make(chan int, 4)
	post := func(ctx context.Context, pwm int) error { posts <- pwm; return ctx.Err() }
	done := make(chan error, 1)
	go func() { done <- x1ThenPWM(ctx, clk, post) }()
	clk.WaitCreated(0, nil)
	clk.Advance(X1Delay)
	<-posts
	clk.WaitCreated(1, nil)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	if p := <-posts; p != -1 {
		t.Fatalf("release %d", p)
	}
}

func TestPostPWM(t *testing.T) {
	got := make(chan string, 2)
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Method + " " + r.URL.RequestURI()
		w.WriteHeader(status)
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL + "/settings")
	post := postPWM(u, 2*time.Second)
	if err := post(context.Background(), 1024); err != nil {
		t.Fatal(err)
	}
	if r := <-got; r != "POST /settings?override_pwm=1024" {
		t.Fatalf("request %q", r)
	}
	status = http.StatusNotFound
	err := post(context.Background(), -1)
	var pe *PWMError
	if !errors.As(err, &pe) || pe.Status != 404 || err.Error() != "the SmartEVSE at "+srv.URL+"/settings refused the release of CP (override_pwm=-1): HTTP 404; is its firmware recent enough for override_pwm?" {
		t.Fatalf("err %v", err)
	}
	if r := <-got; r != "POST /settings?override_pwm=-1" {
		t.Fatalf("request %q", r)
	}
}

// TestNewMovesDamagedMemoryAside: a damaged handovers.json does not stop
// the daemon: it says so, keeps the file aside, and starts afresh.
func TestNewMovesDamagedMemoryAside(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, handover.File)
	if err := os.WriteFile(path, []byte("[1,2"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := config.Default()
	c.StateDir, c.SmartEVSE.URL, c.Recordings.Keep = dir, "http://127.0.0.1:9", 0
	var logb bytes.Buffer
	d, err := New(Config{Config: c, Log: slog.New(slog.NewTextHandler(&logb, &slog.HandlerOptions{ReplaceAttr: noTime}))})
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	want := `level=WARN msg="the handovers remembered in ` + path + ` are damaged (not a file of remembered handovers: unexpected end of JSON input): kept as ` + path + `.corrupt, starting afresh; each car tries its strategies again from deliver-now"` + "\n"
	if !strings.Contains(logb.String(), want) {
		t.Fatalf("log:\n%s\nwant the line\n%s", logb.String(), want)
	}
	if b, _ := os.ReadFile(path + ".corrupt"); string(b) != "[1,2" {
		t.Fatalf("aside: %q", b)
	}
	if got, want := Strategies(c), []string{record.StrategyDeliverNow, record.StrategyNoNegotiation, record.StrategyEndThenDeliver}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Strategies = %v, want %v", got, want)
	}
	c.SmartEVSE.WritePWM = true
	if got, want := Strategies(c), handover.Order; !reflect.DeepEqual(got, want) {
		t.Fatalf("Strategies with write_pwm = %v, want %v", got, want)
	}
	c.SmartEVSE.URL = "http://10.0.0.1/other"
	if got := Strategies(c); len(got) != 3 {
		t.Fatalf("Strategies for another receiver = %v", got)
	}
}

func noTime(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}
