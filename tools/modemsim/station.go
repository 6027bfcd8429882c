package modemsim

import (
	"encoding/binary"
	"time"

	"github.com/ccslink/ccslink/proto/homeplug"
)

// DefaultFirmware is the version string a modem reports when ModemConfig.Firmware is empty.
const DefaultFirmware = "MAC-QCA7000-1.1.0.730-04-20140815-CS"

// DefaultRestartDelay is how long a modem passes nothing after CM_SET_KEY or
// VS_RS_DEV when ModemConfig.RestartDelay is zero; slac.md allows 0.5-1 s.
const DefaultRestartDelay = 500 * time.Millisecond

// DefaultProfileDelay is how long after a sound a modem delivers its
// CM_ATTEN_PROFILE.IND, as a QCA7000 does.
const DefaultProfileDelay = time.Millisecond

// DefaultAttenuationDB is the attenuation in every group of a pair of modems
// without a configured profile: a plausible direct charging cable.
const DefaultAttenuationDB = 20

// SetKeyResult is the CM_SET_KEY.CNF Result a modem answers: QCA firmware
// says 0x01 when the key was applied (the standard's success is 0x00).
const SetKeyResult = 0x01

// ModemConfig configures one virtual modem; zero fields take defaults.
type ModemConfig struct {
	// Name labels the modem in events and errors.
	Name string
	// MAC is the modem's own address, the source of its answers; zero
	// means 00:b0:52:00:00:nn, numbered per line.
	MAC homeplug.MAC
	// HostMAC is the host's address behind the modem, the address of the
	// host's Port; zero means 02:00:00:00:00:nn.
	HostMAC homeplug.MAC
	// EVSE says the modem's PIB is configured for the charger side: only
	// then does it send CM_ATTEN_PROFILE.IND after each sound it hears.
	EVSE bool
	// Firmware is the VS_SW_VER.CNF version string; empty means DefaultFirmware.
	Firmware string
	// DeviceID is the VS_SW_VER.CNF device (chip) ID.
	DeviceID uint8
	// RestartDelay is how long the modem passes nothing after CM_SET_KEY.CNF
	// or VS_RS_DEV.CNF; zero means DefaultRestartDelay, negative none.
	RestartDelay time.Duration
}

func (c *ModemConfig) restartDelay() time.Duration {
	switch {
	case c.RestartDelay < 0:
		return 0
	case c.RestartDelay == 0:
		return DefaultRestartDelay
	}
	return c.RestartDelay
}

// Action says what a modem did with a frame.
type Action uint8

// Actions of an Event.
const (
	Passed   Action = iota + 1 // delivered to the receiving modem's host
	Dropped                    // lost; Event.Reason says why
	Answered                   // a request for the modem itself, answered locally
	Injected                   // a frame the modem made, such as CM_ATTEN_PROFILE.IND
	Learned                    // an Emulator took its peer's key state from the private message
)

// String returns the action in lower case, such as "dropped".
func (a Action) String() string {
	switch a {
	case Passed:
		return "passed"
	case Dropped:
		return "dropped"
	case Answered:
		return "answered"
	case Injected:
		return "injected"
	case Learned:
		return "learned"
	}
	return "unknown"
}

// Reason says why a frame was dropped.
type Reason string

// Reasons of dropped frames.
const (
	ReasonUnplugged   Reason = "unplugged"         // the sending or receiving modem is off the line
	ReasonRestarting  Reason = "restarting"        // the modem restarts after CM_SET_KEY or VS_RS_DEV
	ReasonNoAVLN      Reason = "no common AVLN"    // not SLAC, and the two modems do not share an NMK
	ReasonUnsupported Reason = "unsupported MME"   // a request for the modem that it does not model
	ReasonMalformed   Reason = "malformed"         // too short to be an Ethernet or HomePlug frame
	ReasonFromLine    Reason = "local MME on line" // a modem-local message arrived from the wire
)

// Event is one decision of a modem about one frame; tests read them to
// synchronise and to see why something did not arrive.
type Event struct {
	Time      time.Time
	From      string          // the modem whose host (or line) the frame came from
	To        string          // the receiving modem; empty for a decision of the sender
	Src, Dst  homeplug.MAC    // the frame's addresses
	EtherType uint16          // the frame's ethertype
	MMType    homeplug.MMType // the message type of a HomePlug frame, else 0
	Action    Action
	Reason    Reason // set when Action is Dropped
}

// Stats counts the decisions of a Line's or an Emulator's modems.
type Stats struct {
	Passed   uint64            // frames delivered to a host, once per receiver
	Answered uint64            // requests answered by a modem itself
	Injected uint64            // frames a modem made (attenuation profiles)
	Dropped  map[Reason]uint64 // frames lost, by reason
}

func (s *Stats) count(e *Event) {
	switch e.Action {
	case Passed:
		s.Passed++
	case Answered:
		s.Answered++
	case Injected:
		s.Injected++
	case Dropped:
		if s.Dropped == nil {
			s.Dropped = make(map[Reason]uint64)
		}
		s.Dropped[e.Reason]++
	}
}

func (s *Stats) clone() Stats {
	c := *s
	c.Dropped = make(map[Reason]uint64, len(s.Dropped))
	for k, v := range s.Dropped {
		c.Dropped[k] = v
	}
	return c
}

// frameInfo is what the modems look at in a frame.
type frameInfo struct {
	dst, src homeplug.MAC
	et       uint16
	hp       bool // a HomePlug frame whose header decoded
	h        homeplug.Header
	payload  []byte
}

