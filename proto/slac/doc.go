// Package slac implements ISO 15118-3 SLAC (signal level attenuation
// characterization): how a charger (EVSE) and a car (PEV) find each other on
// the charging cable and put their HomePlug Green PHY modems into a private
// network with a fresh key.
//
// Matcher is the EVSE side and PEV the car's side. Both are synchronous state
// machines: Handle takes a received frame, Tick runs the timers that are due,
// Deadline says when the next one is; each returns the frames to send. They
// never read a clock or block, so tests drive them frame by frame with any
// timing. Run drives either one over a Port (a raw socket, an in-memory link)
// with a clock.Clock; clock.Fake lets tests move time by hand.
//
// The matcher follows ISO 15118-3 and what real cars need:
//   - every CM_SLAC_PARM.REQ is answered, but only sounds (or
//     CM_START_ATTEN_CHAR.IND) make it an attempt: until then it is one slot
//     of a fixed ring of the latest 256, so a flood of requests that are
//     never followed by sounds costs no memory, holds back no car and
//     disturbs no attempt;
//   - attempts run in parallel, keyed by (EV MAC, RunID), at most
//     Config.MaxAttempts cars sounding; a car that sounds again after a new
//     CM_SLAC_PARM.REQ restarts its attempt (Stellantis cars restart in the
//     middle), and a request with the car's MAC that is not followed by
//     sounds leaves the car's attempt alone (a spoofed RunID);
//   - a car is refused as crosstalk when another car that sounded at the
//     same time was 10 dB closer; its MATCH.REQ waits while such a car is
//     still sounding;
//   - every answer echoes the car's RunID exactly (the Porsche Taycan gives up
//     otherwise);
//   - CM_ATTEN_CHAR.IND goes out when the last sound's profile is in or when
//     TT_EVSE_match_MNBC ends, whatever is missing; it carries the modem's
//     CM_ATTEN_PROFILE.IND values averaged per group, or plausible values
//     (Result.Plausible) when the modem sent none;
//   - CM_ATTEN_CHAR.IND is resent C_EV_match_retry times; a car whose
//     CM_ATTEN_CHAR.RSP got lost may still send CM_SLAC_MATCH.REQ;
//   - CM_SLAC_MATCH.REQ gets a fresh NMK and its NID, after CM_SET_KEY.REQ
//     keyed the local modem with it; a repeated MATCH.REQ gets the same CNF;
//   - once matched, other cars are ignored; the matcher polls
//     VS_PL_LNK_STATUS until the modem reports the link, or TT_match_join ends.
//
// EVSE is the matcher inside a long-running charger: Match keys the modem
// with a fresh key and waits for a car, Watch polls the modem's link status
// until the car's link goes, CarGone and LinkEvidence carry what the charger
// sees on the control pilot and in the car's IPv6; then Match again for the
// next car, in the same process, with no goroutine left behind.
//
// Failures are *FailureError values whose Reason names the step; errors.Is
// finds their sentinels (ErrNoCar, ErrNoMatch, ErrLinkTimeout, ErrLinkLost,
// ErrCarGone). A failing interface is a *PortError.
//
// CM_VALIDATE.REQ is answered "not required": this charger does not toggle
// the control pilot.
package slac
