package slac_test

import (
	"encoding/binary"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/slac"
)

// matchingFrames is a complete matching as the EVSE host receives it: the
// car's frames and the modem's profiles, with the time since the start.
func matchingFrames(c car, evse homeplug.MAC) (at []time.Duration, frames [][]byte) {
	add := func(d time.Duration, f []byte) {
		at = append(at, d)
		frames = append(frames, f)
	}
	add(0, c.parmReq())
	for i := range 3 {
		add(ms(100+20*i), c.startAtten())
	}
	for i := range 10 {
		add(ms(160+20*i), c.sound(uint8(9-i)))
		add(ms(161+20*i), profile(c.mac, byte(20+i)))
	}
	add(ms(370), c.rsp(evse))
	add(ms(1200), c.matchReq(evse))
	return at, frames
}

// FuzzHandle feeds arbitrary frames at arbitrary times to the matcher: it
// must not panic, keep at most MaxAttempts attempts, send only well-formed
// frames from its own MAC, and never send a car a RunID that car did not send.
func FuzzHandle(f *testing.F) {
	var seed []byte
	at, frames := matchingFrames(carA, evseMAC)
	prev := time.Duration(0)
	for i, fr := range frames {
		seed = binary.BigEndian.AppendUint16(seed, uint16(len(fr)))
		seed = append(seed, byte((at[i]-prev)/(4*time.Millisecond)))
		seed = append(seed, fr...)
		prev = at[i]
	}
	f.Add(seed)
	_, b := matchingFrames(carB, evseMAC)
	f.Add(slices.Concat([]byte{0, byte(len(b[0])), 0}, b[0], []byte{0, byte(len(b[3])), 200}, b[3]))

	f.Fuzz(func(t *testing.T, data []byte) {
		const maxAttempts = 4
		m := keyed(slac.NewMatcher(slac.Config{MAC: evseMAC, MaxAttempts: maxAttempts}, t0), t0)
		now := t0
		type key struct {
			mac homeplug.MAC
			run homeplug.RunID
		}
		sent := map[key]bool{}
		check := func(out [][]byte) {
			for _, o := range out {
				fr, err := homeplug.Decode(o)
				if err != nil {
					t.Fatalf("sent a bad frame: %v", err)
				}
				if fr.Src != evseMAC {
					t.Fatalf("sent from %v", fr.Src)
				}
				var run homeplug.RunID
				switch msg := fr.Message.(type) {
				case *homeplug.SlacParmCnf:
					run = msg.RunID
				case *homeplug.AttenCharInd:
					run = msg.RunID
				case *homeplug.SlacMatchCnf:
					run = msg.RunID
				default:
					continue
				}
				if !sent[key{fr.Dst, run}] {
					t.Fatalf("sent %v RunID %v, which it never sent", fr.Dst, run)
				}
			}
		}
		for len(data) >= 3 {
			n := min(int(binary.BigEndian.Uint16(data))%homeplug.MaxFrameLen, len(data)-3)
			now = now.Add(time.Duration(data[2]) * 4 * time.Millisecond)
			frame := slices.Clone(data[3 : 3+n])
			data = data[3+n:]
			if len(frame) >= 14 {
				frame[12], frame[13] = 0x88, 0xe1 // reach the decoders
			}
			for {
				dl, ok := m.Deadline()
				if !ok || dl.After(now) {
					break
				}
				check(m.Tick(dl))
			}
			if fr, err := homeplug.Decode(frame); err == nil {
				if req, ok := fr.Message.(*homeplug.SlacParmReq); ok {
					sent[key{fr.Src, req.RunID}] = true
				}
			}
			check(m.Handle(now, frame))
			if m.Active() > maxAttempts {
				t.Fatalf("%d attempts", m.Active())
			}
		}
	})
}

