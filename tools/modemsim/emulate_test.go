package modemsim_test

import (
	"context"
	"testing"
	"time"

	"github.com/ccslink/ccslink/clock"
	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/link"
	"github.com/ccslink/ccslink/proto/slac"
	"github.com/ccslink/ccslink/tools/modemsim"
)

// cable is two emulators on the two ends of an in-memory cable, as on the
// two ends of a veth pair.
type cable struct {
	t      *testing.T
	clock  *clock.Fake
	a, b   *modemsim.Emulator
	events chan modemsim.Event
}

var (
	hostA = homeplug.MAC{0x02, 0, 0, 0, 0xe5, 0x01}
	hostB = homeplug.MAC{0x02, 0, 0, 0, 0xca, 0x01}
)

func newCable(t *testing.T, clk clock.Clock, a, b modemsim.EmulateConfig) *cable {
	t.Helper()
	c := &cable{t: t, events: make(chan modemsim.Event, 4096)}
	if clk == nil {
		c.clock = clock.NewFake(t0)
		clk = c.clock
	}
	wa, wb, err := link.Pipe(hostA.HardwareAddr(), hostB.HardwareAddr())
	if err != nil {
		t.Fatal(err)
	}
	events := func(e modemsim.Event) {
		select {
		case c.events <- e:
		default:
		}
	}
	for _, cfg := range []*modemsim.EmulateConfig{&a, &b} {
		cfg.Clock, cfg.Events = clk, events
	}
	if c.a, err = modemsim.Emulate(context.Background(), wa, a); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.a.Close() })
	if c.b, err = modemsim.Emulate(context.Background(), wb, b); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.b.Close() })
	return c
}

func (c *cable) wait(ok func(e modemsim.Event) bool) modemsim.Event {
	c.t.Helper()
	timeout := time.NewTimer(waitLimit)
	defer timeout.Stop()
	for {
		select {
		case e := <-c.events:
			if ok(e) {
				return e
			}
		case <-timeout.C:
			c.t.Fatal("no such event")
		}
	}
}

// keyBoth keys both modems with nmk and waits until each has learned the other's state.
func (c *cable) keyBoth(nmk homeplug.NMK) {
	c.t.Helper()
	for _, e := range []*modemsim.Emulator{c.a, c.b} {
		req := homeplug.NewSetKeyReq(nmk)
		src, _ := homeplug.MACFrom(e.Host().HardwareAddr())
		sendMsg(c.t, e.Host(), homeplug.LocalModemMAC, src, &req)
		if f := readMsg(c.t, e.Host()); f.MMType != homeplug.CMSetKeyCnf || f.Message.(*homeplug.SetKeyCnf).Result != 0x01 {
			c.t.Fatalf("got %v", f.MMType)
		}
	}
	for !c.a.LinkUp() || !c.b.LinkUp() {
		c.wait(func(e modemsim.Event) bool { return e.Action == modemsim.Learned })
	}
}

