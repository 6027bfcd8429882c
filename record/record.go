// Package record holds what one plug-in produced: the values the car sent,
// where each came from, the time of every phase, the charger's answer
// times and how it ended. The session packages fill it through Events; the
// outputs read it. Of the project it imports only v2g/message, the names of
// the V2G messages, so an output never depends on a protocol package.
package record

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/ccslink/ccslink/proto/v2g/message"
)

// Kind says what an Event reports.
type Kind uint8

// Event kinds, in the order a plug-in produces them.
const (
	KindSLACStarted  Kind = iota + 1 // the charger keyed its modem and waits for a car
	KindMatched                      // SLAC matched a car (EVMAC set)
	KindLinkUp                       // the car's modem joined the charger's network
	KindSDP                          // the car found the charger (SDP request answered)
	KindConnected                    // the car opened the TCP connection
	KindHandshake                    // SupportedAppProtocol negotiated (Protocol, Namespace)
	KindRequest                      // one request answered (Message, Code, Took)
	KindSessionSetup                 // SessionSetupReq: EVCCID
	KindValues                       // the car's values (Values, Message)
	KindEnded                        // the V2G session or the plug-in ended (End, Detail)
	KindDelivered                    // an output delivered the car's values, or failed to (Delivery)
	KindVehicle                      // the car was recognised (Vehicle)
	KindHandover                     // what the charger did after the delivery: AC charging or not (Handover)
	KindEstimate                     // the SoC estimated since the last read (Estimate); nil Estimate: none any more
)

var kindNames = [...]string{"", "slac_started", "matched", "link_up", "sdp", "connected", "handshake", "request", "session_setup", "values", "ended", "delivered", "vehicle", "handover", "soc_estimated"}

