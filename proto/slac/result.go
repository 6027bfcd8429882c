package slac

import (
	"time"

	"github.com/ccslink/ccslink/proto/homeplug"
)

// Result describes one matching, as the EVSE or the PEV saw it.
type Result struct {
	EVMAC   homeplug.MAC   // the car's host MAC
	EVSEMAC homeplug.MAC   // the charger's host MAC
	RunID   homeplug.RunID // the RunID the car chose
	NID     homeplug.NID   // the network of the matched pair
	NMK     homeplug.NMK   // the key of that network; keep it out of logs
	// Sounds is the number of CM_MNBC_SOUND.IND received (EVSE) or reported in
	// CM_ATTEN_CHAR.IND (PEV).
	Sounds int
	// Profiles is the number of CM_ATTEN_PROFILE.IND averaged (EVSE only).
	Profiles int
	// AttenuationDB is the mean of the averaged attenuation over all groups.
	AttenuationDB float64
	// Plausible reports that the modem sent no attenuation profile, so the
	// attenuation sent to the car is made up, not measured.
	Plausible bool
	// Keyed reports that the local modem confirmed CM_SET_KEY.REQ.
	Keyed bool
	// LinkUp reports that the modem confirmed a powerline link after the match.
	LinkUp bool
	// Attempts counts the CM_SLAC_PARM.REQ answered, from all senders (EVSE).
	Attempts int
	// Unsounded counts the CM_SLAC_PARM.REQ whose senders never started
	// sounding within TT_match_sequence: a neighbour's station, a flood, or a
	// car that gave up (EVSE).
	Unsounded int
	// Restarts counts attempts a car replaced by sounding again after a new
	// CM_SLAC_PARM.REQ (EVSE).
	Restarts int
	// Duplicates counts repeated CM_SLAC_MATCH.REQ answered again (EVSE).
	Duplicates int
	// IdentifiedOnly reports that the car's CM_SLAC_MATCH.REQ was left
	// unanswered (Config.IdentifyOnly): the car is known by EVMAC, it
	// never joins, and NID and NMK are zero (EVSE).
	IdentifiedOnly bool
	// Timings of the steps, counted from the CM_SLAC_PARM.REQ of this attempt.
	Timings Timings
}

// Timings are the moments of a matching's steps, measured from its
// CM_SLAC_PARM.REQ; a step that did not happen is zero.
type Timings struct {
	Start     time.Time     // the car's first CM_SLAC_PARM.REQ of the matching, sent or received
	Sounding  time.Duration // CM_START_ATTEN_CHAR.IND (or the first sound)
	AttenChar time.Duration // CM_ATTEN_CHAR.IND sent or received
	AttenRsp  time.Duration // CM_ATTEN_CHAR.RSP received or sent
	MatchReq  time.Duration // CM_SLAC_MATCH.REQ received or sent
	MatchCnf  time.Duration // CM_SLAC_MATCH.CNF sent or received
	LinkUp    time.Duration // VS_PL_LNK_STATUS.CNF reporting a link
}
