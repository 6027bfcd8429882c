package charger

import (
	"context"
	"crypto/tls"
	"net"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/ccslink/ccslink/proto/evcc"
	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/sdp"
	"github.com/ccslink/ccslink/proto/v2gpki"
	"github.com/ccslink/ccslink/proto/v2gtp"
	"github.com/ccslink/ccslink/record"
)

// TestTLS: with a TLS listener, SDP tells a car that asks for TLS its
// port, and a car that asks for none the plain one; the car's whole
// session over TLS is the plug-in's, as over TCP.
func TestTLS(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	if err := v2gpki.Init(dir, "DE*ABC*E1"); err != nil {
		t.Fatal(err)
	}
	chain, err := v2gpki.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	tc, err := chain.ServerConfig(v2gpki.Options{Profile: v2gpki.Both})
	if err != nil {
		t.Fatal(err)
	}
	sdpConn, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer sdpConn.Close()
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	tln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	tlsPort := uint16(tln.Addr().(*net.TCPAddr).Port)
	slac := newFakeSLAC()
	s := &sink{ended: make(chan *record.Session, 1), v2gEnd: make(chan struct{}, 4), late: make(chan *record.Session, 4)}
	announce := netip.AddrPortFrom(netip.IPv6Loopback(), uint16(ln.Addr().(*net.TCPAddr).Port))
	ch, err := New(Config{SLAC: slac, SDP: sdpConn, V2G: ln, V2GTLS: tls.NewListener(tln, tc), Announce: announce})
	if err != nil {
		t.Fatal(err)
	}
	ch.Subscribe(s)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- ch.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	p, _ := evcc.Lookup("ioniq")
	mac := p.SessionMAC()
	slac.plug <- homeplug.MAC(mac)
	ask := func(withTLS bool) sdp.Response {
		udp, err := net.ListenPacket("udp6", "[::1]:0")
		if err != nil {
			t.Fatal(err)
		}
		defer udp.Close()
		resp, err := sdp.Discover(ctx, udp, sdpConn.LocalAddr(), sdp.ClientConfig{TLS: withTLS})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if r := ask(false); r.Security != v2gtp.SecurityNone || r.Addr != announce {
		t.Errorf("a car asking for no TLS: %+v, want %v without TLS", r, announce)
	}
	r := ask(true)
	if r.Security != v2gtp.SecurityTLS || r.Addr != netip.AddrPortFrom(netip.IPv6Loopback(), tlsPort) {
		t.Fatalf("a car asking for TLS: %+v, want port %d with TLS", r, tlsPort)
	}
	// The chain's checks are v2gpki's tests; here the session over TLS counts.
	conn, err := tls.Dial("tcp6", r.Addr.String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := evcc.Run(ctx, conn, evcc.Config{Profile: p, EVCCID: mac})
	conn.Close()
	if err != nil {
		t.Fatalf("car: %v", err)
	}
	<-s.v2gEnd
	slac.unplug <- struct{}{}
	rec := <-s.ended
	if rec.Protocol != "din" || rec.SoC.Value != 93 || rec.End != record.EndSessionStop || len(rec.Answers) != len(res.Steps) {
		t.Errorf("record: %+v", rec)
	}
	var got []string
	s.mu.Lock()
	for _, e := range s.events {
		if e.Kind == record.KindConnected {
			got = append(got, e.TLS)
		}
	}
	s.mu.Unlock()
	if len(got) != 1 || got[0] != "TLS 1.3 TLS_AES_128_GCM_SHA256" {
		t.Errorf("connected over %q", got)
	}
}
