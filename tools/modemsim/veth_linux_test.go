//go:build linux

package modemsim_test

import (
	"context"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/ccslink/ccslink/clock"
	"github.com/ccslink/ccslink/internal/netnstest"
	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/link"
	"github.com/ccslink/ccslink/proto/slac"
	"github.com/ccslink/ccslink/tools/modemsim"
)

var (
	vethMACA = net.HardwareAddr{0x02, 0xcc, 0, 0, 0xe5, 0x01}
	vethMACB = net.HardwareAddr{0x02, 0xcc, 0, 0, 0xca, 0x01}
)

// etLocal is the IEEE local experimental ethertype: host traffic that the
// kernels in the namespaces do not send on their own, unlike IPv6.
const etLocal = 0x88B5

func localFrame(dst, src net.HardwareAddr) []byte {
	f := make([]byte, 60)
	copy(f, dst)
	copy(f[6:], src)
	binary.BigEndian.PutUint16(f[12:], etLocal)
	copy(f[14:], "ccslink")
	return f
}

// TestEmulateVeth is --emulate-modem on a veth pair in two fresh network
// namespaces, with real raw sockets: each side's emulator answers its host's
// modem requests, the charger's reports profiles of the car's sounds, SLAC
// matches, and host traffic passes only once both hold the matched key.
func TestEmulateVeth(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about 2 s of real time")
	}
	nsA, nsB := netnstest.NewVethPair(t, netnstest.Config{IfaceA: "msim0", IfaceB: "msim1", MACA: vethMACA, MACB: vethMACB})
	var wa, wb *link.RawConn
	var err error
	nsA.Do(t, func() { wa, err = link.Listen(nsA.Iface, link.AllEtherTypes, nil) })
	if err != nil {
		t.Fatal(err)
	}
	nsB.Do(t, func() { wb, err = link.Listen(nsB.Iface, link.AllEtherTypes, nil) })
	if err != nil {
		wa.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	events := make(chan modemsim.Event, 4096)
	onEvent := func(e modemsim.Event) {
		select {
		case events <- e:
		default:
		}
	}
	// A short restart: slac keys its modem just before CM_SLAC_MATCH.CNF.
	restart := 100 * time.Millisecond
	ea, err := modemsim.Emulate(ctx, wa, modemsim.EmulateConfig{Modem: modemsim.ModemConfig{Name: "evse", EVSE: true, RestartDelay: restart}, Events: onEvent})
	if err != nil {
		t.Fatal(err)
	}
	defer ea.Close()
	eb, err := modemsim.Emulate(ctx, wb, modemsim.EmulateConfig{Modem: modemsim.ModemConfig{Name: "ev", RestartDelay: restart}, Events: onEvent})
	if err != nil {
		t.Fatal(err)
	}
	defer eb.Close()

	send(t, ea.Host(), localFrame(vethMACB, vethMACA))
	for done := false; !done; {
		select {
		case e := <-events:
			if e.EtherType == etLocal {
				if e.Action != modemsim.Dropped || e.Reason != modemsim.ReasonNoAVLN {
					t.Fatalf("host traffic before SLAC: %+v", e)
				}
				done = true
			}
		case <-ctx.Done():
			t.Fatal("no decision about the host's frame")
		}
	}

	evMAC, _ := homeplug.MACFrom(vethMACB)
	evseMAC, _ := homeplug.MACFrom(vethMACA)
	type outcome struct {
		r   slac.Result
		err error
	}
	pev := make(chan outcome, 1)
	go func() {
		r, err := slac.MatchPEV(ctx, eb.Host(), clock.Real{}, slac.PEVConfig{MAC: evMAC})
		pev <- outcome{r, err}
	}()
	r, err := slac.MatchEVSE(ctx, ea.Host(), clock.Real{}, slac.Config{MAC: evseMAC, LinkPoll: 100 * time.Millisecond})
	p := <-pev
	if err != nil || p.err != nil {
		t.Fatalf("EVSE %v, PEV %v", err, p.err)
	}
	if r.EVMAC != evMAC || p.r.EVSEMAC != evseMAC || r.NMK != p.r.NMK || !r.LinkUp || r.Profiles == 0 || r.Plausible {
		t.Fatalf("EVSE %+v\nPEV %+v", r, p.r)
	}
	t.Logf("matched over veth: %d sounds, %d profiles, link up after %v", r.Sounds, r.Profiles, r.Timings.LinkUp)

	want := localFrame(vethMACB, vethMACA)
	send(t, ea.Host(), want)
	for {
		f := read(t, eb.Host())
		if binary.BigEndian.Uint16(f[12:]) == etLocal {
			if string(f[:len(want)]) != string(want) {
				t.Fatalf("got %x", f)
			}
			break
		}
	}
}

