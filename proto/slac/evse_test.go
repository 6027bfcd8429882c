package slac_test

import (
	"bytes"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ccslink/ccslink/internal/shared"
	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/slac"
)

// car builds the frames a car sends.
type car struct {
	mac homeplug.MAC
	run homeplug.RunID
}

var modemMAC = homeplug.MAC{0x00, 0xb0, 0x52, 0x11, 0x22, 0x33}

func encode(dst, src homeplug.MAC, m homeplug.Message) []byte {
	f, err := homeplug.AppendFrame(nil, homeplug.NewHeader(dst, src, m.MMType()), m)
	if err != nil {
		panic(err)
	}
	return f
}

func (c car) parmReq() []byte {
	return encode(homeplug.BroadcastMAC, c.mac, &homeplug.SlacParmReq{RunID: c.run})
}

func (c car) startAtten() []byte {
	return encode(homeplug.BroadcastMAC, c.mac, &homeplug.StartAttenCharInd{NumSounds: 10, TimeOut: 6, RespType: 1, ForwardingSTA: c.mac, RunID: c.run})
}

func (c car) sound(cnt uint8) []byte {
	return encode(homeplug.BroadcastMAC, c.mac, &homeplug.MnbcSoundInd{Cnt: cnt, RunID: c.run})
}

func (c car) rsp(evse homeplug.MAC) []byte {
	return encode(evse, c.mac, &homeplug.AttenCharRsp{SourceAddress: c.mac, RunID: c.run})
}

func (c car) matchReq(evse homeplug.MAC) []byte {
	return encode(evse, c.mac, &homeplug.SlacMatchReq{PEVMAC: c.mac, EVSEMAC: evse, RunID: c.run})
}

func profile(pev homeplug.MAC, db byte) []byte {
	return encode(homeplug.BroadcastMAC, modemMAC, &homeplug.AttenProfileInd{PEVMAC: pev, AAG: bytes.Repeat([]byte{db}, homeplug.NumAttenGroups)})
}

// decoded copies and decodes frames a matcher returned.
func decoded(t *testing.T, out [][]byte) []homeplug.Frame {
	t.Helper()
	var fs []homeplug.Frame
	for _, f := range out {
		fr, err := homeplug.Decode(slices.Clone(f))
		if err != nil {
			t.Fatal(err)
		}
		fs = append(fs, fr)
	}
	return fs
}

// only returns the single frame of out, of type want.
func only[M homeplug.Message](t *testing.T, out [][]byte) M {
	t.Helper()
	fs := decoded(t, out)
	if len(fs) != 1 {
		t.Fatalf("%d frames, want 1 %T", len(fs), *new(M))
	}
	m, ok := fs[0].Message.(M)
	if !ok {
		t.Fatalf("got %v, want %T", fs[0].MMType, *new(M))
	}
	return m
}

