package sim

import (
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ccslink/ccslink/daemon/output/smartevse"
	"github.com/ccslink/ccslink/proto/cp"
	"github.com/ccslink/ccslink/proto/evcc"
	"github.com/ccslink/ccslink/proto/slac"
	"github.com/ccslink/ccslink/record"
	"github.com/ccslink/ccslink/tools/evsetwin"
)

// timeline writes the plug-in in plain words, each line with the time
// since the car was plugged in. Lines come from the charger's goroutine,
// the car's and the SmartEVSE sender's, hence the lock. A timeline value
// is a view of the shared book: a line that comes later than its place
// (the SmartEVSE's answer, the car's SDP request) is written through a
// view that places it (delivery, sdp).
type timeline struct {
	*book
	at *place // nil: the line goes where and when it is written
}

// book is what the views of a timeline share.
type book struct {
	w       io.Writer
	verbose bool
	mu      sync.Mutex
	t0      time.Time
	sawVals bool

	// From the car's V2G connection until settle, the lines are held and
	// then written in the order of the charger's events: a SmartEVSE's
	// answer comes on the sender's goroutine, before or after the
	// session's next steps, and its line goes after the event that handed
	// its values to the sender, whenever it came.
	holding   bool
	held      []heldLine
	events    int              // the charger's events so far
	handed    map[string]place // a query with a SoC -> the first event that carried it
	connected place            // the car's first connection, once it came

	// The SmartEVSE twin: how long it waits for a SoC, in words, and when
	// the SoC reached it.
	waitWords string
	socAt     time.Time
}

// place is where a line goes among the charger's events, and its time.
type place struct {
	event int
	rank  int // before (-1), with (0) or after (1) the event's own lines
	since time.Duration
}

type heldLine struct {
	place
	text string
}

func newTimeline(w io.Writer, verbose bool) *timeline {
	return &timeline{book: &book{w: w, verbose: verbose, handed: map[string]place{}}}
}

func (t *timeline) printf(format string, args ...any) {
	if t.w == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.t0.IsZero() {
		t.write(heldLine{text: fmt.Sprintf("          "+format+"\n", args...)})
		return
	}
	p := place{event: t.events, since: time.Since(t.t0)}
	if t.at != nil {
		p = *t.at
	}
	t.write(heldLine{place: p, text: fmt.Sprintf("%7.3f s  "+format+"\n", append([]any{p.since.Seconds()}, args...)...)})
}

// write writes l, or holds it; under mu.
func (b *book) write(l heldLine) {
	if b.holding {
		b.held = append(b.held, l)
		return
	}
	io.WriteString(b.w, l.text)
}

// settle writes the lines held, in the order of the charger's events, and
// stops holding.
func (t *timeline) settle() {
	t.mu.Lock()
	defer t.mu.Unlock()
	slices.SortStableFunc(t.held, func(a, b heldLine) int {
		if a.event != b.event {
			return a.event - b.event
		}
		return a.rank - b.rank
	})
	t.holding = false
	for _, l := range t.held {
		t.write(l)
	}
	t.held = nil
}

// charger counts one of the charger's events of the car's plug-in, and
// notes the first event to carry each state with a SoC: the sender posts
// it then (smartevse.PlugIns). From the car's connection on, lines are held.
func (t *timeline) charger(e record.Event, s *record.Session) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e.Kind == record.KindDelivered || t.t0.IsZero() {
		return // a delivery's line is the sender's, told by delivered
	}
	t.events++
	if e.Kind == record.KindConnected && t.connected.event == 0 {
		t.holding = t.w != nil
		t.connected = place{event: t.events, since: time.Since(t.t0)}
	}
	switch e.Kind {
	case record.KindSessionSetup, record.KindValues, record.KindEnded:
		if st := smartevse.FromRecord(s); st.SoC >= 0 {
			q := smartevse.Query(st)
			if _, ok := t.handed[q]; !ok {
				t.handed[q] = place{event: t.events, since: time.Since(t.t0)}
			}
		}
	}
}

// delivery returns the view that writes d's line: after the event that
// handed its values to the sender, at that event's time; a delivery
// without a SoC (the EVCCID alone, sent as the session ended) goes where
// it comes.
func (t *timeline) delivery(d smartevse.Delivery) *timeline {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.handed[d.Query]
	if !ok {
		return t
	}
	p.rank = 1
	return &timeline{book: t.book, at: &p}
}

