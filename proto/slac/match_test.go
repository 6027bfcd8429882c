package slac_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/slac"
)

// TestBackToBack matches the EVSE matcher with the PEV side through the
// simulated line and checks every frame, in order, and both results.
func TestBackToBack(t *testing.T) {
	s := newSim(t)
	evse := slac.NewMatcher(slac.Config{MAC: evseMAC}, t0)
	pev := slac.NewPEV(slac.PEVConfig{MAC: pevMAC, RunID: homeplug.RunID([]byte("TESLA EV"))}, t0)
	s.add("evse", evseMAC, evse, constAtten(12))
	s.add("pev", pevMAC, pev, nil)
	s.run(time.Minute)

	if !evse.Done() || evse.Err() != nil || !pev.Done() || pev.Err() != nil {
		t.Fatalf("not matched: evse done=%v err=%v, pev done=%v err=%v\n%s", evse.Done(), evse.Err(), pev.Done(), pev.Err(), strings.Join(s.types(), "\n"))
	}
	er, ok := evse.Result()
	if !ok {
		t.Fatal("EVSE has no result")
	}
	pr, ok := pev.Result()
	if !ok {
		t.Fatal("PEV has no result")
	}
	if er.NMK != pr.NMK || er.NID != pr.NID || er.NMK == (homeplug.NMK{}) {
		t.Errorf("keys differ: EVSE NID %v, PEV NID %v", er.NID, pr.NID)
	}
	if er.NID != homeplug.DeriveNID(er.NMK, homeplug.SimpleConnect) {
		t.Errorf("NID %v does not belong to the NMK", er.NID)
	}
	if er.EVMAC != pevMAC || er.EVSEMAC != evseMAC || pr.EVSEMAC != evseMAC || er.RunID != pr.RunID || string(er.RunID[:]) != "TESLA EV" {
		t.Errorf("addresses: EVSE %+v, PEV %+v", er, pr)
	}
	if er.Sounds != 10 || er.Profiles != 10 || er.Plausible || !er.Keyed || !er.LinkUp {
		t.Errorf("EVSE result: %+v", er)
	}
	// The profile groups are 12, 13, 14, 12, ...: 58 groups average to 12.98.
	if want := (20*12.0 + 19*13 + 19*14) / 58; er.AttenuationDB != want || pr.AttenuationDB != want {
		t.Errorf("attenuation EVSE %v, PEV %v, want %v", er.AttenuationDB, pr.AttenuationDB, want)
	}

	// The charger keys its modem when the session starts, not at the match:
	// the modem's restart would swallow the MATCH.CNF.
	want := []string{"evse CM_SET_KEY.REQ", "pev CM_SLAC_PARM.REQ", "evse.modem CM_SET_KEY.CNF", "evse CM_SLAC_PARM.CNF"}
	for range 3 {
		want = append(want, "pev CM_START_ATTEN_CHAR.IND")
	}
	for range 10 {
		want = append(want, "pev CM_MNBC_SOUND.IND", "evse.modem CM_ATTEN_PROFILE.IND")
	}
	want = append(want,
		"evse CM_ATTEN_CHAR.IND", "pev CM_ATTEN_CHAR.RSP",
		"pev CM_SLAC_MATCH.REQ",
		"evse CM_SLAC_MATCH.CNF",
		"pev CM_SET_KEY.REQ", "pev.modem CM_SET_KEY.CNF",
		"evse VS_PL_LNK_STATUS.REQ", "evse.modem VS_PL_LNK_STATUS.CNF")
	if got := s.types(); !slices.Equal(got, want) {
		t.Fatalf("frames:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Timing: CNF at once; 3 START + 10 sounds 20 ms apart; IND 1 ms after the
	// last sound (its profile); MATCH.REQ at TT_EV_atten_results; link poll 500 ms later.
	at := func(i int) time.Duration { return s.log[i].at }
	checks := []struct {
		i    int
		want time.Duration
	}{
		{0, 0}, {3, 0}, {4, 20 * time.Millisecond}, {7, 80 * time.Millisecond}, {25, 260 * time.Millisecond},
		{27, 261 * time.Millisecond}, {28, 261 * time.Millisecond}, {29, 1220 * time.Millisecond},
		{30, 1220 * time.Millisecond}, {34, 1720 * time.Millisecond},
	}
	for _, c := range checks {
		if at(c.i) != c.want {
			t.Errorf("frame %d (%v) at %v, want %v", c.i, s.log[c.i].typ, at(c.i), c.want)
		}
	}
	if er.Timings.AttenChar != 261*time.Millisecond || er.Timings.MatchCnf != 1220*time.Millisecond || er.Timings.LinkUp != 1720*time.Millisecond {
		t.Errorf("timings: %+v", er.Timings)
	}
	// Every frame the EVSE sent to the car carries the car's RunID.
	checkRunIDs(t, s.log, evseMAC, er.RunID)
}

// checkRunIDs checks the RunID of every PARM.CNF, ATTEN_CHAR.IND and MATCH.CNF from src.
func checkRunIDs(t *testing.T, log []wire, src homeplug.MAC, want homeplug.RunID) {
	t.Helper()
	n := 0
	for _, w := range log {
		if w.src != src {
			continue
		}
		f, err := homeplug.Decode(w.frame)
		if err != nil {
			t.Fatal(err)
		}
		var got homeplug.RunID
		switch m := f.Message.(type) {
		case *homeplug.SlacParmCnf:
			got = m.RunID
		case *homeplug.AttenCharInd:
			got = m.RunID
		case *homeplug.SlacMatchCnf:
			got = m.RunID
		default:
			continue
		}
		n++
		if got != want {
			t.Errorf("%v carries RunID %v, want %v", w.typ, got, want)
		}
	}
	if n == 0 {
		t.Error("no frame with a RunID")
	}
}

// TestCrosstalk puts two chargers and two cars on one cable bundle: each car
// hears both chargers, and each must match its own (the lower attenuation).
func TestCrosstalk(t *testing.T) {
	s := newSim(t)
	// Each charger's modem measures its own car at 10 dB and the other at 40 dB.
	own := map[homeplug.MAC]homeplug.MAC{evseMAC: pevMAC, evseMAC2: pevMAC2}
	atten := func(evse homeplug.MAC) func(homeplug.MAC) byte {
		return func(car homeplug.MAC) byte {
			if own[evse] == car {
				return 10
			}
			return 40
		}
	}
	e1 := slac.NewMatcher(slac.Config{MAC: evseMAC}, t0)
	e2 := slac.NewMatcher(slac.Config{MAC: evseMAC2}, t0)
	p1 := slac.NewPEV(slac.PEVConfig{MAC: pevMAC}, t0)
	p2 := slac.NewPEV(slac.PEVConfig{MAC: pevMAC2}, t0.Add(30*time.Millisecond))
	s.add("evse1", evseMAC, e1, atten(evseMAC))
	s.add("evse2", evseMAC2, e2, atten(evseMAC2))
	s.add("pev1", pevMAC, p1, nil)
	s.add("pev2", pevMAC2, p2, nil)
	s.run(time.Minute)
	for i, p := range []*slac.PEV{p1, p2} {
		r, ok := p.Result()
		want := []homeplug.MAC{evseMAC, evseMAC2}[i]
		if !ok || r.EVSEMAC != want {
			t.Errorf("car %d matched %v (ok %v, err %v), want %v", i+1, r.EVSEMAC, ok, p.Err(), want)
		}
	}
	for i, e := range []*slac.Matcher{e1, e2} {
		r, ok := e.Result()
		want := []homeplug.MAC{pevMAC, pevMAC2}[i]
		if !ok || r.EVMAC != want || !r.LinkUp || r.Attempts != 2 {
			t.Errorf("charger %d: %+v, ok %v, want car %v", i+1, r, ok, want)
		}
	}
	r1, _ := e1.Result()
	r2, _ := e2.Result()
	if r1.NMK == r2.NMK {
		t.Error("two sessions share a key")
	}
}

// TestRepeatedMatchReq loses the first MATCH.CNF: the car asks again and gets
// the identical frame, with the same key.
func TestRepeatedMatchReq(t *testing.T) {
	s := newSim(t)
	lost := 0
	s.drop = func(w wire) bool {
		if w.typ == homeplug.CMSlacMatchCnf && lost == 0 {
			lost++
			return true
		}
		return false
	}
	evse := slac.NewMatcher(slac.Config{MAC: evseMAC}, t0)
	pev := slac.NewPEV(slac.PEVConfig{MAC: pevMAC}, t0)
	s.add("evse", evseMAC, evse, constAtten(20))
	s.add("pev", pevMAC, pev, nil)
	s.run(time.Minute)
	er, ok1 := evse.Result()
	pr, ok2 := pev.Result()
	if !ok1 || !ok2 || er.NMK != pr.NMK || !er.LinkUp {
		t.Fatalf("not matched: %v %v %v", evse.Err(), pev.Err(), s.types())
	}
	var cnfs [][]byte
	reqs, setKeys := 0, 0
	for _, w := range s.log {
		switch {
		case w.typ == homeplug.CMSlacMatchCnf:
			cnfs = append(cnfs, w.frame)
		case w.typ == homeplug.CMSlacMatchReq:
			reqs++
		case w.typ == homeplug.CMSetKeyReq && w.from == "evse":
			setKeys++
		}
	}
	if reqs != 2 || len(cnfs) != 2 || !bytes.Equal(cnfs[0], cnfs[1]) || setKeys != 1 || er.Duplicates != 1 {
		t.Fatalf("%d MATCH.REQ, %d MATCH.CNF (equal: %v), %d SET_KEY, %d duplicates",
			reqs, len(cnfs), len(cnfs) == 2 && bytes.Equal(cnfs[0], cnfs[1]), setKeys, er.Duplicates)
	}
}

// TestLostAttenCharRsp loses every RSP: the IND is sent 1 + C_EV_match_retry
// times, TT_match_response apart, and the car's MATCH.REQ still matches.
func TestLostAttenCharRsp(t *testing.T) {
	s := newSim(t)
	s.drop = func(w wire) bool { return w.typ == homeplug.CMAttenCharRsp }
	evse := slac.NewMatcher(slac.Config{MAC: evseMAC}, t0)
	pev := slac.NewPEV(slac.PEVConfig{MAC: pevMAC, Timing: slac.Timing{AttenResults: 2 * time.Second}}, t0)
	s.add("evse", evseMAC, evse, constAtten(20))
	s.add("pev", pevMAC, pev, nil)
	s.run(time.Minute)
	if _, ok := evse.Result(); !ok {
		t.Fatalf("not matched: %v", evse.Err())
	}
	var inds []time.Duration
	for _, w := range s.log {
		if w.typ == homeplug.CMAttenCharInd {
			inds = append(inds, w.at)
		}
	}
	want := []time.Duration{261 * time.Millisecond, 461 * time.Millisecond, 661 * time.Millisecond}
	if !slices.Equal(inds, want) {
		t.Fatalf("ATTEN_CHAR.IND at %v, want %v", inds, want)
	}
}
