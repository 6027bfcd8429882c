package sim

import (
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/ccslink/ccslink/evcc"
	"github.com/ccslink/ccslink/output/smartevse"
	"github.com/ccslink/ccslink/record"
	"github.com/ccslink/ccslink/slac"
)

// timeline writes the plug-in in plain words, each line with the time
// since the car was plugged in. Lines come from the charger's goroutine,
// the car's and the SmartEVSE sender's, hence the lock.
type timeline struct {
	w       io.Writer
	verbose bool
	mu      sync.Mutex
	t0      time.Time
	sawVals bool
}

func (t *timeline) printf(format string, args ...any) {
	if t.w == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.t0.IsZero() {
		fmt.Fprintf(t.w, "          "+format+"\n", args...)
		return
	}
	fmt.Fprintf(t.w, "%7.3f s  "+format+"\n", append([]any{time.Since(t.t0).Seconds()}, args...)...)
}

func (t *timeline) say(s string) { t.printf("%s", s) }

func (t *timeline) start(at time.Time, p evcc.Profile) {
	t.mu.Lock()
	t.t0 = at
	t.mu.Unlock()
	t.printf("a %s is plugged in; its modem starts matching with the charger's (SLAC)", p.Car)
}

func (t *timeline) carMatched(r slac.Result) {
	if t.verbose {
		t.printf("car side: matched, RunID %v, NID %v", r.RunID, r.NID)
	}
}

func (t *timeline) event(e record.Event, s *record.Session) {
	switch e.Kind {
	case record.KindSLACStarted:
		if t.verbose {
			t.say("charger: modem keyed with a fresh network key, waiting for a car")
		}
	case record.KindMatched:
		t.printf("the charger matched the car %s; the car's modem joins the charger's network", e.EVMAC)
	case record.KindLinkUp:
		if t.verbose {
			t.say("link up: both modems hold the session key")
		}
	case record.KindSDP:
		if t.verbose {
			t.say("the car asked where the charger is (SDP) and got its address")
		}
	case record.KindConnected:
		t.say("the car found the charger (SDP) and opened the V2G connection")
	case record.KindHandshake:
		t.printf("the car and the charger agree to speak %s", record.ProtocolName(e.Protocol))
	case record.KindSessionSetup:
		if s.EVCCID != nil {
			extra := ""
			if s.EVCCID.Random {
				extra = " (a random, per-session ID)"
			}
			t.printf("the car identified itself: EVCCID %s%s", s.EVCCID.Hex, extra)
		}
	case record.KindValues:
		if !t.sawVals && e.Message == "ChargeParameterDiscoveryReq" {
			t.sawVals = true
			t.printf("the car told its battery state: %s", values(s))
		}
	case record.KindRequest:
		if t.verbose {
			t.printf("  %s -> %s in %d µs", e.Message, e.Code, e.Took.Microseconds())
		}
	case record.KindEnded:
		if e.End != record.EndLinkLost && e.End != record.EndStopped {
			t.printf("V2G session over: %s", e.End.Words())
		}
	}
}

func values(s *record.Session) string {
	var parts []string
	if s.SoC.Known {
		parts = append(parts, fmt.Sprintf("SoC %d %%", s.SoC.Value))
	}
	if s.FullSOC.Known {
		parts = append(parts, fmt.Sprintf("full at %d %%", s.FullSOC.Value))
	}
	if s.EnergyCapacityWh.Known {
		parts = append(parts, fmt.Sprintf("capacity %.1f kWh", s.EnergyCapacityWh.Value/1000))
	} else {
		parts = append(parts, "no capacity sent")
	}
	if s.EnergyRequestWh.Known {
		parts = append(parts, fmt.Sprintf("wants %.1f kWh", s.EnergyRequestWh.Value/1000))
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}

func (t *timeline) delivered(d smartevse.Delivery) {
	if d.Err != nil {
		t.printf("SmartEVSE: %s", d.Words())
		return
	}
	path := smartevse.DefaultPath
	if u, err := url.Parse(d.URL); err == nil {
		path = u.EscapedPath() // the path posted to, which --smartevse may have set
	}
	t.printf("the SmartEVSE got POST %s?%s (HTTP %d, %d ms)", path, d.Query, d.Status, d.Latency.Milliseconds())
}

func (t *timeline) summary(res Result, rec *record.Session) {
	if t.w == nil {
		return
	}
	verdict := "ok"
	if !res.OK {
		verdict = "FAILED"
	}
	t.mu.Lock()
	plugged := t.t0
	t.t0 = time.Time{}
	t.mu.Unlock()
	t.printf("")
	t.printf("%s: %s", verdict, rec.Summary())
	switch {
	case res.SmartEVSEQuery != "" && rec.SoC.Known && !rec.Phases.Delivered.IsZero():
		t.printf("the SoC reached the SmartEVSE %.1f s after plug-in; the charger answered %d requests, slowest in %d µs",
			rec.Phases.Delivered.Sub(plugged).Seconds(), len(rec.Answers), res.SECCResponseUS.Max)
	case res.SmartEVSEQuery != "":
		t.printf("the SmartEVSE got %s", res.SmartEVSEQuery)
	default:
		t.printf("nothing reached the SmartEVSE")
	}
	if res.Error != "" {
		t.printf("car side: %s", res.Error)
	}
}
