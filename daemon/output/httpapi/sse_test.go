package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ccslink/ccslink/internal/testlog"
	"github.com/ccslink/ccslink/proto/v2g/message"
	"github.com/ccslink/ccslink/record"
)

type sse struct {
	kind string
	data eventJSON
	raw  string
}

// stream reads server-sent events from r until it ends; a comment comes as kind ":".
func stream(r io.Reader) <-chan sse {
	out := make(chan sse, 1024)
	go func() {
		defer close(out)
		br := bufio.NewReader(r)
		var ev sse
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimSuffix(line, "\n")
			switch {
			case strings.HasPrefix(line, ":"):
				out <- sse{kind: ":", raw: line}
			case strings.HasPrefix(line, "event: "):
				ev.kind = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				ev.raw = line[len("data: "):]
				json.Unmarshal([]byte(ev.raw), &ev.data)
			case line == "" && ev.kind != "":
				out <- ev
				ev = sse{}
			}
		}
	}()
	return out
}

func next(t *testing.T, c <-chan sse) sse {
	t.Helper()
	select {
	case e, ok := <-c:
		if !ok {
			t.Fatal("the event stream ended")
		}
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10 s")
	}
	return sse{}
}

// within fails the test when fn does not return in time: the subscriber must never block.
func within(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { fn(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s blocked", what)
	}
}

// subscribe opens /api/events (url is the server, or the stream with its query) and returns its events, once the server counts the client.
func subscribe(t *testing.T, url string, subscribed <-chan struct{}) <-chan sse {
	t.Helper()
	if !strings.Contains(url, "/api/events") {
		url += "/api/events"
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET /api/events: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	<-subscribed
	return stream(resp.Body)
}

func newHTTP(t *testing.T, cfg Config) (*Server, *httptest.Server, chan struct{}) {
	t.Helper()
	return newHTTPWith(t, newServer(t, cfg))
}

func newHTTPWith(t *testing.T, s *Server) (*Server, *httptest.Server, chan struct{}) {
	t.Helper()
	subscribed := make(chan struct{}, 8)
	s.onSubscribe = func() { subscribed <- struct{}{} }
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	return s, hs, subscribed
}

func TestEventsInOrderToTwoClients(t *testing.T) {
	s, hs, subscribed := newHTTP(t, Config{})
	p := &player{s: s}
	p.plugIn(car(mac(9), 20, t0)) // an earlier plug-in, for the first state
	a := subscribe(t, hs.URL, subscribed)
	b := subscribe(t, hs.URL, subscribed)
	for _, c := range []<-chan sse{a, b} {
		e := next(t, c)
		if e.kind != "state" || e.data.State.State != record.StateWaiting || !is(e.data.State.SoC, 20) || e.data.State.Session == nil || e.data.State.Session.EVMAC != mac(9) {
			t.Fatalf("first event %s: %s", e.kind, e.raw)
		}
	}
	events := ioniq()
	within(t, "the subscriber", func() { p.plugIn(events) })
	want := []string{"slac_started", "matched", "link_up", "sdp", "connected", "handshake", "request", "session_setup",
		"request", "values", "request", "delivered", "ended", "ended", "plugin_ended"}
	for name, c := range map[string]<-chan sse{"a": a, "b": b} {
		var kinds []string
		var got []sse
		for range want {
			e := next(t, c)
			kinds = append(kinds, e.kind)
			got = append(got, e)
		}
		if strings.Join(kinds, " ") != strings.Join(want, " ") {
			t.Errorf("client %s got %v, want %v", name, kinds, want)
			continue
		}
		// Every event's state is the MQTT state topic's, step by step.
		var states []string
		for _, e := range got {
			states = append(states, string(e.data.State.State))
		}
		if got, want := strings.Join(states, " "), "slac"+strings.Repeat(" session", 8)+strings.Repeat(" reading", 3)+" done done waiting"; got != want {
			t.Errorf("client %s: the events' states\n%s\nwant\n%s", name, got, want)
		}
		if g := got[1].data; g.EVMAC != "04:65:65:00:64:c3" || g.State.State != record.StateSession || !g.At.Equal(ms(1750)) {
			t.Errorf("client %s matched: %s", name, got[1].raw)
		}
		// Until the car sent them, its values are null in every event's state.
		if want := `"soc":null,"full_soc":null,"energy_capacity_wh":null,"energy_request_wh":null,`; !strings.Contains(got[8].raw, want) {
			t.Errorf("client %s: the state before the car's values lacks %s: %s", name, want, got[8].raw)
		}
		if g := got[7].data; g.EVCCID != "0465650064c3" || g.State.EVCCID != "0465650064c3" {
			t.Errorf("client %s session_setup: %s", name, got[7].raw)
		}
		if g := got[8].data; g.Message != message.SessionSetupReq || g.Code != "OK_NewSessionEstablished" || g.Took != 30*time.Microsecond {
			t.Errorf("client %s request: %s", name, got[8].raw)
		}
		if g := got[9].data; g.Values == nil || *g.Values.SoC != 93 || *g.Values.EnergyRequestWh != 1820 || !is(g.State.SoC, 93) || g.State.State != record.StateReading ||
			g.Summary != "car 04:65:65:00:64:c3 (DIN 70121): SoC 93 %, capacity 28.0 kWh, wants 1.8 kWh, EVCCID 0465650064c3" {
			t.Errorf("client %s values: %s", name, got[9].raw)
		}
		if g := got[12].data; g.End != "session_stop" || g.State.State != record.StateDone {
			t.Errorf("client %s ended: %s", name, got[12].raw)
		}
		if g := got[14].data; g.State.State != record.StateWaiting || !is(g.State.SoC, 93) || g.State.Session != nil {
			t.Errorf("client %s plugin_ended: %s", name, got[14].raw)
		}
	}
}

func TestEventsHeartbeat(t *testing.T) {
	s, hs, subscribed := newHTTP(t, Config{})
	tick := make(chan time.Time)
	s.heartbeat = func() (<-chan time.Time, func()) { return tick, func() {} }
	c := subscribe(t, hs.URL, subscribed)
	if e := next(t, c); e.kind != "state" || e.data.State.State != record.StateWaiting || e.data.State.Words != "the charger is starting" {
		t.Fatalf("first event %s: %s", e.kind, e.raw)
	}
	tick <- time.Now()
	if e := next(t, c); e.kind != ":" || e.raw != ": heartbeat" {
		t.Errorf("got %s %q, want the heartbeat comment", e.kind, e.raw)
	}
}

// A client that stops reading fills its buffer and is dropped; the
// subscriber never waits for it and the other client gets every event.
func TestEventsDropStuckClient(t *testing.T) {
	log, buf := testlog.New()
	// Every event of the loop below must reach the reading client: no
	// UpdateInterval, which would hold back all but one a second.
	s, hs, subscribed := newHTTP(t, Config{Log: log, UpdateInterval: -1})
	good := subscribe(t, hs.URL, subscribed)
	next(t, good)

	stuck, err := net.Dial("tcp", hs.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.Close()
	stuck.(*net.TCPConn).SetReadBuffer(4096)
	fmt.Fprintf(stuck, "GET /api/events HTTP/1.1\r\nHost: ccslink\r\n\r\n")
	<-subscribed
	clients := func() int {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.clients)
	}
	if n := clients(); n != 2 {
		t.Fatalf("%d clients, want 2", n)
	}

	// Large events fill the stuck client's socket soon.
	detail := strings.Repeat("x", 64<<10)
	rec := &record.Session{}
	sent := 0
	for ; sent < 5000 && clients() == 2; sent++ {
		e := record.Event{Kind: record.KindRequest, At: ms(float64(sent)), Message: message.CurrentDemandReq, Code: fmt.Sprintf("OK%d", sent), Detail: detail}
		rec.Apply(e)
		within(t, "the subscriber", func() { s.Event(e, rec) })
		if got := next(t, good); got.data.Message != e.Message || got.data.Code != e.Code {
			t.Fatalf("the reading client got %s %s, want %s %s", got.data.Message, got.data.Code, e.Message, e.Code)
		}
	}
	if clients() != 1 {
		t.Fatalf("the stuck client was not dropped after %d events", sent)
	}
	if sent < ClientBuffer {
		t.Errorf("dropped after %d events, before its buffer of %d was full", sent, ClientBuffer)
	}
	if !strings.Contains(buf.String(), "dropped a client of /api/events that did not keep up") {
		t.Errorf("log: %s", buf)
	}
	// The reading client goes on.
	e := record.Event{Kind: record.KindEnded, At: ms(1e6), End: record.EndTimeout}
	rec.Apply(e)
	s.Event(e, rec)
	if got := next(t, good); got.kind != "ended" || got.data.End != "timeout" {
		t.Errorf("after the drop: %s %s", got.kind, got.raw)
	}
}

func TestServeShutdown(t *testing.T) {
	s := newServer(t, Config{Listen: "127.0.0.1:0"})
	subscribed := make(chan struct{}, 1)
	s.onSubscribe = func() { subscribed <- struct{}{} }
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.ServeListener(ctx, ln) }()
	c := subscribe(t, "http://"+ln.Addr().String(), subscribed)
	next(t, c)
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("ServeListener: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ServeListener did not stop with an event stream open")
	}
	for e := range c {
		t.Errorf("event after shutdown: %s", e.kind)
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/api/state"); err == nil {
		t.Error("still serving after shutdown")
	}
}

