package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ccslink/ccslink/daemon/config"
	"github.com/ccslink/ccslink/proto/evcc"
)

// TestNoNegotiationSecondPlugIn: the car that refuses basic AC after any
// V2G session, plugged in twice. The first plug-in gives its SoC and no
// AC; on the second the charger, which knows the car by its MAC at SLAC,
// declines its protocols, and it charges on basic AC after the
// SmartEVSE's wait: the same car, its MAC its EVCCID, no SoC.
func TestNoNegotiationSecondPlugIn(t *testing.T) {
	t.Parallel()
	p, err := evcc.Lookup("refuses-ac")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	rs, err := RunPlugIns(ctx, Config{Car: p, SkipDelays: true, PlugIns: 2, Timeline: &out, ModemWait: 2 * time.Second})
	if err != nil || len(rs) != 2 {
		t.Fatalf("%v %+v", err, rs)
	}
	first, second := rs[0], rs[1]
	if !first.OK || first.End != "session_stop" || first.SoC != 35 || first.Handover == nil || first.Handover.Strategy != "deliver-now" || first.Handover.Outcome != "no_ac" {
		t.Errorf("first plug-in: %+v %+v", first, first.Handover)
	}
	if !second.OK || second.End != "no_negotiation" || second.CarEnd != "no protocol negotiated" || second.Protocol != "" || second.SoC != -1 ||
		second.EVCCID != "04e77e00f399" || second.SmartEVSEQuery != "current_soc=-1&full_soc=-1&energy_capacity=-1&energy_request=-1&evccid=04e77e00f399" {
		t.Errorf("second plug-in: %+v", second)
	}
	if first.Vehicle == nil || second.Vehicle == nil || first.Vehicle.ID != "04e77e00f399" || second.Vehicle.ID != first.Vehicle.ID {
		t.Errorf("vehicles %+v and %+v", first.Vehicle, second.Vehicle)
	}
	h := second.Handover
	if h == nil || h.Strategy != "no-negotiation" || !h.ACStarted || h.Outcome != "ac_started" || h.ACAfterMS == nil {
		t.Fatalf("second handover %+v", h)
	}
	if tw := second.Twin; tw == nil || !tw.ACCharging || tw.Why != "it draws current at the nominal PWM" || len(tw.States) != 5 {
		t.Errorf("second plug-in at the twin: %+v", tw)
	}
	b, _ := json.Marshal(second)
	if !strings.Contains(string(b), `"handover":{"strategy":"no-negotiation","ac_started":true,"ac_after_ms":`) {
		t.Errorf("--json: %s", b)
	}
	_, text, ok := strings.Cut(normalize(out.String()), "plug-in 2 of 2")
	if !ok {
		t.Fatalf("no second plug-in:\n%s", out.String())
	}
	for _, line := range []string{
		"T  the charger matched the car 04:e7:7e:00:f3:99; the car's modem joins the charger's network\n" +
			"T  the car will hold no V2G session: its SLAC MAC stands for its EVCCID, 04e77e00f399\n" +
			"T  the car found the charger (SDP) and opened the V2G connection\n" +
			"T  the charger declines the car's protocols (Failed_NoNegotiation, its handover strategy no-negotiation): no V2G session, so the car charges on basic AC, without telling its SoC\n" +
			"T  V2G session over: the charger declined the car's protocols by its handover strategy: it charges on basic AC without SoC\n" +
			"T  the SmartEVSE got POST /ev_state?current_soc=-1&full_soc=-1&energy_capacity=-1&energy_request=-1&evccid=04e77e00f399 (HTTP 200, N ms)\n" +
			"T  the SmartEVSE has no SoC, so it keeps 5 % PWM for the rest of its wait for one, then cuts CP and offers AC: the price of a handover without a V2G session\n" +
			"T  the SmartEVSE got no SoC within 2 s (shortened from the firmware's 60 s): CP off for 5 s all the same (MODEM_DONE)\n" +
			"T  the SmartEVSE switches CP back on and offers 16 A (26.7 % PWM)\n" +
			"T  the car charges on AC (state C)\n",
		"after the SmartEVSE's wait: the car charges on AC, N s after it was plugged in\n",
	} {
		if !strings.Contains(text, line) {
			t.Errorf("the second plug-in's timeline lacks\n%s\nit is\n%s", line, text)
		}
	}
}

