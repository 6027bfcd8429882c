package httpapi

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ccslink/ccslink/proto/v2g/message"
	"github.com/ccslink/ccslink/record"
)

// wantIoniq is /api/state once the Ioniq told its values and its session ended, 12 s after its SoC.
const wantIoniq = `{
  "state": "done",
  "words": "over: the car ended the session (SessionStop)",
  "soc": 93,
  "full_soc": 94,
  "energy_capacity_wh": 28000,
  "energy_capacity_source": "car",
  "energy_request_wh": 1820,
  "evccid": "0465650064c3",
  "protocol": "din",
  "ev_mac": "04:65:65:00:64:c3",
  "phases": {
    "slac_start": "2026-05-24T10:00:00Z",
    "matched": "2026-05-24T10:00:01.75Z",
    "link_up": "2026-05-24T10:00:01.75Z",
    "sdp": "2026-05-24T10:00:05.34Z",
    "tcp": "2026-05-24T10:00:05.345Z",
    "handshake": "2026-05-24T10:00:05.346Z",
    "session_setup": "2026-05-24T10:00:05.347Z",
    "first_charge_parameter_discovery": "2026-05-24T10:00:05.348Z",
    "delivered": "2026-05-24T10:00:05.35Z",
    "ended": "2026-05-24T10:00:05.845Z"
  },
  "soc_age_s": 12,
  "end": "session_stop",
  "end_words": "the car ended the session (SessionStop)",
  "summary": "car 04:65:65:00:64:c3 (DIN 70121): SoC 93 %, capacity 28.0 kWh, wants 1.8 kWh, EVCCID 0465650064c3",
  "vehicle": null,
  "session": {
    "protocol": "din",
    "namespace": "urn:din:70121:2012:MsgDef",
    "ev_mac": "04:65:65:00:64:c3",
    "evccid": {
      "hex": "0465650064c3",
      "raw": "0465650064c3",
      "random": false
    },
    "soc": {
      "value": 93,
      "known": true,
      "from": "ChargeParameterDiscoveryReq",
      "at": "2026-05-24T10:00:05.348Z"
    },
    "full_soc": {
      "value": 94,
      "known": true,
      "from": "ChargeParameterDiscoveryReq",
      "at": "2026-05-24T10:00:05.348Z"
    },
    "bulk_soc": {
      "value": 0,
      "known": false
    },
    "energy_capacity_wh": {
      "value": 28000,
      "known": true,
      "from": "ChargeParameterDiscoveryReq",
      "at": "2026-05-24T10:00:05.348Z"
    },
    "energy_request_wh": {
      "value": 1820,
      "known": true,
      "from": "ChargeParameterDiscoveryReq",
      "at": "2026-05-24T10:00:05.348Z"
    },
    "ev_max_voltage_v": {
      "value": 0,
      "known": false
    },
    "ev_max_current_a": {
      "value": 0,
      "known": false
    },
    "ev_max_power_w": {
      "value": 0,
      "known": false
    },
    "phases": {
      "slac_start": "2026-05-24T10:00:00Z",
      "matched": "2026-05-24T10:00:01.75Z",
      "link_up": "2026-05-24T10:00:01.75Z",
      "sdp": "2026-05-24T10:00:05.34Z",
      "tcp": "2026-05-24T10:00:05.345Z",
      "handshake": "2026-05-24T10:00:05.346Z",
      "session_setup": "2026-05-24T10:00:05.347Z",
      "first_charge_parameter_discovery": "2026-05-24T10:00:05.348Z",
      "delivered": "2026-05-24T10:00:05.35Z",
      "ended": "2026-05-24T10:00:05.845Z"
    },
    "answers": [
      {
        "message": "supportedAppProtocolReq",
        "code": "OK_SuccessfulNegotiation",
        "at": "2026-05-24T10:00:05.346Z",
        "took_ns": 40000
      },
      {
        "message": "SessionSetupReq",
        "code": "OK_NewSessionEstablished",
        "at": "2026-05-24T10:00:05.347Z",
        "took_ns": 30000
      },
      {
        "message": "ChargeParameterDiscoveryReq",
        "code": "OK",
        "at": "2026-05-24T10:00:05.348Z",
        "took_ns": 60000
      }
    ],
    "deliveries": [
      {
        "output": "smartevse",
        "what": "current_soc=93\u0026full_soc=94\u0026energy_capacity=28000\u0026energy_request=1820\u0026evccid=0465650064c3",
        "ok": true,
        "result": "HTTP 200",
        "at": "2026-05-24T10:00:05.35Z",
        "took_ns": 1000000,
        "sent": {
          "soc": 93,
          "full_soc": 94,
          "energy_capacity_wh": 28000,
          "energy_request_wh": 1820,
          "evccid": "0465650064c3"
        }
      }
    ],
    "end": "session_stop"
  }
}`

