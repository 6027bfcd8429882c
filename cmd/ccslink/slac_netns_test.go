package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ccslink/ccslink/homeplug"
	"github.com/ccslink/ccslink/link"
)

// TestSLACOverVeth runs the real command twice, as charger and as car, in
// two network namespaces joined by a veth pair, each with --emulate-modem:
// raw sockets, real timers, two processes matching over the wire.
func TestSLACOverVeth(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces; skipped")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs the ip command (iproute2)")
	}
	bin := filepath.Join(t.TempDir(), "ccslink")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	id := fmt.Sprintf("%d", os.Getpid()%100000)
	nsE, nsP := "ccsE"+id, "ccsP"+id
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	ip("netns", "add", nsE)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", nsE).Run() })
	ip("netns", "add", nsP)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", nsP).Run() })
	ip("link", "add", "evse0", "netns", nsE, "type", "veth", "peer", "name", "ev0", "netns", nsP)
	ip("-n", nsE, "link", "set", "evse0", "address", "02:00:00:00:e5:01", "up")
	ip("-n", nsP, "link", "set", "ev0", "address", "02:00:00:00:ca:01", "up")

	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	start := func(ns, iface, role string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
		cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, bin, "slac", "--iface", iface, "--role", role,
			"--emulate-modem", "--json", "--show-keys", "--timeout", "30s")
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, &out, &errb
	}
	evse, evseOut, evseErr := start(nsE, "evse0", "evse")
	pev, pevOut, pevErr := start(nsP, "ev0", "pev")
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
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces; skipped")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs the ip command (iproute2)")
	}
	ns := fmt.Sprintf("ccsN%d", os.Getpid()%100000)
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	for _, args := range [][]string{
		{"-n", ns, "link", "add", "lone0", "type", "veth", "peer", "name", "lone1"},
		{"-n", ns, "link", "set", "lone0", "up"},
		{"-n", ns, "link", "set", "lone1", "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	bin := filepath.Join(t.TempDir(), "ccslink")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.Command("ip", "netns", "exec", ns, bin, "slac", "--iface", "lone0", "--timeout", "300ms", "--json")
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
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces; skipped")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs the ip command (iproute2)")
	}
	id := fmt.Sprintf("%d", os.Getpid()%100000)
	ns, evse, ev := "ccsF"+id, "cf"+id+"e", "cf"+id+"c"
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	ip("netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	// The car's end stays in this namespace, where the test plays the car.
	ip("link", "add", ev, "type", "veth", "peer", "name", evse, "netns", ns)
	t.Cleanup(func() { exec.Command("ip", "link", "del", ev).Run() })
	ip("-n", ns, "link", "set", evse, "address", "02:00:00:00:e5:01", "up")
	ip("link", "set", ev, "address", "02:00:00:00:ca:01", "up")
	conn, err := link.Listen(ev, homeplug.EtherType, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	bin := filepath.Join(t.TempDir(), "ccslink")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, bin, "slac", "--iface", evse, "--timeout", "2s", "--json")
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
