package evcc

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/ccslink/ccslink/clock"
	"github.com/ccslink/ccslink/proto/v2g/din"
	"github.com/ccslink/ccslink/proto/v2g/iso2"
	"github.com/ccslink/ccslink/proto/v2g/message"
)

var fakeStart = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

// never is a charger phase that does not end within any test.
const never = 1000 * time.Hour

// answerTime is what a charger takes per answer in these tests (a charger
// answering in 33 ms gave the old car, which counted 30 Ongoing answers,
// about 1 s of cable check).
const answerTime = 33 * time.Millisecond

// ramped is the output voltage of a charger ramping from 0 to target over
// ramp, el after it started (in target's unit and multiplier).
func ramped(target int16, el, ramp time.Duration) int16 {
	if el >= ramp {
		return target
	}
	return int16(int64(target) * int64(el/time.Millisecond) / int64(ramp/time.Millisecond))
}

// slowDIN wraps a DIN DC policy with a real charger's slowness, on clk: its
// isolation check answers Ongoing until cable has passed since the first
// CableCheckReq arrived, and its output voltage rises linearly from 0 to
// the car's target over ramp from the first PreChargeReq.
func slowDIN(clk clock.Clock, cable, ramp time.Duration, next func(*din.BodyType) *din.BodyType) func(*din.BodyType) *din.BodyType {
	var cableStart, rampStart time.Time
	return func(req *din.BodyType) *din.BodyType {
		now := clk.Now()
		switch {
		case req.CableCheckReq != nil:
			if cableStart.IsZero() {
				cableStart = now
			}
			r := &din.CableCheckResType{DC_EVSEStatus: dinStatus(din.DC_EVSEStatusCodeEVSE_IsolationMonitoringActive), EVSEProcessing: din.EVSEProcessingOngoing}
			if now.Sub(cableStart) >= cable {
				r.DC_EVSEStatus, r.EVSEProcessing = dinStatus(din.DC_EVSEStatusCodeEVSE_Ready), din.EVSEProcessingFinished
			}
			return &din.BodyType{CableCheckRes: r}
		case req.PreChargeReq != nil:
			if rampStart.IsZero() {
				rampStart = now
			}
			v := req.PreChargeReq.EVTargetVoltage
			v.Value = ramped(v.Value, now.Sub(rampStart), ramp)
			return &din.BodyType{PreChargeRes: &din.PreChargeResType{DC_EVSEStatus: dinStatus(din.DC_EVSEStatusCodeEVSE_Ready), EVSEPresentVoltage: v}}
		}
		return next(req)
	}
}

// slowISO is slowDIN for ISO 15118-2.
func slowISO(clk clock.Clock, cable, ramp time.Duration, next func(*iso2.BodyType) *iso2.BodyType) func(*iso2.BodyType) *iso2.BodyType {
	var cableStart, rampStart time.Time
	return func(req *iso2.BodyType) *iso2.BodyType {
		now := clk.Now()
		switch {
		case req.CableCheckReq != nil:
			if cableStart.IsZero() {
				cableStart = now
			}
			r := &iso2.CableCheckResType{DC_EVSEStatus: isoStatus(iso2.DC_EVSEStatusCodeEVSE_IsolationMonitoringActive), EVSEProcessing: iso2.EVSEProcessingOngoing}
			if now.Sub(cableStart) >= cable {
				r.DC_EVSEStatus, r.EVSEProcessing = isoStatus(iso2.DC_EVSEStatusCodeEVSE_Ready), iso2.EVSEProcessingFinished
			}
			return &iso2.BodyType{CableCheckRes: r}
		case req.PreChargeReq != nil:
			if rampStart.IsZero() {
				rampStart = now
			}
			v := req.PreChargeReq.EVTargetVoltage
			v.Value = ramped(v.Value, now.Sub(rampStart), ramp)
			return &iso2.BodyType{PreChargeRes: &iso2.PreChargeResType{DC_EVSEStatus: isoStatus(iso2.DC_EVSEStatusCodeEVSE_Ready), EVSEPresentVoltage: v}}
		}
		return next(req)
	}
}