// sdp returns the view that writes the line of the car's SDP request: the
// SDP server tells of it after its answer, when the car may have connected
// already, and the request came first.
func (t *timeline) sdp() *timeline {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.connected.event == 0 || t.connected.event == t.events {
		return t
	}
	p := t.connected
	p.rank = -1
	return &timeline{book: t.book, at: &p}
}

func (t *timeline) say(s string) { t.printf("%s", s) }

func (t *timeline) start(at time.Time, p evcc.Profile, twin bool) {
	t.mu.Lock()
	t.t0 = at
	t.mu.Unlock()
	if twin {
		// The car's modem starts when the SmartEVSE asks for it.
		t.printf("a %s is plugged in", p.Car)
		return
	}
	t.printf("a %s is plugged in; its modem starts matching with the charger's (SLAC)", p.Car)
}

// twin tells what the SmartEVSE twin did. The CP-off that the SoC causes
// goes right after the line of the SoC's delivery; the others go where
// they come, after the lines of the charger's event they follow.
func (t *timeline) twin(tr evsetwin.Transition, lastQuery func() string) {
	view := t
	t.mu.Lock()
	if t.holding {
		p := place{event: t.events, rank: 2, since: time.Since(t.t0)}
		if tr.Why == "SoC received" && lastQuery != nil {
			if h, ok := t.handed[lastQuery()]; ok {
				p = h
				p.rank = 2
			}
		}
		view = &timeline{book: t.book, at: &p}
	}
	if tr.To == evsetwin.StateModemDone && tr.Why == "SoC received" && t.socAt.IsZero() {
		t.socAt = tr.At
	}
	wait, socAt := t.waitWords, t.socAt
	t.mu.Unlock()
	if wait == "" {
		wait = "60 s"
	}
	switch tr.To {
	case evsetwin.StateModemRequest:
		view.say("the SmartEVSE sees the car and switches CP off (MODEM_REQUEST)")
	case evsetwin.StateModemWait:
		view.printf("the SmartEVSE asks for digital communication with 5 %% PWM and waits %s for the SoC (MODEM_WAIT)", wait)
	case evsetwin.StateModemDone:
		if tr.Why == "SoC received" {
			view.say("the SmartEVSE has the SoC: CP off for 5 s, a virtual re-plug (MODEM_DONE); the car's modem leaves the charger's network")
		} else {
			view.printf("the SmartEVSE got no SoC within %s: CP off for 5 s all the same (MODEM_DONE)", wait)
		}
	case evsetwin.StateModemDenied:
		view.say("the SmartEVSE denies the car: its EVCCID is not the required one (MODEM_DENIED for 60 s, CP off)")
	case evsetwin.StateB:
		if tr.From == evsetwin.StateC {
			view.say("the car stopped drawing current (B)")
		} else {
			view.printf("the SmartEVSE switches CP back on and offers %.0f A (%s)", tr.Pilot.Amps(), pwmWords(tr.Pilot))
		}
	case evsetwin.StateC:
		if !socAt.IsZero() {
			view.printf("the car charges on AC (state C), %.1f s after its SoC reached the SmartEVSE", tr.At.Sub(socAt).Seconds())
		} else {
			view.say("the car charges on AC (state C)")
		}
	case evsetwin.StateA:
		if tr.From == evsetwin.StateModemDenied {
			view.say("the SmartEVSE's denial is over (A); the car, still there, is asked again")
		}
	}
}

func pwmWords(p cp.Pilot) string { return fmt.Sprintf("%.1f %% PWM", float64(p.Duty)/10) }

func (t *timeline) carMatched(r slac.Result) {
	if t.verbose {
		t.printf("car side: matched, RunID %v, NID %v", r.RunID, r.NID)
	}
}

