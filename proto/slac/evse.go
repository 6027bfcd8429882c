package slac

import (
	"context"
	"log/slog"
	"time"

	"github.com/ccslink/ccslink/proto/homeplug"
)

// Defaults of Config.
const (
	// DefaultMaxAttempts caps the parallel attempts of cars that sounded:
	// ours and a few neighbours' (crosstalk).
	DefaultMaxAttempts = 8
	// DefaultPlausibleDB is the attenuation reported when the modem measured
	// nothing: the high end of a direct cable, so that a car hearing its own
	// charger's real, lower values still prefers that one.
	DefaultPlausibleDB = 30
	DefaultLinkPoll    = 500 * time.Millisecond // VS_PL_LNK_STATUS.REQ interval after the match
	// lastProfileWait is how long after the last sound the EVSE waits for the
	// modem's profile of it; QCA modems send it about 1 ms after the sound.
	lastProfileWait = 50 * time.Millisecond
	// maxPending is how many answered CM_SLAC_PARM.REQ the matcher remembers
	// until their senders start sounding. A flood only overwrites the oldest:
	// at 200 a second a car's request stays 1.28 s, three times
	// TT_match_sequence.
	maxPending = 256
	// warnEvery spaces the warnings a flood would repeat for every frame.
	warnEvery = 10 * time.Second
)

// Config configures the EVSE matcher; zero fields take defaults.
type Config struct {
	// MAC is the EVSE host's MAC, the source of its frames.
	MAC homeplug.MAC
	// ModemMAC is where CM_SET_KEY and VS_PL_LNK_STATUS go; zero means homeplug.LocalModemMAC.
	ModemMAC homeplug.MAC
	// Timing overrides ISO 15118-3 timers.
	Timing Timing
	// NumSounds is NUM_SOUNDS in CM_SLAC_PARM.CNF; zero means C_EV_match_MNBC.
	NumSounds uint8
	// MaxAttempts caps the parallel attempts of cars that started sounding;
	// zero means DefaultMaxAttempts. CM_SLAC_PARM.REQ not yet followed by
	// sounds are kept apart, in a fixed ring of the latest 256.
	MaxAttempts int
	// PlausibleDB is the attenuation sent when no profile arrived; zero means DefaultPlausibleDB.
	PlausibleDB uint8
	// LinkPoll is the interval of VS_PL_LNK_STATUS.REQ after the match; zero
	// means DefaultLinkPoll, negative means no polling: the matcher is done
	// once CM_SLAC_MATCH.CNF is sent.
	LinkPoll time.Duration
	// WatchPoll is the interval of VS_PL_LNK_STATUS.REQ during EVSE.Watch;
	// zero means DefaultWatchPoll.
	WatchPoll time.Duration
	// Presence bounds the car's silence during EVSE.Watch.
	Presence PresenceConfig
	// NewNMK makes the key of each session; nil means homeplug.NewNMK.
	NewNMK func() homeplug.NMK
	// Log receives what happened; nil means silence.
	Log *slog.Logger
	// IdentifyOnly, if set, is asked at a car's CM_SLAC_MATCH.REQ whether
	// the car (its host MAC) is to be identified by its MAC alone: then
	// the request is left unanswered, so that the car never joins and
	// falls back to basic AC charging, and the matcher is done with
	// Result.IdentifiedOnly set. Called from the matcher's goroutine.
	IdentifyOnly func(ev homeplug.MAC) bool
}

// evseState is the state of one matching attempt, named after ISO 15118-3's steps.
type evseState uint8

const (
	sounding         evseState = iota + 1 // TT_EVSE_match_MNBC running
	waitAttenCharRsp                      // ATTEN_CHAR.IND sent, TT_match_response running
	waitMatchReq                          // TT_EVSE_match_session running
	matched                               // MATCH.CNF sent
)

// pendingReq is a CM_SLAC_PARM.REQ answered whose sender has not started
// sounding (TT_match_sequence running). Only sounds make it an attempt: a
// request costs one slot of a fixed ring, so requests that are never
// followed by sounds (a neighbour's station, a flood, a spoofed RunID) hold
// back no car and disturb no attempt.
type pendingReq struct {
	at      time.Time
	ev      homeplug.MAC
	run     homeplug.RunID
	appType uint8
	secType uint8
	used    bool // its sender started sounding
}

// limiter lets a warning through at most once per warnEvery and counts the
// ones it held back.
type limiter struct {
	next time.Time
	held int
}