// FuzzWatch feeds arbitrary frames at arbitrary times to the watch of a
// matched car's link: it must not panic, send only well-formed frames from
// the charger's MAC (link polls, at least ConfirmPoll apart, and the
// matched CNF again), and end only with ErrLinkLost as Presence decides:
// ReasonLinkLost after two "no link" answers in a row and DefaultQuiet of
// the car's silence, ReasonSilent after DefaultSilence of it. Left alone
// after the frames, with its polls unanswered, it always ends.
func FuzzWatch(f *testing.F) {
	up := encode(evseMAC, modemMAC, &homeplug.PlLnkStatusCnf{LinkStatus: homeplug.LinkUp})
	down := encode(evseMAC, modemMAC, &homeplug.PlLnkStatusCnf{LinkStatus: homeplug.LinkDown})
	odd := encode(evseMAC, modemMAC, &homeplug.PlLnkStatusCnf{MStatus: 1, LinkStatus: homeplug.LinkUp})
	seed := func(frames ...[]byte) []byte {
		var b []byte
		for _, fr := range frames {
			b = binary.BigEndian.AppendUint16(b, uint16(len(fr)))
			b = append(b, 250) // a second later
			b = append(b, fr...)
		}
		return b
	}
	f.Add(seed(up, up, carA.matchReq(evseMAC), up, down, down, down, down, down, down, down))
	f.Add(seed(up, carB.parmReq(), carA.parmReq(), up[:20], carA.sound(3), carA.sound(2)))
	f.Add(seed(down, carA.matchReq(evseMAC), down, down, odd, up, down, up))

	at, frames := matchingFrames(carA, evseMAC)
	f.Fuzz(func(t *testing.T, data []byte) {
		m := keyed(slac.NewMatcher(slac.Config{MAC: evseMAC, LinkPoll: -1}, t0), t0)
		for i, fr := range frames {
			m.Handle(t0.Add(at[i]), fr)
		}
		if _, ok := m.Result(); !ok {
			t.Fatal("no match to watch")
		}
		now := t0.Add(2 * time.Second)
		w := slac.NewWatcher(m, carA.mac, time.Second, now)
		heard, lastPoll := now, time.Time{}
		downs := 0 // valid "no link" answers in a row
		// Handle runs the timers due before it reads its frame: a watch that
		// ended then was decided on the answers before that frame.
		var lastAt time.Time
		downsBefore := 0
		check := func(at time.Time, out [][]byte) {
			for _, o := range out {
				fr, err := homeplug.Decode(o)
				if err != nil || fr.Src != evseMAC {
					t.Fatalf("sent %x: %v", o, err)
				}
				switch fr.Message.(type) {
				case *homeplug.PlLnkStatusReq:
					if !lastPoll.IsZero() && at.Sub(lastPoll) < slac.ConfirmPoll {
						t.Fatalf("polls %v apart", at.Sub(lastPoll))
					}
					lastPoll = at
				case *homeplug.SlacMatchCnf:
				default:
					t.Fatalf("sent %v", fr.MMType)
				}
			}
		}
		tickUntil := func(end time.Time) {
			for !w.Done() {
				dl, ok := w.Deadline()
				if !ok || dl.After(end) {
					break
				}
				check(dl, w.Tick(dl))
			}
		}
		for len(data) >= 3 && !w.Done() {
			n := min(int(binary.BigEndian.Uint16(data))%homeplug.MaxFrameLen, len(data)-3)
			now = now.Add(time.Duration(data[2]) * 4 * time.Millisecond)
			frame := slices.Clone(data[3 : 3+n])
			data = data[3+n:]
			if len(frame) >= 14 {
				frame[12], frame[13] = 0x88, 0xe1 // reach the decoders
			}
			tickUntil(now)
			if w.Done() {
				break
			}
			check(now, w.Handle(now, frame))
			lastAt, downsBefore = now, downs
			h, _, err := homeplug.DecodeHeader(frame)
			switch {
			case err != nil:
			case h.Src == carA.mac:
				heard = now
			case h.FMI == 0 && h.MMType == homeplug.VSPlLnkStatusCnf && h.Dst == evseMAC:
				if cnf, ok := linkCnf(frame); ok && cnf.MStatus == homeplug.MStatusSuccess && cnf.LinkStatus == homeplug.LinkDown {
					downs++
				} else {
					downs = 0
				}
			}
		}
		if !w.Done() {
			// Nobody answers from now on: the modem's word stops counting.
			tickUntil(now.Add(2 * slac.DefaultSilence))
		}
		var fe *slac.FailureError
		if !w.Done() || !errors.As(w.Err(), &fe) || fe.EV != carA.mac || !errors.Is(w.Err(), slac.ErrLinkLost) {
			t.Fatalf("done %v, ended with %v", w.Done(), w.Err())
		}
		silent := fe.At.Sub(heard)
		switch fe.Reason {
		case slac.ReasonLinkLost:
			if fe.At.Equal(lastAt) {
				downs = max(downs, downsBefore)
			}
			if downs < 2 || silent < slac.DefaultQuiet {
				t.Fatalf("ended after %d 'no link' in a row and %v of silence", downs, silent)
			}
		case slac.ReasonSilent:
			if silent < slac.DefaultSilence {
				t.Fatalf("ended as silent after %v of silence", silent)
			}
		default:
			t.Fatalf("ended with %v", w.Err())
		}
	})
}

