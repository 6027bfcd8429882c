package v2gpki

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"path/filepath"
	"slices"
	"testing"
)

// loadCurve writes and loads a chain on curve in a new directory.
func loadCurve(t testing.TB, curve Curve) *Chain {
	t.Helper()
	dir := filepath.Join(t.TempDir(), curve.String())
	if err := InitCurve(dir, "DE*ABC*E1", curve); err != nil {
		t.Fatal(err)
	}
	c, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSetServesBoth: with a -2 chain on P-256 and a -20 chain on P-521, a
// car gets the chain of its edition, checked against that edition's root:
// TLS 1.2 the P-256 leaf with ECDHE-ECDSA-AES128-SHA256, TLS 1.3 with
// ecdsa_secp521r1_sha512 offered (as Go's client always offers it) the
// P-521 leaf; a TLS 1.3 car that does not offer it the P-256 leaf. The
// order the chains are given in does not matter.
func TestSetServesBoth(t *testing.T) {
	p256, p521 := loadCurve(t, P256), loadCurve(t, P521)
	for _, order := range [][]*Chain{{p256, p521}, {p521, p256}} {
		s, err := NewSet(order...)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Chains(); len(got) != 2 || got[0] != p256 || got[1] != p521 || s.On(P256) != p256 || s.On(P521) != p521 {
			t.Fatalf("Chains %v", got)
		}
		for _, tc := range []struct {
			name    string
			maxV    uint16
			no521   bool // the car does not offer ecdsa_secp521r1_sha512
			want    *Chain
			version uint16
			suite   uint16
		}{
			{"tls1.2", tls.VersionTLS12, false, p256, tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256},
			{"tls1.3 p521", tls.VersionTLS13, false, p521, tls.VersionTLS13, tls.TLS_AES_128_GCM_SHA256},
			{"tls1.3 without p521", tls.VersionTLS13, true, p256, tls.VersionTLS13, tls.TLS_AES_128_GCM_SHA256},
		} {
			t.Run(tc.name, func(t *testing.T) {
				srv, err := s.ServerConfig(Options{Profile: Both})
				if err != nil {
					t.Fatal(err)
				}
				var seen *tls.ClientHelloInfo
				get := srv.GetCertificate
				srv.GetCertificate = func(hi *tls.ClientHelloInfo) (*tls.Certificate, error) {
					if tc.no521 {
						// Go's client offers ecdsa_secp521r1_sha512 always and
						// has no knob against it: the server hears the hello
						// without it (openssl's -sigalgs does it for real in
						// TestOpenSSLBothChains).
						c := *hi
						c.SignatureSchemes = slices.DeleteFunc(slices.Clone(hi.SignatureSchemes), func(x tls.SignatureScheme) bool { return x == tls.ECDSAWithP521AndSHA512 })
						hi = &c
					}
					seen = hi
					return get(hi)
				}
				// Each car checks against its own edition's root only.
				car := carConfig(tc.want.Root, tls.VersionTLS12, tc.maxV)
				car.CurvePreferences = []tls.CurveID{tls.CurveP521, tls.CurveP256}
				srvState, cl, serr, cerr := handshake(t, srv, car)
				if serr != nil || cerr != nil {
					t.Fatalf("server %v, car %v", serr, cerr)
				}
				if cl.Version != tc.version || cl.CipherSuite != tc.suite {
					t.Errorf("%s %s, want %s %s", tls.VersionName(cl.Version), tls.CipherSuiteName(cl.CipherSuite), tls.VersionName(tc.version), tls.CipherSuiteName(tc.suite))
				}
				if len(cl.PeerCertificates) != 3 {
					t.Fatalf("the car saw %d certificates", len(cl.PeerCertificates))
				}
				for i, x := range cl.PeerCertificates {
					if !bytes.Equal(x.Raw, tc.want.Certs[i].Raw) {
						t.Errorf("certificate %d is %s of another chain", i, x.Subject)
					}
				}
				if seen == nil || slices.Contains(seen.SignatureSchemes, tls.ECDSAWithP521AndSHA512) == tc.no521 {
					t.Errorf("the server heard %v", seen)
				}
				if srvState.Version != tc.version {
					t.Errorf("server at %s", tls.VersionName(srvState.Version))
				}
			})
		}
	}
}

// TestSetPick: the chain each ClientHello gets, as crypto/tls reports a
// hello: TLS 1.3 with ecdsa_secp521r1_sha512 the P-521 chain, anything
// else the P-256 one; a set of one chain always picks it.
func TestSetPick(t *testing.T) {
	p256, p521 := loadCurve(t, P256), loadCurve(t, P521)
	both, _ := NewSet(p256, p521)
	only256, _ := NewSet(p256)
	only521, _ := NewSet(p521)
	v12 := []uint16{tls.VersionTLS12, tls.VersionTLS11, tls.VersionTLS10}
	v13 := []uint16{tls.VersionTLS13, tls.VersionTLS12}
	all := []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256, tls.ECDSAWithP384AndSHA384, tls.ECDSAWithP521AndSHA512, tls.Ed25519}
	no521 := []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256, tls.ECDSAWithP384AndSHA384}
	for _, tc := range []struct {
		name     string
		s        *Set
		versions []uint16
		schemes  []tls.SignatureScheme
		want     *Chain
	}{
		{"both tls1.2 offering sha512", both, v12, all, p256},
		{"both tls1.3 with p521", both, v13, all, p521},
		{"both tls1.3 p521 alone", both, []uint16{tls.VersionTLS13}, []tls.SignatureScheme{tls.ECDSAWithP521AndSHA512}, p521},
		{"both tls1.3 without p521", both, v13, no521, p256},
		{"both tls1.3 no schemes", both, v13, nil, p256},
		{"p256 alone tls1.3 with p521", only256, v13, all, p256},
		{"p521 alone tls1.2", only521, v12, no521, p521},
	} {
		hi := &tls.ClientHelloInfo{SupportedVersions: tc.versions, SignatureSchemes: tc.schemes}
		if got := tc.s.Pick(hi); got != tc.want {
			t.Errorf("%s: the %v chain, want the %v one", tc.name, got.Curve, tc.want.Curve)
		}
	}
}

