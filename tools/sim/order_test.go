package sim

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccslink/ccslink/proto/evcc"
	"github.com/ccslink/ccslink/proto/secc"
)

// measured are the parts of a timeline that real time decides (the time
// column, the SmartEVSE's answer time, the charger's answer times) or
// chance (the SLAC session's RunID and NID).
var measured = regexp.MustCompile(`(?m)^ *\d+\.\d{3} s  |\d+ ms\)|in \d+ µs|SmartEVSE \d+\.\d s after|RunID [0-9a-f]+, NID [0-9a-f]+|, \d+\.\d s after|≈ \d+ % after \d+\.\d kWh`)

func normalize(s string) string {
	return measured.ReplaceAllStringFunc(s, func(m string) string {
		switch {
		case strings.HasSuffix(m, " s  "):
			return "T  "
		case strings.HasSuffix(m, "ms)"):
			return "N ms)"
		case strings.HasSuffix(m, "µs"):
			return "in N µs"
		case strings.HasPrefix(m, "RunID"):
			return "RunID R, NID N"
		case strings.HasPrefix(m, ", "):
			return ", N s after"
		case strings.HasPrefix(m, "≈"):
			return "≈ N % after X kWh"
		}
		return "SmartEVSE N s after"
	})
}

// TestTimelineOrder: a plug-in's timeline has its lines in the same order
// in every run, however the charger's, the car's and the SmartEVSE
// sender's goroutines meet: the SmartEVSE's answer right after the values
// it carries (or, for values without a SoC, after the session, when they
// are sent) and the twin's CP-off right after it, the car leaving after
// the story's end, no line of the charger's next plug-in. Runs side by side, so that they are timed unlike.
func TestTimelineOrder(t *testing.T) {
	for _, c := range []struct {
		name    string
		car     string
		policy  secc.PolicyName
		verbose bool
	}{
		{"soc", "ioniq", secc.PolicySoC, false},
		{"dc verbose", "ioniq", secc.PolicyDC, true},
		{"ac without SoC", "ev6", secc.PolicyAC, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := evcc.Lookup(c.car)
			if err != nil {
				t.Fatal(err)
			}
			const runs = 4
			outs := make([]bytes.Buffer, runs)
			errs := make([]error, runs)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			var wg sync.WaitGroup
			for i := range runs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = Run(ctx, Config{Car: p, Policy: c.policy, SkipDelays: true, Verbose: c.verbose, Timeline: &outs[i]})
				}()
			}
			wg.Wait()
			first := normalize(outs[0].String())
			for i := range runs {
				if errs[i] != nil {
					t.Fatalf("run %d: %v", i, errs[i])
				}
				if got := normalize(outs[i].String()); got != first {
					t.Fatalf("run %d's timeline differs from run 0's:\n%s\nrun 0:\n%s", i, got, first)
				}
			}
			lines := strings.Split(first, "\n")
			want := map[string][]string{
				"soc": {
					"T  a Hyundai Ioniq (2018) is plugged in",
					"T  the SmartEVSE sees the car and switches CP off (MODEM_REQUEST)",
					"T  the SmartEVSE asks for digital communication with 5 % PWM and waits 60 s for the SoC (MODEM_WAIT)",
					"T  the car's modem starts matching with the charger's (SLAC)",
					"T  the charger matched the car 04:65:65:00:64:c3; the car's modem joins the charger's network",
					"T  the car found the charger (SDP) and opened the V2G connection",
					"T  the car and the charger agree to speak DIN 70121",
					"T  the car identified itself: EVCCID 0465650064c3",
					"T  the car told its battery state: SoC 93 %, full at 94 %, capacity 28.0 kWh, wants 1.8 kWh",
					"current_soc=93&full_soc=94&energy_capacity=28000&energy_request=1820&evccid=0465650064c3",
					"T  the SmartEVSE has the SoC: CP off for 5 s, a virtual re-plug (MODEM_DONE); the car's modem leaves the charger's network",
					"T  V2G session over: the car ended the session (SessionStop)",
					"T  the SmartEVSE switches CP back on and offers 16 A (26.7 % PWM)",
					"T  the car charges on AC (state C), N s after its SoC reached the SmartEVSE",
					"T  the simulated EV meter runs 360 times fast: an hour of charging takes 10 s",
					"T  SoC estimated ≈ N % after X kWh (from the 93 % read, the car's capacity of 28.0 kWh, 90 % efficiency)",
					"T  SoC estimated ≈ N % after X kWh (from the 93 % read, the car's capacity of 28.0 kWh, 90 % efficiency)",
					"T  car unplugged",
					"          ",
					"          ok: car 04:65:65:00:64:c3 (DIN 70121): SoC 93 %, capacity 28.0 kWh, wants 1.8 kWh, EVCCID 0465650064c3",
					"          the SoC reached the SmartEVSE N s after plug-in; the charger answered 8 requests, slowest in N µs",
					"          after the SoC: the car charges on AC, N s after its SoC reached the SmartEVSE",
					"",
				},
				"ac without SoC": {
					"T  a Kia EV6 is plugged in",
					"T  the SmartEVSE sees the car and switches CP off (MODEM_REQUEST)",
					"T  the SmartEVSE asks for digital communication with 5 % PWM and waits 60 s for the SoC (MODEM_WAIT)",
					"T  the car's modem starts matching with the charger's (SLAC)",
					"T  the charger matched the car 04:e7:7e:00:f3:98; the car's modem joins the charger's network",
					"T  the car found the charger (SDP) and opened the V2G connection",
					"T  the car and the charger agree to speak ISO 15118-2",
					"T  the car identified itself: EVCCID 04e77e00f398",
					"T  V2G session over: the car ended the session (SessionStop)",
					"current_soc=-1&full_soc=-1&energy_capacity=-1&energy_request=-1&evccid=04e77e00f398",
					"T  the SmartEVSE got no SoC: it keeps 5 % PWM until its wait for one ends, then cuts CP and offers AC",
					"T  car unplugged",
				},
			}[c.name]
			if c.verbose {
				// The request after the values follows the SmartEVSE's answer;
				// the car's SDP request comes before its connection.
				want = []string{
					"T  the car asked where the charger is (SDP) and got its address",
					"T  the car found the charger (SDP) and opened the V2G connection",
					"T  the car told its battery state: SoC 93 %, full at 94 %, capacity 28.0 kWh, wants 1.8 kWh",
					"current_soc=93&full_soc=94&energy_capacity=28000&energy_request=1820&evccid=0465650064c3",
					"T    ChargeParameterDiscoveryReq -> OK in N µs",
				}
			}
			// The lines wanted, each the next of the timeline (in verbose
			// mode, somewhere after the one before); the SmartEVSE's by its values.
			at := -1
			for _, w := range want {
				found := false
				for at+1 < len(lines) && !found {
					at++
					l := lines[at]
					found = l == w || strings.HasPrefix(w, "current_soc=") && strings.Contains(l, "SmartEVSE") && strings.Contains(l, w)
					if !found && !c.verbose {
						t.Fatalf("line %d is %q, want %q\n%s", at+1, l, w, first)
					}
				}
				if !found {
					t.Fatalf("no %q after line %d\n%s", w, at+1, first)
				}
			}
			if !c.verbose && at != len(lines)-1 && c.name == "soc" {
				t.Fatalf("lines after the summary:\n%s", first)
			}
		})
	}
}
