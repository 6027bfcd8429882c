package v2gpki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
)

// Profile is the TLS that ISO 15118 asks for, per edition.
type Profile int

const (
	// ISO2 is ISO 15118-2's TLS 1.2 with
	// TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256 on secp256r1. Go's
	// crypto/tls has that suite but does not offer it unless told to
	// (it counts CBC suites as insecure); it lacks -2's other suite,
	// TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256 (static ECDH), which
	// EVerest has dropped as well.
	ISO2 Profile = iota
	// ISO20 is ISO 15118-20's TLS 1.3 on the NIST groups Go has:
	// secp521r1, which -20 names, and secp384r1 and secp256r1 for cars
	// that offer no other (never X25519 or hybrid groups). Go's
	// crypto/tls lacks -20's x448 group and Ed448 certificates, and
	// chooses the TLS 1.3 cipher suite itself (TLS_AES_256_GCM_SHA384
	// and TLS_CHACHA20_POLY1305_SHA256, which -20 names, are among its
	// three). The signature scheme follows the certificate's key:
	// ecdsa_secp521r1_sha512 on a P-521 chain, as -20 asks (InitCurve
	// with P521), ecdsa_secp256r1_sha256 on a P-256 one.
	ISO20
	// Both serves either edition: TLS 1.2 as ISO2, TLS 1.3 as ISO20;
	// the car's TLS version chooses. SDP does not say which edition a
	// car speaks, so a charger that offers TLS to every car uses this.
	// A chain on P-521 is -20's alone: Both then serves TLS 1.3 only
	// (Chain.Serves says so), as a -2 car would refuse the chain anyway.
	Both
)

func (p Profile) String() string {
	switch p {
	case ISO2:
		return "ISO 15118-2 (TLS 1.2)"
	case ISO20:
		return "ISO 15118-20 (TLS 1.3)"
	case Both:
		return "ISO 15118-2 (TLS 1.2) and -20 (TLS 1.3)"
	}
	return fmt.Sprintf("Profile(%d)", int(p))
}

// Options completes a server's TLS configuration.
type Options struct {
	Profile Profile
	// ClientRoots, if set, makes authentication mutual: the car must
	// present a certificate that leads to one of these roots (ISO
	// 15118-20's Plug & Charge). Nil: the car is not asked for one, as
	// ISO 15118-2 and EIM do.
	ClientRoots *x509.CertPool
	// KeyLog, if set, receives every session's secrets in the NSS key
	// log format (SSLKEYLOGFILE), so that a recording can be decrypted
	// for a bug report. Never set unless the owner asked for it:
	// OpenKeyLog opens such a file.
	KeyLog io.Writer
}

// ProfileError reports a chain whose curve the profile's edition does
// not allow: ISO 15118-2's TLS 1.2 needs a chain on secp256r1.
type ProfileError struct {
	Profile Profile
	Curve   Curve
}

func (e *ProfileError) Error() string {
	return fmt.Sprintf("the chain is on %s (%s's), and %s needs a chain on secp256r1: make one with `ccslink pki init DIR --curve p256`, or serve ISO 15118-20 (TLS 1.3) alone",
		e.Curve.Standard(), e.Curve.Edition(), e.Profile)
}

// Serves is the profile a chain really serves when asked for p: a P-521
// chain serves Both as ISO20 alone (TLS 1.3), and ISO2 not at all.
func (c *Chain) Serves(p Profile) (Profile, error) {
	if c.Curve == P521 {
		switch p {
		case ISO2:
			return p, &ProfileError{Profile: p, Curve: c.Curve}
		case Both:
			return ISO20, nil
		}
	}
	return p, nil
}

