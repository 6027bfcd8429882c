// Package daemon assembles the charger daemon: the outputs that hear of
// every plug-in (the SmartEVSE, MQTT, the HTTP API with its metrics, the
// recordings and the session history) and the charger over the wire it is
// given. ccslink evse runs it on the modem's interface and sim on a
// simulated modem: the same code, so a simulated car meets what a Pi runs.
package daemon

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/ccslink/ccslink/clock"
	"github.com/ccslink/ccslink/daemon/charger"
	"github.com/ccslink/ccslink/daemon/config"
	"github.com/ccslink/ccslink/daemon/handover"
	"github.com/ccslink/ccslink/daemon/history"
	"github.com/ccslink/ccslink/daemon/output/httpapi"
	"github.com/ccslink/ccslink/daemon/output/metrics"
	"github.com/ccslink/ccslink/daemon/output/mqtt"
	"github.com/ccslink/ccslink/daemon/output/pcap"
	"github.com/ccslink/ccslink/daemon/output/smartevse"
	"github.com/ccslink/ccslink/daemon/vehicle"
	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/secc"
	"github.com/ccslink/ccslink/proto/slac"
	"github.com/ccslink/ccslink/proto/v2gpki"
	"github.com/ccslink/ccslink/record"
)

// Config is the daemon: the configuration file's values and what the
// command adds to them.
type Config struct {
	config.Config
	// CableCheck and PreCharge slow the dc policy down
	// (secc.Config.CableCheckTime, PreChargeTime).
	CableCheck, PreCharge time.Duration
	// MAC is the charger's own Ethernet address, the recordings' source.
	MAC homeplug.MAC
	// RecordDir, if set, is where the recordings go, in place of the
	// state directory's recordings folder.
	RecordDir string
	// Version is the daemon's version, told to MQTT.
	Version string
	// Log receives the daemon's log; nil means none.
	Log *slog.Logger
	// Views hear of every plug-in after the outputs: the command's own
	// account of it (ccslink evse's log line, sim's timeline).
	Views []charger.Subscriber
	// OnDelivery hears of each of the SmartEVSE's results just before the
	// charger does.
	OnDelivery func(smartevse.Delivery)
	// OnAttempt hears of each attempt to post to the SmartEVSE.
	OnAttempt func(smartevse.Delivery)
	// Vehicles, if set, recognises the cars in place of one made from the
	// configuration and the state directory: a simulation that runs one
	// daemon per plug-in keeps what it learnt of the cars.
	Vehicles *vehicle.Recogniser
	// Handovers, if set, is the per-car memory of handover strategies in
	// place of the state directory's (handover.File), kept as Vehicles is.
	Handovers *handover.Memory
	// Clock times the handover strategies' steps and the TLS chain's
	// expiry checks; nil means clock.Real.
	Clock clock.Clock
	// TLSChains are the chains V2G over TLS is served with (none without
	// TLS; one per curve): the daemon warns before each expires and says
	// when it has (watchChains), and exports the earliest expiry of all
	// with the metrics.
	TLSChains []*v2gpki.Chain
}

// Daemon is the outputs, open for the daemon's whole life, and the
// chargers they hear.
type Daemon struct {
	cfg     Config
	policy  secc.PolicyName
	log     *slog.Logger
	subs    []charger.Subscriber
	rec     *pcap.Recorder // nil: no recordings
	serving serving
	web     *httpapi.Server // nil: no HTTP API
	webLn   net.Listener
	cars    *vehicle.Recogniser
	hand    *handing // nil: no SmartEVSE
	closers []func()
}

