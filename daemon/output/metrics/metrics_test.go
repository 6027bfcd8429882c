package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ccslink/ccslink/proto/v2g/message"
	"github.com/ccslink/ccslink/record"
)

var t0 = time.Date(2026, 5, 24, 10, 0, 0, 0, time.UTC)

func ms(n float64) time.Time { return t0.Add(time.Duration(n * float64(time.Millisecond))) }

func ptr[T any](v T) *T { return &v }

// ioniq is the plug-in of the Ioniq capture under the soc policy, with round times.
func ioniq() []record.Event {
	return []record.Event{
		{Kind: record.KindSLACStarted, At: t0},
		{Kind: record.KindMatched, At: ms(1750), EVMAC: "04:65:65:00:64:c3", Took: 1220 * time.Millisecond},
		{Kind: record.KindLinkUp, At: ms(1750)},
		{Kind: record.KindSDP, At: ms(5340)},
		{Kind: record.KindConnected, At: ms(5345)},
		{Kind: record.KindHandshake, At: ms(5346), Protocol: "din", Namespace: "urn:din:70121:2012:MsgDef"},
		{Kind: record.KindRequest, At: ms(5346), Message: message.SupportedAppProtocolReq, Code: "OK_SuccessfulNegotiation", Took: 40 * time.Microsecond},
		{Kind: record.KindSessionSetup, At: ms(5347), EVCCID: []byte{0x04, 0x65, 0x65, 0x00, 0x64, 0xc3}},
		{Kind: record.KindRequest, At: ms(5347), Message: message.SessionSetupReq, Code: "OK_NewSessionEstablished", Took: 30 * time.Microsecond},
		{Kind: record.KindRequest, At: ms(5347.5), Message: message.ServiceDiscoveryReq, Code: "OK", Took: 20 * time.Microsecond},
		{Kind: record.KindValues, At: ms(5348), Message: message.ChargeParameterDiscoveryReq, Values: record.Values{
			SoC: ptr(93), FullSOC: ptr(94), EnergyCapacityWh: ptr(28000.0), EnergyRequestWh: ptr(1820.0)}},
		{Kind: record.KindRequest, At: ms(5348), Message: message.ChargeParameterDiscoveryReq, Code: "OK", Took: 3 * time.Millisecond},
		{Kind: record.KindDelivered, At: ms(5350), Delivery: &record.Delivery{Output: "smartevse", OK: true, Result: "HTTP 200", At: ms(5350), Took: time.Millisecond}},
		{Kind: record.KindRequest, At: ms(5349), Message: message.ChargeParameterDiscoveryReq, Code: "OK", Took: 60 * time.Microsecond},
		{Kind: record.KindEnded, At: ms(5845), End: record.EndSessionStop},
		{Kind: record.KindEnded, At: ms(9000), End: record.EndLinkLost},
	}
}

// feed plays events into m as the charger does and ends the plug-in.
func feed(m *Exporter, events []record.Event) {
	var s record.Session
	for _, e := range events {
		s.Apply(e)
		m.Event(e, &s)
	}
	m.PlugInEnded(&s)
}

const names = "ccslink_plugins_total ccslink_slac_duration_seconds ccslink_session_duration_seconds ccslink_deliveries_total ccslink_last_soc_percent ccslink_last_soc_timestamp_seconds"