func inspect(frame []byte) (frameInfo, bool) {
	var fi frameInfo
	if len(frame) < 14 {
		return fi, false
	}
	copy(fi.dst[:], frame[0:6])
	copy(fi.src[:], frame[6:12])
	fi.et = binary.BigEndian.Uint16(frame[12:14])
	if fi.et == homeplug.EtherType {
		h, p, err := homeplug.DecodeHeader(frame)
		if err != nil {
			return fi, false
		}
		fi.hp, fi.h, fi.payload = true, h, p
	}
	return fi, true
}

// event fills the frame fields of an Event.
func (fi *frameInfo) event(now time.Time, from, to string, a Action, r Reason) Event {
	e := Event{Time: now, From: from, To: to, Src: fi.src, Dst: fi.dst, EtherType: fi.et, Action: a, Reason: r}
	if fi.hp {
		e.MMType = fi.h.MMType
	}
	return e
}

// IsSLAC reports whether t is one of the ISO 15118-3 SLAC messages, which
// modems pass before any key is shared: CM_SLAC_PARM, CM_START_ATTEN_CHAR,
// CM_MNBC_SOUND, CM_ATTEN_CHAR, CM_VALIDATE and CM_SLAC_MATCH, all variants.
func IsSLAC(t homeplug.MMType) bool {
	switch t.Base() {
	case homeplug.CMSlacParmReq.Base(), homeplug.CMStartAttenCharInd.Base(),
		homeplug.CMMnbcSoundInd.Base(), homeplug.CMAttenCharInd.Base(),
		homeplug.CMValidateReq.Base(), homeplug.CMSlacMatchReq.Base():
		return true
	}
	return false
}

// station is the state of one modem that does not depend on where its
// peers are: key, restart, plug, and the answers to its host's requests.
type station struct {
	cfg          ModemConfig
	plugged      bool
	keyed        bool
	nmk          homeplug.NMK
	nid          homeplug.NID
	restartUntil time.Time
	buf          []byte
}

func (s *station) restarting(now time.Time) bool { return now.Before(s.restartUntil) }

// member reports whether the modem is in an AVLN at now: plugged, keyed and not restarting.
func (s *station) member(now time.Time) bool {
	return s.plugged && s.keyed && !s.restarting(now)
}

// sameAVLN reports whether s and o are both members of one AVLN at now.
func (s *station) sameAVLN(o *station, now time.Time) bool {
	return s.member(now) && o.member(now) && s.nmk == o.nmk
}

// local reports whether a host frame is addressed to the modem itself: an
// MME to the local-modem address or the modem's MAC, or a vendor MME to
// broadcast (VS_SW_VER to broadcast finds the modems on the host's link).
func (s *station) local(fi *frameInfo) bool {
	if !fi.hp {
		return false
	}
	if fi.dst == homeplug.LocalModemMAC || fi.dst == s.cfg.MAC {
		return true
	}
	return fi.dst == homeplug.BroadcastMAC && fi.h.MMType.IsVendor()
}

// answer handles a request for the modem itself and returns the reply
// frame, valid until the next call, or the reason it has none. linkUp is
// asked only for VS_PL_LNK_STATUS.
func (s *station) answer(now time.Time, fi *frameInfo, linkUp func() bool) ([]byte, Reason) {
	var reply homeplug.Message
	switch fi.h.MMType {
	case homeplug.CMSetKeyReq:
		var req homeplug.SetKeyReq
		if req.DecodePayload(fi.payload) != nil {
			return nil, ReasonMalformed
		}
		s.keyed, s.nmk, s.nid = true, req.NewKey, req.NID
		s.restartUntil = now.Add(s.cfg.restartDelay())
		reply = &homeplug.SetKeyCnf{
			Result:        SetKeyResult,
			YourNonce:     req.MyNonce,
			PID:           req.PID,
			PRN:           req.PRN,
			PMN:           req.PMN,
			CCoCapability: homeplug.CCoCapNone,
		}
	case homeplug.VSSwVerReq:
		reply = &homeplug.SwVerCnf{MStatus: homeplug.MStatusSuccess, DeviceID: s.cfg.DeviceID, Version: s.cfg.Firmware}
	case homeplug.VSPlLnkStatusReq:
		st := uint8(homeplug.LinkDown)
		if linkUp() {
			st = homeplug.LinkUp
		}
		reply = &homeplug.PlLnkStatusCnf{MStatus: homeplug.MStatusSuccess, LinkStatus: st}
	case homeplug.VSRsDevReq:
		// The key survives a reset: a real modem keeps it in its PIB.
		s.restartUntil = now.Add(s.cfg.restartDelay())
		reply = &homeplug.RsDevCnf{MStatus: homeplug.MStatusSuccess}
	default:
		return nil, ReasonUnsupported
	}
	var err error
	s.buf, err = homeplug.AppendFrame(s.buf[:0], homeplug.NewHeader(fi.src, s.cfg.MAC, reply.MMType()), reply)
	if err != nil {
		return nil, ReasonMalformed
	}
	return s.buf, ""
}

// profile returns the CM_ATTEN_PROFILE.IND the modem sends its host for a
// sound from pev, valid until the next call.
func (s *station) profile(pev homeplug.MAC, aag []byte) []byte {
	m := &homeplug.AttenProfileInd{PEVMAC: pev, AAG: aag}
	s.buf, _ = homeplug.AppendFrame(s.buf[:0], homeplug.NewHeader(s.cfg.HostMAC, s.cfg.MAC, m.MMType()), m)
	return s.buf
}

// flatProfile returns NumAttenGroups groups of db.
func flatProfile(db byte) []byte {
	p := make([]byte, homeplug.NumAttenGroups)
	for i := range p {
		p[i] = db
	}
	return p
}
