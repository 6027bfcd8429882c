package slac_test

import (
	"context"
	"errors"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccslink/ccslink/clock"
	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/link"
	"github.com/ccslink/ccslink/proto/slac"
	"github.com/ccslink/ccslink/tools/modemsim"
)

// station is a charger's EVSE and a car's PEV on a modemsim line with a
// fake clock. The EVSE runs in its own goroutine as in a daemon; the test
// plays the car frame by frame and moves the clock only when the line, the
// car and the EVSE have all caught up, so nothing depends on real time.
type station struct {
	t    *testing.T
	clk  *clock.Fake
	line *modemsim.Line
	cm   *modemsim.Modem // the charger's modem
	vm   *modemsim.Modem // the car's modem
	evse *slac.EVSE

	mu      sync.Mutex
	changed chan struct{} // closed and replaced when the EVSE waits again
	handled uint64
	// evidenced counts the evidence signals the EVSE has handled, told
	// those the test gave it (tell).
	evidenced, told uint64
	next            time.Time
	hasNext         bool
	waits           int // how often the EVSE has waited
	started         int // waits when the running call started

	car     *slac.PEV
	carRead uint64
	mute    atomic.Bool // the charger's link-status polls are lost
	noLink  atomic.Bool // the charger's modem answers every poll with "no link"
}

// mutePort loses the charger's VS_PL_LNK_STATUS.REQ while its station is
// muted, and turns the modem's answers into "no link" while noLink is set.
type mutePort struct {
	slac.Port
	s *station
}

func (p mutePort) ReadFrame(ctx context.Context, buf []byte) (int, error) {
	n, err := p.Port.ReadFrame(ctx, buf)
	if err == nil && p.s.noLink.Load() {
		if h, _, herr := homeplug.DecodeHeader(buf[:n]); herr == nil && h.MMType == homeplug.VSPlLnkStatusCnf {
			buf[21] = homeplug.LinkDown // after the vendor header (20 bytes) and MSTATUS
		}
	}
	return n, err
}

func (p mutePort) WriteFrame(ctx context.Context, f []byte) error {
	if h, _, err := homeplug.DecodeHeader(f); err == nil && h.MMType == homeplug.VSPlLnkStatusReq && p.s.mute.Load() {
		return nil
	}
	return p.Port.WriteFrame(ctx, f)
}

func newStation(t *testing.T, cfg slac.Config) *station {
	s := &station{t: t, clk: clock.NewFake(t0), changed: make(chan struct{})}
	s.line = modemsim.NewLine(context.Background(), modemsim.LineConfig{Clock: s.clk})
	t.Cleanup(func() { s.line.Close() })
	var err error
	if s.cm, err = s.line.AddModem(modemsim.ModemConfig{Name: "charger", EVSE: true}); err != nil {
		t.Fatal(err)
	}
	if s.vm, err = s.line.AddModem(modemsim.ModemConfig{Name: "car"}); err != nil {
		t.Fatal(err)
	}
	cfg.MAC = s.cm.HostMAC()
	s.evse = slac.NewEVSE(mutePort{s.cm.Host(), s}, s.clk, cfg)
	slac.SetIdle(s.evse, func(handled, evidenced uint64, next time.Time, ok bool) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.handled, s.evidenced, s.next, s.hasNext = handled, evidenced, next, ok
		s.waits++
		close(s.changed)
		s.changed = make(chan struct{})
	})
	return s
}

// tell gives the running Match or Watch evidence of the car's traffic
// (LinkEvidence, V2GConnection) and waits until it has handled it at the
// clock's time now.
func (s *station) tell(signal func()) {
	s.mu.Lock()
	s.told = s.evidenced + 1
	s.mu.Unlock()
	signal()
	for {
		s.mu.Lock()
		ok, ch := s.evidenced >= s.told, s.changed
		s.mu.Unlock()
		if ok {
			return
		}
		<-ch
	}
}

// plugIn puts a car with a fresh RunID on the cable; it starts matching at once.
func (s *station) plugIn(run byte) {
	s.vm.Plug()
	s.car = slac.NewPEV(slac.PEVConfig{MAC: s.vm.HostMAC(), RunID: homeplug.RunID{run, run}}, s.clk.Now())
}

