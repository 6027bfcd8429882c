package slac_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/slac"
)

// TestIdentifyOnly leaves the CM_SLAC_MATCH.REQ of a car identified by its
// MAC unanswered: the matcher is done with the car's MAC and no key, the
// car's retries go unanswered too, and the car gives up without a match.
func TestIdentifyOnly(t *testing.T) {
	var asked []homeplug.MAC
	s := newSim(t)
	evse := slac.NewMatcher(slac.Config{MAC: evseMAC, IdentifyOnly: func(ev homeplug.MAC) bool {
		asked = append(asked, ev)
		return ev == pevMAC
	}}, t0)
	pev := slac.NewPEV(slac.PEVConfig{MAC: pevMAC, RunID: homeplug.RunID([]byte("IONIQ EV"))}, t0)
	s.add("evse", evseMAC, evse, constAtten(12))
	s.add("pev", pevMAC, pev, nil)
	s.run(time.Minute)

	if !evse.Done() || evse.Err() != nil {
		t.Fatalf("evse done=%v err=%v", evse.Done(), evse.Err())
	}
	r, ok := evse.Result()
	if !ok || !r.IdentifiedOnly || r.EVMAC != pevMAC || string(r.RunID[:]) != "IONIQ EV" || r.NMK != (homeplug.NMK{}) || r.NID != (homeplug.NID{}) || r.LinkUp {
		t.Fatalf("result ok=%v %+v", ok, r)
	}
	if r.Timings.MatchReq != 1220*time.Millisecond || r.Timings.MatchCnf != 0 {
		t.Errorf("timings %+v", r.Timings)
	}
	if !slices.Equal(asked, []homeplug.MAC{pevMAC}) {
		t.Errorf("asked about %v", asked)
	}
	var f *slac.FailureError
	if !pev.Done() || !errors.As(pev.Err(), &f) || f.Reason != slac.ReasonNoMatchCnf {
		t.Fatalf("pev done=%v err=%v", pev.Done(), pev.Err())
	}
	want := []string{"evse CM_SET_KEY.REQ", "pev CM_SLAC_PARM.REQ", "evse.modem CM_SET_KEY.CNF", "evse CM_SLAC_PARM.CNF"}
	for range 3 {
		want = append(want, "pev CM_START_ATTEN_CHAR.IND")
	}
	for range 10 {
		want = append(want, "pev CM_MNBC_SOUND.IND", "evse.modem CM_ATTEN_PROFILE.IND")
	}
	want = append(want, "evse CM_ATTEN_CHAR.IND", "pev CM_ATTEN_CHAR.RSP")
	// The request and the car's retries (C_EV_match_retry), none answered:
	// no CM_SLAC_MATCH.CNF, no key for the car, no link poll.
	for range 1 + slac.CEVMatchRetry {
		want = append(want, "pev CM_SLAC_MATCH.REQ")
	}
	if got := s.types(); !slices.Equal(got, want) {
		t.Fatalf("frames:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestIdentifyOnlyOthersMatch: a car the hook does not pick matches as
// always, and the hook is asked once, at its CM_SLAC_MATCH.REQ.
func TestIdentifyOnlyOthersMatch(t *testing.T) {
	var asked []homeplug.MAC
	s := newSim(t)
	evse := slac.NewMatcher(slac.Config{MAC: evseMAC, IdentifyOnly: func(ev homeplug.MAC) bool {
		asked = append(asked, ev)
		return ev == homeplug.MAC{0x00, 0x7d, 0xfa, 1, 2, 3}
	}}, t0)
	pev := slac.NewPEV(slac.PEVConfig{MAC: pevMAC, RunID: homeplug.RunID([]byte("TESLA EV"))}, t0)
	s.add("evse", evseMAC, evse, constAtten(12))
	s.add("pev", pevMAC, pev, nil)
	s.run(time.Minute)
	er, ok := evse.Result()
	pr, pok := pev.Result()
	if !ok || !pok || er.IdentifiedOnly || er.NMK != pr.NMK || er.NMK == (homeplug.NMK{}) || !er.LinkUp {
		t.Fatalf("not matched: evse %+v (err %v), pev %+v (err %v)", er, evse.Err(), pr, pev.Err())
	}
	if !slices.Equal(asked, []homeplug.MAC{pevMAC}) {
		t.Errorf("asked about %v", asked)
	}
	if got := s.types(); !slices.Contains(got, "evse CM_SLAC_MATCH.CNF") {
		t.Errorf("no CM_SLAC_MATCH.CNF in %v", got)
	}
}