func (l *limiter) allow(now time.Time) (held int, ok bool) {
	if now.Before(l.next) {
		l.held++
		return 0, false
	}
	held, l.held, l.next = l.held, 0, now.Add(warnEvery)
	return held, true
}

// attempt is one car's matching, keyed by (EV MAC, RunID), from its first
// sound or CM_START_ATTEN_CHAR.IND on.
type attempt struct {
	ev        homeplug.MAC
	run       homeplug.RunID
	appType   uint8
	secType   uint8
	st        evseState
	start     time.Time // its CM_SLAC_PARM.REQ
	deadline  time.Time
	soundAt   time.Time // the sound window opened
	closedAt  time.Time // and closed, once past sounding
	windowEnd time.Time
	lastSound bool
	retries   int
	sounds    int
	profiles  int
	sum       [homeplug.NumAttenGroups]uint32
	cnt       [homeplug.NumAttenGroups]uint16
	avg       [homeplug.NumAttenGroups]byte
	plausible bool
	attenDB   float64
	refused   bool // a MATCH.REQ was refused as crosstalk
	t         Timings
}

// Matcher is the EVSE side of SLAC as a synchronous state machine: feed it
// received frames with Handle and let its timers run with Tick; both return
// the frames to send. It is not safe for concurrent use.
type Matcher struct {
	cfg     Config
	tm      Timing
	modem   homeplug.MAC
	initEnd time.Time
	// asked, if set, hears of every CM_SLAC_PARM.REQ answered (EVSE.LastRequest).
	asked    func(now time.Time)
	attempts []*attempt
	free     []*attempt
	// pending is a ring of the latest requests not yet followed by sounds,
	// oldest at pHead; all wait the same TT_match_sequence, so the oldest
	// expires first.
	pending     [maxPending]pendingReq
	pHead, pLen int
	quietFail   limiter // "no CM_START_ATTEN_CHAR.IND" warnings
	quietCap    limiter // "too many parallel attempts" warnings
	match       *attempt
	matchCnf    []byte
	joinEnd     time.Time
	pollAt      time.Time
	// The session key, keyed into the local modem when the session starts:
	// the modem restarts its network for 0.5-1 s after CM_SET_KEY, and a
	// MATCH.CNF sent in that time would be lost.
	nmk        homeplug.NMK
	nid        homeplug.NID
	keyPending bool
	keyAt      time.Time
	done       bool
	err        error
	lastFail   FailureError // Reason 0: no attempt failed
	res        Result
	out        outbox

	// Decoding scratch space, so that a matching does not allocate per frame.
	parmReq    homeplug.SlacParmReq
	startAtten homeplug.StartAttenCharInd
	sound      homeplug.MnbcSoundInd
	profile    homeplug.AttenProfileInd
	attenRsp   homeplug.AttenCharRsp
	validate   homeplug.ValidateReq
	matchReq   homeplug.SlacMatchReq
	setKeyCnf  homeplug.SetKeyCnf
	linkCnf    homeplug.PlLnkStatusCnf

	// Messages being sent, kept here so that encoding them does not allocate.
	parmCnf     homeplug.SlacParmCnf
	attenInd    homeplug.AttenCharInd
	validateCnf homeplug.ValidateCnf
	setKeyReq   homeplug.SetKeyReq
	matchCnfMsg homeplug.SlacMatchCnf
	linkReq     homeplug.PlLnkStatusReq
}