func TestStateExact(t *testing.T) {
	s := newServer(t, Config{})
	s.now = func() time.Time { return ms(17348) }
	p := &player{s: s}
	p.play(ioniq()...)
	code, b := get(t, s.Handler(), "/api/state")
	if code != 200 {
		t.Fatalf("GET /api/state: %d %s", code, b)
	}
	if got := indent(t, b); got != wantIoniq {
		t.Errorf("GET /api/state =\n%s\nwant\n%s", got, wantIoniq)
	}
}

// wantMatched is /api/state of a car that has just matched: nothing known yet.
const wantMatched = `{
  "state": "session",
  "words": "a car is plugged in; its modem is joining the charger's",
  "soc": null,
  "full_soc": null,
  "energy_capacity_wh": null,
  "energy_request_wh": null,
  "evccid": "",
  "protocol": "",
  "ev_mac": "04:65:65:00:64:c3",
  "phases": {
    "slac_start": "2026-05-24T10:00:00Z",
    "matched": "2026-05-24T10:00:01.75Z"
  },
  "soc_age_s": null,
  "end": "",
  "end_words": "",
  "summary": "car 04:65:65:00:64:c3: no SoC",
  "vehicle": null,
  "session": {
    "ev_mac": "04:65:65:00:64:c3",
    "soc": {
      "value": 0,
      "known": false
    },
    "full_soc": {
      "value": 0,
      "known": false
    },
    "bulk_soc": {
      "value": 0,
      "known": false
    },
    "energy_capacity_wh": {
      "value": 0,
      "known": false
    },
    "energy_request_wh": {
      "value": 0,
      "known": false
    },
    "ev_max_voltage_v": {
      "value": 0,
      "known": false
    },
    "ev_max_current_a": {
      "value": 0,
      "known": false
    },
    "ev_max_power_w": {
      "value": 0,
      "known": false
    },
    "phases": {
      "slac_start": "2026-05-24T10:00:00Z",
      "matched": "2026-05-24T10:00:01.75Z"
    },
    "end": ""
  }
}`

func TestStateMatched(t *testing.T) {
	s := newServer(t, Config{})
	p := &player{s: s}
	p.play(ioniq()[:2]...)
	_, b := get(t, s.Handler(), "/api/state")
	if got := indent(t, b); got != wantMatched {
		t.Errorf("GET /api/state =\n%s\nwant\n%s", got, wantMatched)
	}
}