// TestEmulateVethBarePeer: an emulator whose peer is a bare host, sending
// SLAC straight on the wire with no emulator and no private message (as
// another project's car or charger does), reports the link up once the
// CM_SLAC_MATCH.CNF has passed and its host holds that key; twice in a
// row, so the second plug-in's key is taken too.
func TestEmulateVethBarePeer(t *testing.T) {
	if testing.Short() {
		t.Skip("takes a few seconds of real time")
	}
	for _, bare := range []string{"car", "charger"} {
		t.Run("bare "+bare, func(t *testing.T) {
			nsA, nsB := netnstest.NewVethPair(t, netnstest.Config{IfaceA: "msim0", IfaceB: "msim1", MACA: vethMACA, MACB: vethMACB})
			var wa, wb *link.RawConn
			var err error
			nsA.Do(t, func() { wa, err = link.Listen(nsA.Iface, homeplug.EtherType, nil) })
			if err != nil {
				t.Fatal(err)
			}
			nsB.Do(t, func() { wb, err = link.Listen(nsB.Iface, homeplug.EtherType, nil) })
			if err != nil {
				wa.Close()
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			evMAC, _ := homeplug.MACFrom(vethMACB)
			evseMAC, _ := homeplug.MACFrom(vethMACA)
			restart := 100 * time.Millisecond
			// The charger's port and the car's: one behind an emulator, the other bare.
			var evsePort, pevPort slac.Port = wa, wb
			var emu *modemsim.Emulator
			if bare == "car" {
				emu, err = modemsim.Emulate(ctx, wa, modemsim.EmulateConfig{Modem: modemsim.ModemConfig{Name: "evse", EVSE: true, RestartDelay: restart}})
				evsePort = emu.Host()
				defer wb.Close()
			} else {
				emu, err = modemsim.Emulate(ctx, wb, modemsim.EmulateConfig{Modem: modemsim.ModemConfig{Name: "ev", RestartDelay: restart}})
				pevPort = emu.Host()
				defer wa.Close()
			}
			if err != nil {
				t.Fatal(err)
			}
			defer emu.Close()
			var keys []homeplug.NMK
			for run := byte(1); run <= 2; run++ {
				type outcome struct {
					r   slac.Result
					err error
				}
				pev := make(chan outcome, 1)
				go func() {
					r, err := slac.MatchPEV(ctx, pevPort, clock.Real{}, slac.PEVConfig{MAC: evMAC, RunID: homeplug.RunID{run}})
					if err == nil && bare == "charger" {
						// The car's host waits for its modem, at most TT_match_join.
						wctx, cancel := context.WithTimeout(ctx, slac.TTMatchJoin)
						err = modemsim.AwaitLink(wctx, emu)
						cancel()
					}
					pev <- outcome{r, err}
				}()
				// A bare charger has no modem to ask for the link: it is done at MATCH.CNF.
				cfg := slac.Config{MAC: evseMAC, LinkPoll: 100 * time.Millisecond}
				if bare == "charger" {
					cfg.LinkPoll = -1
				}
				r, err := slac.MatchEVSE(ctx, evsePort, clock.Real{}, cfg)
				p := <-pev
				if err != nil || p.err != nil {
					t.Fatalf("run %d: EVSE %v, PEV %v", run, err, p.err)
				}
				if r.EVMAC != evMAC || p.r.EVSEMAC != evseMAC || r.NMK != p.r.NMK || r.RunID != (homeplug.RunID{run}) {
					t.Fatalf("run %d: EVSE %+v\nPEV %+v", run, r, p.r)
				}
				if bare == "car" && !r.LinkUp {
					t.Fatalf("run %d: the charger's emulated modem never reported the bare car's link", run)
				}
				if !emu.LinkUp() {
					t.Fatalf("run %d: the emulator reports no link", run)
				}
				keys = append(keys, r.NMK)
				t.Logf("bare %s, run %d: link up after %v", bare, run, r.Timings.LinkUp)
			}
			if keys[0] == keys[1] {
				t.Fatal("the same key twice")
			}
			if s := emu.Stats(); s.Dropped[modemsim.ReasonFromLine] == 0 {
				t.Errorf("the bare peer's CM_SET_KEY never reached the wire: %+v", s)
			}
		})
	}
}
