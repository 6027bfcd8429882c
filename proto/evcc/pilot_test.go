package evcc

import (
	"testing"
	"time"

	"github.com/ccslink/ccslink/proto/cp"
)

// TestPilotCar plays each behaviour against the SmartEVSE's handover
// (CP off, 5 % PWM, the session, CP off 5 s, nominal PWM) and against
// WARP's (steady 100 % for 2 s, then PWM), and checks whether the car
// draws current, whether it would start SLAC, and why.
func TestPilotCar(t *testing.T) {
	t0 := time.Unix(1000, 0)
	type step struct {
		after time.Duration
		pilot cp.Pilot
	}
	smartevse := []step{{0, cp.PilotOff}, {time.Second, cp.PilotDigital}, {3 * time.Second, cp.PilotOff}, {5 * time.Second, cp.Nominal(16)}}
	warp := []step{{0, cp.PilotDigital}, {3 * time.Second, cp.PilotSteady}, {2 * time.Second, cp.Nominal(16)}}
	warpShort := []step{{0, cp.PilotDigital}, {3 * time.Second, cp.PilotSteady}, {time.Second, cp.Nominal(16)}}
	for _, c := range []struct {
		name    string
		behave  AfterSoC
		steps   []step
		session bool
		talks   bool
		car     cp.Car
		why     string
	}{
		{"most after the CP-off", ChargesAfterCPOff, smartevse, true, true, cp.CarC, "it draws current at the nominal PWM"},
		{"Ioniq after the CP-off", NeedsToggle, smartevse, true, true, cp.CarC, "it draws current at the nominal PWM"},
		{"Ioniq without a toggle", NeedsToggle, warp, true, true, cp.CarB, "after a DC session it wants the CP switched off and on first"},
		{"MEB after the CP-off", NeedsX1, smartevse, true, true, cp.CarB, "after a V2G session it ignores a PWM not preceded by a steady CP (100 %) for 2 s"},
		{"MEB after X1 for 2 s", NeedsX1, warp, true, true, cp.CarC, "it draws current at the nominal PWM"},
		{"MEB after X1 for 1 s", NeedsX1, warpShort, true, true, cp.CarB, "after a V2G session it ignores a PWM not preceded by a steady CP (100 %) for 2 s"},
		{"MEB without a session", NeedsX1, smartevse, false, true, cp.CarC, "it draws current at the nominal PWM"},
		{"refuses after a session", RefusesUntilUnplug, smartevse, true, true, cp.CarB, "it refuses basic AC after a V2G session until it is unplugged"},
		{"refuses nothing without one", RefusesUntilUnplug, smartevse, false, true, cp.CarC, "it draws current at the nominal PWM"},
		{"hybrid at 5 %", StopsAtDigital, smartevse, false, false, cp.CarB, "5 % PWM stopped it earlier; it does not charge until unplugged"},
		{"Zoe", NeverSLAC, smartevse, false, false, cp.CarC, "it draws current at the nominal PWM"},
	} {
		t.Run(c.name, func(t *testing.T) {
			now := t0
			w := cp.NewWire(func() time.Time { return now })
			w.SetPilot(cp.PilotSteady)
			car := PlugIn(Profile{AfterSoC: c.behave}, w)
			if w.Car() != cp.CarB {
				t.Fatalf("plugged in: %v", w.Car())
			}
			for _, s := range c.steps {
				now = now.Add(s.after)
				w.SetPilot(s.pilot)
				if s.pilot.Digital() && c.session {
					car.SessionHeld()
				}
			}
			select {
			case <-car.Digital():
				if !c.talks {
					t.Error("started SLAC")
				}
			default:
				if c.talks {
					t.Error("did not start SLAC at 5 %")
				}
			}
			if w.Car() != c.car || car.Why() != c.why {
				t.Errorf("car %v (%q), want %v (%q)", w.Car(), car.Why(), c.car, c.why)
			}
			car.Unplug()
			if w.Car() != cp.CarA {
				t.Errorf("unplugged: %v", w.Car())
			}
		})
	}
}