// caughtUp waits until the EVSE has handled every frame the line gave it and
// has no timer due, or until done is closed (its call returned).
func (s *station) caughtUp(done <-chan struct{}) {
	for {
		if err := s.line.Settle(context.Background()); err != nil {
			s.t.Fatal(err)
		}
		s.mu.Lock()
		idle := s.waits > s.started && s.handled >= s.cm.Host().Stats().Received && (!s.hasNext || s.next.After(s.clk.Now()))
		ch := s.changed
		s.mu.Unlock()
		if idle {
			return
		}
		select {
		case <-ch:
		case <-done:
			return
		}
	}
}

// advance plays the car and moves the clock until done is closed (true)
// or d of fake time has passed (false).
func (s *station) advance(done <-chan struct{}, d time.Duration) bool {
	return s.advanceUntil(done, nil, d)
}

// advanceUntil is advance that also stops, reporting false, once stop
// reports true with everything caught up.
func (s *station) advanceUntil(done <-chan struct{}, stop func() bool, d time.Duration) bool {
	s.t.Helper()
	end := s.clk.Now().Add(d)
	for {
		select {
		case <-done:
			return true
		default:
		}
		s.caughtUp(done)
		if s.step() {
			continue
		}
		if stop != nil && stop() {
			return false
		}
		select {
		case <-done: // caughtUp returned for it: time must not move on
			return true
		default:
		}
		next, ok := s.clk.Next()
		if s.car != nil {
			if dl, has := s.car.Deadline(); has && !s.car.Done() && (!ok || dl.Before(next)) {
				next, ok = dl, true
			}
		}
		if !ok || next.After(end) {
			s.clk.Set(end)
			s.caughtUp(done)
			select {
			case <-done:
				return true
			default:
				return false
			}
		}
		s.clk.Set(next)
	}
}

// run is advance that must end with done.
func (s *station) run(done <-chan struct{}, limit time.Duration) {
	s.t.Helper()
	if !s.advance(done, limit) {
		s.t.Fatalf("nothing ended within %v", limit)
	}
}

// step hands the car the frames its modem received and runs its timers; it
// reports whether the car sent anything.
func (s *station) step() bool {
	p := s.vm.Host()
	now := s.clk.Now()
	moved := false
	for p.Stats().Received > s.carRead {
		f := readFrame(s.t, p)
		s.carRead++
		if s.car != nil && !s.car.Done() {
			moved = s.write(s.car.Handle(now, f)) || moved
		}
	}
	if s.car != nil && !s.car.Done() {
		if dl, ok := s.car.Deadline(); ok && !dl.After(now) {
			moved = s.write(s.car.Tick(now)) || moved
		}
	}
	return moved
}

func (s *station) write(out [][]byte) bool {
	for _, f := range out {
		if err := s.vm.Host().WriteFrame(context.Background(), f); err != nil {
			s.t.Fatal(err)
		}
	}
	return len(out) > 0
}

func readFrame(t *testing.T, p *link.Port) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	buf := make([]byte, link.MaxFrameSize)
	n, err := p.ReadFrame(ctx, buf)
	if err != nil {
		t.Fatal(err)
	}
	return buf[:n]
}

type matchOutcome struct {
	r   slac.Result
	err error
}

// begin makes caughtUp wait for the new call's own first wait.
func (s *station) begin() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.started = s.waits
}

// match runs Match in a goroutine as a daemon would.
func (s *station) match(ctx context.Context) (<-chan struct{}, *matchOutcome) {
	s.begin()
	done := make(chan struct{})
	o := new(matchOutcome)
	go func() {
		defer close(done)
		o.r, o.err = s.evse.Match(ctx)
	}()
	return done, o
}

func (s *station) watch(ctx context.Context) (<-chan struct{}, *error) {
	s.begin()
	done := make(chan struct{})
	err := new(error)
	go func() {
		defer close(done)
		*err = s.evse.Watch(ctx)
	}()
	return done, err
}

// settleGoroutines gives goroutines that are ending (past their last
// statement, as Run's reader is when Run returns) the moment they need to
// be gone, and returns how many are left; a leak keeps the count up.
func settleGoroutines(want int) int {
	n := runtime.NumGoroutine()
	for limit := time.Now().Add(5 * time.Second); n > want && time.Now().Before(limit); n = runtime.NumGoroutine() {
		runtime.Gosched()
	}
	return n
}

