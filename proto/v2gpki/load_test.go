package v2gpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLoadErrors: each way a chain can be unusable at start gives its
// own error type, and a message naming the file, what is wrong and what
// to do.
func TestLoadErrors(t *testing.T) {
	const renewal = ": make a new test chain with `ccslink pki init DIR` into an empty directory, or install your CPO's chain"
	other := initChain(t, "DE*XYZ*E9") // another chain's files to mix in
	read := func(dir, name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	pemOf := func(typ string, b []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}) }
	// blocks is the chain file's certificates, leaf first.
	blocks := func(dir string) [][]byte {
		var out [][]byte
		b := read(dir, ChainFile)
		for {
			var blk *pem.Block
			if blk, b = pem.Decode(b); blk == nil {
				return out
			}
			out = append(out, pemOf(blk.Type, blk.Bytes))
		}
	}
	join := func(bs ...[]byte) []byte {
		return []byte(strings.Join(func() []string {
			var s []string
			for _, b := range bs {
				s = append(s, string(b))
			}
			return s
		}(), ""))
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	rsaDER, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sec1, _ := x509.MarshalECPrivateKey(ecKey)

	const year = 365 * 24 * time.Hour
	for _, tc := range []struct {
		name   string
		damage func(dir string) // nil: none
		now    time.Time
		check  func(error) bool
		msg    string // with DIR for the directory
	}{
		{name: "expired leaf", now: t0.Add(400 * 24 * time.Hour),
			check: func(err error) bool { var e *ValidityError; return errors.As(err, &e) && e.Expired() },
			msg:   "the SECC certificate (CN=DE*ABC*E1, in DIR/cpoCertChain.pem) expired on 2027-03-01" + renewal},
		{name: "expired sub-CA 2 and leaf", now: t0.Add(3 * year),
			check: func(err error) bool { var e *ValidityError; return errors.As(err, &e) && e.Expired() },
			msg:   "the SECC certificate (CN=DE*ABC*E1, in DIR/cpoCertChain.pem) expired on 2027-03-01" + renewal},
		{name: "expired root", now: t0.Add(11 * year),
			check: func(err error) bool { var e *ValidityError; return errors.As(err, &e) && e.Expired() },
			msg:   "the V2G root certificate (CN=V2GRootCA, in DIR/v2gRootCACert.pem) expired on 2036-02-27" + renewal},
		{name: "leaf missing", now: t0,
			damage: func(dir string) {
				b := blocks(dir)
				os.WriteFile(filepath.Join(dir, ChainFile), join(b[1], b[2]), 0o644)
			},
			check: func(err error) bool { var e *FormatError; return errors.As(err, &e) },
			msg:   "DIR/cpoCertChain.pem: the first certificate is a CA; the SECC certificate (the leaf) comes first" + renewal},
		{name: "not yet valid", now: t0.Add(-2 * time.Hour),
			check: func(err error) bool { var e *ValidityError; return errors.As(err, &e) && !e.Expired() },
			msg:   "the V2G root certificate (CN=V2GRootCA, in DIR/v2gRootCACert.pem) is valid only from 2026-03-01 11:00:00, and this machine's clock says 2026-03-01 10:00:00: set the clock (is NTP running?), or make a new test chain with `ccslink pki init DIR` into an empty directory, or install your CPO's chain"},
		{name: "wrong key", now: t0,
			damage: func(dir string) { os.WriteFile(filepath.Join(dir, KeyFile), read(other, KeyFile), 0o600) },
			check:  func(err error) bool { var e *KeyMismatchError; return errors.As(err, &e) },
			msg:    "the key in DIR/seccLeaf.key is not the SECC certificate's in DIR/cpoCertChain.pem (files of two different chains?): put the leaf's own key there, or make a new test chain with `ccslink pki init DIR` into an empty directory, or install your CPO's chain"},
		{name: "another root", now: t0,
			damage: func(dir string) { os.WriteFile(filepath.Join(dir, RootFile), read(other, RootFile), 0o644) },
			check: func(err error) bool {
				var e *ChainError
				var u x509.UnknownAuthorityError
				return errors.As(err, &e) && errors.As(err, &u)
			},
			msg: "the SECC certificate in DIR/cpoCertChain.pem does not lead to the V2G root in DIR/v2gRootCACert.pem (x509: certificate signed by unknown authority (possibly because of \"x509: ECDSA verification failure\" while trying to verify candidate authority certificate \"V2GRootCA\")): the chain file holds the leaf, then CPO Sub-CA 2, then CPO Sub-CA 1, issued under that root; " + renewal[2:]},
		{name: "sub-CA 1 missing", now: t0,
			damage: func(dir string) {
				b := blocks(dir)
				os.WriteFile(filepath.Join(dir, ChainFile), join(b[0], b[1]), 0o644)
			},
			check: func(err error) bool { var e *ChainError; return errors.As(err, &e) },
			msg:   "the SECC certificate in DIR/cpoCertChain.pem does not lead to the V2G root in DIR/v2gRootCACert.pem (x509: certificate signed by unknown authority): the chain file holds the leaf, then CPO Sub-CA 2, then CPO Sub-CA 1, issued under that root; " + renewal[2:]},
		{name: "sub-CA 2 of another chain", now: t0,
			damage: func(dir string) {
				b, o := blocks(dir), blocks(other)
				os.WriteFile(filepath.Join(dir, ChainFile), join(b[0], o[1], b[2]), 0o644)
			},
			check: func(err error) bool { var e *ChainError; return errors.As(err, &e) }},
		{name: "missing key", now: t0,
			damage: func(dir string) { os.Remove(filepath.Join(dir, KeyFile)) },
			check:  func(err error) bool { var e *FileError; return errors.As(err, &e) && errors.Is(err, fs.ErrNotExist) },
			msg:    "DIR/seccLeaf.key (the SECC certificate's private key) does not exist" + renewal},
		{name: "missing root", now: t0,
			damage: func(dir string) { os.Remove(filepath.Join(dir, RootFile)) },
			check:  func(err error) bool { var e *FileError; return errors.As(err, &e) && errors.Is(err, fs.ErrNotExist) },
			msg:    "DIR/v2gRootCACert.pem (the V2G root certificate) does not exist" + renewal},
		{name: "not PEM", now: t0,
			damage: func(dir string) { os.WriteFile(filepath.Join(dir, ChainFile), []byte("hello\n"), 0o644) },
			check:  func(err error) bool { var e *FormatError; return errors.As(err, &e) },
			msg:    "DIR/cpoCertChain.pem: holds no PEM certificate (-----BEGIN CERTIFICATE-----)" + renewal},
		{name: "damaged certificate", now: t0,
			damage: func(dir string) {
				os.WriteFile(filepath.Join(dir, RootFile), pemOf("CERTIFICATE", []byte{0x30, 0x03, 1, 2, 3}), 0o644)
			},
			check: func(err error) bool { var e *FormatError; return errors.As(err, &e) },
			msg:   "DIR/v2gRootCACert.pem: certificate 1 is damaged (x509: malformed tbs certificate)" + renewal},
		{name: "key in the chain file", now: t0,
			damage: func(dir string) {
				os.WriteFile(filepath.Join(dir, ChainFile), append(read(dir, ChainFile), read(dir, KeyFile)...), 0o644)
			},
			check: func(err error) bool { var e *FormatError; return errors.As(err, &e) },
			msg:   "DIR/cpoCertChain.pem: holds a PEM block \"PRIVATE KEY\" where certificates belong" + renewal},
		{name: "too many certificates", now: t0,
			damage: func(dir string) {
				b := blocks(dir)
				os.WriteFile(filepath.Join(dir, ChainFile), join(b[0], b[1], b[2], b[2], b[2]), 0o644)
			},
			check: func(err error) bool { var e *FormatError; return errors.As(err, &e) },
			msg:   "DIR/cpoCertChain.pem: holds more than 4 certificates" + renewal},
		{name: "too large", now: t0,
			damage: func(dir string) {
				os.WriteFile(filepath.Join(dir, ChainFile), append(read(dir, ChainFile), make([]byte, maxFileSize)...), 0o644)
			},
			check: func(err error) bool { var e *FormatError; return errors.As(err, &e) },
			msg:   "DIR/cpoCertChain.pem: larger than 64 KiB, which no certificate chain is" + renewal},
		{name: "RSA key", now: t0,
			damage: func(dir string) { os.WriteFile(filepath.Join(dir, KeyFile), pemOf("PRIVATE KEY", rsaDER), 0o600) },
			check:  func(err error) bool { var e *FormatError; return errors.As(err, &e) },
			msg:    "DIR/seccLeaf.key: the private key is a *rsa.PrivateKey, and ISO 15118's TLS needs ECDSA" + renewal},
		{name: "encrypted key", now: t0,
			damage: func(dir string) {
				os.WriteFile(filepath.Join(dir, KeyFile), pemOf("ENCRYPTED PRIVATE KEY", []byte{1}), 0o600)
			},
			check: func(err error) bool { var e *FormatError; return errors.As(err, &e) },
			msg:   "DIR/seccLeaf.key: the key is encrypted; the charger starts unattended: write it unencrypted with `openssl pkey -in KEY -out seccLeaf.key` and keep it mode 0600" + renewal},
		{name: "SEC 1 key of another chain", now: t0,
			damage: func(dir string) { os.WriteFile(filepath.Join(dir, KeyFile), pemOf("EC PRIVATE KEY", sec1), 0o600) },
			check:  func(err error) bool { var e *KeyMismatchError; return errors.As(err, &e) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := initChain(t, "DE*ABC*E1")
			if tc.damage != nil {
				tc.damage(dir)
			}
			c, err := loadAt(dir, tc.now)
			if err == nil || c != nil {
				t.Fatalf("loaded %v", c)
			}
			if !tc.check(err) {
				t.Errorf("error %T %v", err, err)
			}
			if msg := strings.ReplaceAll(err.Error(), dir, "DIR"); tc.msg != "" && msg != tc.msg {
				t.Errorf("message\n%s\nwant\n%s", msg, tc.msg)
			}
		})
	}
}

// TestLoadSEC1Key: a key as openssl ecparam writes it serves as well.
func TestLoadSEC1Key(t *testing.T) {
	dir := initChain(t, "DE*ABC*E1")
	c, err := loadAt(dir, t0)
	if err != nil {
		t.Fatal(err)
	}
	sec1, _ := x509.MarshalECPrivateKey(c.Key)
	os.WriteFile(filepath.Join(dir, KeyFile), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}), 0o600)
	if c2, err := loadAt(dir, t0); err != nil || !c2.Key.Equal(c.Key) {
		t.Fatalf("%v", err)
	}
}

// TestLoadNow: Load checks against the machine's clock; a fresh chain is valid.
func TestLoadNow(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	if err := Init(dir, "DE*ABC*E1"); err != nil {
		t.Fatal(err)
	}
	c, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(c.NotAfter()); d < 364*24*time.Hour || d > 365*24*time.Hour {
		t.Errorf("valid for %v", d)
	}
}