func TestFresh(t *testing.T) {
	m := New()
	if got := testutil.ToFloat64(m.soc); got != -1 {
		t.Errorf("ccslink_last_soc_percent before any car = %v, want -1", got)
	}
	want := `
# HELP ccslink_last_soc_percent The last state of charge a car told, in percent; -1 until a car told one.
# TYPE ccslink_last_soc_percent gauge
ccslink_last_soc_percent -1
# HELP ccslink_last_soc_timestamp_seconds When the car told ccslink_last_soc_percent, in Unix seconds; 0 until then.
# TYPE ccslink_last_soc_timestamp_seconds gauge
ccslink_last_soc_timestamp_seconds 0
# HELP ccslink_session_duration_seconds Time from the car's TCP connection to the end of its V2G session (or of the plug-in, when the link went first).
# TYPE ccslink_session_duration_seconds histogram
ccslink_session_duration_seconds_bucket{le="0.1"} 0
ccslink_session_duration_seconds_bucket{le="0.25"} 0
ccslink_session_duration_seconds_bucket{le="0.5"} 0
ccslink_session_duration_seconds_bucket{le="1"} 0
ccslink_session_duration_seconds_bucket{le="2"} 0
ccslink_session_duration_seconds_bucket{le="5"} 0
ccslink_session_duration_seconds_bucket{le="10"} 0
ccslink_session_duration_seconds_bucket{le="30"} 0
ccslink_session_duration_seconds_bucket{le="60"} 0
ccslink_session_duration_seconds_bucket{le="300"} 0
ccslink_session_duration_seconds_bucket{le="1800"} 0
ccslink_session_duration_seconds_bucket{le="3600"} 0
ccslink_session_duration_seconds_bucket{le="14400"} 0
ccslink_session_duration_seconds_bucket{le="+Inf"} 0
ccslink_session_duration_seconds_sum 0
ccslink_session_duration_seconds_count 0
`
	if err := testutil.GatherAndCompare(m.reg, strings.NewReader(want), "ccslink_last_soc_percent", "ccslink_last_soc_timestamp_seconds", "ccslink_session_duration_seconds"); err != nil {
		t.Error(err)
	}
}

