package slac_test

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ccslink/ccslink/internal/shared"
	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/slac"
)

// capturedCar is one real car's SLAC as the charger's host received it: the
// car's frames and the charger modem's profiles of its sounds, at their
// recorded times.
type capturedCar struct {
	frames  []captured
	mac     homeplug.MAC
	run     homeplug.RunID
	charger homeplug.MAC
	start   time.Time // the car's first CM_SLAC_PARM.REQ
	req     time.Time // its CM_SLAC_MATCH.REQ
}

func readCar(t testing.TB, rel string) capturedCar {
	t.Helper()
	frames := readHomePlug(t, filepath.Join(shared.Path(t, "captures"), rel))
	var c capturedCar
	for _, f := range frames {
		if m, ok := f.msg.(*homeplug.SlacMatchReq); ok {
			c.mac, c.run, c.charger, c.req = f.h.Src, m.RunID, m.EVSEMAC, f.at
			break
		}
	}
	if c.req.IsZero() {
		t.Fatalf("%s: no CM_SLAC_MATCH.REQ", rel)
	}
	var modem homeplug.MAC
	for _, f := range frames {
		if f.h.MMType == homeplug.CMSetKeyCnf && f.h.Dst == c.charger {
			modem = f.h.Src
		}
	}
	for _, f := range frames {
		if p, ok := f.msg.(*homeplug.AttenProfileInd); (ok && p.PEVMAC == c.mac && f.h.Src == modem) || f.h.Src == c.mac {
			if f.h.Src == c.mac && f.h.MMType == homeplug.CMSlacParmReq && c.start.IsZero() {
				c.start = f.at
			}
			c.frames = append(c.frames, f)
		}
	}
	return c
}

// floodReqs returns CM_SLAC_PARM.REQ at rate a second over [from, to), each
// with a random RunID and never followed by anything, from src.
func floodReqs(rng *rand.Rand, from, to time.Time, rate int, src func() homeplug.MAC) []captured {
	if rate == 0 {
		return nil
	}
	var out []captured
	step := time.Second / time.Duration(rate)
	for at := from; at.Before(to); at = at.Add(step) {
		var run homeplug.RunID
		for i := range run {
			run[i] = byte(rng.Uint32())
		}
		f := encode(homeplug.BroadcastMAC, src(), &homeplug.SlacParmReq{RunID: run})
		out = append(out, captured{at: at, frame: f})
	}
	return out
}

// strangers returns random unicast MACs, none of them in not.
func strangers(rng *rand.Rand, not ...homeplug.MAC) func() homeplug.MAC {
	return func() homeplug.MAC {
		for {
			var m homeplug.MAC
			for i := range m {
				m[i] = byte(rng.Uint32())
			}
			m[0] = m[0]&^1 | 2 // unicast, locally administered
			if !slices.Contains(not, m) {
				return m
			}
		}
	}
}

// merge puts frames in time order; the car's frame goes first at a tie.
func merge(lists ...[]captured) []captured {
	all := slices.Concat(lists...)
	slices.SortStableFunc(all, func(a, b captured) int { return a.at.Compare(b.at) })
	return all
}

var floodNMK = homeplug.NMK{0x34, 0x52, 0x23, 0x54, 0x45, 0xae, 0xf2, 0xd4, 0x55, 0xfe, 0xff, 0x31, 0xa3, 0xb3, 0x03, 0xad}

// floodCars are real cars' captured SLAC: a Kia EV6 and a Tesla Model 3
// (EVerest, with the modem's profiles) and the Ioniq pyPLC charged (it asks
// twice, 8 ms apart, and its START_ATTEN_CHAR.IND comes 150 ms after).
var floodCars = []string{"everest/kia-ev6_din-dc.pcap", "everest/tesla-model3_din-dc.pcap", "pyplc/2023-05-24_pyPlc_with_Ioniq93prcSoc.pcapng"}

// floodRun is one replay of a captured car with a flood around it.
type floodRun struct {
	res     slac.Result
	ok      bool
	sent    []captured
	flood   []captured
	log     string
	pending int
}

// runFlood replays car with flood, the matcher starting 5 s before the
// car's first request (as the flood does), on a fake time, and logging at
// Info as the daemon does.
func runFlood(car capturedCar, flood []captured, extra ...[]captured) floodRun {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	start := car.start.Add(-5 * time.Second)
	m := keyed(slac.NewMatcher(slac.Config{MAC: car.charger, LinkPoll: -1, Log: log, NewNMK: func() homeplug.NMK { return floodNMK }}, start), start)
	sent := replay(m, merge(append([][]captured{car.frames, flood}, extra...)...))
	r, ok := m.Result()
	return floodRun{res: r, ok: ok, sent: sent, flood: flood, log: buf.String(), pending: m.Pending()}
}