// New opens the outputs cfg asks for. The HTTP API's port is bound before
// New returns, so that a port in use stops the daemon before it says it
// is ready. Close them with Close once the daemon has stopped.
func New(cfg Config) (_ *Daemon, err error) {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pol, err := secc.ParsePolicy(cfg.Policy)
	if err != nil {
		return nil, err
	}
	d := &Daemon{cfg: cfg, policy: pol, log: log}
	defer func() {
		if err != nil {
			d.Close() // what was opened before
		}
	}()
	// The state directory is for evidence (recordings, past sessions): a
	// daemon that cannot write it still serves cars.
	stateOK := cfg.StateDir != ""
	if stateOK {
		if err := os.MkdirAll(cfg.StateDir, 0o750); err != nil {
			log.Warn("no recordings or session history: the state directory cannot be used", "dir", cfg.StateDir, "err", err)
			stateOK = false
		}
	}
	d.cars = cfg.Vehicles
	if d.cars == nil {
		d.cars = openCars(cfg, stateOK, log)
		// Written beside the charger, so that the car's SoC does not wait for the disk.
		d.closers = append(d.closers, d.cars.SaveInBackground(func(err error) {
			log.Warn("the cars recognised are not remembered for next time", "err", err)
		}))
	}
	recDir := cfg.RecordDir
	if recDir == "" && stateOK && cfg.Recordings.Keep > 0 {
		recDir = filepath.Join(cfg.StateDir, "recordings")
	}
	if recDir != "" {
		rec, err := pcap.New(pcap.Config{Dir: recDir, Keep: cfg.Recordings.Keep, MAC: cfg.MAC[:], Log: log})
		if err != nil {
			log.Warn("no recordings", "err", err)
		} else {
			d.closers = append(d.closers, func() { rec.Close() })
			d.rec = rec
			d.subs = append(d.subs, rec)
		}
	}
	if cfg.SmartEVSE.URL != "" {
		watcher, err := d.handoverWatcher()
		if err != nil {
			return nil, err
		}
		st := d.strategies(stateOK, watcher != nil)
		x1 := d.x1Step()
		sender, err := smartevse.New(smartevse.Config{URL: cfg.SmartEVSE.URL, Timeout: cfg.SmartEVSE.Timeout, Window: cfg.SmartEVSE.Window,
			UpdateInterval: updateInterval(cfg.SmartEVSE.UpdateInterval), Log: log,
			OnResult: func(dl smartevse.Delivery) {
				if cfg.OnDelivery != nil {
					cfg.OnDelivery(dl)
				}
				d.serving.Report(smartevse.Record(dl))
				if dl.Err == nil && watcher != nil {
					watcher.Watch(dl.PlugIn)
				}
				if s, _ := d.hand.Strategy(dl.PlugIn); dl.Err == nil && s == record.StrategyX1ThenPWM && x1 != nil {
					x1()
				}
			},
			OnAttempt: cfg.OnAttempt})
		if err != nil {
			return nil, err
		}
		d.closers = append(d.closers, func() { sender.Close() })
		d.hand = newHanding(smartevse.PlugIns{Sender: sender, VehicleID: cfg.SmartEVSE.VehicleID}, st, d.clock(), log)
		d.subs = append(d.subs, d.hand)
	}
	if cfg.MQTT.Broker != "" {
		m, err := mqtt.New(MQTTConfig(cfg.Config, cfg.Version, log))
		if err != nil {
			return nil, err
		}
		d.closers = append(d.closers, func() { m.Close() })
		d.subs = append(d.subs, m)
	}
	// The session history is kept with or without the API; it is closed
	// after the charger stopped, so its last record reaches the disk.
	dir := ""
	if stateOK {
		dir = cfg.StateDir
	}
	past := history.New(history.Config{Dir: dir, Keep: cfg.Sessions.Keep, Log: log, AwaitHandover: WatchesHandover(cfg.Config)})
	d.closers = append(d.closers, func() { past.Close() })
	d.subs = append(d.subs, past)
	if cfg.HTTP.Listen != "" {
		exp := metrics.New()
		exp.CountServers(d.serving.counts)
		if len(cfg.TLSChains) > 0 {
			exp.TLSChainExpiry(firstNotAfter(cfg.TLSChains))
		}
		d.subs = append(d.subs, exp)
		web, err := httpapi.New(httpapi.Config{Listen: cfg.HTTP.Listen, Token: cfg.HTTP.Token, History: past, Keep: cfg.Sessions.Keep, Metrics: exp.Handler(),
			UpdateInterval: updateInterval(cfg.HTTP.UpdateInterval), Log: log})
		if err != nil {
			return nil, err
		}
		ln, err := listenHTTP(cfg.HTTP.Listen)
		if err != nil {
			return nil, err
		}
		d.closers = append(d.closers, func() { ln.Close() })
		d.web, d.webLn = web, ln
		d.subs = append(d.subs, web)
	}
	d.subs = append(d.subs, cfg.Views...)
	if len(cfg.TLSChains) > 0 {
		d.watchChains(cfg.TLSChains)
	}
	return d, nil
}

