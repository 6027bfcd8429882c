package modemsim

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/ccslink/ccslink/clock"
	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/link"
)

// StateMMType is the type of the emulators' private message: a vendor
// indication (the top of the vendor range) with StateOUI, which no modem
// or host acts on.
const StateMMType homeplug.MMType = 0xBFFE

// StateOUI marks the emulators' private message; it is locally
// administered, assigned to nobody.
var StateOUI = homeplug.OUI{0x02, 0xcc, 0x51}

// stateMagic follows the OUI, so a stray frame with the same OUI is ignored.
var stateMagic = [4]byte{'c', 'c', 's', 'l'}

const (
	stateVersion   = 1
	stateKeyed     = 1 << 0 // the sender is in an AVLN with the key of the fingerprint
	stateWantReply = 1 << 1 // the receiver shall announce its own state
	stateLen       = 34     // up to the end of the fingerprint
)

// EmulateConfig configures Emulate; zero fields take defaults.
type EmulateConfig struct {
	// Modem configures the emulated modem; HostMAC is ignored: the host
	// behind it is the wire's own address.
	Modem ModemConfig
	// Attenuation is the profile reported for the peer's sounds; nil means
	// NumAttenGroups groups of DefaultAttenuationDB.
	Attenuation []byte
	// ProfileDelay is the time from a sound to its CM_ATTEN_PROFILE.IND;
	// zero means DefaultProfileDelay.
	ProfileDelay time.Duration
	// Clock times the delays; nil means clock.Real.
	Clock clock.Clock
	// Events, if set, receives every decision, from the emulator's
	// goroutine with the emulator locked: it must not block or call it.
	Events func(Event)
	// NoStateMessage makes the emulator stand in for a modem that is not
	// ccslink's: it neither sends nor heeds the private message
	// (StateMMType) and knows its peer's key only from the SLAC exchange,
	// as two real modems do. For tests against peers that are not ccslink.
	NoStateMessage bool
	// LinkAlwaysDown makes the emulated modem answer VS_PL_LNK_STATUS.REQ
	// with "no link" even when it shares an AVLN, as some firmware does;
	// frames still pass as they would. For tests of a charger that must
	// not take the modem's word alone.
	LinkAlwaysDown bool
}

// Emulator is one emulated modem between the host software, which talks to
// Host, and a real interface (the wire, e.g. one end of a veth pair). When
// the peer on the other end is another ccslink emulator, the two learn each
// other's key from a private message (StateMMType), sent when the key
// changes, when a restart ends, on plug-in and at start, so unicast flows
// exactly when both hold the same NMK. The message fits any way of keying
// (SLAC, a fixed key, a reset), and it carries a fingerprint of the key,
// not the key.
//
// A peer that never sent the private message (another project's car or
// charger, or a bare host sending SLAC straight on the wire) is taken to be
// in the AVLN the way a real modem pair forms it: from the
// CM_SLAC_MATCH.CNF seen passing, whose NMK this modem holds (on the
// charger's side the key its host set before the CNF went out; on the
// car's side the key its host sets after the CNF came in). The AVLN lasts
// until this modem is keyed otherwise, unplugged, or the peer starts a new
// matching (CM_SLAC_PARM.REQ), which a car does only outside an AVLN.
//
// Only the frames of the wire's ethertype pass through the emulator: on a
// raw socket for HomePlug frames, the host kernel's own IPv6 traffic goes
// past it, unfiltered.
type Emulator struct {
	cfg    EmulateConfig
	clock  clock.Clock
	wire   link.Conn
	port   *link.Port // the host's end
	modem  *link.Port // the emulator's end of the host link
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	loop   eventLoop[emuFrame]

	mu        sync.Mutex
	st        station
	sched     scheduler
	stats     Stats
	peerKeyed bool
	peerFP    [8]byte
	// peerStates is set once the peer sent the private message: from then
	// on only that message says what the peer holds.
	peerStates bool
	// matched is the AVLN inferred from a CM_SLAC_MATCH.CNF that passed,
	// between this host and peer, with key nmk.
	matched struct {
		ok   bool
		peer homeplug.MAC
		nmk  homeplug.NMK
	}
	matchCnf homeplug.SlacMatchCnf // decoding scratch
}

type emuFrame struct {
	fromWire bool
	frame    []byte
}