func TestPlugIn(t *testing.T) {
	m := New()
	feed(m, ioniq())
	// A round without a car, as the charger has every half minute: not a plug-in.
	feed(m, []record.Event{{Kind: record.KindSLACStarted, At: ms(10000)}, {Kind: record.KindEnded, At: ms(40000), End: record.EndNoCar}})
	// A car that tried to match and failed is one.
	feed(m, []record.Event{{Kind: record.KindSLACStarted, At: ms(50000)}, {Kind: record.KindEnded, At: ms(53000), End: record.EndSLACFailed}})
	// A car that never started SLAC, from its plug-in until it left: one.
	feed(m, []record.Event{{Kind: record.KindSLACStarted, At: ms(54000)},
		{Kind: record.KindEnded, At: ms(55000), End: record.EndNoComm, Detail: "the car did not start digital communication within 10 s: it will charge on AC without SoC"},
		{Kind: record.KindEnded, At: ms(58000), End: record.EndNoComm, Gone: "the control pilot went back to state A"}})
	// A second car, without SoC, whose delivery failed. It came 14.5 s
	// after the charger keyed its modem and matched in 1.2 s: the wait for
	// it is not SLAC's time.
	feed(m, []record.Event{
		{Kind: record.KindSLACStarted, At: ms(60000)},
		{Kind: record.KindMatched, At: ms(76200), EVMAC: "02:00:00:00:00:01", Took: 1200 * time.Millisecond},
		{Kind: record.KindConnected, At: ms(77000)},
		{Kind: record.KindRequest, At: ms(77001), Message: message.SessionSetupReq, Code: "OK_NewSessionEstablished", Took: 200 * time.Millisecond},
		{Kind: record.KindDelivered, At: ms(77100), Delivery: &record.Delivery{Output: "smartevse", OK: false, Result: "connection refused", At: ms(77100)}},
		{Kind: record.KindEnded, At: ms(80000), End: record.EndTimeout},
	})

	want := `
# HELP ccslink_plugins_total Plug-ins of a car, by how they ended (the record's end: session_stop, car_closed, link_lost, ...).
# TYPE ccslink_plugins_total counter
ccslink_plugins_total{outcome="no_digital_communication"} 1
ccslink_plugins_total{outcome="session_stop"} 1
ccslink_plugins_total{outcome="slac_failed"} 1
ccslink_plugins_total{outcome="timeout"} 1
# HELP ccslink_slac_duration_seconds Time SLAC took to match a car: from its first CM_SLAC_PARM.REQ of the matching to CM_SLAC_MATCH.CNF.
# TYPE ccslink_slac_duration_seconds histogram
ccslink_slac_duration_seconds_bucket{le="0.5"} 0
ccslink_slac_duration_seconds_bucket{le="1"} 0
ccslink_slac_duration_seconds_bucket{le="1.5"} 2
ccslink_slac_duration_seconds_bucket{le="2"} 2
ccslink_slac_duration_seconds_bucket{le="3"} 2
ccslink_slac_duration_seconds_bucket{le="5"} 2
ccslink_slac_duration_seconds_bucket{le="10"} 2
ccslink_slac_duration_seconds_bucket{le="20"} 2
ccslink_slac_duration_seconds_bucket{le="30"} 2
ccslink_slac_duration_seconds_bucket{le="60"} 2
ccslink_slac_duration_seconds_bucket{le="+Inf"} 2
ccslink_slac_duration_seconds_sum 2.42
ccslink_slac_duration_seconds_count 2
# HELP ccslink_session_duration_seconds Time from the car's TCP connection to the end of its V2G session (or of the plug-in, when the link went first).
# TYPE ccslink_session_duration_seconds histogram
ccslink_session_duration_seconds_bucket{le="0.1"} 0
ccslink_session_duration_seconds_bucket{le="0.25"} 0
ccslink_session_duration_seconds_bucket{le="0.5"} 1
ccslink_session_duration_seconds_bucket{le="1"} 1
ccslink_session_duration_seconds_bucket{le="2"} 1
ccslink_session_duration_seconds_bucket{le="5"} 2
ccslink_session_duration_seconds_bucket{le="10"} 2
ccslink_session_duration_seconds_bucket{le="30"} 2
ccslink_session_duration_seconds_bucket{le="60"} 2
ccslink_session_duration_seconds_bucket{le="300"} 2
ccslink_session_duration_seconds_bucket{le="1800"} 2
ccslink_session_duration_seconds_bucket{le="3600"} 2
ccslink_session_duration_seconds_bucket{le="14400"} 2
ccslink_session_duration_seconds_bucket{le="+Inf"} 2
ccslink_session_duration_seconds_sum 3.5
ccslink_session_duration_seconds_count 2
# HELP ccslink_deliveries_total Deliveries of the car's values by an output, by outcome (ok or failed).
# TYPE ccslink_deliveries_total counter
ccslink_deliveries_total{outcome="failed",output="smartevse"} 1
ccslink_deliveries_total{outcome="ok",output="smartevse"} 1
# HELP ccslink_last_soc_percent The last state of charge a car told, in percent; -1 until a car told one.
# TYPE ccslink_last_soc_percent gauge
ccslink_last_soc_percent 93
# HELP ccslink_last_soc_timestamp_seconds When the car told ccslink_last_soc_percent, in Unix seconds; 0 until then.
# TYPE ccslink_last_soc_timestamp_seconds gauge
ccslink_last_soc_timestamp_seconds 1.779616805348e+09
`
	if err := testutil.GatherAndCompare(m.reg, strings.NewReader(want), strings.Fields(names)...); err != nil {
		t.Error(err)
	}
	// The answer times, per request.
	for _, c := range []struct {
		message string
		count   int
		sum     float64
	}{
		{"supportedAppProtocolReq", 1, 40e-6},
		{"SessionSetupReq", 2, 30e-6 + 0.2},
		{"ServiceDiscoveryReq", 1, 20e-6},
		{"ChargeParameterDiscoveryReq", 2, 3e-3 + 60e-6},
	} {
		if n := testutil.CollectAndCount(m.answers); n != 4 {
			t.Fatalf("ccslink_answer_seconds has %d series, want 4", n)
		}
		got := histogram(t, m, c.message)
		if got.count != uint64(c.count) || !near(got.sum, c.sum) {
			t.Errorf("ccslink_answer_seconds{message=%q}: count %d sum %v, want %d and %v", c.message, got.count, got.sum, c.count, c.sum)
		}
	}
	cpd := histogram(t, m, "ChargeParameterDiscoveryReq")
	// 60 µs falls in le=100µs, 3 ms in le=5ms.
	wantBuckets := []uint64{0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2}
	for i, b := range cpd.buckets {
		if b != wantBuckets[i] {
			t.Errorf("ChargeParameterDiscoveryReq bucket le=%v: %d, want %d", AnswerBuckets[i], b, wantBuckets[i])
		}
	}
}

