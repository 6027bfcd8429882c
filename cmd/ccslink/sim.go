package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/ccslink/ccslink/clock"
	"github.com/ccslink/ccslink/homeplug"
	"github.com/ccslink/ccslink/modemsim"
	"github.com/ccslink/ccslink/slac"
)

func init() {
	register(command{
		name:    "sim",
		summary: "run a simulated plug-in: virtual modems, a car and this charger (SLAC today)",
		run:     runSim,
	})
}

func runSim(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("sim", "sim [--attenuation 20] [--timeout 30s]", stderr)
	atten := fs.Uint("attenuation", modemsim.DefaultAttenuationDB, "cable attenuation between the two modems, dB")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *atten > 90 {
		fmt.Fprintln(stderr, "ccslink sim: --attenuation above 90 dB: no link would form")
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := simulate(ctx, uint8(*atten), stdout); err != nil {
		fmt.Fprintf(stderr, "ccslink sim: %v\n", err)
		return 1
	}
	return 0
}

// simulate plugs a simulated car into a charger through two virtual
// QCA7000 modems on one cable and runs what ccslink can run today.
func simulate(ctx context.Context, atten uint8, out io.Writer) error {
	profile := make([]byte, homeplug.NumAttenGroups)
	for i := range profile {
		profile[i] = atten
	}
	line := modemsim.NewLine(ctx, modemsim.LineConfig{Attenuation: profile})
	defer line.Close()
	evseModem, err := line.AddModem(modemsim.ModemConfig{Name: "charger modem", EVSE: true})
	if err != nil {
		return err
	}
	carModem, err := line.AddModem(modemsim.ModemConfig{Name: "car modem"})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "sim: charger %v and car %v on one cable, %d dB apart\n", evseModem.HostMAC(), carModem.HostMAC(), atten)

	type outcome struct {
		r   slac.Result
		err error
	}
	evse, car := make(chan outcome, 1), make(chan outcome, 1)
	start := time.Now()
	go func() {
		r, err := slac.MatchEVSE(ctx, evseModem.Host(), clock.Real{}, slac.Config{MAC: evseModem.HostMAC()})
		evse <- outcome{r, err}
	}()
	go func() {
		// The car plugs in once the charger has keyed its modem and the
		// modem's restart is over, as a car arrives at a waiting charger.
		t := time.NewTimer(modemsim.DefaultRestartDelay + 100*time.Millisecond)
		defer t.Stop()
		select {
		case <-ctx.Done():
			car <- outcome{err: ctx.Err()}
			return
		case <-t.C:
		}
		fmt.Fprintln(out, "sim: car plugged in, SLAC starts")
		r, err := slac.MatchPEV(ctx, carModem.Host(), clock.Real{}, slac.PEVConfig{MAC: carModem.HostMAC()})
		car <- outcome{r, err}
	}()
	c, e := <-car, <-evse
	if c.err != nil {
		return fmt.Errorf("SLAC, car side: %w", c.err)
	}
	if e.err != nil {
		return fmt.Errorf("SLAC, charger side: %w", e.err)
	}
	r := e.r
	fmt.Fprintf(out, "sim: SLAC matched: car %v, RunID %v, %d sounds, %.1f dB, NID %v, MATCH.CNF after %v\n",
		r.EVMAC, r.RunID, r.Sounds, r.AttenuationDB, r.NID, r.Timings.MatchCnf.Round(time.Millisecond))
	if !r.LinkUp || !carModem.LinkUp() {
		return fmt.Errorf("the car's modem did not join the charger's network")
	}
	fmt.Fprintf(out, "sim: link up after %v: both modems hold the session key (%v since the charger started)\n",
		r.Timings.LinkUp.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	fmt.Fprintln(out, "sim: SDP, V2G and the SoC come with the charger session (not built yet)")
	return nil
}