// WatchesHandover reports whether a daemon of c watches the SmartEVSE after
// a delivery for AC charging: then every plug-in whose values were
// delivered gets a record.Handover, usually after it ended.
func WatchesHandover(c config.Config) bool {
	if c.SmartEVSE.URL == "" || c.SmartEVSE.Watch <= 0 {
		return false
	}
	_, err := smartevse.SettingsURL(c.SmartEVSE.URL)
	return err == nil
}

// handoverWatcher is the SmartEVSE's watcher after a delivery; nil when
// the configuration turns it off or the URL is another receiver's.
func (d *Daemon) handoverWatcher() (*smartevse.Watcher, error) {
	c := d.cfg.SmartEVSE
	if c.Watch <= 0 {
		return nil, nil
	}
	wc := smartevse.WatchConfig{URL: c.URL, Bound: c.Watch, Timeout: c.Timeout, Log: d.log,
		OnResult: func(e record.Event) { d.serving.Report(d.hand.handover(e)) }}
	var est *estimating
	if c.Follow {
		est = &estimating{efficiency: c.ChargeEfficiency, log: d.log, report: d.serving.Report}
		wc.OnReading = est.reading
		wc.OnPlugged = func(plugged bool, at time.Time) {
			d.Plugged(plugged, at)
			if !plugged {
				est.unplugged(at)
			}
		}
	}
	w, err := smartevse.NewWatcher(wc)
	if errors.Is(err, smartevse.ErrNotSmartEVSE) {
		d.log.Info("not watching for AC charging after the SoC: " + d.cfg.Redacted().SmartEVSE.URL + " posts to another receiver than a SmartEVSE's " + smartevse.DefaultPath + ", which has no GET /settings")
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	d.closers = append(d.closers, func() { w.Close() })
	if est != nil {
		d.subs = append(d.subs, est)
	}
	return w, nil
}

// HandoverStrategy names the handover strategy of the newest plug-in
// whose values came (record.Strategy*); "" before any, or without a SmartEVSE.
func (d *Daemon) HandoverStrategy() string { return d.hand.latest() }

// clock is the daemon's clock for the handover strategies.
func (d *Daemon) clock() clock.Clock {
	if d.cfg.Clock != nil {
		return d.cfg.Clock
	}
	return clock.Real{}
}

// strategies opens the per-car memory of handover strategies (in memory
// alone without a state directory) and names the strategies the
// configuration allows; learnt says whether outcomes are watched at all.
func (d *Daemon) strategies(stateOK, learnt bool) *strategies {
	mem := d.cfg.Handovers
	if mem == nil {
		path := ""
		if stateOK && learnt {
			path = filepath.Join(d.cfg.StateDir, handover.File)
		}
		var err error
		if mem, err = handover.Open(path); err != nil {
			d.log.Warn(err.Error())
		}
	}
	return &strategies{mem: mem, available: Strategies(d.cfg.Config), log: d.log, pin: func(id string) string {
		k, _ := d.cars.Known(id)
		return k.Strategy
	}}
}

// Strategies are the handover strategies a daemon of c tries with a car:
// deliver-now, x1-then-pwm (only when smartevse.write_pwm allows it and
// the URL is a SmartEVSE's), no-negotiation, end-then-deliver; each car
// in its own order (handover.For).
func Strategies(c config.Config) []string {
	available := []string{record.StrategyDeliverNow}
	if c.SmartEVSE.WritePWM {
		if _, err := smartevse.SettingsURL(c.SmartEVSE.URL); err == nil {
			available = append(available, record.StrategyX1ThenPWM)
		}
	}
	return append(available, record.StrategyNoNegotiation, record.StrategyEndThenDeliver)
}

// writesPWM reports whether x1-then-pwm may write override_pwm: the
// configuration allows it and the URL is a SmartEVSE's.
func (d *Daemon) writesPWM() bool {
	return slices.Contains(Strategies(d.cfg.Config), record.StrategyX1ThenPWM)
}

// x1Step returns what starts x1-then-pwm after a delivery, in the
// background until it is done or the daemon closes; nil when the
// configuration does not allow it.
func (d *Daemon) x1Step() func() {
	if !d.writesPWM() {
		return nil
	}
	settings, _ := smartevse.SettingsURL(d.cfg.SmartEVSE.URL)
	post := postPWM(settings, d.cfg.SmartEVSE.Timeout)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	d.closers = append(d.closers, func() { cancel(); wg.Wait() })
	clk := d.clock()
	return func() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := x1ThenPWM(ctx, clk, post); err != nil && ctx.Err() == nil {
				d.log.Warn("x1-then-pwm: "+err.Error(), "err", err)
			}
		}()
	}
}

