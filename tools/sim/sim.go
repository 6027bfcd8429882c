// Package sim plugs a simulated car into the real charger in one process:
// two virtual QCA7000 modems on one cable (modemsim), the daemon as a Pi
// runs it (package daemon: the charger and its outputs) and a car (evcc)
// playing one of the profiles of real cars. SDP and V2G run over loopback
// sockets. Unless another SmartEVSE is named, a SmartEVSE twin (evsetwin)
// serves its HTTP API on loopback and drives the control pilot that the
// car and its modem follow, so a plug-in runs to its end: the SoC
// delivered, CP off, and AC charging or not, as the car's profile has it.
package sim

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ccslink/ccslink/clock"
	"github.com/ccslink/ccslink/daemon"
	"github.com/ccslink/ccslink/daemon/charger"
	"github.com/ccslink/ccslink/daemon/config"
	"github.com/ccslink/ccslink/daemon/output/smartevse"
	"github.com/ccslink/ccslink/daemon/vehicle"
	"github.com/ccslink/ccslink/proto/cp"
	"github.com/ccslink/ccslink/proto/evcc"
	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/sdp"
	"github.com/ccslink/ccslink/proto/secc"
	"github.com/ccslink/ccslink/proto/slac"
	"github.com/ccslink/ccslink/proto/v2g/message"
	"github.com/ccslink/ccslink/proto/v2gpki"
	"github.com/ccslink/ccslink/record"
	"github.com/ccslink/ccslink/tools/evsetwin"
	"github.com/ccslink/ccslink/tools/modemsim"
)

// Config is one simulated plug-in.
type Config struct {
	Car    evcc.Profile
	Policy secc.PolicyName
	// SmartEVSE is the URL posted to; "" means the embedded SmartEVSE twin.
	SmartEVSE string
	// PlugIns is how many times the car is plugged in, one after another,
	// into the same charger and SmartEVSE (RunPlugIns); zero means once.
	PlugIns int
	// RequiredEVCCID is the twin's required EVCCID (Autocharge); "" none.
	RequiredEVCCID string
	// WritePWM lets the daemon write override_pwm to the SmartEVSE
	// (smartevse.write_pwm): the x1-then-pwm handover strategy.
	WritePWM bool
	// Strategy, if set, pins the car's handover strategy, as an owner does
	// in the cars list: the daemon's configuration gets the car, matched
	// by its MAC (its maker's block for a car whose MAC changes per
	// session), with this strategy (e.g. identify-only).
	Strategy string
	// ModemWait, if not zero, shortens the twin's wait for a SoC (the
	// firmware's 60 s), so that a car that never talks is told quickly;
	// the timeline says so.
	ModemWait time.Duration
	// ChargeTimeFactor is how many seconds of AC charging the twin's EV
	// meter counts in each second, so that the SoC estimate rises while
	// the simulated car charges; zero means DefaultChargeTimeFactor.
	ChargeTimeFactor float64
	// AttenuationDB is the cable's attenuation between the modems; zero means modemsim's default.
	AttenuationDB uint8
	// Timeline, if set, receives the plug-in as it happens in plain words.
	Timeline io.Writer
	// Verbose adds SLAC and protocol details (RunID, NID, every request) to the timeline.
	Verbose bool
	// SkipDelays leaves out the car's recorded pauses (such as the Ioniq's
	// 4 s between SLAC and SDP), for tests and --car all.
	SkipDelays bool
	// RecordDir, if set, gets the plug-in's pcap file, as the daemon writes it.
	RecordDir string
	// Daemon is the rest of the daemon's configuration, as a Pi's file
	// gives it: MQTT, the HTTP API, the daemon's name, the capacity
	// fallback, the SmartEVSE's timeouts. Policy and SmartEVSE above take
	// the place of its own. nil: the defaults, without a state directory.
	Daemon *config.Config
	// Version is the daemon's version, told to MQTT.
	Version string
	// Vehicles, if set, recognises the cars (daemon.Config.Vehicles): one
	// for several runs remembers the cars from one plug-in to the next.
	Vehicles *vehicle.Recogniser
	// Log receives the daemon's own log; nil means none.
	Log *slog.Logger
}

// Latency summarises the charger's answer times.
type Latency struct {
	P50 int64 `json:"p50"`
	P99 int64 `json:"p99"`
	Max int64 `json:"max"`
}

// Result is one simulated plug-in's outcome.
type Result struct {
	Car      string `json:"car"`
	Policy   string `json:"policy"`
	OK       bool   `json:"ok"`
	Protocol string `json:"protocol"`
	TLS      string `json:"tls"` // the V2G connection's TLS version, "1.2" or "1.3"; "" for plain TCP
	EVCCID   string `json:"evccid"`
	SoC      int    `json:"soc"`
	// SoCUpdates counts the SoCs of an ISO 15118-20 charge loop the
	// record took, which the outputs publish; absent for other sessions.
	SoCUpdates       int     `json:"soc_updates,omitempty"`
	FullSoC          int     `json:"full_soc"`
	EnergyCapacityWh int     `json:"energy_capacity_wh"`
	EnergyRequestWh  int     `json:"energy_request_wh"`
	SmartEVSEQuery   string  `json:"smartevse_query"`
	SECCResponseUS   Latency `json:"secc_response_us"`
	DurationMS       int64   `json:"duration_ms"`
	End              string  `json:"end"`
	CarEnd           string  `json:"car_end"`
	Error            string  `json:"error,omitempty"`
	// Vehicle is the car the daemon recognised.
	Vehicle *record.Vehicle `json:"vehicle,omitempty"`
	// Handover is what the daemon saw the SmartEVSE do after the SoC
	// (record.Handover), when it watched it.
	Handover *Handover `json:"handover,omitempty"`
	// SoCEstimated is the daemon's last SoC estimate while the car charged
	// on AC (record.Estimate): a guess from the twin's EV meter, beside the
	// SoC the car sent.
	SoCEstimated *record.Estimate `json:"soc_estimated,omitempty"`
	// PlugIn is the plug-in's number when the car was plugged in more
	// than once.
	PlugIn int `json:"plugin,omitempty"`
	// Twin is what the SmartEVSE twin and the car did after the SoC; nil
	// with another SmartEVSE.
	Twin      *Outcome        `json:"smartevse_twin,omitempty"`
	Record    *record.Session `json:"-"`
	CarResult evcc.Result     `json:"-"`
}

