// Package metrics exports the charger's plug-ins as Prometheus metrics on a
// registry of its own: how plug-ins ended, how long SLAC and the V2G
// session took, the charger's answer times per request, the outputs'
// deliveries, what the charger did after them (AC charging or not) and the
// last SoC a car told.
package metrics

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ccslink/ccslink/proto/v2g/message"
	"github.com/ccslink/ccslink/record"
)

// AnswerBuckets are the bounds of ccslink_answer_seconds: the charger
// answers in tens of microseconds on a Pi 4 and must stay well under the
// car's 2 s timeout, so 10 µs .. 100 ms covers both a fast and a sick charger.
var AnswerBuckets = []float64{10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3}

// SLACBuckets are the bounds of ccslink_slac_duration_seconds: a car
// matches in about 1 to 2 s, or several when it starts again.
var SLACBuckets = []float64{0.5, 1, 1.5, 2, 3, 5, 10, 20, 30, 60}

// SessionBuckets are the bounds of ccslink_session_duration_seconds: a soc
// session lasts about a second, a DC or AC session hours.
var SessionBuckets = []float64{0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800, 3600, 4 * 3600}

// Exporter keeps the metrics; it has the methods of the charger's
// subscriber and never blocks (its collectors only add atomically).
type Exporter struct {
	reg        *prometheus.Registry
	plugins    *prometheus.CounterVec
	slac       prometheus.Histogram
	session    prometheus.Histogram
	answers    *prometheus.HistogramVec
	deliveries *prometheus.CounterVec
	handovers  *prometheus.CounterVec
	soc        prometheus.Gauge
	socAt      prometheus.Gauge
	socEst     prometheus.Gauge

	mu     sync.Mutex
	v2gEnd time.Time // the last end of the car's V2G session in this plug-in
}

// New returns an exporter with its collectors and the Go and process
// collectors registered.
func New() *Exporter {
	m := &Exporter{
		reg: prometheus.NewRegistry(),
		plugins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ccslink_plugins_total",
			Help: "Plug-ins of a car, by how they ended (the record's end: session_stop, car_closed, link_lost, ...).",
		}, []string{"outcome"}),
		slac: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ccslink_slac_duration_seconds",
			Help:    "Time SLAC took to match a car: from its first CM_SLAC_PARM.REQ of the matching to CM_SLAC_MATCH.CNF.",
			Buckets: SLACBuckets,
		}),
		session: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ccslink_session_duration_seconds",
			Help:    "Time from the car's TCP connection to the end of its V2G session (or of the plug-in, when the link went first).",
			Buckets: SessionBuckets,
		}),
		answers: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ccslink_answer_seconds",
			Help:    "The charger's answer time (decode, decide, encode) per request.",
			Buckets: AnswerBuckets,
		}, []string{"message"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ccslink_deliveries_total",
			Help: "Deliveries of the car's values by an output, by outcome (ok or failed).",
		}, []string{"output", "outcome"}),
		handovers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ccslink_handover_total",
			Help: "What the charger did after the car's values were delivered, by handover strategy and outcome (ac_started, no_ac, not_observed).",
		}, []string{"strategy", "outcome"}),
		soc: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ccslink_last_soc_percent",
			Help: "The last state of charge a car told, in percent; -1 until a car told one.",
		}),
		socAt: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ccslink_last_soc_timestamp_seconds",
			Help: "When the car told ccslink_last_soc_percent, in Unix seconds; 0 until then.",
		}),
		socEst: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ccslink_soc_estimated_percent",
			Help: "The state of charge estimated from the energy metered since the car told its SoC (a guess, not the car's); -1 when there is none.",
		}),
	}
	m.soc.Set(-1)
	m.socEst.Set(-1)
	m.reg.MustRegister(m.plugins, m.slac, m.session, m.answers, m.deliveries, m.handovers, m.soc, m.socAt, m.socEst,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry returns the exporter's registry, to add collectors or gather.
func (m *Exporter) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition format.
func (m *Exporter) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Event counts what e reports.
func (m *Exporter) Event(e record.Event, s *record.Session) {
	switch e.Kind {
	case record.KindSLACStarted:
		m.mu.Lock()
		m.v2gEnd = time.Time{}
		m.mu.Unlock()
	case record.KindEnded:
		// The session ends with the car's V2G connection, not when the
		// link goes: under the soc policy the car may stay plugged for hours.
		if !e.End.OfPlugIn() {
			m.mu.Lock()
			m.v2gEnd = e.At
			m.mu.Unlock()
		}
	case record.KindMatched:
		// Not from keying the modem: that counts the wait for the car too.
		if e.Took > 0 {
			m.slac.Observe(e.Took.Seconds())
		}
	case record.KindRequest:
		if e.Message != message.None {
			m.answers.WithLabelValues(label(e.Message)).Observe(e.Took.Seconds())
		}
	case record.KindValues:
		if s.SoC.Known {
			m.soc.Set(float64(s.SoC.Value))
			at := s.SoC.At
			if at.IsZero() {
				at = e.At
			}
			m.socAt.Set(float64(at.UnixNano()) / float64(time.Second))
		}
	case record.KindDelivered:
		m.delivered(e)
	case record.KindHandover:
		m.handedOver(e)
	case record.KindEstimate:
		m.estimated(e)
	}
}

// Late counts an output's result that came after its plug-in ended.
func (m *Exporter) Late(e record.Event, _ *record.Session) {
	switch e.Kind {
	case record.KindDelivered:
		m.delivered(e)
	case record.KindHandover:
		m.handedOver(e)
	case record.KindEstimate:
		m.estimated(e)
	}
}

// estimated sets the SoC estimate, or -1 when it ended (the car left).
func (m *Exporter) estimated(e record.Event) {
	if e.Estimate == nil {
		m.socEst.Set(-1)
		return
	}
	m.socEst.Set(e.Estimate.SoC)
}

// handedOver counts a handover's outcome. Strategies are a fixed set of
// names, so the labels are bounded.
func (m *Exporter) handedOver(e record.Event) {
	if h := e.Handover; h != nil {
		m.handovers.WithLabelValues(h.Strategy, h.Outcome()).Inc()
	}
}

func (m *Exporter) delivered(e record.Event) {
	if d := e.Delivery; d != nil {
		outcome := "failed"
		if d.OK {
			outcome = "ok"
		}
		m.deliveries.WithLabelValues(d.Output, outcome).Inc()
	}
}

// PlugInEnded counts the plug-in and its session's length. The rounds in
// which no car came (the charger keys its modem afresh every half minute
// or so) are not plug-ins and are not counted.
func (m *Exporter) PlugInEnded(s *record.Session) {
	if !hadCar(s) {
		return
	}
	m.plugins.WithLabelValues(s.End.String()).Inc()
	m.mu.Lock()
	end := m.v2gEnd
	m.mu.Unlock()
	if end.IsZero() {
		end = s.Phases.Ended
	}
	if tcp := s.Phases.TCP; !tcp.IsZero() && !end.IsZero() && !end.Before(tcp) {
		m.session.Observe(end.Sub(tcp).Seconds())
	}
}

// label returns the label of ccslink_answer_seconds for a request: its
// name, "other" for a kind no codec has. The kinds are a fixed set, so the
// labels are bounded.
func label(k message.Kind) string {
	if k >= message.NumKinds {
		return "other"
	}
	return k.String()
}

// hadCar reports whether a car took part in the plug-in: it matched, it
// tried to, or it was plugged in and never talked.
func hadCar(s *record.Session) bool {
	return !s.Phases.Matched.IsZero() || s.End == record.EndSLACFailed || s.End == record.EndNoComm
}
