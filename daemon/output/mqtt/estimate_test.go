package mqtt

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/ccslink/ccslink/internal/mosquittotest"
	"github.com/ccslink/ccslink/record"
)

// TestEstimateLate: on Debian's mosquitto, the SoC estimated while the
// Ioniq charges on AC, after its plug-in ended, is published beside its
// soc: the number with one decimal on soc_estimated, the estimate with its
// basis on soc_estimated_basis (Home Assistant's attributes); the car
// leaving clears both, and the soc stays what the car sent.
func TestEstimateLate(t *testing.T) {
	b := mosquitto(mosquittotest.Start(t))
	sub := subscribe(t, b, "ccslink/eth1/#")
	o := newOutput(t, Config{Broker: b.url()})
	rec := &record.Session{PlugIn: 7}
	for _, e := range ioniq() {
		rec.Apply(e)
		o.Event(e, rec)
	}
	o.PlugInEnded(rec)
	sub.wait(t, "ccslink/eth1/soc", "93")
	sub.wait(t, "ccslink/eth1/soc_estimated", "")

	est := &record.Estimate{SoC: 96.5, MeasuredSoC: 93, MeasuredAt: t0.Add(5 * time.Second), EnergySinceWh: 1100, CapacityWh: 28000,
		CapacityFrom: "ChargeParameterDiscoveryReq", Efficiency: 0.9, At: t0.Add(20 * time.Second)}
	e := record.Event{Kind: record.KindEstimate, At: est.At, PlugIn: 7, Estimate: est}
	amended := rec.Clone()
	amended.Apply(e)
	o.Late(e, amended)
	const basis = `{"soc":96.5,"measured_soc":93,"measured_at":"2023-05-24T10:00:05Z","energy_since_wh":1100,"capacity_wh":28000,"capacity_from":"ChargeParameterDiscoveryReq","efficiency":0.9,"at":"2023-05-24T10:00:20Z"}`
	sub.wait(t, "ccslink/eth1/soc_estimated_basis", basis)
	sub.wait(t, "ccslink/eth1/soc_estimated", "96.5")
	final, err := json.Marshal(amended)
	if err != nil {
		t.Fatal(err)
	}
	sub.wait(t, "ccslink/eth1/session", string(final))
	if got := sub.last("ccslink/eth1/soc"); got != "93" {
		t.Fatalf("soc %q: an estimate never takes its place", got)
	}

	// The car leaves: the estimate goes, the SoC read stays.
	clear := record.Event{Kind: record.KindEstimate, At: t0.Add(time.Minute), PlugIn: 7}
	amended.Apply(clear)
	o.Late(clear, amended)
	sub.wait(t, "ccslink/eth1/soc_estimated_basis", "")
	sub.wait(t, "ccslink/eth1/soc_estimated", "")
	if got := sub.waitCount(t, "ccslink/eth1/soc_estimated", 3); got[0].payload != "" || got[1].payload != "96.5" || got[2].payload != "" {
		t.Fatalf("soc_estimated messages %+v", got)
	}
	if got := sub.last("ccslink/eth1/soc"); got != "93" {
		t.Fatalf("soc %q", got)
	}
	// An older plug-in's estimate is not shown.
	o.Late(record.Event{Kind: record.KindEstimate, At: est.At, PlugIn: 6, Estimate: est}, &record.Session{PlugIn: 6, Estimate: est})
	o.Event(record.Event{Kind: record.KindSLACStarted, At: t0.Add(2 * time.Minute)}, &record.Session{PlugIn: 8})
	sub.wait(t, "ccslink/eth1/state", "slac")
	if got := sub.last("ccslink/eth1/soc_estimated"); got != "" {
		t.Fatalf("soc_estimated %q of an older plug-in", got)
	}
}
