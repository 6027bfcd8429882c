package mqtt

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/ccslink/ccslink/internal/mosquittotest"
	"github.com/ccslink/ccslink/record"
)

// acCar is an ISO-2 AC car that sends its EVCCID and no SoC, and closes
// its session.
func acCar() []record.Event {
	return []record.Event{
		{Kind: record.KindSLACStarted, At: t0.Add(time.Hour)},
		{Kind: record.KindMatched, At: t0.Add(time.Hour), EVMAC: "02:00:00:00:00:01"},
		{Kind: record.KindHandshake, At: t0.Add(time.Hour), Protocol: "iso2"},
		{Kind: record.KindSessionSetup, At: t0.Add(time.Hour), EVCCID: []byte{2, 0, 0, 0, 0, 1}},
		{Kind: record.KindEnded, At: t0.Add(time.Hour + time.Second), End: record.EndCarClosed},
	}
}

// TestUnknownIsCleared: on Debian's mosquitto, the Ioniq's values and then
// an AC car that sends no SoC. Every value topic gets exactly the clear at
// each match (an empty payload, which deletes the retained value) and the
// car's own values: never -1. A subscriber that comes after the AC car
// finds no SoC at all.
func TestUnknownIsCleared(t *testing.T) {
	b := mosquitto(mosquittotest.Start(t))
	sub := subscribe(t, b, "ccslink/eth1/#")
	o := newOutput(t, Config{Broker: b.url()})
	sub.wait(t, "ccslink/eth1/state", "waiting")

	// plugIn feeds a car's events; after the match it waits for the
	// clears, which would otherwise give way to the values at once.
	plugIn := func(events []record.Event) *record.Session {
		rec := &record.Session{}
		for _, e := range events {
			rec.Apply(e)
			o.Event(e, rec)
			if e.Kind == record.KindMatched {
				// The last value topic: those before it were cleared in the same pass.
				sub.wait(t, "ccslink/eth1/soc_timestamp", "")
			}
		}
		o.PlugInEnded(rec)
		final, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		sub.wait(t, "ccslink/eth1/session", string(final))
		return rec
	}
	plugIn(ioniq())
	plugIn(acCar())

	want := map[string][]string{
		"soc":             {"", "93", ""},
		"full_soc":        {"", "94", ""},
		"energy_capacity": {"", "28000", ""},
		"energy_request":  {"", "1820", ""},
		"soc_timestamp":   {"", "2023-05-24T10:00:05.348Z", ""},
		"evccid":          {"", "0465650064c3", "", "020000000001"},
		"protocol":        {"", "din", "", "iso2"},
	}
	for topic, w := range want {
		var got []string
		for _, m := range sub.waitCount(t, "ccslink/eth1/"+topic, len(w)) {
			got = append(got, m.payload)
		}
		if strings.Join(got, "|") != strings.Join(w, "|") {
			t.Errorf("%s received %q, want %q", topic, got, w)
		}
	}
	if got := sub.last("ccslink/eth1/state"); got != "waiting" {
		t.Errorf("state %q, want waiting", got)
	}

	// A late subscriber: mosquitto sends a filter's retained messages
	// right after its SUBACK, in order, so the SoC would come before the status.
	late := subscribe(t, b, "ccslink/eth1/soc", "ccslink/eth1/evccid", "ccslink/eth1/status")
	late.wait(t, "ccslink/eth1/status", "online")
	if m, ok := late.lastMessage("ccslink/eth1/soc"); ok {
		t.Errorf("a late subscriber got soc %q; want none retained", m.payload)
	}
	if m, _ := late.lastMessage("ccslink/eth1/evccid"); m.payload != "020000000001" || !m.retained {
		t.Errorf("a late subscriber got evccid %q (retained %v)", m.payload, m.retained)
	}
}

