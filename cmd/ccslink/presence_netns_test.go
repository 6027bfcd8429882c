package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ccslink/ccslink/clock"
	"github.com/ccslink/ccslink/internal/netnstest"
	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/link"
	"github.com/ccslink/ccslink/proto/slac"
	"github.com/ccslink/ccslink/record"
	"github.com/ccslink/ccslink/tools/modemsim"
)

// ioniqQuery is what the SmartEVSE gets for the ioniq profile of ccslink pev.
const ioniqQuery = "current_soc=93&full_soc=94&energy_capacity=28000&energy_request=1820&evccid=02000000ca01"

// serveCars runs the daemon (ccslink evse --emulate-modem) in one namespace
// and the car (ccslink pev --emulate-modem) in the other, twice in a row,
// the car paced at 700 ms between requests (its session lasts about 5 s),
// with the emulated modems' quirks (emulateQuirksEnv) given for each side:
// every car must get its session and the SmartEVSE stub exactly its
// values. It returns the daemon's records and its log.
func serveCars(t *testing.T, daemonQuirks, carQuirks string) ([]record.Session, string) {
	t.Helper()
	nsE, nsP := netnstest.NewVethPair(t, netnsEVSE)
	nsE.IP(t, "link", "set", "lo", "up")
	bin := buildCCSLink(t)
	stub, stubURL := serveStub(t, nsE, "127.0.0.1:0")

	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	daemon := nsE.Command(ctx, bin, "evse", "--iface", nsE.Iface, "--emulate-modem", "--json", "-v",
		"--smartevse", stubURL, "--state-dir", t.TempDir())
	daemon.Env = append(os.Environ(), emulateQuirksEnv+"="+daemonQuirks)
	dErr, lines := startDaemon(t, daemon)

	for i := range 2 {
		car := nsP.Command(ctx, bin, "pev", "--iface", nsP.Iface, "--emulate-modem", "--json", "--car", "ioniq", "--think", "700ms", "--timeout", "40s")
		car.Env = append(os.Environ(), emulateQuirksEnv+"="+carQuirks)
		var cOut, cErr bytes.Buffer
		car.Stdout, car.Stderr = &cOut, &cErr
		if err := car.Run(); err != nil {
			t.Fatalf("car %d: %v\n%s%s\ndaemon:\n%s", i, err, cOut.String(), cErr.String(), dErr.String())
		}
		var rep pevReport
		if err := json.Unmarshal(cOut.Bytes(), &rep); err != nil {
			t.Fatalf("car %d output %q: %v", i, cOut.String(), err)
		}
		if !rep.OK || rep.Protocol != "din" || rep.EVCCID != "02000000ca01" || rep.SoC != 93 || rep.End != "EVSE shutdown" {
			t.Fatalf("car %d: %+v\ndaemon:\n%s", i, rep, dErr.String())
		}
		select {
		case <-stub.new:
		case <-ctx.Done():
			t.Fatalf("car %d: nothing reached the SmartEVSE\ndaemon:\n%s", i, dErr.String())
		}
		stub.mu.Lock()
		got := stub.got
		stub.mu.Unlock()
		if len(got) != i+1 || got[i].query != ioniqQuery {
			t.Fatalf("car %d: the SmartEVSE got %+v, want %q once per car", i, got, ioniqQuery)
		}
	}
	daemon.Process.Signal(syscall.SIGTERM)
	if err := daemon.Wait(); err != nil {
		t.Fatalf("daemon after SIGTERM: %v\n%s", err, dErr.String())
	}
	var recs []record.Session
	for line := range lines {
		var rec record.Session
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatalf("daemon record %q: %v", line, err)
		}
		recs = append(recs, rec)
	}
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2\n%s", len(recs), dErr.String())
	}
	for i, rec := range recs {
		if rec.SoC.Value != 93 || rec.EVCCIDHex() != "02000000ca01" || rec.EVMAC != "02:00:00:00:ca:01" || rec.End != record.EndSessionStop || rec.Phases.Delivered.IsZero() {
			t.Fatalf("record %d: %+v", i, rec)
		}
	}
	return recs, dErr.String()
}

