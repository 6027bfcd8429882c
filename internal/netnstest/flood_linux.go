//go:build linux

package netnstest

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// startFlood sends perTick frames every 10 ms.
func startFlood(t testing.TB, n *Namespace, f *Flood, frames [][]byte, perTick int) {
	t.Helper()
	var fd int
	n.Do(t, func() {
		var err error
		if fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0); err != nil {
			t.Fatalf("netnstest: raw socket in %s: %v", n.Name, err)
		}
	})
	var to unix.SockaddrLinklayer
	to.Ifindex, to.Halen = n.Index, 6
	go func() {
		defer close(f.done)
		defer unix.Close(fd)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-f.stop:
				return
			case <-tick.C:
			}
			for range perTick {
				fr := frames[f.Sent.Load()%int64(len(frames))]
				copy(to.Addr[:], fr[:6])
				if unix.Sendto(fd, fr, 0, &to) == nil {
					f.Sent.Add(1)
				}
			}
		}
	}()
}