// Handover is what the SmartEVSE did after the delivery (record.Handover),
// when it was watched.
type Handover struct {
	Strategy  string `json:"strategy"`
	ACStarted bool   `json:"ac_started"`
	ACAfterMS *int64 `json:"ac_after_ms,omitempty"`
	Outcome   string `json:"outcome"`
	Why       string `json:"why,omitempty"`
}

// Outcome is the end of a plug-in's story at the SmartEVSE twin.
type Outcome struct {
	// States are the twin's evse.state_id values from the plug-in on.
	States []int `json:"states"`
	// ACCharging: the car drew current on AC (state C).
	ACCharging bool `json:"ac_charging"`
	// ACAfterMS is the time from the SoC's arrival (or, without one, the
	// plug-in) to state C.
	ACAfterMS int64 `json:"ac_after_ms,omitempty"`
	// Denied: the twin's required EVCCID was not the car's (MODEM_DENIED).
	Denied bool `json:"denied,omitempty"`
	// CarBehaviour is the profile's behaviour after the SoC, Why the car's
	// last word on drawing current.
	CarBehaviour string `json:"car_behaviour"`
	Why          string `json:"car_why,omitempty"`

	soc     bool // the SoC reached the twin
	offered bool // the twin offered AC (nominal PWM) within the story
}

// Run plugs cfg.Car in once and returns once it has been unplugged again.
func Run(ctx context.Context, cfg Config) (Result, error) {
	cfg.PlugIns = 1
	rs, err := RunPlugIns(ctx, cfg)
	if len(rs) == 0 {
		return Result{Car: cfg.Car.Name, Policy: cfg.Policy.String(), SoC: -1, FullSoC: -1, EnergyCapacityWh: -1, EnergyRequestWh: -1}, err
	}
	return rs[0], err
}