// linkCnf decodes a VS_PL_LNK_STATUS.CNF from the modem to the charger.
func linkCnf(frame []byte) (*homeplug.PlLnkStatusCnf, bool) {
	fr, err := homeplug.Decode(frame)
	if err != nil || fr.Dst != evseMAC || fr.FMI != 0 || fr.OUI != homeplug.QualcommOUI {
		return nil, false
	}
	cnf, ok := fr.Message.(*homeplug.PlLnkStatusCnf)
	return cnf, ok
}

// BenchmarkMatch measures one complete matching on the EVSE side, from
// CM_SLAC_PARM.REQ to CM_SLAC_MATCH.CNF, including the new matcher.
func BenchmarkMatch(b *testing.B) {
	at, frames := matchingFrames(carA, evseMAC)
	b.ReportAllocs()
	for b.Loop() {
		m := keyed(slac.NewMatcher(slac.Config{MAC: evseMAC, LinkPoll: -1}, t0), t0)
		for i, f := range frames {
			m.Handle(t0.Add(at[i]), f)
		}
		if !m.Done() {
			b.Fatal("no match")
		}
	}
}

// BenchmarkMatchReset is BenchmarkMatch with one matcher reused, as a
// charger keeps it from car to car.
func BenchmarkMatchReset(b *testing.B) {
	at, frames := matchingFrames(carA, evseMAC)
	m := keyed(slac.NewMatcher(slac.Config{MAC: evseMAC, LinkPoll: -1}, t0), t0)
	b.ReportAllocs()
	for b.Loop() {
		m.Reset(t0)
		for i, f := range frames {
			m.Handle(t0.Add(at[i]), f)
		}
		if !m.Done() {
			b.Fatal("no match")
		}
	}
}

// BenchmarkBackToBack measures a matching of the EVSE matcher and the PEV
// side exchanging frames directly, both state machines included.
func BenchmarkBackToBack(b *testing.B) {
	b.ReportAllocs()
	type msg struct {
		toEVSE bool
		frame  []byte
	}
	var queue []msg
	var bufs [][]byte
	for b.Loop() {
		evse := keyed(slac.NewMatcher(slac.Config{MAC: evseMAC, LinkPoll: -1}, t0), t0)
		pev := slac.NewPEV(slac.PEVConfig{MAC: pevMAC, RunID: carA.run}, t0)
		now := t0
		queue, bufs = queue[:0], bufs[:0]
		push := func(toEVSE bool, out [][]byte) {
			for _, f := range out {
				if h, _, _ := homeplug.DecodeHeader(f); h.Dst == homeplug.LocalModemMAC {
					continue
				}
				var buf []byte
				if n := len(bufs); n > 0 {
					buf, bufs = bufs[n-1][:0], bufs[:n-1]
				}
				queue = append(queue, msg{toEVSE, append(buf, f...)})
			}
		}
		for !pev.Done() {
			if len(queue) > 0 {
				q := queue[0]
				queue = queue[1:]
				if q.toEVSE {
					push(false, evse.Handle(now, q.frame))
				} else {
					push(true, pev.Handle(now, q.frame))
				}
				bufs = append(bufs, q.frame)
				continue
			}
			dp, _ := pev.Deadline()
			de, _ := evse.Deadline()
			now = dp
			if de.Before(dp) {
				now = de
			}
			push(true, pev.Tick(now))
			push(false, evse.Tick(now))
		}
		if _, ok := evse.Result(); !ok {
			b.Fatal("no match")
		}
	}
}
