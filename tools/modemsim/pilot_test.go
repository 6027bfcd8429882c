package modemsim_test

import (
	"testing"

	"github.com/ccslink/ccslink/proto/cp"
	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/tools/modemsim"
)

// TestFollowPilot: the car's modem leaves the AVLN when the charger
// switches the pilot off, and not on any other pilot; the charger's modem
// stays keyed. A new key brings the link back.
func TestFollowPilot(t *testing.T) {
	b := newBench(t, modemsim.LineConfig{})
	evse := b.modem(modemsim.ModemConfig{Name: "evse", EVSE: true})
	car := b.modem(modemsim.ModemConfig{Name: "car"})
	nmk := homeplug.NMK{9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6}
	b.key(evse, nmk)
	b.key(car, nmk)
	b.clock.Advance(modemsim.DefaultRestartDelay)
	if !car.LinkUp() || !evse.LinkUp() {
		t.Fatal("link not up after keying both")
	}
	w := cp.NewWire(b.clock.Now)
	cancel := modemsim.FollowPilot(w, car)
	w.SetPilot(cp.Nominal(16))
	w.SetPilot(cp.PilotDigital)
	if !car.LinkUp() {
		t.Fatal("the car's modem left on a PWM")
	}
	w.SetPilot(cp.PilotOff)
	if car.LinkUp() || evse.LinkUp() {
		t.Fatal("link still up after CP off")
	}
	if _, _, keyed := car.NMK(); keyed {
		t.Error("the car's modem still holds its key")
	}
	if _, _, keyed := evse.NMK(); !keyed {
		t.Error("the charger's modem lost its key")
	}
	b.key(car, nmk)
	b.clock.Advance(modemsim.DefaultRestartDelay)
	if !car.LinkUp() {
		t.Fatal("link not back with the key")
	}
	cancel()
	w.SetPilot(cp.PilotSteady)
	w.SetPilot(cp.PilotOff)
	if !car.LinkUp() {
		t.Error("followed the pilot after cancel")
	}
}
