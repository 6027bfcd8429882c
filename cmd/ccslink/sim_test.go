package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/ccslink/ccslink/tools/sim"
)

// TestSim runs ccslink sim as a first-time user does, with no flags: the
// Ioniq with its recorded pauses, about 6 s of real time.
func TestSim(t *testing.T) {
	if testing.Short() {
		t.Skip("runs about 6 s of real time")
	}
	var out, errb bytes.Buffer
	if code := run([]string{"sim"}, nil, &out, &errb); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errb.String())
	}
	for _, want := range []string{
		"ccslink sim: a Hyundai Ioniq (2018) plugs into this charger (policy soc)\n",
		"the charger matched the car 04:65:65:00:64:c3",
		"the car told its battery state: SoC 93 %, full at 94 %, capacity 28.0 kWh, wants 1.8 kWh\n",
		"the SmartEVSE got POST /ev_state?current_soc=93&full_soc=94&energy_capacity=28000&energy_request=1820&evccid=0465650064c3 (HTTP 200",
		"ok: car 04:65:65:00:64:c3 (DIN 70121): SoC 93 %, capacity 28.0 kWh, wants 1.8 kWh, EVCCID 0465650064c3\n",
		"the SmartEVSE has the SoC: CP off for 5 s, a virtual re-plug (MODEM_DONE); the car's modem leaves the charger's network\n",
		"the SmartEVSE switches CP back on and offers 16 A (26.7 % PWM)\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	// The story's end is its last line.
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "          after the SoC: the car charges on AC, ") || !strings.HasSuffix(last, " s after its SoC reached the SmartEVSE") {
		t.Errorf("last line %q", last)
	}
	if errb.Len() != 0 {
		t.Errorf("stderr: %s", errb.String())
	}
}

// TestSimPlugIns: the same car twice, one JSON line per plug-in, each
// with its number and the twin's outcome; the keys of before keep their
// order and the new ones follow.
func TestSimPlugIns(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"sim", "--json", "--fast", "--car", "ioniq", "--plugins", "2"}, nil, &out, &errb); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errb.String())
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines:\n%s", len(lines), out.String())
	}
	for i, l := range lines {
		var res sim.Result
		if err := json.Unmarshal([]byte(l), &res); err != nil {
			t.Fatal(err)
		}
		if !res.OK || res.PlugIn != i+1 || res.Twin == nil || !res.Twin.ACCharging || res.Twin.CarBehaviour != "needs-cp-toggle" ||
			fmt.Sprint(res.Twin.States) != "[11 12 13 1 2]" || res.Twin.ACAfterMS < 4000 {
			t.Errorf("plug-in %d: %s", i+1, l)
		}
		// The top-level keys in order: after the opening brace, a key and
		// its value (skipped whole) until the closing brace.
		dec := json.NewDecoder(strings.NewReader(l))
		var keys []string
		dec.Token()
		for dec.More() {
			k, _ := dec.Token()
			keys = append(keys, fmt.Sprint(k))
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				t.Fatal(err)
			}
		}
		// The daemon watched the twin too, and saw what the twin did.
		if h := res.Handover; h == nil || !h.ACStarted || h.Outcome != "ac_started" || h.ACAfterMS == nil || *h.ACAfterMS < res.Twin.ACAfterMS {
			t.Errorf("plug-in %d: the daemon's handover %+v, the twin's %+v", i+1, res.Handover, res.Twin)
		}
		// The Ioniq charges on AC: the SoC estimated from the twin's meter
		// rises from the 93 % it sent.
		if e := res.SoCEstimated; e == nil || e.MeasuredSoC != 93 || e.SoC <= 93 || e.EnergySinceWh <= 0 || e.CapacityWh != 28000 {
			t.Errorf("plug-in %d: soc_estimated %+v", i+1, e)
		}
		want := "car policy ok protocol tls evccid soc full_soc energy_capacity_wh energy_request_wh smartevse_query secc_response_us duration_ms end car_end vehicle handover soc_estimated plugin smartevse_twin"
		if got := strings.Join(keys, " "); got != want {
			t.Errorf("keys %s\nwant %s", got, want)
		}
	}
}

func TestSimJSON(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"sim", "--json", "--fast", "--car", "tesla-model3", "--policy", "dc", "--attenuation", "17"}, nil, &out, &errb); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errb.String())
	}
	var res sim.Result
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("%q: %v", out.String(), err)
	}
	if !res.OK || res.Car != "tesla-model3" || res.Policy != "dc" || res.Protocol != "din" || res.EVCCID != "dc44271dcd45" || res.SoC != 57 ||
		res.SmartEVSEQuery != "current_soc=57&full_soc=-1&energy_capacity=-1&energy_request=-1&evccid=dc44271dcd45" || res.End != "session_stop" ||
		res.SECCResponseUS.P50 <= 0 || res.SECCResponseUS.P99 < res.SECCResponseUS.P50 || res.DurationMS <= 0 {
		t.Fatalf("result: %s", out.String())
	}
}

func TestSimBadArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		say  string
	}{
		{[]string{"sim", "--car", "trabant"}, "ioniq"},
		{[]string{"sim", "--policy", "fast"}, "use soc, dc or ac"},
		{[]string{"sim", "--attenuation", "91"}, "no link would form"},
		{[]string{"sim", "now"}, `unexpected argument "now"`},
		{[]string{"sim", "--plugins", "0"}, "give 1 to 100 plug-ins"},
		{[]string{"sim", "--required-evccid", strings.Repeat("a", 33)}, "at most 32"},
		{[]string{"sim", "--required-evccid", "ab", "--smartevse", "http://10.0.0.1"}, "set it on that SmartEVSE"},
		{[]string{"sim", "--smartevse", "10.0.0.1"}, "write http://10.0.0.1"},
		{[]string{"sim", "--http", "0.0.0.0:8080"}, `http.listen: "0.0.0.0:8080" is reachable from the network`},
		{[]string{"sim", "--mqtt", "broker"}, `mqtt.broker: "broker" is not a broker URL`},
		{[]string{"sim", "--name", "Pi Garage"}, `name: "Pi Garage" is not a name for MQTT topics`},
		{[]string{"sim", "--strategy", "cp-off"}, `--strategy: "cp-off" is not a handover strategy: use one of deliver-now, end-then-deliver, x1-then-pwm, no-negotiation, identify-only`},
		{[]string{"sim", "--strategy", "x1-then-pwm"}, "--strategy: the strategy x1-then-pwm writes override_pwm to the SmartEVSE: allow it with --write-pwm"},
	} {
		var out, errb bytes.Buffer
		if code := run(tc.args, nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), tc.say) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, errb.String(), tc.say)
		}
	}
}
