package httpapi

import (
	"strings"
	"testing"
	"time"

	"github.com/ccslink/ccslink/record"
)

// wantIoniq is /api/state once the Ioniq told its values and its session ended, 12 s after its SoC.
const wantIoniq = `{
  "state": "done",
  "words": "over: the car ended the session (SessionStop)",
  "soc": 93,
  "full_soc": 94,
  "energy_capacity_wh": 28000,
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
        "what": "current_soc=93",
        "ok": true,
        "result": "HTTP 200",
        "at": "2026-05-24T10:00:05.35Z",
        "took_ns": 1000000
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
  "state": "slac",
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

// The state follows the plug-in step by step; once it is over, the
// charger waits for the next car and the last one's values stay shown,
// through rounds without a car.
func TestStateSteps(t *testing.T) {
	s := newServer(t, Config{})
	s.now = func() time.Time { return ms(65348) }
	p := &player{s: s}
	// soc -1 stands for null here.
	check := func(step, state string, soc int) {
		t.Helper()
		s.mu.Lock()
		j := s.state(false)
		s.mu.Unlock()
		got := -1
		if j.SoC != nil {
			got = *j.SoC
		}
		if j.State != state || got != soc || (j.SoC != nil && *j.SoC < 0) {
			t.Errorf("after %s: state %q soc %v, want %q and %d (-1: null)", step, j.State, j.SoC, state, soc)
		}
	}
	check("nothing", StateStarting, -1)
	want := []string{StateWaiting, StateSLAC, StateLinked, StateLinked, StateSession, StateSession, StateSession, StateSession,
		StateSession, StateReading, StateReading, StateReading, StateDone}
	for i, e := range ioniq() {
		p.play(e)
		soc := -1
		if s.cur.SoC.Known {
			soc = 93
		}
		check(e.Kind.String(), want[i], soc)
	}
	p.end(ms(9000))
	check("the plug-in's end", StateDone, 93)
	p.play(noCar(ms(10000))[0])
	check("the next round", StateWaiting, 93)
	p.play(noCar(ms(10000))[1])
	s.PlugInEnded(p.rec)
	check("a round without a car", StateWaiting, 93)
	s.mu.Lock()
	j := s.state(false)
	s.mu.Unlock()
	if j.SoCAge == nil || *j.SoCAge != 60 || j.EVCCID != "0465650064c3" || j.End != "session_stop" {
		t.Errorf("waiting after the Ioniq: soc_age_s %v, evccid %q, end %q", j.SoCAge, j.EVCCID, j.End)
	}
	if !strings.HasPrefix(j.Words, "waiting for a car") {
		t.Errorf("words %q", j.Words)
	}

	// A car in a DC session asking for current is charging.
	p.play(car("02:00:00:00:00:01", 40, ms(70000))[:4]...)
	p.play(record.Event{Kind: record.KindRequest, At: ms(80000), Message: "CurrentDemandReq", Code: "OK"})
	check("CurrentDemandReq", StateCharging, 40)
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
	want := `{"state":"starting","words":"the charger is starting","soc":null,"full_soc":null,"energy_capacity_wh":null,"energy_request_wh":null,"evccid":"","protocol":"","ev_mac":"","phases":{},"soc_age_s":null,"end":"","end_words":"","summary":""}` + "\n"
	if string(b) != want {
		t.Errorf("GET /api/state =\n%s\nwant\n%s", b, want)
	}
}