// TestSameClientID: another client connects with the output's client ID,
// again and again, as a second daemon with the same name does; the broker
// closes the older connection each time. The output says so once, in
// words, naming the ID and how to change it; the losses after that are
// logged only for debugging. Its clock stands still: every connection is
// brief. The other client connects only once the output is back, so the
// test does not depend on how fast either reconnects: two outputs that
// fight at full speed also trip a race in paho's own reconnection.
func TestSameClientID(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	l := newLogs()
	newOutput(t, Config{Broker: b.url(), Name: "eth1", Log: slog.New(l), now: func() time.Time { return t0 }})
	l.waitLog(t, "INFO mqtt: connected to the broker")

	var lines []string // everything the output logged since
	// kick connects another client with the ID, which takes the output's
	// connection, and waits for the output to take it back.
	kick := func() {
		t.Helper()
		other := paho.NewClient(paho.NewClientOptions().AddBroker(b.url()).SetClientID("ccslink-eth1").SetAutoReconnect(false))
		if tok := other.Connect(); !tok.WaitTimeout(bound) || tok.Error() != nil {
			t.Fatalf("the other client cannot connect: %v", tok.Error())
		}
		t.Cleanup(func() { other.Disconnect(0) })
		deadline := time.After(bound)
		for {
			select {
			case line := <-l.ch:
				lines = append(lines, line)
				if strings.Contains(line, "mqtt: reconnected to the broker") {
					return
				}
			case <-deadline:
				t.Fatalf("the output did not reconnect within %v; its log:\n%s", bound, strings.Join(lines, "\n"))
			}
		}
	}
	want := `WARN mqtt: the broker keeps closing the connection right after it is made: another client may be connected with the same client ID "ccslink-eth1", ` +
		"and each connection then ends the other's; give every daemon on the broker its own name (name: in the configuration, or --name) or set mqtt.client_id " +
		"broker=" + b.url() + " client_id=ccslink-eth1 err="
	for range 4 {
		kick()
	}
	// Paho may tell of a loss after the reconnection that followed it.
	var losses []string
	count := func() {
		losses = losses[:0]
		for _, line := range lines {
			if strings.Contains(line, " mqtt: lost the connection") || strings.Contains(line, " mqtt: the broker keeps closing the connection") {
				losses = append(losses, line)
			}
		}
	}
	deadline := time.After(bound)
	for count(); len(losses) < 4; count() {
		select {
		case line := <-l.ch:
			lines = append(lines, line)
		case <-deadline:
			t.Fatalf("%d losses logged for 4 connections taken; the log:\n%s", len(losses), strings.Join(lines, "\n"))
		}
	}
	if len(losses) != 4 {
		t.Fatalf("%d losses logged for 4 connections taken; the log:\n%s", len(losses), strings.Join(lines, "\n"))
	}
	if !strings.HasPrefix(losses[0], "WARN mqtt: lost the connection to the broker; reconnecting every 1s") {
		t.Errorf("the first loss: %s", losses[0])
	}
	if !strings.HasPrefix(losses[1], want) {
		t.Errorf("the second loss:\n%s\nwant it to start\n%s", losses[1], want)
	}
	for _, line := range losses[2:] {
		if !strings.HasPrefix(line, "DEBUG mqtt: lost the connection to the broker") {
			t.Errorf("a loss after the warning: %s", line)
		}
	}
}

// TestBriefLosses counts the losses as a broker's drops come: brief ones
// in a row warn once; a connection that lasted starts the count afresh.
func TestBriefLosses(t *testing.T) {
	now := t0
	o := &Output{s: settings{now: func() time.Time { return now }}}
	step := func(lasted time.Duration) int {
		o.tryAt = now
		now = now.Add(lasted)
		return o.lost()
	}
	for i, c := range []struct {
		lasted time.Duration
		want   int
	}{
		{time.Hour, lostOnce},
		{time.Second, lostOnce},
		{4 * time.Second, lostSameID},
		{0, lostAgain},
		{time.Second, lostAgain},
		{briefConnection, lostOnce}, // lasted: a new count
		{time.Second, lostOnce},
		{time.Second, lostSameID},
	} {
		if got := step(c.lasted); got != c.want {
			t.Errorf("loss %d after %v: %d, want %d", i, c.lasted, got, c.want)
		}
	}
}