// TestEVSEModemNeverReportsLink: the daemon's modem answers "no link" to
// every link-status poll, while the car matches and talks. The car's SDP
// request is the evidence that ends the matching; its session is served
// in full, its values reach the SmartEVSE, and the plug-in ends when the
// car has closed its connection, as the record says; the next car is
// served the same.
func TestEVSEModemNeverReportsLink(t *testing.T) {
	recs, log := serveCars(t, "link-always-down", "")
	const gone = "the car closed its V2G connection and the modem reports no link"
	if recs[0].Gone != gone || recs[0].LinkFlaps != 0 {
		t.Errorf("first plug-in: gone %q, %d flaps; want %q", recs[0].Gone, recs[0].LinkFlaps, gone)
	}
	if !strings.Contains(log, `msg="the car is gone" ev=02:00:00:00:ca:01 why="`+gone+`"`) {
		t.Errorf("the daemon did not say why the car was gone:\n%s", log)
	}
	if strings.Contains(log, "never reported the car's link up") {
		t.Errorf("the modem's word alone ended a plug-in:\n%s", log)
	}
}

// TestEVSEForeignCar: a car whose modem stand-in never sends the private
// message of --emulate-modem. The daemon's emulated modem takes the car
// into its network from the CM_SLAC_MATCH.CNF; the car is served, its
// values delivered; the plug-in ends when the next car starts matching
// (the car left), and that car is served too.
func TestEVSEForeignCar(t *testing.T) {
	recs, _ := serveCars(t, "", "no-state-message")
	const gone = "the car closed its V2G connection and the modem reports no link"
	if recs[0].Gone != gone {
		t.Errorf("first plug-in: gone %q, want %q", recs[0].Gone, gone)
	}
}

// TestPEVForeignCharger: ccslink pev --emulate-modem against a charger whose
// modem stand-in never sends the private message: the car's emulated modem
// joins from the CM_SLAC_MATCH.CNF and the key its host sets, and the car
// gets its session, twice in a row.
func TestPEVForeignCharger(t *testing.T) {
	recs, _ := serveCars(t, "no-state-message", "")
	if recs[1].Gone != "" { // ended by SIGTERM
		t.Errorf("second plug-in: gone %q", recs[1].Gone)
	}
}

