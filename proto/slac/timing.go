package slac

import "time"

// ISO 15118-3 timing constants; the comments give the standard's names so the
// code can be checked against it.
const (
	TTEVSESLACInit       = 50 * time.Second        // TT_EVSE_SLAC_init: wait for the first CM_SLAC_PARM.REQ (20-50 s)
	TTMatchSequence      = 400 * time.Millisecond  // TT_match_sequence: PARM.CNF to CM_START_ATTEN_CHAR.IND
	TTEVSEMatchMNBC      = 600 * time.Millisecond  // TT_EVSE_match_MNBC: the sound window
	TTMatchResponse      = 200 * time.Millisecond  // TT_match_response: wait for an answer before resending
	CEVMatchRetry        = 2                       // C_EV_match_retry: resends after the first message
	CEVMatchMNBC         = 10                      // C_EV_match_MNBC: sounds per matching
	TTEVSEMatchSession   = 10 * time.Second        // TT_EVSE_match_session: ATTEN_CHAR.IND to CM_SLAC_MATCH.REQ
	TTMatchJoin          = 12 * time.Second        // TT_match_join: MATCH.CNF to the link being up
	TPEVBatchMsgInterval = 20 * time.Millisecond   // TP_EV_batch_msg_interval: between the EV's sounds (20-50 ms)
	TTEVAttenResults     = 1200 * time.Millisecond // TT_EV_atten_results: the EV collects ATTEN_CHAR.IND this long
)

// Timing holds the timers of a matching; a zero field takes the ISO 15118-3
// default named beside it.
type Timing struct {
	SLACInit      time.Duration // TT_EVSE_SLAC_init
	MatchSequence time.Duration // TT_match_sequence
	MatchMNBC     time.Duration // TT_EVSE_match_MNBC
	MatchResponse time.Duration // TT_match_response
	MatchRetry    int           // C_EV_match_retry; negative means no resend
	MatchSession  time.Duration // TT_EVSE_match_session
	MatchJoin     time.Duration // TT_match_join
	BatchInterval time.Duration // TP_EV_batch_msg_interval (PEV side)
	AttenResults  time.Duration // TT_EV_atten_results (PEV side)
}

func (t Timing) withDefaults() Timing {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&t.SLACInit, TTEVSESLACInit)
	def(&t.MatchSequence, TTMatchSequence)
	def(&t.MatchMNBC, TTEVSEMatchMNBC)
	def(&t.MatchResponse, TTMatchResponse)
	def(&t.MatchSession, TTEVSEMatchSession)
	def(&t.MatchJoin, TTMatchJoin)
	def(&t.BatchInterval, TPEVBatchMsgInterval)
	def(&t.AttenResults, TTEVAttenResults)
	switch {
	case t.MatchRetry == 0:
		t.MatchRetry = CEVMatchRetry
	case t.MatchRetry < 0:
		t.MatchRetry = 0
	}
	return t
}