var (
	carA = car{pevMAC, homeplug.RunID{1, 2, 3, 4, 5, 6, 7, 8}}
	carB = car{pevMAC2, homeplug.RunID([]byte("TESLA EV"))}
)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// TestRunIDEchoTaycan shows the Taycan failure mode cannot happen: the
// charger in the Taycan captures answered with a RunID of its own; ours
// echoes the car's RunID in every answer.
func TestRunIDEchoTaycan(t *testing.T) {
	for _, name := range []string{"2023-05-03_TaycanLeftside_slacFail.pcapng", "2023-05-03_TaycanRightside_slacFail.pcapng"} {
		t.Run(name, func(t *testing.T) {
			frames := readHomePlug(t, filepath.Join(shared.Path(t, "captures"), "pyplc", name))
			var taycan homeplug.MAC
			wrong := 0
			for _, c := range frames {
				if m, ok := c.msg.(*homeplug.SlacParmCnf); ok {
					taycan = c.h.Dst
					for _, r := range frames {
						if q, ok := r.msg.(*homeplug.SlacParmReq); ok && q.RunID != m.RunID && r.h.Src == taycan {
							wrong++ // the recorded charger's CNF does not echo the car's RunID
							break
						}
					}
				}
			}
			if wrong == 0 {
				t.Fatal("the capture does not show the failure")
			}
			var charger homeplug.MAC
			for _, c := range frames {
				if c.h.MMType == homeplug.CMSlacParmCnf {
					charger = c.h.Src
				}
			}
			m := keyed(slac.NewMatcher(slac.Config{MAC: charger}, frames[0].at), frames[0].at)
			n := 0
			for _, c := range frames {
				if c.h.Src != taycan {
					continue
				}
				req := c.msg.(*homeplug.SlacParmReq)
				cnf := only[*homeplug.SlacParmCnf](t, m.Handle(c.at, c.frame))
				if cnf.RunID != req.RunID || cnf.ForwardingSTA != taycan {
					t.Errorf("CNF carries RunID %v for %v, the car sent %v", cnf.RunID, cnf.ForwardingSTA, req.RunID)
				}
				n++
			}
			t.Logf("%d of the Taycan's PARM.REQ answered with its RunID; the recorded charger got %d wrong", n, wrong)
		})
	}
	// And through a whole matching, for RunIDs of every shape: every answer
	// carries the car's RunID, never one derived from its MAC or a fixed one.
	for _, run := range []homeplug.RunID{{}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, homeplug.RunID([]byte("TESLA EV")), {0x00, 0x18, 0x87, 0x00, 0xa1, 0xd6, 0, 0}} {
		s := newSim(t)
		evse := keyed(slac.NewMatcher(slac.Config{MAC: evseMAC}, t0), t0)
		s.add("evse", evseMAC, evse, constAtten(15))
		pev := slac.NewPEV(slac.PEVConfig{MAC: pevMAC, RunID: run}, t0)
		s.add("pev", pevMAC, pev, nil)
		s.run(time.Minute)
		if _, ok := pev.Result(); !ok && run != (homeplug.RunID{}) {
			t.Errorf("RunID %v: no match: %v", run, pev.Err())
		}
		r, _ := pev.Result()
		checkRunIDs(t, s.log, evseMAC, r.RunID)
	}
}

// TestPEVRejectsWrongRunID: our car behaves like the Taycan and ignores a
// CNF with another RunID, so the simulator reproduces the failure.
func TestPEVRejectsWrongRunID(t *testing.T) {
	p := slac.NewPEV(slac.PEVConfig{MAC: pevMAC, RunID: carA.run}, t0)
	only[*homeplug.SlacParmReq](t, p.Tick(t0))
	bad := encode(pevMAC, evseMAC, &homeplug.SlacParmCnf{MSoundTarget: homeplug.BroadcastMAC, NumSounds: 10, TimeOut: 6, RespType: 1, ForwardingSTA: pevMAC, RunID: homeplug.RunID{0, 0x18, 0x87}})
	if out := p.Handle(t0.Add(ms(5)), bad); len(out) != 0 {
		t.Fatalf("answered a wrong RunID: %v", decoded(t, out))
	}
	// It resends PARM.REQ after TT_match_response, C_EV_match_retry times, then fails.
	for i := 1; i <= 2; i++ {
		only[*homeplug.SlacParmReq](t, p.Tick(t0.Add(time.Duration(i)*slac.TTMatchResponse)))
	}
	p.Tick(t0.Add(3 * slac.TTMatchResponse))
	if !p.Done() || !errors.Is(p.Err(), slac.ErrNoMatch) {
		t.Fatalf("done %v err %v", p.Done(), p.Err())
	}
}

