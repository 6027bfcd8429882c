package charger

import (
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
	"github.com/ccslink/ccslink/internal/testlog"
	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/slac"
	"github.com/ccslink/ccslink/record"
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
		var logs testlog.Buffer
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

// matchedSLAC matches a car with CM_SLAC_MATCH.CNF and then waits for its
// link until the charger stops, as slac.EVSE.Match does.
type matchedSLAC struct{ waiting chan struct{} }

func (m *matchedSLAC) Match(ctx context.Context) (slac.Result, error) {
	close(m.waiting)
	<-ctx.Done()
	return slac.Result{}, &slac.FailureError{Reason: slac.ReasonLinkTimeout, EV: homeplug.MAC{0x04, 0x65, 0x65, 0x00, 0x64, 0xc3}, Err: ctx.Err()}
}
func (m *matchedSLAC) Watch(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
func (m *matchedSLAC) LinkEvidence()                   {}
func (m *matchedSLAC) V2GConnection(bool)              {}

// TestStoppedBeforeLink: a daemon stopped after the car's match but before
// its link still ends a plug-in with that car, which the history keeps.
func TestStoppedBeforeLink(t *testing.T) {
	sdpConn, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer sdpConn.Close()
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	m := &matchedSLAC{waiting: make(chan struct{})}
	ch, err := New(Config{SLAC: m, SDP: sdpConn, V2G: ln, Announce: netip.AddrPortFrom(netip.IPv6Loopback(), uint16(ln.Addr().(*net.TCPAddr).Port))})
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{ended: make(chan *record.Session, 1), v2gEnd: make(chan struct{}, 4)}
	ch.Subscribe(s)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ch.Run(ctx) }()
	<-m.waiting
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	rec := <-s.ended
	if rec.EVMAC != "04:65:65:00:64:c3" || rec.Phases.Matched.IsZero() || rec.End != record.EndStopped {
		t.Fatalf("record: car %q, matched at %v, end %v", rec.EVMAC, rec.Phases.Matched, rec.End)
	}
}