// wireName and the modem's name label the two sides in events.
const wireName = "wire"

// Emulate starts an emulated modem in front of wire, whose own address is
// the host's; the host software uses the returned Emulator's Host instead
// of wire. It runs until ctx ends or Close, and closes wire then.
func Emulate(ctx context.Context, wire link.Conn, cfg EmulateConfig) (*Emulator, error) {
	if wire == nil {
		return nil, errors.New("modemsim: emulate: nil wire")
	}
	host, err := homeplug.MACFrom(wire.HardwareAddr())
	if err != nil {
		return nil, fmt.Errorf("modemsim: emulate: %w", err)
	}
	mc := cfg.Modem
	mc.HostMAC = host
	if mc.MAC == (homeplug.MAC{}) {
		// Derived from the host's address, so the two ends differ.
		mc.MAC = homeplug.MAC{0x00, 0xb0, 0x52, host[3], host[4], host[5]}
	}
	if mc.Firmware == "" {
		mc.Firmware = DefaultFirmware
	}
	if mc.Name == "" {
		mc.Name = "modem"
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Attenuation == nil {
		cfg.Attenuation = flatProfile(DefaultAttenuationDB)
	}
	if cfg.ProfileDelay == 0 {
		cfg.ProfileDelay = DefaultProfileDelay
	}
	hp, mp, err := link.Pipe(host.HardwareAddr(), mc.MAC.HardwareAddr())
	if err != nil {
		return nil, err
	}
	e := &Emulator{cfg: cfg, clock: cfg.Clock, wire: wire, port: hp, modem: mp,
		st: station{cfg: mc, plugged: true}}
	e.sched.clock = cfg.Clock
	e.ctx, e.cancel = context.WithCancel(ctx)
	e.mu.Lock()
	e.announce(true)
	e.mu.Unlock()
	e.loop = newEventLoop(e.ctx, &e.mu, &e.sched, func(f emuFrame) {
		if f.fromWire {
			e.fromWire(f.frame)
		} else {
			e.fromHost(f.frame)
		}
	}, nil)
	e.wg.Add(3)
	for _, c := range []struct {
		conn     link.Conn
		fromWire bool
	}{{mp, false}, {wire, true}} {
		go func() {
			defer e.wg.Done()
			e.loop.read(c.conn, true, func(f []byte) emuFrame { return emuFrame{c.fromWire, f} })
		}()
	}
	go func() {
		defer e.wg.Done()
		e.loop.run()
	}()
	return e, nil
}

// Host returns the host's end of the emulated modem's host link.
func (e *Emulator) Host() *link.Port { return e.port }

// MAC returns the emulated modem's own address.
func (e *Emulator) MAC() homeplug.MAC { return e.st.cfg.MAC }

// Stats returns the emulator's counters.
func (e *Emulator) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stats.clone()
}

// LinkUp reports what VS_PL_LNK_STATUS would: whether the peer holds the same key now.
func (e *Emulator) LinkUp() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.linkUp(e.clock.Now())
}

// Unplug takes the emulated modem off the cable: nothing passes either
// way, and the peer learns that the AVLN is gone.
func (e *Emulator) Unplug() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.st.plugged = false
	e.peerKeyed = false
	e.sendLeave()
}

// Plug puts the emulated modem back on the cable and tells the peer its state.
func (e *Emulator) Plug() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.st.plugged = true
	e.announce(true)
}