// RunPlugIns plugs cfg.Car in cfg.PlugIns times, one after another, into
// one charger and one SmartEVSE, as the same car comes home day after
// day; it returns a result per plug-in that was played.
func RunPlugIns(ctx context.Context, cfg Config) ([]Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	n := max(cfg.PlugIns, 1)
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &runner{cfg: cfg}
	line := modemsim.NewLine(ctx, modemsim.LineConfig{Attenuation: flat(cfg.AttenuationDB)})
	defer line.Close()
	r.line = line
	evseModem, err := line.AddModem(modemsim.ModemConfig{Name: "charger modem", EVSE: true})
	if err != nil {
		return nil, err
	}

	// The charger's V2G sockets, on loopback.
	sdpConn, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		return nil, &LoopbackError{Err: err}
	}
	defer sdpConn.Close()
	r.sdpAddr = sdpConn.LocalAddr()
	ln, err := secc.Listen("[::1]:0")
	if err != nil {
		return nil, &LoopbackError{Err: err}
	}
	defer ln.Close()
	announce := netip.AddrPortFrom(netip.IPv6Loopback(), uint16(ln.Addr().(*net.TCPAddr).Port))

	newTL := func() *timeline {
		tl := newTimeline(cfg.Timeline, cfg.Verbose)
		if cfg.ModemWait > 0 {
			tl.waitWords = fmt.Sprintf("%.0f s (shortened from the firmware's 60 s)", cfg.ModemWait.Seconds())
		}
		return tl
	}
	obs := newObserver(newTL())
	r.obs = obs
	// The SmartEVSE: the twin on loopback, unless another is named.
	url := cfg.SmartEVSE
	if url == "" {
		r.wire = cp.NewWire(nil)
		tc := evsetwin.Config{Line: r.wire, RequiredEVCCID: cfg.RequiredEVCCID, OnState: obs.twinState, EVMeter: true,
			TimeFactor: cmp.Or(cfg.ChargeTimeFactor, DefaultChargeTimeFactor)}
		if cfg.ModemWait > 0 {
			tc.ModemWaitTicks = max(1, int(cfg.ModemWait/evsetwin.Tick))
		}
		r.twin = evsetwin.New(tc)
		obs.lastQuery = func() string {
			if ps := r.twin.Posts(); len(ps) > 0 {
				return ps[len(ps)-1].Query
			}
			return ""
		}
		twinDone := make(chan error, 1)
		go func() { twinDone <- r.twin.Run(ctx) }()
		defer func() {
			cancel()
			<-twinDone
		}()
		srv, err := serve(r.twin)
		if err != nil {
			return nil, err
		}
		defer srv.Close()
		url = srv.URL()
	}

	// The daemon, as a Pi runs it: the outputs, and the charger over the
	// simulated modem and the loopback sockets.
	dc := config.Default()
	dc.StateDir = "" // the history in memory; recordings only in RecordDir
	if cfg.Daemon != nil {
		dc = *cfg.Daemon
	}
	dc.Policy, dc.SmartEVSE.URL = cfg.Policy.String(), url
	dc.SmartEVSE.WritePWM = dc.SmartEVSE.WritePWM || cfg.WritePWM
	if cfg.Strategy != "" {
		car, err := Pin(cfg.Car, cfg.Strategy, dc.SmartEVSE.WritePWM)
		if err != nil {
			return nil, err
		}
		dc.Cars = append(slices.Clone(dc.Cars), car)
	}
	// A car that offers ISO 15118-20 gets it: the charger serves -20 only
	// when configured, and ranks it first only when told to.
	schema20 := offersISO20(cfg.Car)
	iso20 := schema20 != "" && !dc.V2G.ISO20First
	dc.V2G.ISO20First = dc.V2G.ISO20First || iso20
	if cfg.SmartEVSE == "" && dc.SmartEVSE.Watch > TwinWatch {
		// The twin's story is told within TwinWatch of the delivery (or of
		// the end of its wait for a SoC that does not come): the outcome
		// of a plug-in is known, and remembered, before the next.
		dc.SmartEVSE.Watch = TwinWatch
	}
	r.watches = daemon.WatchesHandover(dc)
	r.follows = r.watches && dc.SmartEVSE.Follow
	if r.follows && cfg.ModemWait > 0 && cfg.ModemWait <= config.SLACInitFast && dc.SLAC.InitTimeout == config.SLACInitDefault {
		// The twin's wait is short: the charger tells a car that does not
		// talk as soon as it may (slac.init_timeout's fast option).
		dc.SLAC.InitTimeout = config.SLACInitFast
	}
	d, err := daemon.New(daemon.Config{Config: dc, MAC: evseModem.HostMAC(), RecordDir: cfg.RecordDir, Version: cfg.Version, Log: log, Vehicles: cfg.Vehicles,
		Views:      []charger.Subscriber{obs},
		OnDelivery: func(dl smartevse.Delivery) { tl := obs.timeline(); tl.delivery(dl).delivered(dl); obs.hear() },
		OnAttempt: func(dl smartevse.Delivery) {
			if dl.Err != nil {
				obs.hear()
			}
		}})
	if err != nil {
		return nil, err
	}
	defer d.Close() // the recording is there when Run returns
	tl := obs.timeline()
	if other := offersBeside20(cfg.Car); iso20 && schema20 == "DC" && cfg.Policy != secc.PolicyDC && other != "" {
		tl.printf("the charger serves ISO 15118-20 first (v2g.iso20_first: true) but takes the car's %s: it tells the SoC before any voltage, -20 DC only after a precharge (--policy dc for -20 DC)", other)
	} else if iso20 {
		tl.printf("the charger serves ISO 15118-20 %s first (v2g.iso20_first: true), as the car offers it", schema20)
	}
	if a := d.HTTPAddr(); a != nil {
		tl.printf("the charger's live page: http://%s/ (its state: /api/state)", a)
	}
	if dc.MQTT.Broker != "" {
		tl.printf("the charger publishes to MQTT at %s as %s", dc.Redacted().MQTT.Broker, dc.Name)
	}
	wire := daemon.Wire{Port: evseModem.Host(), MAC: evseModem.HostMAC(), SDP: sdpConn, V2G: ln, Announce: announce}
	if cfg.Car.TLS {
		tln, roots, closeTLS, err := serveTLS(dc.EVSEID)
		if err != nil {
			return nil, err
		}
		defer closeTLS()
		wire.V2GTLS, r.carRoots = tln, roots
		tl.printf("the car asks for TLS: the charger serves V2G over TLS too, port %d, with a test chain made for this run (as ccslink pki init DIR and ccslink evse --tls DIR); the car trusts its root",
			tln.Addr().(*net.TCPAddr).Port)
	}
	ch, err := d.Charger(wire)
	if err != nil {
		return nil, err
	}
	chDone := make(chan error, 1)
	go func() { chDone <- d.Run(ctx, func(ctx context.Context) error { return d.Serve(ctx, ch) }) }()
	defer func() {
		cancel()
		<-chDone
	}()
	r.chDone = chDone
	r.d = d

	var results []Result
	for i := range n {
		if i > 0 {
			obs.begin(newTL())
			if cfg.Timeline != nil {
				fmt.Fprintf(cfg.Timeline, "\nplug-in %d of %d: the same car comes back\n", i+1, n)
			}
		}
		res, err := r.plugIn(ctx)
		if n > 1 {
			res.PlugIn = i + 1
		}
		results = append(results, res)
		if err != nil {
			return results, err
		}
	}
	return results, nil
}

// StrategyError says that a strategy cannot be pinned.
type StrategyError struct {
	Strategy string
	WritePWM bool // x1-then-pwm without writing the PWM allowed
}

func (e *StrategyError) Error() string {
	if e.WritePWM {
		return "the strategy x1-then-pwm writes override_pwm to the SmartEVSE: allow it with --write-pwm"
	}
	return fmt.Sprintf("%q is not a handover strategy: use one of %s", e.Strategy, strings.Join(config.Strategies, ", "))
}

// Pin returns the cars-list entry that pins the car p's handover
// strategy: the car's own MAC, or its maker's block for a car whose MAC
// changes per session; writePWM says whether x1-then-pwm is allowed.
func Pin(p evcc.Profile, strategy string, writePWM bool) (config.Car, error) {
	if !slices.Contains(config.Strategies, strategy) {
		return config.Car{}, &StrategyError{Strategy: strategy}
	}
	if strategy == record.StrategyX1ThenPWM && !writePWM {
		return config.Car{}, &StrategyError{Strategy: strategy, WritePWM: true}
	}
	m := p.MAC
	mac := fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
	if p.RandomMAC {
		mac = mac[:9] + "xx:xx:xx"
	}
	return config.Car{Name: p.Car, ID: p.Name, MACs: []string{mac}, Strategy: strategy}, nil
}

