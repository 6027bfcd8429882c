package v2gpki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// t0 is when the tests' chains are made.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// initChain writes a P-256 chain made at t0 into a new directory.
func initChain(t testing.TB, evseID string) string {
	t.Helper()
	return initChainCurve(t, evseID, P256)
}

// initChainCurve writes a chain on curve made at t0 into a new directory.
func initChainCurve(t testing.TB, evseID string, curve Curve) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "pki")
	if err := initAt(dir, evseID, curve, t0); err != nil {
		t.Fatal(err)
	}
	return dir
}

func readCerts(t *testing.T, path string) []*x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var certs []*x509.Certificate
	for {
		var blk *pem.Block
		if blk, b = pem.Decode(b); blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			t.Fatalf("%s: block %q", path, blk.Type)
		}
		x, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, x)
	}
	if len(bytes.TrimSpace(b)) != 0 {
		t.Fatalf("%s: %q after the certificates", path, b)
	}
	return certs
}

// rdn is a name's attributes in order, each as type=tag:value.
func rdn(t *testing.T, raw []byte) []string {
	t.Helper()
	var seq []attrSET
	if rest, err := asn1.Unmarshal(raw, &seq); err != nil || len(rest) != 0 {
		t.Fatalf("name %x: %v", raw, err)
	}
	var out []string
	for _, set := range seq {
		for _, a := range set {
			out = append(out, a.Type.String()+"="+map[int]string{asn1.TagIA5String: "ia5", asn1.TagUTF8String: "utf8"}[a.Value.Tag]+":"+string(a.Value.Bytes))
		}
	}
	return out
}

type attr struct {
	Type  asn1.ObjectIdentifier
	Value asn1.RawValue
}

// attrSET is one relative distinguished name (the name makes it a SET for encoding/asn1).
type attrSET []attr

// critical reports the criticality of the extension id in x (absent: "none").
func critical(x *x509.Certificate, id asn1.ObjectIdentifier) string {
	for _, e := range x.Extensions {
		if e.Id.Equal(id) {
			if e.Critical {
				return "critical"
			}
			return "not critical"
		}
	}
	return "none"
}

var (
	oidBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}
	oidKeyUsage         = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidExtKeyUsage      = asn1.ObjectIdentifier{2, 5, 29, 37}
)

// TestInitChain: the files Init writes, their modes, and each
// certificate's exact profile: subject and issuer, CA and path length,
// key usages (critical), keys and signatures (P-256 with ECDSA-SHA256 as
// ISO 15118-2 asks, P-521 with ECDSA-SHA512 as -20 does), validity, key
// identifiers.
func TestInitChain(t *testing.T) {
	for _, tc := range []struct {
		curve Curve
		ec    elliptic.Curve
		sig   x509.SignatureAlgorithm
	}{
		{P256, elliptic.P256(), x509.ECDSAWithSHA256},
		{P521, elliptic.P521(), x509.ECDSAWithSHA512},
	} {
		t.Run(tc.curve.String(), func(t *testing.T) { testInitChain(t, tc.curve, tc.ec, tc.sig) })
	}
}

