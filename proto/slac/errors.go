package slac

import (
	"errors"
	"time"

	"github.com/ccslink/ccslink/proto/homeplug"
)

// Errors a matching, or the link after it, ends with. A *FailureError wraps
// one of them, so callers test with errors.Is and read details with errors.As.
var (
	// ErrNoCar means no car sent CM_SLAC_PARM.REQ in time.
	ErrNoCar = errors.New("slac: no car started matching")
	// ErrNoMatch means matching attempts were made but none completed.
	ErrNoMatch = errors.New("slac: matching failed")
	// ErrLinkTimeout means a car matched but its modem never joined the network.
	ErrLinkTimeout = errors.New("slac: matched, but no link")
	// ErrLinkLost means the matched car is gone: the evidence of its
	// presence ended (ReasonLinkLost, ReasonClosedNoLink, ReasonSilent).
	ErrLinkLost = errors.New("slac: link lost")
	// ErrCarGone means the car was unplugged (control pilot back to state A).
	ErrCarGone = errors.New("slac: car unplugged")
)

// Reason says which step of a matching, or of the link after it, failed.
type Reason uint8

// Reasons of a FailureError; the comments give the side that reports them.
const (
	ReasonNoCar             Reason = iota + 1 // EVSE: no CM_SLAC_PARM.REQ within TT_EVSE_SLAC_init (or the caller's time)
	ReasonNoStartAttenChar                    // EVSE: no CM_START_ATTEN_CHAR.IND within TT_match_sequence
	ReasonAttenCharRejected                   // EVSE: the car answered CM_ATTEN_CHAR.IND with a failure
	ReasonNoMatchReq                          // EVSE: no CM_SLAC_MATCH.REQ within TT_EVSE_match_session
	ReasonCrosstalk                           // EVSE: MATCH.REQ refused, another car sounded CrosstalkMarginDB stronger
	ReasonLinkTimeout                         // EVSE: matched, but no link within TT_match_join
	ReasonLinkLost                            // EVSE: the modem reports no link and the car fell silent
	ReasonCarGone                             // EVSE: the control pilot went back to state A
	ReasonNoParmCnf                           // PEV: no CM_SLAC_PARM.CNF with its RunID
	ReasonNoAttenChar                         // PEV: no CM_ATTEN_CHAR.IND within TT_EV_atten_results
	ReasonNoMatchCnf                          // PEV: no CM_SLAC_MATCH.CNF within TT_match_response
	ReasonClosedNoLink                        // EVSE: the car closed its V2G connection and the modem reports no link
	ReasonSilent                              // EVSE: the car fell silent for long and the modem does not report its link up
)

var reasonText = [...]string{
	ReasonNoCar:             "no car started matching",
	ReasonNoStartAttenChar:  "the car sent no CM_START_ATTEN_CHAR.IND within TT_match_sequence",
	ReasonAttenCharRejected: "the car rejected CM_ATTEN_CHAR.IND",
	ReasonNoMatchReq:        "the car sent no CM_SLAC_MATCH.REQ within TT_EVSE_match_session",
	ReasonCrosstalk:         "the car was refused as a neighbour's car: another car sounded much stronger (crosstalk)",
	ReasonLinkTimeout:       "the car matched, but its modem did not join the network within TT_match_join",
	ReasonLinkLost:          "the modem reports no link and the car fell silent",
	ReasonCarGone:           "the car was unplugged",
	ReasonNoParmCnf:         "no charger answered CM_SLAC_PARM.REQ with our RunID",
	ReasonNoAttenChar:       "no charger sent CM_ATTEN_CHAR.IND within TT_EV_atten_results",
	ReasonNoMatchCnf:        "the charger sent no CM_SLAC_MATCH.CNF within TT_match_response",
	ReasonClosedNoLink:      "the car closed its V2G connection and the modem reports no link",
	ReasonSilent:            "the car has been silent too long and the modem does not report its link",
}

// String describes the reason in words.
func (r Reason) String() string {
	if int(r) < len(reasonText) && reasonText[r] != "" {
		return reasonText[r]
	}
	return "unknown failure"
}

// sentinel returns the error of package slac that r belongs to.
func (r Reason) sentinel() error {
	switch r {
	case ReasonNoCar:
		return ErrNoCar
	case ReasonLinkTimeout:
		return ErrLinkTimeout
	case ReasonLinkLost, ReasonClosedNoLink, ReasonSilent:
		return ErrLinkLost
	case ReasonCarGone:
		return ErrCarGone
	}
	return ErrNoMatch
}

// FailureError describes a failed matching or a lost link. errors.Is finds
// its sentinel (ErrNoCar, ErrNoMatch, ErrLinkTimeout, ErrLinkLost,
// ErrCarGone) and its Err.
type FailureError struct {
	// Reason is the step that failed.
	Reason Reason
	// EV is the car's MAC, when known.
	EV homeplug.MAC
	// EVSE is the charger's MAC, when known (the car's side).
	EVSE homeplug.MAC
	// At is when the failure was noticed.
	At time.Time
	// Err is what ended the wait instead of the protocol's own timer, such as
	// the caller's context.DeadlineExceeded, or nil.
	Err error
	// Flaps counts the modem's "no link" reports between two "up"s while
	// the car's link was watched (EVSE.Watch).
	Flaps int
}

// Error returns the reason in words, naming the car when known.
func (e *FailureError) Error() string {
	s := "slac: "
	if e.EV != (homeplug.MAC{}) && e.Reason != ReasonNoCar {
		s += "car " + e.EV.String() + ": "
	}
	s += e.Reason.String()
	if e.Err != nil {
		s += " (" + e.Err.Error() + ")"
	}
	return s
}

// Unwrap returns the sentinel of the reason and Err.
func (e *FailureError) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Reason.sentinel()}
	}
	return []error{e.Reason.sentinel(), e.Err}
}

// PortError is a failure of the Port under a matching, such as a closed
// socket or an interface that went away.
type PortError struct {
	Op  string // "send" or "receive"
	Err error
}

// Error names the operation and the port's error.
func (e *PortError) Error() string {
	return "slac: cannot " + e.Op + " on the HomePlug interface: " + e.Err.Error() + " (is the interface up?)"
}

// Unwrap returns the port's error.
func (e *PortError) Unwrap() error { return e.Err }