// TestSoundWindowEnds: with sounds or profiles missing, CM_ATTEN_CHAR.IND
// still goes out when TT_EVSE_match_MNBC ends.
func TestSoundWindowEnds(t *testing.T) {
	t.Run("no profiles, last sounds lost", func(t *testing.T) {
		m := keyed(slac.NewMatcher(slac.Config{MAC: evseMAC}, t0), t0)
		only[*homeplug.SlacParmCnf](t, m.Handle(t0, carA.parmReq()))
		m.Handle(t0.Add(ms(100)), carA.startAtten())
		for i := range 3 {
			if out := m.Handle(t0.Add(ms(160+20*i)), carA.sound(uint8(9-i))); len(out) != 0 {
				t.Fatal("answered a sound")
			}
		}
		if dl, _ := m.Deadline(); !dl.Equal(t0.Add(ms(700))) {
			t.Fatalf("deadline %v after start, want the window end at 700 ms", dl.Sub(t0))
		}
		if out := m.Tick(t0.Add(ms(699))); len(out) != 0 {
			t.Fatal("IND before the window ended")
		}
		ind := only[*homeplug.AttenCharInd](t, m.Tick(t0.Add(ms(700))))
		if ind.NumSounds != 3 || ind.RunID != carA.run || ind.SourceAddress != carA.mac || len(ind.AAG) != homeplug.NumAttenGroups {
			t.Fatalf("IND %+v", ind)
		}
		for _, v := range ind.AAG {
			if v != slac.DefaultPlausibleDB {
				t.Fatalf("plausible value %d", v)
			}
		}
		m.Handle(t0.Add(ms(710)), carA.rsp(evseMAC))
		m.Handle(t0.Add(ms(900)), carA.matchReq(evseMAC))
		r, ok := m.Result()
		if !ok || !r.Plausible || r.Sounds != 3 || r.Profiles != 0 || r.AttenuationDB != slac.DefaultPlausibleDB {
			t.Fatalf("result %+v", r)
		}
	})
	t.Run("last profile lost", func(t *testing.T) {
		m := keyed(slac.NewMatcher(slac.Config{MAC: evseMAC}, t0), t0)
		m.Handle(t0, carA.parmReq())
		m.Handle(t0.Add(ms(100)), carA.startAtten())
		at := t0.Add(ms(100))
		for i := range 10 {
			at = t0.Add(ms(160 + 20*i))
			m.Handle(at, carA.sound(uint8(9-i)))
			if i < 9 {
				m.Handle(at.Add(ms(1)), profile(carA.mac, byte(10+i%2*10))) // 10, 20, 10, ...
			}
		}
		// The last sound's profile never comes: IND 50 ms after the last sound.
		if out := m.Tick(at.Add(ms(49))); len(out) != 0 {
			t.Fatal("IND too early")
		}
		ind := only[*homeplug.AttenCharInd](t, m.Tick(at.Add(ms(50))))
		// Nine profiles: five at 10 dB, four at 20 dB: 14.4, rounded to 14.
		if ind.NumSounds != 10 || ind.AAG[0] != 14 || ind.AAG[57] != 14 {
			t.Fatalf("IND sounds %d, AAG %v", ind.NumSounds, ind.AAG)
		}
	})
	t.Run("no START_ATTEN_CHAR, sounds only", func(t *testing.T) {
		m := keyed(slac.NewMatcher(slac.Config{MAC: evseMAC}, t0), t0)
		m.Handle(t0, carA.parmReq())
		m.Handle(t0.Add(ms(300)), carA.sound(9))
		m.Handle(t0.Add(ms(301)), profile(carA.mac, 22))
		// The window started with the first sound.
		ind := only[*homeplug.AttenCharInd](t, m.Tick(t0.Add(ms(900))))
		if ind.NumSounds != 1 || ind.AAG[5] != 22 {
			t.Fatalf("IND %+v", ind)
		}
	})
	t.Run("empty profiles", func(t *testing.T) {
		m := keyed(slac.NewMatcher(slac.Config{MAC: evseMAC}, t0), t0)
		m.Handle(t0, carA.parmReq())
		m.Handle(t0.Add(ms(100)), carA.startAtten())
		empty := encode(homeplug.BroadcastMAC, modemMAC, &homeplug.AttenProfileInd{PEVMAC: carA.mac})
		m.Handle(t0.Add(ms(120)), carA.sound(1))
		m.Handle(t0.Add(ms(121)), empty)
		// No profile counts, so the IND goes with the last sound.
		ind := only[*homeplug.AttenCharInd](t, m.Handle(t0.Add(ms(140)), carA.sound(0)))
		if ind.AAG[0] != slac.DefaultPlausibleDB {
			t.Fatalf("an empty profile counted: %v", ind.AAG)
		}
	})
}