func (t *timeline) event(e record.Event, s *record.Session) {
	t.charger(e, s)
	switch e.Kind {
	case record.KindSLACStarted:
		if t.verbose {
			t.say("charger: modem keyed with a fresh network key, waiting for a car")
		}
	case record.KindMatched:
		if e.Detail != "" {
			// identify-only: the car is known by its MAC and never joins.
			t.printf("the charger knows the car by its MAC %s and leaves its CM_SLAC_MATCH.REQ unanswered (its handover strategy identify-only): the car never joins the charger's network", e.EVMAC)
			break
		}
		t.printf("the charger matched the car %s; the car's modem joins the charger's network", e.EVMAC)
	case record.KindLinkUp:
		if t.verbose {
			t.say("link up: both modems hold the session key")
		}
	case record.KindSDP:
		if t.verbose {
			t.sdp().say("the car asked where the charger is (SDP) and got its address")
		}
	case record.KindConnected:
		t.say("the car found the charger (SDP) and opened the V2G connection")
	case record.KindHandshake:
		if e.Protocol == "" {
			t.say("the charger declines the car's protocols (Failed_NoNegotiation, its handover strategy no-negotiation): no V2G session, so the car charges on basic AC, without telling its SoC")
			break
		}
		t.printf("the car and the charger agree to speak %s", record.ProtocolName(e.Protocol))
	case record.KindSessionSetup:
		if e.From != "" && s.EVCCID != nil {
			t.printf("the car will hold no V2G session: its SLAC MAC stands for its EVCCID, %s", s.EVCCID.Hex)
			break
		}
		if s.EVCCID != nil {
			extra := ""
			if s.EVCCID.Random {
				extra = " (a random, per-session ID)"
			}
			t.printf("the car identified itself: EVCCID %s%s", s.EVCCID.Hex, extra)
		}
	case record.KindValues:
		if !t.sawVals && s.Harvest(e) {
			t.sawVals = true
			t.printf("the car told its battery state: %s", values(s))
		}
	case record.KindRequest:
		if t.verbose {
			t.printf("  %s -> %s in %d µs", e.Message, e.Code, e.Took.Microseconds())
		}
	case record.KindEnded:
		switch e.End {
		case record.EndLinkLost, record.EndStopped:
		case record.EndIdentified:
			t.printf("the plug-in is over for the charger: %s", e.Detail)
		case record.EndNoComm:
			if e.Gone == "" { // its end at state A says nothing new
				t.printf("the charger reports it (MQTT, the API): %s", e.Detail)
			}
		default:
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

// estimate says the daemon's SoC estimate and its basis.
func (t *timeline) estimate(e *record.Estimate) {
	from := "the car's"
	if e.CapacityFrom == "config" {
		from = "the configured"
	}
	t.printf("SoC estimated %s after %.1f kWh (from the %d %% read, %s capacity of %.1f kWh, %.0f %% efficiency)",
		strings.TrimSuffix(e.Words(), " (estimated)"), float64(e.EnergySinceWh)/1000, e.MeasuredSoC, from, e.CapacityWh/1000, e.Efficiency*100)
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
	t.settle()
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
	if res.Twin == nil && rec.Handover != nil {
		// Another SmartEVSE than the twin: what the daemon saw it do.
		t.printf("after the SoC: %s", rec.Handover.Words())
	}
	lead := "after the SoC"
	if rec.End == record.EndNoNegotiation || rec.End == record.EndIdentified || res.Twin != nil && !res.Twin.soc {
		lead = "after the SmartEVSE's wait"
	}
	t.after(res.Twin, lead)
}

// after is the story's last line: what the car did at the twin's PWM.
func (t *timeline) after(o *Outcome, lead string) {
	switch {
	case o == nil:
	case o.ACCharging && lead == "after the SoC" && o.ACAfterMS > 0:
		t.printf("%s: the car charges on AC, %.1f s after its SoC reached the SmartEVSE", lead, float64(o.ACAfterMS)/1000)
	case o.ACCharging:
		t.printf("%s: the car charges on AC, %.1f s after it was plugged in", lead, float64(o.ACAfterMS)/1000)
	case o.Denied:
		t.printf("%s: the SmartEVSE denied the car: its EVCCID is not the required one", lead)
	case o.Why != "" && len(o.States) > 0 && o.States[len(o.States)-1] == int(evsetwin.StateB):
		t.printf("%s: the car does not charge on AC: %s", lead, o.Why)
	default:
		t.printf("%s: the SmartEVSE is still waiting for a SoC at 5 %% PWM", lead)
	}
}

// silentSummary ends the timeline of a car that never talked.
func (t *timeline) silentSummary(res Result, p evcc.Profile) {
	if t.w == nil {
		return
	}
	t.settle()
	t.mu.Lock()
	t.t0 = time.Time{}
	t.mu.Unlock()
	verdict := "ok"
	if !res.OK {
		verdict = "FAILED"
	}
	what := "the car never started SLAC"
	if p.AfterSoC == evcc.StopsAtDigital {
		what = "the car stopped at 5 % PWM and never talked"
	}
	t.printf("")
	if res.Record != nil && res.Record.End == record.EndNoComm {
		t.printf("%s: %s: no digital communication, reported by the charger; nothing reached the SmartEVSE", verdict, what)
	} else {
		t.printf("%s: %s: no digital communication, nothing reached the charger or the SmartEVSE", verdict, what)
	}
	t.after(res.Twin, "after the SmartEVSE's wait")
}