// /api/state's state is record.State stepped on every event, the same
// names in the same order as the MQTT state topic: along an idle charger,
// the Ioniq's plug-in, the car leaving, idle windows after it and a car
// charging. Its words say more; once the car left, the last one's values
// stay shown, through the windows without a car.
func TestStateSteps(t *testing.T) {
	s := newServer(t, Config{})
	s.now = func() time.Time { return ms(65348) }
	p := &player{s: s}
	type want struct {
		state record.State
		words string
		soc   int // -1: null
	}
	check := func(step string, w want) {
		t.Helper()
		j := getState(t, s)
		soc := -1
		if j.SoC != nil {
			soc = *j.SoC
		}
		if j.State != w.state || j.Words != w.words || soc != w.soc || (j.SoC != nil && *j.SoC < 0) {
			t.Errorf("after %s: state %q, words %q, soc %v; want %q, %q, %d (-1: null)", step, j.State, j.Words, j.SoC, w.state, w.words, w.soc)
		}
	}
	var (
		starting = want{record.StateWaiting, "the charger is starting", -1}
		slac     = want{record.StateSLAC, "waiting for a car; the charger's modem is ready to match it", -1}
		none     = want{record.StateNoCar, "waiting for a car; none has plugged in", -1}
		joining  = want{record.StateSession, "a car is plugged in; its modem is joining the charger's", -1}
		joined   = want{record.StateSession, "the car's modem joined; waiting for the car to talk", -1}
		talking  = want{record.StateSession, "the car is talking to the charger", -1}
		told     = want{record.StateReading, "the car told its battery state", 93}
		done     = want{record.StateDone, "over: the car ended the session (SessionStop)", 93}
		waiting  = want{record.StateWaiting, "waiting for a car", 93}
	)
	with := func(w want, soc int) want { w.soc = soc; return w }

	check("nothing", starting)
	// An idle window first: slac, then no-car, which the next window keeps.
	idle := noCar(ms(-60000))
	p.play(idle[0])
	check("an idle window's start", slac)
	p.play(idle[1])
	check("an idle window's end", none)
	s.PlugInEnded(p.rec)
	check("an idle window", none)

	steps := []want{none, joining, joined, joined, talking, talking, talking, talking, talking, told, told, told, done}
	for i, e := range ioniq() {
		p.play(e)
		check(fmt.Sprintf("%d %s", i, e.Kind), steps[i])
	}
	// The car leaves: its link lost, then the plug-in's end.
	e := record.Event{Kind: record.KindEnded, At: ms(9000), End: record.EndLinkLost}
	p.rec.Apply(e)
	s.Event(e, p.rec)
	check("the link lost", done)
	s.PlugInEnded(p.rec)
	check("the plug-in's end", waiting)
	round := noCar(ms(10000))
	p.play(round[0])
	check("the next window's start", with(slac, 93))
	p.play(round[1])
	check("the next window's end", with(none, 93))
	s.PlugInEnded(p.rec)
	check("the next window", with(none, 93))
	p.play(noCar(ms(40000))...)
	s.PlugInEnded(p.rec)
	check("a window after it", with(none, 93))
	s.mu.Lock()
	j := s.state(false)
	s.mu.Unlock()
	if j.SoCAge == nil || *j.SoCAge != 60 || j.EVCCID != "0465650064c3" || j.End != "session_stop" {
		t.Errorf("waiting after the Ioniq: soc_age_s %v, evccid %q, end %q", j.SoCAge, j.EVCCID, j.End)
	}

	// A car in a DC session asking for current is charging: its state says
	// it is reading, its words that it charges.
	dc := car("02:00:00:00:00:01", 40, ms(70000))
	p.play(dc[0])
	check("a window a car comes in", with(none, 93))
	p.play(dc[1:4]...)
	check("the DC car's values", with(told, 40))
	p.play(record.Event{Kind: record.KindRequest, At: ms(80000), Message: message.CurrentDemandReq, Code: "OK"})
	check("CurrentDemandReq", want{record.StateReading, "the car is charging", 40})
}