// Close closes the outputs, the last opened first.
func (d *Daemon) Close() {
	for i := len(d.closers) - 1; i >= 0; i-- {
		d.closers[i]()
	}
	d.closers = nil
}

// HTTPAddr is the address the HTTP API listens on; nil without one.
func (d *Daemon) HTTPAddr() net.Addr {
	if d.webLn == nil {
		return nil
	}
	return d.webLn.Addr()
}

// Wire is what a charger runs over: the HomePlug port of its modem, the
// SDP socket and the V2G listener, and the address SDP announces.
type Wire struct {
	Port     slac.Port
	MAC      homeplug.MAC // the modem's host's address, the charger's own
	SDP      net.PacketConn
	V2G      net.Listener
	Announce netip.AddrPort
	V2GTLS   net.Listener // optional: the SECC's TLS listener (charger.Config.V2GTLS)
}

// Charger builds the charger over w, heard by the outputs and the views.
// Run it with Serve; a daemon serves one charger at a time, and the next
// one (after the interface came back) numbers its plug-ins on.
func (d *Daemon) Charger(w Wire) (*charger.Charger, error) {
	seccCfg := secc.Config{Policy: d.policy, EVSEID: d.cfg.EVSEID, Log: d.log, CableCheckTime: d.cfg.CableCheck, PreChargeTime: d.cfg.PreCharge}
	if v := d.cfg.V2G; v.ISO20 || v.ISO20First {
		seccCfg.Preference = secc.PreferenceISO20(d.policy, v.ISO20First)
	}
	port := w.Port
	if d.rec != nil {
		port, seccCfg.Tap = d.rec.Tap(port), d.rec.V2G
	}
	slacCfg := slac.Config{MAC: w.MAC, Log: d.log}
	var before func(*record.Session) string
	if d.hand != nil {
		// The strategies that act before V2G, decided at the car's CM_SLAC_MATCH.REQ.
		pre := &preV2G{st: d.hand.st, cars: d.cars, hand: d.hand, log: d.log}
		slacCfg.IdentifyOnly, seccCfg.Decline, before = pre.identifyOnly, pre.decline, pre.beforeV2G
	}
	evse := slac.NewEVSE(port, clock.Real{}, slacCfg)
	ch, err := charger.New(charger.Config{SLAC: evse, SDP: w.SDP, V2G: w.V2G, Announce: w.Announce, V2GTLS: w.V2GTLS, SECC: seccCfg, Log: d.log, PlugInsBefore: d.serving.next(),
		NoCommAfter: d.cfg.SLAC.InitTimeout, Recognise: d.recognise, CapacityFallback: d.capacity, BeforeV2G: before})
	if err != nil {
		return nil, err
	}
	for _, s := range d.subs {
		ch.Subscribe(s)
	}
	return ch, nil
}

