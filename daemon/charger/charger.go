// Package charger is the daemon's core: one plug-in after another, it keys
// the modem and matches the car (SLAC), answers its SDP request, runs its
// V2G session (SECC) and watches the link until the car is gone, then gets
// ready for the next car. Everything it learns reaches subscribers as
// record events; it never imports an output, and the outputs never import
// it.
package charger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/ccslink/ccslink/clock"
	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/sdp"
	"github.com/ccslink/ccslink/proto/secc"
	"github.com/ccslink/ccslink/proto/slac"
	"github.com/ccslink/ccslink/proto/v2gtp"
	"github.com/ccslink/ccslink/record"
)

// SLAC is the charger's side of SLAC on one interface (slac.EVSE), reused
// for plug-in after plug-in.
type SLAC interface {
	// Match keys the modem with a fresh key and waits for a car to match and join.
	Match(ctx context.Context) (slac.Result, error)
	// Watch blocks after a match until the car's link is lost.
	Watch(ctx context.Context) error
	// LinkEvidence tells SLAC the car is talking over the link (its SDP
	// request, a V2G message): evidence that it is there.
	LinkEvidence()
	// V2GConnection tells SLAC that the car opened a V2G connection, or
	// that its last one closed.
	V2GConnection(open bool)
}

// DefaultSetupTimeout is how long after link-up the car has to open its
// V2G session (V2G_SECC_CommunicationSetup_Performance_Time).
const DefaultSetupTimeout = secc.V2G_SECC_CommunicationSetup_Performance_Time

// Config wires a charger; SLAC, SDP and V2G are required.
type Config struct {
	SLAC SLAC
	// SDP receives the cars' SDP requests (sdp.Listen on the PLC interface).
	SDP net.PacketConn
	// V2G is the SECC's TCP listener; Announce is the address SDP gives the
	// cars for it (the interface's link-local address and the port).
	V2G      net.Listener
	Announce netip.AddrPort
	SECC     secc.Config
	Clock    clock.Clock // nil means clock.Real

	// V2GTLS, if set, is the SECC's TLS listener (a tls.NewListener on the
	// same address): SDP tells its port to a car that asks for TLS, and
	// the same server serves it; a car that asks for none still gets V2G.
	V2GTLS net.Listener

	// SetupTimeout overrides DefaultSetupTimeout.
	SetupTimeout time.Duration
	// Recognise tells which car the plug-in is, at the harvest
	// (record.Session.Harvest), before the capacity fallback and before the
	// subscribers hear of the car's values, or else at the end of a session
	// without a harvest; nil means never, and so does a nil result.
	Recognise func(s *record.Session, at time.Time) *record.Vehicle
	// CapacityFallback gives the battery capacity (Wh) of a car (its
	// record: the car recognised, its EVCCID), for cars that send none by the
	// harvest (record.Session.Harvest); nil means none. The record then says
	// the capacity came from the config, until the car sends one (the
	// record's rule: the newest counts).
	CapacityFallback func(s *record.Session) (wh float64, ok bool)
	// NoCommAfter is slac.init_timeout: how long after a car was plugged
	// in (Plugged) it has to send its first CM_SLAC_PARM.REQ before the
	// plug-in is one of a car that does not talk (record.EndNoComm); zero
	// means slac.TTEVSESLACInit. Without Plugged it is never used: a car
	// is known only by its first SLAC frame then.
	NoCommAfter time.Duration
	// BeforeV2G, if set, is asked once a car matched (the record has its
	// EVMAC) for the plug-in's handover strategy decided before its V2G
	// session by its MAC (record.Strategy*; "" when it is left to the
	// harvest). The daemon decided it at the car's CM_SLAC_MATCH.REQ
	// (slac.Config.IdentifyOnly) and declines its protocols by it
	// (secc.Config.Decline). With record.StrategyNoNegotiation, or a match
	// that was an identification only (slac.Result.IdentifiedOnly), the
	// car's SLAC MAC is its EVCCID, as it holds no SessionSetup.
	BeforeV2G func(s *record.Session) string
	// PlugInsBefore is how many plug-ins the daemon's earlier chargers
	// numbered (on an interface that then went away): this one's number
	// on from there, so a late result never names another plug-in.
	PlugInsBefore uint64
	Log           *slog.Logger
}