func testInitChain(t *testing.T, curve Curve, ec elliptic.Curve, sig x509.SignatureAlgorithm) {
	dir := initChainCurve(t, "DE*ABC*E1234*1", curve)
	want := map[string]os.FileMode{RootFile: 0o644, ChainFile: 0o644, KeyFile: 0o600}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != len(want) {
		t.Errorf("files %v, want %v", ents, want)
	}
	for name, mode := range want {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil || st.Mode() != mode {
			t.Errorf("%s: %v %v, want mode %v", name, st.Mode(), err, mode)
		}
	}
	root := readCerts(t, filepath.Join(dir, RootFile))
	chain := readCerts(t, filepath.Join(dir, ChainFile))
	if len(root) != 1 || len(chain) != 3 {
		t.Fatalf("%d roots, %d certificates in the chain; want 1 and 3", len(root), len(chain))
	}
	const year = 365 * 24 * time.Hour
	start := t0.Add(-time.Hour)
	type profile struct {
		subject, issuer []string
		ca              bool
		pathLen         int
		usage           x509.KeyUsage
		validity        time.Duration
	}
	name := func(dc, cn string) []string {
		return []string{"0.9.2342.19200300.100.1.25=ia5:" + dc, "2.5.4.10=utf8:ccslink test PKI", "2.5.4.3=utf8:" + cn}
	}
	ca := x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	certs := []*x509.Certificate{root[0], chain[2], chain[1], chain[0]}
	profiles := []profile{
		{name("V2G", "V2GRootCA"), name("V2G", "V2GRootCA"), true, 2, ca, 10 * year},
		{name("V2G", "CPOSubCA1"), name("V2G", "V2GRootCA"), true, 1, ca, 4 * year},
		{name("V2G", "CPOSubCA2"), name("V2G", "CPOSubCA1"), true, 0, ca, 2 * year},
		{name("CPO", "DE*ABC*E1234*1"), name("V2G", "CPOSubCA2"), false, -1, x509.KeyUsageDigitalSignature | x509.KeyUsageKeyAgreement, year},
	}
	for i, x := range certs {
		p := profiles[i]
		if got := rdn(t, x.RawSubject); !equal(got, p.subject) {
			t.Errorf("certificate %d: subject %q, want %q", i, got, p.subject)
		}
		if got := rdn(t, x.RawIssuer); !equal(got, p.issuer) {
			t.Errorf("certificate %d: issuer %q, want %q", i, got, p.issuer)
		}
		if !x.BasicConstraintsValid || x.IsCA != p.ca || p.ca && x.MaxPathLen != p.pathLen || p.pathLen == 0 && !x.MaxPathLenZero ||
			!p.ca && x.MaxPathLen != -1 || critical(x, oidBasicConstraints) != "critical" {
			t.Errorf("certificate %d: CA %v path length %d (zero %v), basic constraints %s; want CA %v, %d", i, x.IsCA, x.MaxPathLen, x.MaxPathLenZero, critical(x, oidBasicConstraints), p.ca, p.pathLen)
		}
		if x.KeyUsage != p.usage || critical(x, oidKeyUsage) != "critical" || critical(x, oidExtKeyUsage) != "none" {
			t.Errorf("certificate %d: key usage %b (%s), extended %s; want %b, critical, none", i, x.KeyUsage, critical(x, oidKeyUsage), critical(x, oidExtKeyUsage), p.usage)
		}
		k, ok := x.PublicKey.(*ecdsa.PublicKey)
		if !ok || k.Curve != ec || x.SignatureAlgorithm != sig || x.PublicKeyAlgorithm != x509.ECDSA || x.Version != 3 {
			t.Errorf("certificate %d: key %T, signature %v, version %d; want %s, %v, v3", i, x.PublicKey, x.SignatureAlgorithm, x.Version, ec.Params().Name, sig)
		}
		if !x.NotBefore.Equal(start) || !x.NotAfter.Equal(start.Add(p.validity)) {
			t.Errorf("certificate %d: valid %v to %v, want %v for %v", i, x.NotBefore, x.NotAfter, start, p.validity)
		}
		issuer := certs[max(i-1, 0)]
		if len(x.SubjectKeyId) != 20 || !bytes.Equal(x.AuthorityKeyId, issuer.SubjectKeyId) && i > 0 {
			t.Errorf("certificate %d: key IDs %x, authority %x; issuer's %x", i, x.SubjectKeyId, x.AuthorityKeyId, issuer.SubjectKeyId)
		}
		if err := x.CheckSignatureFrom(issuer); err != nil {
			t.Errorf("certificate %d is not signed by %s: %v", i, issuer.Subject.CommonName, err)
		}
		if x.SerialNumber.Sign() <= 0 {
			t.Errorf("certificate %d: serial %v", i, x.SerialNumber)
		}
	}
	c, err := loadAt(dir, t0)
	if err != nil {
		t.Fatal(err)
	}
	if c.EVSEID() != "DE*ABC*E1234*1" || c.Curve != curve || c.Key.Curve != ec || !c.Key.PublicKey.Equal(chain[0].PublicKey) || !c.NotAfter().Equal(start.Add(year)) ||
		!bytes.Equal(c.Root.Raw, root[0].Raw) || len(c.Certs) != 3 || !bytes.Equal(c.Certs[2].Raw, chain[2].Raw) {
		t.Errorf("loaded %s until %v", c.EVSEID(), c.NotAfter())
	}
	// The key file is PKCS#8.
	b, _ := os.ReadFile(filepath.Join(dir, KeyFile))
	if blk, _ := pem.Decode(b); blk == nil || blk.Type != "PRIVATE KEY" {
		t.Errorf("key file %q", b)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestInitDefaultsAndRefusals: no EVSEID is the charger's own; a bad one,
// or a directory that holds a chain already, is refused with a word on
// what to do, and nothing is overwritten.
func TestInitDefaultsAndRefusals(t *testing.T) {
	dir := initChain(t, "")
	c, err := loadAt(dir, t0)
	if err != nil || c.EVSEID() != "ZZ00000" {
		t.Fatalf("%v %v", c, err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, KeyFile))
	err = Init(dir, "DE*ABC*E1")
	var ex *ExistsError
	if !errors.As(err, &ex) || err.Error() != filepath.Join(dir, RootFile)+" exists already: a chain is never overwritten; move the directory's files away or choose another directory" {
		t.Errorf("second Init: %v", err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, KeyFile)); !bytes.Equal(before, after) {
		t.Error("the key was overwritten")
	}
	for _, id := range []string{"DE ABC", "DE*ABC*E123456789012345678901234567890", "DE\x00"} {
		empty := t.TempDir()
		err := Init(empty, id)
		var e *EVSEIDError
		if !errors.As(err, &e) {
			t.Errorf("%q: %v", id, err)
		}
		if ents, _ := os.ReadDir(empty); len(ents) != 0 {
			t.Errorf("%q left %v", id, ents)
		}
	}
	if err := Init(t.TempDir(), "DE ABC"); err.Error() != `"DE ABC" is not an EVSEID: give at most 37 printable ASCII characters without spaces, e.g. DE*ABC*E1234` {
		t.Errorf("message %q", err)
	}
	// A file in the way of the directory.
	blocker := filepath.Join(t.TempDir(), "f")
	os.WriteFile(blocker, nil, 0o600)
	var fe *FileError
	if err := Init(filepath.Join(blocker, "pki"), ""); !errors.As(err, &fe) || fe.Path != filepath.Join(blocker, "pki") {
		t.Errorf("Init under a file: %v", err)
	}
}

// TestRawName: DC is an IA5String, as RFC 4519 has it.
func TestRawName(t *testing.T) {
	b, err := rawName("CN1", "V2G")
	if err != nil {
		t.Fatal(err)
	}
	const want = "303e" + "31133011060a0992268993f22c6401191603563247" + "31193017060355040a0c106363736c696e6b207465737420504b49" + "310c300a06035504030c03434e31"
	if hex.EncodeToString(b) != want {
		t.Errorf("%x\nwant %s", b, want)
	}
}
