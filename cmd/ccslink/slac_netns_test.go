package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ccslink/ccslink/internal/netnstest"
	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/link"
	"github.com/ccslink/ccslink/proto/slac"
)

// The two ends of the cable in these tests: the charger's and the car's.
var (
	netnsEVSE = netnstest.Config{IfaceA: "evse0", MACA: net.HardwareAddr{2, 0, 0, 0, 0xe5, 1},
		IfaceB: "ev0", MACB: net.HardwareAddr{2, 0, 0, 0, 0xca, 1}}
)

// buildCCSLink builds the command for a test that runs it in a namespace.
func buildCCSLink(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ccslink")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// TestSLACOverVeth runs the real command twice, as charger and as car, in
// two network namespaces joined by a veth pair, each with --emulate-modem:
// raw sockets, real timers, two processes matching over the wire.
func TestSLACOverVeth(t *testing.T) {
	nsE, nsP := netnstest.NewVethPair(t, netnsEVSE)
	bin := buildCCSLink(t)

	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	start := func(ns *netnstest.Namespace, role string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
		cmd := ns.Command(ctx, bin, "slac", "--iface", ns.Iface, "--role", role,
			"--emulate-modem", "--json", "--show-keys", "--timeout", "30s")
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, &out, &errb
	}
	evse, evseOut, evseErr := start(nsE, "evse")
	pev, pevOut, pevErr := start(nsP, "pev")
	if err := pev.Wait(); err != nil {
		t.Fatalf("car: %v\n%s%s", err, pevOut, pevErr)
	}
	if err := evse.Wait(); err != nil {
		t.Fatalf("charger: %v\n%s%s", err, evseOut, evseErr)
	}
	var e, p slacReport
	if err := json.Unmarshal(evseOut.Bytes(), &e); err != nil {
		t.Fatalf("charger output %q: %v", evseOut, err)
	}
	if err := json.Unmarshal(pevOut.Bytes(), &p); err != nil {
		t.Fatalf("car output %q: %v", pevOut, err)
	}
	if !e.Matched || !p.Matched || e.Role != "evse" || p.Role != "pev" {
		t.Fatalf("charger %+v\ncar %+v", e, p)
	}
	if e.EVMAC != "02:00:00:00:ca:01" || e.EVSEMAC != "02:00:00:00:e5:01" || p.EVMAC != e.EVMAC || p.EVSEMAC != e.EVSEMAC {
		t.Errorf("addresses: charger %s/%s, car %s/%s", e.EVSEMAC, e.EVMAC, p.EVSEMAC, p.EVMAC)
	}
	if e.RunID != p.RunID || e.NID != p.NID || e.NMK != p.NMK || len(e.NMK) != 32 || len(e.NID) != 14 {
		t.Errorf("session: charger RunID %s NID %s NMK %s, car RunID %s NID %s NMK %s", e.RunID, e.NID, e.NMK, p.RunID, p.NID, p.NMK)
	}
	if e.Sounds != 10 || e.AttenuationDB != 20 || e.Plausible || !e.LinkUp || !p.LinkUp {
		t.Errorf("charger %+v\ncar %+v", e, p)
	}
	t.Logf("matched in %d ms (charger, MATCH.CNF), link up on both sides", e.DurationMS)
}

// TestSLACNoCar: a charger alone on its link gives up after --timeout and
// says why in words, with exit status 1.
func TestSLACNoCar(t *testing.T) {
	nsE, _ := netnstest.NewVethPair(t, netnsEVSE) // nobody on the car's end
	bin := buildCCSLink(t)
	cmd := nsE.Command(context.Background(), bin, "slac", "--iface", nsE.Iface, "--timeout", "300ms", "--json")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("exit: %v, want status 1", err)
	}
	want := `{"matched":false,"role":"evse","sounds":0,"attenuation_db":0,"link_up":false,"duration_ms":0,"error":"no car started matching within 300ms"}` + "\n"
	if out.String() != want {
		t.Errorf("stdout %q, want %q", out.String(), want)
	}
	if !strings.Contains(errb.String(), "ccslink slac: no match: no car started matching within 300ms") {
		t.Errorf("stderr %q", errb.String())
	}
}

