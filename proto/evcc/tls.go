package evcc

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
)

// TLSConfig is the car's side of ISO 15118-20's TLS: version 1.3 on the
// NIST groups -20 names that Go has. A V2G certificate names an EVSEID,
// no host, so the chain is checked against roots alone, without a name;
// nil roots check nothing (a bench car that trusts any charger).
func TLSConfig(roots *x509.CertPool) *tls.Config {
	c := &tls.Config{
		MinVersion:       tls.VersionTLS13,
		MaxVersion:       tls.VersionTLS13,
		CurvePreferences: []tls.CurveID{tls.CurveP521, tls.CurveP384, tls.CurveP256},
		// The standard library's check wants a host name; the chain is
		// checked below instead.
		InsecureSkipVerify: true,
	}
	if roots != nil {
		c.VerifyConnection = func(cs tls.ConnectionState) error { return verifyChain(cs.PeerCertificates, roots) }
	}
	return c
}

// ErrUntrustedCharger is matched (errors.Is) by the handshake's error when
// the charger's chain does not lead to the car's roots.
var ErrUntrustedCharger = errors.New("evcc: the charger's certificate chain does not lead to the car's roots")

func verifyChain(certs []*x509.Certificate, roots *x509.CertPool) error {
	if len(certs) == 0 {
		return fmt.Errorf("%w: the charger sent no certificate", ErrUntrustedCharger)
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	if _, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return fmt.Errorf("%w: %w", ErrUntrustedCharger, err)
	}
	return nil
}
