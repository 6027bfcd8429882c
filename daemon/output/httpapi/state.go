package httpapi

import (
	"encoding/hex"
	"encoding/json"
	"math"
	"net/http"
	"time"

	"github.com/ccslink/ccslink/proto/v2g/message"
	"github.com/ccslink/ccslink/record"
)

// stateJSON is /api/state and the state in every event. A value the car
// has not sent is null, never -1: a reader such as evcc would take -1 as a
// value (evcc's http plugin with jq fails on null and keeps no value).
type stateJSON struct {
	State            record.State    `json:"state"`
	Words            string          `json:"words"`
	SoC              *int            `json:"soc"`
	FullSoC          *int            `json:"full_soc"`
	EnergyCapacityWh *int            `json:"energy_capacity_wh"`
	CapacitySource   string          `json:"energy_capacity_source,omitempty"` // "car", or "config" (the capacity fallback); absent without a capacity
	EnergyRequestWh  *int            `json:"energy_request_wh"`
	EVCCID           string          `json:"evccid"`
	Protocol         string          `json:"protocol"`
	EVMAC            string          `json:"ev_mac"`
	Phases           record.Phases   `json:"phases"`
	SoCAge           *float64        `json:"soc_age_s"`
	End              string          `json:"end"`
	EndWords         string          `json:"end_words"`
	Summary          string          `json:"summary"`
	Vehicle          *record.Vehicle `json:"vehicle"` // the car recognised; null until then
	// Handover is what the charger did after the delivery (absent while
	// it is watched, or when it is not); HandoverWords says it to people.
	Handover      *record.Handover `json:"handover,omitempty"`
	HandoverWords string           `json:"handover_words,omitempty"`
	// SoCEstimated is the SoC estimated since the car's was read, with its
	// basis (absent when there is none); never in place of SoC.
	SoCEstimated      *record.Estimate `json:"soc_estimated,omitempty"`
	SoCEstimatedWords string           `json:"soc_estimated_words,omitempty"`
	Session           *record.Session  `json:"session,omitempty"`
}

// fromConfig is the source a value from the configuration has in the
// record (charger.FromConfig): the capacity fallback.
const fromConfig = "config"

// hadCar reports whether a car took part in a plug-in: it matched, it
// tried to, or it was plugged in and never talked. The rounds without one
// (the charger keys its modem afresh every half minute or so) are not kept.
func hadCar(s *record.Session) bool {
	return s != nil && (!s.Phases.Matched.IsZero() || s.End == record.EndSLACFailed || s.End == record.EndNoComm)
}

// shown returns the record /api/state describes: the plug-in in progress
// when a car is in it, the last one otherwise (nil before the first).
func (s *Server) shown() *record.Session {
	if hadCar(s.cur) {
		return s.cur
	}
	return s.last
}

// live returns the record of the plug-in in progress, nil when there is none.
func (s *Server) live() *record.Session {
	if s.ended {
		return nil
	}
	return s.cur
}

func charging(r *record.Session) bool {
	for i := len(r.Answers) - 1; i >= 0; i-- {
		switch r.Answers[i].Message {
		case message.CurrentDemandReq, message.ChargingStatusReq:
			return true
		}
	}
	return false
}

// words says the state to people, in more detail than its name: from the
// plug-in in progress (live) while a car is in it, from the record shown
// (a plug-in that ended) otherwise.
func words(st record.State, live, shown *record.Session, starting bool) string {
	switch st {
	case record.StateWaiting:
		if starting {
			return "the charger is starting"
		}
		return "waiting for a car"
	case record.StateSLAC:
		return "waiting for a car; the charger's modem is ready to match it"
	case record.StateNoCar:
		return "waiting for a car; none has plugged in"
	case record.StateNoComm:
		if shown != nil && shown.End == record.EndNoComm && shown.Detail != "" {
			return shown.Detail
		}
		return "a car is plugged in but did not start digital communication: it charges on AC without SoC"
	case record.StateSession:
		if live == nil {
			return "a car is talking to the charger"
		}
		switch p := live.Phases; {
		case !p.TCP.IsZero() || !p.Handshake.IsZero():
			return "the car is talking to the charger"
		case !p.LinkUp.IsZero() || !p.SDP.IsZero():
			return "the car's modem joined; waiting for the car to talk"
		case !p.Matched.IsZero():
			return "a car is plugged in; its modem is joining the charger's"
		}
		return "a car is talking to the charger"
	case record.StateReading:
		if live != nil && charging(live) {
			return "the car is charging"
		}
		return "the car told its battery state"
	}
	if shown != nil && shown.End != record.EndNone {
		return "over: " + shown.End.Words()
	}
	return "over"
}

