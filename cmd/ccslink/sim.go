package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"github.com/ccslink/ccslink/daemon/config"
	"github.com/ccslink/ccslink/daemon/output/smartevse"
	"github.com/ccslink/ccslink/proto/evcc"
	"github.com/ccslink/ccslink/proto/secc"
	"github.com/ccslink/ccslink/tools/modemsim"
	"github.com/ccslink/ccslink/tools/sim"
)

func init() {
	register(command{
		name:    "sim",
		summary: "plug a simulated car into this charger: SLAC, SDP, V2G, and the SoC delivered",
		run:     runSim,
	})
}

func runSim(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("sim", "sim [--car NAME|all] [--plugins N] [--policy soc|dc|ac] [--json] [--smartevse URL] [--required-evccid ID] [--strategy NAME] [--write-pwm] [--http ADDR] [--mqtt URL] [--name NAME] [-v]", stderr)
	carName := fs.String("car", "ioniq", "the car to plug in, or all: "+strings.Join(carNames(), ", "))
	policy := fs.String("policy", "soc", "what the charger does with the car: soc (read the SoC, then end the DC attempt), dc (a full emulated DC session), ac (an ISO 15118-2 AC session)")
	asJSON := fs.Bool("json", false, "print one JSON line per car instead of the timeline")
	url := fs.String("smartevse", "", "post to this SmartEVSE (base URL or full /ev_state URL) instead of the embedded SmartEVSE twin")
	plugins := fs.Int("plugins", 1, "plug the same car in this many times, one after another, into the same charger and SmartEVSE")
	required := fs.String("required-evccid", "", "the embedded SmartEVSE's required EVCCID (Autocharge): another car's is denied")
	strategy := fs.String("strategy", "", "pin the car's handover strategy, as the cars list does (deliver-now, end-then-deliver, x1-then-pwm, no-negotiation, identify-only)")
	writePWM := fs.Bool("write-pwm", false, "let the daemon write override_pwm to the SmartEVSE (smartevse.write_pwm): the x1-then-pwm handover, 100 % for 2 s before the PWM, for cars that want it")
	httpAddr := fs.String("http", "", "serve the API, the live page and /metrics on this loopback address while each car is simulated, as ccslink evse does (e.g. 127.0.0.1:8080)")
	broker := fs.String("mqtt", "", "publish the simulated car to this MQTT broker (tcp://host:1883), with Home Assistant discovery, as ccslink evse does")
	name := fs.String("name", "", "the daemon's name on the MQTT broker and in Home Assistant (default: the host's name and sim, e.g. pi-garage-sim)")
	verbose := fs.Bool("v", false, "show protocol details: SLAC RunID and NID, every request and its answer time, the daemon's log")
	atten := fs.Uint("attenuation", modemsim.DefaultAttenuationDB, "cable attenuation between the two modems, dB")
	fast := fs.Bool("fast", false, "leave out the cars' recorded pauses (such as the Ioniq's 4 s before SDP) and shorten the SmartEVSE's 60 s wait for a SoC to 10 s; --car all implies it")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up on a car after this long")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ccslink sim: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	pol, err := secc.ParsePolicy(*policy)
	if err != nil {
		fmt.Fprintf(stderr, "ccslink sim: --policy: %v\n", err)
		return 2
	}
	if *plugins < 1 || *plugins > 100 {
		fmt.Fprintf(stderr, "ccslink sim: --plugins %d: give 1 to 100 plug-ins\n", *plugins)
		return 2
	}
	if len(*required) > 32 {
		fmt.Fprintf(stderr, "ccslink sim: --required-evccid: %d characters; the SmartEVSE keeps at most 32\n", len(*required))
		return 2
	}
	if *required != "" && *url != "" {
		fmt.Fprintln(stderr, "ccslink sim: --required-evccid sets the embedded SmartEVSE's; with --smartevse, set it on that SmartEVSE")
		return 2
	}
	if *strategy != "" {
		if _, err := sim.Pin(evcc.Profile{}, *strategy, *writePWM); err != nil {
			fmt.Fprintf(stderr, "ccslink sim: --strategy: %v\n", err)
			return 2
		}
	}
	if *atten > 90 {
		fmt.Fprintln(stderr, "ccslink sim: --attenuation above 90 dB: no link would form")
		return 2
	}
	if *url != "" {
		if _, err := smartevse.Endpoint(*url); err != nil {
			fmt.Fprintf(stderr, "ccslink sim: --smartevse: %v\n", err)
			return 2
		}
	}
	// The daemon's configuration as a Pi's would be with these flags: no
	// state directory, the SmartEVSE and the policy as given.
	dc := config.Default()
	dc.Interface = "sim"
	dc.Name, dc.HTTP.Listen, dc.MQTT.Broker = *name, *httpAddr, *broker
	dc.Policy, dc.SmartEVSE.URL = pol.String(), *url
	dc.SmartEVSE.WritePWM = *writePWM
	nameDaemon(&dc)
	if err := dc.Validate(); err != nil {
		fmt.Fprintf(stderr, "ccslink sim: %v\n", err)
		return 2
	}
	dc.StateDir = "" // nothing on disk: the sessions in memory
	bi, _ := debug.ReadBuildInfo()
	var cars []evcc.Profile
	if *carName == "all" {
		cars = evcc.Profiles()
		*fast = true
	} else {
		p, err := evcc.Lookup(*carName)
		if err != nil {
			fmt.Fprintf(stderr, "ccslink sim: --car: %v\n", err)
			return 2
		}
		cars = []evcc.Profile{p}
	}
	var log *slog.Logger
	if *verbose && !*asJSON {
		log = newLogger(stderr, slog.LevelDebug)
	}
	failed := 0
	for i, p := range cars {
		cfg := sim.Config{Car: p, Policy: pol, SmartEVSE: *url, AttenuationDB: uint8(*atten), Verbose: *verbose, SkipDelays: *fast, Log: log,
			Daemon: &dc, Version: readVersion(version, commit, bi).Version, PlugIns: *plugins, RequiredEVCCID: *required, Strategy: *strategy}
		if *fast {
			cfg.ModemWait = fastModemWait
		}
		if !*asJSON {
			if i > 0 {
				fmt.Fprintln(stdout)
			}
			cfg.Timeline = stdout
			fmt.Fprintf(stdout, "ccslink sim: a %s plugs into this charger (policy %s)\n", p.Car, pol)
		}
		ctx, cancel := context.WithTimeout(context.Background(), *timeout*time.Duration(*plugins))
		results, err := sim.RunPlugIns(ctx, cfg)
		cancel()
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				err = fmt.Errorf("the plug-in did not finish within %v", *timeout)
			}
			if len(results) == 0 || results[len(results)-1].Error != "" || results[len(results)-1].OK {
				// The plug-in that failed has no result of its own yet.
				r := sim.Result{Car: p.Name, Policy: pol.String(), SoC: -1, FullSoC: -1, EnergyCapacityWh: -1, EnergyRequestWh: -1}
				if *plugins > 1 {
					r.PlugIn = len(results) + 1
				}
				results = append(results, r)
			}
			res := &results[len(results)-1]
			res.Error = err.Error()
			res.OK = false
			if !*asJSON {
				fmt.Fprintf(stderr, "ccslink sim: %s: %v\n", p.Name, err)
			}
		}
		for _, res := range results {
			if !res.OK {
				failed++
			}
			if *asJSON {
				b, _ := json.Marshal(res)
				fmt.Fprintf(stdout, "%s\n", b)
			}
		}
	}
	if failed > 0 {
		return 1
	}
	return 0
}

// fastModemWait is the SmartEVSE twin's wait for a SoC with --fast: a
// car that never talks is told in seconds, not a minute.
const fastModemWait = 10 * time.Second

func carNames() []string {
	var n []string
	for _, p := range evcc.Profiles() {
		n = append(n, p.Name)
	}
	return n
}
