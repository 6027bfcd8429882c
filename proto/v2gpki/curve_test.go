package v2gpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeSpecs writes a chain made at t0 with each certificate's key and
// signature given (root first) into a new directory.
func writeSpecs(t *testing.T, specs [4]keySpec) string {
	t.Helper()
	files, err := newChain("DE*ABC*E1", specs, t0)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestLoadCurves: a chain all on P-256 (ECDSA-SHA256) or all on P-521
// (ECDSA-SHA512) loads with its curve; one that mixes curves or hashes,
// or stands on a curve neither edition names, is a *CurveError naming the
// certificate, what it has and what the edition wants.
func TestLoadCurves(t *testing.T) {
	p256 := keySpec{elliptic.P256(), x509.ECDSAWithSHA256}
	p521 := keySpec{elliptic.P521(), x509.ECDSAWithSHA512}
	p384 := keySpec{elliptic.P384(), x509.ECDSAWithSHA384}
	const do = "; make a new test chain with `ccslink pki init DIR --curve p256|p521` into an empty directory, or install your CPO's chain for that edition"
	for _, tc := range []struct {
		name  string
		specs [4]keySpec // root, sub-CA 1, sub-CA 2, leaf
		curve Curve      // 0: refused with msg
		msg   string
	}{
		{"p256", [4]keySpec{p256, p256, p256, p256}, P256, ""},
		{"p521", [4]keySpec{p521, p521, p521, p521}, P521, ""},
		{"p521 under a p256 root", [4]keySpec{p256, p521, p521, p521}, 0,
			"the V2G root certificate (CN=V2GRootCA, in DIR/v2gRootCACert.pem) has a key of ECDSA on P-256, and the SECC certificate is on secp521r1: ISO 15118-20 wants every certificate of the chain on secp521r1, signed with ECDSA-SHA512" + do},
		{"p521 root, p256 sub-CAs", [4]keySpec{p521, p256, p256, p256}, 0,
			"the V2G root certificate (CN=V2GRootCA, in DIR/v2gRootCACert.pem) has a key of ECDSA on P-521, and the SECC certificate is on secp256r1: ISO 15118-2 wants every certificate of the chain on secp256r1, signed with ECDSA-SHA256" + do},
		{"p256 leaf under p521", [4]keySpec{p521, p521, p521, p256}, 0,
			"CPO Sub-CA 2 (CN=CPOSubCA2, in DIR/cpoCertChain.pem) has a key of ECDSA on P-521, and the SECC certificate is on secp256r1: ISO 15118-2 wants every certificate of the chain on secp256r1, signed with ECDSA-SHA256" + do},
		{"p521 signed with SHA-256", [4]keySpec{p521, p521, p521, {elliptic.P521(), x509.ECDSAWithSHA256}}, 0,
			"the SECC certificate (CN=DE*ABC*E1, in DIR/cpoCertChain.pem) has a signature ECDSA-SHA256, and the SECC certificate is on secp521r1: ISO 15118-20 wants every certificate of the chain on secp521r1, signed with ECDSA-SHA512" + do},
		{"p384", [4]keySpec{p384, p384, p384, p384}, 0,
			"the SECC certificate (CN=DE*ABC*E1, in DIR/cpoCertChain.pem) has a key of ECDSA on P-384: ISO 15118-2 needs ECDSA on secp256r1, ISO 15118-20 on secp521r1" + do},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeSpecs(t, tc.specs)
			c, err := loadAt(dir, t0)
			if tc.curve != 0 {
				if err != nil || c.Curve != tc.curve {
					t.Fatalf("%v, curve %v; want %v", err, c, tc.curve)
				}
				return
			}
			var ce *CurveError
			if !errors.As(err, &ce) || c != nil {
				t.Fatalf("%v %T %v, want a *CurveError", c, err, err)
			}
			if msg := strings.ReplaceAll(err.Error(), dir, "DIR"); msg != tc.msg {
				t.Errorf("message\n%s\nwant\n%s", msg, tc.msg)
			}
		})
	}
}

