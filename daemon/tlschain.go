package daemon

import (
	"context"
	"time"

	"github.com/ccslink/ccslink/proto/v2gpki"
)

// ChainCheckEvery is how often the daemon looks at its TLS chains'
// expiry; it looks at once, too, when a chain crosses
// v2gpki.ExpiryWarning or expires.
const ChainCheckEvery = 12 * time.Hour

// watchChains checks when the chains V2G over TLS is served with expire:
// now, then every ChainCheckEvery on the daemon's clock until Close. For
// each chain it warns within v2gpki.ExpiryWarning of its first
// certificate's end, naming it (and so its directory) and what to do, and
// logs an error once it is over: Load checks a chain only at start, and a
// charger runs for months.
func (d *Daemon) watchChains(chains []*v2gpki.Chain) {
	es := make([]v2gpki.Expiry, len(chains))
	for i, c := range chains {
		es[i] = c.FirstExpiry()
	}
	clk := d.clock()
	check := func() time.Time {
		now := clk.Now()
		for _, e := range es {
			switch e.State(now) {
			case v2gpki.ExpiresSoon:
				d.log.Warn(e.Message(now))
			case v2gpki.Expired:
				d.log.Error(e.Message(now))
			}
		}
		return now
	}
	now := check() // before the daemon serves: the first line an owner reads
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	d.closers = append(d.closers, func() { cancel(); <-done })
	go func() {
		defer close(done)
		for {
			wait := ChainCheckEvery
			for _, e := range es {
				if next := e.Next(now); !next.IsZero() && next.Sub(now) < wait {
					wait = next.Sub(now)
				}
			}
			t := clk.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C():
			}
			now = check()
		}
	}()
}

// firstNotAfter is when the first certificate of any of chains expires.
func firstNotAfter(chains []*v2gpki.Chain) time.Time {
	first := chains[0].NotAfter()
	for _, c := range chains[1:] {
		if c.NotAfter().Before(first) {
			first = c.NotAfter()
		}
	}
	return first
}