// Subscriber receives what happens: every event with the plug-in's record
// after it, and the final record when a plug-in ends. Calls come from the
// charger's one goroutine, in order; a subscriber must not block (hand
// slow work such as HTTP to a goroutine of its own).
type Subscriber interface {
	Event(e record.Event, s *record.Session)
	PlugInEnded(s *record.Session)
}

// Charger runs plug-ins until its context ends.
type Charger struct {
	cfg    Config
	log    *slog.Logger
	server *secc.Server
	sdp    *sdp.Server
	car    *owner // whose SDP requests and V2G connections are the plug-in's car's
	events chan record.Event
	done   chan struct{} // closed when Run has returned: events are dropped then
	seq    uint64        // the last plug-in's number (record.Session.PlugIn)
	// ended keeps copies of the last plug-ins with a car, for an output's
	// result that comes after the car left (a SmartEVSE that was down).
	ended []*record.Session

	mu   sync.Mutex
	subs []Subscriber

	pilot chan pilotReport // Plugged's reports, to the plug-in loop
	// plugged is when the car known by Plugged was plugged in; zero when
	// none is. Owned by the plug-in loop, like noComm, the timer of
	// NoCommAfter from then (nil when none runs): a car may plug in
	// near the end of one SLAC window and be due in the next plug-in.
	plugged time.Time
	noComm  clock.Timer
}

// pilotReport is one report of Plugged.
type pilotReport struct {
	plugged bool
	at      time.Time
}

// requestTimer is a SLAC that tells when a car last sent CM_SLAC_PARM.REQ
// (slac.EVSE.LastRequest).
type requestTimer interface{ LastRequest() time.Time }

// New checks cfg and returns a charger.
func New(cfg Config) (*Charger, error) {
	if cfg.SLAC == nil || cfg.SDP == nil || cfg.V2G == nil {
		return nil, errors.New("charger: SLAC, SDP and V2G are required")
	}
	if !cfg.Announce.IsValid() || cfg.Announce.Port() == 0 {
		return nil, fmt.Errorf("charger: the address to announce in SDP (%v) is not an address and port", cfg.Announce)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.SetupTimeout == 0 {
		cfg.SetupTimeout = DefaultSetupTimeout
	}
	if cfg.NoCommAfter <= 0 {
		cfg.NoCommAfter = slac.TTEVSESLACInit
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.SECC.Log == nil {
		cfg.SECC.Log = cfg.Log
	}
	c := &Charger{cfg: cfg, log: cfg.Log, events: make(chan record.Event, 256), done: make(chan struct{}), pilot: make(chan pilotReport, 8)}
	c.seq = cfg.PlugInsBefore
	c.car = newOwner(cfg.Clock.Now, cfg.Log)
	if cfg.SECC.Owner == nil {
		cfg.SECC.Owner = c.car
	}
	c.server = secc.NewServer(cfg.SECC, c.emit)
	var tlsPort uint16
	if cfg.V2GTLS != nil {
		a, ok := cfg.V2GTLS.Addr().(*net.TCPAddr)
		if !ok || a.Port == 0 {
			return nil, fmt.Errorf("charger: the TLS listener's address %v has no TCP port", cfg.V2GTLS.Addr())
		}
		tlsPort = uint16(a.Port)
	}
	var err error
	c.sdp, err = sdp.NewServer(sdp.ServerConfig{
		Addr: cfg.Announce.Addr(), Port: cfg.Announce.Port(), TLSPort: tlsPort, Log: cfg.Log, Asked: c.car.asked,
		OnRequest: func(from netip.AddrPort, req v2gtp.SDPRequest) {
			if c.car.Verdict(from.Addr().WithZone("")) == secc.Stranger {
				return // answered, but no evidence of the car
			}
			c.cfg.SLAC.LinkEvidence()
			c.emit(record.Event{Kind: record.KindSDP, At: c.cfg.Clock.Now()})
		},
	})
	if err != nil {
		return nil, fmt.Errorf("charger: %w", err)
	}
	return c, nil
}

// subscribers returns the subscribers to call, without holding the lock.
func (c *Charger) subscribers() []Subscriber {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.subs
}

// Subscribe adds s; call it before Run.
func (c *Charger) Subscribe(s Subscriber) {
	c.mu.Lock()
	c.subs = append(c.subs, s)
	c.mu.Unlock()
}

// emit hands an event of the SDP or V2G goroutines to the plug-in loop. It
// blocks only while the loop is busy with an earlier event, never on a subscriber.
func (c *Charger) emit(e record.Event) {
	select {
	case c.events <- e:
	case <-c.done:
	}
}

// Run serves plug-ins until ctx ends; it returns nil then, or the error
// that stopped the SDP or V2G server.
func (c *Charger) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer close(c.done)
	var wg sync.WaitGroup
	failed := make(chan error, 3)
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := c.sdp.Serve(ctx, c.cfg.SDP); err != nil && ctx.Err() == nil {
			failed <- fmt.Errorf("SDP server: %w", err)
		}
	}()
	go func() {
		defer wg.Done()
		if err := c.server.Serve(ctx, c.cfg.V2G); err != nil && ctx.Err() == nil {
			failed <- err
		}
	}()
	if c.cfg.V2GTLS != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.server.Serve(ctx, c.cfg.V2GTLS); err != nil && ctx.Err() == nil {
				failed <- fmt.Errorf("TLS: %w", err)
			}
		}()
	}
	// The servers' goroutines may still emit while they stop.
	defer func() {
		cancel()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		for {
			select {
			case <-c.events:
			case <-done:
				return
			}
		}
	}()
	defer c.stopNoComm()
	for ctx.Err() == nil {
		if err := c.plugIn(ctx, failed); err != nil {
			return err
		}
	}
	return nil
}

