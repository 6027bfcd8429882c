package sim

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccslink/ccslink/daemon/output/pcap"
	"github.com/ccslink/ccslink/daemon/output/smartevse"
	"github.com/ccslink/ccslink/internal/netnstest"
	"github.com/ccslink/ccslink/proto/evcc"
	"github.com/ccslink/ccslink/proto/secc"
	"github.com/ccslink/ccslink/record"
	"github.com/ccslink/ccslink/tools/capture"
	"github.com/ccslink/ccslink/tools/replay"
)

// TestEveryCar plugs every car profile in under every policy: the charger
// must record, and the SmartEVSE receive, exactly what the car sent. The
// plug-ins wait on timers more than they compute, so they run side by side.
func TestEveryCar(t *testing.T) {
	type run struct {
		name string
		res  Result
		err  error
	}
	var runs []*run
	var cfgs []Config
	for _, pol := range []secc.PolicyName{secc.PolicySoC, secc.PolicyDC, secc.PolicyAC} {
		for _, p := range evcc.Profiles() {
			if testing.Short() && (pol != secc.PolicySoC || p.Name != "ioniq") {
				continue
			}
			if !p.AfterSoC.Talks() {
				continue // nothing to record: TestSilentCars
			}
			runs = append(runs, &run{name: pol.String() + "/" + p.Name})
			cfgs = append(cfgs, Config{Car: p, Policy: pol, SkipDelays: true})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	slots := make(chan struct{}, 12)
	for i := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			slots <- struct{}{}
			defer func() { <-slots }()
			runs[i].res, runs[i].err = Run(ctx, cfgs[i])
		}()
	}
	wg.Wait()
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			res := r.res
			if r.err != nil {
				t.Fatal(r.err)
			}
			if !res.OK || res.Error != "" {
				t.Fatalf("not ok: %+v", res)
			}
			sent := res.CarResult.Sent
			if res.EVCCID != hex.EncodeToString(sent.EVCCID[:]) {
				t.Errorf("EVCCID %s, the car sent %x", res.EVCCID, sent.EVCCID)
			}
			if res.Protocol != res.CarResult.Protocol {
				t.Errorf("protocol %s, the car spoke %s", res.Protocol, res.CarResult.Protocol)
			}
			want := smartevse.State{SoC: sent.SoC, FullSoC: sent.FullSOC, EnergyCapacity: int(sent.CapacityWh), EnergyRequest: int(sent.RequestWh), EVCCID: res.EVCCID}
			switch {
			case res.CarResult.Protocol == "iso20":
				// The SoC of the charge loop's DisplayParameters (the newest
				// the charger heard), the energy of the schedule's request.
				want.FullSoC = -1
			case strings.HasPrefix(res.CarResult.Mode, "AC"):
				// AC messages carry no SoC: only the energy the car asks for.
				want = smartevse.State{SoC: -1, FullSoC: -1, EnergyCapacity: -1, EnergyRequest: int(sent.EAmountWh), EVCCID: res.EVCCID}
			case res.CarResult.Mode == "":
				// The car stopped before ChargeParameterDiscovery (no usable service).
				want = smartevse.State{SoC: -1, FullSoC: -1, EnergyCapacity: -1, EnergyRequest: -1, EVCCID: res.EVCCID}
			}
			got := smartevse.State{SoC: res.SoC, FullSoC: res.FullSoC, EnergyCapacity: res.EnergyCapacityWh, EnergyRequest: res.EnergyRequestWh, EVCCID: res.EVCCID}
			if got != want {
				t.Errorf("recorded %+v, the car sent %+v", got, want)
			}
			if q := smartevse.Query(want); res.SmartEVSEQuery != q {
				t.Errorf("the SmartEVSE got %q, want %q", res.SmartEVSEQuery, q)
			}
			if res.SECCResponseUS.Max <= 0 || len(res.Record.Answers) != len(res.CarResult.Steps) {
				t.Errorf("%d answers timed (max %d µs) for %d requests", len(res.Record.Answers), res.SECCResponseUS.Max, len(res.CarResult.Steps))
			}
		})
	}
}

