package secc

import (
	"fmt"
	"time"

	"github.com/ccslink/ccslink/proto/v2g/message"
	"github.com/ccslink/ccslink/record"
)

// The session model: what a car asks and what the charger decides, in the
// same words for every protocol. An adapter (din.go, iso2.go) decodes a
// request into a Request and encodes a Decision into its own messages; the
// engine (engine.go) keeps the sequence; a Policy (policy_*.go) decides.

// Phase is what a request asks for, whichever protocol names it.
type Phase uint8

// Phases. The first ten are also the states of a session: the phase it waits for.
const (
	PhaseSessionSetup Phase = iota
	PhaseServiceDiscovery
	PhasePaymentSelection         // DIN ServicePaymentSelection, ISO-2 PaymentServiceSelection, ISO-20 ServiceSelection
	PhaseAuthorization            // DIN ContractAuthentication, ISO-2 Authorization, ISO-20 AuthorizationSetup and Authorization
	PhaseChargeParameterDiscovery // where the car's battery values come
	PhaseCableCheck               // DC
	PhasePreCharge                // DC
	PhasePowerDelivery            // start, stop or (ISO-2) renegotiate
	PhaseChargeLoop               // CurrentDemand (DC), ChargingStatus (AC)
	PhaseWeldingDetection         // DC
	PhaseSessionStop
	PhaseServiceDetail
	PhasePaymentDetails
	PhaseMeteringReceipt
	PhaseCertificate      // CertificateUpdate, CertificateInstallation: never served
	PhaseScheduleExchange // ISO-20: the schedule (dynamic mode) after ChargeParameterDiscovery
	NumPhases
)

var phaseNames = [NumPhases]string{"SessionSetup", "ServiceDiscovery", "PaymentSelection", "Authorization",
	"ChargeParameterDiscovery", "CableCheck", "PreCharge", "PowerDelivery", "ChargeLoop", "WeldingDetection",
	"SessionStop", "ServiceDetail", "PaymentDetails", "MeteringReceipt", "Certificate", "ScheduleExchange"}

func (p Phase) String() string {
	if p < NumPhases {
		return phaseNames[p]
	}
	return fmt.Sprintf("Phase(%d)", uint8(p))
}

// Energy is an energy transfer: what a car asks for, what the charger offers.
type Energy uint8

// Energy transfers.
const (
	EnergyNone Energy = iota // the car named none (a ChargeParameterDiscoveryReq without parameters)
	EnergyDC
	EnergyAC
)

// Request is one request of the car as the policy sees it. Slices are only
// valid until the next request.
type Request struct {
	Phase Phase
	// Energy: in ChargeParameterDiscovery the transfer the car's parameters
	// ask for; in the charge loop AC for ChargingStatus, DC for CurrentDemand.
	Energy Energy
	// ReadyToCharge: a PowerDelivery that starts charging (DIN's
	// ReadyToChargeState, ISO-2's ChargeProgress Start); Renegotiate: ISO-2's
	// ChargeProgress Renegotiate. Neither: a stop.
	ReadyToCharge, Renegotiate bool
	EVCCID                     []byte // SessionSetup
	// Values are the car's values the request carries (HasValues), the
	// multipliers applied: its battery status and limits, its targets.
	Values    record.Values
	HasValues bool
	// TargetVoltageV and TargetCurrentA are PreCharge's and CurrentDemand's targets.
	TargetVoltageV, TargetCurrentA float64
	// MovesOn: a request towards charging (CableCheck, PreCharge, the
	// charge loop, WeldingDetection, PowerDelivery start).
	MovesOn bool

	kind      message.Kind // the message, wherever secc names it (events, steps, errors)
	request   bool         // a request the protocol defines, not an answer
	sessionID []byte
}

// Outcome is the charger's answer in one word. Ongoing and Shutdown say
// something in ChargeParameterDiscovery (both) and CableCheck (Ongoing),
// where the protocols have EVSEProcessing; elsewhere they answer as Continue.
type Outcome uint8

// Verdicts.
const (
	// Continue: OK, the session goes on as the protocol's sequence says.
	Continue Outcome = iota
	// Ongoing: OK with EVSEProcessing Ongoing: the car asks again.
	Ongoing
	// Shutdown: Ongoing with the charger's status EVSE_Shutdown: the car
	// should stop the session (SessionStopReq).
	Shutdown
	// Fail: FAILED, and the session ends.
	Fail
	// WrongEnergy: the car asked for an energy transfer the policy does not
	// serve (FAILED_WrongEnergyTransferType/Mode); the session ends.
	WrongEnergy
)

// Decision is what the charger answers to one request.
type Decision struct {
	Outcome Outcome
	// Closing ends the attempt: from now on a request towards charging
	// (Request.MovesOn) is answered FAILED whatever the sequence, and the
	// SoC it still reports is recorded.
	Closing bool
	// Offer is the energy transfer offered in ServiceDiscovery (ISO-2;
	// DIN offers DC only); EnergyNone means DC.
	Offer Energy
	// The output answered in PreCharge, the charge loop and WeldingDetection.
	PresentVoltageV, PresentCurrentA float64
	CurrentLimitAchieved             bool
}

// Progress is what the session knows when a request comes, for the policy.
type Progress struct {
	Now      time.Time
	Protocol Protocol
	// Expect is the phase the session waited for when the request came.
	Expect Phase
	// AC: the car's AC ChargeParameterDiscovery was accepted; the session is an AC one.
	AC bool
	// Joined: the SessionSetupReq rejoined the session's SessionID (OK_OldSessionJoined).
	Joined bool
	// Config is the charger's configuration: limits, MaxOngoing, the dc timings.
	Config *Config
}

// Policy decides the charger's answers, the same for every protocol. The
// engine asks it only about a request the sequence allows, after the car's
// values in it have been published; a Decision's zero value answers OK.
// A Policy serves one session: NewPolicy and Config.ChoosePolicy give each
// session its own.
type Policy interface {
	Decide(p *Progress, r *Request) Decision
}

// CarInfo is what the charger knows of the car when it chooses the policy
// of its session (SessionSetupReq).
type CarInfo struct {
	Protocol Protocol
	EVCCID   []byte // a copy of the chooser's own, which it may keep
}

// NewPolicy returns a new policy of the given name for one session; an
// unknown name gets the soc policy.
func NewPolicy(name PolicyName) Policy {
	switch name {
	case PolicyDC:
		return &dcPolicy{}
	case PolicyAC:
		return &acPolicy{}
	}
	return &socPolicy{}
}

// movesOn reports a request towards charging.
func movesOn(r *Request) bool {
	switch r.Phase {
	case PhaseCableCheck, PhasePreCharge, PhaseChargeLoop, PhaseWeldingDetection:
		return true
	case PhasePowerDelivery:
		return r.ReadyToCharge
	}
	return false
}