// TestParallelCars: two cars match at once; each gets its own attempt, its
// own RunID and its own averages; the first MATCH.REQ wins and the other car
// is ignored from then on.
func TestParallelCars(t *testing.T) {
	m := slac.NewMatcher(slac.Config{MAC: evseMAC}, t0)
	key := only[*homeplug.SetKeyReq](t, m.Tick(t0))
	for i, c := range []car{carA, carB} {
		cnf := only[*homeplug.SlacParmCnf](t, m.Handle(t0.Add(ms(i)), c.parmReq()))
		if cnf.RunID != c.run || cnf.ForwardingSTA != c.mac {
			t.Fatalf("CNF %+v for %v", cnf, c.mac)
		}
	}
	m.Handle(t0.Add(ms(100)), carA.startAtten())
	m.Handle(t0.Add(ms(110)), carB.startAtten())
	var inds []*homeplug.AttenCharInd
	for i := range 10 {
		at := t0.Add(ms(200 + 20*i))
		for j, c := range []car{carA, carB} {
			m.Handle(at, c.sound(uint8(9-i)))
			out := m.Handle(at.Add(ms(1)), profile(c.mac, byte(10+30*j)))
			for _, f := range decoded(t, out) {
				inds = append(inds, f.Message.(*homeplug.AttenCharInd))
			}
		}
	}
	if len(inds) != 2 || inds[0].RunID != carA.run || inds[1].RunID != carB.run ||
		inds[0].AAG[0] != 10 || inds[1].AAG[0] != 40 || inds[0].SourceAddress != carA.mac || inds[1].SourceAddress != carB.mac {
		t.Fatalf("INDs %+v", inds)
	}
	m.Handle(t0.Add(ms(400)), carA.rsp(evseMAC))
	m.Handle(t0.Add(ms(401)), carB.rsp(evseMAC))
	// Car B asks first for a charger it did not choose: ignored.
	if out := m.Handle(t0.Add(ms(450)), carB.matchReq(evseMAC2)); len(out) != 0 {
		t.Fatal("answered a MATCH.REQ for another charger")
	}
	cnf := only[*homeplug.SlacMatchCnf](t, m.Handle(t0.Add(ms(500)), carA.matchReq(evseMAC)))
	if cnf.RunID != carA.run || cnf.NMK != key.NewKey || cnf.NID != key.NID || cnf.NID != homeplug.DeriveNID(cnf.NMK, 0) || cnf.EVSEMAC != evseMAC {
		t.Fatalf("CNF %+v, SET_KEY %+v", cnf, key)
	}
	// From now on the other car gets nothing.
	for _, f := range [][]byte{carB.matchReq(evseMAC), carB.parmReq(), carB.startAtten(), car{homeplug.MAC{2, 9, 9, 9, 9, 9}, carA.run}.parmReq()} {
		if out := m.Handle(t0.Add(ms(600)), f); len(out) != 0 {
			t.Fatalf("answered a foreign car after the match: %v", decoded(t, out))
		}
	}
	r, _ := m.Result()
	if r.EVMAC != carA.mac || r.Attempts != 2 || r.AttenuationDB != 10 {
		t.Fatalf("result %+v", r)
	}
}

