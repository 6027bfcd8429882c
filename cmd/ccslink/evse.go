package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/ccslink/ccslink/daemon"
	"github.com/ccslink/ccslink/daemon/charger"
	"github.com/ccslink/ccslink/daemon/config"
	"github.com/ccslink/ccslink/daemon/netif"
	"github.com/ccslink/ccslink/daemon/output/smartevse"
	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/sdp"
	"github.com/ccslink/ccslink/proto/secc"
	"github.com/ccslink/ccslink/proto/v2gpki"
	"github.com/ccslink/ccslink/record"
)

func init() {
	register(command{
		name:    "evse",
		summary: "the charger daemon: match each car, read its SoC and hand it to the SmartEVSE",
		run:     runEVSE,
	})
}

// smartEVSEWait is how long a SmartEVSE waits at 5 % PWM for the SoC
// before it charges without it.
const smartEVSEWait = 60 * time.Second

// defaultIfaceWait bounds each wait for the interface. Duplicate address
// detection takes 1-2 s, a modem driver's reload a few; an interface not
// back by then needs a person, or the fresh start that the service
// manager gives a daemon that exits with an error.
const defaultIfaceWait = 30 * time.Second

// defaultConfig is where the daemon looks for its configuration when
// --config is not given; a missing file there means the defaults.
const defaultConfig = "/etc/ccslink/ccslink.yaml"

func runEVSE(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("evse", "evse [--config FILE] [--name NAME] [--iface IF] [--smartevse URL] [--policy soc|dc|ac] [--http ADDR] [--mqtt URL] [--emulate-modem] [--iface-wait 30s] [--tls DIR [--tls DIR2]] [--json] [-v]", stderr)
	cfgPath := fs.String("config", defaultConfig, "the configuration file (YAML, or a pyPLC.ini); flags override it")
	fs.String("iface", "", "network interface of the HomePlug modem (default eth1)")
	fs.String("name", "", "this daemon's name on the MQTT broker and in Home Assistant, unique per broker (default: the host's name and the interface, e.g. pi-garage-eth1)")
	fs.String("smartevse", "", "the SmartEVSE to post the car's SoC to: its base URL (http://10.0.0.1) or the full /ev_state URL")
	fs.String("policy", "", "soc (read the SoC, then end the DC attempt so the car charges on AC), dc (a full emulated DC session), ac (an ISO 15118-2 AC session); default soc")
	fs.Bool("emulate-modem", false, "emulate the modem on the interface (a veth pair then acts as two modems on a cable)")
	fs.Int("v2g-port", 0, "TCP port of the V2G server, announced by SDP; 0 picks a free one")
	sdpPort := fs.Int("sdp-port", sdp.Port, "UDP port of SDP")
	ifaceWait := fs.Duration("iface-wait", defaultIfaceWait, "how long to wait for the interface: at start for its IPv6 link-local address, after it disappears (a modem driver reset) for it to return; then exit with an error")
	fs.String("evseid", "", "the charger's EVSEID (ISO 15118-2 text such as DE*ABC*E1234; DIN as hex)")
	fs.String("http", "", "serve the API, the live page and /metrics on this address (e.g. 127.0.0.1:8080; elsewhere than loopback needs http.token in the config)")
	fs.String("mqtt", "", "publish to this MQTT broker (tcp://host:1883), with Home Assistant discovery")
	fs.String("state-dir", "", "where recordings and past sessions are kept (default /var/lib/ccslink)")
	cableCheck := fs.Duration("dc-cable-check", 0, "with --policy dc, for testing cars: answer CableCheck Ongoing this long, as a real DC charger's isolation check takes seconds")
	preCharge := fs.Duration("dc-precharge", 0, "with --policy dc, for testing cars: raise the voltage to the car's target over this long in PreCharge")
	var tlsDirs dirsFlag
	fs.Var(&tlsDirs, "tls", "also serve V2G over TLS with the certificate chain in `DIR` (ccslink pki init DIR makes a test one); SDP offers it to cars that ask for TLS, the plain port stays for the others; give it twice for ISO 15118-2's chain on P-256 and -20's on P-521, and each car gets its edition's")
	tlsPort := fs.Int("tls-port", 0, "with --tls, TCP port of the V2G server over TLS; 0 picks a free one")
	tlsCarRoot := fs.String("tls-car-root", "", "with --tls, ask every car over TLS for its certificate and accept only those that lead to the roots in this PEM file (mutual authentication)")
	tlsKeyLog := fs.String("tls-keylog", "", "with --tls, append the TLS sessions' secrets to this file (mode 0600), so that a recording can be decrypted for a bug report; off by default; SSLKEYLOGFILE, when set, does the same")
	asJSON := fs.Bool("json", false, "print one JSON line per plug-in (the session record)")
	verbose := fs.Bool("v", false, "log every step (SLAC, every V2G request) to stderr")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ccslink evse: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	explicit := false
	fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "config" })
	cfg, err := loadConfig(*cfgPath, explicit)
	if err != nil {
		fmt.Fprintf(stderr, "ccslink evse: %v\n", err)
		return 2
	}
	if err := overlayFlags(&cfg, fs); err != nil {
		fmt.Fprintf(stderr, "ccslink evse: %v\n", err)
		return 2
	}
	if *verbose {
		cfg.Log.Level = "debug"
	}
	nameDaemon(&cfg)
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "ccslink evse: %v\n", err)
		return 2
	}
	pol, err := secc.ParsePolicy(cfg.Policy)
	if err != nil {
		fmt.Fprintf(stderr, "ccslink evse: %v\n", err)
		return 2
	}
	if (*cableCheck != 0 || *preCharge != 0) && pol != secc.PolicyDC || *cableCheck < 0 || *preCharge < 0 {
		fmt.Fprintf(stderr, "ccslink evse: --dc-cable-check and --dc-precharge take a positive duration and need --policy dc\n")
		return 2
	}
	if *ifaceWait <= 0 {
		fmt.Fprintf(stderr, "ccslink evse: --iface-wait %v: give a duration above zero, such as 30s\n", *ifaceWait)
		return 2
	}
	if cfg.SmartEVSE.URL != "" {
		if _, err := smartevse.Endpoint(cfg.SmartEVSE.URL); err != nil {
			fmt.Fprintf(stderr, "ccslink evse: smartevse.url: %v\n", err)
			return 2
		}
	}
	log := newLogger(stderr, logLevel(cfg.Log.Level))
	tc, chains, closeTLS, err := evseTLS(tlsFlags{dirs: tlsDirs, port: *tlsPort, carRoot: *tlsCarRoot, keyLog: *tlsKeyLog}, cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "ccslink evse: %v\n", err)
		return 2
	}
	defer closeTLS()

	ctx, stop := stopContext(log)
	defer stop()
	d := daemonConfig{Config: cfg, policy: pol, sdpPort: *sdpPort, json: *asJSON, log: log, out: stdout, ifaceWait: *ifaceWait, tls: tc, tlsChains: chains, tlsPort: *tlsPort}
	d.cableCheck, d.preCharge = *cableCheck, *preCharge
	if err := runDaemon(ctx, d); err != nil {
		fmt.Fprintf(stderr, "ccslink evse: %v\n", err)
		return 1
	}
	return 0
}

