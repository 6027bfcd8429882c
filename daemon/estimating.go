package daemon

import (
	"cmp"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/ccslink/ccslink/daemon/estimate"
	"github.com/ccslink/ccslink/daemon/output/smartevse"
	"github.com/ccslink/ccslink/record"
)

// estimating estimates the SoC of the plug-in whose SoC was read last
// from the SmartEVSE's EV meter, between reads. It hears the car's values
// as a subscriber and the SmartEVSE's readings from the watcher's poller;
// its estimates go to the charger as record.KindEstimate events of that
// plug-in, so that every output hears them, usually after the plug-in's
// V2G session ended.
type estimating struct {
	efficiency float64
	log        *slog.Logger
	report     func(record.Event) // never called from Event: the charger's loop calls that

	mu      sync.Mutex
	plugIn  uint64            // the plug-in estimated
	tr      *estimate.Tracker // nil: none
	stale   uint64            // a plug-in whose published estimate is to be cleared
	noMeter bool              // "no EV meter" was said
	refused uint64            // the plug-in whose estimate could not start, said
}

// Event starts an estimate at each SoC the car sends (charger.Subscriber);
// a new one supersedes the last.
func (x *estimating) Event(e record.Event, rec *record.Session) {
	if e.Kind != record.KindValues || !rec.SoC.Known {
		return
	}
	b := estimate.Basis{SoC: rec.SoC.Value, At: rec.SoC.At, Efficiency: cmp.Or(x.efficiency, estimate.DefaultEfficiency)}
	if c := rec.EnergyCapacityWh; c.Known {
		b.CapacityWh, b.CapacityFrom = c.Value, c.From
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.tr != nil && x.plugIn == rec.PlugIn && x.tr.Basis() == b {
		return
	}
	if x.tr != nil && x.tr.Published() {
		x.stale = x.plugIn
	}
	tr, err := estimate.New(b)
	x.plugIn, x.tr = rec.PlugIn, tr
	if err != nil && x.refused != rec.PlugIn {
		x.refused = rec.PlugIn
		if errors.Is(err, estimate.ErrNoCapacity) {
			x.log.Info(err.Error(), "plug_in", rec.PlugIn)
		} else {
			x.log.Warn("no SoC estimate: "+err.Error(), "plug_in", rec.PlugIn)
		}
	}
}

// PlugInEnded leaves the estimate running: the car charges on AC after its
// V2G session, until the SmartEVSE says it left.
func (x *estimating) PlugInEnded(*record.Session) {}

// reading takes one of the SmartEVSE's readings (smartevse.WatchConfig.OnReading).
func (x *estimating) reading(r smartevse.Reading) {
	var out []record.Event
	x.mu.Lock()
	if x.stale != 0 {
		out = append(out, record.Event{Kind: record.KindEstimate, At: r.At, PlugIn: x.stale})
		x.stale = 0
	}
	switch {
	case x.tr == nil:
	case !r.Meter:
		if !x.noMeter {
			x.noMeter = true
			x.log.Info("no SoC estimate between reads: the SmartEVSE reports no EV meter (ev_meter.charged_kwh in GET /settings)")
		}
	default:
		x.noMeter = false
		if e, publish := x.tr.Reading(r.At, r.ChargedKWh); publish {
			out = append(out, record.Event{Kind: record.KindEstimate, At: r.At, PlugIn: x.plugIn, Estimate: &e})
		}
	}
	x.mu.Unlock()
	for _, e := range out {
		x.report(e)
	}
}

// unplugged ends the estimate: the SmartEVSE went to A, the car left.
func (x *estimating) unplugged(at time.Time) {
	x.mu.Lock()
	var out []record.Event
	if x.stale != 0 {
		out = append(out, record.Event{Kind: record.KindEstimate, At: at, PlugIn: x.stale})
		x.stale = 0
	}
	if x.tr != nil && x.tr.Published() {
		out = append(out, record.Event{Kind: record.KindEstimate, At: at, PlugIn: x.plugIn})
	}
	x.tr = nil
	x.mu.Unlock()
	for _, e := range out {
		x.report(e)
	}
}