// runFake runs the car against c on a fake clock; c's clk must be clk.
func runFake(t *testing.T, c charger, cfg Config) (Result, seen, error) {
	t.Helper()
	carDone := make(chan struct{})
	c.carDone = carDone
	cfg.Clock = c.clk
	car, done := c.start(t)
	res, err := Run(context.Background(), car, cfg)
	close(carDone)
	return res, finishRun(car, done), err
}

// repeat returns n times s.
func repeat(s string, n int) []string { return slices.Repeat([]string{s}, n) }

// The car waits out a charger whose isolation check takes 5 s and whose
// voltage ramps up over 4 s, and charges. The car asks at once after each
// answer, so request k arrives (k-1)·33 ms into its phase:
//   - CableCheck: Ongoing while (k-1)·33 ms < 5 s, so 152 Ongoing answers
//     (151·33 ms = 4.983 s) and Finished to the 153rd (5.016 s);
//   - PreCharge: the car goes on once the voltage is within 20 V of its
//     target, 3881·(k-1)·33/4000 ≥ 3681 (0.1 V) for the Ioniq's 388.1 V:
//     k-1 = 115 (368.2 V at 3.795 s), so 116 PreChargeReq.
func TestSlowChargerDIN(t *testing.T) {
	clk := clock.NewFake(fakeStart)
	c := charger{namespace: NamespaceDIN, clk: clk, latency: answerTime,
		din: slowDIN(clk, 5*time.Second, 4*time.Second, dinPolicy(false))}
	res, sn, err := runFake(t, c, Config{Profile: mustLookup(t, "ioniq")})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := []string{
		"supportedAppProtocolReq=OK_SuccessfulNegotiation",
		"SessionSetupReq=OK_NewSessionEstablished",
		"ServiceDiscoveryReq=OK",
		"ServicePaymentSelectionReq=OK",
		"ContractAuthenticationReq=OK",
		"ChargeParameterDiscoveryReq=OK",
	}
	want = append(want, repeat("CableCheckReq=OK", 153)...)
	want = append(want, repeat("PreChargeReq=OK", 116)...)
	want = append(want, "PowerDeliveryReq=OK")
	want = append(want, repeat("CurrentDemandReq=OK", DefaultRounds)...)
	want = append(want, "PowerDeliveryReq=OK", "WeldingDetectionReq=OK", "SessionStopReq=OK")
	if got := requests(res); !reflect.DeepEqual(got, want) {
		t.Errorf("%d steps, want %d\n got %q\nwant %q", len(got), len(want), got, want)
	}
	if res.End != EndComplete || len(sn.kinds) != len(want) {
		t.Errorf("End %v, charger saw %d requests; want %v, %d", res.End, len(sn.kinds), EndComplete, len(want))
	}
	for i, st := range res.Steps {
		if st.RTT != answerTime {
			t.Fatalf("step %d (%s): RTT %v on the fake clock, want %v", i, st.Request, st.RTT, answerTime)
		}
	}
	if got, want := clk.Now().Sub(fakeStart), time.Duration(len(want))*answerTime; got != want {
		t.Errorf("the session took %v of fake time, want %v", got, want)
	}
	if n := clk.Pending(); n != 0 {
		t.Errorf("%d timers left pending", n)
	}
}

// The same charger in ISO 15118-2, the ID.3's 370 V: 3700·(k-1)·33/4000 ≥
// 3500 at k-1 = 115 (351.0 V), so again 153 CableCheckReq and 116 PreChargeReq.
func TestSlowChargerISO2(t *testing.T) {
	clk := clock.NewFake(fakeStart)
	c := charger{namespace: NamespaceISO2, clk: clk, latency: answerTime,
		iso: slowISO(clk, 5*time.Second, 4*time.Second, isoPolicy("dc"))}
	res, _, err := runFake(t, c, Config{Profile: mustLookup(t, "id3")})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := []string{
		"supportedAppProtocolReq=OK_SuccessfulNegotiation",
		"SessionSetupReq=OK_NewSessionEstablished",
		"ServiceDiscoveryReq=OK",
		"PaymentServiceSelectionReq=OK",
		"AuthorizationReq=OK",
		"ChargeParameterDiscoveryReq=OK",
	}
	want = append(want, repeat("CableCheckReq=OK", 153)...)
	want = append(want, repeat("PreChargeReq=OK", 116)...)
	want = append(want, "PowerDeliveryReq=OK")
	want = append(want, repeat("CurrentDemandReq=OK", DefaultRounds)...)
	want = append(want, "PowerDeliveryReq=OK", "WeldingDetectionReq=OK", "SessionStopReq=OK")
	if got := requests(res); !reflect.DeepEqual(got, want) {
		t.Errorf("%d steps, want %d\n got %q\nwant %q", len(got), len(want), got, want)
	}
	if res.End != EndComplete {
		t.Errorf("End %v, want %v", res.End, EndComplete)
	}
}