type matchResult struct {
	r   slac.Result
	err error
}

// plugIn runs one plug-in from keying the modem to the car leaving.
func (c *Charger) plugIn(ctx context.Context, failed <-chan error) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	c.server.Reset()
	c.car.reset()
	c.seq++
	rec := &record.Session{PlugIn: c.seq}
	c.publish(rec, record.Event{Kind: record.KindSLACStarted, At: c.cfg.Clock.Now()})

	matched := make(chan matchResult, 1)
	match := func() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := c.cfg.SLAC.Match(ctx)
			matched <- matchResult{r, err}
		}()
	}
	match()
	var (
		linkLost <-chan error
		setup    clock.Timer
		setupC   <-chan time.Time
		talking  bool // the car opened a V2G connection
		conns    int  // the V2G connections open now
		// early holds the car's events that arrived before Match returned
		// (its SDP request is the evidence that ends Match), so that
		// subscribers hear of the match first.
		early []record.Event
	)
	defer func() {
		if setup != nil {
			setup.Stop()
		}
	}()
	for {
		select {
		case err := <-failed:
			return err
		case <-ctx.Done():
			c.publishAll(rec, early)
			if linkLost == nil {
				// Match returns soon after ctx ends; a car it matched belongs
				// to this plug-in's record.
				m := <-matched
				if m.err != nil {
					return c.noMatch(ctx, rec, m.err)
				}
				c.matched(rec, m.r)
			}
			c.stopped(ctx, rec)
			return nil
		case e := <-c.events:
			// A car may talk before Match returns (its SDP request is the
			// link evidence that ends Match); a previous car's connection
			// was dropped before this plug-in began.
			// The car's traffic is the evidence of its presence (slac.Presence).
			switch e.Kind {
			case record.KindConnected:
				talking = true
				conns++
				c.cfg.SLAC.V2GConnection(true)
			case record.KindEnded:
				if conns > 0 {
					if conns--; conns == 0 {
						c.cfg.SLAC.V2GConnection(false)
					}
				}
			case record.KindHandshake, record.KindRequest, record.KindSessionSetup, record.KindValues:
				c.cfg.SLAC.LinkEvidence()
			}
			// A result naming its plug-in (a delivery, a handover) is never
			// the next car's early traffic: it goes out at once.
			if linkLost == nil && e.PlugIn == 0 && e.Kind != record.KindDelivered && len(early) < maxEarly {
				early = append(early, e)
				continue
			}
			c.publish(rec, e)
		case m := <-matched:
			if m.err != nil && rec.End == record.EndNoComm && !c.plugged.IsZero() && errors.Is(m.err, slac.ErrNoCar) && ctx.Err() == nil {
				// The car that does not talk is still plugged in: its
				// plug-in goes on, SLAC with a fresh key, until it leaves.
				match()
				continue
			}
			if m.err != nil {
				c.publishAll(rec, early)
				return c.noMatch(ctx, rec, m.err)
			}
			c.stopNoComm() // the car talks
			if m.r.IdentifiedOnly {
				c.identified(rec, m.r, early)
				return nil
			}
			c.car.match(m.r)
			c.matched(rec, m.r)
			if c.beforeV2G(rec) == record.StrategyNoNegotiation {
				c.log.Info("the car's protocols will be declined (its handover strategy no-negotiation): it charges on basic AC; its SLAC MAC is its EVCCID", "ev", m.r.EVMAC)
				c.macAsEVCCID(rec, m.r.EVMAC)
			}
			if m.r.LinkUp {
				c.publish(rec, record.Event{Kind: record.KindLinkUp, At: rec.Phases.Matched})
			}
			c.publishAll(rec, early)
			early = nil
			lost := make(chan error, 1)
			linkLost = lost
			wg.Add(1)
			go func() {
				defer wg.Done()
				lost <- c.cfg.SLAC.Watch(ctx)
			}()
			setup = c.cfg.Clock.NewTimer(c.cfg.SetupTimeout)
			setupC = setup.C()
		case <-setupC:
			setupC = nil
			if !talking {
				c.log.Warn("the car matched but never opened a V2G session", "within", c.cfg.SetupTimeout)
				c.publish(rec, record.Event{Kind: record.KindEnded, At: c.cfg.Clock.Now(), End: record.EndNoSession,
					Detail: fmt.Sprintf("no V2G connection within %v of link-up", c.cfg.SetupTimeout)})
			}
		case p := <-c.pilot:
			if c.pilotReport(rec, p, linkLost != nil) {
				c.publishAll(rec, early)
				c.log.Info("the car that did not talk left")
				c.endWith(rec, record.Event{Kind: record.KindEnded, At: c.cfg.Clock.Now(), End: record.EndNoComm, Detail: rec.Detail,
					Gone: "the control pilot went back to state A"})
				return nil
			}
		case <-c.noCommC():
			c.noCommDue(rec, linkLost != nil)
		case err := <-linkLost:
			if ctx.Err() != nil {
				c.stopped(ctx, rec)
				return nil
			}
			c.server.Drop()
			c.drain(rec)
			ev := record.Event{Kind: record.KindEnded, At: c.cfg.Clock.Now(), End: record.EndLinkLost}
			if err != nil {
				ev.Detail, ev.Gone = err.Error(), err.Error()
			}
			// Which evidence ended the plug-in, also when the session's own
			// end is what the record's End keeps.
			var f *slac.FailureError
			if errors.As(err, &f) {
				ev.Gone, ev.LinkFlaps = f.Reason.String(), f.Flaps
			}
			c.endWith(rec, ev)
			return nil
		}
	}
}

