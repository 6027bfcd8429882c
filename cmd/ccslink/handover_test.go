package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ccslink/ccslink/record"
)

var h0 = time.Date(2026, 12, 7, 18, 0, 0, 0, time.UTC)

// delivered is the record of a car whose values reached the SmartEVSE
// 3 ms after its ChargeParameterDiscoveryReq; plug-in n.
func delivered(n uint64) *record.Session {
	s := &record.Session{PlugIn: n}
	soc := 93
	for _, e := range []record.Event{
		{Kind: record.KindMatched, At: h0, EVMAC: "04:65:65:00:64:c3"},
		{Kind: record.KindHandshake, At: h0.Add(3 * time.Second), Protocol: "din"},
		{Kind: record.KindValues, At: h0.Add(4 * time.Second), Message: 0, Values: record.Values{SoC: &soc}},
		{Kind: record.KindDelivered, At: h0.Add(4 * time.Second), Delivery: &record.Delivery{Output: "smartevse", OK: true, Result: "HTTP 200", At: h0.Add(4*time.Second + 3*time.Millisecond)}},
		{Kind: record.KindEnded, At: h0.Add(5 * time.Second), End: record.EndSessionStop},
	} {
		s.Apply(e)
	}
	s.Phases.FirstCPD = h0.Add(4 * time.Second)
	return s
}

func handoverEvent(s *record.Session, h record.Handover) (record.Event, *record.Session) {
	e := record.Event{Kind: record.KindHandover, At: h.At, PlugIn: s.PlugIn, Handover: &h}
	c := s.Clone()
	c.Apply(e)
	return e, c
}

// quietTextLog is a text logger without times.
func quietTextLog() (*slog.Logger, *bytes.Buffer) {
	b := &bytes.Buffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}})), b
}

// TestSummaryWaitsForHandover: with the SmartEVSE watched, the summary
// line of a delivered plug-in comes with what the SmartEVSE did next; a
// plug-in whose handover came during it is said at once; one whose
// summary was said before the handover (its values reached the SmartEVSE
// after it ended) gets a line of its own; the daemon stopping says what
// is still waiting.
func TestSummaryWaitsForHandover(t *testing.T) {
	log, buf := quietTextLog()
	p := &plugInLog{log: log, smartEVSE: true, handover: true}
	s := delivered(4)
	p.PlugInEnded(s)
	if buf.String() != "" {
		t.Fatalf("said before the handover: %s", buf)
	}
	p.Late(handoverEvent(s, record.Handover{Strategy: record.StrategyDeliverNow, ACStarted: true, ACAfter: 9200 * time.Millisecond, Observed: true, Watched: time.Minute}))
	want := `level=INFO msg="car 04:65:65:00:64:c3 (DIN 70121): SoC 93 %, sent to SmartEVSE in 3 ms; charging on AC 9 s later" end="the car ended the session (SessionStop)"` + "\n"
	if got := buf.String(); got != want {
		t.Fatalf("log\n got %s\nwant %s", got, want)
	}

	// The handover during the plug-in: said at its end.
	buf.Reset()
	s = delivered(5)
	_, s = handoverEvent(s, record.Handover{Strategy: record.StrategyDeliverNow, Observed: true, Seen: []string{"MODEM_DONE", "A", "B"}, Watched: time.Minute})
	p.PlugInEnded(s)
	want = `level=INFO msg="car 04:65:65:00:64:c3 (DIN 70121): SoC 93 %, sent to SmartEVSE in 3 ms; no AC charging within 60 s (seen: MODEM_DONE, A, B)" end="the car ended the session (SessionStop)"` + "\n"
	if got := buf.String(); got != want {
		t.Fatalf("log\n got %s\nwant %s", got, want)
	}

	// Plug-ins said before their values reached the SmartEVSE, then their
	// handovers alone: a warning when the car did not charge.
	buf.Reset()
	s = delivered(6)
	s.Phases.Delivered, s.Deliveries = time.Time{}, nil // still trying as the car left
	p.PlugInEnded(s)
	p.Late(handoverEvent(delivered(6), record.Handover{Strategy: record.StrategyDeliverNow, Why: "10.0.0.1:80 has no GET /settings (HTTP 404)"}))
	p.Late(handoverEvent(delivered(9), record.Handover{Strategy: record.StrategyDeliverNow, Observed: true, Watched: time.Minute}))
	want = `level=INFO msg="car 04:65:65:00:64:c3 (DIN 70121): SoC 93 %, SmartEVSE not reached yet: still trying" end="the car ended the session (SessionStop)"` + "\n" +
		`level=INFO msg="car 04:65:65:00:64:c3: after its values reached the SmartEVSE: AC charging not observed: 10.0.0.1:80 has no GET /settings (HTTP 404)"` + "\n" +
		`level=WARN msg="car 04:65:65:00:64:c3: after its values reached the SmartEVSE: no AC charging within 60 s"` + "\n"
	if got := buf.String(); got != want {
		t.Fatalf("log\n got %s\nwant %s", got, want)
	}

	// Stopping: what waits is said as it is.
	buf.Reset()
	p.PlugInEnded(delivered(7))
	p.flush()
	p.flush()
	want = `level=INFO msg="car 04:65:65:00:64:c3 (DIN 70121): SoC 93 %, sent to SmartEVSE in 3 ms" end="the car ended the session (SessionStop)"` + "\n"
	if got := buf.String(); got != want {
		t.Fatalf("log\n got %s\nwant %s", got, want)
	}

	// Without the watch, the line comes at once.
	buf.Reset()
	(&plugInLog{log: log, smartEVSE: true}).PlugInEnded(delivered(8))
	if got := buf.String(); got != want {
		t.Fatalf("log\n got %s\nwant %s", got, want)
	}
}

// TestJSONWaitsForHandover: --json writes the record once, with its handover.
func TestJSONWaitsForHandover(t *testing.T) {
	log, buf := quietTextLog()
	var out bytes.Buffer
	p := &plugInLog{log: log, json: true, out: &out, smartEVSE: true, handover: true}
	s := delivered(2)
	p.PlugInEnded(s)
	if out.Len() != 0 {
		t.Fatalf("written before the handover: %s", out.String())
	}
	p.Late(handoverEvent(s, record.Handover{Strategy: record.StrategyDeliverNow, ACStarted: true, ACAfter: 9 * time.Second, Observed: true, Watched: time.Minute}))
	const want = `"handover":{"strategy":"deliver-now","ac_started":true,"ac_after_ms":9000,"outcome":"ac_started","observed":true,"watched_ms":60000}}` + "\n"
	if got := out.String(); strings.Count(got, "\n") != 1 || !strings.HasSuffix(got, want) {
		t.Fatalf("JSON %s", got)
	}
	if buf.String() != "" {
		t.Fatalf("log %s", buf)
	}
}

// TestHeldBounded: lines that wait for a handover that never comes are
// said once maxHeld are waiting, the oldest first.
func TestHeldBounded(t *testing.T) {
	log, buf := quietTextLog()
	p := &plugInLog{log: log, smartEVSE: true, handover: true}
	for n := range uint64(maxHeld + 2) {
		p.PlugInEnded(delivered(n + 1))
	}
	if got := strings.Count(buf.String(), "\n"); got != 2 || len(p.held) != maxHeld || p.held[0].PlugIn != 3 {
		t.Fatalf("%d lines said, %d held:\n%s", got, len(p.held), buf)
	}
}