// TestFloodDuringCapturedCar replays real cars' SLAC while strangers flood
// the charger with CM_SLAC_PARM.REQ that are never followed by sounds, at
// 10 and 200 a second, from random MACs or spoofing the car's MAC with
// random RunIDs. The car matches exactly as without the flood: same RunID,
// the session's NMK, same sounds and averages, and the same moments to the
// microsecond. Each stranger's request gets one CNF, no more.
func TestFloodDuringCapturedCar(t *testing.T) {
	for _, name := range floodCars {
		t.Run(filepath.Base(name), func(t *testing.T) {
			car := readCar(t, name)
			quiet := runFlood(car, nil)
			if !quiet.ok {
				t.Fatalf("no match without a flood: %s", quiet.log)
			}
			base := quiet.res
			matchAt := base.Timings.Start.Add(base.Timings.MatchCnf)
			t.Logf("car %v run %v: MATCH.CNF %v after its CM_SLAC_PARM.REQ without a flood", car.mac, car.run, base.Timings.MatchCnf)
			for _, c := range []struct {
				rate  int
				spoof bool
			}{{10, false}, {200, false}, {10, true}, {200, true}} {
				t.Run(fmt.Sprintf("%d/s spoof=%v", c.rate, c.spoof), func(t *testing.T) {
					rng := rand.New(rand.NewPCG(uint64(c.rate), 1))
					src := strangers(rng, car.mac, car.charger)
					if c.spoof {
						src = func() homeplug.MAC { return car.mac }
					}
					flood := floodReqs(rng, car.start.Add(-5*time.Second), car.req.Add(2*time.Second), c.rate, src)
					run := runFlood(car, flood)
					r := run.res
					if !run.ok || r.EVMAC != car.mac || r.RunID != car.run || r.NMK != floodNMK || r.NID != floodNMK.NID() {
						t.Fatalf("result %+v ok %v\n%s", r, run.ok, run.log)
					}
					if r.Timings != base.Timings || r.Sounds != base.Sounds || r.Profiles != base.Profiles ||
						r.AttenuationDB != base.AttenuationDB || r.Plausible != base.Plausible || r.Restarts != base.Restarts {
						t.Fatalf("with the flood %+v\nwithout %+v", r, base)
					}
					// Exactly one MATCH.CNF, to the car, with its RunID and the key.
					var cnfs []*homeplug.SlacMatchCnf
					floodCNFs := 0
					for _, s := range run.sent {
						switch m := s.msg.(type) {
						case *homeplug.SlacMatchCnf:
							if s.h.Dst != car.mac {
								t.Fatalf("MATCH.CNF to %v", s.h.Dst)
							}
							cnfs = append(cnfs, m)
						case *homeplug.SlacParmCnf:
							if !hasParmReq(car.frames, s.h.Dst, m.RunID) {
								floodCNFs++
							}
						}
					}
					if len(cnfs) != 1 || cnfs[0].RunID != car.run || cnfs[0].NMK != floodNMK || cnfs[0].NID != floodNMK.NID() || cnfs[0].EVSEMAC != car.charger {
						t.Fatalf("MATCH.CNF %+v", cnfs)
					}
					// Every stranger's request before the match is answered
					// once; those that waited out TT_match_sequence count as
					// unsounded; after the match none is answered.
					before, expired := 0, 0
					for _, f := range flood {
						if f.at.After(matchAt) {
							continue
						}
						before++
						if !f.at.Add(slac.TTMatchSequence).After(matchAt) {
							expired++
						}
					}
					if floodCNFs != before || r.Attempts != base.Attempts+before || r.Unsounded != base.Unsounded+expired || run.pending != 0 {
						t.Fatalf("%d CNF to %d flood requests before the match; attempts %d (%d without), unsounded %d (%d without, %d expired), %d pending",
							floodCNFs, before, r.Attempts, base.Attempts, r.Unsounded, base.Unsounded, expired, run.pending)
					}
					// The owner reads one warning per 10 s, not one per frame.
					if n := strings.Count(run.log, "msg=\"attempt failed\""); n < 1 || n > 1+int(car.req.Sub(car.start)/(10*time.Second)) {
						t.Errorf("%d warnings about failed attempts in %v:\n%s", n, car.req.Sub(car.start)+5*time.Second, run.log)
					}
					t.Logf("%d flood requests before the match: MATCH.CNF %v after the car's CM_SLAC_PARM.REQ, as without the flood", before, r.Timings.MatchCnf)
				})
			}
		})
	}
}