// loadConfig reads the configuration: path, when it was asked for or
// exists; the defaults otherwise.
func loadConfig(path string, explicit bool) (config.Config, error) {
	if !explicit {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return config.Default(), nil
		}
	}
	return config.Load(path)
}

// overlayFlags puts the flags given on the command line over the file's values.
func overlayFlags(c *config.Config, fs *flag.FlagSet) error {
	var err error
	fs.Visit(func(f *flag.Flag) {
		v := f.Value.String()
		switch f.Name {
		case "iface":
			c.Interface = v
		case "name":
			c.Name = v
		case "smartevse":
			c.SmartEVSE.URL = v
		case "policy":
			c.Policy = v
		case "emulate-modem":
			c.EmulateModem = v == "true"
		case "v2g-port":
			c.V2GPort, err = strconv.Atoi(v)
		case "evseid":
			c.EVSEID = v
		case "http":
			c.HTTP.Listen = v
		case "mqtt":
			c.MQTT.Broker = v
		case "state-dir":
			c.StateDir = v
		}
	})
	return err
}

func logLevel(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelInfo
	}
	return l
}

type daemonConfig struct {
	config.Config
	policy  secc.PolicyName
	sdpPort int
	json    bool
	log     *slog.Logger
	out     io.Writer
	// ifaceWait bounds each wait for the interface: at start for its
	// link-local address, after a driver reset for it to come back.
	ifaceWait time.Duration

	// cableCheck and preCharge slow the dc policy down (secc.Config.CableCheckTime, PreChargeTime).
	cableCheck, preCharge time.Duration

	// tls, if set, serves V2G over TLS too, on tlsPort (0: a free one),
	// with tlsChains, whose expiry the daemon watches.
	tls       *tls.Config
	tlsChains []*v2gpki.Chain
	tlsPort   int
}