// TestEVSEPlugIns runs one EVSE through four plug-ins in a row: each car
// matches with a fresh key, its link is watched until it goes (the modem
// unplugged, or the control pilot back to A), and no goroutine is left over.
func TestEVSEPlugIns(t *testing.T) {
	s := newStation(t, slac.Config{})
	base := runtime.NumGoroutine()
	ctx := context.Background()
	var keys []homeplug.NMK
	for i := range 4 {
		done, o := s.match(ctx)
		// The charger keys its modem; the car comes when the restart is over.
		if s.advance(done, 2*time.Second) {
			t.Fatalf("plug-in %d: Match returned without a car: %v", i, o.err)
		}
		s.plugIn(byte(i + 1))
		s.run(done, 30*time.Second)
		<-done
		if o.err != nil {
			t.Fatalf("plug-in %d: %v", i, o.err)
		}
		if o.r.EVMAC != s.vm.HostMAC() || !o.r.LinkUp || !o.r.Keyed || o.r.RunID != (homeplug.RunID{byte(i + 1), byte(i + 1)}) {
			t.Fatalf("plug-in %d: %+v", i, o.r)
		}
		if r, ok := s.car.Result(); !ok || r.NMK != o.r.NMK {
			t.Fatalf("plug-in %d: the car holds another key (%v)", i, s.car.Err())
		}
		for _, k := range keys {
			if k == o.r.NMK {
				t.Fatalf("plug-in %d reuses a key", i)
			}
		}
		keys = append(keys, o.r.NMK)
		if !s.vm.LinkUp() {
			t.Fatalf("plug-in %d: the car's modem has no link", i)
		}

		wdone, werr := s.watch(ctx)
		// The link holds: Watch keeps polling (every second) and stays.
		if s.advance(wdone, 5*time.Second) {
			t.Fatalf("plug-in %d: Watch ended with the link up: %v", i, *werr)
		}
		unplugged := s.clk.Now()
		want, reason := slac.ErrLinkLost, slac.ReasonLinkLost
		if i%2 == 0 {
			s.vm.Unplug() // the modem notices: the next poll says no link
			s.run(wdone, 5*time.Second)
		} else {
			want, reason = slac.ErrCarGone, slac.ReasonCarGone
			s.evse.CarGone() // no time passes
		}
		<-wdone
		var f *slac.FailureError
		if !errors.Is(*werr, want) || !errors.As(*werr, &f) || f.Reason != reason || f.EV != s.vm.HostMAC() {
			t.Fatalf("plug-in %d: Watch: %v", i, *werr)
		}
		// The next poll says no link, and the one ConfirmPoll after it too;
		// the car has been silent since the watch began.
		if reason == slac.ReasonLinkLost && f.At.Sub(unplugged) > slac.DefaultWatchPoll+slac.ConfirmPoll {
			t.Errorf("plug-in %d: link loss noticed after %v", i, f.At.Sub(unplugged))
		}
		if reason == slac.ReasonCarGone && !f.At.Equal(unplugged) {
			t.Errorf("plug-in %d: unplug noticed at %v, not %v", i, f.At, unplugged)
		}
		s.vm.Unplug()
		s.car = nil
		if n := settleGoroutines(base); n > base {
			buf := make([]byte, 1<<16)
			t.Fatalf("plug-in %d: %d goroutines, %d before\n%s", i, n, base, buf[:runtime.Stack(buf, true)])
		}
	}
}

// TestEVSEUnplugDuringMatch: the car is pulled while it sounds; Match ends
// with ErrCarGone at once, and the next Match serves the next car.
func TestEVSEUnplugDuringMatch(t *testing.T) {
	s := newStation(t, slac.Config{})
	base := runtime.NumGoroutine()
	ctx := context.Background()
	done, o := s.match(ctx)
	s.advance(done, 2*time.Second)
	s.plugIn(1)
	sounding := func() bool { return s.line.Stats().Injected >= 3 } // the charger's modem measured sounds
	if s.advanceUntil(done, sounding, 5*time.Second) || !sounding() {
		t.Fatalf("no sounds: %v", o.err)
	}
	at := s.clk.Now()
	s.vm.Unplug()
	s.evse.CarGone()
	<-done
	var f *slac.FailureError
	if !errors.Is(o.err, slac.ErrCarGone) || !errors.As(o.err, &f) || f.Reason != slac.ReasonCarGone || !f.At.Equal(at) || errors.Is(o.err, slac.ErrNoMatch) {
		t.Fatalf("Match: %v", o.err)
	}
	if n := settleGoroutines(base); n > base {
		t.Fatalf("%d goroutines, %d before", n, base)
	}
	// A stale CarGone does not end the next plug-in's Match.
	s.evse.CarGone()
	done, o = s.match(ctx)
	s.advance(done, 2*time.Second)
	s.plugIn(2)
	s.run(done, 30*time.Second)
	<-done
	if o.err != nil || o.r.RunID != (homeplug.RunID{2, 2}) || !o.r.LinkUp {
		t.Fatalf("next Match: %+v, %v", o.r, o.err)
	}
}

