package slac_test

import (
	"errors"
	"testing"
	"time"

	"github.com/ccslink/ccslink/homeplug"
	"github.com/ccslink/ccslink/slac"
)

// TestFakeClock: timers fire in order during Advance, stopped ones never.
func TestFakeClock(t *testing.T) {
	c := slac.NewFakeClock(t0)
	a := c.NewTimer(300 * time.Millisecond)
	b := c.NewTimer(100 * time.Millisecond)
	s := c.NewTimer(200 * time.Millisecond)
	if !s.Stop() || s.Stop() {
		t.Fatal("Stop reports wrongly")
	}
	if next, ok := c.Next(); !ok || !next.Equal(t0.Add(100*time.Millisecond)) {
		t.Fatalf("next %v", next)
	}
	c.Advance(150 * time.Millisecond)
	select {
	case at := <-b.C():
		if !at.Equal(t0.Add(100 * time.Millisecond)) {
			t.Fatalf("fired at %v", at)
		}
	default:
		t.Fatal("due timer did not fire")
	}
	select {
	case <-a.C():
		t.Fatal("timer fired early")
	default:
	}
	c.Set(t0.Add(time.Second))
	<-a.C()
	select {
	case <-s.C():
		t.Fatal("stopped timer fired")
	default:
	}
	if c.Pending() != 0 || c.Created() != 3 || !c.Now().Equal(t0.Add(time.Second)) {
		t.Fatalf("pending %d created %d now %v", c.Pending(), c.Created(), c.Now())
	}
	var _ slac.Clock = slac.RealClock{}
}

// TestPEVNoCharger: a car alone on the cable gives up after sounding.
func TestPEVNoCharger(t *testing.T) {
	p := slac.NewPEV(slac.PEVConfig{MAC: pevMAC}, t0)
	only[*homeplug.SlacParmReq](t, p.Tick(t0))
	cnf := encode(pevMAC, evseMAC, &homeplug.SlacParmCnf{MSoundTarget: homeplug.BroadcastMAC, NumSounds: 10, TimeOut: 6, RespType: 1, ForwardingSTA: pevMAC, RunID: func() homeplug.RunID { r, _ := p.Result(); return r.RunID }()})
	p.Handle(t0.Add(ms(1)), cnf)
	sounds := 0
	for !p.Done() {
		dl, _ := p.Deadline()
		for _, f := range decoded(t, p.Tick(dl)) {
			if f.MMType == homeplug.CMMnbcSoundInd {
				sounds++
			}
		}
	}
	if sounds != 10 || !errors.Is(p.Err(), slac.ErrNoMatch) {
		t.Fatalf("%d sounds, err %v", sounds, p.Err())
	}
}
