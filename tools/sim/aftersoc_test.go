package sim

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccslink/ccslink/proto/evcc"
	"github.com/ccslink/ccslink/tools/evsetwin"
)

// TestAfterSoC plugs in a car of each behaviour after the SoC against the
// SmartEVSE twin and checks the end of its story, line by line: the
// twin's CP-off and nominal PWM, and whether the car charges on AC. The
// cars that never talk meet a twin whose wait for a SoC is 2 s.
func TestAfterSoC(t *testing.T) {
	const charging = "T  the SmartEVSE switches CP back on and offers 16 A (26.7 % PWM)\n" +
		"T  the car charges on AC (state C), N s after its SoC reached the SmartEVSE\n"
	const charges = charging +
		"T  the simulated EV meter runs 360 times fast: an hour of charging takes 10 s\n" +
		"T  SoC estimated ≈ N % after X kWh (from the 93 % read, the car's capacity of 28.0 kWh, 90 % efficiency)\n" +
		"T  SoC estimated ≈ N % after X kWh (from the 93 % read, the car's capacity of 28.0 kWh, 90 % efficiency)\n" +
		"T  car unplugged\n"
	const wait2 = "T  the SmartEVSE asks for digital communication with 5 % PWM and waits 2 s (shortened from the firmware's 60 s) for the SoC (MODEM_WAIT)\n"
	cases := []struct {
		car    string
		tail   string // the timeline from the twin's nominal PWM, or all of it for a car that never talks
		states []int
		ac     bool
		why    string
	}{
		{"ioniq", charges + "          after the SoC: the car charges on AC, N s after its SoC reached the SmartEVSE\n",
			[]int{11, 12, 13, 1, 2}, true, "it draws current at the nominal PWM"},
		{"tesla-model3", charging + "T  no SoC estimated while the car charges: it sent no battery capacity, and none is configured (capacity_fallback)\n" +
			"T  car unplugged\n" + "          after the SoC: the car charges on AC, N s after its SoC reached the SmartEVSE\n",
			[]int{11, 12, 13, 1, 2}, true, "it draws current at the nominal PWM"},
		{"id3", "T  the SmartEVSE switches CP back on and offers 16 A (26.7 % PWM)\n" +
			"T  the car does not charge: after a V2G session it ignores a PWM not preceded by a steady CP (100 %) for 2 s\n" +
			"T  car unplugged\n" +
			"          after the SoC: the car does not charge on AC: after a V2G session it ignores a PWM not preceded by a steady CP (100 %) for 2 s\n",
			[]int{11, 12, 13, 1}, false, "after a V2G session it ignores a PWM not preceded by a steady CP (100 %) for 2 s"},
		{"refuses-ac", "T  the SmartEVSE switches CP back on and offers 16 A (26.7 % PWM)\n" +
			"T  the car does not charge: it refuses basic AC after a V2G session until it is unplugged\n" +
			"T  car unplugged\n" +
			"          after the SoC: the car does not charge on AC: it refuses basic AC after a V2G session until it is unplugged\n",
			[]int{11, 12, 13, 1}, false, "it refuses basic AC after a V2G session until it is unplugged"},
		{"zoe", "T  a Renault Zoe R/Q (AC-only charger) is plugged in\n" +
			"T  the SmartEVSE sees the car and switches CP off (MODEM_REQUEST)\n" + wait2 +
			"T  the car does not answer the 5 % PWM: it never starts SLAC\n" +
			"T  the SmartEVSE got no SoC within 2 s (shortened from the firmware's 60 s): CP off for 5 s all the same (MODEM_DONE)\n" +
			"T  the SmartEVSE switches CP back on and offers 16 A (26.7 % PWM)\n" +
			"T  the car charges on AC (state C)\n" +
			"T  car unplugged\n" +
			"          \n" +
			"          ok: the car never started SLAC: no digital communication, nothing reached the charger or the SmartEVSE\n" +
			"          after the SmartEVSE's wait: the car charges on AC, N s after it was plugged in\n",
			[]int{11, 12, 13, 1, 2}, true, "it draws current at the nominal PWM"},
		{"ioniq-phev", "T  a Hyundai Ioniq plug-in hybrid is plugged in\n" +
			"T  the SmartEVSE sees the car and switches CP off (MODEM_REQUEST)\n" + wait2 +
			"T  the car stops at the 5 % PWM: it will not talk, nor charge until unplugged\n" +
			"T  the SmartEVSE got no SoC within 2 s (shortened from the firmware's 60 s): CP off for 5 s all the same (MODEM_DONE)\n" +
			"T  the SmartEVSE switches CP back on and offers 16 A (26.7 % PWM)\n" +
			"T  the car does not charge: 5 % PWM stopped it earlier; it does not charge until unplugged\n" +
			"T  car unplugged\n" +
			"          \n" +
			"          ok: the car stopped at 5 % PWM and never talked: no digital communication, nothing reached the charger or the SmartEVSE\n" +
			"          after the SmartEVSE's wait: the car does not charge on AC: 5 % PWM stopped it earlier; it does not charge until unplugged\n",
			[]int{11, 12, 13, 1}, false, "5 % PWM stopped it earlier; it does not charge until unplugged"},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	outs := make([]bytes.Buffer, len(cases))
	ress := make([]Result, len(cases))
	errs := make([]error, len(cases))
	var wg sync.WaitGroup
	for i, c := range cases {
		p, err := evcc.Lookup(c.car)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ress[i], errs[i] = Run(ctx, Config{Car: p, SkipDelays: true, Timeline: &outs[i], ModemWait: 2 * time.Second})
		}()
	}
	wg.Wait()
	for i, c := range cases {
		t.Run(c.car, func(t *testing.T) {
			res, text := ress[i], normalize(outs[i].String())
			if errs[i] != nil || !res.OK {
				t.Fatalf("%v %+v\n%s", errs[i], res, text)
			}
			tail := text
			if j := strings.Index(text, "T  the SmartEVSE switches CP back on"); j >= 0 && res.CarResult.Protocol != "" {
				tail = text[j:]
				if k := strings.Index(tail, "\n          \n"); k >= 0 {
					// The summary's own lines sit between; the last line ends the story.
					tail = tail[:k+1] + tail[strings.LastIndex(tail[:len(tail)-1], "\n")+1:]
				}
			}
			if tail != c.tail {
				t.Errorf("timeline ends\n%s\nwant\n%s\nwhole:\n%s", tail, c.tail, text)
			}
			tw := res.Twin
			if tw == nil || !reflect.DeepEqual(tw.States, c.states) || tw.ACCharging != c.ac || tw.Why != c.why || tw.CarBehaviour != behaviour(c.car) {
				t.Errorf("outcome %+v, want states %v, charging %v, why %q", tw, c.states, c.ac, c.why)
			}
			if res.CarResult.Protocol == "" && (res.End != "no_car" || res.CarEnd != "" || res.EVCCID != "" || res.SmartEVSEQuery != "") {
				t.Errorf("a car that never talked: %+v", res)
			}
			if c.ac && tw.ACAfterMS < int64(evsetwin.ModemDoneTicks-1)*1000 {
				t.Errorf("charging %d ms after the SoC or plug-in: the CP-off alone is 5 s", tw.ACAfterMS)
			}
		})
	}
}

