package slac

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/ccslink/ccslink/clock"
	"github.com/ccslink/ccslink/proto/homeplug"
)

// Port sends and receives the HomePlug frames (ethertype 0x88E1) of one
// interface; the link package's connections satisfy it.
type Port interface {
	// ReadFrame reads one Ethernet frame into buf and returns its length; it
	// returns ctx.Err() soon after ctx is done.
	ReadFrame(ctx context.Context, buf []byte) (int, error)
	// WriteFrame sends one complete Ethernet frame.
	WriteFrame(ctx context.Context, frame []byte) error
}

// Machine is a SLAC state machine that Run drives; Matcher and PEV implement it.
type Machine interface {
	// Handle processes a received frame and returns the frames to send.
	Handle(now time.Time, frame []byte) [][]byte
	// Tick runs the timers due at now and returns the frames to send.
	Tick(now time.Time) [][]byte
	// Deadline returns when Tick is next due; ok is false when no timer runs.
	Deadline() (t time.Time, ok bool)
	// Done reports whether the machine has finished.
	Done() bool
}

// Run drives m with the frames of p and the timers of c until m is done, ctx
// ends, or p fails. It returns nil when m is done (the outcome is m's),
// ctx.Err(), or a *PortError.
func Run(ctx context.Context, p Port, c clock.Clock, m Machine) error {
	return drive(ctx, p, c, m, nil)
}

// loopHooks adds what a long-running EVSE needs to the loop of Run.
type loopHooks struct {
	// evidence and gone are the EVSE's signals; onEvidence handles the first.
	evidence   <-chan struct{}
	onEvidence func(now time.Time)
	gone       <-chan struct{}
	// carry holds a frame read but not handled when a loop ended; the next
	// loop handles it first, so no frame is lost between Match and Watch.
	carry []byte
	// handled counts the frames handled, evidenced the evidence signals, for idle.
	handled, evidenced uint64
	// idle, if set, is called whenever the loop waits: tests learn from it
	// that the frames and signals so far are handled and when the loop wakes next.
	idle func(handled, evidenced uint64, next time.Time, ok bool)
}

// errGone ends a loop when the EVSE's CarGone is called.
var errGone = errors.New("slac: car gone")

func drive(ctx context.Context, p Port, c clock.Clock, m Machine, h *loopHooks) error {
	if h == nil {
		h = &loopHooks{}
	}
	ctx, cancel := context.WithCancel(ctx)
	type read struct {
		frame []byte
		err   error
	}
	frames := make(chan read)
	// Buffered: the reader may have left on ctx.Done when the loop hands back.
	processed := make(chan struct{}, 1)
	readerDone := make(chan struct{})
	var left []byte // a frame the reader could not hand over
	go func() {
		defer close(readerDone)
		buf := make([]byte, homeplug.MaxFrameLen)
		for {
			n, err := p.ReadFrame(ctx, buf)
			select {
			case frames <- read{buf[:n], err}:
			case <-ctx.Done():
				if err == nil {
					left = slices.Clone(buf[:n])
				}
				return
			}
			if err != nil {
				return
			}
			// The loop hands buf back before the next read overwrites it.
			select {
			case <-processed:
			case <-ctx.Done():
				return
			}
		}
	}()
	defer func() {
		cancel()
		<-readerDone
		h.carry = left
	}()

	send := func(out [][]byte) error {
		for _, f := range out {
			if err := p.WriteFrame(ctx, f); err != nil {
				return portError(ctx, "send", err)
			}
		}
		return nil
	}
	if len(h.carry) > 0 {
		out := m.Handle(c.Now(), h.carry)
		h.carry = h.carry[:0]
		h.handled++
		if err := send(out); err != nil {
			return err
		}
	}
	for !m.Done() {
		now := c.Now()
		deadline, ok := m.Deadline()
		if ok && !deadline.After(now) {
			if err := send(m.Tick(now)); err != nil {
				return err
			}
			continue
		}
		var timer clock.Timer
		var fire <-chan time.Time
		if ok {
			timer = c.NewTimer(deadline.Sub(now))
			fire = timer.C()
		}
		if h.idle != nil {
			h.idle(h.handled, h.evidenced, deadline, ok)
		}
		var out [][]byte
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return ctx.Err()
		case <-h.gone:
			if timer != nil {
				timer.Stop()
			}
			return errGone
		case <-h.evidence:
			if timer != nil {
				timer.Stop()
			}
			h.onEvidence(c.Now())
			h.evidenced++
			continue
		case r := <-frames:
			if timer != nil {
				timer.Stop()
			}
			if r.err != nil {
				return portError(ctx, "receive", r.err)
			}
			out = m.Handle(c.Now(), r.frame)
			h.handled++
			processed <- struct{}{}
		case <-fire:
			out = m.Tick(c.Now())
		}
		if err := send(out); err != nil {
			return err
		}
	}
	return nil
}

// MatchEVSE runs an EVSE matcher on p until a car has matched and joined,
// no car came within TT_EVSE_SLAC_init, TT_match_join passed, or ctx ends;
// after a car's failed attempt it waits for the car to retry, so ctx should
// carry a deadline. Failures are *FailureError: when ctx ends, it names the
// last failed attempt (ErrNoMatch) or that no car came (ErrNoCar), with
// ctx.Err() as its Err.
func MatchEVSE(ctx context.Context, p Port, c clock.Clock, cfg Config) (Result, error) {
	m := NewMatcher(cfg, c.Now())
	r, err := runMachine(ctx, p, c, m, m.interrupted)
	if err == nil {
		err = m.Err()
	}
	return r, err
}

// portError returns the context's error when the port failed because ctx
// ended (a socket deadline may expire a moment before the context's own
// timer), and a *PortError otherwise.
func portError(ctx context.Context, op string, err error) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, context.DeadlineExceeded):
		return context.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		return context.Canceled
	}
	return &PortError{Op: op, Err: err}
}

// machine is a Machine that reports a Result, as Matcher and PEV do.
type machine interface {
	Machine
	Result() (Result, bool)
}

// runMachine runs m and turns the end of ctx into m's own account of it.
func runMachine(ctx context.Context, p Port, c clock.Clock, m machine, interrupted func(time.Time, error) error) (Result, error) {
	err := Run(ctx, p, c, m)
	if err != nil && !errors.As(err, new(*PortError)) {
		err = interrupted(c.Now(), err)
	}
	r, _ := m.Result()
	return r, err
}

// MatchPEV runs the car's side on p until it has matched and keyed its
// modem, or failed; failures are *FailureError, with ctx.Err() as Err when
// ctx ended the matching.
func MatchPEV(ctx context.Context, p Port, c clock.Clock, cfg PEVConfig) (Result, error) {
	m := NewPEV(cfg, c.Now())
	r, err := runMachine(ctx, p, c, m, m.interrupted)
	if err == nil {
		err = m.Err()
	}
	return r, err
}