// TestEVSELinkEvidence: with the modem's polls far apart, the car's first
// IPv6 frame (LinkEvidence) is what ends Match.
func TestEVSELinkEvidence(t *testing.T) {
	s := newStation(t, slac.Config{LinkPoll: 5 * time.Second})
	done, o := s.match(context.Background())
	s.advance(done, 2*time.Second)
	s.plugIn(1)
	if s.advanceUntil(done, s.car.Done, 10*time.Second) {
		t.Fatalf("Match returned before the evidence: %+v %v", o.r, o.err)
	}
	matched := s.clk.Now()
	s.evse.LinkEvidence()
	<-done
	if o.err != nil || !o.r.LinkUp || o.r.Timings.Start.Add(o.r.Timings.LinkUp) != matched {
		t.Fatalf("Match: %+v, %v", o.r, o.err)
	}
	// The evidence came before the modem's own status (its restart after
	// CM_SET_KEY): Watch waits for the modem to report the link, then holds.
	wdone, werr := s.watch(context.Background())
	if s.advance(wdone, 5*time.Second) {
		t.Fatalf("Watch ended before the modem reported the link: %v", *werr)
	}
	s.vm.Unplug()
	s.run(wdone, 5*time.Second)
	<-wdone
	if !errors.Is(*werr, slac.ErrLinkLost) {
		t.Fatalf("Watch after unplug: %v", *werr)
	}
}