// TestRestartSameCar: a Stellantis car sends a new PARM.REQ in the middle of
// sounding and sounds again with its new RunID; its attempt starts over
// with that RunID and matches. Until the new RunID sounds, the old attempt
// goes on: a request alone may be a stranger's spoofing the car's MAC.
func TestRestartSameCar(t *testing.T) {
	again := car{carA.mac, homeplug.RunID{9, 9, 9, 9, 9, 9, 9, 9}}
	t.Run("new RunID never sounds", func(t *testing.T) {
		m := keyed(slac.NewMatcher(slac.Config{MAC: evseMAC, LinkPoll: -1}, t0), t0)
		m.Handle(t0, carA.parmReq())
		m.Handle(t0.Add(ms(100)), carA.startAtten())
		m.Handle(t0.Add(ms(150)), carA.sound(9))
		cnf := only[*homeplug.SlacParmCnf](t, m.Handle(t0.Add(ms(200)), again.parmReq()))
		if cnf.RunID != again.run {
			t.Fatalf("CNF RunID %v", cnf.RunID)
		}
		m.Handle(t0.Add(ms(210)), carA.sound(8))
		if out := m.Tick(t0.Add(ms(699))); len(out) != 0 {
			t.Fatalf("sent before the old window ended: %v", decoded(t, out))
		}
		ind := only[*homeplug.AttenCharInd](t, m.Tick(t0.Add(ms(700))))
		if ind.RunID != carA.run || ind.NumSounds != 2 {
			t.Fatalf("IND %+v", ind)
		}
		m.Handle(t0.Add(ms(710)), carA.rsp(evseMAC))
		only[*homeplug.SlacMatchCnf](t, m.Handle(t0.Add(ms(900)), carA.matchReq(evseMAC)))
		r, ok := m.Result()
		if !ok || r.RunID != carA.run || r.Restarts != 0 || r.Attempts != 2 || r.Unsounded != 1 || r.Sounds != 2 {
			t.Fatalf("result %+v ok %v", r, ok)
		}
	})
	t.Run("new RunID sounds", func(t *testing.T) {
		m := keyed(slac.NewMatcher(slac.Config{MAC: evseMAC, LinkPoll: -1}, t0), t0)
		var out []homeplug.Frame
		handle := func(at int, f []byte) []homeplug.Frame {
			fs := decoded(t, m.Handle(t0.Add(ms(at)), f))
			out = append(out, fs...)
			return fs
		}
		handle(0, carA.parmReq())
		handle(100, carA.startAtten())
		handle(150, carA.sound(9))
		handle(200, again.parmReq())
		handle(300, again.startAtten())
		// The old attempt is gone: its frames are ignored.
		handle(310, carA.sound(8))
		for i := range 9 {
			handle(320+20*i, again.sound(uint8(9-i)))
		}
		// The last sound ends the window at once: this modem sends no profiles.
		fs := handle(500, again.sound(0))
		if len(fs) != 1 || fs[0].Message.(*homeplug.AttenCharInd).RunID != again.run || fs[0].Message.(*homeplug.AttenCharInd).NumSounds != 10 {
			t.Fatalf("IND %v", fs)
		}
		handle(510, again.rsp(evseMAC))
		out = append(out, decoded(t, m.Tick(t0.Add(ms(750))))...)
		handle(800, again.matchReq(evseMAC))
		if len(out) != 4 || out[0].MMType != homeplug.CMSlacParmCnf || out[1].MMType != homeplug.CMSlacParmCnf ||
			out[2].MMType != homeplug.CMAttenCharInd || out[3].MMType != homeplug.CMSlacMatchCnf {
			t.Fatalf("sent %v", out)
		}
		r, ok := m.Result()
		if !ok || r.RunID != again.run || r.Restarts != 1 || r.Attempts != 2 || r.Unsounded != 0 || !m.Done() {
			t.Fatalf("result %+v ok %v done %v", r, ok, m.Done())
		}
		if r.Timings.Start != t0.Add(ms(200)) || r.Timings.Sounding != ms(100) || r.Timings.MatchCnf != ms(600) {
			t.Fatalf("timings %+v", r.Timings)
		}
	})
	t.Run("same RunID again", func(t *testing.T) {
		// A Tesla's RunID is always "TESLA EV": a car that starts over after
		// its ATTEN_CHAR.IND asks with the same RunID and sounds again.
		m := keyed(slac.NewMatcher(slac.Config{MAC: evseMAC, LinkPoll: -1}, t0), t0)
		m.Handle(t0, carB.parmReq())
		m.Handle(t0.Add(ms(100)), carB.startAtten())
		only[*homeplug.AttenCharInd](t, m.Tick(t0.Add(ms(700))))
		m.Handle(t0.Add(ms(710)), carB.rsp(evseMAC))
		// A late START_ATTEN_CHAR and sound of the old attempt change nothing.
		if out := m.Handle(t0.Add(ms(720)), carB.startAtten()); len(out) != 0 {
			t.Fatal("answered a late START_ATTEN_CHAR")
		}
		if out := m.Handle(t0.Add(ms(730)), carB.sound(0)); len(out) != 0 {
			t.Fatal("answered a late sound")
		}
		only[*homeplug.SlacParmCnf](t, m.Handle(t0.Add(ms(2000)), carB.parmReq()))
		m.Handle(t0.Add(ms(2100)), carB.startAtten())
		for i := range 9 {
			m.Handle(t0.Add(ms(2120+20*i)), carB.sound(uint8(9-i)))
		}
		ind := only[*homeplug.AttenCharInd](t, m.Handle(t0.Add(ms(2300)), carB.sound(0)))
		if ind.RunID != carB.run || ind.NumSounds != 10 {
			t.Fatalf("IND %+v", ind)
		}
		m.Handle(t0.Add(ms(2310)), carB.rsp(evseMAC))
		only[*homeplug.SlacMatchCnf](t, m.Handle(t0.Add(ms(2500)), carB.matchReq(evseMAC)))
		r, _ := m.Result()
		if r.Restarts != 1 || r.Attempts != 2 || r.Sounds != 10 || r.Timings.Start != t0.Add(ms(2000)) {
			t.Fatalf("result %+v", r)
		}
	})
}

