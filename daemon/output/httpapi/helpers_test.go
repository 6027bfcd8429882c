package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ccslink/ccslink/proto/v2g/message"
	"github.com/ccslink/ccslink/record"
)

var t0 = time.Date(2026, 5, 24, 10, 0, 0, 0, time.UTC)

func ms(n float64) time.Time { return t0.Add(time.Duration(n * float64(time.Millisecond))) }

func ptr[T any](v T) *T { return &v }

// is reports whether a value of the state is v (not null).
func is(p *int, v int) bool { return p != nil && *p == v }

// ioniq is the Ioniq capture's plug-in under the soc policy (its values and
// EVCCID), with round times, until the car's session ended.
func ioniq() []record.Event {
	return []record.Event{
		{Kind: record.KindSLACStarted, At: t0},
		{Kind: record.KindMatched, At: ms(1750), EVMAC: "04:65:65:00:64:c3"},
		{Kind: record.KindLinkUp, At: ms(1750)},
		{Kind: record.KindSDP, At: ms(5340)},
		{Kind: record.KindConnected, At: ms(5345)},
		{Kind: record.KindHandshake, At: ms(5346), Protocol: "din", Namespace: "urn:din:70121:2012:MsgDef"},
		{Kind: record.KindRequest, At: ms(5346), Message: message.SupportedAppProtocolReq, Code: "OK_SuccessfulNegotiation", Took: 40 * time.Microsecond},
		{Kind: record.KindSessionSetup, At: ms(5347), EVCCID: []byte{0x04, 0x65, 0x65, 0x00, 0x64, 0xc3}},
		{Kind: record.KindRequest, At: ms(5347), Message: message.SessionSetupReq, Code: "OK_NewSessionEstablished", Took: 30 * time.Microsecond},
		{Kind: record.KindValues, At: ms(5348), Message: message.ChargeParameterDiscoveryReq, Values: record.Values{
			SoC: ptr(93), FullSOC: ptr(94), EnergyCapacityWh: ptr(28000.0), EnergyRequestWh: ptr(1820.0)}},
		{Kind: record.KindRequest, At: ms(5348), Message: message.ChargeParameterDiscoveryReq, Code: "OK", Took: 60 * time.Microsecond},
		{Kind: record.KindDelivered, At: ms(5350), Delivery: &record.Delivery{Output: "smartevse", What: "current_soc=93&full_soc=94&energy_capacity=28000&energy_request=1820&evccid=0465650064c3", OK: true, Result: "HTTP 200", At: ms(5350), Took: time.Millisecond,
			Sent: &record.Sent{SoC: ptr(93), FullSOC: ptr(94), EnergyCapacityWh: ptr(28000), EnergyRequestWh: ptr(1820), EVCCID: "0465650064c3"}}},
		{Kind: record.KindEnded, At: ms(5845), End: record.EndSessionStop},
	}
}

// car is a short plug-in of a car with the given MAC and SoC.
func car(mac string, soc int, at time.Time) []record.Event {
	return []record.Event{
		{Kind: record.KindSLACStarted, At: at},
		{Kind: record.KindMatched, At: at.Add(time.Second), EVMAC: mac},
		{Kind: record.KindConnected, At: at.Add(2 * time.Second)},
		{Kind: record.KindValues, At: at.Add(3 * time.Second), Message: message.ChargeParameterDiscoveryReq, Values: record.Values{SoC: ptr(soc)}},
		{Kind: record.KindEnded, At: at.Add(4 * time.Second), End: record.EndCarClosed},
	}
}

// acCar is an ISO 15118-2 AC car that sends what it wants and its limits
// but no SoC (AC_EVChargeParameter has none), then ends its session.
func acCar(at time.Time) []record.Event {
	d := func(ms int) time.Time { return at.Add(time.Duration(ms) * time.Millisecond) }
	return []record.Event{
		{Kind: record.KindSLACStarted, At: at},
		{Kind: record.KindMatched, At: d(1500), EVMAC: "00:7d:fa:00:ac:01"},
		{Kind: record.KindSDP, At: d(3000)},
		{Kind: record.KindConnected, At: d(3100)},
		{Kind: record.KindHandshake, At: d(3200), Protocol: "iso2", Namespace: "urn:iso:15118:2:2013:MsgDef"},
		{Kind: record.KindSessionSetup, At: d(3300), EVCCID: []byte{0x00, 0x7d, 0xfa, 0x00, 0xac, 0x01}},
		{Kind: record.KindValues, At: d(3400), Message: message.ChargeParameterDiscoveryReq, Values: record.Values{
			EnergyRequestWh: ptr(12000.0), MaxVoltageV: ptr(400.0), MaxCurrentA: ptr(16.0)}},
		{Kind: record.KindRequest, At: d(3400), Message: message.ChargeParameterDiscoveryReq, Code: "OK", Took: 50 * time.Microsecond},
		{Kind: record.KindEnded, At: d(4000), End: record.EndSessionStop},
	}
}

// noCar is a round of the charger in which no car came.
func noCar(at time.Time) []record.Event {
	return []record.Event{{Kind: record.KindSLACStarted, At: at}, {Kind: record.KindEnded, At: at.Add(30 * time.Second), End: record.EndNoCar}}
}

// player folds events into a record and hands them to a subscriber, as the charger does.
type player struct {
	s   *Server
	rec *record.Session
}

func (p *player) play(events ...record.Event) {
	for _, e := range events {
		if e.Kind == record.KindSLACStarted {
			p.rec = &record.Session{}
		}
		p.rec.Apply(e)
		p.s.Event(e, p.rec)
	}
}

func (p *player) end(at time.Time) {
	e := record.Event{Kind: record.KindEnded, At: at, End: record.EndLinkLost}
	p.rec.Apply(e)
	p.s.Event(e, p.rec)
	p.s.PlugInEnded(p.rec)
}

// plugIn plays a whole plug-in, the link lost a second after its last event.
func (p *player) plugIn(events []record.Event) {
	p.play(events...)
	p.end(events[len(events)-1].At.Add(time.Second))
}

func get(t *testing.T, h http.Handler, target string, header ...string) (int, []byte) {
	t.Helper()
	req := httptest.NewRequest("GET", target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	b, _ := io.ReadAll(rec.Body)
	return rec.Code, b
}

func indent(t *testing.T, b []byte) string {
	t.Helper()
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		t.Fatalf("not JSON: %v: %s", err, b)
	}
	return strings.TrimSpace(out.String())
}

func newServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