// TestIdentifyOnlyPinned: a car pinned to identify-only in the cars list
// is known by its MAC at SLAC and never joins: its MAC is its EVCCID, it
// gives up SLAC after its retries and charges on basic AC after the
// SmartEVSE's wait.
func TestIdentifyOnlyPinned(t *testing.T) {
	t.Parallel()
	p, err := evcc.Lookup("ioniq")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	res, err := Run(ctx, Config{Car: p, SkipDelays: true, Timeline: &out, ModemWait: 2 * time.Second, Strategy: "identify-only"})
	if err != nil || !res.OK {
		t.Fatalf("%v %+v\n%s", err, res, out.String())
	}
	if res.End != "identified_only" || res.Protocol != "" || res.SoC != -1 || res.EVCCID != "0465650064c3" || res.CarEnd != "none" ||
		res.SmartEVSEQuery != "current_soc=-1&full_soc=-1&energy_capacity=-1&energy_request=-1&evccid=0465650064c3" {
		t.Errorf("result %+v", res)
	}
	if res.Vehicle == nil || res.Vehicle.ID != "ioniq" || res.Vehicle.By != "config" {
		t.Errorf("vehicle %+v", res.Vehicle)
	}
	if h := res.Handover; h == nil || h.Strategy != "identify-only" || !h.ACStarted {
		t.Errorf("handover %+v", h)
	}
	if rec := res.Record; rec == nil || rec.Detail != "identified by its MAC 04:65:65:00:64:c3; no digital session, by the car's handover strategy identify-only: it charges on basic AC without SoC" || !rec.Phases.TCP.IsZero() {
		t.Errorf("record %+v", rec)
	}
	text := normalize(out.String())
	for _, line := range []string{
		"T  the charger knows the car by its MAC 04:65:65:00:64:c3 and leaves its CM_SLAC_MATCH.REQ unanswered (its handover strategy identify-only): the car never joins the charger's network\n" +
			"T  the car will hold no V2G session: its SLAC MAC stands for its EVCCID, 0465650064c3\n" +
			"T  the plug-in is over for the charger: identified by its MAC 04:65:65:00:64:c3; no digital session, by the car's handover strategy identify-only: it charges on basic AC without SoC\n",
		"T  the car got no CM_SLAC_MATCH.CNF to its request nor its 2 retries: it gives up SLAC and waits for a nominal PWM, as a car without digital communication\n",
		"T  the SmartEVSE switches CP back on and offers 16 A (26.7 % PWM)\nT  the car charges on AC (state C)\n",
	} {
		if !strings.Contains(text, line) {
			t.Errorf("the timeline lacks\n%s\nit is\n%s", line, text)
		}
	}
}

func TestPin(t *testing.T) {
	id3, _ := evcc.Lookup("id3")
	c, err := Pin(id3, "no-negotiation", false)
	if err != nil || c.ID != "id3" || len(c.MACs) != 1 || c.MACs[0] != "00:7d:fa:xx:xx:xx" || c.Strategy != "no-negotiation" || c.Name != "VW ID.3 (MEB)" {
		t.Fatalf("%+v %v", c, err)
	}
	if _, _, ok := config.MACPattern(c.MACs[0]); !ok {
		t.Fatalf("not a pattern: %q", c.MACs[0])
	}
	var se *StrategyError
	if _, err := Pin(id3, "x1-then-pwm", false); !errors.As(err, &se) || err.Error() != "the strategy x1-then-pwm writes override_pwm to the SmartEVSE: allow it with --write-pwm" {
		t.Fatalf("x1 without write_pwm: %v", err)
	}
	if _, err := Pin(id3, "cp-off", true); !errors.As(err, &se) || err.Error() != `"cp-off" is not a handover strategy: use one of deliver-now, end-then-deliver, x1-then-pwm, no-negotiation, identify-only` {
		t.Fatalf("unknown: %v", err)
	}
}
