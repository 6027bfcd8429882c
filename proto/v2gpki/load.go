package v2gpki

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// maxFileSize bounds each file read: a chain of a few certificates is a
// few KiB; anything larger is not one.
const maxFileSize = 64 << 10

// maxChainCerts bounds the certificates in the chain file (leaf, two
// sub-CAs; ISO 15118-20 allows no more).
const maxChainCerts = 4

// renew is what every error about the chain tells the owner to do.
const renew = "make a new test chain with `ccslink pki init DIR` into an empty directory, or install your CPO's chain"

// Chain is an SECC certificate chain that Load found sound.
type Chain struct {
	Dir   string
	Root  *x509.Certificate   // the V2G root the chain leads to; never sent
	Certs []*x509.Certificate // the leaf first, then its sub-CAs, as sent in TLS
	Key   *ecdsa.PrivateKey   // the leaf's
	Curve Curve               // of every key in the chain and the root
}

// Leaf is the SECC certificate.
func (c *Chain) Leaf() *x509.Certificate { return c.Certs[0] }

// EVSEID is the leaf's subject CN, which ISO 15118 makes the EVSEID.
func (c *Chain) EVSEID() string { return c.Leaf().Subject.CommonName }

// NotAfter is when the first certificate of the chain or its root expires.
func (c *Chain) NotAfter() time.Time { return c.FirstExpiry().NotAfter }

// FileError reports a file of the chain that could not be read or written.
type FileError struct {
	Path string
	What string // what the file is, in words
	Err  error
	Do   string // what to do; "" is to make or install a chain
}

func (e *FileError) Error() string {
	if errors.Is(e.Err, fs.ErrNotExist) {
		return fmt.Sprintf("%s (%s) does not exist: %s", e.Path, e.What, do(e.Do))
	}
	if e.Do != "" {
		return fmt.Sprintf("%s (%s): %v: %s", e.Path, e.What, e.Err, e.Do)
	}
	return fmt.Sprintf("%s (%s): %v", e.Path, e.What, e.Err)
}

func (e *FileError) Unwrap() error { return e.Err }

// FormatError reports a file that holds no usable certificate or key.
type FormatError struct {
	Path string
	Why  string
	Do   string // what to do; "" is to make or install a chain
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("%s: %s: %s", e.Path, e.Why, do(e.Do))
}

func do(s string) string {
	if s == "" {
		return renew
	}
	return s
}

// ValidityError reports a certificate outside its validity at start.
type ValidityError struct {
	Path    string
	Which   string // "the SECC certificate", "CPO Sub-CA 2", ...
	Subject string // "CN=..."
	From    time.Time
	Until   time.Time
	Now     time.Time
}

// Expired reports whether the certificate's time is over (else it is not
// valid yet).
func (e *ValidityError) Expired() bool { return !e.Now.Before(e.Until) }

func (e *ValidityError) Error() string {
	if e.Expired() {
		return fmt.Sprintf("%s (%s, in %s) expired on %s: %s", e.Which, e.Subject, e.Path, e.Until.UTC().Format(time.DateOnly), renew)
	}
	return fmt.Sprintf("%s (%s, in %s) is valid only from %s, and this machine's clock says %s: set the clock (is NTP running?), or %s",
		e.Which, e.Subject, e.Path, e.From.UTC().Format(time.DateTime), e.Now.UTC().Format(time.DateTime), renew)
}

// ChainError reports a chain that does not lead to the root.
type ChainError struct {
	ChainPath, RootPath string
	Err                 error // crypto/x509's verdict
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("the SECC certificate in %s does not lead to the V2G root in %s (%v): the chain file holds the leaf, then CPO Sub-CA 2, then CPO Sub-CA 1, issued under that root; %s",
		e.ChainPath, e.RootPath, e.Err, renew)
}

func (e *ChainError) Unwrap() error { return e.Err }

// KeyMismatchError reports a key that is not the leaf's.
type KeyMismatchError struct{ KeyPath, ChainPath string }

func (e *KeyMismatchError) Error() string {
	return fmt.Sprintf("the key in %s is not the SECC certificate's in %s (files of two different chains?): put the leaf's own key there, or %s",
		e.KeyPath, e.ChainPath, renew)
}

// Load reads the chain in dir and checks it as the charger starts: every
// certificate within its validity, the leaf's chain up to the root, the
// key the leaf's, and every key on one curve an edition names, signed
// with its hash (P-256 and ECDSA-SHA256 for ISO 15118-2, P-521 and
// ECDSA-SHA512 for -20): a chain that mixes them is refused, since a car
// of either edition would refuse it. Every failure is one of this
// package's error types.
func Load(dir string) (*Chain, error) { return loadAt(dir, time.Now()) }

func loadAt(dir string, now time.Time) (*Chain, error) {
	rootPath, chainPath, keyPath := filepath.Join(dir, RootFile), filepath.Join(dir, ChainFile), filepath.Join(dir, KeyFile)
	rootPEM, err := readBounded(rootPath, "the V2G root certificate")
	if err != nil {
		return nil, err
	}
	chainPEM, err := readBounded(chainPath, "the SECC certificate and its sub-CAs")
	if err != nil {
		return nil, err
	}
	keyPEM, err := readBounded(keyPath, "the SECC certificate's private key")
	if err != nil {
		return nil, err
	}
	return parse(dir, rootPEM, chainPEM, keyPEM, now)
}