type hist struct {
	count   uint64
	sum     float64
	buckets []uint64
}

func histogram(t *testing.T, m *Exporter, message string) hist {
	t.Helper()
	mfs, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "ccslink_answer_seconds" {
			continue
		}
		for _, mt := range mf.GetMetric() {
			if mt.GetLabel()[0].GetValue() != message {
				continue
			}
			h := hist{count: mt.GetHistogram().GetSampleCount(), sum: mt.GetHistogram().GetSampleSum()}
			for _, b := range mt.GetHistogram().GetBucket() {
				h.buckets = append(h.buckets, b.GetCumulativeCount())
			}
			return h
		}
	}
	t.Fatalf("no ccslink_answer_seconds{message=%q}", message)
	return hist{}
}

func near(a, b float64) bool { d := a - b; return d < 1e-12 && d > -1e-12 }

// TestMessageLabelsBounded gives every kind of message its own series,
// named as the kind, and a kind no codec has the series other.
func TestMessageLabelsBounded(t *testing.T) {
	m := New()
	var s record.Session
	for k := message.Kind(0); k < message.NumKinds+10; k++ {
		m.Event(record.Event{Kind: record.KindRequest, Message: k, Took: time.Microsecond}, &s)
	}
	if n := testutil.CollectAndCount(m.answers); n != int(message.NumKinds) {
		t.Errorf("ccslink_answer_seconds has %d series, want %d (one per kind but None, and other)", n, message.NumKinds)
	}
	if h := histogram(t, m, "other"); h.count != 10 {
		t.Errorf("other counts %d requests, want 10", h.count)
	}
	if h := histogram(t, m, "supportedAppProtocolReq"); h.count != 1 {
		t.Errorf("supportedAppProtocolReq counts %d requests, want 1", h.count)
	}
}

func TestHandler(t *testing.T) {
	m := New()
	feed(m, ioniq())
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	if rec.Code != 200 {
		t.Fatalf("GET /metrics: %d", rec.Code)
	}
	for _, line := range []string{
		`ccslink_plugins_total{outcome="session_stop"} 1`,
		`ccslink_last_soc_percent 93`,
		`ccslink_answer_seconds_bucket{message="SessionSetupReq",le="5e-05"} 1`,
		"\ngo_goroutines ",
		"\nprocess_start_time_seconds ",
	} {
		if !strings.Contains(string(body), line) {
			t.Errorf("GET /metrics lacks %q", line)
		}
	}
}

// A car unplugged in the middle of its session: the session lasted until the link went.
func TestSessionCutByLinkLoss(t *testing.T) {
	m := New()
	feed(m, []record.Event{
		{Kind: record.KindSLACStarted, At: t0},
		{Kind: record.KindMatched, At: ms(500), EVMAC: "02:00:00:00:00:01"},
		{Kind: record.KindConnected, At: ms(1000)},
		{Kind: record.KindEnded, At: ms(8000), End: record.EndLinkLost},
	})
	if got := testutil.ToFloat64(m.plugins.WithLabelValues("link_lost")); got != 1 {
		t.Errorf("link_lost plug-ins: %v", got)
	}
	if err := testutil.GatherAndCompare(m.reg, strings.NewReader(`
# HELP ccslink_session_duration_seconds Time from the car's TCP connection to the end of its V2G session (or of the plug-in, when the link went first).
# TYPE ccslink_session_duration_seconds histogram
ccslink_session_duration_seconds_bucket{le="0.1"} 0
ccslink_session_duration_seconds_bucket{le="0.25"} 0
ccslink_session_duration_seconds_bucket{le="0.5"} 0
ccslink_session_duration_seconds_bucket{le="1"} 0
ccslink_session_duration_seconds_bucket{le="2"} 0
ccslink_session_duration_seconds_bucket{le="5"} 0
ccslink_session_duration_seconds_bucket{le="10"} 1
ccslink_session_duration_seconds_bucket{le="30"} 1
ccslink_session_duration_seconds_bucket{le="60"} 1
ccslink_session_duration_seconds_bucket{le="300"} 1
ccslink_session_duration_seconds_bucket{le="1800"} 1
ccslink_session_duration_seconds_bucket{le="3600"} 1
ccslink_session_duration_seconds_bucket{le="14400"} 1
ccslink_session_duration_seconds_bucket{le="+Inf"} 1
ccslink_session_duration_seconds_sum 7
ccslink_session_duration_seconds_count 1
`), "ccslink_session_duration_seconds"); err != nil {
		t.Error(err)
	}
}