// state builds the state JSON; withSession adds the full record.
func (s *Server) state(withSession bool) stateJSON {
	r := s.shown()
	j := stateJSON{State: s.st, Words: words(s.st, s.live(), r, s.cur == nil && s.last == nil)}
	if r == nil {
		return j
	}
	j.SoC, j.FullSoC = intOrNil(r.SoC), intOrNil(r.FullSOC)
	j.EnergyCapacityWh, j.EnergyRequestWh = whOrNil(r.EnergyCapacityWh), whOrNil(r.EnergyRequestWh)
	if c := r.EnergyCapacityWh; c.Known {
		j.CapacitySource = "car"
		if c.From == fromConfig {
			j.CapacitySource = fromConfig
		}
	}
	j.EVCCID, j.Protocol, j.EVMAC, j.Phases = r.EVCCIDHex(), r.Protocol, r.EVMAC, r.Phases
	j.Vehicle = r.Vehicle
	if r.SoC.Known && !r.SoC.At.IsZero() {
		age := math.Round(s.now().Sub(r.SoC.At).Seconds()*10) / 10
		j.SoCAge = &age
	}
	if r.End != record.EndNone {
		j.End, j.EndWords = r.End.String(), r.End.Words()
	}
	if hadCar(r) {
		j.Summary = r.Summary()
	}
	if r.Handover != nil {
		j.Handover, j.HandoverWords = r.Handover, r.Handover.Words()
	}
	if r.Estimate != nil {
		j.SoCEstimated, j.SoCEstimatedWords = r.Estimate, r.Estimate.Words()
	}
	if withSession {
		j.Session = r
	}
	return j
}

// intOrNil is the value, or nil until the car sent it.
func intOrNil(i record.Int) *int {
	if !i.Known {
		return nil
	}
	return &i.Value
}

// whOrNil is the value rounded to a whole Wh, or nil until the car sent it.
func whOrNil(n record.Num) *int {
	if !n.Known {
		return nil
	}
	v := n.OrMinus()
	return &v
}

