package metrics

import "github.com/prometheus/client_golang/prometheus"

// ServerCounts are the counters of the charger's SDP and V2G servers, for
// ccslink_sdp_requests_total and ccslink_v2g_refused_total.
type ServerCounts struct {
	SDPAnswered uint64 // SDP requests answered
	SDPLimited  uint64 // ignored: over their source's rate limit
	SDPDropped  uint64 // ignored: too many answers were waiting
	V2GRefused  uint64 // V2G connections closed at once: not the car's, or too many open
}

// CountServers exports the servers' counters, which read returns at each
// scrape; the charger keeps them (this package imports only record), the
// daemon wires them here. Call it once.
func (m *Exporter) CountServers(read func() ServerCounts) {
	m.reg.MustRegister(&serverCollector{
		read: read,
		sdp: prometheus.NewDesc("ccslink_sdp_requests_total",
			"SDP requests by what the charger did: answered; limited (over their source's rate limit of 5 at once, then 10 a second); dropped (too many answers waiting, as in a flood from many sources).",
			[]string{"outcome"}, nil),
		refused: prometheus.NewDesc("ccslink_v2g_refused_total",
			"V2G connections closed at once: from someone other than the plug-in's car, or over the bound of connections open at once.",
			nil, nil),
	})
}

type serverCollector struct {
	read         func() ServerCounts
	sdp, refused *prometheus.Desc
}

func (c *serverCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.sdp
	ch <- c.refused
}

func (c *serverCollector) Collect(ch chan<- prometheus.Metric) {
	n := c.read()
	ch <- prometheus.MustNewConstMetric(c.sdp, prometheus.CounterValue, float64(n.SDPAnswered), "answered")
	ch <- prometheus.MustNewConstMetric(c.sdp, prometheus.CounterValue, float64(n.SDPLimited), "limited")
	ch <- prometheus.MustNewConstMetric(c.sdp, prometheus.CounterValue, float64(n.SDPDropped), "dropped")
	ch <- prometheus.MustNewConstMetric(c.refused, prometheus.CounterValue, float64(n.V2GRefused))
}
