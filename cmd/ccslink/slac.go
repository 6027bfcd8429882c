package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/ccslink/ccslink/clock"
	"github.com/ccslink/ccslink/homeplug"
	"github.com/ccslink/ccslink/link"
	"github.com/ccslink/ccslink/modemsim"
	"github.com/ccslink/ccslink/slac"
)

func init() {
	register(command{
		name:    "slac",
		summary: "run one SLAC matching (ISO 15118-3) on a HomePlug interface, as charger or car",
		run:     runSLAC,
	})
}

// slacReport is the --json line of ccslink slac.
type slacReport struct {
	Matched       bool    `json:"matched"`
	Role          string  `json:"role"`
	EVMAC         string  `json:"ev_mac,omitempty"`
	EVSEMAC       string  `json:"evse_mac,omitempty"`
	RunID         string  `json:"run_id,omitempty"`
	NID           string  `json:"nid,omitempty"`
	NMK           string  `json:"nmk,omitempty"`
	Sounds        int     `json:"sounds"`
	AttenuationDB float64 `json:"attenuation_db"`
	Plausible     bool    `json:"plausible_attenuation,omitempty"`
	LinkUp        bool    `json:"link_up"`
	DurationMS    int64   `json:"duration_ms"`
	Error         string  `json:"error,omitempty"`
}

func runSLAC(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("slac", "slac --iface IF [--role evse|pev] [--emulate-modem] [--timeout 30s] [--json]", stderr)
	iface := fs.String("iface", "", "network interface of the HomePlug modem (e.g. eth1)")
	role := fs.String("role", "evse", "evse: wait for a car as the charger; pev: start a matching as the car")
	emulate := fs.Bool("emulate-modem", false, "emulate the modem on the interface (a veth pair then acts as two modems on a cable)")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
	asJSON := fs.Bool("json", false, "print the result as one JSON line")
	showKeys := fs.Bool("show-keys", false, "include the network membership key (NMK) in the output")
	verbose := fs.Bool("v", false, "log every step to stderr")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *iface == "" || (*role != "evse" && *role != "pev") {
		fs.Usage()
		return 2
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	rep := slacReport{Role: *role}
	res, err := matchOnce(ctx, *iface, *role, *emulate, log)
	if errors.Is(err, context.DeadlineExceeded) {
		// The time is up: say so in words, not as a context error.
		who := "no car started matching"
		if *role == "pev" {
			who = "no charger answered"
		}
		var detail string
		if i := strings.Index(err.Error(), "(last attempt: "); i >= 0 {
			detail = " " + err.Error()[i:]
		}
		err = fmt.Errorf("%s within %v%s", who, *timeout, detail)
	}
	if err == nil {
		rep.Matched = true
		rep.EVMAC, rep.EVSEMAC = res.EVMAC.String(), res.EVSEMAC.String()
		rep.RunID, rep.NID = hex.EncodeToString(res.RunID[:]), hex.EncodeToString(res.NID[:])
		if *showKeys {
			rep.NMK = hex.EncodeToString(res.NMK[:])
		}
		rep.Sounds, rep.AttenuationDB, rep.Plausible = res.Sounds, res.AttenuationDB, res.Plausible
		rep.LinkUp = res.LinkUp
		rep.DurationMS = max(res.Timings.MatchCnf, res.Timings.LinkUp).Milliseconds()
	} else {
		rep.Error = err.Error()
	}
	switch {
	case *asJSON:
		b, _ := json.Marshal(rep)
		fmt.Fprintf(stdout, "%s\n", b)
	case rep.Matched:
		fmt.Fprintf(stdout, "matched: car %s, charger %s, RunID %s, NID %s, %d sounds, %.1f dB, %d ms\n",
			rep.EVMAC, rep.EVSEMAC, rep.RunID, rep.NID, rep.Sounds, rep.AttenuationDB, rep.DurationMS)
	}
	if err != nil {
		fmt.Fprintf(stderr, "ccslink slac: no match: %v\n", err)
		return 1
	}
	return 0
}

func matchOnce(ctx context.Context, iface, role string, emulate bool, log *slog.Logger) (slac.Result, error) {
	conn, err := link.Listen(iface, homeplug.EtherType, nil)
	if err != nil {
		return slac.Result{}, err
	}
	mac, err := homeplug.MACFrom(conn.HardwareAddr())
	if err != nil {
		conn.Close()
		return slac.Result{}, err
	}
	var port slac.Port = conn
	var e *modemsim.Emulator
	if emulate {
		e, err = modemsim.Emulate(ctx, conn, modemsim.EmulateConfig{Modem: modemsim.ModemConfig{EVSE: role == "evse"}})
		if err != nil {
			conn.Close()
			return slac.Result{}, err
		}
		defer e.Close()
		port = e.Host()
	} else {
		defer conn.Close()
	}
	if role == "evse" {
		return slac.MatchEVSE(ctx, port, clock.Real{}, slac.Config{MAC: mac, Log: log})
	}
	// Like a real car, start again after a failed attempt (the charger may
	// not listen yet) until the time is up.
	var res slac.Result
	var last error
	for {
		res, err = slac.MatchPEV(ctx, port, clock.Real{}, slac.PEVConfig{MAC: mac, Log: log})
		if err == nil {
			break
		}
		if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
			if last != nil {
				err = fmt.Errorf("%w (last attempt: %v)", context.DeadlineExceeded, last)
			}
			break
		}
		last = err
		log.Info("matching failed, starting again", "err", err)
	}
	if err == nil && e != nil {
		res.LinkUp = awaitLink(ctx, e)
	}
	return res, err
}

// awaitLink waits until the emulated modem has joined the charger's network,
// then stays on the line long enough (two of the charger's link polls) for
// the charger to see the link too.
func awaitLink(ctx context.Context, e *modemsim.Emulator) bool {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !e.LinkUp() {
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
	hold := time.NewTimer(2 * slac.DefaultLinkPoll)
	defer hold.Stop()
	select {
	case <-ctx.Done():
	case <-hold.C:
	}
	return true
}