// String returns the kind's name as used in JSON.
func (k Kind) String() string {
	if int(k) < len(kindNames) && k != 0 {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// MarshalText names the kind.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText reads a kind's name.
func (k *Kind) UnmarshalText(b []byte) error {
	for i, n := range kindNames {
		if n == string(b) && i > 0 {
			*k = Kind(i)
			return nil
		}
	}
	return fmt.Errorf("record: unknown event kind %q", b)
}

// End says how a plug-in ended.
type End uint8

// Ends of a plug-in.
const (
	EndNone        End = iota // still running
	EndSessionStop            // the car sent SessionStopReq
	EndCarClosed              // the car closed the TCP connection
	EndLinkLost               // the car's modem left the network (unplugged)
	EndTimeout                // the car went silent (a V2G timeout)
	EndNoCar                  // no car matched
	EndSLACFailed             // a car tried to match and failed
	EndNoSession              // link up but the car never opened a V2G session
	EndError                  // a protocol error (Detail says which)
	EndStopped                // the daemon stopped
	EndIfaceLost              // the charger's interface went away (a modem driver reset)
	// EndNoComm: a car was plugged in (the control pilot or the charger
	// said so) but sent no CM_SLAC_PARM.REQ within slac.init_timeout: it
	// charges on AC, if at all, without telling its SoC.
	EndNoComm
	// EndNoNegotiation: the charger declined the car's protocols
	// (Failed_NoNegotiation) by the car's handover strategy, so that it
	// charges on basic AC without a V2G session; no SoC.
	EndNoNegotiation
	// EndIdentified: the car was identified by its MAC in SLAC and the
	// match left unanswered by the car's handover strategy: no digital
	// session, no SoC; the car charges on basic AC.
	EndIdentified
)

var endNames = [...]string{"", "session_stop", "car_closed", "link_lost", "timeout", "no_car", "slac_failed", "no_session", "error", "stopped", "interface_lost", "no_digital_communication", "no_negotiation", "identified_only"}

var endWords = [...]string{
	"still running",
	"the car ended the session (SessionStop)",
	"the car closed the connection",
	"the car's modem left the network",
	"the car went silent",
	"no car matched",
	"the car failed to match",
	"the car never opened a V2G session",
	"a protocol error",
	"the charger stopped",
	"the charger's network interface went away (modem driver reset?)",
	"the car did not start digital communication: it charges on AC without SoC",
	"the charger declined the car's protocols by its handover strategy: it charges on basic AC without SoC",
	"identified by its MAC; no digital session, by the car's handover strategy",
}

// String returns the end's name as used in JSON.
// OfPlugIn reports whether e ends the plug-in itself (the car gone, the
// daemon stopping, no session, no digital communication, the interface
// lost) rather than a V2G session.
func (e End) OfPlugIn() bool {
	return e == EndLinkLost || e == EndStopped || e == EndNoSession || e == EndIfaceLost || e == EndNoComm || e == EndIdentified
}

func (e End) String() string {
	if int(e) < len(endNames) {
		return endNames[e]
	}
	return fmt.Sprintf("End(%d)", uint8(e))
}

// Words describes the end in plain words.
func (e End) Words() string {
	if int(e) < len(endWords) {
		return endWords[e]
	}
	return e.String()
}

// MarshalText names the end.
func (e End) MarshalText() ([]byte, error) { return []byte(e.String()), nil }

// UnmarshalText reads an end's name, so that a record read back from JSON is the same.
func (e *End) UnmarshalText(b []byte) error {
	for i, n := range endNames {
		if n == string(b) {
			*e = End(i)
			return nil
		}
	}
	return fmt.Errorf("record: unknown end %q", b)
}

// Values are the numbers a car sends in one message; a nil field was not sent.
//
// # Which value counts
//
// A car repeats its values: DC_EVStatus.EVRESSSOC comes in
// ChargeParameterDiscovery, CableCheck, PreCharge and CurrentDemand, the
// limits in several of them too. Session keeps one of each, as an Int or a
// Num with the message it came in (From) and when (At), by one rule that
// every output follows by reading the Session, never the events' values:
//
//   - the newest value the car sent counts: a lower SoC after a higher one
//     is the SoC;
//   - except a 0 after a real value: a car that sends 0 in a later message
//     has not emptied its battery;
//   - a value out of range is no value: a percentage outside 0..100, a
//     negative quantity;
//   - a value equal to the one known keeps its first From and At.
//
// The car's first ChargeParameterDiscoveryReq is the harvest (Session.Harvest,
// Phases.FirstCPD): the message that tells its battery state before any
// charging, and the moment the daemon acts on it; under ISO 15118-20 it is
// the first charge loop (AC_ChargeLoopReq, DC_ChargeLoopReq).
//
// An output's receiver may have a rule of its own: a SmartEVSE stores
// full_soc, energy_capacity and energy_request only when they go up, so its
// sender tells it the highest of each. What an output actually sent is its
// Delivery's Sent, beside the record's values.
type Values struct {
	SoC              *int     // DC_EVStatus.EVRESSSOC, percent
	FullSOC, BulkSOC *int     // percent
	EnergyCapacityWh *float64 // EVEnergyCapacity, multiplier applied
	EnergyRequestWh  *float64 // EVEnergyRequest, multiplier applied
	MaxVoltageV      *float64 // EVMaximumVoltageLimit
	MaxCurrentA      *float64 // EVMaximumCurrentLimit
	MaxPowerW        *float64 // EVMaximumPowerLimit
	TargetVoltageV   *float64 // PreCharge / CurrentDemand target
	TargetCurrentA   *float64
	// ISO 15118-20's DisplayParameters of a charge loop request (and the
	// SoC goals of a dynamic ScheduleExchangeReq): percent, and seconds.
	MinimumSOC, TargetSOC, MaximumSOC                            *int
	RemainingToMinimumS, RemainingToTargetS, RemainingToMaximumS *int
	ChargingComplete                                             *bool
	// Display says which DisplayParameters an ISO-20 charge loop request
	// carried (DisplayLoop set); zero for any other message.
	Display DisplaySet
}

// DisplaySet is a set of ISO 15118-20's DisplayParameters.
type DisplaySet uint16

// The DisplayParameters, in the schema's order, after DisplayLoop.
const (
	// DisplayLoop marks the values of an ISO-20 charge loop request, which
	// may carry DisplayParameters: the set then says which it carried.
	DisplayLoop DisplaySet = 1 << iota
	DisplayPresentSOC
	DisplayMinimumSOC
	DisplayTargetSOC
	DisplayMaximumSOC
	DisplayRemainingTimeToMinimumSOC
	DisplayRemainingTimeToTargetSOC
	DisplayRemainingTimeToMaximumSOC
	DisplayChargingComplete
	DisplayBatteryEnergyCapacity
	DisplayInletHot
	numDisplay = iota
	// DisplayScheduled marks a loop request in scheduled mode (else dynamic).
	DisplayScheduled DisplaySet = 1 << numDisplay
	// displayMarks are the bits that are no DisplayParameter.
	displayMarks = DisplayLoop | DisplayScheduled
)

var displayNames = [numDisplay]string{"", "PresentSOC", "MinimumSOC", "TargetSOC", "MaximumSOC", "RemainingTimeToMinimumSOC",
	"RemainingTimeToTargetSOC", "RemainingTimeToMaximumSOC", "ChargingComplete", "BatteryEnergyCapacity", "InletHot"}

// Names returns the parameters in d, in the schema's order (never nil).
func (d DisplaySet) Names() []string {
	l := []string{}
	for i := 1; i < numDisplay; i++ {
		if d&(1<<i) != 0 {
			l = append(l, displayNames[i])
		}
	}
	return l
}

// Display is what a car told in ISO 15118-20's DisplayParameters over a
// plug-in: which it sent and which it left out (no public capture shows
// which cars send PresentSOC under -20 AC), and each SoC that changed.
type Display struct {
	Loops int `json:"loops"` // charge loop requests
	// WithParameters counts the loop requests that carried DisplayParameters.
	WithParameters int        `json:"with_parameters"`
	Sent           []string   `json:"sent"`    // sent at least once, in the schema's order
	Missing        []string   `json:"missing"` // never sent
	sent           DisplaySet // Sent as a set
	// Mode is the control mode of the loop: "dynamic" or "scheduled" (the
	// newest loop's; a car keeps the one it selected).
	Mode string `json:"mode"`
	// SoCUpdates are the newest MaxSoCUpdates changes of the SoC in the
	// loop, with their time; SoCUpdateCount counts them all.
	SoCUpdates     []SoCUpdate `json:"soc_updates,omitempty"`
	SoCUpdateCount int         `json:"soc_update_count"`
}

// SoCUpdate is one SoC a car reported in its charge loop, when the record took it.
type SoCUpdate struct {
	SoC int       `json:"soc"`
	At  time.Time `json:"at"`
}

// MaxSoCUpdates bounds Display.SoCUpdates: an hours-long AC charge keeps
// its newest updates.
const MaxSoCUpdates = 256

// loop folds one ISO-20 charge loop request's values into d; socChanged:
// the record took its SoC.
func (d *Display) loop(v *Values, socChanged bool, at time.Time) {
	d.Loops++
	if v.Display&^displayMarks != 0 {
		d.WithParameters++
	}
	d.Mode = "dynamic"
	if v.Display&DisplayScheduled != 0 {
		d.Mode = "scheduled"
	}
	d.sent |= v.Display &^ displayMarks
	d.Sent = d.sent.Names()
	d.Missing = (^d.sent &^ displayMarks & (1<<numDisplay - 1)).Names()
	if socChanged && v.SoC != nil {
		if len(d.SoCUpdates) == MaxSoCUpdates {
			copy(d.SoCUpdates, d.SoCUpdates[1:])
			d.SoCUpdates = d.SoCUpdates[:MaxSoCUpdates-1]
		}
		d.SoCUpdates = append(d.SoCUpdates, SoCUpdate{SoC: *v.SoC, At: at})
		d.SoCUpdateCount++
	}
}

// Event is one step of a plug-in, as a session package reports it.
type Event struct {
	Kind      Kind
	At        time.Time
	EVMAC     string        // KindMatched: aa:bb:cc:dd:ee:ff
	Protocol  string        // KindHandshake: "din", "iso2"
	Namespace string        // KindHandshake
	Offered   []AppProtocol // KindHandshake: what the car offered, in its order
	TLS       string        // KindConnected: TLS version and cipher suite, e.g. "TLS 1.3 TLS_AES_128_GCM_SHA256"; "" for plain TCP
	EVCCID    []byte        // KindSessionSetup: raw bytes as sent
	Message   message.Kind  // KindRequest, KindValues: the request, e.g. message.ChargeParameterDiscoveryReq
	From      string        // KindValues, KindSessionSetup not sent by the car: where they came from, e.g. "config", "slac"
	Code      string        // KindRequest: the answer's ResponseCode
	Took      time.Duration // KindRequest: decode, decide and encode; KindMatched: the car's first CM_SLAC_PARM.REQ to CM_SLAC_MATCH.CNF
	Values    Values        // KindValues
	End       End           // KindEnded
	Detail    string        // KindEnded, KindRequest: words on what went wrong; KindMatched: a match that was an identification only
	LinkFlaps int           // KindEnded of the plug-in: the modem's "no link" reports between two "up"s
	Gone      string        // KindEnded of the plug-in: the evidence that the car was gone, in words
	Delivery  *Delivery     // KindDelivered
	Vehicle   *Vehicle      // KindVehicle
	Handover  *Handover     // KindHandover
	Estimate  *Estimate     // KindEstimate; nil clears the estimate (the car left)
	// PlugIn names the plug-in a KindDelivered, KindHandover or KindEstimate event belongs to
	// (Session.PlugIn); 0 means the one in progress.
	PlugIn uint64
	// Conn numbers the V2G connection an event of the car's session came
	// from (KindConnected to KindEnded); 0 when unknown.
	Conn uint64
	// TLSVersion is KindConnected's TLS version alone: "1.2" or "1.3"; ""
	// for plain TCP.
	TLSVersion string
}

// Int is an integer value with where it came from; Known is false until a car sent it.
type Int struct {
	Value int       `json:"value"`
	Known bool      `json:"known"`
	From  string    `json:"from,omitempty"`
	At    time.Time `json:"at,omitzero"`
}

// Num is a physical value (Wh, V, A, W) with where it came from.
type Num struct {
	Value float64   `json:"value"`
	Known bool      `json:"known"`
	From  string    `json:"from,omitempty"`
	At    time.Time `json:"at,omitzero"`
}

// OrMinus returns the value, or -1 when unknown (SmartEVSE's convention).
func (i Int) OrMinus() int {
	if !i.Known {
		return -1
	}
	return i.Value
}

// OrMinus returns the value rounded to an integer, or -1 when unknown.
func (n Num) OrMinus() int {
	if !n.Known {
		return -1
	}
	return int(n.Value + 0.5)
}

// offer takes v by the rule of Values: the newest valid value, but never a
// zero over a real value; it reports whether the value changed.
func (i *Int) offer(v *int, from string, at time.Time, valid func(int) bool) bool {
	if v == nil || !valid(*v) || (i.Known && *v == 0 && i.Value != 0) || (i.Known && *v == i.Value) {
		return false
	}
	*i = Int{Value: *v, Known: true, From: from, At: at}
	return true
}

func (n *Num) offer(v *float64, from string, at time.Time) bool {
	if v == nil || *v < 0 || (n.Known && *v == 0 && n.Value != 0) || (n.Known && *v == n.Value) {
		return false
	}
	*n = Num{Value: *v, Known: true, From: from, At: at}
	return true
}

// EVCCID is the car's communication controller ID from SessionSetupReq.
type EVCCID struct {
	Raw []byte `json:"-"`
	// Hex is lowercase hex of the six MAC bytes (DIN's 7-8 byte forms reduced
	// to them), or of every byte when the ID is not MAC-shaped.
	Hex string `json:"hex"`
	// Random is set when the MAC is locally administered: VW cars draw a new one per session.
	Random bool `json:"random"`
}

// ParseEVCCID interprets raw EVCCID bytes. DIN allows up to 8 bytes: a
// 6-byte MAC, or the MAC padded with leading zeros, which some cars send.
func ParseEVCCID(raw []byte) EVCCID {
	id := EVCCID{Raw: append([]byte(nil), raw...)}
	mac := raw
	if len(raw) > 6 && len(raw) <= 8 && allZero(raw[:len(raw)-6]) {
		mac = raw[len(raw)-6:]
	}
	id.Hex = hex.EncodeToString(mac)
	if len(mac) == 6 {
		id.Random = mac[0]&0x02 != 0
	}
	return id
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// MarshalJSON writes the ID with its raw bytes in hex.
func (e EVCCID) MarshalJSON() ([]byte, error) {
	if e.Raw == nil {
		return []byte("null"), nil
	}
	return json.Marshal(struct {
		Hex    string `json:"hex"`
		Raw    string `json:"raw"`
		Random bool   `json:"random"`
	}{e.Hex, hex.EncodeToString(e.Raw), e.Random})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (e *EVCCID) UnmarshalJSON(b []byte) error {
	var v struct {
		Hex    string `json:"hex"`
		Raw    string `json:"raw"`
		Random bool   `json:"random"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	raw, err := hex.DecodeString(v.Raw)
	if err != nil {
		return fmt.Errorf("record: EVCCID raw bytes %q: %w", v.Raw, err)
	}
	*e = EVCCID{Raw: raw, Hex: v.Hex, Random: v.Random}
	return nil
}

// AppProtocol is one protocol a car offers in SupportedAppProtocolReq.
type AppProtocol struct {
	Namespace string `json:"namespace"`
	Major     uint32 `json:"major"`
	Minor     uint32 `json:"minor"`
	SchemaID  uint8  `json:"schema_id"`
	Priority  uint8  `json:"priority"`
}

// Vehicle is the car a plug-in was recognised as: a name for people, an ID
// that stays when the car's MAC changes, how sure, and by what (By*).
type Vehicle struct {
	Name       string  `json:"name"`
	ID         string  `json:"id"`
	Confidence float64 `json:"confidence"`
	By         string  `json:"by"`
}

// How a Vehicle was recognised.
const (
	ByConfig      = "config"      // a MAC pattern of the configuration's known cars
	ByMAC         = "mac"         // the car's fixed MAC
	ByFingerprint = "fingerprint" // what the car offered and sent, as a car remembered
	ByNew         = "new"         // a car not seen before with a random MAC
)

// Phases are the times a plug-in reached each step; zero when it did not.
type Phases struct {
	SLACStart    time.Time `json:"slac_start,omitzero"`
	Matched      time.Time `json:"matched,omitzero"`
	LinkUp       time.Time `json:"link_up,omitzero"`
	SDP          time.Time `json:"sdp,omitzero"`
	TCP          time.Time `json:"tcp,omitzero"`
	Handshake    time.Time `json:"handshake,omitzero"`
	SessionSetup time.Time `json:"session_setup,omitzero"`
	FirstCPD     time.Time `json:"first_charge_parameter_discovery,omitzero"` // under ISO 15118-20: the first charge loop
	Delivered    time.Time `json:"delivered,omitzero"`
	Ended        time.Time `json:"ended,omitzero"`
}

// Answer is the charger's answer to one request.
type Answer struct {
	Message message.Kind  `json:"message"`
	Code    string        `json:"code"`
	At      time.Time     `json:"at"`
	Took    time.Duration `json:"took_ns"`
}

// Delivery is one output's delivery of the car's values.
type Delivery struct {
	Output string        `json:"output"` // e.g. "smartevse"
	What   string        `json:"what"`   // e.g. the query string posted
	OK     bool          `json:"ok"`
	Result string        `json:"result"` // e.g. "HTTP 200", or the error in words
	At     time.Time     `json:"at"`
	Took   time.Duration `json:"took_ns"`
	// Sent is the values the output posted (tried to, when not OK), if it
	// reports them; they can differ from the record's by the receiver's own
	// rule (see Values).
	Sent *Sent `json:"sent,omitempty"`
}

// Sent is what an output told its receiver of the car; a nil number was
// sent as unknown.
type Sent struct {
	SoC              *int   `json:"soc"`
	FullSOC          *int   `json:"full_soc"`
	EnergyCapacityWh *int   `json:"energy_capacity_wh"`
	EnergyRequestWh  *int   `json:"energy_request_wh"`
	EVCCID           string `json:"evccid,omitempty"`
}

// Session is the one authoritative record of a plug-in.
type Session struct {
	// PlugIn numbers the daemon's plug-ins, from 1; an output's late
	// result names it (Event.PlugIn).
	PlugIn uint64 `json:"-"`

	Protocol  string  `json:"protocol,omitempty"`
	Namespace string  `json:"namespace,omitempty"`
	EVMAC     string  `json:"ev_mac,omitempty"`
	EVCCID    *EVCCID `json:"evccid,omitempty"`
	// TLS is the TLS version of the car's latest V2G connection ("1.2",
	// "1.3"); "" for plain TCP.
	TLS string `json:"tls,omitempty"`
	// Offered is what the car offered in SupportedAppProtocolReq, in its order.
	Offered []AppProtocol `json:"offered,omitempty"`
	// Vehicle is which car this is, when it was recognised.
	Vehicle *Vehicle `json:"vehicle,omitempty"`

	SoC              Int `json:"soc"`
	FullSOC          Int `json:"full_soc"`
	BulkSOC          Int `json:"bulk_soc"`
	EnergyCapacityWh Num `json:"energy_capacity_wh"`
	EnergyRequestWh  Num `json:"energy_request_wh"`
	MaxVoltageV      Num `json:"ev_max_voltage_v"`
	MaxCurrentA      Num `json:"ev_max_current_a"`
	MaxPowerW        Num `json:"ev_max_power_w"`
	// Display is what the car told in ISO 15118-20's DisplayParameters;
	// nil unless an ISO-20 charge loop came.
	Display *Display `json:"display,omitempty"`

	Phases     Phases     `json:"phases"`
	Answers    []Answer   `json:"answers,omitempty"`
	Deliveries []Delivery `json:"deliveries,omitempty"`
	End        End        `json:"end"`
	Detail     string     `json:"end_detail,omitempty"`
	// Gone says what showed that the car was gone, ending the plug-in (the
	// modem's "no link" and the car's silence, its connection closed, a
	// long silence, the control pilot): End says how its session ended.
	Gone string `json:"gone,omitempty"`
	// LinkFlaps counts the modem's "no link" reports between two "up"s
	// while the car was plugged in: not fatal while the car talked.
	LinkFlaps int `json:"link_flaps,omitempty"`
	// Handover is what the charger did after the car's values were
	// delivered; nil while it is watched, or when it is not.
	Handover *Handover `json:"handover,omitempty"`
	// Estimate is the SoC estimated from the energy charged since SoC was
	// read; never in place of SoC. nil when there is none (no EV meter, no
	// capacity, the car left).
	Estimate *Estimate `json:"soc_estimated,omitempty"`

	// idConn is the connection EVCCID came from; pendingID is the EVCCID of
	// another connection (pendingConn) that has sent no values yet.
	idConn      uint64
	pendingID   []byte
	pendingConn uint64
}

// MaxAnswers bounds the answers kept per plug-in: a car in a CurrentDemand
// loop for hours must not grow the record without end.
const MaxAnswers = 1024

// Apply folds e into the record. It reports whether one of the car's values
// (SoC, capacity, request, EVCCID) became known or changed.
func (s *Session) Apply(e Event) (changed bool) {
	switch e.Kind {
	case KindSLACStarted:
		s.Phases.SLACStart = e.At
	case KindMatched:
		s.Phases.Matched, s.EVMAC = e.At, e.EVMAC
		if s.End == EndNoComm {
			// The car started SLAC after all, late: its plug-in goes on.
			s.End, s.Detail = EndNone, ""
		}
	case KindLinkUp:
		s.Phases.LinkUp = e.At
	case KindSDP:
		setOnce(&s.Phases.SDP, e.At)
	case KindConnected:
		setOnce(&s.Phases.TCP, e.At)
		s.TLS = e.TLSVersion
	case KindHandshake:
		s.Phases.Handshake, s.Protocol, s.Namespace = e.At, e.Protocol, e.Namespace
		s.Offered = append([]AppProtocol(nil), e.Offered...)
	case KindVehicle:
		if e.Vehicle != nil {
			v := *e.Vehicle
			s.Vehicle = &v
		}
	case KindSessionSetup:
		return s.applySessionSetup(e)
	case KindRequest:
		s.applyRequest(e)
	case KindValues:
		return s.applyValues(e)
	case KindDelivered:
		s.applyDelivered(e)
	case KindEnded:
		s.applyEnded(e)
	case KindHandover:
		if e.Handover != nil {
			s.Handover = e.Handover.clone()
		}
	case KindEstimate:
		s.Estimate = nil
		if e.Estimate != nil {
			x := *e.Estimate
			s.Estimate = &x
		}
	}
	return false
}

// applySessionSetup takes the car's EVCCID. A car may open several
// connections in one plug-in: until its values come, the newest
// connection's ID stands; once they came on one connection, another's ID
// counts only when that connection sends values too (applyValues). An
// EVCCID not from a SessionSetupReq (From set: the SLAC MAC of a car that
// holds no session) leaves Phases.SessionSetup alone.
func (s *Session) applySessionSetup(e Event) (changed bool) {
	if e.From == "" {
		setOnce(&s.Phases.SessionSetup, e.At)
	}
	switch {
	case len(e.EVCCID) == 0:
	case s.EVCCID == nil || e.Conn == s.idConn || !s.hasValues():
		changed = s.setEVCCID(e.EVCCID, e.Conn)
		s.pendingID = nil
	default:
		s.pendingID, s.pendingConn = append(s.pendingID[:0], e.EVCCID...), e.Conn
	}
	return changed
}

// applyRequest notes the charger's answer, up to MaxAnswers.
func (s *Session) applyRequest(e Event) {
	if len(s.Answers) < MaxAnswers {
		s.Answers = append(s.Answers, Answer{Message: e.Message, Code: e.Code, At: e.At, Took: e.Took})
	}
}

// applyValues folds the car's values into the record by the rule of Values.
func (s *Session) applyValues(e Event) (changed bool) {
	if harvests(e.Message) {
		setOnce(&s.Phases.FirstCPD, e.At)
	}
	v, from, at := e.Values, e.From, e.At
	if from == "" {
		from = e.Message.String()
	}
	socChanged := s.SoC.offer(v.SoC, from, at, percent)
	changed = socChanged
	changed = s.FullSOC.offer(v.FullSOC, from, at, percent) || changed
	changed = s.BulkSOC.offer(v.BulkSOC, from, at, percent) || changed
	changed = s.EnergyCapacityWh.offer(v.EnergyCapacityWh, from, at) || changed
	changed = s.EnergyRequestWh.offer(v.EnergyRequestWh, from, at) || changed
	s.MaxVoltageV.offer(v.MaxVoltageV, from, at)
	s.MaxCurrentA.offer(v.MaxCurrentA, from, at)
	s.MaxPowerW.offer(v.MaxPowerW, from, at)
	if v.Display&DisplayLoop != 0 {
		if s.Display == nil {
			s.Display = &Display{}
		}
		s.Display.loop(&v, socChanged, at)
	}
	if s.pendingID != nil && e.Conn == s.pendingConn && e.Conn != s.idConn {
		// The EVCCID of the plug-in is that of the connection that supplied its values.
		changed = s.setEVCCID(s.pendingID, e.Conn) || changed
		s.pendingID = nil
	}
	return changed
}

func percent(x int) bool { return x >= 0 && x <= 100 }

// applyDelivered notes an output's delivery, up to MaxAnswers; the first
// that succeeded is Phases.Delivered.
func (s *Session) applyDelivered(e Event) {
	if e.Delivery == nil {
		return
	}
	if e.Delivery.OK {
		setOnce(&s.Phases.Delivered, e.Delivery.At)
	}
	if len(s.Deliveries) < MaxAnswers {
		s.Deliveries = append(s.Deliveries, *e.Delivery)
	}
}

// applyEnded notes how the session or the plug-in ended. A car that
// reconnects ends its first connection and then its second: the last V2G
// end counts. The end of the plug-in itself (link lost, the daemon
// stopping) only fills in when none is known. An interface lost explains a
// stop, which its connection reports first.
func (s *Session) applyEnded(e Event) {
	if s.End == EndNone || !e.End.OfPlugIn() || s.End == EndStopped && e.End == EndIfaceLost {
		s.End, s.Detail = e.End, e.Detail
	}
	if e.Gone != "" {
		s.Gone = e.Gone
	}
	if e.LinkFlaps > s.LinkFlaps {
		s.LinkFlaps = e.LinkFlaps
	}
	s.Phases.Ended = e.At
}

// Harvest reports whether e, just applied to s, is the harvest: the car's
// first ChargeParameterDiscoveryReq of the plug-in (its time is
// Phases.FirstCPD), which tells its battery state before any charging. The
// log's "the car sent its values" and a capacity from the configuration
// for a car that sends none come there.
func (s *Session) Harvest(e Event) bool {
	return e.Kind == KindValues && harvests(e.Message) && s.Phases.FirstCPD.Equal(e.At)
}

// harvests reports whether m is a message whose first one is the harvest:
// ChargeParameterDiscoveryReq (DIN, ISO-2), or under ISO 15118-20, whose
// parameter discovery carries no SoC, the first charge loop.
func harvests(m message.Kind) bool {
	return m == message.ChargeParameterDiscoveryReq || m == message.AC_ChargeLoopReq || m == message.DC_ChargeLoopReq
}

// setEVCCID takes raw as the plug-in's EVCCID, from connection conn; it
// reports whether the ID changed.
func (s *Session) setEVCCID(raw []byte, conn uint64) bool {
	s.idConn = conn
	if s.EVCCID != nil && string(s.EVCCID.Raw) == string(raw) {
		return false
	}
	id := ParseEVCCID(raw)
	s.EVCCID = &id
	return true
}

// hasValues reports whether the car sent any of the values outputs deliver.
func (s *Session) hasValues() bool {
	return s.SoC.Known || s.FullSOC.Known || s.BulkSOC.Known || s.EnergyCapacityWh.Known || s.EnergyRequestWh.Known
}

func setOnce(t *time.Time, at time.Time) {
	if t.IsZero() {
		*t = at
	}
}

// EVCCIDHex returns the EVCCID as lowercase hex, or "" when none was sent.
func (s *Session) EVCCIDHex() string {
	if s.EVCCID == nil {
		return ""
	}
	return s.EVCCID.Hex
}

// Clone returns a deep copy, safe to hand to another goroutine.
func (s *Session) Clone() *Session {
	c := *s
	c.Answers = append([]Answer(nil), s.Answers...)
	c.Deliveries = append([]Delivery(nil), s.Deliveries...)
	for i, d := range c.Deliveries {
		if d.Sent != nil {
			c.Deliveries[i].Sent = d.Sent.clone()
		}
	}
	c.pendingID = append([]byte(nil), s.pendingID...)
	c.Offered = append([]AppProtocol(nil), s.Offered...)
	if s.Vehicle != nil {
		v := *s.Vehicle
		c.Vehicle = &v
	}
	if s.Handover != nil {
		c.Handover = s.Handover.clone()
	}
	if s.Estimate != nil {
		x := *s.Estimate
		c.Estimate = &x
	}
	if s.Display != nil {
		d := *s.Display
		d.SoCUpdates = append([]SoCUpdate(nil), d.SoCUpdates...)
		c.Display = &d
	}
	if s.EVCCID != nil {
		id := *s.EVCCID
		id.Raw = append([]byte(nil), id.Raw...)
		c.EVCCID = &id
	}
	return &c
}

func (t *Sent) clone() *Sent {
	c := *t
	for _, p := range []**int{&c.SoC, &c.FullSOC, &c.EnergyCapacityWh, &c.EnergyRequestWh} {
		if *p != nil {
			v := **p
			*p = &v
		}
	}
	return &c
}

// Summary describes the plug-in in one line of plain words, e.g.
// "car 04:65:65:00:64:c3 (DIN): SoC 93 %, capacity 28.0 kWh"; for a car
// that never started digital communication, the words of its end (Detail).
func (s *Session) Summary() string {
	if s.End == EndNoComm && s.EVMAC == "" && s.Detail != "" {
		return s.Detail
	}
	var b strings.Builder
	b.WriteString("car")
	if s.EVMAC != "" {
		b.WriteString(" " + s.EVMAC)
	}
	if s.Protocol != "" {
		fmt.Fprintf(&b, " (%s)", ProtocolName(s.Protocol))
	}
	b.WriteString(":")
	var parts []string
	if s.SoC.Known {
		parts = append(parts, fmt.Sprintf("SoC %d %%", s.SoC.Value))
	} else {
		parts = append(parts, "no SoC")
	}
	if s.EnergyCapacityWh.Known {
		parts = append(parts, fmt.Sprintf("capacity %.1f kWh", s.EnergyCapacityWh.Value/1000))
	}
	if s.EnergyRequestWh.Known {
		parts = append(parts, fmt.Sprintf("wants %.1f kWh", s.EnergyRequestWh.Value/1000))
	}
	if id := s.EVCCIDHex(); id != "" {
		parts = append(parts, "EVCCID "+id)
	}
	b.WriteString(" " + strings.Join(parts, ", "))
	return b.String()
}

// ProtocolName returns the display name of a protocol id ("din" -> "DIN 70121").
func ProtocolName(p string) string {
	switch p {
	case "din":
		return "DIN 70121"
	case "iso2":
		return "ISO 15118-2"
	case "iso20":
		return "ISO 15118-20"
	}
	return p
}
