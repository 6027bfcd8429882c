package modemsim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/ccslink/ccslink/clock"
	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/link"
)

// LineConfig configures a Line; the zero value is a usable line on the real clock.
type LineConfig struct {
	// Clock times the modems' delays; nil means clock.Real.
	Clock clock.Clock
	// Attenuation is the profile (dB per carrier group) between modems
	// without one of their own (SetAttenuation); nil means NumAttenGroups
	// groups of DefaultAttenuationDB.
	Attenuation []byte
	// ProfileDelay is the time from a sound to its CM_ATTEN_PROFILE.IND;
	// zero means DefaultProfileDelay.
	ProfileDelay time.Duration
	// Events, if set, receives every decision of the line's modems. It is
	// called from the line's goroutine with the line locked: it must not
	// block or call the Line.
	Events func(Event)
}

// Line is a virtual control-pilot cable, the powerline medium that modems
// attach to. One goroutine carries all frames, so every modem sees them in
// one order; it stops when the context given to NewLine ends or at Close.
type Line struct {
	cfg    LineConfig
	clock  clock.Clock
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	loop   eventLoop[hostFrame]

	mu     sync.Mutex
	modems []*Modem
	atten  map[[2]homeplug.MAC][]byte
	sched  scheduler
	stats  Stats
	closed bool
	// progress is closed and replaced whenever the line has handled
	// something, for Settle.
	progress chan struct{}
}

// hostFrame is a frame a modem's host sent.
type hostFrame struct {
	m     *Modem
	frame []byte
}

// NewLine returns an empty line whose goroutine runs until ctx ends or Close.
func NewLine(ctx context.Context, cfg LineConfig) *Line {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Attenuation == nil {
		cfg.Attenuation = flatProfile(DefaultAttenuationDB)
	}
	if cfg.ProfileDelay == 0 {
		cfg.ProfileDelay = DefaultProfileDelay
	}
	l := &Line{cfg: cfg, clock: cfg.Clock, atten: make(map[[2]homeplug.MAC][]byte), progress: make(chan struct{})}
	l.sched.clock = cfg.Clock
	l.ctx, l.cancel = context.WithCancel(ctx)
	l.loop = newEventLoop(l.ctx, &l.mu, &l.sched, func(hf hostFrame) {
		l.fromHost(hf.m, hf.frame)
		hf.m.handled++
	}, l.signal)
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.loop.run()
	}()
	return l
}

// Modem is one virtual QCA7000 on a Line: it answers its host's requests,
// measures sounds, and passes frames between its host and the line.
type Modem struct {
	line    *Line
	st      station    // guarded by line.mu
	host    link.Conn  // the modem's side of the host link
	port    *link.Port // the host's side, when the modem made the link
	handled uint64     // frames from the host handled so far; guarded by line.mu
}

// AddModem plugs a new modem into the line. Its host talks to it through
// Host, a fresh in-memory Port; to put a modem in front of another host
// link (a real interface), use AddModemConn.
func (l *Line) AddModem(cfg ModemConfig) (*Modem, error) {
	return l.add(cfg, nil)
}

// AddModemConn plugs a new modem into the line that talks to its host over
// conn, the modem's side of the host link (for example a raw socket on one
// end of a veth pair whose other end the host software uses); the Line
// closes conn when it closes.
func (l *Line) AddModemConn(cfg ModemConfig, conn link.Conn) (*Modem, error) {
	if conn == nil {
		return nil, errors.New("modemsim: nil conn")
	}
	return l.add(cfg, conn)
}

