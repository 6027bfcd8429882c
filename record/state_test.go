package record

import (
	"fmt"
	"testing"

	"github.com/ccslink/ccslink/proto/v2g/message"
)

// plugInEnded stands, in a list of events, for the charger's call of
// PlugInEnded after the plug-in's last event.
var plugInEnded = Event{}

func ev(k Kind) Event              { return Event{Kind: k} }
func ended(e End) Event            { return Event{Kind: KindEnded, End: e} }
func request(m message.Kind) Event { return Event{Kind: KindRequest, Message: m, Code: "OK"} }
func values(v Values) Event {
	return Event{Kind: KindValues, Message: message.ChargeParameterDiscoveryReq, Values: v}
}
func intp(v int) *int           { return &v }
func floatp(v float64) *float64 { return &v }

// noCarRound is one SLAC window in which no car came.
var noCarRound = []Event{ev(KindSLACStarted), ended(EndNoCar), plugInEnded}

// ioniq is the Ioniq's DIN plug-in under the soc policy, until its
// session ended (the car still plugged in).
var ioniq = []Event{
	ev(KindSLACStarted), ev(KindMatched), ev(KindLinkUp), ev(KindSDP), ev(KindConnected), ev(KindHandshake),
	request(message.SupportedAppProtocolReq), ev(KindSessionSetup), request(message.SessionSetupReq),
	values(Values{SoC: intp(93), FullSOC: intp(94), EnergyCapacityWh: floatp(28000), EnergyRequestWh: floatp(1820)}),
	request(message.ChargeParameterDiscoveryReq), {Kind: KindDelivered, Delivery: &Delivery{Output: "smartevse", OK: true}},
	ended(EndSessionStop),
}

// leaves is the car leaving: its modem left the network, and the plug-in ends.
var leaves = []Event{ended(EndLinkLost), plugInEnded}

func join(lists ...[]Event) []Event {
	var all []Event
	for _, l := range lists {
		all = append(all, l...)
	}
	return all
}

func repeat(s State, n int) []State {
	l := make([]State, n)
	for i := range l {
		l[i] = s
	}
	return l
}

func states(lists ...[]State) []State {
	var all []State
	for _, l := range lists {
		all = append(all, l...)
	}
	return all
}

// TestStateSequences steps the state along whole plug-ins as a subscriber
// of the charger does: Next on every event, AfterPlugIn when the plug-in
// ends; every state after each step is as the docs describe it.
func TestStateSequences(t *testing.T) {
	for _, c := range []struct {
		name   string
		from   State
		events []Event
		want   []State
	}{{
		// No flapping: slac once, then no-car through every window.
		name:   "idle charger",
		from:   StateWaiting,
		events: join(noCarRound, noCarRound, noCarRound),
		want:   states(repeat(StateSLAC, 1), repeat(StateNoCar, 8)),
	}, {
		name:   "Ioniq DIN plug-in, the car leaves",
		from:   StateWaiting,
		events: join(ioniq, leaves),
		want: states(repeat(StateSLAC, 1), repeat(StateSession, 8), repeat(StateReading, 3),
			repeat(StateDone, 2), repeat(StateWaiting, 1)),
	}, {
		// The car matched in the charger's second window.
		name:   "Ioniq after an idle window",
		from:   StateWaiting,
		events: join(noCarRound, ioniq, leaves, noCarRound),
		want: states([]State{StateSLAC, StateNoCar, StateNoCar, StateNoCar}, repeat(StateSession, 8), repeat(StateReading, 3),
			repeat(StateDone, 2), []State{StateWaiting, StateSLAC, StateNoCar, StateNoCar}),
	}, {
		// AC_EVChargeParameter has no SoC: the energy it wants is its values;
		// it charges on AC in the same session, then stops and leaves.
		name: "ISO 15118-2 AC car",
		from: StateWaiting,
		events: join([]Event{ev(KindSLACStarted), ev(KindMatched), ev(KindSDP), ev(KindConnected), ev(KindHandshake),
			ev(KindSessionSetup), values(Values{EnergyRequestWh: floatp(12000), MaxCurrentA: floatp(16)}),
			request(message.ChargeParameterDiscoveryReq), request(message.PowerDeliveryReq), request(message.ChargingStatusReq),
			request(message.ChargingStatusReq), ended(EndSessionStop)}, leaves),
		want: states(repeat(StateSLAC, 1), repeat(StateSession, 5), repeat(StateReading, 5),
			repeat(StateDone, 2), repeat(StateWaiting, 1)),
	}, {
		// The error stays through the windows after it, until a car matches.
		name:   "SLAC failure",
		from:   StateWaiting,
		events: join([]Event{ev(KindSLACStarted), ended(EndSLACFailed), plugInEnded}, noCarRound, ioniq[:2]),
		want:   states(repeat(StateSLAC, 1), repeat(StateError, 5), []State{StateError, StateSession}),
	}, {
		name:   "the car goes silent, then leaves",
		from:   StateWaiting,
		events: join(ioniq[:10], []Event{ended(EndTimeout)}, leaves),
		want:   states(repeat(StateSLAC, 1), repeat(StateSession, 8), repeat(StateReading, 1), repeat(StateError, 2), repeat(StateWaiting, 1)),
	}, {
		name:   "the car matches but never opens a V2G session",
		from:   StateNoCar,
		events: join(ioniq[:3], []Event{ended(EndNoSession)}, leaves),
		want:   states(repeat(StateNoCar, 1), repeat(StateSession, 2), repeat(StateError, 2), repeat(StateWaiting, 1)),
	}, {
		// Unplugged while it told its values: no session end, the plug-in's.
		name:   "the car leaves in the middle of its session",
		from:   StateWaiting,
		events: join(ioniq[:10], leaves),
		want:   states(repeat(StateSLAC, 1), repeat(StateSession, 8), repeat(StateReading, 2), repeat(StateWaiting, 1)),
	}, {
		// Plugged into an idle charger: no-communication at slac.init_timeout,
		// until the pilot's state A ends its plug-in (its Match windows pass
		// without events), then the idle windows again.
		name:   "a car that never talks, then leaves",
		from:   StateNoCar,
		events: join([]Event{ev(KindSLACStarted), ended(EndNoComm), ended(EndNoComm), plugInEnded}, noCarRound),
		want:   states(repeat(StateNoCar, 1), repeat(StateNoComm, 2), []State{StateWaiting, StateSLAC, StateNoCar, StateNoCar}),
	}, {
		name:   "a car that starts SLAC after slac.init_timeout",
		from:   StateWaiting,
		events: join(ioniq[:1], []Event{ended(EndNoComm)}, ioniq[1:], leaves),
		want: states(repeat(StateSLAC, 1), repeat(StateNoComm, 1), repeat(StateSession, 8), repeat(StateReading, 3),
			repeat(StateDone, 2), repeat(StateWaiting, 1)),
	}, {
		name:   "the daemon stops during a session",
		from:   StateWaiting,
		events: join(ioniq[:5], []Event{ended(EndStopped), plugInEnded}),
		want:   states(repeat(StateSLAC, 1), repeat(StateSession, 5), repeat(StateWaiting, 1)),
	}} {
		t.Run(c.name, func(t *testing.T) {
			if len(c.events) != len(c.want) {
				t.Fatalf("%d events but %d states", len(c.events), len(c.want))
			}
			st, rec := c.from, &Session{}
			for i, e := range c.events {
				step := "plug-in ended"
				if e.Kind == 0 {
					st = st.AfterPlugIn(rec)
					rec = &Session{}
				} else {
					step = e.Kind.String()
					if e.Kind == KindEnded {
						step += " " + e.End.String()
					}
					rec.Apply(e)
					st = st.Next(e)
				}
				if st != c.want[i] {
					t.Errorf("step %d (%s): state %q, want %q", i, step, st, c.want[i])
				}
			}
		})
	}
}