// A paced car thinks its profile's time before each request, on the
// car's clock: the Ioniq's 270 ms plus the charger's 33 ms make a request
// every 303 ms, so CableCheck is Finished at the 18th (17·303 ms = 5.151 s)
// and PreCharge within 20 V at the 14th (13·303 ms = 3.939 s: 382.1 V).
func TestSlowChargerPaced(t *testing.T) {
	clk := clock.NewFake(fakeStart)
	p := mustLookup(t, "ioniq")
	c := charger{namespace: NamespaceDIN, clk: clk, latency: answerTime, think: p.Think,
		din: slowDIN(clk, 5*time.Second, 4*time.Second, dinPolicy(false))}
	res, _, err := runFake(t, c, Config{Profile: p, Paced: true})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	n := map[string]int{}
	for _, st := range res.Steps {
		n[st.Request.String()]++
	}
	if n["CableCheckReq"] != 18 || n["PreChargeReq"] != 14 || n["CurrentDemandReq"] != DefaultRounds || res.End != EndComplete {
		t.Errorf("%d CableCheckReq, %d PreChargeReq, %d CurrentDemandReq, End %v; want 18, 14, %d, %v",
			n["CableCheckReq"], n["PreChargeReq"], n["CurrentDemandReq"], res.End, DefaultRounds, EndComplete)
	}
	// Every request but the first waited 270 ms, every answer took 33 ms.
	steps := time.Duration(len(res.Steps))
	if got, want := clk.Now().Sub(fakeStart), steps*answerTime+(steps-1)*p.Think; got != want {
		t.Errorf("the session took %v of fake time, want %v", got, want)
	}
}

// wantTimer checks that err is the TimerError want, and matches ErrTimeout.
func wantTimer(t *testing.T, res Result, err error, want TimerError, text string) {
	t.Helper()
	var te *TimerError
	if !errors.As(err, &te) || !errors.Is(err, ErrTimeout) {
		t.Fatalf("err %v (%T), want a *TimerError matching ErrTimeout", err, err)
	}
	if *te != want {
		t.Errorf("TimerError %+v\n           want %+v", *te, want)
	}
	if err.Error() != text {
		t.Errorf("error text\n got %q\nwant %q", err.Error(), text)
	}
	if res.End != EndTimeout {
		t.Errorf("End %v, want %v", res.End, EndTimeout)
	}
}

// count returns how many of the charger's requests were kind, and checks
// that the car sent nothing after the last of them (it closes TCP).
func count(t *testing.T, sn seen, kind string) int {
	t.Helper()
	n := 0
	for _, k := range sn.kinds {
		if k == kind {
			n++
		}
	}
	if last := sn.kinds[len(sn.kinds)-1]; last != kind {
		t.Errorf("the car went on with %s after giving up", last)
	}
	return n
}

// A charger still checking isolation at 38 s: the car gives up after the
// answer to its 1152nd CableCheckReq (1152·33 ms = 38.016 s ≥ 38 s; after
// 1151 it was 37.983 s) and closes the connection without another request.
func TestCableCheckTimeoutDIN(t *testing.T) {
	clk := clock.NewFake(fakeStart)
	c := charger{namespace: NamespaceDIN, clk: clk, latency: answerTime, din: slowDIN(clk, never, 0, dinPolicy(false))}
	res, sn, err := runFake(t, c, Config{Profile: mustLookup(t, "ioniq")})
	wantTimer(t, res, err, TimerError{Timer: TimerCable, Limit: 38 * time.Second, Request: message.CableCheckReq, Requests: 1152, Elapsed: 38016 * time.Millisecond},
		"evcc: the charger did not finish its isolation check within 38s (V2G_EVCC_CableCheck_Timeout): 1152 CableCheckReq in 38.016s, each answered as not done")
	if n := count(t, sn, "CableCheckReq"); n != 1152 {
		t.Errorf("%d CableCheckReq, want 1152", n)
	}
}