func TestTimeline(t *testing.T) {
	p, err := evcc.Lookup("ioniq")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := Run(ctx, Config{Car: p, SkipDelays: true, Timeline: &out}); err != nil {
		t.Fatal(err)
	}
	// Plain words, in order; no jargon without -v.
	text := out.String()
	want := []string{
		"a Hyundai Ioniq (2018) is plugged in",
		"the charger matched the car 04:65:65:00:64:c3",
		"opened the V2G connection",
		"agree to speak DIN 70121",
		"EVCCID 0465650064c3",
		"SoC 93 %, full at 94 %, capacity 28.0 kWh, wants 1.8 kWh",
		"the car ended the session (SessionStop)",
		"car unplugged",
		"ok: car 04:65:65:00:64:c3 (DIN 70121): SoC 93 %",
	}
	at := 0
	for _, w := range want {
		i := strings.Index(text[at:], w)
		if i < 0 {
			t.Fatalf("timeline lacks %q after byte %d:\n%s", w, at, text)
		}
		at += i + len(w)
	}
	// The SmartEVSE's answer comes on its own goroutine, before or after the session's end.
	if !strings.Contains(text, "the SmartEVSE got POST /ev_state?current_soc=93&full_soc=94&energy_capacity=28000&energy_request=1820&evccid=0465650064c3 (HTTP 200") {
		t.Errorf("timeline lacks the SmartEVSE's POST:\n%s", text)
	}
	for _, jargon := range []string{"RunID", "NID", "NMK"} {
		if strings.Contains(text, jargon) {
			t.Errorf("timeline says %s without -v:\n%s", jargon, text)
		}
	}
}

