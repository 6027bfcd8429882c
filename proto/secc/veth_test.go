package secc

import (
	"context"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/ccslink/ccslink/internal/netnstest"
	"github.com/ccslink/ccslink/proto/evcc"
)

// BenchmarkAnswerTimeVeth measures the charger's answer time as the car
// sees it (request written to answer read) over real TCP sockets on a veth
// pair between two network namespaces: one whole dc-policy session of the
// Ioniq per op (about 20 requests). p50 and p99 are reported per request.
// Root only: go test -run '^$' -bench AnswerTimeVeth ./proto/secc
func BenchmarkAnswerTimeVeth(b *testing.B) {
	nsE, nsP := netnstest.VethPair(b)
	var ln net.Listener
	nsE.Do(b, func() {
		var err error
		ln, err = net.Listen("tcp6", net.JoinHostPort(nsE.LinkLocal.String(), "0"))
		if err != nil {
			b.Fatal(err)
		}
	})
	s := NewServer(Config{Policy: PolicyDC}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()
	dst := nsP.PeerAddr(nsE, uint16(ln.Addr().(*net.TCPAddr).Port))
	p, err := evcc.Lookup("ioniq")
	if err != nil {
		b.Fatal(err)
	}
	var rtts []time.Duration
	for b.Loop() {
		var conn net.Conn
		nsP.Do(b, func() {
			conn, err = net.Dial("tcp6", dst.String())
		})
		if err != nil {
			b.Fatal(err)
		}
		res, err := evcc.Run(context.Background(), conn, evcc.Config{Profile: p})
		conn.Close()
		if err != nil || res.End != evcc.EndComplete {
			b.Fatalf("session: %v, %v", res.End, err)
		}
		for _, st := range res.Steps {
			rtts = append(rtts, st.RTT)
		}
	}
	slices.Sort(rtts)
	b.ReportMetric(float64(rtts[len(rtts)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(rtts[len(rtts)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(rtts[len(rtts)-1].Microseconds()), "max-µs")
}
