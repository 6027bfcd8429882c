package charger

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ccslink/ccslink/clock"
	"github.com/ccslink/ccslink/record"
	"github.com/ccslink/ccslink/slac"
)

// failingSLAC fails its first Match as a vanished interface does, and
// blocks in the next ones, which it counts.
type failingSLAC struct {
	calls chan struct{}
	once  sync.Once
}

func (f *failingSLAC) Match(ctx context.Context) (slac.Result, error) {
	f.calls <- struct{}{}
	var err error
	f.once.Do(func() { err = &slac.PortError{Op: "receive", Err: syscall.ENETDOWN} })
	if err != nil {
		return slac.Result{}, err
	}
	<-ctx.Done()
	return slac.Result{}, ctx.Err()
}
func (f *failingSLAC) Watch(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
func (f *failingSLAC) LinkEvidence()                   {}
func (f *failingSLAC) V2GConnection(bool)              {}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestPortErrorLog: a HomePlug port that fails is logged when SLAC tries
// again after PortRetry, and not at all when the daemon stops the charger
// first because the interface went away (it says so itself).
func TestPortErrorLog(t *testing.T) {
	for _, stopFirst := range []bool{true, false} {
		sdpConn, err := net.ListenPacket("udp6", "[::1]:0")
		if err != nil {
			t.Skipf("no IPv6 loopback: %v", err)
		}
		defer sdpConn.Close()
		ln, err := net.Listen("tcp6", "[::1]:0")
		if err != nil {
			t.Fatal(err)
		}
		var logs lockedBuffer
		fake := clock.NewFake(time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC))
		f := &failingSLAC{calls: make(chan struct{}, 2)}
		ch, err := New(Config{SLAC: f, SDP: sdpConn, V2G: ln, Clock: fake, Log: slog.New(slog.NewTextHandler(&logs, nil)),
			Announce: netip.AddrPortFrom(netip.IPv6Loopback(), uint16(ln.Addr().(*net.TCPAddr).Port))})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancelCause(context.Background())
		done := make(chan error, 1)
		go func() { done <- ch.Run(ctx) }()
		<-f.calls
		fake.WaitCreated(0, nil) // the pause before SLAC tries again
		if stopFirst {
			cancel(&Stop{End: record.EndIfaceLost})
		} else {
			fake.Advance(PortRetry)
			<-f.calls // tried again: the error was logged before
			cancel(nil)
		}
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
		const want = `level=ERROR msg="cannot use the modem's interface; retrying" err="slac: cannot receive on the HomePlug interface: network is down (is the interface up?)" after=1s`
		if got := strings.Contains(logs.String(), want); got == stopFirst {
			t.Errorf("stopped first %v: the log\n%s", stopFirst, logs.String())
		}
	}
}
