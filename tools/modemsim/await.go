package modemsim

import (
	"context"
	"time"
)

// awaitPoll is how often AwaitLink looks: the modems raise no event when
// their link comes up, and a car's host waits for it only once per plug-in.
const awaitPoll = 5 * time.Millisecond

// AwaitLink waits until m (a Modem or an Emulator) has joined its peer's
// network, as a car's host waits for its modem before it talks IP; it
// returns ctx's error if ctx ends first.
func AwaitLink(ctx context.Context, m interface{ LinkUp() bool }) error {
	tick := time.NewTicker(awaitPoll)
	defer tick.Stop()
	for !m.LinkUp() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}