func (l *Line) add(cfg ModemConfig, conn link.Conn) (*Modem, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || l.ctx.Err() != nil {
		return nil, fmt.Errorf("modemsim: add modem: %w", net.ErrClosed)
	}
	n := byte(len(l.modems) + 1)
	if cfg.MAC == (homeplug.MAC{}) {
		cfg.MAC = homeplug.MAC{0x00, 0xb0, 0x52, 0x00, 0x00, n}
	}
	if cfg.HostMAC == (homeplug.MAC{}) {
		cfg.HostMAC = homeplug.MAC{0x02, 0x00, 0x00, 0x00, 0x00, n}
	}
	if cfg.Firmware == "" {
		cfg.Firmware = DefaultFirmware
	}
	if cfg.Name == "" {
		cfg.Name = fmt.Sprintf("modem%d", n)
	}
	for _, o := range l.modems {
		if o.st.cfg.MAC == cfg.MAC || o.st.cfg.Name == cfg.Name || o.st.cfg.HostMAC == cfg.HostMAC {
			return nil, fmt.Errorf("modemsim: modem %s (%v, host %v) clashes with %s on the line",
				cfg.Name, cfg.MAC, cfg.HostMAC, o.st.cfg.Name)
		}
	}
	m := &Modem{line: l, st: station{cfg: cfg, plugged: true}, host: conn}
	if conn == nil {
		hp, mp, err := link.Pipe(cfg.HostMAC.HardwareAddr(), cfg.MAC.HardwareAddr())
		if err != nil {
			return nil, err
		}
		m.port, m.host = hp, mp
	}
	l.modems = append(l.modems, m)
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.loop.read(m.host, false, func(f []byte) hostFrame { return hostFrame{m, f} })
	}()
	return m, nil
}

// Host returns the host's end of the modem's host link, the link.Conn the
// host software (slac) uses; nil for a modem made with AddModemConn.
func (m *Modem) Host() *link.Port { return m.port }

// MAC returns the modem's own address.
func (m *Modem) MAC() homeplug.MAC { return m.st.cfg.MAC }

// HostMAC returns the address of the host behind the modem.
func (m *Modem) HostMAC() homeplug.MAC { return m.st.cfg.HostMAC }

// Name returns the modem's name.
func (m *Modem) Name() string { return m.st.cfg.Name }

// Unplug takes the modem off the line (the car's plug pulled): nothing
// passes in either direction and it leaves its AVLN, though it keeps its key.
func (m *Modem) Unplug() { m.setPlugged(false) }

// Plug puts the modem back on the line.
func (m *Modem) Plug() { m.setPlugged(true) }

func (m *Modem) setPlugged(v bool) {
	m.line.mu.Lock()
	defer m.line.mu.Unlock()
	m.st.plugged = v
}

// NMK returns the key the modem holds; ok is false before its first CM_SET_KEY.
func (m *Modem) NMK() (nmk homeplug.NMK, nid homeplug.NID, ok bool) {
	m.line.mu.Lock()
	defer m.line.mu.Unlock()
	return m.st.nmk, m.st.nid, m.st.keyed
}

// LinkUp reports what VS_PL_LNK_STATUS would: whether another modem on the
// line is in the same AVLN now.
func (m *Modem) LinkUp() bool {
	l := m.line
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.linkUp(m, l.clock.Now())
}

// SetAttenuation sets the profile (dB per carrier group) that a and b
// measure of each other's sounds; a neighbour's car on the same cable
// bundle (crosstalk) has a larger one.
func (l *Line) SetAttenuation(a, b *Modem, aag []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.atten[pairKey(a, b)] = slices.Clone(aag)
}

func pairKey(a, b *Modem) [2]homeplug.MAC {
	x, y := a.st.cfg.MAC, b.st.cfg.MAC
	if string(y[:]) < string(x[:]) {
		x, y = y, x
	}
	return [2]homeplug.MAC{x, y}
}

// Stats returns the counters of all the line's modems.
func (l *Line) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stats.clone()
}

// Close stops the line's goroutines and closes every modem's host link.
func (l *Line) Close() error {
	l.mu.Lock()
	l.closed = true
	modems := slices.Clone(l.modems)
	l.mu.Unlock()
	l.cancel()
	for _, m := range modems {
		m.host.Close()
		if m.port != nil {
			m.port.Close()
		}
	}
	l.wg.Wait()
	return nil
}

func (l *Line) signal() {
	close(l.progress)
	l.progress = make(chan struct{})
}

// Settle waits until the line has handled every frame that the hosts of
// modems made by AddModem have written so far, and every delayed frame due
// by the clock's time: then a test on a fake clock may read the hosts'
// ports, or move the clock on.
func (l *Line) Settle(ctx context.Context) error {
	for {
		if l.ctx.Err() != nil {
			return fmt.Errorf("modemsim: settle: %w", net.ErrClosed)
		}
		l.mu.Lock()
		idle := l.idle()
		ch := l.progress
		l.mu.Unlock()
		if idle {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-l.ctx.Done():
			return fmt.Errorf("modemsim: settle: %w", net.ErrClosed)
		}
	}
}

