package evsetwin

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ccslink/ccslink/clock"
	"github.com/ccslink/ccslink/proto/cp"
)

var t0 = time.Date(2026, 12, 7, 18, 0, 0, 0, time.UTC)

// rig runs a twin on a fake clock and records its transitions as lines
// "+Ns from -> to (pilot): why".
type rig struct {
	t     *testing.T
	clk   *clock.Fake
	twin  *Twin
	ticks int
	log   []string
	ctx   context.Context
}

func newRig(t *testing.T, cfg Config) *rig {
	r := &rig{t: t, clk: clock.NewFake(t0)}
	cfg.Clock = r.clk
	cfg.OnState = func(tr Transition) {
		r.log = append(r.log, fmt.Sprintf("+%ds %v -> %v (%v): %s", int(tr.At.Sub(t0).Seconds()), tr.From, tr.To, tr.Pilot, tr.Why))
	}
	r.twin = New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	r.ctx = ctx
	done := make(chan error, 1)
	go func() { done <- r.twin.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	r.clk.WaitCreated(0, nil)
	r.sync()
	return r
}

// sync waits until the twin has handled everything sent to it so far.
func (r *rig) sync() {
	if !r.twin.do(r.ctx, func() {}) {
		r.t.Fatal("twin not running")
	}
}

// tick moves the clock by n of the firmware's seconds, one tick at a time.
func (r *rig) tick(n int) {
	for range n {
		r.clk.Advance(Tick)
		r.ticks++
		r.clk.WaitCreated(r.ticks, nil)
	}
	r.sync()
}

func (r *rig) state() State { r.sync(); return r.twin.Snapshot().State }

func (r *rig) post(q string) string {
	reply, ok := r.twin.PostEVState(r.ctx, q)
	if !ok {
		r.t.Fatal("twin not running")
	}
	return reply
}

func (r *rig) want(lines ...string) {
	r.t.Helper()
	r.sync()
	if got, want := strings.Join(r.log, "\n"), strings.Join(lines, "\n"); got != want {
		r.t.Fatalf("transitions:\n%s\nwant:\n%s", got, want)
	}
}

// drawOnPWM is the plainest car: it draws current whenever a nominal PWM
// is offered.
func drawOnPWM(l cp.Line) {
	l.Watch(func(c cp.Change) {
		if !c.ByCar && c.Car != cp.CarA && c.Pilot.Amps() > 0 {
			l.SetCar(cp.CarC)
		}
	})
}

// TestModemSequenceSoC: plug-in, CP off until the next tick, 5 % PWM,
// the SoC posted after 7 s, CP off for 5 s (the tick it came in plus 5),
// nominal PWM, and the car drawing current: C.
func TestModemSequenceSoC(t *testing.T) {
	r := newRig(t, Config{})
	drawOnPWM(r.twin.Line())
	r.twin.Line().SetCar(cp.CarB)
	if s := r.state(); s != StateModemRequest {
		t.Fatalf("plugged in: %v", s)
	}
	if p := r.twin.Line().Pilot(); p != cp.PilotOff {
		t.Fatalf("MODEM_REQUEST pilot %v", p)
	}
	r.tick(1)
	if p := r.twin.Line().Pilot(); p != cp.PilotDigital {
		t.Fatalf("MODEM_WAIT pilot %v", p)
	}
	r.tick(6)
	r.post("current_soc=93&full_soc=94&energy_capacity=28000&energy_request=1820&evccid=0465650064c3")
	r.tick(5)
	if s := r.state(); s != StateModemDone {
		t.Fatalf("5 s after the SoC: %v, want MODEM_DONE still", s)
	}
	r.tick(1)
	r.want(
		"+0s A (0) -> MODEM_REQUEST (11) (CP off): car plugged in",
		"+1s MODEM_REQUEST (11) -> MODEM_WAIT (12) (5 % PWM (digital communication)): CP back on at 5 %",
		"+7s MODEM_WAIT (12) -> MODEM_DONE (13) (CP off): SoC received",
		"+13s MODEM_DONE (13) -> B (1) (26.7 % PWM (16 A)): CP back on at nominal PWM",
		"+13s B (1) -> C (2) (26.7 % PWM (16 A)): the car draws current",
	)
	// Unplugged: A, and a new plug-in runs the modem stage again.
	r.twin.Line().SetCar(cp.CarA)
	if s := r.state(); s != StateA {
		t.Fatalf("unplugged: %v", s)
	}
	r.twin.Line().SetCar(cp.CarB)
	if s := r.state(); s != StateModemRequest {
		t.Fatalf("plugged in again: %v", s)
	}
}

// TestModemSequenceNoSoC: without a SoC the firmware waits 60 s at 5 %,
// then cuts CP for 5 s all the same; a car that does not draw stays at B.
func TestModemSequenceNoSoC(t *testing.T) {
	r := newRig(t, Config{})
	r.twin.Line().SetCar(cp.CarB)
	r.sync()
	r.tick(60)
	if s := r.state(); s != StateModemWait {
		t.Fatalf("after 60 s: %v, want MODEM_WAIT", s)
	}
	r.post("current_soc=-1&full_soc=-1&energy_capacity=-1&energy_request=-1") // ignored
	r.tick(1)
	r.tick(10)
	r.want(
		"+0s A (0) -> MODEM_REQUEST (11) (CP off): car plugged in",
		"+1s MODEM_REQUEST (11) -> MODEM_WAIT (12) (5 % PWM (digital communication)): CP back on at 5 %",
		"+61s MODEM_WAIT (12) -> MODEM_DONE (13) (CP off): no SoC within the wait",
		"+66s MODEM_DONE (13) -> B (1) (26.7 % PWM (16 A)): CP back on at nominal PWM",
	)
	if c := r.twin.Line().Car(); c != cp.CarB {
		t.Fatalf("car %v", c)
	}
}

// TestModemDenied: a required EVCCID compared case-sensitively; the
// denial lasts 60 s with CP off, then A, and the car still there starts
// the modem stage again.
func TestModemDenied(t *testing.T) {
	r := newRig(t, Config{RequiredEVCCID: "0465650064c3"})
	r.twin.Line().SetCar(cp.CarB)
	r.sync()
	r.tick(2)
	r.post("current_soc=93&full_soc=94&energy_capacity=28000&energy_request=1820&evccid=0465650064C3")
	r.tick(6)
	if s := r.state(); s != StateModemDenied {
		t.Fatalf("%v, want MODEM_DENIED", s)
	}
	body, _ := r.twin.Settings(r.ctx)
	if !strings.Contains(body, `"state":"Modem Denied","state_id":14,`) || !strings.Contains(body, `"iec61851_state":"E","charging_enabled":false}`) {
		t.Errorf("settings while denied: %s", body)
	}
	r.tick(59)
	if s := r.state(); s != StateModemDenied {
		t.Fatalf("after 59 s denied: %v", s)
	}
	r.tick(2)
	r.want(
		"+0s A (0) -> MODEM_REQUEST (11) (CP off): car plugged in",
		"+1s MODEM_REQUEST (11) -> MODEM_WAIT (12) (5 % PWM (digital communication)): CP back on at 5 %",
		"+2s MODEM_WAIT (12) -> MODEM_DONE (13) (CP off): SoC received",
		"+8s MODEM_DONE (13) -> MODEM_DENIED (14) (CP off): the EVCCID is not the required one",
		"+68s MODEM_DENIED (14) -> A (0) (steady CP (100 %, no PWM)): the denial is over",
		"+68s A (0) -> MODEM_REQUEST (11) (CP off): car plugged in",
		"+69s MODEM_REQUEST (11) -> MODEM_WAIT (12) (5 % PWM (digital communication)): CP back on at 5 %",
	)

	// The same car with the EVCCID in the right case charges.
	r2 := newRig(t, Config{RequiredEVCCID: "0465650064c3"})
	drawOnPWM(r2.twin.Line())
	r2.twin.Line().SetCar(cp.CarB)
	r2.sync()
	r2.tick(2)
	r2.post("current_soc=93&full_soc=94&energy_capacity=28000&energy_request=1820&evccid=0465650064c3")
	r2.tick(6)
	if s := r2.state(); s != StateC {
		t.Fatalf("%v, want C", s)
	}
}

// TestDisconnectEvent: the car's values stay through a short unplug and
// go after 60 s without a car, as the firmware's DisconnectEvent does.
func TestDisconnectEvent(t *testing.T) {
	r := newRig(t, Config{})
	r.twin.Line().SetCar(cp.CarB)
	r.sync()
	r.tick(1)
	r.post("current_soc=93&full_soc=94&energy_capacity=28000&energy_request=1820&evccid=0465650064c3")
	r.twin.Line().SetCar(cp.CarA)
	r.tick(60)
	if ev := r.twin.Snapshot().EV; ev.EVCCID != "0465650064c3" || ev.EnergyCapacity != 28000 {
		t.Fatalf("60 s after unplug: %+v", ev)
	}
	r.tick(1)
	if ev := r.twin.Snapshot().EV; ev != (EVState{-1, -1, -1, -1, -1, -1, "", -1}) {
		t.Fatalf("61 s after unplug: %+v", ev)
	}
}

// TestEVStateParsing: the firmware's parsing, edge case by edge case: the
// reply's bytes, and what it keeps.
func TestEVStateParsing(t *testing.T) {
	long32 := strings.Repeat("a", 32)
	for _, c := range []struct {
		name, query, reply string
		soc                int    // initial_soc kept
		evccid             string // EVCCID kept
		state              State
	}{
		{"all", "current_soc=93&full_soc=94&energy_capacity=28000&energy_request=1820&evccid=0465650064c3",
			`{"evccid":"0465650064c3","current_soc":93,"full_soc":94,"energy_capacity":28000,"energy_request":1820}`, 93, "0465650064c3", StateModemDone},
		{"unknown as -1", "current_soc=-1&full_soc=-1&energy_capacity=-1&energy_request=-1",
			`{"current_soc":-1,"full_soc":-1,"energy_capacity":-1,"energy_request":-1}`, -1, "", StateModemWait},
		{"missing current_soc is a real 0 %", "full_soc=80&energy_capacity=-1&energy_request=-1",
			`{"current_soc":0,"full_soc":80,"energy_capacity":-1,"energy_request":-1}`, 0, "", StateModemDone},
		{"garbage reads as 0", "current_soc=abc&full_soc=-1&energy_capacity=x&energy_request=-1",
			`{"current_soc":0,"full_soc":-1,"energy_capacity":0,"energy_request":-1}`, 0, "", StateModemDone},
		{"digits up to the first other byte", "current_soc=12abc&full_soc=%2042&energy_capacity=%2B7&energy_request=-1",
			`{"current_soc":12,"full_soc":42,"energy_capacity":7,"energy_request":-1}`, 12, "", StateModemDone},
		{"101 is ignored", "current_soc=101&full_soc=-1&energy_capacity=-1&energy_request=-1",
			`{"current_soc":101,"full_soc":-1,"energy_capacity":-1,"energy_request":-1}`, -1, "", StateModemWait},
		{"overflow saturates", "current_soc=99999999999&full_soc=-99999999999&energy_capacity=-1&energy_request=-1",
			`{"current_soc":2147483647,"full_soc":-2147483648,"energy_capacity":-1,"energy_request":-1}`, -1, "", StateModemWait},
		{"the first of two", "current_soc=10&current_soc=20&full_soc=-1&energy_capacity=-1&energy_request=-1",
			`{"current_soc":10,"full_soc":-1,"energy_capacity":-1,"energy_request":-1}`, 10, "", StateModemDone},
		{"32 characters: 31 kept", "current_soc=-1&full_soc=-1&energy_capacity=-1&energy_request=-1&evccid=" + long32,
			`{"evccid":"` + long32[:31] + `","current_soc":-1,"full_soc":-1,"energy_capacity":-1,"energy_request":-1}`, -1, long32[:31], StateModemWait},
		{"33 characters: refused", "current_soc=-1&full_soc=-1&energy_capacity=-1&energy_request=-1&evccid=" + long32 + "b",
			`{"current_soc":-1,"full_soc":-1,"energy_capacity":-1,"energy_request":-1}`, -1, "", StateModemWait},
		{"empty evccid", "current_soc=-1&full_soc=-1&energy_capacity=-1&energy_request=-1&evccid=",
			`{"evccid":"","current_soc":-1,"full_soc":-1,"energy_capacity":-1,"energy_request":-1}`, -1, "", StateModemWait},
		{"escaped as ArduinoJson does", "current_soc=-1&full_soc=-1&energy_capacity=-1&energy_request=-1&evccid=a%22b%5Cc%0Ad+e%01",
			"{\"evccid\":\"a\\\"b\\\\c\\nd e\x01\",\"current_soc\":-1,\"full_soc\":-1,\"energy_capacity\":-1,\"energy_request\":-1}", -1, "a\"b\\c\nd e\x01", StateModemWait},
		{"a NUL ends the C string", "current_soc=-1&full_soc=-1&energy_capacity=-1&energy_request=-1&evccid=ab%00cd",
			`{"evccid":"ab","current_soc":-1,"full_soc":-1,"energy_capacity":-1,"energy_request":-1}`, -1, "ab", StateModemWait},
		{"a name without = is absent", "current_soc=-1&full_soc=-1&energy_capacity=-1&energy_request=-1&evccid",
			`{"current_soc":-1,"full_soc":-1,"energy_capacity":-1,"energy_request":-1}`, -1, "", StateModemWait},
		{"empty query", "",
			`{"current_soc":0,"full_soc":0,"energy_capacity":0,"energy_request":0}`, 0, "", StateModemDone},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t, Config{})
			r.twin.Line().SetCar(cp.CarB)
			r.tick(1)
			if got := r.post(c.query); got != c.reply {
				t.Errorf("reply\n%s\nwant\n%s", got, c.reply)
			}
			snap := r.twin.Snapshot()
			if snap.EV.InitialSoC != c.soc || snap.EV.EVCCID != c.evccid || snap.State != c.state {
				t.Errorf("kept SoC %d EVCCID %q state %v; want %d %q %v", snap.EV.InitialSoC, snap.EV.EVCCID, snap.State, c.soc, c.evccid, c.state)
			}
		})
	}
}

