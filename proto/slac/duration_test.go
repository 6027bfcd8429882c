package slac_test

import (
	"testing"
	"time"

	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/slac"
)

// TestMatchingStart: a matching counts from the car's first
// CM_SLAC_PARM.REQ of it, not from keying the modem: a car that came
// 14.5 s after the charger was ready, and asked twice (the first CNF lost),
// matched in 1.2 s.
func TestMatchingStart(t *testing.T) {
	m := keyed(slac.NewMatcher(slac.Config{MAC: evseMAC, LinkPoll: -1}, t0), t0)
	at := func(n int) time.Time { return t0.Add(ms(14500 + n)) }
	only[*homeplug.SlacParmCnf](t, m.Handle(at(0), carA.parmReq()))
	only[*homeplug.SlacParmCnf](t, m.Handle(at(250), carA.parmReq()))
	m.Handle(at(300), carA.startAtten())
	for i := range 9 {
		m.Handle(at(320+20*i), carA.sound(uint8(9-i)))
	}
	// The last sound ends the window at once: this modem sends no profiles.
	only[*homeplug.AttenCharInd](t, m.Handle(at(500), carA.sound(0)))
	m.Handle(at(510), carA.rsp(evseMAC))
	only[*homeplug.SlacMatchCnf](t, m.Handle(at(1200), carA.matchReq(evseMAC)))
	r, ok := m.Result()
	want := slac.Timings{Start: at(0), Sounding: ms(300), AttenChar: ms(500), AttenRsp: ms(510), MatchReq: ms(1200), MatchCnf: ms(1200)}
	if !ok || r.Timings != want {
		t.Fatalf("timings %+v, want %+v", r.Timings, want)
	}

	// A car that asks again with the same RunID after a failed attempt
	// starts a new matching: it counts from its new request.
	m = keyed(slac.NewMatcher(slac.Config{MAC: evseMAC, LinkPoll: -1}, t0), t0)
	m.Handle(at(0), carB.parmReq())
	m.Handle(at(100), carB.startAtten())
	only[*homeplug.AttenCharInd](t, m.Tick(at(700)))
	m.Handle(at(710), carB.rsp(evseMAC))
	m.Handle(at(2000), carB.parmReq())
	m.Handle(at(2100), carB.startAtten())
	for i := range 9 {
		m.Handle(at(2120+20*i), carB.sound(uint8(9-i)))
	}
	only[*homeplug.AttenCharInd](t, m.Handle(at(2300), carB.sound(0)))
	m.Handle(at(2310), carB.rsp(evseMAC))
	only[*homeplug.SlacMatchCnf](t, m.Handle(at(2500), carB.matchReq(evseMAC)))
	if r, _ := m.Result(); r.Timings.Start != at(2000) || r.Timings.MatchCnf != ms(500) {
		t.Fatalf("timings %+v", r.Timings)
	}
}