// TestAwaitJoin: a car's modem that never joins makes ccslink pev and slac
// give up after the bound (TT_match_join), with the failure's reason; when
// the command's own time ends first, that is said too.
func TestAwaitJoin(t *testing.T) {
	never := linkFunc(func() bool { return false })
	ev, evse := homeplug.MAC{2, 0, 0, 0, 0xca, 1}, homeplug.MAC{2, 0, 0, 0, 0xe5, 1}
	start := time.Now()
	err := awaitJoin(context.Background(), never, 30*time.Millisecond, ev, evse)
	var f *slac.FailureError
	if !errors.As(err, &f) || f.Reason != slac.ReasonLinkTimeout || f.Err != nil || f.EV != ev || f.EVSE != evse || !errors.Is(err, slac.ErrLinkTimeout) {
		t.Fatalf("awaitJoin: %v", err)
	}
	if d := time.Since(start); d < 30*time.Millisecond || d > 10*time.Second {
		t.Fatalf("gave up after %v", d)
	}
	if got := slacFailure(err, "pev", 30*time.Second); got != "the car matched, but its modem did not join the network within TT_match_join" {
		t.Errorf("words: %q", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := awaitJoin(ctx, never, time.Hour, ev, evse); !errors.As(err, &f) || !errors.Is(err, context.Canceled) {
		t.Fatalf("awaitJoin after ctx: %v", err)
	}
	late := &slac.FailureError{Reason: slac.ReasonLinkTimeout, EV: ev, EVSE: evse, Err: context.DeadlineExceeded}
	if got := slacFailure(late, "pev", 30*time.Second); got != "matched charger 02:00:00:00:e5:01, but the car's modem did not join its network within 30s" {
		t.Errorf("words: %q", got)
	}
	if err := awaitJoin(context.Background(), linkFunc(func() bool { return true }), time.Hour, ev, evse); err != nil {
		t.Fatalf("awaitJoin with the link up: %v", err)
	}
}

type linkFunc func() bool

func (f linkFunc) LinkUp() bool { return f() }

// TestEmulateQuirks: the quirks of the emulated modem are read from the
// environment, and an unknown one is an error that names the known.
func TestEmulateQuirks(t *testing.T) {
	t.Setenv(emulateQuirksEnv, "no-state-message, link-always-down")
	cfg, err := emulateConfig(true)
	if err != nil || !cfg.NoStateMessage || !cfg.LinkAlwaysDown || !cfg.Modem.EVSE {
		t.Fatalf("%+v %v", cfg, err)
	}
	t.Setenv(emulateQuirksEnv, "no-link")
	if _, err := emulateConfig(false); err == nil || err.Error() != `CCSLINK_EMULATE_QUIRKS: unknown quirk "no-link" of the emulated modem (known: no-state-message, link-always-down)` {
		t.Fatalf("unknown quirk: %v", err)
	}
	t.Setenv(emulateQuirksEnv, "")
	if cfg, err := emulateConfig(false); err != nil || cfg.NoStateMessage || cfg.LinkAlwaysDown || cfg.Modem.EVSE {
		t.Fatalf("%+v %v", cfg, err)
	}
}

// TestSLACForeignPeer: ccslink slac on both ends with --emulate-modem, one
// of the two modems another project's (no private message): both sides
// match, and both report the link up after the CM_SLAC_MATCH.CNF.
func TestSLACForeignPeer(t *testing.T) {
	for _, foreign := range []string{"evse", "pev"} {
		t.Run("foreign "+foreign, func(t *testing.T) {
			nsE, nsP := netnstest.NewVethPair(t, netnsEVSE)
			bin := buildCCSLink(t)
			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
			defer cancel()
			start := func(ns *netnstest.Namespace, role string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
				cmd := ns.Command(ctx, bin, "slac", "--iface", ns.Iface, "--role", role, "--emulate-modem", "--json", "--timeout", "30s")
				if role == foreign {
					cmd.Env = append(os.Environ(), emulateQuirksEnv+"=no-state-message")
				}
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
			if !e.Matched || !p.Matched || !e.LinkUp || !p.LinkUp || e.NID != p.NID || e.RunID != p.RunID || e.Error != "" || p.Error != "" {
				t.Fatalf("charger %+v\ncar %+v", e, p)
			}
		})
	}
}

// otherKeyPort keys the charger's modem with another key than the one its
// matcher sends the car in CM_SLAC_MATCH.CNF: a charger whose network the
// car can never join.
type otherKeyPort struct{ slac.Port }

func (p otherKeyPort) WriteFrame(ctx context.Context, f []byte) error {
	if fr, err := homeplug.Decode(f); err == nil && fr.MMType == homeplug.CMSetKeyReq {
		req := homeplug.NewSetKeyReq(homeplug.NewNMK())
		if f, err = homeplug.AppendFrame(nil, fr.Header, &req); err != nil {
			return err
		}
	}
	return p.Port.WriteFrame(ctx, f)
}

// TestPEVNoLink: ccslink pev matches a charger whose network its modem can
// never join: it gives up after TT_match_join and prints its result line,
// with the reason, instead of waiting silently.
func TestPEVNoLink(t *testing.T) {
	nsE, nsP := netnstest.NewVethPair(t, netnsEVSE)
	bin := buildCCSLink(t)
	var wire *link.RawConn
	var err error
	nsE.Do(t, func() { wire, err = link.Listen(nsE.Iface, homeplug.EtherType, nil) })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	emu, err := modemsim.Emulate(ctx, wire, modemsim.EmulateConfig{Modem: modemsim.ModemConfig{EVSE: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	evse := make(chan error, 1)
	go func() {
		_, err := slac.MatchEVSE(ctx, otherKeyPort{emu.Host()}, clock.Real{}, slac.Config{MAC: homeplug.MAC{2, 0, 0, 0, 0xe5, 1}, LinkPoll: -1})
		evse <- err
	}()
	car := nsP.Command(ctx, bin, "pev", "--iface", nsP.Iface, "--emulate-modem", "--json", "--timeout", "40s")
	var out, errb bytes.Buffer
	car.Stdout, car.Stderr = &out, &errb
	start := time.Now()
	err = car.Run()
	took := time.Since(start)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("car: %v, want exit status 1\n%s%s", err, out.String(), errb.String())
	}
	if err := <-evse; err != nil {
		t.Fatalf("charger: %v", err)
	}
	var rep pevReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("car output %q: %v", out.String(), err)
	}
	const why = "SLAC matched charger 02:00:00:00:e5:01, but the car's modem did not join its network within TT_match_join (12s)"
	if rep.OK || rep.Error != why || rep.Car != "ioniq" || rep.SoC != -1 || rep.Steps != 0 {
		t.Fatalf("car: %+v", rep)
	}
	if took < slac.TTMatchJoin || took > slac.TTMatchJoin+20*time.Second {
		t.Errorf("gave up after %v", took)
	}
	if !strings.Contains(errb.String(), "ccslink pev: "+why+"\n") {
		t.Errorf("stderr %q", errb.String())
	}
}
