package v2gpki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The files of a directory (see the package's doc).
const (
	RootFile  = "v2gRootCACert.pem"
	ChainFile = "cpoCertChain.pem"
	KeyFile   = "seccLeaf.key"
)

// DefaultEVSEID is the charger's built-in EVSEID (secc.Config's default).
const DefaultEVSEID = "ZZ00000"

// How long Init's certificates last. ISO 15118-2 asks 2-3 months of an
// SECC certificate and 1-2 years of CPO Sub-CA 2; a bench chain lasts a
// year so that it is not renewed every other month.
const (
	rootValidity  = 10 * 365 * 24 * time.Hour
	sub1Validity  = 4 * 365 * 24 * time.Hour
	sub2Validity  = 2 * 365 * 24 * time.Hour
	leafValidity  = 365 * 24 * time.Hour
	backdate      = time.Hour // a car's clock a little behind still accepts the chain
	maxEVSEIDLen  = 37        // ISO 15118-2's EVSEID
	organization  = "ccslink test PKI"
	domainV2G     = "V2G"
	domainCPO     = "CPO"
	seccKeyMode   = 0o600
	certFileMode  = 0o644
	directoryMode = 0o755
)

// oidDomainComponent is DC (RFC 4519), which ISO 15118-2's profiles use:
// "V2G" in the root and sub-CAs, "CPO" in the SECC leaf.
var oidDomainComponent = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}

// EVSEIDError reports an EVSEID that cannot be a certificate's CN.
type EVSEIDError struct{ EVSEID string }

func (e *EVSEIDError) Error() string {
	return fmt.Sprintf("%q is not an EVSEID: give at most %d printable ASCII characters without spaces, e.g. DE*ABC*E1234", e.EVSEID, maxEVSEIDLen)
}

// ExistsError reports that Init would overwrite a file.
type ExistsError struct{ Path string }

func (e *ExistsError) Error() string {
	return fmt.Sprintf("%s exists already: a chain is never overwritten; move the directory's files away or choose another directory", e.Path)
}

// Init writes a new test chain for evseID ("" is DefaultEVSEID) into dir,
// creating dir if needed, on P-256 (ISO 15118-2's). It never overwrites a
// file.
func Init(dir, evseID string) error {
	return initAt(dir, evseID, P256, time.Now())
}

// InitCurve is Init on curve: P521 for ISO 15118-20's certificates.
func InitCurve(dir, evseID string, curve Curve) error {
	return initAt(dir, evseID, curve, time.Now())
}

// initAt is InitCurve with the chain's start: tests make expired chains.
func initAt(dir, evseID string, curve Curve, now time.Time) error {
	if curve != P256 && curve != P521 {
		return &CurveNameError{Name: curve.String()}
	}
	if evseID == "" {
		evseID = DefaultEVSEID
	}
	if len(evseID) > maxEVSEIDLen || strings.ContainsFunc(evseID, func(r rune) bool { return r <= ' ' || r > '~' }) {
		return &EVSEIDError{EVSEID: evseID}
	}
	for _, f := range []string{RootFile, ChainFile, KeyFile} {
		if _, err := os.Lstat(filepath.Join(dir, f)); err == nil {
			return &ExistsError{Path: filepath.Join(dir, f)}
		}
	}
	files, err := newChain(evseID, uniform(curve), now)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, directoryMode); err != nil {
		return &FileError{Path: dir, What: "the directory for the chain", Err: err}
	}
	for i, f := range files {
		if err := writeNew(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			for _, w := range files[:i] { // no half chain left behind
				os.Remove(filepath.Join(dir, w.name))
			}
			return err
		}
	}
	return nil
}

type file struct {
	name string
	data []byte
	mode fs.FileMode
}

// keySpec is one certificate's key and the signature its issuer makes.
type keySpec struct {
	curve elliptic.Curve
	sig   x509.SignatureAlgorithm
}

// uniform is a chain's specs with every key on c, signed with its hash.
func uniform(c Curve) [4]keySpec {
	s := keySpec{c.elliptic(), c.signature()}
	return [4]keySpec{s, s, s, s}
}

