package secc

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/ccslink/ccslink/internal/netnstest"
	"github.com/ccslink/ccslink/proto/evcc"
	"github.com/ccslink/ccslink/record"
)

// iso20Veth starts a server serving -20 first under the ac policy in one
// namespace of a veth pair, over TLS 1.3 on secp521r1 (as -20 asks) when
// withTLS; dial opens a connection from the other, its TLS handshake done.
func iso20Veth(tb testing.TB, emit func(record.Event), withTLS bool) (dial func() net.Conn) {
	return iso20VethPolicy(tb, emit, withTLS, PolicyAC)
}

// iso20VethPolicy is iso20Veth under policy pol.
func iso20VethPolicy(tb testing.TB, emit func(record.Event), withTLS bool, pol PolicyName) (dial func() net.Conn) {
	nsE, nsP := netnstest.VethPair(tb)
	var ln net.Listener
	nsE.Do(tb, func() {
		var err error
		ln, err = net.Listen("tcp6", net.JoinHostPort(nsE.LinkLocal.String(), "0"))
		if err != nil {
			tb.Fatal(err)
		}
	})
	var client *tls.Config
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	if withTLS {
		cert, certPEM := selfSigned(tb)
		ln = tls.NewListener(ln, iso20TLS(cert))
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(certPEM)
		// A car checks the chain, not a name: the charger has none.
		client = &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13, CurvePreferences: []tls.CurveID{tls.CurveP521},
			VerifyConnection: func(cs tls.ConnectionState) error {
				_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots})
				return err
			}}
	}
	s := NewServer(iso20Config(pol), emit)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	tb.Cleanup(func() { cancel(); <-done })
	dst := nsP.PeerAddr(nsE, port)
	return func() net.Conn {
		var conn net.Conn
		var err error
		nsP.Do(tb, func() { conn, err = net.Dial("tcp6", dst.String()) })
		if err != nil {
			tb.Fatal(err)
		}
		if client != nil {
			tc := tls.Client(conn, client)
			if err := tc.Handshake(); err != nil {
				tb.Fatal(err)
			}
			conn = tc
		}
		return conn
	}
}

// iso20TLS is the server side of ISO 15118-20's TLS as Go offers it:
// version 1.3, secp521r1 first.
func iso20TLS(cert tls.Certificate) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13,
		CurvePreferences: []tls.CurveID{tls.CurveP521, tls.CurveP384, tls.CurveP256}}
}