// runner is what the plug-ins of one run share.
type runner struct {
	cfg     Config
	line    *modemsim.Line
	sdpAddr net.Addr
	obs     *observer
	chDone  chan error
	modems  map[[6]byte]*modemsim.Modem
	wire    *cp.Wire       // nil with another SmartEVSE
	twin    *evsetwin.Twin // nil with another SmartEVSE
	watches bool           // the daemon watches the SmartEVSE after a delivery
	follows bool           // and reads it all the time: the SoC is estimated
	d       *daemon.Daemon
	// carRoots is what a car that asks for TLS trusts: the root of the
	// test chain the charger serves.
	carRoots *x509.CertPool
}

// DefaultChargeTimeFactor is Config.ChargeTimeFactor's default: an hour of
// AC charging in 10 s, so that a few estimates rise within seconds.
const DefaultChargeTimeFactor = 360

// Estimates is how many SoC estimates a simulated car that charges on AC
// waits for before it is unplugged, within EstimateWait.
const (
	Estimates    = 2
	EstimateWait = 8 * time.Second
)

// TwinWatch is how long the daemon in a simulation watches the SmartEVSE
// twin after a delivery: its CP-off (5 s), x1-then-pwm's 100 % and release
// (daemon.X1Delay, daemon.X1Hold), a margin for a loaded machine.
const TwinWatch = 20 * time.Second

// carModem returns the car's modem for a session with mac: the one of an
// earlier plug-in, plugged in again, or a new one for a car whose MAC
// changes per session (its modem is another host on the line).
func (r *runner) carModem(mac [6]byte) (*modemsim.Modem, error) {
	if m, ok := r.modems[mac]; ok {
		m.Plug()
		return m, nil
	}
	name := "car modem"
	if len(r.modems) > 0 {
		name = fmt.Sprintf("car modem %d", len(r.modems)+1)
	}
	m, err := r.line.AddModem(modemsim.ModemConfig{Name: name, HostMAC: homeplug.MAC(mac)})
	if err != nil {
		return nil, err
	}
	if r.modems == nil {
		r.modems = map[[6]byte]*modemsim.Modem{}
	}
	r.modems[mac] = m
	return m, nil
}

// plugIn is one plug-in of the car, from the charger waiting to the car
// unplugged.
func (r *runner) plugIn(ctx context.Context) (Result, error) {
	cfg := r.cfg
	res := Result{Car: cfg.Car.Name, Policy: cfg.Policy.String(), SoC: -1, FullSoC: -1, EnergyCapacityWh: -1, EnergyRequestWh: -1}
	obs := r.obs
	tl := obs.timeline()
	defer tl.settle() // the lines held, whatever ended the run
	carMAC := cfg.Car.SessionMAC()
	carModem, err := r.carModem(carMAC)
	if err != nil {
		return res, err
	}
	defer carModem.Unplug()

	// The car arrives once the charger waits for one and its modem's
	// restart is over, as a car arrives at a waiting charger.
	if err := obs.awaitWaiting(ctx, r.chDone); err != nil {
		return res, err
	}
	if err := wait(ctx, modemsim.DefaultRestartDelay+100*time.Millisecond); err != nil {
		return res, err
	}
	postsBefore := 0 // the twin's posts of earlier plug-ins: a delivery is watched
	if r.twin != nil {
		postsBefore = len(r.twin.Posts())
	}
	start := time.Now()
	states := obs.plugged(start)
	tl.start(start, cfg.Car, r.twin != nil)
	var pc *evcc.PilotCar
	talks := cfg.Car.AfterSoC.Talks()
	if r.twin != nil {
		defer modemsim.FollowPilot(r.wire, carModem)()
		pc = evcc.PlugIn(cfg.Car, r.wire)
		if talks {
			select {
			case <-pc.Digital():
				tl.say("the car's modem starts matching with the charger's (SLAC)")
			case <-ctx.Done():
				return res, ctx.Err()
			}
		}
	}
	var carRes evcc.Result
	var carErr error
	// noSession: the charger's handover strategy kept the car from a V2G
	// session (its protocols declined, its match left unanswered): no SoC,
	// by design, and the car charges on basic AC after the SmartEVSE's wait.
	noSession := false
	if talks {
		var unanswered bool
		carRes, unanswered, carErr = playCar(ctx, cfg, carModem, carMAC, r.sdpAddr, r.carRoots, tl, pc)
		noSession = unanswered || carRes.End == evcc.EndNoNegotiation
		res.CarResult = carRes
		res.CarEnd = carRes.End.String()
		if carErr != nil {
			res.Error = carErr.Error()
		}
		// Wait until the charger has seen the connection end, then until
		// the SmartEVSE's answer (or its failure) is in: within one
		// attempt's timeout; the bound only ends the wait when the car
		// gave nothing to send.
		if err := obs.awaitClosed(ctx, secc.CloseWait+time.Second); err != nil {
			return res, err
		}
		if err := obs.awaitHeard(ctx, smartevse.DefaultTimeout+3*time.Second); err != nil {
			return res, err
		}
	}
	var out *Outcome
	if r.twin != nil {
		out = r.outcome(ctx, states, pc, talks, noSession, tl)
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
	}
	var ho *record.Event
	if out != nil && (out.soc || noSession || out.offered && len(r.twin.Posts()) > postsBefore) && r.watches {
		// The daemon's watch sees the car charge at its next GET /settings,
		// or watches to its bound: the outcome is remembered for the next
		// plug-in before the car is unplugged.
		wait := smartevse.DefaultTimeout + 2*time.Second
		if !out.ACCharging {
			wait += TwinWatch
		}
		select {
		case e := <-obs.handoverCh():
			ho = &e
		case <-time.After(wait):
		case <-ctx.Done():
			return res, ctx.Err()
		}
	}
	if out != nil && out.ACCharging && out.soc && r.follows {
		// The car charges: the daemon estimates its SoC from the twin's
		// meter once a second, a new one at each 1 % at most.
		res.SoCEstimated = r.estimates(ctx, ho, tl)
	}
	tl.settle()
	tl.say("car unplugged")
	if pc != nil {
		pc.Unplug()
	}
	carModem.Unplug()
	res.Twin = out
	if !talks {
		// The charger never matched a car; following the SmartEVSE, it
		// knew one was plugged in and ends that plug-in when the pilot
		// goes back to A, at its next reading.
		res.End = record.EndNoCar.String() // the charger's word: no car matched
		if obs.reportedNoComm() {
			if rec, _ := obs.awaitEnded(ctx, smartevse.DefaultPoll+smartevse.DefaultTimeout+time.Second); rec != nil {
				res.Record, res.End = rec, rec.End.String()
			}
		}
		res.DurationMS = time.Since(start).Milliseconds()
		res.OK = out != nil && len(out.States) > 0
		obs.end()
		tl.silentSummary(res, cfg.Car)
		return res, nil
	}
	rec, err := obs.awaitEnded(ctx, 0)
	if err != nil {
		return res, err
	}
	res.DurationMS = time.Since(start).Milliseconds()
	if ho != nil && rec.Handover == nil && ho.PlugIn == rec.PlugIn {
		rec.Apply(*ho)
	}
	res.Record = rec
	query := ""
	if r.twin != nil {
		if ps := r.twin.Posts(); len(ps) > 0 {
			query = ps[len(ps)-1].Query
		}
	} else {
		// Another receiver: what it acknowledged, as the record has it.
		for _, d := range rec.Deliveries {
			if d.OK {
				query = d.What
			}
		}
	}
	fill(&res, rec, query)
	res.OK = carErr == nil && res.EVCCID != "" && res.SmartEVSEQuery != "" && (res.SoC >= 0 || !cfg.Car.DC || cfg.Policy == secc.PolicyAC || noSession)
	tl.summary(res, rec)
	return res, nil
}

