//go:build linux

package modemsim_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/ccslink/ccslink/clock"
	"github.com/ccslink/ccslink/homeplug"
	"github.com/ccslink/ccslink/link"
	"github.com/ccslink/ccslink/modemsim"
	"github.com/ccslink/ccslink/slac"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

var (
	vethMACA = net.HardwareAddr{0x02, 0xcc, 0, 0, 0xe5, 0x01}
	vethMACB = net.HardwareAddr{0x02, 0xcc, 0, 0, 0xca, 0x01}
)

// etLocal is the IEEE local experimental ethertype: host traffic that the
// kernels in the namespaces do not send on their own, unlike IPv6.
const etLocal = 0x88B5

// inNS runs fn with the calling goroutine's thread in namespace ns; sockets
// fn opens stay in ns. A thread that cannot go back stays locked, so the
// runtime discards it.
func inNS(t *testing.T, ns netns.NsHandle, fn func()) {
	t.Helper()
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer orig.Close()
	if err := netns.Set(ns); err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer func() {
		if err := netns.Set(orig); err != nil {
			t.Errorf("back to the original namespace: %v", err)
			return
		}
		runtime.UnlockOSThread()
	}()
	fn()
}

// vethNamespaces creates two fresh network namespaces joined by a veth
// pair ("msim0" in the first, "msim1" in the second), both up.
func vethNamespaces(t *testing.T) (nsA, nsB netns.NsHandle) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the veth test creates network namespaces and needs root; skipped")
	}
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer orig.Close()
	nsA, errA := netns.New()
	nsB, errB := netns.New()
	if err := netns.Set(orig); err != nil {
		t.Fatalf("back to the original namespace: %v", err)
	}
	runtime.UnlockOSThread()
	if errA != nil || errB != nil {
		t.Fatalf("new namespaces: %v %v", errA, errB)
	}
	t.Cleanup(func() { nsA.Close(); nsB.Close() })

	upA := waitUp(t, nsA, "msim0")
	upB := waitUp(t, nsB, "msim1")
	la := netlink.NewLinkAttrs()
	la.Name = "msim0"
	la.HardwareAddr = vethMACA
	la.Namespace = netlink.NsFd(int(nsA))
	veth := &netlink.Veth{LinkAttrs: la, PeerName: "msim1", PeerHardwareAddr: vethMACB, PeerNamespace: netlink.NsFd(int(nsB))}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatalf("veth: %v", err)
	}
	for _, x := range []struct {
		ns   netns.NsHandle
		name string
	}{{nsA, "msim0"}, {nsB, "msim1"}} {
		h, err := netlink.NewHandleAt(x.ns)
		if err != nil {
			t.Fatal(err)
		}
		l, err := h.LinkByName(x.name)
		if err == nil {
			err = h.LinkSetUp(l)
		}
		h.Close()
		if err != nil {
			t.Fatalf("%s up: %v", x.name, err)
		}
	}
	// Frames sent before the kernel reports operstate UP are dropped.
	if errA, errB := <-upA, <-upB; errA != nil || errB != nil {
		t.Fatalf("links up: %v, %v", errA, errB)
	}
	return nsA, nsB
}

// waitUp reports on the returned channel when name in ns is operationally up.
func waitUp(t *testing.T, ns netns.NsHandle, name string) <-chan error {
	t.Helper()
	updates := make(chan netlink.LinkUpdate, 64)
	done := make(chan struct{})
	timeout := unix.NsecToTimeval((5 * time.Second).Nanoseconds())
	err := netlink.LinkSubscribeWithOptions(updates, done, netlink.LinkSubscribeOptions{Namespace: &ns, ReceiveTimeout: &timeout})
	if err != nil {
		t.Fatalf("subscribe to link changes: %v", err)
	}
	result := make(chan error, 1)
	go func() {
		defer func() {
			close(done)
			for range updates {
			}
		}()
		for u := range updates {
			if u.Attrs().Name == name && u.Attrs().OperState == netlink.OperUp {
				result <- nil
				return
			}
		}
		result <- fmt.Errorf("%s: no operstate UP before the subscription ended", name)
	}()
	return result
}

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
	nsA, nsB := vethNamespaces(t)
	var wa, wb *link.RawConn
	var err error
	inNS(t, nsA, func() { wa, err = link.Listen("msim0", link.AllEtherTypes, nil) })
	if err != nil {
		t.Fatal(err)
	}
	inNS(t, nsB, func() { wb, err = link.Listen("msim1", link.AllEtherTypes, nil) })
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
