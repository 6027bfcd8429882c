package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/ccslink/ccslink/charger"
	"github.com/ccslink/ccslink/clock"
	"github.com/ccslink/ccslink/config"
	"github.com/ccslink/ccslink/history"
	"github.com/ccslink/ccslink/output/httpapi"
	"github.com/ccslink/ccslink/output/metrics"
	"github.com/ccslink/ccslink/output/mqtt"
	"github.com/ccslink/ccslink/output/smartevse"
	"github.com/ccslink/ccslink/record"
	"github.com/ccslink/ccslink/recording"
	"github.com/ccslink/ccslink/sdp"
	"github.com/ccslink/ccslink/secc"
	"github.com/ccslink/ccslink/slac"
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

// defaultConfig is where the daemon looks for its configuration when
// --config is not given; a missing file there means the defaults.
const defaultConfig = "/etc/ccslink/ccslink.yaml"

func runEVSE(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("evse", "evse [--config FILE] [--iface IF] [--smartevse URL] [--policy soc|dc|ac] [--http ADDR] [--mqtt URL] [--emulate-modem] [--json] [-v]", stderr)
	cfgPath := fs.String("config", defaultConfig, "the configuration file (YAML, or a pyPLC.ini); flags override it")
	fs.String("iface", "", "network interface of the HomePlug modem (default eth1)")
	fs.String("smartevse", "", "the SmartEVSE to post the car's SoC to: its base URL (http://10.0.0.1) or the full /ev_state URL")
	fs.String("policy", "", "soc (read the SoC, then end the DC attempt so the car charges on AC), dc (a full emulated DC session), ac (an ISO 15118-2 AC session); default soc")
	fs.Bool("emulate-modem", false, "emulate the modem on the interface (a veth pair then acts as two modems on a cable)")
	fs.Int("v2g-port", 0, "TCP port of the V2G server, announced by SDP; 0 picks a free one")
	sdpPort := fs.Int("sdp-port", sdp.Port, "UDP port of SDP")
	fs.String("evseid", "", "the charger's EVSEID (ISO 15118-2 text such as DE*ABC*E1234; DIN as hex)")
	fs.String("http", "", "serve the API, the live page and /metrics on this address (e.g. 127.0.0.1:8080; elsewhere than loopback needs http.token in the config)")
	fs.String("mqtt", "", "publish to this MQTT broker (tcp://host:1883), with Home Assistant discovery")
	fs.String("state-dir", "", "where recordings and past sessions are kept (default /var/lib/ccslink)")
	cableCheck := fs.Duration("dc-cable-check", 0, "with --policy dc, for testing cars: answer CableCheck Ongoing this long, as a real DC charger's isolation check takes seconds")
	preCharge := fs.Duration("dc-precharge", 0, "with --policy dc, for testing cars: raise the voltage to the car's target over this long in PreCharge")
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
	if cfg.SmartEVSE.URL != "" {
		if _, err := smartevse.Endpoint(cfg.SmartEVSE.URL); err != nil {
			fmt.Fprintf(stderr, "ccslink evse: smartevse.url: %v\n", err)
			return 2
		}
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: logLevel(cfg.Log.Level)}))

	ctx, stop := stopContext(log)
	defer stop()
	d := daemonConfig{Config: cfg, policy: pol, sdpPort: *sdpPort, json: *asJSON, log: log, out: stdout}
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
			if c.MQTT.Prefix == "ccslink/"+c.Interface+"/" {
				c.MQTT.Prefix = "ccslink/" + v + "/"
			}
			c.Interface = v
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
	policy  secc.Policy
	sdpPort int
	json    bool
	log     *slog.Logger
	out     io.Writer

	// cableCheck and preCharge slow the dc policy down (secc.Config.CableCheckTime, PreChargeTime).
	cableCheck, preCharge time.Duration
}