// TestStateNext is each step on its own, from every state it matters for.
func TestStateNext(t *testing.T) {
	for _, c := range []struct {
		from State
		e    Event
		want State
	}{
		{StateWaiting, ev(KindSLACStarted), StateSLAC},
		{StateNoCar, ev(KindSLACStarted), StateNoCar},
		{StateError, ev(KindSLACStarted), StateError},
		{StateDone, ev(KindSLACStarted), StateDone},
		{StateSLAC, ended(EndNoCar), StateNoCar},
		{StateNoCar, ended(EndNoCar), StateNoCar},
		{StateError, ended(EndNoCar), StateError},
		{StateWaiting, ended(EndNoCar), StateWaiting},
		{StateNoCar, ev(KindMatched), StateSession},
		{StateError, ev(KindSDP), StateSession},
		{StateSession, ev(KindRequest), StateSession},
		{StateSession, ev(KindValues), StateReading},
		{StateReading, ev(KindRequest), StateReading},
		{StateReading, ev(KindDelivered), StateReading},
		{StateReading, ended(EndSessionStop), StateDone},
		{StateReading, ended(EndCarClosed), StateDone},
		{StateDone, ev(KindConnected), StateSession},
		{StateDone, ev(KindDelivered), StateDone},
		{StateReading, ended(EndTimeout), StateError},
		{StateSession, ended(EndError), StateError},
		{StateSLAC, ended(EndSLACFailed), StateError},
		{StateSession, ended(EndNoSession), StateError},
		{StateDone, ended(EndLinkLost), StateDone},
		{StateDone, ended(EndStopped), StateDone},
		{StateReading, ended(EndIfaceLost), StateReading},
		{StateSLAC, ended(EndNoComm), StateNoComm},
		{StateNoCar, ended(EndNoComm), StateNoComm},
		{StateError, ended(EndNoComm), StateNoComm},
		{StateNoComm, ev(KindSLACStarted), StateNoComm},
		{StateNoComm, ended(EndNoCar), StateNoComm},
		{StateNoComm, ev(KindMatched), StateSession},
	} {
		if got := c.from.Next(c.e); got != c.want {
			t.Errorf("%s + %v %v = %s, want %s", c.from, c.e.Kind, c.e.End, got, c.want)
		}
	}
	for _, c := range []struct {
		from State
		end  End
		want State
	}{
		{StateDone, EndSessionStop, StateWaiting},
		{StateError, EndTimeout, StateWaiting},
		{StateError, EndNoSession, StateWaiting},
		{StateError, EndSLACFailed, StateError},
		{StateNoCar, EndNoCar, StateNoCar},
		{StateSLAC, EndNoCar, StateSLAC},
		{StateSession, EndLinkLost, StateWaiting},
		{StateSession, EndStopped, StateWaiting},
		{StateNoComm, EndNoComm, StateWaiting},
		{StateReading, EndIfaceLost, StateWaiting},
	} {
		if got := c.from.AfterPlugIn(&Session{End: c.end}); got != c.want {
			t.Errorf("%s, plug-in ended %v = %s, want %s", c.from, c.end, got, c.want)
		}
	}
}

// Every state is listed once, and its name is what the docs and Home
// Assistant's options say.
func TestStates(t *testing.T) {
	got := fmt.Sprint(States())
	if want := "[waiting slac session reading done no-car error no-communication]"; got != want {
		t.Errorf("States() = %s, want %s", got, want)
	}
}
