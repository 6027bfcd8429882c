package slac_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ccslink/ccslink/clock"
	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/slac"
)

// wantFailure checks that err is a *FailureError with reason r about car ev at at.
func wantFailure(t *testing.T, err error, r slac.Reason, ev homeplug.MAC, at time.Time) *slac.FailureError {
	t.Helper()
	var f *slac.FailureError
	if !errors.As(err, &f) {
		t.Fatalf("err %v (%T), want a *slac.FailureError", err, err)
	}
	if f.Reason != r || f.EV != ev || !f.At.Equal(at) {
		t.Fatalf("failure %+v, want reason %q, car %v at %v", f, r, ev, at)
	}
	return f
}

// TestFailureError: the words, and the sentinels errors.Is finds.
func TestFailureError(t *testing.T) {
	for _, c := range []struct {
		err  *slac.FailureError
		text string
		is   error
	}{
		{&slac.FailureError{Reason: slac.ReasonNoCar}, "slac: no car started matching", slac.ErrNoCar},
		{&slac.FailureError{Reason: slac.ReasonNoStartAttenChar, EV: pevMAC},
			"slac: car 02:00:00:00:ca:01: the car sent no CM_START_ATTEN_CHAR.IND within TT_match_sequence", slac.ErrNoMatch},
		{&slac.FailureError{Reason: slac.ReasonCrosstalk, EV: pevMAC, Err: context.DeadlineExceeded},
			"slac: car 02:00:00:00:ca:01: the car was refused as a neighbour's car: another car sounded much stronger (crosstalk) (context deadline exceeded)", slac.ErrNoMatch},
		{&slac.FailureError{Reason: slac.ReasonLinkTimeout, EV: pevMAC},
			"slac: car 02:00:00:00:ca:01: the car matched, but its modem did not join the network within TT_match_join", slac.ErrLinkTimeout},
		{&slac.FailureError{Reason: slac.ReasonLinkLost, EV: pevMAC}, "slac: car 02:00:00:00:ca:01: the modem reports no link and the car fell silent", slac.ErrLinkLost},
		{&slac.FailureError{Reason: slac.ReasonCarGone, EV: pevMAC}, "slac: car 02:00:00:00:ca:01: the car was unplugged", slac.ErrCarGone},
		{&slac.FailureError{Reason: slac.ReasonNoParmCnf, EV: pevMAC}, "slac: car 02:00:00:00:ca:01: no charger answered CM_SLAC_PARM.REQ with our RunID", slac.ErrNoMatch},
	} {
		if got := c.err.Error(); got != c.text {
			t.Errorf("Error() = %q, want %q", got, c.text)
		}
		if !errors.Is(c.err, c.is) {
			t.Errorf("%v is not %v", c.err, c.is)
		}
		for _, other := range []error{slac.ErrNoCar, slac.ErrNoMatch, slac.ErrLinkTimeout, slac.ErrLinkLost, slac.ErrCarGone} {
			if other != c.is && errors.Is(c.err, other) {
				t.Errorf("%v is also %v", c.err, other)
			}
		}
		if errors.Is(c.err, context.DeadlineExceeded) != (c.err.Err != nil) {
			t.Errorf("%v: cause not unwrapped", c.err)
		}
	}
	if s := slac.Reason(200).String(); s != "unknown failure" {
		t.Errorf("unknown reason %q", s)
	}
}

// TestCrosstalkRefused: a far car whose MATCH.REQ was refused because a
// closer car sounded at the same time fails as crosstalk, not as silence.
func TestCrosstalkRefused(t *testing.T) {
	m := keyed(slac.NewMatcher(slac.Config{MAC: evseMAC}, t0), t0)
	for _, c := range []car{carA, carB} {
		m.Handle(t0, c.parmReq())
		m.Handle(t0.Add(ms(50)), c.startAtten())
	}
	for i := range 10 {
		at := t0.Add(ms(100 + 20*i))
		for j, c := range []car{carA, carB} {
			m.Handle(at, c.sound(uint8(9-i)))
			m.Handle(at.Add(ms(1)), profile(c.mac, byte(10+30*j)))
		}
	}
	m.Handle(t0.Add(ms(400)), carA.rsp(evseMAC))
	m.Handle(t0.Add(ms(400)), carB.rsp(evseMAC))
	if out := m.Handle(t0.Add(ms(450)), carB.matchReq(evseMAC)); len(out) != 0 {
		t.Fatalf("answered the neighbour's car: %v", decoded(t, out))
	}
	end := t0.Add(ms(400) + slac.TTEVSEMatchSession)
	m.Tick(end)
	wantFailure(t, m.Failure(), slac.ReasonCrosstalk, carB.mac, end)
	if !errors.Is(m.Failure(), slac.ErrNoMatch) || m.Active() != 0 || m.Done() {
		t.Fatalf("failure %v, %d active, done %v", m.Failure(), m.Active(), m.Done())
	}
}

