package httpapi

import (
	"context"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccslink/ccslink/record"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

const chromium = "/usr/bin/chromium"

// The page in a real headless Chromium, as a phone shows it: it loads the
// last plug-in, then follows a new one live through /api/events.
func TestPageInBrowser(t *testing.T) {
	if _, err := os.Stat(chromium); err != nil {
		t.Skipf("no %s (bash .ci/browser installs it): the page is not tried in a browser", chromium)
	}
	s := newServer(t, Config{Token: "s3cret", MaxEventClients: 1})
	subscribed := make(chan struct{}, 4)
	s.onSubscribe = func() { subscribed <- struct{}{} }
	p := &player{s: s}
	p.plugIn(car(mac(9), 20, t0.Add(-time.Hour)))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.ServeListener(sctx, ln) }()
	defer func() { stop(); <-served }()

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	actx, acancel := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(390, 844),
	)
	defer acancel()
	var mu sync.Mutex
	var thrown []string
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		if e, ok := ev.(*runtime.EventExceptionThrown); ok && e.ExceptionDetails != nil {
			d := e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				d += " " + e.ExceptionDetails.Exception.Description
			}
			mu.Lock()
			thrown = append(thrown, d)
			mu.Unlock()
		}
	}))
	defer bcancel()

	// text is what the element shows (innerText), content its text nodes joined.
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	content := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.TextContent(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	waitFor := func(what, js string) {
		t.Helper()
		if _, err := chromedp.Run(bctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
			t.Fatalf("the page never showed %s: %v (soc %q, words %q)", what, err, text("#soc"), text("#words"))
		}
	}
	url := "http://" + ln.Addr().String() + "/?token=s3cret"
	if err := chromedp.Do(bctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	select {
	case <-subscribed:
	case <-ctx.Done():
		t.Fatal("the page never opened /api/events")
	}
	waitFor("the last plug-in's SoC", `document.getElementById("soc").textContent === "20"`)
	if got, want := text("#words"), "waiting for a car · last: car 02:00:00:00:00:09: SoC 20 %"; got != want {
		t.Errorf("the words say %q, want %q", got, want)
	}
	waitFor("the last plug-in in the table", `document.querySelectorAll("#sessions tr").length === 1 && document.getElementById("sessions").textContent.includes("02:00:00:00:00:09")`)
	if got := text("#conn"); got != "live" {
		t.Errorf("connection shown as %q", got)
	}

	// The Ioniq plugs in: everything below comes through the event stream.
	p.play(ioniq()...)
	waitFor("the Ioniq's SoC", `document.getElementById("soc").textContent === "93"`)
	waitFor("the Ioniq's session end", `document.getElementById("steps").textContent.includes("ended: the car ended the session")`)
	for sel, want := range map[string]string{
		"#evccid":   "0465650064c3",
		"#protocol": "DIN 70121",
		"#evmac":    "04:65:65:00:64:c3",
		"#fullsoc":  "94 %",
		"#capacity": "28.0 kWh",
		"#request":  "1.8 kWh",
	} {
		if got := text(sel); got != want {
			t.Errorf("%s shows %q, want %q", sel, got, want)
		}
	}
	steps := content("#steps")
	for _, want := range []string{
		"0.000 sSLAC matched the car 04:65:65:00:64:c3",
		"3.595 sthe car opened the V2G connection",
		"3.596 sprotocol DIN 70121",
		"EVCCID 0465650064c3",
		"SessionSetupReq → OK_NewSessionEstablished0.030 ms",
		"the car told: SoC 93 %, capacity 28.0 kWh, wants 1.8 kWh",
		"ChargeParameterDiscoveryReq → OK0.060 ms",
		"smartevse: HTTP 2001.000 ms",
	} {
		if !strings.Contains(steps, want) {
			t.Errorf("the steps lack %q:\n%s", want, steps)
		}
	}

	if got, want := text("#words"), "over: the car ended the session (SessionStop)"; got != want {
		t.Errorf("the words say %q after the Ioniq's session, want %q", got, want)
	}

	// The plug-in ends: the table gets it.
	p.end(ms(9000))
	waitFor("the Ioniq in the table", `document.querySelectorAll("#sessions tr").length === 2 && document.querySelector("#sessions tr").textContent.includes("0465650064c3")`)
	const lastIoniq = " · last: car 04:65:65:00:64:c3 (DIN 70121): SoC 93 %, capacity 28.0 kWh, wants 1.8 kWh, EVCCID 0465650064c3"
	waitFor("waiting, with the Ioniq as the last car", `document.getElementById("words").textContent === "waiting for a car`+lastIoniq+`"`)
	if got := content("#sessions tr"); !strings.Contains(got, "93 %") || !strings.Contains(got, "the car ended the session") {
		t.Errorf("the table's first row: %q", got)
	}
	if got := text("#handover"); got != "–" {
		t.Errorf("the handover shows %q before it came", got)
	}
	// The SmartEVSE charges the Ioniq on AC after it left the V2G session.
	h := &record.Handover{Strategy: record.StrategyDeliverNow, ACStarted: true, ACAfter: 9 * time.Second, Observed: true, Watched: time.Minute, At: ms(14350)}
	late := record.Event{Kind: record.KindHandover, At: h.At, Handover: h}
	amended := p.rec.Clone()
	amended.Apply(late)
	s.Late(late, amended)
	waitFor("the handover", `document.getElementById("handover").textContent === "charging on AC 9 s later · handed over at once: the SmartEVSE switched CP off and on"`)
	if steps := content("#steps"); !strings.Contains(steps, "12.600 scharging on AC, 9.0 s after the SoC was sent") {
		t.Errorf("the steps lack the handover:\n%s", steps)
	}
	// While it charges, the SoC estimated shows as an estimate, beside
	// the SoC read, which stays.
	if got := text("#socest"); got != "" {
		t.Errorf("an estimate shows %q before it came", got)
	}
	est := record.Event{Kind: record.KindEstimate, At: ms(20000), Estimate: &record.Estimate{SoC: 96.5, MeasuredSoC: 93, MeasuredAt: ms(5000),
		EnergySinceWh: 1100, CapacityWh: 28000, CapacityFrom: "ChargeParameterDiscoveryReq", Efficiency: 0.9, At: ms(20000)}}
	amended.Apply(est)
	s.Late(est, amended)
	waitFor("the estimate", `document.getElementById("socest").textContent === "≈ 97 % (estimated) now, after 1.1 kWh charged"`)
	if got := text("#soc"); got != "93" {
		t.Errorf("the SoC shows %q beside the estimate, want 93", got)
	}
	// A second page, past the one client the server takes: it shows the
	// values it fetched and says it is not live.
	tctx, tcancel := chromedp.NewContext(bctx)
	defer tcancel()
	if err := chromedp.Do(tctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("open %s in a second tab: %v", url, err)
	}
	if _, err := chromedp.Run(tctx, chromedp.Poll[bool](`document.getElementById("conn").textContent === "not live: reload the page" && document.getElementById("soc").textContent === "93"`,
		chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		c, _ := chromedp.Run(tctx, chromedp.Text(chromedp.CSS("#conn")))
		t.Errorf("the second page never said it is not live: %v (it shows %q)", err, c)
	}
	if got := text("#conn"); got != "live" {
		t.Errorf("the first page shows %q after the second was refused", got)
	}

	// An ISO 15118-2 AC car that sends no SoC: the page shows a dash for
	// every value it did not send, never -1 or "null".
	ac := acCar(ms(20000))
	p.play(ac[0])
	waitFor("the modem ready, with the Ioniq as the last car", `document.getElementById("words").textContent === "waiting for a car; the charger's modem is ready to match it`+lastIoniq+`"`)
	p.play(ac[1:]...)
	waitFor("the AC car's session end", `document.getElementById("steps").textContent.includes("the car told: wants 12.0 kWh")`)
	for sel, want := range map[string]string{
		"#soc":      "–",
		"#fullsoc":  "–",
		"#capacity": "–",
		"#request":  "12.0 kWh",
		"#protocol": "ISO 15118-2",
		"#evccid":   "007dfa00ac01",
		"#socage":   "",
	} {
		if got := text(sel); got != want {
			t.Errorf("the AC car: %s shows %q, want %q", sel, got, want)
		}
	}
	if got := content("main > section"); strings.Contains(got, "null") || strings.Contains(got, "-1") || strings.Contains(got, "NaN") {
		t.Errorf("the AC car's values show null, -1 or NaN: %q", got)
	}
	// A car that never starts SLAC: the page says so at once, in the
	// owner's words, and keeps it in the table once the car left.
	p.end(ms(30000))
	const noComm = "the car did not start digital communication within 10 s: it will charge on AC without SoC"
	p.play(record.Event{Kind: record.KindSLACStarted, At: ms(40000)},
		record.Event{Kind: record.KindEnded, At: ms(50000), End: record.EndNoComm, Detail: noComm})
	waitFor("the car that does not talk", `document.getElementById("words").textContent === "`+noComm+`"`)
	if got, want := content("#steps"), "0.000 s"+noComm; got != want {
		t.Errorf("the steps of the car that does not talk: %q, want %q", got, want)
	}
	if got := text("#soc"); got != "–" {
		t.Errorf("the car that does not talk: SoC %q", got)
	}
	gone := record.Event{Kind: record.KindEnded, At: ms(80000), End: record.EndNoComm, Detail: noComm, Gone: "the control pilot went back to state A"}
	p.rec.Apply(gone)
	s.Event(gone, p.rec)
	s.PlugInEnded(p.rec)
	waitFor("waiting, with the car that did not talk as the last", `document.getElementById("words").textContent === "waiting for a car · last: `+noComm+`"`)
	waitFor("the car that did not talk in the table", `document.querySelector("#sessions tr").textContent.includes("the car did not start digital communication")`)
	if got := content("#steps"); got != "0.000 s"+noComm {
		t.Errorf("the steps after the car that did not talk left: %q", got)
	}

	if shot := os.Getenv("CCSLINK_PAGE_SHOT"); shot != "" {
		if png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100)); err == nil {
			os.WriteFile(shot, png, 0o644)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, e := range thrown {
		t.Errorf("the page threw: %s", e)
	}
}
