package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ccslink/ccslink/daemon/config"
	"github.com/ccslink/ccslink/proto/evcc"
)

// TestSoCEstimated: a car that charges on AC after its SoC gets estimates
// that rise from the SoC it sent, from the twin's EV meter, said in the
// timeline and carried by --json as soc_estimated with their basis: the
// capacity the car sent (Ioniq), or the configuration's for a car that
// sends none (Model 3).
func TestSoCEstimated(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	fallback := config.Default()
	fallback.StateDir = ""
	fallback.CapacityFallback = []config.Capacity{{EVCCID: "*", CapacityWh: 75000}}
	cases := []struct {
		car     string
		daemon  *config.Config
		soc     int
		capWh   float64
		capFrom string
		words   string
	}{
		{"ioniq", nil, 93, 28000, "ChargeParameterDiscoveryReq", "the car's capacity of 28.0 kWh"},
		{"tesla-model3", &fallback, 57, 75000, "config", "the configured capacity of 75.0 kWh"},
	}
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
			ress[i], errs[i] = Run(ctx, Config{Car: p, SkipDelays: true, Timeline: &outs[i], Daemon: c.daemon})
		}()
	}
	wg.Wait()
	line := regexp.MustCompile(`(?m)^ *\d+\.\d{3} s  SoC estimated ≈ (\d+) % after (\d+\.\d) kWh \(from the (\d+) % read, (.*), 90 % efficiency\)$`)
	for i, c := range cases {
		t.Run(c.car, func(t *testing.T) {
			res, text := ress[i], outs[i].String()
			if errs[i] != nil || !res.OK || res.Twin == nil || !res.Twin.ACCharging {
				t.Fatalf("%v %+v\n%s", errs[i], res, text)
			}
			lines := line.FindAllStringSubmatch(text, -1)
			if len(lines) != Estimates {
				t.Fatalf("%d estimates, want %d:\n%s", len(lines), Estimates, text)
			}
			last, lastKWh := c.soc, 0.0
			for _, l := range lines {
				soc, _ := strconv.Atoi(l[1])
				kWh, _ := strconv.ParseFloat(l[2], 64)
				if soc <= last || kWh <= lastKWh || l[3] != strconv.Itoa(c.soc) || l[4] != c.words {
					t.Fatalf("the estimate does not rise from %d %% and %.1f kWh: %q\n%s", last, lastKWh, l[0], text)
				}
				last, lastKWh = soc, kWh
			}
			e := res.SoCEstimated
			if e == nil || e.MeasuredSoC != c.soc || e.CapacityWh != c.capWh || e.CapacityFrom != c.capFrom || e.Efficiency != 0.9 ||
				e.EnergySinceWh != int64(lastKWh*1000+0.5) || e.MeasuredAt.IsZero() || !e.At.After(e.MeasuredAt) {
				t.Fatalf("soc_estimated %+v, last line %d %% after %.1f kWh", e, last, lastKWh)
			}
			want := min(100, math.Round((float64(c.soc)+float64(e.EnergySinceWh)*0.9/c.capWh*100)*10)/10)
			if e.SoC != want || int(math.Round(e.SoC)) != last {
				t.Fatalf("soc_estimated %v, want %v (the line said %d)", e.SoC, want, last)
			}
			b, err := json.Marshal(res)
			if err != nil {
				t.Fatal(err)
			}
			var j struct {
				SoC          int             `json:"soc"`
				SoCEstimated json.RawMessage `json:"soc_estimated"`
			}
			if err := json.Unmarshal(b, &j); err != nil || j.SoC != c.soc || !regexp.MustCompile(`^\{"soc":[\d.]+,"measured_soc":`+strconv.Itoa(c.soc)+`,"measured_at":"[^"]+","energy_since_wh":\d+,"capacity_wh":`+strconv.Itoa(int(c.capWh))+`,"capacity_from":"`+c.capFrom+`","efficiency":0.9,"at":"[^"]+"\}$`).Match(j.SoCEstimated) {
				t.Fatalf("--json %s", b)
			}
		})
	}
}