// ISO 15118-2 allows 40 s: 1213·33 ms = 40.029 s.
func TestCableCheckTimeoutISO2(t *testing.T) {
	clk := clock.NewFake(fakeStart)
	c := charger{namespace: NamespaceISO2, clk: clk, latency: answerTime, iso: slowISO(clk, never, 0, isoPolicy("dc"))}
	res, sn, err := runFake(t, c, Config{Profile: mustLookup(t, "id3")})
	wantTimer(t, res, err, TimerError{Timer: TimerCable, Limit: 40 * time.Second, Request: message.CableCheckReq, Requests: 1213, Elapsed: 40029 * time.Millisecond},
		"evcc: the charger did not finish its isolation check within 40s (V2G_EVCC_CableCheck_Timeout): 1213 CableCheckReq in 40.029s, each answered as not done")
	if n := count(t, sn, "CableCheckReq"); n != 1213 {
		t.Errorf("%d CableCheckReq, want 1213", n)
	}
}

// A charger whose voltage does not come up: the car gives up 7 s after its
// first PreChargeReq, after the 213th (213·33 ms = 7.029 s).
func TestPreChargeTimeout(t *testing.T) {
	for _, proto := range []string{"din", "iso2"} {
		t.Run(proto, func(t *testing.T) {
			clk := clock.NewFake(fakeStart)
			c := charger{namespace: NamespaceDIN, clk: clk, latency: answerTime, din: slowDIN(clk, 0, never, dinPolicy(false))}
			car := "ioniq"
			if proto == "iso2" {
				c = charger{namespace: NamespaceISO2, clk: clk, latency: answerTime, iso: slowISO(clk, 0, never, isoPolicy("dc"))}
				car = "id3"
			}
			res, sn, err := runFake(t, c, Config{Profile: mustLookup(t, car)})
			wantTimer(t, res, err, TimerError{Timer: TimerPreCharge, Limit: 7 * time.Second, Request: message.PreChargeReq, Requests: 213, Elapsed: 7029 * time.Millisecond},
				"evcc: the charger did not raise its output to the car's voltage within 7s (V2G_EVCC_PreCharge_Timeout): 213 PreChargeReq in 7.029s, each answered as not done")
			if n := count(t, sn, "PreChargeReq"); n != 213 {
				t.Errorf("%d PreChargeReq, want 213", n)
			}
		})
	}
}

// ChargeParameterDiscovery answered Ongoing for ever: 60 s, 1819·33 ms = 60.027 s.
func TestOngoingTimeout(t *testing.T) {
	clk := clock.NewFake(fakeStart)
	policy := isoPolicy("dc")
	ongoing := func(req *iso2.BodyType) *iso2.BodyType {
		b := policy(req)
		if b.ChargeParameterDiscoveryRes != nil {
			b.ChargeParameterDiscoveryRes.EVSEProcessing = iso2.EVSEProcessingOngoing
		}
		return b
	}
	c := charger{namespace: NamespaceISO2, clk: clk, latency: answerTime, iso: ongoing}
	res, sn, err := runFake(t, c, Config{Profile: mustLookup(t, "ev6")})
	wantTimer(t, res, err, TimerError{Timer: TimerOngoing, Limit: time.Minute, Request: message.ChargeParameterDiscoveryReq, Requests: 1819, Elapsed: 60027 * time.Millisecond},
		"evcc: the charger did not finish processing within 1m0s (V2G_EVCC_Ongoing_Timeout): 1819 ChargeParameterDiscoveryReq in 1m0.027s, each answered as not done")
	if n := count(t, sn, "ChargeParameterDiscoveryReq"); n != 1819 {
		t.Errorf("%d ChargeParameterDiscoveryReq, want 1819", n)
	}
}

