package evcc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"testing"
	"time"
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
