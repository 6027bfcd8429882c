package httpapi

import (
	"cmp"
	"slices"
	"time"

	"github.com/ccslink/ccslink/proto/v2g/message"
	"github.com/ccslink/ccslink/record"
)

// DefaultUpdateInterval is Config.UpdateInterval when 0: a page follows a
// charge loop once a second, as a real car loops, and a car that loops as
// fast as TCP allows cannot flood a phone's browser.
const DefaultUpdateInterval = time.Second

// paceKey is what repeats in a charge loop: one kind of event (request or
// values) of one message.
type paceKey struct {
	kind record.Kind
	msg  message.Kind
}

// paced is one key's pace: when its last event went out, and the event
// held back since, the newest (values merged into it).
type paced struct {
	sent time.Time
	held *eventJSON
	seq  uint64 // when it was held, among the events: the order they go out in
}

// paceable reports whether an event may be held back: a request answered
// or the car's values, which a loop repeats. Every other event goes out at
// once, what is held before it.
func paceable(k record.Kind) bool { return k == record.KindRequest || k == record.KindValues }

// paceLocked broadcasts j, or holds it back when an event of its key went
// out less than the interval ago; s.mu is held.
func (s *Server) paceLocked(j eventJSON, kind record.Kind) {
	if len(s.clients) == 0 {
		return // nobody listens; a client that comes gets the state first
	}
	key := paceKey{kind, j.Message}
	p := s.paced[key]
	if p == nil {
		p = &paced{}
		s.paced[key] = p // bounded: two kinds of each message kind
	}
	now := s.clk.Now()
	if p.held == nil && (p.sent.IsZero() || !now.Before(p.sent.Add(s.interval))) {
		p.sent = now
		s.broadcast(kind.String(), j)
		return
	}
	if p.held != nil {
		j = merge(*p.held, j)
	}
	j.Coalesced++
	s.seq++
	p.held, p.seq = &j, s.seq
	s.armLocked(p.sent.Add(s.interval))
}

// merge returns next standing for held too: next's fields, and the values
// held that next does not carry.
func merge(held, next eventJSON) eventJSON {
	next.Coalesced = held.Coalesced
	if h, n := held.Values, next.Values; h != nil && n != nil {
		v := *n
		fill(&v.SoC, h.SoC)
		fill(&v.FullSOC, h.FullSOC)
		fill(&v.BulkSOC, h.BulkSOC)
		fill(&v.EnergyCapacityWh, h.EnergyCapacityWh)
		fill(&v.EnergyRequestWh, h.EnergyRequestWh)
		fill(&v.MaxVoltageV, h.MaxVoltageV)
		fill(&v.MaxCurrentA, h.MaxCurrentA)
		fill(&v.MaxPowerW, h.MaxPowerW)
		fill(&v.TargetVoltageV, h.TargetVoltageV)
		fill(&v.TargetCurrentA, h.TargetCurrentA)
		next.Values = &v
	}
	return next
}

// fill sets *dst to src when it has no value.
func fill[T any](dst **T, src *T) {
	if *dst == nil {
		*dst = src
	}
}

// armLocked makes sure the events held are sent by at; one timer at a time.
func (s *Server) armLocked(at time.Time) {
	if s.armed {
		return
	}
	s.armed = true
	t := s.clk.NewTimer(at.Sub(s.clk.Now()))
	go func() {
		<-t.C()
		s.mu.Lock()
		defer s.mu.Unlock()
		s.armed = false
		s.releaseLocked(false)
	}()
}

// releaseLocked sends the events held, in their order: those whose time has
// come, or all of them before another event (all); a timer is armed for
// the rest.
func (s *Server) releaseLocked(all bool) {
	now := s.clk.Now()
	type held struct {
		kind record.Kind
		p    *paced
	}
	var due []held
	var next time.Time
	for k, p := range s.paced {
		switch at := p.sent.Add(s.interval); {
		case p.held == nil:
		case all || !now.Before(at):
			due = append(due, held{k.kind, p})
		case next.IsZero() || at.Before(next):
			next = at
		}
	}
	slices.SortFunc(due, func(a, b held) int { return cmp.Compare(a.p.seq, b.p.seq) })
	for _, h := range due {
		j := *h.p.held
		h.p.held, h.p.sent = nil, now
		if j.Coalesced == 1 {
			j.Coalesced = 0 // it stands for itself alone
		}
		s.broadcast(h.kind.String(), j)
	}
	if !next.IsZero() {
		s.armLocked(next)
	}
}