// readdress is a captured car's frame as a neighbour's car would send it:
// another MAC and RunID, dt later, and its profiles db dB weaker.
func readdress(t *testing.T, c captured, car, mac homeplug.MAC, run homeplug.RunID, dt time.Duration, db int) captured {
	t.Helper()
	fr, err := homeplug.Decode(slices.Clone(c.frame))
	if err != nil {
		t.Fatal(err)
	}
	src := fr.Src
	switch m := fr.Message.(type) {
	case *homeplug.SlacParmReq:
		m.RunID = run
	case *homeplug.StartAttenCharInd:
		m.RunID, m.ForwardingSTA = run, mac
	case *homeplug.MnbcSoundInd:
		m.RunID = run
	case *homeplug.AttenCharRsp:
		m.RunID, m.SourceAddress = run, mac
	case *homeplug.SlacMatchReq:
		m.RunID, m.PEVMAC = run, mac
	case *homeplug.AttenProfileInd:
		m.PEVMAC = mac
		aag := slices.Clone(m.AAG)
		for i := range aag {
			aag[i] = byte(min(int(aag[i])+db, 255))
		}
		m.AAG = aag
	default:
		return captured{}
	}
	if src == car {
		src = mac
	}
	f := encode(fr.Dst, src, fr.Message)
	out, err := homeplug.Decode(slices.Clone(f))
	if err != nil {
		t.Fatal(err)
	}
	return captured{at: c.at.Add(dt), frame: f, h: out.Header, msg: out.Message}
}

// TestCrosstalkUnderFlood: a neighbour's car sounds at the same time as a
// real captured car, 15 dB weaker, and asks first; strangers flood at 200
// a second. The neighbour's MATCH.REQ is refused as crosstalk and the car
// matches exactly as alone.
func TestCrosstalkUnderFlood(t *testing.T) {
	car := readCar(t, floodCars[0])
	neighbour := homeplug.MAC{0x02, 0, 0, 0, 0xbe, 0xef}
	nrun := homeplug.RunID([]byte("NEIGHBOR"))
	var theirs []captured
	for _, c := range car.frames {
		if f := readdress(t, c, car.mac, neighbour, nrun, -30*time.Millisecond, 15); f.frame != nil {
			theirs = append(theirs, f)
		}
	}
	quiet := runFlood(car, nil)
	rng := rand.New(rand.NewPCG(200, 2))
	flood := floodReqs(rng, car.start.Add(-5*time.Second), car.req.Add(2*time.Second), 200, strangers(rng, car.mac, neighbour))
	run := runFlood(car, flood, theirs)
	r := run.res
	if !run.ok || r.EVMAC != car.mac || r.RunID != car.run || r.NMK != floodNMK || r.Timings != quiet.res.Timings || r.AttenuationDB != quiet.res.AttenuationDB {
		t.Fatalf("result %+v\nalone %+v\n%s", r, quiet.res, run.log)
	}
	var inds, cnfs int
	for _, s := range run.sent {
		if s.h.Dst != neighbour {
			continue
		}
		switch s.h.MMType {
		case homeplug.CMAttenCharInd:
			inds++
		case homeplug.CMSlacMatchCnf:
			cnfs++
		}
	}
	refused := fmt.Sprintf("msg=\"MATCH.REQ refused: crosstalk from a neighbour's car\" ev=%v", neighbour)
	if inds != 1 || cnfs != 0 || !strings.Contains(run.log, refused) {
		t.Fatalf("the neighbour got %d ATTEN_CHAR.IND and %d MATCH.CNF; log:\n%s", inds, cnfs, run.log)
	}
	t.Logf("neighbour at %.1f dB refused; the car at %.1f dB matched in %v", r.AttenuationDB+15, r.AttenuationDB, r.Timings.MatchCnf)
}