// TestParseCurve: --curve's names, and a word on what to give otherwise;
// Init refuses a curve it does not make and writes nothing.
func TestParseCurve(t *testing.T) {
	for in, want := range map[string]Curve{"p256": P256, "P-256": P256, "secp256r1": P256, "prime256v1": P256, "p521": P521, "P-521": P521, "secp521r1": P521} {
		if c, err := ParseCurve(in); err != nil || c != want {
			t.Errorf("%q: %v %v, want %v", in, c, err, want)
		}
	}
	var ce *CurveNameError
	if _, err := ParseCurve("p384"); !errors.As(err, &ce) || err.Error() != `curve "p384": give p256 (secp256r1, ISO 15118-2) or p521 (secp521r1, ISO 15118-20)` {
		t.Errorf("p384: %v", err)
	}
	dir := t.TempDir()
	if err := InitCurve(dir, "", Curve(9)); !errors.As(err, &ce) {
		t.Errorf("Curve(9): %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("Curve(9) left %v", ents)
	}
}

// TestServerConfigP521: a chain on P-521 serves ISO 15118-20's TLS 1.3
// (the car sees a P-521 leaf signed ECDSA-SHA512 and verifies it); Both
// serves it as TLS 1.3 alone, so that a TLS 1.2 (ISO 15118-2) car is
// refused at the handshake; ISO2 alone is refused with what to do.
func TestServerConfigP521(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	if err := InitCurve(dir, "DE*ABC*E1", P521); err != nil {
		t.Fatal(err)
	}
	c, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []Profile{ISO20, Both} {
		srv, err := c.ServerConfig(Options{Profile: p})
		if err != nil {
			t.Fatal(err)
		}
		if srv.MinVersion != tls.VersionTLS13 || srv.MaxVersion != tls.VersionTLS13 {
			t.Errorf("%v: versions %x..%x, want TLS 1.3 alone", p, srv.MinVersion, srv.MaxVersion)
		}
		car := carConfig(c.Root, tls.VersionTLS12, tls.VersionTLS13)
		car.CurvePreferences = []tls.CurveID{tls.CurveP521}
		_, cl, serr, cerr := handshake(t, srv, car)
		if serr != nil || cerr != nil {
			t.Fatalf("%v: server %v, car %v", p, serr, cerr)
		}
		leaf := cl.PeerCertificates[0]
		if k, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P521() || leaf.SignatureAlgorithm != x509.ECDSAWithSHA512 ||
			cl.Version != tls.VersionTLS13 || cl.CurveID != tls.CurveP521 || len(cl.VerifiedChains) != 0 {
			t.Errorf("%v: %s on %v, leaf %s signed %v", p, tls.VersionName(cl.Version), cl.CurveID, keyName(leaf), leaf.SignatureAlgorithm)
		}
		if _, _, serr, _ := handshake(t, srv, carConfig(c.Root, tls.VersionTLS12, tls.VersionTLS12)); serr == nil || !strings.Contains(serr.Error(), "client offered only unsupported versions") {
			t.Errorf("%v: a TLS 1.2 car got %v", p, serr)
		}
	}
	if got, err := c.Serves(Both); got != ISO20 || err != nil {
		t.Errorf("Serves(Both) = %v %v", got, err)
	}
	_, err = c.ServerConfig(Options{Profile: ISO2})
	var pe *ProfileError
	if !errors.As(err, &pe) || err.Error() != "the chain is on secp521r1 (ISO 15118-20's), and ISO 15118-2 (TLS 1.2) needs a chain on secp256r1: make one with `ccslink pki init DIR --curve p256`, or serve ISO 15118-20 (TLS 1.3) alone" {
		t.Errorf("ISO2 with a P-521 chain: %v", err)
	}
	// A P-256 chain serves what it always did.
	if p, err := loadTest(t).Serves(Both); p != Both || err != nil {
		t.Errorf("P-256 Serves(Both) = %v %v", p, err)
	}
}