// Close stops the emulator and closes the host link and the wire.
func (e *Emulator) Close() error {
	e.cancel()
	e.port.Close()
	e.modem.Close()
	err := e.wire.Close()
	e.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

func (e *Emulator) emit(ev Event) {
	e.stats.count(&ev)
	if e.cfg.Events != nil {
		e.cfg.Events(ev)
	}
}

func (e *Emulator) linkUp(now time.Time) bool {
	if !e.st.member(now) {
		return false
	}
	if e.peerStates {
		return e.peerKeyed && e.peerFP == fingerprint(e.st.nmk)
	}
	return e.matched.ok && e.matched.nmk == e.st.nmk
}

// slacPassed infers the AVLN of a peer without the private message from the
// SLAC frames passing either way: a CM_SLAC_MATCH.CNF (between this host and
// peer) brings its NMK, a CM_SLAC_PARM.REQ of the peer or this host ends it.
func (e *Emulator) slacPassed(now time.Time, fi *frameInfo, peer homeplug.MAC, from, to string) {
	switch fi.h.MMType {
	case homeplug.CMSlacMatchCnf:
		if e.matchCnf.DecodePayload(fi.payload) != nil {
			return
		}
		e.matched.ok, e.matched.peer, e.matched.nmk = true, peer, e.matchCnf.NMK
		if !e.peerStates {
			e.emit(fi.event(now, from, to, Learned, ""))
		}
	case homeplug.CMSlacParmReq:
		if e.matched.ok && (peer == e.matched.peer || peer == e.st.cfg.HostMAC) {
			e.matched.ok = false
		}
	}
}

func fingerprint(nmk homeplug.NMK) [8]byte {
	sum := sha256.Sum256(nmk[:])
	return [8]byte(sum[:8])
}

// announce sends the modem's key state to the peer: keyed only while it
// is a member of an AVLN. It is the emulators' bookkeeping, not a frame
// of the modem, so it goes out during a restart too, but not unplugged.
func (e *Emulator) announce(wantReply bool) {
	now := e.clock.Now()
	if !e.st.plugged || e.cfg.NoStateMessage {
		return
	}
	var flags byte
	var fp [8]byte
	if e.st.member(now) {
		flags |= stateKeyed
		fp = fingerprint(e.st.nmk)
	}
	if wantReply {
		flags |= stateWantReply
	}
	e.wire.WriteFrame(e.ctx, e.stateFrame(flags, fp))
}

// stateFrame encodes the private message: after the vendor MME header,
// magic "ccsl" (20-23), version (24), flags (25), key fingerprint (26-33).
func (e *Emulator) stateFrame(flags byte, fp [8]byte) []byte {
	f := make([]byte, homeplug.MinFrameLen)
	copy(f[0:6], homeplug.BroadcastMAC[:])
	copy(f[6:12], e.st.cfg.MAC[:])
	binary.BigEndian.PutUint16(f[12:], homeplug.EtherType)
	f[14] = homeplug.MMV10
	binary.LittleEndian.PutUint16(f[15:], uint16(StateMMType))
	copy(f[17:20], StateOUI[:])
	copy(f[20:24], stateMagic[:])
	f[24] = stateVersion
	f[25] = flags
	copy(f[26:34], fp[:])
	return f
}

// sendLeave tells the peer that this modem is in no AVLN, as its own
// modem would notice when the cable is pulled.
func (e *Emulator) sendLeave() {
	e.matched.ok = false
	if !e.cfg.NoStateMessage {
		e.wire.WriteFrame(e.ctx, e.stateFrame(0, [8]byte{}))
	}
}

// learn takes the peer's state from its message; it reports false for
// another frame.
func (e *Emulator) learn(fi *frameInfo, frame []byte) bool {
	if !fi.hp || fi.h.MMType != StateMMType || fi.h.OUI != StateOUI || len(frame) < stateLen ||
		[4]byte(frame[20:24]) != stateMagic || frame[24] != stateVersion {
		return false
	}
	now := e.clock.Now()
	if e.cfg.NoStateMessage {
		// Another project's modem knows nothing of it.
		e.emit(fi.event(now, wireName, e.st.cfg.Name, Dropped, ReasonUnsupported))
		return true
	}
	// Learned during a restart too, or a peer that keyed at the same time
	// would stay unknown; unplugged, Plug asks again.
	if !e.st.plugged {
		e.emit(fi.event(now, wireName, e.st.cfg.Name, Dropped, ReasonUnplugged))
		return true
	}
	e.peerStates = true
	e.peerKeyed = frame[25]&stateKeyed != 0
	e.peerFP = [8]byte(frame[26:34])
	e.emit(fi.event(now, wireName, e.st.cfg.Name, Learned, ""))
	if frame[25]&stateWantReply != 0 {
		e.announce(false)
	}
	return true
}

// deaf returns why the modem passes nothing now, or "".
func (e *Emulator) deaf(now time.Time) Reason {
	switch {
	case !e.st.plugged:
		return ReasonUnplugged
	case e.st.restarting(now):
		return ReasonRestarting
	}
	return ""
}

func (e *Emulator) fromHost(frame []byte) {
	now := e.clock.Now()
	name := e.st.cfg.Name
	fi, ok := inspect(frame)
	if !ok {
		e.emit(fi.event(now, name, "", Dropped, ReasonMalformed))
		return
	}
	if e.st.local(&fi) {
		reply, reason := e.st.answer(now, &fi, func() bool { return !e.cfg.LinkAlwaysDown && e.linkUp(now) })
		if reply == nil {
			e.emit(fi.event(now, name, "", Dropped, reason))
			return
		}
		e.modem.WriteFrame(e.ctx, reply)
		e.emit(fi.event(now, name, "", Answered, ""))
		if fi.h.MMType == homeplug.CMSetKeyReq || fi.h.MMType == homeplug.VSRsDevReq {
			e.restarted(now)
		}
		return
	}
	if r := e.deaf(now); r != "" {
		e.emit(fi.event(now, name, "", Dropped, r))
		return
	}
	if !(fi.hp && IsSLAC(fi.h.MMType)) && !e.linkUp(now) {
		e.emit(fi.event(now, name, wireName, Dropped, ReasonNoAVLN))
		return
	}
	e.wire.WriteFrame(e.ctx, frame)
	e.emit(fi.event(now, name, wireName, Passed, ""))
	if fi.hp && IsSLAC(fi.h.MMType) {
		peer := fi.dst
		if fi.h.MMType == homeplug.CMSlacParmReq {
			peer = fi.src // this host starts a matching
		}
		e.slacPassed(now, &fi, peer, name, wireName)
	}
}

// restarted tells the peer that the modem left its AVLN, and its new
// state once the restart is over.
func (e *Emulator) restarted(now time.Time) {
	e.announce(false)
	if d := e.st.cfg.restartDelay(); d > 0 {
		e.sched.add(now.Add(d), func(time.Time) { e.announce(false) })
	}
}

func (e *Emulator) fromWire(frame []byte) {
	now := e.clock.Now()
	name := e.st.cfg.Name
	fi, ok := inspect(frame)
	if !ok {
		e.emit(fi.event(now, wireName, name, Dropped, ReasonMalformed))
		return
	}
	if e.learn(&fi, frame) {
		return
	}
	if r := e.deaf(now); r != "" {
		e.emit(fi.event(now, wireName, name, Dropped, r))
		return
	}
	if fi.hp && (fi.dst == homeplug.LocalModemMAC || (fi.h.MMType.IsVendor() && fi.h.OUI == homeplug.QualcommOUI)) {
		// The peer host's requests for its own modem: a peer without an
		// emulator, or a frame the wire saw go out.
		e.emit(fi.event(now, wireName, name, Dropped, ReasonFromLine))
		return
	}
	slac := fi.hp && IsSLAC(fi.h.MMType)
	if slac && fi.h.MMType == homeplug.CMMnbcSoundInd && e.st.cfg.EVSE {
		e.scheduleProfile(fi.src, now)
	}
	if slac && fi.h.MMType == homeplug.CMSlacParmReq {
		// A new matching of the peer, to whomever it goes: it left the AVLN.
		e.slacPassed(now, &fi, fi.src, wireName, name)
	}
	if !fi.dst.IsGroup() && fi.dst != e.st.cfg.HostMAC {
		return // the wire is promiscuous; this host's modem would not bridge it
	}
	if !slac && !e.linkUp(now) {
		e.emit(fi.event(now, wireName, name, Dropped, ReasonNoAVLN))
		return
	}
	e.modem.WriteFrame(e.ctx, frame)
	e.emit(fi.event(now, wireName, name, Passed, ""))
	if slac && fi.h.MMType == homeplug.CMSlacMatchCnf {
		e.slacPassed(now, &fi, fi.src, wireName, name)
	}
}

func (e *Emulator) scheduleProfile(pev homeplug.MAC, now time.Time) {
	e.sched.add(now.Add(e.cfg.ProfileDelay), func(at time.Time) {
		frame := e.st.profile(pev, e.cfg.Attenuation)
		fi, _ := inspect(frame)
		if r := e.deaf(at); r != "" {
			e.emit(fi.event(at, e.st.cfg.Name, e.st.cfg.Name, Dropped, r))
			return
		}
		e.modem.WriteFrame(e.ctx, frame)
		e.emit(fi.event(at, e.st.cfg.Name, e.st.cfg.Name, Injected, ""))
	})
}
