package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// HeartbeatInterval is the pause between the comments that keep an idle
// event stream open through proxies and show the page the daemon is alive.
const HeartbeatInterval = 15 * time.Second

// ClientBuffer is how many events a client of /api/events may lag behind
// before it is dropped; the daemon never waits for a client.
const ClientBuffer = 64

// writeTimeout bounds one write to a client whose connection stalled.
const writeTimeout = 10 * time.Second

type client struct {
	ch   chan []byte
	gone chan struct{} // closed when the client is dropped
}

// broadcast hands one event to every client; s.mu is held. A client whose
// buffer is full is dropped at once.
func (s *Server) broadcast(kind string, j eventJSON) {
	if len(s.clients) == 0 {
		return
	}
	j.State = s.state(false)
	j.Summary = j.State.Summary
	msg := frame(kind, j)
	for c := range s.clients {
		select {
		case c.ch <- msg:
		default:
			delete(s.clients, c)
			close(c.gone)
			s.log.Info("dropped a client of /api/events that did not keep up with the events; it may reconnect")
		}
	}
}

// frame encodes one server-sent event.
func frame(kind string, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{"error":"cannot encode the event"}`)
	}
	msg := make([]byte, 0, len(b)+len(kind)+16)
	msg = append(msg, "event: "...)
	msg = append(msg, kind...)
	msg = append(msg, "\ndata: "...)
	msg = append(msg, b...)
	return append(msg, "\n\n"...)
}

func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request) {
	// The first event is the state with the whole record, so a page that
	// (re)connects misses nothing.
	c := &client{ch: make(chan []byte, ClientBuffer), gone: make(chan struct{})}
	s.mu.Lock()
	if n := len(s.clients); n >= s.cfg.MaxEventClients {
		// The newest is refused: the pages open already keep their
		// events, and a client reconnecting in a loop cannot push them out.
		s.mu.Unlock()
		s.warn(&s.fullLog, "refused a client of /api/events: as many clients as it serves are connected", "client", r.RemoteAddr, "clients", n)
		w.Header().Set("Retry-After", "30")
		http.Error(w, fmt.Sprintf("/api/events serves %d clients at once and has them all: close the page elsewhere, then reload", n), http.StatusServiceUnavailable)
		return
	}
	st := s.state(true)
	c.ch <- frame("state", eventJSON{Kind: "state", Summary: st.Summary, State: st})
	s.clients[c] = struct{}{}
	s.mu.Unlock()

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	defer func() {
		s.mu.Lock()
		if _, ok := s.clients[c]; ok {
			delete(s.clients, c)
			close(c.gone)
		}
		s.mu.Unlock()
		if s.onLeave != nil {
			s.onLeave()
		}
	}()
	if s.onSubscribe != nil {
		s.onSubscribe()
	}
	tick, stop := s.heartbeat()
	defer stop()
	write := func(b []byte) bool {
		rc.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-c.gone:
			return
		case msg := <-c.ch:
			if !write(msg) {
				return
			}
		case <-tick:
			if !write([]byte(": heartbeat\n\n")) {
				return
			}
		}
	}
}