// TestEVSEWatchEnds: Watch without a match fails at once; with one, it ends
// with ctx, and with a modem that stops answering once the car has been
// silent for DefaultSilence (it ended 3 s after the modem's last answer
// before presence counted the car's own traffic).
func TestEVSEWatchEnds(t *testing.T) {
	s := newStation(t, slac.Config{})
	if err := s.evse.Watch(context.Background()); !errors.Is(err, slac.ErrLinkLost) {
		t.Fatalf("Watch before Match: %v", err)
	}
	done, o := s.match(context.Background())
	s.advance(done, 2*time.Second)
	s.plugIn(1)
	s.run(done, 30*time.Second)
	<-done
	if o.err != nil {
		t.Fatal(o.err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	wdone, werr := s.watch(ctx)
	s.advance(wdone, 3*time.Second)
	cancel()
	<-wdone
	if *werr != context.Canceled {
		t.Fatalf("Watch after cancel: %v", *werr)
	}
	// Still matched: Watch again, with a modem that stops answering. Its
	// word stops counting; the car, silent since the watch began, is gone
	// after DefaultSilence.
	wdone, werr = s.watch(context.Background())
	start := s.clk.Now()
	s.advance(wdone, 1500*time.Millisecond) // polls at 0 s and 1 s answered
	s.mute.Store(true)
	s.run(wdone, 2*slac.DefaultSilence)
	var f *slac.FailureError
	if !errors.Is(*werr, slac.ErrLinkLost) || !errors.As(*werr, &f) || f.Reason != slac.ReasonSilent || !f.At.Equal(start.Add(slac.DefaultSilence)) {
		t.Fatalf("Watch with a silent modem: %v at %v, started %v", *werr, f.At, start)
	}
	// Watch needs a match again now.
	if err := s.evse.Watch(context.Background()); !errors.Is(err, slac.ErrLinkLost) {
		t.Fatalf("Watch after the link was lost: %v", err)
	}
}

// TestEVSEPortFails: an interface that goes away ends Match with a *PortError.
func TestEVSEPortFails(t *testing.T) {
	s := newStation(t, slac.Config{})
	done, o := s.match(context.Background())
	s.advance(done, time.Second)
	s.cm.Host().Close()
	<-done
	var perr *slac.PortError
	if !errors.As(o.err, &perr) || !errors.Is(o.err, net.ErrClosed) || errors.Is(o.err, slac.ErrNoCar) {
		t.Fatalf("Match: %v", o.err)
	}
}

// TestEVSEModemNeverReportsLink: a modem that answers "no link" to every
// poll while the car talks. Its SDP request ends Match; Watch keeps the
// plug-in while the car's V2G messages come, and ends it the moment the
// car's connection closes; the next car is matched.
func TestEVSEModemNeverReportsLink(t *testing.T) {
	s := newStation(t, slac.Config{})
	s.noLink.Store(true)
	ctx := context.Background()
	done, o := s.match(ctx)
	s.advance(done, 2*time.Second)
	s.plugIn(1)
	if s.advanceUntil(done, s.car.Done, 10*time.Second) {
		t.Fatalf("Match returned with the modem saying no link: %+v %v", o.r, o.err)
	}
	s.evse.LinkEvidence() // the car's SDP request
	<-done
	if o.err != nil || !o.r.LinkUp {
		t.Fatalf("Match: %+v, %v", o.r, o.err)
	}
	wdone, werr := s.watch(ctx)
	s.tell(func() { s.evse.V2GConnection(true) })
	for range 15 { // 30 s of a session: a request every 2 s
		if s.advance(wdone, 2*time.Second) {
			t.Fatalf("Watch ended while the car talks: %v", *werr)
		}
		s.tell(s.evse.LinkEvidence)
	}
	closed := s.clk.Now()
	s.evse.V2GConnection(false)
	<-wdone
	var f *slac.FailureError
	if !errors.Is(*werr, slac.ErrLinkLost) || !errors.As(*werr, &f) || f.Reason != slac.ReasonClosedNoLink ||
		!f.At.Equal(closed) || f.EV != s.vm.HostMAC() || f.Flaps != 0 {
		t.Fatalf("Watch: %v (%+v), closed at %v", *werr, f, closed)
	}
	s.vm.Unplug()
	s.car = nil

	// The next car, on a modem that tells the truth again.
	s.noLink.Store(false)
	done, o = s.match(ctx)
	s.advance(done, 2*time.Second)
	s.plugIn(2)
	s.run(done, 30*time.Second)
	<-done
	if o.err != nil || o.r.RunID != (homeplug.RunID{2, 2}) || !o.r.LinkUp {
		t.Fatalf("next Match: %+v, %v", o.r, o.err)
	}
}

// TestEVSEWatchSilentCar: the modem reports no link and the car, which
// talked, falls silent: Watch ends DefaultQuiet after its last message.
func TestEVSEWatchSilentCar(t *testing.T) {
	s := newStation(t, slac.Config{})
	done, o := s.match(context.Background())
	s.advance(done, 2*time.Second)
	s.plugIn(1)
	s.run(done, 30*time.Second)
	<-done
	if o.err != nil {
		t.Fatal(o.err)
	}
	s.noLink.Store(true)
	wdone, werr := s.watch(context.Background())
	s.tell(func() { s.evse.V2GConnection(true) })
	s.advance(wdone, 3*time.Second)
	last := s.clk.Now()
	s.tell(s.evse.LinkEvidence)
	s.run(wdone, 30*time.Second)
	var f *slac.FailureError
	if !errors.As(*werr, &f) || f.Reason != slac.ReasonLinkLost || !f.At.Equal(last.Add(slac.DefaultQuiet)) {
		t.Fatalf("Watch: %v at %v, last heard at %v", *werr, f.At, last)
	}
}

// TestEVSELastRequest: LastRequest is zero until a car's first
// CM_SLAC_PARM.REQ, then the time it was answered, and it stays through the
// next Match, which no car asks in.
func TestEVSELastRequest(t *testing.T) {
	s := newStation(t, slac.Config{})
	ctx := context.Background()
	if got := s.evse.LastRequest(); !got.IsZero() {
		t.Fatalf("before any car: %v", got)
	}
	done, o := s.match(ctx)
	if s.advance(done, 2*time.Second) {
		t.Fatalf("Match returned without a car: %v", o.err)
	}
	if got := s.evse.LastRequest(); !got.IsZero() {
		t.Fatalf("keyed, no car yet: %v", got)
	}
	asked := s.clk.Now()
	s.plugIn(1)
	s.run(done, 30*time.Second)
	<-done
	if o.err != nil {
		t.Fatal(o.err)
	}
	if got := s.evse.LastRequest(); !got.Equal(asked) {
		t.Fatalf("LastRequest %v, the car asked at %v", got, asked)
	}
	s.vm.Unplug()
	s.car = nil
	done, o = s.match(ctx)
	s.run(done, time.Minute)
	<-done
	if !errors.Is(o.err, slac.ErrNoCar) {
		t.Fatalf("an empty window: %v", o.err)
	}
	if got := s.evse.LastRequest(); !got.Equal(asked) {
		t.Fatalf("after an empty window: %v, want %v", got, asked)
	}
}
