package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/ccslink/ccslink/internal/netnstest"
	"github.com/ccslink/ccslink/internal/testlog"
)

// TestPEVSlowChargerOverVeth: ccslink pev against a charger whose
// isolation check takes 10 s and whose voltage ramps up over 4 s (the
// daemon's dc policy slowed down), over a veth pair with --emulate-modem,
// the charger's emulated modem standing in for another project's (it never
// sends the emulators' private message, so the car's must infer the
// network from the SLAC exchange). The car (the Ioniq, 270 ms between requests) waits as its timers allow
// and charges: with the old count of 30 Ongoing answers it gave up after
// about 8 s of cable check.
func TestPEVSlowChargerOverVeth(t *testing.T) {
	nsE, nsP := netnstest.NewVethPair(t, netnsEVSE)
	nsE.IP(t, "link", "set", "lo", "up")
	bin := buildCCSLink(t)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	daemon := nsE.Command(ctx, bin, "evse", "--iface", nsE.Iface, "--emulate-modem", "--policy", "dc",
		"--dc-cable-check", "10s", "--dc-precharge", "4s", "--state-dir", t.TempDir())
	daemon.Env = append(os.Environ(), emulateQuirksEnv+"=no-state-message")
	var dErr testlog.Buffer
	daemon.Stderr = &dErr
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	defer daemon.Process.Kill()

	car := nsP.Command(ctx, bin, "pev", "--iface", nsP.Iface, "--emulate-modem", "--json", "--car", "ioniq", "--timeout", "60s", "-v")
	var cOut, cErr bytes.Buffer
	car.Stdout, car.Stderr = &cOut, &cErr
	if err := car.Run(); err != nil {
		t.Fatalf("car: %v\n%s%s\ndaemon:\n%s", err, cOut.String(), cErr.String(), dErr.String())
	}
	var rep pevReport
	if err := json.Unmarshal(cOut.Bytes(), &rep); err != nil {
		t.Fatalf("car output %q: %v", cOut.String(), err)
	}
	if !rep.OK || rep.Protocol != "din" || rep.End != "complete" || rep.SoC != 93 || rep.EVCCID != "02000000ca01" || rep.Error != "" {
		t.Fatalf("car: %+v\n%s", rep, cErr.String())
	}
	// The car's requests, from its -v log: the whole DC sequence.
	var reqs []string
	for _, m := range regexp.MustCompile(`msg="evcc exchange" car=ioniq request=(\w+) response=(\w+)`).FindAllStringSubmatch(cErr.String(), -1) {
		if m[2] != "OK" && m[2] != "OK_SuccessfulNegotiation" && m[2] != "OK_NewSessionEstablished" {
			t.Errorf("%s answered %s", m[1], m[2])
		}
		reqs = append(reqs, m[1])
	}
	if len(reqs) != rep.Steps {
		t.Fatalf("%d requests logged, the report says %d steps\n%s", len(reqs), rep.Steps, cErr.String())
	}
	n := map[string]int{}
	for _, r := range reqs {
		n[r]++
	}
	want := []string{"supportedAppProtocolReq", "SessionSetupReq", "ServiceDiscoveryReq", "ServicePaymentSelectionReq",
		"ContractAuthenticationReq", "ChargeParameterDiscoveryReq", "CableCheckReq", "PreChargeReq", "PowerDeliveryReq",
		"CurrentDemandReq", "PowerDeliveryReq", "WeldingDetectionReq", "SessionStopReq"}
	if got := slices.Compact(slices.Clone(reqs)); !slices.Equal(got, want) {
		t.Errorf("request sequence %q, want %q", got, want)
	}
	// Each request after the first waits at least 270 ms: the 39th
	// CableCheckReq is at least 10.26 s after the first, past the 10 s check;
	// the ramp is within 20 V of 388.1 V after 3.8 s, before the 16th
	// PreChargeReq (at least 4.05 s).
	if n["CableCheckReq"] < 2 || n["CableCheckReq"] > 39 || n["PreChargeReq"] < 2 || n["PreChargeReq"] > 16 || n["CurrentDemandReq"] != 5 {
		t.Errorf("%d CableCheckReq, %d PreChargeReq, %d CurrentDemandReq", n["CableCheckReq"], n["PreChargeReq"], n["CurrentDemandReq"])
	}
	if rep.DurationMS < 14000 {
		t.Errorf("the session took %d ms; the charger's cable check and pre-charge alone take 14 s", rep.DurationMS)
	}
	t.Logf("%d CableCheckReq, %d PreChargeReq, %d ms", n["CableCheckReq"], n["PreChargeReq"], rep.DurationMS)
}