// TestTwoWithOneID: two outputs with one client ID on Debian's mosquitto,
// publishing all the while, take the connection from each other at full
// speed, as two daemons with one name do. Each says so once and goes on
// (their clocks stand still: every connection is brief).
func TestTwoWithOneID(t *testing.T) {
	b := mosquitto(mosquittotest.Start(t))
	stopped := func() time.Time { return t0 }
	la, lb := newLogs(), newLogs()
	oa := newOutput(t, Config{Broker: b.url(), Name: "eth1", Log: slog.New(la), now: stopped})
	la.waitLog(t, "INFO mqtt: connected to the broker")
	ob := newOutput(t, Config{Broker: b.url(), Name: "eth1", Log: slog.New(lb), now: stopped})

	var seen []string
	warned := map[string]int{}
	after := map[string]int{}
	deadline := time.After(bound)
	tick := time.NewTicker(20 * time.Millisecond) // values all the while: publications in flight at each loss
	defer tick.Stop()
	for warned["A"] == 0 || warned["B"] == 0 || after["A"] < 2 || after["B"] < 2 {
		var who, line string
		select {
		case line = <-la.ch:
			who = "A"
		case line = <-lb.ch:
			who = "B"
		case <-tick.C:
			<-drive(oa, 1)
			<-drive(ob, 1)
			continue
		case <-deadline:
			t.Fatalf("within %v, warned %v and lost %v times after; the log:\n%s", bound, warned, after, strings.Join(seen, "\n"))
		}
		seen = append(seen, who+" "+line)
		switch {
		case strings.Contains(line, "another client may be connected"):
			warned[who]++
		case strings.Contains(line, "mqtt: lost the connection to the broker") && warned[who] > 0:
			after[who]++
		}
	}
	if warned["A"] != 1 || warned["B"] != 1 {
		t.Errorf("warned %v times; want once each; the log:\n%s", warned, strings.Join(seen, "\n"))
	}
}

// TestHandoverLate: on Debian's mosquitto, the handover that comes after
// the Ioniq's plug-in ended is published on its topic, as the record's
// JSON says it, and the session topic carries the amended record; a
// handover of an older plug-in than the one shown is not published, and
// the next car's match clears the topic.
func TestHandoverLate(t *testing.T) {
	b := mosquitto(mosquittotest.Start(t))
	sub := subscribe(t, b, "ccslink/eth1/#")
	o := newOutput(t, Config{Broker: b.url()})
	rec := &record.Session{PlugIn: 7}
	for _, e := range ioniq() {
		rec.Apply(e)
		o.Event(e, rec)
	}
	o.PlugInEnded(rec)
	sub.wait(t, "ccslink/eth1/handover", "")

	h := &record.Handover{Strategy: record.StrategyDeliverNow, ACStarted: true, ACAfter: 9 * time.Second, Observed: true,
		Seen: []string{"MODEM_DONE", "A", "C"}, Watched: time.Minute, At: t0.Add(15 * time.Second)}
	oldH := &record.Handover{Strategy: record.StrategyDeliverNow, Why: "no answer", Watched: time.Minute}
	old := record.Event{Kind: record.KindHandover, At: h.At, PlugIn: 6, Handover: oldH}
	o.Late(old, &record.Session{PlugIn: 6, Handover: oldH})
	late := record.Event{Kind: record.KindHandover, At: h.At, PlugIn: 7, Handover: h}
	amended := rec.Clone()
	amended.Apply(late)
	o.Late(late, amended)
	const want = `{"strategy":"deliver-now","ac_started":true,"ac_after_ms":9000,"outcome":"ac_started","observed":true,"seen":["MODEM_DONE","A","C"],"watched_ms":60000,"at":"2023-05-24T10:00:15Z"}`
	sub.wait(t, "ccslink/eth1/handover", want)
	final, err := json.Marshal(amended)
	if err != nil {
		t.Fatal(err)
	}
	sub.wait(t, "ccslink/eth1/session", string(final))
	if !strings.Contains(string(final), `"handover":`+want) {
		t.Fatalf("session %s", final)
	}
	if got := sub.waitCount(t, "ccslink/eth1/handover", 2); len(got) != 2 || got[0].payload != "" || got[1].payload != want {
		t.Fatalf("handover messages %+v, want the clear and the handover", got)
	}

	// The next car: cleared at its match.
	next := &record.Session{PlugIn: 8}
	for _, e := range ioniq()[:2] {
		next.Apply(e)
		o.Event(e, next)
	}
	sub.wait(t, "ccslink/eth1/handover", "")
	sub.wait(t, "ccslink/eth1/soc_timestamp", "")
	// The older plug-in's handover no longer shows: the next car's SoC
	// time, published after the handover topic, comes with no handover.
	o.Late(late, amended)
	for _, e := range ioniq()[2:9] {
		next.Apply(e)
		o.Event(e, next)
	}
	sub.wait(t, "ccslink/eth1/soc_timestamp", "2023-05-24T10:00:05.348Z")
	if got := sub.last("ccslink/eth1/handover"); got != "" {
		t.Fatalf("handover %q after the next car", got)
	}
}
