package daemon

import (
	"context"
	"time"

	"github.com/ccslink/ccslink/proto/v2gpki"
)

// ChainCheckEvery is how often the daemon looks at its TLS chain's
// expiry; it looks at once, too, when the chain crosses
// v2gpki.ExpiryWarning or expires.
const ChainCheckEvery = 12 * time.Hour

// watchChain checks when the chain V2G over TLS is served with expires:
// now, then every ChainCheckEvery on the daemon's clock until Close. It
// warns within v2gpki.ExpiryWarning of the first certificate's end, naming
// it and what to do, and logs an error once it is over: Load checks the
// chain only at start, and a charger runs for months.
func (d *Daemon) watchChain(c *v2gpki.Chain) {
	e := c.FirstExpiry()
	clk := d.clock()
	check := func() time.Time {
		now := clk.Now()
		switch e.State(now) {
		case v2gpki.ExpiresSoon:
			d.log.Warn(e.Message(now))
		case v2gpki.Expired:
			d.log.Error(e.Message(now))
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
			if next := e.Next(now); !next.IsZero() && next.Sub(now) < wait {
				wait = next.Sub(now)
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
