package secc

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccslink/ccslink/internal/peertest"

	"github.com/ccslink/ccslink/internal/shared"
	"github.com/ccslink/ccslink/internal/testlog"
	"github.com/ccslink/ccslink/proto/v2g/din"
	"github.com/ccslink/ccslink/proto/v2gtp"
	"github.com/ccslink/ccslink/record"
	"github.com/ccslink/ccslink/tools/capture"
)

// selfSigned makes the charger's certificate for 127.0.0.1: ECDSA on
// secp256r1 (P-256), the curve ISO 15118-2 prescribes. It returns the
// certificate for the server and its PEM for a client to trust.
func selfSigned(t testing.TB) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "ccslink test SECC"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// iso2TLS is the server side of ISO 15118-2's TLS: version 1.2 and one of
// the two cipher suites it names that Go implements.
func iso2TLS(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		MaxVersion:   tls.VersionTLS12,
		CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256},
	}
}

// tlsServer is a Server on a TLS listener over loopback.
type tlsServer struct {
	s    *Server
	addr string
	ev   *events
	log  *testlog.Buffer
	// handshakes receives each log line about a failed TLS handshake.
	handshakes chan string

	mu    sync.Mutex
	conns []ConnInfo // what each session saw of its connection
}

// startTLS serves cfg on a TLS listener; setup may set the server's test
// seams before it serves.
func startTLS(t *testing.T, cfg Config, tc *tls.Config, setup func(*Server)) *tlsServer {
	t.Helper()
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &tlsServer{addr: ln.Addr().String(), ev: &events{end: make(chan record.Event, 8)}, log: &testlog.Buffer{}, handshakes: make(chan string, 8)}
	cfg.Log = slog.New(slog.NewTextHandler(lineWatch{ts.log, ts.handshakes}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if cfg.NewSessionID == nil {
		cfg.NewSessionID = func() [8]byte { return testSID }
	}
	ts.s = NewServer(cfg, ts.ev.emit)
	ts.s.started = func(x *Conn) {
		ts.mu.Lock()
		ts.conns = append(ts.conns, x.Session().ConnInfo())
		ts.mu.Unlock()
	}
	if setup != nil {
		setup(ts.s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ts.s.Serve(ctx, tls.NewListener(ln, tc)) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ts
}

// lineWatch writes the log to w and hands each line about a failed TLS handshake to lines.
type lineWatch struct {
	w     io.Writer
	lines chan<- string
}

func (l lineWatch) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("TLS handshake failed")) {
		l.lines <- string(p)
	}
	return l.w.Write(p)
}

// handshakeLine returns the next log line about a failed handshake.
func (ts *tlsServer) handshakeLine(t *testing.T) string {
	t.Helper()
	select {
	case l := <-ts.handshakes:
		return l
	case <-time.After(30 * time.Second):
		t.Fatalf("no line about a failed handshake within 30 s; the log:\n%s", ts.log.String())
	}
	return ""
}

func (ts *tlsServer) seen() []ConnInfo {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]ConnInfo(nil), ts.conns...)
}

// waitEnd returns the next KindEnded event, failing the test after a generous bound.
func (ts *tlsServer) waitEnd(t *testing.T) record.Event {
	t.Helper()
	select {
	case e := <-ts.ev.end:
		return e
	case <-time.After(30 * time.Second):
		t.Fatal("no session ended within 30 s")
	}
	return record.Event{}
}