// TestTimeouts covers the timers that end attempts and the matcher.
func TestTimeouts(t *testing.T) {
	t.Run("TT_EVSE_SLAC_init", func(t *testing.T) {
		m := keyed(slac.NewMatcher(slac.Config{MAC: evseMAC, Timing: slac.Timing{SLACInit: 20 * time.Second}}, t0), t0)
		if dl, ok := m.Deadline(); !ok || !dl.Equal(t0.Add(20*time.Second)) {
			t.Fatalf("deadline %v", dl)
		}
		m.Tick(t0.Add(20 * time.Second))
		if !m.Done() || !errors.Is(m.Err(), slac.ErrNoCar) || m.Err().Error() != "slac: no car started matching" {
			t.Fatalf("done %v err %v", m.Done(), m.Err())
		}
	})
	t.Run("TT_match_sequence", func(t *testing.T) {
		m := keyed(slac.NewMatcher(slac.Config{MAC: evseMAC}, t0), t0)
		m.Handle(t0, carA.parmReq())
		m.Tick(t0.Add(slac.TTMatchSequence))
		wantFailure(t, m.Failure(), slac.ReasonNoStartAttenChar, carA.mac, t0.Add(slac.TTMatchSequence))
		if m.Done() || m.Err() != nil {
			t.Fatalf("done %v err %v", m.Done(), m.Err())
		}
		// The car tries again later, after the init time: still answered.
		if _, ok := m.Deadline(); ok {
			t.Fatal("a timer runs while waiting for the car to retry")
		}
		only[*homeplug.SlacParmCnf](t, m.Handle(t0.Add(time.Minute), carA.parmReq()))
	})
	t.Run("TT_EVSE_match_session", func(t *testing.T) {
		m := keyed(slac.NewMatcher(slac.Config{MAC: evseMAC}, t0), t0)
		m.Handle(t0, carA.parmReq())
		m.Handle(t0.Add(ms(100)), carA.startAtten())
		m.Tick(t0.Add(ms(700)))
		m.Handle(t0.Add(ms(710)), carA.rsp(evseMAC))
		m.Tick(t0.Add(ms(710) + slac.TTEVSEMatchSession))
		wantFailure(t, m.Failure(), slac.ReasonNoMatchReq, carA.mac, t0.Add(ms(710)+slac.TTEVSEMatchSession))
		if out := m.Handle(t0.Add(ms(720)+slac.TTEVSEMatchSession), carA.matchReq(evseMAC)); len(out) != 0 {
			t.Fatal("late MATCH.REQ answered")
		}
	})
	t.Run("TT_match_join", func(t *testing.T) {
		m := keyed(slac.NewMatcher(slac.Config{MAC: evseMAC}, t0), t0)
		m.Handle(t0, carA.parmReq())
		m.Handle(t0.Add(ms(100)), carA.startAtten())
		m.Tick(t0.Add(ms(700)))
		m.Handle(t0.Add(ms(800)), carA.matchReq(evseMAC))
		polls := 0
		for at := t0.Add(ms(800)); !m.Done(); at = at.Add(ms(100)) {
			for _, f := range decoded(t, m.Tick(at)) {
				if f.MMType == homeplug.VSPlLnkStatusReq && f.Dst == homeplug.LocalModemMAC {
					polls++
				}
			}
		}
		r, ok := m.Result()
		if !ok || r.LinkUp || polls != 23 || r.EVMAC != carA.mac {
			t.Fatalf("result %+v ok %v, %d polls", r, ok, polls)
		}
		wantFailure(t, m.Err(), slac.ReasonLinkTimeout, carA.mac, t0.Add(ms(800)+slac.TTMatchJoin))
		if !errors.Is(m.Err(), slac.ErrLinkTimeout) || errors.Is(m.Err(), slac.ErrNoMatch) || m.Failure() != nil {
			t.Fatalf("err %v, failure %v", m.Err(), m.Failure())
		}
	})
}