// TestPlugIns: the same car twice into one charger and one SmartEVSE;
// with a required EVCCID in the wrong case, the twin denies it each time.
func TestPlugIns(t *testing.T) {
	p, _ := evcc.Lookup("ioniq")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	rs, err := RunPlugIns(ctx, Config{Car: p, SkipDelays: true, PlugIns: 2, Timeline: &out})
	if err != nil || len(rs) != 2 {
		t.Fatalf("%v %+v", err, rs)
	}
	for i, r := range rs {
		if !r.OK || r.PlugIn != i+1 || r.SoC != 93 || r.Twin == nil || !r.Twin.ACCharging || !reflect.DeepEqual(r.Twin.States, []int{11, 12, 13, 1, 2}) {
			t.Errorf("plug-in %d: %+v %+v", i+1, r, r.Twin)
		}
	}
	if text := normalize(out.String()); !strings.Contains(text, "\nplug-in 2 of 2: the same car comes back\nT  a Hyundai Ioniq (2018) is plugged in\n") {
		t.Errorf("timeline:\n%s", text)
	}

	rs, err = RunPlugIns(ctx, Config{Car: p, SkipDelays: true, PlugIns: 2, RequiredEVCCID: "0465650064C3"})
	if err != nil || len(rs) != 2 {
		t.Fatalf("%v %+v", err, rs)
	}
	for i, r := range rs {
		if !r.OK || r.Twin == nil || !r.Twin.Denied || r.Twin.ACCharging || !reflect.DeepEqual(r.Twin.States, []int{11, 12, 13, 14}) {
			t.Errorf("denied plug-in %d: %+v %+v", i+1, r, r.Twin)
		}
	}
}