func (l *Line) idle() bool {
	for _, m := range l.modems {
		// Received is counted just after the frame is queued, so handled
		// may be ahead of it for a moment, never behind once all is done.
		if p, ok := m.host.(*link.Port); ok && m.port != nil && p.Stats().Received > m.handled {
			return false
		}
	}
	j := l.sched.jobs
	return len(j) == 0 || j[0].at.After(l.clock.Now())
}

func (l *Line) emit(e Event) {
	l.stats.count(&e)
	if l.cfg.Events != nil {
		l.cfg.Events(e)
	}
}

// toHost writes a frame to a modem's host; host links in memory never block.
func (l *Line) toHost(m *Modem, frame []byte) {
	m.host.WriteFrame(l.ctx, frame)
}

func (l *Line) linkUp(m *Modem, now time.Time) bool {
	for _, o := range l.modems {
		if o != m && m.st.sameAVLN(&o.st, now) {
			return true
		}
	}
	return false
}

// fromHost decides what happens to one frame a host sent to its modem.
func (l *Line) fromHost(m *Modem, frame []byte) {
	now := l.clock.Now()
	name := m.st.cfg.Name
	fi, ok := inspect(frame)
	if !ok {
		l.emit(fi.event(now, name, "", Dropped, ReasonMalformed))
		return
	}
	if m.st.local(&fi) {
		reply, reason := m.st.answer(now, &fi, func() bool { return l.linkUp(m, now) })
		if reply == nil {
			l.emit(fi.event(now, name, "", Dropped, reason))
			return
		}
		l.toHost(m, reply)
		l.emit(fi.event(now, name, "", Answered, ""))
		return
	}
	switch {
	case !m.st.plugged:
		l.emit(fi.event(now, name, "", Dropped, ReasonUnplugged))
		return
	case m.st.restarting(now):
		l.emit(fi.event(now, name, "", Dropped, ReasonRestarting))
		return
	}
	slac := fi.hp && IsSLAC(fi.h.MMType)
	sound := fi.hp && fi.h.MMType == homeplug.CMMnbcSoundInd
	for _, o := range l.modems {
		if o == m {
			continue
		}
		// A sound is measured by every modem that hears it, whoever it is for.
		if sound && o.st.cfg.EVSE && o.st.plugged && !o.st.restarting(now) {
			l.scheduleProfile(m, o, fi.src, now)
		}
		if !fi.dst.IsGroup() && fi.dst != o.st.cfg.HostMAC {
			continue // not for this station's host: its modem does not bridge it
		}
		var r Reason
		switch {
		case !o.st.plugged:
			r = ReasonUnplugged
		case o.st.restarting(now):
			r = ReasonRestarting
		case !slac && !m.st.sameAVLN(&o.st, now):
			r = ReasonNoAVLN
		}
		if r != "" {
			l.emit(fi.event(now, name, o.st.cfg.Name, Dropped, r))
			continue
		}
		l.toHost(o, frame)
		l.emit(fi.event(now, name, o.st.cfg.Name, Passed, ""))
	}
}

// scheduleProfile makes o tell its host, ProfileDelay from now, what it
// measured of the sound that m's host pev sent.
func (l *Line) scheduleProfile(m, o *Modem, pev homeplug.MAC, now time.Time) {
	aag, ok := l.atten[pairKey(m, o)]
	if !ok {
		aag = l.cfg.Attenuation
	}
	l.sched.add(now.Add(l.cfg.ProfileDelay), func(at time.Time) {
		frame := o.st.profile(pev, aag)
		fi, _ := inspect(frame)
		switch {
		case !o.st.plugged:
			l.emit(fi.event(at, o.st.cfg.Name, o.st.cfg.Name, Dropped, ReasonUnplugged))
			return
		case o.st.restarting(at):
			l.emit(fi.event(at, o.st.cfg.Name, o.st.cfg.Name, Dropped, ReasonRestarting))
			return
		}
		l.toHost(o, frame)
		l.emit(fi.event(at, o.st.cfg.Name, o.st.cfg.Name, Injected, ""))
	})
}