// Each request waits its own V2G_EVCC_Msg_Timeout: the charging loop's
// answer 250 ms, ISO-2's PowerDelivery 5 s. The charger leaves the request
// unanswered; 1 ms before the timeout the car still waits.
func TestMsgTimeout(t *testing.T) {
	for _, tc := range []struct {
		proto, car, request string
		limit               time.Duration
	}{
		{"din", "ioniq", "CurrentDemandReq", 250 * time.Millisecond},
		{"iso2", "id3", "CurrentDemandReq", 250 * time.Millisecond},
		{"din", "ioniq", "PowerDeliveryReq", 2 * time.Second},
		{"iso2", "id3", "PowerDeliveryReq", 5 * time.Second},
		{"din", "ioniq", "CableCheckReq", 2 * time.Second},
		{"iso2", "id3", "PreChargeReq", 2 * time.Second},
	} {
		t.Run(tc.proto+"/"+tc.request, func(t *testing.T) {
			clk := clock.NewFake(fakeStart)
			stall := func(kind string) bool {
				if kind != tc.request {
					return false
				}
				clk.Advance(tc.limit - time.Millisecond)
				if n := clk.Pending(); n != 1 {
					t.Errorf("%d timers pending 1 ms before the timeout, want the answer's", n)
				}
				clk.Advance(time.Millisecond)
				return true
			}
			c := charger{namespace: NamespaceDIN, clk: clk, stall: stall, din: dinPolicy(false)}
			if tc.proto == "iso2" {
				c = charger{namespace: NamespaceISO2, clk: clk, stall: stall, iso: isoPolicy("dc")}
			}
			res, sn, err := runFake(t, c, Config{Profile: mustLookup(t, tc.car)})
			wantTimer(t, res, err, TimerError{Timer: TimerMsg, Limit: tc.limit, Request: mustKind(t, tc.request), Requests: 1, Elapsed: tc.limit},
				"evcc: the charger did not answer "+tc.request+" within "+tc.limit.String()+" (V2G_EVCC_Msg_Timeout)")
			if last := res.Steps[len(res.Steps)-1]; last.Request.String() != tc.request || last.Response != "" || last.RTT != tc.limit {
				t.Errorf("last step %+v", last)
			}
			if n := count(t, sn, tc.request); tc.request == "CurrentDemandReq" && n != 1 {
				t.Errorf("%d %s, want 1", n, tc.request)
			}
		})
	}
}

// Config.ResponseTimeout replaces every request's timeout.
func TestResponseTimeoutOverrides(t *testing.T) {
	clk := clock.NewFake(fakeStart)
	stall := func(kind string) bool {
		if kind != "CurrentDemandReq" {
			return false
		}
		clk.Advance(3 * time.Second)
		return true
	}
	c := charger{namespace: NamespaceDIN, clk: clk, stall: stall, din: dinPolicy(false)}
	res, _, err := runFake(t, c, Config{Profile: mustLookup(t, "ioniq"), ResponseTimeout: 3 * time.Second})
	wantTimer(t, res, err, TimerError{Timer: TimerMsg, Limit: 3 * time.Second, Request: message.CurrentDemandReq, Requests: 1, Elapsed: 3 * time.Second},
		"evcc: the charger did not answer CurrentDemandReq within 3s (V2G_EVCC_Msg_Timeout)")
}

// A deadline the caller set on the conn is a timeout too, but none of the car's timers.
func TestCallerDeadline(t *testing.T) {
	car, done := charger{silent: true, got: make(chan struct{}, 1)}.start(t)
	car.SetReadDeadline(time.Unix(1, 0))
	res, err := Run(context.Background(), car, Config{Profile: mustLookup(t, "ioniq")})
	finishRun(car, done)
	var te *TimerError
	if !errors.Is(err, ErrTimeout) || errors.As(err, &te) || res.End != EndTimeout {
		t.Fatalf("err %v (%T), End %v", err, err, res.End)
	}
	const want = "evcc: the charger did not answer in time while waiting for the answer to supportedAppProtocolReq: read pipe: i/o timeout"
	if err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}

// mustKind returns the kind of message named name.
func mustKind(t *testing.T, name string) message.Kind {
	t.Helper()
	k, ok := message.Parse(name)
	if !ok {
		t.Fatalf("no message %q", name)
	}
	return k
}