// outcome follows the twin after the car's session (or, for a car that
// never talks, from the plug-in): the SoC's CP-off, the nominal PWM, and
// whether the car draws current. It returns once that is known.
func (r *runner) outcome(ctx context.Context, states <-chan evsetwin.Transition, pc *evcc.PilotCar, talks, noSession bool, tl *timeline) *Outcome {
	out := &Outcome{CarBehaviour: r.cfg.Car.AfterSoC.String()}
	tl.settle() // the session is over: the lines from here on go as they come
	var socAt, start time.Time
	start = r.obs.start()
	offered := false
	// The longest story: the firmware's wait for a SoC, its CP-off, a
	// margin for a loaded machine.
	waitTicks := evsetwin.ModemWaitTicks
	if r.cfg.ModemWait > 0 {
		waitTicks = max(1, int(r.cfg.ModemWait/evsetwin.Tick))
	}
	bound := time.NewTimer(time.Duration(waitTicks+evsetwin.ModemDoneTicks+10) * evsetwin.Tick)
	defer bound.Stop()
	if noSession {
		tl.say("the SmartEVSE has no SoC, so it keeps 5 % PWM for the rest of its wait for one, then cuts CP and offers AC: the price of a handover without a V2G session")
	}
	var grace <-chan time.Time
	saidNoSoC := noSession
	// A car that talked without giving a SoC (an AC-only car, a session
	// that failed) leaves the twin waiting at 5 %: under the soc policy
	// with the twin's wait shortened, the story goes on to the end of that
	// wait, as the SmartEVSE's does; otherwise it ends there, rather than
	// keep a person waiting a minute.
	toWaitsEnd := r.cfg.ModemWait > 0 && r.cfg.Policy == secc.PolicySoC
story:
	for {
		if talks && !saidNoSoC && socAt.IsZero() && !offered && grace == nil {
			if st := r.twin.Snapshot().State; st == evsetwin.StateModemWait {
				tl.say("the SmartEVSE got no SoC: it keeps 5 % PWM until its wait for one ends, then cuts CP and offers AC")
				saidNoSoC = true
				if !toWaitsEnd {
					break story
				}
			}
		}
		select {
		case tr := <-states:
			switch tr.To {
			case evsetwin.StateModemWait:
				if !talks {
					switch r.cfg.Car.AfterSoC {
					case evcc.StopsAtDigital:
						tl.say("the car stops at the 5 % PWM: it will not talk, nor charge until unplugged")
					default:
						tl.say("the car does not answer the 5 % PWM: it never starts SLAC")
					}
				}
			case evsetwin.StateModemDone:
				if tr.Why == "SoC received" && socAt.IsZero() {
					socAt = tr.At
				}
			case evsetwin.StateModemDenied:
				out.Denied = true
			case evsetwin.StateB:
				offered = true
				wait := time.Second // the car answers at once; a generous bound
				if r.d.HandoverStrategy() == record.StrategyX1ThenPWM && !socAt.IsZero() {
					// The daemon's 100 % for 2 s comes after the CP-off.
					wait += daemon.X1Delay + daemon.X1Hold
					tl.say("the charger hands over with x1-then-pwm: CP at 100 % for 2 s, then the SmartEVSE's own PWM (override_pwm)")
				}
				g := time.NewTimer(wait)
				defer g.Stop()
				grace = g.C
			case evsetwin.StateC:
				out.ACCharging = true
				from := socAt
				if from.IsZero() {
					from = start
				}
				out.ACAfterMS = tr.At.Sub(from).Milliseconds()
			}
			if out.ACCharging || out.Denied {
				break story
			}
		case <-grace:
			break story
		case <-bound.C:
			break story
		case <-ctx.Done():
			return out
		}
	}
	out.soc, out.offered = !socAt.IsZero(), offered
	out.States = r.obs.stateIDs()
	if pc != nil {
		out.Why = pc.Why()
	}
	if offered && !out.ACCharging && out.Why != "" {
		tl.printf("the car does not charge: %s", out.Why)
	}
	return out
}