// newChain makes the root, the two CPO sub-CAs and the SECC leaf, each
// with its spec (root first); tests make chains Load must refuse.
func newChain(evseID string, specs [4]keySpec, now time.Time) ([]file, error) {
	start := now.Add(-backdate).UTC().Truncate(time.Second)
	type ca struct {
		cert *x509.Certificate
		key  *ecdsa.PrivateKey
	}
	var (
		issuer ca
		chain  [][]byte // leaf first
		root   []byte
	)
	profiles := []struct {
		cn, dc   string
		validity time.Duration
		pathLen  int // -1: not a CA
	}{
		{"V2GRootCA", domainV2G, rootValidity, 2},
		{"CPOSubCA1", domainV2G, sub1Validity, 1},
		{"CPOSubCA2", domainV2G, sub2Validity, 0},
		{evseID, domainCPO, leafValidity, -1},
	}
	var leafKey *ecdsa.PrivateKey
	for i, p := range profiles {
		key, err := ecdsa.GenerateKey(specs[i].curve, rand.Reader)
		if err != nil {
			return nil, err
		}
		subject, err := rawName(p.cn, p.dc)
		if err != nil {
			return nil, err
		}
		serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
		if err != nil {
			return nil, err
		}
		pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
		if err != nil {
			return nil, err
		}
		var spki struct {
			Algorithm pkix.AlgorithmIdentifier
			Key       asn1.BitString
		}
		if _, err := asn1.Unmarshal(pub, &spki); err != nil {
			return nil, err
		}
		ski := sha1.Sum(spki.Key.Bytes) // RFC 5280's method 1, as openssl's "hash"
		tmpl := &x509.Certificate{
			SerialNumber:          new(big.Int).Add(serial, big.NewInt(1)),
			RawSubject:            subject,
			NotBefore:             start,
			NotAfter:              start.Add(p.validity),
			BasicConstraintsValid: true,
			SubjectKeyId:          ski[:],
			SignatureAlgorithm:    specs[i].sig,
		}
		if p.pathLen >= 0 {
			tmpl.IsCA = true
			tmpl.MaxPathLen = p.pathLen
			tmpl.MaxPathLenZero = p.pathLen == 0
			tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
		} else {
			tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyAgreement
			leafKey = key
		}
		parent, signer := tmpl, key
		if i > 0 {
			parent, signer = issuer.cert, issuer.key
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
		if err != nil {
			return nil, err
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			root = der
		} else {
			chain = append([][]byte{der}, chain...)
		}
		issuer = ca{cert, key}
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(leafKey)
	if err != nil {
		return nil, err
	}
	var chainPEM bytes.Buffer
	for _, der := range chain {
		pem.Encode(&chainPEM, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	return []file{
		{RootFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root}), certFileMode},
		{ChainFile, chainPEM.Bytes(), certFileMode},
		{KeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), seccKeyMode},
	}, nil
}

// rawName is the subject CN=cn, O=organization, DC=dc, with DC an
// IA5String as RFC 4519 wants (Go's pkix.Name would write it printable).
func rawName(cn, dc string) ([]byte, error) {
	utf8 := func(s string) asn1.RawValue {
		return asn1.RawValue{Tag: asn1.TagUTF8String, Bytes: []byte(s)}
	}
	rdn := pkix.RDNSequence{
		{{Type: oidDomainComponent, Value: asn1.RawValue{Tag: asn1.TagIA5String, Bytes: []byte(dc)}}},
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 10}, Value: utf8(organization)}},
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: utf8(cn)}},
	}
	return asn1.Marshal(rdn)
}

// writeNew writes data to a new file at path with mode.
func writeNew(path string, data []byte, mode fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if errors.Is(err, fs.ErrExist) {
		return &ExistsError{Path: path}
	}
	if err != nil {
		return &FileError{Path: path, What: "a new file of the chain", Err: err}
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return &FileError{Path: path, What: "a new file of the chain", Err: err}
	}
	return nil
}