// TestSmartEVSEFaults: a SmartEVSE that is down, hangs or answers 500 never
// slows the car's session; the failure is in the record, and the plug-in ends.
func TestSmartEVSEFaults(t *testing.T) {
	p, _ := evcc.Lookup("ioniq")
	downURL := "http://" + netnstest.RefusingAddr(t)
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hang.Close()
	defer close(release)
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	defer broken.Close()
	paths := make(chan string, 8)
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { paths <- r.URL.Path }))
	defer ok.Close()
	t.Run("another SmartEVSE", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var out bytes.Buffer
		// Given with a trailing slash: posted, and said, without it.
		res, err := Run(ctx, Config{Car: p, SkipDelays: true, SmartEVSE: ok.URL + "/hook/ev_state/", Timeline: &out})
		const query = "current_soc=93&full_soc=94&energy_capacity=28000&energy_request=1820&evccid=0465650064c3"
		if err != nil || !res.OK || res.SmartEVSEQuery != query {
			t.Fatalf("%+v %v", res, err)
		}
		if got := <-paths; got != "/hook/ev_state" {
			t.Errorf("posted to %q, want /hook/ev_state", got)
		}
		if !strings.Contains(out.String(), "the SmartEVSE got POST /hook/ev_state?"+query+" (HTTP 200, ") {
			t.Errorf("the timeline does not name the path posted to:\n%s", out.String())
		}
	})
	t.Run("a SmartEVSE that charges the car", func(t *testing.T) {
		// GET /settings says MODEM_WAIT until the SoC came, then C.
		var mu sync.Mutex
		state, gets := 12, 0
		evse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			defer mu.Unlock()
			if r.Method == http.MethodGet && r.URL.Path == "/settings" {
				gets++
				fmt.Fprintf(w, `{"evse":{"state":"Charging","state_id":%d,"iec61851_state":"C","charging_enabled":true}}`, state)
				return
			}
			state = 2
		}))
		defer evse.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var out bytes.Buffer
		res, err := Run(ctx, Config{Car: p, SkipDelays: true, SmartEVSE: evse.URL, Timeline: &out})
		if err != nil || !res.OK {
			t.Fatalf("%+v %v", res, err)
		}
		h := res.Handover
		if h == nil || h.Strategy != "deliver-now" || !h.ACStarted || h.Outcome != "ac_started" || h.ACAfterMS == nil || *h.ACAfterMS < 0 || *h.ACAfterMS > 10000 || h.Why != "" {
			t.Fatalf("handover %+v", h)
		}
		b, _ := json.Marshal(res)
		if want := fmt.Sprintf(`"handover":{"strategy":"deliver-now","ac_started":true,"ac_after_ms":%d,"outcome":"ac_started"}`, *h.ACAfterMS); !strings.Contains(string(b), want) {
			t.Errorf("JSON lacks %s: %s", want, b)
		}
		if !strings.Contains(out.String(), "after the SoC: charging on AC ") {
			t.Errorf("the timeline does not say what the SmartEVSE did:\n%s", out.String())
		}
		mu.Lock()
		defer mu.Unlock()
		if gets < 1 {
			t.Errorf("%d GET /settings", gets)
		}
	})
	downHost, brokenHost := strings.TrimPrefix(downURL, "http://"), strings.TrimPrefix(broken.URL, "http://")
	for _, tc := range []struct{ name, url, cause string }{
		{"down", downURL, "connection refused by " + downHost},
		{"hangs", hang.URL, ""},
		{"500", broken.URL, "HTTP 500 Internal Server Error from " + brokenHost},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var logs bytes.Buffer
			res, err := Run(ctx, Config{Car: p, SkipDelays: true, SmartEVSE: tc.url, Log: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			rec := res.Record
			if rec.SoC.Value != 93 || rec.End != record.EndSessionStop || res.CarResult.End != evcc.EndShutdown {
				t.Fatalf("the car's session: %+v", res)
			}
			// No answer waited for the SmartEVSE: one that did would take an
			// attempt's timeout (2 s) or more; the bound is generous for a
			// loaded machine under -race.
			if res.SECCResponseUS.Max >= smartevse.DefaultTimeout.Microseconds()/2 {
				t.Errorf("slowest answer %d µs", res.SECCResponseUS.Max)
			}
			if !rec.Phases.Delivered.IsZero() || res.OK || res.SmartEVSEQuery != "" {
				t.Errorf("delivered to a SmartEVSE that %s: %+v", tc.name, rec.Deliveries)
			}
			// The delivery is still being tried when the car has gone (the
			// SmartEVSE waits 60 s), and each failed attempt says why.
			if len(rec.Deliveries) != 0 {
				t.Errorf("deliveries in the record while the delivery goes on: %+v", rec.Deliveries)
			}
			if tc.cause != "" && !strings.Contains(logs.String(), "msg=\"smartevse: attempt failed, retrying: "+tc.cause+"\"") {
				t.Errorf("no attempt failed with %q in the log:\n%s", tc.cause, logs.String())
			}
		})
	}
}

// TestRecording: the plug-in's pcap, read back and replayed against the
// charger, yields what the car sent.
func TestRecording(t *testing.T) {
	p, _ := evcc.Lookup("ioniq")
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := Run(ctx, Config{Car: p, SkipDelays: true, RecordDir: dir}); err != nil {
		t.Fatal(err)
	}
	files, err := pcap.Files(dir)
	if err != nil || len(files) != 1 {
		t.Fatalf("recordings %v %v", files, err)
	}
	c, err := capture.Open(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if n := len(capture.HomePlug(c.Frames())); n < 20 {
		t.Errorf("%d HomePlug frames recorded; SLAC takes more", n)
	}
	res, err := replay.File(ctx, files[0], replay.Config{})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Main()
	if s == nil || s.Record.SoC.Value != 93 || s.Record.EVCCIDHex() != "0465650064c3" || s.Record.EnergyCapacityWh.Value != 28000 {
		t.Fatalf("replayed: %+v", s)
	}
}