// Plugged tells the charger that a car was plugged in and the charger's
// 5 % PWM began at at (plugged), or that the control pilot went back to
// state A (not plugged), by evidence other than SLAC: a SmartEVSE's state
// (GET /settings: evse.state_id 12, MODEM_WAIT, begins; 0, A), or a
// charger that senses the pilot. Report the change, with the time it was
// seen: a report of the same plug-in again is ignored. A car that sends no
// CM_SLAC_PARM.REQ within Config.NoCommAfter of at is then published at
// once as a car that does not talk (record.EndNoComm); its plug-in lasts
// until the pilot's state A. Without these reports a car is known only by
// its first SLAC frame. Safe from any goroutine; it blocks only while the
// plug-in loop is busy with earlier reports.
func (c *Charger) Plugged(plugged bool, at time.Time) {
	select {
	case c.pilot <- pilotReport{plugged, at}:
	case <-c.done:
	}
}

// pilotLag is how much earlier than its report a car's 5 % PWM may have
// begun: a SmartEVSE polled once a second is seen a second or two late,
// and a car may ask at once.
const pilotLag = 2 * time.Second

// pilotReport takes a report of Plugged in the plug-in rec (its car
// matched: matched); it reports whether the car that did not talk left,
// which ends the plug-in.
func (c *Charger) pilotReport(rec *record.Session, p pilotReport, matched bool) bool {
	if p.plugged {
		if !p.at.After(c.plugged) {
			return false
		}
		c.plugged = p.at
		c.stopNoComm()
		c.noComm = c.cfg.Clock.NewTimer(max(p.at.Add(c.cfg.NoCommAfter).Sub(c.cfg.Clock.Now()), 0))
		return false
	}
	if c.plugged.IsZero() {
		return false
	}
	c.plugged = time.Time{}
	c.stopNoComm()
	// A car that matched leaves by slac.Presence's evidence, as without
	// these reports.
	return !matched && rec.End == record.EndNoComm
}