// runDaemon runs the charger until ctx ends. The outputs (SmartEVSE, MQTT,
// the HTTP API, recordings) live as long as the daemon; the parts bound to
// the interface (the HomePlug port, SDP, V2G and the charger over them)
// are opened on it again whenever it comes back after a driver reset.
func runDaemon(ctx context.Context, d daemonConfig) error {
	if len(d.Outputs()) == 0 {
		d.log.Warn(noOutputs)
	}
	if _, err := net.InterfaceByName(d.Interface); err != nil {
		return interfaceError(d.Interface, err)
	}
	watch, err := netif.Watch(d.Interface)
	if err != nil {
		return err
	}
	defer watch.Close()
	l, err := watch.Ready(ctx, d.ifaceWait, d.waiting)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	mac, err := homeplug.MACFrom(l.MAC)
	if err != nil {
		return fmt.Errorf("interface %s has no Ethernet address: %w", d.Interface, err)
	}
	bi, _ := debug.ReadBuildInfo()
	view := &plugInLog{log: d.log, json: d.json, out: d.out, smartEVSE: d.SmartEVSE.URL != "", handover: daemon.WatchesHandover(d.Config)}
	dm, err := daemon.New(daemon.Config{Config: d.Config, CableCheck: d.cableCheck, PreCharge: d.preCharge, MAC: mac,
		Version: readVersion(version, commit, bi).Version, Log: d.log,
		Views: []charger.Subscriber{view}, TLSChains: d.tlsChains})
	if err != nil {
		return err
	}
	defer view.flush()
	defer dm.Close()
	return dm.Run(ctx, func(ctx context.Context) error { return serveIfaces(ctx, d, watch, l, dm) })
}

// errIfaceLost is how serveIface says the interface went away.
var errIfaceLost = errors.New("the interface went away")

// lossGrace is how long a socket's error waits for the kernel's notice
// that the interface went away, which may come a moment after it.
const lossGrace = 2 * time.Second

// serveIfaces serves cars on the interface l, and again each time it comes
// back after it went away, until ctx ends. It fails when the interface is
// not back and usable within d.ifaceWait, or its sockets cannot be opened
// again: the service manager then starts the daemon afresh.
func serveIfaces(ctx context.Context, d daemonConfig, watch *netif.Watcher, l netif.Link, dm *daemon.Daemon) error {
	var lostAt time.Time // zero at start
	for {
		err := serveIface(ctx, d, watch, l, dm, lostAt)
		if !errors.Is(err, errIfaceLost) {
			if err != nil && !lostAt.IsZero() {
				return fmt.Errorf("%s came back, but serving cars on it again failed: %w; exiting so that the service manager starts ccslink afresh", d.Interface, err)
			}
			return err
		}
		lostAt = time.Now()
		d.log.Warn(fmt.Sprintf("%s disappeared (modem driver reset?); waiting for it to return", d.Interface), "within", d.ifaceWait)
		if l, err = watch.Ready(ctx, d.ifaceWait, d.waiting); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("%s disappeared and did not return: %w; exiting so that the service manager starts ccslink afresh", d.Interface, err)
		}
	}
}

// waiting logs why the daemon waits for its interface.
func (d daemonConfig) waiting(why *netif.NotReadyError) {
	args := []any{"why", why.Reason.String(), "within", d.ifaceWait}
	if why.Addr.IsValid() {
		args = append(args, "address", why.Addr.WithZone("").String())
	}
	d.log.Info("waiting for "+d.Interface, args...)
}

// serveIface opens the HomePlug port, SDP and V2G on the interface l and
// serves cars there until ctx ends (nil) or the interface goes away
// (errIfaceLost; the plug-in in progress ends as interface_lost). lostAt
// is when it last went away; zero at start.
func serveIface(ctx context.Context, d daemonConfig, watch *netif.Watcher, l netif.Link, dm *daemon.Daemon, lostAt time.Time) error {
	ch, announce, closeAll, err := openIface(ctx, d, l, dm)
	if err != nil {
		if !lostAt.IsZero() && goneWithin(ctx, watch, l, lossGrace) {
			return errIfaceLost // gone again while it was being opened
		}
		return err
	}
	defer closeAll()

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	gone := make(chan struct{})
	go func() {
		if watch.WaitGone(ctx, l) == nil {
			close(gone) // before the cancellation, which Run returns on
			cancel(&charger.Stop{End: record.EndIfaceLost, Detail: d.Interface + " disappeared (modem driver reset?)"})
		}
	}()
	if lostAt.IsZero() {
		d.log.Info("ready: waiting for a car", "name", d.Name, "interface", d.Interface, "policy", d.policy.String(), "v2g", announce.String(),
			"smartevse", d.SmartEVSE.URL, "http", d.HTTP.Listen, "mqtt", d.MQTT.Broker)
	} else {
		d.log.Info(fmt.Sprintf("%s is back; serving cars again", d.Interface), "after", time.Since(lostAt).Round(time.Millisecond), "v2g", announce.String())
	}
	err = dm.Serve(ctx, ch)
	select {
	case <-gone:
		return errIfaceLost
	default:
	}
	if err != nil && goneWithin(ctx, watch, l, lossGrace) {
		return errIfaceLost // the socket failed as the interface went
	}
	return err
}

