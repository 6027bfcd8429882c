package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ccslink/ccslink/daemon/handover"
	"github.com/ccslink/ccslink/record"
)

func runCarsCmd(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(append([]string{"cars"}, args...), nil, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCarsCommand(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, "ccslink.yaml", "smartevse:\n  url: http://10.0.0.1\n  write_pwm: true\ncars:\n"+
		"  - {name: Ioniq, id: ioniq, mac: \"04:65:65:xx:xx:xx\", strategy: end-then-deliver}\n"+
		"  - {name: ID.3, id: id3, mac: \"00:7d:fa:xx:xx:xx\"}\n")
	path := filepath.Join(dir, handover.File)
	if code, out, errs := runCarsCmd("--config", cfg, "--state-dir", dir); code != 0 || errs != "" ||
		out != "no cars remembered in "+path+" yet: a car is remembered once the SmartEVSE was watched after its SoC\n" {
		t.Fatalf("empty: exit %d, %q, %q", code, out, errs)
	}
	mem, _ := handover.Open(path)
	t0 := time.Date(2026, 12, 7, 18, 0, 0, 0, time.UTC)
	mem.Note("id3", record.StrategyDeliverNow, record.OutcomeNoAC, t0)
	mem.Note("ioniq", record.StrategyDeliverNow, record.OutcomeACStarted, t0)
	mem.Note("id3", record.StrategyX1ThenPWM, record.OutcomeACStarted, t0)
	mem.Note("0a1b2c3d4e5f", record.StrategyDeliverNow, record.OutcomeNoAC, t0)
	mem.Note("0a1b2c3d4e5f", record.StrategyDeliverNow, record.OutcomeNotObserved, t0)
	mem.Note("04e77e00f399", record.StrategyDeliverNow, record.OutcomeNoAC, t0)
	if err := mem.Save(); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCarsCmd("--config", cfg, "--state-dir", dir)
	// Not VW group, a fixed MAC: no-negotiation after deliver-now failed.
	// A random MAC cannot have it: it gets x1-then-pwm, and a note.
	want := "" +
		"CAR           NAME   NEXT              WHY      TRIED (oldest outcome first)\n" +
		"04e77e00f399  -      no-negotiation    next     deliver-now: no_ac\n" +
		"0a1b2c3d4e5f  -      x1-then-pwm       next     deliver-now: no_ac, not_observed\n" +
		"id3           ID.3   x1-then-pwm       charged  deliver-now: no_ac; x1-then-pwm: ac_started\n" +
		"ioniq         Ioniq  end-then-deliver  pinned   deliver-now: ac_started\n" +
		"0a1b2c3d4e5f: its turn is no-negotiation, which acts before the car's V2G session, but the car is known only by its fingerprint once its session runs (its MAC is random): pin it with a MAC pattern in the cars list\n"
	if code != 0 || errs != "" || out != want {
		t.Fatalf("list: exit %d, stderr %q, stdout\n%s\nwant\n%s", code, errs, out, want)
	}

	code, out, errs = runCarsCmd("--config", cfg, "--state-dir", dir, "forget", "id3")
	if code != 0 || errs != "" || out != "forgot id3: its next plug-in starts again from deliver-now\n"+
		"a running daemon still remembers it: restart it (systemctl restart ccslink) to forget it there too\n" {
		t.Fatalf("forget: exit %d, %q, %q", code, out, errs)
	}
	m2, err := handover.Open(path)
	if _, ok := m2.Car("id3"); ok || err != nil || len(m2.Cars()) != 3 {
		t.Fatalf("after forget: %+v, %v", m2.Cars(), err)
	}
	code, _, errs = runCarsCmd("--config", cfg, "--state-dir", dir, "forget", "id3")
	if code != 1 || errs != "ccslink cars: no car \"id3\" is remembered in "+path+"; ccslink cars lists them\n" {
		t.Fatalf("forget again: exit %d, %q", code, errs)
	}
	code, _, errs = runCarsCmd("--config", cfg, "forget")
	if code != 2 || errs != "ccslink cars: unexpected \"forget\": give nothing to list the cars, or forget ID\n" {
		t.Fatalf("forget nothing: exit %d, %q", code, errs)
	}

	// A damaged file: said, moved aside, and a fresh one.
	if err := os.WriteFile(path, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs = runCarsCmd("--config", cfg, "--state-dir", dir)
	if code != 0 || out != "no cars remembered in "+path+" yet: a car is remembered once the SmartEVSE was watched after its SoC\n" ||
		errs != "ccslink cars: the handovers remembered in "+path+" are damaged (not a file of remembered handovers: unexpected end of JSON input): kept as "+path+".corrupt, starting afresh; each car tries its strategies again from deliver-now\n" {
		t.Fatalf("damaged: exit %d, %q, %q", code, out, errs)
	}
}
