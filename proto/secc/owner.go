package secc

import (
	"context"
	"log/slog"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/ccslink/ccslink/internal/ratelog"
)

// Verdict says whose a V2G connection is.
type Verdict uint8

// Verdicts.
const (
	// Pending: not known yet, as before the car's match.
	Pending Verdict = iota
	// Car: the plug-in's car, the one SLAC matched.
	Car
	// Stranger: anyone else on the link.
	Stranger
)

// Owner tells a Server which connections belong to the plug-in's car; the
// charger knows, from SLAC (the car's MAC) and SDP (where the car asked).
type Owner interface {
	// Verdict says whose a connection from addr (link-local, no zone) is.
	Verdict(addr netip.Addr) Verdict
	// Changed returns a channel closed when verdicts may have changed.
	Changed() <-chan struct{}
}

// AdmitWait bounds how long a connection waits while its Verdict is
// Pending: the car's own connection can come a moment before the charger
// has heard of its match, and the car waits 2 s for its first answer.
const AdmitWait = 2 * time.Second

// DefaultMaxConns bounds the connections open at once (a car uses one, two
// while it reconnects): beyond it a new one is closed at once, so that no
// one can exhaust goroutines or memory by connecting.
const DefaultMaxConns = 8

// refusalLogEvery spaces the log lines about refused connections; the
// others are counted in the next line.
const refusalLogEvery = 10 * time.Second

// admit waits for the verdict on a connection from addr; it returns "" for
// the car's, or why the connection is refused.
func (s *Server) admit(ctx context.Context, addr netip.Addr) string {
	o := s.cfg.Owner
	if o == nil {
		return ""
	}
	var t *time.Timer
	for {
		changed := o.Changed() // before the verdict: no change is missed
		switch o.Verdict(addr) {
		case Car:
			return ""
		case Stranger:
			return "not the car that matched"
		}
		if t == nil {
			t = time.NewTimer(AdmitWait)
			defer t.Stop()
		}
		select {
		case <-changed:
		case <-t.C:
			return "no car matched within " + AdmitWait.String() + " of the connection"
		case <-ctx.Done():
			return "the charger stopped"
		}
	}
}

// refusals counts refused connections and logs them, one line per
// refusalLogEvery at most.
type refusals struct {
	total atomic.Uint64
	lines *ratelog.Limiter
}

func (r *refusals) log(log *slog.Logger, from netip.Addr, why string) {
	r.total.Add(1)
	ok, held := r.lines.Allow("refused")
	if !ok {
		return
	}
	log.Warn("refused a V2G connection; the car's session is not affected", "from", from, "why", why, "refused_since_last_line", held)
}

// Refused returns how many connections the server closed at once: a
// stranger's, or over the bound of connections open at once.
func (s *Server) Refused() uint64 { return s.refused.total.Load() }