// A car that fails to match is an error until a car matches, through the
// windows without a car after it; a car that goes silent is an error until
// it leaves.
func TestStateErrors(t *testing.T) {
	s := newServer(t, Config{})
	p := &player{s: s}
	check := func(step string, state record.State, words string) {
		t.Helper()
		j := getState(t, s)
		if j.State != state || j.Words != words {
			t.Errorf("after %s: state %q, words %q; want %q, %q", step, j.State, j.Words, state, words)
		}
	}
	failed := "over: the car failed to match"
	p.play(record.Event{Kind: record.KindSLACStarted, At: t0}, record.Event{Kind: record.KindEnded, At: ms(3000), End: record.EndSLACFailed})
	check("the failure", record.StateError, failed)
	s.PlugInEnded(p.rec)
	check("its plug-in's end", record.StateError, failed)
	p.play(noCar(ms(4000))...)
	s.PlugInEnded(p.rec)
	check("a window without a car", record.StateError, failed)

	events := ioniq()[:10]
	p.play(events...)
	check("a car's values", record.StateReading, "the car told its battery state")
	p.play(record.Event{Kind: record.KindEnded, At: ms(40000), End: record.EndTimeout})
	check("its silence", record.StateError, "over: the car went silent")
	p.end(ms(41000))
	check("it left", record.StateWaiting, "waiting for a car")
}

// getState is GET /api/state.
func getState(t *testing.T, s *Server) stateJSON {
	t.Helper()
	code, b := get(t, s.Handler(), "/api/state")
	var j stateJSON
	if err := json.Unmarshal(b, &j); code != 200 || err != nil {
		t.Fatalf("GET /api/state: %d %v: %s", code, err, b)
	}
	return j
}

// wantACCar is /api/state of an ISO 15118-2 AC car that sent no SoC, only
// what it wants and its limits: every value it did not send is null.
const wantACCar = `{
  "state": "done",
  "words": "over: the car ended the session (SessionStop)",
  "soc": null,
  "full_soc": null,
  "energy_capacity_wh": null,
  "energy_request_wh": 12000,
  "evccid": "007dfa00ac01",
  "protocol": "iso2",
  "ev_mac": "00:7d:fa:00:ac:01",
  "phases": {
    "slac_start": "2026-05-24T10:00:00Z",
    "matched": "2026-05-24T10:00:01.5Z",
    "sdp": "2026-05-24T10:00:03Z",
    "tcp": "2026-05-24T10:00:03.1Z",
    "handshake": "2026-05-24T10:00:03.2Z",
    "session_setup": "2026-05-24T10:00:03.3Z",
    "first_charge_parameter_discovery": "2026-05-24T10:00:03.4Z",
    "ended": "2026-05-24T10:00:04Z"
  },
  "soc_age_s": null,
  "end": "session_stop",
  "end_words": "the car ended the session (SessionStop)",
  "summary": "car 00:7d:fa:00:ac:01 (ISO 15118-2): no SoC, wants 12.0 kWh, EVCCID 007dfa00ac01",
  "vehicle": null,
  "session": {
    "protocol": "iso2",
    "namespace": "urn:iso:15118:2:2013:MsgDef",
    "ev_mac": "00:7d:fa:00:ac:01",
    "evccid": {
      "hex": "007dfa00ac01",
      "raw": "007dfa00ac01",
      "random": false
    },
    "soc": {
      "value": 0,
      "known": false
    },
    "full_soc": {
      "value": 0,
      "known": false
    },
    "bulk_soc": {
      "value": 0,
      "known": false
    },
    "energy_capacity_wh": {
      "value": 0,
      "known": false
    },
    "energy_request_wh": {
      "value": 12000,
      "known": true,
      "from": "ChargeParameterDiscoveryReq",
      "at": "2026-05-24T10:00:03.4Z"
    },
    "ev_max_voltage_v": {
      "value": 400,
      "known": true,
      "from": "ChargeParameterDiscoveryReq",
      "at": "2026-05-24T10:00:03.4Z"
    },
    "ev_max_current_a": {
      "value": 16,
      "known": true,
      "from": "ChargeParameterDiscoveryReq",
      "at": "2026-05-24T10:00:03.4Z"
    },
    "ev_max_power_w": {
      "value": 0,
      "known": false
    },
    "phases": {
      "slac_start": "2026-05-24T10:00:00Z",
      "matched": "2026-05-24T10:00:01.5Z",
      "sdp": "2026-05-24T10:00:03Z",
      "tcp": "2026-05-24T10:00:03.1Z",
      "handshake": "2026-05-24T10:00:03.2Z",
      "session_setup": "2026-05-24T10:00:03.3Z",
      "first_charge_parameter_discovery": "2026-05-24T10:00:03.4Z",
      "ended": "2026-05-24T10:00:04Z"
    },
    "answers": [
      {
        "message": "ChargeParameterDiscoveryReq",
        "code": "OK",
        "at": "2026-05-24T10:00:03.4Z",
        "took_ns": 50000
      }
    ],
    "end": "session_stop"
  }
}`

