package v2gpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"fmt"
	"strings"
)

// Curve is the elliptic curve of a chain's keys, which fixes the hash of
// its signatures: each ISO 15118 edition names one.
type Curve int

const (
	// P256 is secp256r1 with ECDSA-SHA256: ISO 15118-2's certificates.
	P256 Curve = iota + 1
	// P521 is secp521r1 with ECDSA-SHA512: ISO 15118-20's certificates
	// (-20's other choice, Ed448, Go does not have).
	P521
)

// String is the curve's name as --curve takes it.
func (c Curve) String() string {
	switch c {
	case P256:
		return "p256"
	case P521:
		return "p521"
	}
	return fmt.Sprintf("Curve(%d)", int(c))
}

// Standard names the curve as the standards do.
func (c Curve) Standard() string {
	switch c {
	case P256:
		return "secp256r1"
	case P521:
		return "secp521r1"
	}
	return c.String()
}

// Edition is the ISO 15118 edition whose certificates are on c.
func (c Curve) Edition() string {
	switch c {
	case P256:
		return "ISO 15118-2"
	case P521:
		return "ISO 15118-20"
	}
	return "no ISO 15118 edition"
}

func (c Curve) elliptic() elliptic.Curve {
	if c == P521 {
		return elliptic.P521()
	}
	return elliptic.P256()
}

func (c Curve) signature() x509.SignatureAlgorithm {
	if c == P521 {
		return x509.ECDSAWithSHA512
	}
	return x509.ECDSAWithSHA256
}

// CurveNameError reports a curve that --curve does not know.
type CurveNameError struct{ Name string }

func (e *CurveNameError) Error() string {
	return fmt.Sprintf("curve %q: give p256 (secp256r1, ISO 15118-2) or p521 (secp521r1, ISO 15118-20)", e.Name)
}

// ParseCurve reads a curve's name: p256 or p521 (P-256, secp256r1,
// P-521 and secp521r1 too).
func ParseCurve(s string) (Curve, error) {
	switch strings.ToLower(s) {
	case "p256", "p-256", "secp256r1", "prime256v1":
		return P256, nil
	case "p521", "p-521", "secp521r1":
		return P521, nil
	}
	return 0, &CurveNameError{Name: s}
}

// curveOf is the curve of an ECDSA key; 0 for another key or curve.
func curveOf(pub any) Curve {
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return 0
	}
	switch k.Curve {
	case elliptic.P256():
		return P256
	case elliptic.P521():
		return P521
	}
	return 0
}

// keyName names a certificate's key for an error: "ECDSA on P-384", "RSA".
func keyName(x *x509.Certificate) string {
	if k, ok := x.PublicKey.(*ecdsa.PublicKey); ok {
		return "ECDSA on " + k.Curve.Params().Name
	}
	return x.PublicKeyAlgorithm.String()
}

// CurveError reports a chain whose certificates are not all on one of the
// curves ISO 15118 names, each signed with that curve's hash: a car
// following either edition refuses such a chain.
type CurveError struct {
	Path    string
	Which   string // "the SECC certificate", "CPO Sub-CA 2", ...
	Subject string // "CN=..."
	Got     string // its key or signature, in words
	Want    Curve  // the curve of the SECC certificate; 0 if it has none of them
}

func (e *CurveError) Error() string {
	if e.Want == 0 {
		return fmt.Sprintf("%s (%s, in %s) has a key of %s: ISO 15118-2 needs ECDSA on secp256r1, ISO 15118-20 on secp521r1; %s",
			e.Which, e.Subject, e.Path, e.Got, renewCurve)
	}
	return fmt.Sprintf("%s (%s, in %s) has %s, and the SECC certificate is on %s: %s wants every certificate of the chain on %s, signed with %v; %s",
		e.Which, e.Subject, e.Path, e.Got, e.Want.Standard(), e.Want.Edition(), e.Want.Standard(), e.Want.signature(), renewCurve)
}

// renewCurve is what to do about a chain on the wrong curves.
const renewCurve = "make a new test chain with `ccslink pki init DIR --curve p256|p521` into an empty directory, or install your CPO's chain for that edition"

// checkCurves requires the leaf, its sub-CAs and the root on the leaf's
// curve, each signed with its hash, as the edition of that curve asks.
func checkCurves(c *Chain, rootPath, chainPath string) (Curve, error) {
	want := curveOf(c.Leaf().PublicKey)
	all := append(append([]*x509.Certificate{}, c.Certs...), c.Root)
	for i, x := range all {
		which, path := certName(i, len(c.Certs)), chainPath
		if i == len(c.Certs) {
			which, path = "the V2G root certificate", rootPath
		}
		e := &CurveError{Path: path, Which: which, Subject: "CN=" + x.Subject.CommonName, Want: want}
		switch {
		case want == 0:
			e.Got = keyName(x)
			return 0, e
		case curveOf(x.PublicKey) != want:
			e.Got = "a key of " + keyName(x)
			return 0, e
		case x.SignatureAlgorithm != want.signature():
			e.Got = "a signature " + x.SignatureAlgorithm.String()
			return 0, e
		}
	}
	return want, nil
}
