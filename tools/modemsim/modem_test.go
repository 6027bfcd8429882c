package modemsim_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/link"
	"github.com/ccslink/ccslink/tools/modemsim"
)

func TestSetKeyAnswered(t *testing.T) {
	b := newBench(t, modemsim.LineConfig{})
	m := b.modem(modemsim.ModemConfig{Name: "evse", EVSE: true})
	nmk := homeplug.NMK{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	req := homeplug.NewSetKeyReq(nmk)
	req.MyNonce, req.PRN, req.PMN = 0x11223344, 0x5566, 7
	sendMsg(t, m.Host(), homeplug.LocalModemMAC, m.HostMAC(), &req)
	raw := read(t, m.Host())
	if len(raw) != homeplug.MinFrameLen {
		t.Errorf("CNF is %d bytes, want %d", len(raw), homeplug.MinFrameLen)
	}
	if raw[19] != 0x01 {
		t.Errorf("Result byte 19 = %#x, want 0x01 as QCA firmware answers", raw[19])
	}
	f, err := homeplug.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	if f.Dst != m.HostMAC() || f.Src != m.MAC() || f.MMType != homeplug.CMSetKeyCnf || f.MMV != homeplug.MMV11 {
		t.Errorf("header %+v", f.Header)
	}
	cnf, ok := f.Message.(*homeplug.SetKeyCnf)
	if !ok {
		t.Fatalf("message %T", f.Message)
	}
	want := homeplug.SetKeyCnf{Result: 0x01, YourNonce: 0x11223344, PID: homeplug.PIDHLE, PRN: 0x5566, PMN: 7}
	if *cnf != want {
		t.Errorf("CNF %+v, want %+v", *cnf, want)
	}
	got, nid, keyed := m.NMK()
	if !keyed || got != nmk || nid != nmk.NID() {
		t.Errorf("modem holds %x %v %v", got, nid, keyed)
	}
	if e := b.waitFor(m, nil, homeplug.EtherType); e.Action != modemsim.Answered || e.MMType != homeplug.CMSetKeyReq {
		t.Errorf("event %+v", e)
	}
	// Addressed to the modem's own MAC it is answered too.
	sendMsg(t, m.Host(), m.MAC(), m.HostMAC(), &req)
	if f := readMsg(t, m.Host()); f.MMType != homeplug.CMSetKeyCnf {
		t.Errorf("got %v", f.MMType)
	}
}

func TestSwVer(t *testing.T) {
	b := newBench(t, modemsim.LineConfig{})
	m := b.modem(modemsim.ModemConfig{Firmware: "MAC-QCA7000-test", DeviceID: 0x20})
	d := b.modem(modemsim.ModemConfig{})
	for _, dst := range []homeplug.MAC{homeplug.LocalModemMAC, homeplug.BroadcastMAC} {
		sendMsg(t, m.Host(), dst, m.HostMAC(), &homeplug.SwVerReq{})
		f := readMsg(t, m.Host())
		cnf, ok := f.Message.(*homeplug.SwVerCnf)
		if !ok || f.Src != m.MAC() || f.OUI != homeplug.QualcommOUI {
			t.Fatalf("got %v %T from %v", f.MMType, f.Message, f.Src)
		}
		if cnf.Version != "MAC-QCA7000-test" || cnf.MStatus != homeplug.MStatusSuccess || cnf.DeviceID != 0x20 {
			t.Errorf("CNF %+v", cnf)
		}
	}
	// The default firmware string, and the query never reaches the other host.
	sendMsg(t, d.Host(), homeplug.LocalModemMAC, d.HostMAC(), &homeplug.SwVerReq{})
	if cnf := readMsg(t, d.Host()).Message.(*homeplug.SwVerCnf); cnf.Version != modemsim.DefaultFirmware {
		t.Errorf("version %q", cnf.Version)
	}
	if n := b.queued(m.Host()); n != 2 {
		t.Errorf("host of m got %d frames, want its 2 answers", n)
	}
	if s := b.line.Stats(); s.Answered != 3 || s.Passed != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestUnsupportedRequest(t *testing.T) {
	b := newBench(t, modemsim.LineConfig{})
	m := b.modem(modemsim.ModemConfig{})
	sendMsg(t, m.Host(), homeplug.LocalModemMAC, m.HostMAC(), &homeplug.RawMessage{Type: 0xA050, Payload: []byte{0}})
	if e := b.waitFor(m, nil, homeplug.EtherType); e.Action != modemsim.Dropped || e.Reason != modemsim.ReasonUnsupported {
		t.Errorf("event %+v", e)
	}
}

func linkStatus(t *testing.T, m *modemsim.Modem) uint8 {
	t.Helper()
	sendMsg(t, m.Host(), homeplug.LocalModemMAC, m.HostMAC(), &homeplug.PlLnkStatusReq{})
	f := readMsg(t, m.Host())
	cnf, ok := f.Message.(*homeplug.PlLnkStatusCnf)
	if !ok {
		t.Fatalf("got %v", f.MMType)
	}
	return cnf.LinkStatus
}

func TestLinkStatusAndRestart(t *testing.T) {
	b := newBench(t, modemsim.LineConfig{})
	evse := b.modem(modemsim.ModemConfig{Name: "evse", EVSE: true, RestartDelay: 800 * time.Millisecond})
	ev := b.modem(modemsim.ModemConfig{Name: "ev"}) // DefaultRestartDelay
	if linkStatus(t, evse) != homeplug.LinkDown {
		t.Error("link up before any key")
	}
	nmk := homeplug.NewNMK()
	b.key(evse, nmk)
	b.key(ev, nmk)
	if linkStatus(t, evse) != homeplug.LinkDown || evse.LinkUp() {
		t.Error("link up while the modems restart")
	}
	// Restarting: the SLAC frames that pass otherwise are dropped too.
	sendMsg(t, ev.Host(), homeplug.BroadcastMAC, ev.HostMAC(), &homeplug.SlacParmReq{})
	if e := b.waitMsg(ev, nil, homeplug.CMSlacParmReq); e.Action != modemsim.Dropped || e.Reason != modemsim.ReasonRestarting {
		t.Errorf("event %+v", e)
	}
	b.clock.Advance(modemsim.DefaultRestartDelay)
	sendMsg(t, ev.Host(), homeplug.BroadcastMAC, ev.HostMAC(), &homeplug.SlacParmReq{})
	if e := b.waitFor(ev, evse, homeplug.EtherType); e.Action != modemsim.Dropped || e.Reason != modemsim.ReasonRestarting {
		t.Errorf("event %+v", e)
	}
	if linkStatus(t, ev) != homeplug.LinkDown {
		t.Error("link up while the EVSE's modem restarts")
	}
	b.clock.Advance(300 * time.Millisecond)
	if linkStatus(t, evse) != homeplug.LinkUp || linkStatus(t, ev) != homeplug.LinkUp || !ev.LinkUp() {
		t.Error("link down with the same NMK on both modems")
	}
	// A reset restarts the modem but keeps its key.
	sendMsg(t, ev.Host(), homeplug.LocalModemMAC, ev.HostMAC(), &homeplug.RsDevReq{})
	if f := readMsg(t, ev.Host()); f.MMType != homeplug.VSRsDevCnf {
		t.Fatalf("got %v", f.MMType)
	}
	if linkStatus(t, evse) != homeplug.LinkDown {
		t.Error("link up while the EV's modem resets")
	}
	b.clock.Advance(modemsim.DefaultRestartDelay)
	if linkStatus(t, evse) != homeplug.LinkUp {
		t.Error("link down after the reset")
	}
	// Another key on one side ends the AVLN.
	b.key(ev, homeplug.NewNMK())
	b.clock.Advance(time.Second)
	if linkStatus(t, evse) != homeplug.LinkDown {
		t.Error("link up with different keys")
	}
}

func TestAttenProfileAfterEachSound(t *testing.T) {
	b := newBench(t, modemsim.LineConfig{})
	evse := b.modem(modemsim.ModemConfig{Name: "evse", EVSE: true})
	ev := b.modem(modemsim.ModemConfig{Name: "ev"})
	aag := make([]byte, homeplug.NumAttenGroups)
	for i := range aag {
		aag[i] = byte(10 + i%7)
	}
	b.line.SetAttenuation(evse, ev, aag)
	const sounds = 3
	for i := range sounds {
		s := &homeplug.MnbcSoundInd{Cnt: uint8(sounds - 1 - i), RunID: homeplug.RunID{1, 2, 3}}
		sendMsg(t, ev.Host(), homeplug.BroadcastMAC, ev.HostMAC(), s)
		if f := readMsg(t, evse.Host()); f.MMType != homeplug.CMMnbcSoundInd || f.Src != ev.HostMAC() {
			t.Fatalf("got %v from %v", f.MMType, f.Src)
		}
		// Nothing more until the modem has measured for ~1 ms.
		if n := b.queued(evse.Host()); n != uint64(2*i+1) {
			t.Fatalf("EVSE host got %d frames before the profile, want %d", n, 2*i+1)
		}
		b.clock.Advance(modemsim.DefaultProfileDelay)
		f := readMsg(t, evse.Host())
		p, ok := f.Message.(*homeplug.AttenProfileInd)
		if !ok {
			t.Fatalf("got %v, want CM_ATTEN_PROFILE.IND", f.MMType)
		}
		if p.PEVMAC != ev.HostMAC() || !bytes.Equal(p.AAG, aag) || f.Src != evse.MAC() || f.Dst != evse.HostMAC() {
			t.Errorf("profile %+v from %v to %v", p, f.Src, f.Dst)
		}
		b.clock.Advance(20 * time.Millisecond)
	}
	// The car's modem is not configured as EVSE: it measures nothing for
	// the charger's sounds, and the car's host never got a profile.
	sendMsg(t, evse.Host(), homeplug.BroadcastMAC, evse.HostMAC(), &homeplug.MnbcSoundInd{})
	readMsg(t, ev.Host())
	b.clock.Advance(time.Second)
	if n := b.queued(ev.Host()); n != 1 {
		t.Errorf("EV host got %d frames, want the sound only", n)
	}
	if s := b.line.Stats(); s.Injected != sounds {
		t.Errorf("stats %+v, want %d profiles", s, sounds)
	}
}

func TestDefaultAttenuation(t *testing.T) {
	b := newBench(t, modemsim.LineConfig{ProfileDelay: 5 * time.Millisecond})
	evse := b.modem(modemsim.ModemConfig{EVSE: true})
	ev := b.modem(modemsim.ModemConfig{})
	sendMsg(t, ev.Host(), homeplug.BroadcastMAC, ev.HostMAC(), &homeplug.MnbcSoundInd{})
	readMsg(t, evse.Host())
	b.clock.Advance(4 * time.Millisecond)
	if n := b.queued(evse.Host()); n != 1 {
		t.Fatalf("profile before ProfileDelay: %d frames", n)
	}
	b.clock.Advance(time.Millisecond)
	p := readMsg(t, evse.Host()).Message.(*homeplug.AttenProfileInd)
	if len(p.AAG) != homeplug.NumAttenGroups || p.AAG[0] != modemsim.DefaultAttenuationDB {
		t.Errorf("profile %v", p.AAG)
	}
}

func TestUnicastNeedsAVLN(t *testing.T) {
	b := newBench(t, modemsim.LineConfig{})
	evse := b.modem(modemsim.ModemConfig{Name: "evse", EVSE: true, RestartDelay: -1})
	ev := b.modem(modemsim.ModemConfig{Name: "ev", RestartDelay: -1})

	send(t, evse.Host(), ipv6(ev.HostMAC(), evse.HostMAC()))
	if e := b.waitFor(evse, ev, etIPv6); e.Action != modemsim.Dropped || e.Reason != modemsim.ReasonNoAVLN {
		t.Errorf("IPv6 before keys: %+v", e)
	}
	// A non-SLAC MME is host traffic too.
	sendMsg(t, evse.Host(), ev.HostMAC(), evse.HostMAC(), &homeplug.RawMessage{Type: 0x6030, Payload: []byte{1}})
	if e := b.waitFor(evse, ev, homeplug.EtherType); e.Reason != modemsim.ReasonNoAVLN {
		t.Errorf("non-SLAC MME before keys: %+v", e)
	}
	// SLAC unicast travels before keys.
	sendMsg(t, evse.Host(), ev.HostMAC(), evse.HostMAC(), &homeplug.AttenCharInd{SourceAddress: ev.HostMAC(), AAG: make([]byte, 58)})
	if f := readMsg(t, ev.Host()); f.MMType != homeplug.CMAttenCharInd {
		t.Errorf("got %v", f.MMType)
	}
	sendMsg(t, ev.Host(), evse.HostMAC(), ev.HostMAC(), &homeplug.SlacMatchReq{PEVMAC: ev.HostMAC()})
	if f := readMsg(t, evse.Host()); f.MMType != homeplug.CMSlacMatchReq {
		t.Errorf("got %v", f.MMType)
	}
	// One side keyed is not enough.
	nmk := homeplug.NewNMK()
	b.key(evse, nmk)
	send(t, ev.Host(), ipv6(evse.HostMAC(), ev.HostMAC()))
	if e := b.waitFor(ev, evse, etIPv6); e.Reason != modemsim.ReasonNoAVLN {
		t.Errorf("IPv6 with one key: %+v", e)
	}
	b.key(ev, nmk)
	frame := ipv6(evse.HostMAC(), ev.HostMAC())
	frame[20] = 0x42
	send(t, ev.Host(), frame)
	if got := read(t, evse.Host()); !bytes.Equal(got, frame) {
		t.Errorf("got %x, want %x", got, frame)
	}
	send(t, evse.Host(), ipv6(allMulticast, evse.HostMAC()))
	if got := read(t, ev.Host()); got[0] != 0x33 {
		t.Errorf("multicast: got %x", got)
	}
	s := b.line.Stats()
	if s.Dropped[modemsim.ReasonNoAVLN] != 3 || s.Passed != 4 {
		t.Errorf("stats %+v", s)
	}
}

func TestNeighbourSeesNoForeignAVLN(t *testing.T) {
	b := newBench(t, modemsim.LineConfig{})
	evse := b.modem(modemsim.ModemConfig{Name: "evse", EVSE: true, RestartDelay: -1})
	ev := b.modem(modemsim.ModemConfig{Name: "ev", RestartDelay: -1})
	other := b.modem(modemsim.ModemConfig{Name: "neighbour", RestartDelay: -1})
	far := make([]byte, homeplug.NumAttenGroups)
	for i := range far {
		far[i] = 50
	}
	b.line.SetAttenuation(evse, other, far)
	nmk := homeplug.NewNMK()
	b.key(evse, nmk)
	b.key(ev, nmk)
	b.key(other, homeplug.NewNMK())

	// Multicast (SDP) of one AVLN reaches its car, not the neighbour's.
	send(t, evse.Host(), ipv6(allMulticast, evse.HostMAC()))
	if e := b.waitFor(evse, ev, etIPv6); e.Action != modemsim.Passed {
		t.Errorf("own car: %+v", e)
	}
	if e := b.waitFor(evse, other, etIPv6); e.Action != modemsim.Dropped || e.Reason != modemsim.ReasonNoAVLN {
		t.Errorf("neighbour: %+v", e)
	}
	// Unicast to the neighbour's MAC from another AVLN is dropped.
	send(t, evse.Host(), ipv6(other.HostMAC(), evse.HostMAC()))
	if e := b.waitFor(evse, other, etIPv6); e.Reason != modemsim.ReasonNoAVLN {
		t.Errorf("neighbour unicast: %+v", e)
	}
	// Unicast to one's own car does not reach the neighbour at all.
	send(t, evse.Host(), ipv6(ev.HostMAC(), evse.HostMAC()))
	b.waitFor(evse, ev, etIPv6)
	if n := b.queued(other.Host()); n != 1 { // its CM_SET_KEY.CNF
		t.Errorf("neighbour's host got %d frames", n)
	}
	// The neighbour's sounds are heard, with its larger attenuation.
	sendMsg(t, other.Host(), homeplug.BroadcastMAC, other.HostMAC(), &homeplug.MnbcSoundInd{})
	readMsg(t, evse.Host())
	b.clock.Advance(time.Millisecond)
	if p := readMsg(t, evse.Host()).Message.(*homeplug.AttenProfileInd); p.PEVMAC != other.HostMAC() || p.AAG[0] != 50 {
		t.Errorf("profile %+v", p)
	}
	if !ev.LinkUp() || other.LinkUp() {
		t.Error("link status")
	}
}

func TestUnplugStopsEverything(t *testing.T) {
	b := newBench(t, modemsim.LineConfig{})
	evse := b.modem(modemsim.ModemConfig{Name: "evse", EVSE: true, RestartDelay: -1})
	ev := b.modem(modemsim.ModemConfig{Name: "ev", RestartDelay: -1})
	nmk := homeplug.NewNMK()
	b.key(evse, nmk)
	b.key(ev, nmk)
	ev.Unplug()
	if linkStatus(t, evse) != homeplug.LinkDown || ev.LinkUp() {
		t.Error("link up after unplug")
	}
	send(t, evse.Host(), ipv6(ev.HostMAC(), evse.HostMAC()))
	if e := b.waitFor(evse, ev, etIPv6); e.Reason != modemsim.ReasonUnplugged {
		t.Errorf("to the unplugged car: %+v", e)
	}
	sendMsg(t, evse.Host(), homeplug.BroadcastMAC, evse.HostMAC(), &homeplug.SlacParmCnf{})
	if e := b.waitFor(evse, ev, homeplug.EtherType); e.Reason != modemsim.ReasonUnplugged {
		t.Errorf("SLAC to the unplugged car: %+v", e)
	}
	sendMsg(t, ev.Host(), homeplug.BroadcastMAC, ev.HostMAC(), &homeplug.MnbcSoundInd{})
	if e := b.waitMsg(ev, nil, homeplug.CMMnbcSoundInd); e.Reason != modemsim.ReasonUnplugged {
		t.Errorf("from the unplugged car: %+v", e)
	}
	b.clock.Advance(time.Second)
	if n := b.queued(ev.Host()); n != 1 { // its CM_SET_KEY.CNF
		t.Errorf("unplugged car's host got %d frames", n)
	}
	if n := b.queued(evse.Host()); n != 2 { // CNF and link status
		t.Errorf("EVSE host got %d frames", n)
	}
	// A sound heard just before the plug is pulled gives no profile.
	ev.Plug()
	sendMsg(t, ev.Host(), homeplug.BroadcastMAC, ev.HostMAC(), &homeplug.MnbcSoundInd{})
	readMsg(t, evse.Host())
	evse.Unplug()
	b.clock.Advance(time.Millisecond)
	if e := b.wait(func(e modemsim.Event) bool { return e.MMType == homeplug.CMAttenProfileInd }); e.Reason != modemsim.ReasonUnplugged {
		t.Errorf("profile: %+v", e)
	}
	evse.Plug()
	send(t, evse.Host(), ipv6(ev.HostMAC(), evse.HostMAC()))
	read(t, ev.Host())
}

func TestClose(t *testing.T) {
	b := newBench(t, modemsim.LineConfig{})
	m := b.modem(modemsim.ModemConfig{})
	b.line.Close()
	if _, err := m.Host().ReadFrame(t.Context(), make([]byte, 100)); !isClosed(err) {
		t.Errorf("read after Close: %v", err)
	}
	if _, err := b.line.AddModem(modemsim.ModemConfig{}); err == nil {
		t.Error("AddModem after Close")
	}
}

func TestAddModemConn(t *testing.T) {
	b := newBench(t, modemsim.LineConfig{})
	hostMAC := homeplug.MAC{0x02, 0, 0, 0, 0x11, 0x11}
	modemMAC := homeplug.MAC{0x00, 0xb0, 0x52, 0, 0x11, 0x11}
	host, side, err := link.Pipe(hostMAC.HardwareAddr(), modemMAC.HardwareAddr())
	if err != nil {
		t.Fatal(err)
	}
	m, err := b.line.AddModemConn(modemsim.ModemConfig{MAC: modemMAC, HostMAC: hostMAC}, side)
	if err != nil {
		t.Fatal(err)
	}
	if m.Host() != nil {
		t.Error("a Host port for a modem on a given conn")
	}
	sendMsg(t, host, homeplug.LocalModemMAC, hostMAC, &homeplug.SwVerReq{})
	if f := readMsg(t, host); f.MMType != homeplug.VSSwVerCnf || f.Src != modemMAC || f.Dst != hostMAC {
		t.Errorf("got %v from %v to %v", f.MMType, f.Src, f.Dst)
	}
	if _, err := b.line.AddModem(modemsim.ModemConfig{MAC: modemMAC}); err == nil {
		t.Error("two modems with one MAC")
	}
	if _, err := b.line.AddModem(modemsim.ModemConfig{HostMAC: hostMAC}); err == nil {
		t.Error("two hosts with one MAC")
	}
	b.line.Close()
	if _, err := side.ReadFrame(t.Context(), make([]byte, 64)); !isClosed(err) {
		t.Errorf("the modem's conn after Close: %v", err)
	}
}