// BenchmarkEvent is the exporter's cost per request answered.
func BenchmarkEvent(b *testing.B) {
	m := New()
	var s record.Session
	e := record.Event{Kind: record.KindRequest, Message: message.CurrentDemandReq, Code: "OK", Took: 50 * time.Microsecond}
	b.ReportAllocs()
	for b.Loop() {
		m.Event(e, &s)
	}
}

// TestServerCounts: the servers' counters as they are at each scrape.
func TestServerCounts(t *testing.T) {
	m := New()
	n := ServerCounts{SDPAnswered: 20, SDPLimited: 4980, SDPDropped: 7, V2GRefused: 2}
	m.CountServers(func() ServerCounts { return n })
	want := `
# HELP ccslink_sdp_requests_total SDP requests by what the charger did: answered; limited (over their source's rate limit of 5 at once, then 10 a second); dropped (too many answers waiting, as in a flood from many sources).
# TYPE ccslink_sdp_requests_total counter
ccslink_sdp_requests_total{outcome="answered"} 20
ccslink_sdp_requests_total{outcome="dropped"} 7
ccslink_sdp_requests_total{outcome="limited"} 4980
# HELP ccslink_v2g_refused_total V2G connections closed at once: from someone other than the plug-in's car, or over the bound of connections open at once.
# TYPE ccslink_v2g_refused_total counter
ccslink_v2g_refused_total 2
`
	if err := testutil.GatherAndCompare(m.reg, strings.NewReader(want), "ccslink_sdp_requests_total", "ccslink_v2g_refused_total"); err != nil {
		t.Error(err)
	}
	n.SDPAnswered++
	if err := testutil.GatherAndCompare(m.reg, strings.NewReader(strings.Replace(want, `"answered"} 20`, `"answered"} 21`, 1)), "ccslink_sdp_requests_total"); err != nil {
		t.Error(err)
	}
}

// TestHandover counts each handover by strategy and outcome, whether it
// came while its plug-in ran or after it ended (Late), in the exposition
// text the handler serves.
func TestHandover(t *testing.T) {
	m := New()
	events := ioniq()
	end := events[len(events)-1]
	events = append(events[:len(events)-1],
		record.Event{Kind: record.KindHandover, At: ms(8000), Handover: &record.Handover{Strategy: record.StrategyDeliverNow, ACStarted: true, ACAfter: 2650 * time.Millisecond, Observed: true}},
		end)
	feed(m, events)
	m.Late(record.Event{Kind: record.KindHandover, PlugIn: 2, Handover: &record.Handover{Strategy: record.StrategyDeliverNow, Observed: true, Seen: []string{"B"}}}, &record.Session{})
	m.Late(record.Event{Kind: record.KindHandover, PlugIn: 3, Handover: &record.Handover{Strategy: record.StrategyDeliverNow, Why: "no answer"}}, &record.Session{})
	m.Late(record.Event{Kind: record.KindHandover, PlugIn: 4, Handover: &record.Handover{Strategy: record.StrategyDeliverNow, ACStarted: true, Observed: true}}, &record.Session{})
	m.Late(record.Event{Kind: record.KindHandover, PlugIn: 5}, &record.Session{}) // no handover: nothing to count
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	want := `# HELP ccslink_handover_total What the charger did after the car's values were delivered, by handover strategy and outcome (ac_started, no_ac, not_observed).
# TYPE ccslink_handover_total counter
ccslink_handover_total{outcome="ac_started",strategy="deliver-now"} 2
ccslink_handover_total{outcome="no_ac",strategy="deliver-now"} 1
ccslink_handover_total{outcome="not_observed",strategy="deliver-now"} 1
`
	if !strings.Contains(string(b), want) {
		t.Fatalf("exposition lacks\n%s\ngot\n%s", want, b)
	}
}