// TestCrosstalkNeedsSameTime: only a car that sounded while the asking car
// sounded can make it a neighbour. A closer car that starts sounding after
// the asking car's window closed neither holds its MATCH.REQ back nor
// refuses it; one that sounded at the same time does.
func TestCrosstalkNeedsSameTime(t *testing.T) {
	sounds := func(m *slac.Matcher, c car, at time.Duration, db byte) {
		m.Handle(t0.Add(at), c.parmReq())
		m.Handle(t0.Add(at+ms(50)), c.startAtten())
		for i := range 10 {
			m.Handle(t0.Add(at+ms(100+20*i)), c.sound(uint8(9-i)))
			m.Handle(t0.Add(at+ms(101+20*i)), profile(c.mac, db))
		}
	}
	// carA far (40 dB), carB close (10 dB), sounding 500 ms later.
	m := keyed(slac.NewMatcher(slac.Config{MAC: evseMAC, LinkPoll: -1}, t0), t0)
	sounds(m, carA, 0, 40)
	m.Handle(t0.Add(ms(300)), carA.rsp(evseMAC))
	sounds(m, carB, ms(500), 10)
	cnf := only[*homeplug.SlacMatchCnf](t, m.Handle(t0.Add(ms(650)), carA.matchReq(evseMAC)))
	if cnf.RunID != carA.run {
		t.Fatalf("CNF %+v", cnf)
	}
	// The same cars sounding at the same time: carA is refused, carB matches.
	m = keyed(slac.NewMatcher(slac.Config{MAC: evseMAC, LinkPoll: -1}, t0), t0)
	sounds(m, carA, 0, 40)
	sounds(m, carB, ms(150), 10)
	m.Handle(t0.Add(ms(440)), carA.rsp(evseMAC))
	m.Handle(t0.Add(ms(441)), carB.rsp(evseMAC))
	if out := m.Handle(t0.Add(ms(650)), carA.matchReq(evseMAC)); len(out) != 0 {
		t.Fatalf("answered the neighbour: %v", decoded(t, out))
	}
	only[*homeplug.SlacMatchCnf](t, m.Handle(t0.Add(ms(700)), carB.matchReq(evseMAC)))
	if r, _ := m.Result(); r.EVMAC != carB.mac {
		t.Fatalf("matched %v", r.EVMAC)
	}
}

// TestFloodRing: however fast requests come, the matcher keeps the latest
// 256; the ones pushed out count as unsounded, and a car whose request
// is still among them starts sounding.
func TestFloodRing(t *testing.T) {
	m := keyed(slac.NewMatcher(slac.Config{MAC: evseMAC, LinkPoll: -1}, t0), t0)
	rng := rand.New(rand.NewPCG(1, 1))
	src := strangers(rng, carA.mac)
	m.Handle(t0, carA.parmReq())
	for _, f := range floodReqs(rng, t0, t0.Add(ms(255)), 1000, src) {
		only[*homeplug.SlacParmCnf](t, m.Handle(f.at, f.frame))
	}
	if m.Pending() != 256 || m.Active() != 0 {
		t.Fatalf("%d pending, %d active", m.Pending(), m.Active())
	}
	m.Handle(t0.Add(ms(256)), carA.startAtten()) // the 256th newest: still there
	if m.Pending() != 255 || m.Active() != 1 {
		t.Fatalf("%d pending, %d active", m.Pending(), m.Active())
	}
	for _, f := range floodReqs(rng, t0.Add(ms(257)), t0.Add(ms(357)), 1000, src) {
		m.Handle(f.at, f.frame)
	}
	r, _ := m.Result()
	// 255 requests waited beside the car's; 100 more pushed out 99.
	if m.Pending() != 256 || r.Unsounded != 99 || r.Attempts != 356 {
		t.Fatalf("%d pending, %d unsounded, %d attempts", m.Pending(), r.Unsounded, r.Attempts)
	}
	for i := range 10 {
		m.Handle(t0.Add(ms(360+20*i)), carA.sound(uint8(9-i)))
	}
	m.Handle(t0.Add(ms(560)), carA.rsp(evseMAC))
	only[*homeplug.SlacMatchCnf](t, m.Handle(t0.Add(ms(600)), carA.matchReq(evseMAC)))
	// A request pushed out of the ring no longer starts sounding.
	m = keyed(slac.NewMatcher(slac.Config{MAC: evseMAC, LinkPoll: -1}, t0), t0)
	m.Handle(t0, carA.parmReq())
	for _, f := range floodReqs(rng, t0, t0.Add(ms(256)), 1000, src) {
		m.Handle(f.at, f.frame)
	}
	if out := m.Handle(t0.Add(ms(257)), carA.startAtten()); len(out) != 0 || m.Active() != 0 {
		t.Fatalf("a forgotten request started sounding: %d active", m.Active())
	}
}

