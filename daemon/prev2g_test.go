package daemon

import (
	"bytes"
	"log/slog"
	"testing"

	"github.com/ccslink/ccslink/clock"
	"github.com/ccslink/ccslink/daemon/handover"
	"github.com/ccslink/ccslink/daemon/vehicle"
	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/secc"
	"github.com/ccslink/ccslink/proto/v2g/message"
	"github.com/ccslink/ccslink/record"
)

func newPre(t *testing.T, mem *handover.Memory, log *slog.Logger, known ...vehicle.Known) *preV2G {
	t.Helper()
	st := &strategies{mem: mem, available: handover.Order, log: log, pin: func(string) string { return "" }}
	h := newHanding(newRecorder(), st, clock.NewFake(t0), log)
	return &preV2G{st: st, cars: vehicle.New(known, nil), hand: h, log: log}
}

var ioniqMAC = homeplug.MAC{0x04, 0x65, 0x65, 0x00, 0x64, 0xc3}

// TestPreV2GNoNegotiation: a car (not VW group, a fixed MAC) whose
// deliver-now failed is declined at its handshake on its next plug-in,
// decided at its CM_SLAC_MATCH.REQ; its harvest, if any, chooses nothing.
func TestPreV2GNoNegotiation(t *testing.T) {
	p := newPre(t, memoryWith(t, "0465650064c3", record.StrategyDeliverNow, record.OutcomeNoAC), slog.New(slog.DiscardHandler))
	if p.identifyOnly(ioniqMAC) {
		t.Fatal("identify-only chosen by itself")
	}
	if !p.decline(secc.ConnInfo{}) {
		t.Fatal("not declined")
	}
	s := &record.Session{PlugIn: 3, EVMAC: "04:65:65:00:64:c3"}
	if got := p.beforeV2G(s); got != record.StrategyNoNegotiation {
		t.Fatalf("beforeV2G = %q", got)
	}
	if st, key := p.hand.Strategy(3); st != record.StrategyNoNegotiation || key != "0465650064c3" {
		t.Fatalf("Strategy(3) = %q, %q", st, key)
	}
	// Another car's record is not this decision's.
	if got := p.beforeV2G(&record.Session{PlugIn: 4, EVMAC: "04:65:65:00:64:c4"}); got != "" {
		t.Fatalf("another car: %q", got)
	}
	s.Phases.FirstCPD = t0
	p.hand.Event(record.Event{Kind: record.KindValues, At: t0, Message: message.ChargeParameterDiscoveryReq}, s)
	if st, _ := p.hand.Strategy(3); st != record.StrategyNoNegotiation {
		t.Fatalf("chosen again at the harvest: %q", st)
	}
}

// TestPreV2GLeftToTheHarvest: a new car, a VW group car whose deliver-now
// failed (x1-then-pwm next) and a random MAC are left to the harvest.
func TestPreV2GLeftToTheHarvest(t *testing.T) {
	vw := homeplug.MAC{0x00, 0x7d, 0xfa, 0x01, 0x02, 0x03}
	for name, c := range map[string]struct {
		mem *handover.Memory
		mac homeplug.MAC
		ptn []vehicle.Known
	}{
		"new car":           {memoryWith(t), ioniqMAC, nil},
		"VW group, failed":  {memoryWith(t, "id3", record.StrategyDeliverNow, record.OutcomeNoAC), vw, []vehicle.Known{{ID: "id3", Patterns: []vehicle.Pattern{{Value: vehicle.MAC(vw), Mask: vehicle.MAC{0xff, 0xff, 0xff}}}}}},
		"random, no match":  {memoryWith(t, "027dfa010203", record.StrategyDeliverNow, record.OutcomeNoAC), homeplug.MAC{0x02, 0x7d, 0xfa, 1, 2, 3}, nil},
		"charged last time": {memoryWith(t, "0465650064c3", record.StrategyDeliverNow, record.OutcomeACStarted), ioniqMAC, nil},
	} {
		t.Run(name, func(t *testing.T) {
			p := newPre(t, c.mem, slog.New(slog.DiscardHandler), c.ptn...)
			if p.identifyOnly(c.mac) || p.decline(secc.ConnInfo{}) {
				t.Fatal("decided before V2G")
			}
			if got := p.beforeV2G(&record.Session{PlugIn: 1, EVMAC: c.mac.String()}); got != "" {
				t.Fatalf("beforeV2G = %q", got)
			}
			if st, _ := p.hand.Strategy(1); st != "" {
				t.Fatalf("kept %q", st)
			}
		})
	}
}

// TestPreV2GIdentifyOnlyPinned: only a pin of the cars list, matched by
// the car's MAC, chooses identify-only.
func TestPreV2GIdentifyOnlyPinned(t *testing.T) {
	zoe := vehicle.Known{Name: "Zoe", ID: "zoe", Strategy: record.StrategyIdentifyOnly, Patterns: []vehicle.Pattern{{Value: vehicle.MAC(ioniqMAC), Mask: vehicle.MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}}}
	p := newPre(t, memoryWith(t), slog.New(slog.DiscardHandler), zoe)
	if !p.identifyOnly(ioniqMAC) || p.decline(secc.ConnInfo{}) {
		t.Fatal("not identify-only")
	}
	if got := p.beforeV2G(&record.Session{PlugIn: 5, EVMAC: ioniqMAC.String()}); got != record.StrategyIdentifyOnly {
		t.Fatalf("beforeV2G = %q", got)
	}
	if st, key := p.hand.Strategy(5); st != record.StrategyIdentifyOnly || key != "zoe" {
		t.Fatalf("Strategy(5) = %q, %q", st, key)
	}
}

// TestChooseTooLate: a car known only by its fingerprint whose turn is
// no-negotiation gets the next strategy that acts after the session
// began, and the log says how to have no-negotiation.
func TestChooseTooLate(t *testing.T) {
	var logb bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logb, &slog.HandlerOptions{ReplaceAttr: noTime}))
	st := &strategies{mem: memoryWith(t, "car-fp", record.StrategyDeliverNow, record.OutcomeNoAC), available: handover.Order, log: log, pin: func(string) string { return "" }}
	s := &record.Session{EVMAC: "02:11:22:33:44:55", Vehicle: &record.Vehicle{ID: "car-fp", By: record.ByFingerprint}}
	key, strategy, why := st.choose(s)
	if key != "car-fp" || strategy != record.StrategyX1ThenPWM || why != handover.ByNext {
		t.Fatalf("choose = %q %q %q", key, strategy, why)
	}
	want := `level=INFO msg="the car's turn is no-negotiation, which acts before its V2G session, but the car is known only once its session runs (by its fingerprint; its MAC is random): pin it with a MAC pattern in the cars list" car=car-fp instead=x1-then-pwm` + "\n"
	if logb.String() != want {
		t.Fatalf("log:\n%s\nwant\n%s", logb.String(), want)
	}
}