// noCommC is the channel of the running NoCommAfter timer; nil when none runs.
func (c *Charger) noCommC() <-chan time.Time {
	if c.noComm == nil {
		return nil
	}
	return c.noComm.C()
}

func (c *Charger) stopNoComm() {
	if c.noComm != nil {
		c.noComm.Stop()
		c.noComm = nil
	}
}

// noCommDue runs when NoCommAfter has passed since the car was plugged
// in: without a CM_SLAC_PARM.REQ since, the plug-in rec is of a car that
// does not talk, and everyone hears of it now, long before a SmartEVSE
// gives up waiting for its SoC (60 s).
func (c *Charger) noCommDue(rec *record.Session, matched bool) {
	c.noComm = nil
	if matched || c.plugged.IsZero() || rec.End == record.EndNoComm {
		return
	}
	if t, ok := c.cfg.SLAC.(requestTimer); ok {
		if last := t.LastRequest(); !last.IsZero() && !last.Before(c.plugged.Add(-pilotLag)) {
			return // the car started SLAC: a match or its failure will tell
		}
	}
	detail := fmt.Sprintf("the car did not start digital communication within %g s: it will charge on AC without SoC", c.cfg.NoCommAfter.Seconds())
	c.log.Warn(detail, "plugged_in", c.plugged)
	c.publish(rec, record.Event{Kind: record.KindEnded, At: c.cfg.Clock.Now(), End: record.EndNoComm, Detail: detail})
}

// matched publishes that SLAC matched the car r.EVMAC now, and how long the
// matching took (zero when unknown).
func (c *Charger) matched(rec *record.Session, r slac.Result) {
	c.publish(rec, record.Event{Kind: record.KindMatched, At: c.cfg.Clock.Now(), EVMAC: r.EVMAC.String(), Took: r.Timings.MatchCnf})
}

// beforeV2G asks Config.BeforeV2G for the plug-in rec's strategy.
func (c *Charger) beforeV2G(rec *record.Session) string {
	if c.cfg.BeforeV2G == nil {
		return ""
	}
	return c.cfg.BeforeV2G(rec)
}

// macAsEVCCID publishes the car's SLAC MAC as the EVCCID of a car that
// holds no SessionSetup (its 12 hex digits, as other cars' EVCCIDs read).
func (c *Charger) macAsEVCCID(rec *record.Session, mac homeplug.MAC) {
	c.publish(rec, record.Event{Kind: record.KindSessionSetup, At: c.cfg.Clock.Now(), EVCCID: mac[:], From: FromSLAC})
}

