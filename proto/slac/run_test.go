package slac_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ccslink/ccslink/clock"
	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/slac"
)

// chanPort is a Port made of two channels, for tests.
type chanPort struct {
	in       chan []byte
	out      chan []byte
	readExit chan struct{}
}

func newChanPort() *chanPort {
	return &chanPort{in: make(chan []byte), out: make(chan []byte, 64), readExit: make(chan struct{}, 1)}
}

func (p *chanPort) ReadFrame(ctx context.Context, buf []byte) (int, error) {
	select {
	case f := <-p.in:
		return copy(buf, f), nil
	case <-ctx.Done():
		select {
		case p.readExit <- struct{}{}:
		default:
		}
		return 0, ctx.Err()
	}
}

func (p *chanPort) WriteFrame(ctx context.Context, f []byte) error {
	select {
	case p.out <- slices.Clone(f):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestMatchEVSERun runs MatchEVSE over a port with a fake clock; the test
// plays the car (a PEV state machine) and the charger's modem. Nothing sleeps:
// the test knows the Run loop is waiting again when it makes its next timer.
func TestMatchEVSERun(t *testing.T) {
	clock := clock.NewFake(t0)
	port := newChanPort()
	type outcome struct {
		r   slac.Result
		err error
	}
	done := make(chan outcome, 1)
	stop := make(chan struct{})
	go func() {
		r, err := slac.MatchEVSE(context.Background(), port, clock, slac.Config{MAC: evseMAC})
		done <- outcome{r, err}
		close(stop)
	}()
	clock.WaitCreated(0, stop)
	pev := slac.NewPEV(slac.PEVConfig{MAC: pevMAC}, t0)
	var modemNMK homeplug.NMK

	var toEVSE [][]byte
	// fromEVSE handles what the matcher sent: to the car, or to its modem.
	fromEVSE := func() {
		for {
			select {
			case f := <-port.out:
				h, p, err := homeplug.DecodeHeader(f)
				if err != nil {
					t.Fatal(err)
				}
				switch {
				case h.Dst == pevMAC:
					for _, o := range pev.Handle(clock.Now(), f) {
						toEVSE = append(toEVSE, slices.Clone(o))
					}
				case h.MMType == homeplug.CMSetKeyReq:
					var req homeplug.SetKeyReq
					if err := req.DecodePayload(p); err != nil {
						t.Fatal(err)
					}
					modemNMK = req.NewKey
					toEVSE = append(toEVSE, encode(evseMAC, modemMAC, &homeplug.SetKeyCnf{Result: 1}))
				case h.MMType == homeplug.VSPlLnkStatusReq:
					st := uint8(homeplug.LinkDown)
					if r, ok := pev.Result(); ok && r.NMK == modemNMK {
						st = homeplug.LinkUp
					}
					toEVSE = append(toEVSE, encode(evseMAC, modemMAC, &homeplug.PlLnkStatusCnf{LinkStatus: st}))
				}
			default:
				return
			}
		}
	}
	// deliver gives the matcher one frame and waits until it has dealt with it.
	deliver := func(f []byte) {
		n := clock.Created()
		port.in <- f
		clock.WaitCreated(n, stop)
		fromEVSE()
	}
	for step := 0; ; step++ {
		if step > 1000 {
			t.Fatal("no end")
		}
		select {
		case o := <-done:
			if o.err != nil || o.r.EVMAC != pevMAC || !o.r.LinkUp || !o.r.Keyed {
				t.Fatalf("result %+v, err %v", o.r, o.err)
			}
			pr, _ := pev.Result()
			if pr.NMK != o.r.NMK || modemNMK != o.r.NMK {
				t.Fatal("keys differ")
			}
			if o.r.Timings.LinkUp != 1720*time.Millisecond {
				t.Errorf("link up after %v", o.r.Timings.LinkUp)
			}
			return
		default:
		}
		if len(toEVSE) > 0 {
			f := toEVSE[0]
			toEVSE = toEVSE[1:]
			deliver(f)
			continue
		}
		next, ok := clock.Next()
		if dl, has := pev.Deadline(); has && (!ok || dl.Before(next)) {
			next, ok = dl, true
		}
		if !ok {
			t.Fatal("nothing left to happen")
		}
		if tn, ok := clock.Next(); ok && !tn.After(next) {
			n := clock.Created()
			clock.Set(next)
			clock.WaitCreated(n, stop)
			fromEVSE()
		} else {
			clock.Set(next)
		}
		if dl, has := pev.Deadline(); has && !dl.After(clock.Now()) {
			for _, o := range pev.Tick(clock.Now()) {
				toEVSE = append(toEVSE, slices.Clone(o))
			}
		}
	}
}

// TestRunCancel: Run ends when ctx ends, after its reader has returned.
func TestRunCancel(t *testing.T) {
	clock := clock.NewFake(t0)
	port := newChanPort()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- slac.Run(ctx, port, clock, slac.NewMatcher(slac.Config{MAC: evseMAC}, t0)) }()
	clock.WaitCreated(0, nil)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v", err)
	}
	select {
	case <-port.readExit:
	default:
		t.Fatal("Run returned before its reader")
	}
	if n := clock.Pending(); n != 0 {
		t.Fatalf("%d timers left", n)
	}
}

// TestMatchEVSENoCar: no car within TT_EVSE_SLAC_init gives ErrNoCar.
func TestMatchEVSENoCar(t *testing.T) {
	clock := clock.NewFake(t0)
	errc := make(chan error, 1)
	go func() {
		_, err := slac.MatchEVSE(context.Background(), newChanPort(), clock, slac.Config{MAC: evseMAC})
		errc <- err
	}()
	clock.WaitCreated(0, nil)
	clock.Advance(slac.TTEVSESLACInit)
	if err := <-errc; !errors.Is(err, slac.ErrNoCar) {
		t.Fatalf("err %v", err)
	}
}
