package record

import (
	"encoding/json"
	"testing"
	"time"
)

// TestNoSessionEnds: the ends of the handover strategies without a V2G
// session, their names, words, states, and an EVCCID taken from SLAC.
func TestNoSessionEnds(t *testing.T) {
	at := time.Date(2026, 12, 7, 18, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		end      End
		name     string
		words    string
		ofPlugIn bool
		after    State
	}{
		{EndNoNegotiation, "no_negotiation", "the charger declined the car's protocols by its handover strategy: it charges on basic AC without SoC", false, StateWaiting},
		{EndIdentified, "identified_only", "identified by its MAC; no digital session, by the car's handover strategy", true, StateDone},
	} {
		if c.end.String() != c.name || c.end.Words() != c.words || c.end.OfPlugIn() != c.ofPlugIn {
			t.Errorf("%v: %q %q %v", c.end, c.end.String(), c.end.Words(), c.end.OfPlugIn())
		}
		var back End
		if err := back.UnmarshalText([]byte(c.name)); err != nil || back != c.end {
			t.Errorf("%s read back as %v, %v", c.name, back, err)
		}
		if got := StateSession.Next(Event{Kind: KindEnded, End: c.end}); got != StateDone {
			t.Errorf("%v: next state %s", c.end, got)
		}
		// An identified car stays plugged in, charging; a declined one leaves by the link.
		if got := StateDone.AfterPlugIn(&Session{End: c.end}); got != c.after {
			t.Errorf("%v: after the plug-in %s, want %s", c.end, got, c.after)
		}
	}

	s := &Session{}
	if !s.Apply(Event{Kind: KindSessionSetup, At: at, EVCCID: []byte{0x04, 0xe7, 0x7e, 0x00, 0xf3, 0x99}, From: "slac"}) {
		t.Fatal("the EVCCID from SLAC did not count as a change")
	}
	if s.EVCCIDHex() != "04e77e00f399" || !s.Phases.SessionSetup.IsZero() {
		t.Fatalf("EVCCID %q, SessionSetup %v", s.EVCCIDHex(), s.Phases.SessionSetup)
	}
	s.Apply(Event{Kind: KindEnded, At: at.Add(time.Second), End: EndNoNegotiation})
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back Session
	if err := json.Unmarshal(b, &back); err != nil || back.End != EndNoNegotiation || back.EVCCIDHex() != "04e77e00f399" {
		t.Fatalf("read back %+v, %v", back, err)
	}
}
