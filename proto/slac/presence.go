package slac

import "time"

// DefaultQuiet is how long a matched car may be silent while its modem
// reports no link before the plug-in ends. A car in a V2G session waits
// at most 5 s for an answer (ISO-2 PowerDelivery; 2 s for most messages)
// before it asks again or gives up, so 5 s of silence is a car that
// stopped talking. The modem's "no link" alone is not enough: some modems
// (and stand-ins for them) never report the link of a car that talks.
const DefaultQuiet = 5 * time.Second

// DefaultSilence is how long a matched car may be silent when its modem
// does not vouch for it (no answer, odd answers, nothing said yet) before
// the plug-in ends anyway. It is
// V2G_SECC_Sequence_Timeout, the longest a car may wait between two
// requests of a session: a car silent for longer has no session here.
const DefaultSilence = 60 * time.Second

// linkDownConfirm is how many "no link" answers in a row count as the
// modem reporting no link; one between two "up"s is a flap, counted.
const linkDownConfirm = 2

// PresenceConfig sets the bounds of Presence; zero fields take defaults.
type PresenceConfig struct {
	// Quiet is DefaultQuiet: the car's silence that, with the modem
	// reporting no link, ends the plug-in.
	Quiet time.Duration
	// Silence is DefaultSilence: the car's silence that ends the plug-in
	// when the modem does not report the link up.
	Silence time.Duration
}

func (c PresenceConfig) withDefaults() PresenceConfig {
	if c.Quiet <= 0 {
		c.Quiet = DefaultQuiet
	}
	if c.Silence <= 0 {
		c.Silence = DefaultSilence
	}
	return c
}

// modemWord is what the modem last said about the car's link.
type modemWord uint8

const (
	modemUnknown modemWord = iota // no answer yet
	modemUp
	modemDown
)

// Presence decides whether a matched car is still plugged in, from
// evidence: the car's own traffic (HomePlug frames from its MAC, its SDP
// request, its V2G messages), the state of its V2G connection and what
// the modem says about the link. It does no I/O: its caller feeds it
// observations with their time and runs Tick when Deadline is due, so a
// test drives it with a fake clock.
//
// While the car talks, the modem's "no link" alone never ends the
// plug-in. It ends when the modem reports no link and the car has been
// silent for Quiet (ReasonLinkLost), when the car's V2G connection has
// closed and the modem reports no link (ReasonClosedNoLink), or when the
// car has been silent for Silence and the modem does not vouch for it
// (ReasonSilent): its word does not count, it said nothing yet, or it
// reports no link. A single "no link" awaits the next answer, which tells
// a lost link from a flap. A modem that does not answer, or answers oddly,
// leaves the car's traffic alone to decide (Fallback).
type Presence struct {
	cfg        PresenceConfig
	heard      time.Time
	word       modemWord
	downs      int  // "no link" answers in a row
	wasUp      bool // the modem has said "up" in this plug-in
	flaps      int
	unanswered int
	odd        bool // the last answer was not one the modem should give
	closed     bool // the car's V2G connection closed, and none is open
	end        Reason
	endAt      time.Time
}

// NewPresence starts watching a car matched at now; having just matched,
// it counts as heard then.
func NewPresence(cfg PresenceConfig, now time.Time) *Presence {
	p := new(Presence)
	p.Reset(cfg, now)
	return p
}

// Reset starts over for a car matched at now.
func (p *Presence) Reset(cfg PresenceConfig, now time.Time) {
	*p = Presence{cfg: cfg.withDefaults(), heard: now}
}

// Heard records the car's traffic at now.
func (p *Presence) Heard(now time.Time) {
	if p.end != 0 {
		return
	}
	if now.After(p.heard) {
		p.heard = now
	}
	p.decide(now)
}

