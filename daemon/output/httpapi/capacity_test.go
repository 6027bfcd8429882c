package httpapi

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/ccslink/ccslink/proto/v2g/message"
	"github.com/ccslink/ccslink/record"
)

// fallbackCar is an ID.3 that sends its SoC and no capacity; the charger
// takes the capacity from the configuration's fallback into its record
// before its subscribers hear of the values, with no event of its own.
func fallbackCar(s *Server) *record.Session {
	rec := &record.Session{}
	evccid := []byte{0x00, 0x7d, 0xfa, 0x6f, 0x96, 0x6c}
	for _, e := range []record.Event{
		{Kind: record.KindSLACStarted, At: t0},
		{Kind: record.KindMatched, At: ms(1500), EVMAC: "02:00:00:00:ca:01"},
		{Kind: record.KindConnected, At: ms(3000)},
		{Kind: record.KindHandshake, At: ms(3100), Protocol: "din", Namespace: "urn:din:70121:2012:MsgDef"},
		{Kind: record.KindSessionSetup, At: ms(3200), EVCCID: evccid},
		{Kind: record.KindValues, At: ms(3300), Message: message.ChargeParameterDiscoveryReq, Values: record.Values{SoC: ptr(74), EnergyRequestWh: ptr(5300.0)}},
	} {
		rec.Apply(e)
		if e.Kind == record.KindValues {
			rec.Apply(record.Event{Kind: record.KindValues, At: e.At, From: "config", Values: record.Values{EnergyCapacityWh: ptr(58000.0)}})
		}
		s.Event(e, rec)
	}
	return rec
}

// wantFallback is /api/state of fallbackCar while it is plugged in: the
// capacity is the configuration's, and says so.
const wantFallback = `{
  "state": "reading",
  "words": "the car told its battery state",
  "soc": 74,
  "full_soc": null,
  "energy_capacity_wh": 58000,
  "energy_capacity_source": "config",
  "energy_request_wh": 5300,
  "evccid": "007dfa6f966c",
  "protocol": "din",
  "ev_mac": "02:00:00:00:ca:01",
  "phases": {
    "slac_start": "2026-05-24T10:00:00Z",
    "matched": "2026-05-24T10:00:01.5Z",
    "tcp": "2026-05-24T10:00:03Z",
    "handshake": "2026-05-24T10:00:03.1Z",
    "session_setup": "2026-05-24T10:00:03.2Z",
    "first_charge_parameter_discovery": "2026-05-24T10:00:03.3Z"
  },
  "soc_age_s": 1,
  "end": "",
  "end_words": "",
  "summary": "car 02:00:00:00:ca:01 (DIN 70121): SoC 74 %, capacity 58.0 kWh, wants 5.3 kWh, EVCCID 007dfa6f966c",
  "vehicle": null,
  "session": {
    "protocol": "din",
    "namespace": "urn:din:70121:2012:MsgDef",
    "ev_mac": "02:00:00:00:ca:01",
    "evccid": {
      "hex": "007dfa6f966c",
      "raw": "007dfa6f966c",
      "random": false
    },
    "soc": {
      "value": 74,
      "known": true,
      "from": "ChargeParameterDiscoveryReq",
      "at": "2026-05-24T10:00:03.3Z"
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
      "value": 58000,
      "known": true,
      "from": "config",
      "at": "2026-05-24T10:00:03.3Z"
    },
    "energy_request_wh": {
      "value": 5300,
      "known": true,
      "from": "ChargeParameterDiscoveryReq",
      "at": "2026-05-24T10:00:03.3Z"
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
      "matched": "2026-05-24T10:00:01.5Z",
      "tcp": "2026-05-24T10:00:03Z",
      "handshake": "2026-05-24T10:00:03.1Z",
      "session_setup": "2026-05-24T10:00:03.2Z",
      "first_charge_parameter_discovery": "2026-05-24T10:00:03.3Z"
    },
    "end": ""
  }
}`

// TestStateCapacityFallback: a car that sent no capacity has the
// configuration's fallback in /api/state, with its source, while it is
// plugged in and after it left.
func TestStateCapacityFallback(t *testing.T) {
	s := newServer(t, Config{})
	s.now = func() time.Time { return ms(4300) }
	rec := fallbackCar(s)
	code, b := get(t, s.Handler(), "/api/state")
	if code != 200 {
		t.Fatalf("GET /api/state: %d %s", code, b)
	}
	if got := indent(t, b); got != wantFallback {
		t.Errorf("GET /api/state =\n%s\nwant\n%s", got, wantFallback)
	}

	// After the plug-in, from the charger's record.
	e := record.Event{Kind: record.KindEnded, At: ms(5000), End: record.EndSessionStop}
	rec.Apply(e)
	s.Event(e, rec)
	s.PlugInEnded(rec)
	var st stateJSON
	_, b = get(t, s.Handler(), "/api/state")
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	if st.End != "session_stop" || !is(st.EnergyCapacityWh, 58000) || st.CapacitySource != "config" {
		t.Errorf("after the plug-in: end %q, capacity %v from %q; want 58000 from \"config\"\n%s", st.End, st.EnergyCapacityWh, st.CapacitySource, b)
	}
}