// TestOnlyGoesUp: full_soc, capacity and request are kept only when not
// below what is held; the echo says what was parsed.
func TestOnlyGoesUp(t *testing.T) {
	r := newRig(t, Config{})
	r.post("current_soc=50&full_soc=90&energy_capacity=28000&energy_request=5000")
	if got, want := r.post("current_soc=51&full_soc=80&energy_capacity=20000&energy_request=6000"),
		`{"current_soc":51,"full_soc":80,"energy_capacity":20000,"energy_request":6000}`; got != want {
		t.Fatalf("reply %s", got)
	}
	ev := r.twin.Snapshot().EV
	if ev.InitialSoC != 51 || ev.FullSoC != 90 || ev.EnergyCapacity != 28000 || ev.EnergyRequest != 6000 {
		t.Fatalf("kept %+v", ev)
	}
}

// TestHTTP: the bytes on the wire: status, content type, the echo with
// its CRLF, GET /settings with its newline; a body is ignored; other
// methods and paths are 404.
func TestHTTP(t *testing.T) {
	r := newRig(t, Config{})
	drawOnPWM(r.twin.Line())
	srv := httptest.NewServer(r.twin)
	defer srv.Close()
	r.twin.Line().SetCar(cp.CarB)
	r.sync()
	r.tick(1)

	do := func(method, path, body string) (int, string, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	code, ct, body := do("POST", "/ev_state", "current_soc=50&full_soc=90")
	if code != 200 || ct != "application/json" || body != "{\"current_soc\":0,\"full_soc\":0,\"energy_capacity\":0,\"energy_request\":0}\r\n" {
		t.Fatalf("body-only POST: %d %q %q", code, ct, body)
	}
	code, _, body = do("POST", "/ev_state?current_soc=93&full_soc=94&energy_capacity=28000&energy_request=1820&evccid=0465650064c3", "")
	if code != 200 || body != "{\"evccid\":\"0465650064c3\",\"current_soc\":93,\"full_soc\":94,\"energy_capacity\":28000,\"energy_request\":1820}\r\n" {
		t.Fatalf("POST: %d %q", code, body)
	}
	const evState = `"ev_state":{"initial_soc":93,"remaining_soc":6,"full_soc":94,"energy_capacity":28000,"energy_request":1820,"computed_soc":88,"evccid":"0465650064c3","time_until_full":593}`
	code, ct, body = do("GET", "/settings", "")
	want := `{"version":"ccslink-twin","serialnr":51446,"mode":"NORMAL","mode_id":1,"car_connected":true,` +
		`"evse":{"temp":25,"temp_max":65,"connected":true,"access":1,"mode":0,"loadbl":0,"pwm":50,"custombutton":false,"solar_stop_timer":0,` +
		`"state":"Modem Done","state_id":13,"error":"None","error_id":0,"rfidreader":"Disabled","nrofphases":3,"rfid":"Not Installed",` +
		`"iec61851_state":"B","charging_enabled":false},` +
		`"settings":{"charge_current":0,"override_current":0,"current_min":6,"current_max":16,"current_main":25,"current_max_circuit":16,` +
		`"current_max_sum_mains":600,"max_sum_mains_time":0,"solar_max_import":0,"solar_start_current":4,"solar_stop_time":10,` +
		`"enable_C2":"Always On","mains_meter":"Disabled","starttime":0,"stoptime":0,"repeat":0,"lcdlock":0,"lock":0,"cablelock":0,` +
		`"prio_strategy":0,"rotation_interval":0,"idle_timeout":60,"required_evccid":"","modem":"Experiment"},` +
		evState + `,"home_battery":{"current":0,"last_update":0}}` + "\n"
	if code != 200 || ct != "application/json" || body != want {
		t.Fatalf("GET /settings: %d %q\n%s\nwant\n%s", code, ct, body, want)
	}
	r.tick(6)
	_, _, body = do("GET", "/settings", "")
	if !strings.Contains(body, `"pwm":273,"custombutton":false,"solar_stop_timer":0,"state":"Charging","state_id":2,`) ||
		!strings.Contains(body, `"iec61851_state":"C","charging_enabled":true}`) || !strings.Contains(body, `"charge_current":160,`) {
		t.Fatalf("charging: %s", body)
	}
	code, ct, body = do("POST", "/settings?override_pwm=1024", "")
	if code != 200 || ct != "application/json" || body != "{\"override_pwm\":1024}\n" {
		t.Fatalf("POST /settings: %d %q %q", code, ct, body)
	}
	for _, c := range [][2]string{{"GET", "/ev_state"}, {"POST", "/nothing"}} {
		if code, _, _ := do(c[0], c[1], ""); code != 404 {
			t.Errorf("%s %s: %d, want 404", c[0], c[1], code)
		}
	}
}

// TestOverridePWM: POST /settings' override_pwm as a handover strategy
// uses it: 1024 holds a steady CP (X1) over the state's PWM, 0 cuts CP,
// -1 releases at 10 % until the next tick brings the state's PWM back;
// each answered as the firmware answers. required_evccid is taken up to
// 32 characters; nothing known answers null.
func TestOverridePWM(t *testing.T) {
	r := newRig(t, Config{ModemWaitTicks: 1})
	l := r.twin.Line()
	l.SetCar(cp.CarB)
	r.sync()
	r.tick(8) // no SoC: MODEM_DONE after the short wait, then B at nominal PWM
	if s := r.state(); s != StateB || l.Pilot() != cp.Nominal(16) {
		t.Fatalf("%v %v", s, l.Pilot())
	}
	set := func(q, want string, pilot cp.Pilot, pwm int) {
		t.Helper()
		got, _ := r.twin.PostSettings(r.ctx, q)
		if got != want {
			t.Errorf("%s: reply %s, want %s", q, got, want)
		}
		r.sync()
		if l.Pilot() != pilot {
			t.Errorf("%s: pilot %v, want %v", q, l.Pilot(), pilot)
		}
		body, _ := r.twin.Settings(r.ctx)
		if w := fmt.Sprintf(`"pwm":%d,`, pwm); !strings.Contains(body, w) {
			t.Errorf("%s: settings lack %s: %s", q, w, body)
		}
	}
	set("override_pwm=1024", `{"override_pwm":1024}`, cp.PilotSteady, 1024)
	r.tick(2)
	if l.Pilot() != cp.PilotSteady {
		t.Errorf("the override did not hold over the ticks: %v", l.Pilot())
	}
	set("override_pwm=0", `{"override_pwm":0}`, cp.PilotOff, 0)
	set("override_pwm=-1", `{"override_pwm":100}`, cp.Pilot{Duty: 97}, 100)
	r.tick(1)
	if l.Pilot() != cp.Nominal(16) || r.twin.Snapshot().PWM != 273 {
		t.Errorf("after the release's tick: %v", l.Pilot())
	}
	set("required_evccid=0465650064c3", `{"required_evccid":"0465650064c3"}`, cp.Nominal(16), 273)
	set("required_evccid="+strings.Repeat("x", 33), `{"required_evccid":"EVCCID too long (max 32 char)"}`, cp.Nominal(16), 273)
	set("override_pwm=512&required_evccid=ab", `{"override_pwm":512,"required_evccid":"ab"}`, cp.Pilot{Duty: 500}, 512)
	set("mode=solar", `null`, cp.Pilot{Duty: 500}, 512)
	body, _ := r.twin.Settings(r.ctx)
	if !strings.Contains(body, `"required_evccid":"ab","modem":"Experiment"`) {
		t.Errorf("settings: %s", body)
	}
}

// TestEVMeter: a twin with an EV meter counts the energy the car draws in
// C (230 V on three phases at the current offered, TimeFactor times as
// fast) and prints it as the firmware does: kWh and kW with one decimal
// after home_battery; the charge's energy starts at 0 at the next plug-in.
func TestEVMeter(t *testing.T) {
	r := newRig(t, Config{NoModem: true, EVMeter: true, TimeFactor: 60})
	drawOnPWM(r.twin.Line())
	meter := func() string {
		t.Helper()
		body, _ := r.twin.Settings(r.ctx)
		i := strings.Index(body, `,"ev_meter":`)
		if i < 0 || !strings.HasSuffix(body, "}") {
			t.Fatalf("no ev_meter at the end: %s", body)
		}
		return body[i+1 : len(body)-1]
	}
	const idle = `"ev_meter":{"description":"Eastron3P","address":12,"import_active_power":0,"total_kwh":0,"charged_kwh":0,"currents":{"TOTAL":0,"L1":0,"L2":0,"L3":0},"import_active_energy":0,"export_active_energy":0}`
	if got := meter(); got != idle {
		t.Fatalf("no car:\n got %s\nwant %s", got, idle)
	}
	r.twin.Line().SetCar(cp.CarB)
	if s := r.state(); s != StateC {
		t.Fatalf("state %v", s)
	}
	r.tick(5) // 11040 W x 60 s x 5 = 920 Wh
	const charging = `"ev_meter":{"description":"Eastron3P","address":12,"import_active_power":11,"total_kwh":0.9,"charged_kwh":0.9,"currents":{"TOTAL":480,"L1":160,"L2":160,"L3":160},"import_active_energy":0.9,"export_active_energy":0}`
	if got := meter(); got != charging {
		t.Fatalf("charging:\n got %s\nwant %s", got, charging)
	}
	if wh := r.twin.Snapshot().ChargedWh; wh != 920 {
		t.Fatalf("ChargedWh %v", wh)
	}
	r.tick(3) // 1472 Wh
	if got := meter(); !strings.Contains(got, `"total_kwh":1.5,"charged_kwh":1.5,`) {
		t.Fatalf("charging on: %s", got)
	}
	r.twin.Line().SetCar(cp.CarA)
	r.tick(2)
	if got := meter(); !strings.Contains(got, `"import_active_power":0,"total_kwh":1.5,"charged_kwh":1.5,"currents":{"TOTAL":0,`) {
		t.Fatalf("unplugged: %s", got)
	}
	r.twin.Line().SetCar(cp.CarB)
	r.sync()
	if got := meter(); !strings.Contains(got, `"import_active_power":11,"total_kwh":1.5,"charged_kwh":0,`) {
		t.Fatalf("plugged in again: %s", got)
	}
	noMeter := newRig(t, Config{})
	if body, _ := noMeter.twin.Settings(noMeter.ctx); strings.Contains(body, "ev_meter") {
		t.Fatalf("a twin without a meter: %s", body)
	}
}