// estimates waits for the daemon's first SoC estimates of the plug-in ho
// names (any, without ho), says each, and returns the last.
func (r *runner) estimates(ctx context.Context, ho *record.Event, tl *timeline) *record.Estimate {
	ch, capWh := r.obs.estimateCh()
	if capWh == 0 {
		tl.say("no SoC estimated while the car charges: it sent no battery capacity, and none is configured (capacity_fallback)")
		return nil
	}
	bound := time.NewTimer(EstimateWait)
	defer bound.Stop()
	var last *record.Estimate
	for n := 0; n < Estimates; {
		select {
		case e := <-ch:
			if e.Estimate == nil || ho != nil && e.PlugIn != ho.PlugIn {
				continue
			}
			if n == 0 && r.twin != nil {
				f := cmp.Or(r.cfg.ChargeTimeFactor, DefaultChargeTimeFactor)
				if f > 1 {
					tl.printf("the simulated EV meter runs %.0f times fast: an hour of charging takes %.3g s", f, 3600/f)
				}
			}
			last, n = e.Estimate, n+1
			tl.estimate(last)
		case <-bound.C:
			if last == nil {
				tl.say("no SoC estimated while the car charged")
			}
			return last
		case <-ctx.Done():
			return last
		}
	}
	return last
}

// serve serves h on a loopback port.
func serve(h http.Handler) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, &LoopbackError{Err: err}
	}
	s := &server{ln: ln, srv: &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}}
	go s.srv.Serve(ln)
	return s, nil
}

// server is the twin's HTTP server on loopback.
type server struct {
	srv *http.Server
	ln  net.Listener
}

func (s *server) URL() string { return "http://" + s.ln.Addr().String() }

func (s *server) Close() error {
	err := s.srv.Close()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// playCar is the car: SLAC over its modem, SDP and TCP over loopback, then its V2G session.
// playCar plays the car's side from SLAC to the end of its V2G session.
// unanswered reports that the charger left its CM_SLAC_MATCH.REQ
// unanswered (identify-only): the car retried it as ISO 15118-3 says,
// gave up SLAC and waits for a nominal PWM, as a car without digital
// communication.
func playCar(ctx context.Context, cfg Config, m *modemsim.Modem, mac [6]byte, sdpAddr net.Addr, roots *x509.CertPool, tl *timeline, pc *evcc.PilotCar) (_ evcc.Result, unanswered bool, _ error) {
	p := cfg.Car
	for i := 0; i < p.SLACRestarts; i++ {
		// A car that restarts SLAC midway (Stellantis): it gives up after its first sounds.
		actx, acancel := context.WithTimeout(ctx, 300*time.Millisecond)
		slac.MatchPEV(actx, m.Host(), clock.Real{}, slac.PEVConfig{MAC: homeplug.MAC(mac), RunID: homeplug.RunID(p.SLACRunID())})
		acancel()
		tl.say("the car abandoned its SLAC attempt and starts again")
	}
	r, err := slac.MatchPEV(ctx, m.Host(), clock.Real{}, slac.PEVConfig{MAC: homeplug.MAC(mac), RunID: homeplug.RunID(p.SLACRunID())})
	var f *slac.FailureError
	if errors.As(err, &f) && f.Reason == slac.ReasonNoMatchCnf {
		tl.printf("the car got no CM_SLAC_MATCH.CNF to its request nor its %d retries: it gives up SLAC and waits for a nominal PWM, as a car without digital communication", slac.CEVMatchRetry)
		return evcc.Result{}, true, nil
	}
	if err != nil {
		return evcc.Result{}, false, fmt.Errorf("SLAC, car side: %w", err)
	}
	tl.carMatched(r)
	// A car talks IP only once its modem has joined the charger's network.
	if err := modemsim.AwaitLink(ctx, m); err != nil {
		return evcc.Result{}, false, err
	}
	if !cfg.SkipDelays && p.SDPDelay > 0 {
		if err := wait(ctx, p.SDPDelay); err != nil {
			return evcc.Result{}, false, err
		}
	}
	conn, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		return evcc.Result{}, false, &LoopbackError{Err: err}
	}
	defer conn.Close()
	resp, err := sdp.Discover(ctx, conn, sdpAddr, sdp.ClientConfig{TLS: p.TLS})
	if err != nil {
		return evcc.Result{}, false, fmt.Errorf("SDP, car side: %w", err)
	}
	v2g, cs, err := evcc.DialV2G(ctx, nil, resp, p.TLS, roots)
	var noTLS *evcc.NoTLSError
	var hs *evcc.HandshakeError
	switch {
	case errors.As(err, &noTLS):
		return evcc.Result{}, false, &NoTLSError{Car: p.Name}
	case errors.As(err, &hs):
		return evcc.Result{}, false, fmt.Errorf("TLS with the charger at %v, car side: %w", hs.Charger, hs.Err)
	case err != nil:
		return evcc.Result{}, false, err
	}
	defer v2g.Close() // the car closes the connection, never the charger first
	if cs != nil {
		tl.printf("the car and the charger speak %s (%s), the charger's chain checked against the test root", tls.VersionName(cs.Version), tls.CipherSuiteName(cs.CipherSuite))
	}
	ec := evcc.Config{Profile: p, EVCCID: mac, LoopInterval: LoopInterval}
	if pc != nil {
		// Only a protocol accepted makes a V2G session, which changes how
		// the car answers a later PWM; Failed_NoNegotiation does not.
		ec.Negotiated = pc.SessionHeld
	}
	res, err := evcc.Run(ctx, v2g, ec)
	return res, false, err
}

// LoopInterval is how often a simulated ISO 15118-20 car repeats its
// charge loop: a real car loops about once a second, the simulation
// faster, yet slowly enough for the outputs to show each SoC.
const LoopInterval = 200 * time.Millisecond