func TestEmulateAnswersLocally(t *testing.T) {
	c := newCable(t, nil, modemsim.EmulateConfig{Modem: modemsim.ModemConfig{Name: "evse", Firmware: "fw-evse", RestartDelay: -1}},
		modemsim.EmulateConfig{Modem: modemsim.ModemConfig{Name: "ev", RestartDelay: -1}})
	sendMsg(t, c.a.Host(), homeplug.LocalModemMAC, hostA, &homeplug.SwVerReq{})
	f := readMsg(t, c.a.Host())
	if cnf, ok := f.Message.(*homeplug.SwVerCnf); !ok || cnf.Version != "fw-evse" || f.Src != c.a.MAC() {
		t.Fatalf("got %v %+v", f.MMType, f.Message)
	}
	sendMsg(t, c.a.Host(), homeplug.LocalModemMAC, hostA, &homeplug.PlLnkStatusReq{})
	if cnf := readMsg(t, c.a.Host()).Message.(*homeplug.PlLnkStatusCnf); cnf.LinkStatus != homeplug.LinkDown {
		t.Error("link up before keys")
	}
	c.keyBoth(homeplug.NewNMK())
	sendMsg(t, c.a.Host(), homeplug.LocalModemMAC, hostA, &homeplug.PlLnkStatusReq{})
	if cnf := readMsg(t, c.a.Host()).Message.(*homeplug.PlLnkStatusCnf); cnf.LinkStatus != homeplug.LinkUp {
		t.Error("link down with one key")
	}
	// None of the requests reached the other host.
	if n := c.b.Host().Stats().Received; n != 1 { // its own CM_SET_KEY.CNF
		t.Errorf("other host got %d frames", n)
	}
	if s := c.a.Stats(); s.Answered != 4 || s.Passed != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestEmulateUnicastAfterKeys(t *testing.T) {
	c := newCable(t, nil, modemsim.EmulateConfig{Modem: modemsim.ModemConfig{Name: "evse", RestartDelay: -1}},
		modemsim.EmulateConfig{Modem: modemsim.ModemConfig{Name: "ev", RestartDelay: 200 * time.Millisecond}})
	send(t, c.a.Host(), ipv6(hostB, hostA))
	if e := c.wait(func(e modemsim.Event) bool { return e.EtherType == etIPv6 }); e.Reason != modemsim.ReasonNoAVLN || e.From != "evse" {
		t.Errorf("IPv6 before keys: %+v", e)
	}
	// SLAC passes before keys, in both directions.
	sendMsg(t, c.b.Host(), homeplug.BroadcastMAC, hostB, &homeplug.SlacParmReq{})
	if f := readMsg(t, c.a.Host()); f.MMType != homeplug.CMSlacParmReq {
		t.Fatalf("got %v", f.MMType)
	}
	sendMsg(t, c.a.Host(), hostB, hostA, &homeplug.SlacParmCnf{})
	if f := readMsg(t, c.b.Host()); f.MMType != homeplug.CMSlacParmCnf {
		t.Fatalf("got %v", f.MMType)
	}
	nmk := homeplug.NewNMK()
	for _, e := range []*modemsim.Emulator{c.a, c.b} {
		req := homeplug.NewSetKeyReq(nmk)
		src, _ := homeplug.MACFrom(e.Host().HardwareAddr())
		sendMsg(t, e.Host(), homeplug.LocalModemMAC, src, &req)
		readMsg(t, e.Host())
	}
	// The car's modem restarts: no link until it is back.
	c.wait(func(e modemsim.Event) bool { return e.Action == modemsim.Learned && e.To == "evse" })
	if c.a.LinkUp() || c.b.LinkUp() {
		t.Error("link up during the restart")
	}
	c.clock.Advance(200 * time.Millisecond)
	// Each side learns the other's key from its own goroutine: the car may
	// take in the charger's message after the charger took in the car's.
	for !c.a.LinkUp() || !c.b.LinkUp() {
		c.wait(func(e modemsim.Event) bool { return e.Action == modemsim.Learned })
	}
	frame := ipv6(hostB, hostA)
	send(t, c.a.Host(), frame)
	if got := read(t, c.b.Host()); string(got) != string(frame) {
		t.Errorf("got %x", got)
	}
	send(t, c.b.Host(), ipv6(allMulticast, hostB))
	if got := read(t, c.a.Host()); got[0] != 0x33 {
		t.Errorf("got %x", got)
	}
	// Unplugged, the link is gone on both sides.
	c.b.Unplug()
	for c.a.LinkUp() {
		c.wait(func(e modemsim.Event) bool { return e.Action == modemsim.Learned && e.To == "evse" })
	}
	send(t, c.a.Host(), ipv6(hostB, hostA))
	if e := c.wait(func(e modemsim.Event) bool {
		return e.EtherType == etIPv6 && e.From == "evse" && e.Action != modemsim.Passed
	}); e.Reason != modemsim.ReasonNoAVLN {
		t.Errorf("after unplug: %+v", e)
	}
	c.b.Plug()
	for !c.a.LinkUp() || !c.b.LinkUp() {
		c.wait(func(e modemsim.Event) bool { return e.Action == modemsim.Learned })
	}
}

func TestEmulateProfile(t *testing.T) {
	aag := flat(17)
	c := newCable(t, nil, modemsim.EmulateConfig{Modem: modemsim.ModemConfig{Name: "evse", EVSE: true}, Attenuation: aag},
		modemsim.EmulateConfig{Modem: modemsim.ModemConfig{Name: "ev"}})
	for range 2 {
		sendMsg(t, c.b.Host(), homeplug.BroadcastMAC, hostB, &homeplug.MnbcSoundInd{})
		if f := readMsg(t, c.a.Host()); f.MMType != homeplug.CMMnbcSoundInd {
			t.Fatalf("got %v", f.MMType)
		}
		c.clock.Advance(time.Millisecond)
		f := readMsg(t, c.a.Host())
		p, ok := f.Message.(*homeplug.AttenProfileInd)
		if !ok || p.PEVMAC != hostB || string(p.AAG) != string(aag) {
			t.Fatalf("got %v %+v", f.MMType, f.Message)
		}
	}
	// The car's side is no EVSE: it reports nothing for the charger's sounds.
	// A profile would be scheduled before the sound reaches the host.
	sendMsg(t, c.a.Host(), homeplug.BroadcastMAC, hostA, &homeplug.MnbcSoundInd{})
	readMsg(t, c.b.Host())
	if n := c.clock.Pending(); n != 0 {
		t.Errorf("%d profiles pending on the car's side", n)
	}
}

// TestEmulateSLAC runs slac's EVSE and PEV over two emulators in real time,
// as two ccslink processes with --emulate-modem on a veth pair would.
func TestEmulateSLAC(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about 2 s of real time")
	}
	c := newCable(t, clock.Real{},
		modemsim.EmulateConfig{Modem: modemsim.ModemConfig{Name: "evse", EVSE: true, RestartDelay: 100 * time.Millisecond}},
		modemsim.EmulateConfig{Modem: modemsim.ModemConfig{Name: "ev", RestartDelay: 100 * time.Millisecond}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	type outcome struct {
		r   slac.Result
		err error
	}
	pev := make(chan outcome, 1)
	go func() {
		r, err := slac.MatchPEV(ctx, c.b.Host(), clock.Real{}, slac.PEVConfig{MAC: hostB})
		pev <- outcome{r, err}
	}()
	r, err := slac.MatchEVSE(ctx, c.a.Host(), clock.Real{}, slac.Config{MAC: hostA, LinkPoll: 100 * time.Millisecond})
	p := <-pev
	if err != nil || p.err != nil {
		t.Fatalf("EVSE %v, PEV %v", err, p.err)
	}
	if r.EVMAC != hostB || p.r.EVSEMAC != hostA || r.NMK != p.r.NMK || !r.LinkUp || r.Profiles == 0 {
		t.Fatalf("EVSE %+v\nPEV %+v", r, p.r)
	}
	if !c.a.LinkUp() || !c.b.LinkUp() {
		t.Fatal("emulators see no link")
	}
	send(t, c.b.Host(), ipv6(hostA, hostB))
	for {
		if f := read(t, c.a.Host()); f[12] == 0x86 && f[13] == 0xdd {
			break
		}
	}
}

// TestEmulateDrops plays a bare peer on the wire, with no emulator of its own.
func TestEmulateDrops(t *testing.T) {
	clk := clock.NewFake(t0)
	wa, peer, err := link.Pipe(hostA.HardwareAddr(), hostB.HardwareAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	events := make(chan modemsim.Event, 1024)
	e, err := modemsim.Emulate(context.Background(), wa, modemsim.EmulateConfig{
		Modem: modemsim.ModemConfig{Name: "evse", EVSE: true},
		Clock: clk,
		Events: func(ev modemsim.Event) {
			select {
			case events <- ev:
			default:
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	next := func(from string) modemsim.Event {
		t.Helper()
		for {
			select {
			case ev := <-events:
				if ev.From == from {
					return ev
				}
			case <-time.After(waitLimit):
				t.Fatal("no event")
			}
		}
	}
	// At start the emulator asks for the peer's state.
	if f := readMsg(t, peer); f.MMType != modemsim.StateMMType || f.OUI != modemsim.StateOUI {
		t.Fatalf("got %v %v", f.MMType, f.OUI)
	}
	// The bare peer's requests for its own modem are not the emulator's business.
	sendMsg(t, peer, homeplug.LocalModemMAC, hostB, &homeplug.SwVerReq{})
	if ev := next("wire"); ev.Reason != modemsim.ReasonFromLine {
		t.Errorf("peer's request: %+v", ev)
	}
	runt := make([]byte, 15) // a HomePlug header cut short
	copy(runt, hostA[:])
	copy(runt[6:], hostB[:])
	runt[12], runt[13] = 0x88, 0xe1
	send(t, peer, runt)
	if ev := next("wire"); ev.Reason != modemsim.ReasonMalformed {
		t.Errorf("runt: %+v", ev)
	}
	// Keyed, the modem restarts: nothing passes either way.
	req := homeplug.NewSetKeyReq(homeplug.NewNMK())
	sendMsg(t, e.Host(), homeplug.LocalModemMAC, hostA, &req)
	readMsg(t, e.Host())
	next("evse")
	sendMsg(t, e.Host(), homeplug.BroadcastMAC, hostA, &homeplug.SlacParmReq{})
	if ev := next("evse"); ev.Reason != modemsim.ReasonRestarting {
		t.Errorf("host during restart: %+v", ev)
	}
	sendMsg(t, peer, homeplug.BroadcastMAC, hostB, &homeplug.MnbcSoundInd{})
	if ev := next("wire"); ev.Reason != modemsim.ReasonRestarting {
		t.Errorf("wire during restart: %+v", ev)
	}
	clk.Advance(modemsim.DefaultRestartDelay)
	// A peer that announces nothing never shares the AVLN.
	send(t, peer, ipv6(hostA, hostB))
	if ev := next("wire"); ev.Reason != modemsim.ReasonNoAVLN {
		t.Errorf("unicast from a bare peer: %+v", ev)
	}
	e.Unplug()
	sendMsg(t, peer, hostA, hostB, &homeplug.AttenCharRsp{})
	if ev := next("wire"); ev.Reason != modemsim.ReasonUnplugged {
		t.Errorf("unplugged: %+v", ev)
	}
	sendMsg(t, e.Host(), hostB, hostA, &homeplug.AttenCharInd{AAG: flat(1)})
	if ev := next("evse"); ev.Reason != modemsim.ReasonUnplugged || ev.Action.String() != "dropped" {
		t.Errorf("unplugged: %+v", ev)
	}
	e.Plug()
	sendMsg(t, peer, homeplug.BroadcastMAC, hostB, &homeplug.MnbcSoundInd{})
	if f := readMsg(t, e.Host()); f.MMType != homeplug.CMMnbcSoundInd {
		t.Fatalf("got %v", f.MMType)
	}
	clk.Advance(time.Millisecond)
	if f := readMsg(t, e.Host()); f.MMType != homeplug.CMAttenProfileInd {
		t.Fatalf("got %v", f.MMType)
	}
}

// TestEmulateForeignPeer: facing a modem that never sends the private
// message (NoStateMessage stands in for another project's), an emulator
// takes the AVLN from the CM_SLAC_MATCH.CNF seen passing, both when it is
// the charger's modem and when it is the car's, and leaves it when the car
// starts a new matching.
func TestEmulateForeignPeer(t *testing.T) {
	for _, foreign := range []string{"car", "charger"} {
		t.Run("foreign "+foreign, func(t *testing.T) {
			a := modemsim.EmulateConfig{Modem: modemsim.ModemConfig{Name: "evse", EVSE: true, RestartDelay: -1}, NoStateMessage: foreign == "charger"}
			b := modemsim.EmulateConfig{Modem: modemsim.ModemConfig{Name: "ev", RestartDelay: -1}, NoStateMessage: foreign == "car"}
			c := newCable(t, nil, a, b)
			passed := func(from string, mt homeplug.MMType) {
				t.Helper()
				c.wait(func(e modemsim.Event) bool { return e.From == from && e.MMType == mt && e.Action == modemsim.Passed })
			}
			nmk := homeplug.NewNMK()
			setKey := func(e *modemsim.Emulator, src homeplug.MAC, k homeplug.NMK) {
				t.Helper()
				req := homeplug.NewSetKeyReq(k)
				sendMsg(t, e.Host(), homeplug.LocalModemMAC, src, &req)
				if f := readMsg(t, e.Host()); f.MMType != homeplug.CMSetKeyCnf {
					t.Fatalf("got %v", f.MMType)
				}
			}
			setKey(c.a, hostA, nmk) // the charger keys its modem when the session starts
			sendMsg(t, c.b.Host(), homeplug.BroadcastMAC, hostB, &homeplug.SlacParmReq{})
			passed("wire", homeplug.CMSlacParmReq)
			readMsg(t, c.a.Host())
			if c.a.LinkUp() || c.b.LinkUp() {
				t.Fatal("link up before the match")
			}
			sendMsg(t, c.a.Host(), hostB, hostA, &homeplug.SlacMatchCnf{PEVMAC: hostB, EVSEMAC: hostA, NMK: nmk, NID: nmk.NID()})
			passed("wire", homeplug.CMSlacMatchCnf)
			if f := readMsg(t, c.b.Host()); f.MMType != homeplug.CMSlacMatchCnf {
				t.Fatalf("got %v", f.MMType)
			}
			if !c.a.LinkUp() {
				t.Fatal("the charger's modem has no link once its MATCH.CNF went out")
			}
			if c.b.LinkUp() {
				t.Fatal("the car's modem has a link before its host keyed it")
			}
			setKey(c.b, hostB, nmk)
			if !c.b.LinkUp() {
				t.Fatal("the car's modem has no link with the key of the MATCH.CNF")
			}
			frame := ipv6(hostA, hostB)
			send(t, c.b.Host(), frame)
			if got := read(t, c.a.Host()); string(got) != string(frame) {
				t.Fatalf("got %x", got)
			}
			sendMsg(t, c.a.Host(), homeplug.LocalModemMAC, hostA, &homeplug.PlLnkStatusReq{})
			if cnf := readMsg(t, c.a.Host()).Message.(*homeplug.PlLnkStatusCnf); cnf.LinkStatus != homeplug.LinkUp {
				t.Fatal("VS_PL_LNK_STATUS says no link")
			}
			// The car matches anew (it left): neither side is in the AVLN.
			sendMsg(t, c.b.Host(), homeplug.BroadcastMAC, hostB, &homeplug.SlacParmReq{})
			passed("wire", homeplug.CMSlacParmReq)
			readMsg(t, c.a.Host())
			if c.a.LinkUp() || c.b.LinkUp() {
				t.Fatalf("link after a new matching: charger %v, car %v", c.a.LinkUp(), c.b.LinkUp())
			}
			// The next car, the next key.
			next := homeplug.NewNMK()
			setKey(c.a, hostA, next)
			sendMsg(t, c.a.Host(), hostB, hostA, &homeplug.SlacMatchCnf{PEVMAC: hostB, EVSEMAC: hostA, NMK: next, NID: next.NID()})
			passed("wire", homeplug.CMSlacMatchCnf)
			readMsg(t, c.b.Host())
			setKey(c.b, hostB, next)
			if !c.a.LinkUp() || !c.b.LinkUp() {
				t.Fatalf("next car: charger %v, car %v", c.a.LinkUp(), c.b.LinkUp())
			}
			if s := map[string]*modemsim.Emulator{"car": c.b, "charger": c.a}[foreign].Stats(); s.Dropped[modemsim.ReasonUnsupported] == 0 {
				t.Errorf("the foreign modem heeded the private message: %+v", s)
			}
		})
	}
}

// TestEmulatePrivateMessageRules: where both ends send the private message,
// it alone says whether the peer holds the key; a MATCH.CNF seen passing
// does not.
func TestEmulatePrivateMessageRules(t *testing.T) {
	c := newCable(t, nil, modemsim.EmulateConfig{Modem: modemsim.ModemConfig{Name: "evse", EVSE: true, RestartDelay: -1}},
		modemsim.EmulateConfig{Modem: modemsim.ModemConfig{Name: "ev", RestartDelay: -1}})
	c.wait(func(e modemsim.Event) bool { return e.Action == modemsim.Learned && e.To == "evse" })
	nmk := homeplug.NewNMK()
	req := homeplug.NewSetKeyReq(nmk)
	sendMsg(t, c.a.Host(), homeplug.LocalModemMAC, hostA, &req)
	readMsg(t, c.a.Host())
	sendMsg(t, c.a.Host(), hostB, hostA, &homeplug.SlacMatchCnf{PEVMAC: hostB, EVSEMAC: hostA, NMK: nmk, NID: nmk.NID()})
	readMsg(t, c.b.Host())
	if c.a.LinkUp() {
		t.Fatal("link up with a car that did not key its modem")
	}
	c.keyBoth(nmk)
}

// TestEmulateLinkAlwaysDown: the modem's link status says "no link" in an
// AVLN, and frames pass all the same.
func TestEmulateLinkAlwaysDown(t *testing.T) {
	c := newCable(t, nil, modemsim.EmulateConfig{Modem: modemsim.ModemConfig{Name: "evse", EVSE: true, RestartDelay: -1}, LinkAlwaysDown: true},
		modemsim.EmulateConfig{Modem: modemsim.ModemConfig{Name: "ev", RestartDelay: -1}})
	c.keyBoth(homeplug.NewNMK())
	sendMsg(t, c.a.Host(), homeplug.LocalModemMAC, hostA, &homeplug.PlLnkStatusReq{})
	if cnf := readMsg(t, c.a.Host()).Message.(*homeplug.PlLnkStatusCnf); cnf.LinkStatus != homeplug.LinkDown || cnf.MStatus != homeplug.MStatusSuccess {
		t.Fatalf("link status %+v", cnf)
	}
	frame := ipv6(hostB, hostA)
	send(t, c.a.Host(), frame)
	if got := read(t, c.b.Host()); string(got) != string(frame) {
		t.Fatalf("got %x", got)
	}
}