// TestAttenCharRejected: a car that answers CM_ATTEN_CHAR.IND with a
// failure ends its attempt with that reason.
func TestAttenCharRejected(t *testing.T) {
	m := keyed(slac.NewMatcher(slac.Config{MAC: evseMAC}, t0), t0)
	m.Handle(t0, carA.parmReq())
	m.Handle(t0.Add(ms(100)), carA.startAtten())
	m.Tick(t0.Add(ms(700)))
	m.Handle(t0.Add(ms(710)), encode(evseMAC, carA.mac, &homeplug.AttenCharRsp{SourceAddress: carA.mac, RunID: carA.run, Result: 1}))
	wantFailure(t, m.Failure(), slac.ReasonAttenCharRejected, carA.mac, t0.Add(ms(710)))
}

// TestMatchEVSEDeadlineAfterFailure: the caller's time runs out after a
// car's attempt failed; the error names that attempt, not "no car".
func TestMatchEVSEDeadlineAfterFailure(t *testing.T) {
	clk := clock.NewFake(t0)
	port := newChanPort()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := slac.MatchEVSE(ctx, port, clk, slac.Config{MAC: evseMAC})
		errc <- err
	}()
	<-port.out // CM_SET_KEY.REQ
	port.in <- carA.parmReq()
	<-port.out // CM_SLAC_PARM.CNF
	// The car says nothing more; TT_match_sequence ends its attempt.
	clk.WaitCreated(1, nil)
	clk.Advance(slac.TTMatchSequence + ms(10))
	// Another car starts: its answer shows that the first attempt has been
	// timed out (a frame runs the timers first, if the timer has not).
	port.in <- carB.parmReq()
	<-port.out
	cancel()
	err := <-errc
	f := wantFailure(t, err, slac.ReasonNoStartAttenChar, carA.mac, t0.Add(slac.TTMatchSequence+ms(10)))
	if !errors.Is(err, slac.ErrNoMatch) || errors.Is(err, slac.ErrNoCar) || !errors.Is(err, context.Canceled) || f.Err != context.Canceled {
		t.Fatalf("err %v", err)
	}
}

// failPort fails every read with err.
type failPort struct{ err error }

func (p failPort) ReadFrame(context.Context, []byte) (int, error) { return 0, p.err }
func (p failPort) WriteFrame(context.Context, []byte) error       { return nil }

// TestMatchPortError: a port that fails is a *PortError, not a matching failure.
func TestMatchPortError(t *testing.T) {
	cause := errors.New("network is down")
	_, err := slac.MatchEVSE(context.Background(), failPort{cause}, clock.NewFake(t0), slac.Config{MAC: evseMAC})
	var perr *slac.PortError
	if !errors.As(err, &perr) || perr.Op != "receive" || !errors.Is(err, cause) || errors.Is(err, slac.ErrNoCar) {
		t.Fatalf("err %v", err)
	}
	if want := "slac: cannot receive on the HomePlug interface: network is down (is the interface up?)"; err.Error() != want {
		t.Fatalf("err %q, want %q", err, want)
	}
	// A read cut short by the caller's deadline is the deadline, not the port.
	_, err = slac.MatchPEV(context.Background(), failPort{context.DeadlineExceeded}, clock.NewFake(t0), slac.PEVConfig{MAC: pevMAC})
	f := wantFailure(t, err, slac.ReasonNoParmCnf, pevMAC, t0)
	if f.Err != context.DeadlineExceeded || !errors.Is(err, slac.ErrNoMatch) {
		t.Fatalf("err %v", err)
	}
}

// TestMatchEVSECanceledNoCar: the caller stops waiting before any car came.
func TestMatchEVSECanceledNoCar(t *testing.T) {
	clk := clock.NewFake(t0)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := slac.MatchEVSE(ctx, newChanPort(), clk, slac.Config{MAC: evseMAC})
		errc <- err
	}()
	clk.WaitCreated(0, nil)
	clk.Advance(time.Second)
	cancel()
	err := <-errc
	wantFailure(t, err, slac.ReasonNoCar, homeplug.MAC{}, t0.Add(time.Second))
	if !errors.Is(err, slac.ErrNoCar) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
}