// openCars makes the recogniser of the configuration's cars and of the
// cars remembered in the state directory (in memory alone without one).
func openCars(cfg Config, stateOK bool, log *slog.Logger) *vehicle.Recogniser {
	var known []vehicle.Known
	for _, c := range cfg.Cars {
		k := vehicle.Known{Name: c.Name, ID: c.ID, CapacityWh: c.CapacityWh, Strategy: c.Strategy}
		for _, m := range c.MACs {
			if v, mask, ok := config.MACPattern(m); ok {
				k.Patterns = append(k.Patterns, vehicle.Pattern{Value: v, Mask: mask})
			}
		}
		known = append(known, k)
	}
	if !stateOK {
		return vehicle.New(known, nil)
	}
	mem, err := vehicle.OpenMemory(filepath.Join(cfg.StateDir, vehicle.MemoryFile))
	if err != nil {
		log.Warn(err.Error())
	}
	return vehicle.New(known, mem)
}

// recognise tells which car the plug-in s is (charger.Config.Recognise).
func (d *Daemon) recognise(s *record.Session, at time.Time) *record.Vehicle {
	v, ok, err := d.cars.Recognise(s, at)
	if err != nil {
		d.log.Warn("the car is recognised but not remembered for next time", "err", err)
	}
	if !ok {
		return nil
	}
	return &v
}

// capacity is the capacity fallback of the car s (charger.Config.CapacityFallback):
// the known car's, else capacity_fallback's for the car recognised (its
// ID), for the EVCCID of the session, then for any car ("*").
func (d *Daemon) capacity(s *record.Session) (float64, bool) {
	ids := []string{s.EVCCIDHex()}
	if v := s.Vehicle; v != nil {
		if k, ok := d.cars.Known(v.ID); ok && k.CapacityWh > 0 {
			return float64(k.CapacityWh), true
		}
		ids = []string{v.ID, s.EVCCIDHex()}
	}
	for _, id := range ids {
		for _, e := range d.cfg.CapacityFallback {
			if id != "" && e.EVCCID == id {
				return float64(e.CapacityWh), true
			}
		}
	}
	wh, ok := d.cfg.Capacity("")
	return float64(wh), ok
}

// Serve runs ch, the charger in service, until ctx ends or it fails.
func (d *Daemon) Serve(ctx context.Context, ch *charger.Charger) error {
	d.serving.start(ch)
	defer d.serving.stop()
	return ch.Run(ctx)
}

// Plugged tells the charger in service that a car was plugged in and the
// charger's 5 % PWM began at at, or that the control pilot went back to
// state A (charger.Charger.Plugged): the input of a watcher of the
// charger's own state, such as a SmartEVSE's GET /settings. Between two
// chargers it is dropped.
func (d *Daemon) Plugged(plugged bool, at time.Time) { d.serving.Plugged(plugged, at) }

// Run serves the HTTP API while serve runs, until ctx ends or either
// fails: an API that stops by itself (its port taken) stops serve too.
func (d *Daemon) Run(ctx context.Context, serve func(context.Context) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	webDone := make(chan error, 1)
	if d.web != nil {
		go func() {
			err := d.web.ServeListener(ctx, d.webLn)
			if err != nil {
				cancel(err)
			}
			webDone <- err
		}()
	}
	err := serve(ctx)
	cancel(nil)
	if d.web != nil {
		if werr := <-webDone; err == nil {
			err = werr
		}
	}
	return err
}
