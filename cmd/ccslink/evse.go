package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/ccslink/ccslink/charger"
	"github.com/ccslink/ccslink/clock"
	"github.com/ccslink/ccslink/output/smartevse"
	"github.com/ccslink/ccslink/record"
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

func runEVSE(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("evse", "evse --iface IF [--smartevse URL] [--policy soc|dc|ac] [--emulate-modem] [--json] [-v]", stderr)
	iface := fs.String("iface", "", "network interface of the HomePlug modem (e.g. eth1)")
	url := fs.String("smartevse", "", "the SmartEVSE to post the car's SoC to: its base URL (http://10.0.0.1) or the full /ev_state URL")
	policy := fs.String("policy", "soc", "soc (read the SoC, then end the DC attempt so the car charges on AC), dc (a full emulated DC session), ac (an ISO 15118-2 AC session)")
	emulate := fs.Bool("emulate-modem", false, "emulate the modem on the interface (a veth pair then acts as two modems on a cable)")
	port := fs.Int("v2g-port", 0, "TCP port of the V2G server, announced by SDP; 0 picks a free one")
	sdpPort := fs.Int("sdp-port", sdp.Port, "UDP port of SDP")
	evseID := fs.String("evseid", "", "the charger's EVSEID (ISO 15118-2 text such as DE*ABC*E1234; DIN as hex)")
	asJSON := fs.Bool("json", false, "print one JSON line per plug-in (the session record)")
	verbose := fs.Bool("v", false, "log every step (SLAC, every V2G request) to stderr")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *iface == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	pol, err := secc.ParsePolicy(*policy)
	if err != nil {
		fmt.Fprintf(stderr, "ccslink evse: --policy: %v\n", err)
		return 2
	}
	if *port < 0 || *port > 65535 || *sdpPort <= 0 || *sdpPort > 65535 {
		fmt.Fprintln(stderr, "ccslink evse: --v2g-port and --sdp-port take a port number")
		return 2
	}
	if *url != "" {
		if _, err := smartevse.Endpoint(*url); err != nil {
			fmt.Fprintf(stderr, "ccslink evse: --smartevse: %v\n", err)
			return 2
		}
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	d := daemonConfig{iface: *iface, smartEVSE: *url, policy: pol, emulate: *emulate, v2gPort: *port, sdpPort: *sdpPort,
		evseID: *evseID, json: *asJSON, log: log, out: stdout}
	if err := runDaemon(ctx, d); err != nil {
		fmt.Fprintf(stderr, "ccslink evse: %v\n", err)
		return 1
	}
	return 0
}

type daemonConfig struct {
	iface, smartEVSE string
	policy           secc.Policy
	emulate          bool
	v2gPort, sdpPort int
	evseID           string
	json             bool
	log              *slog.Logger
	out              io.Writer
	// ready, if set, is closed once the daemon listens (tests).
	ready chan<- struct{}
}

// runDaemon runs the charger on one interface until ctx ends.
func runDaemon(ctx context.Context, d daemonConfig) error {
	hp, mac, _, closeHP, err := homePlugPort(ctx, d.iface, d.emulate, true)
	if err != nil {
		return err
	}
	defer closeHP()
	ll, err := sdp.LinkLocal(d.iface)
	if err != nil {
		return err
	}
	sdpConn, err := sdp.Listen(d.iface, d.sdpPort)
	if err != nil {
		return err
	}
	defer sdpConn.Close()
	ln, err := secc.Listen(net.JoinHostPort(ll.WithZone(d.iface).String(), strconv.Itoa(d.v2gPort)))
	if err != nil {
		return err
	}
	defer ln.Close()
	announce := netip.AddrPortFrom(ll.WithZone(""), uint16(ln.Addr().(*net.TCPAddr).Port))

	evse := slac.NewEVSE(hp, clock.Real{}, slac.Config{MAC: mac, Log: d.log})
	ch, err := charger.New(charger.Config{SLAC: evse, SDP: sdpConn, V2G: ln, Announce: announce,
		SECC: secc.Config{Policy: d.policy, EVSEID: d.evseID, Log: d.log}, Log: d.log})
	if err != nil {
		return err
	}
	var sender *smartevse.Sender
	if d.smartEVSE != "" {
		sender, err = smartevse.New(smartevse.Config{URL: d.smartEVSE, Log: d.log, OnResult: func(dl smartevse.Delivery) {
			ch.Report(smartevse.Record(dl))
		}})
		if err != nil {
			return err
		}
		defer sender.Close()
		ch.Subscribe(smartevse.PlugIns{Sender: sender})
	}
	ch.Subscribe(&plugInLog{log: d.log, json: d.json, out: d.out, smartEVSE: sender != nil})
	d.log.Info("ready: waiting for a car", "interface", d.iface, "policy", d.policy.String(), "v2g", announce.String(), "smartevse", d.smartEVSE)
	if d.ready != nil {
		close(d.ready)
	}
	return ch.Run(ctx)
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
	default:
		line += ", nothing sent to SmartEVSE"
	}
	p.log.Info(line, "end", s.End.Words())
}
