package modemsim_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/link"
	"github.com/ccslink/ccslink/proto/slac"
	"github.com/ccslink/ccslink/tools/modemsim"
)

// node is a SLAC state machine on the host side of one modem.
type node struct {
	m    slac.Machine
	port *link.Port
	read uint64 // frames taken from port so far
}

// world drives slac machines over a line on the fake clock: it hands every
// frame on to its machine once the line has settled, runs the machines'
// timers, and moves the clock to the next thing due. No goroutine of the
// test waits on time.
type world struct {
	b     *bench
	nodes []*node
}

func (w *world) add(mo *modemsim.Modem, m slac.Machine) *node {
	n := &node{m: m, port: mo.Host(), read: mo.Host().Stats().Received}
	w.nodes = append(w.nodes, n)
	return n
}

func (w *world) write(n *node, out [][]byte) {
	for _, f := range out {
		send(w.b.t, n.port, f)
	}
}

// run steps the world until done reports true or nothing is left to happen.
func (w *world) run(done func() bool) {
	t := w.b.t
	t.Helper()
	ctx := context.Background()
	for step := 0; ; step++ {
		if step > 100000 {
			t.Fatal("the world does not end")
		}
		if err := w.b.line.Settle(ctx); err != nil {
			t.Fatal(err)
		}
		now := w.b.clock.Now()
		moved := false
		for _, n := range w.nodes {
			for n.port.Stats().Received > n.read {
				f := read(t, n.port)
				n.read++
				if !n.m.Done() {
					out := n.m.Handle(now, f)
					moved = moved || len(out) > 0
					w.write(n, out)
				}
			}
			if dl, ok := n.m.Deadline(); ok && !n.m.Done() && !dl.After(now) {
				w.write(n, n.m.Tick(now))
				moved = true
			}
		}
		if moved {
			continue
		}
		if done() {
			return
		}
		next, ok := w.b.clock.Next()
		for _, n := range w.nodes {
			if dl, has := n.m.Deadline(); has && !n.m.Done() && (!ok || dl.Before(next)) {
				next, ok = dl, true
			}
		}
		if !ok {
			return
		}
		w.b.clock.Set(next)
	}
}

func flat(db byte) []byte {
	p := make([]byte, homeplug.NumAttenGroups)
	for i := range p {
		p[i] = db
	}
	return p
}

func ipv6Passes(t *testing.T, b *bench, from, to *modemsim.Modem) bool {
	t.Helper()
	send(t, from.Host(), ipv6(to.HostMAC(), from.HostMAC()))
	return b.waitFor(from, to, etIPv6).Action == modemsim.Passed
}

// drain takes the frames a host has not read, so the next read is fresh.
func drain(t *testing.T, p *link.Port, n *node) {
	for p.Stats().Received > n.read {
		read(t, p)
		n.read++
	}
}

func TestSLACEndToEnd(t *testing.T) {
	for _, restart := range []time.Duration{-1, 150 * time.Millisecond} {
		t.Run(restart.String(), func(t *testing.T) {
			b := newBench(t, modemsim.LineConfig{})
			evse := b.modem(modemsim.ModemConfig{Name: "evse", EVSE: true, RestartDelay: restart})
			ev := b.modem(modemsim.ModemConfig{Name: "ev", RestartDelay: restart})
			b.line.SetAttenuation(evse, ev, flat(12))
			if ipv6Passes(t, b, ev, evse) {
				t.Fatal("IPv6 passes before SLAC")
			}
			now := b.clock.Now()
			w := &world{b: b}
			m := slac.NewMatcher(slac.Config{MAC: evse.HostMAC()}, now)
			p := slac.NewPEV(slac.PEVConfig{MAC: ev.HostMAC()}, now)
			w.add(evse, m)
			pn := w.add(ev, p)
			w.run(func() bool { return m.Done() && p.Done() })
			r, ok := m.Result()
			if !ok || m.Err() != nil || p.Err() != nil {
				t.Fatalf("no match: %v / %v (%s)", m.Err(), p.Err(), m.Failure())
			}
			pr, _ := p.Result()
			if r.EVMAC != ev.HostMAC() || pr.EVSEMAC != evse.HostMAC() || r.NMK != pr.NMK || !r.Keyed || !r.LinkUp {
				t.Fatalf("EVSE %+v\nPEV %+v", r, pr)
			}
			if r.Sounds != slac.CEVMatchMNBC || r.Profiles != slac.CEVMatchMNBC || r.AttenuationDB != 12 || r.Plausible {
				t.Errorf("sounds %d, profiles %d, attenuation %v", r.Sounds, r.Profiles, r.AttenuationDB)
			}
			for _, mo := range []*modemsim.Modem{evse, ev} {
				if nmk, nid, keyed := mo.NMK(); !keyed || nmk != r.NMK || nid != r.NID {
					t.Errorf("%s holds another key", mo.Name())
				}
			}
			t.Logf("matched in %v, link up after %v, MATCH.REQ repeats %d", r.Timings.MatchCnf, r.Timings.LinkUp, r.Duplicates)
			drain(t, ev.Host(), pn)
			if !ipv6Passes(t, b, ev, evse) || !ipv6Passes(t, b, evse, ev) {
				t.Error("IPv6 blocked after SLAC")
			}
		})
	}
}