// NoTLSError says that a car that talks only over TLS got an SDP answer
// without it.
type NoTLSError struct{ Car string }

func (e *NoTLSError) Error() string {
	return fmt.Sprintf("the car %s asked for TLS in SDP and the charger answered without: serve V2G over TLS (ccslink evse --tls DIR)", e.Car)
}

// serveTLS makes a test chain for evseID in a new directory, as ccslink
// pki init does, and a loopback listener serving it as ccslink evse
// --tls does; it returns the chain's root for the car and what removes
// the directory and closes the listener.
func serveTLS(evseID string) (net.Listener, *x509.CertPool, func(), error) {
	dir, err := os.MkdirTemp("", "ccslink-sim-pki-")
	if err != nil {
		return nil, nil, nil, &TLSSetupError{Err: err}
	}
	fail := func(err error) (net.Listener, *x509.CertPool, func(), error) {
		os.RemoveAll(dir)
		return nil, nil, nil, &TLSSetupError{Err: err}
	}
	if err := v2gpki.Init(dir, evseID); err != nil {
		return fail(err)
	}
	chain, err := v2gpki.Load(dir)
	if err != nil {
		return fail(err)
	}
	tc, err := chain.ServerConfig(v2gpki.Options{Profile: v2gpki.Both})
	if err != nil {
		return fail(err)
	}
	ln, err := secc.Listen("[::1]:0")
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, nil, &LoopbackError{Err: err}
	}
	roots := x509.NewCertPool()
	roots.AddCert(chain.Root)
	return tls.NewListener(ln, tc), roots, func() { ln.Close(); os.RemoveAll(dir) }, nil
}

// TLSSetupError says that the test chain for a car that asks for TLS
// could not be made.
type TLSSetupError struct{ Err error }

func (e *TLSSetupError) Error() string {
	return fmt.Sprintf("making the test certificate chain for the car that asks for TLS (check that the temporary directory is writable): %v", e.Err)
}

func (e *TLSSetupError) Unwrap() error { return e.Err }

// offersISO20 returns the ISO 15118-20 energy schema the car lists
// first, "AC" or "DC"; "" for none.
func offersISO20(p evcc.Profile) string {
	for _, ap := range p.Protocols {
		switch ap.ProtocolNamespace {
		case evcc.NamespaceISO20AC:
			return "AC"
		case evcc.NamespaceISO20DC:
			return "DC"
		}
	}
	return ""
}

// offersBeside20 names the DIN or ISO-2 a car offers besides -20 ("" if none).
func offersBeside20(p evcc.Profile) string {
	for _, ap := range p.Protocols {
		switch message.ProtocolOf(ap.ProtocolNamespace) {
		case message.ProtocolDIN:
			return "DIN 70121"
		case message.ProtocolISO2:
			return "ISO 15118-2"
		}
	}
	return ""
}

func fill(res *Result, rec *record.Session, query string) {
	res.Protocol = rec.Protocol
	res.TLS = rec.TLS
	if d := rec.Display; d != nil {
		res.SoCUpdates = d.SoCUpdateCount
	}
	res.EVCCID = rec.EVCCIDHex()
	res.SoC = rec.SoC.OrMinus()
	res.FullSoC = rec.FullSOC.OrMinus()
	res.EnergyCapacityWh = rec.EnergyCapacityWh.OrMinus()
	res.EnergyRequestWh = rec.EnergyRequestWh.OrMinus()
	res.SmartEVSEQuery = query
	res.End = rec.End.String()
	res.Vehicle = rec.Vehicle
	if h := rec.Handover; h != nil {
		res.Handover = &Handover{Strategy: h.Strategy, ACStarted: h.ACStarted, Outcome: h.Outcome(), Why: h.Why}
		if h.ACStarted {
			ms := h.ACAfter.Milliseconds()
			res.Handover.ACAfterMS = &ms
		}
	}
	var us []int64
	for _, a := range rec.Answers {
		us = append(us, a.Took.Microseconds())
	}
	res.SECCResponseUS = percentiles(us)
}

func percentiles(us []int64) Latency {
	if len(us) == 0 {
		return Latency{}
	}
	slices.Sort(us)
	at := func(q float64) int64 { return us[min(len(us)-1, int(q*float64(len(us))))] }
	return Latency{P50: at(0.50), P99: at(0.99), Max: us[len(us)-1]}
}

func flat(db uint8) []byte {
	if db == 0 {
		db = modemsim.DefaultAttenuationDB
	}
	p := make([]byte, homeplug.NumAttenGroups)
	for i := range p {
		p[i] = db
	}
	return p
}

func wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// LoopbackError reports that the loopback sockets the simulation needs could not be opened.
type LoopbackError struct{ Err error }

func (e *LoopbackError) Error() string {
	return fmt.Sprintf("the simulation needs IPv6 on the loopback interface (::1): %v", e.Err)
}

func (e *LoopbackError) Unwrap() error { return e.Err }

// observer follows the charger and the twin for the simulation, plug-in
// after plug-in: begin starts a plug-in's timeline, and the channels of
// one plug-in are made fresh for it.
type observer struct {
	mu      sync.Mutex
	tl      *timeline
	active  bool // the events belong to the plug-in being played
	waiting bool // the charger waits for a car's SLAC
	waitCh  chan struct{}
	closed  chan struct{}
	heard   chan struct{}
	ended   chan *record.Session
	states  chan evsetwin.Transition
	ho      chan record.Event // the SmartEVSE's handover, in the plug-in or after it
	est     chan record.Event // the daemon's SoC estimates, in the plug-in or after it
	capWh   float64           // the capacity the daemon knows of the car whose SoC came; 0: none
	noComm  bool              // the charger reported a car that does not talk
	ids     []int
	t0      time.Time
	// lastQuery returns the query of the twin's last POST /ev_state.
	lastQuery func() string
}