// parse checks the three files' contents; dir names them in errors.
func parse(dir string, rootPEM, chainPEM, keyPEM []byte, now time.Time) (*Chain, error) {
	rootPath, chainPath, keyPath := filepath.Join(dir, RootFile), filepath.Join(dir, ChainFile), filepath.Join(dir, KeyFile)
	roots, err := parseCerts(rootPath, rootPEM, 1)
	if err != nil {
		return nil, err
	}
	certs, err := parseCerts(chainPath, chainPEM, maxChainCerts)
	if err != nil {
		return nil, err
	}
	key, err := parseKey(keyPath, keyPEM)
	if err != nil {
		return nil, err
	}
	c := &Chain{Dir: dir, Root: roots[0], Certs: certs, Key: key}
	leaf := c.Leaf()
	if _, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok {
		return nil, &FormatError{Path: chainPath, Why: fmt.Sprintf("the SECC certificate's key is %v, and ISO 15118's TLS needs ECDSA", leaf.PublicKeyAlgorithm)}
	}
	if leaf.IsCA {
		return nil, &FormatError{Path: chainPath, Why: "the first certificate is a CA; the SECC certificate (the leaf) comes first"}
	}
	// Validity first: crypto/x509 would say "expired" without which one.
	for i, x := range append([]*x509.Certificate{c.Root}, certs...) {
		which, path := "the V2G root certificate", rootPath
		if i > 0 {
			which, path = certName(i-1, len(certs)), chainPath
		}
		if now.Before(x.NotBefore) || now.After(x.NotAfter) {
			return nil, &ValidityError{Path: path, Which: which, Subject: "CN=" + x.Subject.CommonName, From: x.NotBefore, Until: x.NotAfter, Now: now}
		}
	}
	pool := x509.NewCertPool()
	pool.AddCert(c.Root)
	inter := x509.NewCertPool()
	for _, x := range certs[1:] {
		inter.AddCert(x)
	}
	// ISO 15118's SECC certificate names no extended key usage.
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, &ChainError{ChainPath: chainPath, RootPath: rootPath, Err: err}
	}
	if !key.PublicKey.Equal(leaf.PublicKey) {
		return nil, &KeyMismatchError{KeyPath: keyPath, ChainPath: chainPath}
	}
	if c.Curve, err = checkCurves(c, rootPath, chainPath); err != nil {
		return nil, err
	}
	return c, nil
}

// certName names the i-th of n certificates of a chain file.
func certName(i, n int) string {
	switch {
	case i == 0:
		return "the SECC certificate"
	case n == 3 && i == 1:
		return "CPO Sub-CA 2"
	case n == 3 && i == 2:
		return "CPO Sub-CA 1"
	}
	return fmt.Sprintf("sub-CA certificate %d of the chain", i)
}

// readBounded reads at most maxFileSize bytes of path.
func readBounded(path, what string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &FileError{Path: path, What: what, Err: err}
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, &FileError{Path: path, What: what, Err: err}
	}
	if len(b) > maxFileSize {
		return nil, &FormatError{Path: path, Why: fmt.Sprintf("larger than %d KiB, which no certificate chain is", maxFileSize>>10)}
	}
	return b, nil
}

// parseCerts reads 1 to max PEM certificates; other PEM blocks are errors.
func parseCerts(path string, b []byte, max int) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			return nil, &FormatError{Path: path, Why: fmt.Sprintf("holds a PEM block %q where certificates belong", blk.Type)}
		}
		if len(certs) == max {
			return nil, &FormatError{Path: path, Why: fmt.Sprintf("holds more than %d certificates", max)}
		}
		x, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, &FormatError{Path: path, Why: fmt.Sprintf("certificate %d is damaged (%v)", len(certs)+1, err)}
		}
		certs = append(certs, x)
	}
	if len(certs) == 0 {
		return nil, &FormatError{Path: path, Why: "holds no PEM certificate (-----BEGIN CERTIFICATE-----)"}
	}
	return certs, nil
}

// parseKey reads one ECDSA private key: PKCS#8 or SEC 1 ("EC PRIVATE KEY",
// as openssl ecparam writes). An encrypted key cannot be used unattended.
func parseKey(path string, b []byte) (*ecdsa.PrivateKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, &FormatError{Path: path, Why: "holds no PEM private key (-----BEGIN PRIVATE KEY-----)"}
	}
	var (
		k   any
		err error
	)
	switch blk.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	case "EC PRIVATE KEY":
		if _, enc := blk.Headers["DEK-Info"]; enc {
			return nil, &FormatError{Path: path, Why: "the key is encrypted; the charger starts unattended: write it unencrypted with `openssl ec -in KEY -out " + KeyFile + "` and keep it mode 0600"}
		}
		k, err = x509.ParseECPrivateKey(blk.Bytes)
	case "ENCRYPTED PRIVATE KEY":
		return nil, &FormatError{Path: path, Why: "the key is encrypted; the charger starts unattended: write it unencrypted with `openssl pkey -in KEY -out " + KeyFile + "` and keep it mode 0600"}
	default:
		return nil, &FormatError{Path: path, Why: fmt.Sprintf("holds a PEM block %q where the private key belongs", blk.Type)}
	}
	if err != nil {
		return nil, &FormatError{Path: path, Why: fmt.Sprintf("the private key is damaged (%v)", err)}
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, &FormatError{Path: path, Why: fmt.Sprintf("the private key is a %T, and ISO 15118's TLS needs ECDSA", k)}
	}
	return ek, nil
}