// Connection records that the car's V2G connection opened (open) or that
// its last one closed, at now; either is the car's traffic.
func (p *Presence) Connection(now time.Time, open bool) {
	if p.end != 0 {
		return
	}
	p.closed = !open
	p.Heard(now)
}

// LinkStatus records the modem's answer to VS_PL_LNK_STATUS.REQ at now.
func (p *Presence) LinkStatus(now time.Time, up bool) {
	if p.end != 0 {
		return
	}
	p.unanswered, p.odd = 0, false
	if up {
		if p.downs > 0 && p.wasUp {
			p.flaps++
		}
		p.word, p.wasUp, p.downs = modemUp, true, 0
	} else {
		p.word = modemDown
		p.downs++
	}
	p.decide(now)
}

// OddAnswer records an answer to VS_PL_LNK_STATUS.REQ that says nothing
// usable (a failure status, an unknown link state, a short payload): the
// modem's word no longer counts, until it answers properly again.
func (p *Presence) OddAnswer(now time.Time) {
	if p.end != 0 {
		return
	}
	// An odd answer breaks a run of "no link" answers: the next proper
	// one starts a new run, which another must confirm.
	p.odd, p.unanswered, p.downs = true, 0, 0
	p.decide(now)
}

// Unanswered records that a VS_PL_LNK_STATUS.REQ got no answer before the
// next was due; after watchMisses in a row, the modem's word no longer
// counts, until it answers again.
func (p *Presence) Unanswered(now time.Time) {
	if p.end != 0 {
		return
	}
	p.unanswered++
	p.decide(now)
}

// Fallback reports whether the modem's word does not count now (no answer
// to watchMisses polls in a row, or an odd answer): the car's traffic
// alone decides.
func (p *Presence) Fallback() bool { return p.odd || p.unanswered >= watchMisses }

// Flaps returns how often the modem reported no link between two "up"s.
func (p *Presence) Flaps() int { return p.flaps }

// ModemDown reports whether the modem reports no link now (confirmed, not
// a single answer that may be a flap).
func (p *Presence) ModemDown() bool {
	return !p.Fallback() && p.word == modemDown && p.downs >= linkDownConfirm
}

// Unconfirmed reports whether the modem's last answer was a first "no
// link", which the next answer confirms or makes a flap.
func (p *Presence) Unconfirmed() bool {
	return !p.Fallback() && p.word == modemDown && p.downs < linkDownConfirm
}

// unvouched reports whether the modem does not vouch for the car now: its
// word does not count, it has said nothing yet, or it reports no link. A
// first "no link" awaits the next answer: it may be a flap.
func (p *Presence) unvouched() bool {
	return p.Fallback() || p.word == modemUnknown || p.ModemDown()
}

// Ended returns why the car is gone, and when that was decided; ok is
// false while it is present.
func (p *Presence) Ended() (r Reason, at time.Time, ok bool) { return p.end, p.endAt, p.end != 0 }

// Deadline returns when the decision may next change with no new
// observation; ok is false when only an observation can change it.
func (p *Presence) Deadline() (t time.Time, ok bool) {
	if p.end != 0 {
		return time.Time{}, false
	}
	t, ok = p.heard.Add(p.cfg.Silence), p.unvouched()
	if p.ModemDown() && !p.closed {
		if q := p.heard.Add(p.cfg.Quiet); q.Before(t) {
			t = q
		}
	}
	return t, ok
}

// Tick decides at now, with what is known.
func (p *Presence) Tick(now time.Time) {
	if p.end == 0 {
		p.decide(now)
	}
}

func (p *Presence) decide(now time.Time) {
	silent := now.Sub(p.heard)
	switch {
	case p.ModemDown() && p.closed:
		p.end = ReasonClosedNoLink
	case p.ModemDown() && silent >= p.cfg.Quiet:
		p.end = ReasonLinkLost
	case p.unvouched() && silent >= p.cfg.Silence:
		p.end = ReasonSilent
	default:
		return
	}
	p.endAt = now
}
