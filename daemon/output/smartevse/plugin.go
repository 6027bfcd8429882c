package smartevse

import (
	"errors"
	"strconv"
	"time"

	"github.com/ccslink/ccslink/record"
)

// FromRecord returns the plug-in's values as the record's rule has them
// (record.Values): the SoC, FullSOC, capacity and energy request (-1 where
// the car sent none) and its EVCCID. The Sender posts them by the
// firmware's contract, which keeps the highest full_soc, capacity and
// request.
func FromRecord(s *record.Session) State {
	return State{
		SoC:            s.SoC.OrMinus(),
		FullSoC:        s.FullSOC.OrMinus(),
		EnergyCapacity: s.EnergyCapacityWh.OrMinus(),
		EnergyRequest:  s.EnergyRequestWh.OrMinus(),
		EVCCID:         s.EVCCIDHex(),
	}
}

// PlugIns feeds a Sender from the charger's plug-ins: it has the methods
// of the charger's Subscriber. A new plug-in starts afresh (a delivery for
// the last car goes on until the next car's values replace it); every value
// the car sends is handed on at once; when the car's session ends without a
// SoC, its EVCCID is sent alone.
//
// With VehicleID, the evccid sent is the recognised car's stable ID
// (record.Session.Vehicle) once the car is recognised: the firmware's
// required EVCCID then holds for a car whose MAC changes.
type PlugIns struct {
	Sender    *Sender
	VehicleID bool
}

// state is what the record gives the Sender.
func (p PlugIns) state(s *record.Session) State {
	st := FromRecord(s)
	if p.VehicleID && s.Vehicle != nil && s.Vehicle.ID != "" {
		st.EVCCID = s.Vehicle.ID
	}
	return st
}

// Event hands the record on when one of the car's values arrived.
func (p PlugIns) Event(e record.Event, s *record.Session) {
	switch e.Kind {
	case record.KindSLACStarted:
		p.Sender.NewPlugIn(s.PlugIn)
	case record.KindSessionSetup, record.KindValues:
		p.Sender.Update(p.state(s))
	case record.KindEnded:
		p.Sender.Update(p.state(s))
		p.Sender.Flush()
	}
}

// PlugInEnded sends what is still held back.
func (p PlugIns) PlugInEnded(s *record.Session) {
	p.Sender.Update(p.state(s))
	p.Sender.Flush()
}

// Record turns a delivery into the event that notes it in the plug-in's
// record; its Result says what happened in words, e.g. "HTTP 200 after 3
// attempts in 21 s" or "connection refused by 10.0.0.1:80 (6 attempts in 60 s)";
// its Sent is the values the last attempt posted.
func Record(d Delivery) record.Event {
	var result string
	var de *DeliveryError
	switch {
	case d.Err == nil && d.Attempts > 1:
		result = "HTTP " + strconv.Itoa(d.Status) + " after " + d.tally()
	case d.Err == nil:
		result = "HTTP " + strconv.Itoa(d.Status)
	case errors.As(d.Err, &de):
		result = de.Short() + " (" + d.tally() + ")"
	default:
		result = d.Err.Error()
	}
	now := time.Now()
	rd := &record.Delivery{Output: "smartevse", What: d.Query, OK: d.Err == nil, Result: result, At: now, Took: d.Latency}
	if d.Query != "" {
		rd.Sent = sent(d.State)
	}
	return record.Event{Kind: record.KindDelivered, At: now, PlugIn: d.PlugIn, Delivery: rd}
}

// sent is what a query for st tells the SmartEVSE, in the record's terms:
// the highest full_soc, capacity and request of the plug-in, which may be
// above the record's newest (see memory).
func sent(st State) *record.Sent {
	st = normalize(st)
	known := func(v int) *int {
		if v < 0 {
			return nil
		}
		return &v
	}
	return &record.Sent{SoC: known(st.SoC), FullSOC: known(st.FullSoC), EnergyCapacityWh: known(st.EnergyCapacity), EnergyRequestWh: known(st.EnergyRequest), EVCCID: st.EVCCID}
}