// runDaemon runs the charger on one interface until ctx ends.
func runDaemon(ctx context.Context, d daemonConfig) error {
	hp, mac, _, closeHP, err := homePlugPort(ctx, d.Interface, d.EmulateModem, true)
	if err != nil {
		return err
	}
	defer closeHP()
	ll, err := sdp.LinkLocal(d.Interface)
	if err != nil {
		return err
	}
	sdpConn, err := sdp.Listen(d.Interface, d.sdpPort)
	if err != nil {
		return err
	}
	defer sdpConn.Close()
	ln, err := secc.Listen(net.JoinHostPort(ll.WithZone(d.Interface).String(), strconv.Itoa(d.V2GPort)))
	if err != nil {
		return err
	}
	defer ln.Close()
	announce := netip.AddrPortFrom(ll.WithZone(""), uint16(ln.Addr().(*net.TCPAddr).Port))

	seccCfg := secc.Config{Policy: d.policy, EVSEID: d.EVSEID, Log: d.log, CableCheckTime: d.cableCheck, PreChargeTime: d.preCharge}
	var subs []charger.Subscriber
	var port slac.Port = hp
	// The state directory is for evidence (recordings, past sessions): a
	// daemon that cannot write it still serves cars.
	stateOK := d.StateDir != ""
	if stateOK {
		if err := os.MkdirAll(d.StateDir, 0o750); err != nil {
			d.log.Warn("no recordings or session history: the state directory cannot be used", "dir", d.StateDir, "err", err)
			stateOK = false
		}
	}
	if stateOK && d.Recordings.Keep > 0 {
		rec, err := recording.New(recording.Config{Dir: filepath.Join(d.StateDir, "recordings"), Keep: d.Recordings.Keep, MAC: mac[:], Log: d.log})
		if err != nil {
			d.log.Warn("no recordings", "err", err)
		} else {
			defer rec.Close()
			port, seccCfg.Tap = rec.Tap(port), rec.V2G
			subs = append(subs, rec)
		}
	}
	evse := slac.NewEVSE(port, clock.Real{}, slac.Config{MAC: mac, Log: d.log})
	ch, err := charger.New(charger.Config{SLAC: evse, SDP: sdpConn, V2G: ln, Announce: announce, SECC: seccCfg, Log: d.log,
		CapacityFallback: func(id string) (float64, bool) { wh, ok := d.Capacity(id); return float64(wh), ok }})
	if err != nil {
		return err
	}
	var sender *smartevse.Sender
	if d.SmartEVSE.URL != "" {
		sender, err = smartevse.New(smartevse.Config{URL: d.SmartEVSE.URL, Timeout: d.SmartEVSE.Timeout, Window: d.SmartEVSE.Window, Log: d.log, OnResult: func(dl smartevse.Delivery) {
			ch.Report(smartevse.Record(dl))
		}})
		if err != nil {
			return err
		}
		defer sender.Close()
		subs = append(subs, smartevse.PlugIns{Sender: sender})
	}
	if d.MQTT.Broker != "" {
		m, err := mqtt.New(mqtt.Config{Broker: d.MQTT.Broker, Interface: d.Interface, Username: d.MQTT.Username, Password: d.MQTT.Password,
			Prefix: d.MQTT.Prefix, NoDiscovery: !d.MQTT.HomeAssistant, Log: d.log})
		if err != nil {
			return err
		}
		defer m.Close()
		subs = append(subs, m)
	}
	// The session history is kept with or without the API; it is closed
	// after the charger stopped, so its last record reaches the disk.
	dir := ""
	if stateOK {
		dir = d.StateDir
	}
	past := history.New(history.Config{Dir: dir, Keep: d.Sessions.Keep, Log: d.log})
	defer past.Close()
	subs = append(subs, past)
	var web *httpapi.Server
	if d.HTTP.Listen != "" {
		exp := metrics.New()
		exp.CountServers(func() metrics.ServerCounts {
			st := ch.SDPStats()
			return metrics.ServerCounts{SDPAnswered: st.Answered, SDPLimited: st.Limited, SDPDropped: st.Dropped, V2GRefused: ch.V2GRefused()}
		})
		subs = append(subs, exp)
		web, err = httpapi.New(httpapi.Config{Listen: d.HTTP.Listen, Token: d.HTTP.Token, History: past, Keep: d.Sessions.Keep, Metrics: exp.Handler(), Log: d.log})
		if err != nil {
			return err
		}
		defer web.Close() // runs once the charger has stopped: the last records are written
		subs = append(subs, web)
	}
	subs = append(subs, &plugInLog{log: d.log, json: d.json, out: d.out, smartEVSE: sender != nil})
	for _, s := range subs {
		ch.Subscribe(s)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	webDone := make(chan error, 1)
	if web != nil {
		go func() { webDone <- web.Serve(ctx) }()
	}
	d.log.Info("ready: waiting for a car", "interface", d.Interface, "policy", d.policy.String(), "v2g", announce.String(),
		"smartevse", d.SmartEVSE.URL, "http", d.HTTP.Listen, "mqtt", d.MQTT.Broker)
	chDone := make(chan error, 1)
	go func() { chDone <- ch.Run(ctx) }()
	select {
	case err = <-chDone:
		cancel()
		if web != nil {
			<-webDone
		}
	case werr := <-webDone:
		// The API stopped by itself (its port is taken): stop the daemon too.
		cancel()
		if err = <-chDone; err == nil && werr != nil {
			err = werr
		}
	}
	return err
}

// plugInLog tells the user what happened to their car: one summary line
// per plug-in (or the record as JSON).
type plugInLog struct {
	log       *slog.Logger
	json      bool
	smartEVSE bool
	mu        sync.Mutex
	out       io.Writer
}

func (p *plugInLog) Event(e record.Event, s *record.Session) {
	switch e.Kind {
	case record.KindMatched:
		p.log.Info("car matched", "car", e.EVMAC)
	case record.KindValues:
		if e.Message == "ChargeParameterDiscoveryReq" && s.Phases.FirstCPD.Equal(e.At) {
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
	if s.Phases.Matched.IsZero() {
		return // no car: the daemon keyed its modem afresh
	}
	if p.json {
		b, _ := json.Marshal(s)
		p.mu.Lock()
		fmt.Fprintf(p.out, "%s\n", b)
		p.mu.Unlock()
		return
	}
	line := s.Summary()
	switch {
	case !p.smartEVSE:
	case !s.Phases.Delivered.IsZero():
		from := s.Phases.FirstCPD // the SoC; or the EVCCID alone
		if from.IsZero() {
			from = s.Phases.SessionSetup
		}
		line += fmt.Sprintf(", sent to SmartEVSE in %d ms", s.Phases.Delivered.Sub(from).Milliseconds())
	case len(s.Deliveries) > 0:
		line += ", NOT delivered to SmartEVSE: " + s.Deliveries[len(s.Deliveries)-1].Result
	case s.SoC.Known || s.EVCCID != nil:
		line += ", SmartEVSE not reached yet: still trying"
	default:
		line += ", nothing sent to SmartEVSE"
	}
	p.log.Info(line, "end", s.End.Words())
}

// Late says what became of a SmartEVSE delivery that outlived its car's plug-in.
func (p *plugInLog) Late(e record.Event, s *record.Session) {
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