// openIface opens the interface-bound parts on l: the HomePlug port (behind
// an emulated modem with --emulate-modem), the SDP socket, the V2G
// listener on l's link-local address, and dm's charger over them.
func openIface(ctx context.Context, d daemonConfig, l netif.Link, dm *daemon.Daemon) (ch *charger.Charger, announce netip.AddrPort, closeAll func(), err error) {
	var closers []func()
	closeParts := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	defer func() {
		if err != nil {
			closeParts()
		}
	}()
	hp, mac, _, closeHP, err := homePlugPort(ctx, d.Interface, d.EmulateModem, true)
	if err != nil {
		return nil, announce, nil, err
	}
	closers = append(closers, closeHP)
	sdpConn, err := sdp.Listen(d.Interface, d.sdpPort)
	if err != nil {
		return nil, announce, nil, err
	}
	closers = append(closers, func() { sdpConn.Close() })
	// The zone by index: Go's table of interface names may still hold the
	// index of the interface that went away.
	ln, err := secc.Listen(net.JoinHostPort(l.LinkLocal.WithZone(strconv.Itoa(l.Index)).String(), strconv.Itoa(d.V2GPort)))
	if err != nil {
		return nil, announce, nil, err
	}
	closers = append(closers, func() { ln.Close() })
	announce = netip.AddrPortFrom(l.LinkLocal.WithZone(""), uint16(ln.Addr().(*net.TCPAddr).Port))
	w := daemon.Wire{Port: hp, MAC: mac, SDP: sdpConn, V2G: ln, Announce: announce}
	if d.tls != nil {
		tln, err := secc.Listen(net.JoinHostPort(l.LinkLocal.WithZone(strconv.Itoa(l.Index)).String(), strconv.Itoa(d.tlsPort)))
		if err != nil {
			return nil, announce, nil, err
		}
		closers = append(closers, func() { tln.Close() })
		w.V2GTLS = tls.NewListener(tln, d.tls)
		d.log.Info("V2G over TLS", "port", tln.Addr().(*net.TCPAddr).Port)
	}

	ch, err = dm.Charger(w)
	if err != nil {
		return nil, announce, nil, err
	}
	return ch, announce, closeParts, nil
}

// goneWithin reports whether l goes away within wait.
func goneWithin(ctx context.Context, watch *netif.Watcher, l netif.Link, wait time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	return watch.WaitGone(ctx, l) == nil
}

// plugInLog tells the user what happened to their car: one summary line
// per plug-in (or the record as JSON). With the SmartEVSE watched after a
// delivery (handover), the line of a plug-in whose values were delivered
// waits for what the SmartEVSE did next, which comes after the car's V2G
// session, usually after the plug-in ended.
type plugInLog struct {
	log       *slog.Logger
	json      bool
	smartEVSE bool
	handover  bool
	mu        sync.Mutex
	out       io.Writer
	held      []*record.Session // plug-ins whose line waits for their handover, oldest first
}

// maxHeld bounds the lines waiting for a handover: a watch ends within
// its bound, long before that many cars came and went.
const maxHeld = 8

func (p *plugInLog) Event(e record.Event, s *record.Session) {
	switch e.Kind {
	case record.KindMatched:
		p.log.Info("car matched", "car", e.EVMAC)
	case record.KindValues:
		if s.Harvest(e) {
			p.log.Info("the car sent its values", "soc", s.SoC.OrMinus(), "capacity_wh", s.EnergyCapacityWh.OrMinus())
		}
	case record.KindDelivered:
		d := e.Delivery
		if d.OK && !s.Phases.Matched.IsZero() && d.At.Sub(s.Phases.Matched) > smartEVSEWait {
			p.log.Warn("the SoC reached the SmartEVSE more than 60 s after the car started matching; the SmartEVSE may have started charging without it")
		}
	}
}