// ServerConfig is the SECC's TLS configuration with this chain; see
// Serves for what a P-521 chain serves. In TLS 1.3 the signature scheme
// follows the leaf's key: ecdsa_secp521r1_sha512 on P-521.
func (c *Chain) ServerConfig(o Options) (*tls.Config, error) {
	p, err := c.Serves(o.Profile)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{c.certificate()}, KeyLogWriter: o.KeyLog}
	switch p {
	case ISO2:
		cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
		cfg.CurvePreferences = []tls.CurveID{tls.CurveP256}
	case ISO20:
		cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS13, tls.VersionTLS13
		cfg.CurvePreferences = []tls.CurveID{tls.CurveP521, tls.CurveP384, tls.CurveP256}
	case Both:
		cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS12, tls.VersionTLS13
		cfg.CurvePreferences = []tls.CurveID{tls.CurveP521, tls.CurveP384, tls.CurveP256}
	default:
		return nil, fmt.Errorf("v2gpki: unknown TLS profile %v", p)
	}
	// TLS 1.2 only; TLS 1.3's suites are not configurable.
	cfg.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256}
	if o.ClientRoots != nil {
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		cfg.ClientCAs = o.ClientRoots
	}
	return cfg, nil
}

// certificate is the chain as crypto/tls sends it: leaf, then sub-CAs.
func (c *Chain) certificate() tls.Certificate {
	cert := tls.Certificate{PrivateKey: c.Key, Leaf: c.Leaf()}
	for _, x := range c.Certs {
		cert.Certificate = append(cert.Certificate, x.Raw)
	}
	return cert
}

// RootsFor says whose certificates a roots file checks, so that
// LoadRoots' errors speak of the right side.
type RootsFor int

const (
	// ForCars: the charger checks the cars' certificates against these
	// roots (mutual authentication, Options.ClientRoots).
	ForCars RootsFor = iota + 1
	// ForCharger: a car checks the charger's chain against these roots
	// (the V2G root, or a test chain's).
	ForCharger
)

// words are what the file is and what to give instead, for errors.
func (f RootsFor) words() (what, do string) {
	if f == ForCharger {
		return "the root of the charger's certificate chain",
			"give a PEM file of the root the charger's chain leads to (the V2G root), such as the " + RootFile + " that `ccslink pki init` writes"
	}
	return "the roots of the cars' certificates", "give a PEM file of the roots the cars' certificates lead to (the V2G root, an OEM's)"
}

// LoadRoots reads one or more PEM certificates that side checks
// certificates against; its errors name the file as such and say what to
// give.
func LoadRoots(path string, side RootsFor) (*x509.CertPool, error) {
	what, do := side.words()
	b, err := readBounded(path, what)
	var fe *FileError
	var fm *FormatError
	switch {
	case errors.As(err, &fe):
		fe.Do = do
		return nil, fe
	case errors.As(err, &fm):
		fm.Do = do
		return nil, fm
	}
	certs, err := parseCerts(path, b, maxRoots)
	if errors.As(err, &fm) {
		fm.Do = do
		return nil, fm
	}
	pool := x509.NewCertPool()
	for _, x := range certs {
		pool.AddCert(x)
	}
	return pool, nil
}

// maxRoots bounds a roots file: the V2G root and a few OEMs'.
const maxRoots = 64

// KeyLogError reports a key log file that could not be opened.
type KeyLogError struct {
	Path string
	Err  error
}

func (e *KeyLogError) Error() string {
	return fmt.Sprintf("the TLS key log %s cannot be opened (%v): give a file in a writable directory, or leave the key log off", e.Path, e.Err)
}

func (e *KeyLogError) Unwrap() error { return e.Err }

// OpenKeyLog opens path to append TLS secrets to, readable by its owner
// alone (mode 0600, made so if the file was wider): whoever reads it can
// decrypt the sessions it covers.
func OpenKeyLog(path string) (*os.File, error) {
	if path == "" {
		return nil, &KeyLogError{Path: `""`, Err: errors.New("no file named")}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, &KeyLogError{Path: path, Err: err}
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return nil, &KeyLogError{Path: path, Err: err}
	}
	return f, nil
}
