package slac

import (
	"context"
	"crypto/rand"
	"log/slog"
	"time"

	"github.com/ccslink/ccslink/proto/homeplug"
)

// PEVConfig configures the car's side; zero fields take defaults.
type PEVConfig struct {
	// MAC is the car host's MAC, the source of its frames.
	MAC homeplug.MAC
	// ModemMAC is where CM_SET_KEY goes; zero means homeplug.LocalModemMAC.
	ModemMAC homeplug.MAC
	// RunID identifies the matching; zero means 8 random bytes.
	RunID homeplug.RunID
	// NumSounds is how many CM_MNBC_SOUND.IND to send; zero means C_EV_match_MNBC.
	NumSounds uint8
	// Timing overrides ISO 15118-3 timers.
	Timing Timing
	// Log receives what happened; nil means silence.
	Log *slog.Logger
}

type pevState uint8

const (
	pevParm          pevState = iota + 1 // sending CM_SLAC_PARM.REQ, waiting for the CNF
	pevStartAtten                        // sending CM_START_ATTEN_CHAR.IND
	pevSounding                          // sending CM_MNBC_SOUND.IND
	pevWaitAttenChar                     // TT_EV_atten_results running
	pevWaitMatchCnf                      // MATCH.REQ sent, TT_match_response running
	pevDone
)

// startAttenRepeats is how often the car announces its sounds; cars send 3.
const startAttenRepeats = 3

// PEV is the car's side of SLAC as a synchronous state machine, for the
// simulator and tests; it is driven like Matcher. It sends CM_SLAC_PARM.REQ at
// its first Tick, sounds, picks the charger with the lowest attenuation,
// matches and keys its modem.
type PEV struct {
	cfg        PEVConfig
	tm         Timing
	modem      homeplug.MAC
	st         pevState
	deadline   time.Time
	retries    int
	sent       int
	attenStart time.Time
	haveBest   bool
	best       homeplug.MAC
	bestDB     float64
	done       bool
	err        error
	res        Result
	out        outbox

	parmCnf  homeplug.SlacParmCnf
	attenInd homeplug.AttenCharInd
	matchCnf homeplug.SlacMatchCnf
}

// NewPEV returns the car's state machine; its first Tick, due at now, sends
// CM_SLAC_PARM.REQ.
func NewPEV(cfg PEVConfig, now time.Time) *PEV {
	if cfg.NumSounds == 0 {
		cfg.NumSounds = CEVMatchMNBC
	}
	if cfg.RunID == (homeplug.RunID{}) {
		rand.Read(cfg.RunID[:])
	}
	p := &PEV{cfg: cfg, tm: cfg.Timing.withDefaults(), modem: cfg.ModemMAC, st: pevParm, deadline: now}
	if p.modem == (homeplug.MAC{}) {
		p.modem = homeplug.LocalModemMAC
	}
	p.res.EVMAC, p.res.RunID = cfg.MAC, cfg.RunID
	p.res.Timings.Start = now
	return p
}

// Done reports whether the car has matched and keyed its modem, or failed.
func (p *PEV) Done() bool { return p.done }

// Err returns why the car failed to match, a *FailureError wrapping
// ErrNoMatch, or nil.
func (p *PEV) Err() error { return p.err }

// Result returns the car's view of the matching; ok once CM_SLAC_MATCH.CNF arrived.
func (p *PEV) Result() (r Result, ok bool) { return p.res, p.done && p.err == nil }

// Deadline returns when Tick must next be called; ok is false when done.
func (p *PEV) Deadline() (time.Time, bool) { return p.deadline, !p.done }

// Tick runs the timers due at now and returns the frames to send; they stay
// valid until the next call of Tick or Handle.
func (p *PEV) Tick(now time.Time) [][]byte {
	p.out.reset()
	p.tick(now)
	return p.out.result()
}

// Handle processes one received frame at now and returns the frames to send.
func (p *PEV) Handle(now time.Time, frame []byte) [][]byte {
	p.out.reset()
	p.tick(now)
	if !p.done {
		p.handle(now, frame)
	}
	return p.out.result()
}

func (p *PEV) since(now time.Time) time.Duration { return now.Sub(p.res.Timings.Start) }