func TestSLACCrosstalk(t *testing.T) {
	b := newBench(t, modemsim.LineConfig{Attenuation: flat(45)}) // the cable bundle
	evse1 := b.modem(modemsim.ModemConfig{Name: "evse1", EVSE: true, RestartDelay: -1})
	evse2 := b.modem(modemsim.ModemConfig{Name: "evse2", EVSE: true, RestartDelay: -1})
	ev1 := b.modem(modemsim.ModemConfig{Name: "ev1", RestartDelay: -1})
	ev2 := b.modem(modemsim.ModemConfig{Name: "ev2", RestartDelay: -1})
	b.line.SetAttenuation(evse1, ev1, flat(10))
	b.line.SetAttenuation(evse2, ev2, flat(14))
	now := b.clock.Now()
	w := &world{b: b}
	m1 := slac.NewMatcher(slac.Config{MAC: evse1.HostMAC()}, now)
	m2 := slac.NewMatcher(slac.Config{MAC: evse2.HostMAC()}, now)
	p1 := slac.NewPEV(slac.PEVConfig{MAC: ev1.HostMAC()}, now)
	p2 := slac.NewPEV(slac.PEVConfig{MAC: ev2.HostMAC()}, now.Add(5*time.Millisecond))
	w.add(evse1, m1)
	w.add(evse2, m2)
	w.add(ev1, p1)
	w.add(ev2, p2)
	w.run(func() bool { return m1.Done() && m2.Done() && p1.Done() && p2.Done() })

	pairs := []struct {
		evse, ev *modemsim.Modem
		m        *slac.Matcher
		p        *slac.PEV
	}{{evse1, ev1, m1, p1}, {evse2, ev2, m2, p2}}
	for _, c := range pairs {
		r, ok := c.m.Result()
		pr, pok := c.p.Result()
		if ok && r.EVMAC != c.ev.HostMAC() {
			t.Errorf("%s matched %v, not its own car", c.evse.Name(), r.EVMAC)
		}
		if pok && pr.EVSEMAC != c.evse.HostMAC() {
			t.Errorf("%s matched %v, not its own charger", c.ev.Name(), pr.EVSEMAC)
		}
		if !ok || !pok {
			t.Logf("%s refused: %v %v", c.ev.Name(), c.m.Failure(), c.p.Err())
			continue
		}
		if r.NMK != pr.NMK || !c.ev.LinkUp() {
			t.Errorf("%s and %s: no common network", c.evse.Name(), c.ev.Name())
		}
	}
	// These cars both find their own chargers: the crossed pairs are 30 dB worse.
	if _, ok := m1.Result(); !ok {
		t.Error("evse1 did not match")
	}
	if _, ok := m2.Result(); !ok {
		t.Error("evse2 did not match")
	}
	if ipv6Passes(t, b, evse1, ev2) || ipv6Passes(t, b, evse2, ev1) {
		t.Error("IPv6 crosses to the neighbour's car")
	}
	if !ipv6Passes(t, b, evse1, ev1) || !ipv6Passes(t, b, evse2, ev2) {
		t.Error("IPv6 blocked in an AVLN")
	}
}