// TestSLACCarFailedThenTimeout is a car that starts matching and falls
// silent: when --timeout ends the charger's wait, it reports the car's
// failed attempt, not that no car came.
func TestSLACCarFailedThenTimeout(t *testing.T) {
	nsE, nsP := netnstest.NewVethPair(t, netnsEVSE)
	var conn *link.RawConn
	var err error
	nsP.Do(t, func() { conn, err = link.Listen(nsP.Iface, homeplug.EtherType, nil) })
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	bin := buildCCSLink(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := nsE.Command(ctx, bin, "slac", "--iface", nsE.Iface, "--timeout", "2s", "--json")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The charger's CM_SET_KEY.REQ shows it listens; then one PARM.REQ, answered, and silence.
	expect := func(typ homeplug.MMType) {
		t.Helper()
		buf := make([]byte, link.MaxFrameSize)
		for {
			n, err := conn.ReadFrame(ctx, buf)
			if err != nil {
				t.Fatalf("waiting for %v: %v\n%s", typ, err, errb.String())
			}
			if h, _, err := homeplug.DecodeHeader(buf[:n]); err == nil && h.MMType == typ {
				return
			}
		}
	}
	expect(homeplug.CMSetKeyReq)
	car := homeplug.MAC{0x02, 0, 0, 0, 0xca, 0x01}
	req, err := homeplug.AppendFrame(nil, homeplug.NewHeader(homeplug.BroadcastMAC, car, homeplug.CMSlacParmReq),
		&homeplug.SlacParmReq{RunID: homeplug.RunID{1, 2, 3, 4, 5, 6, 7, 8}})
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.WriteFrame(ctx, req); err != nil {
		t.Fatal(err)
	}
	expect(homeplug.CMSlacParmCnf)
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("exit: %v, want status 1\n%s", err, errb.String())
	}
	const words = "car 02:00:00:00:ca:01 did not match within 2s (its last attempt failed: the car sent no CM_START_ATTEN_CHAR.IND within TT_match_sequence)"
	want := `{"matched":false,"role":"evse","sounds":0,"attenuation_db":0,"link_up":false,"duration_ms":0,"error":"` + words + `"}` + "\n"
	if out.String() != want {
		t.Errorf("stdout %q, want %q", out.String(), want)
	}
	if !strings.Contains(errb.String(), "ccslink slac: no match: "+words+"\n") {
		t.Errorf("stderr %q", errb.String())
	}
}

// TestSLACFailureWords: what ccslink slac says for each kind of failure,
// from the error's type alone.
func TestSLACFailureWords(t *testing.T) {
	car := homeplug.MAC{2, 0, 0, 0, 0xca, 1}
	charger := homeplug.MAC{2, 0, 0, 0, 0xe5, 1}
	late := context.DeadlineExceeded
	for _, c := range []struct {
		role string
		err  error
		want string
	}{
		{"evse", &slac.FailureError{Reason: slac.ReasonNoCar, Err: late}, "no car started matching within 30s"},
		{"evse", &slac.FailureError{Reason: slac.ReasonNoMatchReq, EV: car, Err: late},
			"car 02:00:00:00:ca:01 did not match within 30s (its last attempt failed: the car sent no CM_SLAC_MATCH.REQ within TT_EVSE_match_session)"},
		{"evse", &slac.FailureError{Reason: slac.ReasonLinkTimeout, EV: car},
			"car 02:00:00:00:ca:01: the car matched, but its modem did not join the network within TT_match_join"},
		{"evse", &slac.FailureError{Reason: slac.ReasonNoCar}, "no car started matching"},
		{"pev", &slac.FailureError{Reason: slac.ReasonNoParmCnf, EV: car, Err: late}, "no charger answered within 30s"},
		{"pev", &slac.FailureError{Reason: slac.ReasonNoAttenChar, EV: car, Err: late},
			"no charger matched within 30s (last attempt: no charger sent CM_ATTEN_CHAR.IND within TT_EV_atten_results)"},
		{"pev", &slac.FailureError{Reason: slac.ReasonNoMatchCnf, EV: car, EVSE: charger, Err: late},
			"no match with charger 02:00:00:00:e5:01 within 30s (last attempt: the charger sent no CM_SLAC_MATCH.CNF within TT_match_response)"},
		{"pev", &slac.FailureError{Reason: slac.ReasonNoMatchCnf, EV: car, EVSE: charger},
			"the charger sent no CM_SLAC_MATCH.CNF within TT_match_response"},
		{"evse", &slac.PortError{Op: "send", Err: errors.New("no such device")},
			"slac: cannot send on the HomePlug interface: no such device (is the interface up?)"},
	} {
		if got := slacFailure(c.err, c.role, 30*time.Second); got != c.want {
			t.Errorf("%s %v:\n got %q\nwant %q", c.role, c.err, got, c.want)
		}
	}
}
