package httpapi

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/ccslink/ccslink/record"
)

type row struct {
	EVMAC string `json:"ev_mac"`
	SoC   struct {
		Value int `json:"value"`
	} `json:"soc"`
	End string `json:"end"`
}

func sessions(t *testing.T, s *Server) []row {
	t.Helper()
	code, b := get(t, s.Handler(), "/api/sessions")
	if code != 200 {
		t.Fatalf("GET /api/sessions: %d %s", code, b)
	}
	var rows []row
	if err := json.Unmarshal(b, &rows); err != nil {
		t.Fatalf("GET /api/sessions: %v: %s", err, b)
	}
	return rows
}

func macs(rows []row) string {
	var m []string
	for _, r := range rows {
		m = append(m, r.EVMAC[len(r.EVMAC)-2:])
	}
	return strings.Join(m, " ")
}

func mac(i int) string {
	return "02:00:00:00:00:" + string("0123456789abcdef"[i/16]) + string("0123456789abcdef"[i%16])
}

// past is a session history as history.History keeps it: the plug-ins with
// a car, subscribed before the server.
type past struct {
	mu   sync.Mutex
	list []*record.Session
}

func (p *past) Sessions() []*record.Session {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*record.Session(nil), p.list...)
}

func (p *past) Event(record.Event, *record.Session) {}

func (p *past) PlugInEnded(r *record.Session) {
	if hadCar(r) {
		p.mu.Lock()
		p.list = append(p.list, r.Clone())
		p.mu.Unlock()
	}
}

// both hands each event to the history, then the server, as the charger does.
type both struct {
	h *past
	s *Server
}

func (b both) Event(e record.Event, r *record.Session) { b.h.Event(e, r); b.s.Event(e, r) }
func (b both) PlugInEnded(r *record.Session)           { b.h.PlugInEnded(r); b.s.PlugInEnded(r) }

// With a History, /api/sessions is the history's, newest first and at most
// Keep, and after a restart the state shows its last plug-in.
func TestSessionsFromHistory(t *testing.T) {
	h := &past{}
	for i := range 3 {
		h.list = append(h.list, &record.Session{EVMAC: mac(i), SoC: record.Int{Value: 10 * i, Known: true},
			Phases: record.Phases{Matched: ms(float64(i) * 60000)}, End: record.EndCarClosed})
	}
	s := newServer(t, Config{History: h, Keep: 2})
	if got := macs(sessions(t, s)); got != "02 01" {
		t.Errorf("sessions %s, want 02 01", got)
	}
	s.mu.Lock()
	j := s.state(false)
	s.mu.Unlock()
	if j.State != record.StateWaiting || !is(j.SoC, 20) || j.EVMAC != mac(2) {
		t.Errorf("after a restart: state %q soc %v car %s, want waiting, 20, %s", j.State, j.SoC, j.EVMAC, mac(2))
	}
	p := &player{s: s}
	sub := both{h, s}
	for _, e := range car(mac(9), 55, ms(600000)) {
		if e.Kind == record.KindSLACStarted {
			p.rec = &record.Session{}
		}
		p.rec.Apply(e)
		sub.Event(e, p.rec)
	}
	sub.PlugInEnded(p.rec)
	if got := sessions(t, s); macs(got) != "09 02" || got[0].SoC.Value != 55 || got[0].End != "car_closed" {
		t.Errorf("sessions %+v, want 09 (55 %%, car_closed) then 02", got)
	}
	if s.sessions != nil {
		t.Errorf("the server kept %d records of its own beside the History", len(s.sessions))
	}
}

// Without a History the server keeps the plug-ins with a car it saw, in memory.
func TestSessionsInMemory(t *testing.T) {
	s := newServer(t, Config{Keep: 2})
	p := &player{s: s}
	p.plugIn(ioniq())
	p.plugIn(noCar(ms(20000))) // not a plug-in: not kept
	p.plugIn(car(mac(1), 40, ms(60000)))
	p.plugIn(car(mac(2), 50, ms(120000)))
	got := sessions(t, s)
	if macs(got) != "02 01" || got[0].SoC.Value != 50 || got[1].SoC.Value != 40 {
		t.Errorf("sessions %+v, want 02 (50) then 01 (40)", got)
	}
}