// TestAttemptCap: a flood of requests never becomes attempts, and no more
// than MaxAttempts cars sound at once; a car that is sounding is never
// pushed out by one that comes later.
func TestAttemptCap(t *testing.T) {
	m := keyed(slac.NewMatcher(slac.Config{MAC: evseMAC, MaxAttempts: 3}, t0), t0)
	m.Handle(t0, carA.parmReq())
	m.Handle(t0.Add(ms(1)), carA.startAtten())
	for i := range 100 {
		c := car{homeplug.MAC{2, 0, 0, 1, 0, byte(i)}, carA.run}
		only[*homeplug.SlacParmCnf](t, m.Handle(t0.Add(ms(2)), c.parmReq()))
	}
	if m.Active() != 1 || m.Pending() != 100 {
		t.Fatalf("%d attempts, %d pending", m.Active(), m.Pending())
	}
	for i := range 5 {
		c := car{homeplug.MAC{2, 0, 0, 1, 0, byte(i)}, carA.run}
		m.Handle(t0.Add(ms(3)), c.startAtten())
		if want := min(2+i, 3); m.Active() != want {
			t.Fatalf("%d attempts, want %d", m.Active(), want)
		}
	}
	r, _ := m.Result()
	if r.Attempts != 101 {
		t.Fatalf("%d attempts", r.Attempts)
	}
	for i := range 9 {
		m.Handle(t0.Add(ms(10+i)), carA.sound(uint8(9-i)))
	}
	ind := only[*homeplug.AttenCharInd](t, m.Handle(t0.Add(ms(19)), carA.sound(0)))
	if ind.NumSounds != 10 || ind.SourceAddress != carA.mac {
		t.Fatalf("IND %+v", ind)
	}
	// The third car's sounds go nowhere: it was one too many.
	third := car{homeplug.MAC{2, 0, 0, 1, 0, 2}, carA.run}
	if out := m.Handle(t0.Add(ms(20)), third.sound(0)); len(out) != 0 {
		t.Fatalf("measured a car over the cap: %v", decoded(t, out))
	}
}