func TestStateACCarWithoutSoC(t *testing.T) {
	s := newServer(t, Config{})
	p := &player{s: s}
	p.play(acCar(t0)...)
	code, b := get(t, s.Handler(), "/api/state")
	if code != 200 {
		t.Fatalf("GET /api/state: %d %s", code, b)
	}
	if got := indent(t, b); got != wantACCar {
		t.Errorf("GET /api/state =\n%s\nwant\n%s", got, wantACCar)
	}
}

// Before any plug-in every value is null, in /api/state and in the state
// each event carries.
func TestStateStartingNull(t *testing.T) {
	s := newServer(t, Config{})
	_, b := get(t, s.Handler(), "/api/state")
	want := `{"state":"waiting","words":"the charger is starting","soc":null,"full_soc":null,"energy_capacity_wh":null,"energy_request_wh":null,"evccid":"","protocol":"","ev_mac":"","phases":{},"soc_age_s":null,"end":"","end_words":"","summary":"","vehicle":null}` + "\n"
	if string(b) != want {
		t.Errorf("GET /api/state =\n%s\nwant\n%s", b, want)
	}
}

// TestStateNoComm: a car that never starts SLAC is told at once in
// /api/state, in the owner's words, with nothing the car did not send; once
// it left, the charger waits and the record stays shown.
func TestStateNoComm(t *testing.T) {
	s := newServer(t, Config{})
	p := &player{s: s}
	const words = "the car did not start digital communication within 10 s: it will charge on AC without SoC"
	p.play(record.Event{Kind: record.KindSLACStarted, At: t0},
		record.Event{Kind: record.KindEnded, At: ms(10000), End: record.EndNoComm, Detail: words})
	const rest = `"soc":null,"full_soc":null,"energy_capacity_wh":null,"energy_request_wh":null,"evccid":"","protocol":"","ev_mac":"",` +
		`"phases":{"slac_start":"2026-05-24T10:00:00Z","ended":"%s"},"soc_age_s":null,"end":"no_digital_communication",` +
		`"end_words":"the car did not start digital communication: it charges on AC without SoC","summary":"` + words + `","vehicle":null,"session":%s}` + "\n"
	session := func() string {
		b, err := json.Marshal(p.rec)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	_, b := get(t, s.Handler(), "/api/state")
	if want := `{"state":"no-communication","words":"` + words + `",` + fmt.Sprintf(rest, "2026-05-24T10:00:10Z", session()); string(b) != want {
		t.Errorf("GET /api/state\n got %s\nwant %s", b, want)
	}
	gone := record.Event{Kind: record.KindEnded, At: ms(40000), End: record.EndNoComm, Detail: words, Gone: "the control pilot went back to state A"}
	p.rec.Apply(gone)
	s.Event(gone, p.rec)
	s.PlugInEnded(p.rec)
	_, b = get(t, s.Handler(), "/api/state")
	if want := `{"state":"waiting","words":"waiting for a car",` + fmt.Sprintf(rest, "2026-05-24T10:00:40Z", session()); string(b) != want {
		t.Errorf("GET /api/state after the car left\n got %s\nwant %s", b, want)
	}
	code, b := get(t, s.Handler(), "/api/sessions")
	if code != 200 || !strings.Contains(string(b), `"end":"no_digital_communication"`) {
		t.Errorf("GET /api/sessions: %d %s", code, b)
	}
}