func TestSLACUnplugMidway(t *testing.T) {
	b := newBench(t, modemsim.LineConfig{})
	evse := b.modem(modemsim.ModemConfig{Name: "evse", EVSE: true, RestartDelay: -1})
	ev := b.modem(modemsim.ModemConfig{Name: "ev", RestartDelay: -1})
	now := b.clock.Now()
	w := &world{b: b}
	m := slac.NewMatcher(slac.Config{MAC: evse.HostMAC()}, now)
	p1 := slac.NewPEV(slac.PEVConfig{MAC: ev.HostMAC(), RunID: homeplug.RunID{1}}, now)
	w.add(evse, m)
	pn := w.add(ev, p1)
	// Pull the plug once the EVSE's host has heard a few sounds.
	w.run(func() bool { return b.line.Stats().Injected >= 3 })
	ev.Unplug()
	w.run(func() bool { return p1.Done() && m.Failure() != nil })
	var pf, mf *slac.FailureError
	if err := p1.Err(); !errors.As(err, &pf) || pf.Reason != slac.ReasonNoAttenChar || !errors.Is(err, slac.ErrNoMatch) {
		t.Fatalf("car after unplug: %v", err)
	}
	if err := m.Failure(); !errors.As(err, &mf) || mf.Reason != slac.ReasonNoMatchReq || mf.EV != ev.HostMAC() {
		t.Fatalf("charger after unplug: %v", err)
	}
	if _, ok := m.Result(); ok || m.Done() {
		t.Fatal("the charger matched an unplugged car")
	}
	t.Logf("car: %v; charger: %v", p1.Err(), m.Failure())

	// Plug in again: the car starts over with a new RunID and matches.
	ev.Plug()
	p2 := slac.NewPEV(slac.PEVConfig{MAC: ev.HostMAC(), RunID: homeplug.RunID{2}}, b.clock.Now())
	pn.m = p2
	w.run(func() bool { return m.Done() && p2.Done() })
	r, ok := m.Result()
	if !ok || p2.Err() != nil || r.RunID != (homeplug.RunID{2}) || !r.LinkUp {
		t.Fatalf("second attempt: %+v %v %v", r, p2.Err(), m.Failure())
	}
}

// TestSLACLoneChargerNeighbourCar: one charger on a bundle with its own car
// (10 dB) and a neighbour's car (45 dB) whose charger does not answer. The
// neighbour's car must not get this charger's network.
func TestSLACLoneChargerNeighbourCar(t *testing.T) {
	b := newBench(t, modemsim.LineConfig{Attenuation: flat(45)})
	evse := b.modem(modemsim.ModemConfig{Name: "evse", EVSE: true, RestartDelay: -1})
	ev := b.modem(modemsim.ModemConfig{Name: "ev", RestartDelay: -1})
	other := b.modem(modemsim.ModemConfig{Name: "neighbour", RestartDelay: -1})
	b.line.SetAttenuation(evse, ev, flat(10))
	now := b.clock.Now()
	w := &world{b: b}
	m := slac.NewMatcher(slac.Config{MAC: evse.HostMAC()}, now)
	p := slac.NewPEV(slac.PEVConfig{MAC: ev.HostMAC()}, now.Add(100*time.Millisecond))
	po := slac.NewPEV(slac.PEVConfig{MAC: other.HostMAC()}, now)
	w.add(evse, m)
	w.add(ev, p)
	w.add(other, po)
	w.run(func() bool { return m.Done() && p.Done() && po.Done() })
	if r, ok := m.Result(); ok && r.EVMAC != ev.HostMAC() {
		t.Errorf("the charger matched the neighbour's car %v", r.EVMAC)
	}
	if ipv6Passes(t, b, evse, other) {
		t.Error("IPv6 crosses to the neighbour's car")
	}
}

// TestSLACDefaultRestart: modems that restart for DefaultRestartDelay after
// CM_SET_KEY, as a QCA7000 does (0.5-1 s). The charger keys its modem when
// its session starts, so the restart is over before the car (plugged in a
// second later) matches, and no MATCH.CNF is lost.
func TestSLACDefaultRestart(t *testing.T) {
	b := newBench(t, modemsim.LineConfig{})
	evse := b.modem(modemsim.ModemConfig{Name: "evse", EVSE: true})
	ev := b.modem(modemsim.ModemConfig{Name: "ev"})
	now := b.clock.Now()
	w := &world{b: b}
	m := slac.NewMatcher(slac.Config{MAC: evse.HostMAC()}, now)
	p := slac.NewPEV(slac.PEVConfig{MAC: ev.HostMAC()}, now.Add(time.Second))
	w.add(evse, m)
	w.add(ev, p)
	w.run(func() bool { return m.Done() && p.Done() })
	if p.Err() != nil || !ev.LinkUp() {
		t.Fatalf("car: %v", p.Err())
	}
}
