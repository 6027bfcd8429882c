package httpapi

import (
	"context"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccslink/ccslink/proto/v2g/message"
	"github.com/ccslink/ccslink/record"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// browserPage opens s's live page in a headless Chromium. text returns what
// an element shows; waitFor waits until js is true, or fails the test
// saying what never showed; thrown lists the page's exceptions.
func browserPage(t *testing.T, s *Server) (bctx context.Context, text func(sel string) string, waitFor func(what, js string), thrown func() []string) {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		t.Skipf("no %s (bash .ci/browser installs it): the page is not tried in a browser", chromium)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.ServeListener(sctx, ln) }()
	t.Cleanup(func() { stop(); <-served })
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx, chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.NoFirstRun, chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(390, 844))
	t.Cleanup(acancel)
	var mu sync.Mutex
	var errs []string
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		if e, ok := ev.(*runtime.EventExceptionThrown); ok && e.ExceptionDetails != nil {
			d := e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				d += " " + e.ExceptionDetails.Exception.Description
			}
			mu.Lock()
			errs = append(errs, d)
			mu.Unlock()
		}
	}))
	t.Cleanup(bcancel)
	text = func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	waitFor = func(what, js string) {
		t.Helper()
		if _, err := chromedp.Run(bctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
			t.Fatalf("the page never showed %s: %v (car %q, capacity %q, after the SoC %q)", what, err, text("#vehicle"), text("#capacity"), text("#handover"))
		}
	}
	thrown = func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), errs...)
	}
	subscribed := make(chan struct{}, 4)
	s.onSubscribe = func() { subscribed <- struct{}{} }
	url := "http://" + ln.Addr().String() + "/"
	if err := chromedp.Do(bctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	select {
	case <-subscribed:
	case <-ctx.Done():
		t.Fatal("the page never opened /api/events")
	}
	return bctx, text, waitFor, thrown
}

// shows is a JavaScript test that the element id shows want.
func shows(id, want string) string {
	return `document.getElementById("` + id + `").textContent === "` + want + `"`
}

// TestPageVehicleInBrowser: the page says which car is plugged in and how
// it was recognised, the capacity the configuration gave it, and what the
// charger did after the SoC with the strategy in plain words; live, and
// again when the page is opened afresh.
func TestPageVehicleInBrowser(t *testing.T) {
	s := newServer(t, Config{})
	bctx, text, waitFor, thrown := browserPage(t, s)
	waitFor("no car", shows("vehicle", "–"))

	// An ID.3 with a new random MAC, known by its fingerprint; it sends no
	// capacity and the configuration's fallback is taken.
	rec := &record.Session{}
	id3 := &record.Vehicle{Name: "Volkswagen", ID: "007dfa9b54b1", Confidence: 0.83, By: record.ByFingerprint}
	play := func(events ...record.Event) {
		for _, e := range events {
			rec.Apply(e)
			if e.Kind == record.KindValues {
				rec.Apply(record.Event{Kind: record.KindValues, At: e.At, From: fromConfig, Values: record.Values{EnergyCapacityWh: ptr(58000.0)}})
			}
			s.Event(e, rec)
		}
	}
	play(record.Event{Kind: record.KindSLACStarted, At: t0},
		record.Event{Kind: record.KindMatched, At: ms(1500), EVMAC: "02:00:00:00:ca:01"},
		record.Event{Kind: record.KindConnected, At: ms(3000)},
		record.Event{Kind: record.KindHandshake, At: ms(3100), Protocol: "din", Namespace: "urn:din:70121:2012:MsgDef"},
		record.Event{Kind: record.KindSessionSetup, At: ms(3200), EVCCID: []byte{0x00, 0x7d, 0xfa, 0xa1, 0x22, 0x07}},
		record.Event{Kind: record.KindVehicle, At: ms(3300), Vehicle: id3})
	// The vehicle event alone brings it.
	waitFor("the ID.3", shows("vehicle", "Volkswagen (007dfa9b54b1) · recognised by its fingerprint, 83 % sure"))
	play(record.Event{Kind: record.KindValues, At: ms(3300), Message: message.ChargeParameterDiscoveryReq, Values: record.Values{SoC: ptr(74), EnergyRequestWh: ptr(5300.0)}},
		record.Event{Kind: record.KindEnded, At: ms(5000), End: record.EndSessionStop})
	waitFor("the capacity of the configuration", shows("capacity", "58.0 kWh, from the configuration (the car sent none)"))
	if got := text("#handover"); got != "–" {
		t.Errorf("the handover shows %q before it came", got)
	}
	s.PlugInEnded(rec)
	h := &record.Handover{Strategy: record.StrategyX1ThenPWM, ACStarted: true, ACAfter: 9020 * time.Millisecond, Observed: true,
		Seen: []string{"MODEM_DONE", "B", "C"}, Watched: 20 * time.Second, At: ms(14320)}
	late := record.Event{Kind: record.KindHandover, At: h.At, Handover: h}
	amended := rec.Clone()
	amended.Apply(late)
	s.Late(late, amended)
	const x1 = "charging on AC 9 s later · handed over with CP at 100 % for 2 s before the PWM"
	waitFor("the handover", shows("handover", x1))
	waitFor("the ID.3 in the table", `document.querySelector("#sessions tr").textContent.includes("Volkswagen (007dfa9b54b1)")`)

	// The Ioniq of the cars list, handed over as today, that did not charge.
	rec = &record.Session{}
	ioniqCar := &record.Vehicle{Name: "Our Ioniq", ID: "ioniq", Confidence: 1, By: record.ByConfig}
	events := ioniq()
	for _, e := range events[:len(events)-1] {
		rec.Apply(e)
		s.Event(e, rec)
		if e.Kind == record.KindSessionSetup {
			v := record.Event{Kind: record.KindVehicle, At: e.At, Vehicle: ioniqCar}
			rec.Apply(v)
			s.Event(v, rec)
		}
	}
	waitFor("the Ioniq of the cars list", shows("vehicle", "Our Ioniq (ioniq) · known from your cars list"))
	if got := text("#capacity"); got != "28.0 kWh" {
		t.Errorf("the Ioniq's own capacity shows %q", got)
	}
	// A handover that came before the plug-in ended.
	no := &record.Handover{Strategy: record.StrategyDeliverNow, Observed: true, Seen: []string{"MODEM_DONE", "B"}, Watched: 20 * time.Second, At: ms(25350)}
	e := record.Event{Kind: record.KindHandover, At: no.At, Handover: no}
	rec.Apply(e)
	s.Event(e, rec)
	const noAC = "no AC charging within 20 s (seen: MODEM_DONE, B) · handed over at once: the SmartEVSE switched CP off and on"
	waitFor("no AC", shows("handover", noAC))

	// Opened afresh, the page shows the same from /api/state.
	if err := chromedp.Do(bctx, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	waitFor("the Ioniq after a reload", shows("soc", "93"))
	for sel, want := range map[string]string{
		"#vehicle":  "Our Ioniq (ioniq) · known from your cars list",
		"#handover": noAC,
		"#capacity": "28.0 kWh",
	} {
		if got := text(sel); got != want {
			t.Errorf("after a reload %s shows %q, want %q", sel, got, want)
		}
	}
	for _, e := range thrown() {
		t.Errorf("the page threw: %s", e)
	}
}