func newObserver(tl *timeline) *observer {
	o := &observer{waitCh: make(chan struct{})}
	o.begin(tl)
	return o
}

// begin makes the next plug-in's timeline and channels current.
func (o *observer) begin(tl *timeline) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.tl, o.active = tl, true
	o.closed, o.heard = make(chan struct{}), make(chan struct{}, 1)
	o.ended, o.states = make(chan *record.Session, 1), make(chan evsetwin.Transition, 256)
	o.ho = make(chan record.Event, 1)
	o.est, o.capWh, o.noComm = make(chan record.Event, 16), 0, false
	o.ids, o.t0 = nil, time.Time{}
}

// plugged notes the plug-in's time and returns the twin's transitions from now on.
func (o *observer) plugged(at time.Time) <-chan evsetwin.Transition {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.t0 = at
	return o.states
}

func (o *observer) start() time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.t0
}

// end stops the plug-in's lines: what follows is not the car's.
func (o *observer) end() {
	o.mu.Lock()
	o.active = false
	o.mu.Unlock()
}

func (o *observer) timeline() *timeline {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.tl
}

func (o *observer) stateIDs() []int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]int(nil), o.ids...)
}

func (o *observer) handoverCh() <-chan record.Event {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.ho
}

// estimateCh returns the plug-in's estimates, and the capacity they can divide by.
func (o *observer) estimateCh() (<-chan record.Event, float64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.est, o.capWh
}

// Late hears of the SmartEVSE's handover, and the SoC estimates, after the
// car's plug-in ended.
func (o *observer) Late(e record.Event, s *record.Session) { o.handover(e) }

func (o *observer) handover(e record.Event) {
	o.mu.Lock()
	var ch chan record.Event
	switch e.Kind {
	case record.KindHandover:
		ch = o.ho
	case record.KindEstimate:
		ch = o.est
	}
	o.mu.Unlock()
	if ch == nil {
		return
	}
	select {
	case ch <- e:
	default:
	}
}

func (o *observer) Event(e record.Event, s *record.Session) {
	o.handover(e)
	o.mu.Lock()
	switch e.Kind {
	case record.KindSLACStarted:
		if !o.waiting {
			o.waiting = true
			close(o.waitCh)
		}
	case record.KindMatched:
		if o.waiting {
			o.waiting = false
			o.waitCh = make(chan struct{})
		}
	case record.KindValues:
		if o.active && s.SoC.Known && s.EnergyCapacityWh.Known {
			o.capWh = s.EnergyCapacityWh.Value
		}
	case record.KindEnded:
		if e.End == record.EndNoComm {
			o.noComm = true
		}
	}
	active, tl, closed := o.active, o.tl, o.closed
	o.mu.Unlock()
	if !active {
		return
	}
	// Told before Run hears of it: Run's next line follows this one.
	tl.event(e, s)
	switch e.Kind {
	case record.KindDelivered:
		o.hear()
	case record.KindEnded:
		if e.End != record.EndLinkLost && e.End != record.EndStopped {
			o.mu.Lock()
			select {
			case <-closed:
			default:
				close(closed)
			}
			o.mu.Unlock()
		}
	}
}

func (o *observer) PlugInEnded(s *record.Session) {
	if s.Phases.Matched.IsZero() && s.End != record.EndNoComm {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.active {
		return
	}
	o.active = false
	o.ended <- s.Clone()
}

// hear notes the sender's first word on this car: its values delivered,
// refused for good, or an attempt failed (and is retried).
func (o *observer) hear() {
	o.mu.Lock()
	defer o.mu.Unlock()
	select {
	case o.heard <- struct{}{}:
	default:
	}
}

// twinState tells the plug-in's timeline what the twin did.
func (o *observer) twinState(tr evsetwin.Transition) {
	o.mu.Lock()
	tl, t0 := o.tl, o.t0
	o.mu.Unlock()
	if t0.IsZero() {
		return
	}
	// The line first: whoever the state wakes may end the timeline.
	tl.twin(tr, o.lastQuery)
	o.mu.Lock()
	o.ids = append(o.ids, int(tr.To))
	select {
	case o.states <- tr:
	default:
	}
	o.mu.Unlock()
}

func (o *observer) awaitWaiting(ctx context.Context, chDone <-chan error) error {
	o.mu.Lock()
	ch := o.waitCh
	o.mu.Unlock()
	select {
	case <-ch:
		return nil
	case err := <-chDone:
		return fmt.Errorf("the charger stopped: %w", err)
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (o *observer) awaitClosed(ctx context.Context, bound time.Duration) error {
	o.mu.Lock()
	ch := o.closed
	o.mu.Unlock()
	return awaitBounded(ctx, ch, bound)
}

func (o *observer) awaitHeard(ctx context.Context, bound time.Duration) error {
	o.mu.Lock()
	ch := o.heard
	o.mu.Unlock()
	return awaitBounded(ctx, ch, bound)
}

// awaitEnded waits for the record of the plug-in's session. With a bound
// it waits no longer (a car that never talked may leave none): nil, nil.
func (o *observer) awaitEnded(ctx context.Context, bound time.Duration) (*record.Session, error) {
	o.mu.Lock()
	ch := o.ended
	o.mu.Unlock()
	var timeout <-chan time.Time
	if bound > 0 {
		t := time.NewTimer(bound)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case rec := <-ch:
		return rec, nil
	case <-timeout:
		return nil, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (o *observer) reportedNoComm() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.noComm
}

func awaitBounded(ctx context.Context, ch <-chan struct{}, bound time.Duration) error {
	t := time.NewTimer(bound)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}