// identified ends the plug-in of a car identified by its MAC alone (its
// CM_SLAC_MATCH.REQ left unanswered): its MAC is its EVCCID, and the
// plug-in is over at once; the car falls back to basic AC charging.
func (c *Charger) identified(rec *record.Session, r slac.Result, early []record.Event) {
	c.publish(rec, record.Event{Kind: record.KindMatched, At: c.cfg.Clock.Now(), EVMAC: r.EVMAC.String(), Took: r.Timings.MatchReq,
		Detail: "identified by its MAC alone: its CM_SLAC_MATCH.REQ left unanswered"})
	strategy := c.beforeV2G(rec)
	c.macAsEVCCID(rec, r.EVMAC)
	c.publishAll(rec, early)
	if strategy == "" {
		strategy = record.StrategyIdentifyOnly
	}
	c.log.Info("a car identified by its MAC; no digital session, by its handover strategy", "ev", r.EVMAC, "strategy", strategy)
	c.end(rec, record.EndIdentified, fmt.Sprintf("identified by its MAC %v; no digital session, by the car's handover strategy %s: it charges on basic AC without SoC", r.EVMAC, strategy))
}

// FromSLAC is the source of an EVCCID taken from the car's SLAC MAC.
const FromSLAC = "slac"

// maxEarly bounds the events held before the match: a stranger's SDP flood
// before it is published as it comes.
const maxEarly = 64

func (c *Charger) publishAll(rec *record.Session, es []record.Event) {
	for _, e := range es {
		c.publish(rec, e)
	}
}

// drain applies the events already queued, such as the end of the car's connection.
func (c *Charger) drain(rec *record.Session) {
	for {
		select {
		case e := <-c.events:
			c.publish(rec, e)
		default:
			return
		}
	}
}

// noMatch ends a plug-in whose SLAC failed: no car (quietly, the daemon
// just starts over) or a car that tried and failed.
func (c *Charger) noMatch(ctx context.Context, rec *record.Session, err error) error {
	if ctx.Err() != nil {
		// Stopped between the CM_SLAC_MATCH.CNF and the car's link: the
		// car matched, and its plug-in is one to keep.
		var f *slac.FailureError
		if errors.As(err, &f) && f.Reason == slac.ReasonLinkTimeout && f.EV != (homeplug.MAC{}) {
			c.matched(rec, slac.Result{EVMAC: f.EV})
		}
		c.stopped(ctx, rec)
		return nil
	}
	end := record.EndSLACFailed
	if errors.Is(err, slac.ErrNoCar) {
		end = record.EndNoCar
	}
	c.end(rec, end, err.Error())
	var perr *slac.PortError
	switch {
	case errors.As(err, &perr):
		// The interface is down or gone: try again, but not in a tight
		// loop. A daemon whose interface went away stops the charger
		// meanwhile and says so itself.
		t := c.cfg.Clock.NewTimer(PortRetry)
		defer t.Stop()
		select {
		case <-t.C():
			c.log.Error("cannot use the modem's interface; retrying", "err", err, "after", PortRetry)
		case <-ctx.Done():
		}
	case end == record.EndSLACFailed:
		c.log.Warn("a car tried to match and failed", "err", err)
	default:
		c.log.Debug("no car; keying the modem afresh", "err", err)
	}
	return nil
}

// Stop, as the cause of the cancellation of Run's context
// (context.WithCancelCause), says how the plug-in in progress ends, such
// as record.EndIfaceLost when the daemon lost its interface. Without
// it, the plug-in ends as record.EndStopped.
type Stop struct {
	End    record.End
	Detail string
}

func (s *Stop) Error() string {
	if s.Detail != "" {
		return s.Detail
	}
	return s.End.Words()
}

// stopped ends the plug-in as ctx's cause says.
func (c *Charger) stopped(ctx context.Context, rec *record.Session) {
	var s *Stop
	if errors.As(context.Cause(ctx), &s) {
		c.end(rec, s.End, s.Detail)
		return
	}
	c.end(rec, record.EndStopped, "")
}

// FromConfig is the source a value from the configuration has in the record.
const FromConfig = "config"

// PortRetry is the pause before SLAC starts again after the interface failed.
const PortRetry = time.Second