// writeJSON answers with b, the JSON of what, or with err, which encoding
// it gave.
func writeJSON(w http.ResponseWriter, what string, b []byte, err error) {
	if err != nil {
		http.Error(w, "cannot encode the "+what+": "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(append(b, '\n'))
}

func (s *Server) serveState(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	j := s.state(true)
	b, err := json.Marshal(j) // under the lock: j.Session is shared
	s.mu.Unlock()
	writeJSON(w, "state", b, err)
}

func (s *Server) serveSessions(w http.ResponseWriter, r *http.Request) {
	var kept []*record.Session
	if s.cfg.History != nil {
		kept = s.cfg.History.Sessions()
	} else {
		s.mu.Lock()
		kept = append(kept, s.sessions...)
		s.mu.Unlock()
	}
	// Newest first, at most Keep; records are never changed once kept.
	list := make([]*record.Session, 0, min(len(kept), s.cfg.Keep))
	for i := len(kept) - 1; i >= 0 && len(list) < s.cfg.Keep; i-- {
		list = append(list, kept[i])
	}
	b, err := json.Marshal(list)
	writeJSON(w, "sessions", b, err)
}

// eventJSON is the data of one server-sent event.
type eventJSON struct {
	Kind      string           `json:"kind"`
	At        time.Time        `json:"at,omitzero"`
	EVMAC     string           `json:"ev_mac,omitempty"`
	Protocol  string           `json:"protocol,omitempty"`
	Namespace string           `json:"namespace,omitempty"`
	EVCCID    string           `json:"evccid,omitempty"`
	Message   message.Kind     `json:"message,omitempty"`
	Code      string           `json:"code,omitempty"`
	Took      time.Duration    `json:"took_ns,omitempty"`
	Values    *valuesJSON      `json:"values,omitempty"`
	End       string           `json:"end,omitempty"`
	EndWords  string           `json:"end_words,omitempty"`
	Detail    string           `json:"detail,omitempty"`
	Delivery  *record.Delivery `json:"delivery,omitempty"`
	Vehicle   *record.Vehicle  `json:"vehicle,omitempty"`
	Handover  *record.Handover `json:"handover,omitempty"`
	Estimate  *record.Estimate `json:"soc_estimated,omitempty"`
	// Coalesced is how many events of a charge loop this one stands for,
	// when more than one came within Config.UpdateInterval: the newest,
	// with the values of the others it does not carry.
	Coalesced int       `json:"coalesced,omitempty"`
	Summary   string    `json:"summary"`
	State     stateJSON `json:"state"`
}

type valuesJSON struct {
	SoC              *int     `json:"soc,omitempty"`
	FullSOC          *int     `json:"full_soc,omitempty"`
	BulkSOC          *int     `json:"bulk_soc,omitempty"`
	EnergyCapacityWh *float64 `json:"energy_capacity_wh,omitempty"`
	EnergyRequestWh  *float64 `json:"energy_request_wh,omitempty"`
	MaxVoltageV      *float64 `json:"ev_max_voltage_v,omitempty"`
	MaxCurrentA      *float64 `json:"ev_max_current_a,omitempty"`
	MaxPowerW        *float64 `json:"ev_max_power_w,omitempty"`
	TargetVoltageV   *float64 `json:"target_voltage_v,omitempty"`
	TargetCurrentA   *float64 `json:"target_current_a,omitempty"`
}

// Event keeps the plug-in's record and hands the event to every client.
func (s *Server) Event(e record.Event, rec *record.Session) {
	j := eventJSON{Kind: e.Kind.String(), At: e.At, EVMAC: e.EVMAC, Protocol: e.Protocol, Namespace: e.Namespace,
		Message: e.Message, Code: e.Code, Took: e.Took, Detail: e.Detail, Delivery: e.Delivery, Vehicle: e.Vehicle, Handover: e.Handover, Estimate: e.Estimate}
	if len(e.EVCCID) > 0 {
		j.EVCCID = hex.EncodeToString(e.EVCCID)
	}
	if e.Kind == record.KindValues {
		v := e.Values
		j.Values = &valuesJSON{v.SoC, v.FullSOC, v.BulkSOC, v.EnergyCapacityWh, v.EnergyRequestWh,
			v.MaxVoltageV, v.MaxCurrentA, v.MaxPowerW, v.TargetVoltageV, v.TargetCurrentA}
	}
	if e.Kind == record.KindEnded {
		j.End, j.EndWords = e.End.String(), e.End.Words()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st = s.st.Next(e)
	// The server folds the events into a record of its own, as the charger
	// does, rather than copying the charger's whole record on every event.
	if e.Kind == record.KindSLACStarted || s.cur == nil || s.ended {
		s.cur, s.ended = rec.Clone(), false
	} else {
		s.cur.Apply(e)
		if rec != nil && rec.EnergyCapacityWh.Known && !s.cur.EnergyCapacityWh.Known {
			// The capacity fallback: the charger puts it in its record
			// with the car's values, in no event of its own.
			s.cur.EnergyCapacityWh = rec.EnergyCapacityWh
		}
	}
	if s.interval > 0 && paceable(e.Kind) {
		s.paceLocked(j, e.Kind)
		return
	}
	s.releaseLocked(true)
	s.broadcast(e.Kind.String(), j)
}

// Late amends the record of a plug-in that ended before its handover or
// its SoC estimate came (the car's V2G session is long over when the
// charger starts AC): the record shown and the one kept in memory. Clients
// hear it as a handover or soc_estimated event.
func (s *Server) Late(e record.Event, rec *record.Session) {
	if e.Kind != record.KindHandover && e.Kind != record.KindEstimate || rec == nil {
		return
	}
	c := rec.Clone()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last != nil && s.last.PlugIn == c.PlugIn {
		s.last = c
	}
	if s.cur != nil && s.ended && s.cur.PlugIn == c.PlugIn {
		s.cur = c
	}
	for i, k := range s.sessions {
		if k.PlugIn == c.PlugIn {
			s.sessions[i] = c
		}
	}
	s.releaseLocked(true)
	s.broadcast(e.Kind.String(), eventJSON{Kind: e.Kind.String(), At: e.At, Handover: e.Handover, Estimate: e.Estimate})
}

// PlugInEnded keeps the record of a plug-in with a car (in memory without
// a History; the History keeps its own).
func (s *Server) PlugInEnded(rec *record.Session) {
	c := rec.Clone()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur, s.ended = c, true
	s.st = s.st.AfterPlugIn(c)
	if hadCar(c) {
		s.last = c
		if s.cfg.History == nil {
			s.sessions = append(s.sessions, c)
			if n := len(s.sessions) - s.cfg.Keep; n > 0 {
				s.sessions = append(s.sessions[:0:0], s.sessions[n:]...)
			}
		}
	}
	s.releaseLocked(true)
	s.broadcast("plugin_ended", eventJSON{Kind: "plugin_ended", At: c.Phases.Ended})
}