// ioniqRequests returns the Hyundai Ioniq's supportedAppProtocolReq and
// SessionSetupReq, as V2GTP frames from its capture (pyPLC as the charger).
func ioniqRequests(t *testing.T) (sap, setup []byte) {
	t.Helper()
	c, err := capture.Open(shared.Path(t, "captures", "pyplc", "2023-05-24_pyPlc_with_Ioniq93prcSoc.pcapng"))
	if err != nil {
		t.Fatal(err)
	}
	msgs, _ := capture.V2GTP(c.Frames())
	var car netip.AddrPort
	var frames [][]byte
	for _, m := range msgs {
		if m.Transport != "tcp" || m.Header.Type != v2gtp.TypeEXI {
			continue
		}
		if !car.IsValid() {
			car = m.Src // the car speaks first
		}
		if m.Src == car {
			frames = append(frames, v2gtp.AppendMessage(nil, m.Header.Type, m.Payload))
		}
	}
	if len(frames) < 2 {
		t.Fatalf("%d requests of the car in the capture", len(frames))
	}
	// The capture's bytes, as pyPLC's decoder printed them (decoded.txt).
	if got := hex.EncodeToString(frames[1]); got != "01fe800100000015"+"809a02000000000000000011d01811959401930c00" {
		t.Fatalf("the capture's SessionSetupReq is %s", got)
	}
	return frames[0], frames[1]
}

// The answers of this charger to the Ioniq's first two requests at t0:
// OK_SuccessfulNegotiation of DIN (SchemaID 1), then
// OK_NewSessionEstablished with SessionID testSID, EVSEID "ZZ00000" as
// bytes (5a5a3030303030) and DateTimeNow t0 (1796126400).
const (
	ioniqSAPRes   = "01fe80010000000480400040"
	ioniqSetupRes = "01fe80010000001c809a0204488cd115599de211e0201d6968c0c0c0c0c0181db75b00c0"
)

