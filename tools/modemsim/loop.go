package modemsim

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync"

	"github.com/ccslink/ccslink/proto/link"
)

// eventLoop is the one goroutine of a Line or an Emulator that makes every
// decision: it takes the frames its readers hand over and runs the delayed
// jobs of its scheduler, one at a time under mu, so every frame and job is
// seen in one order.
type eventLoop[F any] struct {
	ctx   context.Context
	mu    *sync.Mutex
	sched *scheduler
	in    chan F
	// handle decides about one frame; it runs with mu held.
	handle func(F)
	// after, if set, runs with mu held after each frame and each round of jobs.
	after func()
}

func newEventLoop[F any](ctx context.Context, mu *sync.Mutex, sched *scheduler, handle func(F), after func()) eventLoop[F] {
	return eventLoop[F]{ctx: ctx, mu: mu, sched: sched, in: make(chan F), handle: handle, after: after}
}

// run is the loop; it returns when ctx ends, and no job runs after that.
func (l *eventLoop[F]) run() {
	defer func() {
		l.mu.Lock()
		l.sched.stop()
		l.mu.Unlock()
	}()
	for {
		l.mu.Lock()
		fire := l.sched.C()
		l.mu.Unlock()
		select {
		case <-l.ctx.Done():
			return
		case f := <-l.in:
			l.mu.Lock()
			l.handle(f)
			l.done()
			l.mu.Unlock()
		case <-fire:
			l.mu.Lock()
			l.sched.fire()
			l.done()
			l.mu.Unlock()
		}
	}
}

func (l *eventLoop[F]) done() {
	if l.after != nil {
		l.after()
	}
}

// read hands the frames of c, made into an F by wrap, to the loop until ctx
// ends or c fails. With retry only a closed c ends it: a raw socket's
// transient errors leave the wire there.
func (l *eventLoop[F]) read(c link.Conn, retry bool, wrap func(frame []byte) F) {
	buf := make([]byte, link.MaxFrameSize)
	for {
		n, err := c.ReadFrame(l.ctx, buf)
		if err != nil {
			if !retry || l.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		select {
		case l.in <- wrap(slices.Clone(buf[:n])):
		case <-l.ctx.Done():
			return
		}
	}
}
