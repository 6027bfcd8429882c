package evcc

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ccslink/ccslink/proto/sdp"
	"github.com/ccslink/ccslink/proto/v2gtp"
)

// testCA makes a CA and a leaf it signed that names an EVSEID, no host.
func testCA(t *testing.T, name string) (*x509.Certificate, tls.Certificate) {
	t.Helper()
	now := time.Now()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caT := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name + " root"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caT, caT, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafT := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "DE*ABC*E1"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, leafT, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return ca, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestTLSConfig: the car's TLS 1.3 accepts a chain leading to its root
// though the leaf names no host, refuses one that does not with
// ErrUntrustedCharger, and with no roots accepts any.
func TestTLSConfig(t *testing.T) {
	ca, leaf := testCA(t, "charger")
	other, _ := testCA(t, "other")
	pool := func(c *x509.Certificate) *x509.CertPool { p := x509.NewCertPool(); p.AddCert(c); return p }
	for _, c := range []struct {
		name  string
		roots *x509.CertPool
		ok    bool
	}{{"its root", pool(ca), true}, {"another root", pool(other), false}, {"no roots", nil, true}} {
		// Loopback TCP, not net.Pipe: both sides of TLS 1.3 write at once.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			a, err := ln.Accept()
			if err != nil {
				return
			}
			a.SetDeadline(time.Now().Add(30 * time.Second))
			tls.Server(a, &tls.Config{Certificates: []tls.Certificate{leaf}}).Handshake()
			a.Close()
		}()
		b, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		b.SetDeadline(time.Now().Add(30 * time.Second))
		cl := tls.Client(b, TLSConfig(c.roots))
		err = cl.Handshake()
		b.Close()
		<-done
		ln.Close()
		switch {
		case c.ok && (err != nil || cl.ConnectionState().Version != tls.VersionTLS13):
			t.Errorf("%s: %v, version %x", c.name, err, cl.ConnectionState().Version)
		case !c.ok && !errors.Is(err, ErrUntrustedCharger):
			t.Errorf("%s: %v, want ErrUntrustedCharger", c.name, err)
		}
	}
}

// TestDialV2G: the car connects as it asked SDP: over plain TCP, or over
// TLS 1.3 with the charger's chain checked; a charger that answered
// without the TLS asked for, a port nobody listens on and a chain the car
// refuses are each their typed error, in words naming the charger.
func TestDialV2G(t *testing.T) {
	ca, leaf := testCA(t, "charger")
	other, _ := testCA(t, "other")
	pool := func(c *x509.Certificate) *x509.CertPool { p := x509.NewCertPool(); p.AddCert(c); return p }
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().(*net.TCPAddr).AddrPort()
	// The charger: each connection gets a TLS handshake when the test
	// says so, then echoes one byte, or is closed at once.
	type served struct {
		tls  bool
		read []byte // what the car sent, after the handshake
	}
	next := make(chan bool, 1)
	got := make(chan served, 1)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.SetDeadline(time.Now().Add(30 * time.Second))
			withTLS := <-next
			var conn net.Conn = c
			if withTLS {
				s := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{leaf}})
				if s.Handshake() != nil {
					c.Close()
					got <- served{tls: true}
					continue
				}
				conn = s
			}
			b := make([]byte, 1)
			n, _ := conn.Read(b)
			got <- served{withTLS, b[:n]}
			c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp := func(security byte) sdp.Response { return sdp.Response{Addr: addr, Security: security} }

	// Plain TCP, as a car that asks for no TLS (whatever the answer says).
	next <- false
	conn, cs, err := DialV2G(ctx, nil, resp(v2gtp.SecurityNone), false, nil)
	if err != nil || cs != nil {
		t.Fatalf("plain: %v %v", cs, err)
	}
	conn.Write([]byte{0x01})
	if s := <-got; s.tls || string(s.read) != "\x01" {
		t.Errorf("plain: the charger read %+v", s)
	}
	conn.Close()

	// TLS, the chain checked against its root.
	next <- true
	conn, cs, err = DialV2G(ctx, &net.Dialer{}, resp(v2gtp.SecurityTLS), true, pool(ca))
	if err != nil || cs == nil || cs.Version != tls.VersionTLS13 || cs.PeerCertificates[0].Subject.CommonName != "DE*ABC*E1" {
		t.Fatalf("TLS: %v %v", cs, err)
	}
	conn.Write([]byte{0x02})
	if s := <-got; !s.tls || string(s.read) != "\x02" {
		t.Errorf("TLS: the charger read %+v", s)
	}
	conn.Close()

	// A chain under another root: refused, ErrUntrustedCharger.
	next <- true
	_, _, err = DialV2G(ctx, nil, resp(v2gtp.SecurityTLS), true, pool(other))
	var hs *HandshakeError
	if !errors.As(err, &hs) || !errors.Is(err, ErrUntrustedCharger) || hs.Charger != addr ||
		!strings.HasPrefix(err.Error(), "TLS with the charger at "+addr.String()+": evcc: the charger's certificate chain does not lead to the car's roots: ") {
		t.Errorf("another root: %v", err)
	}
	<-got

	// Nobody listens now: SDP answered without TLS is refused before
	// any dialling (else a *DialError), and a dial fails in words.
	ln.Close()
	var no *NoTLSError
	if _, _, err := DialV2G(ctx, nil, resp(v2gtp.SecurityNone), true, nil); !errors.As(err, &no) ||
		err.Error() != "the car asked for TLS in SDP and the charger at "+addr.String()+" answered without: serve V2G over TLS (ccslink evse --tls DIR)" {
		t.Errorf("no TLS: %v", err)
	}
	var de *DialError
	if _, _, err := DialV2G(ctx, nil, resp(v2gtp.SecurityNone), false, nil); !errors.As(err, &de) ||
		!strings.HasPrefix(err.Error(), "connecting to the charger at "+addr.String()+": ") || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("nobody listens: %v", err)
	}
}