// TestValidate: CM_VALIDATE.REQ is answered "not required".
func TestValidate(t *testing.T) {
	m := keyed(slac.NewMatcher(slac.Config{MAC: evseMAC}, t0), t0)
	req := encode(evseMAC, carA.mac, &homeplug.ValidateReq{SignalType: 0, Timer: 3})
	if out := m.Handle(t0, req); len(out) != 0 {
		t.Fatal("validated an unknown car")
	}
	m.Handle(t0, carA.parmReq())
	m.Handle(t0.Add(ms(100)), carA.startAtten())
	m.Tick(t0.Add(ms(700)))
	cnf := only[*homeplug.ValidateCnf](t, m.Handle(t0.Add(ms(710)), req))
	if cnf.Result != homeplug.ValidateNotRequired {
		t.Fatalf("CNF %+v", cnf)
	}
}

// TestLogPlausible: a matching without profiles says so in the log.
func TestLogPlausible(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m := keyed(slac.NewMatcher(slac.Config{MAC: evseMAC, Log: log, LinkPoll: -1}, t0), t0)
	m.Handle(t0, carA.parmReq())
	m.Handle(t0.Add(ms(100)), carA.startAtten())
	m.Tick(t0.Add(ms(700)))
	m.Handle(t0.Add(ms(800)), carA.matchReq(evseMAC))
	for _, want := range []string{"plausible values", "msg=matched", "plausible=true", "run=0102030405060708"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, buf.String())
		}
	}
	if strings.Contains(buf.String(), "nmk") {
		t.Error("the key is logged")
	}
}

// TestLinkUpByOtherEvidence: the caller can report the link (the car's first
// IPv6 frame); before the match it means nothing.
func TestLinkUpByOtherEvidence(t *testing.T) {
	m := keyed(slac.NewMatcher(slac.Config{MAC: evseMAC}, t0), t0)
	m.LinkUp(t0)
	if m.Done() {
		t.Fatal("done before a match")
	}
	m.Handle(t0, carA.parmReq())
	m.Handle(t0.Add(ms(100)), carA.startAtten())
	m.Tick(t0.Add(ms(700)))
	m.Handle(t0.Add(ms(800)), carA.matchReq(evseMAC))
	if m.Done() {
		t.Fatal("done before the link")
	}
	m.LinkUp(t0.Add(4 * time.Second))
	r, ok := m.Result()
	if !m.Done() || !ok || !r.LinkUp || r.Timings.LinkUp != 4*time.Second {
		t.Fatalf("result %+v", r)
	}
	// A repeated MATCH.REQ is still answered after the link is up.
	only[*homeplug.SlacMatchCnf](t, m.Handle(t0.Add(5*time.Second), carA.matchReq(evseMAC)))
}

// keyed lets a new matcher key its modem (the session's CM_SET_KEY.REQ,
// sent when it starts) so that tests see only the matching's frames.
func keyed(m *slac.Matcher, now time.Time) *slac.Matcher {
	out := m.Tick(now)
	if len(out) != 1 {
		panic("a new matcher sends exactly its CM_SET_KEY.REQ")
	}
	if f, err := homeplug.Decode(out[0]); err != nil || f.MMType != homeplug.CMSetKeyReq {
		panic("a new matcher's first frame is not CM_SET_KEY.REQ")
	}
	return m
}