// TestSetOneChain: a set of one chain serves exactly as the chain alone.
func TestSetOneChain(t *testing.T) {
	for _, curve := range []Curve{P256, P521} {
		c := loadCurve(t, curve)
		s, err := NewSet(c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.ServerConfig(Options{Profile: Both})
		if err != nil {
			t.Fatal(err)
		}
		want, _ := c.ServerConfig(Options{Profile: Both})
		if got.GetCertificate != nil || len(got.Certificates) != 1 || got.Certificates[0].Leaf != c.Leaf() ||
			got.MinVersion != want.MinVersion || got.MaxVersion != want.MaxVersion ||
			!slices.Equal(got.CurvePreferences, want.CurvePreferences) || !slices.Equal(got.CipherSuites, want.CipherSuites) {
			t.Errorf("%v: %+v, want %+v", curve, got, want)
		}
	}
	if _, err := NewSet(); err == nil {
		t.Error("a set of no chains")
	}
}

// TestSetProfiles: with both chains ISO2 serves TLS 1.2 alone with the
// P-256 chain, ISO20 TLS 1.3 alone, and mutual authentication and the
// key log hold for either chain.
func TestSetProfiles(t *testing.T) {
	p256, p521 := loadCurve(t, P256), loadCurve(t, P521)
	s, _ := NewSet(p521, p256)
	roots := x509.NewCertPool()
	roots.AddCert(p256.Root)
	var keys bytes.Buffer
	for _, tc := range []struct {
		p          Profile
		minV, maxV uint16
	}{{ISO2, tls.VersionTLS12, tls.VersionTLS12}, {ISO20, tls.VersionTLS13, tls.VersionTLS13}, {Both, tls.VersionTLS12, tls.VersionTLS13}} {
		cfg, err := s.ServerConfig(Options{Profile: tc.p, ClientRoots: roots, KeyLog: &keys})
		if err != nil {
			t.Fatal(err)
		}
		if cfg.MinVersion != tc.minV || cfg.MaxVersion != tc.maxV || cfg.ClientAuth != tls.RequireAndVerifyClientCert || cfg.ClientCAs != roots || cfg.KeyLogWriter != &keys {
			t.Errorf("%v: %x..%x auth %v", tc.p, cfg.MinVersion, cfg.MaxVersion, cfg.ClientAuth)
		}
		if cfg.GetCertificate == nil || cfg.Certificates != nil {
			t.Errorf("%v: the chain is not picked per car", tc.p)
		}
	}
	// ISO2: a TLS 1.2 car that offers P-521 and SHA-512 still gets -2's chain.
	srv, _ := s.ServerConfig(Options{Profile: ISO2})
	car := carConfig(p256.Root, tls.VersionTLS12, tls.VersionTLS12)
	car.CurvePreferences = []tls.CurveID{tls.CurveP521, tls.CurveP256}
	if _, cl, serr, cerr := handshake(t, srv, car); serr != nil || cerr != nil || !bytes.Equal(cl.PeerCertificates[0].Raw, p256.Leaf().Raw) {
		t.Errorf("ISO2: server %v, car %v", serr, cerr)
	}
}

// TestSetCurveTaken: two chains on one curve are refused, naming both.
func TestSetCurveTaken(t *testing.T) {
	a, b := loadCurve(t, P256), loadCurve(t, P256)
	_, err := NewSet(a, b)
	var ce *CurveTakenError
	if !errors.As(err, &ce) || ce.Curve != P256 || ce.First != a.Dir || ce.Second != b.Dir ||
		err.Error() != a.Dir+" and "+b.Dir+" both hold a chain on secp256r1 (ISO 15118-2's): a charger serves at most one chain per curve, ISO 15118-2's on secp256r1 and -20's on secp521r1; give only one of them" {
		t.Errorf("two P-256 chains: %v", err)
	}
	c, d := loadCurve(t, P521), loadCurve(t, P521)
	if _, err := NewSet(a, c, d); !errors.As(err, &ce) || ce.Curve != P521 || ce.First != c.Dir || ce.Second != d.Dir {
		t.Errorf("two P-521 chains: %v", err)
	}
}

// TestGoCertificateChoice is why the set picks its chain itself: given
// both in Certificates, crypto/tls picks -20's P-521 chain for a TLS 1.2
// car when it comes first (TLS 1.2's ecdsa_secp521r1_sha512 names the
// hash alone), and -2's for a TLS 1.3 car that offers P-521 when that
// comes first.
func TestGoCertificateChoice(t *testing.T) {
	p256, p521 := loadCurve(t, P256), loadCurve(t, P521)
	for _, tc := range []struct {
		first, second *Chain
		maxV          uint16
	}{{p521, p256, tls.VersionTLS12}, {p256, p521, tls.VersionTLS13}} {
		srv, _ := p256.ServerConfig(Options{Profile: Both})
		srv.Certificates = []tls.Certificate{tc.first.certificate(), tc.second.certificate()}
		car := carConfig(tc.first.Root, tls.VersionTLS12, tc.maxV)
		car.CurvePreferences = []tls.CurveID{tls.CurveP521, tls.CurveP256}
		_, cl, serr, cerr := handshake(t, srv, car)
		if serr != nil || cerr != nil || !bytes.Equal(cl.PeerCertificates[0].Raw, tc.first.Leaf().Raw) {
			t.Errorf("%s: crypto/tls did not pick the %v chain: server %v, car %v", tls.VersionName(tc.maxV), tc.first.Curve, serr, cerr)
		}
	}
}
