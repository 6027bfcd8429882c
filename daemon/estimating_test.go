package daemon

import (
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/ccslink/ccslink/daemon/output/smartevse"
	"github.com/ccslink/ccslink/internal/testlog"
	"github.com/ccslink/ccslink/proto/v2g/message"
	"github.com/ccslink/ccslink/record"
)

// estimator is an estimating whose reports and log the test reads.
func estimator() (*estimating, *[]record.Event, *testlog.Buffer) {
	var got []record.Event
	buf := &testlog.Buffer{}
	log := slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	return &estimating{efficiency: 0.9, log: log, report: func(e record.Event) { got = append(got, e) }}, &got, buf
}

// measured is the record of plug-in n after the car sent soc (and a
// capacity, when capWh is not 0) at at.
func measured(n uint64, soc int, capWh float64, capFrom string, at time.Time) (*record.Session, record.Event) {
	rec := &record.Session{PlugIn: n}
	v := record.Values{SoC: &soc}
	if capWh > 0 {
		v.EnergyCapacityWh = &capWh
	}
	e := record.Event{Kind: record.KindValues, At: at, Message: message.ChargeParameterDiscoveryReq, From: capFrom, Values: v}
	rec.Apply(e)
	return rec, e
}

// TestEstimatingFlow: the plug-in whose SoC was read gets estimates from
// the meter's readings, at least 1 % apart; the car's leaving (A) clears
// the estimate; a plug-in without capacity gets none, said once.
func TestEstimatingFlow(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 18, 0, 0, 0, time.UTC)
	x, got, buf := estimator()
	read := func(s time.Duration, kWh float64) {
		x.reading(smartevse.Reading{At: t0.Add(s), State: smartevse.StateC, Meter: true, ChargedKWh: kWh, PowerKW: 11})
	}
	read(0, 3) // no SoC read yet: nothing
	rec, e := measured(4, 55, 58000, "", t0.Add(time.Second))
	x.Event(e, rec)
	x.Event(e, rec)          // the same SoC again: the same estimate goes on
	read(2*time.Second, 3)   // the base
	read(3*time.Second, 0)   // the new charge resets the register
	read(4*time.Second, 0.4) // 55.6: published
	read(5*time.Second, 0.8) // 56.2: under 1 % more
	read(6*time.Second, 1.1) // 56.7: published
	x.unplugged(t0.Add(7 * time.Second))
	read(8*time.Second, 1.3) // no plug-in estimated
	basis := record.Estimate{MeasuredSoC: 55, MeasuredAt: t0.Add(time.Second), CapacityWh: 58000, CapacityFrom: "ChargeParameterDiscoveryReq", Efficiency: 0.9}
	e1, e2 := basis, basis
	e1.SoC, e1.EnergySinceWh, e1.At = 55.6, 400, t0.Add(4*time.Second)
	e2.SoC, e2.EnergySinceWh, e2.At = 56.7, 1100, t0.Add(6*time.Second)
	want := []record.Event{
		{Kind: record.KindEstimate, At: e1.At, PlugIn: 4, Estimate: &e1},
		{Kind: record.KindEstimate, At: e2.At, PlugIn: 4, Estimate: &e2},
		{Kind: record.KindEstimate, At: t0.Add(7 * time.Second), PlugIn: 4},
	}
	if !reflect.DeepEqual(*got, want) {
		t.Fatalf("reported\n got %+v\nwant %+v", *got, want)
	}

	// The next car sends no capacity and none is configured.
	*got = nil
	rec, e = measured(5, 30, 0, "", t0.Add(time.Minute))
	x.Event(e, rec)
	x.Event(e, rec)
	read(61*time.Second, 0)
	read(62*time.Second, 5)
	if len(*got) != 0 {
		t.Fatalf("estimates without a capacity: %+v", *got)
	}
	if want := `level=INFO msg="no SoC estimate: the car sent no battery capacity (EVEnergyCapacity); set capacity_fallback for it in the configuration" plug_in=5` + "\n"; buf.String() != want {
		t.Fatalf("log\n got %s\nwant %s", buf.String(), want)
	}
}

// TestEstimatingFallbackAndNoMeter: a capacity from the configuration is
// named as such; a SmartEVSE without an EV meter gives no estimate, said
// once; a new SoC supersedes the estimate published, which is cleared.
func TestEstimatingFallbackAndNoMeter(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 18, 0, 0, 0, time.UTC)
	x, got, buf := estimator()
	rec, e := measured(2, 40, 27000, "config", t0)
	x.Event(e, rec)
	for i := range 3 {
		x.reading(smartevse.Reading{At: t0.Add(time.Duration(i) * time.Second), State: smartevse.StateC})
	}
	if len(*got) != 0 {
		t.Fatalf("estimates without a meter: %+v", *got)
	}
	if want := `level=INFO msg="no SoC estimate between reads: the SmartEVSE reports no EV meter (ev_meter.charged_kwh in GET /settings)"` + "\n"; buf.String() != want {
		t.Fatalf("log\n got %s\nwant %s", buf.String(), want)
	}
	x.reading(smartevse.Reading{At: t0.Add(3 * time.Second), State: smartevse.StateC, Meter: true, ChargedKWh: 0})
	x.reading(smartevse.Reading{At: t0.Add(4 * time.Second), State: smartevse.StateC, Meter: true, ChargedKWh: 0.3})
	want := record.Estimate{SoC: 41, MeasuredSoC: 40, MeasuredAt: t0, EnergySinceWh: 300, CapacityWh: 27000, CapacityFrom: "config", Efficiency: 0.9, At: t0.Add(4 * time.Second)}
	if len(*got) != 1 || !reflect.DeepEqual((*got)[0].Estimate, &want) {
		t.Fatalf("reported %+v", *got)
	}
	// The car is read again (a new plug-in of the same car): the estimate
	// published is cleared at the next reading, and a new one begins.
	rec, e = measured(3, 45, 27000, "config", t0.Add(time.Minute))
	x.Event(e, rec)
	x.reading(smartevse.Reading{At: t0.Add(61 * time.Second), State: smartevse.StateC, Meter: true, ChargedKWh: 0.3})
	if len(*got) != 2 || !reflect.DeepEqual((*got)[1], record.Event{Kind: record.KindEstimate, At: t0.Add(61 * time.Second), PlugIn: 2}) {
		t.Fatalf("reported %+v", *got)
	}
}