func (p *PEV) tick(now time.Time) {
	for !p.done && !now.Before(p.deadline) {
		switch p.st {
		case pevParm:
			if p.retries > p.tm.MatchRetry {
				p.fail(now, ReasonNoParmCnf)
				return
			}
			p.retries++
			p.out.add(homeplug.BroadcastMAC, p.cfg.MAC, &homeplug.SlacParmReq{RunID: p.cfg.RunID})
			p.deadline = now.Add(p.tm.MatchResponse)
		case pevStartAtten:
			if p.sent == 0 {
				p.attenStart = now
				p.res.Timings.Sounding = p.since(now)
			}
			p.out.add(homeplug.BroadcastMAC, p.cfg.MAC, &homeplug.StartAttenCharInd{
				NumSounds:     p.cfg.NumSounds,
				TimeOut:       uint8(p.tm.MatchMNBC / (100 * time.Millisecond)),
				RespType:      homeplug.RespTypeOtherGP,
				ForwardingSTA: p.cfg.MAC,
				RunID:         p.cfg.RunID,
			})
			p.sent++
			if p.sent == startAttenRepeats {
				p.st, p.sent = pevSounding, 0
			}
			p.deadline = now.Add(p.tm.BatchInterval)
		case pevSounding:
			s := homeplug.MnbcSoundInd{Cnt: p.cfg.NumSounds - 1 - uint8(p.sent), RunID: p.cfg.RunID}
			rand.Read(s.Rnd[:])
			p.out.add(homeplug.BroadcastMAC, p.cfg.MAC, &s)
			p.sent++
			if p.sent == int(p.cfg.NumSounds) {
				p.st = pevWaitAttenChar
				p.deadline = p.attenStart.Add(p.tm.AttenResults)
			} else {
				p.deadline = now.Add(p.tm.BatchInterval)
			}
		case pevWaitAttenChar:
			if !p.haveBest {
				p.fail(now, ReasonNoAttenChar)
				return
			}
			p.st, p.retries = pevWaitMatchCnf, 0
			p.res.EVSEMAC = p.best
			p.res.Timings.MatchReq = p.since(now)
			p.sendMatchReq()
			p.deadline = now.Add(p.tm.MatchResponse)
		case pevWaitMatchCnf:
			if p.retries >= p.tm.MatchRetry {
				p.fail(now, ReasonNoMatchCnf)
				return
			}
			p.retries++
			p.sendMatchReq()
			p.deadline = now.Add(p.tm.MatchResponse)
		}
	}
}

func (p *PEV) sendMatchReq() {
	p.out.add(p.best, p.cfg.MAC, &homeplug.SlacMatchReq{
		PEVMAC:  p.cfg.MAC,
		EVSEMAC: p.best,
		RunID:   p.cfg.RunID,
	})
}

func (p *PEV) handle(now time.Time, frame []byte) {
	h, pl, err := homeplug.DecodeHeader(frame)
	if err != nil || h.FMI != 0 || h.Dst != p.cfg.MAC {
		return
	}
	switch h.MMType {
	case homeplug.CMSlacParmCnf:
		// A charger that does not echo our RunID is not answering us (the
		// Taycan ignores it the same way).
		if p.st == pevParm && p.parmCnf.DecodePayload(pl) == nil && p.parmCnf.RunID == p.cfg.RunID {
			p.st, p.sent = pevStartAtten, 0
			p.deadline = now.Add(p.tm.BatchInterval)
		}
	case homeplug.CMAttenCharInd:
		if p.st < pevStartAtten || p.st > pevWaitAttenChar || p.attenInd.DecodePayload(pl) != nil ||
			p.attenInd.RunID != p.cfg.RunID || p.attenInd.SourceAddress != p.cfg.MAC {
			return
		}
		p.out.add(h.Src, p.cfg.MAC, &homeplug.AttenCharRsp{
			ApplicationType: p.attenInd.ApplicationType,
			SecurityType:    p.attenInd.SecurityType,
			SourceAddress:   p.cfg.MAC,
			RunID:           p.cfg.RunID,
		})
		total := 0
		for _, v := range p.attenInd.AAG {
			total += int(v)
		}
		db := float64(total) / float64(max(len(p.attenInd.AAG), 1))
		if !p.haveBest || db < p.bestDB {
			p.haveBest, p.best, p.bestDB = true, h.Src, db
			p.res.Sounds = int(p.attenInd.NumSounds)
			p.res.AttenuationDB = db
			p.res.Timings.AttenChar = p.since(now)
			p.res.Timings.AttenRsp = p.since(now)
		}
	case homeplug.CMSlacMatchCnf:
		if p.st != pevWaitMatchCnf || h.Src != p.best || p.matchCnf.DecodePayload(pl) != nil ||
			p.matchCnf.RunID != p.cfg.RunID {
			return
		}
		c := &p.matchCnf
		if c.NMK.NID() != c.NID && p.cfg.Log != nil {
			p.cfg.Log.Warn("NID does not belong to the NMK", "evse", h.Src, "nid", c.NID)
		}
		setKey := homeplug.NewSetKeyReq(c.NMK)
		setKey.NID = c.NID // join the network the charger named
		p.out.add(p.modem, p.cfg.MAC, &setKey)
		p.res.NID, p.res.NMK = c.NID, c.NMK
		p.res.Timings.MatchCnf = p.since(now)
		p.st, p.done = pevDone, true
		if p.cfg.Log != nil {
			p.cfg.Log.Info("matched", "evse", h.Src, "nid", c.NID)
		}
	}
}

func (p *PEV) fail(now time.Time, r Reason) {
	p.st, p.done = pevDone, true
	p.err = p.failure(now, r, nil)
	if p.cfg.Log != nil {
		p.cfg.Log.Log(context.Background(), slog.LevelWarn, "matching failed", "reason", r.String())
	}
}

func (p *PEV) failure(now time.Time, r Reason, cause error) *FailureError {
	f := &FailureError{Reason: r, EV: p.cfg.MAC, At: now, Err: cause}
	if p.haveBest {
		f.EVSE = p.best
	}
	return f
}

// interrupted returns why the car had not matched when its caller stopped
// waiting with cause: the step it was waiting for.
func (p *PEV) interrupted(now time.Time, cause error) error {
	if p.err != nil {
		return p.err
	}
	r := ReasonNoAttenChar
	switch p.st {
	case pevParm:
		r = ReasonNoParmCnf
	case pevWaitMatchCnf:
		r = ReasonNoMatchCnf
	}
	return p.failure(now, r, cause)
}