func (p *plugInLog) PlugInEnded(s *record.Session) {
	if s.Phases.Matched.IsZero() && s.End != record.EndNoComm {
		return // no car: the daemon keyed its modem afresh
	}
	if p.handover && !s.Phases.Delivered.IsZero() && s.Handover == nil {
		p.mu.Lock()
		var drop *record.Session
		if len(p.held) == maxHeld {
			drop, p.held = p.held[0], p.held[1:]
		}
		p.held = append(p.held, s.Clone())
		p.mu.Unlock()
		if drop != nil {
			p.say(drop)
		}
		return
	}
	p.say(s)
}

// say writes the plug-in's summary line, or its record as JSON.
func (p *plugInLog) say(s *record.Session) {
	if p.json {
		b, _ := json.Marshal(s)
		p.mu.Lock()
		fmt.Fprintf(p.out, "%s\n", b)
		p.mu.Unlock()
		return
	}
	line := s.Summary() + vehicleWords(s.Vehicle)
	switch {
	case !p.smartEVSE:
	case !s.Phases.Delivered.IsZero():
		from := s.Phases.FirstCPD // the SoC; or the EVCCID alone
		if from.IsZero() {
			from = s.Phases.SessionSetup
		}
		line += fmt.Sprintf(", sent to SmartEVSE in %d ms", s.Phases.Delivered.Sub(from).Milliseconds())
		if s.Handover != nil {
			line += "; " + s.Handover.Words()
		}
	case len(s.Deliveries) > 0:
		line += ", NOT delivered to SmartEVSE: " + s.Deliveries[len(s.Deliveries)-1].Result
	case s.SoC.Known || s.EVCCID != nil:
		line += ", SmartEVSE not reached yet: still trying"
	default:
		line += ", nothing sent to SmartEVSE"
	}
	p.log.Info(line, "end", s.End.Words())
}

// vehicleWords says which car the plug-in was, for the summary line, e.g.
// ", the ID.3 (007dfa083117) by its fingerprint, confidence 0.83".
func vehicleWords(v *record.Vehicle) string {
	if v == nil {
		return ""
	}
	name := v.Name
	if name == "" {
		name = "car"
	}
	switch v.By {
	case record.ByNew:
		return fmt.Sprintf(", a new %s (%s), remembered", name, v.ID)
	case record.ByFingerprint:
		return fmt.Sprintf(", the %s (%s) by its fingerprint, confidence %.2f", name, v.ID, v.Confidence)
	case record.ByConfig:
		return fmt.Sprintf(", the %s (%s) of the cars list", name, v.ID)
	}
	return fmt.Sprintf(", the %s (%s) by its MAC", name, v.ID)
}

// take removes the held plug-in numbered n; nil when none is held.
func (p *plugInLog) take(n uint64) *record.Session {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, h := range p.held {
		if h.PlugIn == n {
			p.held = append(p.held[:i], p.held[i+1:]...)
			return h
		}
	}
	return nil
}

// flush writes the lines still waiting for their handover, as they are:
// the daemon is stopping and no watch will end.
func (p *plugInLog) flush() {
	p.mu.Lock()
	held := p.held
	p.held = nil
	p.mu.Unlock()
	for _, s := range held {
		p.say(s)
	}
}

// Late says what became of a SmartEVSE delivery that outlived its car's
// plug-in, and what the SmartEVSE did after it: the held summary line, or
// a line of its own when the summary was written already.
func (p *plugInLog) Late(e record.Event, s *record.Session) {
	if e.Kind == record.KindHandover && e.Handover != nil {
		if p.take(s.PlugIn) != nil {
			p.say(s)
			return
		}
		if p.json {
			return
		}
		msg := fmt.Sprintf("car %s: after its values reached the SmartEVSE: %s", s.EVMAC, e.Handover.Words())
		if e.Handover.Outcome() == record.OutcomeNoAC {
			p.log.Warn(msg)
		} else {
			p.log.Info(msg)
		}
		return
	}
	d := e.Delivery
	if e.Kind != record.KindDelivered || d == nil || p.json {
		return
	}
	car := s.EVMAC
	if d.OK {
		p.log.Info(fmt.Sprintf("car %s: its values reached the SmartEVSE after the car left (%s)", car, d.Result))
		return
	}
	p.log.Warn(fmt.Sprintf("car %s: its values were NOT delivered to the SmartEVSE: %s", car, d.Result))
}
