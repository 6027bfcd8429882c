//go:build linux

package modemsim_test

import (
	"context"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/ccslink/ccslink/clock"
	"github.com/ccslink/ccslink/homeplug"
	"github.com/ccslink/ccslink/internal/netnstest"
	"github.com/ccslink/ccslink/link"
	"github.com/ccslink/ccslink/modemsim"
	"github.com/ccslink/ccslink/slac"
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