// floodFrames returns n CM_SLAC_PARM.REQ from distinct random senders with
// random RunIDs.
func floodFrames(n int) [][]byte {
	rng := rand.New(rand.NewPCG(7, 7))
	src := strangers(rng)
	var out [][]byte
	for _, f := range floodReqs(rng, t0, t0.Add(time.Duration(n)*time.Millisecond), 1000, src) {
		out = append(out, f.frame)
	}
	return out
}

// floodLog is the daemon's logging: Info and up, as text, here counted.
type countWriter struct{ lines, bytes int }

func (w *countWriter) Write(p []byte) (int, error) {
	w.lines += bytes.Count(p, []byte{'\n'})
	w.bytes += len(p)
	return len(p), nil
}

// TestFloodMemory: ten minutes of 200 CM_SLAC_PARM.REQ a second from
// strangers, on a fake time: the matcher allocates nothing per frame, keeps
// at most 256 requests, answers each with one CNF and logs one line per
// 10 s.
func TestFloodMemory(t *testing.T) {
	frames := floodFrames(4096)
	var w countWriter
	m := keyed(slac.NewMatcher(slac.Config{MAC: evseMAC, Log: slog.New(slog.NewTextHandler(&w, nil))}, t0), t0)
	now := t0
	i := 0
	step := func() {
		now = now.Add(5 * time.Millisecond)
		if dl, ok := m.Deadline(); ok && !dl.After(now) {
			m.Tick(now)
		}
		if out := m.Handle(now, frames[i%len(frames)]); len(out) != 1 {
			t.Fatalf("%d frames for one request", len(out))
		}
		i++
	}
	for range 200 * 60 { // the first minute: buffers reach their size
		step()
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if a := testing.AllocsPerRun(200*60*9, step); a != 0 {
		t.Fatalf("%v allocations per flood frame", a)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	r, _ := m.Result()
	if m.Pending() != 80 || m.Active() != 0 || r.Attempts != i || r.Unsounded != i-80 || m.Done() {
		t.Fatalf("%d pending, %d active, %d attempts, %d unsounded of %d, done %v", m.Pending(), m.Active(), r.Attempts, r.Unsounded, i, m.Done())
	}
	if w.lines != 60 {
		t.Errorf("%d log lines (%d bytes) in 10 minutes", w.lines, w.bytes)
	}
	t.Logf("%d requests in %v: %d pending; heap %d KiB before the last 9 minutes, %d KiB after (%d mallocs in the process meanwhile); %d log lines, %d bytes",
		i, now.Sub(t0), m.Pending(), before.HeapAlloc>>10, after.HeapAlloc>>10, after.Mallocs-before.Mallocs, w.lines, w.bytes)
}

// BenchmarkFloodFrame is the cost of one stranger's CM_SLAC_PARM.REQ, 200 a
// second, with the daemon's logging: decode, answer, remember, expire.
func BenchmarkFloodFrame(b *testing.B) {
	frames := floodFrames(4096)
	m := keyed(slac.NewMatcher(slac.Config{MAC: evseMAC, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, t0), t0)
	now := t0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		now = now.Add(5 * time.Millisecond)
		if dl, ok := m.Deadline(); ok && !dl.After(now) {
			m.Tick(now)
		}
		m.Handle(now, frames[i%len(frames)])
	}
	b.ReportMetric(float64(m.Pending()), "pending")
}

// BenchmarkMatchUnderFlood replays the Kia EV6's captured SLAC with
// strangers' requests at 0, 10 and 200 a second from 5 s before it: the
// car's time from CM_SLAC_PARM.REQ to MATCH.CNF on the fake clock
// (match-µs, exact), and the time to process the whole replay.
func BenchmarkMatchUnderFlood(b *testing.B) {
	car := readCar(b, floodCars[0])
	for _, rate := range []int{0, 10, 200} {
		b.Run(fmt.Sprintf("%d/s", rate), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(uint64(rate), 1))
			flood := floodReqs(rng, car.start.Add(-5*time.Second), car.req.Add(2*time.Second), rate, strangers(rng, car.mac, car.charger))
			var r floodRun
			for i := 0; i < b.N; i++ {
				r = runFlood(car, flood)
			}
			if !r.ok || r.res.RunID != car.run {
				b.Fatalf("no match: %+v", r.res)
			}
			b.ReportMetric(float64(r.res.Timings.MatchCnf.Microseconds()), "match-µs")
			b.ReportMetric(float64(len(flood)), "flood-frames")
		})
	}
}