func behaviour(car string) string {
	p, _ := evcc.Lookup(car)
	return p.AfterSoC.String()
}

// TestStrategyRemembered: plugged in twice, a car whose first plug-in did
// not lead to AC charging gets the next strategy from the daemon's memory:
// the ID.3 (VW MEB) charges with x1-then-pwm once writing the PWM is
// allowed; the Ioniq charges with deliver-now and keeps it.
func TestStrategyRemembered(t *testing.T) {
	type want struct {
		strategy, outcome string
		ac                bool
		states            []int
	}
	cases := []struct {
		car  string
		want []want
	}{
		{"id3", []want{
			{"deliver-now", "no_ac", false, []int{11, 12, 13, 1}},
			{"x1-then-pwm", "ac_started", true, []int{11, 12, 13, 1, 2}},
		}},
		{"ioniq", []want{
			{"deliver-now", "ac_started", true, []int{11, 12, 13, 1, 2}},
			{"deliver-now", "ac_started", true, []int{11, 12, 13, 1, 2}},
		}},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	ress := make([][]Result, len(cases))
	errs := make([]error, len(cases))
	outs := make([]bytes.Buffer, len(cases))
	var wg sync.WaitGroup
	for i, c := range cases {
		p, err := evcc.Lookup(c.car)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ress[i], errs[i] = RunPlugIns(ctx, Config{Car: p, SkipDelays: true, PlugIns: 2, WritePWM: true, Timeline: &outs[i], ModemWait: 2 * time.Second})
		}()
	}
	wg.Wait()
	for i, c := range cases {
		t.Run(c.car, func(t *testing.T) {
			if errs[i] != nil || len(ress[i]) != 2 {
				t.Fatalf("%v %+v", errs[i], ress[i])
			}
			for j, w := range c.want {
				r := ress[i][j]
				h := r.Handover
				if !r.OK || h == nil || h.Strategy != w.strategy || h.Outcome != w.outcome || h.ACStarted != w.ac {
					t.Errorf("plug-in %d: %+v handover %+v, want %+v", j+1, r, h, w)
					continue
				}
				if r.Twin == nil || r.Twin.ACCharging != w.ac || !reflect.DeepEqual(r.Twin.States, w.states) {
					t.Errorf("plug-in %d: twin %+v, want %+v", j+1, r.Twin, w)
				}
			}
			const x1 = "the charger hands over with x1-then-pwm: CP at 100 % for 2 s, then the SmartEVSE's own PWM (override_pwm)\n"
			n := 0
			if c.car == "id3" {
				n = 1
			}
			text := outs[i].String()
			_, second, ok := strings.Cut(text, "plug-in 2 of 2")
			if !ok {
				t.Fatalf("no second plug-in in the timeline:\n%s", text)
			}
			if strings.Count(text, x1) != n || strings.Count(second, x1) != n {
				t.Errorf("the timeline says x1-then-pwm %d times, want %d, in the second plug-in:\n%s", strings.Count(text, x1), n, text)
			}
		})
	}
}