// TestISO20Veth: the iso20-ac car over real sockets between two network
// namespaces: -20 negotiated, every loop's SoC published in order.
// Root only.
func TestISO20Veth(t *testing.T) {
	ev := &events{end: make(chan record.Event, 8)}
	dial := iso20Veth(t, ev.emit, false)
	p, err := evcc.Lookup("iso20-ac")
	if err != nil {
		t.Fatal(err)
	}
	conn := dial()
	res, err := evcc.Run(context.Background(), conn, evcc.Config{Profile: p, ResponseTimeout: 10 * time.Second})
	conn.Close()
	if err != nil || res.Protocol != "iso20" || res.End != evcc.EndComplete || len(res.Steps) != 17 {
		t.Fatalf("%s %v %v, %d steps", res.Protocol, res.End, err, len(res.Steps))
	}
	if e := <-ev.end; e.End != record.EndSessionStop {
		t.Fatalf("end %v (%s)", e.End, e.Detail)
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	var socs []int
	for _, e := range ev.all {
		if e.Kind == record.KindValues && e.Values.SoC != nil {
			socs = append(socs, *e.Values.SoC)
		}
	}
	if !slices.Equal(socs, []int{40, 41, 42, 43, 44}) {
		t.Fatalf("SoCs published %v", socs)
	}
}

// BenchmarkISO20AnswerTimeVeth measures the charger's answer time per
// ISO-20 request as the car sees it (request written to answer read) over
// plain TCP on a veth pair: one whole iso20-ac session under the ac policy
// per op (17 requests). Root only:
// go test -run '^$' -bench ISO20AnswerTimeVeth ./proto/secc
func BenchmarkISO20AnswerTimeVeth(b *testing.B) {
	for _, withTLS := range []bool{false, true} {
		name := "plain"
		if withTLS {
			name = "tls1.3"
		}
		b.Run(name, func(b *testing.B) {
			dial := iso20Veth(b, nil, withTLS)
			p, err := evcc.Lookup("iso20-ac")
			if err != nil {
				b.Fatal(err)
			}
			var rtts []time.Duration
			for b.Loop() {
				conn := dial()
				res, err := evcc.Run(context.Background(), conn, evcc.Config{Profile: p})
				conn.Close()
				if err != nil || res.End != evcc.EndComplete || res.Protocol != "iso20" {
					b.Fatalf("session: %s %v, %v", res.Protocol, res.End, err)
				}
				for _, st := range res.Steps {
					rtts = append(rtts, st.RTT)
				}
			}
			slices.Sort(rtts)
			b.ReportMetric(float64(rtts[len(rtts)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(rtts[len(rtts)*99/100].Microseconds()), "p99-µs")
			b.ReportMetric(float64(rtts[len(rtts)-1].Microseconds()), "max-µs")
		})
	}
}

// TestISO20OverTLS13: the iso20-ac car over TLS 1.3 (secp521r1) on a
// veth pair: the same session, the connection's TLS in the record.
func TestISO20OverTLS13(t *testing.T) {
	ev := &events{end: make(chan record.Event, 8)}
	dial := iso20Veth(t, ev.emit, true)
	p, err := evcc.Lookup("iso20-ac")
	if err != nil {
		t.Fatal(err)
	}
	conn := dial()
	st := conn.(*tls.Conn).ConnectionState()
	res, err := evcc.Run(context.Background(), conn, evcc.Config{Profile: p, ResponseTimeout: 10 * time.Second})
	conn.Close()
	if err != nil || res.Protocol != "iso20" || res.End != evcc.EndComplete || st.Version != tls.VersionTLS13 || st.CurveID != tls.CurveP521 {
		t.Fatalf("%s %v %v, TLS %x curve %v", res.Protocol, res.End, err, st.Version, st.CurveID)
	}
	<-ev.end
	ev.mu.Lock()
	defer ev.mu.Unlock()
	var socs []int
	for _, e := range ev.all {
		if e.Kind == record.KindConnected && e.TLS != "TLS 1.3 "+tls.CipherSuiteName(st.CipherSuite) {
			t.Errorf("connected over %q", e.TLS)
		}
		if e.Kind == record.KindValues && e.Values.SoC != nil {
			socs = append(socs, *e.Values.SoC)
		}
	}
	if !slices.Equal(socs, []int{40, 41, 42, 43, 44}) {
		t.Fatalf("SoCs published %v", socs)
	}
}

// TestISO20DCVeth: the iso20-dc car over real sockets between two network
// namespaces, under dc (the whole emulated DC session, every loop's SoC)
// and soc (the first loop's SoC, then Terminate). Root only.
func TestISO20DCVeth(t *testing.T) {
	p, err := evcc.Lookup("iso20-dc")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		pol   PolicyName
		end   evcc.End
		steps int
		socs  []int
	}{{PolicyDC, evcc.EndComplete, 23, []int{30, 31, 32, 33, 34}}, {PolicySoC, evcc.EndShutdown, 18, []int{30}}} {
		ev := &events{end: make(chan record.Event, 8)}
		conn := iso20VethPolicy(t, ev.emit, false, c.pol)()
		res, err := evcc.Run(context.Background(), conn, evcc.Config{Profile: p, ResponseTimeout: 10 * time.Second})
		conn.Close()
		if err != nil || res.Protocol != "iso20" || res.End != c.end || len(res.Steps) != c.steps {
			t.Fatalf("%v: %s %v %v, %d steps", c.pol, res.Protocol, res.End, err, len(res.Steps))
		}
		if e := <-ev.end; e.End != record.EndSessionStop {
			t.Fatalf("%v: end %v (%s)", c.pol, e.End, e.Detail)
		}
		ev.mu.Lock()
		var socs []int
		for _, e := range ev.all {
			if e.Kind == record.KindValues && e.Values.SoC != nil {
				socs = append(socs, *e.Values.SoC)
			}
		}
		ev.mu.Unlock()
		if !slices.Equal(socs, c.socs) {
			t.Fatalf("%v: SoCs published %v", c.pol, socs)
		}
	}
}
