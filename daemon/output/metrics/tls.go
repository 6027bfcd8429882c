package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TLSChainExpiry exports when the first certificate of the SECC's TLS
// chain (or its root) expires, as ccslink_tls_chain_expiry_timestamp_seconds:
// an alert can fire weeks ahead (time() > it - 30*86400). A charger with a
// chain per edition gives the earlier of the two: one series, so that an
// alert on it holds however many chains there are, and the log names the
// chain. The chains are read once at start, so the value holds for the
// daemon's life. Call it once, and only when V2G is served over TLS:
// without TLS there is no such metric.
func (m *Exporter) TLSChainExpiry(notAfter time.Time) {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "ccslink_tls_chain_expiry_timestamp_seconds",
		Help: "When the first certificate of the SECC's TLS chain or its root expires, in Unix seconds (cars that validate the chain refuse it after).",
	})
	g.Set(float64(notAfter.Unix()))
	m.reg.MustRegister(g)
}
