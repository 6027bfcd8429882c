package evcc

import (
	"fmt"
	"time"

	"github.com/ccslink/ccslink/proto/v2g/din"
	"github.com/ccslink/ccslink/proto/v2g/iso2"
	"github.com/ccslink/ccslink/proto/v2g/message"
)

// The car's timers, named as DIN SPEC 70121 and ISO 15118-2 name them. The
// message timeouts and the Ongoing bound are those of v2g.md (2 s for most
// answers, CurrentDemand 250 ms, ISO-2 PowerDelivery 5 s, Ongoing up to
// 60 s); the cable check and pre-charge bounds are the standards' own.
const (
	// V2G_EVCC_Msg_Timeout is how long the car waits for most answers.
	V2G_EVCC_Msg_Timeout = 2 * time.Second
	// V2G_EVCC_Msg_Timeout_CurrentDemand is the charging loop's, in both protocols.
	V2G_EVCC_Msg_Timeout_CurrentDemand = 250 * time.Millisecond
	// V2G_EVCC_Msg_Timeout_PowerDelivery_ISO2 is ISO 15118-2's for
	// PowerDelivery (DIN keeps 2 s).
	V2G_EVCC_Msg_Timeout_PowerDelivery_ISO2 = 5 * time.Second
	// V2G_EVCC_Ongoing_Timeout bounds Authorization (DIN:
	// ContractAuthentication) and ChargeParameterDiscovery while the charger
	// answers Ongoing. DIN names no bound of its own there; the car keeps
	// ISO 15118-2's.
	V2G_EVCC_Ongoing_Timeout = 60 * time.Second
	// V2G_EVCC_CableCheck_Timeout bounds DIN SPEC 70121's isolation check,
	// from the first CableCheckReq.
	V2G_EVCC_CableCheck_Timeout = 38 * time.Second
	// V2G_EVCC_CableCheck_Timeout_ISO2 is ISO 15118-2's bound of the same phase.
	V2G_EVCC_CableCheck_Timeout_ISO2 = 40 * time.Second
	// V2G_EVCC_PreCharge_Timeout bounds pre-charge in both protocols, from
	// the first PreChargeReq until the charger's voltage is the car's.
	V2G_EVCC_PreCharge_Timeout = 7 * time.Second
)

// Timer names, as TimerError.Timer carries them.
const (
	TimerMsg       = "V2G_EVCC_Msg_Timeout"
	TimerOngoing   = "V2G_EVCC_Ongoing_Timeout"
	TimerCable     = "V2G_EVCC_CableCheck_Timeout"
	TimerPreCharge = "V2G_EVCC_PreCharge_Timeout"
)

// TimerError says which of the car's timers ran out, after which request.
// errors.Is(err, ErrTimeout) is true.
type TimerError struct {
	Timer   string        // the standard's name, one of the Timer* constants
	Limit   time.Duration // the timer's value
	Request message.Kind  // the request it ran out after, e.g. message.CableCheckReq
	// Requests is how often the phase sent Request before its timer ran
	// out (1 for V2G_EVCC_Msg_Timeout: that request got no answer).
	Requests int
	Elapsed  time.Duration // from the phase's first request (or this request) to the car giving up
}

// Error says what the charger failed to do in time, in the car's words.
func (e *TimerError) Error() string {
	if e.Timer == TimerMsg {
		return fmt.Sprintf("evcc: the charger did not answer %s within %v (%s)", e.Request, e.Limit, e.Timer)
	}
	what := "finish processing"
	switch e.Timer {
	case TimerCable:
		what = "finish its isolation check"
	case TimerPreCharge:
		what = "raise its output to the car's voltage"
	}
	return fmt.Sprintf("evcc: the charger did not %s within %v (%s): %d %s in %v, each answered as not done",
		what, e.Limit, e.Timer, e.Requests, e.Request, e.Elapsed)
}

// Is makes errors.Is(err, ErrTimeout) true.
func (e *TimerError) Is(target error) bool { return target == ErrTimeout }

// phase is a loop that repeats a request while the charger is not done;
// exchange checks its timer before each request.
type phase struct {
	timer string
	limit time.Duration
	start time.Time
	n     int // requests sent in the phase
}

// startPhase arms a phase timer; it starts with the phase's first request.
func (s *session) startPhase(timer string, limit time.Duration) {
	s.phase = phase{timer: timer, limit: limit}
}

func (s *session) endPhase() { s.phase = phase{} }

// phaseRequest counts the phase's next request, or says its timer ran out.
func (s *session) phaseRequest(name message.Kind) error {
	ph := &s.phase
	if ph.timer == "" {
		return nil
	}
	now := s.clk.Now()
	if ph.n == 0 {
		ph.start = now
	} else if el := now.Sub(ph.start); el >= ph.limit {
		return &TimerError{Timer: ph.timer, Limit: ph.limit, Request: name, Requests: ph.n, Elapsed: el}
	}
	ph.n++
	return nil
}

func (s *session) cableCheckTimeout() time.Duration {
	if s.res.Protocol == "iso2" {
		return V2G_EVCC_CableCheck_Timeout_ISO2
	}
	return V2G_EVCC_CableCheck_Timeout
}

// dinMsgTimeout is V2G_EVCC_Msg_Timeout of a DIN request.
func dinMsgTimeout(k din.MessageKind) time.Duration {
	if k == din.KindCurrentDemandReq {
		return V2G_EVCC_Msg_Timeout_CurrentDemand
	}
	return V2G_EVCC_Msg_Timeout
}

// isoMsgTimeout is V2G_EVCC_Msg_Timeout of an ISO-2 request.
func isoMsgTimeout(k iso2.MessageKind) time.Duration {
	switch k {
	case iso2.KindCurrentDemandReq:
		return V2G_EVCC_Msg_Timeout_CurrentDemand
	case iso2.KindPowerDeliveryReq:
		return V2G_EVCC_Msg_Timeout_PowerDelivery_ISO2
	}
	return V2G_EVCC_Msg_Timeout
}