func (c *Charger) end(rec *record.Session, e record.End, detail string) {
	c.endWith(rec, record.Event{Kind: record.KindEnded, At: c.cfg.Clock.Now(), End: e, Detail: detail})
}

// endWith publishes the plug-in's end, e, and hands the record to the subscribers.
func (c *Charger) endWith(rec *record.Session, e record.Event) {
	c.publish(rec, e)
	subs := c.subscribers()
	for _, s := range subs {
		s.PlugInEnded(rec)
	}
	if !rec.Phases.Matched.IsZero() {
		if len(c.ended) == keepEnded {
			c.ended = append(c.ended[:0], c.ended[1:]...)
		}
		c.ended = append(c.ended, rec.Clone())
	}
}

// keepEnded is how many ended plug-ins can still take a late result: an
// output gives up within its own window (a minute), long before four more
// cars have come and gone.
const keepEnded = 4

// LateSubscriber is a Subscriber that also hears of an output's result
// that came after its plug-in ended (a SmartEVSE that was down while the
// car left): e with a copy of that plug-in's record, e applied.
type LateSubscriber interface {
	Late(e record.Event, s *record.Session)
}

// late applies an output's result to the ended plug-in it names; it never
// reaches the plug-in in progress.
func (c *Charger) late(e record.Event) {
	i := slices.IndexFunc(c.ended, func(s *record.Session) bool { return s.PlugIn == e.PlugIn })
	if i < 0 {
		c.log.Debug("a result for a plug-in no longer kept", "plug_in", e.PlugIn, "kind", e.Kind.String())
		return
	}
	s := c.ended[i].Clone()
	s.Apply(e)
	c.ended[i] = s
	subs := c.subscribers()
	for _, sub := range subs {
		if l, ok := sub.(LateSubscriber); ok {
			l.Late(e, s.Clone())
		}
	}
}

func (c *Charger) publish(rec *record.Session, e record.Event) {
	if e.PlugIn != 0 && e.PlugIn != rec.PlugIn {
		c.late(e)
		return
	}
	rec.Apply(e)
	var recognised []record.Event
	// A car that never reaches its harvest (an AC car stopping early, a
	// session that fails) is recognised when its session ends, by what it showed.
	late := e.Kind == record.KindEnded && rec.Vehicle == nil && rec.Phases.FirstCPD.IsZero()
	if (rec.Harvest(e) || late) && c.cfg.Recognise != nil {
		if v := c.cfg.Recognise(rec, e.At); v != nil {
			// Heard before the car's values, so that the SmartEVSE is told
			// the car's stable ID with the first SoC.
			recognised = append(recognised, record.Event{Kind: record.KindVehicle, At: e.At, Vehicle: v})
			rec.Apply(recognised[0])
		}
	}
	if rec.Harvest(e) && !rec.EnergyCapacityWh.Known && c.cfg.CapacityFallback != nil {
		if wh, ok := c.cfg.CapacityFallback(rec); ok {
			// Before the subscribers hear of the car's values, so that the
			// SmartEVSE gets the capacity with the first SoC.
			rec.Apply(record.Event{Kind: record.KindValues, At: e.At, From: FromConfig, Values: record.Values{EnergyCapacityWh: &wh}})
		}
	}
	subs := c.subscribers()
	for _, ev := range append(recognised, e) {
		for _, s := range subs {
			s.Event(ev, rec)
		}
	}
}

// SDPStats returns the SDP server's counters so far. Safe from any goroutine.
func (c *Charger) SDPStats() sdp.Stats { return c.sdp.Stats() }

// PlugIns returns the number of the last plug-in; call it after Run returned.
func (c *Charger) PlugIns() uint64 { return c.seq }

// V2GRefused returns how many V2G connections were closed at once: not
// the car's, or over the bound of connections open at once. Safe from any goroutine.
func (c *Charger) V2GRefused() uint64 { return c.server.Refused() }

// Report hands the charger an event from outside its sessions, such as an
// output's delivery; it applies to the plug-in it names (Event.PlugIn),
// else to the plug-in in progress. Safe from any goroutine.
func (c *Charger) Report(e record.Event) { c.emit(e) }
