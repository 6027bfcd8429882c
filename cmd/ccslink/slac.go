package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/ccslink/ccslink/clock"
	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/slac"
	"github.com/ccslink/ccslink/tools/modemsim"
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
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "ccslink slac: unexpected argument %q\n", fs.Arg(0))
		return 2
	case *iface == "":
		fmt.Fprintf(stderr, "ccslink slac: --iface is missing: give the network interface of the HomePlug modem, e.g. --iface eth1\n")
		return 2
	case *role != "evse" && *role != "pev":
		fmt.Fprintf(stderr, "ccslink slac: --role %q: give evse (wait for a car) or pev (match as the car)\n", *role)
		return 2
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	log := newLogger(stderr, level)

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	rep := slacReport{Role: *role}
	res, err := matchOnce(ctx, *iface, *role, *emulate, log)
	// A car that matched but whose modem never joined is reported with its
	// session, and as a failure.
	if err == nil || errors.Is(err, slac.ErrLinkTimeout) {
		rep.Matched = true
		rep.EVMAC, rep.EVSEMAC = res.EVMAC.String(), res.EVSEMAC.String()
		rep.RunID, rep.NID = hex.EncodeToString(res.RunID[:]), hex.EncodeToString(res.NID[:])
		if *showKeys {
			rep.NMK = hex.EncodeToString(res.NMK[:])
		}
		rep.Sounds, rep.AttenuationDB, rep.Plausible = res.Sounds, res.AttenuationDB, res.Plausible
		rep.LinkUp = res.LinkUp
		rep.DurationMS = max(res.Timings.MatchCnf, res.Timings.LinkUp).Milliseconds()
	}
	if err != nil {
		rep.Error = slacFailure(err, *role, *timeout)
	}
	switch {
	case *asJSON:
		b, _ := json.Marshal(rep)
		fmt.Fprintf(stdout, "%s\n", b)
	case rep.Matched:
		fmt.Fprintf(stdout, "matched: car %s, charger %s, RunID %s, NID %s, %d sounds, %.1f dB, %d ms\n",
			rep.EVMAC, rep.EVSEMAC, rep.RunID, rep.NID, rep.Sounds, rep.AttenuationDB, rep.DurationMS)
	}
	var ie *ifaceError
	if errors.As(err, &ie) {
		fmt.Fprintf(stderr, "ccslink slac: %v\n", err)
		return 1
	}
	if err != nil {
		what := "no match"
		if rep.Matched {
			what = "no link"
		}
		fmt.Fprintf(stderr, "ccslink slac: %s: %s\n", what, rep.Error)
		return 1
	}
	return 0
}

// slacFailure says in words why ccslink slac did not match, from the
// error's type: when --timeout ended the wait, what happened before it.
func slacFailure(err error, role string, timeout time.Duration) string {
	var f *slac.FailureError
	if !errors.As(err, &f) {
		return err.Error()
	}
	timedOut := errors.Is(f.Err, context.DeadlineExceeded)
	switch {
	case timedOut && f.Reason == slac.ReasonLinkTimeout && role == "evse":
		return fmt.Sprintf("car %v matched, but its modem did not join the network within %v", f.EV, timeout)
	case timedOut && f.Reason == slac.ReasonLinkTimeout:
		return fmt.Sprintf("matched charger %v, but the car's modem did not join its network within %v", f.EVSE, timeout)
	case !timedOut:
	case f.Reason == slac.ReasonNoCar:
		return fmt.Sprintf("no car started matching within %v", timeout)
	case f.Reason == slac.ReasonNoParmCnf:
		return fmt.Sprintf("no charger answered within %v", timeout)
	case role == "evse":
		return fmt.Sprintf("car %v did not match within %v (its last attempt failed: %v)", f.EV, timeout, f.Reason)
	case f.EVSE == (homeplug.MAC{}):
		return fmt.Sprintf("no charger matched within %v (last attempt: %v)", timeout, f.Reason)
	default:
		return fmt.Sprintf("no match with charger %v within %v (last attempt: %v)", f.EVSE, timeout, f.Reason)
	}
	if role == "evse" && f.EV != (homeplug.MAC{}) && f.Reason != slac.ReasonNoCar {
		return fmt.Sprintf("car %v: %v", f.EV, f.Reason)
	}
	return f.Reason.String()
}

func matchOnce(ctx context.Context, iface, role string, emulate bool, log *slog.Logger) (slac.Result, error) {
	port, mac, e, closePort, err := homePlugPort(ctx, iface, emulate, role == "evse")
	if err != nil {
		return slac.Result{}, err
	}
	defer closePort()
	if role == "evse" {
		return slac.MatchEVSE(ctx, port, clock.Real{}, slac.Config{MAC: mac, Log: log})
	}
	// Like a real car, start again after a failed attempt (the charger may
	// not listen yet) until the time is up.
	var res slac.Result
	var last *slac.FailureError
	for {
		res, err = slac.MatchPEV(ctx, port, clock.Real{}, slac.PEVConfig{MAC: mac, Log: log})
		if err == nil {
			break
		}
		var f *slac.FailureError
		if ctx.Err() != nil || !errors.As(err, &f) {
			if last != nil && ctx.Err() != nil {
				// The attempt cut short says less than the last one that ended.
				failed := *last
				failed.Err = ctx.Err()
				err = &failed
			}
			break
		}
		last = f
		log.Info("matching failed, starting again", "err", err)
	}
	if err == nil && e != nil {
		if err = awaitJoin(ctx, e, slac.TTMatchJoin, mac, res.EVSEMAC); err == nil {
			res.LinkUp = true
			// Stay on the line long enough (two of the charger's link
			// polls) for the charger to see the link too.
			hold := time.NewTimer(2 * slac.DefaultLinkPoll)
			defer hold.Stop()
			select {
			case <-ctx.Done():
			case <-hold.C:
			}
		}
	}
	return res, err
}

// awaitJoin waits until the car's modem m has joined the charger's
// network, as a car's host waits before it talks IP, at most within
// (TT_match_join); it fails with a *slac.FailureError (ErrLinkTimeout),
// with ctx's error as Err when ctx ended first.
func awaitJoin(ctx context.Context, m interface{ LinkUp() bool }, within time.Duration, ev, evse homeplug.MAC) error {
	wctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	if modemsim.AwaitLink(wctx, m) == nil {
		return nil
	}
	f := &slac.FailureError{Reason: slac.ReasonLinkTimeout, EV: ev, EVSE: evse, At: time.Now()}
	if ctx.Err() != nil {
		f.Err = ctx.Err()
	}
	return f
}