// BenchmarkEvent is the subscriber's cost per request answered, with a
// record of 200 answers and one client reading.
func BenchmarkEvent(b *testing.B) {
	s, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	p := &player{s: s}
	p.play(ioniq()...)
	for i := range 200 {
		p.play(record.Event{Kind: record.KindRequest, At: ms(float64(i)), Message: message.CurrentDemandReq, Code: "OK", Took: 50 * time.Microsecond})
	}
	c := &client{ch: make(chan []byte, ClientBuffer), gone: make(chan struct{})}
	s.clients[c] = struct{}{}
	go func() {
		for range c.ch {
		}
	}()
	e := record.Event{Kind: record.KindRequest, At: ms(1e4), Message: message.CurrentDemandReq, Code: "OK", Took: 50 * time.Microsecond}
	b.ReportAllocs()
	for b.Loop() {
		p.rec.Apply(e)
		s.Event(e, p.rec)
	}
}

// Past MaxEventClients, the newest client is refused with 503 and the clients
// connected keep their events; the refusals are logged, rate-limited; a
// client that leaves frees its place.
func TestEventsClientCap(t *testing.T) {
	log, buf := testlog.New()
	s, hs, subscribed := newHTTP(t, Config{MaxEventClients: 2, Log: log})
	now := t0
	s.now = func() time.Time { return now }
	left := make(chan struct{}, 8)
	s.onLeave = func() { left <- struct{}{} }
	a := subscribe(t, hs.URL, subscribed)
	b := subscribe(t, hs.URL, subscribed)
	refused := func() {
		t.Helper()
		resp, err := http.Get(hs.URL + "/api/events")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "30" ||
			string(body) != "/api/events serves 2 clients at once and has them all: close the page elsewhere, then reload\n" {
			t.Fatalf("a third client: %d, Retry-After %q, %q", resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	}
	for range 8 {
		refused()
	}
	p := &player{s: s}
	within(t, "the subscriber", func() { p.plugIn(car(mac(1), 30, t0)) })
	for name, c := range map[string]<-chan sse{"a": a, "b": b} {
		if e := next(t, c); e.kind != "state" {
			t.Errorf("%s: first event %s", name, e.kind)
		}
		if e := next(t, c); e.kind != "slac_started" {
			t.Errorf("%s: second event %s, want slac_started", name, e.kind)
		}
	}
	lines := logLines(buf.String())
	want := `level=WARN msg="refused a client of /api/events: as many clients as it serves are connected" client=127.0.0.1:`
	if len(lines) != logBurst {
		t.Fatalf("%d lines logged for 8 refusals, want %d:\n%s", len(lines), logBurst, buf)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, want) || !strings.HasSuffix(l, " clients=2") {
			t.Errorf("log line %q", l)
		}
	}
	now = now.Add(logWindow)
	refused()
	if l := logLines(buf.String()); len(l) != logBurst+1 || !strings.HasSuffix(l[logBurst], " clients=2 suppressed=3") {
		t.Errorf("after a minute: %q", l[len(l)-1])
	}

	// A client leaves (dropped, as one that lags is): a new one takes its place.
	s.mu.Lock()
	for c := range s.clients {
		delete(s.clients, c)
		close(c.gone)
		break
	}
	s.mu.Unlock()
	<-left
	c := subscribe(t, hs.URL, subscribed)
	if e := next(t, c); e.kind != "state" || !is(e.data.State.SoC, 30) {
		t.Errorf("the client after one left: %s %s", e.kind, e.raw)
	}
}
