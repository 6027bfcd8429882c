package evcc

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/ccslink/ccslink/proto/sdp"
	"github.com/ccslink/ccslink/proto/v2gtp"
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

// NoTLSError reports a charger that answered SDP without the TLS the car
// asked for.
type NoTLSError struct{ Charger netip.AddrPort }

func (e *NoTLSError) Error() string {
	return fmt.Sprintf("the car asked for TLS in SDP and the charger at %v answered without: serve V2G over TLS (ccslink evse --tls DIR)", e.Charger)
}

// DialError reports a charger's V2G port that could not be connected to.
type DialError struct {
	Charger netip.AddrPort
	Err     error
}

func (e *DialError) Error() string {
	return fmt.Sprintf("connecting to the charger at %v: %v", e.Charger, e.Err)
}
func (e *DialError) Unwrap() error { return e.Err }

// HandshakeError reports a TLS handshake with the charger that failed;
// errors.Is(err, ErrUntrustedCharger) tells a chain the car refused.
type HandshakeError struct {
	Charger netip.AddrPort
	Err     error
}

func (e *HandshakeError) Error() string {
	return fmt.Sprintf("TLS with the charger at %v: %v", e.Charger, e.Err)
}
func (e *HandshakeError) Unwrap() error { return e.Err }

// DialV2G connects the car to the charger that answered its SDP request
// with resp, as the car asked: over TLS (TLSConfig, the charger's chain
// checked against roots) when wantTLS, else over plain TCP. d, if set,
// dials (a link-local source address, say). It returns the connection the
// session runs on and its TLS state, nil over plain TCP. Its errors are
// *NoTLSError, *DialError and *HandshakeError.
//
// Closing the connection closes TCP without a TLS close_notify: the
// session has ended with SessionStop by then, and the charger reads the
// end of the stream as it does from a car over plain TCP.
func DialV2G(ctx context.Context, d *net.Dialer, resp sdp.Response, wantTLS bool, roots *x509.CertPool) (net.Conn, *tls.ConnectionState, error) {
	if wantTLS && resp.Security != v2gtp.SecurityTLS {
		return nil, nil, &NoTLSError{Charger: resp.Addr}
	}
	if d == nil {
		d = &net.Dialer{}
	}
	tcp, err := d.DialContext(ctx, "tcp6", resp.Addr.String())
	if err != nil {
		return nil, nil, &DialError{Charger: resp.Addr, Err: err}
	}
	if !wantTLS {
		return tcp, nil, nil
	}
	tc := tls.Client(tcp, TLSConfig(roots))
	if err := tc.HandshakeContext(ctx); err != nil {
		tcp.Close()
		return nil, nil, &HandshakeError{Charger: resp.Addr, Err: err}
	}
	cs := tc.ConnectionState()
	return tlsConn{tc, tcp}, &cs, nil
}

// tlsConn is a TLS connection whose Close closes its TCP connection alone.
type tlsConn struct {
	*tls.Conn
	tcp net.Conn
}

func (c tlsConn) Close() error { return c.tcp.Close() }
