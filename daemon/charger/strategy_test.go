package charger

import (
	"context"
	"net"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/ccslink/ccslink/proto/evcc"
	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/secc"
	"github.com/ccslink/ccslink/record"
)

// asked records what BeforeV2G was asked and answers strategy.
type asked struct {
	mu       sync.Mutex
	macs     []string
	strategy string
}

func (a *asked) before(s *record.Session) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.macs = append(a.macs, s.EVMAC)
	return a.strategy
}

func (s *sink) kinds() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, e := range s.events {
		out = append(out, e.Kind.String())
	}
	return out
}

// TestNoNegotiationPlugIn: a car whose strategy is no-negotiation is
// declined at its handshake and charges on basic AC; its SLAC MAC is its
// EVCCID, it has no SoC, and its session ends as no_negotiation.
func TestNoNegotiationPlugIn(t *testing.T) {
	a := &asked{strategy: record.StrategyNoNegotiation}
	r := newRigConfig(t, Config{BeforeV2G: a.before, SECC: secc.Config{Decline: func(secc.ConnInfo) bool { return true }}})
	p, err := evcc.Lookup("ioniq")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r.slac.plug <- homeplug.MAC(p.SessionMAC())
	resp := r.discover(t)
	conn, err := net.Dial("tcp6", resp.Addr.String())
	if err != nil {
		t.Fatal(err)
	}
	car, err := evcc.Run(ctx, conn, evcc.Config{Profile: p})
	conn.Close()
	if err != nil || car.End != evcc.EndNoNegotiation || car.Protocol != "" {
		t.Fatalf("car: %+v, %v", car, err)
	}
	<-r.sink.v2gEnd
	r.slac.unplug <- struct{}{}
	rec := <-r.sink.ended
	if rec.End != record.EndNoNegotiation || rec.EVCCIDHex() != "0465650064c3" || rec.EVMAC != "04:65:65:00:64:c3" || rec.SoC.Known || rec.Protocol != "" {
		t.Fatalf("record: end %v %q, evccid %q, evmac %q, soc %+v, protocol %q", rec.End, rec.Detail, rec.EVCCIDHex(), rec.EVMAC, rec.SoC, rec.Protocol)
	}
	if !rec.Phases.SessionSetup.IsZero() || rec.Phases.Handshake.IsZero() || len(rec.Offered) != len(p.Protocols) {
		t.Fatalf("phases %+v, offered %+v", rec.Phases, rec.Offered)
	}
	if len(rec.Answers) != 1 || rec.Answers[0].Code != "Failed_NoNegotiation" {
		t.Fatalf("answers %+v", rec.Answers)
	}
	if !reflect.DeepEqual(a.macs, []string{"04:65:65:00:64:c3"}) {
		t.Fatalf("BeforeV2G asked about %v", a.macs)
	}
	want := []string{"slac_started", "matched", "session_setup", "link_up", "sdp", "connected", "handshake", "request", "ended", "ended"}
	if got := r.sink.kinds(); !reflect.DeepEqual(got[:len(want)], want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

// TestIdentifiedPlugIn: a car identified by its MAC alone (its match left
// unanswered) is recorded with its MAC as EVCCID and its plug-in ends at
// once, with words that say why; the charger waits for the next car.
func TestIdentifiedPlugIn(t *testing.T) {
	a := &asked{strategy: record.StrategyIdentifyOnly}
	r := newRigConfig(t, Config{BeforeV2G: a.before})
	r.slac.identify = true
	r.slac.plug <- homeplug.MAC{0x00, 0x7d, 0xfa, 0x01, 0x02, 0x03}
	rec := <-r.sink.ended
	const detail = "identified by its MAC 00:7d:fa:01:02:03; no digital session, by the car's handover strategy identify-only: it charges on basic AC without SoC"
	if rec.End != record.EndIdentified || rec.Detail != detail || rec.EVCCIDHex() != "007dfa010203" || rec.EVMAC != "00:7d:fa:01:02:03" || rec.SoC.Known {
		t.Fatalf("record: end %v %q, evccid %q, evmac %q", rec.End, rec.Detail, rec.EVCCIDHex(), rec.EVMAC)
	}
	if rec.Phases.Matched.IsZero() || !rec.Phases.LinkUp.IsZero() || !rec.Phases.SessionSetup.IsZero() {
		t.Fatalf("phases %+v", rec.Phases)
	}
	if !reflect.DeepEqual(a.macs, []string{"00:7d:fa:01:02:03"}) {
		t.Fatalf("BeforeV2G asked about %v", a.macs)
	}
	want := []string{"slac_started", "matched", "session_setup", "ended"}
	got := r.sink.kinds()
	if !reflect.DeepEqual(got[:4], want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	if rec.End.Words() != "identified by its MAC; no digital session, by the car's handover strategy" {
		t.Fatalf("words %q", rec.End.Words())
	}
	// The next plug-in: the charger keys its modem again, never watching the identified car's link.
	<-r.sink.v2gEnd // the identified plug-in's end
	r.slac.identify = false
	p, _ := evcc.Lookup("ioniq")
	rec2, _ := r.car(t, p)
	if rec2.PlugIn != rec.PlugIn+1 || rec2.End != record.EndSessionStop {
		t.Fatalf("next plug-in %d: %v", rec2.PlugIn, rec2.End)
	}
}