// NewMatcher returns a matcher that starts waiting for cars at now (when the
// charger starts 5 % PWM).
func NewMatcher(cfg Config, now time.Time) *Matcher {
	if cfg.NumSounds == 0 {
		cfg.NumSounds = CEVMatchMNBC
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.PlausibleDB == 0 {
		cfg.PlausibleDB = DefaultPlausibleDB
	}
	if cfg.LinkPoll == 0 {
		cfg.LinkPoll = DefaultLinkPoll
	}
	if cfg.NewNMK == nil {
		cfg.NewNMK = homeplug.NewNMK
	}
	m := &Matcher{cfg: cfg, tm: cfg.Timing.withDefaults(), modem: cfg.ModemMAC}
	if m.modem == (homeplug.MAC{}) {
		m.modem = homeplug.LocalModemMAC
	}
	m.Reset(now)
	return m
}

// Reset starts a new session at now with the same configuration, reusing the
// matcher's memory: a charger that keeps one matcher does not allocate per car.
func (m *Matcher) Reset(now time.Time) {
	for len(m.attempts) > 0 {
		m.remove(len(m.attempts) - 1)
	}
	m.pHead, m.pLen = 0, 0
	m.quietFail, m.quietCap = limiter{}, limiter{}
	m.match = nil
	m.matchCnf = m.matchCnf[:0]
	m.done, m.err, m.lastFail = false, nil, FailureError{}
	m.initEnd = now.Add(m.tm.SLACInit)
	m.res = Result{EVSEMAC: m.cfg.MAC}
	m.nmk = m.cfg.NewNMK()
	m.nid = m.nmk.NID()
	m.keyPending, m.keyAt = true, now
}

// Done reports whether the matcher has finished: matched and joined (or
// TT_match_join passed), or failed.
func (m *Matcher) Done() bool { return m.done }

// Err returns why the matcher failed, a *FailureError: no car within
// TT_EVSE_SLAC_init (ErrNoCar), or no link within TT_match_join
// (ErrLinkTimeout, with the Result still valid); nil otherwise.
func (m *Matcher) Err() error { return m.err }

// LinkUp tells the matcher that the link is up by evidence it cannot see
// itself, such as the car's first IPv6 frame; a matched matcher is then done.
func (m *Matcher) LinkUp(now time.Time) {
	if m.match == nil || m.done {
		return
	}
	m.res.LinkUp = true
	m.res.Timings.LinkUp = now.Sub(m.res.Timings.Start)
	m.done = true
}

// Active returns the number of attempts in progress whose cars started
// sounding, at most Config.MaxAttempts.
func (m *Matcher) Active() int { return len(m.attempts) }

// Pending returns the number of CM_SLAC_PARM.REQ answered whose senders
// have not started sounding and whose TT_match_sequence still runs, at most
// 256 however fast they come.
func (m *Matcher) Pending() int {
	n := 0
	for i := range m.pLen {
		if !m.pending[(m.pHead+i)%maxPending].used {
			n++
		}
	}
	return n
}

// Failure returns why the last failed attempt failed, a *FailureError
// wrapping ErrNoMatch, or nil if none did. Attempts fail while the matcher
// goes on waiting for the car to retry.
func (m *Matcher) Failure() error {
	if m.lastFail.Reason == 0 {
		return nil
	}
	f := m.lastFail
	return &f
}

// interrupted returns why the matcher had not succeeded when its caller
// stopped waiting with cause: the last failed attempt, or else the step an
// attempt in progress waited for, or no car at all.
func (m *Matcher) interrupted(now time.Time, cause error) error {
	if m.err != nil {
		return m.err
	}
	// A car that sounded tells more than a request that never did (under a
	// flood, that is a stranger's).
	f := FailureError{Reason: ReasonNoCar, At: now, Err: cause}
	switch {
	case m.match != nil:
		f.Reason, f.EV = ReasonLinkTimeout, m.match.ev
	case m.lastFail.Reason != 0 && m.lastFail.Reason != ReasonNoStartAttenChar:
		f = m.lastFail
		f.Err = cause
	case len(m.attempts) > 0:
		f.Reason, f.EV = ReasonNoMatchReq, m.attempts[len(m.attempts)-1].ev
	case m.lastFail.Reason != 0:
		f = m.lastFail
		f.Err = cause
	case m.pLen > 0:
		f.Reason, f.EV = ReasonNoStartAttenChar, m.pending[(m.pHead+m.pLen-1)%maxPending].ev
	}
	return &f
}

// Result returns the matching's result; ok is false until CM_SLAC_MATCH.CNF is sent.
func (m *Matcher) Result() (r Result, ok bool) { return m.res, m.match != nil }

// Deadline returns when Tick must next be called; ok is false when no timer
// runs: the matcher is done, or a car's attempts failed and it waits for the
// car to start again (cars retry, VW after up to 30 s), for as long as its
// caller lets it.
func (m *Matcher) Deadline() (t time.Time, ok bool) {
	if m.done {
		return time.Time{}, false
	}
	if m.keyPending {
		return m.keyAt, true
	}
	if m.match != nil {
		t = m.joinEnd
		if m.cfg.LinkPoll > 0 && m.pollAt.Before(t) {
			t = m.pollAt
		}
		return t, true
	}
	if m.res.Attempts == 0 {
		t, ok = m.initEnd, true
	}
	for _, a := range m.attempts {
		if !ok || a.deadline.Before(t) {
			t, ok = a.deadline, true
		}
	}
	if m.pLen > 0 {
		// The oldest request expires first.
		if d := m.pending[m.pHead].at.Add(m.tm.MatchSequence); !ok || d.Before(t) {
			t, ok = d, true
		}
	}
	return t, ok
}

// Tick runs the timers due at now and returns the frames to send. The frames
// stay valid until the next call of Tick or Handle.
func (m *Matcher) Tick(now time.Time) [][]byte {
	m.out.reset()
	m.tick(now)
	return m.out.result()
}

// Handle processes one received frame at now and returns the frames to send,
// in order. Frames of other types, other destinations and malformed frames
// are ignored. The frames returned stay valid until the next call.
func (m *Matcher) Handle(now time.Time, frame []byte) [][]byte {
	m.out.reset()
	m.tick(now)
	if !m.done || m.match != nil {
		m.handle(now, frame)
	}
	return m.out.result()
}

func (m *Matcher) handle(now time.Time, frame []byte) {
	h, p, err := homeplug.DecodeHeader(frame)
	if err != nil || h.FMI != 0 || h.Src == m.cfg.MAC {
		return
	}
	if h.Dst != m.cfg.MAC && !h.Dst.IsGroup() {
		return
	}
	switch h.MMType {
	case homeplug.CMSlacParmReq:
		if m.parmReq.DecodePayload(p) == nil {
			m.onParmReq(now, h)
		}
	case homeplug.CMStartAttenCharInd:
		if m.startAtten.DecodePayload(p) == nil {
			if a := m.find(h.Src, m.startAtten.RunID); a == nil || a.st != sounding {
				m.startSounding(now, h.Src, m.startAtten.RunID)
			}
		}
	case homeplug.CMMnbcSoundInd:
		if m.sound.DecodePayload(p) == nil {
			m.onSound(now, h)
		}
	case homeplug.CMAttenProfileInd:
		if m.profile.DecodePayload(p) == nil {
			m.onProfile(now)
		}
	case homeplug.CMAttenCharRsp:
		if m.attenRsp.DecodePayload(p) == nil {
			m.onAttenRsp(now, h)
		}
	case homeplug.CMValidateReq:
		if m.validate.DecodePayload(p) == nil {
			m.onValidate(h)
		}
	case homeplug.CMSlacMatchReq:
		if m.matchReq.DecodePayload(p) == nil {
			m.onMatchReq(now, h)
		}
	case homeplug.CMSetKeyCnf:
		if m.setKeyCnf.DecodePayload(p) == nil {
			// QCA firmware answers 0x01 when the key was applied.
			m.res.Keyed = m.setKeyCnf.Result <= 0x01
			if m.cfg.Log != nil {
				// Every 50 s while no car comes: worth a line only when it failed.
				level := slog.LevelDebug
				if !m.res.Keyed {
					level = slog.LevelWarn
				}
				m.logf(level, "modem keyed", "result", m.setKeyCnf.Result)
			}
		}
	case homeplug.VSPlLnkStatusCnf:
		if h.OUI == homeplug.QualcommOUI && m.linkCnf.DecodePayload(p) == nil && m.match != nil && !m.done &&
			m.linkCnf.LinkStatus == homeplug.LinkUp {
			m.LinkUp(now)
			if m.cfg.Log != nil {
				m.logf(slog.LevelInfo, "link up", "ev", m.res.EVMAC, "after", m.res.Timings.LinkUp)
			}
		}
	}
}

func (m *Matcher) onParmReq(now time.Time, h homeplug.Header) {
	req := &m.parmReq
	if m.match != nil || m.done || req.ApplicationType != homeplug.ApplicationTypePEVEVSE {
		// Once matched, other cars (crosstalk) and restarts are not ours to answer.
		return
	}
	// Every request is answered at once (one CNF per REQ, never more): a
	// car's cannot be told from a stranger's until it sounds. It becomes an
	// attempt only then, so a request, even with the MAC of a car that is
	// sounding, changes nothing until its own sounds come (a Stellantis car
	// restarting midway sounds at once with its new RunID).
	if m.pLen == maxPending {
		m.expireOldest(now, false)
		m.trimPending()
	}
	p := &m.pending[(m.pHead+m.pLen)%maxPending]
	m.pLen++
	*p = pendingReq{at: now, ev: h.Src, run: req.RunID, appType: req.ApplicationType, secType: req.SecurityType}
	m.res.Attempts++
	if m.asked != nil {
		m.asked(now)
	}
	m.parmCnf = homeplug.SlacParmCnf{
		MSoundTarget:    homeplug.BroadcastMAC,
		NumSounds:       m.cfg.NumSounds,
		TimeOut:         uint8(m.tm.MatchMNBC / (100 * time.Millisecond)),
		RespType:        homeplug.RespTypeOtherGP,
		ForwardingSTA:   h.Src,
		ApplicationType: p.appType,
		SecurityType:    p.secType,
		RunID:           p.run, // echoed exactly: the Taycan gives up otherwise
	}
	m.out.add(h.Src, m.cfg.MAC, &m.parmCnf)
	if m.logs(slog.LevelDebug) {
		m.logf(slog.LevelDebug, "CM_SLAC_PARM.REQ answered", "ev", h.Src, "run", p.run)
	}
}

// expireOldest drops the oldest pending request: its TT_match_sequence
// ended (expired), or the ring is full and a newer one needs its place.
func (m *Matcher) expireOldest(now time.Time, expired bool) {
	p := m.pending[m.pHead]
	m.pHead = (m.pHead + 1) % maxPending
	m.pLen--
	if p.used {
		return
	}
	m.res.Unsounded++
	if !expired {
		return
	}
	// A car that sounded and failed says more than a request never
	// followed (under a flood, a stranger's): keep its failure.
	if m.lastFail.Reason == 0 || m.lastFail.Reason == ReasonNoStartAttenChar {
		m.lastFail = FailureError{Reason: ReasonNoStartAttenChar, EV: p.ev, At: now}
	}
	if held, ok := m.quietFail.allow(now); ok && m.logs(slog.LevelWarn) {
		m.logf(slog.LevelWarn, "attempt failed", "ev", p.ev, "reason", ReasonNoStartAttenChar.String(),
			"similar_since_last", held)
	}
}

// trimPending drops the requests at the head of the ring that became
// attempts, so that the head is always a request still waiting, whose
// expiry is the matcher's next deadline.
func (m *Matcher) trimPending() {
	for m.pLen > 0 && m.pending[m.pHead].used {
		m.pHead = (m.pHead + 1) % maxPending
		m.pLen--
	}
}

// startSounding makes the pending request (ev, run) an attempt whose sound
// window opens at now; it returns nil when there is no such request. The
// car's older attempts end there: a car that sounds with a new RunID
// restarted (Stellantis cars do), and so did one that asks again with the
// same RunID (Tesla's is always "TESLA EV").
func (m *Matcher) startSounding(now time.Time, ev homeplug.MAC, run homeplug.RunID) *attempt {
	var p pendingReq
	found := false
	for i := m.pLen - 1; i >= 0 && !found; i-- {
		// The newest: a car repeats its request when our CNF is lost.
		p = m.pending[(m.pHead+i)%maxPending]
		found = !p.used && p.ev == ev && p.run == run && now.Before(p.at.Add(m.tm.MatchSequence))
	}
	if !found {
		return nil
	}
	for i := 0; i < len(m.attempts); {
		if m.attempts[i].ev == ev {
			m.res.Restarts++
			m.remove(i)
			continue
		}
		i++
	}
	if len(m.attempts) >= m.cfg.MaxAttempts {
		if held, ok := m.quietCap.allow(now); ok && m.logs(slog.LevelWarn) {
			m.logf(slog.LevelWarn, "too many cars sounding at once, one ignored", "ev", ev, "similar_since_last", held)
		}
		return nil
	}
	// The matching starts at the car's first request of it: a car whose CNF
	// was lost asks again, and the time it waited is part of the matching.
	first := p.at
	for i := range m.pLen {
		// The car's repeats of this request were followed by sounds too.
		if q := &m.pending[(m.pHead+i)%maxPending]; q.ev == ev && q.run == run {
			if !q.used && q.at.Before(first) {
				first = q.at
			}
			q.used = true
		}
	}
	m.trimPending()
	a := m.alloc()
	a.ev, a.run, a.appType, a.secType = p.ev, p.run, p.appType, p.secType
	a.start = first
	a.t.Start = first
	a.st = sounding
	a.soundAt = now
	a.t.Sounding = now.Sub(a.start)
	a.windowEnd = now.Add(m.tm.MatchMNBC)
	a.deadline = a.windowEnd
	m.attempts = append(m.attempts, a)
	return a
}

func (m *Matcher) onSound(now time.Time, h homeplug.Header) {
	a := m.find(h.Src, m.sound.RunID)
	if a == nil || a.st != sounding {
		// CM_START_ATTEN_CHAR.IND was lost; the sounds say the same.
		if a = m.startSounding(now, h.Src, m.sound.RunID); a == nil {
			return
		}
	}
	a.sounds++
	if m.sound.Cnt == 0 {
		a.lastSound = true
		// Wait for the last profile only from a modem that sends them.
		if a.profiles >= a.sounds || a.profiles == 0 {
			m.endSounding(now, a)
			return
		}
		if t := now.Add(lastProfileWait); t.Before(a.deadline) {
			a.deadline = t
		}
	}
}

func (m *Matcher) onProfile(now time.Time) {
	p := &m.profile
	if len(p.AAG) == 0 {
		return // some modems send empty profiles: nothing measured
	}
	for _, a := range m.attempts {
		if a.ev != p.PEVMAC || a.st != sounding {
			continue
		}
		if a.profiles == 255 {
			return // more profiles than a car sends sounds: a flood, not a measurement
		}
		n := min(len(p.AAG), len(a.sum))
		for i := range n {
			a.sum[i] += uint32(p.AAG[i])
			a.cnt[i]++
		}
		a.profiles++
		if a.lastSound && a.profiles >= a.sounds {
			m.endSounding(now, a)
		}
		return
	}
}

// endSounding closes the sound window and sends CM_ATTEN_CHAR.IND, whatever
// arrived: missing sounds or profiles must not stall the car.
func (m *Matcher) endSounding(now time.Time, a *attempt) {
	total := 0
	for i := range a.avg {
		if a.cnt[i] == 0 {
			a.avg[i] = m.cfg.PlausibleDB
		} else {
			a.avg[i] = byte((a.sum[i] + uint32(a.cnt[i])/2) / uint32(a.cnt[i]))
		}
		total += int(a.avg[i])
	}
	a.attenDB = float64(total) / float64(len(a.avg))
	a.plausible = a.profiles == 0
	if a.plausible {
		if m.cfg.Log != nil {
			m.logf(slog.LevelWarn, "modem sent no attenuation profile: sending plausible values", "ev", a.ev, "db", m.cfg.PlausibleDB)
		}
	}
	a.st = waitAttenCharRsp
	a.closedAt = now
	a.retries = 0
	a.t.AttenChar = now.Sub(a.start)
	a.deadline = now.Add(m.tm.MatchResponse)
	m.sendAttenChar(a)
}

func (m *Matcher) sendAttenChar(a *attempt) {
	m.attenInd = homeplug.AttenCharInd{
		ApplicationType: a.appType,
		SecurityType:    a.secType,
		SourceAddress:   a.ev,
		RunID:           a.run,
		NumSounds:       uint8(min(a.sounds, 255)),
		AAG:             a.avg[:],
	}
	m.out.add(a.ev, m.cfg.MAC, &m.attenInd)
}

func (m *Matcher) onAttenRsp(now time.Time, h homeplug.Header) {
	a := m.find(h.Src, m.attenRsp.RunID)
	if a == nil || a.st != waitAttenCharRsp {
		return
	}
	if m.attenRsp.Result != 0 {
		m.fail(now, m.index(a), ReasonAttenCharRejected)
		return
	}
	a.t.AttenRsp = now.Sub(a.start)
	a.st = waitMatchReq
	a.deadline = now.Add(m.tm.MatchSession)
}

func (m *Matcher) onValidate(h homeplug.Header) {
	for _, a := range m.attempts {
		if a.ev == h.Src && (a.st == waitAttenCharRsp || a.st == waitMatchReq) {
			m.validateCnf = homeplug.ValidateCnf{SignalType: m.validate.SignalType, Result: homeplug.ValidateNotRequired}
			m.out.add(h.Src, m.cfg.MAC, &m.validateCnf)
			return
		}
	}
}

func (m *Matcher) onMatchReq(now time.Time, h homeplug.Header) {
	req := &m.matchReq
	if m.match != nil {
		if m.res.IdentifiedOnly {
			return // left unanswered, however often the car asks
		}
		if h.Src == m.match.ev && req.RunID == m.match.run {
			// The car missed our CNF: the same one again, same key.
			m.out.addRaw(m.matchCnf)
			m.res.Duplicates++
		}
		return
	}
	a := m.find(h.Src, req.RunID)
	if a == nil || (a.st != waitAttenCharRsp && a.st != waitMatchReq) {
		return
	}
	if h.Dst != m.cfg.MAC && req.EVSEMAC != m.cfg.MAC {
		return // the car chose another charger
	}
	if m.crosstalk(a) {
		return
	}
	a.refused = false
	if a.st == waitAttenCharRsp {
		a.t.AttenRsp = now.Sub(a.start) // the RSP was lost; the REQ implies it
	}
	a.t.MatchReq = now.Sub(a.start)
	if m.cfg.IdentifyOnly != nil && m.cfg.IdentifyOnly(a.ev) {
		m.identified(a)
		return
	}
	// The local modem holds this key since the session started, so the
	// network the car looks for already exists.
	nmk, nid := m.nmk, m.nid
	start := len(m.out.buf)
	m.matchCnfMsg = homeplug.SlacMatchCnf{
		ApplicationType: a.appType,
		SecurityType:    a.secType,
		PEVID:           req.PEVID,
		PEVMAC:          req.PEVMAC,
		EVSEID:          req.EVSEID,
		EVSEMAC:         m.cfg.MAC,
		RunID:           a.run,
		NID:             nid,
		NMK:             nmk,
	}
	m.out.add(h.Src, m.cfg.MAC, &m.matchCnfMsg)
	m.matchCnf = append(m.matchCnf[:0], m.out.buf[start:]...)
	a.st = matched
	a.t.MatchCnf = now.Sub(a.start)
	m.match = a
	m.pHead, m.pLen = 0, 0
	for i := 0; i < len(m.attempts); {
		if m.attempts[i] != a {
			m.remove(i)
			continue
		}
		i++
	}
	m.res.EVMAC, m.res.RunID, m.res.NID, m.res.NMK = a.ev, a.run, nid, nmk
	m.res.Sounds, m.res.Profiles = a.sounds, a.profiles
	m.res.AttenuationDB, m.res.Plausible = a.attenDB, a.plausible
	m.res.Timings = a.t
	if m.cfg.Log != nil {
		m.logf(slog.LevelInfo, "matched", "ev", a.ev, "run", a.run, "nid", nid, "sounds", a.sounds,
			"attenuation_db", a.attenDB, "plausible", a.plausible)
	}
	if m.cfg.LinkPoll < 0 {
		m.done = true
		return
	}
	m.joinEnd = now.Add(m.tm.MatchJoin)
	m.pollAt = now.Add(m.cfg.LinkPoll)
}

// identified ends the matching with the car of a known by its MAC alone:
// no CM_SLAC_MATCH.CNF, no key given, the matcher done.
func (m *Matcher) identified(a *attempt) {
	m.res.EVMAC, m.res.RunID = a.ev, a.run
	m.res.Sounds, m.res.Profiles = a.sounds, a.profiles
	m.res.AttenuationDB, m.res.Plausible = a.attenDB, a.plausible
	m.res.Timings = a.t
	m.res.IdentifiedOnly = true
	m.match = a
	m.matchCnf = m.matchCnf[:0]
	m.done = true
	if m.cfg.Log != nil {
		m.logf(slog.LevelInfo, "identified by its MAC; CM_SLAC_MATCH.REQ left unanswered, so the car charges on basic AC", "ev", a.ev, "run", a.run)
	}
}

// CrosstalkMarginDB is how much weaker than another car sounding here at the
// same time a car's signal must be to count as a neighbour's car on the same
// cable bundle (crosstalk), whose CM_SLAC_MATCH.REQ is not answered.
const CrosstalkMarginDB = 10

// crosstalk reports whether a's MATCH.REQ must wait (another car whose
// sounds overlapped a's is still being measured; the car repeats its
// request) or be refused (such a car is much closer: a is a neighbour's car
// whose own charger did not answer). Only cars that sounded count: a
// request never followed by sounds, or sounds after a's window closed,
// cannot make a a neighbour.
func (m *Matcher) crosstalk(a *attempt) bool {
	for _, o := range m.attempts {
		if o == a || o.ev == a.ev || !o.soundAt.Before(a.closedAt) {
			continue
		}
		switch o.st {
		case sounding:
			if m.logs(slog.LevelInfo) {
				m.logf(slog.LevelInfo, "MATCH.REQ deferred: another car sounding at the same time is being measured", "ev", a.ev, "other", o.ev)
			}
			return true
		case waitAttenCharRsp, waitMatchReq:
			if a.soundAt.Before(o.closedAt) && !o.plausible && !a.plausible && a.attenDB >= o.attenDB+CrosstalkMarginDB {
				if m.logs(slog.LevelWarn) {
					m.logf(slog.LevelWarn, "MATCH.REQ refused: crosstalk from a neighbour's car", "ev", a.ev,
						"attenuation_db", a.attenDB, "closer", o.ev, "closer_db", o.attenDB)
				}
				a.refused = true
				return true
			}
		}
	}
	return false
}

func (m *Matcher) tick(now time.Time) {
	if m.done {
		return
	}
	if m.keyPending {
		m.setKeyReq = homeplug.NewSetKeyReq(m.nmk)
		m.out.add(m.modem, m.cfg.MAC, &m.setKeyReq)
		m.keyPending = false
	}
	if m.match != nil {
		if !now.Before(m.joinEnd) {
			m.done = true
			m.err = &FailureError{Reason: ReasonLinkTimeout, EV: m.match.ev, At: now}
			if m.cfg.Log != nil {
				m.logf(slog.LevelWarn, "no link within TT_match_join", "ev", m.match.ev)
			}
			return
		}
		if m.cfg.LinkPoll > 0 && !now.Before(m.pollAt) {
			m.out.add(m.modem, m.cfg.MAC, &m.linkReq)
			m.pollAt = now.Add(m.cfg.LinkPoll)
		}
		return
	}
	for m.pLen > 0 && !now.Before(m.pending[m.pHead].at.Add(m.tm.MatchSequence)) {
		m.expireOldest(now, true)
		m.trimPending()
	}
	for i := 0; i < len(m.attempts); {
		a := m.attempts[i]
		if now.Before(a.deadline) {
			i++
			continue
		}
		switch a.st {
		case sounding:
			m.endSounding(now, a)
		case waitAttenCharRsp:
			if a.retries < m.tm.MatchRetry {
				a.retries++
				a.deadline = now.Add(m.tm.MatchResponse)
				m.sendAttenChar(a)
			} else {
				// The RSP may be lost while the car still chooses us: keep
				// waiting for its MATCH.REQ instead of failing.
				a.st = waitMatchReq
				a.deadline = now.Add(m.tm.MatchSession)
			}
		case waitMatchReq:
			r := ReasonNoMatchReq
			if a.refused {
				r = ReasonCrosstalk
			}
			m.fail(now, i, r)
			continue
		}
		i++
	}
	if m.res.Attempts == 0 && !now.Before(m.initEnd) {
		m.done = true
		m.err = &FailureError{Reason: ReasonNoCar, At: now}
	}
}

func (m *Matcher) find(ev homeplug.MAC, run homeplug.RunID) *attempt {
	for _, a := range m.attempts {
		if a.ev == ev && a.run == run {
			return a
		}
	}
	return nil
}

func (m *Matcher) index(a *attempt) int {
	for i, x := range m.attempts {
		if x == a {
			return i
		}
	}
	return -1
}

func (m *Matcher) fail(now time.Time, i int, r Reason) {
	m.lastFail = FailureError{Reason: r, EV: m.attempts[i].ev, At: now}
	if m.logs(slog.LevelWarn) {
		m.logf(slog.LevelWarn, "attempt failed", "ev", m.attempts[i].ev, "reason", r.String())
	}
	m.remove(i)
}

func (m *Matcher) remove(i int) {
	a := m.attempts[i]
	m.attempts = append(m.attempts[:i], m.attempts[i+1:]...)
	m.attempts[len(m.attempts):cap(m.attempts)][0] = nil
	m.free = append(m.free, a)
}

func (m *Matcher) alloc() *attempt {
	if n := len(m.free); n > 0 {
		a := m.free[n-1]
		m.free = m.free[:n-1]
		*a = attempt{}
		return a
	}
	return new(attempt)
}

// logs reports whether Config.Log takes level: callers ask first, because
// a log call's arguments allocate even when nobody logs, and a flood's
// frames must not.
func (m *Matcher) logs(level slog.Level) bool {
	return m.cfg.Log != nil && m.cfg.Log.Enabled(context.Background(), level)
}

// logf logs through Config.Log; callers check logs first.
func (m *Matcher) logf(level slog.Level, msg string, args ...any) {
	m.cfg.Log.Log(context.Background(), level, msg, args...)
}