// TestServerTLSOpenSSL: a client this project did not write, OpenSSL's
// s_client, speaks ISO 15118-2's TLS (1.2, ECDHE-ECDSA-AES128-SHA256,
// the charger's P-256 certificate verified) to a TLS listener handed to
// the Server, and sends the Ioniq's recorded requests through it.
func TestServerTLSOpenSSL(t *testing.T) {
	openssl := peertest.Path(t, "openssl", "openssl", "checks our TLS as a client we did not write")
	sap, setup := ioniqRequests(t)
	cert, certPEM := selfSigned(t)
	caFile := filepath.Join(t.TempDir(), "secc.pem")
	if err := os.WriteFile(caFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	ts := startTLS(t, Config{}, iso2TLS(cert), func(s *Server) { s.clock = func() time.Time { return t0 } })

	cmd := exec.Command(openssl, "s_client", "-connect", ts.addr, "-quiet", "-no_ign_eof", "-nocommands",
		"-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA256", "-CAfile", caFile, "-verify_return_error", "-verify_ip", "127.0.0.1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// A bound, not a wait: a hung s_client fails the test instead of hanging it.
	watchdog := time.AfterFunc(time.Minute, func() { cmd.Process.Kill() })
	defer watchdog.Stop()

	if _, err := stdin.Write(append(append([]byte(nil), sap...), setup...)); err != nil {
		t.Fatal(err)
	}
	r := v2gtp.NewReader(stdout)
	var got []string
	for range 2 {
		h, p, err := r.Next()
		if err != nil {
			cmd.Wait()
			t.Fatalf("reading the answers from s_client: %v\n%s", err, stderr.String())
		}
		got = append(got, hex.EncodeToString(v2gtp.AppendMessage(nil, h.Type, p)))
	}
	stdin.Close() // s_client closes the connection
	if err := cmd.Wait(); err != nil {
		t.Errorf("s_client: %v\n%s", err, stderr.String())
	}
	if got[0] != ioniqSAPRes || got[1] != ioniqSetupRes {
		t.Errorf("answers\n%s\n%s\nwant\n%s\n%s", got[0], got[1], ioniqSAPRes, ioniqSetupRes)
	}

	e := ts.waitEnd(t)
	if e.End != record.EndCarClosed || e.Detail != "" {
		t.Errorf("end %v %q", e.End, e.Detail)
	}
	ts.ev.mu.Lock()
	var trail []string
	for _, x := range ts.ev.all {
		switch x.Kind {
		case record.KindConnected:
			trail = append(trail, "connected "+x.TLS)
		case record.KindSessionSetup:
			trail = append(trail, "EVCCID "+hex.EncodeToString(x.EVCCID))
		case record.KindRequest:
			trail = append(trail, x.Message.String()+" "+x.Code)
		}
	}
	ts.ev.mu.Unlock()
	want := []string{"connected TLS 1.2 TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "supportedAppProtocolReq OK_SuccessfulNegotiation",
		"EVCCID 0465650064c3", "SessionSetupReq OK_NewSessionEstablished"}
	if strings.Join(trail, "\n") != strings.Join(want, "\n") {
		t.Errorf("events\n%s\nwant\n%s", strings.Join(trail, "\n"), strings.Join(want, "\n"))
	}
	seen := ts.seen()
	if len(seen) != 1 {
		t.Fatalf("%d sessions", len(seen))
	}
	info := seen[0]
	if info.Peer.Addr() != carAddr || info.Peer.Port() == 0 || info.Local.String() != ts.addr {
		t.Errorf("the session saw peer %v, local %v (server %s)", info.Peer, info.Local, ts.addr)
	}
	if st := info.TLS; st == nil || !st.HandshakeComplete || st.Version != tls.VersionTLS12 ||
		st.CipherSuite != tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256 || len(st.PeerCertificates) != 0 {
		t.Errorf("the session saw TLS %+v", st)
	}
}

// TestServerTLSClient: Go's own TLS client (1.3 by default) over the
// same listener; the session sees exactly the client's end of it.
func TestServerTLSClient(t *testing.T) {
	cert, certPEM := selfSigned(t)
	ts := startTLS(t, Config{}, &tls.Config{Certificates: []tls.Certificate{cert}}, nil)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(certPEM)
	c, err := tls.Dial("tcp", ts.addr, &tls.Config{RootCAs: roots})
	if err != nil {
		t.Fatal(err)
	}
	r := v2gtp.NewReader(c)
	if p := exchange(t, c, r, sapReq(t)); hex.EncodeToString(p) != "80400040" {
		t.Errorf("SAP answer %x", p)
	}
	st := c.ConnectionState()
	c.Close()
	if e := ts.waitEnd(t); e.End != record.EndCarClosed {
		t.Errorf("end %v %q", e.End, e.Detail)
	}
	seen := ts.seen()
	if len(seen) != 1 || seen[0].Peer.String() != c.LocalAddr().String() || seen[0].Local.String() != ts.addr {
		t.Fatalf("sessions saw %+v; the client is %v", seen, c.LocalAddr())
	}
	if s := seen[0].TLS; s == nil || s.Version != tls.VersionTLS13 || s.CipherSuite != st.CipherSuite {
		t.Errorf("the session saw TLS %+v, the client %x %x", s, st.Version, st.CipherSuite)
	}
	ts.ev.mu.Lock()
	defer ts.ev.mu.Unlock()
	if e := ts.ev.all[0]; e.Kind != record.KindConnected || e.TLS != "TLS 1.3 "+tls.CipherSuiteName(st.CipherSuite) {
		t.Errorf("first event %+v", e)
	}
}

// TestServerTLSStray: clients that connect and never start their
// handshake, one before the car and one while it talks, hold back no one
// and do not cost the car its connection; each is closed when its
// handshake's time is up, a line says so, and neither becomes a session.
func TestServerTLSStray(t *testing.T) {
	cert, certPEM := selfSigned(t)
	expire := make(chan struct{}) // the strays' handshake time is up
	ts := startTLS(t, Config{}, &tls.Config{Certificates: []tls.Certificate{cert}}, func(s *Server) {
		s.handshakeCtx = func(ctx context.Context) (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancelCause(ctx)
			go func() {
				select {
				case <-expire:
					cancel(context.DeadlineExceeded)
				case <-ctx.Done():
				}
			}()
			return ctx, func() { cancel(nil) }
		}
	})
	before, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer before.Close()

	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(certPEM)
	c, err := tls.Dial("tcp", ts.addr, &tls.Config{RootCAs: roots})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := v2gtp.NewReader(c)
	if p := exchange(t, c, r, sapReq(t)); hex.EncodeToString(p) != "80400040" {
		t.Errorf("SAP answer %x", p)
	}
	// Without an Owner every connection counts as the car's, and a newer
	// one replaces the older: but only once its handshake is done.
	during, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer during.Close()
	exchange(t, c, r, dinReq(t, []byte{0}, din.BodyType{SessionSetupReq: &din.SessionSetupReqType{EVCCID: []byte{1, 2, 3, 4, 5, 6}}}))

	close(expire)
	want := map[string]bool{}
	for _, stray := range []net.Conn{before, during} {
		stray.SetReadDeadline(time.Now().Add(30 * time.Second))
		if n, err := stray.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
			t.Fatalf("stray %v: read %d, %v; want the connection closed", stray.LocalAddr(), n, err)
		}
		want["TLS handshake with "+stray.LocalAddr().String()+": not completed within 5s (the client connected and said nothing, or too little)"] = true
	}
	// One line per address and PeerLogInterval: the second stray's is held back.
	l := ts.handshakeLine(t)
	found := 0
	for w := range want {
		if strings.Contains(l, "closed a V2G connection whose TLS handshake failed") && strings.Contains(l, w) {
			found++
		}
	}
	if found != 1 {
		t.Errorf("line %q names not one of %v", l, want)
	}
	// The car's connection is still its session.
	p := exchange(t, c, r, dinReq(t, testSID[:], din.BodyType{SessionStopReq: &din.SessionStopType{}}))
	var doc din.Document
	if _, err := din.Unmarshal(p, &doc); err != nil || doc.V2G_Message.Body.SessionStopRes == nil {
		t.Fatalf("SessionStop answer %x: %v", p, err)
	}
	c.Close()
	if e := ts.waitEnd(t); e.End != record.EndSessionStop {
		t.Errorf("the car's end %v %q", e.End, e.Detail)
	}
	if seen := ts.seen(); len(seen) != 1 {
		t.Errorf("%d sessions, want the car's alone", len(seen))
	}
}

// TestServerTLSPlainClient: a car speaking plain V2GTP to the TLS port
// gets the connection closed, and the log says why in words.
func TestServerTLSPlainClient(t *testing.T) {
	cert, _ := selfSigned(t)
	ts := startTLS(t, Config{}, &tls.Config{Certificates: []tls.Certificate{cert}}, nil)
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(frame(t, sapReq(t)))
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	io.Copy(io.Discard, c) // until the charger closes it
	want := "TLS handshake with " + c.LocalAddr().String() + " failed: the client does not speak TLS (tls: first record does not look like a TLS handshake); a car that asks SDP for no TLS is told the plain TCP port"
	if l := ts.handshakeLine(t); !strings.Contains(l, want) {
		t.Errorf("log line %q lacks %q", l, want)
	}
	if seen := ts.seen(); len(seen) != 0 {
		t.Errorf("sessions %+v", seen)
	}
}

// TestServerTLSStranger: the Owner's verdict comes before the handshake:
// a stranger's connection is closed unread, with no TLS work done for it.
func TestServerTLSStranger(t *testing.T) {
	cert, certPEM := selfSigned(t)
	o := newTestOwner()
	o.set(strangerAddr, Stranger)
	ts := startTLS(t, Config{Owner: o}, &tls.Config{Certificates: []tls.Certificate{cert}}, nil)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(certPEM)
	d := &tls.Dialer{NetDialer: &net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(strangerAddr, 0))}, Config: &tls.Config{RootCAs: roots}}
	if c, err := d.Dial("tcp", ts.addr); err == nil {
		c.Close()
		t.Fatal("the stranger's handshake succeeded")
	}
	if ts.s.Refused() != 1 || strings.Contains(ts.log.String(), "TLS handshake") || len(ts.seen()) != 0 {
		t.Errorf("refused %d, sessions %d, log:\n%s", ts.s.Refused(), len(ts.seen()), ts.log.String())
	}
}
